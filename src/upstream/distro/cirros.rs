//! CirrOS: `version/released`, the release directory's `MD5SUMS`, and the simplestreams
//! products document (docs/upstream-formats.md §8).
//!
//! - Version: `version/released`; with `series` (`0.6`) and a newer released series, the
//!   newest stream version of the series instead. Versions compare numerically.
//! - Checksums: `MD5SUMS` gives md5 only (weak). The released stream
//!   (`streams/v1/net.cirros-cloud:released:download.json`, fields inherited down the tree)
//!   gives sha256, md5 and size and is preferred; both md5s must agree.
//! - Build date: the version has none; it is the stream's version key (the release tag's
//!   commit date, `YYYYMMDD`). Without a stream entry there is no date and the image fails
//!   with a hint (listing mtimes are not used).
//! - Signatures: the stream is signed only as `.sjson` (key A5DDB840) and `MD5SUMS` not at
//!   all; neither is verified here, so the status is the policy's "not published".

use crate::catalog::Image;
use crate::catalog::raw::CirrosSource;
use crate::lock::HashAlgorithm;
use crate::upstream::distro::simplestreams::Products;
use crate::upstream::distro::{self as d};
use crate::upstream::error::DiscoverError;
use crate::upstream::{Candidate, Fetcher, checksums, names, version};

pub const ROOT: &str = "https://download.cirros-cloud.net/";

pub fn stream_url() -> String {
    format!("{ROOT}streams/v1/net.cirros-cloud:released:download.json")
}

/// A `disk.img` of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDisk {
    pub version: String,
    pub serial: String,
    pub path: String,
    pub sha256: Option<String>,
    pub md5: Option<String>,
    pub size: Option<u64>,
}

/// The `disk.img` items of the stream for an arch, oldest version first.
pub fn stream_disks(url: &str, text: &str, arch: &str) -> Result<Vec<StreamDisk>, DiscoverError> {
    let doc = Products::parse(text).map_err(|m| DiscoverError::parse(url, 0, m))?;
    let mut out = Vec::new();
    for product in doc.products_where(|f| f("arch").as_deref() == Some(arch)) {
        for item in doc.items(&product) {
            if item.ftype.as_deref().unwrap_or(&item.key) != "disk.img" {
                continue;
            }
            let (Some(version), Some(path)) = (item.version, item.path) else {
                return Err(d::invalid(
                    url,
                    format!(
                        "{product} {}: disk.img without version or path",
                        item.serial
                    ),
                ));
            };
            out.push(StreamDisk {
                version,
                serial: item.serial,
                path,
                sha256: item.sha256,
                md5: item.md5,
                size: item.size.filter(|s| *s > 0),
            });
        }
    }
    out.sort_by(|a, b| version::compare(&a.version, &b.version));
    Ok(out)
}

/// Whether a version belongs to a series (`0.6.3` to `0.6`).
pub fn in_series(ver: &str, series: Option<&str>) -> bool {
    series.is_none_or(|s| ver == s || ver.starts_with(&format!("{s}.")))
}

pub fn disk_name(ver: &str, arch: &str) -> String {
    format!("cirros-{ver}-{arch}-disk.img")
}

