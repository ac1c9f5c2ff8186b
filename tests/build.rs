//! `image-crawler build` with a stand-in engine (`tests/fixtures/build/fake-disk-image-create`,
//! disk-image-create's interface): what the engine is given, the artifact directory it leaves,
//! and that a build failing midway leaves none; when a rebuild is due (a recipe change, a
//! `Release` file's `Date:` that moved, served from `tests/fixtures/build/archive/` on
//! 127.0.0.1), and that `build --if-needed` builds exactly then. The real
//! diskimage-builder build is `tests/dib_build.rs` (and its boot test `tests/dib_boot.rs`).

#[allow(unused_imports)] // support re-exports helpers these tests do not use
mod support;

use std::path::{Path, PathBuf};

use support::moto::Moto;
use support::{FixtureServer, copy_tree, fixtures};

use assert_cmd::Command;
use sha2::Digest as _;

fn fake_engine() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/build/fake-disk-image-create")
}

/// A Debian archive (only its `Release` files, written from the Debian repository format) on
/// 127.0.0.1, in a copy whose dates a test can move.
struct Archive {
    server: FixtureServer,
}

impl Archive {
    fn start(dir: &Path) -> Archive {
        let root = dir.join("archive");
        copy_tree(&fixtures().join("build/archive"), &root);
        Archive {
            server: FixtureServer::start(root),
        }
    }

    /// The mirror URL `http://deb.debian.org/` is rewritten to.
    fn mirror(&self) -> String {
        format!("{}/", self.server.url())
    }

    /// Sets the `Date:` of `<archive>/dists/<suite>/Release`.
    fn set_date(&self, archive: &str, suite: &str, date: &str) {
        let path = self
            .server
            .root()
            .join(archive)
            .join("dists")
            .join(suite)
            .join("Release");
        let text = std::fs::read_to_string(&path).unwrap();
        let re = regex::Regex::new(r"(?m)^Date: .*$").unwrap();
        assert!(re.is_match(&text));
        std::fs::write(&path, re.replace(&text, format!("Date: {date}")).as_ref()).unwrap();
    }
}

fn catalog(dir: &Path, signed: bool, archive: &Archive) -> PathBuf {
    catalog_publishing_to(dir, signed, "http://127.0.0.1:9/builds", archive)
}

fn catalog_publishing_to(dir: &Path, signed: bool, publish: &str, archive: &Archive) -> PathBuf {
    write_catalog(
        dir,
        signed,
        publish,
        &archive.mirror(),
        "[vm, debian-minimal, growroot]",
    )
}

fn write_catalog(dir: &Path, signed: bool, publish: &str, mirror: &str, elements: &str) -> PathBuf {
    let cat = dir.join("catalog");
    std::fs::create_dir_all(&cat).unwrap();
    std::fs::write(
        cat.join("images.yaml"),
        format!(
            r#"settings:
  mirrors:
    "http://deb.debian.org/": "{mirror}"
images:
  - id: debian-12-dib
    name: Debian 12 (built)
    source:
      diskimage-builder:
        elements: {elements}
        release: bookworm
        mirror: http://deb.debian.org/debian
        security_mirror: http://deb.debian.org/debian-security
        environment:
          DIB_CLOUD_INIT_DATASOURCES: "ConfigDrive, OpenStack"
        publish:
          url: {publish}
          listing: s3
          signed: {signed}
    signature:
      policy: if-published
    glance:
      min_disk: 3
      min_ram: 512
      properties:
        os_distro: debian
        os_version: "12"
        os_purpose: generic
        hw_disk_bus: virtio
        image_original_user: debian
        image_description: Debian 12 built with diskimage-builder
        replace_frequency: monthly
        provided_until: "2028-06-30"
        uuid_validity: last-3
"#
        ),
    )
    .unwrap();
    cat
}

