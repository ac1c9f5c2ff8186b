//! The one way `apply` requests an upstream image (the I/O of the download side).
//!
//! - Redirects are followed here, not by reqwest: each hop is a new request, so the download
//!   header of a `static` source ([`Auth`]) goes only to the hosts the catalog allows (the
//!   source's own origin, and its mirror when `auth.mirrors: true`), never to a host a
//!   redirect leads to. reqwest would strip only `Authorization`-like headers on such a hop.
//! - A redirect loop or chain longer than [`MAX_REDIRECTS`] is an error saying so.
//! - Every error names the URL that was asked (the mirror URL when rewritten).
//! - The body is bounded ([`watch`]): a minimum rate over a window and a per-image deadline
//!   (`settings.download`, `apply --min-rate/--rate-window/--deadline`), and a body that
//!   breaks off is reported as the upstream side's failure ([`Failure`]), never as Glance's.

use std::collections::BTreeSet;

use reqwest::header::{HeaderName, HeaderValue, LOCATION};
use reqwest::{Method, Response};

use crate::catalog::{DownloadLimits, Image};
use crate::http::{self, HttpError, HttpErrorKind};

/// Hops after the first request, as browsers and curl (`--max-redirs`) allow about as many.
pub const MAX_REDIRECTS: usize = 10;

/// A client for upstream downloads: redirects are NOT followed by the client ([`open`]
/// follows them); `read_timeout` between two reads of a body.
pub fn client(options: &http::ClientOptions) -> Result<reqwest::Client, HttpError> {
    http::client_without_redirects(options)
}

/// The download header of a `static` source, resolved at transfer time.
pub struct Auth {
    name: HeaderName,
    value: HeaderValue,
    /// The origins (scheme, host, port) that may receive it.
    origins: Vec<url::Origin>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("name", &self.name)
            .field("value", &"***")
            .finish()
    }
}

impl Auth {
    /// The header `image` needs for `upstream_url` (fetched as `effective_url` after the
    /// mirror rewrite), its value read from the environment through `env` now. `None`: the
    /// source needs no header. The value is registered as a secret (scrubbed from all output).
    pub fn for_image(
        image: &Image,
        upstream_url: &str,
        effective_url: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<Auth>> {
        let Some(a) = image.download_auth() else {
            return Ok(None);
        };
        let Some(value) = env(&a.env).filter(|v| !v.is_empty()) else {
            return Err(crate::error::hinted(
                format!(
                    "the download needs the header `{}` from the environment variable `{}`, which is not set",
                    a.header, a.env
                ),
                format!(
                    "export {} with the vendor's download credential (see `source.static.auth` at {}); it is sent only to {}",
                    a.env,
                    image.origin,
                    origin_text(upstream_url)
                ),
            ));
        };
        crate::secrets::register(&value);
        let name = HeaderName::from_bytes(a.header.as_bytes()).map_err(|_| {
            crate::error::hinted(
                format!(
                    "`source.static.auth.header: {}` is not an HTTP header name",
                    a.header
                ),
                "run `image-crawler validate`",
            )
        })?;
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            // Never quote the value.
            crate::error::hinted(
                format!("the value of `{}` cannot be sent as an HTTP header", a.env),
                "it must be one line of visible ASCII characters",
            )
        })?;
        value.set_sensitive(true);
        let mut origins = vec![origin(upstream_url)];
        if a.mirrors {
            origins.push(origin(effective_url));
        }
        origins.retain(url::Origin::is_tuple);
        Ok(Some(Auth {
            name,
            value,
            origins,
        }))
    }

    /// Whether a request to `url` may carry the header.
    pub fn sent_to(&self, url: &str) -> bool {
        let o = origin(url);
        o.is_tuple() && self.origins.contains(&o)
    }
}

fn origin(url: &str) -> url::Origin {
    url::Url::parse(url).map_or_else(
        |_| url::Url::parse("data:,").unwrap().origin(),
        |u| u.origin(),
    )
}

fn origin_text(url: &str) -> String {
    origin(url).ascii_serialization()
}

