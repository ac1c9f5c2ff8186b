//! PROPOSE: turns changed lockfiles in `state/` into reviewable commits, one per image (or one
//! for all), on stable branches (`image-bump/<key>`) or as Gerrit changes.
//!
//! The pure part ([`changed_locks`], [`group`], [`decide`], [`message`]) works on bytes and
//! values; [`run`] is the shell that reads the work tree and talks to git through
//! [`crate::git`].
//!
//! Invariants:
//! - only lockfiles (`<state>/*.toml`) are ever committed; anything else that is dirty is
//!   refused unless `--allow-dirty` names it, and it is still never committed;
//! - the user's checkout, index and HEAD are never touched (commits are built from the base
//!   tree plus blobs);
//! - identity: a proposal is the branch `<prefix><key>` (Gerrit: topic `image-bump/<key>` and
//!   a reused Change-Id); its content is the `Lock-Digest` trailer. An equal digest on the
//!   remote means "already proposed" and nothing is pushed; a different one replaces the
//!   proposal (force-push with lease, or a new Gerrit patchset) instead of opening another;
//! - a remote branch under our prefix whose tip was not written by this tool (a human pushed
//!   to it) is never overwritten.

mod changes;
mod gerrit;

pub mod message;
mod report;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::GroupBy;
use crate::error::ResultExt as _;
use crate::exit::ExitStatus;
use crate::git::{FileContent, Repo};
pub use changes::*;
pub use message::LockFile;
pub use report::*;

/// The local refs that remember the last Gerrit proposal per key (`refs/image-crawler/<key>`).
pub const RECORD_PREFIX: &str = "refs/image-crawler/";
/// How far back in the base branch to look for a merged Change-Id.
const MERGED_LOOKBACK: usize = 2000;

/// What `propose` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub state_dir: PathBuf,
    pub group_by: GroupBy,
    pub remote: String,
    pub base: Option<String>,
    pub branch_prefix: String,
    pub push: bool,
    pub gerrit: bool,
    pub allow_dirty: Vec<PathBuf>,
}

/// Runs `propose`: finds changed lockfiles, refuses a dirty tree, commits and (optionally)
/// pushes each group. Errors that concern one group are reported in it; errors that concern
/// the whole run (no repository, dirty tree, broken lockfile) are returned.
pub fn run(opts: &Options) -> anyhow::Result<Report> {
    let repo = Repo::discover(&opts.state_dir)?;
    let state_rel = repo.relative(&opts.state_dir)?;
    let base = match &opts.base {
        Some(b) => b.clone(),
        None => repo.current_branch().ok_or_else(|| {
            crate::error::hinted(
                "HEAD is not on a branch, so there is no base branch for the proposals",
                "pass --base BRANCH (e.g. --base main)",
            )
        })?,
    };
    // The local branch, else the remote-tracking one (CI clones may only have the latter).
    let base_commit = repo
        .ref_target(&format!("refs/heads/{base}"))?
        .or(repo.ref_target(&format!("refs/remotes/{}/{base}", opts.remote))?)
        .ok_or_else(|| {
            crate::error::hinted(
                format!("the base branch `{base}` does not exist"),
                "pass --base with an existing branch",
            )
        })
        .exit_status(ExitStatus::Invalid)?;

    let work = read_work_locks(&opts.state_dir)?;
    let base_files: BTreeMap<String, Vec<u8>> = repo
        .files_at(base_commit, &state_rel)?
        .into_iter()
        .filter(|(name, _)| name.ends_with(".toml"))
        .collect();
    let (changed, problems) = changed_locks(&state_rel, &base_files, &work);
    if !problems.is_empty() {
        let list: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect();
        return Err(crate::error::refuse(
            ExitStatus::Invalid,
            format!("cannot propose broken lockfiles:\n  {}", list.join("\n  ")),
            "run `image-crawler check` to rewrite them, or `image-crawler validate` for details",
        ));
    }
    refuse_dirty(&repo, &changed, &opts.allow_dirty)?;

    let mut report = Report {
        base: base.clone(),
        base_commit: base_commit.to_string(),
        mode: if opts.gerrit { "gerrit" } else { "branch" },
        remote: opts.remote.clone(),
        pushed: opts.push,
        proposals: Vec::new(),
    };
    let groups = group(changed, opts.group_by);
    if groups.is_empty() {
        return Ok(report);
    }
    if opts.push {
        if !repo.has_remote(&opts.remote) {
            return Err(crate::error::hinted(
                format!("there is no git remote `{}`", opts.remote),
                "pass --remote NAME, or add it with `git remote add`",
            ));
        }
        // Refresh what the remote has under our prefix, pruning deleted proposal branches.
        let spec = format!(
            "+refs/heads/{p}*:refs/remotes/{r}/{p}*",
            p = opts.branch_prefix,
            r = opts.remote
        );
        repo.fetch(&opts.remote, &[spec], true)
            .exit_status(ExitStatus::TempFail)?;
        if opts.gerrit {
            // The proposal records the remote keeps (see `store_record`); no pruning, so a
            // local record survives when the remote does not keep them.
            let spec = format!("+{RECORD_PREFIX}*:{RECORD_PREFIX}*");
            repo.fetch(&opts.remote, &[spec], false)
                .exit_status(ExitStatus::TempFail)?;
        }
    }
    let identity = repo.identity()?;
    for g in &groups {
        report
            .proposals
            .push(propose_group(&repo, opts, &base, base_commit, &identity, g));
    }
    Ok(report)
}

