//! The pure part of `propose`: which lockfiles changed, how they are grouped into proposals,
//! and what to do with each given what the remote already has.

use std::collections::BTreeMap;

use super::*;
use crate::cli::GroupBy;
use crate::lock::{LockChange, LockedImage, format};

/// One changed lockfile: its bytes in the work tree and the lock before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedLock {
    pub file: LockFile,
    pub change: LockChange,
}

/// A problem with one lockfile in the work tree (it cannot be proposed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockProblem {
    pub path: String,
    pub message: String,
}

/// Compares the lockfiles of the base tree with those of the work tree (both: file name →
/// bytes, `*.toml` only) and returns the changed ones, sorted by id. A base lockfile that no
/// longer parses counts as absent; a work tree lockfile that does not parse is a problem.
/// Lockfiles deleted from the work tree are not proposed (`check` never deletes them).
pub fn changed_locks(
    state_rel: &str,
    base: &BTreeMap<String, Vec<u8>>,
    work: &BTreeMap<String, Vec<u8>>,
) -> (Vec<ChangedLock>, Vec<LockProblem>) {
    let mut changed = Vec::new();
    let mut problems = Vec::new();
    for (name, bytes) in work {
        if base.get(name) == Some(bytes) {
            continue;
        }
        let path = join(state_rel, name);
        let id = name.strip_suffix(".toml").unwrap_or(name);
        let new = match parse(id, bytes) {
            Ok(lock) => lock,
            Err(message) => {
                problems.push(LockProblem { path, message });
                continue;
            }
        };
        let old = base.get(name).and_then(|b| parse(id, b).ok());
        // Byte changes that parse to the same lock (hand-formatting) are still proposed as a
        // refresh, so the branch always carries the bytes `check` wrote.
        let change = LockChange::between(old.as_ref(), &new).unwrap_or(LockChange::Refreshed {
            id: new.id.clone(),
            from: new.build.clone(),
            to: new.build.clone(),
        });
        changed.push(ChangedLock {
            file: LockFile {
                path,
                bytes: bytes.clone(),
            },
            change,
        });
    }
    changed.sort_by(|a, b| a.change.id().cmp(b.change.id()));
    (changed, problems)
}

fn parse(id: &str, bytes: &[u8]) -> Result<LockedImage, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
    let lock = format::from_toml(text).map_err(|e| match e {
        format::FormatError::Syntax {
            message,
            line: Some(l),
            column: Some(c),
        } => format!("{l}:{c}: {message}"),
        other => other.to_string(),
    })?;
    if lock.id != id {
        return Err(format!(
            "the file is named for `{id}` but says `id = \"{}\"`",
            lock.id
        ));
    }
    Ok(lock)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// A set of changes proposed together.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The stable identity: the image id, or `all`.
    pub key: String,
    pub locks: Vec<ChangedLock>,
}

/// The key of the single group made by `--group-by all`.
pub const ALL_KEY: &str = "all";

/// Splits changes into proposals.
pub fn group(changed: Vec<ChangedLock>, by: GroupBy) -> Vec<Group> {
    match by {
        GroupBy::Image => changed
            .into_iter()
            .map(|c| Group {
                key: c.change.id().to_owned(),
                locks: vec![c],
            })
            .collect(),
        GroupBy::All if changed.is_empty() => Vec::new(),
        GroupBy::All => vec![Group {
            key: ALL_KEY.to_owned(),
            locks: changed,
        }],
    }
}

impl Group {
    pub fn files(&self) -> Vec<LockFile> {
        self.locks.iter().map(|l| l.file.clone()).collect()
    }

    pub fn changes(&self) -> Vec<LockChange> {
        self.locks.iter().map(|l| l.change.clone()).collect()
    }

    pub fn lock_digest(&self) -> String {
        message::lock_digest(&self.files())
    }

    /// The commit message (with `change_id` in Gerrit mode).
    pub fn message(&self, change_id: Option<&str>) -> String {
        message::message(&self.key, &self.changes(), &self.lock_digest(), change_id)
    }
}

/// What is known about an earlier proposal for a key (from its commit's trailers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub commit: String,
    /// `None` when the commit was not written by this tool for this key.
    pub ours: Option<Ours>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ours {
    pub lock_digest: Option<String>,
    pub change_id: Option<String>,
}

impl Existing {
    /// Reads the identity trailers of an earlier proposal commit.
    pub fn from_message(commit: String, key: &str, msg: &str) -> Existing {
        let t = message::trailers(msg);
        let generated = t
            .get(message::GENERATED_TRAILER)
            .is_some_and(|g| g.split_whitespace().next() == Some(message::GENERATOR));
        let same_key = t.get(message::KEY_TRAILER).map(String::as_str) == Some(key);
        let ours = (generated && same_key).then(|| Ours {
            lock_digest: t.get(message::DIGEST_TRAILER).cloned(),
            change_id: t
                .get(message::CHANGE_ID_TRAILER)
                .filter(|c| message::is_change_id(c))
                .cloned(),
        });
        Existing { commit, ours }
    }
}

/// What to do with one group, given what the remote already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The remote already carries this content.
    AlreadyProposed { commit: String },
    /// A branch under our prefix was written by someone else: leave it alone.
    Foreign { commit: String },
    /// Make (or reuse) a commit and push it; `replaces` is the remote commit it replaces.
    Propose { replaces: Option<String> },
}

/// Decides from the remote's proposal for the key (branch tip, or Gerrit record).
pub fn decide(remote: Option<&Existing>, lock_digest: &str) -> Decision {
    match remote {
        None => Decision::Propose { replaces: None },
        Some(Existing { commit, ours: None }) => Decision::Foreign {
            commit: commit.clone(),
        },
        Some(Existing {
            commit,
            ours: Some(ours),
        }) => {
            if ours.lock_digest.as_deref() == Some(lock_digest) {
                Decision::AlreadyProposed {
                    commit: commit.clone(),
                }
            } else {
                Decision::Propose {
                    replaces: Some(commit.clone()),
                }
            }
        }
    }
}
