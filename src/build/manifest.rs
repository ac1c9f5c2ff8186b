//! `manifest.json` (what went into a build) and `SHA256SUMS`, as pure functions of the build's
//! inputs and DIB's `dib-manifests`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What went into one build; published next to the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub image: String,
    /// The build time, `YYYYMMDDTHHMMSSZ` (the published version).
    pub version: String,
    /// The build time, RFC 3339.
    pub build_time: String,
    pub architecture: String,
    /// `diskimage-builder` and its version (`disk-image-create --version`).
    pub engine: Engine,
    pub elements: Vec<String>,
    pub release: String,
    /// The package mirrors used (after the catalog's `mirrors`), without credentials.
    pub mirror: String,
    pub security_mirror: Option<String>,
    /// The recipe's own `DIB_*` variables.
    pub environment: BTreeMap<String, String>,
    /// [`super::recipe_digest`] of the recipe built; a changed recipe means a rebuild.
    pub recipe_digest: String,
    /// The `Date:` of each watched suite's `Release` file when the build started (RFC 3339,
    /// UTC; see [`super::archive`]); a newer one means a rebuild.
    #[serde(default)]
    pub archive: BTreeMap<String, String>,
    /// The image file in the same directory, its SHA-256 and size.
    pub file: String,
    pub sha256: String,
    pub size: u64,
    /// The installed packages, from DIB's `dib-manifest-dpkg-*`, sorted by name.
    pub packages: Vec<Package>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engine {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub architecture: String,
}

/// `url` without user and password (a mirror may carry them; manifests are public).
pub fn without_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The packages in DIB's dpkg manifest (`{"packages": [{"package", "arch", "version",
/// "status"}, ...]}`, written by the `dpkg` element with `dpkg-query --showformat`), only the
/// installed ones (`status` `ii`). A trailing comma before `]` is tolerated: the file is
/// assembled by a shell script.
pub fn parse_dpkg_manifest(text: &str) -> Result<Vec<Package>, String> {
    #[derive(Deserialize)]
    struct File {
        packages: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        package: String,
        #[serde(default)]
        arch: String,
        version: String,
        #[serde(default)]
        status: Option<String>,
    }
    let file: File = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(first) => {
            let fixed = regex::Regex::new(r",\s*\]")
                .expect("static regex")
                .replace_all(text, "]");
            serde_json::from_str(&fixed).map_err(|_| first.to_string())?
        }
    };
    let mut packages: Vec<Package> = file
        .packages
        .into_iter()
        .filter(|e| e.status.as_deref().is_none_or(|s| s.trim() == "ii"))
        .map(|e| Package {
            // `binary:Package` is `name:arch` for multi-arch packages; the arch is its own field.
            name: e.package.split(':').next().unwrap_or_default().to_owned(),
            version: e.version,
            architecture: e.arch,
        })
        .collect();
    packages.sort();
    packages.dedup();
    Ok(packages)
}

/// The `SHA256SUMS` line format `sha256sum` writes and `check` reads.
pub fn checksums_file(file: &str, sha256: &str) -> String {
    format!("{sha256}  {file}\n")
}

/// The published version of a build started at `at`: `YYYYMMDDTHHMMSSZ`.
pub fn version(at: jiff::Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// `dib-version`'s output reduced to the version (`disk-image-create --version` prints
/// `3.39.0` or `disk-image-create 3.39.0`).
pub fn engine_version(output: &str) -> String {
    output
        .split_whitespace()
        .last()
        .unwrap_or("unknown")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_manifest_keeps_installed_packages_sorted() {
        let text = r#"{"packages": [
{"package": "zlib1g:amd64","arch": "amd64","version": "1:1.2.13.dfsg-1","status": "ii "},
{"package": "adduser","arch": "all","version": "3.134","status": "ii "},
{"package": "gone","arch": "amd64","version": "1","status": "rc "},
]}"#;
        let p = parse_dpkg_manifest(text).unwrap();
        assert_eq!(
            p,
            [
                Package {
                    name: "adduser".into(),
                    version: "3.134".into(),
                    architecture: "all".into()
                },
                Package {
                    name: "zlib1g".into(),
                    version: "1:1.2.13.dfsg-1".into(),
                    architecture: "amd64".into()
                },
            ]
        );
        assert!(parse_dpkg_manifest("{\"packages\": [").is_err());
        assert!(parse_dpkg_manifest("not json").is_err());
    }

    #[test]
    fn versions_sort_as_builds_happened() {
        let t: jiff::Timestamp = "2026-12-01T23:04:05Z".parse().unwrap();
        assert_eq!(version(t), "20261201T230405Z");
        let later: jiff::Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        assert!(version(t) < version(later));
    }

    #[test]
    fn credentials_never_reach_the_manifest() {
        assert_eq!(
            without_credentials("http://user:s3cret@mirror.example/debian"),
            "http://mirror.example/debian"
        );
        assert_eq!(
            without_credentials("http://mirror.example/debian"),
            "http://mirror.example/debian"
        );
    }

    #[test]
    fn checksum_line_and_engine_version() {
        assert_eq!(checksums_file("a.qcow2", "ab12"), "ab12  a.qcow2\n");
        assert_eq!(engine_version("3.39.0\n"), "3.39.0");
        assert_eq!(engine_version("disk-image-create 3.39.0"), "3.39.0");
        assert_eq!(engine_version(""), "unknown");
    }

    #[test]
    fn manifest_json_is_stable() {
        let m = Manifest {
            image: "debian-12-dib".into(),
            version: "20261201T230405Z".into(),
            build_time: "2026-12-01T23:04:05Z".into(),
            architecture: "x86_64".into(),
            engine: Engine {
                name: "diskimage-builder".into(),
                version: "3.39.0".into(),
            },
            elements: vec!["vm".into()],
            release: "bookworm".into(),
            mirror: "http://m/debian".into(),
            security_mirror: None,
            environment: BTreeMap::new(),
            recipe_digest: "d".into(),
            archive: BTreeMap::from([("bookworm".into(), "2024-11-09T10:25:41Z".into())]),
            file: "debian-12-dib.qcow2".into(),
            sha256: "ab".into(),
            size: 3,
            packages: vec![],
        };
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.starts_with(r#"{"image":"debian-12-dib","version":"20261201T230405Z""#));
        let back: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        // What `check` reads back from a published manifest is what the build recorded.
        let inputs = super::super::trigger::parse_manifest(json.as_bytes(), "u")
            .unwrap()
            .unwrap();
        assert_eq!(inputs.recipe_digest, m.recipe_digest);
        assert_eq!(inputs.archive, m.archive);
    }
}
