//! Alpine Linux cloud images: `releases.json`, the cloud directory listing and the bare-hex
//! `.sha512` next to each image (docs/upstream-formats.md §9).
//!
//! - Branch: the catalog's `release` (`3.22` → `v3.22`) or `latest_stable`; its newest
//!   `releases[].version` (numeric) bounds the images taken.
//! - Names, both schemes: before 3.24 `<cloud>_alpine-<ver>-<arch>-<firmware>-<bootstrap>-r<rev>.qcow2`,
//!   since 3.24 `alpine-<ver>-<arch>-<bootstrap>-r<rev>.qcow2`. Sorted by (version, rev)
//!   numerically; cloud images are not built for every point release.
//! - Build date: the image's own `<name>.yaml` (`built:`) when present, else the release
//!   date in `releases.json`.
//! - Signatures: `<image>.asc` signs the image bytes, not the `.sha512`, so it cannot be
//!   checked from metadata: when published (and the policy is not `off`) the lockfile says
//!   `checked-on-transfer` with its URL, and `apply` verifies it on the image's stream.

use serde::Deserialize;

use crate::catalog::Image;
use crate::catalog::raw::AlpineSource;
use crate::lock::HashAlgorithm;
use crate::upstream::distro::{self as d};
use crate::upstream::error::DiscoverError;
use crate::upstream::{Candidate, Fetcher, checksums, version};

pub const RELEASES_URL: &str = "https://alpinelinux.org/releases.json";
pub const CDN: &str = "https://dl-cdn.alpinelinux.org/alpine/";

#[derive(Debug, Deserialize)]
struct ReleasesDoc {
    latest_stable: Option<String>,
    #[serde(default)]
    release_branches: Vec<Branch>,
}

#[derive(Debug, Deserialize)]
struct Branch {
    rel_branch: String,
    #[serde(default)]
    releases: Vec<Release>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Release {
    pub version: String,
    #[serde(default)]
    pub date: Option<String>,
}

/// The branch (`v3.23`) and its releases, newest last.
pub fn branch_releases(
    url: &str,
    text: &str,
    release: Option<&str>,
) -> Result<(String, Vec<Release>), DiscoverError> {
    let doc: ReleasesDoc = serde_json::from_str(text)
        .map_err(|e| DiscoverError::parse(url, e.line(), e.to_string()))?;
    let branch = match release {
        Some(r) if r.starts_with('v') => r.to_owned(),
        Some(r) => format!("v{r}"),
        None => doc
            .latest_stable
            .clone()
            .ok_or_else(|| d::invalid(url, "no latest_stable"))?,
    };
    let b = doc
        .release_branches
        .into_iter()
        .find(|b| b.rel_branch == branch)
        .ok_or_else(|| DiscoverError::not_found(url, format!("release branch {branch}")))?;
    let mut releases = b.releases;
    releases.sort_by(|a, b| version::compare(&a.version, &b.version));
    Ok((branch, releases))
}

/// An image in the cloud directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudImage {
    pub name: String,
    pub release: String,
    /// `3.23.4-r0`.
    pub version: String,
}

/// The images of both naming schemes in a listing, oldest first.
pub fn cloud_images(names: &[String], source: &AlpineSource, arch: &str) -> Vec<CloudImage> {
    let (c, a, f, b) = (
        regex::escape(&source.cloud),
        regex::escape(arch),
        regex::escape(&source.firmware),
        regex::escape(&source.bootstrap),
    );
    let re = regex::Regex::new(&format!(
        r"^(?:{c}_alpine-(?P<v1>\d+\.\d+\.\d+)-{a}-{f}-{b}|alpine-(?P<v2>\d+\.\d+\.\d+)-{a}-{b})-r(?P<rev>\d+)\.qcow2$"
    ))
    .expect("escaped parts");
    let mut out: Vec<CloudImage> = names
        .iter()
        .filter_map(|n| {
            let cap = re.captures(n)?;
            let release = cap.name("v1").or(cap.name("v2"))?.as_str().to_owned();
            Some(CloudImage {
                name: n.clone(),
                version: format!("{release}-r{}", &cap["rev"]),
                release,
            })
        })
        .collect();
    out.sort_by(|a, b| version::compare(&a.version, &b.version));
    out.dedup();
    out
}

