//! AlmaLinux, Rocky Linux and CentOS Stream: the images directory's `CHECKSUM`
//! (docs/upstream-formats.md §3, §4, §6).
//!
//! - `CHECKSUM` is GNU style for AlmaLinux, BSD tag style with `# name: N bytes` size
//!   comments for Rocky and CentOS Stream; the one shared parser reads both (duplicates,
//!   CRLF, unsorted lines included).
//! - Names are matched with a regex anchored on the variant, so `GenericCloud` never
//!   matches `GenericCloud-ext4` or CentOS's `GenericCloud-x86_64` family, and `latest`
//!   aliases never match at all (they only share a digest with the newest build).
//! - Sort keys: AlmaLinux and Rocky (minor, date, n); CentOS Stream (date, n); numeric.
//! - `CHECKSUM.asc` (detached, armoured) is verified where the distributor publishes it
//!   (AlmaLinux; Rocky 8 and 10); CentOS Stream signs nothing.
//! - URLs: AlmaLinux and Rocky serve `<major>/` as an alias of the current minor, which
//!   drops a build when the next minor ships; the candidate URL therefore uses the minor
//!   directory named in the file (`9.8/`), as Lima does. CentOS Stream has no minors.

use std::cmp::Ordering;

use crate::catalog::Image;
use crate::catalog::raw::RhelLikeSource;
use crate::lock::{HashAlgorithm, SignatureStatus};
use crate::upstream::checksums::ChecksumFile;
use crate::upstream::distro::{self as d};
use crate::upstream::error::DiscoverError;
use crate::upstream::{Candidate, Fetcher, checksums, version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Alma,
    Rocky,
    CentosStream,
}

impl Family {
    pub fn default_variant(self) -> &'static str {
        match self {
            Family::Alma | Family::CentosStream => "GenericCloud",
            Family::Rocky => "GenericCloud-Base",
        }
    }

    /// The images directory holding `CHECKSUM`.
    pub fn dir(self, major: &str, arch: &str) -> String {
        match self {
            Family::Alma => {
                format!("https://repo.almalinux.org/almalinux/{major}/cloud/{arch}/images/")
            }
            Family::Rocky => {
                format!("https://download.rockylinux.org/pub/rocky/{major}/images/{arch}/")
            }
            Family::CentosStream => {
                format!("https://cloud.centos.org/centos/{major}-stream/{arch}/images/")
            }
        }
    }

    /// Whether the distributor publishes `CHECKSUM.asc` at all.
    pub fn signs(self) -> bool {
        !matches!(self, Family::CentosStream)
    }

    /// The name pattern of dated qcow2 images: captures `minor` (not CentOS), `date`, `n`.
    fn pattern(self, major: &str, variant: &str, arch: &str) -> regex::Regex {
        let (m, v, a) = (
            regex::escape(major),
            regex::escape(variant),
            regex::escape(arch),
        );
        let re = match self {
            Family::Alma => {
                format!(
                    r"^AlmaLinux-{m}-{v}-(?P<minor>{m}\.\d+)-(?P<date>\d{{8}})(?:\.(?P<n>\d+))?\.{a}\.qcow2$"
                )
            }
            Family::Rocky => {
                format!(
                    r"^Rocky-{m}-{v}-(?P<minor>{m}\.\d+)-(?P<date>\d{{8}})\.(?P<n>\d+)\.{a}\.qcow2$"
                )
            }
            Family::CentosStream => {
                format!(r"^CentOS-Stream-{v}-{m}-(?P<date>\d{{8}})\.(?P<n>\d+)\.{a}\.qcow2$")
            }
        };
        regex::Regex::new(&re).expect("escaped parts")
    }
}

/// One dated image found in a `CHECKSUM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub name: String,
    /// `9.8-20260526`, `10.2-20260526.0`, `9.7-20251123.2`, `20260714.1`.
    pub version: String,
    pub minor: Option<String>,
    pub date: String,
    pub n: Option<String>,
}

impl Build {
    fn key_cmp(&self, other: &Self) -> Ordering {
        let minor = |b: &Build| b.minor.clone().unwrap_or_default();
        version::compare(&minor(self), &minor(other))
            .then_with(|| self.date.cmp(&other.date))
            .then_with(|| {
                version::compare(
                    self.n.as_deref().unwrap_or(""),
                    other.n.as_deref().unwrap_or(""),
                )
            })
    }
}

