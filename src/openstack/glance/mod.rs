//! Glance image API v2 over a Keystone [`Session`]: discovery, list, get, create, upload,
//! stage, import, wait, patch, tags, deactivate/reactivate, delete.
//!
//! Every call goes through `Session::send` (token, one re-auth on 401, retries on transient
//! failures) or `Session::send_once` (streaming bodies, which cannot be repeated). Failures
//! carry method, URL, status, request id and a body excerpt (`crate::http::HttpError`);
//! 404 / 409 / protected-delete become typed [`Error`]s. JSON never leaves this module: callers
//! get [`GlanceImage`]s.

pub mod convert;
pub mod patch;
pub mod wait;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use bytes::Bytes;
use futures_util::Stream;
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub use patch::{PATCH_CONTENT_TYPE, PatchKind, PatchOp, patch_ops, tag_changes};
pub use wait::{Observation, Verdict, WaitPolicy};

use super::config::CloudConfig;
use super::error::{Error, Result, WaitFailure};
use super::image::GlanceImage;
use super::keystone::Session;
use crate::http::{self, HttpError};

/// Whether a listing includes hidden (`os_hidden`) images. Glance leaves them out unless
/// asked, and `os_hidden=true` returns ONLY hidden ones, so `Include` lists twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hidden {
    /// Glance's default: visible images only.
    Exclude,
    /// Hidden images only.
    Only,
    /// Both (two listings, merged by id).
    #[default]
    Include,
}

/// Filters for [`Glance::list`] (all optional; combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub name: Option<String>,
    /// Every tag must be present.
    pub tags: Vec<String>,
    /// `public`, `private`, `shared`, `community` or `all`.
    pub visibility: Option<String>,
    pub hidden: Hidden,
    pub status: Option<String>,
    pub owner: Option<String>,
    /// `member_status` (`all` lists shared images whatever their membership status, as the
    /// official SCS suite's `list_images(show_all=True)` does).
    pub member_status: Option<String>,
    /// User properties that must have these values.
    pub properties: BTreeMap<String, String>,
    /// Page size (`limit`); Glance's default (25) when absent.
    pub page_size: Option<u32>,
}

impl ListFilter {
    /// The query pairs for one listing with a given `os_hidden` value.
    pub fn query(&self, os_hidden: Option<bool>) -> Vec<(String, String)> {
        let mut q = Vec::new();
        if let Some(n) = &self.name {
            q.push(("name".into(), n.clone()));
        }
        for t in &self.tags {
            q.push(("tag".into(), t.clone()));
        }
        if let Some(v) = &self.visibility {
            q.push(("visibility".into(), v.clone()));
        }
        if let Some(h) = os_hidden {
            q.push(("os_hidden".into(), h.to_string()));
        }
        if let Some(s) = &self.status {
            q.push(("status".into(), s.clone()));
        }
        if let Some(o) = &self.owner {
            q.push(("owner".into(), o.clone()));
        }
        if let Some(m) = &self.member_status {
            q.push(("member_status".into(), m.clone()));
        }
        for (k, v) in &self.properties {
            q.push((k.clone(), v.clone()));
        }
        if let Some(l) = self.page_size {
            q.push(("limit".into(), l.to_string()));
        }
        q
    }
}

/// A new image record (no data yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewImage {
    pub name: String,
    pub disk_format: String,
    pub container_format: String,
    pub min_disk: u64,
    pub min_ram: u64,
    /// Glance's default (`shared`) when absent.
    pub visibility: Option<String>,
    pub protected: bool,
    pub hidden: bool,
    pub tags: BTreeSet<String>,
    pub properties: BTreeMap<String, String>,
}

