//! Debian: cloud.debian.org build manifests and `SHA512SUMS` (docs/upstream-formats.md §2).
//!
//! - Release channel: `<codename>/latest/debian-<N>-<vendor>-<arch>.json`, a list whose
//!   `Upload` items carry the build id (`cloud.debian.org/version` = `YYYYMMDD-<build>`),
//!   `data.ref` (the DATED, immutable path, even in the `latest/` copy) and a digest
//!   `sha512:<unpadded base64>`. The digest is cross-checked against the dated directory's
//!   `SHA512SUMS`.
//! - Daily channel: `<codename>/daily/` lists `YYYYMMDD-<build>/` directories (sorted here by
//!   date and build number, numerically; `latest/` excluded); the newest directory's
//!   `SHA512SUMS` names `debian-<N>-<vendor>-<arch>-daily-<id>.<format>`.
//! - Debian signs nothing: the signature status is the policy's verdict on "not published".

use base64::Engine as _;
use serde_json::Value;

use crate::catalog::Image;
use crate::catalog::raw::{Channel, DebianSource};
use crate::lock::HashAlgorithm;
use crate::upstream::distro::{self as d};
use crate::upstream::error::DiscoverError;
use crate::upstream::{Candidate, Fetcher, checksums, names, version};

pub const ROOT: &str = "https://cloud.debian.org/images/cloud/";

/// Known codenames; the catalog's `codename` overrides.
pub fn codename(release: &str) -> Option<&'static str> {
    Some(match release {
        "10" => "buster",
        "11" => "bullseye",
        "12" => "bookworm",
        "13" => "trixie",
        "14" => "forky",
        _ => return None,
    })
}

/// The build an `Upload` item of a manifest describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub version: String,
    /// Relative to [`ROOT`]: `bookworm/20250210-2019/debian-12-…-20250210-2019.qcow2`.
    pub reference: String,
    pub sha512: String,
}

/// Finds the `Upload` of `format` for `vendor`/`arch` in a build manifest.
pub fn manifest_upload(
    url: &str,
    text: &str,
    vendor: &str,
    arch: &str,
    format: &str,
) -> Result<Upload, DiscoverError> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| DiscoverError::parse(url, e.line(), e.to_string()))?;
    let items = doc
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| DiscoverError::parse(url, 0, "no \"items\" list"))?;
    let label = |item: &Value, key: &str| -> Option<String> {
        item.pointer("/metadata/labels")
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let upload = items
        .iter()
        .filter(|i| i.get("kind").and_then(Value::as_str) == Some("Upload"))
        .find(|i| {
            label(i, "upload.cloud.debian.org/image-format").as_deref() == Some(format)
                && label(i, "cloud.debian.org/vendor").as_deref() == Some(vendor)
                && label(i, "debian.org/arch").as_deref() == Some(arch)
        })
        .ok_or_else(|| {
            DiscoverError::not_found(
                url,
                format!("Upload of format {format:?} for {vendor}/{arch}"),
            )
        })?;
    let version = label(upload, "cloud.debian.org/version")
        .ok_or_else(|| d::invalid(url, "Upload has no cloud.debian.org/version label"))?;
    let reference = upload
        .pointer("/data/ref")
        .and_then(Value::as_str)
        .ok_or_else(|| d::invalid(url, "Upload has no data.ref"))?
        .to_owned();
    // The one image of the manifest: a path leaving the tree is refused, not skipped.
    names::check(&reference, names::Shape::RelativePath).map_err(|why| {
        d::invalid(
            url,
            format!("data.ref {reference:?} is not a path inside the image tree: {why}"),
        )
    })?;
    if version::is_alias(&reference) || !reference.contains(&version) {
        return Err(d::invalid(
            url,
            format!("data.ref {reference:?} is not the dated path of {version}"),
        ));
    }
    let digest = upload
        .pointer("/metadata/annotations/cloud.debian.org~1digest")
        .and_then(Value::as_str)
        .ok_or_else(|| d::invalid(url, "Upload has no cloud.debian.org/digest"))?;
    Ok(Upload {
        version,
        reference,
        sha512: sha512_hex(url, digest)?,
    })
}

/// Decodes `sha512:<standard base64, padding optional>` to lower-case hex.
pub fn sha512_hex(url: &str, digest: &str) -> Result<String, DiscoverError> {
    let b64 = digest
        .strip_prefix("sha512:")
        .ok_or_else(|| d::invalid(url, format!("digest {digest:?} is not sha512:<base64>")))?;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|e| d::invalid(url, format!("digest {digest:?}: {e}")))?;
    let hex = hex::encode(bytes);
    d::digest(url, HashAlgorithm::Sha512, &hex)?
        .ok_or_else(|| d::invalid(url, "placeholder sha512 digest"))
}

