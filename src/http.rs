//! The one HTTP client of the tool, shared by upstream discovery, Keystone and Glance.
//!
//! What it owns:
//! - building `reqwest` clients with our user agent, timeouts and TLS settings;
//! - [`HttpError`]: every failed request names its method, URL, status, the
//!   `x-openstack-request-id` (so an operator can grep the Glance logs) and a short body excerpt;
//! - [`retry`]: exponential backoff on transient failures (5xx, 429, timeouts, connection
//!   errors), honouring `Retry-After`. Streaming uploads are not retried here: a body that has
//!   been consumed cannot be sent again, so callers retry at the "re-create the image" level.
//!
//! URLs are shown without userinfo or query strings that could carry secrets.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, Response, StatusCode};

/// Headers worth quoting in an error (request ids that server logs are keyed by).
const REQUEST_ID_HEADERS: &[&str] = &[
    "x-openstack-request-id",
    "x-compute-request-id",
    "x-request-id",
];

/// How many characters of an error body to keep.
const BODY_EXCERPT_CHARS: usize = 512;
/// The most of an error response's body that is read: it is only quoted (truncated) in the
/// error, and a server streaming an endless error page must not hold the run.
pub const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// The user agent sent with every request.
pub fn user_agent() -> String {
    format!("image-crawler/{}", env!("CARGO_PKG_VERSION"))
}

/// Settings for a client; the defaults fit metadata requests.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time between two reads of the response (not the whole transfer, so large streams work).
    pub read_timeout: Duration,
    /// Extra CA certificate (PEM) to trust, e.g. a cloud's `cacert`.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Skip TLS verification (clouds.yaml `insecure: true`; callers warn about it).
    pub insecure: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            ca_cert_pem: None,
            insecure: false,
        }
    }
}

/// Builds a client. Redirects are followed (mirrors and MirrorCache redirect), at most 10.
pub fn client(options: &ClientOptions) -> Result<reqwest::Client, HttpError> {
    build(options, reqwest::redirect::Policy::limited(10))
}

/// A client that returns redirects to the caller, who follows them hop by hop (so a header
/// meant for one host never follows a redirect to another: `reconcile::download`).
pub fn client_without_redirects(options: &ClientOptions) -> Result<reqwest::Client, HttpError> {
    build(options, reqwest::redirect::Policy::none())
}

fn build(
    options: &ClientOptions,
    redirects: reqwest::redirect::Policy,
) -> Result<reqwest::Client, HttpError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(user_agent())
        .connect_timeout(options.connect_timeout)
        .read_timeout(options.read_timeout)
        .redirect(redirects);
    if let Some(pem) = &options.ca_cert_pem {
        // A bundle (REQUESTS_CA_BUNDLE usually is one): every certificate counts.
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| HttpError::setup(format!("invalid CA certificate: {e}")))?;
        if certs.is_empty() {
            return Err(HttpError::setup(
                "the CA file holds no PEM certificate".to_owned(),
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    if options.insecure {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|e| HttpError::setup(format!("cannot build HTTP client: {e}")))
}

/// What went wrong with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpErrorKind {
    /// The server answered with a non-success status.
    Status(u16),
    /// No answer in time.
    Timeout,
    /// Could not connect (refused, DNS, a TLS handshake that broke off).
    Connect,
    /// The server's TLS certificate does not verify. Not transient: a retry meets the same
    /// certificate, so it is reported at once.
    Certificate(CertificateProblem),
    /// The response body broke off or could not be read.
    Body,
    /// The response could not be decoded (JSON, encoding).
    Decode,
    /// Redirects went in a circle or on too long.
    Redirect,
    /// The client could not be built or the request could not be formed.
    Setup,
}

/// Why a server's certificate was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateProblem {
    /// Not signed by a trusted CA (self-signed, or a private CA not configured).
    UnknownIssuer,
    /// Issued for another host name or address.
    NameMismatch,
    /// Past its validity (or not yet valid).
    Expired,
    /// Revoked, badly signed, unsupported, ...
    Other,
}