fn build(dir: &Path, cat: &Path, fail: bool) -> assert_cmd::assert::Assert {
    Command::cargo_bin("image-crawler")
        .unwrap()
        .current_dir(dir)
        .env("IMAGE_CRAWLER_CACHE_DIR", dir.join("http-cache"))
        .args([
            "--catalog",
            cat.to_str().unwrap(),
            "build",
            "-v",
            "--format",
            "json",
        ])
        .arg("--engine")
        .arg(fake_engine())
        .args(["--output", "out"])
        .env("FAKE_DIB_FAIL_AFTER_IMAGE", if fail { "1" } else { "0" })
        .env_remove("IMAGE_CRAWLER_SIGNING_KEY")
        .assert()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_build_writes_the_published_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = Archive::start(tmp.path());
    let cat = catalog(tmp.path(), false, &archive);
    let out = build(tmp.path(), &cat, false).success();
    let report: serde_json::Value =
        serde_json::from_slice(&out.get_output().stdout).expect("one JSON document");
    support::schema::assert_matches("build", &report);
    let b = &report["builds"][0];
    assert_eq!(b["image"], "debian-12-dib");
    let version = b["version"].as_str().unwrap();
    assert!(
        regex::Regex::new(r"^\d{8}T\d{6}Z$")
            .unwrap()
            .is_match(version),
        "{version}"
    );
    let out_dir = tmp.path().join("out");
    assert_eq!(
        entries(&out_dir),
        ["debian-12-dib", "logs"],
        "no temp dir left"
    );
    let art = out_dir.join("debian-12-dib").join(version);
    assert_eq!(
        entries(&art),
        ["SHA256SUMS", "debian-12-dib.qcow2", "manifest.json"]
    );
    let image = std::fs::read(art.join("debian-12-dib.qcow2")).unwrap();
    let sha = hex::encode(sha2::Sha256::digest(&image));
    assert_eq!(
        std::fs::read_to_string(art.join("SHA256SUMS")).unwrap(),
        format!("{sha}  debian-12-dib.qcow2\n")
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["version"], version);
    assert_eq!(m["sha256"], sha);
    assert_eq!(m["size"], image.len());
    assert_eq!(m["engine"]["name"], "diskimage-builder");
    assert_eq!(m["engine"]["version"], "3.39.0");
    assert_eq!(
        m["elements"],
        serde_json::json!(["vm", "debian-minimal", "growroot"])
    );
    assert_eq!(m["release"], "bookworm");
    assert_eq!(m["architecture"], "x86_64");
    // The catalog's mirrors apply to what the build is given.
    let mirror = archive.mirror();
    assert_eq!(m["mirror"], format!("{mirror}debian"));
    assert_eq!(m["security_mirror"], format!("{mirror}debian-security"));
    assert_eq!(m["recipe_digest"].as_str().unwrap().len(), 64);
    // The archive's state when the build started, from the suites' Release files.
    assert_eq!(
        m["archive"],
        serde_json::json!({
            "bookworm": "2024-11-09T10:25:41Z",
            "bookworm-security": "2024-11-25T16:43:21Z",
        })
    );
    assert_eq!(
        m["packages"],
        serde_json::json!([
            {"name": "cloud-init", "version": "22.4.2-1+deb12u3", "architecture": "all"},
            {"name": "systemd", "version": "252.38-1~deb12u1", "architecture": "amd64"},
        ])
    );
    // The engine got the recipe (its log has both of its output streams).
    let log =
        std::fs::read_to_string(b["log"].as_str().map(|l| tmp.path().join(l)).unwrap()).unwrap();
    for line in [
        "element: vm",
        "element: growroot",
        "ARCH=amd64 DIB_RELEASE=bookworm",
        &format!("DIB_DISTRIBUTION_MIRROR={mirror}debian"),
        &format!("DIB_DEBIAN_SECURITY_MIRROR={mirror}debian-security"),
        "progress on stderr",
    ] {
        assert!(log.contains(line), "{line} not in log:\n{log}");
    }
}

#[test]
fn a_build_failing_midway_leaves_no_artifact() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = Archive::start(tmp.path());
    let cat = catalog(tmp.path(), false, &archive);
    let out = build(tmp.path(), &cat, true).code(3);
    let report: serde_json::Value =
        serde_json::from_slice(&out.get_output().stdout).expect("one JSON document");
    support::schema::assert_matches("build", &report);
    assert!(report["builds"][0]["error"].is_string(), "{report:#}");
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("error: cannot build `debian-12-dib`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("element finalise.d/99-broken failed"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
    let out_dir = tmp.path().join("out");
    // Only the log: no artifact directory, no temporary directory with the partial image.
    assert_eq!(entries(&out_dir), ["logs"]);
    let logs = entries(&out_dir.join("logs"));
    assert_eq!(logs.len(), 1);
    assert!(logs[0].starts_with("debian-12-dib-") && logs[0].ends_with(".log"));
}

#[test]
fn a_signed_recipe_without_a_key_is_not_built() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = Archive::start(tmp.path());
    let cat = catalog(tmp.path(), true, &archive);
    let out = build(tmp.path(), &cat, false).code(3);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("no signing key"), "{stderr}");
    assert!(entries(&tmp.path().join("out")).iter().all(|e| e == "logs"));
}

