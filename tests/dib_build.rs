//! The real diskimage-builder path, end to end: `image-crawler build` runs the real
//! `disk-image-create` (tests/run.sh installs it into tests/.cache/dib, with the partx patch of
//! tests/dib/ applied) on a small Debian 12 recipe, `qemu-img check` judges the qcow2,
//! `publish` puts it into a real S3 server (moto) on 127.0.0.1, `check` locks it through the
//! object-storage discovery and `apply` imports it into the real test Glance, where its digest
//! is compared with the built file's.
//!
//! Unlike every other test this one reaches the network: debootstrap and apt fetch Debian's
//! packages from the mirror this machine's apt uses (`/etc/apt/sources.list.d/`, or
//! `IMAGE_CRAWLER_TEST_DEBIAN_MIRROR` / `IMAGE_CRAWLER_TEST_DEBIAN_SECURITY_MIRROR`). It needs
//! root (loop devices, mounts, chroot), takes minutes and about 2.3 GB of /tmp, and FAILS (never
//! skips) when diskimage-builder or the test Glance is missing.
//!
//! The built image is left in `tests/.cache/dib-image/` (or `IMAGE_CRAWLER_TEST_DIB_IMAGE_DIR`)
//! for the boot test, `tests/dib_boot.rs`, which tests/run.sh runs after this one.

#![allow(clippy::print_stderr)] // commands are echoed so a failing test shows what the tool said

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use image_crawler::catalog::ID_PROPERTY;
use image_crawler::openstack::{Glance, GlanceImage};
use support::moto::Moto;

const ID: &str = "debian-12-dib";
const CLOUD: &str = "gk-admin";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The installed `disk-image-create`, or a failure saying how to get it.
fn engine() -> PathBuf {
    let exe = std::env::var_os("IMAGE_CRAWLER_DIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("tests/.cache/dib/bin/disk-image-create"));
    assert!(
        exe.is_file(),
        "{} is missing: tests/run.sh installs diskimage-builder there (as root, with \
         debootstrap, qemu-utils, kpartx, squashfs-tools, gdisk, dosfstools and sudo)",
        exe.display()
    );
    exe
}

/// Where the built image is kept for `tests/dib_boot.rs`.
fn image_cache() -> PathBuf {
    std::env::var_os("IMAGE_CRAWLER_TEST_DIB_IMAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("tests/.cache/dib-image"))
}

/// The Debian mirror and security mirror apt is configured with here (deb822 `.sources` files
/// or one-line `sources.list`): the build fetches from the same place as the host.
fn apt_mirrors() -> (String, String) {
    let from_env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut main = from_env("IMAGE_CRAWLER_TEST_DEBIAN_MIRROR");
    let mut security = from_env("IMAGE_CRAWLER_TEST_DEBIAN_SECURITY_MIRROR");
    let mut texts = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "sources" || e == "list"))
            .collect();
        files.sort();
        texts.extend(files.iter().filter_map(|p| std::fs::read_to_string(p).ok()));
    }
    texts.extend(std::fs::read_to_string("/etc/apt/sources.list").ok());
    // (URI, suites) pairs of every stanza or line.
    let mut entries: Vec<(String, String)> = Vec::new();
    for text in &texts {
        for stanza in text.split("\n\n") {
            let field = |name: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            };
            if let (Some(uri), Some(suites)) = (field("URIs:"), field("Suites:")) {
                entries.push((uri.split_whitespace().next().unwrap().to_owned(), suites));
            }
            for line in stanza.lines() {
                let w: Vec<&str> = line.split_whitespace().collect();
                if w.first() == Some(&"deb") {
                    // `deb [options] URI suite components...`
                    let rest: Vec<&str> = w[1..]
                        .iter()
                        .skip_while(|x| x.starts_with('['))
                        .copied()
                        .collect();
                    if rest.len() >= 2 && !rest[0].ends_with(']') {
                        entries.push((rest[0].to_owned(), rest[1].to_owned()));
                    }
                }
            }
        }
    }
    for (uri, suites) in entries {
        if !uri.starts_with("http") {
            continue;
        }
        let uri = uri.trim_end_matches('/').to_owned();
        if suites.contains("-security") {
            security.get_or_insert(uri);
        } else if suites.split_whitespace().any(|s| s == "bookworm") {
            main.get_or_insert(uri);
        }
    }
    (
        main.expect("no Debian bookworm mirror in /etc/apt: set IMAGE_CRAWLER_TEST_DEBIAN_MIRROR"),
        security.expect(
            "no bookworm-security mirror in /etc/apt: set IMAGE_CRAWLER_TEST_DEBIAN_SECURITY_MIRROR",
        ),
    )
}