impl CertificateProblem {
    /// The certificate problem in a reqwest error's chain, if that is what failed. By type
    /// (`rustls::Error`), not by message. rustls hands it up inside an `io::Error` (hyper
    /// wraps that in another one), and `io::Error::source()` skips the error it wraps, so
    /// each `io::Error` is looked into as well as past.
    fn of(err: &(dyn std::error::Error + 'static)) -> Option<(Self, String)> {
        use rustls::CertificateError as C;
        let mut next = Some(err);
        while let Some(mut e) = next {
            while let Some(inner) = e
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                e = inner;
            }
            let tls = e.downcast_ref::<rustls::Error>();
            if let Some(rustls::Error::InvalidCertificate(c)) = tls {
                let problem = match c {
                    C::UnknownIssuer => Self::UnknownIssuer,
                    C::NotValidForName | C::NotValidForNameContext { .. } => Self::NameMismatch,
                    C::Expired
                    | C::ExpiredContext { .. }
                    | C::NotValidYet
                    | C::NotValidYetContext { .. } => Self::Expired,
                    _ => Self::Other,
                };
                return Some((problem, tls.map(ToString::to_string).unwrap_or_default()));
            }
            next = e.source();
        }
        None
    }

    fn describe(self) -> &'static str {
        match self {
            Self::UnknownIssuer => "is not trusted (unknown issuer)",
            Self::NameMismatch => "is not valid for this host name",
            Self::Expired => "has expired (or is not valid yet)",
            Self::Other => "was refused",
        }
    }
}

/// A failed HTTP request, with everything needed to find it in the server's logs.
#[derive(Debug, Clone)]
pub struct HttpError {
    pub method: String,
    /// The URL, with userinfo and query removed.
    pub url: String,
    pub kind: HttpErrorKind,
    /// The first id found among [`REQUEST_ID_HEADERS`].
    pub request_id: Option<String>,
    /// The start of the response body (for status errors) or the transport error text.
    pub detail: String,
    /// A server-requested delay before retrying (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl HttpError {
    fn setup(detail: String) -> Self {
        Self {
            method: String::new(),
            url: String::new(),
            kind: HttpErrorKind::Setup,
            request_id: None,
            detail,
            retry_after: None,
        }
    }

    /// Classifies a transport error from reqwest.
    pub fn from_reqwest(method: &Method, url: &str, err: &reqwest::Error) -> Self {
        if let Some((problem, detail)) = CertificateProblem::of(err) {
            return Self {
                method: method.to_string(),
                url: redact_url(url),
                kind: HttpErrorKind::Certificate(problem),
                request_id: None,
                detail,
                retry_after: None,
            };
        }
        let kind = if err.is_timeout() {
            HttpErrorKind::Timeout
        } else if err.is_connect() {
            HttpErrorKind::Connect
        } else if err.is_decode() {
            HttpErrorKind::Decode
        } else if err.is_body() {
            HttpErrorKind::Body
        } else if err.is_redirect() {
            HttpErrorKind::Redirect
        } else if err.is_builder() {
            HttpErrorKind::Setup
        } else {
            HttpErrorKind::Connect
        };
        Self {
            method: method.to_string(),
            url: redact_url(url),
            kind,
            request_id: None,
            detail: error_chain(err),
            retry_after: None,
        }
    }

    /// A decode error for a body that arrived but did not parse.
    pub fn decode(method: &Method, url: &str, detail: impl Into<String>) -> Self {
        Self {
            method: method.to_string(),
            url: redact_url(url),
            kind: HttpErrorKind::Decode,
            request_id: None,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// Redirects that went in a circle or on too long; `detail` shows the chain.
    pub fn redirect(method: &Method, url: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: HttpErrorKind::Redirect,
            ..Self::decode(method, url, detail)
        }
    }

    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self.kind {
            HttpErrorKind::Status(s) => Some(s),
            _ => None,
        }
    }

    /// Worth retrying later: 5xx, 408, 429, timeouts, connection and body errors.
    pub fn is_transient(&self) -> bool {
        match self.kind {
            HttpErrorKind::Status(s) => s >= 500 || s == 408 || s == 429,
            HttpErrorKind::Timeout | HttpErrorKind::Connect | HttpErrorKind::Body => true,
            HttpErrorKind::Decode
            | HttpErrorKind::Setup
            | HttpErrorKind::Redirect
            | HttpErrorKind::Certificate(_) => false,
        }
    }

