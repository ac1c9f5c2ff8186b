//! Fedora Cloud: `releases.json`, then the clear-signed `CHECKSUM` of the release's images
//! directory (docs/upstream-formats.md §5).
//!
//! - Release: the catalog's `release`, else the max numeric `version` among the
//!   `variant: Cloud` qcow2 entries for the arch and subvariant (`"41 Beta"` is skipped
//!   unless named explicitly).
//! - `CHECKSUM` name `Fedora-Cloud-<N>-<build>-<arch>-CHECKSUM`: derived from the build in
//!   the `releases.json` link; when `releases.json` does not list the release, found in
//!   `imagelist-fedora` (the mirror's own file list), newest build numerically.
//! - The `CHECKSUM` is clear-signed with the Fedora <N> key; only the signed text is parsed
//!   when verified. Image names come in three shapes: F39 `Fedora-Cloud-Base-39-1.5.x86_64`,
//!   F40/41 `Fedora-Cloud-Base-Generic.x86_64-40-1.14`, F42+ `Fedora-Cloud-Base-Generic-44-1.7.aarch64`.
//! - Build date: the build id `1.7` has none. It comes from the release's `COMPOSE_ID`
//!   (`Fedora-44-20260415.0`) when published, else from the creation time of the CHECKSUM's
//!   signature (signed metadata, verified unless the policy is `off`).

use serde::Deserialize;

use crate::catalog::Image;
use crate::catalog::raw::FedoraSource;
use crate::lock::HashAlgorithm;
use crate::upstream::checksums::ChecksumFile;
use crate::upstream::distro::{self as d, sigdate};
use crate::upstream::error::DiscoverError;
use crate::upstream::signature::Checked;
use crate::upstream::{Candidate, Fetcher, checksums, version};

pub const RELEASES_URL: &str = "https://fedoraproject.org/releases.json";
pub const PUB: &str = "https://dl.fedoraproject.org/pub/fedora/";

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Release {
    pub version: String,
    pub arch: String,
    pub link: String,
    pub variant: String,
    #[serde(default)]
    pub subvariant: String,
    #[serde(default)]
    pub sha256: Option<String>,
    /// A string in the real file.
    #[serde(default)]
    pub size: Option<serde_json::Value>,
}

/// The image kind in file names for a subvariant.
fn kind(subvariant: &str) -> &str {
    match subvariant {
        "Cloud_Base_UKI" => "UEFI-UKI",
        _ => "Generic",
    }
}

/// The qcow2 entries of `releases.json` for the arch and subvariant.
pub fn cloud_entries(
    url: &str,
    text: &str,
    arch: &str,
    subvariant: &str,
) -> Result<Vec<Release>, DiscoverError> {
    let all: Vec<Release> = serde_json::from_str(text)
        .map_err(|e| DiscoverError::parse(url, e.line(), e.to_string()))?;
    Ok(all
        .into_iter()
        .filter(|r| {
            r.variant == "Cloud"
                && r.arch == arch
                && r.subvariant == subvariant
                && r.link.ends_with(".qcow2")
        })
        .collect())
}

/// The newest numeric release among the entries.
pub fn newest_release(entries: &[Release]) -> Option<String> {
    entries
        .iter()
        .map(|r| r.version.as_str())
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .max_by(|a, b| version::compare(a, b))
        .map(str::to_owned)
}

/// The image-name pattern for a release, arch and subvariant: both arch placements and the
/// pre-F40 name; captures `build`.
pub fn image_pattern(release: &str, arch: &str, subvariant: &str) -> regex::Regex {
    let (n, a, k) = (
        regex::escape(release),
        regex::escape(arch),
        regex::escape(kind(subvariant)),
    );
    let old = if subvariant == "Cloud_Base" {
        format!(r"|^Fedora-Cloud-Base-{n}-(?P<b3>\d+(?:\.\d+)*)\.{a}\.qcow2$")
    } else {
        String::new()
    };
    regex::Regex::new(&format!(
        r"^Fedora-Cloud-Base-{k}\.{a}-{n}-(?P<b1>\d+(?:\.\d+)*)\.qcow2$|^Fedora-Cloud-Base-{k}-{n}-(?P<b2>\d+(?:\.\d+)*)\.{a}\.qcow2${old}"
    ))
    .expect("escaped parts")
}

