//! The generic source kinds of the catalog: `checksum-dir`, `github-release`, `static`.
//!
//! `checksum-dir`: one checksum file in a directory lists every build; a regular expression
//! over file names selects the image and captures `version` (and optionally `date`). The
//! checksum file may be clear-signed or have a detached signature next to it.
//! `github-release`: the releases API (`GET /repos/{repo}/releases`), asset digests or a
//! checksum asset. `static`: what the catalog says, nothing fetched.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::catalog::raw::{ChecksumDirSource, GithubReleaseSource, StaticSource};
use crate::catalog::{Image, SignatureMode};
use crate::lock::{HashAlgorithm, SignatureState, SignatureStatus};
use crate::upstream::{Candidate, DiscoverError, Fetcher, checksums, names, signature, version};

/// `checksum-dir`: every file of the checksum file matching the pattern is a candidate.
pub async fn checksum_dir(
    image: &Image,
    source: &ChecksumDirSource,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    let dir = if source.url.ends_with('/') {
        source.url.clone()
    } else {
        format!("{}/", source.url)
    };
    let sums_url = format!("{dir}{}", source.checksum_file);
    let pattern = full_match(&source.pattern, &sums_url)?;
    let sig_url = source.signature_file.as_ref().map(|n| format!("{dir}{n}"));
    let (status, signed_text) =
        checksum_file_verified(image, fetcher, &sums_url, sig_url.as_deref(), now).await?;
    let file = checksums::parse(&signed_text).map_err(|e| DiscoverError::checksum(&sums_url, e))?;
    let mut out = Vec::new();
    for name in file.names() {
        if version::is_alias(name) {
            continue;
        }
        // `./a.img` and `a.img` are one file (the checksum parser treats them alike).
        let path = name.strip_prefix("./").unwrap_or(name);
        if !names::admit(&sums_url, path, names::Shape::RelativePath) {
            continue;
        }
        let Some(caps) = pattern.captures(name) else {
            continue;
        };
        let ver = caps.name("version").map_or(name, |m| m.as_str()).to_owned();
        let date_src = caps.name("date").map(|m| m.as_str());
        let build_date = date_src
            .and_then(version::build_date)
            .or_else(|| version::build_date(&ver))
            .or_else(|| version::build_date(name))
            .ok_or_else(|| DiscoverError::Invalid {
                url: sums_url.clone(),
                message: format!(
                    "no build date (YYYYMMDD) in {name:?}; add a (?P<date>…) capture to the pattern"
                ),
            })?;
        out.push(Candidate {
            image_checksums: Default::default(),
            version: ver,
            build_date,
            url: format!("{dir}{path}"),
            size: file.size(name),
            metadata_url: sums_url.clone(),
            checksums: file.digests(name),
            signature: status.clone(),
        });
    }
    if out.is_empty() {
        return Err(DiscoverError::not_found(
            &sums_url,
            format!("file matching `{}`", source.pattern),
        ));
    }
    Ok(out)
}

/// Fetches a checksum file and checks its signature per the image's policy: clear-signed, or
/// a detached signature at `sig_url` (fetched only when the policy looks at it). Returns the
/// verdict and the text to parse (the signed part of a clear-signed file).
pub(crate) async fn checksum_file_verified(
    image: &Image,
    fetcher: &Fetcher,
    sums_url: &str,
    sig_url: Option<&str>,
    now: jiff::Timestamp,
) -> Result<(SignatureStatus, String), DiscoverError> {
    let sums = fetcher.get(sums_url).await?;
    let text = sums.text();
    if signature::is_clearsigned(&text) {
        return signature::verify_clearsigned_policy(
            image.signature.mode,
            &image.signature.keys,
            &text,
            sums_url,
            now,
        )
        .map(|(checked, text)| (checked.status, text))
        .map_err(|e| DiscoverError::signature(sums_url, e));
    }
    let status = match sig_url {
        None if image.signature.mode == SignatureMode::Required => {
            return Err(DiscoverError::signature(
                sums_url,
                signature::SignatureError::Missing {
                    url: sums_url.to_owned(),
                },
            ));
        }
        None => status_without_signature(image.signature.mode),
        Some(sig_url) => {
            let sig = if image.signature.mode == SignatureMode::Off {
                None
            } else {
                fetcher.get_optional(sig_url).await?
            };
            signature::verify_policy(
                image.signature.mode,
                &image.signature.keys,
                &sums.body,
                sig.as_ref().map(|s| s.body.as_ref()),
                sig_url,
                now,
            )
            .map(|checked| checked.status)
            .map_err(|e| DiscoverError::signature(sig_url, e))?
        }
    };
    Ok((status, text))
}

/// `static`: the catalog holds everything; nothing is fetched.
pub fn static_source(
    image: &Image,
    source: &StaticSource,
) -> Result<Vec<Candidate>, DiscoverError> {
    let place = format!("catalog image {} ({})", image.id, image.origin);
    let missing = |field: &str| DiscoverError::Invalid {
        url: place.clone(),
        message: format!("`source.static.{field}` is not set"),
    };
    let url = source.url.clone().ok_or_else(|| missing("url"))?;
    let checksum = source
        .checksum
        .as_deref()
        .ok_or_else(|| missing("checksum"))?;
    let ver = source.version.clone().ok_or_else(|| missing("version"))?;
    let build_date = source
        .build_date
        .clone()
        .ok_or_else(|| missing("build_date"))?;
    let (algorithm, hex) =
        parse_prefixed_digest(checksum).ok_or_else(|| DiscoverError::Invalid {
            url: place.clone(),
            message: format!(
                "`source.static.checksum` is not `sha256:<hex>` or `sha512:<hex>`: {checksum:?}"
            ),
        })?;
    if !version::valid_date(&build_date) {
        return Err(DiscoverError::Invalid {
            url: place,
            message: format!("`source.static.build_date` is not YYYY-MM-DD: {build_date:?}"),
        });
    }
    Ok(vec![Candidate {
        image_checksums: Default::default(),
        version: ver,
        build_date,
        url: url.clone(),
        size: None,
        metadata_url: url,
        checksums: BTreeMap::from([(algorithm, hex)]),
        signature: status_without_signature(image.signature.mode),
    }])
}