/// The dated builds of `variant` for `arch` listed in a parsed `CHECKSUM`, oldest first.
pub fn builds(
    family: Family,
    file: &ChecksumFile,
    major: &str,
    variant: &str,
    arch: &str,
) -> Vec<Build> {
    let re = family.pattern(major, variant, arch);
    let mut out: Vec<Build> = file
        .names()
        .into_iter()
        .filter(|n| !version::is_alias(n))
        .filter_map(|name| {
            let c = re.captures(name)?;
            let minor = c.name("minor").map(|m| m.as_str().to_owned());
            let date = c["date"].to_owned();
            let n = c.name("n").map(|m| m.as_str().to_owned());
            let stamp = match &n {
                Some(n) => format!("{date}.{n}"),
                None => date.clone(),
            };
            let version = match &minor {
                Some(minor) => format!("{minor}-{stamp}"),
                None => stamp,
            };
            Some(Build {
                name: name.to_owned(),
                version,
                minor,
                date,
                n,
            })
        })
        .collect();
    out.sort_by(Build::key_cmp);
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// The immutable URL of a build (see the module docs for the minor directory).
pub fn image_url(family: Family, dir: &str, major: &str, build: &Build) -> String {
    match (&build.minor, family) {
        (Some(minor), Family::Alma | Family::Rocky) => {
            let from = format!("/{major}/");
            let to = format!("/{minor}/");
            let minor_dir = dir.replacen(&from, &to, 1);
            format!("{minor_dir}{}", build.name)
        }
        _ => format!("{dir}{}", build.name),
    }
}

/// Candidates from a `CHECKSUM` (already parsed), oldest first, all with `signature`.
pub fn candidates(
    family: Family,
    checksum_url: &str,
    file: &ChecksumFile,
    major: &str,
    variant: &str,
    arch: &str,
    signature: &SignatureStatus,
) -> Result<Vec<Candidate>, DiscoverError> {
    let dir = d::dir_of(checksum_url);
    builds(family, file, major, variant, arch)
        .into_iter()
        .map(|b| {
            let digests: Vec<(HashAlgorithm, String)> = file.digests(&b.name).into_iter().collect();
            Ok(Candidate {
                image_checksums: Default::default(),
                build_date: d::build_date(checksum_url, &b.date)?,
                url: image_url(family, dir, major, &b),
                size: file.size(&b.name),
                metadata_url: checksum_url.to_owned(),
                checksums: d::checksums(checksum_url, digests)?,
                signature: signature.clone(),
                version: b.version,
            })
        })
        .collect()
}

pub async fn discover(
    image: &Image,
    family: Family,
    source: &RhelLikeSource,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    let arch = image.architecture.as_str();
    let variant = source
        .variant
        .as_deref()
        .unwrap_or(family.default_variant());
    let dir = family.dir(&source.release, arch);
    let url = format!("{dir}CHECKSUM");
    let fetched = fetcher.get(&url).await?;
    let signature = if family.signs() {
        d::detached_signature(image, fetcher, &fetched.body, &format!("{url}.asc"), now).await?
    } else {
        d::unsigned(image, &url, now)?
    };
    let file = checksums::parse(&fetched.text()).map_err(|e| DiscoverError::checksum(&url, e))?;
    let all = candidates(
        family,
        &url,
        &file,
        &source.release,
        variant,
        arch,
        &signature,
    )?;
    let what = format!("dated {variant} qcow2 image for {arch}");
    d::all_admitted(image, all, |c| &c.version, &url, &what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::SignatureState;

    fn h(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    fn off() -> SignatureStatus {
        SignatureStatus::state(SignatureState::Off)
    }

    fn alma() -> String {
        // GNU style, latest aliases, the ext4 sibling variant, an older minor listed last.
        format!(
            "{a}  AlmaLinux-9-GenericCloud-9.8-20260526.x86_64.qcow2\n\
             {b}  AlmaLinux-9-GenericCloud-ext4-9.8-20260526.x86_64.qcow2\n\
             {b}  AlmaLinux-9-GenericCloud-ext4-latest.x86_64.qcow2\n\
             {a}  AlmaLinux-9-GenericCloud-latest.x86_64.qcow2\n\
             {c}  AlmaLinux-9-GenericCloud-9.10-20250101.x86_64.qcow2\n\
             {d}  AlmaLinux-9-GenericCloud-9.7-20261231.x86_64.qcow2",
            a = h('a'),
            b = h('b'),
            c = h('c'),
            d = h('d')
        )
    }

    #[test]
    fn alma_sorts_by_minor_then_date_and_skips_aliases_and_siblings() {
        let url = "https://repo.almalinux.org/almalinux/9/cloud/x86_64/images/CHECKSUM";
        let file = checksums::parse(&alma()).unwrap();
        let c = candidates(
            Family::Alma,
            url,
            &file,
            "9",
            "GenericCloud",
            "x86_64",
            &off(),
        )
        .unwrap();
        let v: Vec<&str> = c.iter().map(|c| c.version.as_str()).collect();
        // 9.10 > 9.8 numerically, though "9.10" < "9.8" as strings.
        assert_eq!(v, ["9.7-20261231", "9.8-20260526", "9.10-20250101"]);
        let newest = c.last().unwrap();
        assert_eq!(
            newest.url,
            "https://repo.almalinux.org/almalinux/9.10/cloud/x86_64/images/AlmaLinux-9-GenericCloud-9.10-20250101.x86_64.qcow2"
        );
        assert_eq!(newest.build_date, "2025-01-01");
        assert_eq!(newest.checksums[&HashAlgorithm::Sha256], h('c'));
        assert!(c.iter().all(|c| !c.url.contains("latest")));
    }

    #[test]
    fn alma_10_build_suffix() {
        let text = format!(
            "{}  AlmaLinux-10-GenericCloud-10.2-20260526.0.x86_64.qcow2\n{}  AlmaLinux-10-GenericCloud-10.2-20260526.1.x86_64.qcow2\n",
            h('a'),
            h('b')
        );
        let file = checksums::parse(&text).unwrap();
        let b = builds(Family::Alma, &file, "10", "GenericCloud", "x86_64");
        assert_eq!(b.last().unwrap().version, "10.2-20260526.1");
    }

    #[test]
    fn rocky_bsd_with_sizes_duplicates_and_crlf() {
        let text = format!(
            "# Rocky-10-GenericCloud-Base-10.1-20251116.0.aarch64.qcow2: 507248640 bytes\r\n\
             SHA256 (Rocky-10-GenericCloud-Base-10.1-20251116.0.aarch64.qcow2) = {a}\r\n\
             # Rocky-10-GenericCloud-Base-10.1-20251116.0.aarch64.qcow2: 507248640 bytes\r\n\
             SHA256 (Rocky-10-GenericCloud-Base-10.1-20251116.0.aarch64.qcow2) = {a}\r\n\
             SHA256 (Rocky-10-GenericCloud-Base-10.1-20251116.0.aarch64.qcow2.CHECKSUM) = {b}\r\n\
             SHA256 (Rocky-10-GenericCloud-Base-10.0-20250601.12.aarch64.qcow2) = {b}\r\n\
             SHA256 (Rocky-10-GenericCloud-Base-10.0-20250601.9.aarch64.qcow2) = {c}\r\n\
             SHA256 (Rocky-10-GenericCloud-Base.latest.aarch64.qcow2) = {a}",
            a = h('a'),
            b = h('b'),
            c = h('c')
        );
        let url = "https://download.rockylinux.org/pub/rocky/10/images/aarch64/CHECKSUM";
        let file = checksums::parse(&text).unwrap();
        let c = candidates(
            Family::Rocky,
            url,
            &file,
            "10",
            "GenericCloud-Base",
            "aarch64",
            &off(),
        )
        .unwrap();
        let v: Vec<&str> = c.iter().map(|c| c.version.as_str()).collect();
        assert_eq!(
            v,
            ["10.0-20250601.9", "10.0-20250601.12", "10.1-20251116.0"]
        );
        assert_eq!(c[2].size, Some(507248640));
        assert_eq!(
            c[2].url,
            "https://download.rockylinux.org/pub/rocky/10.1/images/aarch64/Rocky-10-GenericCloud-Base-10.1-20251116.0.aarch64.qcow2"
        );
    }

    #[test]
    fn centos_stream_families_are_kept_apart() {
        let text = format!(
            "# CentOS-Stream-GenericCloud-9-20260714.1.x86_64.qcow2: 10 bytes\n\
             SHA256 (CentOS-Stream-GenericCloud-9-20260714.1.x86_64.qcow2) = {a}\n\
             SHA256 (CentOS-Stream-GenericCloud-x86_64-9-20260720.0.x86_64.qcow2) = {b}\n\
             SHA256 (CentOS-Stream-GenericCloud-9-20260714.0.x86_64.qcow2) = {c}\n\
             SHA256 (CentOS-Stream-GenericCloud-9-latest.x86_64.qcow2) = {a}\n",
            a = h('a'),
            b = h('b'),
            c = h('c')
        );
        let url = "https://cloud.centos.org/centos/9-stream/x86_64/images/CHECKSUM";
        let file = checksums::parse(&text).unwrap();
        let c = candidates(
            Family::CentosStream,
            url,
            &file,
            "9",
            "GenericCloud",
            "x86_64",
            &off(),
        )
        .unwrap();
        let v: Vec<&str> = c.iter().map(|c| c.version.as_str()).collect();
        assert_eq!(v, ["20260714.0", "20260714.1"]);
        assert_eq!(
            c[1].url,
            "https://cloud.centos.org/centos/9-stream/x86_64/images/CentOS-Stream-GenericCloud-9-20260714.1.x86_64.qcow2"
        );
        assert_eq!(c[1].size, Some(10));
        let other = candidates(
            Family::CentosStream,
            url,
            &file,
            "9",
            "GenericCloud-x86_64",
            "x86_64",
            &off(),
        )
        .unwrap();
        assert_eq!(other.len(), 1);
        assert_eq!(other[0].version, "20260720.0");
    }
}
