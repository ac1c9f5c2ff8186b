//! Fedora CoreOS: the stream metadata JSON, `https://builds.coreos.fedoraproject.org/streams/<stream>.json`
//! (`stable`, `testing`, `next`).
//!
//! - Per architecture, `artifacts.openstack` holds the `release` (`43.20251110.3.1`) and
//!   `formats["qcow2.xz"].disk` with `location`, `signature`, `sha256` (of the `.xz`) and
//!   `uncompressed-sha256` (of the qcow2 inside). A stream document names one build per
//!   architecture, the stream's current one.
//! - The location must be the immutable build directory of that release on the builds host
//!   (`…/prod/streams/<stream>/builds/<release>/<arch>/<file>.qcow2.xz`); anything else (an
//!   alias, another host, another stream or release) is refused, not followed.
//! - Build date: the `YYYYMMDD` of the release id (FCOS versions are
//!   `<fedora>.<YYYYMMDD>.<stream id>.<respin>`, the date of the content snapshot).
//! - The lockfile gets `sha256` of the artifact and `uncompressed-sha256` as the image digest,
//!   so `apply` verifies both in its one decompressing pass and `plan` compares the image
//!   digest with Glance's hash of that algorithm.
//! - Signature: `<artifact>.sig` is a detached signature over the compressed artifact (made with
//!   the Fedora key of the release), so like Alpine's `.asc` it is `checked-on-transfer`:
//!   `apply` verifies it on the stream before the image is promoted.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::catalog::Image;
use crate::catalog::raw::FedoraCoreosSource;
use crate::lock::HashAlgorithm;
use crate::upstream::distro::{self as d};
use crate::upstream::error::DiscoverError;
use crate::upstream::{Candidate, Fetcher, names, version};

pub const STREAMS: &str = "https://builds.coreos.fedoraproject.org/streams/";
/// Where the builds of every stream live.
pub const BUILDS: &str = "https://builds.coreos.fedoraproject.org/prod/streams/";
/// The artifact and format taken (what Glance serves to OpenStack).
const PLATFORM: &str = "openstack";
const FORMAT: &str = "qcow2.xz";

#[derive(Debug, Deserialize)]
struct StreamDoc {
    stream: String,
    #[serde(default)]
    architectures: BTreeMap<String, ArchEntry>,
}

#[derive(Debug, Deserialize)]
struct ArchEntry {
    #[serde(default)]
    artifacts: BTreeMap<String, Platform>,
}

#[derive(Debug, Deserialize)]
struct Platform {
    release: String,
    #[serde(default)]
    formats: BTreeMap<String, Format>,
}

#[derive(Debug, Deserialize)]
struct Format {
    disk: Option<Artifact>,
}

#[derive(Debug, Deserialize)]
struct Artifact {
    location: String,
    signature: Option<String>,
    sha256: String,
    #[serde(rename = "uncompressed-sha256")]
    uncompressed_sha256: Option<String>,
}

/// The OpenStack artifact of one architecture in a stream document, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub release: String,
    pub location: String,
    pub signature: Option<String>,
    pub sha256: String,
    pub uncompressed_sha256: Option<String>,
}

/// Whether a release id has the FCOS shape `<fedora>.<YYYYMMDD>.<n>.<n>`.
fn release_shape(release: &str) -> bool {
    let parts: Vec<&str> = release.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[1].len() == 8
}

/// Parses a stream document and returns the `openstack` `qcow2.xz` build of `arch` (pure).
pub fn parse(url: &str, text: &str, stream: &str, arch: &str) -> Result<Build, DiscoverError> {
    let doc: StreamDoc = serde_json::from_str(text)
        .map_err(|e| DiscoverError::parse(url, e.line(), e.to_string()))?;
    if doc.stream != stream {
        return Err(d::invalid(
            url,
            format!(
                "the document is the {:?} stream, not {stream:?}",
                doc.stream
            ),
        ));
    }
    let platform = doc
        .architectures
        .get(arch)
        .ok_or_else(|| DiscoverError::not_found(url, format!("architecture {arch}")))?
        .artifacts
        .get(PLATFORM)
        .ok_or_else(|| DiscoverError::not_found(url, format!("{PLATFORM} artifact for {arch}")))?;
    let disk = platform
        .formats
        .get(FORMAT)
        .and_then(|f| f.disk.as_ref())
        .ok_or_else(|| {
            DiscoverError::not_found(url, format!("{PLATFORM} {FORMAT} disk for {arch}"))
        })?;
    let release = platform.release.clone();
    if !release_shape(&release) {
        return Err(d::invalid(
            url,
            format!("release {release:?} is not <fedora>.<YYYYMMDD>.<n>.<n>"),
        ));
    }
    let dir = format!("{BUILDS}{stream}/builds/{release}/{arch}/");
    let in_build_dir = |what: &str, u: &str| -> Result<(), DiscoverError> {
        let file = u.strip_prefix(&dir).ok_or_else(|| {
            d::invalid(
                url,
                format!("the {what} {u} is not in the build directory {dir}"),
            )
        })?;
        names::check(file, names::Shape::FileName)
            .map_err(|why| d::invalid(url, format!("the {what} {u} is refused: {why}")))?;
        if version::is_alias(file) {
            return Err(d::invalid(
                url,
                format!("the {what} {u} is an alias, not a build"),
            ));
        }
        Ok(())
    };
    in_build_dir("location", &disk.location)?;
    if !disk.location.ends_with(".qcow2.xz") {
        return Err(d::invalid(
            url,
            format!("the {FORMAT} location {} is not a .qcow2.xz", disk.location),
        ));
    }
    if let Some(sig) = &disk.signature {
        in_build_dir("signature", sig)?;
    }
    Ok(Build {
        release,
        location: disk.location.clone(),
        signature: disk.signature.clone(),
        sha256: disk.sha256.clone(),
        uncompressed_sha256: disk.uncompressed_sha256.clone(),
    })
}

