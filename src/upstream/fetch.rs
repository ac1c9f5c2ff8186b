//! The one way discovery reads upstream files.
//!
//! - Mirrors: a URL starting with a mirror's `FROM` is fetched from `TO` instead; callers
//!   always pass and keep upstream URLs (scs-0104 checks `image_source` prefixes).
//! - Retries: transient failures (5xx, 429, timeouts) are retried with backoff.
//! - Optional files: [`Fetcher::get_optional`] maps 404/410 to `None` (signatures that a
//!   distributor may or may not publish).
//! - Conditional requests: with a cache directory ([`Fetcher::with_cache`]), the ETag /
//!   Last-Modified of each response are kept beside its body, and the next request for the
//!   same URL sends If-None-Match / If-Modified-Since; a 304 is answered from the cache, so
//!   an unchanged upstream costs small 304s. Validators never reach lockfiles.
//! - Per-request timeout ([`Fetcher::with_timeout`]); a timeout is retried like a 5xx.
//! - Single flight: one [`Fetcher`] (and its clones) fetches each URL at most once. Callers
//!   that ask for a URL while it is in flight, or later in the same run, share the first
//!   answer, so several images of one distribution (and the news) that read the same index
//!   cost one request, and every image of a run sees the same upstream state.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::http::{self, HttpError, RetryPolicy};

/// A fetched upstream file.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The upstream URL asked for (not the mirror URL).
    pub url: String,
    pub body: Bytes,
}

impl Fetched {
    /// The body as text (lossy: metadata files are ASCII/UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Fetches upstream metadata through mirrors, with retries.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    /// `(from, to)` prefixes, longest `from` first.
    mirrors: Arc<Vec<(String, String)>>,
    retry: RetryPolicy,
    stats: Arc<Stats>,
    /// Where validators and bodies of earlier responses are kept; `None` disables.
    cache: Option<Arc<PathBuf>>,
    timeout: Option<Duration>,
    /// One answer per effective URL for the life of this fetcher (see the module docs).
    flights: Arc<Mutex<HashMap<String, Flight>>>,
}

/// The shared answer of one URL: the body, or the error after retries (a 404 included, which
/// each caller then maps by its own idea of "absent").
type Flight = Arc<tokio::sync::OnceCell<Result<Bytes, HttpError>>>;

/// Counters of what a run moved (for `check -v` and the benchmark).
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests sent, retries included.
    pub requests: AtomicU64,
    /// Body bytes received over the network (304s and cache hits add nothing).
    pub bytes: AtomicU64,
    /// Responses that were 304 Not Modified.
    pub not_modified: AtomicU64,
}

/// A copy of [`Stats`] at one moment, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub bytes: u64,
    pub not_modified: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            not_modified: self.not_modified.load(Ordering::Relaxed),
        }
    }
}

/// The validators of a cached response.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CacheMeta {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// The default cache directory: `$IMAGE_CRAWLER_CACHE_DIR`, else
/// `<user cache dir>/image-crawler/http`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("IMAGE_CRAWLER_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|d| d.join("image-crawler").join("http"))
}

impl Fetcher {
    pub fn new(
        client: reqwest::Client,
        mut mirrors: Vec<(String, String)>,
        retry: RetryPolicy,
    ) -> Self {
        mirrors.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Self {
            client,
            mirrors: Arc::new(mirrors),
            retry,
            stats: Arc::default(),
            cache: None,
            timeout: None,
            flights: Arc::default(),
        }
    }

    /// Keeps validators and bodies in `dir` and sends conditional requests.
    pub fn with_cache(mut self, dir: PathBuf) -> Self {
        self.cache = Some(Arc::new(dir));
        self
    }

