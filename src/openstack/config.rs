//! clouds.yaml, secure.yaml and `OS_*` variables -> one [`CloudConfig`], as openstacksdk reads them.
//!
//! Search order (first file found wins, as in openstacksdk): `OS_CLIENT_CONFIG_FILE`,
//! `./clouds.yaml`, `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`; the same
//! for `secure.yaml` (`OS_CLIENT_SECURE_FILE`), whose values are deep-merged over clouds.yaml.
//! A cloud is chosen by `--cloud` / `OS_CLOUD`; without one, plain `OS_*` variables describe
//! the cloud. Both paths end in the same pure [`parse_cloud`] over a JSON value.
//!
//! Invariants: secrets are [`Secret`]s from the moment they are read; YAML is parsed with
//! strict booleans (`yes`/`no` stay strings); errors carry file:line:col and a hint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use url::Url;

use super::error::ConfigError;
use super::secret::Secret;

/// Which endpoint of the catalog to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interface {
    #[default]
    Public,
    Internal,
    Admin,
}

impl Interface {
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }

    /// Accepts `public`, `publicURL`, ... (the old `endpoint_type` spelling too).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim_end_matches("URL").to_ascii_lowercase().as_str() {
            "public" => Some(Interface::Public),
            "internal" => Some(Interface::Internal),
            "admin" => Some(Interface::Admin),
            _ => None,
        }
    }
}

/// A domain, by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainRef {
    Id(String),
    Name(String),
}

impl Default for DomainRef {
    /// Keystone's default domain is called `Default` (id `default`).
    fn default() -> Self {
        DomainRef::Name("Default".into())
    }
}

/// A user, by id or by name in a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(String),
    Name { name: String, domain: DomainRef },
}

/// How to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// `password` / `v3password`.
    Password { user: UserRef, password: Secret },
    /// `v3applicationcredential`, by id, or by name plus the owning user.
    ApplicationCredential {
        id: Option<String>,
        name: Option<String>,
        user: Option<UserRef>,
        secret: Secret,
    },
    /// `token` / `v3token`: an existing token, exchanged for a scoped one.
    Token { token: Secret },
}

impl AuthMethod {
    pub fn kind(&self) -> &'static str {
        match self {
            AuthMethod::Password { .. } => "password",
            AuthMethod::ApplicationCredential { .. } => "v3applicationcredential",
            AuthMethod::Token { .. } => "token",
        }
    }
}

/// The project a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectScope {
    Id(String),
    Name { name: String, domain: DomainRef },
}

/// One cloud, ready to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudConfig {
    /// The cloud's name in clouds.yaml, or `OS_* environment`.
    pub name: String,
    /// The file the cloud came from (None for `OS_*`).
    pub source: Option<PathBuf>,
    /// Keystone, as written (with or without `/v3`).
    pub auth_url: Url,
    pub auth: AuthMethod,
    /// None: unscoped (application credentials are scoped by themselves).
    pub scope: Option<ProjectScope>,
    pub region_name: Option<String>,
    pub interface: Interface,
    /// Extra CA certificate (PEM file).
    pub cacert: Option<PathBuf>,
    /// `verify: false` / `insecure: true`: TLS certificates are not checked (callers warn).
    pub insecure: bool,
    /// `image_endpoint_override`: skip the catalog for Glance.
    pub image_endpoint_override: Option<Url>,
}

impl CloudConfig {
    /// `POST` target for tokens: `<auth_url>/v3/auth/tokens` (`/v3` added when missing).
    pub fn token_url(&self) -> String {
        let base = self.auth_url.as_str().trim_end_matches('/');
        if base.ends_with("/v3") {
            format!("{base}/auth/tokens")
        } else {
            format!("{base}/v3/auth/tokens")
        }
    }
}

/// Where the files were found (for messages) and their text.
#[derive(Debug, Clone, Default)]
pub struct ConfigFiles {
    pub clouds: Option<(PathBuf, String)>,
    pub secure: Option<(PathBuf, String)>,
}

