//! The exit-code table of docs/exit-codes.md, verb by class: each row runs the real binary in a
//! fresh directory through one class (usage error, invalid input, a service or upstream that
//! is down, partial failure, a refusal, changes, no changes) and asserts the documented code
//! AND a marker of the reason in the output, so a row cannot pass for another reason (say, a
//! missing clouds.yaml where the row means a broken catalog). Rows that need a cloud use the
//! real Keystone + Glance (`IMAGE_CRAWLER_TEST_CLOUDS`); "down" is a closed port on 127.0.0.1;
//! upstreams are a fixture server on 127.0.0.1; the object store is a real moto S3 server.
//!
//! The table in docs/exit-codes.md ("The table, verb by class") is compared with [`ROWS`]
//! cell by cell, so the documentation and the test cannot drift apart.

#![allow(clippy::print_stderr)] // the measured table is printed so a failing run shows it all

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::Digest as _;
use support::FixtureServer;

/// The classes, in the doc table's column order.
const CLASSES: &[&str] = &[
    "usage",
    "invalid catalog",
    "invalid lockfile",
    "invalid clouds.yaml",
    "Keystone down",
    "Glance down",
    "upstream down",
    "partial",
    "refused",
    "changes",
    "no changes",
];

/// The verbs, in the doc table's row order.
const VERBS: &[&str] = &[
    "validate", "check", "plan", "apply", "status", "audit", "propose", "build", "publish",
];

/// One cell of the table: `verb` run through `class` exits `code`.
struct Row {
    verb: &'static str,
    class: &'static str,
    code: i32,
    case: fn(&Ctx) -> Case,
}

/// What a row runs: commands before it (each must exit 0), the command, and a piece of text
/// its stdout or stderr must contain (the reason for the code).
struct Case {
    work: Work,
    before: Vec<Vec<String>>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    marker: String,
    /// Servers the case needs while it runs.
    _keep: Vec<Box<dyn std::any::Any>>,
}

