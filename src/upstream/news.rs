//! Release lists for `check`'s news: which distributions published a release the catalog does
//! not have yet. Fetched through the same [`Fetcher`] (mirrors, cache, retries) as discovery,
//! and only for distributions the catalog uses. A list that cannot be fetched or parsed is a
//! warning, never a failure of `check`: the lockfiles do not depend on it.

use crate::catalog::{Image, Source};
use crate::scs::news::{self, ReleaseLists};

use super::Fetcher;

const UBUNTU_STREAM: &str =
    "https://cloud-images.ubuntu.com/releases/streams/v1/com.ubuntu.cloud:released:download.json";
const FEDORA_RELEASES: &str = "https://fedoraproject.org/releases.json";
const ALPINE_RELEASES: &str = "https://alpinelinux.org/releases.json";

/// Fetches the release lists of the distributions among `images`; returns them and warnings.
pub async fn fetch_release_lists(
    images: &[&Image],
    fetcher: &Fetcher,
) -> (ReleaseLists, Vec<String>) {
    let uses = |f: fn(&Source) -> bool| images.iter().any(|i| i.enabled && f(&i.source));
    let mut lists = ReleaseLists::default();
    let mut warnings = Vec::new();
    if uses(|s| matches!(s, Source::Ubuntu(_))) {
        lists.ubuntu = get(
            fetcher,
            UBUNTU_STREAM,
            news::parse_ubuntu_streams,
            &mut warnings,
        )
        .await;
    }
    if uses(|s| matches!(s, Source::Fedora(_))) {
        lists.fedora = get(
            fetcher,
            FEDORA_RELEASES,
            news::parse_fedora_releases,
            &mut warnings,
        )
        .await;
    }
    if uses(|s| matches!(s, Source::Alpine(_))) {
        lists.alpine = get(
            fetcher,
            ALPINE_RELEASES,
            news::parse_alpine_releases,
            &mut warnings,
        )
        .await;
    }
    (lists, warnings)
}

async fn get<T>(
    fetcher: &Fetcher,
    url: &str,
    parse: fn(&str) -> Result<T, serde_json::Error>,
    warnings: &mut Vec<String>,
) -> Option<T> {
    match fetcher.get(url).await {
        Ok(f) => match parse(&f.text()) {
            Ok(v) => Some(v),
            Err(e) => {
                warnings.push(format!(
                    "cannot read the release list {url}: {e}; no release news for it"
                ));
                None
            }
        },
        Err(e) => {
            warnings.push(format!(
                "cannot fetch the release list: {e}; no release news for it"
            ));
            None
        }
    }
}