/// GETs `url`, following redirects hop by hop; the header goes only where [`Auth::sent_to`]
/// allows. Returns the successful response and the URL that gave it.
pub async fn open(
    client: &reqwest::Client,
    url: &str,
    auth: Option<&Auth>,
) -> Result<(Response, String), HttpError> {
    let method = Method::GET;
    let mut current = url.to_owned();
    let mut chain: Vec<String> = vec![http::redact_url(url)];
    let mut seen = BTreeSet::from([current.clone()]);
    loop {
        let mut req = client.get(&current);
        if let Some(a) = auth
            && a.sent_to(&current)
        {
            req = req.header(a.name.clone(), a.value.clone());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| HttpError::from_reqwest(&method, &current, &e))?;
        if !resp.status().is_redirection() || resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            let resp = http::check(&method, &current, resp).await?;
            return Ok((resp, current));
        }
        let next = resp
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| url::Url::parse(&current).ok()?.join(l).ok())
            .ok_or_else(|| {
                HttpError::decode(
                    &method,
                    &current,
                    format!("redirect {} without a usable Location", resp.status()),
                )
            })?
            .to_string();
        chain.push(http::redact_url(&next));
        let looped = !seen.insert(next.clone());
        if looped || chain.len() > MAX_REDIRECTS + 1 {
            let what = if looped {
                "a redirect loop"
            } else {
                "too many redirects"
            };
            return Err(HttpError::redirect(
                &method,
                url,
                format!("{what}: {}", chain.join(" -> ")),
            ));
        }
        current = next;
    }
}

/// Where the first upstream failure of a body is kept, so a caller whose upload failed
/// because the upstream stream broke reports the upstream URL, not the Glance request.
#[derive(Debug, Clone, Default)]
pub struct Failure(std::sync::Arc<std::sync::Mutex<Option<HttpError>>>);

impl Failure {
    fn set(&self, e: &HttpError) {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert_with(|| e.clone());
    }

