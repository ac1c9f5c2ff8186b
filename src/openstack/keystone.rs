//! Keystone v3: tokens and the service catalog.
//!
//! [`Session`] owns one token per cloud: it authenticates lazily (`POST /v3/auth/tokens`),
//! reuses the token until shortly before `expires_at`, and [`Session::send`] re-authenticates
//! ONCE when a service answers 401 (revoked or expired token) and repeats the request.
//!
//! Invariants: the request bodies of auth calls are never logged; the token lives in a
//! [`Secret`] and only leaves it in the `X-Auth-Token` header.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::config::{AuthMethod, CloudConfig, DomainRef, ProjectScope, UserRef};
use super::error::{Error, Result};
use super::secret::Secret;
use crate::http::{self, HttpError};

/// A Keystone token with what came with it.
#[derive(Debug, Clone)]
pub struct Token {
    pub value: Secret,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub catalog: Vec<CatalogEntry>,
}

/// One service of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogEntry {
    #[serde(rename = "type")]
    pub service_type: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub endpoints: Vec<CatalogEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogEndpoint {
    pub interface: String,
    #[serde(default)]
    pub region_id: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub url: String,
}

impl Token {
    /// Whether the token should be replaced now: within a tenth of its lifetime (at most
    /// two minutes) of `expires_at`, so a request never starts with a token about to die.
    pub fn needs_refresh(&self, now: Timestamp) -> bool {
        let lifetime = self.expires_at.duration_since(self.issued_at);
        let margin = (lifetime / 10).min(jiff::SignedDuration::from_secs(120));
        now + margin >= self.expires_at
    }
}

/// Picks the endpoint of `service_type` for an interface and (optional) region.
pub fn select_endpoint(
    catalog: &[CatalogEntry],
    service_type: &str,
    interface: &str,
    region: Option<&str>,
) -> Result<String> {
    let mut available = Vec::new();
    let mut found: Vec<&CatalogEndpoint> = Vec::new();
    for entry in catalog.iter().filter(|e| e.service_type == service_type) {
        for ep in &entry.endpoints {
            let ep_region = ep.region_id.as_deref().or(ep.region.as_deref());
            available.push(format!(
                "{} in {}",
                ep.interface,
                ep_region.unwrap_or("no region")
            ));
            if ep.interface == interface && region.is_none_or(|r| Some(r) == ep_region) {
                found.push(ep);
            }
        }
    }
    let no_endpoint = |available: Vec<String>| Error::NoEndpoint {
        service: service_type.to_owned(),
        interface: interface.to_owned(),
        region: region.map(str::to_owned),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
    };
    match found.as_slice() {
        [] => Err(no_endpoint(available)),
        [one] => Ok(one.url.clone()),
        many => {
            let regions: std::collections::BTreeSet<_> = many
                .iter()
                .map(|e| e.region_id.as_deref().or(e.region.as_deref()).unwrap_or(""))
                .collect();
            if regions.len() > 1 {
                // Several regions and none chosen: guessing could upload to the wrong cloud.
                Err(no_endpoint(available))
            } else {
                Ok(many[0].url.clone())
            }
        }
    }
}

