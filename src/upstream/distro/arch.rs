//! Arch Linux (arch-boxes): the `images/` listing of `v<YYYYMMDD>.<jobid>/` directories and
//! the versioned `.SHA256` in the newest one (docs/upstream-formats.md §10).
//!
//! - Directories are compared on (date, job id) numerically; `latest/` is an alias.
//! - The versioned `.SHA256` names the versioned image; its binary detached
//!   `.SHA256.sig` is verified under the catalog's policy. The image's own `.sig` signs the
//!   image bytes and can only be checked after download (not here).
//! - Only x86_64 is published officially.

use crate::catalog::Architecture;
use crate::catalog::Image;
use crate::catalog::raw::ArchSource;
use crate::upstream::distro::{self as d};
use crate::upstream::error::DiscoverError;
use crate::upstream::{Candidate, Fetcher, checksums, version};

pub const ROOT: &str = "https://geo.mirror.pkgbuild.com/images/";

/// The build ids (`20260715.556894`) of a listing, oldest first.
pub fn build_ids(names: &[String]) -> Vec<String> {
    let re = regex::Regex::new(r"^v(\d{8}\.\d+)/?$").expect("static regex");
    let mut ids: Vec<String> = names
        .iter()
        .filter_map(|n| re.captures(n).map(|c| c[1].to_owned()))
        .collect();
    ids.sort_by(|a, b| version::compare(a, b));
    ids.dedup();
    ids
}

pub async fn discover(
    image: &Image,
    source: &ArchSource,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    if image.architecture != Architecture::X86_64 {
        return Err(DiscoverError::not_found(
            ROOT,
            format!(
                "{} images (arch-boxes builds x86_64 only)",
                image.architecture.as_str()
            ),
        ));
    }
    let names = d::listing_names(ROOT, &fetcher.get(ROOT).await?.text())?;
    let what = "v<YYYYMMDD>.<job> build directory";
    let ids = d::for_selection(
        image,
        build_ids(&names),
        |s| s,
        |s| version::build_date(s),
        ROOT,
        what,
        now,
    )?;
    let mut out = Vec::new();
    for id in ids {
        out.push(build(image, source, fetcher, id, now).await?);
    }
    Ok(out)
}

async fn build(
    image: &Image,
    source: &ArchSource,
    fetcher: &Fetcher,
    id: String,
    now: jiff::Timestamp,
) -> Result<Candidate, DiscoverError> {
    let name = format!("Arch-Linux-x86_64-{}-{id}.qcow2", source.variant);
    let url = format!("{ROOT}v{id}/{name}");
    let sha_url = format!("{url}.SHA256");
    let sums = fetcher.get(&sha_url).await?;
    let file = checksums::parse(&sums.text()).map_err(|e| DiscoverError::checksum(&sha_url, e))?;
    let digests = file.digests(&name);
    if digests.is_empty() {
        return Err(DiscoverError::not_found(
            &sha_url,
            format!("line for {name}"),
        ));
    }
    let checksums = d::checksums(&sha_url, digests)?;
    let signature =
        d::detached_signature(image, fetcher, &sums.body, &format!("{sha_url}.sig"), now).await?;
    Ok(Candidate {
        image_checksums: Default::default(),
        build_date: d::build_date(&sha_url, &id)?,
        version: id,
        url,
        size: None,
        metadata_url: sha_url.clone(),
        checksums,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_compare_numerically() {
        let names: Vec<String> = [
            "latest/",
            "v20260715.99999/",
            "v20260715.100000/",
            "v20260601.539877/",
            "../",
            "v2026.1/",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            build_ids(&names),
            ["20260601.539877", "20260715.99999", "20260715.100000"]
        );
    }
}