#[test]
fn a_signing_key_signs_the_checksum_file() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    let gpg = |args: &[&str]| {
        let o = std::process::Command::new("gpg")
            .arg("--batch")
            .arg("--homedir")
            .arg(&home)
            .args(args)
            .output()
            .expect("gpg must be installed (tests/run.sh installs gnupg)");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "Build Signer <build@example.org>",
        "ed25519",
        "sign",
        "never",
    ]);
    let key = tmp.path().join("signing.asc");
    std::fs::write(
        &key,
        gpg(&["--armor", "--export-secret-keys", "build@example.org"]),
    )
    .unwrap();
    let archive = Archive::start(tmp.path());
    let cat = catalog(tmp.path(), true, &archive);
    let out = Command::cargo_bin("image-crawler")
        .unwrap()
        .current_dir(tmp.path())
        .env("IMAGE_CRAWLER_CACHE_DIR", tmp.path().join("http-cache"))
        .args([
            "--catalog",
            cat.to_str().unwrap(),
            "build",
            "--format",
            "json",
        ])
        .arg("--engine")
        .arg(fake_engine())
        .args(["--output", "out"])
        .arg("--signing-key")
        .arg(&key)
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(report["builds"][0]["signed"], true);
    let art = tmp
        .path()
        .join("out/debian-12-dib")
        .join(report["builds"][0]["version"].as_str().unwrap());
    assert_eq!(
        entries(&art),
        [
            "SHA256SUMS",
            "SHA256SUMS.asc",
            "debian-12-dib.qcow2",
            "manifest.json"
        ]
    );
    // The signature verifies against the public key, with gpgv as the referee.
    let public = tmp.path().join("public.gpg");
    std::fs::write(&public, gpg(&["--export", "build@example.org"])).unwrap();
    let v = std::process::Command::new("gpgv")
        .arg("--keyring")
        .arg(&public)
        .arg(art.join("SHA256SUMS.asc"))
        .arg(art.join("SHA256SUMS"))
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

/// curl's status code and body.
fn curl(args: &[&str]) -> (u16, Vec<u8>) {
    let o = std::process::Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = o.stdout;
    let split = text.iter().rposition(|b| *b == b'\n').unwrap();
    let code = String::from_utf8_lossy(&text[split + 1..]).parse().unwrap();
    (code, text[..split].to_vec())
}

fn cli(dir: &Path, cat: &Path) -> Command {
    let mut c = Command::cargo_bin("image-crawler").unwrap();
    c.current_dir(dir)
        .args(["--catalog", cat.to_str().unwrap()])
        .env("AWS_ACCESS_KEY_ID", "build-test")
        .env("AWS_SECRET_ACCESS_KEY", "build-test-secret-value")
        .env("AWS_REGION", "us-east-1")
        .env("IMAGE_CRAWLER_CACHE_DIR", dir.join("http-cache"));
    c
}

/// build -> publish (S3, SigV4) -> check: the published build is discovered through the
/// object-storage source and locked with the image's digest; a second publish uploads nothing.
#[test]
fn a_published_build_is_what_check_locks() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let bucket = format!("{}/builds", moto.url);
    // A bucket anyone can list, as a public image store is (check reads anonymously); its
    // objects are made readable by `publish --public` (canned ACL `public-read`), writing
    // needs the signed requests of `publish`.
    let acl = ["-H", "x-amz-acl: public-read", "-X", "PUT"];
    assert_eq!(curl(&[&acl[..], &[bucket.as_str()]].concat()).0, 200);
    let archive = Archive::start(tmp.path());
    let cat = catalog_publishing_to(tmp.path(), false, &bucket, &archive);
    let out = cli(tmp.path(), &cat)
        .args(["build", "--format", "json", "--output", "out"])
        .arg("--engine")
        .arg(fake_engine())
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    support::schema::assert_matches("build", &report);
    let version = report["builds"][0]["version"].as_str().unwrap().to_owned();
    let sha = report["builds"][0]["sha256"].as_str().unwrap().to_owned();

    let out = cli(tmp.path(), &cat)
        .args(["publish", "--public", "--format", "json", "--output", "out"])
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    support::schema::assert_matches("publish", &report);
    let p = format!("debian-12-dib/{version}/");
    assert_eq!(
        report["published"][0]["uploaded"],
        serde_json::json!([
            format!("{p}SHA256SUMS"),
            format!("{p}manifest.json"),
            format!("{p}debian-12-dib.qcow2"),
        ])
    );
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(!stderr.contains("build-test-secret-value"), "{stderr}");
    // What is in the store is the artifact, byte for byte.
    let (code, got) = curl(&[&format!("{bucket}/{p}debian-12-dib.qcow2")]);
    assert_eq!(code, 200);
    assert_eq!(hex::encode(sha2::Sha256::digest(&got)), sha);

    let again = cli(tmp.path(), &cat)
        .args(["publish", "--public", "--format", "json", "--output", "out"])
        .assert()
        .success();
    let again: serde_json::Value = serde_json::from_slice(&again.get_output().stdout).unwrap();
    support::schema::assert_matches("publish", &again);
    assert_eq!(again["published"][0]["already_published"], true);
    assert_eq!(again["published"][0]["uploaded"], serde_json::json!([]));

    cli(tmp.path(), &cat)
        .args(["--state", "state", "check", "--no-cache"])
        .assert()
        .success();
    let lock = std::fs::read_to_string(tmp.path().join("state/debian-12-dib.toml")).unwrap();
    assert!(lock.contains(&version), "{lock}");
    assert!(lock.contains(&sha), "{lock}");
    assert!(
        lock.contains(&format!("{bucket}/{p}debian-12-dib.qcow2")),
        "{lock}"
    ); // What the build was made from travels with it: manifest -> lockfile.
    assert!(
        lock.contains("\n[build.inputs]\nrecipe_digest = \""),
        "{lock}"
    );
    assert!(
        lock.contains("[build.inputs.archive]\nbookworm = \"2024-11-09T10:25:41Z\"\nbookworm-security = \"2024-11-25T16:43:21Z\"\n"),
        "{lock}"
    );
}