const ROWS: &[Row] = &[
    // validate: offline, so no service can be down, and it changes nothing.
    row("validate", "usage", 4, |_| usage("validate")),
    row("validate", "invalid catalog", 4, |_| {
        bad_settings("validate")
    }),
    row("validate", "invalid lockfile", 4, |_| {
        hostile_lock(&["validate"])
    }),
    row("validate", "no changes", 0, |_| {
        let w = Work::offline();
        w.case(&["validate"], "valid")
    }),
    // check
    row("check", "usage", 4, |_| usage("check")),
    row("check", "invalid catalog", 4, |_| bad_settings("check")),
    // check rewrites lockfiles: one it cannot read fails that image only.
    row("check", "invalid lockfile", 3, |_| {
        let (w, up) = Work::checked(&["a"]);
        w.write("state/a.toml", "this is [not toml\n");
        let a = w.check_args(&up, &[]);
        w.case_with(&a, "hint: fix or delete the lockfile", up)
    }),
    row("check", "upstream down", 75, |_| {
        let (w, up) = Work::checked(&["a", "b"]);
        let args = w.check_args_to(&format!("http://127.0.0.1:{}/", closed_port()), &[]);
        w.case_with(&args, "no upstream host was reachable", up)
    }),
    row("check", "partial", 3, |_| {
        let (w, up) = Work::checked(&["a", "b"]);
        std::fs::remove_file(w.path("tree/b/SHA256SUMS")).unwrap();
        let a = w.check_args(&up, &[]);
        w.case_with(&a, "404", up)
    }),
    row("check", "refused", 5, |_| {
        let (w, up) = Work::checked(&["a"]);
        let a = w.check_args(&up, &["--locked"]);
        w.case_with(&a, "--locked", up)
    }),
    row("check", "changes", 2, |_| {
        let (w, up) = Work::checked(&["a"]);
        let a = w.check_args(&up, &["--detailed-exitcode"]);
        w.case_with(&a, "(new) -> 1.0", up)
    }),
    row("check", "no changes", 0, |_| {
        let (w, up) = Work::checked(&["a"]);
        let a = w.check_args(&up, &["--detailed-exitcode"]);
        let first = w.check_args(&up, &[]);
        let mut c = w.case_with(&a, "1 unchanged", up);
        c.before.push(first);
        c
    }),
    // plan: changes nothing and reads no upstream.
    row("plan", "usage", 4, |_| usage("plan")),
    row("plan", "invalid catalog", 4, |ctx| {
        ctx.cloud_marked(&["a"], &["plan"], |w| w.break_settings(), "publik")
    }),
    row("plan", "invalid lockfile", 4, |ctx| {
        ctx.cloud_marked(&["a"], &["plan"], |w| w.alias_lock("a"), "state/x-a-")
    }),
    row("plan", "invalid clouds.yaml", 4, |ctx| {
        ctx.broken_clouds(&["plan"])
    }),
    row("plan", "Keystone down", 75, |ctx| {
        ctx.keystone_down(&["plan"])
    }),
    row("plan", "Glance down", 75, |ctx| ctx.glance_down(&["plan"])),
    row("plan", "refused", 5, |ctx| {
        // Two generic public images of one OS version: the planned state breaks scs-0102.
        let mut c = ctx.cloud_case(&["a"], &["plan"], |w| w.add_twin("a"));
        c.marker = "os-purpose-unique".into();
        c
    }),
    row("plan", "changes", 2, |ctx| {
        ctx.cloud_marked(
            &["a"],
            &["plan", "--detailed-exitcode"],
            |_| (),
            "1 to import",
        )
    }),
    row("plan", "no changes", 0, |ctx| {
        let mut c = ctx.cloud_case(&["a"], &["plan", "--detailed-exitcode"], |_| ());
        c.before.push(c.work.apply_args(&[]));
        c.marker = "No changes".into();
        c
    }),
    // apply
    row("apply", "usage", 4, |_| usage("apply")),
    row("apply", "invalid catalog", 4, |ctx| {
        ctx.cloud_marked(
            &["a"],
            &["apply", "--yes"],
            |w| w.break_settings(),
            "publik",
        )
    }),
    row("apply", "invalid lockfile", 4, |ctx| {
        ctx.cloud_marked(
            &["a"],
            &["apply", "--yes"],
            |w| w.alias_lock("a"),
            "state/x-a-",
        )
    }),
    row("apply", "invalid clouds.yaml", 4, |ctx| {
        ctx.broken_clouds(&["apply", "--yes"])
    }),
    row("apply", "Keystone down", 75, |ctx| {
        ctx.keystone_down(&["apply", "--yes"])
    }),
    row("apply", "Glance down", 75, |ctx| {
        ctx.glance_down(&["apply", "--yes"])
    }),
    row("apply", "upstream down", 75, |ctx| {
        let mut c = ctx.cloud_case(&["down-a", "down-b"], &[], |_| ());
        c.args = c.work.apply_args(&[]);
        c.marker = "could not connect".into();
        c
    }),
    row("apply", "partial", 3, |ctx| {
        let mut c = ctx.cloud_case(&["a", "down-b"], &[], |_| ());
        c.args = c.work.apply_args(&[]);
        c.marker = "1 image(s) done, 1 failed".into();
        c
    }),
    row("apply", "refused", 5, |ctx| {
        let mut c = ctx.cloud_case(&["a"], &[], |_| ());
        c.args = c.work.apply_args(&[]);
        c.args.retain(|a| a != "--yes");
        c.marker = "stdin is not a terminal".into();
        c
    }),
    // apply has no --detailed-exitcode: changes made are success.
    row("apply", "changes", 0, |ctx| {
        let mut c = ctx.cloud_case(&["a"], &[], |_| ());
        c.args = c.work.apply_args(&[]);
        c.marker = "1 image(s) done, 0 failed".into();
        c
    }),
    row("apply", "no changes", 0, |ctx| {
        let mut c = ctx.cloud_case(&["a"], &[], |_| ());
        c.args = c.work.apply_args(&[]);
        c.before.push(c.args.clone());
        c.marker = "0 image(s) done, 0 failed".into();
        c
    }),
    // status: a report; a broken catalog or lockfile is shown, not refused.
    row("status", "usage", 4, |_| usage("status")),
    row("status", "invalid catalog", 0, |ctx| {
        let mut c = ctx.cloud_case(&["a"], &["status"], |w| w.break_settings());
        c.marker = "not loaded".into();
        c
    }),
    // The image is in Glance; its lockfile then fails the gate: shown, not refused.
    row("status", "invalid lockfile", 0, |ctx| {
        let mut c = ctx.cloud_case(&["a"], &["status"], |w| {
            w.run_ok(&w.apply_args(&[]));
            w.alias_lock("a");
        });
        c.marker = "lockfile invalid".into();
        c
    }),
    row("status", "invalid clouds.yaml", 4, |ctx| {
        ctx.broken_clouds(&["status"])
    }),
    row("status", "Keystone down", 75, |ctx| {
        ctx.keystone_down(&["status"])
    }),
    row("status", "Glance down", 75, |ctx| {
        ctx.glance_down(&["status"])
    }),
    // The lockfile moved on after the apply: reported, success.
    row("status", "changes", 0, |ctx| {
        let mut c = ctx.cloud_case(&["a"], &["status"], |w| {
            w.run_ok(&w.apply_args(&[]));
            w.edit_lock("a", |t| t.replacen("version = \"1\"", "version = \"2\"", 1));
        });
        c.marker = "differs (locked 2)".into();
        c
    }),
    // audit: reads `lifecycle.yaml` of the catalog and the cloud.
    row("audit", "usage", 4, |_| usage("audit")),
    row("audit", "invalid catalog", 4, |ctx| {
        let mut c = ctx.cloud_case(&[], &["audit"], |w| {
            w.write("catalog/lifecycle.yaml", "releases: [\n");
        });
        c.marker = "lifecycle".into();
        c
    }),
    row("audit", "invalid clouds.yaml", 4, |ctx| {
        ctx.broken_clouds(&["audit"])
    }),
    row("audit", "Keystone down", 75, |ctx| {
        ctx.keystone_down(&["audit"])
    }),
    row("audit", "Glance down", 75, |ctx| {
        ctx.glance_down(&["audit"])
    }),
    // The test cloud lacks the scs-0104 standard images: there are always findings.
    row("audit", "changes", 2, |ctx| {
        let mut c = ctx.cloud_case(&[], &["audit", "--detailed-exitcode"], |_| ());
        c.marker = "scs-0104".into();
        c
    }),
    // Findings without --detailed-exitcode (the opt-in convention).
    row("audit", "no changes", 0, |ctx| {
        let mut c = ctx.cloud_case(&[], &["audit"], |_| ());
        c.marker = "scs-0104".into();
        c
    }),
    // propose: commits lockfiles; the remote is its only service.
    row("propose", "usage", 4, |_| usage("propose")),
    row("propose", "invalid lockfile", 4, |_| {
        let w = Work::proposing();
        w.write("state/a.toml", "this is [not toml\n");
        w.case(&["propose"], "cannot propose broken lockfiles")
    }),
    row("propose", "upstream down", 75, |_| {
        let w = Work::proposing();
        w.git(&[
            "remote",
            "add",
            "origin",
            &format!("http://127.0.0.1:{}/catalog.git", closed_port()),
        ]);
        w.bump_lock("a");
        w.case(&["propose", "--push"], "origin")
    }),
    // Every push refused by the remote (a pre-receive hook): each proposal failed, none was
    // made, and the failure is not temporary: 3, as `apply` counts failed images (it was 1).
    row("propose", "partial", 3, |_| {
        let w = Work::proposing();
        let remote = tempfile::tempdir().unwrap();
        let bare = remote.path().join("catalog.git");
        let ok = Command::new("git")
            .args(["init", "-q", "--bare"])
            .arg(&bare)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git init --bare");
        let hook = bare.join("hooks/pre-receive");
        std::fs::write(&hook, "#!/bin/sh\necho 'pushes are closed' >&2\nexit 1\n").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        w.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
        w.bump_lock("a");
        let mut c = w.case(&["propose", "--push"], "pushes are closed");
        c._keep.push(Box::new(remote));
        c
    }),
    row("propose", "refused", 5, |_| {
        let w = Work::proposing();
        w.bump_lock("a");
        w.write("catalog/images.yaml", "# an uncommitted edit\n");
        w.case(&["propose"], "catalog/images.yaml")
    }),
    // propose has no --detailed-exitcode: a proposal made is success.
    row("propose", "changes", 0, |_| {
        let w = Work::proposing();
        w.bump_lock("a");
        w.case(&["propose"], "image-bump/a")
    }),
    row("propose", "no changes", 0, |_| {
        let w = Work::proposing();
        w.case(&["propose"], "nothing to propose")
    }),
    // build: runs a local engine (a stand-in here); no service.
    row("build", "usage", 4, |_| usage("build")),
    row("build", "invalid catalog", 4, |_| bad_settings("build")),
    row("build", "partial", 3, |_| {
        let w = Work::building(&[
            ("a", false, "http://127.0.0.1:9/b"),
            ("b", true, "http://127.0.0.1:9/b"),
        ]);
        let a = w.build_args();
        w.case(&a, "no signing key")
    }),
    row("build", "changes", 0, |_| {
        let w = Work::building(&[("a", false, "http://127.0.0.1:9/b")]);
        let a = w.build_args();
        w.case(&a, "Built")
    }),
    row("build", "no changes", 0, |_| {
        let w = Work::offline();
        w.case(&["build", "--output", "out"], "nothing to build")
    }),
    // publish: uploads built artifacts to S3.
    row("publish", "usage", 4, |_| usage("publish")),
    row("publish", "invalid catalog", 4, |_| bad_settings("publish")),
    row("publish", "upstream down", 75, |_| {
        let store = format!("http://127.0.0.1:{}/builds", closed_port());
        let w = Work::building(&[("a", false, &store), ("b", false, &store)]);
        let mut c = w.case(&["publish", "--output", "out"], "could not connect");
        c.before.push(c.work.build_args());
        c
    }),
    row("publish", "partial", 3, |ctx| {
        let (moto, bucket) = ctx.bucket();
        let w = Work::building(&[("a", false, &bucket), ("b", false, &bucket)]);
        // `b` publishes to Swift, which publish cannot upload to.
        w.edit("catalog/images.yaml", |t| {
            let at = t.find("id: b").unwrap();
            format!(
                "{}{}",
                &t[..at],
                t[at..].replacen("listing: s3", "listing: swift", 1)
            )
        });
        let mut c = w.case(&["publish", "--output", "out"], "Swift");
        c.before.push(c.work.build_args());
        c._keep.push(Box::new(moto));
        c
    }),
    row("publish", "changes", 0, |ctx| {
        let (moto, bucket) = ctx.bucket();
        let w = Work::building(&[("a", false, &bucket)]);
        let mut c = w.case(&["publish", "--output", "out"], "objects");
        c.before.push(c.work.build_args());
        c._keep.push(Box::new(moto));
        c
    }),
    row("publish", "no changes", 0, |ctx| {
        let (moto, bucket) = ctx.bucket();
        let w = Work::building(&[("a", false, &bucket)]);
        let mut c = w.case(&["publish", "--output", "out"], "already published");
        c.before.push(c.work.build_args());
        c.before.push(c.args.clone());
        c._keep.push(Box::new(moto));
        c
    }),
];

