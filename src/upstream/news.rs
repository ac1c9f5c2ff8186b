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
    // The three lists are independent: fetch them at once.
    let (ubuntu, fedora, alpine) = tokio::join!(
        get_if(
            uses(|s| matches!(s, Source::Ubuntu(_))),
            fetcher,
            UBUNTU_STREAM,
            news::parse_ubuntu_streams,
        ),
        get_if(
            uses(|s| matches!(s, Source::Fedora(_))),
            fetcher,
            FEDORA_RELEASES,
            news::parse_fedora_releases,
        ),
        get_if(
            uses(|s| matches!(s, Source::Alpine(_))),
            fetcher,
            ALPINE_RELEASES,
            news::parse_alpine_releases,
        ),
    );
    let mut warnings = Vec::new();
    let lists = ReleaseLists {
        ubuntu: ubuntu.unwrap_or_else(|w| keep(w, &mut warnings)),
        fedora: fedora.unwrap_or_else(|w| keep(w, &mut warnings)),
        alpine: alpine.unwrap_or_else(|w| keep(w, &mut warnings)),
    };
    (lists, warnings)
}

/// A warning kept; the list is absent.
fn keep<T>(warning: String, warnings: &mut Vec<String>) -> Option<T> {
    warnings.push(warning);
    None
}

/// `Ok(None)` when the catalog does not use the distribution; `Err(warning)` when its list
/// cannot be fetched or read.
async fn get_if<T>(
    wanted: bool,
    fetcher: &Fetcher,
    url: &str,
    parse: fn(&str) -> Result<T, serde_json::Error>,
) -> Result<Option<T>, String> {
    if !wanted {
        return Ok(None);
    }
    match fetcher.get(url).await {
        Ok(f) => match parse(&f.text()) {
            Ok(v) => Ok(Some(v)),
            Err(e) => Err(format!(
                "cannot read the release list {url}: {e}; no release news for it"
            )),
        },
        Err(e) => Err(format!(
            "cannot fetch the release list: {e}; no release news for it"
        )),
    }
}