/// Reads `<state>/*.toml` from the work tree: name → bytes.
fn read_work_locks(state_dir: &Path) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let entries = match std::fs::read_dir(state_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read `{}`", state_dir.display()));
        }
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".toml") || !entry.file_type()?.is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path())
            .with_context(|| format!("cannot read `{}`", entry.path().display()))?;
        out.insert(name, bytes);
    }
    Ok(out)
}

/// Refuses (exit 5) when paths other than the changed lockfiles are dirty and not listed in
/// `--allow-dirty`: the lockfiles may have been made from uncommitted catalog edits, which a
/// proposal based on the base branch would silently leave out.
fn refuse_dirty(repo: &Repo, changed: &[ChangedLock], allow: &[PathBuf]) -> anyhow::Result<()> {
    let allowed: Vec<String> = allow
        .iter()
        .map(|p| repo.relative(p))
        .collect::<anyhow::Result<_>>()?;
    let dirty = repo.dirty_paths()?;
    let offending = dirty_outside(&dirty, changed, &allowed);
    if offending.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = offending.iter().take(20).map(String::as_str).collect();
    let more = offending.len().saturating_sub(shown.len());
    let mut list = shown.join("\n  ");
    if more > 0 {
        list.push_str(&format!("\n  … and {more} more"));
    }
    Err(crate::error::refuse(
        ExitStatus::Refused,
        format!("the work tree has changes outside the lockfiles:\n  {list}"),
        "commit or stash them first, or pass `--allow-dirty PATH` for each one to leave out of \
         the proposals (they are never committed)",
    ))
}

/// The dirty paths that are neither a changed lockfile nor under an allowed path.
pub fn dirty_outside(dirty: &[String], changed: &[ChangedLock], allowed: &[String]) -> Vec<String> {
    dirty
        .iter()
        .filter(|d| !changed.iter().any(|c| &c.file.path == *d))
        .filter(|d| {
            !allowed.iter().any(|a| {
                a.is_empty() || *d == a || d.starts_with(&format!("{}/", a.trim_end_matches('/')))
            })
        })
        .cloned()
        .collect()
}

fn propose_group(
    repo: &Repo,
    opts: &Options,
    base: &str,
    base_commit: git2::Oid,
    identity: &crate::git::Identity,
    g: &Group,
) -> ProposalReport {
    let branch = format!("{}{}", opts.branch_prefix, g.key);
    let topic = opts.gerrit.then(|| format!("image-bump/{}", g.key));
    let push_ref = if opts.gerrit {
        format!("refs/for/{base}")
    } else {
        format!("refs/heads/{branch}")
    };
    let digest = g.lock_digest();
    let mut rep = ProposalReport {
        key: g.key.clone(),
        images: g.locks.iter().map(|l| l.change.id().to_owned()).collect(),
        branch: branch.clone(),
        push_ref: push_ref.clone(),
        topic: topic.clone(),
        outcome: Outcome::Failed,
        commit: None,
        subject: message::subject(&g.changes()),
        lock_digest: digest.clone(),
        change_id: None,
        changes: g.changes(),
        reason: None,
        warning: None,
        transient: false,
    };
    match propose_group_inner(repo, opts, base_commit, identity, g, &branch, &mut rep) {
        Ok(()) => {}
        Err(e) => {
            let status = crate::error::exit_status(&e);
            rep.outcome = if status == ExitStatus::Refused {
                Outcome::Refused
            } else {
                Outcome::Failed
            };
            rep.transient = status == ExitStatus::TempFail;
            rep.reason = Some(crate::error::render(&e).trim_end().to_owned());
        }
    }
    rep
}

