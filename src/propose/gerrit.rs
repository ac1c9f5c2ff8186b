//! Gerrit specifics of `propose`: which Change-Id a proposal carries, and how Gerrit's answer
//! to a push to `refs/for/<base>` is read. Gerrit is not queried: its answers to the push are
//! the only source of truth the bot needs (and all a bot with push rights only can get).

use std::sync::LazyLock;

use regex::Regex;

use super::{Existing, MERGED_LOOKBACK, message};
use crate::git::Repo;

/// What Gerrit made of a push.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Pushed {
    /// A new change or a new patchset.
    Accepted,
    /// The patchset is identical to the change's current one ("no new changes").
    NoNewChanges,
    /// The Change-Id names a change that is closed (abandoned, or merged elsewhere); Gerrit
    /// takes no new patchset for it. `change` is how Gerrit named it (usually its URL).
    Closed { change: String },
}

/// Pushes `commit` to `push_ref` with the proposal's topic and reads Gerrit's verdict.
pub(super) fn push(
    repo: &Repo,
    remote: &str,
    topic: &str,
    commit: git2::Oid,
    push_ref: &str,
) -> anyhow::Result<Pushed> {
    let result = repo.push(
        remote,
        &[format!("--push-option=topic={topic}")],
        &format!("+{commit}:{push_ref}"),
    );
    match result {
        Ok(()) => Ok(Pushed::Accepted),
        Err(e) => {
            let text = format!("{e:#}");
            // OpenDev's proposal scripts treat an identical patchset the same way.
            if text.contains("no new changes") {
                Ok(Pushed::NoNewChanges)
            } else if let Some(change) = closed_change(&text) {
                Ok(Pushed::Closed { change })
            } else {
                Err(e)
            }
        }
    }
}

/// Gerrit's rejection of a patchset for a closed change:
/// `! [remote rejected] HEAD -> refs/for/main (change https://review…/+/1152 closed)`.
fn closed_change(push_output: &str) -> Option<String> {
    static CLOSED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\(change (\S+) closed\)").expect("valid regex"));
    CLOSED.captures(push_output).map(|c| c[1].to_owned())
}

/// The Change-Id for a proposal: the one of the change already proposed for this key (from
/// the remote record or the local branch), unless that change was merged into the base; a
/// new, deterministic one otherwise.
pub(super) fn change_id(
    repo: &Repo,
    base_commit: git2::Oid,
    known: &[Option<&Existing>],
    key: &str,
    digest: &str,
) -> anyhow::Result<String> {
    let known = known
        .iter()
        .flatten()
        .find_map(|e| e.ours.as_ref()?.change_id.clone());
    if let Some(id) = known {
        let needle = format!("{}: {id}", message::CHANGE_ID_TRAILER);
        if !repo.history_mentions(base_commit, &needle, MERGED_LOOKBACK)? {
            return Ok(id);
        }
    }
    Ok(message::mint_change_id(key, digest, None))
}

/// The Change-Id that replaces `closed` for the same proposal: still deterministic (a re-run
/// mints the same one), never equal to the closed change's.
pub(super) fn replacement_change_id(key: &str, digest: &str, closed: &str) -> String {
    message::mint_change_id(key, digest, Some(closed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_gerrits_closed_change_rejection() {
        let porcelain = "To ssh://review.example.org:29418/catalog\n!\tHEAD:refs/for/main\t\
                         [remote rejected] (change https://review.example.org/c/catalog/+/1152 closed)\nDone";
        assert_eq!(
            closed_change(porcelain).as_deref(),
            Some("https://review.example.org/c/catalog/+/1152")
        );
        // Older Gerrit names the change by number URL; other rejections are not "closed".
        assert_eq!(
            closed_change("[remote rejected] (change http://review.example.org/23187 closed)")
                .as_deref(),
            Some("http://review.example.org/23187")
        );
        assert_eq!(closed_change("[remote rejected] (no new changes)"), None);
        assert_eq!(
            closed_change("[remote rejected] (you are not allowed to upload merges)"),
            None
        );
    }

    #[test]
    fn a_replacement_change_id_differs_and_is_stable() {
        let closed = message::mint_change_id("ubuntu-24.04", "sha256:aa", None);
        let next = replacement_change_id("ubuntu-24.04", "sha256:aa", &closed);
        assert_ne!(next, closed);
        assert!(message::is_change_id(&next));
        assert_eq!(
            next,
            replacement_change_id("ubuntu-24.04", "sha256:aa", &closed)
        );
    }
}