    /// The upstream failure, if the body broke on the upstream side.
    pub fn take(&self) -> Option<HttpError> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Whether the bytes received while waiting `waited` for upstream fall below `min_rate`
/// (bytes per second; 0: never).
pub fn too_slow(bytes: u64, waited: std::time::Duration, min_rate: u64) -> bool {
    min_rate > 0 && (bytes as f64) < min_rate as f64 * waited.as_secs_f64()
}

fn rate_text(rate: u64) -> String {
    if rate >= 1 << 20 && rate.is_multiple_of(1 << 20) {
        format!("{} MiB/s", rate >> 20)
    } else if rate >= 1 << 10 && rate.is_multiple_of(1 << 10) {
        format!("{} KiB/s", rate >> 10)
    } else {
        format!("{rate} B/s")
    }
}

fn span_text(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// The body of `resp` (from `url`) bounded by `limits`: the rate is measured over the time
/// spent WAITING for upstream (time the consumer, Glance, takes is not upstream's), in
/// windows of `limits.window`; the deadline is wall-clock from the call. A failure ends the
/// stream with an [`HttpError`] naming `url`, and is kept in `failure`.
pub fn watch(
    resp: Response,
    url: String,
    limits: DownloadLimits,
    failure: Failure,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, HttpError>> + Send + 'static {
    use futures_util::StreamExt as _;
    use std::time::{Duration, Instant};
    struct W {
        inner: std::pin::Pin<
            Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>,
        >,
        url: String,
        limits: DownloadLimits,
        failure: Failure,
        deadline: Instant,
        waited: Duration,
        bytes: u64,
        done: bool,
    }
    impl W {
        fn fail(&mut self, kind: HttpErrorKind, detail: String) -> HttpError {
            let mut e = HttpError::decode(&Method::GET, &self.url, detail);
            e.kind = kind;
            self.failure.set(&e);
            self.done = true;
            e
        }
        fn judge(&mut self) -> Option<HttpError> {
            if self.waited < self.limits.window {
                return None;
            }
            if too_slow(self.bytes, self.waited, self.limits.min_rate) {
                let detail = format!(
                    "the upstream side sent {} bytes in {} of waiting, below the minimum rate of {}",
                    self.bytes,
                    span_text(self.waited),
                    rate_text(self.limits.min_rate)
                );
                return Some(self.fail(HttpErrorKind::Timeout, detail));
            }
            self.waited = Duration::ZERO;
            self.bytes = 0;
            None
        }
    }
    let w = W {
        inner: Box::pin(resp.bytes_stream()),
        url,
        limits,
        failure,
        deadline: Instant::now() + limits.deadline,
        waited: Duration::ZERO,
        bytes: 0,
        done: false,
    };
    futures_util::stream::unfold(w, |mut w| async move {
        if w.done {
            return None;
        }
        loop {
            let now = Instant::now();
            if now >= w.deadline {
                let detail = format!(
                    "the upstream side did not finish within the deadline of {}",
                    span_text(w.limits.deadline)
                );
                let e = w.fail(HttpErrorKind::Timeout, detail);
                return Some((Err(e), w));
            }
            // Wake at the end of the rate window or at the deadline, whichever is first.
            let budget = if w.limits.min_rate > 0 {
                (w.limits.window.saturating_sub(w.waited)).min(w.deadline - now)
            } else {
                w.deadline - now
            };
            let started = Instant::now();
            let next = tokio::time::timeout(budget, w.inner.next()).await;
            w.waited += started.elapsed();
            match next {
                Ok(Some(Ok(chunk))) => {
                    w.bytes += chunk.len() as u64;
                    if let Some(e) = w.judge() {
                        return Some((Err(e), w));
                    }
                    return Some((Ok(chunk), w));
                }
                Ok(Some(Err(e))) => {
                    let detail = format!(
                        "the upstream side broke off the transfer: {}",
                        HttpError::from_reqwest(&Method::GET, &w.url, &e).detail
                    );
                    let e = w.fail(HttpErrorKind::Body, detail);
                    return Some((Err(e), w));
                }
                Ok(None) => return None,
                Err(_) => {
                    if let Some(e) = w.judge() {
                        return Some((Err(e), w));
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::raw::{Source, StaticAuth, StaticSource};
    use crate::catalog::{Architecture, Image};

    fn image(mirrors: bool) -> Image {
        Image::new(
            "sles",
            Source::Static(StaticSource {
                url: Some("https://dl.vendor.example/sles.qcow2".into()),
                checksum: None,
                version: None,
                build_date: None,
                auth: Some(StaticAuth {
                    header: "X-Token".into(),
                    env: "VENDOR_TOKEN".into(),
                    mirrors,
                }),
            }),
            Architecture::X86_64,
        )
    }

    const UP: &str = "https://dl.vendor.example/sles.qcow2";
    const MIRROR: &str = "http://127.0.0.1:8080/vendor/sles.qcow2";

    #[test]
    fn the_header_goes_to_the_source_origin_only() {
        let env = |k: &str| (k == "VENDOR_TOKEN").then(|| "tok-unit-123".to_owned());
        let a = Auth::for_image(&image(false), UP, MIRROR, env)
            .unwrap()
            .unwrap();
        assert!(a.sent_to(UP));
        assert!(a.sent_to("https://dl.vendor.example/other/path?x=1"));
        assert!(!a.sent_to(MIRROR), "a mirror only when the catalog says so");
        assert!(
            !a.sent_to("http://dl.vendor.example/sles.qcow2"),
            "not over plain http"
        );
        assert!(
            !a.sent_to("https://dl.vendor.example:8443/sles.qcow2"),
            "not another port"
        );
        assert!(
            !a.sent_to("https://cdn.vendor.example/sles.qcow2"),
            "not another host"
        );
        assert!(!a.sent_to("not a url"));
        assert!(!format!("{a:?}").contains("tok-unit-123"));
        assert_eq!(crate::secrets::scrub("x tok-unit-123 y"), "x *** y");

        let a = Auth::for_image(&image(true), UP, MIRROR, env)
            .unwrap()
            .unwrap();
        assert!(a.sent_to(UP) && a.sent_to(MIRROR));
    }

    #[test]
    fn a_missing_variable_is_named_with_a_hint() {
        let e = Auth::for_image(&image(false), UP, UP, |_| None).unwrap_err();
        let text = crate::error::render(&e);
        assert!(text.contains("`VENDOR_TOKEN`"), "{text}");
        assert!(text.contains("hint: export VENDOR_TOKEN"), "{text}");
        let e = Auth::for_image(&image(false), UP, UP, |_| Some(String::new())).unwrap_err();
        assert!(e.to_string().contains("not set"));
        // A value that cannot be a header is refused without being quoted.
        let e = Auth::for_image(&image(false), UP, UP, |_| Some("line\nbreak-secret".into()))
            .unwrap_err();
        assert!(!crate::error::render(&e).contains("break-secret"));
    }

    #[test]
    fn the_rate_rule_and_its_settings() {
        use std::time::Duration;
        let w = Duration::from_secs(60);
        assert!(too_slow(12, w, 1024), "slowloris: 1 byte every 5 s");
        assert!(too_slow(0, w, 1), "a full stall");
        assert!(!too_slow(60 * 1024, w, 1024));
        assert!(!too_slow(0, w, 0), "0 turns the rule off");
        use crate::catalog::{parse_rate, parse_span};
        assert_eq!(parse_rate("16KiB"), Ok(16 << 10));
        assert_eq!(parse_rate("1MiB/s"), Ok(1 << 20));
        assert_eq!(parse_rate("500"), Ok(500));
        assert_eq!(parse_rate("0"), Ok(0));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("1GB").is_err());
        assert_eq!(parse_span("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_span("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert!(parse_span("0s").is_err());
        assert!(parse_span("soon").is_err());
        assert_eq!(rate_text(16 << 10), "16 KiB/s");
        assert_eq!(span_text(Duration::from_secs(7200)), "2h");
    }

    #[test]
    fn sources_without_auth_need_no_header() {
        let mut img = image(false);
        img.source = Source::Static(StaticSource {
            url: Some(UP.into()),
            checksum: None,
            version: None,
            build_date: None,
            auth: None,
        });
        assert!(Auth::for_image(&img, UP, UP, |_| None).unwrap().is_none());
    }
}
