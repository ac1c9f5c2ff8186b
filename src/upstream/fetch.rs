//! The one way discovery reads upstream files.
//!
//! - Mirrors: a URL starting with a mirror's `FROM` is fetched from `TO` instead; callers
//!   always pass and keep upstream URLs (scs-0104 checks `image_source` prefixes).
//! - Retries: transient failures (5xx, 429, timeouts) are retried with backoff.
//! - Optional files: [`Fetcher::get_optional`] maps 404/410 to `None` (signatures that a
//!   distributor may or may not publish).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use reqwest::Method;

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
}

/// Counters of what a run moved (for `check -v` and the benchmark).
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub bytes: AtomicU64,
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
        }
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
        let result = http::retry(self.retry, || async {
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let resp = self
                .client
                .get(&url)
                .send()
                .await
                .map_err(|e| HttpError::from_reqwest(&Method::GET, &url, &e))?;
            let resp = http::check(&Method::GET, &url, resp).await?;
            let body = resp
                .bytes()
                .await
                .map_err(|e| HttpError::from_reqwest(&Method::GET, &url, &e))?;
            self.stats
                .bytes
                .fetch_add(body.len() as u64, Ordering::Relaxed);
            Ok(body)
        })
        .await;
        match result {
            Ok(body) => Ok(Some(Fetched {
                url: upstream_url.to_owned(),
                body,
            })),
            Err(e) if e.status().is_some_and(|s| absent.contains(&s)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn unreachable_not_found(url: &str) -> HttpError {
    HttpError::decode(&Method::GET, url, "no body")
}

#[cfg(test)]
mod tests {
    use super::*;

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
