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

pub mod message;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::GroupBy;
use crate::error::ResultExt as _;
use crate::exit::ExitStatus;
use crate::git::{FileContent, Repo};
use crate::lock::{LockChange, LockedImage, format};
pub use message::LockFile;

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

/// The report of one run (rendered for people or as JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The base branch and the commit the proposals are built on.
    pub base: String,
    pub base_commit: String,
    /// `branch` (one branch per proposal) or `gerrit` (`refs/for/<base>`).
    pub mode: &'static str,
    pub remote: String,
    pub pushed: bool,
    pub proposals: Vec<ProposalReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProposalReport {
    pub key: String,
    pub images: Vec<String>,
    /// The local branch holding the proposal commit.
    pub branch: String,
    /// The remote ref pushed to (or that would be pushed to).
    pub push_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub subject: String,
    pub lock_digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_id: Option<String>,
    pub changes: Vec<LockChange>,
    /// Why a proposal was refused or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Something that worked only in part (the proposal itself is done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Committed to the local branch only (no `--push`).
    Committed,
    /// Pushed as a new proposal.
    Created,
    /// Pushed over an existing proposal for the same key.
    Replaced,
    /// The remote (or the local branch, without `--push`) already has this content.
    AlreadyProposed,
    /// Not done: a safety rule forbids it.
    Refused,
    /// Not done: git failed.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Committed => "committed",
            Outcome::Created => "pushed (new)",
            Outcome::Replaced => "pushed (replaced)",
            Outcome::AlreadyProposed => "already proposed",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

impl Report {
    /// The exit status: 5 when a proposal was refused, 1 when all failed, 3 when some failed.
    pub fn exit_status(&self) -> ExitStatus {
        let total = self.proposals.len();
        let failed = self
            .proposals
            .iter()
            .filter(|p| p.outcome == Outcome::Failed)
            .count();
        let failures = if failed == 0 {
            ExitStatus::Success
        } else if failed == total {
            ExitStatus::Error
        } else {
            ExitStatus::Partial
        };
        let refused = self.proposals.iter().any(|p| p.outcome == Outcome::Refused);
        failures.merge(if refused {
            ExitStatus::Refused
        } else {
            ExitStatus::Success
        })
    }
}

/// Renders the report for people: one line per proposal (reasons for failures go to stderr
/// as errors).
pub fn render_human(report: &Report) -> String {
    if report.proposals.is_empty() {
        return format!(
            "nothing to propose: the lockfiles match {} ({})\n",
            report.base,
            short(&report.base_commit)
        );
    }
    let width = report
        .proposals
        .iter()
        .map(|p| p.push_ref.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for p in &report.proposals {
        let commit = p.commit.as_deref().map(short).unwrap_or("-");
        out.push_str(&format!(
            "{:<width$}  {:<17}  {:<8}  {}\n",
            p.push_ref,
            p.outcome.as_str(),
            commit,
            p.subject
        ));
    }
    if !report.pushed
        && report
            .proposals
            .iter()
            .any(|p| p.outcome == Outcome::Committed)
    {
        out.push_str("(local branches only; run with --push to publish them)\n");
    }
    out
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(8)]
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
    };
    match propose_group_inner(repo, opts, base_commit, identity, g, &branch, &mut rep) {
        Ok(()) => {}
        Err(e) => {
            rep.outcome = if crate::error::exit_status(&e) == ExitStatus::Refused {
                Outcome::Refused
            } else {
                Outcome::Failed
            };
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
    let digest = &rep.lock_digest;
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
    // the change it came from has been merged into the base.
    let change_id = if opts.gerrit {
        let known = [published.as_ref(), local.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|e| e.ours.as_ref()?.change_id.clone())
            .next();
        let reusable = match known {
            Some(id) => {
                let needle = format!("{}: {id}", message::CHANGE_ID_TRAILER);
                (!repo.history_mentions(base_commit, &needle, MERGED_LOOKBACK)?).then_some(id)
            }
            None => None,
        };
        Some(reusable.unwrap_or_else(|| message::mint_change_id(&g.key, digest)))
    } else {
        None
    };
    let msg = g.message(change_id.as_deref());
    rep.change_id = change_id;

    // Reuse the local proposal commit when it is exactly this one (same base, same message):
    // re-runs then push the same commit id.
    let reuse = match repo.ref_target(&local_ref)? {
        Some(oid)
            if repo.parent(oid)? == Some(base_commit)
                && repo.message(oid)?.trim() == msg.trim() =>
        {
            Some(oid)
        }
        _ => None,
    };
    let commit = match reuse {
        Some(oid) => oid,
        None => {
            let files: Vec<FileContent> = g
                .files()
                .into_iter()
                .map(|f| FileContent {
                    path: f.path,
                    bytes: f.bytes,
                })
                .collect();
            let oid = repo.commit_files(base_commit, &files, &msg, identity)?;
            repo.set_ref(
                &local_ref,
                oid,
                &format!("image-crawler propose: {}", rep.subject),
            )?;
            oid
        }
    };
    rep.commit = Some(commit.to_string());

    if !opts.push {
        rep.outcome = if reuse.is_some() {
            Outcome::AlreadyProposed
        } else {
            Outcome::Committed
        };
        return Ok(());
    }
    if opts.gerrit {
        let topic = rep.topic.clone().unwrap_or_default();
        let pushed = repo.push(
            &opts.remote,
            &[format!("--push-option=topic={topic}")],
            &format!("+{commit}:{}", rep.push_ref),
        );
        match pushed {
            // Gerrit refuses a patchset identical to the current one: that is "already
            // proposed" (OpenDev's proposal scripts treat it the same way).
            Err(e) if format!("{e:#}").contains("no new changes") => {
                rep.outcome = Outcome::AlreadyProposed;
                repo.set_ref(&record_ref, commit, "image-crawler propose: on Gerrit")?;
                return Ok(());
            }
            other => other?,
        }
        repo.set_ref(
            &record_ref,
            commit,
            "image-crawler propose: pushed to Gerrit",
        )?;
        rep.warning = store_record(repo, &opts.remote, &record_ref, commit);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::format::{tests::sample, to_toml};

    fn locks(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        entries
            .iter()
            .map(|(id, version)| {
                let mut l = sample();
                l.id = (*id).into();
                l.build.version = (*version).into();
                (format!("{id}.toml"), to_toml(&l).into_bytes())
            })
            .collect()
    }

    #[test]
    fn finds_changed_and_new_locks_only() {
        let base = locks(&[("a", "1"), ("b", "1"), ("gone", "1")]);
        let work = locks(&[("a", "1"), ("b", "2"), ("c", "1")]);
        let (changed, problems) = changed_locks("state", &base, &work);
        assert!(problems.is_empty());
        let ids: Vec<&str> = changed.iter().map(|c| c.change.id()).collect();
        assert_eq!(ids, ["b", "c"]);
        assert!(matches!(changed[0].change, LockChange::Updated { .. }));
        assert!(matches!(changed[1].change, LockChange::Added { .. }));
        assert_eq!(changed[0].file.path, "state/b.toml");
    }

    #[test]
    fn broken_and_misnamed_work_locks_are_problems() {
        let mut work = locks(&[("a", "1")]);
        work.insert("x.toml".into(), work["a.toml"].clone());
        work.insert("y.toml".into(), b"format_version = 1\nid = \n".to_vec());
        let (changed, problems) = changed_locks("state", &BTreeMap::new(), &work);
        assert_eq!(changed.len(), 1);
        assert_eq!(problems.len(), 2);
        assert!(
            problems[0].message.contains("named for `x`"),
            "{problems:?}"
        );
        assert_eq!(problems[1].path, "state/y.toml");
        assert!(problems[1].message.starts_with("2:"), "{problems:?}");
    }

    #[test]
    fn groups_per_image_or_all() {
        let (changed, _) = changed_locks("s", &BTreeMap::new(), &locks(&[("a", "1"), ("b", "1")]));
        let per = group(changed.clone(), GroupBy::Image);
        assert_eq!(
            per.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let all = group(changed, GroupBy::All);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].key, "all");
        assert_eq!(all[0].locks.len(), 2);
        assert!(group(Vec::new(), GroupBy::All).is_empty());
    }

    #[test]
    fn decisions_follow_the_lock_digest() {
        assert_eq!(decide(None, "d1"), Decision::Propose { replaces: None });
        let ours = |d: &str| Existing {
            commit: "c0".into(),
            ours: Some(Ours {
                lock_digest: Some(d.into()),
                change_id: None,
            }),
        };
        assert_eq!(
            decide(Some(&ours("d1")), "d1"),
            Decision::AlreadyProposed {
                commit: "c0".into()
            }
        );
        assert_eq!(
            decide(Some(&ours("d0")), "d1"),
            Decision::Propose {
                replaces: Some("c0".into())
            }
        );
        let foreign =
            Existing::from_message("c9".into(), "a", "Fix by hand\n\nSigned-off-by: X <x@y>\n");
        assert_eq!(foreign.ours, None);
        assert_eq!(
            decide(Some(&foreign), "d1"),
            Decision::Foreign {
                commit: "c9".into()
            }
        );
    }

    #[test]
    fn existing_reads_our_trailers_for_the_same_key_only() {
        let (changed, _) = changed_locks("state", &BTreeMap::new(), &locks(&[("a", "1")]));
        let g = &group(changed, GroupBy::Image)[0];
        let id = message::mint_change_id("a", &g.lock_digest());
        let msg = g.message(Some(&id));
        let e = Existing::from_message("c1".into(), "a", &msg);
        assert_eq!(
            e.ours,
            Some(Ours {
                lock_digest: Some(g.lock_digest()),
                change_id: Some(id)
            })
        );
        assert_eq!(Existing::from_message("c1".into(), "b", &msg).ours, None);
    }

    #[test]
    fn dirty_paths_outside_locks_unless_allowed() {
        let (changed, _) = changed_locks("state", &BTreeMap::new(), &locks(&[("a", "1")]));
        let dirty = vec![
            "README.md".to_owned(),
            "notes/x.txt".to_owned(),
            "state/a.toml".to_owned(),
            "state/junk".to_owned(),
        ];
        assert_eq!(
            dirty_outside(&dirty, &changed, &[]),
            ["README.md", "notes/x.txt", "state/junk"]
        );
        assert_eq!(
            dirty_outside(&dirty, &changed, &["notes".into(), "README.md".into()]),
            ["state/junk"]
        );
    }

    #[test]
    fn exit_status_of_reports() {
        let p = |o: Outcome| ProposalReport {
            key: "k".into(),
            images: vec![],
            branch: String::new(),
            push_ref: String::new(),
            topic: None,
            outcome: o,
            commit: None,
            subject: String::new(),
            lock_digest: String::new(),
            change_id: None,
            changes: vec![],
            reason: None,
            warning: None,
        };
        let r = |ps: Vec<ProposalReport>| Report {
            base: "main".into(),
            base_commit: "0".into(),
            mode: "branch",
            remote: "origin".into(),
            pushed: true,
            proposals: ps,
        };
        assert_eq!(r(vec![]).exit_status(), ExitStatus::Success);
        assert_eq!(
            r(vec![p(Outcome::Created), p(Outcome::AlreadyProposed)]).exit_status(),
            ExitStatus::Success
        );
        assert_eq!(
            r(vec![p(Outcome::Created), p(Outcome::Failed)]).exit_status(),
            ExitStatus::Partial
        );
        assert_eq!(r(vec![p(Outcome::Failed)]).exit_status(), ExitStatus::Error);
        assert_eq!(
            r(vec![p(Outcome::Refused), p(Outcome::Created)]).exit_status(),
            ExitStatus::Refused
        );
    }
}
