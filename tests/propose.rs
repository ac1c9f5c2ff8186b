//! `image-crawler propose` against real git: a temporary clone and a bare remote, driving the
//! real binary. Lockfiles are written with `lock::store::write_if_changed`, as `check` does.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use image_crawler::lock::{
    Build, FORMAT_VERSION, HashAlgorithm, LockedImage, SignatureState, SignatureStatus, store,
};

const BOT: &str = "Image Bot <images@example.org>";

/// A work clone and its bare remote in one temp dir, with git isolated from the user's config.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    work: PathBuf,
    remote: PathBuf,
}

fn lock(id: &str, version: &str, checksum_byte: &str) -> LockedImage {
    let date = format!("{}-{}-{}", &version[..4], &version[4..6], &version[6..8]);
    LockedImage {
        format_version: FORMAT_VERSION,
        id: id.into(),
        source_digest: "sha256:0123".into(),
        build: Build {
            version: version.into(),
            build_date: date,
            url: format!("https://images.example.org/{id}/{version}/disk.qcow2"),
            size: Some(1000),
            metadata_url: format!("https://images.example.org/{id}/{version}/SHA256SUMS"),
            checksums: BTreeMap::from([(HashAlgorithm::Sha256, checksum_byte.repeat(32))]),
            signature: SignatureStatus {
                status: SignatureState::Verified,
                key: Some("D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81".into()),
                url: None,
            },
            image: None,
            inputs: None,
        },
    }
}