/// The newest `YYYYMMDD-<build>/` directory of a listing (numeric on both parts).
pub fn dated_dirs(names: &[String]) -> Vec<String> {
    let re = regex::Regex::new(r"^(\d{8})-(\d+)/?$").expect("static regex");
    let mut dirs: Vec<String> = names
        .iter()
        .filter(|n| re.is_match(n))
        .map(|n| n.trim_end_matches('/').to_owned())
        .collect();
    dirs.sort_by(|a, b| version::compare(a, b));
    dirs.dedup();
    dirs
}

pub async fn discover(
    image: &Image,
    source: &DebianSource,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    let codename = match &source.codename {
        Some(c) => c.clone(),
        None => codename(&source.release)
            .ok_or_else(|| {
                DiscoverError::not_found(
                    ROOT,
                    format!(
                        "codename for Debian {} (set `codename` in the catalog)",
                        source.release
                    ),
                )
            })?
            .to_owned(),
    };
    let arch = image.architecture.debian();
    match source.channel {
        Channel::Release => Ok(vec![
            release_build(image, source, &codename, arch, fetcher, now).await?,
        ]),
        Channel::Daily => daily_builds(image, source, &codename, arch, fetcher, now).await,
    }
}

async fn release_build(
    image: &Image,
    source: &DebianSource,
    codename: &str,
    arch: &str,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Candidate, DiscoverError> {
    let url = format!(
        "{ROOT}{codename}/latest/debian-{}-{}-{arch}.json",
        source.release, source.vendor
    );
    let manifest = fetcher.get(&url).await?;
    let upload = manifest_upload(&url, &manifest.text(), &source.vendor, arch, &source.format)?;
    let upload = d::newest_admitted(image, vec![upload], |u| &u.version, &url, "build")?;
    let image_url = format!("{ROOT}{}", upload.reference);
    let sums_url = format!("{}SHA512SUMS", d::dir_of(&image_url));
    let sums = fetcher.get(&sums_url).await?;
    let file = checksums::parse(&sums.text()).map_err(|e| DiscoverError::checksum(&sums_url, e))?;
    let name = d::file_of(&image_url).to_owned();
    let name = name.as_str();
    let listed = file
        .get_all(name)
        .find(|e| e.algorithm == HashAlgorithm::Sha512)
        .ok_or_else(|| DiscoverError::not_found(&sums_url, format!("sha512 line for {name}")))?;
    if listed.hex != upload.sha512 {
        return Err(d::invalid(
            &sums_url,
            format!(
                "line {}: sha512 of {name} is {}…, but the manifest {url} says {}…",
                listed.line,
                &listed.hex[..16],
                &upload.sha512[..16]
            ),
        ));
    }
    Ok(Candidate {
        image_checksums: Default::default(),
        build_date: d::build_date(&url, &upload.version)?,
        version: upload.version,
        url: image_url,
        size: file.size(name),
        metadata_url: url.clone(),
        checksums: [(HashAlgorithm::Sha512, upload.sha512)].into(),
        signature: d::unsigned(image, &sums_url, now)?,
    })
}

async fn daily_builds(
    image: &Image,
    source: &DebianSource,
    codename: &str,
    arch: &str,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    let dir_url = format!("{ROOT}{codename}/daily/");
    let page = fetcher.get(&dir_url).await?;
    let names = d::listing_names(&dir_url, &page.text())?;
    let what = "dated daily build directory";
    let ids = d::for_selection(
        image,
        dated_dirs(&names),
        |s| s,
        |s| version::build_date(s),
        &dir_url,
        what,
        now,
    )?;
    let mut out = Vec::new();
    for id in ids {
        out.push(daily_build(image, source, arch, &dir_url, id, fetcher, now).await?);
    }
    Ok(out)
}

async fn daily_build(
    image: &Image,
    source: &DebianSource,
    arch: &str,
    dir_url: &str,
    id: String,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Candidate, DiscoverError> {
    let sums_url = format!("{dir_url}{id}/SHA512SUMS");
    let sums = fetcher.get(&sums_url).await?;
    let file = checksums::parse(&sums.text()).map_err(|e| DiscoverError::checksum(&sums_url, e))?;
    let name = format!(
        "debian-{}-{}-{arch}-daily-{id}.{}",
        source.release, source.vendor, source.format
    );
    let checks = file.digests(&name);
    if checks.is_empty() {
        return Err(DiscoverError::not_found(
            &sums_url,
            format!("line for {name}"),
        ));
    }
    Ok(Candidate {
        image_checksums: Default::default(),
        build_date: d::build_date(&sums_url, &id)?,
        version: id.clone(),
        url: format!("{dir_url}{id}/{name}"),
        size: file.size(&name),
        metadata_url: sums_url.clone(),
        checksums: d::checksums(&sums_url, checks)?,
        signature: d::unsigned(image, &sums_url, now)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sha512:` + unpadded base64 of 64 bytes 0x00..0x3f.
    fn digest() -> (String, String) {
        let bytes: Vec<u8> = (0u8..64).collect();
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes);
        (format!("sha512:{b64}"), hex::encode(bytes))
    }

    fn manifest(digest: &str) -> String {
        format!(
            r#"{{"apiVersion": "v1", "kind": "List", "items": [
  {{"kind": "Build", "data": {{"info": {{"version": "20250210-2019"}}}}, "metadata": {{"labels": {{"cloud.debian.org/version": "20250210-2019"}}}}}},
  {{"kind": "Upload", "data": {{"ref": "bookworm/20250210-2019/debian-12-genericcloud-amd64-20250210-2019.raw"}},
    "metadata": {{"annotations": {{"cloud.debian.org/digest": "sha512:AAAA"}}, "labels": {{"cloud.debian.org/vendor": "genericcloud",
    "cloud.debian.org/version": "20250210-2019", "debian.org/arch": "amd64", "upload.cloud.debian.org/image-format": "raw"}}}}}},
  {{"kind": "Upload", "data": {{"ref": "bookworm/20250210-2019/debian-12-genericcloud-amd64-20250210-2019.qcow2"}},
    "metadata": {{"annotations": {{"cloud.debian.org/digest": "{digest}"}}, "labels": {{"cloud.debian.org/vendor": "genericcloud",
    "cloud.debian.org/version": "20250210-2019", "debian.org/arch": "amd64", "upload.cloud.debian.org/image-format": "qcow2"}}}}}}]}}"#
        )
    }

    #[test]
    fn upload_of_the_format_with_its_dated_ref_and_decoded_digest() {
        let (dg, hex) = digest();
        assert!(!dg.ends_with('='), "fixture must be unpadded");
        let u = manifest_upload("m", &manifest(&dg), "genericcloud", "amd64", "qcow2").unwrap();
        assert_eq!(u.version, "20250210-2019");
        assert_eq!(
            u.reference,
            "bookworm/20250210-2019/debian-12-genericcloud-amd64-20250210-2019.qcow2"
        );
        assert_eq!(u.sha512, hex);
        // Padded base64 is accepted too.
        assert_eq!(sha512_hex("m", &format!("{dg}==")).unwrap(), hex);
    }

    #[test]
    fn wrong_or_missing_things_are_errors_naming_the_url() {
        let (dg, _) = digest();
        let err =
            manifest_upload("m", &manifest(&dg), "genericcloud", "arm64", "qcow2").unwrap_err();
        assert!(matches!(err, DiscoverError::NotFound { .. }), "{err}");
        // A short digest (the raw upload's) is malformed.
        let err = manifest_upload("m", &manifest(&dg), "genericcloud", "amd64", "raw").unwrap_err();
        assert!(err.to_string().starts_with("m: malformed sha512"), "{err}");
        let err = manifest_upload("m", &manifest("sha512:"), "genericcloud", "amd64", "qcow2")
            .unwrap_err();
        assert!(err.to_string().contains("empty sha512"), "{err}");
        let err = manifest_upload("m", "{", "genericcloud", "amd64", "qcow2").unwrap_err();
        assert!(matches!(err, DiscoverError::Parse { .. }), "{err}");
        let latest = manifest(&dg).replace(
            "bookworm/20250210-2019/debian-12-genericcloud-amd64-20250210-2019.qcow2",
            "bookworm/latest/debian-12-genericcloud-amd64.qcow2",
        );
        assert!(manifest_upload("m", &latest, "genericcloud", "amd64", "qcow2").is_err());
        // A reference leaving the image tree is refused, whatever it contains.
        let escaping = manifest(&dg).replace(
            "bookworm/20250210-2019/debian-12-genericcloud-amd64-20250210-2019.qcow2",
            "../../evil/20250210-2019/debian-12-genericcloud-amd64-20250210-2019.qcow2",
        );
        let err = manifest_upload("m", &escaping, "genericcloud", "amd64", "qcow2").unwrap_err();
        assert!(err.to_string().contains("not a path inside"), "{err}");
    }

    #[test]
    fn dated_dirs_sort_numerically_without_latest() {
        let names: Vec<String> = [
            "latest/",
            "20260717-2542/",
            "20260319-999/",
            "20260319-2421/",
            "?C=N;O=D",
            "20260716-10000/",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            dated_dirs(&names),
            [
                "20260319-999",
                "20260319-2421",
                "20260716-10000",
                "20260717-2542"
            ]
        );
    }

    #[test]
    fn codenames() {
        assert_eq!(codename("12"), Some("bookworm"));
        assert_eq!(codename("14"), Some("forky"));
        assert_eq!(codename("99"), None);
    }
}
