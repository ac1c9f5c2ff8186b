//! Ubuntu: Canonical's simplestreams product JSON (docs/upstream-formats.md §1).
//!
//! - Stream: `releases/` (or `daily/`) `streams/v1/com.ubuntu.cloud:{released,daily}:download.json`,
//!   under `minimal/` for the minimal variant.
//! - Product: chosen by its `version` (or `release` codename) and `arch` fields, never by key.
//! - Builds: the version keys (`YYYYMMDD`, `YYYYMMDD.N`), listed in no useful order (plain
//!   keys first, then respins), so they are sorted numerically here.
//! - Item: the catalog's `ftype` (`disk1.img` by default); URL = mirror root (the stream
//!   URL before `streams/v1/`) + `path`; sha256 and md5 inline, size.
//! - Evidence: the release directory's `SHA256SUMS` must list the same sha256, and its
//!   detached `SHA256SUMS.gpg` is verified under the catalog's signature policy.

use crate::catalog::Image;
use crate::catalog::raw::{Channel, UbuntuSource, UbuntuVariant};
use crate::lock::{HashAlgorithm, SignatureStatus};
use crate::upstream::distro::simplestreams::{self, Products};
use crate::upstream::distro::{self as d};
use crate::upstream::error::DiscoverError;
use crate::upstream::{Candidate, Fetcher, checksums, names, version};

const HOST: &str = "https://cloud-images.ubuntu.com/";

/// The stream document for a variant and channel.
pub fn stream_url(variant: UbuntuVariant, channel: Channel) -> String {
    let tree = match variant {
        UbuntuVariant::Server => "",
        UbuntuVariant::Minimal => "minimal/",
    };
    match channel {
        Channel::Release => {
            format!("{HOST}{tree}releases/streams/v1/com.ubuntu.cloud:released:download.json")
        }
        Channel::Daily => {
            format!("{HOST}{tree}daily/streams/v1/com.ubuntu.cloud:daily:download.json")
        }
    }
}

/// The published directory URL of a simplestreams item: the stream's paths go through
/// `server/` symlinks (`releases/server/releases/noble/release-X/…` is `releases/noble/
/// release-X/…`, `daily/server/noble/X/…` is `noble/X/…`). SCS (scs-0104) checks
/// `image_source` against the canonical prefixes `…/releases/<codename>/` and `…/<codename>/`,
/// and the release directory's `SHA256SUMS` is read from there too. Unknown shapes are
/// kept as they are.
pub fn canonical_url(url: &str) -> String {
    let rewrites = [
        ("releases/server/releases/", "releases/"),
        ("minimal/releases/server/releases/", "minimal/releases/"),
        ("daily/server/", ""),
    ];
    for (from, to) in rewrites {
        if let Some(rest) = url.strip_prefix(&format!("{HOST}{from}"))
            && !rest.starts_with("minimal/")
        {
            return format!("{HOST}{to}{rest}");
        }
    }
    url.to_owned()
}

/// Every build of the product for `release` (`24.04` or a codename) and `arch` (Debian
/// name) that has an item of `ftype`, oldest first. Signature fields are left `Off`; the
/// caller fills them in.
pub fn builds(
    stream_url: &str,
    text: &str,
    release: &str,
    arch: &str,
    ftype: &str,
) -> Result<Vec<Candidate>, DiscoverError> {
    let doc = Products::parse(text).map_err(|m| DiscoverError::parse(stream_url, 0, m))?;
    let root = simplestreams::mirror_root(stream_url)
        .ok_or_else(|| d::invalid(stream_url, "stream URL has no streams/v1/ part"))?;
    let products = doc.products_where(|f| {
        f("arch").as_deref() == Some(arch)
            && (f("version").as_deref() == Some(release)
                || f("release").as_deref() == Some(release))
    });
    let product = match products.as_slice() {
        [one] => one,
        [] => {
            return Err(DiscoverError::not_found(
                stream_url,
                format!("product with version {release:?} and arch {arch:?}"),
            ));
        }
        many => {
            return Err(d::invalid(
                stream_url,
                format!(
                    "several products match {release:?}/{arch:?}: {}",
                    many.join(", ")
                ),
            ));
        }
    };
    let serial = regex::Regex::new(r"^\d{8}(\.\d+)?$").expect("static regex");
    let mut found = Vec::new();
    for item in doc.items(product) {
        // Keys that are not serials (none are known) cannot be ordered; they are skipped
        // rather than guessed at.
        if !serial.is_match(&item.serial) {
            continue;
        }
        let ft = item.ftype.as_deref().unwrap_or(&item.key);
        if ft != ftype {
            continue;
        }
        let what = format!("{product} {} {ftype}", item.serial);
        let path = item
            .path
            .as_deref()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| d::invalid(stream_url, format!("{what}: no relative path")))?;
        if !names::admit(stream_url, path, names::Shape::RelativePath) {
            continue;
        }
        let mut pairs = Vec::new();
        match &item.sha256 {
            Some(h) => pairs.push((HashAlgorithm::Sha256, h.clone())),
            None => return Err(d::invalid(stream_url, format!("{what}: no sha256"))),
        }
        if let Some(h) = &item.md5 {
            pairs.push((HashAlgorithm::Md5, h.clone()));
        }
        let checksums = d::checksums(stream_url, pairs)?;
        if !checksums.contains_key(&HashAlgorithm::Sha256) {
            return Err(d::invalid(
                stream_url,
                format!("{what}: placeholder sha256"),
            ));
        }
        found.push(Candidate {
            image_checksums: Default::default(),
            version: item.serial.clone(),
            build_date: d::build_date(stream_url, &item.serial)?,
            url: canonical_url(&format!("{root}{path}")),
            size: item.size.filter(|s| *s > 0),
            metadata_url: stream_url.to_owned(),
            checksums,
            signature: SignatureStatus::state(crate::lock::SignatureState::Off),
        });
    }
    found.sort_by(|a, b| version::compare(&a.version, &b.version));
    Ok(found)
}

