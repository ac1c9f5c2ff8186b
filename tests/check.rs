//! `image-crawler check` end to end: the real binary against the fixture server on
//! 127.0.0.1, reached through `--mirror https://images.example.org/=http://127.0.0.1:PORT/`.

mod support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use support::{Fault, FixtureServer, copy_tree, fixtures};

const UPSTREAM: &str = "https://images.example.org/";

struct Env {
    server: FixtureServer,
    state: tempfile::TempDir,
    cache: tempfile::TempDir,
    catalog: PathBuf,
    /// Keeps a copied tree alive.
    _tree: Option<tempfile::TempDir>,
}

impl Env {
    /// Serves the fixture tree in place (read-only tests).
    fn new() -> Env {
        Self::serving(fixtures().join("upstream/tree"), None)
    }

    /// Serves a copy of the fixture tree that the test may change.
    fn with_copy() -> Env {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&fixtures().join("upstream/tree"), dir.path());
        Self::serving(dir.path().to_owned(), Some(dir))
    }

    fn serving(root: PathBuf, tree: Option<tempfile::TempDir>) -> Env {
        Env {
            server: FixtureServer::start(root),
            state: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
            catalog: fixtures().join("upstream/catalog"),
            _tree: tree,
        }
    }

    fn tree(&self) -> &Path {
        self.server.root()
    }

    fn cmd(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        let mirror = format!("{UPSTREAM}={}/", self.server.url());
        Command::cargo_bin("image-crawler")
            .unwrap()
            .env("IMAGE_CRAWLER_CACHE_DIR", self.cache.path())
            .env("NO_COLOR", "1")
            .arg("check")
            .arg("--catalog")
            .arg(&self.catalog)
            .arg("--state")
            .arg(self.state.path())
            .arg("--mirror")
            .arg(mirror)
            .args(args)
            .assert()
    }

    fn lock(&self, id: &str) -> Option<String> {
        std::fs::read_to_string(self.state.path().join(format!("{id}.toml"))).ok()
    }

    fn locks(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.state.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn code(a: &assert_cmd::assert::Assert) -> i32 {
    a.get_output().status.code().unwrap_or(-1)
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

const ALL_LOCKS: [&str; 4] = ["example-9.toml", "other-1.toml", "pinned.toml", "tool.toml"];

#[test]
fn first_run_writes_locks_second_run_is_identical_and_costs_304s() {
    let env = Env::new();
    let first = env.cmd(&[]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert_eq!(env.locks(), ALL_LOCKS);

    // The newest by version (9.10 > 9.8 > 9.7), never the `latest` alias or another variant.
    let example = env.lock("example-9").unwrap();
    assert!(example.contains("version = \"9.10-20260101\""), "{example}");
    assert!(example.contains("build_date = \"2026-01-01\""));
    assert!(example.contains(
        "url = \"https://images.example.org/example/9/x86_64/Example-9-GenericCloud-9.10-20260101.x86_64.qcow2\""
    ));
    assert!(example.contains(&format!("sha256 = \"{}\"", "2".repeat(64))));
    assert!(example.contains("status = \"verified\""));
    assert!(example.contains("key = \"02214749ED8C7A602448DDF2BA6400A54D03C457\""));
    assert!(
        !example.contains("127.0.0.1"),
        "the lock keeps upstream URLs"
    );

    // BSD tags, clear-signed, CRLF: 1.10 > 1.2, size from the comment.
    let other = env.lock("other-1").unwrap();
    assert!(other.contains("version = \"1.10\""), "{other}");
    assert!(other.contains("size = 2097152"));
    assert!(other.contains("url = \"https://images.example.org/other/1/CHECKSUM\""));

    // GitHub: the pre-release and the draft are skipped.
    let tool = env.lock("tool").unwrap();
    assert!(tool.contains("version = \"v2.0.3\""), "{tool}");
    assert!(tool.contains("status = \"not-published\""));

    let out = stdout(&first);
    assert!(
        out.contains("example-9: (new) -> 9.10-20260101 (built 2026-01-01, signature verified with 02214749ED8C7A602448DDF2BA6400A54D03C457)"),
        "{out}"
    );

    let before: Vec<(String, std::time::SystemTime)> = ALL_LOCKS
        .iter()
        .map(|n| {
            let p = env.state.path().join(n);
            (
                std::fs::read_to_string(&p).unwrap(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    let first_bytes = env.server.stats().bytes;
    env.server.reset_stats();

    let second = env.cmd(&["--detailed-exitcode"]);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert_eq!(stdout(&second), "", "no changes, nothing printed");
    for (name, (text, mtime)) in ALL_LOCKS.iter().zip(before) {
        let p = env.state.path().join(name);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
        assert_eq!(
            std::fs::metadata(&p).unwrap().modified().unwrap(),
            mtime,
            "{name} rewritten"
        );
    }
    // Four files fetched (SHA256SUMS, SHA256SUMS.gpg, CHECKSUM, releases): all 304 now.
    let stats = env.server.stats();
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.not_modified, 4);
    assert_eq!(stats.bytes, 0);
    assert!(first_bytes > 2000);
    assert!(stderr(&second).contains("4 not modified"));
}

#[test]
fn no_cache_fetches_everything_again() {
    let env = Env::new();
    assert_eq!(code(&env.cmd(&[])), 0);
    env.server.reset_stats();
    assert_eq!(code(&env.cmd(&["--no-cache"])), 0);
    assert_eq!(env.server.stats().not_modified, 0);
    assert!(env.server.stats().bytes > 2000);
}

#[test]
fn locked_refuses_a_change_and_writes_nothing() {
    let env = Env::new();
    let a = env.cmd(&["--locked"]);
    assert_eq!(code(&a), 5, "{}", stderr(&a));
    assert!(env.locks().is_empty());
    assert_eq!(code(&env.cmd(&[])), 0);
    assert_eq!(code(&env.cmd(&["--locked"])), 0);
}

#[test]
fn dry_run_writes_nothing_and_detailed_exitcode_reports_changes() {
    let env = Env::new();
    let a = env.cmd(&["--dry-run", "--detailed-exitcode"]);
    assert_eq!(code(&a), 2, "{}", stderr(&a));
    assert!(env.locks().is_empty());
    assert!(stdout(&a).contains("pinned: (new) -> 15.6-20240601"));
    assert!(stderr(&a).contains("(nothing written)"));
    let b = env.cmd(&["--detailed-exitcode"]);
    assert_eq!(code(&b), 2);
    assert_eq!(env.locks(), ALL_LOCKS);
}

#[test]
fn one_failing_image_leaves_the_others_going() {
    let env = Env::new();
    env.server.fail(
        "/other/1/CHECKSUM",
        Fault {
            status: 404,
            times: None,
            retry_after: None,
        },
    );
    let a = env.cmd(&[]);
    assert_eq!(code(&a), 3, "{}", stderr(&a));
    assert_eq!(env.locks(), ["example-9.toml", "pinned.toml", "tool.toml"]);
    let err = stderr(&a);
    assert!(
        err.contains("error: other-1: GET http://127.0.0.1:")
            && err.contains("/other/1/CHECKSUM returned 404 Not Found"),
        "{err}"
    );
    assert!(err.contains("hint: the file is not (or no longer) published there"));
}

#[test]
fn json_report_is_one_document() {
    let env = Env::new();
    env.server.fail(
        "/gh/api/repos/example/tool/releases",
        Fault {
            status: 404,
            times: None,
            retry_after: None,
        },
    );
    let a = env.cmd(&["--format", "json", "-v"]);
    assert_eq!(code(&a), 3);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&a)).unwrap();
    assert_eq!(doc["images"]["example-9"]["outcome"], "added");
    assert_eq!(doc["images"]["example-9"]["to"], "9.10-20260101");
    assert_eq!(doc["images"]["example-9"]["written"], true);
    assert!(
        doc["images"]["example-9"]["diff"]
            .as_str()
            .unwrap()
            .contains("+version = \"9.10-20260101\"")
    );
    assert_eq!(doc["images"]["tool"]["outcome"], "failed");
    assert_eq!(doc["images"]["tool"]["error"]["status"], 404);
    assert_eq!(doc["images"]["tool"]["error"]["transient"], false);
    assert_eq!(doc["summary"]["changed"], 3);
    assert_eq!(doc["summary"]["failed"], 1);
}

#[test]
fn verbose_shows_the_lockfile_diff() {
    let env = Env::new();
    assert_eq!(code(&env.cmd(&["pinned"])), 0);
    // Change the lock's signature bookkeeping by hand: the next run refreshes it.
    let p = env.state.path().join("pinned.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        text.replace("version = \"15.6-20240601\"", "version = \"15.6-20240501\""),
    )
    .unwrap();
    let a = env.cmd(&["pinned", "-v"]);
    assert_eq!(code(&a), 0, "{}", stderr(&a));
    let out = stdout(&a);
    assert!(
        out.contains("pinned: 15.6-20240501 -> 15.6-20240601"),
        "{out}"
    );
    assert!(
        out.contains("-version = \"15.6-20240501\"\n+version = \"15.6-20240601\""),
        "{out}"
    );
}

#[test]
fn ids_filter_with_globs_and_unknown_ids_are_invalid() {
    let env = Env::new();
    assert_eq!(code(&env.cmd(&["example-*", "pin?ed"])), 0);
    assert_eq!(env.locks(), ["example-9.toml", "pinned.toml"]);
    let a = env.cmd(&["nosuch-*"]);
    assert_eq!(code(&a), 4);
    assert!(stderr(&a).contains("no image in the catalog matches `nosuch-*`"));
}

#[test]
fn a_downgrade_is_refused_unless_allowed() {
    let env = Env::new();
    assert_eq!(code(&env.cmd(&["example-9"])), 0);
    // Pretend a newer build was locked before the distributor withdrew it.
    let p = env.state.path().join("example-9.toml");
    let newer = std::fs::read_to_string(&p)
        .unwrap()
        .replace("9.10-20260101", "9.11-20260301");
    std::fs::write(&p, &newer).unwrap();
    let a = env.cmd(&["example-9"]);
    assert_eq!(code(&a), 5, "{}", stderr(&a));
    assert!(
        stderr(&a).contains("older than the locked 9.11-20260301"),
        "{}",
        stderr(&a)
    );
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        newer,
        "lock untouched"
    );
    let b = env.cmd(&["example-9", "--allow-downgrade"]);
    assert_eq!(code(&b), 0, "{}", stderr(&b));
    assert!(
        env.lock("example-9")
            .unwrap()
            .contains("version = \"9.10-20260101\"")
    );
    assert!(stdout(&b).contains("9.11-20260301 -> 9.10-20260101"));
}

#[test]
fn a_tampered_checksum_file_fails_its_image_only() {
    let env = Env::with_copy();
    let sums = env.tree().join("example/9/x86_64/SHA256SUMS");
    let text = std::fs::read_to_string(&sums).unwrap();
    std::fs::write(&sums, text.replacen('2', "9", 1)).unwrap();
    let a = env.cmd(&[]);
    assert_eq!(code(&a), 3, "{}", stderr(&a));
    assert!(env.lock("example-9").is_none());
    assert!(env.lock("other-1").is_some());
    assert!(stderr(&a).contains("BAD signature"), "{}", stderr(&a));
}

#[test]
fn a_503_is_retried() {
    let env = Env::new();
    env.server.fail(
        "/example/9/x86_64/SHA256SUMS",
        Fault {
            status: 503,
            times: Some(1),
            retry_after: Some(0),
        },
    );
    let a = env.cmd(&["example-9"]);
    assert_eq!(code(&a), 0, "{}", stderr(&a));
    assert!(env.lock("example-9").is_some());
    let statuses: Vec<u16> = env
        .server
        .log()
        .into_iter()
        .filter(|(p, _)| p == "/example/9/x86_64/SHA256SUMS")
        .map(|(_, s)| s)
        .collect();
    assert_eq!(statuses, [503, 200]);
}

#[test]
fn all_images_failing_transiently_is_a_tempfail() {
    let env = Env::new();
    for path in ["/example/9/x86_64/SHA256SUMS", "/other/1/CHECKSUM"] {
        env.server.fail(
            path,
            Fault {
                status: 503,
                times: None,
                retry_after: Some(0),
            },
        );
    }
    let a = env.cmd(&["example-9", "other-1"]);
    assert_eq!(code(&a), 75, "{}", stderr(&a));
    assert!(env.locks().is_empty());
}

/// A catalog with `min_age`, over a tree whose newest build is from today.
fn min_age_env() -> (Env, tempfile::TempDir) {
    let env = Env::with_copy();
    let today = jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date();
    let stamp = today.strftime("%Y%m%d").to_string();
    let dir = env.tree().join("soak");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("SHA256SUMS"),
        format!(
            "{}  soak-1.0-20250101.qcow2\n{}  soak-1.1-{stamp}.qcow2\n",
            "c".repeat(64),
            "d".repeat(64)
        ),
    )
    .unwrap();
    let catalog = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("upstream/catalog/settings.yaml"),
        catalog.path().join("settings.yaml"),
    )
    .unwrap();
    std::fs::write(
        catalog.path().join("soak.yaml"),
        r#"images:
  - id: soak
    name: Soak
    source:
      checksum-dir:
        url: https://images.example.org/soak/
        checksum_file: SHA256SUMS
        pattern: 'soak-(?P<version>\d+\.\d+-\d{8})\.qcow2'
    version:
      min_age: 2d
    glance:
      properties:
        os_distro: soak
        os_version: "1"
"#,
    )
    .unwrap();
    (env, catalog)
}

