//! clouds.yaml, secure.yaml and `OS_*` variables -> one [`CloudConfig`], as openstacksdk
//! (and the `openstack` CLI) read them; `tests/clouds_table.rs` holds the case-by-case
//! comparison with the SDK, docs/clouds.md the rules and the deliberate differences.
//!
//! - [`files`]: where the files are looked for (`OS_CLIENT_CONFIG_FILE`, `./`,
//!   `$XDG_CONFIG_HOME/openstack`, `~/.config/openstack`, `/etc/xdg/openstack`,
//!   `/etc/openstack`; `clouds.yaml`, `.yml`, `.json`) and reading them;
//! - [`resolve`]: the pure selection: the cloud (`--cloud` / `OS_CLOUD`, else the `OS_*`
//!   variables, else the only cloud of the file), its vendor `profile`, the region
//!   (`--region` / `OS_REGION_NAME`, else the first of `regions:`) and its `values`;
//! - [`parse`]: one merged entry -> [`CloudConfig`].
//!
//! Invariants: secrets are [`Secret`]s from the moment they are read; YAML is parsed with
//! strict booleans (`yes`/`no` stay strings); errors carry file:line:col and a hint.

pub mod files;
mod parse;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use url::Url;

pub use files::{ConfigFile, ConfigFiles, Environment};
pub use parse::parse_cloud;

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
    /// The region Glance is looked up in (`image_region_name`, else the selected region).
    pub region_name: Option<String>,
    /// The region selected for the cloud (`--region`, `OS_REGION_NAME`, first of `regions:`).
    pub region: Option<String>,
    /// Glance's interface (`image_interface`, else `interface`).
    pub interface: Interface,
    /// Extra CA certificates (PEM file: `cacert`, else `REQUESTS_CA_BUNDLE` /
    /// `CURL_CA_BUNDLE`), trusted beside the system's.
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

/// Resolves the cloud to use from the real environment: `cloud` (`--cloud` / `OS_CLOUD`) and
/// `region` (`--region` / `OS_REGION_NAME`).
pub fn load(cloud: Option<&str>, region: Option<&str>) -> Result<CloudConfig, ConfigError> {
    let env = Environment::current();
    let files = files::find(&env)?;
    resolve(&files, cloud, region, &env)
}