/// The JSON body of `POST /v3/auth/tokens`. Contains secrets: never log it.
pub fn auth_body(config: &CloudConfig) -> Value {
    fn domain(d: &DomainRef) -> Value {
        match d {
            DomainRef::Id(id) => json!({ "id": id }),
            DomainRef::Name(n) => json!({ "name": n }),
        }
    }
    fn user(u: &UserRef) -> Value {
        match u {
            UserRef::Id(id) => json!({ "id": id }),
            UserRef::Name { name, domain: d } => json!({ "name": name, "domain": domain(d) }),
        }
    }
    let identity = match &config.auth {
        AuthMethod::Password { user: u, password } => {
            let mut u = user(u);
            u["password"] = json!(password.expose());
            json!({ "methods": ["password"], "password": { "user": u } })
        }
        AuthMethod::ApplicationCredential {
            id,
            name,
            user: u,
            secret,
        } => {
            let mut cred = json!({ "secret": secret.expose() });
            if let Some(id) = id {
                cred["id"] = json!(id);
            } else {
                cred["name"] = json!(name);
                if let Some(u) = u {
                    cred["user"] = user(u);
                }
            }
            json!({ "methods": ["application_credential"], "application_credential": cred })
        }
        AuthMethod::Token { token } => {
            json!({ "methods": ["token"], "token": { "id": token.expose() } })
        }
    };
    let mut body = json!({ "auth": { "identity": identity } });
    match &config.scope {
        Some(ProjectScope::Id(id)) => body["auth"]["scope"] = json!({ "project": { "id": id } }),
        Some(ProjectScope::Name { name, domain: d }) => {
            body["auth"]["scope"] = json!({ "project": { "name": name, "domain": domain(d) } });
        }
        None => {}
    }
    body
}

/// An authenticated connection to one cloud, shared by all requests (cheap to clone).
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    config: CloudConfig,
    client: reqwest::Client,
    token: Mutex<Option<Arc<Token>>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("cloud", &self.inner.config.name)
            .finish_non_exhaustive()
    }
}

/// HTTP settings for talking to a cloud: long read timeout, since Glance answers an upload
/// only after it has stored the whole image.
pub fn client_options(config: &CloudConfig) -> Result<http::ClientOptions> {
    let ca_cert_pem = match &config.cacert {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            super::error::ConfigError::new(
                Some(path.display().to_string()),
                format!("cannot read `cacert` of cloud `{}`: {e}", config.name),
            )
        })?),
        None => None,
    };
    Ok(http::ClientOptions {
        connect_timeout: Duration::from_secs(15),
        read_timeout: Duration::from_secs(3600),
        ca_cert_pem,
        insecure: config.insecure,
    })
}

