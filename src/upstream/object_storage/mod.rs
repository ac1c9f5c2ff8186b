//! `object-storage`: images in an S3 bucket or a Swift container.
//!
//! The container is listed through the store's structured listing API ([`listing`]), every
//! page followed; a regular expression over object keys selects the images and captures the
//! version. The digest comes from a sidecar object per image (`<key>.CHECKSUM`, `.sha256`,
//! …) or from a checksum file next to the images (`SHA256SUMS`, optionally with a detached
//! signature such as `SHA256SUMS.asc`). Only checksum objects the listing names are fetched.

pub mod listing;

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, TryStreamExt, stream};

use crate::catalog::Image;
use crate::catalog::SignatureMode;
use crate::catalog::raw::ObjectStorageSource;
use crate::lock::SignatureStatus;
use crate::upstream::generic::{checksum_file_verified, full_match, status_without_signature};
use crate::upstream::{Candidate, DiscoverError, Fetcher, checksums, names, signature, version};
use listing::{Next, Object};

/// Upper bound on listing pages (10 000 pages of 1 000 keys): a store that keeps answering
/// "truncated" is refused instead of looping forever.
const MAX_PAGES: usize = 10_000;
/// Sidecars fetched at once.
const SIDECAR_CONCURRENCY: usize = 4;