#[derive(Debug, Deserialize)]
struct Release {
    tag_name: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
    published_at: Option<String>,
    #[serde(default)]
    assets: Vec<Asset>,
}

#[derive(Debug, Deserialize)]
struct Asset {
    name: String,
    browser_download_url: String,
    size: Option<u64>,
    digest: Option<String>,
}

/// `github-release`: one candidate per (non-draft) release with a matching asset.
pub async fn github_release(
    image: &Image,
    source: &GithubReleaseSource,
    fetcher: &Fetcher,
) -> Result<Vec<Candidate>, DiscoverError> {
    let api = source.api_url.trim_end_matches('/');
    let url = format!("{api}/repos/{}/releases?per_page=30", source.repo);
    let asset_re = full_match(&source.asset, &url)?;
    let checksum_re = source
        .checksum_asset
        .as_deref()
        .map(|p| full_match(p, &url))
        .transpose()?;
    let body = fetcher.get(&url).await?;
    let releases: Vec<Release> = serde_json::from_slice(&body.body).map_err(|e| {
        DiscoverError::parse(&url, e.line(), format!("not a GitHub releases list: {e}"))
    })?;
    let mut out = Vec::new();
    let mut without_digest = Vec::new();
    for release in releases {
        if release.draft || (release.prerelease && !source.prereleases) {
            continue;
        }
        let Some(asset) = release.assets.iter().find(|a| asset_re.is_match(&a.name)) else {
            continue;
        };
        let mut checksums = BTreeMap::new();
        if let Some((alg, hex)) = asset.digest.as_deref().and_then(parse_prefixed_digest) {
            checksums.insert(alg, hex);
        } else if let Some(re) = &checksum_re
            && let Some(sums) = release.assets.iter().find(|a| re.is_match(&a.name))
        {
            let fetched = fetcher.get(&sums.browser_download_url).await?;
            let file = checksums::parse(&fetched.text())
                .map_err(|e| DiscoverError::checksum(&sums.browser_download_url, e))?;
            checksums = file.digests(&asset.name);
            if checksums.is_empty()
                && let Some(single) = file.single().filter(|e| e.name.is_empty())
            {
                checksums.insert(single.algorithm, single.hex.clone());
            }
        }
        if checksums.is_empty() {
            without_digest.push(release.tag_name.clone());
            continue;
        }
        let build_date = version::build_date(&release.tag_name)
            .or_else(|| {
                release
                    .published_at
                    .as_deref()
                    .and_then(|p| p.get(..10))
                    .filter(|d| version::valid_date(d))
                    .map(str::to_owned)
            })
            .ok_or_else(|| DiscoverError::Invalid {
                url: url.clone(),
                message: format!("release {} has no date", release.tag_name),
            })?;
        out.push(Candidate {
            image_checksums: Default::default(),
            version: release.tag_name,
            build_date,
            url: asset.browser_download_url.clone(),
            size: asset.size,
            metadata_url: url.clone(),
            checksums,
            signature: status_without_signature(image.signature.mode),
        });
    }
    if out.is_empty() {
        if !without_digest.is_empty() {
            return Err(DiscoverError::Invalid {
                url,
                message: format!(
                    "releases {} have a matching asset but no digest; set `checksum_asset`",
                    without_digest.join(", ")
                ),
            });
        }
        return Err(DiscoverError::not_found(
            url,
            format!("release with an asset matching `{}`", source.asset),
        ));
    }
    Ok(out)
}

pub(crate) fn status_without_signature(mode: SignatureMode) -> SignatureStatus {
    SignatureStatus::state(if mode == SignatureMode::Off {
        SignatureState::Off
    } else {
        SignatureState::NotPublished
    })
}

/// `sha256:<hex>` / `sha512:<hex>` with the right length.
fn parse_prefixed_digest(s: &str) -> Option<(HashAlgorithm, String)> {
    let (alg, hex) = s.split_once(':')?;
    let alg = HashAlgorithm::parse(alg)?;
    (hex.len() == alg.hex_len() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| (alg, hex.to_ascii_lowercase()))
}

/// Compiles a catalog pattern so that it must match a whole file name.
pub(crate) fn full_match(pattern: &str, url: &str) -> Result<regex::Regex, DiscoverError> {
    regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| DiscoverError::Invalid {
        url: url.to_owned(),
        message: format!("the catalog pattern `{pattern}` is not a valid regular expression: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_digests() {
        let hex = "A".repeat(64);
        assert_eq!(
            parse_prefixed_digest(&format!("sha256:{hex}")),
            Some((HashAlgorithm::Sha256, "a".repeat(64)))
        );
        assert_eq!(parse_prefixed_digest(&format!("sha512:{hex}")), None);
        assert_eq!(parse_prefixed_digest("sha256:"), None);
        assert_eq!(parse_prefixed_digest("nonsense"), None);
    }

    #[test]
    fn patterns_match_whole_names() {
        let re = full_match(r"img-(?P<version>[\d.]+)\.qcow2", "u").unwrap();
        assert!(re.is_match("img-1.2.qcow2"));
        assert!(!re.is_match("img-1.2.qcow2.sig"));
        assert!(full_match("(", "u").is_err());
    }
}