/// The regions of a cloud in the real environment (`regions:`, `region_name`, its profile's),
/// in file order; empty when it names none.
pub fn load_regions(cloud: &str) -> Result<Vec<String>, ConfigError> {
    let env = Environment::current();
    let files = files::find(&env)?;
    let (_, entry, _) = named_entry(&files, cloud, &env)?;
    Ok(known_regions(cloud, &entry, &files)?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// The variables that select or locate, and never make a cloud of their own (openstacksdk's
/// `selectors`).
const SELECTORS: &[&str] = &[
    "OS_CLOUD",
    "OS_REGION_NAME",
    "OS_CLIENT_CONFIG_FILE",
    "OS_CLIENT_SECURE_FILE",
    "OS_CLOUD_NAME",
];

/// The `OS_*` variables that describe a cloud (all but selectors and test-runner variables).
fn cloud_vars(env: &Environment) -> Vec<(&str, &str)> {
    env.vars
        .iter()
        .filter(|(k, v)| {
            k.starts_with("OS_")
                && !v.is_empty()
                && !SELECTORS.contains(&k.as_str())
                && !["OS_TEST", "OS_STD", "OS_LOG"]
                    .iter()
                    .any(|p| k.starts_with(p))
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The pure part of [`load`]: files and environment in, one cloud out.
pub fn resolve(
    files: &ConfigFiles,
    cloud: Option<&str>,
    region: Option<&str>,
    env: &Environment,
) -> Result<CloudConfig, ConfigError> {
    // `--region` fills OS_REGION_NAME's place (as `--os-region-name` does in the CLI).
    let region = region
        .filter(|r| !r.is_empty())
        .or_else(|| env.var("OS_REGION_NAME"));
    let env_key = env.var("OS_CLOUD_NAME").unwrap_or("envvars").to_owned();
    let env_vars = cloud_vars(env);
    let doc = merged_doc(files);
    let names = cloud_names_of(&doc);
    if !env_vars.is_empty() && names.contains(&env_key) {
        return Err(ConfigError::new(
            files.clouds.as_ref().map(|f| f.path.display().to_string()),
            format!("a cloud is named `{env_key}`, the name of the cloud the OS_* variables make"),
        )
        .with_hint(
            "rename that cloud, or set OS_CLOUD_NAME to another name (as openstacksdk requires)",
        ));
    }
    // openstacksdk: OS_CLOUD, else the OS_* variables, else the only cloud of the file.
    let name = match cloud.filter(|c| !c.is_empty()) {
        Some(n) => n.to_owned(),
        None if !env_vars.is_empty() => env_key.clone(),
        None if names.len() == 1 => names[0].clone(),
        None => return Err(nothing_selected(files, &names)),
    };
    let mut config = if name == env_key && !env_vars.is_empty() {
        let mut entry = env_to_cloud(&env_vars);
        let regions = known_regions(&name, &entry, files)?;
        let values = pick_region(&name, &regions, region, None)?;
        apply_region(&mut entry, values);
        normalize(&mut entry);
        parse_cloud("OS_* environment", None, &entry, None).map_err(|e| {
            let vars: Vec<&str> = env_vars.iter().map(|(k, _)| *k).collect();
            let hint = e.hint.clone().unwrap_or_default();
            e.with_hint(format!(
                "{hint}{}the OS_* variables set ({}) describe a cloud of their own, as in openstacksdk; to use clouds.yaml instead, pass --cloud NAME or set OS_CLOUD",
                if hint.is_empty() { "" } else { "; " },
                vars.join(", ")
            ))
        })?
    } else {
        let (source, mut entry, text) = named_entry(files, &name, env)?;
        let regions = known_regions(&name, &entry, files)?;
        let values = pick_region(&name, &regions, region, source.as_deref())?;
        apply_region(&mut entry, values);
        normalize(&mut entry);
        parse_cloud(&name, source.as_deref(), &entry, text.as_deref())?
    };
    if let Some(c) = &config.cacert
        && let (Ok(rest), Some(home)) = (c.strip_prefix("~"), &env.home)
    {
        config.cacert = Some(home.join(rest));
    }
    // `requests` (under openstacksdk) trusts REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE when the
    // cloud names no `cacert` and verifies at all.
    if config.cacert.is_none() && !config.insecure {
        config.cacert = env
            .var("REQUESTS_CA_BUNDLE")
            .or_else(|| env.var("CURL_CA_BUNDLE"))
            .map(PathBuf::from);
    }
    Ok(config)
}

fn nothing_selected(files: &ConfigFiles, names: &[String]) -> ConfigError {
    let hint = match &files.clouds {
        Some(f) if !names.is_empty() => format!(
            "pass --cloud NAME or set OS_CLOUD; clouds in {}: {}",
            f.path.display(),
            names.join(", ")
        ),
        _ => format!(
            "pass --cloud NAME (clouds.yaml searched in {}) or set OS_AUTH_URL and the other OS_* variables",
            searched_dirs(files)
        ),
    };
    ConfigError::new(None, "no cloud selected").with_hint(hint)
}

/// The directories searched, for hints (`./`, `~/.config/openstack`, ...).
fn searched_dirs(files: &ConfigFiles) -> String {
    let mut dirs: Vec<String> = Vec::new();
    for p in &files.searched {
        let d = p
            .parent()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    if dirs.is_empty() {
        "OS_CLIENT_CONFIG_FILE, ./, ~/.config/openstack, /etc/xdg/openstack, /etc/openstack".into()
    } else {
        dirs.join(", ")
    }
}

/// clouds.yaml with secure.yaml deep-merged over it (openstacksdk's `merge_clouds`: a cloud
/// may even live in secure.yaml alone).
fn merged_doc(files: &ConfigFiles) -> Value {
    let mut doc = files
        .clouds
        .as_ref()
        .map_or_else(|| Value::Object(Map::new()), |f| f.doc.clone());
    if let Some(secure) = &files.secure {
        deep_merge(&mut doc, &secure.doc);
    }
    doc
}

/// A cloud of the files with its profile expanded: (file, entry, file text).
fn named_entry(
    files: &ConfigFiles,
    name: &str,
    env: &Environment,
) -> Result<(Option<PathBuf>, Value, Option<String>), ConfigError> {
    let doc = merged_doc(files);
    let source = files.clouds.as_ref().or(files.secure.as_ref());
    let Some(source) = source else {
        let note = files
            .notes
            .iter()
            .map(|n| format!(" ({n})"))
            .collect::<String>();
        return Err(ConfigError::new(
            None,
            format!("cloud `{name}` requested, but no clouds.yaml was found{note}"),
        )
        .with_hint(format!(
            "searched {}; put it in ./clouds.yaml or ~/.config/openstack/clouds.yaml, or point OS_CLIENT_CONFIG_FILE at it",
            searched_dirs(files)
        )));
    };
    let Some(ours) = doc.get("clouds").and_then(|c| c.get(name)).cloned() else {
        let known = cloud_names_of(&doc);
        let mut hint = if known.is_empty() {
            "the file has no `clouds:` entries".to_owned()
        } else {
            format!("known clouds: {}", known.join(", "))
        };
        if !cloud_vars(env).is_empty() && name == env.var("OS_CLOUD_NAME").unwrap_or("envvars") {
            hint.push_str("; the OS_* variables make this cloud only when they describe one");
        }
        for n in &files.notes {
            hint.push_str(&format!("; {n}"));
        }
        return Err(ConfigError::new(
            Some(source.path.display().to_string()),
            format!("no cloud named `{name}`"),
        )
        .with_hint(hint));
    };
    if !ours.is_object() {
        return Err(ConfigError::new(
            Some(source.path.display().to_string()),
            format!("cloud `{name}`: expected a mapping of settings"),
        ));
    }
    let mut entry = Value::Object(Map::new());
    if let Some(mut profile) = profile(name, &ours, files, &source.path)? {
        // The SDK takes the regions from the cloud when it names any, else from the profile.
        if (ours.get("regions").is_some() || ours.get("region_name").is_some())
            && let Value::Object(m) = &mut profile
        {
            m.remove("regions");
            m.remove("region_name");
        }
        auth_update(&mut entry, &profile);
    }
    auth_update(&mut entry, &ours);
    Ok((Some(source.path.clone()), entry, Some(source.text.clone())))
}

/// Vendor profiles openstacksdk ships (`openstack/config/vendors/`); their data is not
/// bundled here, so naming one without a clouds-public.yaml entry is refused.
const SDK_VENDORS: &[&str] = &[
    "auro",
    "betacloud",
    "binero",
    "bluebox",
    "catalyst",
    "citycloud",
    "conoha",
    "dreamcompute",
    "elastx",
    "entercloudsuite",
    "fuga",
    "ibmcloud",
    "internap",
    "limestonenetworks",
    "otc",
    "otc-swiss",
    "ovh",
    "ovh-us",
    "rackspace",
    "switchcloud",
    "switchengines",
    "ultimum",
    "unitedstack",
    "vexxhost",
    "zetta",
];

/// The `profile:` (or the deprecated `cloud:`) of a cloud, from clouds-public.yaml.
fn profile(
    name: &str,
    ours: &Value,
    files: &ConfigFiles,
    path: &Path,
) -> Result<Option<Value>, ConfigError> {
    let Some(profile) = ours
        .get("profile")
        .or_else(|| ours.get("cloud"))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    if let Some(p) = files
        .vendor
        .as_ref()
        .and_then(|v| v.doc.get("public-clouds"))
        .and_then(|c| c.get(profile))
    {
        return Ok(Some(p.clone()));
    }
    if SDK_VENDORS.contains(&profile) {
        return Err(ConfigError::new(
            Some(path.display().to_string()),
            format!("cloud `{name}`: profile `{profile}` is one of openstacksdk's built-in vendor profiles, which this tool does not bundle"),
        )
        .with_hint(format!(
            "define it in clouds-public.yaml beside clouds.yaml (`public-clouds: {{{profile}: {{auth: {{auth_url: ...}}, regions: [...]}}}}`), or write `auth_url` and `regions` into the cloud"
        )));
    }
    // As openstacksdk: an unknown profile is a warning, the cloud's own settings go on.
    tracing::warn!(
        "cloud `{name}`: no vendor profile `{profile}` in clouds-public.yaml; using the cloud's own settings"
    );
    Ok(None)
}

/// openstacksdk's `_auth_update`: top-level keys replace, `auth` merges key by key.
fn auth_update(base: &mut Value, extra: &Value) {
    let (Value::Object(b), Value::Object(e)) = (base, extra) else {
        return;
    };
    for (k, v) in e {
        match (k.as_str(), b.get_mut(k), v) {
            ("auth", Some(Value::Object(slot)), Value::Object(new)) => {
                for (ak, av) in new {
                    slot.insert(ak.clone(), av.clone());
                }
            }
            _ => {
                b.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A cloud's regions with their `values`: `regions:` (names or `{name, values}`), else
/// `region_name` (a list, or a comma-separated string), else its profile's.
fn known_regions(
    name: &str,
    entry: &Value,
    files: &ConfigFiles,
) -> Result<Vec<(String, Value)>, ConfigError> {
    let place = || files.clouds.as_ref().map(|f| f.path.display().to_string());
    let bad = |msg: String| {
        ConfigError::new(place(), format!("cloud `{name}`: {msg}"))
            .with_hint("`regions:` lists names, or `{name: R, values: {...}}` mappings")
    };
    let items: Vec<Value> = match (entry.get("regions"), entry.get("region_name")) {
        (Some(Value::Array(list)), _) => list.clone(),
        (Some(Value::Null) | None, Some(Value::Array(list))) => list.clone(),
        (Some(Value::Null) | None, Some(Value::String(s))) if !s.is_empty() => s
            .split(',')
            .map(|r| Value::String(r.trim().to_owned()))
            .collect(),
        (Some(Value::Null) | None, _) => Vec::new(),
        (Some(other), _) => return Err(bad(format!("`regions` must be a list, found {other}"))),
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::String(s) => out.push((s, Value::Object(Map::new()))),
            Value::Object(m) => {
                let Some(Value::String(n)) = m.get("name") else {
                    return Err(bad(format!(
                        "a region entry needs a `name`, found {}",
                        Value::Object(m.clone())
                    )));
                };
                if let Some(k) = m.keys().find(|k| *k != "name" && *k != "values") {
                    return Err(bad(format!(
                        "region `{n}`: unknown key `{k}` (only `name` and `values`)"
                    )));
                }
                let values = m.get("values").cloned().unwrap_or(Value::Null);
                let values = match values {
                    Value::Null => Value::Object(Map::new()),
                    v @ Value::Object(_) => v,
                    other => {
                        return Err(bad(format!(
                            "region `{n}`: `values` must be a mapping, found {other}"
                        )));
                    }
                };
                out.push((n.clone(), values));
            }
            other => return Err(bad(format!("a region must be a name, found {other}"))),
        }
    }
    Ok(out)
}

/// The region asked for (its `values`), the first one when none is asked for; `None` when
/// the cloud lists no regions (then the asked one, if any, is used as it is).
fn pick_region(
    name: &str,
    regions: &[(String, Value)],
    asked: Option<&str>,
    source: Option<&Path>,
) -> Result<Option<(String, Value)>, ConfigError> {
    if regions.is_empty() {
        return Ok(asked.map(|r| (r.to_owned(), Value::Object(Map::new()))));
    }
    let Some(asked) = asked else {
        return Ok(Some(regions[0].clone()));
    };
    match regions.iter().find(|(n, _)| n == asked) {
        Some(r) => Ok(Some(r.clone())),
        None => Err(ConfigError::new(
            source.map(|p| p.display().to_string()),
            format!(
                "cloud `{name}` has no region `{asked}`; its regions: {}",
                regions
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with_hint("region names are case-sensitive; fix --region / OS_REGION_NAME or the target's `region`, or add it to the cloud's `regions:`")),
    }
}

/// Sets `region_name` and lays the region's `values` over the entry (`auth` key by key).
fn apply_region(entry: &mut Value, region: Option<(String, Value)>) {
    if let Value::Object(m) = entry {
        m.remove("regions");
    }
    if let Some((name, values)) = region {
        auth_update(entry, &values);
        if let Value::Object(m) = entry {
            m.insert("region_name".into(), Value::String(name));
        }
    }
}

/// openstacksdk's key fixes: `-` -> `_` in keys, `*endpoint_type` -> `*interface` (an explicit
/// `interface` wins).
fn normalize(entry: &mut Value) {
    fn dashes(v: &mut Value) {
        if let Value::Object(m) = v {
            let old = std::mem::take(m);
            for (k, mut val) in old {
                dashes(&mut val);
                m.insert(k.replace('-', "_"), val);
            }
        }
    }
    dashes(entry);
    if let Value::Object(m) = entry {
        let legacy: Vec<String> = m
            .keys()
            .filter(|k| k.ends_with("endpoint_type"))
            .cloned()
            .collect();
        for k in legacy {
            let v = m.remove(&k).expect("listed");
            m.entry(k.replace("endpoint_type", "interface"))
                .or_insert(v);
        }
    }
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

/// The `OS_*` variables as a clouds.yaml entry, as openstacksdk builds it: `OS_FOO` -> `foo`,
/// the authentication ones under `auth`.
fn env_to_cloud(vars: &[(&str, &str)]) -> Value {
    const AUTH_KEYS: &[&str] = &[
        "auth_url",
        "username",
        "user_id",
        "password",
        "project_name",
        "project_id",
        "user_domain_name",
        "user_domain_id",
        "project_domain_name",
        "project_domain_id",
        "domain_name",
        "domain_id",
        "application_credential_id",
        "application_credential_name",
        "application_credential_secret",
        "token",
    ];
    let mut auth = Map::new();
    let mut top = Map::new();
    for (var, value) in vars {
        let key = var["OS_".len()..].to_ascii_lowercase();
        let key = match key.as_str() {
            "tenant_name" => "project_name".to_owned(),
            "tenant_id" => "project_id".to_owned(),
            _ => key,
        };
        let slot = if AUTH_KEYS.contains(&key.as_str()) {
            &mut auth
        } else {
            &mut top
        };
        // OS_PROJECT_NAME beats the older OS_TENANT_NAME.
        if !var.starts_with("OS_TENANT") || !slot.contains_key(&key) {
            slot.insert(key, Value::String((*value).to_owned()));
        }
    }
    top.insert("auth".into(), Value::Object(auth));
    Value::Object(top)
}