/// The candidate paths, in openstacksdk's order, for a file name (`clouds.yaml`, `secure.yaml`).
pub fn candidate_paths(
    env_override: Option<PathBuf>,
    cwd: &Path,
    config_home: Option<&Path>,
    file: &str,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = env_override {
        out.push(p);
    }
    out.push(cwd.join(file));
    if let Some(home) = config_home {
        out.push(home.join("openstack").join(file));
    }
    out.push(Path::new("/etc/openstack").join(file));
    out
}

/// Reads the first existing clouds.yaml and secure.yaml from the standard places.
pub fn find_files() -> Result<ConfigFiles, ConfigError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    // openstacksdk uses ~/.config on every Unix, not $XDG_CONFIG_HOME alone.
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".config")));
    let read = |var: &str, file: &str| -> Result<Option<(PathBuf, String)>, ConfigError> {
        let explicit = std::env::var_os(var).map(PathBuf::from);
        for path in candidate_paths(explicit.clone(), &cwd, config_home.as_deref(), file) {
            match crate::localfile::read_text(&path, crate::localfile::CATALOG_LIMIT) {
                Ok(text) => return Ok(Some((path, text))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if explicit.as_ref() == Some(&path) {
                        return Err(ConfigError::new(
                            Some(path.display().to_string()),
                            format!("{var} points to a file that does not exist"),
                        )
                        .with_hint(format!("fix or unset {var}")));
                    }
                }
                Err(e) => {
                    return Err(ConfigError::new(
                        Some(path.display().to_string()),
                        format!("cannot read: {e}"),
                    ));
                }
            }
        }
        Ok(None)
    };
    Ok(ConfigFiles {
        clouds: read("OS_CLIENT_CONFIG_FILE", "clouds.yaml")?,
        secure: read("OS_CLIENT_SECURE_FILE", "secure.yaml")?,
    })
}

/// Resolves the cloud to use from the real environment: `cloud` (from `--cloud` / `OS_CLOUD`)
/// in clouds.yaml + secure.yaml, or `OS_*` variables when no cloud is named.
pub fn load(cloud: Option<&str>) -> Result<CloudConfig, ConfigError> {
    let files = find_files()?;
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("OS_"))
        .collect();
    resolve(&files, cloud, &env)
}

/// The pure part of [`load`]: files and environment in, one cloud out.
pub fn resolve(
    files: &ConfigFiles,
    cloud: Option<&str>,
    env: &BTreeMap<String, String>,
) -> Result<CloudConfig, ConfigError> {
    let Some(name) = cloud.filter(|c| !c.is_empty()) else {
        if env.contains_key("OS_AUTH_URL") {
            let value = env_to_cloud(env);
            return parse_cloud("OS_* environment", None, &value, None);
        }
        let searched = "OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml";
        return Err(ConfigError::new(None, "no cloud selected").with_hint(match &files.clouds {
            Some((path, text)) => format!(
                "pass --cloud NAME or set OS_CLOUD; clouds in {}: {}",
                path.display(),
                cloud_names(text).join(", ")
            ),
            None => format!(
                "pass --cloud NAME (clouds.yaml searched in {searched}) or set OS_AUTH_URL and the other OS_* variables"
            ),
        }));
    };
    let Some((path, text)) = &files.clouds else {
        return Err(ConfigError::new(None, format!("cloud `{name}` requested, but no clouds.yaml was found"))
            .with_hint("put it in ./clouds.yaml or ~/.config/openstack/clouds.yaml, or point OS_CLIENT_CONFIG_FILE at it"));
    };
    let clouds_doc = parse_yaml(path, text)?;
    let mut entry = clouds_doc
        .get("clouds")
        .and_then(|c| c.get(name))
        .cloned()
        .ok_or_else(|| {
            let known = cloud_names_of(&clouds_doc);
            ConfigError::new(
                Some(path.display().to_string()),
                format!("no cloud named `{name}`"),
            )
            .with_hint(if known.is_empty() {
                "the file has no `clouds:` entries".to_owned()
            } else {
                format!("known clouds: {}", known.join(", "))
            })
        })?;
    if let Some((spath, stext)) = &files.secure {
        let secure = parse_yaml(spath, stext)?;
        if let Some(extra) = secure.get("clouds").and_then(|c| c.get(name)) {
            deep_merge(&mut entry, extra);
        }
    }
    parse_cloud(name, Some(path), &entry, Some(text))
}