impl NewImage {
    /// The JSON body of `POST /v2/images`.
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        // Properties first, so first-class fields win over a same-named property.
        for (k, v) in &self.properties {
            m.insert(k.clone(), json!(v));
        }
        m.insert("name".into(), json!(self.name));
        m.insert("disk_format".into(), json!(self.disk_format));
        m.insert("container_format".into(), json!(self.container_format));
        m.insert("min_disk".into(), json!(self.min_disk));
        m.insert("min_ram".into(), json!(self.min_ram));
        if let Some(v) = &self.visibility {
            m.insert("visibility".into(), json!(v));
        }
        m.insert("protected".into(), json!(self.protected));
        m.insert("os_hidden".into(), json!(self.hidden));
        m.insert("tags".into(), json!(self.tags));
        Value::Object(m)
    }
}

/// How Glance gets the data of an image (interoperable image import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportMethod {
    /// Glance downloads `uri` itself. Glance (up to 33 / API 2.18) has no checksum input for
    /// this method (`validation_data` exists only for the location API), so callers pass the
    /// expected hash to [`Glance::wait_active`], which compares it with `os_hash_value`.
    WebDownload { uri: String },
    /// Data uploaded before with [`Glance::stage`].
    GlanceDirect,
}

impl ImportMethod {
    pub fn name(&self) -> &'static str {
        match self {
            ImportMethod::WebDownload { .. } => "web-download",
            ImportMethod::GlanceDirect => "glance-direct",
        }
    }

    /// The JSON body of `POST /v2/images/{id}/import`.
    pub fn body(&self) -> Value {
        match self {
            ImportMethod::WebDownload { uri } => {
                json!({ "method": { "name": "web-download", "uri": uri } })
            }
            ImportMethod::GlanceDirect => json!({ "method": { "name": "glance-direct" } }),
        }
    }
}

/// A hash the image data must have (checked against Glance's `os_hash_algo`/`os_hash_value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedHash {
    /// Glance's name: `sha512`, `sha256`, ...
    pub algo: String,
    pub value: String,
}

/// A connected Glance (v2) of one cloud.
#[derive(Debug, Clone)]
pub struct Glance {
    session: Session,
    /// The endpoint root, without version and without trailing slash.
    root: String,
    /// The newest v2 minor version the server offers (`2.17`), if discovery worked.
    version: Option<String>,
}

#[derive(Deserialize)]
struct Versions {
    versions: Vec<VersionInfo>,
}

#[derive(Deserialize)]
struct VersionInfo {
    id: String,
    status: String,
}

/// Picks the newest CURRENT or SUPPORTED v2 version from a version document.
pub fn pick_v2(doc: &Value) -> Option<String> {
    let versions: Versions = serde_json::from_value(doc.clone()).ok()?;
    versions
        .versions
        .iter()
        .filter(|v| matches!(v.status.as_str(), "CURRENT" | "SUPPORTED"))
        .filter_map(|v| {
            let rest = v.id.strip_prefix("v2")?;
            let minor = rest.strip_prefix('.').unwrap_or("0").parse::<u32>().ok()?;
            Some((minor, v.id.trim_start_matches('v').to_owned()))
        })
        .max()
        .map(|(_, id)| id)
}

/// Strips a version suffix (`/v2`, `/v2.1/`) from an endpoint URL.
pub fn endpoint_root(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((head, last))
            if last.starts_with("v2")
                && last[2..].chars().all(|c| c == '.' || c.is_ascii_digit()) =>
        {
            head.to_owned()
        }
        _ => trimmed.to_owned(),
    }
}

/// Resolves a `next` link of a listing against the endpoint root.
pub fn next_url(root: &str, next: &str) -> String {
    if next.starts_with("http://") || next.starts_with("https://") {
        return next.to_owned();
    }
    // Glance answers `/v2/images?marker=...` relative to its own root; behind a path prefix
    // (https://cloud/image) that prefix may or may not be part of the link.
    let prefix_path = url::Url::parse(root)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    if !prefix_path.is_empty() && next.starts_with(&prefix_path) {
        let origin = root.strip_suffix(&prefix_path).unwrap_or(root);
        format!("{origin}{next}")
    } else {
        format!("{root}{next}")
    }
}

