//! The shape of every `--format json` document, checked on real output: each verb runs as the
//! binary against a CirrOS fixture tree on 127.0.0.1 and the real test Glance
//! (`IMAGE_CRAWLER_TEST_CLOUDS`, as tests/run.sh sets it), and what it prints is validated
//! against its schema in `schema/output/` (docs/json-output.md). `propose`, `build` and
//! `publish` are validated where their own tests make them (tests/propose.rs, tests/build.rs).

#![allow(clippy::print_stderr)] // commands are echoed so a failing test shows what the tool said

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image_crawler::catalog::ID_PROPERTY;
use image_crawler::openstack::Glance;
use serde_json::Value;
use support::FixtureServer;
use support::cirros::cirros_tree;
use support::schema::{assert_matches, violations};

const CIRROS: &str = "https://download.cirros-cloud.net/";
const CLOUD: &str = "gk-admin";
/// Only this test imports this catalog id, so it may delete it from the shared test Glance.
const IMAGE_ID: &str = "jsonshape-cirros";

/// A project directory (catalog, state) and the fixture upstream it checks.
struct Project {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    server: FixtureServer,
    _upstream: tempfile::TempDir,
}

impl Project {
    /// The shipped settings and lifecycle data, and one CirrOS image whose builds are stale for
    /// its (monthly) replace_frequency, so `check` has a note to report.
    fn new() -> Project {
        let upstream = tempfile::tempdir().unwrap();
        cirros_tree(upstream.path());
        let server = FixtureServer::start(upstream.path().to_owned());
        let dir = tempfile::tempdir().unwrap();
        let catalog = dir.path().join("catalog");
        std::fs::create_dir_all(&catalog).unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
        for file in ["settings.yaml", "lifecycle.yaml"] {
            std::fs::copy(shipped.join(file), catalog.join(file)).unwrap();
        }
        std::fs::write(
            catalog.join("images.yaml"),
            format!(
                "images:\n  - id: {IMAGE_ID}\n    name: JSON Shape Cirros\n    source:\n      cirros:\n        series: \"0.6\"\n    glance:\n      min_disk: 1\n      min_ram: 128\n      properties:\n        os_purpose: minimal\n        hw_disk_bus: virtio\n        replace_frequency: monthly\n        provided_until: \"2099-12-31\"\n"
            ),
        )
        .unwrap();
        Project {
            dir,
            cache: tempfile::tempdir().unwrap(),
            server,
            _upstream: upstream,
        }
    }

    fn mirror(&self) -> String {
        format!("{CIRROS}={}/", self.server.url())
    }