pub async fn discover(
    image: &Image,
    source: &FedoraCoreosSource,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    let stream = source.stream.as_str();
    let arch = image.architecture.as_str();
    let url = format!("{STREAMS}{stream}.json");
    let text = fetcher.get(&url).await?.text();
    let build = parse(&url, &text, stream, arch)?;
    let what = format!("{stream} {arch} {PLATFORM} {FORMAT} build");
    let builds = d::for_selection(
        image,
        vec![build],
        |b| &b.release,
        |b| version::build_date(&b.release),
        &url,
        &what,
        now,
    )?;
    let mut out = Vec::new();
    for b in builds {
        let checksums = d::checksums(&url, [(HashAlgorithm::Sha256, b.sha256.clone())])?;
        // The image digest, when published, must be well formed too (a placeholder is none).
        let image_checksums = match &b.uncompressed_sha256 {
            Some(hex) => d::digest(&url, HashAlgorithm::Sha256, hex)?
                .map(|h| BTreeMap::from([(HashAlgorithm::Sha256, h)]))
                .unwrap_or_default(),
            None => BTreeMap::new(),
        };
        let sig_url = b
            .signature
            .clone()
            .unwrap_or_else(|| format!("{}.sig", b.location));
        let signature = d::signed_on_transfer(image, &sig_url, fetcher).await?;
        out.push(Candidate {
            build_date: d::build_date(&url, &b.release)?,
            version: b.release,
            url: b.location,
            size: None,
            metadata_url: url.clone(),
            checksums,
            signature,
            image_checksums,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(location: &str, release: &str) -> String {
        format!(
            r#"{{"stream": "stable", "metadata": {{"last-modified": "2026-11-20T10:00:00Z"}},
            "architectures": {{"x86_64": {{"artifacts": {{"openstack": {{"release": "{release}",
              "formats": {{"qcow2.xz": {{"disk": {{"location": "{location}",
                "signature": "{location}.sig", "sha256": "{a}", "uncompressed-sha256": "{b}"}}}}}}}},
              "qemu": {{"release": "{release}", "formats": {{}}}}}}}}}}}}"#,
            a = "a".repeat(64),
            b = "b".repeat(64)
        )
    }

    const GOOD: &str = "https://builds.coreos.fedoraproject.org/prod/streams/stable/builds/43.20261110.3.1/x86_64/fedora-coreos-43.20261110.3.1-openstack.x86_64.qcow2.xz";

    #[test]
    fn takes_the_openstack_qcow2_xz_of_the_architecture() {
        let b = parse("u", &doc(GOOD, "43.20261110.3.1"), "stable", "x86_64").unwrap();
        assert_eq!(b.release, "43.20261110.3.1");
        assert_eq!(b.location, GOOD);
        assert_eq!(b.signature.as_deref(), Some(&*format!("{GOOD}.sig")));
        assert_eq!(b.uncompressed_sha256, Some("b".repeat(64)));
        assert!(parse("u", &doc(GOOD, "43.20261110.3.1"), "stable", "aarch64").is_err());
        let err = parse("u", &doc(GOOD, "43.20261110.3.1"), "next", "x86_64").unwrap_err();
        assert!(err.to_string().contains("not \"next\""), "{err}");
    }

    #[test]
    fn refuses_locations_outside_the_release_build_directory() {
        let release = "43.20261110.3.1";
        for bad in [
            // another release's directory
            GOOD.replace("builds/43.20261110.3.1/", "builds/43.20261027.3.0/"),
            // an alias
            "https://builds.coreos.fedoraproject.org/prod/streams/stable/builds/43.20261110.3.1/x86_64/fedora-coreos-latest-openstack.x86_64.qcow2.xz".into(),
            // another host
            GOOD.replace("builds.coreos.fedoraproject.org", "evil.example"),
            // a path escaping the directory
            GOOD.replace("x86_64/fedora", "x86_64/../../fedora"),
            // not the compressed qcow2
            GOOD.replace(".qcow2.xz", ".raw.xz"),
        ] {
            assert!(
                parse("u", &doc(&bad, release), "stable", "x86_64").is_err(),
                "{bad}"
            );
        }
        assert!(parse("u", &doc(GOOD, "43.2026.3.1"), "stable", "x86_64").is_err());
        assert!(parse("u", "{", "stable", "x86_64").is_err());
    }
}
