//! `image-crawler audit` against a REAL Keystone + Glance on 127.0.0.1: crafted images are
//! created through the project's Glance client, then the binary audits the cloud and the
//! findings for those images are checked. Each rule has a passing and a failing case where the
//! live path allows it; the full matrix is in the unit tests of `src/scs/`.
//!
//! Start the services and point the tests at them:
//! ```text
//! GK_KEYSTONE_PORT=5200 GK_GLANCE_PORT=9492 tests/openstack/glance-keystone.sh start /tmp/gk-scs
//! IMAGE_CRAWLER_TEST_CLOUDS=/tmp/gk-scs/clouds.yaml cargo test --test audit
//! ```
//! Without `IMAGE_CRAWLER_TEST_CLOUDS` every test FAILS with this how-to. Images are created
//! as `gk-admin` (publicizing needs admin) and audited as `gk-demo` (a plain member can audit).
//! Tests use unique name prefixes and `os_version`s so they run in parallel; only
//! `standard_images_by_exact_name` uses the standard names and must be the only user of them
//! on the instance.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use image_crawler::openstack::glance::patch_ops;
use image_crawler::openstack::{Glance, GlanceImage, Hidden, ListFilter, NewImage};
use serde_json::Value;

/// Marks every image these tests create, so leftovers of a failed run can be found.
const MARKER: &str = "ictest_audit";

async fn admin() -> Glance {
    Glance::connect(support::clouds::cloud("gk-admin"))
        .await
        .expect("connect as gk-admin")
}

/// A plain member of another project than the auditing `gk-demo`.
async fn alt_demo() -> Glance {
    Glance::connect(support::clouds::cloud("gk-alt-demo"))
        .await
        .expect("connect as gk-alt-demo")
}

fn prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("ictest-audit-{test}-{:x}", nanos % 0xffff_ffff)
}

fn today() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%d").to_string()
}

/// A public image that conforms to scs-0102 v2, with its own `os_version` (so uniqueness
/// buckets never mix between tests) and a recent build date.
fn conforming(name: &str, os_version: &str) -> NewImage {
    let props: BTreeMap<String, String> = [
        ("architecture", "x86_64"),
        ("hw_disk_bus", "virtio"),
        ("hypervisor_type", "qemu"),
        ("hw_rng_model", "virtio"),
        ("os_distro", "ubuntu"),
        ("os_version", os_version),
        ("os_purpose", "generic"),
        ("replace_frequency", "monthly"),
        ("provided_until", "2099-12-31"),
        ("uuid_validity", "last-3"),
        ("image_source", "https://cloud-images.ubuntu.com/releases/noble/release-20261101/ubuntu-24.04-server-cloudimg-amd64.img"),
        ("image_description", "https://ubuntu.com/server/docs"),
        ("image_original_user", "ubuntu"),
        (MARKER, "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain([("image_build_date".to_owned(), today())])
    .collect();
    NewImage {
        name: name.to_owned(),
        disk_format: "raw".into(),
        container_format: "bare".into(),
        min_disk: 1,
        min_ram: 512,
        visibility: Some("public".into()),
        properties: props,
        ..NewImage::default()
    }
}

fn with(mut img: NewImage, key: &str, value: Option<&str>) -> NewImage {
    match value {
        Some(v) => img.properties.insert(key.to_owned(), v.to_owned()),
        None => img.properties.remove(key),
    };
    img
}

/// Creates the image; with `upload`, gives it 1 MiB of data so Glance records a size.
async fn create(glance: &Glance, img: &NewImage, upload: bool) -> GlanceImage {
    let created = glance
        .create(img)
        .await
        .unwrap_or_else(|e| panic!("create {}: {e}", img.name));
    if !upload {
        return created;
    }
    let data = vec![7u8; 1024 * 1024];
    let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(data))]);
    glance
        .upload(&created.id, stream, Some(1024 * 1024))
        .await
        .expect("upload");
    glance.get(&created.id).await.expect("get after upload")
}

async fn cleanup(glance: &Glance, ids: &[&str]) {
    for id in ids {
        let _ = glance.delete(id).await;
    }
}