/// Every object matching the pattern that has a checksum is a candidate.
pub async fn discover(
    image: &Image,
    source: &ObjectStorageSource,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    // The listing is asked at the URL as written (`…/container`, `https://bucket.host/`);
    // objects live below it.
    let base = source.url.as_str();
    let pattern = full_match(&source.pattern, base)?;
    let objects = list_all(source, base, fetcher).await?;
    let keys: BTreeSet<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    let matched: Vec<(&Object, regex::Captures<'_>)> = objects
        .iter()
        .filter(|o| !version::is_alias(basename(&o.key)))
        .filter(|o| names::admit(base, &o.key, names::Shape::RelativePath))
        .filter_map(|o| pattern.captures(&o.key).map(|c| (o, c)))
        .collect();
    let listing_url = format!(
        "{base}?{}",
        listing::query(source.listing, source.prefix.as_deref(), &Next::Done)
    );
    if matched.is_empty() {
        return Err(DiscoverError::not_found(
            listing_url,
            format!("object matching `{}`", source.pattern),
        ));
    }
    // Where each image's digest comes from: (checksum object key, signature key).
    let mut sources: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut plan = Vec::new();
    let mut without_checksum = Vec::new();
    for (object, caps) in &matched {
        let sums_key = match &source.checksum_file {
            Some(file) => {
                let key = format!("{}{file}", dir_of(&object.key));
                keys.contains(key.as_str()).then_some(key)
            }
            None => source
                .checksum_suffixes
                .iter()
                .map(|suffix| format!("{}{suffix}", object.key))
                .find(|k| keys.contains(k.as_str())),
        };
        let Some(sums_key) = sums_key else {
            without_checksum.push(object.key.clone());
            continue;
        };
        let sig_key = source
            .signature_file
            .as_ref()
            .map(|s| format!("{}{s}", dir_of(&object.key)));
        sources.insert(sums_key.clone(), sig_key);
        plan.push((*object, caps, sums_key));
    }
    if plan.is_empty() {
        return Err(DiscoverError::Invalid {
            url: listing_url,
            message: format!(
                "no checksum object next to {} (looked for {})",
                without_checksum.join(", "),
                match &source.checksum_file {
                    Some(f) => format!("`{f}` in the same directory"),
                    None => format!("suffixes {}", source.checksum_suffixes.join(", ")),
                }
            ),
        });
    }
    let fetched: BTreeMap<String, (SignatureStatus, checksums::ChecksumFile)> =
        stream::iter(sources)
            .map(|(sums_key, sig_key)| async move {
                let sums_url = object_url(base, &sums_key);
                let sig_url = sig_key.map(|k| object_url(base, &k));
                let (status, text) = if source.checksum_file.is_some() {
                    checksum_file_verified(image, fetcher, &sums_url, sig_url.as_deref(), now)
                        .await?
                } else {
                    sidecar(image, fetcher, &sums_url).await?
                };
                let file =
                    checksums::parse(&text).map_err(|e| DiscoverError::checksum(&sums_url, e))?;
                Ok::<_, DiscoverError>((sums_key, (status, file)))
            })
            .buffer_unordered(SIDECAR_CONCURRENCY)
            .try_collect()
            .await?;
    let mut out = Vec::new();
    for (object, caps, sums_key) in plan {
        let (status, file) = &fetched[&sums_key];
        let sums_url = object_url(base, &sums_key);
        let name = basename(&object.key);
        let mut digests = file.digests(name);
        if digests.is_empty() {
            digests = file.digests(&object.key);
        }
        // A sidecar names its one image, or is a bare digest.
        if digests.is_empty()
            && source.checksum_file.is_none()
            && let Some(single) = file.single()
            && (single.name.is_empty() || basename(&single.name) == name)
        {
            digests.insert(single.algorithm, single.hex.clone());
        }
        if digests.is_empty() {
            return Err(DiscoverError::Invalid {
                url: sums_url,
                message: format!("no digest for {name:?}"),
            });
        }
        let ver = caps.name("version").map_or(name, |m| m.as_str()).to_owned();
        let build_date = caps
            .name("date")
            .and_then(|m| version::build_date(m.as_str()))
            .or_else(|| version::build_date(&ver))
            .or_else(|| version::build_date(name))
            .or_else(|| object.modified.clone())
            .ok_or_else(|| DiscoverError::Invalid {
                url: listing_url.clone(),
                message: format!(
                    "no build date for {:?}: no YYYYMMDD in its name and no last-modified in the listing; add a (?P<date>…) capture to the pattern",
                    object.key
                ),
            })?;
        out.push(Candidate {
            image_checksums: Default::default(),
            version: ver,
            build_date,
            url: object_url(base, &object.key),
            size: object.size.or_else(|| file.size(name)),
            metadata_url: sums_url,
            checksums: digests,
            signature: status.clone(),
        });
    }
    Ok(out)
}

/// A sidecar has no signature of its own; `required` cannot be met.
async fn sidecar(
    image: &Image,
    fetcher: &Fetcher,
    url: &str,
) -> Result<(SignatureStatus, String), DiscoverError> {
    if image.signature.mode == SignatureMode::Required {
        return Err(DiscoverError::signature(
            url,
            signature::SignatureError::Missing {
                url: url.to_owned(),
            },
        ));
    }
    let text = fetcher.get(url).await?.text();
    Ok((status_without_signature(image.signature.mode), text))
}

/// Every page of the listing, in order.
async fn list_all(
    source: &ObjectStorageSource,
    base: &str,
    fetcher: &Fetcher,
) -> Result<Vec<Object>, DiscoverError> {
    let mut objects = Vec::new();
    let mut next = Next::Done;
    for _ in 0..MAX_PAGES {
        let url = format!(
            "{base}?{}",
            listing::query(source.listing, source.prefix.as_deref(), &next)
        );
        let body = fetcher.get(&url).await?;
        let page = listing::parse(source.listing, &body.text())
            .map_err(|(line, message)| DiscoverError::parse(&url, line, message))?;
        objects.extend(page.objects);
        let advances = match (&next, &page.next) {
            (_, Next::Done) => return Ok(objects),
            (Next::Marker(old), Next::Marker(new)) => new > old,
            (Next::Token(old), Next::Token(new)) => new != old,
            _ => true,
        };
        if !advances {
            return Err(DiscoverError::Invalid {
                url,
                message: "the listing does not advance (the same page again); the store ignores the marker".into(),
            });
        }
        next = page.next;
    }
    Err(DiscoverError::Invalid {
        url: base.to_owned(),
        message: format!("the listing has more than {MAX_PAGES} pages"),
    })
}

fn basename(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// The key up to and including its last `/` (empty at the top).
fn dir_of(key: &str) -> &str {
    key.rfind('/').map_or("", |i| &key[..=i])
}

/// The URL of an object: each key byte outside RFC 3986's unreserved set (and `/`) is
/// percent-encoded, so keys with spaces or `+` address the object they name.
pub fn object_url(base: &str, key: &str) -> String {
    let mut url = format!("{}/", base.trim_end_matches('/'));
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_urls_encode_keys() {
        assert_eq!(
            object_url("https://s/b/", "d/a b+c.qcow2"),
            "https://s/b/d/a%20b%2Bc.qcow2"
        );
        assert_eq!(dir_of("a/b/c.qcow2"), "a/b/");
        assert_eq!(dir_of("c.qcow2"), "");
        assert_eq!(basename("a/b/c.qcow2"), "c.qcow2");
    }
}