#[test]
fn min_age_holds_a_young_build() {
    let (mut env, catalog) = min_age_env();
    env.catalog = catalog.path().to_owned();
    // Nothing locked: the newest build old enough is taken.
    let a = env.cmd(&[]);
    assert_eq!(code(&a), 0, "{}", stderr(&a));
    assert!(
        env.lock("soak")
            .unwrap()
            .contains("version = \"1.0-20250101\"")
    );
    // Locked to it: the young 1.1 is held, the lock stays, exit 0.
    let before = env.lock("soak").unwrap();
    let b = env.cmd(&["--detailed-exitcode"]);
    assert_eq!(code(&b), 0, "{}", stderr(&b));
    assert_eq!(env.lock("soak").unwrap(), before);
    let err = stderr(&b);
    assert!(err.contains("soak: held at 1.0-20250101"), "{err}");
    assert!(err.contains("younger than the catalog's min_age"), "{err}");
}

/// Issue 15: one `check` run fetches every URL at most once. Two Ubuntu images read the same
/// simplestreams index, two Fedora images the same `releases.json`, and the news reads both
/// again; the server's log must show each path once.
#[test]
fn every_url_is_fetched_at_most_once_per_run() {
    let server = FixtureServer::start(fixtures().join("upstream"));
    let catalog = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("upstream/catalog/settings.yaml"),
        catalog.path().join("settings.yaml"),
    )
    .unwrap();
    std::fs::write(
        catalog.path().join("images.yaml"),
        r#"defaults:
  signature:
    policy: off
images:
  - id: ubuntu-a
    name: Ubuntu 24.04
    source:
      ubuntu:
        release: "24.04"
  - id: ubuntu-b
    name: Ubuntu B
    source:
      ubuntu:
        release: "24.04"
  - id: fedora-a
    name: Fedora A
    source:
      fedora: {}
  - id: fedora-b
    name: Fedora B
    source:
      fedora:
        release: "44"
"#,
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let base = server.url();
    let out = Command::cargo_bin("image-crawler")
        .unwrap()
        .env("IMAGE_CRAWLER_CACHE_DIR", cache.path())
        .env("NO_COLOR", "1")
        .args(["check", "--catalog"])
        .arg(catalog.path())
        .arg("--state")
        .arg(state.path())
        .arg("--mirror")
        .arg(format!("https://cloud-images.ubuntu.com/={base}/ubuntu/"))
        .arg("--mirror")
        .arg(format!("https://fedoraproject.org/={base}/fedora/"))
        .arg("--mirror")
        .arg(format!("https://dl.fedoraproject.org/={base}/fedora/"))
        .assert();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for id in ["ubuntu-a", "ubuntu-b", "fedora-a", "fedora-b"] {
        assert!(
            state.path().join(format!("{id}.toml")).exists(),
            "{id} locked: {}",
            stderr(&out)
        );
    }
    let log = server.log();
    let mut per_path = std::collections::BTreeMap::<&str, usize>::new();
    for (path, _) in &log {
        *per_path.entry(path.as_str()).or_default() += 1;
    }
    let repeated: Vec<_> = per_path.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "fetched more than once: {repeated:?}");
    // The shared indexes were read (by discovery and news alike), once.
    for shared in [
        "/ubuntu/releases/streams/v1/com.ubuntu.cloud:released:download.json",
        "/fedora/releases.json",
    ] {
        assert_eq!(per_path.get(shared), Some(&1), "{shared}: {per_path:?}");
    }
}