/// Runs `image-crawler audit --cloud gk-demo --format json EXTRA...` and returns the exit
/// code and the report.
fn audit(extra: &[&str]) -> (i32, Value) {
    let catalog = tempfile::tempdir().unwrap(); // no lifecycle.yaml: the built-in data is used
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_image-crawler"))
        .args([
            "audit",
            "--cloud",
            "gk-demo",
            "--format",
            "json",
            "--catalog",
        ])
        .arg(catalog.path())
        .args(extra)
        .env("OS_CLIENT_CONFIG_FILE", support::clouds::clouds_file())
        .env_remove("OS_CLOUD")
        .output()
        .expect("run image-crawler");
    let code = out.status.code().unwrap_or(-1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "audit printed no JSON ({e}), exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, report)
}

/// The (rule, severity) pairs reported for one image id.
fn findings(report: &Value, id: &str) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .expect("findings list")
        .iter()
        .filter(|f| f["image_id"] == id)
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn property_rules_pass_and_fail_on_live_images() {
    let glance = admin().await;
    let p = prefix("props");
    // A conforming image with data (so min_disk is checked against a real size).
    let good = create(
        &glance,
        &conforming(&format!("{p} good"), &format!("{p}-1")),
        true,
    )
    .await;
    assert!(good.size.is_some(), "Glance recorded no size: {good:?}");
    // A community image (listed only when asked) with one problem per rule.
    let mut bad = conforming(&format!("{p} bad"), &format!("{p}-2"));
    bad = with(bad, "architecture", None);
    bad = with(bad, "hw_disk_bus", Some("ide"));
    bad.min_disk = 0;
    bad.min_ram = 0;
    bad.visibility = Some("community".into());
    let bad = create(&glance, &bad, false).await;
    // Low memory only warns.
    let mut tiny = conforming(&format!("{p} tiny"), &format!("{p}-3"));
    tiny.min_ram = 32;
    let tiny = create(&glance, &tiny, false).await;

    // The community image is another project's: only the stricter scope sees it.
    let (_, report) = audit(&["--scs0102", "v2", "--include-community"]);
    let (g, b, t) = (
        findings(&report, &good.id),
        findings(&report, &bad.id),
        findings(&report, &tiny.id),
    );
    cleanup(&glance, &[&good.id, &bad.id, &tiny.id]).await;
    assert_eq!(g, set(&[]), "{report:#}");
    assert_eq!(
        b,
        set(&[
            ("scs-0102/mandatory-property", "error"),
            ("scs-0102/allowed-value", "error"),
            ("scs-0102/min-disk", "error"),
            ("scs-0102/min-ram", "error"),
        ]),
        "{report:#}"
    );
    assert_eq!(t, set(&[("scs-0102/min-ram", "warning")]), "{report:#}");
}

#[tokio::test]
async fn build_date_rules_on_live_images() {
    let glance = admin().await;
    let p = prefix("bdate");
    let good = create(
        &glance,
        &conforming(&format!("{p} good"), &format!("{p}-1")),
        false,
    )
    .await;
    let tomorrow = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48))
        .strftime("%Y-%m-%d")
        .to_string();
    let future = create(
        &glance,
        &with(
            conforming(&format!("{p} future"), &format!("{p}-2")),
            "image_build_date",
            Some(&tomorrow),
        ),
        false,
    )
    .await;
    let garbled = create(
        &glance,
        &with(
            conforming(&format!("{p} garbled"), &format!("{p}-3")),
            "image_build_date",
            Some("last week"),
        ),
        false,
    )
    .await;

    // The official test accepts the ISO form (its first strptime format); scs-0102's text
    // does not: a warning, not an error.
    let iso = create(
        &glance,
        &with(
            conforming(&format!("{p} iso"), &format!("{p}-4")),
            "image_build_date",
            Some("2025-10-08T00:00:00Z"),
        ),
        false,
    )
    .await;

    let (_, report) = audit(&[]);
    let got = |id: &str| findings(&report, id);
    let (g, f, x, i) = (
        got(&good.id),
        got(&future.id),
        got(&garbled.id),
        got(&iso.id),
    );
    cleanup(&glance, &[&good.id, &future.id, &garbled.id, &iso.id]).await;
    assert_eq!(g, set(&[]), "{report:#}");
    // (recency: built 2025-10-08, monthly, no replacement)
    assert_eq!(
        i,
        set(&[
            ("scs-0102/build-date", "warning"),
            ("scs-0102/recency", "error")
        ]),
        "{report:#}"
    );
    assert_eq!(f, set(&[("scs-0102/build-date", "error")]), "{report:#}");
    let msgs: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["image_id"] == future.id.as_str())
        .map(|v| v["message"].as_str().unwrap())
        .collect();
    assert!(
        msgs.iter().any(|m| m.contains("in the future"))
            && msgs
                .iter()
                .any(|m| m.contains("after the image was registered")),
        "{msgs:?}"
    );
    assert_eq!(x, set(&[("scs-0102/build-date", "error")]), "{report:#}");
}