impl Session {
    /// A session for a cloud; no request is sent until a token is needed.
    pub fn new(config: CloudConfig) -> Result<Self> {
        let client = http::client(&client_options(&config)?)?;
        // Commands warn the user through the Printer; this is the trail in debug logs.
        if config.insecure {
            tracing::debug!(cloud = %config.name, "TLS certificate verification is off for this cloud (insecure / verify: false)");
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                client,
                token: Mutex::new(None),
            }),
        })
    }

    pub fn config(&self) -> &CloudConfig {
        &self.inner.config
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    /// A valid token: the cached one, or a new one when there is none or it expires soon.
    pub async fn token(&self) -> Result<Arc<Token>> {
        let mut slot = self.inner.token.lock().await;
        if let Some(t) = slot.as_ref()
            && !t.needs_refresh(Timestamp::now())
        {
            return Ok(t.clone());
        }
        let fresh = Arc::new(self.authenticate().await?);
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drops `stale` (after a 401) so the next [`Session::token`] authenticates again. A token
    /// already replaced by a concurrent request is kept.
    pub async fn invalidate(&self, stale: &Token) {
        let mut slot = self.inner.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.value == stale.value) {
            *slot = None;
        }
    }

    /// The endpoint URL of a service from the catalog (interface and region of the cloud).
    pub async fn endpoint(&self, service_type: &str) -> Result<String> {
        let token = self.token().await?;
        select_endpoint(
            &token.catalog,
            service_type,
            self.inner.config.interface.as_str(),
            self.inner.config.region_name.as_deref(),
        )
    }

    async fn authenticate(&self) -> Result<Token> {
        let config = &self.inner.config;
        let url = config.token_url();
        let method = Method::POST;
        tracing::debug!(cloud = %config.name, url = %url, auth_type = config.auth.kind(), "requesting a Keystone token");
        let started = Timestamp::now();
        // The body holds the password / secret: it is built here and never logged.
        let resp = http::retry(http::RetryPolicy::default(), || async {
            let resp = self
                .inner
                .client
                .post(&url)
                .json(&auth_body(config))
                .send()
                .await
                .map_err(|e| HttpError::from_reqwest(&method, &url, &e))?;
            http::check(&method, &url, resp).await
        })
        .await
        .map_err(|e| match e.status() {
            Some(401) => Error::AuthRefused {
                cloud: config.name.clone(),
                source: e,
            },
            _ => Error::Http(e),
        })?;
        let subject = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(Secret::new)
            .ok_or_else(|| {
                Error::Protocol(format!(
                    "POST {url}: Keystone answered without an X-Subject-Token header"
                ))
            })?;
        let body: TokenBody = resp
            .json()
            .await
            .map_err(|e| Error::Http(HttpError::from_reqwest(&method, &url, &e)))?;
        let expires_at: Timestamp = body.token.expires_at.parse().map_err(|e| {
            Error::Protocol(format!(
                "POST {url}: unreadable expires_at `{}`: {e}",
                body.token.expires_at
            ))
        })?;
        let issued_at = body
            .token
            .issued_at
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(started);
        tracing::debug!(cloud = %config.name, expires_at = %expires_at, services = body.token.catalog.len(), "got a Keystone token");
        Ok(Token {
            value: subject,
            issued_at,
            expires_at,
            project_id: body.token.project.map(|p| p.id),
            user_id: body.token.user.map(|u| u.id),
            catalog: body.token.catalog,
        })
    }

    /// Sends a request built by `build` with a valid token. On a 401, authenticates again
    /// ONCE and repeats the request (so `build` must be repeatable: no streaming bodies).
    /// Transient failures (5xx, timeouts) of non-POST requests are retried with backoff.
    /// Non-2xx -> error.
    pub async fn send<F>(&self, method: &Method, url: &str, build: F) -> Result<Response>
    where
        F: Fn(&reqwest::Client) -> RequestBuilder,
    {
        let mut reauthed = false;
        // A retried POST could create a second image or start a second import: only
        // idempotent methods are retried on transient failures.
        let policy = if *method == Method::POST {
            http::RetryPolicy::NONE
        } else {
            http::RetryPolicy::default()
        };
        loop {
            let token = self.token().await?;
            let result = http::retry(policy, || async {
                let resp = build(&self.inner.client)
                    .header("X-Auth-Token", token.value.expose())
                    .send()
                    .await
                    .map_err(|e| HttpError::from_reqwest(method, url, &e))?;
                http::check(method, url, resp).await
            })
            .await;
            match result {
                Err(e) if e.status() == Some(StatusCode::UNAUTHORIZED.as_u16()) && !reauthed => {
                    tracing::debug!(url = %http::redact_url(url), "401 from the service: authenticating again once");
                    self.invalidate(&token).await;
                    reauthed = true;
                }
                Err(e) => return Err(Error::Http(e)),
                Ok(resp) => return Ok(resp),
            }
        }
    }

    /// Sends a request whose body cannot be repeated (a stream) once, with a valid token.
    pub async fn send_once(
        &self,
        method: &Method,
        url: &str,
        request: RequestBuilder,
    ) -> Result<Response> {
        let token = self.token().await?;
        let resp = request
            .header("X-Auth-Token", token.value.expose())
            .send()
            .await
            .map_err(|e| HttpError::from_reqwest(method, url, &e))?;
        let resp = http::check(method, url, resp).await;
        if let Err(e) = &resp
            && e.status() == Some(401)
        {
            // Let the next request start with a fresh token.
            self.invalidate(&token).await;
        }
        Ok(resp?)
    }
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenInfo,
}

#[derive(Deserialize)]
struct TokenInfo {
    expires_at: String,
    #[serde(default)]
    issued_at: Option<String>,
    #[serde(default)]
    catalog: Vec<CatalogEntry>,
    #[serde(default)]
    project: Option<IdOnly>,
    #[serde(default)]
    user: Option<IdOnly>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::config::Interface;

    fn cfg(auth: AuthMethod, scope: Option<ProjectScope>) -> CloudConfig {
        CloudConfig {
            name: "t".into(),
            source: None,
            auth_url: "http://k:5000".parse().unwrap(),
            auth,
            scope,
            region_name: None,
            region: None,
            interface: Interface::Public,
            cacert: None,
            insecure: false,
            image_endpoint_override: None,
        }
    }