fn build_of(re: &regex::Regex, name: &str) -> Option<String> {
    let c = re.captures(name)?;
    ["b1", "b2", "b3"]
        .iter()
        .find_map(|g| c.name(g))
        .map(|m| m.as_str().to_owned())
}

/// The `CHECKSUM` file names listed in `imagelist-fedora` for a release and arch, newest
/// build last.
pub fn checksums_in_imagelist(text: &str, release: &str, arch: &str) -> Vec<(String, String)> {
    let re = regex::Regex::new(&format!(
        r"^\./linux/releases/{n}/Cloud/{a}/images/(?P<file>Fedora-Cloud-{n}-(?P<build>\d+(?:\.\d+)*)-{a}-CHECKSUM)$",
        n = regex::escape(release),
        a = regex::escape(arch)
    ))
    .expect("escaped parts");
    let mut out: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let c = re.captures(l.trim_end_matches('\r'))?;
            Some((c["build"].to_owned(), c["file"].to_owned()))
        })
        .collect();
    out.sort_by(|a, b| version::compare(&a.0, &b.0));
    out
}

/// Candidates from the (signed text of the) `CHECKSUM`, oldest first; signature and date
/// are filled in by the caller.
pub fn candidates(
    checksum_url: &str,
    file: &ChecksumFile,
    release: &str,
    arch: &str,
    subvariant: &str,
    build_date: &str,
) -> Result<Vec<Candidate>, DiscoverError> {
    let re = image_pattern(release, arch, subvariant);
    let dir = d::dir_of(checksum_url);
    let mut out = Vec::new();
    for name in file.names() {
        let Some(build) = build_of(&re, name) else {
            continue;
        };
        let digests: Vec<(HashAlgorithm, String)> = file.digests(name).into_iter().collect();
        out.push(Candidate {
            image_checksums: Default::default(),
            version: format!("{release}-{build}"),
            build_date: build_date.to_owned(),
            url: format!("{dir}{name}"),
            size: file.size(name),
            metadata_url: checksum_url.to_owned(),
            checksums: d::checksums(checksum_url, digests)?,
            signature: crate::lock::SignatureStatus::state(crate::lock::SignatureState::Off),
        });
    }
    out.sort_by(|a, b| version::compare(&a.version, &b.version));
    Ok(out)
}

pub async fn discover(
    image: &Image,
    source: &FedoraSource,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    let arch = image.architecture.as_str();
    let releases = fetcher.get(RELEASES_URL).await?;
    let entries = cloud_entries(RELEASES_URL, &releases.text(), arch, &source.subvariant)?;
    let release = match &source.release {
        Some(r) => r.clone(),
        None => newest_release(&entries).ok_or_else(|| {
            DiscoverError::not_found(
                RELEASES_URL,
                format!(
                    "numeric Cloud qcow2 release for {arch} ({})",
                    source.subvariant
                ),
            )
        })?,
    };
    let dir = format!("{PUB}linux/releases/{release}/Cloud/{arch}/images/");
    let image_re = image_pattern(&release, arch, &source.subvariant);
    let listed = entries.iter().find(|e| e.version == release);
    let checksum_name = match listed.and_then(|e| build_of(&image_re, d::file_of(&e.link))) {
        Some(build) => format!("Fedora-Cloud-{release}-{build}-{arch}-CHECKSUM"),
        None => {
            let list_url = format!("{PUB}imagelist-fedora");
            let list = fetcher.get(&list_url).await?;
            checksums_in_imagelist(&list.text(), &release, arch)
                .pop()
                .map(|(_, file)| file)
                .ok_or_else(|| {
                    DiscoverError::not_found(
                        &list_url,
                        format!("Cloud CHECKSUM for Fedora {release} {arch}"),
                    )
                })?
        }
    };
    let checksum_url = format!("{dir}{checksum_name}");
    let raw = fetcher.get(&checksum_url).await?.text();
    let (checked, text) = d::clearsigned(image, &checksum_url, &raw, now)?;
    let file = checksums::parse(&text).map_err(|e| DiscoverError::checksum(&checksum_url, e))?;
    let build_date = build_date(fetcher, &release, &checked, &raw, &checksum_url).await?;
    let signature = checked.status;
    let mut all = candidates(
        &checksum_url,
        &file,
        &release,
        arch,
        &source.subvariant,
        &build_date,
    )?;
    for c in &mut all {
        c.signature = signature.clone();
        // releases.json repeats the digest of the build it links: they must agree.
        if let Some(e) = listed.filter(|e| d::file_of(&e.link) == d::file_of(&c.url))
            && let Some(sha) = e.sha256.as_deref().and_then(|s| {
                d::digest(RELEASES_URL, HashAlgorithm::Sha256, s)
                    .ok()
                    .flatten()
            })
            && c.checksums.get(&HashAlgorithm::Sha256) != Some(&sha)
        {
            return Err(d::invalid(
                &checksum_url,
                format!(
                    "sha256 of {} differs from {RELEASES_URL} ({sha})",
                    d::file_of(&c.url)
                ),
            ));
        }
    }
    let what = format!("{} qcow2 image for {arch}", source.subvariant);
    d::all_admitted(image, all, |c| &c.version, &checksum_url, &what)
}