#[tokio::test]
async fn recency_needs_a_recent_replacement() {
    let glance = admin().await;
    let p = prefix("recency");
    let old =
        |name: &str, v: &str| with(conforming(name, v), "image_build_date", Some("2020-01-01"));
    // Outdated and alone: fails.
    let stale = create(
        &glance,
        &old(&format!("{p} Alone"), &format!("{p}-1")),
        false,
    )
    .await;
    // Outdated, renamed with its build date and hidden, with a recent image under the short name: passes.
    let current = create(
        &glance,
        &conforming(&format!("{p} Rotated"), &format!("{p}-2")),
        false,
    )
    .await;
    let mut rotated = old(&format!("{p} Rotated 20200101"), &format!("{p}-2"));
    rotated.hidden = true;
    rotated = with(rotated, "os_purpose", Some("oldgeneric"));
    let rotated = create(&glance, &rotated, false).await;
    // Outdated but exempt: provided_until is past.
    let ended = create(
        &glance,
        &with(
            old(&format!("{p} Ended"), &format!("{p}-3")),
            "provided_until",
            Some("2021-01-01"),
        ),
        false,
    )
    .await;

    let (_, report) = audit(&["--scs0102", "v2"]);
    let got = |id: &str| findings(&report, id);
    let results = (
        got(&stale.id),
        got(&current.id),
        got(&rotated.id),
        got(&ended.id),
    );
    cleanup(&glance, &[&stale.id, &current.id, &rotated.id, &ended.id]).await;
    assert_eq!(
        results.0,
        set(&[("scs-0102/recency", "error")]),
        "{report:#}"
    );
    assert_eq!(results.1, set(&[]), "{report:#}");
    assert_eq!(results.2, set(&[]), "{report:#}");
    assert_eq!(results.3, set(&[]), "{report:#}");
}

#[tokio::test]
async fn generic_images_must_be_unique_in_v2() {
    let glance = admin().await;
    let p = prefix("unique");
    let v = format!("{p}-1");
    let a = create(&glance, &conforming(&format!("{p} A"), &v), false).await;
    let b = create(&glance, &conforming(&format!("{p} B"), &v), false).await;
    // Same triple, but marked oldgeneric: does not count.
    let w = format!("{p}-2");
    let c = create(&glance, &conforming(&format!("{p} C"), &w), false).await;
    let d = create(
        &glance,
        &with(
            conforming(&format!("{p} D"), &w),
            "os_purpose",
            Some("oldgeneric"),
        ),
        false,
    )
    .await;

    let (_, v2) = audit(&["--scs0102", "v2"]);
    let (_, v1) = audit(&["--scs0102", "v1"]);
    cleanup(&glance, &[&a.id, &b.id, &c.id, &d.id]).await;
    let dup = set(&[("scs-0102-v2/os-purpose-unique", "error")]);
    assert_eq!(
        (findings(&v2, &a.id), findings(&v2, &b.id)),
        (dup.clone(), dup),
        "{v2:#}"
    );
    assert_eq!(
        (findings(&v2, &c.id), findings(&v2, &d.id)),
        (set(&[]), set(&[])),
        "{v2:#}"
    );
    assert_eq!(
        findings(&v1, &a.id),
        set(&[("scs-0102-v2/os-purpose-unique", "warning")]),
        "{v1:#}"
    );
}