/// `check --format json` on the state in `dir`: the report of debian-12-dib.
fn check_json(dir: &Path, cat: &Path) -> serde_json::Value {
    let out = cli(dir, cat)
        .args(["--state", "state", "--format", "json", "check"])
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    support::schema::assert_matches("check", &report);
    report["images"]["debian-12-dib"].clone()
}

/// `build --if-needed --format json`: the one outcome.
fn build_if_needed(dir: &Path, cat: &Path) -> serde_json::Value {
    // Build versions are per second: never two in the same one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = cli(dir, cat)
        .args([
            "--state",
            "state",
            "build",
            "--if-needed",
            "--format",
            "json",
        ])
        .args(["--output", "out"])
        .arg("--engine")
        .arg(fake_engine())
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    support::schema::assert_matches("build", &report);
    assert_eq!(report["builds"].as_array().unwrap().len(), 1, "{report}");
    report["builds"][0].clone()
}

fn publish(dir: &Path, cat: &Path) {
    cli(dir, cat)
        .args(["publish", "--public", "--output", "out"])
        .assert()
        .success();
}

/// The periodic path: `build --if-needed` builds when `check` reports a rebuild due (never
/// built, a `Release` date that moved, a changed recipe) and nothing when nothing changed.
#[test]
fn a_rebuild_is_due_when_the_recipe_or_the_archive_moves() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let bucket = format!("{}/builds", moto.url);
    let acl = ["-H", "x-amz-acl: public-read", "-X", "PUT"];
    assert_eq!(curl(&[&acl[..], &[bucket.as_str()]].concat()).0, 200);
    let archive = Archive::start(dir);
    let cat = catalog_publishing_to(dir, false, &bucket, &archive);

    // Never built: a note, no lockfile; --if-needed builds it.
    let r = check_json(dir, &cat);
    assert_eq!(r["outcome"], "not_built", "{r}");
    assert_eq!(
        r["rebuild"],
        serde_json::json!(["no build is published yet"])
    );
    assert!(!dir.join("state/debian-12-dib.toml").exists());
    let b = build_if_needed(dir, &cat);
    assert_eq!(
        b["reasons"],
        serde_json::json!(["no build is published yet"])
    );
    let first = b["version"].as_str().unwrap().to_owned();
    publish(dir, &cat);
    let r = check_json(dir, &cat);
    assert_eq!(r["outcome"], "added", "{r}");
    assert_eq!(r["to"], first.as_str());
    assert!(r.get("rebuild").is_none(), "{r}");

    // Nothing moved: nothing is due, nothing is built.
    let r = check_json(dir, &cat);
    assert_eq!(r["outcome"], "unchanged", "{r}");
    assert!(r.get("rebuild").is_none(), "{r}");
    let b = build_if_needed(dir, &cat);
    assert_eq!(b["current"], true, "{b}");
    assert!(b.get("version").is_none(), "{b}");
    assert_eq!(entries(&dir.join("out/debian-12-dib")), vec![first.clone()]);

    // The security suite moved: due, and the next build records the new date.
    archive.set_date(
        "debian-security",
        "bookworm-security",
        "Tue, 03 Dec 2024 08:00:00 UTC",
    );
    let moved = "the archive moved (bookworm-security Release 2024-11-25T16:43:21Z -> 2024-12-03T08:00:00Z)";
    let r = check_json(dir, &cat);
    assert_eq!(
        r["outcome"], "unchanged",
        "a due rebuild changes no lockfile: {r}"
    );
    assert_eq!(r["rebuild"], serde_json::json!([moved]));
    let human = cli(dir, &cat)
        .args(["--state", "state", "check"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&human.get_output().stdout).into_owned();
    assert!(
        stdout.contains(&format!("debian-12-dib: rebuild due: {moved}")),
        "{stdout}"
    );
    let b = build_if_needed(dir, &cat);
    assert_eq!(b["reasons"], serde_json::json!([moved]));
    let second = b["version"].as_str().unwrap().to_owned();
    publish(dir, &cat);
    let r = check_json(dir, &cat);
    assert_eq!(r["outcome"], "updated", "{r}");
    assert_eq!(r["to"], second.as_str());
    assert!(r.get("rebuild").is_none(), "{r}");
    let lock = std::fs::read_to_string(dir.join("state/debian-12-dib.toml")).unwrap();
    assert!(
        lock.contains("bookworm-security = \"2024-12-03T08:00:00Z\""),
        "{lock}"
    );

    // The recipe changed (one more element): due.
    write_catalog(
        dir,
        false,
        &bucket,
        &archive.mirror(),
        "[vm, debian-minimal, growroot, cloud-init]",
    );
    let r = check_json(dir, &cat);
    let reasons = r["rebuild"].as_array().unwrap();
    assert_eq!(reasons.len(), 1, "{r}");
    assert!(
        reasons[0]
            .as_str()
            .unwrap()
            .starts_with("the recipe changed (digest "),
        "{r}"
    );
    let b = build_if_needed(dir, &cat);
    assert_eq!(b["reasons"], r["rebuild"]);
    assert!(b["version"].is_string(), "{b}");
}