/// Keeps the proposal record on the remote too (`refs/image-crawler/<key>`), so the next run in
/// a fresh clone (every Zuul run) finds the open change's Change-Id without a Gerrit query.
/// Needs push rights on `refs/image-crawler/*`; without them this is a warning, and the local
/// record still works for runs from the same clone.
fn store_record(repo: &Repo, remote: &str, record_ref: &str, commit: git2::Oid) -> Option<String> {
    repo.push(remote, &[], &format!("+{commit}:{record_ref}"))
        .err()
        .map(|e| {
            format!(
                "could not store the proposal record `{record_ref}` on `{remote}` ({}); a run \
                 from a fresh clone will open a new change instead of updating this one \
                 (grant the bot push on refs/image-crawler/*)",
                e.root_cause()
            )
        })
}

fn read_existing(repo: &Repo, refname: &str, key: &str) -> anyhow::Result<Option<Existing>> {
    Ok(match repo.ref_target(refname)? {
        Some(oid) => Some(Existing::from_message(
            oid.to_string(),
            key,
            &repo.message(oid)?,
        )),
        None => None,
    })
}

fn propose_group_inner(
    repo: &Repo,
    opts: &Options,
    base_commit: git2::Oid,
    identity: &crate::git::Identity,
    g: &Group,
    branch: &str,
    rep: &mut ProposalReport,
) -> anyhow::Result<()> {
    let digest = &rep.lock_digest.clone();
    let subject = rep.subject.clone();
    let local_ref = format!("refs/heads/{branch}");
    let tracking_ref = format!("refs/remotes/{}/{branch}", opts.remote);
    let record_ref = format!("{RECORD_PREFIX}{}", g.key);
    let local = read_existing(repo, &local_ref, &g.key)?;
    if let Some(Existing { commit, ours: None }) = &local {
        return Err(crate::error::refuse(
            ExitStatus::Refused,
            format!(
                "the local branch `{branch}` ({}) was not written by image-crawler; leaving it alone",
                short(commit)
            ),
            "rename or delete that branch, or use another --branch-prefix",
        ));
    }

    // What the remote (or, without --push, the local branch) already has for this key.
    let published = if !opts.push {
        local.clone()
    } else if opts.gerrit {
        // Without a Gerrit query, the last pushed proposal is known from our own record or a
        // mirrored proposal branch (see docs/propose.md).
        match read_existing(repo, &record_ref, &g.key)? {
            Some(e) => Some(e),
            None => read_existing(repo, &tracking_ref, &g.key)?,
        }
    } else {
        read_existing(repo, &tracking_ref, &g.key)?
    };

    let replaces = match decide(published.as_ref(), digest) {
        Decision::AlreadyProposed { commit } => {
            rep.outcome = Outcome::AlreadyProposed;
            rep.change_id = published
                .as_ref()
                .and_then(|p| p.ours.as_ref())
                .and_then(|o| o.change_id.clone());
            rep.commit = Some(commit);
            return Ok(());
        }
        Decision::Foreign { commit } => {
            return Err(crate::error::refuse(
                ExitStatus::Refused,
                format!(
                    "`{}` ({}) was not written by image-crawler for `{}`; leaving it alone",
                    if opts.push { &tracking_ref } else { &local_ref },
                    short(&commit),
                    g.key
                ),
                "someone pushed to the proposal branch: merge or delete it, or use another \
                 --branch-prefix",
            ));
        }
        Decision::Propose { replaces } => replaces,
    };

    // Gerrit: reuse the open change's Change-Id; mint one only when there is none, or when
    // the change it came from has been merged into the base (or Gerrit says it is closed).
    let mut change_id = if opts.gerrit {
        Some(gerrit::change_id(
            repo,
            base_commit,
            &[published.as_ref(), local.as_ref()],
            &g.key,
            digest,
        )?)
    } else {
        None
    };
    // The proposal commit for a Change-Id (made again if Gerrit closed the first one).
    let commit_for = |id: Option<&str>| {
        proposal_commit(repo, base_commit, g, &local_ref, id, identity, &subject)
    };
    let (mut commit, reused) = commit_for(change_id.as_deref())?;
    rep.change_id.clone_from(&change_id);
    rep.commit = Some(commit.to_string());

    if !opts.push {
        rep.outcome = if reused {
            Outcome::AlreadyProposed
        } else {
            Outcome::Committed
        };
        return Ok(());
    }
    if opts.gerrit {
        let topic = rep.topic.clone().unwrap_or_default();
        let mut pushed = gerrit::push(repo, &opts.remote, &topic, commit, &rep.push_ref)?;
        if let (gerrit::Pushed::Closed { change }, Some(closed_id)) = (&pushed, &change_id) {
            // A reviewer abandoned the change: this (newer) bump opens a new change rather
            // than being blocked forever by the closed one.
            let fresh = gerrit::replacement_change_id(&g.key, digest, closed_id);
            rep.warning = Some(format!(
                "Gerrit says the change {change} ({closed_id}) is closed; proposed this bump as \
                 a new change ({fresh})"
            ));
            change_id = Some(fresh);
            (commit, _) = commit_for(change_id.as_deref())?;
            rep.change_id.clone_from(&change_id);
            rep.commit = Some(commit.to_string());
            pushed = gerrit::push(repo, &opts.remote, &topic, commit, &rep.push_ref)?;
        }
        match pushed {
            gerrit::Pushed::Accepted => {}
            gerrit::Pushed::NoNewChanges => {
                rep.outcome = Outcome::AlreadyProposed;
                repo.set_ref(&record_ref, commit, "image-crawler propose: on Gerrit")?;
                return Ok(());
            }
            gerrit::Pushed::Closed { change } => {
                return Err(crate::error::refuse(
                    ExitStatus::Refused,
                    format!(
                        "Gerrit refuses the new change for `{}`: {change} is closed",
                        g.key
                    ),
                    "a change with this Change-Id was closed on Gerrit; delete \
                     refs/image-crawler/<key> on the remote to start afresh",
                ));
            }
        }
        repo.set_ref(
            &record_ref,
            commit,
            "image-crawler propose: pushed to Gerrit",
        )?;
        if let Some(w) = store_record(repo, &opts.remote, &record_ref, commit) {
            rep.warning = Some(match rep.warning.take() {
                Some(prev) => format!("{prev}; {w}"),
                None => w,
            });
        }
    } else {
        // Lease on what we fetched: a human push in between makes git refuse, not overwrite.
        let lease = format!(
            "--force-with-lease={}:{}",
            rep.push_ref,
            replaces.as_deref().unwrap_or("")
        );
        repo.push(
            &opts.remote,
            &[lease],
            &format!("+{commit}:{}", rep.push_ref),
        )?;
        repo.set_ref(&tracking_ref, commit, "image-crawler propose: pushed")?;
    }
    rep.outcome = if replaces.is_some() {
        Outcome::Replaced
    } else {
        Outcome::Created
    };
    Ok(())
}

/// The proposal commit for `g` with `change_id`, on `local_ref`: the existing local commit when
/// it is exactly this one (same base, same message; re-runs then push the same commit id), a
/// new one otherwise. Returns the commit and whether it was reused.
fn proposal_commit(
    repo: &Repo,
    base_commit: git2::Oid,
    g: &Group,
    local_ref: &str,
    change_id: Option<&str>,
    identity: &crate::git::Identity,
    subject: &str,
) -> anyhow::Result<(git2::Oid, bool)> {
    let msg = g.message(change_id);
    if let Some(oid) = repo.ref_target(local_ref)?
        && repo.parent(oid)? == Some(base_commit)
        && repo.message(oid)?.trim() == msg.trim()
    {
        return Ok((oid, true));
    }
    let files: Vec<FileContent> = g
        .files()
        .into_iter()
        .map(|f| FileContent {
            path: f.path,
            bytes: f.bytes,
        })
        .collect();
    let oid = repo.commit_files(base_commit, &files, &msg, identity)?;
    repo.set_ref(local_ref, oid, &format!("image-crawler propose: {subject}"))?;
    Ok((oid, false))
}
