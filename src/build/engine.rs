//! How `disk-image-create` is called for a recipe: a pure function from recipe, architecture
//! and mirrors to a command line and environment, so what the build gets is testable without
//! building.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::catalog::Architecture;
use crate::catalog::raw::DiskimageBuilderSource;

/// The engine's program name, looked up on `PATH` when no path is given.
pub const ENGINE: &str = "disk-image-create";

/// One run of the engine: program, arguments, and the variables set on top of the inherited
/// environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

/// The mirrors actually used for a recipe (the catalog's `mirrors` applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirrors {
    pub distribution: String,
    pub security: Option<String>,
}

/// The recipe's mirrors after the longest matching `FROM=TO` rewrite (the same rule as the
/// fetcher's).
pub fn mirrors(recipe: &DiskimageBuilderSource, rewrites: &[(String, String)]) -> Mirrors {
    Mirrors {
        distribution: rewrite(&recipe.mirror, rewrites),
        security: recipe
            .security_mirror
            .as_deref()
            .map(|m| rewrite(m, rewrites)),
    }
}

fn rewrite(url: &str, rewrites: &[(String, String)]) -> String {
    rewrites
        .iter()
        .filter(|(from, _)| url.starts_with(from.as_str()))
        .max_by_key(|(from, _)| from.len())
        .map(|(from, to)| format!("{to}{}", &url[from.len()..]))
        .unwrap_or_else(|| url.to_owned())
}

/// The command line building `recipe` for `arch` into `<output>.qcow2` (and DIB's
/// `<output>.d/dib-manifests/`).
pub fn invocation(
    engine: &Path,
    recipe: &DiskimageBuilderSource,
    arch: Architecture,
    mirrors: &Mirrors,
    output: &Path,
) -> Invocation {
    // The recipe's free-form `DIB_*` first: the named fields win over a duplicate there.
    let mut env = recipe.environment.clone();
    env.insert("DIB_RELEASE".into(), recipe.release.clone());
    env.insert(
        "DIB_DISTRIBUTION_MIRROR".into(),
        mirrors.distribution.clone(),
    );
    if let Some(s) = &mirrors.security {
        env.insert("DIB_DEBIAN_SECURITY_MIRROR".into(), s.clone());
    }
    // DIB names architectures the Debian way (amd64, arm64) in `ARCH` and `-a`.
    env.insert("ARCH".into(), arch.debian().to_owned());
    let mut args: Vec<String> = [
        "-a",
        arch.debian(),
        "-t",
        "qcow2",
        "-o",
        &output.to_string_lossy(),
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(recipe.elements.iter().cloned());
    Invocation {
        program: engine.to_owned(),
        args,
        env,
    }
}

/// The engine to run: an explicit path (flag or environment), else `disk-image-create` on
/// `path` (the `PATH` variable).
pub fn locate(explicit: Option<&Path>, path: Option<&OsStr>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_owned());
    }
    std::env::split_paths(path?)
        .map(|dir| dir.join(ENGINE))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::raw::{ObjectListing, PublishTarget};

    fn recipe() -> DiskimageBuilderSource {
        DiskimageBuilderSource {
            elements: vec!["vm".into(), "debian-minimal".into(), "growroot".into()],
            release: "bookworm".into(),
            mirror: "http://deb.debian.org/debian".into(),
            security_mirror: Some("http://deb.debian.org/debian-security".into()),
            environment: [
                (
                    "DIB_CLOUD_INIT_DATASOURCES".to_owned(),
                    "OpenStack".to_owned(),
                ),
                ("DIB_RELEASE".to_owned(), "sid".to_owned()),
            ]
            .into(),
            archive: Default::default(),
            publish: PublishTarget {
                url: "http://127.0.0.1:1/builds".into(),
                listing: ObjectListing::S3,
                signed: false,
            },
        }
    }

    #[test]
    fn mirrors_take_the_longest_rewrite() {
        let rewrites = vec![
            ("http://deb.debian.org/".to_owned(), "http://a/".to_owned()),
            (
                "http://deb.debian.org/debian-security".to_owned(),
                "http://sec/ds".to_owned(),
            ),
        ];
        let m = mirrors(&recipe(), &rewrites);
        assert_eq!(m.distribution, "http://a/debian");
        assert_eq!(m.security.as_deref(), Some("http://sec/ds"));
        let none = mirrors(&recipe(), &[]);
        assert_eq!(none.distribution, "http://deb.debian.org/debian");
    }

    #[test]
    fn the_command_line_carries_the_recipe() {
        let r = recipe();
        let m = mirrors(&r, &[("http://deb.debian.org/".into(), "http://m/".into())]);
        let inv = invocation(
            Path::new("/opt/dib/bin/disk-image-create"),
            &r,
            Architecture::Aarch64,
            &m,
            Path::new("/b/tmp/debian-12"),
        );
        assert_eq!(inv.program, Path::new("/opt/dib/bin/disk-image-create"));
        assert_eq!(
            inv.args,
            [
                "-a",
                "arm64",
                "-t",
                "qcow2",
                "-o",
                "/b/tmp/debian-12",
                "vm",
                "debian-minimal",
                "growroot"
            ]
        );
        let env: Vec<(&str, &str)> = inv
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            env,
            [
                ("ARCH", "arm64"),
                ("DIB_CLOUD_INIT_DATASOURCES", "OpenStack"),
                ("DIB_DEBIAN_SECURITY_MIRROR", "http://m/debian-security"),
                ("DIB_DISTRIBUTION_MIRROR", "http://m/debian"),
                // The recipe's `release` wins over a stray DIB_RELEASE in `environment`.
                ("DIB_RELEASE", "bookworm"),
            ]
        );
    }

    #[test]
    fn no_security_mirror_sets_no_variable() {
        let mut r = recipe();
        r.security_mirror = None;
        let inv = invocation(
            Path::new("dib"),
            &r,
            Architecture::X86_64,
            &mirrors(&r, &[]),
            Path::new("o"),
        );
        assert!(!inv.env.contains_key("DIB_DEBIAN_SECURITY_MIRROR"));
        assert_eq!(inv.env["ARCH"], "amd64");
    }

    #[test]
    fn the_engine_is_found_on_path_unless_given() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join(ENGINE);
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        let path = std::env::join_paths([Path::new("/nonexistent"), dir.path()]).unwrap();
        assert_eq!(locate(None, Some(&path)), Some(exe));
        assert_eq!(
            locate(Some(Path::new("/x/dib")), Some(&path)),
            Some(PathBuf::from("/x/dib"))
        );
        assert_eq!(locate(None, Some(OsStr::new("/nonexistent"))), None);
    }
}