/// Cloud names in a clouds.yaml text (best effort, for hints).
fn cloud_names(text: &str) -> Vec<String> {
    serde_saphyr::from_str_with_options::<Value>(text, yaml_options())
        .map(|v| cloud_names_of(&v))
        .unwrap_or_default()
}

fn cloud_names_of(doc: &Value) -> Vec<String> {
    let mut names: Vec<String> = doc
        .get("clouds")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! { strict_booleans: true }
}

fn parse_yaml(path: &Path, text: &str) -> Result<Value, ConfigError> {
    serde_saphyr::from_str_with_options::<Value>(text, yaml_options()).map_err(|e| {
        let location = match e.location() {
            Some(l) => format!("{}:{}:{}", path.display(), l.line(), l.column()),
            None => path.display().to_string(),
        };
        ConfigError::new(Some(location), format!("invalid YAML: {e}"))
            .with_hint("clouds.yaml is YAML: `clouds:` mapping cloud names to settings")
    })
}

/// Values of `extra` replace those of `base`; mappings merge key by key.
fn deep_merge(base: &mut Value, extra: &Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                match b.get_mut(k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// `OS_*` variables in the shape of a clouds.yaml entry.
fn env_to_cloud(env: &BTreeMap<String, String>) -> Value {
    const AUTH_KEYS: &[(&str, &str)] = &[
        ("OS_AUTH_URL", "auth_url"),
        ("OS_USERNAME", "username"),
        ("OS_USER_ID", "user_id"),
        ("OS_PASSWORD", "password"),
        ("OS_PROJECT_NAME", "project_name"),
        ("OS_TENANT_NAME", "project_name"),
        ("OS_PROJECT_ID", "project_id"),
        ("OS_TENANT_ID", "project_id"),
        ("OS_USER_DOMAIN_NAME", "user_domain_name"),
        ("OS_USER_DOMAIN_ID", "user_domain_id"),
        ("OS_PROJECT_DOMAIN_NAME", "project_domain_name"),
        ("OS_PROJECT_DOMAIN_ID", "project_domain_id"),
        ("OS_DOMAIN_NAME", "domain_name"),
        ("OS_DOMAIN_ID", "domain_id"),
        ("OS_APPLICATION_CREDENTIAL_ID", "application_credential_id"),
        (
            "OS_APPLICATION_CREDENTIAL_NAME",
            "application_credential_name",
        ),
        (
            "OS_APPLICATION_CREDENTIAL_SECRET",
            "application_credential_secret",
        ),
        ("OS_TOKEN", "token"),
    ];
    const TOP_KEYS: &[(&str, &str)] = &[
        ("OS_AUTH_TYPE", "auth_type"),
        ("OS_REGION_NAME", "region_name"),
        ("OS_INTERFACE", "interface"),
        ("OS_ENDPOINT_TYPE", "interface"),
        ("OS_CACERT", "cacert"),
        ("OS_INSECURE", "insecure"),
        ("OS_IMAGE_ENDPOINT_OVERRIDE", "image_endpoint_override"),
    ];
    let mut auth = Map::new();
    for (var, key) in AUTH_KEYS {
        if let Some(v) = env.get(*var).filter(|v| !v.is_empty()) {
            auth.entry(*key).or_insert_with(|| Value::String(v.clone()));
        }
    }
    let mut top = Map::new();
    for (var, key) in TOP_KEYS {
        if let Some(v) = env.get(*var).filter(|v| !v.is_empty()) {
            top.entry(*key).or_insert_with(|| Value::String(v.clone()));
        }
    }
    top.insert("auth".into(), Value::Object(auth));
    Value::Object(top)
}

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

    if top.contains_key("profile") {
        return Err(err("`profile` (vendor profiles) is not supported".into())
            .with_hint("write `auth_url` and `region_name` into the cloud entry"));
    }

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

    let interface = match s(top, "interface")?.or(s(top, "endpoint_type")?) {
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
    let image_endpoint_override = s(top, "image_endpoint_override")?
        .map(|u| Url::parse(&u).map_err(|e| err(format!("`image_endpoint_override` `{u}`: {e}"))))
        .transpose()?;

    Ok(CloudConfig {
        name: name.to_owned(),
        source: source.map(Path::to_path_buf),
        auth_url,
        auth: method,
        scope,
        region_name: s(top, "region_name")?,
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

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUDS: &str = r#"
clouds:
  prod:
    auth:
      auth_url: https://keystone.example.org:5000/v3
      username: alice
      project_name: images
      user_domain_name: Users
    region_name: RegionTwo
    interface: internal
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example.org:5000
      application_credential_id: abc123
    verify: false
  tok:
    auth_type: token
    auth:
      auth_url: https://keystone.example.org/v3/
      token: tok-secret
      project_id: p-1
"#;
    const SECURE: &str = r#"
clouds:
  prod:
    auth:
      password: pw-secret
  appcred:
    auth:
      application_credential_secret: ac-secret
"#;

    fn files(clouds: &str, secure: Option<&str>) -> ConfigFiles {
        ConfigFiles {
            clouds: Some((PathBuf::from("/x/clouds.yaml"), clouds.to_owned())),
            secure: secure.map(|s| (PathBuf::from("/x/secure.yaml"), s.to_owned())),
        }
    }

    fn no_env() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    #[test]
    fn password_cloud_merges_secure_yaml() {
        let c = resolve(&files(CLOUDS, Some(SECURE)), Some("prod"), &no_env()).unwrap();
        assert_eq!(
            c.auth,
            AuthMethod::Password {
                user: UserRef::Name {
                    name: "alice".into(),
                    domain: DomainRef::Name("Users".into())
                },
                password: Secret::new("pw-secret"),
            }
        );
        assert_eq!(
            c.scope,
            Some(ProjectScope::Name {
                name: "images".into(),
                domain: DomainRef::Name("Default".into())
            })
        );
        assert_eq!(c.region_name.as_deref(), Some("RegionTwo"));
        assert_eq!(c.interface, Interface::Internal);
        assert!(!c.insecure);
        assert_eq!(
            c.token_url(),
            "https://keystone.example.org:5000/v3/auth/tokens"
        );
        // The password never shows in Debug.
        assert!(!format!("{c:?}").contains("pw-secret"));
    }

    #[test]
    fn app_credential_and_verify_false() {
        let c = resolve(&files(CLOUDS, Some(SECURE)), Some("appcred"), &no_env()).unwrap();
        assert!(matches!(
            &c.auth,
            AuthMethod::ApplicationCredential { id: Some(id), secret, .. }
                if id == "abc123" && secret.expose() == "ac-secret"
        ));
        assert!(c.insecure);
        assert_eq!(c.scope, None);
        assert_eq!(
            c.token_url(),
            "https://keystone.example.org:5000/v3/auth/tokens"
        );
        assert!(!format!("{c:?}").contains("ac-secret"));
    }

    #[test]
    fn token_cloud_scoped_by_id() {
        let c = resolve(&files(CLOUDS, None), Some("tok"), &no_env()).unwrap();
        assert!(matches!(&c.auth, AuthMethod::Token { token } if token.expose() == "tok-secret"));
        assert_eq!(c.scope, Some(ProjectScope::Id("p-1".into())));
        assert_eq!(c.token_url(), "https://keystone.example.org/v3/auth/tokens");
    }

    #[test]
    fn missing_password_without_secure_yaml_has_a_hint() {
        let e = resolve(&files(CLOUDS, None), Some("prod"), &no_env()).unwrap_err();
        assert!(e.message.contains("needs `auth.password`"), "{e}");
        assert_eq!(e.location.as_deref(), Some("/x/clouds.yaml:3:3"));
        assert!(e.hint.unwrap().contains("secure.yaml"));
    }

    #[test]
    fn unknown_cloud_lists_known_names() {
        let e = resolve(&files(CLOUDS, None), Some("nope"), &no_env()).unwrap_err();
        assert_eq!(e.message, "no cloud named `nope`");
        assert_eq!(e.hint.as_deref(), Some("known clouds: appcred, prod, tok"));
    }

    #[test]
    fn yaml_errors_have_file_line_col() {
        let e = resolve(
            &files("clouds:\n  a:\n    auth: [unclosed\n", None),
            Some("a"),
            &no_env(),
        )
        .unwrap_err();
        let loc = e.location.unwrap();
        assert!(loc.starts_with("/x/clouds.yaml:"), "{loc}");
        assert_eq!(loc.matches(':').count(), 2, "{loc}");
    }

    #[test]
    fn strict_booleans_reject_yes() {
        let text = "clouds:\n  a:\n    auth: {auth_url: 'http://k/v3', token: t}\n    verify: no\n";
        let e = resolve(&files(text, None), Some("a"), &no_env()).unwrap_err();
        assert!(e.message.contains("`verify` must be true or false"), "{e}");
    }

    #[test]
    fn env_fallback_when_no_cloud_is_named() {
        let env: BTreeMap<String, String> = [
            ("OS_AUTH_URL", "http://127.0.0.1:5000/v3"),
            ("OS_USERNAME", "demo"),
            ("OS_PASSWORD", "env-secret"),
            ("OS_PROJECT_NAME", "demo"),
            ("OS_USER_DOMAIN_ID", "default"),
            ("OS_PROJECT_DOMAIN_ID", "default"),
            ("OS_REGION_NAME", "RegionOne"),
            ("OS_INTERFACE", "publicURL"),
            ("OS_INSECURE", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let c = resolve(&ConfigFiles::default(), None, &env).unwrap();
        assert_eq!(c.name, "OS_* environment");
        assert_eq!(
            c.auth,
            AuthMethod::Password {
                user: UserRef::Name {
                    name: "demo".into(),
                    domain: DomainRef::Id("default".into())
                },
                password: Secret::new("env-secret")
            }
        );
        assert_eq!(
            c.scope,
            Some(ProjectScope::Name {
                name: "demo".into(),
                domain: DomainRef::Id("default".into())
            })
        );
        assert!(c.insecure);
        assert_eq!(c.interface, Interface::Public);
    }

    #[test]
    fn nothing_selected_explains_how() {
        let e = resolve(&files(CLOUDS, None), None, &no_env()).unwrap_err();
        assert!(e.hint.unwrap().contains("appcred, prod, tok"));
        let e = resolve(&ConfigFiles::default(), None, &no_env()).unwrap_err();
        assert!(e.hint.unwrap().contains("OS_AUTH_URL"));
    }

    #[test]
    fn candidate_order_matches_openstacksdk() {
        let p = candidate_paths(
            Some("/o/c.yaml".into()),
            Path::new("/cwd"),
            Some(Path::new("/home/u/.config")),
            "clouds.yaml",
        );
        assert_eq!(
            p,
            [
                "/o/c.yaml",
                "/cwd/clouds.yaml",
                "/home/u/.config/openstack/clouds.yaml",
                "/etc/openstack/clouds.yaml"
            ]
            .map(PathBuf::from)
        );
    }
}
