//! Uploading artifact directories to the `publish` container in the layout `check` discovers
//! (see the module docs of [`crate::build`]). S3-compatible stores only for now: path-style
//! `PUT <url>/<key>`, signed with SigV4 when credentials are given, anonymous otherwise (a
//! bucket whose policy allows it).
//!
//! The image object is uploaded last: discovery keys on it, so a reader never sees a build
//! whose `SHA256SUMS` (or signature, or manifest) is not there yet. A version whose image is
//! already in the store is skipped, so a re-run uploads only what is missing.

use std::path::{Path, PathBuf};

use reqwest::Method;

use super::sigv4::{self, Credentials};
use super::{CHECKSUM_FILE, SIGNATURE_FILE, object_key};
use crate::http::{self, HttpError};

/// Where builds go.
#[derive(Debug, Clone)]
pub struct Store {
    pub client: reqwest::Client,
    /// The bucket URL (path style), e.g. `http://127.0.0.1:9000/builds`.
    pub url: url::Url,
    pub credentials: Option<Credentials>,
    /// Send `x-amz-acl: public-read` with every object.
    pub public: bool,
}

/// One version of one image, published now or found already there.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Published {
    pub image: String,
    pub version: String,
    /// The keys uploaded, in order; empty when the version was already published.
    pub uploaded: Vec<String>,
    pub already_published: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The store's answer or the transport (typed, so a store that is down is temporary).
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{} has no {file}", dir.display())]
    Incomplete { dir: PathBuf, file: String },
    /// An upload broke off after some objects of the version were stored: something changed
    /// in the store, so this is never "nothing changed, retry later" (docs/exit-codes.md).
    #[error("the upload stopped after {uploaded} object(s) of the version were stored")]
    Interrupted {
        uploaded: usize,
        #[source]
        source: Box<PublishError>,
    },
}

impl PublishError {
    /// Worth retrying later with nothing changed: the store was unreachable, timed out or
    /// answered 5xx before any object of the version was stored.
    pub fn is_transient(&self) -> bool {
        matches!(self, PublishError::Http(e) if e.is_transient())
    }
}

/// The build versions of `id` in the artifact tree `output`, oldest first.
pub fn local_versions(output: &Path, id: &str) -> Result<Vec<String>, PublishError> {
    let dir = output.join(id);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(PublishError::Io { path: dir, source }),
    };
    let re = regex::Regex::new(r"^\d{8}T\d{6}Z$").expect("static regex");
    let mut versions: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|v| re.is_match(v))
        .collect();
    versions.sort();
    Ok(versions)
}

/// The files of an artifact directory in upload order: checksums, signature, manifest, and
/// the image last. The signature only when present.
pub fn upload_order(id: &str, has_signature: bool) -> Vec<String> {
    let mut files = vec![CHECKSUM_FILE.to_owned()];
    if has_signature {
        files.push(SIGNATURE_FILE.to_owned());
    }
    files.push("manifest.json".to_owned());
    files.push(format!("{id}.qcow2"));
    files
}

impl Store {
    fn object_url(&self, key: &str) -> url::Url {
        let mut u = self.url.clone();
        let path = format!(
            "{}/{}",
            u.path().trim_end_matches('/'),
            sigv4::uri_encode(key, true)
        );
        u.set_path(&path);
        u
    }

    fn sign(
        &self,
        req: reqwest::RequestBuilder,
        method: &str,
        url: &url::Url,
    ) -> reqwest::RequestBuilder {
        // x-amz-* headers must be signed, so the ACL is added here.
        let acl = (method == "PUT" && self.public).then_some("public-read");
        let req = match acl {
            Some(a) => req.header("x-amz-acl", a),
            None => req,
        };
        let Some(creds) = &self.credentials else {
            return req;
        };
        let amz_date = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let unsigned = "UNSIGNED-PAYLOAD";
        let mut headers = vec![
            ("host", host.as_str()),
            ("x-amz-content-sha256", unsigned),
            ("x-amz-date", amz_date.as_str()),
        ];
        if let Some(a) = acl {
            headers.push(("x-amz-acl", a));
        }
        let auth = sigv4::authorization(
            creds,
            &sigv4::Request {
                service: "s3",
                method,
                path: url.path(),
                query: "",
                headers: &headers,
                payload_hash: unsigned,
                amz_date: &amz_date,
            },
        );
        req.header("x-amz-content-sha256", unsigned)
            .header("x-amz-date", amz_date)
            .header("authorization", auth)
    }

