//! Exit-code cases beside the verb-by-class table of tests/exit_table.rs: more spellings of a
//! usage error, the other clouds.yaml problems (a missing file, an unknown cloud), and errors
//! in JSON mode. Each row runs the real binary in a fresh directory and asserts the documented
//! code (docs/exit-codes.md).

use std::path::Path;

use assert_cmd::Command;

const VERBS: &[&str] = &[
    "validate", "check", "propose", "status", "plan", "apply", "audit",
];
/// Verbs that talk to Keystone/Glance.
const CLOUD_VERBS: &[&str] = &["status", "plan", "apply", "audit"];

const SETTINGS: &str = "settings:\n  defaults:\n    glance:\n      min_disk: 4\n      min_ram: 512\n      properties:\n        os_purpose: generic\n        hw_disk_bus: scsi\n        hw_scsi_model: virtio-scsi\n        replace_frequency: quarterly\n        provided_until: none\n        uuid_validity: last-3\n";
const IMAGES: &str = "images:\n  - id: ubuntu-24.04\n    name: Ubuntu 24.04\n    source:\n      ubuntu:\n        release: \"24.04\"\n";

fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("catalog/settings.yaml"), SETTINGS).unwrap();
    std::fs::write(dir.path().join("catalog/images.yaml"), IMAGES).unwrap();
    // `propose` works in a clone of the catalog repository.
    git(dir.path(), &["init", "-q", "-b", "main"]);
    commit_all(dir.path());
    dir
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// `propose` refuses a dirty work tree (5) before it reads the catalog.
fn commit_all(dir: &Path) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "catalog"]);
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::cargo_bin("image-crawler").unwrap();
    cmd.current_dir(dir)
        .args(args)
        .env_remove("IMAGE_CRAWLER_CATALOG")
        .env_remove("IMAGE_CRAWLER_STATE")
        .env_remove("OS_CLOUD")
        .env_remove("OS_AUTH_URL")
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join(".config"))
        .env("IMAGE_CRAWLER_CACHE_DIR", dir.join(".cache"))
        .timeout(std::time::Duration::from_secs(120));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_code(dir: &Path, args: &[&str], env: &[(&str, &str)], want: i32) {
    let (code, stderr) = run(dir, args, env);
    assert_eq!(
        code, want,
        "image-crawler {args:?} exited {code}, want {want}\n{stderr}"
    );
}

#[test]
fn usage_errors_are_invalid_input_not_the_changes_code() {
    let dir = workdir();
    for verb in VERBS {
        assert_code(dir.path(), &[verb, "--bogus"], &[], 4);
        assert_code(dir.path(), &[verb, "--format", "yaml"], &[], 4);
    }
    assert_code(dir.path(), &["no-such-verb"], &[], 4);
    assert_code(dir.path(), &[], &[], 4);
    // Help and version are success.
    assert_code(dir.path(), &["--help"], &[], 0);
    assert_code(dir.path(), &["plan", "--help"], &[], 0);
    assert_code(dir.path(), &["--version"], &[], 0);
}

#[test]
fn clouds_yaml_problems_are_4() {
    let dir = workdir();
    let clouds = dir.path().join("clouds.yaml");
    // Missing file.
    let missing = dir.path().join("nowhere/clouds.yaml");
    for verb in CLOUD_VERBS {
        assert_code(
            dir.path(),
            &[verb, "--cloud", "x"],
            &[("OS_CLIENT_CONFIG_FILE", missing.to_str().unwrap())],
            4,
        );
    }
    // Bad YAML.
    std::fs::write(&clouds, "clouds: [\n").unwrap();
    for verb in CLOUD_VERBS {
        assert_code(
            dir.path(),
            &[verb, "--cloud", "x"],
            &[("OS_CLIENT_CONFIG_FILE", clouds.to_str().unwrap())],
            4,
        );
    }
    // Unknown cloud.
    std::fs::write(
        &clouds,
        "clouds:\n  known:\n    auth:\n      auth_url: http://127.0.0.1:9/v3\n      username: u\n      password: p\n      project_name: p\n      user_domain_name: Default\n      project_domain_name: Default\n",
    )
    .unwrap();
    for verb in CLOUD_VERBS {
        assert_code(
            dir.path(),
            &[verb, "--cloud", "unknown"],
            &[("OS_CLIENT_CONFIG_FILE", clouds.to_str().unwrap())],
            4,
        );
    }
}

/// With `--format json`, an error is one JSON document, the last line of stderr (log lines
/// before it stay text), with the same message, causes and hints as the human form, and the
/// exit code.
#[test]
fn errors_in_json_mode_are_json_on_stderr() {
    let dir = workdir();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_image-crawler"))
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("OS_CLIENT_CONFIG_FILE", dir.path().join("missing.yaml"))
        .args(["--format", "json", "status", "--cloud", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let text = String::from_utf8_lossy(&out.stderr);
    let last = text.trim_end().lines().last().unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("the last stderr line is not a JSON document ({e}):\n{text}"));
    assert_eq!(doc["type"], "error", "{doc}");
    assert_eq!(doc["format_version"], 1, "{doc}");
    assert_eq!(doc["exit_code"], 4, "{doc}");
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("no clouds.yaml was found"),
        "{doc}"
    );
    assert!(
        doc["hints"][0]
            .as_str()
            .unwrap()
            .contains("OS_CLIENT_CONFIG_FILE"),
        "{doc}"
    );
    assert!(doc["caused_by"].is_array(), "{doc}");
}
