//! GIT: the only module that uses git2, and the only one that runs the `git` command.
//!
//! Local operations (status, reading blobs, building commits, refs) run in-process with git2.
//! Network operations (fetch, push) run the `git` command line, so the user's or CI's
//! credential helpers, ssh-agent, `~/.ssh/config` and known_hosts apply exactly as they do for
//! `git` itself.
//!
//! Invariants:
//! - nothing here touches the user's checkout, index or HEAD: commits are built from a base
//!   tree plus blobs ([`Repo::commit_files`]) and only the refs named by the caller move;
//! - URLs are redacted (no `user:password@`) in every message that leaves this module.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use git2::{Oid, Repository, Signature, StatusOptions, build::TreeUpdateBuilder};

use crate::error::ResultExt as _;

/// The environment variable overriding the commit identity: `Name <email>`.
pub const AUTHOR_ENV: &str = "IMAGE_CRAWLER_GIT_AUTHOR";

/// A repository with a work tree.
pub struct Repo {
    repo: Repository,
    workdir: PathBuf,
}

/// A commit identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl Identity {
    /// Parses `Name <email>`.
    pub fn parse(s: &str) -> Option<Identity> {
        let (name, rest) = s.split_once('<')?;
        let email = rest.strip_suffix('>')?.trim();
        let name = name.trim();
        (!name.is_empty() && !email.is_empty()).then(|| Identity {
            name: name.to_owned(),
            email: email.to_owned(),
        })
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

/// A file to put into a commit (repository-relative, `/`-separated path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContent {
    pub path: String,
    pub bytes: Vec<u8>,
}

