//! Flatcar Container Linux: `https://<channel>.release.flatcar-linux.net/<arch>-usr/current/version.txt`,
//! then the release's own, immutable directory `…/<arch>-usr/<FLATCAR_VERSION>/`.
//!
//! - `version.txt` is shell `key=value` (`FLATCAR_VERSION=4230.2.3`, `FLATCAR_BUILD=4230`,
//!   `FLATCAR_BRANCH`, `FLATCAR_PATCH`, `FLATCAR_BUILD_ID="2026-10-02-1733"`, …). `current` is
//!   an alias that moves with every release, so it only names the release: the lockfile URL is
//!   in the versioned directory, whose own `version.txt` must say the same version.
//! - Artifact: `flatcar_production_openstack_image.img.gz` (a gzip-compressed qcow2), with
//!   `<artifact>.DIGESTS`: Gentoo-style sections `# MD5 HASH`, `# SHA1 HASH`, `# SHA512 HASH`,
//!   each followed by `<hex>  <file>` (flatcar/scripts `make_digests`). The sha512 (and a
//!   sha256, if a section has one) of the artifact is locked; md5 and sha1 are ignored.
//! - Signature: `<artifact>.DIGESTS.asc` is the DIGESTS file clear-signed (`gpg --clearsign`),
//!   verified at `check`; the digests are then read from the signed text only.
//! - Build date: the date in `FLATCAR_BUILD_ID` of the versioned `version.txt`; when that is
//!   empty, the date of the verified DIGESTS signature.

use std::collections::BTreeMap;

use crate::catalog::Image;
use crate::catalog::SignatureMode;
use crate::catalog::raw::FlatcarSource;
use crate::lock::HashAlgorithm;
use crate::upstream::distro::{self as d};
use crate::upstream::error::DiscoverError;
use crate::upstream::{Candidate, Fetcher, version};

pub const ARTIFACT: &str = "flatcar_production_openstack_image.img.gz";

/// The channel's host root, e.g. `https://stable.release.flatcar-linux.net/`.
pub fn host(channel: &str) -> String {
    format!("https://{channel}.release.flatcar-linux.net/")
}

/// The `key=value` pairs of a `version.txt` (comments and blank lines skipped, one level of
/// quotes removed). A line that is not `KEY=value` is an error naming it.
pub fn parse_version_txt(url: &str, text: &str) -> Result<BTreeMap<String, String>, DiscoverError> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .filter(|(k, _)| {
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
            .ok_or_else(|| DiscoverError::parse(url, i + 1, format!("not KEY=value: {line:?}")))?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

/// The release a `version.txt` names: `FLATCAR_VERSION` as `<build>.<branch>.<patch>`
/// (numbers), consistent with `FLATCAR_BUILD`/`BRANCH`/`PATCH` where those are given.
pub fn release_of(url: &str, kv: &BTreeMap<String, String>) -> Result<String, DiscoverError> {
    let v = kv
        .get("FLATCAR_VERSION")
        .ok_or_else(|| d::invalid(url, "no FLATCAR_VERSION"))?;
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(d::invalid(
            url,
            format!("FLATCAR_VERSION {v:?} is not <build>.<branch>.<patch>"),
        ));
    }
    for (key, part) in ["FLATCAR_BUILD", "FLATCAR_BRANCH", "FLATCAR_PATCH"]
        .iter()
        .zip(&parts)
    {
        if let Some(given) = kv.get(*key)
            && given != part
        {
            return Err(d::invalid(
                url,
                format!("{key}={given} contradicts FLATCAR_VERSION={v}"),
            ));
        }
    }
    Ok(v.clone())
}

/// The `YYYY-MM-DD` of `FLATCAR_BUILD_ID` (`2026-10-02-1733`), if it has one.
pub fn build_id_date(kv: &BTreeMap<String, String>) -> Option<String> {
    let id = kv.get("FLATCAR_BUILD_ID")?;
    let date = id.get(..10)?;
    version::valid_date(date).then(|| date.to_owned())
}

/// The digests of `file` in a DIGESTS text (pure): per `# <ALG> HASH` section, the lines
/// naming `file`. sha512 and sha256 are kept (validated: a malformed one is an error), md5
/// and sha1 are skipped, a line before any section or in an unknown one is an error.
pub fn parse_digests(
    url: &str,
    text: &str,
    file: &str,
) -> Result<BTreeMap<HashAlgorithm, String>, DiscoverError> {
    let mut section: Option<String> = None;
    let mut out: BTreeMap<HashAlgorithm, String> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r').trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let alg = rest.trim().strip_suffix("HASH").map(str::trim);
            section = Some(
                alg.ok_or_else(|| {
                    DiscoverError::parse(url, i + 1, format!("not a `# <ALG> HASH` line: {line:?}"))
                })?
                .to_ascii_uppercase(),
            );
            continue;
        }
        let Some(sec) = section.as_deref() else {
            return Err(DiscoverError::parse(
                url,
                i + 1,
                "a digest before any `# <ALG> HASH` line",
            ));
        };
        let (hex, name) = line
            .split_once(char::is_whitespace)
            .map(|(h, n)| (h, n.trim_start().trim_start_matches('*')))
            .ok_or_else(|| {
                DiscoverError::parse(url, i + 1, format!("not `<hex>  <file>`: {line:?}"))
            })?;
        let alg = match sec {
            "SHA512" => HashAlgorithm::Sha512,
            "SHA256" => HashAlgorithm::Sha256,
            "MD5" | "SHA1" => continue,
            other => {
                return Err(DiscoverError::parse(
                    url,
                    i + 1,
                    format!("unknown digest section {other:?}"),
                ));
            }
        };
        if name != file {
            continue;
        }
        let Some(hex) = d::digest(url, alg, hex)? else {
            continue;
        };
        if let Some(prev) = out.get(&alg)
            && *prev != hex
        {
            return Err(DiscoverError::parse(
                url,
                i + 1,
                format!("a second, different {alg} for {file}"),
            ));
        }
        out.insert(alg, hex);
    }
    if !out.contains_key(&HashAlgorithm::Sha512) {
        return Err(d::invalid(url, format!("no sha512 digest for {file}")));
    }
    Ok(out)
}