/// A checksum-dir whose checksum file names files outside its directory: every such name
/// is skipped with a warning (they are newer, so taking one would show), the plain one is
/// locked; a file of nothing but such names locks nothing.
#[test]
fn checksum_names_never_leave_the_source_directory() {
    let hostile = [
        "../../etc/passwd-20250301.qcow2",
        "sub/../../x-20250302.qcow2",
        "/abs-20250303.qcow2",
        "https://evil.example/x-20250304.qcow2",
        "//evil.example/x-20250305.qcow2",
        "x-20250306.qcow2?download=1",
        "..\\x-20250307.qcow2",
        "%2e%2e/x-20250308.qcow2",
    ];
    let tree = tempfile::tempdir().unwrap();
    let dir = tree.path().join("hostile");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let mut sums = String::new();
    for (i, name) in hostile.iter().enumerate() {
        sums.push_str(&format!("{}  {name}\n", format!("{i:x}").repeat(64)));
    }
    let good = format!("{}  good-20240101.qcow2\n", "a".repeat(64));
    std::fs::write(dir.join("SHA256SUMS"), format!("{sums}{good}")).unwrap();
    std::fs::write(dir.join("ONLY-HOSTILE"), &sums).unwrap();
    let catalog = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("upstream/catalog/settings.yaml"),
        catalog.path().join("settings.yaml"),
    )
    .unwrap();
    let image = |id: &str, file: &str| {
        format!(
            "  - id: {id}\n    name: {id}\n    source:\n      checksum-dir:\n        url: https://images.example.org/hostile/\n        checksum_file: {file}\n        pattern: '(?P<version>.*?(?P<date>\\d{{8}}).*)'\n    glance:\n      properties:\n        os_distro: x\n        os_version: \"1\"\n"
        )
    };
    std::fs::write(
        catalog.path().join("hostile.yaml"),
        format!(
            "images:\n{}{}",
            image("mixed", "SHA256SUMS"),
            image("only-hostile", "ONLY-HOSTILE")
        ),
    )
    .unwrap();
    let mut env = Env::serving(tree.path().to_owned(), Some(tree));
    env.catalog = catalog.path().to_owned();
    let a = env.cmd(&[]);
    let err = stderr(&a);
    assert_eq!(code(&a), 3, "one image failed, one locked: {err}");
    let lock = env.lock("mixed").expect("the plain name is locked");
    assert!(
        lock.contains("url = \"https://images.example.org/hostile/good-20240101.qcow2\""),
        "{lock}"
    );
    assert!(!lock.contains(".."), "{lock}");
    assert!(!lock.contains("evil"), "{lock}");
    assert_eq!(env.lock("only-hostile"), None, "{err}");
    for name in hostile {
        assert!(
            err.contains(&format!("{name:?} is skipped")),
            "no note for {name}: {err}"
        );
    }
}