/// The `built:` date of an image's metadata YAML.
pub fn built_date(yaml: &str) -> Option<String> {
    let re = regex::Regex::new(r#"(?m)^built:\s*['"]?(\d{4}-\d{2}-\d{2})"#).expect("static regex");
    let date = re.captures(yaml)?[1].to_owned();
    version::valid_date(&date).then_some(date)
}

pub async fn discover(
    image: &Image,
    source: &AlpineSource,
    fetcher: &Fetcher,
) -> Result<Vec<Candidate>, DiscoverError> {
    let arch = image.architecture.as_str();
    let text = fetcher.get(RELEASES_URL).await?.text();
    let (branch, releases) = branch_releases(RELEASES_URL, &text, source.release.as_deref())?;
    let newest = releases
        .last()
        .ok_or_else(|| DiscoverError::not_found(RELEASES_URL, format!("release in {branch}")))?
        .version
        .clone();
    let dir = format!("{CDN}{branch}/releases/cloud/");
    let names = d::listing_names(&dir, &fetcher.get(&dir).await?.text())?;
    let mut images = cloud_images(&names, source, arch);
    images.retain(|i| version::compare(&i.release, &newest).is_le());
    let what = format!(
        "{} {arch} {} {} qcow2 image up to {newest}",
        source.cloud, source.firmware, source.bootstrap
    );
    let chosen = d::newest_admitted(image, images, |i| &i.version, &dir, &what)?;

    let url = format!("{dir}{}", chosen.name);
    let sha_url = format!("{url}.sha512");
    let file = checksums::parse(&fetcher.get(&sha_url).await?.text())
        .map_err(|e| DiscoverError::checksum(&sha_url, e))?;
    let entry = file
        .single()
        .filter(|e| e.algorithm == HashAlgorithm::Sha512)
        .ok_or_else(|| d::invalid(&sha_url, "want one bare sha512 digest"))?;
    let checksums = d::checksums(&sha_url, [(HashAlgorithm::Sha512, entry.hex.clone())])?;
    let yaml_url = format!("{dir}{}.yaml", chosen.name.trim_end_matches(".qcow2"));
    let built = match fetcher.get_optional(&yaml_url).await? {
        Some(y) => built_date(&y.text()),
        None => None,
    };
    let build_date = built
        .or_else(|| {
            releases
                .iter()
                .find(|r| r.version == chosen.release)
                .and_then(|r| r.date.clone())
        })
        .filter(|d| version::valid_date(d))
        .ok_or_else(|| {
            d::invalid(
                &yaml_url,
                format!(
                    "no build date for {} (no built: and no release date)",
                    chosen.name
                ),
            )
        })?;
    let signature = d::signed_on_transfer(image, &format!("{url}.asc"), fetcher).await?;
    Ok(vec![Candidate {
        image_checksums: Default::default(),
        version: chosen.version,
        build_date,
        url,
        size: None,
        metadata_url: sha_url.clone(),
        checksums,
        signature,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> AlpineSource {
        AlpineSource {
            release: None,
            firmware: "uefi".into(),
            bootstrap: "cloudinit".into(),
            cloud: "nocloud".into(),
        }
    }

    #[test]
    fn both_namings_sorted_numerically() {
        let names: Vec<String> = [
            "nocloud_alpine-3.23.4-x86_64-uefi-cloudinit-r0.qcow2",
            "nocloud_alpine-3.23.10-x86_64-uefi-cloudinit-r0.qcow2",
            "nocloud_alpine-3.23.4-x86_64-uefi-cloudinit-r1.qcow2",
            "nocloud_alpine-3.23.4-x86_64-bios-cloudinit-r2.qcow2",
            "generic_alpine-3.23.4-x86_64-uefi-cloudinit-r3.qcow2",
            "nocloud_alpine-3.23.4-x86_64-uefi-cloudinit-r1.qcow2.sha512",
            "alpine-3.24.1-x86_64-cloudinit-r0.qcow2",
            "alpine-3.24.1-aarch64-cloudinit-r0.qcow2",
            "alpine-3.24.1-x86_64-tiny-r0.qcow2",
        ]
        .map(String::from)
        .into();
        let v: Vec<String> = cloud_images(&names, &source(), "x86_64")
            .into_iter()
            .map(|i| i.version)
            .collect();
        assert_eq!(v, ["3.23.4-r0", "3.23.4-r1", "3.23.10-r0", "3.24.1-r0"]);
    }

    #[test]
    fn branch_and_release_dates() {
        let text = r#"{"latest_stable": "v3.23", "release_branches": [
            {"rel_branch": "edge"},
            {"rel_branch": "v3.23", "releases": [{"version": "3.23.4", "date": "2026-04-15"}, {"version": "3.23.10", "date": "2026-09-01"}, {"version": "3.23.3"}]},
            {"rel_branch": "v3.22", "releases": [{"version": "3.22.4"}]}]}"#;
        let (b, r) = branch_releases("r", text, None).unwrap();
        assert_eq!(b, "v3.23");
        assert_eq!(r.last().unwrap().version, "3.23.10");
        let (b, r) = branch_releases("r", text, Some("3.22")).unwrap();
        assert_eq!((b.as_str(), r[0].version.as_str()), ("v3.22", "3.22.4"));
        assert!(branch_releases("r", text, Some("3.1")).is_err());
    }

    #[test]
    fn built_from_metadata_yaml() {
        assert_eq!(
            built_date("arch: x86_64\nbuilt: '2026-04-15T10:00:00.000000'\n").as_deref(),
            Some("2026-04-15")
        );
        assert_eq!(built_date("arch: x86_64\n"), None);
    }
}