    /// A hint for the operator, when one is obvious from the failure.
    pub fn hint(&self) -> Option<&'static str> {
        match self.kind {
            HttpErrorKind::Status(404) => Some(
                "the file is not (or no longer) published there; check the release, architecture and any --mirror rewrite",
            ),
            HttpErrorKind::Status(401) => {
                Some("the credentials were refused; check the cloud's auth settings")
            }
            HttpErrorKind::Status(403) => Some("the credentials lack a role for this request"),
            HttpErrorKind::Status(429) => {
                Some("the server is rate limiting; lower --concurrency or retry later")
            }
            HttpErrorKind::Status(s) if s >= 500 => {
                Some("the server failed; this is usually temporary, retry later")
            }
            HttpErrorKind::Timeout => {
                Some("the server did not answer in time; retry later or check the network path")
            }
            HttpErrorKind::Connect => {
                Some("the host could not be reached; check the URL, DNS, proxy and TLS settings")
            }
            HttpErrorKind::Redirect => Some(
                "the server (or a mirror) redirects in a circle; check the URL and any --mirror rewrite, and tell the server's operator",
            ),
            HttpErrorKind::Certificate(CertificateProblem::UnknownIssuer) => Some(
                "a server whose certificate comes from a private CA needs that CA: for a cloud, set `cacert: /path/to/ca.pem` on it in clouds.yaml (or REQUESTS_CA_BUNDLE); retrying does not help",
            ),
            HttpErrorKind::Certificate(CertificateProblem::NameMismatch) => Some(
                "use the host name the certificate was issued for in the URL (auth_url, the catalog endpoint), or have the server's certificate reissued; a CA in `cacert` (clouds.yaml) or REQUESTS_CA_BUNDLE does not change this; retrying does not help",
            ),
            HttpErrorKind::Certificate(CertificateProblem::Expired) => Some(
                "the server's certificate must be renewed (or this machine's clock is wrong); `cacert` (clouds.yaml) and REQUESTS_CA_BUNDLE only add trusted CAs; retrying does not help",
            ),
            HttpErrorKind::Certificate(CertificateProblem::Other) => Some(
                "check the server's certificate chain and the CA in `cacert` (clouds.yaml) or REQUESTS_CA_BUNDLE; retrying does not help",
            ),
            _ => None,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            HttpErrorKind::Setup => return write!(f, "{}", self.detail),
            HttpErrorKind::Status(s) => {
                let reason = StatusCode::from_u16(s)
                    .ok()
                    .and_then(|c| c.canonical_reason())
                    .unwrap_or("");
                write!(f, "{} {} returned {s} {reason}", self.method, self.url)?;
            }
            HttpErrorKind::Timeout => write!(f, "{} {} timed out", self.method, self.url)?,
            HttpErrorKind::Connect => write!(f, "{} {} could not connect", self.method, self.url)?,
            HttpErrorKind::Certificate(p) => write!(
                f,
                "{} {}: the server's TLS certificate {}",
                self.method,
                self.url,
                p.describe()
            )?,
            HttpErrorKind::Body => write!(
                f,
                "{} {} failed while reading the body",
                self.method, self.url
            )?,
            HttpErrorKind::Decode => write!(
                f,
                "{} {} returned a body that could not be decoded",
                self.method, self.url
            )?,
            HttpErrorKind::Redirect => {
                write!(f, "{} {} was redirected without end", self.method, self.url)?
            }
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        let detail = self.detail.trim();
        if !detail.is_empty() {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for HttpError {}

/// Passes a success response through; turns any other status into an [`HttpError`] that
/// quotes the start of the body.
pub async fn check(method: &Method, url: &str, resp: Response) -> Result<Response, HttpError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let request_id = request_id(resp.headers());
    let retry_after = retry_after(resp.headers());
    let body = capped_text(resp, ERROR_BODY_LIMIT).await;
    Err(HttpError {
        method: method.to_string(),
        url: redact_url(url),
        kind: HttpErrorKind::Status(status.as_u16()),
        request_id,
        detail: excerpt(&body),
        retry_after,
    })
}

/// At most `limit` bytes of a body, as (lossy) text; a read error ends it.
async fn capped_text(mut resp: Response, limit: usize) -> String {
    let mut buf = Vec::new();
    while buf.len() < limit {
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    buf.truncate(limit);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The first request id header present.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|h| {
        headers
            .get(*h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })
}

/// `Retry-After` in seconds (the HTTP-date form is rare on these servers and ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(300)))
}

/// A single-line excerpt of a body, cut at [`BODY_EXCERPT_CHARS`].
/// Registered secrets are scrubbed: a server may reflect the request (a password) back.
pub fn excerpt(body: &str) -> String {
    let one_line: String = crate::secrets::scrub(body)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if one_line.chars().count() > BODY_EXCERPT_CHARS {
        let cut: String = one_line.chars().take(BODY_EXCERPT_CHARS).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

/// Removes userinfo and the query string from a URL for display.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    // reqwest repeats the URL in its own message; the caller already shows it.
    parts.join(": ")
}

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first delay; doubled after each attempt (with jitter).
    pub first_delay: Duration,
    /// The longest single delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// No retries at all (tests that want a failure at once).
    pub const NONE: RetryPolicy = RetryPolicy {
        max_retries: 0,
        first_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };
}

/// Runs `attempt` until it succeeds, fails with a non-transient error, or the retries are
/// used up. A `Retry-After` from the server replaces the computed delay (capped by
/// `max_delay`).
pub async fn retry<T, F, Fut>(policy: RetryPolicy, mut attempt: F) -> Result<T, HttpError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, HttpError>>,
{
    let mut delay = policy.first_delay;
    let mut tries = 0;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() && tries < policy.max_retries => {
                tries += 1;
                let wait = e.retry_after.unwrap_or(delay).min(policy.max_delay);
                tracing::debug!(error = %e, attempt = tries, wait_ms = wait.as_millis() as u64, "transient HTTP failure, retrying");
                tokio::time::sleep(jitter(wait)).await;
                delay = (delay * 2).min(policy.max_delay);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Up to +25% jitter, from the clock (no RNG dependency needed for this).
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    d + d.mul_f64(f64::from(nanos % 250) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_userinfo_and_query() {
        assert_eq!(
            redact_url("https://user:secret@example.org/path/file?token=abc"),
            "https://example.org/path/file"
        );
    }

    #[test]
    fn excerpt_is_single_line_and_bounded() {
        let long = "a b\nc ".repeat(400);
        let e = excerpt(&long);
        assert!(!e.contains('\n'));
        assert_eq!(e.chars().count(), BODY_EXCERPT_CHARS + 1);
        assert_eq!(excerpt("  short\n body "), "short body");
        // A reflecting server: the secret the tool holds is never quoted back.
        let _pw = crate::openstack::Secret::new("reflected-hunter2");
        assert_eq!(
            excerpt(r#"{"password": "reflected-hunter2"}"#),
            r#"{"password": "***"}"#
        );
    }

    #[test]
    fn transient_classification() {
        let mut e = HttpError::decode(&Method::GET, "http://x/", "bad");
        assert!(!e.is_transient());
        for (s, t) in [
            (500, true),
            (503, true),
            (429, true),
            (408, true),
            (404, false),
            (401, false),
        ] {
            e.kind = HttpErrorKind::Status(s);
            assert_eq!(e.is_transient(), t, "status {s}");
        }
        e.kind = HttpErrorKind::Timeout;
        assert!(e.is_transient());
        // A retry meets the same certificate.
        e.kind = HttpErrorKind::Certificate(CertificateProblem::UnknownIssuer);
        assert!(!e.is_transient());
        assert!(e.hint().unwrap().contains("cacert"));
    }

    /// A server answering 500 with an endless body: `check` reads at most
    /// `ERROR_BODY_LIMIT` and returns, instead of reading all it is sent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn error_bodies_are_read_up_to_a_cap() {
        use std::io::{BufRead as _, Write as _};
        const SENT_AT_MOST: usize = 128 * 1024 * 1024;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let mut out = stream;
            let head = "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
            out.write_all(head.as_bytes()).unwrap();
            let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
            let mut sent = 0;
            while sent < SENT_AT_MOST && out.write_all(chunk.as_bytes()).is_ok() {
                sent += 0x10000;
            }
            sent
        });
        let url = format!("http://{addr}/x");
        let client = reqwest::Client::new();
        let resp = client.get(&url).send().await.unwrap();
        let err = check(&Method::GET, &url, resp).await.unwrap_err();
        assert_eq!(err.kind, HttpErrorKind::Status(500));
        assert!(err.detail.chars().count() <= BODY_EXCERPT_CHARS + 1);
        drop(client);
        let sent = tokio::task::spawn_blocking(move || server.join().unwrap())
            .await
            .unwrap();
        assert!(
            sent < SENT_AT_MOST / 4,
            "the client read {sent} bytes of an error body"
        );
    }

    #[tokio::test]
    async fn retry_stops_on_permanent_error_and_retries_transient() {
        let policy = RetryPolicy {
            max_retries: 3,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        };
        let mut calls = 0;
        let r: Result<(), HttpError> = retry(policy, || {
            calls += 1;
            let mut e = HttpError::decode(&Method::GET, "http://x/", "");
            e.kind = HttpErrorKind::Status(503);
            async move { Err(e) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 4, "one attempt plus three retries");

        let mut calls = 0;
        let r: Result<(), HttpError> = retry(policy, || {
            calls += 1;
            let mut e = HttpError::decode(&Method::GET, "http://x/", "");
            e.kind = HttpErrorKind::Status(404);
            async move { Err(e) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 1, "a 404 is not retried");
    }
}