/// The fixture catalog with `provided_until` in the future: its old builds make every image
/// stale for the SCS recency test, so `check` has notes to report.
fn dated_env() -> (Env, tempfile::TempDir) {
    let mut dated = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    copy_tree(&dated.catalog, &catalog);
    copy_tree(&fixtures().join("upstream/keys"), &dir.path().join("keys")); // ../keys
    let settings = catalog.join("settings.yaml");
    let text = std::fs::read_to_string(&settings).unwrap();
    assert!(text.contains("provided_until: none"));
    std::fs::write(
        &settings,
        text.replace("provided_until: none", "provided_until: 2099-12-31"),
    )
    .unwrap();
    dated.catalog = catalog;
    (dated, dir)
}

/// Notes are values: in `--format json` each is an object (severity, code, image id, message,
/// hint, url), not a pre-formatted `warning: ...` line; people still read one line per note.
#[test]
fn check_notes_are_structured_in_json_and_lines_for_people() {
    let (env, _dir) = dated_env();
    let a = env.cmd(&["--format", "json", "--dry-run", "example-9", "other-1"]);
    assert_eq!(code(&a), 0, "{}", stderr(&a));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&a)).unwrap();
    let notes = doc["notes"].as_array().expect("notes is an array");
    assert_eq!(notes.len(), 2, "{notes:#?}");
    for (note, id) in notes.iter().zip(["example-9", "other-1"]) {
        let mut keys: Vec<&str> = note
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["code", "hint", "image_id", "message", "severity", "url"],
            "{note:#}"
        );
        assert_eq!(note["severity"], "warning", "{note:#}");
        assert_eq!(note["code"], "stale-upstream", "{note:#}");
        assert_eq!(note["image_id"], id, "{note:#}");
        let message = note["message"].as_str().unwrap();
        assert!(!message.contains("warning:"), "{message}");
        assert!(
            !message.contains(id),
            "the id is a field, not text: {message}"
        );
        assert!(
            message.contains("SCS recency test has failed since"),
            "{message}"
        );
        assert!(
            note["hint"].as_str().unwrap().contains("replace_frequency"),
            "{note:#}"
        );
    }

    let a = env.cmd(&["--dry-run", "example-9"]);
    let err = stderr(&a);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("recency")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("warning: example-9: the newest upstream build is from "),
        "{err}"
    );
    assert!(err.contains("\nhint: "), "{err}");
}