#[tokio::test]
async fn lifecycle_flags_a_visible_image_past_eol() {
    let glance = admin().await;
    let p = prefix("eol");
    // Ubuntu 20.04 ended on 2025-05-31 (built-in lifecycle data); 24.04 is supported.
    let focal = create(&glance, &conforming(&format!("{p} focal"), "20.04"), false).await;
    let mut hidden = conforming(&format!("{p} focal 20200101"), "20.04");
    hidden.hidden = true;
    let hidden = create(&glance, &hidden, false).await;
    let noble = create(
        &glance,
        &with(
            conforming(&format!("{p} noble"), "24.04"),
            "os_purpose",
            Some("minimal"),
        ),
        false,
    )
    .await;

    let (_, report) = audit(&[]);
    let results = (
        findings(&report, &focal.id),
        findings(&report, &hidden.id),
        findings(&report, &noble.id),
    );
    cleanup(&glance, &[&focal.id, &hidden.id, &noble.id]).await;
    assert_eq!(results.0, set(&[("lifecycle/eol", "error")]), "{report:#}");
    assert!(
        !results
            .1
            .contains(&("lifecycle/eol".to_owned(), "error".to_owned())),
        "{report:#}"
    );
    assert_eq!(results.2, set(&[]), "{report:#}");
}

/// scs-0104 by exact name: the only test that uses standard names.
#[tokio::test]
async fn standard_images_by_exact_name() {
    let glance = admin().await;
    // Leftovers of an earlier failed run.
    let filter = ListFilter {
        name: Some("Ubuntu 24.04".into()),
        hidden: Hidden::Include,
        ..ListFilter::default()
    };
    for img in glance.list(&filter).await.unwrap() {
        if img.properties.contains_key(MARKER) {
            let _ = glance.delete(&img.id).await;
        }
    }
    let before: Vec<GlanceImage> = glance.list(&filter).await.unwrap();
    assert!(
        before.is_empty(),
        "another `Ubuntu 24.04` exists on this instance; this test needs an instance of its own: {before:?}"
    );

    let missing = |r: &Value| {
        r["findings"].as_array().unwrap().iter().any(|f| {
            f["rule"] == "scs-0104/missing-image"
                && f["image_name"] == "Ubuntu 24.04"
                && f["severity"] == "error"
        })
    };
    let (_, report) = audit(&[]);
    assert!(
        missing(&report),
        "Ubuntu 24.04 is absent but not reported: {report:#}"
    );
    let (_, report) = audit(&["--scs0104", "none"]);
    assert!(!missing(&report), "{report:#}");

    // Present, but from a mirror: the prefix check fails.
    let p = prefix("std");
    let mirror = with(
        conforming("Ubuntu 24.04", &format!("{p}-1")),
        "image_source",
        Some("https://mirror.example.org/ubuntu/noble/x.img"),
    );
    let img = create(&glance, &mirror, false).await;
    let (_, report) = audit(&[]);
    let first = (missing(&report), findings(&report, &img.id));
    // Fixed to the upstream URL: passes.
    let mut after = img.clone();
    after.properties.insert(
        "image_source".into(),
        "https://cloud-images.ubuntu.com/releases/noble/release-20261101/x.img".into(),
    );
    let patched = glance.patch(&img.id, &patch_ops(&img, &after)).await;
    let (_, report2) = audit(&[]);
    let second = (missing(&report2), findings(&report2, &img.id));
    // A NEWER duplicate from a mirror: the official lookup judges the oldest `Ubuntu 24.04`
    // only, so the default passes; `--each-duplicate` judges the duplicate too.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // a later created_at
    let dup = with(mirror.clone(), "os_version", Some(&format!("{p}-2"))); // not a 2nd generic
    let dup = create(&glance, &dup, false).await;
    let (_, report3) = audit(&[]);
    let (_, report4) = audit(&["--each-duplicate"]);
    let third = (findings(&report3, &img.id), findings(&report3, &dup.id));
    let fourth = (findings(&report4, &img.id), findings(&report4, &dup.id));
    cleanup(&glance, &[&img.id, &dup.id]).await;
    patched.expect("patch image_source");
    assert_eq!(third, (set(&[]), set(&[])), "{report3:#}");
    assert_eq!(
        fourth,
        (set(&[]), set(&[("scs-0104/image-source-prefix", "error")])),
        "{report4:#}"
    );
    assert_eq!(
        first,
        (false, set(&[("scs-0104/image-source-prefix", "error")])),
        "{report:#}"
    );
    assert_eq!(second, (false, set(&[])), "{report2:#}");
}