    #[test]
    fn password_body_with_project_scope() {
        let c = cfg(
            AuthMethod::Password {
                user: UserRef::Name {
                    name: "demo".into(),
                    domain: DomainRef::default(),
                },
                password: Secret::new("pw"),
            },
            Some(ProjectScope::Name {
                name: "demo".into(),
                domain: DomainRef::Id("default".into()),
            }),
        );
        assert_eq!(
            auth_body(&c),
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "demo", "domain": {"name": "Default"}, "password": "pw"}}},
                "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}})
        );
    }

    #[test]
    fn app_credential_bodies() {
        let by_id = cfg(
            AuthMethod::ApplicationCredential {
                id: Some("ac".into()),
                name: None,
                user: None,
                secret: Secret::new("s"),
            },
            None,
        );
        assert_eq!(
            auth_body(&by_id),
            json!({"auth": {"identity": {"methods": ["application_credential"],
                "application_credential": {"id": "ac", "secret": "s"}}}})
        );
        let by_name = cfg(
            AuthMethod::ApplicationCredential {
                id: None,
                name: Some("n".into()),
                user: Some(UserRef::Id("u1".into())),
                secret: Secret::new("s"),
            },
            None,
        );
        assert_eq!(
            auth_body(&by_name)["auth"]["identity"]["application_credential"],
            json!({"name": "n", "user": {"id": "u1"}, "secret": "s"})
        );
    }

    #[test]
    fn token_body() {
        let c = cfg(
            AuthMethod::Token {
                token: Secret::new("t0"),
            },
            Some(ProjectScope::Id("p".into())),
        );
        assert_eq!(
            auth_body(&c),
            json!({"auth": {"identity": {"methods": ["token"], "token": {"id": "t0"}},
                "scope": {"project": {"id": "p"}}}})
        );
    }

    fn catalog() -> Vec<CatalogEntry> {
        serde_json::from_value(json!([
            {"type": "identity", "name": "keystone", "endpoints": [
                {"interface": "public", "region_id": "R1", "url": "http://k/v3"}]},
            {"type": "image", "name": "glance", "endpoints": [
                {"interface": "public", "region_id": "R1", "region": "R1", "url": "http://g1"},
                {"interface": "internal", "region_id": "R1", "url": "http://g1-int"},
                {"interface": "public", "region_id": "R2", "url": "http://g2"}]}
        ]))
        .unwrap()
    }

    #[test]
    fn endpoint_selection_by_interface_and_region() {
        let c = catalog();
        assert_eq!(
            select_endpoint(&c, "image", "public", Some("R2")).unwrap(),
            "http://g2"
        );
        assert_eq!(
            select_endpoint(&c, "image", "internal", None).unwrap(),
            "http://g1-int"
        );
        // Two regions, none chosen: refuse to guess.
        let e = select_endpoint(&c, "image", "public", None).unwrap_err();
        assert!(e.to_string().contains("public in R1"), "{e}");
        let e = select_endpoint(&c, "image", "admin", Some("R1")).unwrap_err();
        assert!(matches!(e, Error::NoEndpoint { .. }));
        assert!(e.hint().is_some());
    }

    #[test]
    fn refresh_margin_scales_with_lifetime() {
        let issued: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t = |lifetime: i64| Token {
            value: Secret::new("x"),
            issued_at: issued,
            expires_at: issued + jiff::SignedDuration::from_secs(lifetime),
            project_id: None,
            user_id: None,
            catalog: vec![],
        };
        let at = |s: i64| issued + jiff::SignedDuration::from_secs(s);
        // One hour: refreshed in the last two minutes.
        assert!(!t(3600).needs_refresh(at(3400)));
        assert!(t(3600).needs_refresh(at(3481)));
        // Ten seconds: refreshed in the last second.
        assert!(!t(10).needs_refresh(at(8)));
        assert!(t(10).needs_refresh(at(9)));
    }
}