fn catalog(dir: &Path, mirror: &str, security: &str, bucket: &str) -> PathBuf {
    let cat = dir.join("catalog");
    std::fs::create_dir_all(&cat).unwrap();
    std::fs::write(
        cat.join("images.yaml"),
        format!(
            r#"images:
  - id: {ID}
    name: Debian 12 (built by the dib_build test)
    source:
      diskimage-builder:
        elements: [vm, debian-minimal, cloud-init, cloud-init-datasources, growroot]
        release: bookworm
        mirror: {mirror}
        security_mirror: {security}
        environment:
          # NoCloud for tests/dib_boot.rs's seed; ConfigDrive and OpenStack for a cloud.
          DIB_CLOUD_INIT_DATASOURCES: "NoCloud, ConfigDrive, OpenStack"
        publish:
          url: {bucket}
          listing: s3
          signed: false
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

fn run(dir: &Path, cat: &Path, args: &[&str]) -> Output {
    let bin_dir = engine().parent().unwrap().to_owned();
    // DIB's helpers (dib-block-device, dib-run-parts, ...) live next to disk-image-create.
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_image-crawler"))
        .current_dir(dir)
        .arg("--catalog")
        .arg(cat)
        .args(["--state", "state"])
        .args(args)
        .env("PATH", path)
        .env("OS_CLIENT_CONFIG_FILE", support::clouds::clouds_file())
        .env_remove("OS_CLOUD")
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", "dib-test")
        .env("AWS_SECRET_ACCESS_KEY", "dib-test-secret-value")
        .env("AWS_REGION", "us-east-1")
        .env("IMAGE_CRAWLER_CACHE_DIR", dir.join("http-cache"))
        .env_remove("IMAGE_CRAWLER_SIGNING_KEY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "$ image-crawler {}\n--- exit {:?}\n--- stdout\n{stdout}--- stderr\n{stderr}",
        args.join(" "),
        out.status.code(),
    );
    assert!(
        !stdout.contains("dib-test-secret-value") && !stderr.contains("dib-test-secret-value"),
        "the secret key was printed"
    );
    out
}

fn json(out: &Output) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "the command failed (output above)"
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

/// SHA-256 and SHA-512 of the image by coreutils: an independent referee, and fast where the
/// unoptimized sha2 of a test build takes minutes for a few hundred MiB.
fn digests(path: &Path) -> (String, String) {
    let sum = |tool: &str| {
        let out = Command::new(tool).arg(path).output().expect(tool);
        assert!(out.status.success(), "{tool} {}", path.display());
        let text = String::from_utf8(out.stdout).unwrap();
        text.split_whitespace().next().unwrap().to_owned()
    };
    (sum("sha256sum"), sum("sha512sum"))
}

async fn glance_images() -> (Glance, Vec<GlanceImage>) {
    let g = Glance::connect(support::clouds::cloud(CLOUD))
        .await
        .expect("connect to the test Glance");
    let mine = image_crawler::reconcile::apply::observe(&g)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.properties.get(ID_PROPERTY).map(String::as_str) == Some(ID))
        .collect();
    (g, mine)
}

async fn remove_from_glance() {
    let (g, mine) = glance_images().await;
    for i in mine {
        g.delete(&i.id).await.expect("delete an image of this test");
    }
}

/// Keeps the image for the boot test: written under a temporary name, then renamed, so a
/// reader never sees half an image. A hard link when /tmp and the cache share a file system.
fn keep_for_boot_test(image: &Path, sha256: &str) {
    let dir = image_cache();
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join(".debian-12.qcow2.tmp");
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(image, &tmp).is_err() {
        std::fs::copy(image, &tmp).unwrap();
    }
    std::fs::rename(&tmp, dir.join("debian-12.qcow2")).unwrap();
    std::fs::write(
        dir.join("SHA256SUMS"),
        format!("{sha256}  debian-12.qcow2\n"),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_debian_build_is_published_checked_and_applied() {
    let engine = engine();
    // Fail early and plainly when the prerequisites are missing, not after a long build.
    let clouds = support::clouds::clouds_file();
    assert!(
        clouds.is_file(),
        "{}: {}",
        clouds.display(),
        support::clouds::HOW
    );
    let (mirror, security) = apt_mirrors();
    eprintln!(
        "engine {}, mirror {mirror}, security mirror {security}",
        engine.display()
    );
    remove_from_glance().await;

    let moto = Moto::start();
    let bucket = format!("{}/builds", moto.url);
    let create = Command::new("curl")
        .args(["-sf", "-X", "PUT", "-H", "x-amz-acl: public-read", &bucket])
        .status()
        .unwrap();
    assert!(create.success(), "cannot create the bucket {bucket}");

    let tmp = tempfile::tempdir().unwrap();
    let cat = catalog(tmp.path(), &mirror, &security, &bucket);

    // build: the real disk-image-create.
    let started = Instant::now();
    let out = run(
        tmp.path(),
        &cat,
        &[
            "build",
            "--format",
            "json",
            "--output",
            "out",
            "--engine",
            engine.to_str().unwrap(),
        ],
    );
    let build_seconds = started.elapsed().as_secs();
    if out.status.code() != Some(0) {
        // The tool names the log; print its end for the CI log.
        if let Ok(logs) = std::fs::read_dir(tmp.path().join("out/logs")) {
            for l in logs.flatten() {
                let text = std::fs::read_to_string(l.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(80).collect();
                eprintln!("--- {} (last 80 lines)", l.path().display());
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
    let report = json(&out);
    eprintln!("build took {build_seconds} s");
    let b = &report["builds"][0];
    let version = b["version"].as_str().expect("a build version").to_owned();
    let art = tmp.path().join("out").join(ID).join(&version);
    let image = art.join(format!("{ID}.qcow2"));
    let (sha256, sha512) = digests(&image);
    assert_eq!(b["sha256"], sha256);
    assert_eq!(
        std::fs::read_to_string(art.join("SHA256SUMS")).unwrap(),
        format!("{sha256}  {ID}.qcow2\n")
    );

    // qemu-img is the referee for the image itself.
    let check = Command::new("qemu-img")
        .args(["check", "-f", "qcow2"])
        .arg(&image)
        .output()
        .expect("qemu-img (apt qemu-utils)");
    assert!(
        check.status.success(),
        "qemu-img check failed:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let info = Command::new("qemu-img")
        .args(["info", "--output", "json"])
        .arg(&image)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["format"], "qcow2");
    let virtual_size = info["virtual-size"].as_u64().unwrap();
    assert!(virtual_size <= 3 << 30, "bigger than min_disk: {info}");

    // What went in: the real DIB version, the mirrors, dpkg's package list.
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("manifest.json")).unwrap()).unwrap();
    let dib_version = Command::new(&engine).arg("--version").output().unwrap();
    assert_eq!(
        m["engine"]["version"],
        String::from_utf8_lossy(&dib_version.stdout).trim()
    );
    assert_eq!(m["mirror"], mirror.as_str());
    assert_eq!(m["security_mirror"], security.as_str());
    let packages: Vec<&str> = m["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for want in ["cloud-init", "cloud-guest-utils", "grub-pc", "systemd"] {
        assert!(packages.contains(&want), "{want} not in {packages:?}");
    }
    assert!(
        packages.iter().any(|p| p.starts_with("linux-image-")),
        "{packages:?}"
    );
    keep_for_boot_test(&image, &sha256);

    // publish -> check -> apply.
    let published = json(&run(
        tmp.path(),
        &cat,
        &["publish", "--public", "--format", "json", "--output", "out"],
    ));
    assert_eq!(
        published["published"][0]["uploaded"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "{published}"
    );
    let out = run(tmp.path(), &cat, &["check", "--no-cache"]);
    assert_eq!(out.status.code(), Some(0));
    let lock = std::fs::read_to_string(tmp.path().join(format!("state/{ID}.toml"))).unwrap();
    let url = format!("{bucket}/{ID}/{version}/{ID}.qcow2");
    for want in [&version, &sha256, &url] {
        assert!(lock.contains(want.as_str()), "{want} not in\n{lock}");
    }
    let out = run(tmp.path(), &cat, &["apply", "--cloud", CLOUD, "--yes"]);
    assert_eq!(out.status.code(), Some(0));

    let (_, mine) = glance_images().await;
    assert_eq!(mine.len(), 1, "{mine:#?}");
    let img = &mine[0];
    assert_eq!(img.status, "active");
    assert_eq!(img.disk_format.as_deref(), Some("qcow2"));
    assert_eq!(img.size, Some(std::fs::metadata(&image).unwrap().len()));
    assert_eq!(img.virtual_size, Some(virtual_size));
    // Glance's own digest of what it stored is the built file's.
    assert_eq!(img.os_hash_algo.as_deref(), Some("sha512"));
    assert_eq!(img.os_hash_value.as_deref(), Some(sha512.as_str()));
    assert_eq!(img.properties["image_source"], url);
    assert_eq!(img.properties["image_crawler_version"], version);
    remove_from_glance().await;
    eprintln!(
        "build {build_seconds} s, image {} bytes, virtual {virtual_size} bytes",
        img.size.unwrap()
    );
}
