//! The one way `apply` requests an upstream image (the I/O of the download side).
//!
//! - Redirects are followed here, not by reqwest: each hop is a new request, so the download
//!   header of a `static` source ([`Auth`]) goes only to the hosts the catalog allows (the
//!   source's own origin, and its mirror when `auth.mirrors: true`), never to a host a
//!   redirect leads to. reqwest would strip only `Authorization`-like headers on such a hop.
//! - A redirect loop or chain longer than [`MAX_REDIRECTS`] is an error saying so.
//! - Every error names the URL that was asked (the mirror URL when rewritten).

use std::collections::BTreeSet;

use reqwest::header::{HeaderName, HeaderValue, LOCATION};
use reqwest::{Method, Response};

use crate::catalog::Image;
use crate::http::{self, HttpError};

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