/// The stale-upstream notice says "the SCS recency test fails/has failed" only where the
/// official test would: the fixture catalog's `provided_until: none` exempts its (old) builds
/// there, a future date does not.
#[test]
fn the_recency_notice_only_where_the_official_test_would_fail() {
    let exempt = Env::new();
    let a = exempt.cmd(&[]);
    let out = format!("{}{}", stdout(&a), stderr(&a));
    assert_eq!(code(&a), 0, "{out}");
    assert!(!out.contains("SCS recency test"), "{out}");

    let (dated, _dir) = dated_env();
    let a = dated.cmd(&[]);
    let out = format!("{}{}", stdout(&a), stderr(&a));
    assert_eq!(code(&a), 0, "{out}");
    assert!(
        out.contains("the SCS recency test has failed since"),
        "{out}"
    );
}

/// Offline (every upstream host unreachable): one summary error with a hint about network and
/// `--mirror`, not one error per URL, and exit 75 (docs/exit-codes.md: tempfail).
#[test]
fn every_upstream_unreachable_is_one_summary_line_and_exit_75() {
    let env = Env::new();
    // A mirror nobody listens on: port 9 (discard) on 127.0.0.1 refuses the connection.
    let out = Command::cargo_bin("image-crawler")
        .unwrap()
        .env("IMAGE_CRAWLER_CACHE_DIR", env.cache.path())
        .env("NO_COLOR", "1")
        .arg("check")
        .arg("--catalog")
        .arg(&env.catalog)
        .arg("--state")
        .arg(env.state.path())
        .arg("--mirror")
        .arg(format!("{UPSTREAM}=http://127.0.0.1:9/"))
        .args(["example-9", "other-1", "tool"])
        .assert();
    let err = stderr(&out);
    assert_eq!(code(&out), 75, "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        errors,
        ["error: no upstream host was reachable (3 images)"],
        "{err}"
    );
    assert!(err.contains("hint:") && err.contains("--mirror"), "{err}");
    assert!(!err.contains("SHA256SUMS"), "no error per URL: {err}");
    assert!(env.locks().is_empty());
}
