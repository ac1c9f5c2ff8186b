//! openSUSE Leap appliances: the `.sha256` files next to the images, signed by `.sha256.asc`
//! (docs/upstream-formats.md §7).
//!
//! - Names: Leap 15.x `openSUSE-Leap-15.6-Minimal-VM.<arch>-Cloud.qcow2`, Leap 16
//!   `Leap-16.0-Minimal-VM.<arch>-Cloud.qcow2`; versioned siblings
//!   `…<arch>[-15.6.0]-Cloud-Build<X.Y>.qcow2` are the immutable builds.
//! - The unversioned name is a moving alias: its `.sha256` (one or two spaces, and possibly
//!   naming another file, MirrorCache #528) is matched BY HASH against the versioned builds
//!   of the MirrorCache listing (`?jsontable`), newest first. When none matches (the alias
//!   is mid-sync), the newest versioned build is taken: it is immutable and signed. Without
//!   any versioned build there is no immutable URL, which is an error.
//! - `<versioned>.sha256.asc` is verified under the catalog's policy.
//! - Build date: `Build18.7` has none; it is the creation date of the `.sha256.asc`
//!   signature (signed metadata). Listing mtimes are not used; a build without a
//!   signature has no date and fails with a hint.

use crate::catalog::Image;
use crate::catalog::raw::OpensuseSource;
use crate::lock::HashAlgorithm;
use crate::upstream::distro::{self as d, sigdate};
use crate::upstream::error::DiscoverError;
use crate::upstream::{Candidate, Fetcher, checksums, listing, names, version};

pub const ROOT: &str = "https://download.opensuse.org/distribution/leap/";

/// The file-name prefix: `openSUSE-Leap-15.6` before Leap 16, `Leap-16.0` since.
pub fn prefix(release: &str) -> String {
    let major: u32 = release
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major >= 16 {
        format!("Leap-{release}")
    } else {
        format!("openSUSE-Leap-{release}")
    }
}

pub fn unversioned_name(source: &OpensuseSource, arch: &str) -> String {
    format!(
        "{}-{}.{arch}-{}.qcow2",
        prefix(&source.release),
        source.variant,
        source.flavor
    )
}

/// A versioned build in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub name: String,
    /// `16.0-Build18.7`, `15.6.0-Build13.327`.
    pub version: String,
    pub size: Option<u64>,
}

/// The versioned builds of a listing, oldest first (version, then build, numerically).
pub fn builds(source: &OpensuseSource, arch: &str, entries: &[listing::Entry]) -> Vec<Build> {
    let re = regex::Regex::new(&format!(
        r"^{p}-{v}\.{a}(?:-(?P<ver>\d+(?:\.\d+)*))?-{f}-Build(?P<build>\d+(?:\.\d+)*)\.qcow2$",
        p = regex::escape(&prefix(&source.release)),
        v = regex::escape(&source.variant),
        a = regex::escape(arch),
        f = regex::escape(&source.flavor),
    ))
    .expect("escaped parts");
    let mut out: Vec<Build> = entries
        .iter()
        .filter(|e| !e.dir)
        .filter_map(|e| {
            let c = re.captures(&e.name)?;
            let ver = c
                .name("ver")
                .map_or(source.release.as_str(), |m| m.as_str());
            Some(Build {
                name: e.name.clone(),
                version: format!("{ver}-Build{}", &c["build"]),
                size: e.size,
            })
        })
        .collect();
    out.sort_by(|a, b| version::compare(&a.version, &b.version));
    out
}

/// The one sha256 of a `.sha256` file (its name is not trusted).
pub fn sha256_of(url: &str, text: &str) -> Result<String, DiscoverError> {
    let file = checksums::parse(text).map_err(|e| DiscoverError::checksum(url, e))?;
    let entry = file
        .single()
        .filter(|e| e.algorithm == HashAlgorithm::Sha256)
        .ok_or_else(|| d::invalid(url, "want exactly one sha256 line"))?;
    d::digest(url, HashAlgorithm::Sha256, &entry.hex)?
        .ok_or_else(|| d::invalid(url, "placeholder sha256"))
}