pub async fn discover(
    image: &Image,
    source: &FlatcarSource,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    let root = format!(
        "{}{}-usr/",
        host(source.channel.as_str()),
        image.architecture.debian()
    );
    let current_url = format!("{root}current/version.txt");
    let current = parse_version_txt(&current_url, &fetcher.get(&current_url).await?.text())?;
    let release = release_of(&current_url, &current)?;
    let what = format!("{} {} release", source.channel.as_str(), root);
    let release = d::newest_admitted(image, vec![release], |r| r, &current_url, &what)?;

    // The immutable directory of that release must exist and say the same.
    let dir = format!("{root}{release}/");
    let versioned_url = format!("{dir}version.txt");
    let versioned = parse_version_txt(&versioned_url, &fetcher.get(&versioned_url).await?.text())?;
    let there = release_of(&versioned_url, &versioned)?;
    if there != release {
        return Err(d::invalid(
            &versioned_url,
            format!("says FLATCAR_VERSION={there}, but current/version.txt names {release}"),
        ));
    }

    let url = format!("{dir}{ARTIFACT}");
    let digests_url = format!("{url}.DIGESTS");
    let asc_url = format!("{digests_url}.asc");
    let asc = if image.signature.mode == SignatureMode::Off {
        None
    } else {
        fetcher.get_optional(&asc_url).await?
    };
    let (checked, metadata_url, text) = match asc {
        Some(asc) => {
            let (checked, signed) = d::clearsigned(image, &asc_url, &asc.text(), now)?;
            (checked, asc_url.clone(), signed)
        }
        None => {
            let status = d::unsigned(image, &asc_url, now)?;
            let text = fetcher.get(&digests_url).await?.text();
            (
                crate::upstream::signature::Checked {
                    status,
                    signed_at: None,
                },
                digests_url.clone(),
                text,
            )
        }
    };
    let checksums = parse_digests(&metadata_url, &text, ARTIFACT)?;
    let build_date = build_id_date(&versioned)
        .or_else(|| {
            checked.signed_at.map(|t| {
                jiff::tz::TimeZone::UTC
                    .to_datetime(t)
                    .date()
                    .to_string()
            })
        })
        .ok_or_else(|| {
            d::invalid(
                &versioned_url,
                format!(
                    "no build date for {release}: FLATCAR_BUILD_ID has no date and no verified signature dates the DIGESTS"
                ),
            )
        })?;
    Ok(vec![Candidate {
        version: release,
        build_date,
        url,
        size: None,
        metadata_url,
        checksums,
        signature: checked.status,
        image_checksums: BTreeMap::new(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_txt_names_a_numeric_release() {
        let text = "FLATCAR_BUILD=4230\nFLATCAR_BRANCH=2\nFLATCAR_PATCH=3\nFLATCAR_VERSION=4230.2.3\nFLATCAR_VERSION_ID=4230.2.3\nFLATCAR_BUILD_ID=\"2026-10-02-1733\"\nFLATCAR_SDK_VERSION=4230.1.0\n";
        let kv = parse_version_txt("u", text).unwrap();
        assert_eq!(release_of("u", &kv).unwrap(), "4230.2.3");
        assert_eq!(build_id_date(&kv).as_deref(), Some("2026-10-02"));
        let mut alias = kv.clone();
        alias.insert("FLATCAR_VERSION".into(), "current".into());
        assert!(release_of("u", &alias).is_err());
        let mut wrong = kv.clone();
        wrong.insert("FLATCAR_BUILD".into(), "4231".into());
        assert!(
            release_of("u", &wrong)
                .unwrap_err()
                .to_string()
                .contains("contradicts")
        );
        let mut no_id = kv;
        no_id.insert("FLATCAR_BUILD_ID".into(), String::new());
        assert_eq!(build_id_date(&no_id), None);
        assert!(parse_version_txt("u", "FLATCAR_VERSION 1.2.3\n").is_err());
    }

    #[test]
    fn digests_take_sha512_and_skip_md5_and_sha1() {
        let f = ARTIFACT;
        let text = format!(
            "# MD5 HASH\n{md5}  {f}\n# SHA1 HASH\n{sha1}  {f}\n# SHA512 HASH\n{sha512}  {f}\n{other}  other.img.gz\n",
            md5 = "1".repeat(32),
            sha1 = "2".repeat(40),
            sha512 = "C".repeat(128),
            other = "d".repeat(128),
        );
        let got = parse_digests("u", &text, f).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[&HashAlgorithm::Sha512], "c".repeat(128));
        // A malformed sha512 is refused, not skipped.
        let bad = text.replace(&"C".repeat(128), &"c".repeat(127));
        assert!(parse_digests("u", &bad, f).is_err());
        // Without a sha512 for the artifact: refused.
        let only_md5 = format!("# MD5 HASH\n{}  {f}\n", "1".repeat(32));
        assert!(parse_digests("u", &only_md5, f).is_err());
        assert!(parse_digests("u", &format!("{}  {f}\n", "c".repeat(128)), f).is_err());
    }
}