const fn row(verb: &'static str, class: &'static str, code: i32, case: fn(&Ctx) -> Case) -> Row {
    Row {
        verb,
        class,
        code,
        case,
    }
}

#[test]
fn every_verb_through_every_class_exits_the_documented_code() {
    let ctx = Ctx::new();
    let mut measured: BTreeMap<(&str, &str), String> = BTreeMap::new();
    let mut wrong = Vec::new();
    for r in ROWS {
        let case = (r.case)(&ctx);
        let (code, text) = case.run();
        let ok = code == r.code && text.contains(&case.marker);
        measured.insert(
            (r.verb, r.class),
            if ok {
                code.to_string()
            } else {
                format!("{code}!")
            },
        );
        if !ok {
            wrong.push(format!(
                "{} / {}: exited {code}, want {} with {:?} in the output\n{text}",
                r.verb, r.class, r.code, case.marker
            ));
        }
    }
    eprintln!("{}", render(&measured));
    remove_images(&format!("-{}", ctx.nonce));
    assert!(
        wrong.is_empty(),
        "{} row(s) wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The doc's table is this table: same verbs, classes and codes, `–` where there is no row.
#[test]
fn the_documented_table_is_the_tested_table() {
    let want: BTreeMap<(&str, &str), String> = ROWS
        .iter()
        .map(|r| ((r.verb, r.class), r.code.to_string()))
        .collect();
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/exit-codes.md"))
            .unwrap();
    let table = render(&want);
    assert!(
        doc.contains(&table),
        "docs/exit-codes.md must contain exactly this table:\n{table}"
    );
    // Every row is a known verb and class (a typo would fall out of the table).
    for r in ROWS {
        assert!(
            VERBS.contains(&r.verb) && CLASSES.contains(&r.class),
            "{} / {}",
            r.verb,
            r.class
        );
    }
}

/// The Markdown table, verbs as rows and classes as columns.
fn render(cells: &BTreeMap<(&str, &str), String>) -> String {
    let mut out = format!("| verb | {} |\n", CLASSES.join(" | "));
    out.push_str(&format!("|---|{}\n", "---:|".repeat(CLASSES.len())));
    for verb in VERBS {
        let codes: Vec<&str> = CLASSES
            .iter()
            .map(|c| cells.get(&(*verb, *c)).map_or("–", String::as_str))
            .collect();
        out.push_str(&format!("| `{verb}` | {} |\n", codes.join(" | ")));
    }
    out
}

// ---------- the rows' building blocks ----------

/// What every row shares: the test cloud and a nonce that keeps Glance images apart.
struct Ctx {
    clouds: PathBuf,
    nonce: u128,
    /// Counts the cloud catalogs made, so no two rows share a Glance image.
    made: std::cell::Cell<u32>,
}

impl Ctx {
    fn new() -> Ctx {
        Ctx {
            clouds: support::clouds::clouds_file(),
            nonce: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                % 1_000_000_000,
            made: std::cell::Cell::new(0),
        }
    }

    /// A catalog of static images `ids` (an id starting with `down-` is served from a closed
    /// port), locked by `check`, against the test cloud; `edit` breaks what the row needs.
    fn cloud_case(&self, ids: &[&str], args: &[&str], edit: impl FnOnce(&Work)) -> Case {
        let (w, up) = Work::cloud(self, ids);
        if !ids.is_empty() {
            w.run_ok(&w.check_args(&up, &[]));
        }
        edit(&w);
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if !args.is_empty() {
            args.extend(["--cloud".into(), "gk-admin".into()]);
        }
        w.case_with(&args, "", up)
    }

    /// [`Ctx::cloud_case`] expecting `marker`.
    fn cloud_marked(
        &self,
        ids: &[&str],
        args: &[&str],
        edit: impl FnOnce(&Work),
        marker: &str,
    ) -> Case {
        let mut c = self.cloud_case(ids, args, edit);
        c.marker = marker.into();
        c
    }

    /// The row's verb against a clouds.yaml that is not YAML.
    fn broken_clouds(&self, args: &[&str]) -> Case {
        let (w, up) = Work::cloud(self, &["a"]);
        w.run_ok(&w.check_args(&up, &[]));
        w.write("clouds.yaml", "clouds: [\n");
        let mut c = w.cloud_args(args, "clouds.yaml", up);
        c.env.push((
            "OS_CLIENT_CONFIG_FILE".into(),
            c.work.path("clouds.yaml").display().to_string(),
        ));
        c
    }

    /// The row's verb with Keystone on a closed port.
    fn keystone_down(&self, args: &[&str]) -> Case {
        let port = closed_port();
        let (w, up) = Work::cloud(self, &["a"]);
        w.run_ok(&w.check_args(&up, &[]));
        let text = std::fs::read_to_string(&self.clouds).unwrap();
        let auth = regex::Regex::new(r"http://127\.0\.0\.1:\d+/v3").unwrap();
        w.write(
            "clouds.yaml",
            &auth.replace_all(&text, format!("http://127.0.0.1:{port}/v3").as_str()),
        );
        let mut c = w.cloud_args(args, &format!("127.0.0.1:{port}"), up);
        c.env.push((
            "OS_CLIENT_CONFIG_FILE".into(),
            c.work.path("clouds.yaml").display().to_string(),
        ));
        c
    }

    /// The row's verb with a working Keystone and Glance on a closed port
    /// (`image_endpoint_override`).
    fn glance_down(&self, args: &[&str]) -> Case {
        let port = closed_port();
        let (w, up) = Work::cloud(self, &["a"]);
        w.run_ok(&w.check_args(&up, &[]));
        let text = std::fs::read_to_string(&self.clouds).unwrap();
        let text = text.replacen(
            "  gk-admin:\n",
            &format!("  gk-admin:\n    image_endpoint_override: \"http://127.0.0.1:{port}/\"\n"),
            1,
        );
        w.write("clouds.yaml", &text);
        let mut c = w.cloud_args(args, &format!("127.0.0.1:{port}"), up);
        c.env.push((
            "OS_CLIENT_CONFIG_FILE".into(),
            c.work.path("clouds.yaml").display().to_string(),
        ));
        c
    }

    /// A real S3 store with a public bucket: the server and the bucket's URL.
    fn bucket(&self) -> (Moto, String) {
        let moto = Moto::start();
        let bucket = format!("{}/builds", moto.url);
        let ok = Command::new("curl")
            .args([
                "-sf",
                "-o",
                "/dev/null",
                "-X",
                "PUT",
                "-H",
                "x-amz-acl: public-read",
                &bucket,
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot create the bucket {bucket}");
        (moto, bucket)
    }
}

/// A fresh working directory: catalog/, state/, a git repository, its own HOME and caches.
struct Work {
    dir: tempfile::TempDir,
    mirror: Vec<String>,
    /// The clouds.yaml every command of the row sees (none: a path that does not exist).
    clouds: Option<PathBuf>,
    /// Servers the directory's catalog points at (the package archive of a build).
    servers: Vec<FixtureServer>,
}

const SETTINGS: &str = "settings:\n  vendor: test\n  defaults:\n    architecture: x86_64\n    signature:\n      policy: off\n    glance:\n      disk_format: raw\n      container_format: bare\n      min_disk: 1\n      min_ram: 128\n      visibility: private\n      properties:\n        os_purpose: generic\n        hw_disk_bus: virtio\n        replace_frequency: monthly\n        provided_until: none\n        uuid_validity: last-2\n        image_original_user: test\n        image_description: https://example.org/notes\n";

impl Work {
    fn empty() -> Work {
        let dir = tempfile::tempdir().unwrap();
        for d in ["catalog", "state"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join("catalog/settings.yaml"), SETTINGS).unwrap();
        Work {
            dir,
            mirror: Vec::new(),
            clouds: None,
            servers: Vec::new(),
        }
    }

    /// A valid catalog with one static image; nothing is fetched for it.
    fn offline() -> Work {
        let w = Work::empty();
        w.write(
            "catalog/images.yaml",
            &format!(
                "images:\n{}",
                static_entry(
                    "a",
                    "A",
                    "https://images.example.org/a.img",
                    &"1".repeat(64),
                    "1"
                )
            ),
        );
        w
    }

    /// checksum-dir images `ids` under `https://images.example.org/<id>/`, served from
    /// `tree/` by a fixture server.
    fn checked(ids: &[&str]) -> (Work, FixtureServer) {
        let w = Work::empty();
        let mut yaml = String::from("images:\n");
        for id in ids {
            let file = format!("{id}-1.0-20261101.qcow2");
            w.write(&format!("tree/{id}/{file}"), "qcow2 bytes");
            w.write(
                &format!("tree/{id}/SHA256SUMS"),
                &format!(
                    "{}  {file}\n",
                    hex::encode(sha2::Sha256::digest(b"qcow2 bytes"))
                ),
            );
            yaml.push_str(&format!(
                "  - id: {id}\n    name: Image {id}\n    source:\n      checksum-dir:\n        url: https://images.example.org/{id}/\n        checksum_file: SHA256SUMS\n        pattern: '{id}-(?P<version>\\d+\\.\\d+)-(?P<date>\\d{{8}})\\.qcow2'\n    glance:\n      disk_format: qcow2\n      properties:\n        os_distro: {id}\n        os_version: \"1\"\n"
            ));
        }
        w.write("catalog/images.yaml", &yaml);
        let up = FixtureServer::start(w.path("tree"));
        (w, up)
    }

    /// Static images `ids` (their bytes served from `tree/`), unique in Glance per run.
    fn cloud(ctx: &Ctx, ids: &[&str]) -> (Work, FixtureServer) {
        let w = Work::empty();
        let mut yaml = String::from("images:\n");
        for id in ids {
            let bytes = format!("image {id} {}", ctx.nonce).repeat(4096);
            w.write(&format!("tree/{id}.img"), &bytes);
            let host = if id.starts_with("down-") {
                "down"
            } else {
                "images"
            };
            let uid = format!("x-{id}-{}-{}", ctx.made.get(), ctx.nonce);
            yaml.push_str(&static_entry(
                &uid,
                &format!("Exit {uid}"),
                &format!("https://{host}.example.org/{id}.img"),
                &hex::encode(sha2::Sha256::digest(bytes.as_bytes())),
                &uid,
            ));
        }
        ctx.made.set(ctx.made.get() + 1);
        w.write("catalog/images.yaml", &yaml);
        let up = FixtureServer::start(w.path("tree"));
        let mut w = w;
        w.clouds = Some(ctx.clouds.clone());
        w.mirror = vec![
            format!("https://images.example.org/={}/", up.url()),
            format!(
                "https://down.example.org/=http://127.0.0.1:{}/",
                closed_port()
            ),
        ];
        (w, up)
    }

    /// A catalog repository with a committed lockfile `state/a.toml` (no remote).
    fn proposing() -> Work {
        let w = Work::offline();
        w.write("state/a.toml", &lock_text("a", "1", &"1".repeat(64)));
        w.git(&["init", "-q", "-b", "main"]);
        w.git(&["add", "-A"]);
        w.git(&["commit", "-q", "-m", "catalog"]);
        w
    }

    /// diskimage-builder images `(id, signed, publish url)`.
    fn building(images: &[(&str, bool, &str)]) -> Work {
        let mut w = Work::empty();
        // The build reads the archive's `Release` files (its state when the build started).
        let archive = FixtureServer::start(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/build/archive"),
        );
        let archive_url = archive.url();
        w.servers.push(archive);
        let mut yaml = String::from("images:\n");
        for (id, signed, url) in images {
            yaml.push_str(&format!(
                "  - id: {id}\n    name: Built {id}\n    source:\n      diskimage-builder:\n        elements: [vm, debian-minimal]\n        release: bookworm\n        mirror: {archive_url}/debian\n        security_mirror: {archive_url}/debian-security\n        publish:\n          url: {url}\n          listing: s3\n          signed: {signed}\n    signature:\n      policy: if-published\n    glance:\n      properties:\n        os_distro: debian\n        os_version: \"{id}\"\n"
            ));
        }
        w.write("catalog/images.yaml", &yaml);
        w
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn edit(&self, rel: &str, f: impl FnOnce(&str) -> String) {
        let text = std::fs::read_to_string(self.path(rel)).unwrap();
        self.write(rel, &f(&text));
    }

    fn git(&self, args: &[&str]) {
        let ok = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    /// `visibility: publik`: one typo in the settings.
    fn break_settings(&self) {
        self.edit("catalog/settings.yaml", |t| {
            t.replace("visibility: private", "visibility: publik")
        });
    }

    /// Rewrites the lockfile `check` wrote for `id` with `f`.
    fn edit_lock(&self, id: &str, f: impl FnOnce(&str) -> String) {
        let path = std::fs::read_dir(self.path("state"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().contains(&format!("x-{id}-")))
            .expect("the lockfile check wrote");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, f(&text)).unwrap();
    }

    /// Rewrites the lockfile of `id` to an alias URL (`.../current/...`), which the gate refuses.
    fn alias_lock(&self, id: &str) {
        self.edit_lock(id, |t| {
            let alias = t.replacen(
                "\nurl = \"https://images.example.org/",
                "\nurl = \"https://images.example.org/current/",
                1,
            );
            assert_ne!(alias, t, "no url in the lockfile:\n{t}");
            alias
        });
    }

    /// A second image of the same OS version as `id`, generic and public like it.
    fn add_twin(&self, id: &str) {
        self.edit("catalog/settings.yaml", |t| {
            t.replace("visibility: private", "visibility: public")
        });
        self.edit("catalog/images.yaml", |t| {
            let entry = &t[t.find("  - id:").unwrap()..];
            let uid = entry
                .lines()
                .next()
                .unwrap()
                .trim_start_matches("  - id: ")
                .to_owned();
            let twin = entry
                .replacen(&format!("id: {uid}"), &format!("id: {uid}-twin"), 1)
                .replacen("name: \"Exit ", "name: \"Twin ", 1);
            let _ = id;
            format!("{t}{twin}")
        });
        self.run_ok(&[
            "check".to_owned(),
            "--mirror".into(),
            self.mirror[0].clone(),
        ]);
    }

    /// Changes the lockfile of `id` in the work tree (a new build to propose).
    fn bump_lock(&self, id: &str) {
        self.write(
            &format!("state/{id}.toml"),
            &lock_text(id, "2", &"2".repeat(64)),
        );
    }

    fn check_args(&self, up: &FixtureServer, extra: &[&str]) -> Vec<String> {
        self.check_args_to(&format!("{}/", up.url()), extra)
    }

    fn check_args_to(&self, to: &str, extra: &[&str]) -> Vec<String> {
        let mut a = vec!["check".to_owned()];
        if self.mirror.is_empty() {
            a.extend([
                "--mirror".into(),
                format!("https://images.example.org/={to}"),
            ]);
        } else {
            for m in &self.mirror {
                a.extend(["--mirror".into(), m.clone()]);
            }
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    fn apply_args(&self, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = ["apply", "--cloud", "gk-admin", "--yes"]
            .map(String::from)
            .to_vec();
        for m in &self.mirror {
            a.extend(["--mirror".into(), m.clone()]);
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    fn build_args(&self) -> Vec<String> {
        let engine = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/build/fake-disk-image-create");
        vec![
            "build".into(),
            "--engine".into(),
            engine.display().to_string(),
            "--output".into(),
            "out".into(),
        ]
    }

    /// `args` plus `--cloud gk-admin` (when the verb takes a cloud), expecting `marker`.
    fn cloud_args(self, args: &[&str], marker: &str, up: FixtureServer) -> Case {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.extend(["--cloud".into(), "gk-admin".into()]);
        self.case_with(&a, marker, up)
    }

    fn case(self, args: &[impl ToString], marker: &str) -> Case {
        Case {
            work: self,
            before: Vec::new(),
            args: args.iter().map(ToString::to_string).collect(),
            env: Vec::new(),
            marker: marker.into(),
            _keep: Vec::new(),
        }
    }

    fn case_with(self, args: &[String], marker: &str, up: FixtureServer) -> Case {
        let mut c = self.case(args, marker);
        c._keep.push(Box::new(up));
        c
    }

    fn command(&self, args: &[String], env: &[(String, String)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-crawler"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .env_remove("IMAGE_CRAWLER_CATALOG")
            .env_remove("IMAGE_CRAWLER_STATE")
            .env_remove("IMAGE_CRAWLER_SIGNING_KEY")
            .env_remove("OS_CLOUD")
            .env_remove("OS_AUTH_URL")
            .env("NO_COLOR", "1")
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.path(".config"))
            .env("IMAGE_CRAWLER_CACHE_DIR", self.path(".cache"))
            .env(
                "OS_CLIENT_CONFIG_FILE",
                self.clouds
                    .clone()
                    .unwrap_or_else(|| self.path("no-clouds.yaml")),
            )
            .env("AWS_ACCESS_KEY_ID", "exit-table")
            .env("AWS_SECRET_ACCESS_KEY", "exit-table-secret")
            .env("AWS_REGION", "us-east-1")
            .env("FAKE_DIB_FAIL_AFTER_IMAGE", "0")
            .env(
                "IMAGE_CRAWLER_GIT_AUTHOR",
                "Exit Table <exit-table@example.org>",
            )
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run_ok(&self, args: &[String]) {
        let out = self.command(args, &[]).output().unwrap();
        assert!(
            out.status.success(),
            "setup `image-crawler {}` failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Case {
    /// Runs the commands before, then the row's; returns its code and output.
    fn run(&self) -> (i32, String) {
        // A setup step that fails makes the row wrong (it never reached its command).
        for b in &self.before {
            let out = self.work.command(b, &self.env).output().unwrap();
            if !out.status.success() {
                let text = format!(
                    "setup `image-crawler {}` exited {:?}:\n{}",
                    b.join(" "),
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                );
                return (-2, text);
            }
        }
        let out = self.work.command(&self.args, &self.env).output().unwrap();
        let text = format!(
            "$ image-crawler {}\n{}{}",
            self.args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }
}

fn usage(verb: &str) -> Case {
    Work::offline().case(&[verb, "--bogus"], "--bogus")
}

fn bad_settings(verb: &str) -> Case {
    let w = Work::offline();
    w.break_settings();
    let mut args = vec![verb.to_owned()];
    if verb == "build" || verb == "publish" {
        args.extend(["--output".into(), "out".into()]);
    }
    w.case(&args, "publik")
}

fn hostile_lock(args: &[&str]) -> Case {
    let w = Work::offline();
    w.write(
        "state/a.toml",
        &lock_text("a", "1", &"1".repeat(64))
            .replace("https://images.example.org/a.img", "file:///etc/passwd"),
    );
    w.case(args, "state/a.toml")
}

fn static_entry(id: &str, name: &str, url: &str, sha256: &str, os_version: &str) -> String {
    format!(
        "  - id: {id}\n    name: \"{name}\"\n    source:\n      static:\n        url: \"{url}\"\n        checksum: \"sha256:{sha256}\"\n        version: \"1\"\n        build_date: \"2026-11-01\"\n    glance:\n      properties:\n        os_distro: exitos\n        os_version: \"{os_version}\"\n"
    )
}

/// A lockfile as `check` writes it for [`Work::offline`]'s image (its source digest is not
/// current, which only `plan`/`apply` and `validate` care about).
fn lock_text(id: &str, version: &str, sha256: &str) -> String {
    format!(
        "format_version = 1\nid = \"{id}\"\nsource_digest = \"sha256:{zero}\"\n\n[build]\nversion = \"{version}\"\nbuild_date = \"2026-11-01\"\nurl = \"https://images.example.org/a.img\"\nmetadata_url = \"https://images.example.org/a.img\"\n\n[build.checksums]\nsha256 = \"{sha256}\"\n\n[build.signature]\nstatus = \"off\"\n",
        zero = "0".repeat(64)
    )
}

/// A port nothing listens on (bound, read, closed).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A real S3 server (moto; `tests/run.sh` installs it into tests/.cache/moto, or
/// `IMAGE_CRAWLER_TEST_MOTO` names one), stopped on drop.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let exe = std::env::var_os("IMAGE_CRAWLER_TEST_MOTO")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/.cache/moto/bin/moto_server")
            });
        assert!(
            exe.is_file(),
            "{} is missing: tests/run.sh installs moto[server] there",
            exe.display()
        );
        let port = closed_port();
        let child = Command::new(exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = moto.child.kill();
        panic!("moto_server did not start on port {port}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Deletes the Glance images the rows made (their catalog id ends with `suffix`).
fn remove_images(suffix: &str) {
    use image_crawler::openstack::glance::{PatchKind, PatchOp};
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let g = image_crawler::openstack::Glance::connect(support::clouds::cloud("gk-admin"))
            .await
            .expect("connect to the test Glance");
        let images = image_crawler::reconcile::apply::observe(&g).await.unwrap();
        for i in images.iter().filter(|i| {
            i.catalog_id()
                .is_some_and(|id| id.starts_with("x-") && id.ends_with(suffix))
        }) {
            if i.protected {
                let unprotect = PatchOp {
                    op: PatchKind::Replace,
                    path: "/protected".into(),
                    value: Some(serde_json::json!(false)),
                };
                let _ = g.patch(&i.id, &[unprotect]).await;
            }
            let _ = g.delete(&i.id).await;
        }
    });
}