    async fn exists(&self, key: &str) -> Result<bool, PublishError> {
        let url = self.object_url(key);
        let req = self.sign(self.client.head(url.clone()), "HEAD", &url);
        let resp = req
            .send()
            .await
            .map_err(|e| HttpError::from_reqwest(&Method::HEAD, url.as_str(), &e))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(false);
        }
        http::check(&Method::HEAD, url.as_str(), resp).await?;
        Ok(true)
    }

    async fn put(&self, key: &str, path: &Path) -> Result<(), PublishError> {
        let io = |source| PublishError::Io {
            path: path.to_owned(),
            source,
        };
        let file = tokio::fs::File::open(path).await.map_err(io)?;
        let len = file.metadata().await.map_err(io)?.len();
        let url = self.object_url(key);
        let req = self
            .client
            .put(url.clone())
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(reqwest::Body::from(file));
        let resp = self
            .sign(req, "PUT", &url)
            .send()
            .await
            .map_err(|e| HttpError::from_reqwest(&Method::PUT, url.as_str(), &e))?;
        // The error body is read capped and quoted scrubbed (crate::http::check).
        http::check(&Method::PUT, url.as_str(), resp).await?;
        Ok(())
    }

    /// Uploads `<output>/<id>/<version>/` unless its image is already in the store.
    pub async fn publish(
        &self,
        output: &Path,
        id: &str,
        version: &str,
    ) -> Result<Published, PublishError> {
        let dir = output.join(id).join(version);
        let image_key = object_key(id, version, &format!("{id}.qcow2"));
        if self.exists(&image_key).await? {
            return Ok(Published {
                image: id.to_owned(),
                version: version.to_owned(),
                uploaded: Vec::new(),
                already_published: true,
            });
        }
        let files = upload_order(id, dir.join(SIGNATURE_FILE).is_file());
        for f in &files {
            if !dir.join(f).is_file() {
                return Err(PublishError::Incomplete {
                    dir,
                    file: f.clone(),
                });
            }
        }
        let mut uploaded = Vec::new();
        for f in files {
            let key = object_key(id, version, &f);
            if let Err(e) = self.put(&key, &dir.join(&f)).await {
                return Err(if uploaded.is_empty() {
                    e
                } else {
                    PublishError::Interrupted {
                        uploaded: uploaded.len(),
                        source: Box::new(e),
                    }
                });
            }
            uploaded.push(key);
        }
        Ok(Published {
            image: id.to_owned(),
            version: version.to_owned(),
            uploaded,
            already_published: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_goes_last() {
        assert_eq!(
            upload_order("d", true),
            ["SHA256SUMS", "SHA256SUMS.asc", "manifest.json", "d.qcow2"]
        );
        assert_eq!(
            upload_order("d", false),
            ["SHA256SUMS", "manifest.json", "d.qcow2"]
        );
    }

    #[test]
    fn only_version_directories_are_published() {
        let t = tempfile::tempdir().unwrap();
        for d in ["20261201T030000Z", "20261101T030000Z", ".build-x", "latest"] {
            std::fs::create_dir_all(t.path().join("d").join(d)).unwrap();
        }
        assert_eq!(
            local_versions(t.path(), "d").unwrap(),
            ["20261101T030000Z", "20261201T030000Z"]
        );
        assert!(local_versions(t.path(), "none").unwrap().is_empty());
    }
}