pub async fn discover(
    image: &Image,
    source: &UbuntuSource,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    let url = stream_url(source.variant, source.channel);
    let stream = fetcher.get(&url).await?;
    let all = builds(
        &url,
        &stream.text(),
        &source.release,
        image.architecture.debian(),
        &source.ftype,
    )?;
    let what = format!(
        "{} build of {} {}",
        source.ftype,
        source.release,
        image.architecture.debian()
    );
    let date = |c: &Candidate| Some(c.build_date.clone());
    let mut picked = d::for_selection(image, all, |c| &c.version, date, &url, &what, now)?;
    for build in &mut picked {
        build.signature = release_dir_evidence(image, fetcher, build, now).await?;
    }
    Ok(picked)
}

/// Cross-checks the image's sha256 against the release directory's `SHA256SUMS` and
/// verifies `SHA256SUMS.gpg` under the catalog's policy.
async fn release_dir_evidence(
    image: &Image,
    fetcher: &Fetcher,
    build: &Candidate,
    now: jiff::Timestamp,
) -> Result<SignatureStatus, DiscoverError> {
    let dir = d::dir_of(&build.url);
    let sums_url = format!("{dir}SHA256SUMS");
    let Some(sums) = fetcher.get_optional(&sums_url).await? else {
        return d::unsigned(image, &sums_url, now);
    };
    cross_check(&sums_url, &sums.text(), build)?;
    d::detached_signature(image, fetcher, &sums.body, &format!("{sums_url}.gpg"), now).await
}

