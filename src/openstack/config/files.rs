//! Where clouds.yaml, secure.yaml and clouds-public.yaml are looked for, and reading them.
//!
//! The search is openstacksdk's (`openstack/config/loader.py`): for each directory of
//! [`search_dirs`] the suffixes `.yaml`, `.yml`, `.json`, first existing file wins; an
//! `OS_CLIENT_CONFIG_FILE` / `OS_CLIENT_SECURE_FILE` comes first, and one that does not exist
//! falls through to the standard places (logged as a warning here, silent in the SDK).
//!
//! Deliberate differences, all in favour of a clear error over a silent surprise:
//! - a file that exists but does not parse (or cannot be read) is an error with file:line:col;
//!   the SDK logs a warning and skips to the next file;
//! - `secure.yaml` (`.yml`, `.json`) beside an `OS_CLIENT_CONFIG_FILE` is read too, right
//!   after `OS_CLIENT_SECURE_FILE` (the SDK only looks in the standard directories), so "put
//!   the password in secure.yaml next to clouds.yaml" is true wherever clouds.yaml is;
//! - `XDG_CONFIG_DIRS` with several entries: each `<dir>/openstack` is searched (the SDK
//!   joins them with `:` into one path that never exists).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::super::error::ConfigError;

/// What the resolution may look at: variables, working directory, home and the root under
/// which `/etc` lies (`/`, except in tests).
#[derive(Debug, Clone)]
pub struct Environment {
    /// The variables that matter (`OS_*`, `XDG_*`, `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`).
    pub vars: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub home: Option<PathBuf>,
    pub root: PathBuf,
}

impl Environment {
    /// The real process environment.
    pub fn current() -> Self {
        let vars = std::env::vars()
            .filter(|(k, _)| {
                k.starts_with("OS_")
                    || k.starts_with("XDG_")
                    || k == "REQUESTS_CA_BUNDLE"
                    || k == "CURL_CA_BUNDLE"
            })
            .collect();
        Environment {
            vars,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            home: dirs::home_dir(),
            root: PathBuf::from("/"),
        }
    }

    /// No variables, no home: only what the caller passes in counts (tests, fixed files).
    pub fn isolated(cwd: PathBuf) -> Self {
        Environment {
            vars: BTreeMap::new(),
            cwd,
            home: None,
            root: PathBuf::from("/nonexistent-root"),
        }
    }

    /// A variable, `None` when unset or empty.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn etc(&self, rest: &str) -> PathBuf {
        self.root.join("etc").join(rest)
    }
}

/// The directories searched, in openstacksdk's order: the working directory,
/// `$XDG_CONFIG_HOME/openstack` (else `~/.config/openstack`), `~/.config/openstack`,
/// `$XDG_CONFIG_DIRS/openstack` (else `/etc/xdg/openstack`), `/etc/openstack`.
pub fn search_dirs(env: &Environment) -> Vec<PathBuf> {
    let mut dirs = vec![env.cwd.clone()];
    let unix_home = env
        .home
        .as_ref()
        .map(|h| h.join(".config").join("openstack"));
    match env.var("XDG_CONFIG_HOME") {
        Some(x) => dirs.push(Path::new(x.trim()).join("openstack")),
        None => dirs.extend(unix_home.clone()),
    }
    dirs.extend(unix_home);
    match env.var("XDG_CONFIG_DIRS") {
        Some(x) => dirs.extend(
            x.split(':')
                .filter(|d| !d.is_empty())
                .map(|d| Path::new(d).join("openstack")),
        ),
        None => dirs.push(env.etc("xdg/openstack")),
    }
    dirs.push(env.etc("openstack"));
    let mut seen = std::collections::BTreeSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// `<dir>/<stem>.yaml`, `.yml`, `.json` for every directory.
fn candidates(dirs: &[PathBuf], stem: &str) -> Vec<PathBuf> {
    dirs.iter()
        .flat_map(|d| ["yaml", "yml", "json"].map(|s| d.join(format!("{stem}.{s}"))))
        .collect()
}

/// One configuration file, parsed.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub text: String,
    pub doc: Value,
}

/// The files found (each optional) and what a user should know about the search.
#[derive(Debug, Clone, Default)]
pub struct ConfigFiles {
    pub clouds: Option<ConfigFile>,
    pub secure: Option<ConfigFile>,
    /// `clouds-public.yaml`: vendor profiles (`public-clouds:`).
    pub vendor: Option<ConfigFile>,
    /// E.g. "OS_CLIENT_CONFIG_FILE `/x` does not exist", for hints.
    pub notes: Vec<String>,
    /// Every path that was tried for clouds.yaml, for the "not found" hint.
    pub searched: Vec<PathBuf>,
}