    /// `image-crawler --format json ARGS` in the project directory.
    fn json(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_image-crawler"))
            .current_dir(self.dir.path())
            .env("OS_CLIENT_CONFIG_FILE", support::clouds::clouds_file())
            .env("IMAGE_CRAWLER_CACHE_DIR", self.cache.path())
            .env("NO_COLOR", "1")
            .env_remove("OS_CLOUD")
            .args(["--format", "json"])
            .args(args)
            .output()
            .unwrap();
        eprintln!(
            "$ image-crawler --format json {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

fn document(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document: {e}\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

async fn remove_test_images() {
    let g = Glance::connect(support::clouds::cloud(CLOUD))
        .await
        .expect("connect to the test Glance");
    for i in image_crawler::reconcile::apply::observe(&g).await.unwrap() {
        if i.properties.get(ID_PROPERTY).map(String::as_str) == Some(IMAGE_ID) {
            g.delete(&i.id).await.expect("delete a leftover test image");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_verb_prints_what_its_schema_says() {
    let _ = support::clouds::clouds_file(); // fails with instructions when unset
    remove_test_images().await;
    let p = Project::new();
    let mirror = p.mirror();

    let out = p.json(&["validate"]);
    assert_eq!(code(&out), 0);
    let doc = document(&out);
    assert_matches("validate", &doc);
    assert_eq!(doc["valid"], true);

    let out = p.json(&["check", "--mirror", &mirror]);
    assert_eq!(code(&out), 0);
    let doc = document(&out);
    assert_matches("check", &doc);
    assert_eq!(doc["images"][IMAGE_ID]["outcome"], "added");
    assert_eq!(doc["notes"][0]["code"], "stale-upstream", "{doc:#}");

    // A lockfile that fails the gate: validate's diagnostics (after check wrote the lock).
    let lock = p.dir.path().join(format!("state/{IMAGE_ID}.toml"));
    let good = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(
        &lock,
        good.replace("format_version = 1", "format_version = x"),
    )
    .unwrap();
    let out = p.json(&["validate"]);
    assert_eq!(code(&out), 4);
    let doc = document(&out);
    assert_matches("validate", &doc);
    assert_eq!(doc["valid"], false);
    assert!(
        !doc["diagnostics"].as_array().unwrap().is_empty(),
        "{doc:#}"
    );
    std::fs::write(&lock, good).unwrap();

    let out = p.json(&["plan", "--cloud", CLOUD, IMAGE_ID]);
    assert_eq!(code(&out), 0);
    let doc = document(&out);
    assert_matches("plan", &doc);
    assert_eq!(doc["changes"][0]["action"], "import", "{doc:#}");

    let out = p.json(&[
        "apply", "--cloud", CLOUD, "--yes", "--mirror", &mirror, IMAGE_ID,
    ]);
    assert_eq!(code(&out), 0);
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let mut types = Vec::new();
    for line in stdout.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        assert_matches("apply-event", &event);
        types.push(event["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(types, ["plan", "image_imported", "apply_finished"]);

    let out = p.json(&["status", "--cloud", CLOUD]);
    assert_eq!(code(&out), 0);
    let doc = document(&out);
    assert_matches("status", &doc);
    let ours: Vec<&Value> = doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["catalog_id"] == IMAGE_ID)
        .collect();
    assert_eq!(ours.len(), 1, "{doc:#}");
    assert_eq!(ours[0]["lock"]["state"], "current");

    let out = p.json(&["audit", "--cloud", CLOUD]);
    let doc = document(&out);
    assert_matches("audit", &doc);

    // An error is one JSON document on the last line of stderr.
    let out = p.json(&["status", "--cloud", "no-such-cloud"]);
    assert_eq!(code(&out), 4);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last: Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_matches("error", &last);
    assert_eq!(last["exit_code"], 4);

    remove_test_images().await;
}

/// The schemas are strict: a document with a key they do not name, or without one they
/// require, or with a value outside an enumeration, does not pass. So a change of shape in the
/// code fails the test above until the schema (and docs/json-output.md) say so.
#[test]
fn the_schemas_refuse_another_shape() {
    let p = Project::new();
    // Offline and without a cloud: `check` of the fixture tree is enough here.
    let out = Command::new(env!("CARGO_BIN_EXE_image-crawler"))
        .current_dir(p.dir.path())
        .env("IMAGE_CRAWLER_CACHE_DIR", p.cache.path())
        .args([
            "--format",
            "json",
            "check",
            "--dry-run",
            "--mirror",
            &p.mirror(),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let doc = document(&out);
    assert_matches("check", &doc);

    let mut extra = doc.clone();
    extra["summary"]["skipped"] = 0.into();
    assert!(!violations("check", &extra).is_empty(), "an unknown key");
    let mut missing = doc.clone();
    missing.as_object_mut().unwrap().remove("notes");
    assert!(!violations("check", &missing).is_empty(), "a missing key");
    let mut text_note = doc.clone();
    text_note["notes"][0] = "warning: something".into();
    assert!(
        !violations("check", &text_note).is_empty(),
        "a pre-formatted note"
    );
    let mut code_ = doc.clone();
    code_["notes"][0]["code"] = "something-else".into();
    assert!(
        !violations("check", &code_).is_empty(),
        "an unknown note code"
    );
    let mut version = doc;
    version["format_version"] = 2.into();
    assert!(
        !violations("check", &version).is_empty(),
        "another format_version"
    );
}

/// Each schema is documented, and each document the docs describe has a schema.
#[test]
fn every_schema_is_described_in_docs_json_output() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/json-output.md")).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(root.join("schema/output"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "apply-event.schema.json",
            "audit.schema.json",
            "build.schema.json",
            "check.schema.json",
            "error.schema.json",
            "plan.schema.json",
            "propose.schema.json",
            "publish.schema.json",
            "status.schema.json",
            "validate.schema.json",
        ]
    );
    for name in &names {
        assert!(
            docs.contains(&format!("schema/output/{name}")),
            "docs/json-output.md does not describe {name}"
        );
        // Each compiles (it is a valid 2020-12 schema, its `$ref`s resolve).
        support::schema::validator(name.trim_end_matches(".schema.json"));
    }
}

/// `plan --all-targets` with two targets prints an array of plans, one per cloud (read only:
/// nothing is applied).
#[test]
fn a_plan_for_several_targets_is_an_array_of_plans() {
    let _ = support::clouds::clouds_file();
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    std::fs::copy(
        shipped.join("lifecycle.yaml"),
        catalog.join("lifecycle.yaml"),
    )
    .unwrap();
    let settings = std::fs::read_to_string(shipped.join("settings.yaml")).unwrap();
    assert!(settings.contains("\n  targets: []\n"));
    std::fs::write(
        catalog.join("settings.yaml"),
        settings.replace(
            "\n  targets: []\n",
            "\n  targets:\n    - cloud: gk-admin\n    - cloud: gk-demo\n",
        ),
    )
    .unwrap();
    std::fs::write(
        catalog.join("images.yaml"),
        "images:\n  - id: jsonshape-static\n    name: JSON Shape Static\n    source:\n      static:\n        url: https://example.org/x-1.qcow2\n        checksum: sha256:1111111111111111111111111111111111111111111111111111111111111111\n        version: \"1\"\n        build_date: \"2026-01-01\"\n    glance:\n      min_disk: 1\n      properties:\n        os_distro: x\n        os_version: \"1\"\n        image_original_user: x\n        image_description: notes\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_image-crawler"))
            .current_dir(dir.path())
            .env("OS_CLIENT_CONFIG_FILE", support::clouds::clouds_file())
            .env("IMAGE_CRAWLER_CACHE_DIR", dir.path().join("cache"))
            .env_remove("OS_CLOUD")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["check"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["--format", "json", "plan", "--all-targets"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let doc = document(&out);
    assert_matches("plan", &doc);
    let clouds: Vec<&str> = doc
        .as_array()
        .expect("an array of plans")
        .iter()
        .map(|p| p["cloud"].as_str().unwrap())
        .collect();
    assert_eq!(clouds, ["gk-admin", "gk-demo"]);
}