/// `SHA256SUMS` must list the image with the stream's sha256.
pub fn cross_check(sums_url: &str, text: &str, build: &Candidate) -> Result<(), DiscoverError> {
    let file = checksums::parse(text).map_err(|e| DiscoverError::checksum(sums_url, e))?;
    let name = d::file_of(&build.url);
    let listed = file
        .get_all(name)
        .find(|e| e.algorithm == HashAlgorithm::Sha256)
        .ok_or_else(|| DiscoverError::not_found(sums_url, format!("sha256 line for {name}")))?;
    let stream = &build.checksums[&HashAlgorithm::Sha256];
    if &listed.hex != stream {
        return Err(d::invalid(
            sums_url,
            format!(
                "line {}: sha256 of {name} is {}, but the stream {} says {stream}",
                listed.line, listed.hex, build.metadata_url
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://cloud-images.ubuntu.com/releases/streams/v1/com.ubuntu.cloud:released:download.json";

    fn item(serial: &str, hex: char) -> String {
        let sha: String = std::iter::repeat_n(hex, 64).collect();
        format!(
            r#""{serial}": {{"items": {{"disk1.img": {{"ftype": "disk1.img", "md5": "0123456789abcdef0123456789abcdef",
            "path": "server/releases/noble/release-{serial}/ubuntu-24.04-server-cloudimg-amd64.img", "sha256": "{sha}", "size": 5}},
            "lxd.tar.xz": {{"ftype": "lxd.tar.xz", "path": "x", "sha256": "{sha}", "md5": "0123456789abcdef0123456789abcdef"}}}},
            "label": "release", "pubname": "p"}}"#
        )
    }

    /// Upstream order: plain keys first, then respins (the respins are older).
    fn stream() -> String {
        format!(
            r#"{{"content_id": "com.ubuntu.cloud:released:download", "format": "products:1.0", "products": {{
              "com.ubuntu.cloud:server:24.04:amd64": {{"arch": "amd64", "release": "noble", "version": "24.04",
                "versions": {{{}, {}, {}, {}}}}},
              "com.ubuntu.cloud:server:24.04:arm64": {{"arch": "arm64", "release": "noble", "version": "24.04",
                "versions": {{{}}}}}}}, "updated": "x"}}"#,
            item("20240423", 'a'),
            item("20240821", 'b'),
            item("20240523.1", 'c'),
            item("20240605.1", 'd'),
            item("20240901", 'e'),
        )
    }

    #[test]
    fn newest_is_the_max_serial_not_the_last_listed_respin() {
        let b = builds(URL, &stream(), "24.04", "amd64", "disk1.img").unwrap();
        let versions: Vec<&str> = b.iter().map(|c| c.version.as_str()).collect();
        assert_eq!(
            versions,
            ["20240423", "20240523.1", "20240605.1", "20240821"]
        );
        let newest = b.last().unwrap();
        assert_eq!(newest.build_date, "2024-08-21");
        assert_eq!(
            newest.url,
            "https://cloud-images.ubuntu.com/releases/noble/release-20240821/ubuntu-24.04-server-cloudimg-amd64.img"
        );
        assert_eq!(newest.checksums[&HashAlgorithm::Sha256], "b".repeat(64));
        assert_eq!(
            newest.checksums[&HashAlgorithm::Md5],
            "0123456789abcdef0123456789abcdef"
        );
        assert_eq!(newest.size, Some(5));
        assert_eq!(b[1].build_date, "2024-05-23");
    }

    #[test]
    fn canonical_urls_are_the_published_directories() {
        for (stream, canonical) in [
            (
                "releases/server/releases/noble/release-20240821/f.img",
                "releases/noble/release-20240821/f.img",
            ),
            (
                "minimal/releases/server/releases/noble/release-20240821/f.img",
                "minimal/releases/noble/release-20240821/f.img",
            ),
            ("daily/server/noble/20260705/f.img", "noble/20260705/f.img"),
            (
                "daily/server/minimal/daily/noble/20260705/f.img",
                "daily/server/minimal/daily/noble/20260705/f.img",
            ),
            (
                "releases/noble/release-20240821/f.img",
                "releases/noble/release-20240821/f.img",
            ),
        ] {
            assert_eq!(
                canonical_url(&format!("{HOST}{stream}")),
                format!("{HOST}{canonical}")
            );
        }
    }

    #[test]
    fn product_by_codename_and_arch_fields() {
        let b = builds(URL, &stream(), "noble", "arm64", "disk1.img").unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].version, "20240901");
        let err = builds(URL, &stream(), "22.04", "amd64", "disk1.img").unwrap_err();
        assert!(err.to_string().contains("22.04"), "{err}");
        assert_eq!(
            builds(URL, &stream(), "24.04", "amd64", "vmdk")
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn empty_or_malformed_digest_is_an_error_naming_the_stream() {
        let bad = stream().replacen(&"a".repeat(64), "", 1);
        let err = builds(URL, &bad, "24.04", "amd64", "disk1.img").unwrap_err();
        assert!(
            err.to_string().contains(URL) && err.to_string().contains("empty sha256"),
            "{err}"
        );
        let bad = stream().replacen(&"a".repeat(64), "zz", 1);
        let err = builds(URL, &bad, "24.04", "amd64", "disk1.img").unwrap_err();
        assert!(err.to_string().contains("malformed sha256"), "{err}");
        let err = builds(URL, "<html>", "24.04", "amd64", "disk1.img").unwrap_err();
        assert!(matches!(err, DiscoverError::Parse { .. }), "{err}");
    }

    #[test]
    fn sha256sums_cross_check() {
        let b = builds(URL, &stream(), "24.04", "amd64", "disk1.img").unwrap();
        let newest = b.last().unwrap();
        let good = format!(
            "{} *ubuntu-24.04-server-cloudimg-amd64.img\r\n{} *other.img",
            "b".repeat(64),
            "f".repeat(64)
        );
        cross_check("u", &good, newest).unwrap();
        let bad = good.replacen(&"b".repeat(64), &"c".repeat(64), 1);
        let err = cross_check("u", &bad, newest).unwrap_err();
        assert!(err.to_string().contains("but the stream"), "{err}");
        let missing = format!("{} *other.img\n", "f".repeat(64));
        assert!(matches!(
            cross_check("u", &missing, newest),
            Err(DiscoverError::NotFound { .. })
        ));
    }

    #[test]
    fn stream_urls() {
        assert_eq!(stream_url(UbuntuVariant::Server, Channel::Release), URL);
        assert_eq!(
            stream_url(UbuntuVariant::Minimal, Channel::Daily),
            "https://cloud-images.ubuntu.com/minimal/daily/streams/v1/com.ubuntu.cloud:daily:download.json"
        );
    }
}