/// A built image whose store has no build yet (or cannot be reached at all) is a note, not
/// a failure: `check` on a fresh machine keeps working.
#[test]
fn a_built_image_never_published_is_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = Archive::start(tmp.path());
    let cat = catalog(tmp.path(), false, &archive);
    let out = cli(tmp.path(), &cat)
        .args(["--state", "state", "check"])
        .assert()
        .code(0);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("note: debian-12-dib: no build published yet (")
            && stderr.contains(
                "`image-crawler build debian-12-dib` then `image-crawler publish debian-12-dib`"
            ),
        "{stderr}"
    );
    assert!(!stderr.lines().any(|l| l.starts_with("error:")), "{stderr}");
    assert!(stderr.contains("1 not built, 0 failed"), "{stderr}");
    assert!(!tmp.path().join("state/debian-12-dib.toml").exists());
}

/// The shipped built images (`catalog/built.yaml`) load, disabled, with their SCS properties;
/// enabled with no build in the store (here: the bucket's host rewritten to a closed port),
/// `check` notes it and exits 0, so the main job on the shipped catalog keeps working.
#[test]
fn the_shipped_built_images_are_valid_and_a_missing_build_is_a_note() {
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalog");
    let catalog = image_crawler::catalog::load(&shipped).expect("the shipped catalog is valid");
    for id in ["debian-12-dib", "debian-12-dib-arm64"] {
        let img = &catalog.images[id];
        assert!(
            !img.enabled,
            "{id} is shipped disabled (publish.url is the operator's)"
        );
        let p = &img.glance.properties;
        assert_eq!(p["os_distro"], "debian", "{id}");
        assert_eq!(p["os_version"], "12", "{id}");
        assert_eq!(p["image_original_user"], "debian", "{id}");
    }

    let tmp = tempfile::tempdir().unwrap();
    let cat = tmp.path().join("catalog");
    copy_tree(&shipped, &cat);
    let built = std::fs::read_to_string(cat.join("built.yaml")).unwrap();
    std::fs::write(
        cat.join("built.yaml"),
        built.replace("enabled: false", "enabled: true"),
    )
    .unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = cli(tmp.path(), &cat)
        .args(["--state", "state", "check", "debian-12-dib", "--mirror"])
        .arg(format!(
            "https://object-store.example.org/=http://127.0.0.1:{port}/"
        ))
        .assert()
        .code(0);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("note: debian-12-dib: no build published yet"),
        "{stderr}"
    );
    assert!(stderr.contains("1 not built, 0 failed"), "{stderr}");
    assert!(!tmp.path().join("state/debian-12-dib.toml").exists());
}
