//! `image-crawler audit` paths that need no cloud: invalid lifecycle data is refused (exit 4)
//! with its place before any connection is made.

use assert_cmd::Command;
use predicates::prelude::*;

#[test]
fn invalid_lifecycle_data_is_refused_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lifecycle.yaml"),
        "releases:\n  ubuntu/24.04: {eol: 2029-02-30}\n",
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_image-crawler"))
        .args(["audit", "--cloud", "does-not-matter", "--catalog"])
        .arg(dir.path())
        .env("OS_CLIENT_CONFIG_FILE", dir.path().join("no-clouds.yaml"))
        .assert()
        .code(4)
        .stderr(predicate::str::contains("lifecycle.yaml:2:23"))
        .stderr(predicate::str::contains(
            "`eol` of `ubuntu/24.04` is `2029-02-30`, not a date",
        ));
}

#[test]
/// A missing clouds.yaml is invalid input (exit 4, docs/exit-codes.md), reached only after
/// the lifecycle data passed.
fn valid_lifecycle_data_gets_as_far_as_the_cloud() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lifecycle.yaml"),
        "releases:\n  ubuntu/24.04: {eol: 2029-05-31}\n",
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_image-crawler"))
        .args(["audit", "--cloud", "does-not-matter", "--catalog"])
        .arg(dir.path())
        .env("OS_CLIENT_CONFIG_FILE", dir.path().join("no-clouds.yaml"))
        .assert()
        .code(4)
        // As openstacksdk, a missing OS_CLIENT_CONFIG_FILE falls through to the standard
        // places; with nothing there either, the error says why.
        .stderr(predicate::str::contains("no clouds.yaml was found"))
        .stderr(predicate::str::contains("OS_CLIENT_CONFIG_FILE `"))
        .stderr(predicate::str::contains("no-clouds.yaml` does not exist"));
}