impl Repo {
    /// Opens the repository containing `path` (a file or directory inside its work tree).
    pub fn discover(path: &Path) -> anyhow::Result<Repo> {
        let start = if path.exists() {
            path.to_owned()
        } else {
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_owned()
        };
        let repo = Repository::discover(&start).hint_context(
            format!("`{}` is not inside a git repository", path.display()),
            "run `propose` inside a clone of the catalog repository",
        )?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| anyhow::anyhow!("the repository at `{}` is bare", start.display()))?;
        let workdir = workdir
            .canonicalize()
            .with_context(|| format!("cannot resolve `{}`", workdir.display()))?;
        Ok(Repo { repo, workdir })
    }

    /// The work tree root (canonical).
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// The repository-relative, `/`-separated form of `path` (which must exist).
    pub fn relative(&self, path: &Path) -> anyhow::Result<String> {
        let abs = if path.is_absolute() {
            path.to_owned()
        } else {
            std::env::current_dir()?.join(path)
        };
        // Canonicalize the longest existing ancestor, so not-yet-existing paths work too.
        let mut existing = abs.as_path();
        let mut tail = Vec::new();
        while !existing.exists() {
            tail.push(existing.file_name().map(ToOwned::to_owned));
            existing = existing.parent().unwrap_or(Path::new("/"));
        }
        let mut canon = existing.canonicalize()?;
        for part in tail.into_iter().rev().flatten() {
            canon.push(part);
        }
        let rel = canon.strip_prefix(&self.workdir).map_err(|_| {
            anyhow::anyhow!(
                "`{}` is outside the repository at `{}`",
                path.display(),
                self.workdir.display()
            )
        })?;
        Ok(rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"))
    }

    /// The current branch (`main`), or `None` when HEAD is detached or unborn.
    pub fn current_branch(&self) -> Option<String> {
        let head = self.repo.head().ok()?;
        if !head.is_branch() {
            return None;
        }
        head.shorthand().ok().map(str::to_owned)
    }

    /// Every path that differs between HEAD, the index and the work tree, untracked files
    /// included (ignored files are not), repository-relative and sorted.
    pub fn dirty_paths(&self) -> anyhow::Result<Vec<String>> {
        let mut opts = StatusOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false)
            .renames_head_to_index(false);
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .context("cannot read the git status")?;
        let mut out: Vec<String> = statuses
            .iter()
            .filter(|e| e.status() != git2::Status::CURRENT)
            .filter_map(|e| e.path().ok().map(str::to_owned))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The commit a revision (`main`, `origin/main`, a ref name, a hex id) points to.
    pub fn resolve_commit(&self, rev: &str) -> anyhow::Result<Oid> {
        let obj = self
            .repo
            .revparse_single(rev)
            .with_context(|| format!("cannot find the revision `{rev}`"))?;
        let commit = obj
            .peel_to_commit()
            .with_context(|| format!("`{rev}` is not a commit"))?;
        Ok(commit.id())
    }

    /// The commit a full ref name points to, or `None` when the ref does not exist.
    pub fn ref_target(&self, name: &str) -> anyhow::Result<Option<Oid>> {
        match self.repo.find_reference(name) {
            Ok(r) => Ok(Some(
                r.peel_to_commit()
                    .with_context(|| format!("`{name}` does not point to a commit"))?
                    .id(),
            )),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read the ref `{name}`")),
        }
    }

    /// The files directly inside `dir` (repository-relative) at `commit`: name → bytes.
    pub fn files_at(&self, commit: Oid, dir: &str) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
        let tree = self.repo.find_commit(commit)?.tree()?;
        let mut out = BTreeMap::new();
        let sub = if dir.is_empty() {
            tree
        } else {
            match tree.get_path(Path::new(dir)) {
                Ok(entry) => match entry.to_object(&self.repo)?.into_tree() {
                    Ok(t) => t,
                    Err(_) => return Ok(out),
                },
                Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(out),
                Err(e) => return Err(e.into()),
            }
        };
        for entry in sub.iter() {
            if entry.kind() != Some(git2::ObjectType::Blob) {
                continue;
            }
            let Ok(name) = entry.name() else { continue };
            let blob = self.repo.find_blob(entry.id())?;
            out.insert(name.to_owned(), blob.content().to_vec());
        }
        Ok(out)
    }

    /// A file's bytes at a commit, or `None` when it does not exist there.
    pub fn read_at(&self, commit: Oid, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let tree = self.repo.find_commit(commit)?.tree()?;
        match tree.get_path(Path::new(path)) {
            Ok(entry) => Ok(entry
                .to_object(&self.repo)?
                .into_blob()
                .ok()
                .map(|b| b.content().to_vec())),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The full message of a commit.
    pub fn message(&self, commit: Oid) -> anyhow::Result<String> {
        let c = self.repo.find_commit(commit)?;
        Ok(String::from_utf8_lossy(c.message_bytes()).into_owned())
    }

    /// The first parent of a commit.
    pub fn parent(&self, commit: Oid) -> anyhow::Result<Option<Oid>> {
        Ok(self.repo.find_commit(commit)?.parent_ids().next())
    }

    /// Whether one of the newest `limit` commits reachable from `from` has `needle` in its
    /// message (used to tell a merged Gerrit change by its `Change-Id` line).
    pub fn history_mentions(&self, from: Oid, needle: &str, limit: usize) -> anyhow::Result<bool> {
        let mut walk = self.repo.revwalk()?;
        walk.push(from)?;
        for oid in walk.take(limit) {
            let c = self.repo.find_commit(oid?)?;
            if String::from_utf8_lossy(c.message_bytes()).contains(needle) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The identity for new commits: `IMAGE_CRAWLER_GIT_AUTHOR`, else git config
    /// (`user.name`/`user.email`).
    pub fn identity(&self) -> anyhow::Result<Identity> {
        if let Ok(value) = std::env::var(AUTHOR_ENV) {
            return Identity::parse(&value).ok_or_else(|| {
                crate::error::hinted(
                    format!("{AUTHOR_ENV}=`{value}` is not `Name <email>`"),
                    format!("set it like {AUTHOR_ENV}='Image Bot <images@example.org>'"),
                )
            });
        }
        let sig = self.repo.signature().hint_context(
            "no commit identity: git config has no user.name/user.email",
            format!("set {AUTHOR_ENV}='Name <email>' or `git config user.name` and `user.email`"),
        )?;
        Ok(Identity {
            name: String::from_utf8_lossy(sig.name_bytes()).into_owned(),
            email: String::from_utf8_lossy(sig.email_bytes()).into_owned(),
        })
    }

    /// Creates a commit whose tree is `base`'s tree with `files` written over it, with `base`
    /// as its only parent. No ref, index or work tree file changes.
    pub fn commit_files(
        &self,
        base: Oid,
        files: &[FileContent],
        message: &str,
        identity: &Identity,
    ) -> anyhow::Result<Oid> {
        let base_commit = self.repo.find_commit(base)?;
        let base_tree = base_commit.tree()?;
        let mut update = TreeUpdateBuilder::new();
        for f in files {
            let blob = self.repo.blob(&f.bytes)?;
            update.upsert(f.path.as_str(), blob, git2::FileMode::Blob);
        }
        let tree_id = update.create_updated(&self.repo, &base_tree)?;
        let tree = self.repo.find_tree(tree_id)?;
        let sig = Signature::now(&identity.name, &identity.email)?;
        let oid = self
            .repo
            .commit(None, &sig, &sig, message, &tree, &[&base_commit])
            .context("cannot create the commit")?;
        Ok(oid)
    }

    /// The paths a commit changes against its first parent.
    pub fn changed_paths(&self, commit: Oid) -> anyhow::Result<Vec<String>> {
        let c = self.repo.find_commit(commit)?;
        let tree = c.tree()?;
        let parent_tree = match c.parent_ids().next() {
            Some(p) => Some(self.repo.find_commit(p)?.tree()?),
            None => None,
        };
        let diff = self
            .repo
            .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), None)?;
        let mut out: Vec<String> = diff
            .deltas()
            .filter_map(|d| {
                d.new_file()
                    .path()
                    .or_else(|| d.old_file().path())
                    .map(|p| p.to_string_lossy().into_owned())
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Points `name` (a full ref name) at `target`, creating or moving it.
    pub fn set_ref(&self, name: &str, target: Oid, log: &str) -> anyhow::Result<()> {
        self.repo
            .reference(name, target, true, log)
            .with_context(|| format!("cannot update the ref `{name}`"))?;
        Ok(())
    }

    /// Whether a remote of this name is configured.
    pub fn has_remote(&self, name: &str) -> bool {
        self.repo.find_remote(name).is_ok()
    }

    /// Runs `git fetch <remote> <refspecs…>` (quiet, no prompts); `prune` deletes local refs
    /// in the refspecs' namespaces that the remote no longer has.
    pub fn fetch(&self, remote: &str, refspecs: &[String], prune: bool) -> anyhow::Result<()> {
        let mut args = vec!["fetch", "--quiet", "--no-tags"];
        if prune {
            args.push("--prune");
        }
        args.push(remote);
        args.extend(refspecs.iter().map(String::as_str));
        self.run_git(&args)
            .with_context(|| format!("cannot fetch proposals from the remote `{remote}`"))
    }

    /// Runs `git push <remote> <refspec>` with extra options (e.g. `--force-with-lease=…`,
    /// `-o topic=…`). Credentials come from git's own configuration; prompts are disabled.
    pub fn push(&self, remote: &str, options: &[String], refspec: &str) -> anyhow::Result<()> {
        let mut args = vec!["push", "--quiet", "--porcelain"];
        args.extend(options.iter().map(String::as_str));
        args.push(remote);
        args.push(refspec);
        let result = self.run_git(&args);
        let hint = match &result {
            Err(e) if e.to_string().contains("does not support push options") => {
                "the remote does not accept push options (`-o topic=…`); Gerrit does, a plain \
                 git server needs `git config receive.advertisePushOptions true`"
            }
            _ => {
                "check the remote URL, the push credentials (ssh-agent, credential helper) and \
                 that the bot may push this ref"
            }
        };
        result.hint_context(
            format!("cannot push `{refspec}` to the remote `{remote}`"),
            hint,
        )
    }

    fn run_git(&self, args: &[&str]) -> anyhow::Result<()> {
        let output = Command::new("git")
            .args(args)
            .current_dir(&self.workdir)
            .env("GIT_TERMINAL_PROMPT", "0")
            // Never let an ssh askpass helper pop up either: a bot has no one to answer.
            .env("SSH_ASKPASS_REQUIRE", "never")
            .output()
            .hint_context(
                "cannot run `git`",
                "install git; `propose` pushes with the git command line",
            )?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = redact(String::from_utf8_lossy(&output.stderr).trim());
        let stdout = redact(String::from_utf8_lossy(&output.stdout).trim());
        let detail = [stderr, stdout]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        Err(anyhow::anyhow!(
            "`git {}` failed ({}): {}",
            redact(&args.join(" ")),
            output.status,
            detail
        ))
    }
}

/// Removes credentials from URLs in `text`: `https://user:token@host/…` → `https://***@host/…`.
pub fn redact(text: &str) -> String {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@").expect("valid")
    });
    re.replace_all(text, "${scheme}***@").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_only() {
        assert_eq!(
            redact("fatal: unable to access 'https://bot:s3cret@git.example.org/x.git/': 403"),
            "fatal: unable to access 'https://***@git.example.org/x.git/': 403"
        );
        assert_eq!(
            redact("ssh://git@review.example.org:29418/p"),
            "ssh://***@review.example.org:29418/p"
        );
        assert_eq!(redact("no url here"), "no url here");
        assert_eq!(
            redact("https://example.org/a@b"),
            "https://example.org/a@b",
            "an @ in the path is not userinfo"
        );
    }

    #[test]
    fn parses_identities() {
        assert_eq!(
            Identity::parse("Image Bot <bot@example.org>"),
            Some(Identity {
                name: "Image Bot".into(),
                email: "bot@example.org".into()
            })
        );
        assert_eq!(Identity::parse("nobody"), None);
        assert_eq!(Identity::parse("<a@b>"), None);
    }
}
