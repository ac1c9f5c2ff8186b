//! Release lists for `check`'s news: which distributions published a release the catalog does
//! not have yet. Fetched through the same [`Fetcher`] (mirrors, cache, retries) as discovery,
//! and only for distributions the catalog uses. A list that cannot be fetched or parsed is a
//! warning, never a failure of `check`: the lockfiles do not depend on it.

use crate::catalog::{Image, Source};
use crate::scs::news::{
    self, ALPINE_RELEASES, FEDORA_RELEASES, Note, NoteCode, NoteSeverity, ReleaseLists,
    UBUNTU_STREAM,
};

use super::Fetcher;

/// Fetches the release lists of the distributions among `images`; returns them and a
/// `release-list-unavailable` warning per list that could not be had.
pub async fn fetch_release_lists(
    images: &[&Image],
    fetcher: &Fetcher,
) -> (ReleaseLists, Vec<Note>) {
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
fn keep<T>(warning: Note, warnings: &mut Vec<Note>) -> Option<T> {
    warnings.push(warning);
    None
}

fn unavailable(url: &str, message: String) -> Note {
    Note {
        severity: NoteSeverity::Warning,
        code: NoteCode::ReleaseListUnavailable,
        image_id: None,
        message,
        hint: Some(
            "no release news for this distribution in this run; the lockfiles do not depend on \
             it (behind a proxy or offline, mirror the list with `--mirror FROM=TO`)"
                .to_owned(),
        ),
        url: Some(url.to_owned()),
    }
}

/// `Ok(None)` when the catalog does not use the distribution; `Err(note)` when its list
/// cannot be fetched or read.
async fn get_if<T>(
    wanted: bool,
    fetcher: &Fetcher,
    url: &str,
    parse: fn(&str) -> Result<T, serde_json::Error>,
) -> Result<Option<T>, Note> {
    if !wanted {
        return Ok(None);
    }
    match fetcher.get(url).await {
        Ok(f) => match parse(&f.text()) {
            Ok(v) => Ok(Some(v)),
            Err(e) => Err(unavailable(
                url,
                format!("cannot read the release list {url}: {e}"),
            )),
        },
        Err(e) => Err(unavailable(
            url,
            format!("cannot fetch the release list: {e}"),
        )),
    }
}
