//! `--help` of every verb, snapshotted: a changed flag or wording shows up in review.
//! Also: the checked-in JSON Schemas are what the types generate.

use assert_cmd::Command;

const VERBS: &[&str] = &[
    "validate",
    "schema",
    "check",
    "propose",
    "status",
    "plan",
    "apply",
    "audit",
    "build",
    "publish",
    "completions",
];

fn help(args: &[&str]) -> String {
    let out = Command::cargo_bin("image-crawler")
        .unwrap()
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_snapshots() {
    insta::assert_snapshot!("help", help(&["--help"]));
    for verb in VERBS {
        insta::assert_snapshot!(format!("help_{verb}"), help(&[verb, "--help"]));
    }
}

#[test]
fn checked_in_schemas_are_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (which, file) in [
        ("catalog", "schema/catalog.schema.json"),
        ("lock", "schema/lock.schema.json"),
        ("lifecycle", "schema/lifecycle.schema.json"),
    ] {
        let out = Command::cargo_bin("image-crawler")
            .unwrap()
            .args(["schema", which])
            .output()
            .unwrap();
        assert!(out.status.success());
        let generated = String::from_utf8(out.stdout).unwrap();
        let checked_in = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(
            generated == checked_in,
            "{file} is stale: run `cargo run -- schema --write schema` and commit the result"
        );
    }
}

#[test]
fn every_catalog_file_has_the_schema_modeline() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    let mut seen = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            // `lifecycle.yaml` is EOL data with a schema of its own.
            let schema = if path.file_name().is_some_and(|n| n == "lifecycle.yaml") {
                "lifecycle"
            } else {
                "catalog"
            };
            assert!(
                text.starts_with(&format!(
                    "# yaml-language-server: $schema=../schema/{schema}.schema.json\n"
                )),
                "{} lacks the schema modeline",
                path.display()
            );
            seen += 1;
        }
    }
    assert!(seen >= 5, "only {seen} catalog files found");
}

#[test]
fn completions_are_generated() {
    let out = Command::cargo_bin("image-crawler")
        .unwrap()
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("complete -F _image_crawler") && text.contains("validate"),
        "{}",
        &text[..200.min(text.len())]
    );
}