#[tokio::test]
async fn detailed_exitcode_is_two_with_findings() {
    let glance = admin().await;
    let p = prefix("exit");
    let bad = create(
        &glance,
        &with(
            conforming(&format!("{p} bad"), &format!("{p}-1")),
            "image_original_user",
            None,
        ),
        false,
    )
    .await;
    let (plain, _) = audit(&[]);
    let (detailed, report) = audit(&["--detailed-exitcode"]);
    cleanup(&glance, &[&bad.id]).await;
    assert_eq!(
        findings(&report, &bad.id),
        set(&[("scs-0102/mandatory-property", "error")])
    );
    assert_eq!((plain, detailed), (0, 2));
}

/// The default scope is the official suite's (`list_images(show_all=True)` filtered to
/// public/community): hidden images and other projects' community images are left out; the
/// opt-in flags add them. A community image of the auditing project is in the default scope.
#[tokio::test]
async fn default_scope_is_the_official_suites() {
    let glance = admin().await;
    let alt = alt_demo().await;
    let demo = Glance::connect(support::clouds::cloud("gk-demo"))
        .await
        .expect("connect as gk-demo");
    let p = prefix("scope");
    let broken = |name: &str, v: &str| with(conforming(name, v), "architecture", None);
    let mut hidden = broken(&format!("{p} hidden"), &format!("{p}-1"));
    hidden.hidden = true;
    let hidden = create(&glance, &hidden, false).await;
    let mut foreign = broken(&format!("{p} foreign"), &format!("{p}-2"));
    foreign.visibility = Some("community".into());
    let foreign = create(&alt, &foreign, false).await;
    let mut own = broken(&format!("{p} own"), &format!("{p}-3"));
    own.visibility = Some("community".into());
    let own = create(&demo, &own, false).await;

    let ids = [&hidden.id, &foreign.id, &own.id];
    let seen = |r: &Value| -> Vec<bool> {
        ids.iter()
            .map(|id| {
                findings(r, id).contains(&("scs-0102/mandatory-property".into(), "error".into()))
            })
            .collect()
    };
    let (_, default) = audit(&[]);
    let (_, with_hidden) = audit(&["--include-hidden"]);
    let (_, with_community) = audit(&["--include-community"]);
    let (_, both) = audit(&["--include-hidden", "--include-community"]);
    cleanup(&glance, &[&hidden.id]).await;
    cleanup(&alt, &[&foreign.id]).await;
    cleanup(&demo, &[&own.id]).await;
    assert_eq!(seen(&default), [false, false, true], "{default:#}");
    assert_eq!(seen(&with_hidden), [true, false, true], "{with_hidden:#}");
    assert_eq!(
        seen(&with_community),
        [false, true, true],
        "{with_community:#}"
    );
    assert_eq!(seen(&both), [true, true, true], "{both:#}");
    assert_eq!(
        default["scope"],
        serde_json::json!({"include_hidden": false, "include_community": false, "each_duplicate": false}),
        "{default:#}"
    );
}

/// Duplicate names: the official suite looks an image up by name in a dict built from the
/// listing (newest first), so of several same-named images only the OLDEST is judged by the
/// name-based tests (scs-0104 sources, the recency replacement). `--each-duplicate` judges
/// every one of them for scs-0104.
#[tokio::test]
async fn duplicate_names_follow_the_official_lookup() {
    let glance = admin().await;
    let p = prefix("dup");
    // Recency: `<p> x` is outdated; of the two images named `<p>` the older is outdated too,
    // the newer is recent. The official lookup sees the older one: no replacement.
    let old_date = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 200))
        .strftime("%Y-%m-%d")
        .to_string();
    let outdated =
        |name: &str, v: &str| with(conforming(name, v), "image_build_date", Some(&old_date));
    let renamed = create(
        &glance,
        &outdated(&format!("{p} x"), &format!("{p}-1")),
        false,
    )
    .await;
    let first = create(&glance, &outdated(&p, &format!("{p}-2")), false).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // a later created_at
    let second = create(&glance, &conforming(&p, &format!("{p}-3")), false).await;
    let (_, report) = audit(&["--scs0104", "none"]);
    let got = findings(&report, &renamed.id);
    cleanup(&glance, &[&renamed.id, &first.id, &second.id]).await;
    assert_eq!(got, set(&[("scs-0102/recency", "error")]), "{report:#}");
}