pub async fn discover(
    image: &Image,
    source: &OpensuseSource,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    let arch = image.architecture.as_str();
    let dir = format!("{ROOT}{}/appliances/", source.release);
    let alias_url = format!("{dir}{}.sha256", unversioned_name(source, arch));
    let alias_hash = sha256_of(&alias_url, &fetcher.get(&alias_url).await?.text())?;

    let listing_url = format!("{dir}?jsontable");
    let entries = match fetcher.get_optional(&listing_url).await? {
        Some(body) => {
            listing::parse(&body.text()).map_err(|m| DiscoverError::parse(&listing_url, 0, m))?
        }
        None => Vec::new(),
    };
    let entries: Vec<listing::Entry> = entries
        .into_iter()
        .filter(|e| names::admit(&listing_url, &e.name, names::Shape::FileName))
        .collect();
    let all = builds(source, arch, &entries);
    let total = all.len();
    let admit = d::admitter(image);
    let mut admitted: Vec<Build> = all.into_iter().filter(|b| admit(&b.version)).collect();
    if admitted.is_empty() {
        return Err(DiscoverError::not_found(
            &listing_url,
            format!(
                "versioned -Build<X.Y> image for {} ({total} listed); the unversioned name is not immutable",
                unversioned_name(source, arch)
            ),
        ));
    }
    // Newest first, map the alias's hash to its versioned build; a handful of fetches at most.
    let mut chosen: Option<(Build, String, String, bytes::Bytes)> = None;
    for build in admitted.iter().rev().take(5) {
        let url = format!("{dir}{}.sha256", build.name);
        let Some(body) = fetcher.get_optional(&url).await? else {
            continue;
        };
        let hash = sha256_of(&url, &body.text())?;
        let matches = hash == alias_hash;
        if chosen.is_none() || matches {
            chosen = Some((build.clone(), url, hash, body.body));
        }
        if matches {
            break;
        }
    }
    let (build, sums_url, hash, sums) = match chosen {
        Some(c) => c,
        None => {
            let newest = admitted.pop().expect("not empty");
            let url = format!("{dir}{}.sha256", newest.name);
            return Err(DiscoverError::not_found(
                url,
                "published .sha256 for the versioned builds",
            ));
        }
    };
    let asc_url = format!("{sums_url}.asc");
    let asc = fetcher.get_optional(&asc_url).await?;
    let checked = d::signature_policy(
        image,
        &sums,
        asc.as_ref().map(|a| a.body.as_ref()),
        &asc_url,
        now,
    )?;
    let build_date = asc
        .as_ref()
        .and_then(|a| sigdate::detached(&checked, &a.body))
        .ok_or_else(|| {
            d::invalid(
                &asc_url,
                format!(
                    "no build date for {}: Build ids carry none and no signature date is published",
                    build.name
                ),
            )
        })?;
    Ok(vec![Candidate {
        image_checksums: Default::default(),
        version: build.version.clone(),
        build_date,
        url: format!("{dir}{}", build.name),
        size: build.size,
        metadata_url: sums_url.clone(),
        checksums: [(HashAlgorithm::Sha256, hash)].into(),
        signature: checked.status,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(release: &str) -> OpensuseSource {
        OpensuseSource {
            release: release.into(),
            variant: "Minimal-VM".into(),
            flavor: "Cloud".into(),
        }
    }

    fn entry(name: &str) -> listing::Entry {
        listing::Entry {
            name: name.into(),
            dir: false,
            size: Some(7),
        }
    }

    #[test]
    fn both_namings() {
        assert_eq!(
            unversioned_name(&source("15.6"), "x86_64"),
            "openSUSE-Leap-15.6-Minimal-VM.x86_64-Cloud.qcow2"
        );
        assert_eq!(
            unversioned_name(&source("16.0"), "aarch64"),
            "Leap-16.0-Minimal-VM.aarch64-Cloud.qcow2"
        );
    }

    #[test]
    fn versioned_builds_sorted_numerically() {
        let e = [
            entry("Leap-16.0-Minimal-VM.aarch64-Cloud-Build18.7.qcow2"),
            entry("Leap-16.0-Minimal-VM.aarch64-Cloud-Build18.12.qcow2"),
            entry("Leap-16.0-Minimal-VM.aarch64-Cloud-Build18.7.qcow2.sha256"),
            entry("Leap-16.0-Minimal-VM.aarch64-Cloud.qcow2"),
            entry("Leap-16.0-Minimal-VM.x86_64-Cloud-Build19.1.qcow2"),
        ];
        let b = builds(&source("16.0"), "aarch64", &e);
        let v: Vec<&str> = b.iter().map(|b| b.version.as_str()).collect();
        assert_eq!(v, ["16.0-Build18.7", "16.0-Build18.12"]);
        let e15 = [entry(
            "openSUSE-Leap-15.6-Minimal-VM.aarch64-15.6.0-Cloud-Build13.327.qcow2",
        )];
        assert_eq!(
            builds(&source("15.6"), "aarch64", &e15)[0].version,
            "15.6.0-Build13.327"
        );
    }

    #[test]
    fn sha256_with_one_or_two_spaces_and_any_name() {
        let h = "ab".repeat(32);
        assert_eq!(
            sha256_of("u", &format!("{h} other-name.qcow2\n")).unwrap(),
            h
        );
        assert_eq!(sha256_of("u", &format!("{h}  x.qcow2")).unwrap(), h);
        assert!(sha256_of("u", &format!("{h}  a\n{}  b\n", "cd".repeat(32))).is_err());
        assert!(sha256_of("u", "").is_err());
    }
}