pub async fn discover(
    image: &Image,
    source: &CirrosSource,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    let arch = image.architecture.as_str();
    let released_url = format!("{ROOT}version/released");
    let released = fetcher.get(&released_url).await?.text().trim().to_owned();
    let valid = regex::Regex::new(r"^\d+\.\d+\.\d+([~-][0-9A-Za-z.~-]+)?$").expect("static regex");
    if !valid.is_match(&released) {
        return Err(DiscoverError::parse(
            &released_url,
            1,
            format!("not a version: {released:?}"),
        ));
    }
    let surl = stream_url();
    let disks = match fetcher.get_optional(&surl).await? {
        Some(body) => stream_disks(&surl, &body.text(), arch)?,
        None => Vec::new(),
    };
    let series = source.series.as_deref();
    let mut versions: Vec<String> = disks
        .iter()
        .map(|s| s.version.clone())
        .chain([released.clone()])
        .collect();
    // Versions become a directory name (`{ROOT}{ver}/`): a stream's must be a plain name.
    versions.retain(|v| {
        in_series(v, series)
            && version::compare(v, &released).is_le()
            && names::admit(&surl, v, names::Shape::FileName)
    });
    versions.sort_by(|a, b| version::compare(a, b));
    versions.dedup();
    let what = match series {
        Some(s) => format!("release in series {s}"),
        None => "release".to_owned(),
    };
    let ver = d::newest_admitted(image, versions, |v| v, &released_url, &what)?;

    let stream = disks.iter().find(|s| s.version == ver);
    let sums_url = format!("{ROOT}{ver}/MD5SUMS");
    let name = disk_name(&ver, arch);
    let md5sums = match fetcher.get_optional(&sums_url).await? {
        Some(body) => {
            let file = checksums::parse(&body.text())
                .map_err(|e| DiscoverError::checksum(&sums_url, e))?;
            file.get_all(&name)
                .find(|e| e.algorithm == HashAlgorithm::Md5)
                .and_then(|e| d::digest(&sums_url, HashAlgorithm::Md5, &e.hex).transpose())
                .transpose()?
        }
        None => None,
    };
    let stream_md5 = match stream.and_then(|s| s.md5.as_deref()) {
        Some(h) => d::digest(&surl, HashAlgorithm::Md5, h)?,
        None => None,
    };
    if let (Some(a), Some(b)) = (&md5sums, &stream_md5)
        && a != b
    {
        return Err(d::invalid(
            &sums_url,
            format!("md5 of {name} is {a}, but {surl} says {b}"),
        ));
    }
    let mut pairs = Vec::new();
    if let Some(h) = stream.and_then(|s| s.sha256.as_deref()) {
        // A placeholder (all zeros) is dropped here; a malformed one is an error.
        if let Some(h) = d::digest(&surl, HashAlgorithm::Sha256, h)? {
            pairs.push((HashAlgorithm::Sha256, h));
        }
    }
    if let Some(h) = md5sums.or(stream_md5) {
        pairs.push((HashAlgorithm::Md5, h));
    }
    let metadata_url = if stream.is_some() {
        surl.clone()
    } else {
        sums_url.clone()
    };
    if pairs.is_empty() {
        return Err(DiscoverError::not_found(
            &metadata_url,
            format!("usable digest of {name} (neither {surl} nor {sums_url} has one)"),
        ));
    }
    let checksums = d::checksums(&metadata_url, pairs)?;
    let serial = stream.map(|s| s.serial.as_str()).ok_or_else(|| {
        d::invalid(
            &surl,
            format!("no stream entry for {ver} {arch}: CirrOS versions carry no build date"),
        )
    })?;
    Ok(vec![Candidate {
        image_checksums: Default::default(),
        build_date: d::build_date(&surl, serial)?,
        url: format!("{ROOT}{ver}/{name}"),
        size: stream.and_then(|s| s.size),
        metadata_url,
        checksums,
        signature: d::unsigned(image, &sums_url, now)?,
        version: ver,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = r#"{"format": "products:1.0", "content_id": "net.cirros-cloud:released:download",
      "products": {"net.cirros-cloud:standard:0.6:x86_64": {"arch": "x86_64", "versions": {
        "20240925": {"version": "0.6.3", "items": {"disk.img": {"ftype": "disk.img", "path": "0.6.3/cirros-0.6.3-x86_64-disk.img",
            "sha256": "7d6355852aeb6dbcd191bcda7cd74f1536cfe5cbf8a10495a7283a8396e4b75b", "md5": "00000000000000000000000000000000", "size": 0}}},
        "20230512": {"version": "0.6.2", "items": {"disk.img": {"ftype": "disk.img", "path": "0.6.2/cirros-0.6.2-x86_64-disk.img",
            "sha256": "07e44a73e54c94d988028515403c1ed762055e01b83a767edf3c2b387f78ce00", "md5": "c8fc807773e5354afe61636071771906", "size": 21430272}}}}},
      "net.cirros-cloud:standard:0.5:x86_64": {"arch": "x86_64", "version": "0.5.10", "versions": {
        "20210101": {"items": {"disk.img": {"ftype": "disk.img", "path": "0.5.10/x", "sha256": "ab"}}}}}}}"#;

    #[test]
    fn stream_disks_with_inherited_version_sorted_numerically() {
        let s = stream_disks("s", STREAM, "x86_64").unwrap();
        let v: Vec<&str> = s.iter().map(|s| s.version.as_str()).collect();
        assert_eq!(v, ["0.5.10", "0.6.2", "0.6.3"]);
        assert_eq!(s[1].size, Some(21430272));
        assert_eq!(s[2].size, None);
        assert!(stream_disks("s", STREAM, "aarch64").unwrap().is_empty());
    }

    #[test]
    fn series() {
        assert!(in_series("0.6.3", Some("0.6")));
        assert!(!in_series("0.60.1", Some("0.6")));
        assert!(in_series("0.5.10", None));
    }
}