/// The build date: the release's `COMPOSE_ID` when published, else the creation time of the
/// CHECKSUM signature that was verified.
async fn build_date(
    fetcher: &Fetcher,
    release: &str,
    checked: &Checked,
    raw_checksum: &str,
    checksum_url: &str,
) -> Result<String, DiscoverError> {
    let compose_url = format!("{PUB}linux/releases/{release}/COMPOSE_ID");
    if let Some(id) = fetcher.get_optional(&compose_url).await?
        && let Some(date) = version::build_date(id.text().trim())
    {
        return Ok(date);
    }
    sigdate::cleartext(checked, raw_checksum).ok_or_else(|| {
        d::invalid(
            checksum_url,
            format!("no build date: no COMPOSE_ID at {compose_url} and no signature date"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASES: &str = r#"[
  {"version": "40", "arch": "x86_64", "link": "https://download.fedoraproject.org/pub/fedora/linux/releases/40/Cloud/x86_64/images/Fedora-Cloud-Base-Generic.x86_64-40-1.14.qcow2", "variant": "Cloud", "subvariant": "Cloud_Base", "sha256": "aa", "size": "397475840"},
  {"version": "40", "arch": "x86_64", "link": "https://download.fedoraproject.org/pub/fedora/linux/releases/40/Cloud/x86_64/images/Fedora-Cloud-Base-GCE.x86_64-40-1.14.tar.gz", "variant": "Cloud", "subvariant": "Cloud_Base", "sha256": "bb", "size": "1"},
  {"version": "41 Beta", "arch": "x86_64", "link": "https://x/Fedora-Cloud-Base-Generic-41_Beta-1.2.x86_64.qcow2", "variant": "Cloud", "subvariant": "Cloud_Base"},
  {"version": "9", "arch": "x86_64", "link": "https://x/Fedora-Cloud-Base-9-1.1.x86_64.qcow2", "variant": "Cloud", "subvariant": "Cloud_Base"},
  {"version": "42", "arch": "x86_64", "link": "https://x/Fedora-Server-42.iso", "variant": "Server", "subvariant": "Server"},
  {"version": "40", "arch": "aarch64", "link": "https://x/Fedora-Cloud-Base-Generic.aarch64-40-1.14.qcow2", "variant": "Cloud", "subvariant": "Cloud_Base"}
]"#;

    #[test]
    fn newest_numeric_cloud_release() {
        let e = cloud_entries("r", RELEASES, "x86_64", "Cloud_Base").unwrap();
        assert_eq!(e.len(), 3);
        // 40 > 9 numerically; "41 Beta" is not a release.
        assert_eq!(newest_release(&e).as_deref(), Some("40"));
        assert!(cloud_entries("r", "{", "x86_64", "Cloud_Base").is_err());
    }

    #[test]
    fn both_namings_and_the_old_one() {
        let f40 = image_pattern("40", "x86_64", "Cloud_Base");
        assert_eq!(
            build_of(&f40, "Fedora-Cloud-Base-Generic.x86_64-40-1.14.qcow2").as_deref(),
            Some("1.14")
        );
        assert_eq!(
            build_of(&f40, "Fedora-Cloud-Base-UEFI-UKI.x86_64-40-1.14.qcow2"),
            None
        );
        let f44 = image_pattern("44", "aarch64", "Cloud_Base");
        assert_eq!(
            build_of(&f44, "Fedora-Cloud-Base-Generic-44-1.7.aarch64.qcow2").as_deref(),
            Some("1.7")
        );
        assert_eq!(
            build_of(&f44, "Fedora-Cloud-Base-Generic-44-1.7.x86_64.qcow2"),
            None
        );
        let uki = image_pattern("44", "aarch64", "Cloud_Base_UKI");
        assert_eq!(
            build_of(&uki, "Fedora-Cloud-Base-UEFI-UKI-44-1.7.aarch64.qcow2").as_deref(),
            Some("1.7")
        );
        let f39 = image_pattern("39", "x86_64", "Cloud_Base");
        assert_eq!(
            build_of(&f39, "Fedora-Cloud-Base-39-1.5.x86_64.qcow2").as_deref(),
            Some("1.5")
        );
    }

    #[test]
    fn checksum_candidates_sorted_numerically_by_build() {
        let text = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n\
             # Fedora-Cloud-Base-Generic-44-1.7.aarch64.qcow2: 528154624 bytes\n\
             SHA256 (Fedora-Cloud-Base-Generic-44-1.7.aarch64.qcow2) = {a}\n\
             SHA256 (Fedora-Cloud-Base-Generic-44-1.14.aarch64.qcow2) = {b}\n\
             SHA256 (Fedora-Cloud-Base-UEFI-UKI-44-1.7.aarch64.qcow2) = {c}\n\
             SHA256 (Fedora-Cloud-Base-AmazonEC2-44-1.7.aarch64.raw.xz) = {c}\n\
             -----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n",
            a = "a".repeat(64),
            b = "b".repeat(64),
            c = "c".repeat(64)
        );
        let url = "https://dl.fedoraproject.org/pub/fedora/linux/releases/44/Cloud/aarch64/images/Fedora-Cloud-44-1.7-aarch64-CHECKSUM";
        let file = checksums::parse(&text).unwrap();
        let c = candidates(url, &file, "44", "aarch64", "Cloud_Base", "2026-04-24").unwrap();
        let v: Vec<&str> = c.iter().map(|c| c.version.as_str()).collect();
        assert_eq!(v, ["44-1.7", "44-1.14"]);
        assert_eq!(c[0].size, Some(528154624));
        assert_eq!(
            c[0].url,
            "https://dl.fedoraproject.org/pub/fedora/linux/releases/44/Cloud/aarch64/images/Fedora-Cloud-Base-Generic-44-1.7.aarch64.qcow2"
        );
    }

    #[test]
    fn imagelist_checksums() {
        let list = "./linux/releases/44/Cloud/aarch64/images/Fedora-Cloud-44-1.10-aarch64-CHECKSUM\n\
                    ./linux/releases/44/Cloud/aarch64/images/Fedora-Cloud-44-1.7-aarch64-CHECKSUM\r\n\
                    ./linux/releases/44/Cloud/x86_64/images/Fedora-Cloud-44-1.12-x86_64-CHECKSUM\n\
                    ./linux/releases/4/Cloud/aarch64/images/Fedora-Cloud-4-1.99-aarch64-CHECKSUM\n";
        let found = checksums_in_imagelist(list, "44", "aarch64");
        assert_eq!(
            found.last().unwrap().1,
            "Fedora-Cloud-44-1.10-aarch64-CHECKSUM"
        );
        assert_eq!(found.len(), 2);
    }
}