    /// Bounds every single request (connect to last body byte).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The URL actually requested for an upstream URL.
    pub fn effective_url(&self, upstream: &str) -> String {
        for (from, to) in self.mirrors.iter() {
            if let Some(rest) = upstream.strip_prefix(from.as_str()) {
                return format!("{to}{rest}");
            }
        }
        upstream.to_owned()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// GETs an upstream file; any non-success status is an error.
    pub async fn get(&self, upstream_url: &str) -> Result<Fetched, HttpError> {
        self.fetch(upstream_url, &[])
            .await?
            .ok_or_else(|| unreachable_not_found(upstream_url))
    }

    /// GETs an upstream file that may not exist: 404 and 410 give `None`.
    pub async fn get_optional(&self, upstream_url: &str) -> Result<Option<Fetched>, HttpError> {
        self.fetch(upstream_url, &[404, 410]).await
    }

    async fn fetch(
        &self,
        upstream_url: &str,
        absent: &[u16],
    ) -> Result<Option<Fetched>, HttpError> {
        let url = self.effective_url(upstream_url);
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            Flight::clone(flights.entry(url.clone()).or_default())
        };
        // A caller that is cancelled mid-flight leaves the cell empty; the next one fetches.
        let result = flight
            .get_or_init(|| self.fetch_once(upstream_url, &url))
            .await
            .clone();
        match result {
            Ok(body) => Ok(Some(Fetched {
                url: upstream_url.to_owned(),
                body,
            })),
            Err(e) if e.status().is_some_and(|s| absent.contains(&s)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The network side of [`Fetcher::fetch`]: conditional request, retries, size cap.
    async fn fetch_once(&self, upstream_url: &str, url: &str) -> Result<Bytes, HttpError> {
        let cache = self.cache.as_deref().map(|dir| CacheEntry::new(dir, url));
        http::retry(self.retry, || async {
            // Re-read per attempt: a cached body may only be used with its own validators.
            let cached = cache.as_ref().and_then(CacheEntry::load);
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let mut req = self.client.get(url);
            if let Some(timeout) = self.timeout {
                req = req.timeout(timeout);
            }
            if let Some((meta, _)) = &cached {
                if let Some(etag) = &meta.etag {
                    req = req.header(IF_NONE_MATCH, etag);
                }
                if let Some(lm) = &meta.last_modified {
                    req = req.header(IF_MODIFIED_SINCE, lm);
                }
            }
            let resp = req
                .send()
                .await
                .map_err(|e| HttpError::from_reqwest(&Method::GET, url, &e))?;
            if resp.status() == reqwest::StatusCode::NOT_MODIFIED
                && let Some((_, body)) = cached
            {
                self.stats.not_modified.fetch_add(1, Ordering::Relaxed);
                return Ok(body);
            }
            let resp = http::check(&Method::GET, url, resp).await?;
            let header = |name| {
                resp.headers()
                    .get(name)
                    .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let meta = CacheMeta {
                url: http::redact_url(url),
                etag: header(ETAG),
                last_modified: header(LAST_MODIFIED),
            };
            let body = read_capped(resp, url, BodyKind::of(upstream_url)).await?;
            self.stats
                .bytes
                .fetch_add(body.len() as u64, Ordering::Relaxed);
            if let Some(entry) = &cache {
                entry.store(&meta, &body);
            }
            Ok(body)
        })
        .await
    }
}

/// The two cache files of one URL: `<sha256(url)>.json` (validators) and `.body`.
struct CacheEntry {
    meta: PathBuf,
    body: PathBuf,
}

impl CacheEntry {
    fn new(dir: &Path, url: &str) -> Self {
        let key = hex::encode(sha2::Sha256::digest(url.as_bytes()));
        Self {
            meta: dir.join(format!("{key}.json")),
            body: dir.join(format!("{key}.body")),
        }
    }

    /// The validators and body, when both are there and consistent.
    fn load(&self) -> Option<(CacheMeta, Bytes)> {
        let meta: CacheMeta = serde_json::from_slice(&std::fs::read(&self.meta).ok()?).ok()?;
        if meta.etag.is_none() && meta.last_modified.is_none() {
            return None;
        }
        let body = std::fs::read(&self.body).ok()?;
        Some((meta, Bytes::from(body)))
    }

    /// Best effort: a cache that cannot be written only costs bandwidth next time.
    fn store(&self, meta: &CacheMeta, body: &[u8]) {
        let result = (|| -> std::io::Result<()> {
            if meta.etag.is_none() && meta.last_modified.is_none() {
                // Nothing to revalidate with; drop a stale entry.
                let _ = std::fs::remove_file(&self.meta);
                return Ok(());
            }
            let dir = self.meta.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            // Body first, then validators: a crash in between leaves validators of the old
            // body absent (rather than paired with a new body).
            let _ = std::fs::remove_file(&self.meta);
            write_atomic(dir, &self.body, body)?;
            write_atomic(dir, &self.meta, &serde_json::to_vec(meta)?)?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::debug!(path = %self.meta.display(), error = %e, "cannot write the HTTP cache");
        }
    }
}

fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// What a metadata document is, for its size cap. Real files are far below these (the
/// largest sample, a Debian build manifest, is 51 KB; simplestreams indexes a few MB), so a
/// cap only stops a server that streams without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// Checksum files (`SHA256SUMS`, `CHECKSUM`, `*.sha256`): 4 MiB.
    Checksums,
    /// Detached signatures and keys (`.asc`, `.gpg`, `.sig`): 1 MiB.
    Signature,
    /// JSON/YAML manifests (simplestreams, release lists): 64 MiB.
    Manifest,
    /// Directory listings (HTML, MirrorCache JSON) and anything else: 16 MiB.
    Listing,
}

impl BodyKind {
    /// The kind of an upstream URL, from its last path segment.
    pub fn of(url: &str) -> BodyKind {
        let path = url.split(['?', '#']).next().unwrap_or(url);
        let name = path.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
        if name.ends_with(".asc") || name.ends_with(".gpg") || name.ends_with(".sig") {
            BodyKind::Signature
        } else if name.contains("sum")
            || name.contains("checksum")
            || name.ends_with(".sha256")
            || name.ends_with(".sha512")
            || name.ends_with(".md5")
        {
            BodyKind::Checksums
        } else if name.ends_with(".json") || name.ends_with(".yaml") || name.ends_with(".yml") {
            BodyKind::Manifest
        } else {
            BodyKind::Listing
        }
    }

    /// The cap in bytes.
    pub fn cap(self) -> u64 {
        match self {
            BodyKind::Checksums => 4 << 20,
            BodyKind::Signature => 1 << 20,
            BodyKind::Manifest => 64 << 20,
            BodyKind::Listing => 16 << 20,
        }
    }

    fn name(self) -> &'static str {
        match self {
            BodyKind::Checksums => "checksum file",
            BodyKind::Signature => "signature",
            BodyKind::Manifest => "manifest",
            BodyKind::Listing => "listing",
        }
    }
}

/// Reads a body chunk by chunk, refusing it as soon as it passes the cap of its kind (never
/// buffering more than cap + one chunk). Not transient: retrying gets the same endless body.
async fn read_capped(
    mut resp: reqwest::Response,
    url: &str,
    kind: BodyKind,
) -> Result<Bytes, HttpError> {
    let cap = kind.cap();
    let too_big = || {
        HttpError::decode(
            &Method::GET,
            url,
            format!(
                "the {} is larger than its cap of {} MiB; an upstream metadata file this large is not genuine",
                kind.name(),
                cap >> 20
            ),
        )
    };
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(too_big());
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| HttpError::from_reqwest(&Method::GET, url, &e))?
    {
        if (body.len() + chunk.len()) as u64 > cap {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn unreachable_not_found(url: &str) -> HttpError {
    HttpError::decode(&Method::GET, url, "no body")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_file_name() {
        assert_eq!(BodyKind::of("https://x/SHA256SUMS"), BodyKind::Checksums);
        assert_eq!(BodyKind::of("https://x/CHECKSUM"), BodyKind::Checksums);
        assert_eq!(
            BodyKind::of("https://x/SHA256SUMS.gpg"),
            BodyKind::Signature
        );
        assert_eq!(
            BodyKind::of("https://x/streams/v1/index.json"),
            BodyKind::Manifest
        );
        assert_eq!(BodyKind::of("https://x/releases/"), BodyKind::Listing);
    }

    /// A server that answers every request with a body that never ends.
    fn endless_server() -> (String, std::sync::Arc<AtomicU64>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = std::sync::Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf);
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n",
                    );
                    let line = [b'a'; 64 * 1024];
                    while stream.write_all(&line).is_ok() {
                        counter.fetch_add(line.len() as u64, Ordering::Relaxed);
                    }
                });
            }
        });
        (format!("http://{addr}"), sent)
    }

    #[tokio::test]
    async fn an_endless_checksum_file_stops_at_its_cap() {
        let (base, sent) = endless_server();
        let f = Fetcher::new(reqwest::Client::new(), vec![], RetryPolicy::NONE);
        let url = format!("{base}/images/SHA256SUMS");
        let err = f.get(&url).await.unwrap_err().to_string();
        assert!(err.contains(&url), "{err}");
        assert!(err.contains("cap of 4 MiB"), "{err}");
        // The client stopped reading near the cap (socket buffers add a little).
        assert!(sent.load(Ordering::Relaxed) < 64 << 20, "kept reading");
    }

    #[test]
    fn mirror_rewrite_prefers_the_longest_prefix() {
        let f = Fetcher::new(
            reqwest::Client::new(),
            vec![
                (
                    "https://cloud-images.ubuntu.com/".into(),
                    "http://127.0.0.1:1/ubuntu/".into(),
                ),
                (
                    "https://cloud-images.ubuntu.com/releases/".into(),
                    "http://127.0.0.1:1/rel/".into(),
                ),
            ],
            RetryPolicy::NONE,
        );
        assert_eq!(
            f.effective_url("https://cloud-images.ubuntu.com/releases/x"),
            "http://127.0.0.1:1/rel/x"
        );
        assert_eq!(
            f.effective_url("https://cloud-images.ubuntu.com/noble/x"),
            "http://127.0.0.1:1/ubuntu/noble/x"
        );
        assert_eq!(
            f.effective_url("https://example.org/x"),
            "https://example.org/x"
        );
    }
}
