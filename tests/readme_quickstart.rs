//! The README's quickstart, run as written: every code block whose info string is
//! `console quickstart` is a script. A line `$ CMD` is a command (it must exit 0); the lines
//! under it, up to the next `$ `, are its example output, and each of them must match a line of
//! the real output once digits and hashes are masked (the shape, not the dates and ids).
//!
//! The commands run in a fresh directory holding a copy of the shipped `catalog/` and an empty
//! `state/`, against the real test Glance (`IMAGE_CRAWLER_TEST_CLOUDS`, as tests/run.sh sets it;
//! the README's `mycloud` is its `gk-admin`) and a fixture CirrOS tree on 127.0.0.1 served in
//! place of the README's `http://mirror.internal/cirros/`.

#![allow(clippy::print_stderr)] // commands are echoed so a failing test shows what the tool said

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use image_crawler::catalog::ID_PROPERTY;
use image_crawler::openstack::Glance;
use support::cirros::cirros_tree;
use support::{FixtureServer, copy_tree};

const MIRROR: &str = "http://mirror.internal/cirros/";
const README_CLOUD: &str = "mycloud";
const TEST_CLOUD: &str = "gk-admin";
const IMAGE_ID: &str = "cirros-0.6";

/// One `$ ` command of a quickstart block and its example output lines.
#[derive(Debug)]
struct Step {
    command: String,
    example: Vec<String>,
}

/// The steps of every ```` ```console quickstart ```` block, in order.
fn quickstart_steps(readme: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut inside = false;
    for line in readme.lines() {
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            inside =
                !inside && info.split_whitespace().collect::<Vec<_>>() == ["console", "quickstart"];
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(cmd) = trimmed.strip_prefix("$ ") {
            steps.push(Step {
                command: cmd.to_owned(),
                example: Vec::new(),
            });
        } else if !trimmed.is_empty() {
            let step = steps
                .last_mut()
                .expect("example output before any `$ ` line");
            step.example.push(trimmed.to_owned());
        }
    }
    steps
}

/// Masks what differs from run to run: hex runs (ids, checksums) and numbers.
fn shape(line: &str) -> String {
    let hex = regex::Regex::new(r"[0-9a-f]{7,}(-[0-9a-f]{4,})*").unwrap();
    let num = regex::Regex::new(r"\d+").unwrap();
    let line = line.replace(TEST_CLOUD, README_CLOUD);
    let line = hex.replace_all(&line, "<hex>");
    let line = num.replace_all(&line, "0");
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_readme_is_parsed_into_steps() {
    let text = "x\n```console quickstart\n$ a b\nout 1\n\n$ c\n```\n```console\n$ not me\n```\n";
    let steps = quickstart_steps(text);
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0].command, "a b");
    assert_eq!(steps[0].example, ["out 1"]);
    assert_eq!(
        shape("  id 4f1c2d3e-aaaa  2024 gk-admin"),
        "id <hex> 0 mycloud"
    );
}

fn clouds_yaml() -> PathBuf {
    support::clouds::clouds_file()
}

async fn remove_quickstart_images() {
    let g = Glance::connect(support::clouds::cloud(TEST_CLOUD))
        .await
        .expect("connect to the test Glance");
    for i in image_crawler::reconcile::apply::observe(&g).await.unwrap() {
        if i.properties.get(ID_PROPERTY).map(String::as_str) == Some(IMAGE_ID) {
            g.delete(&i.id)
                .await
                .expect("delete a leftover quickstart image");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readme_quickstart_runs_against_the_test_glance() {
    let clouds = clouds_yaml();
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let steps = quickstart_steps(&readme);
    let verbs: Vec<&str> = steps
        .iter()
        .filter_map(|s| s.command.split_whitespace().nth(1))
        .collect();
    assert_eq!(
        verbs,
        ["validate", "check", "plan", "apply", "status"],
        "{steps:#?}"
    );

    // A fresh cloud for this image: the quickstart shows a first import.
    remove_quickstart_images().await;

    let upstream = tempfile::tempdir().unwrap();
    cirros_tree(upstream.path());
    let server = FixtureServer::start(upstream.path().to_owned());
    let project = tempfile::tempdir().unwrap();
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog"),
        &project.path().join("catalog"),
    );
    std::fs::create_dir_all(project.path().join("state")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_image-crawler"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    for step in &steps {
        let command = step
            .command
            .replace(MIRROR, &format!("{}/", server.url()))
            .replace(README_CLOUD, TEST_CLOUD);
        eprintln!("$ {command}");
        let out = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .current_dir(project.path())
            .env("PATH", &path)
            .env("OS_CLIENT_CONFIG_FILE", &clouds)
            .env("IMAGE_CRAWLER_CACHE_DIR", cache.path())
            .env("NO_COLOR", "1")
            .env_remove("OS_CLOUD")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{stdout}{stderr}");
        assert_eq!(out.status.code(), Some(0), "`{command}` failed");
        let real: Vec<String> = stdout.lines().chain(stderr.lines()).map(shape).collect();
        for line in &step.example {
            assert!(
                real.contains(&shape(line)),
                "README example line {line:?} of `{}` matches no line of the real output:\n{stdout}{stderr}",
                step.command
            );
        }
    }
    remove_quickstart_images().await;
}