impl ConfigFiles {
    /// Files from texts (tests and callers that already hold them).
    pub fn from_texts(
        clouds: Option<(&Path, &str)>,
        secure: Option<(&Path, &str)>,
    ) -> Result<Self, ConfigError> {
        let parse = |(p, t): (&Path, &str)| parse_file(p, t.to_owned());
        Ok(ConfigFiles {
            clouds: clouds.map(parse).transpose()?,
            secure: secure.map(parse).transpose()?,
            ..Default::default()
        })
    }
}

/// Finds and parses clouds.yaml, secure.yaml and clouds-public.yaml.
pub fn find(env: &Environment) -> Result<ConfigFiles, ConfigError> {
    let dirs = search_dirs(env);
    let mut files = ConfigFiles::default();
    let explicit = |var: &str, notes: &mut Vec<String>| -> Option<PathBuf> {
        let p = PathBuf::from(env.var(var)?);
        let p = if p.is_relative() { env.cwd.join(p) } else { p };
        if p.exists() {
            Some(p)
        } else {
            let note = format!("{var} `{}` does not exist", p.display());
            tracing::warn!("{note}; looking in the standard places instead (as openstacksdk does)");
            notes.push(note);
            None
        }
    };
    let config_file = explicit("OS_CLIENT_CONFIG_FILE", &mut files.notes);
    let secure_file = explicit("OS_CLIENT_SECURE_FILE", &mut files.notes);

    let mut clouds_paths: Vec<PathBuf> = config_file.iter().cloned().collect();
    clouds_paths.extend(candidates(&dirs, "clouds"));
    files.clouds = first_existing(&clouds_paths)?;
    files.searched = clouds_paths;

    let mut secure_paths: Vec<PathBuf> = secure_file.into_iter().collect();
    if let Some(dir) = config_file.as_deref().and_then(Path::parent) {
        secure_paths.extend(candidates(&[dir.to_path_buf()], "secure"));
    }
    secure_paths.extend(candidates(&dirs, "secure"));
    files.secure = first_existing(&secure_paths)?;

    files.vendor = first_existing(&candidates(&dirs, "clouds-public"))?;
    Ok(files)
}

fn first_existing(paths: &[PathBuf]) -> Result<Option<ConfigFile>, ConfigError> {
    for path in paths {
        // Not a FIFO, a device or a directory under a clouds.yaml name (see localfile).
        match crate::localfile::read_text(path, crate::localfile::CATALOG_LIMIT) {
            Ok(text) => return parse_file(path, text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ConfigError::new(
                    Some(path.display().to_string()),
                    format!("cannot read: {e}"),
                )
                .with_hint("fix its permissions, or move it away"));
            }
        }
    }
    Ok(None)
}

/// `.json` files are JSON, the others YAML (strict booleans: `yes`/`no` stay strings).
pub fn parse_file(path: &Path, text: String) -> Result<ConfigFile, ConfigError> {
    let doc = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str::<Value>(&text).map_err(|e| {
            ConfigError::new(
                Some(format!("{}:{}:{}", path.display(), e.line(), e.column())),
                format!("invalid JSON: {e}"),
            )
            .with_hint("clouds.json is JSON: {\"clouds\": {NAME: {...}}}")
        })?
    } else {
        parse_yaml(path, &text)?
    };
    let doc = match doc {
        Value::Null => Value::Object(Default::default()),
        Value::Object(m) => Value::Object(m),
        _ => {
            return Err(ConfigError::new(
                Some(path.display().to_string()),
                "expected a mapping at the top (`clouds:` ...)",
            )
            .with_hint("clouds.yaml maps `clouds:` to cloud names and their settings"));
        }
    };
    Ok(ConfigFile {
        path: path.to_path_buf(),
        text,
        doc,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            cwd: "/cwd".into(),
            home: Some("/home/u".into()),
            root: "/".into(),
        }
    }

    #[test]
    fn search_order_matches_openstacksdk() {
        // The SDK's list (printed by `openstack.config.loader.CONFIG_FILES`), duplicates removed.
        assert_eq!(
            search_dirs(&env(&[])),
            [
                "/cwd",
                "/home/u/.config/openstack",
                "/etc/xdg/openstack",
                "/etc/openstack"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(
            search_dirs(&env(&[
                ("XDG_CONFIG_HOME", "/x"),
                ("XDG_CONFIG_DIRS", "/a:/b")
            ])),
            [
                "/cwd",
                "/x/openstack",
                "/home/u/.config/openstack",
                "/a/openstack",
                "/b/openstack",
                "/etc/openstack"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(
            candidates(&[PathBuf::from("/d")], "clouds"),
            ["/d/clouds.yaml", "/d/clouds.yml", "/d/clouds.json"].map(PathBuf::from)
        );
    }
}