impl Fixture {
    /// `main` has catalog/images.yaml, README.md and locks for ubuntu-24.04 and debian-12
    /// (version 20240801), pushed to the bare remote `origin`.
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::write(root.join("gitconfig"), "").unwrap();
        let f = Fixture {
            work: root.join("work"),
            remote: root.join("remote.git"),
            root,
            _tmp: tmp,
        };
        f.git(
            &f.root,
            &["init", "-q", "--bare", "-b", "main", "remote.git"],
        );
        f.git(&f.root, &["init", "-q", "-b", "main", "work"]);
        f.git(&f.work, &["config", "user.name", "Human"]);
        f.git(&f.work, &["config", "user.email", "human@example.org"]);
        std::fs::create_dir_all(f.work.join("catalog")).unwrap();
        std::fs::write(f.work.join("catalog/images.yaml"), "images: []\n").unwrap();
        std::fs::write(f.work.join("README.md"), "catalog repo\n").unwrap();
        f.write_lock(&lock("ubuntu-24.04", "20240801", "aa"));
        f.write_lock(&lock("debian-12", "20240801", "bb"));
        f.git(&f.work, &["add", "-A"]);
        f.git(&f.work, &["commit", "-q", "-m", "Initial catalog"]);
        f.git(
            &f.work,
            &["remote", "add", "origin", f.remote.to_str().unwrap()],
        );
        f.git(&f.work, &["push", "-q", "origin", "main"]);
        f
    }

    fn git_cmd(&self, dir: &Path) -> Command {
        let mut c = Command::new("git");
        c.current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", self.root.join("gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE");
        c
    }

    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_cmd(dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `git` in the bare remote.
    fn remote_git(&self, args: &[&str]) -> String {
        self.git(&self.remote, args)
    }

    /// The remote's refs (name → id), as `git for-each-ref` lists them.
    fn remote_refs(&self) -> BTreeMap<String, String> {
        self.remote_git(&["for-each-ref", "--format=%(refname) %(objectname)"])
            .lines()
            .map(|l| {
                let (name, id) = l.split_once(' ').unwrap();
                (name.to_owned(), id.to_owned())
            })
            .collect()
    }

    fn write_lock(&self, l: &LockedImage) {
        store::write_if_changed(&self.work.join("state"), l).unwrap();
    }

    fn propose(&self, args: &[&str]) -> std::process::Output {
        self.propose_in(&self.work, args)
    }

    fn propose_in(&self, dir: &Path, args: &[&str]) -> std::process::Output {
        assert_cmd::Command::cargo_bin("image-crawler")
            .unwrap()
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", self.root.join("gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("IMAGE_CRAWLER_GIT_AUTHOR", BOT)
            .env("NO_COLOR", "1")
            .arg("propose")
            .args(args)
            .output()
            .unwrap()
    }

    /// The user's view of the work tree: HEAD, branch, index and status.
    fn checkout_state(&self) -> (String, String, String, String) {
        (
            self.git(&self.work, &["rev-parse", "HEAD"]),
            self.git(&self.work, &["symbolic-ref", "HEAD"]),
            self.git(&self.work, &["ls-files", "--stage"]),
            self.git(&self.work, &["status", "--porcelain"]),
        )
    }
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn assert_exit(out: &std::process::Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn trailer(msg: &str, key: &str) -> String {
    msg.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} trailer in:\n{msg}"))
        .to_owned()
}

#[test]
fn single_bump_pushes_one_branch_with_only_the_lockfile() {
    let f = Fixture::new();
    f.write_lock(&lock("ubuntu-24.04", "20241004", "cc"));
    let before = f.checkout_state();
    let main = f.git(&f.work, &["rev-parse", "main"]).trim().to_owned();

    let out = f.propose(&["--push"]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("refs/heads/image-bump/ubuntu-24.04  pushed (new)"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        f.checkout_state(),
        before,
        "checkout, index and status untouched"
    );

    let refs = f.remote_refs();
    assert_eq!(
        refs.keys().collect::<Vec<_>>(),
        ["refs/heads/image-bump/ubuntu-24.04", "refs/heads/main"]
    );
    let branch = "refs/heads/image-bump/ubuntu-24.04";
    let msg = f.remote_git(&["log", "-1", "--format=%B", branch]);
    assert!(
        msg.starts_with("Bump ubuntu-24.04 to 20241004\n\n"),
        "{msg}"
    );
    assert!(
        msg.contains(
            "| ubuntu-24.04 | 20240801 -> 20241004 | 2024-10-04 | sha256:aaaaaaaaaaaa -> sha256:cccccccccccc | verified (1A5D6C4C7DB87C81) | [1]    |"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("[1]: https://images.example.org/ubuntu-24.04/20241004/disk.qcow2"),
        "{msg}"
    );
    assert_eq!(trailer(&msg, "Image-Bump-Key"), "ubuntu-24.04");
    let digest = trailer(&msg, "Lock-Digest");
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert_eq!(
        trailer(&msg, "Generated-By"),
        format!("image-crawler {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(
        !msg.contains("Change-Id:"),
        "no Change-Id outside Gerrit mode"
    );
    // git itself parses our trailers.
    let parsed = f.remote_git(&[
        "log",
        "-1",
        "--format=%(trailers:key=Image-Bump-Key,valueonly)",
        branch,
    ]);
    assert_eq!(parsed.trim(), "ubuntu-24.04");

    let files = f.remote_git(&["diff-tree", "--no-commit-id", "--name-only", "-r", branch]);
    assert_eq!(files, "state/ubuntu-24.04.toml\n");
    assert_eq!(
        f.remote_git(&["rev-parse", &format!("{branch}^")]).trim(),
        main
    );
    assert_eq!(
        f.remote_git(&["log", "-1", "--format=%an <%ae>", branch])
            .trim(),
        BOT
    );
    // The committed bytes are the work tree's.
    let committed = f.remote_git(&["show", &format!("{branch}:state/ubuntu-24.04.toml")]);
    let on_disk = std::fs::read_to_string(f.work.join("state/ubuntu-24.04.toml")).unwrap();
    assert_eq!(committed, on_disk);
    // The local branch is the same commit.
    assert_eq!(
        f.git(&f.work, &["rev-parse", "image-bump/ubuntu-24.04"]),
        f.remote_git(&["rev-parse", branch])
    );
}

#[test]
fn grouped_bumps_make_one_commit() {
    let f = Fixture::new();
    f.write_lock(&lock("ubuntu-24.04", "20241004", "cc"));
    f.write_lock(&lock("debian-12", "20241001", "dd"));
    let out = f.propose(&["--push", "--group-by", "all", "--format", "json"]);
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    support::schema::assert_matches("propose", &report);
    assert_eq!(report["proposals"].as_array().unwrap().len(), 1);
    assert_eq!(report["proposals"][0]["key"], "all");
    assert_eq!(report["proposals"][0]["outcome"], "created");
    assert_eq!(
        report["proposals"][0]["images"],
        serde_json::json!(["debian-12", "ubuntu-24.04"])
    );

    let refs = f.remote_refs();
    assert!(refs.contains_key("refs/heads/image-bump/all"), "{refs:?}");
    assert_eq!(refs.len(), 2, "{refs:?}");
    let msg = f.remote_git(&["log", "-1", "--format=%B", "image-bump/all"]);
    assert!(
        msg.starts_with("Bump 2 images (debian-12, ubuntu-24.04)\n"),
        "{msg}"
    );
    assert!(
        msg.contains("| debian-12    | 20240801 -> 20241001 |"),
        "{msg}"
    );
    assert_eq!(trailer(&msg, "Image-Bump-Key"), "all");
    let files = f.remote_git(&[
        "diff-tree",
        "--no-commit-id",
        "--name-only",
        "-r",
        "image-bump/all",
    ]);
    assert_eq!(files, "state/debian-12.toml\nstate/ubuntu-24.04.toml\n");
}

#[test]
fn per_image_default_makes_one_branch_each() {
    let f = Fixture::new();
    f.write_lock(&lock("ubuntu-24.04", "20241004", "cc"));
    f.write_lock(&lock("debian-12", "20241001", "dd"));
    assert_exit(&f.propose(&["--push"]), 0);
    let refs = f.remote_refs();
    assert_eq!(
        refs.keys().collect::<Vec<_>>(),
        [
            "refs/heads/image-bump/debian-12",
            "refs/heads/image-bump/ubuntu-24.04",
            "refs/heads/main"
        ]
    );
    let files = f.remote_git(&[
        "diff-tree",
        "--no-commit-id",
        "--name-only",
        "-r",
        "image-bump/debian-12",
    ]);
    assert_eq!(files, "state/debian-12.toml\n");
}

#[test]
fn rerun_without_change_pushes_nothing() {
    let f = Fixture::new();
    f.write_lock(&lock("ubuntu-24.04", "20241004", "cc"));
    assert_exit(&f.propose(&["--push"]), 0);
    let refs = f.remote_refs();
    // Forget everything local, so only the remote's branch (fetched again) can tell.
    f.git(&f.work, &["branch", "-D", "image-bump/ubuntu-24.04"]);
    f.git(
        &f.work,
        &[
            "update-ref",
            "-d",
            "refs/remotes/origin/image-bump/ubuntu-24.04",
        ],
    );

    let out = f.propose(&["--push"]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("already proposed"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(f.remote_refs(), refs, "the remote is unchanged");
}

#[test]
fn newer_bump_replaces_the_open_proposal() {
    let f = Fixture::new();
    f.write_lock(&lock("ubuntu-24.04", "20241004", "cc"));
    assert_exit(&f.propose(&["--push"]), 0);
    let first = f.remote_refs()["refs/heads/image-bump/ubuntu-24.04"].clone();

    f.write_lock(&lock("ubuntu-24.04", "20241011", "ee"));
    let out = f.propose(&["--push"]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("pushed (replaced)"),
        "{}",
        text(&out.stdout)
    );
    let refs = f.remote_refs();
    assert_eq!(refs.len(), 2, "still one proposal branch: {refs:?}");
    let second = &refs["refs/heads/image-bump/ubuntu-24.04"];
    assert_ne!(second, &first);
    let msg = f.remote_git(&["log", "-1", "--format=%B", second]);
    assert!(msg.starts_with("Bump ubuntu-24.04 to 20241011\n"), "{msg}");
    assert!(
        msg.contains("20240801 -> 20241011"),
        "old is the base's lock: {msg}"
    );
    // Based on main, not stacked on the previous proposal.
    assert_eq!(
        f.remote_git(&["rev-parse", &format!("{second}^")]),
        f.remote_git(&["rev-parse", "main"])
    );
}

#[test]
fn a_branch_someone_else_pushed_is_left_alone() {
    let f = Fixture::new();
    // A human pushes their own commit to the proposal branch name.
    f.git(
        &f.work,
        &[
            "push",
            "-q",
            "origin",
            "main:refs/heads/image-bump/ubuntu-24.04",
        ],
    );
    let refs = f.remote_refs();
    f.write_lock(&lock("ubuntu-24.04", "20241004", "cc"));
    let out = f.propose(&["--push"]);
    assert_exit(&out, 5);
    assert!(
        text(&out.stderr).contains("was not written by image-crawler"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(f.remote_refs(), refs);
}

#[test]
fn dirty_tree_is_refused_unless_allowed() {
    let f = Fixture::new();
    f.write_lock(&lock("ubuntu-24.04", "20241004", "cc"));
    std::fs::write(f.work.join("README.md"), "edited\n").unwrap();
    std::fs::write(f.work.join("catalog/new.yaml"), "images: []\n").unwrap();
    let refs = f.remote_refs();

    let out = f.propose(&["--push"]);
    assert_exit(&out, 5);
    let err = text(&out.stderr);
    assert!(err.contains("changes outside the lockfiles"), "{err}");
    assert!(
        err.contains("README.md") && err.contains("catalog/new.yaml"),
        "{err}"
    );
    assert!(
        err.contains("hint:") && err.contains("--allow-dirty"),
        "{err}"
    );
    assert_eq!(f.remote_refs(), refs, "nothing pushed");

    // Allowing one of two is not enough.
    assert_exit(&f.propose(&["--push", "--allow-dirty", "README.md"]), 5);

    let out = f.propose(&[
        "--push",
        "--allow-dirty",
        "README.md",
        "--allow-dirty",
        "catalog",
    ]);
    assert_exit(&out, 0);
    let files = f.remote_git(&[
        "diff-tree",
        "--no-commit-id",
        "--name-only",
        "-r",
        "image-bump/ubuntu-24.04",
    ]);
    assert_eq!(
        files, "state/ubuntu-24.04.toml\n",
        "dirty files are never committed"
    );
}

#[test]
fn unchanged_lock_means_nothing_to_propose() {
    let f = Fixture::new();
    let refs = f.remote_refs();
    let out = f.propose(&["--push"]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stderr).contains("nothing to propose"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(f.remote_refs(), refs);
    let out = f.propose(&["--format", "json"]);
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    support::schema::assert_matches("propose", &report);
    assert_eq!(report["proposals"], serde_json::json!([]));
    assert_eq!(report["format_version"], 1);
}

#[test]
fn without_push_only_local_branches_are_made() {
    let f = Fixture::new();
    f.write_lock(&lock("ubuntu-24.04", "20241004", "cc"));
    let refs = f.remote_refs();
    let out = f.propose(&[]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("committed"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(f.remote_refs(), refs, "nothing pushed");
    let local = f.git(&f.work, &["rev-parse", "image-bump/ubuntu-24.04"]);
    // A second run keeps the same commit (same base, same content).
    let out = f.propose(&[]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("already proposed"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        f.git(&f.work, &["rev-parse", "image-bump/ubuntu-24.04"]),
        local
    );
}

#[test]
fn broken_lockfile_is_invalid_input() {
    let f = Fixture::new();
    std::fs::write(
        f.work.join("state/ubuntu-24.04.toml"),
        "format_version = 1\nid = \n",
    )
    .unwrap();
    let out = f.propose(&[]);
    assert_exit(&out, 4);
    assert!(
        text(&out.stderr).contains("state/ubuntu-24.04.toml: 2:"),
        "{}",
        text(&out.stderr)
    );
}

/// Writes an executable git hook.
fn write_hook(path: &Path, script: &str) {
    std::fs::write(path, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Installs a pre-receive hook that logs the push options and refs of every push, and lets
/// the bare remote accept push options, as Gerrit does.
fn gerrit_like(f: &Fixture) -> PathBuf {
    let log = f.root.join("pushes.log");
    f.remote_git(&["config", "receive.advertisePushOptions", "true"]);
    let hook = f.remote.join("hooks/pre-receive");
    write_hook(
        &hook,
        &format!(
            "#!/bin/sh\n{{\n  i=0\n  while [ \"$i\" -lt \"${{GIT_PUSH_OPTION_COUNT:-0}}\" ]; do\n    eval \"echo option \\$GIT_PUSH_OPTION_$i\"\n    i=$((i+1))\n  done\n  cat\n}} >> '{}'\n",
            log.display()
        ),
    );
    log
}

#[test]
fn gerrit_pushes_refs_for_base_with_topic_and_reuses_the_change_id() {
    let f = Fixture::new();
    let log = gerrit_like(&f);
    f.write_lock(&lock("ubuntu-24.04", "20241004", "cc"));
    let out = f.propose(&["--push", "--gerrit"]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("refs/for/main  pushed (new)"),
        "{}",
        text(&out.stdout)
    );
    let refs = f.remote_refs();
    assert_eq!(
        refs.keys().collect::<Vec<_>>(),
        [
            "refs/for/main",
            "refs/heads/main",
            "refs/image-crawler/ubuntu-24.04"
        ],
        "no proposal branch on a Gerrit remote, only the record"
    );
    let first = f.remote_git(&["log", "-1", "--format=%B", "refs/for/main"]);
    assert!(
        first.starts_with("Bump ubuntu-24.04 to 20241004\n"),
        "{first}"
    );
    let change_id = trailer(&first, "Change-Id");
    assert!(
        change_id.len() == 41 && change_id.starts_with('I'),
        "{change_id}"
    );
    let pushes = std::fs::read_to_string(&log).unwrap();
    assert!(
        pushes.contains("option topic=image-bump/ubuntu-24.04"),
        "{pushes}"
    );
    assert_eq!(
        f.remote_git(&["rev-parse", "refs/for/main^"]),
        f.remote_git(&["rev-parse", "main"])
    );

    // A newer bump: a new patchset on the same change.
    f.write_lock(&lock("ubuntu-24.04", "20241011", "ee"));
    let out = f.propose(&["--push", "--gerrit"]);
    assert_exit(&out, 0);
    let second = f.remote_git(&["log", "-1", "--format=%B", "refs/for/main"]);
    assert!(
        second.starts_with("Bump ubuntu-24.04 to 20241011\n"),
        "{second}"
    );
    assert_eq!(trailer(&second, "Change-Id"), change_id, "Change-Id reused");
    assert_ne!(
        trailer(&second, "Lock-Digest"),
        trailer(&first, "Lock-Digest")
    );

    // The same content again: nothing is pushed.
    let refs = f.remote_refs();
    let pushes = std::fs::read_to_string(&log).unwrap();
    let out = f.propose(&["--push", "--gerrit"]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("already proposed"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(f.remote_refs(), refs);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        pushes,
        "no push at all"
    );
}

#[test]
fn gerrit_mints_a_new_change_id_after_the_old_change_merged() {
    let f = Fixture::new();
    gerrit_like(&f);
    f.write_lock(&lock("ubuntu-24.04", "20241004", "cc"));
    assert_exit(&f.propose(&["--push", "--gerrit"]), 0);
    let first = f.remote_git(&["log", "-1", "--format=%B", "refs/for/main"]);
    let merged_id = trailer(&first, "Change-Id");
    // "Gerrit merges" the change: main fast-forwards to it; the user pulls.
    f.remote_git(&["update-ref", "refs/heads/main", "refs/for/main"]);
    f.git(&f.work, &["stash", "-q"]);
    f.git(&f.work, &["pull", "-q", "--ff-only", "origin", "main"]);
    f.git(&f.work, &["stash", "drop", "-q"]);

    f.write_lock(&lock("ubuntu-24.04", "20241011", "ee"));
    assert_exit(&f.propose(&["--push", "--gerrit"]), 0);
    let second = f.remote_git(&["log", "-1", "--format=%B", "refs/for/main"]);
    assert!(second.contains("20241004 -> 20241011"), "{second}");
    assert_ne!(
        trailer(&second, "Change-Id"),
        merged_id,
        "a merged change is not reused"
    );
}

#[test]
fn gerrit_change_id_survives_a_fresh_clone_through_the_remote_record() {
    let f = Fixture::new();
    gerrit_like(&f);
    f.write_lock(&lock("ubuntu-24.04", "20241004", "cc"));
    let out = f.propose(&["--push", "--gerrit"]);
    assert_exit(&out, 0);
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
    let first = f.remote_git(&["log", "-1", "--format=%B", "refs/for/main"]);
    assert_eq!(
        f.remote_git(&["rev-parse", "refs/image-crawler/ubuntu-24.04"]),
        f.remote_git(&["rev-parse", "refs/for/main"]),
        "the remote keeps the record"
    );

    // The next periodic run starts from a fresh clone (as in Zuul) with a newer build.
    let clone = f.root.join("clone2");
    f.git(
        &f.root,
        &["clone", "-q", f.remote.to_str().unwrap(), "clone2"],
    );
    store::write_if_changed(
        &clone.join("state"),
        &lock("ubuntu-24.04", "20241011", "ee"),
    )
    .unwrap();
    let out = f.propose_in(&clone, &["--push", "--gerrit"]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("pushed (replaced)"),
        "{}",
        text(&out.stdout)
    );
    let second = f.remote_git(&["log", "-1", "--format=%B", "refs/for/main"]);
    assert!(
        second.starts_with("Bump ubuntu-24.04 to 20241011\n"),
        "{second}"
    );
    assert_eq!(trailer(&second, "Change-Id"), trailer(&first, "Change-Id"));
}

#[test]
fn gerrit_without_record_rights_warns_but_proposes() {
    let f = Fixture::new();
    gerrit_like(&f);
    // The server refuses refs/image-crawler/* (no push rights there).
    let hook = f.remote.join("hooks/update");
    write_hook(
        &hook,
        "#!/bin/sh\ncase \"$1\" in refs/image-crawler/*) echo 'prohibited by policy' >&2; exit 1;; esac\n",
    );
    f.write_lock(&lock("ubuntu-24.04", "20241004", "cc"));
    let out = f.propose(&["--push", "--gerrit"]);
    assert_exit(&out, 0);
    let err = text(&out.stderr);
    assert!(
        err.contains("warning: ubuntu-24.04: could not store the proposal record"),
        "{err}"
    );
    assert!(f.remote_refs().contains_key("refs/for/main"));
    assert!(
        !f.remote_refs()
            .contains_key("refs/image-crawler/ubuntu-24.04")
    );
    // The local record still dedupes runs from this clone.
    let out = f.propose(&["--push", "--gerrit"]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("already proposed"),
        "{}",
        text(&out.stdout)
    );
}

/// A `proc-receive` hook that answers for `refs/for/*` as Gerrit does: it stores the pushed
/// commit as the change, and refuses a push whose Change-Id belongs to a closed change with
/// Gerrit's own words, `[remote rejected] … (change <url> closed)`. Close a change by
/// appending its Change-Id to the returned file.
fn gerrit_with_closed_changes(f: &Fixture) -> PathBuf {
    gerrit_like(f);
    let closed = f.root.join("closed-changes");
    std::fs::write(&closed, "").unwrap();
    f.remote_git(&["config", "receive.procReceiveRefs", "refs/for"]);
    let hook = f.remote.join("hooks/proc-receive");
    write_hook(
        &hook,
        &format!(
            r#"#!/usr/bin/env python3
import re, subprocess, sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
def read():
    n = int(inp.read(4), 16)
    return None if n == 0 else inp.read(n - 4).rstrip(b"\n").decode()
def write(s):
    b = s.encode() + b"\n"
    out.write(b"%04x" % (len(b) + 4) + b)
def flush():
    out.write(b"0000"); out.flush()
caps = []
while (line := read()) is not None:
    caps.append(line)
options = "push-options" in caps[0]
write("version=1\0push-options" if options else "version=1"); flush()
cmds = []
while (line := read()) is not None:
    cmds.append(line.split(" "))
if options:
    while read() is not None:
        pass
closed = open({closed:?}).read().split()
for old, new, ref in cmds:
    msg = subprocess.run(["git", "log", "-1", "--format=%B", new], capture_output=True, text=True).stdout
    ids = re.findall(r"^Change-Id: (I[0-9a-f]{{40}})$", msg, re.M)
    if ids and ids[-1] in closed:
        write(f"ng {{ref}} change https://review.example.org/c/catalog/+/{{closed.index(ids[-1]) + 1}} closed")
    else:
        subprocess.run(["git", "update-ref", ref, new], check=True)
        write(f"ok {{ref}}")
flush()
"#
        ),
    );
    closed
}

#[test]
fn gerrit_mints_a_new_change_id_when_the_reviewer_abandoned_the_change() {
    let f = Fixture::new();
    let closed = gerrit_with_closed_changes(&f);
    f.write_lock(&lock("ubuntu-24.04", "20241004", "cc"));
    assert_exit(&f.propose(&["--push", "--gerrit"]), 0);
    let first = f.remote_git(&["log", "-1", "--format=%B", "refs/for/main"]);
    let abandoned = trailer(&first, "Change-Id");

    // A reviewer abandons the change.
    std::fs::write(&closed, format!("{abandoned}\n")).unwrap();

    // The same bump again: the reviewer's decision stands, nothing is pushed.
    let refs = f.remote_refs();
    let out = f.propose(&["--push", "--gerrit"]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("already proposed"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(f.remote_refs(), refs);

    // A newer build: Gerrit refuses the closed change, so the bump opens a new change.
    f.write_lock(&lock("ubuntu-24.04", "20241011", "ee"));
    let out = f.propose(&["--push", "--gerrit"]);
    assert_exit(&out, 0);
    let second = f.remote_git(&["log", "-1", "--format=%B", "refs/for/main"]);
    assert!(
        second.starts_with("Bump ubuntu-24.04 to 20241011\n"),
        "{second}"
    );
    let fresh = trailer(&second, "Change-Id");
    assert_ne!(fresh, abandoned, "a closed change is never reused");
    assert!(
        text(&out.stderr).contains("closed"),
        "the run says why it opened a new change: {}",
        text(&out.stderr)
    );
    // The record follows the new change, so the next bump is a new patchset of it.
    assert_eq!(
        f.remote_git(&["rev-parse", "refs/image-crawler/ubuntu-24.04"]),
        f.remote_git(&["rev-parse", "refs/for/main"])
    );
    f.write_lock(&lock("ubuntu-24.04", "20241018", "ff"));
    assert_exit(&f.propose(&["--push", "--gerrit"]), 0);
    let third = f.remote_git(&["log", "-1", "--format=%B", "refs/for/main"]);
    assert_eq!(trailer(&third, "Change-Id"), fresh);
}
