//! One cloud entry (profile, secure.yaml and region values already merged) -> [`CloudConfig`].
//!
//! Per-service keys are read as openstacksdk's `CloudRegion` does for the `image` service:
//! `image_interface` before `interface`, `image_region_name` before `region_name`,
//! `image_endpoint_override` before `image_endpoint` (an unprefixed `endpoint_override` is
//! not Glance's, as in the SDK).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use url::Url;

use super::super::error::ConfigError;
use super::super::secret::Secret;
use super::{AuthMethod, CloudConfig, DomainRef, Interface, ProjectScope, UserRef};

/// One cloud entry (already merged with secure.yaml) -> [`CloudConfig`].
///
/// `text` is the clouds.yaml text, used to point errors at the cloud's line.
pub fn parse_cloud(
    name: &str,
    source: Option<&Path>,
    entry: &Value,
    text: Option<&str>,
) -> Result<CloudConfig, ConfigError> {
    let place = || -> Option<String> {
        match (source, text) {
            (Some(p), Some(t)) => Some(match locate_key(t, name) {
                Some((line, col)) => format!("{}:{line}:{col}", p.display()),
                None => p.display().to_string(),
            }),
            (Some(p), None) => Some(p.display().to_string()),
            (None, _) => Some(name.to_owned()),
        }
    };
    let err = |msg: String| ConfigError::new(place(), format!("cloud `{name}`: {msg}"));
    let top = entry
        .as_object()
        .ok_or_else(|| err("expected a mapping of settings".into()))?;
    let empty = Map::new();
    let auth = match top.get("auth") {
        Some(Value::Object(m)) => m,
        None => &empty,
        Some(_) => return Err(err("`auth` must be a mapping".into())),
    };
    let s = |map: &Map<String, Value>, key: &str| -> Result<Option<String>, ConfigError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(v)) if v.is_empty() => Ok(None),
            Some(Value::String(v)) => Ok(Some(v.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(err(format!("`{key}` must be a string, found {other}"))),
        }
    };
    let b = |key: &str| -> Result<Option<bool>, ConfigError> {
        match top.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(v)) => Ok(Some(*v)),
            // OS_INSECURE and friends arrive as strings.
            Some(Value::String(v)) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(err(format!("`{key}` must be true or false, found `{v}`"))
                    .with_hint("YAML booleans are `true`/`false` (strict)")),
            },
            Some(other) => Err(err(format!("`{key}` must be true or false, found {other}"))),
        }
    };

    let auth_url_text = s(auth, "auth_url")?.ok_or_else(|| {
        err("`auth.auth_url` is missing".into())
            .with_hint("add `auth: {auth_url: https://keystone.example.org/v3, ...}`")
    })?;
    let auth_url = Url::parse(&auth_url_text).map_err(|e| {
        err(format!(
            "`auth.auth_url` `{auth_url_text}` is not a URL: {e}"
        ))
        .with_hint("use an absolute URL such as https://keystone.example.org:5000/v3")
    })?;

    let domain = |id_key: &str, name_key: &str| -> Result<Option<DomainRef>, ConfigError> {
        Ok(match (s(auth, id_key)?, s(auth, name_key)?) {
            (Some(id), _) => Some(DomainRef::Id(id)),
            (None, Some(n)) => Some(DomainRef::Name(n)),
            (None, None) => None,
        })
    };
    // `domain_id` / `domain_name` are the fallback for both user and project domains.
    let shared_domain = domain("domain_id", "domain_name")?;
    let user_domain = domain("user_domain_id", "user_domain_name")?
        .or_else(|| shared_domain.clone())
        .unwrap_or_default();
    let project_domain = domain("project_domain_id", "project_domain_name")?
        .or_else(|| shared_domain.clone())
        .unwrap_or_default();
    let user = match (s(auth, "user_id")?, s(auth, "username")?) {
        (Some(id), _) => Some(UserRef::Id(id)),
        (None, Some(n)) => Some(UserRef::Name {
            name: n,
            domain: user_domain,
        }),
        (None, None) => None,
    };
    let secret =
        |key: &str| -> Result<Option<Secret>, ConfigError> { Ok(s(auth, key)?.map(Secret::new)) };

    let has_app_cred = auth.contains_key("application_credential_secret")
        || auth.contains_key("application_credential_id");
    let auth_type = s(top, "auth_type")?.unwrap_or_else(|| {
        if has_app_cred {
            "v3applicationcredential".into()
        } else if auth.contains_key("token") && !auth.contains_key("password") {
            "token".into()
        } else {
            "password".into()
        }
    });
    let method = match auth_type.as_str() {
        "password" | "v3password" => {
            let user = user.ok_or_else(|| {
                err("password auth needs `auth.username` or `auth.user_id`".into())
                    .with_hint("add `username:` (and `user_domain_name:` if not Default)")
            })?;
            let password = secret("password")?.ok_or_else(|| {
                err("password auth needs `auth.password`".into()).with_hint(
                    "put the password in secure.yaml next to clouds.yaml, or set OS_PASSWORD",
                )
            })?;
            AuthMethod::Password { user, password }
        }
        "v3applicationcredential" | "applicationcredential" => {
            let id = s(auth, "application_credential_id")?;
            let cred_name = s(auth, "application_credential_name")?;
            let secret = secret("application_credential_secret")?.ok_or_else(|| {
                err("application credential auth needs `auth.application_credential_secret`".into())
                    .with_hint(
                        "put the secret in secure.yaml, or set OS_APPLICATION_CREDENTIAL_SECRET",
                    )
            })?;
            if id.is_none() && (cred_name.is_none() || user.is_none()) {
                return Err(err(
                    "application credential auth needs `application_credential_id`, or `application_credential_name` plus `username`/`user_id`".into(),
                )
                .with_hint("the id is shown by `openstack application credential show NAME`"));
            }
            AuthMethod::ApplicationCredential {
                id,
                name: cred_name,
                user,
                secret,
            }
        }
        "token" | "v3token" => {
            let token = secret("token")?.ok_or_else(|| {
                err("token auth needs `auth.token`".into())
                    .with_hint("set OS_TOKEN or `auth.token`")
            })?;
            AuthMethod::Token { token }
        }
        other => {
            return Err(
                err(format!("auth_type `{other}` is not supported")).with_hint(
                    "use `password` (v3password), `v3applicationcredential` or `token` (v3token)",
                ),
            );
        }
    };

    // Application credentials carry their own scope; a project in the config is ignored,
    // as Keystone would refuse a scope in that request.
    let scope = if matches!(method, AuthMethod::ApplicationCredential { .. }) {
        None
    } else {
        match (s(auth, "project_id")?, s(auth, "project_name")?) {
            (Some(id), _) => Some(ProjectScope::Id(id)),
            (None, Some(n)) => Some(ProjectScope::Name {
                name: n,
                domain: project_domain,
            }),
            (None, None) => None,
        }
    };

    let interface = match s(top, "image_interface")?.or(s(top, "interface")?) {
        None => Interface::Public,
        Some(i) => Interface::parse(&i).ok_or_else(|| {
            err(format!(
                "interface `{i}` is not one of public, internal, admin"
            ))
            .with_hint("most clouds want `interface: public`")
        })?,
    };
    let verify = b("verify")?;
    let insecure = b("insecure")?.unwrap_or(false) || verify == Some(false);
    let cacert = s(top, "cacert")?.map(PathBuf::from);
    let (endpoint_key, endpoint) = match s(top, "image_endpoint_override")? {
        Some(u) => ("image_endpoint_override", Some(u)),
        None => ("image_endpoint", s(top, "image_endpoint")?),
    };
    let image_endpoint_override = endpoint
        .map(|u| {
            Url::parse(&u).map_err(|e| {
                err(format!("`{endpoint_key}` `{u}` is not a URL: {e}"))
                    .with_hint("use an absolute URL such as https://glance.example.org:9292")
            })
        })
        .transpose()?;

    Ok(CloudConfig {
        name: name.to_owned(),
        source: source.map(Path::to_path_buf),
        auth_url,
        auth: method,
        scope,
        region_name: s(top, "image_region_name")?.or(s(top, "region_name")?),
        region: s(top, "region_name")?,
        interface,
        cacert,
        insecure,
        image_endpoint_override,
    })
}

/// The 1-based line and column of `key:` as a mapping key in a YAML text (best effort,
/// for pointing errors at a cloud's entry).
fn locate_key(text: &str, key: &str) -> Option<(usize, usize)> {
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let col = line.len() - trimmed.len() + 1;
        for candidate in [
            format!("{key}:"),
            format!("\"{key}\":"),
            format!("'{key}':"),
        ] {
            if trimmed.starts_with(&candidate) {
                return Some((i + 1, col));
            }
        }
    }
    None
}