impl Glance {
    /// Authenticates, finds Glance in the catalog (or `image_endpoint_override`) and
    /// discovers its API version.
    pub async fn connect(config: CloudConfig) -> Result<Self> {
        let session = Session::new(config)?;
        Self::from_session(session).await
    }

    pub async fn from_session(session: Session) -> Result<Self> {
        let endpoint = match &session.config().image_endpoint_override {
            Some(u) => u.to_string(),
            None => session.endpoint("image").await?,
        };
        let root = endpoint_root(&endpoint);
        let version = discover(session.client(), &root).await;
        tracing::debug!(endpoint = %root, version = ?version, "Glance endpoint");
        Ok(Self {
            session,
            root,
            version,
        })
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The endpoint root (no version).
    pub fn endpoint(&self) -> &str {
        &self.root
    }

    /// The newest v2 minor version offered (`2.17`), if discovery answered.
    pub fn api_version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2{path}", self.root)
    }

    async fn get_json(&self, url: &str) -> Result<Value> {
        let resp = self.session.send(&Method::GET, url, |c| c.get(url)).await?;
        decode(&Method::GET, url, resp).await
    }

    /// One listing (all pages) with a fixed `os_hidden` value.
    async fn list_once(
        &self,
        filter: &ListFilter,
        os_hidden: Option<bool>,
    ) -> Result<Vec<GlanceImage>> {
        let mut out = Vec::new();
        let query = filter.query(os_hidden);
        let first = self.url("/images");
        let mut url = reqwest::Url::parse_with_params(&first, &query)
            .map_err(|e| Error::Protocol(format!("cannot build {first}: {e}")))?
            .to_string();
        let mut pages = 0u32;
        loop {
            let page = self.get_json(&url).await?;
            let images = page
                .get("images")
                .and_then(Value::as_array)
                .ok_or_else(|| bad_body(&url, "no `images` list"))?;
            for v in images {
                out.push(convert::image_from_json(v).map_err(|m| bad_body(&url, &m))?);
            }
            pages += 1;
            match page.get("next").and_then(Value::as_str) {
                Some(next) if !images.is_empty() && pages < 10_000 => {
                    url = next_url(&self.root, next);
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// Lists images (following `next` links). With [`Hidden::Include`] (the default), hidden
    /// images are listed too. The result is sorted by name, then creation time, then id.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<GlanceImage>> {
        let mut images = match filter.hidden {
            Hidden::Exclude => self.list_once(filter, None).await?,
            Hidden::Only => self.list_once(filter, Some(true)).await?,
            Hidden::Include => {
                let mut all = self.list_once(filter, None).await?;
                let seen: BTreeSet<String> = all.iter().map(|i| i.id.clone()).collect();
                all.extend(
                    self.list_once(filter, Some(true))
                        .await?
                        .into_iter()
                        .filter(|i| !seen.contains(&i.id)),
                );
                all
            }
        };
        images
            .sort_by(|a, b| (&a.name, &a.created_at, &a.id).cmp(&(&b.name, &b.created_at, &b.id)));
        Ok(images)
    }

    /// One image; [`Error::NotFound`] when it does not exist.
    pub async fn get(&self, id: &str) -> Result<GlanceImage> {
        let raw = self.get_raw(id).await?;
        let url = self.url(&format!("/images/{id}"));
        convert::image_from_json(&raw).map_err(|m| bad_body(&url, &m))
    }

    /// The raw record (with the `os_glance_*` import bookkeeping).
    async fn get_raw(&self, id: &str) -> Result<Value> {
        let url = self.url(&format!("/images/{id}"));
        self.get_json(&url).await.map_err(|e| image_error(id, e))
    }

    /// Creates an image record (status `queued`).
    pub async fn create(&self, image: &NewImage) -> Result<GlanceImage> {
        let url = self.url("/images");
        let body = image.body();
        let resp = self
            .session
            .send(&Method::POST, &url, |c| c.post(&url).json(&body))
            .await?;
        let v = decode(&Method::POST, &url, resp).await?;
        convert::image_from_json(&v).map_err(|m| bad_body(&url, &m))
    }

    /// Streams the data of a `queued` image (`PUT /file`): Content-Length when `size` is
    /// known, chunked otherwise; memory stays constant. Not retried (the stream is consumed).
    pub async fn upload<S, E>(&self, id: &str, data: S, size: Option<u64>) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        self.put_data(id, "file", data, size).await
    }

    /// Streams the data Glance stored for an image (`GET /file`), to read it back when its
    /// own hash cannot vouch for it. Memory stays constant.
    pub async fn download(
        &self,
        id: &str,
    ) -> Result<impl Stream<Item = std::result::Result<Bytes, reqwest::Error>> + Send + 'static>
    {
        let url = self.url(&format!("/images/{id}/file"));
        let resp = self
            .session
            .send(&Method::GET, &url, |c| c.get(&url))
            .await
            .map_err(|e| image_error(id, e))?;
        Ok(resp.bytes_stream())
    }

    /// Stages data for a `glance-direct` import (`PUT /stage`); same streaming rules as
    /// [`Glance::upload`].
    pub async fn stage<S, E>(&self, id: &str, data: S, size: Option<u64>) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        self.put_data(id, "stage", data, size).await
    }

    async fn put_data<S, E>(&self, id: &str, what: &str, data: S, size: Option<u64>) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let url = self.url(&format!("/images/{id}/{what}"));
        let mut req = self
            .session
            .client()
            .put(&url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(reqwest::Body::wrap_stream(data));
        if let Some(n) = size {
            // An explicit length makes hyper send a sized body instead of chunks.
            req = req.header(CONTENT_LENGTH, n);
        }
        tracing::debug!(image = id, url = %url, size = ?size, "streaming image data");
        self.session
            .send_once(&Method::PUT, &url, req)
            .await
            .map(drop)
            .map_err(|e| image_error(id, e))
    }

    /// Starts an interoperable import (`POST /import`, 202). Poll with [`Glance::wait_active`].
    pub async fn import(&self, id: &str, method: &ImportMethod) -> Result<()> {
        let url = self.url(&format!("/images/{id}/import"));
        let body = method.body();
        self.session
            .send(&Method::POST, &url, |c| c.post(&url).json(&body))
            .await
            .map(drop)
            .map_err(|e| image_error(id, e))
    }

    /// The import methods the cloud enables (`GET /v2/info/import`).
    pub async fn import_methods(&self) -> Result<Vec<String>> {
        let url = self.url("/info/import");
        let v = self.get_json(&url).await?;
        Ok(v.pointer("/import-methods/value")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Polls until the image is `active` (adaptive interval, stuck detection, deadline).
    /// With `expected`, an active image whose `os_hash_algo` matches but whose
    /// `os_hash_value` differs is a failure.
    pub async fn wait_active(
        &self,
        id: &str,
        what: &str,
        policy: &WaitPolicy,
        expected: Option<&ExpectedHash>,
    ) -> Result<GlanceImage> {
        self.wait_until_done(id, what, policy, expected, false)
            .await
    }

    /// Like [`Glance::wait_active`] after `POST /import`: the image counts as done only when
    /// its import task is final (`success`) and `os_glance_import_task` is cleared. Glance
    /// turns the image `active` before the task's last steps re-save the record, and a PATCH
    /// made in between is lost (see `wait`).
    pub async fn wait_imported(
        &self,
        id: &str,
        what: &str,
        policy: &WaitPolicy,
        expected: Option<&ExpectedHash>,
    ) -> Result<GlanceImage> {
        self.wait_until_done(id, what, policy, expected, true).await
    }

    async fn wait_until_done(
        &self,
        id: &str,
        what: &str,
        policy: &WaitPolicy,
        expected: Option<&ExpectedHash>,
        import_task: bool,
    ) -> Result<GlanceImage> {
        let started = Instant::now();
        let mut last_change = Instant::now();
        let mut last: Option<Observation> = None;
        let mut interval = policy.first_interval;
        loop {
            let raw = self.get_raw(id).await?;
            let url = self.url(&format!("/images/{id}"));
            let image = convert::image_from_json(&raw).map_err(|m| bad_body(&url, &m))?;
            let obs = Observation {
                status: image.status.clone(),
                size: image.size,
                import_state: convert::import_state(&raw),
            };
            let progressed = last.as_ref() != Some(&obs);
            if progressed {
                tracing::debug!(image = id, state = %wait::describe(&obs), "image state");
                last_change = Instant::now();
            }
            let fail = |failure: WaitFailure, detail: String| Error::Wait {
                id: id.to_owned(),
                what: what.to_owned(),
                failure,
                detail,
            };
            let mut verdict = wait::judge(&obs);
            if import_task && verdict == Verdict::Active {
                let (status, message) = self.last_task(id).await.unwrap_or_default();
                verdict = wait::judge_task(status.as_deref(), &message);
            }
            match verdict {
                Verdict::Active => {
                    if let Some(exp) = expected
                        && image.os_hash_algo.as_deref() == Some(exp.algo.as_str())
                        && image.os_hash_value.as_deref() != Some(exp.value.as_str())
                    {
                        return Err(fail(
                            WaitFailure::Failed,
                            format!(
                                "Glance computed {} {} but {} was expected",
                                exp.algo,
                                image.os_hash_value.as_deref().unwrap_or("nothing"),
                                exp.value
                            ),
                        ));
                    }
                    return Ok(image);
                }
                Verdict::Failed(reason) => {
                    let task = self.last_task_message(id).await;
                    return Err(fail(
                        WaitFailure::Failed,
                        match task {
                            Some(t) => format!("{reason}; task: {t}"),
                            None => reason,
                        },
                    ));
                }
                Verdict::Pending => {}
            }
            if started.elapsed() >= policy.deadline {
                return Err(fail(
                    WaitFailure::Deadline,
                    format!("still {} after {:?}", wait::describe(&obs), policy.deadline),
                ));
            }
            if last_change.elapsed() >= policy.stuck_after {
                return Err(fail(
                    WaitFailure::Stuck,
                    format!(
                        "no progress for {:?}: {}",
                        policy.stuck_after,
                        wait::describe(&obs)
                    ),
                ));
            }
            interval = if last.is_none() {
                policy.first_interval
            } else {
                wait::next_interval(policy, interval, progressed)
            };
            last = Some(obs);
            tokio::time::sleep(interval).await;
        }
    }

    /// The newest task of an image (`GET /v2/images/{id}/tasks`), best effort.
    async fn newest_task(&self, id: &str) -> Option<Value> {
        let url = self.url(&format!("/images/{id}/tasks"));
        let v = self.get_json(&url).await.ok()?;
        let tasks = v.get("tasks")?.as_array()?;
        tasks
            .iter()
            .max_by_key(|t| {
                t.get("created_at")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            })
            .cloned()
    }

    /// Status and message of the newest task of an image.
    async fn last_task(&self, id: &str) -> Option<(Option<String>, String)> {
        let t = self.newest_task(id).await?;
        let field = |k: &str| t.get(k).and_then(Value::as_str).map(str::to_owned);
        Some((field("status"), field("message").unwrap_or_default()))
    }

    /// The message of the newest task of an image, best effort.
    async fn last_task_message(&self, id: &str) -> Option<String> {
        let t = self.newest_task(id).await?;
        let field = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
        Some(format!(
            "{} {}: {}",
            field("id"),
            field("status"),
            t.get("message").and_then(Value::as_str).unwrap_or("")
        ))
    }

    /// Applies a batch of patch operations in ONE request; returns the updated image.
    /// An empty batch sends nothing and returns the current image.
    pub async fn patch(&self, id: &str, ops: &[PatchOp]) -> Result<GlanceImage> {
        if ops.is_empty() {
            return self.get(id).await;
        }
        let url = self.url(&format!("/images/{id}"));
        let body = serde_json::to_vec(ops).expect("patch ops serialize");
        let resp = self
            .session
            .send(&Method::PATCH, &url, |c| {
                c.patch(&url)
                    .header(CONTENT_TYPE, PATCH_CONTENT_TYPE)
                    .body(body.clone())
            })
            .await
            .map_err(|e| image_error(id, e))?;
        let v = decode(&Method::PATCH, &url, resp).await?;
        convert::image_from_json(&v).map_err(|m| bad_body(&url, &m))
    }

    /// Adds a tag (idempotent).
    pub async fn add_tag(&self, id: &str, tag: &str) -> Result<()> {
        self.simple(
            Method::PUT,
            id,
            &format!("/images/{id}/tags/{}", encode(tag)),
        )
        .await
    }

    /// Removes a tag (a missing tag is not an error).
    pub async fn remove_tag(&self, id: &str, tag: &str) -> Result<()> {
        match self
            .simple(
                Method::DELETE,
                id,
                &format!("/images/{id}/tags/{}", encode(tag)),
            )
            .await
        {
            Err(Error::NotFound { .. }) => Ok(()),
            other => other,
        }
    }

    /// `deactivated`: no downloads for non-admins, boots refused.
    pub async fn deactivate(&self, id: &str) -> Result<()> {
        self.simple(
            Method::POST,
            id,
            &format!("/images/{id}/actions/deactivate"),
        )
        .await
    }

    pub async fn reactivate(&self, id: &str) -> Result<()> {
        self.simple(
            Method::POST,
            id,
            &format!("/images/{id}/actions/reactivate"),
        )
        .await
    }

    /// Deletes an image. A protected image gives [`Error::Protected`] (Glance answers 403),
    /// an image in use [`Error::Conflict`] (409), a missing one [`Error::NotFound`].
    pub async fn delete(&self, id: &str) -> Result<()> {
        self.simple(Method::DELETE, id, &format!("/images/{id}"))
            .await
            .map_err(|e| match e {
                Error::Http(h) if h.status() == Some(403) && h.detail.contains("protected") => {
                    Error::Protected {
                        id: id.to_owned(),
                        source: h,
                    }
                }
                other => other,
            })
    }

    async fn simple(&self, method: Method, id: &str, path: &str) -> Result<()> {
        let url = self.url(path);
        self.session
            .send(&method, &url, |c| c.request(method.clone(), &url))
            .await
            .map(drop)
            .map_err(|e| image_error(id, e))
    }
}

/// GET on the endpoint root: Glance answers 300 Multiple Choices with its versions.
async fn discover(client: &reqwest::Client, root: &str) -> Option<String> {
    let url = format!("{root}/");
    let resp = match client.get(&url).send().await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(url = %url, error = %e, "Glance version discovery failed; assuming v2");
            return None;
        }
    };
    let doc: Value = resp.json().await.ok()?;
    let v = pick_v2(&doc);
    if v.is_none() {
        tracing::debug!(url = %url, "no v2 in Glance's version document; assuming v2");
    }
    v
}

async fn decode(method: &Method, url: &str, resp: reqwest::Response) -> Result<Value> {
    resp.json::<Value>()
        .await
        .map_err(|e| Error::Http(HttpError::from_reqwest(method, url, &e)))
}

fn bad_body(url: &str, msg: &str) -> Error {
    Error::Protocol(format!(
        "{}: unexpected response body: {msg}",
        http::redact_url(url)
    ))
}

/// Maps 404 and 409 of an image request to typed errors.
fn image_error(id: &str, e: Error) -> Error {
    match e {
        Error::Http(h) if h.status() == Some(404) => Error::NotFound {
            id: id.to_owned(),
            source: h,
        },
        Error::Http(h) if h.status() == Some(409) => Error::Conflict {
            id: id.to_owned(),
            source: h,
        },
        other => other,
    }
}

/// Percent-encodes a path segment (tags may contain spaces or slashes).
fn encode(segment: &str) -> String {
    let mut u = url::Url::parse("http://x/").expect("static URL");
    u.path_segments_mut().expect("base URL").push(segment);
    u.path().trim_start_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_pick_and_root() {
        let doc = json!({"versions": [
            {"id": "v2.18", "status": "CURRENT"}, {"id": "v2.9", "status": "SUPPORTED"},
            {"id": "v2.19", "status": "EXPERIMENTAL"}, {"id": "v1.1", "status": "DEPRECATED"}]});
        assert_eq!(pick_v2(&doc).as_deref(), Some("2.18"));
        assert_eq!(pick_v2(&json!({"x": 1})), None);
        assert_eq!(endpoint_root("http://g:9292/"), "http://g:9292");
        assert_eq!(endpoint_root("http://g:9292/v2/"), "http://g:9292");
        assert_eq!(endpoint_root("https://c/image/v2.1"), "https://c/image");
        assert_eq!(endpoint_root("https://c/image"), "https://c/image");
    }

    #[test]
    fn next_links() {
        assert_eq!(
            next_url("http://g:9292", "/v2/images?marker=a"),
            "http://g:9292/v2/images?marker=a"
        );
        assert_eq!(
            next_url("https://c/image", "/v2/images?marker=a"),
            "https://c/image/v2/images?marker=a"
        );
        assert_eq!(
            next_url("https://c/image", "/image/v2/images?marker=a"),
            "https://c/image/v2/images?marker=a"
        );
    }

    #[test]
    fn list_query() {
        let f = ListFilter {
            name: Some("n".into()),
            tags: vec!["a".into(), "b".into()],
            visibility: Some("all".into()),
            status: Some("active".into()),
            properties: BTreeMap::from([("image_crawler_id".into(), "x".into())]),
            page_size: Some(3),
            ..ListFilter::default()
        };
        let q: Vec<String> = f
            .query(Some(true))
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            q,
            [
                "name=n",
                "tag=a",
                "tag=b",
                "visibility=all",
                "os_hidden=true",
                "status=active",
                "image_crawler_id=x",
                "limit=3"
            ]
        );
    }

    #[test]
    fn create_and_import_bodies() {
        let n = NewImage {
            name: "x".into(),
            disk_format: "raw".into(),
            container_format: "bare".into(),
            min_disk: 1,
            visibility: Some("private".into()),
            tags: ["t".to_owned()].into(),
            properties: BTreeMap::from([
                ("os_distro".into(), "debian".into()),
                ("name".into(), "evil".into()),
            ]),
            ..NewImage::default()
        };
        assert_eq!(
            n.body(),
            json!({"os_distro": "debian", "name": "x", "disk_format": "raw", "container_format": "bare",
                   "min_disk": 1, "min_ram": 0, "visibility": "private", "protected": false,
                   "os_hidden": false, "tags": ["t"]})
        );
        assert_eq!(
            ImportMethod::WebDownload {
                uri: "http://h/f".into()
            }
            .body(),
            json!({"method": {"name": "web-download", "uri": "http://h/f"}})
        );
        assert_eq!(ImportMethod::GlanceDirect.name(), "glance-direct");
    }

    #[test]
    fn tag_segments_are_encoded() {
        assert_eq!(encode("managed_by_x"), "managed_by_x");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
