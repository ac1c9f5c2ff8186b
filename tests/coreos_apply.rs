//! Issue 17, done when: a Fedora CoreOS-style `qcow2.xz` and a Flatcar-style `img.gz` go
//! through `check` and `apply` into a REAL Glance + Keystone (`IMAGE_CRAWLER_TEST_CLOUDS`, see
//! `tests/apply.rs`; these tests FAIL without it) with both digests verified: the artifact's
//! (what upstream vouches for) and the decompressed image's (what Glance stores).
//!
//! The upstream trees are written here, in the distributors' layouts, and served on 127.0.0.1;
//! the distributors' hosts reach them through `--mirror`. Signatures are made by the real `gpg`
//! with a key generated for the run.

#![allow(clippy::print_stderr)] // commands are echoed so a failing test shows what the tool said

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use image_crawler::catalog::ID_PROPERTY;
use image_crawler::lock::{HashAlgorithm, LockedImage, SignatureState};
use image_crawler::openstack::{Glance, GlanceImage};
use sha2::{Digest as _, Sha256, Sha512};

const CLOUD: &str = "gk-admin";
const FCOS_RELEASE: &str = "43.20261110.3.1";
const FLATCAR_RELEASE: &str = "4230.2.3";
const FLATCAR_ARTIFACT: &str = "flatcar_production_openstack_image.img.gz";

fn clouds_yaml() -> PathBuf {
    match std::env::var_os("IMAGE_CRAWLER_TEST_CLOUDS") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "IMAGE_CRAWLER_TEST_CLOUDS is not set. These tests need a real Glance + Keystone \
             (tests/openstack/glance-keystone.sh start <dir>; see tests/apply.rs)"
        ),
    }
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn sha512(b: &[u8]) -> String {
    hex::encode(Sha512::digest(b))
}

/// A disk image that compresses (runs of a pattern with noise), as real images do.
fn image_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|i| {
            if i % 16 == 0 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            } else {
                (i / 4096) as u8
            }
        })
        .collect()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut w =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(1)).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

/// The real `gpg` in its own home (tests/run.sh installs gnupg; missing, this FAILS).
struct Gpg {
    home: PathBuf,
}

impl Gpg {
    fn new(root: &Path) -> (Gpg, String) {
        let home = root.join("gnupg");
        std::fs::create_dir_all(&home).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let g = Gpg { home };
        g.run(&[
            "--quick-gen-key",
            "Test CoreOS <coreos@example.org>",
            "ed25519",
            "sign",
            "0",
        ]);
        let list = g.run(&["--with-colons", "--list-keys"]);
        let fpr = String::from_utf8(list)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .unwrap()
            .split(':')
            .nth(9)
            .unwrap()
            .to_owned();
        (g, fpr)
    }

    fn run(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("gpg")
            .env("GNUPGHOME", &self.home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("gpg must be installed (tests/run.sh installs gnupg)");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn path_arg(p: &Path) -> &str {
        p.to_str().unwrap()
    }

    fn detach_sign(&self, file: &Path) {
        let sig = PathBuf::from(format!("{}.sig", file.display()));
        self.run(&[
            "--detach-sign",
            "-o",
            Self::path_arg(&sig),
            Self::path_arg(file),
        ]);
    }

    fn clearsign(&self, file: &Path) {
        let asc = PathBuf::from(format!("{}.asc", file.display()));
        self.run(&[
            "--clearsign",
            "-o",
            Self::path_arg(&asc),
            Self::path_arg(file),
        ]);
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The FCOS tree: `streams/stable.json` naming one build per architecture. The aarch64 entry
/// publishes an `uncompressed-sha256` that is not its image's.
fn fcos_tree(www: &Path, gpg: &Gpg, images: &[(&str, &[u8])]) {
    let mut arches = serde_json::Map::new();
    for (arch, image) in images {
        let artifact = xz(image);
        assert!(artifact.len() < image.len() / 2, "the fixture compresses");
        let dir = format!("prod/streams/stable/builds/{FCOS_RELEASE}/{arch}/");
        let file = format!("fedora-coreos-{FCOS_RELEASE}-openstack.{arch}.qcow2.xz");
        let path = www.join("fcos").join(&dir).join(&file);
        write(&path, &artifact);
        gpg.detach_sign(&path);
        let location = format!("https://builds.coreos.fedoraproject.org/{dir}{file}");
        let uncompressed = if *arch == "aarch64" {
            sha256(b"not the image")
        } else {
            sha256(image)
        };
        arches.insert(
            (*arch).to_owned(),
            serde_json::json!({"artifacts": {"openstack": {"release": FCOS_RELEASE, "formats": {
            "qcow2.xz": {"disk": {
                "location": location,
                "signature": format!("{location}.sig"),
                "sha256": sha256(&artifact),
                "uncompressed-sha256": uncompressed,
            }}}}}}),
        );
    }
    let doc = serde_json::json!({
        "stream": "stable",
        "metadata": {"last-modified": "2026-11-20T10:00:00Z"},
        "architectures": arches,
    });
    write(
        &www.join("fcos/streams/stable.json"),
        serde_json::to_string_pretty(&doc).unwrap().as_bytes(),
    );
}

/// The Flatcar tree: `current/version.txt`, the versioned directory with the artifact, its
/// DIGESTS (md5, sha1, sha512 sections) and the DIGESTS clear-signed.
fn flatcar_tree(www: &Path, gpg: &Gpg, image: &[u8]) {
    let artifact = gz(image);
    assert!(artifact.len() < image.len() / 2, "the fixture compresses");
    let version = format!(
        "FLATCAR_BUILD=4230\nFLATCAR_BRANCH=2\nFLATCAR_PATCH=3\nFLATCAR_VERSION={FLATCAR_RELEASE}\nFLATCAR_VERSION_ID={FLATCAR_RELEASE}\nFLATCAR_BUILD_ID=\"2026-10-02-1733\"\nFLATCAR_SDK_VERSION=4230.1.0\n"
    );
    let root = www.join("flatcar/amd64-usr");
    write(&root.join("current/version.txt"), version.as_bytes());
    let dir = root.join(FLATCAR_RELEASE);
    write(&dir.join("version.txt"), version.as_bytes());
    write(&dir.join(FLATCAR_ARTIFACT), &artifact);
    let md5 = Command::new("md5sum")
        .arg(dir.join(FLATCAR_ARTIFACT))
        .output()
        .unwrap();
    let md5 = String::from_utf8(md5.stdout).unwrap();
    let sha1 = Command::new("sha1sum")
        .arg(dir.join(FLATCAR_ARTIFACT))
        .output()
        .unwrap();
    let sha1 = String::from_utf8(sha1.stdout).unwrap();
    let a = FLATCAR_ARTIFACT;
    let digests = format!(
        "# MD5 HASH\n{}  {a}\n# SHA1 HASH\n{}  {a}\n# SHA512 HASH\n{}  {a}\n",
        md5.split_whitespace().next().unwrap(),
        sha1.split_whitespace().next().unwrap(),
        sha512(&artifact),
    );
    let digests_path = dir.join(format!("{a}.DIGESTS"));
    write(&digests_path, digests.as_bytes());
    gpg.clearsign(&digests_path);
}

fn entry(id: &str, arch: &str, source: &str, os_distro: &str) -> String {
    format!(
        r#"  - id: {id}
    name: "Test {id}"
    architecture: {arch}
    source:
{source}    signature:
      policy: required
      keys: [keys/test.asc]
    transfer: stream
    glance:
      # Test bytes are not qcow2; Glance's format inspection would refuse them as qcow2.
      disk_format: raw
      min_disk: 1
      min_ram: 128
      visibility: private
      properties:
        os_distro: {os_distro}
        os_version: "{id}"
        os_purpose: minimal
        hw_disk_bus: virtio
        replace_frequency: weekly
        provided_until: none
        uuid_validity: last-2
        image_original_user: core
        image_description: "https://example.org/notes"
"#
    )
}

struct Project {
    dir: tempfile::TempDir,
    mirrors: Vec<String>,
}

impl Project {
    fn cmd(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_image-crawler"));
        c.env("OS_CLIENT_CONFIG_FILE", clouds_yaml())
            .env_remove("OS_CLOUD")
            .env("NO_COLOR", "1")
            .arg("--catalog")
            .arg(self.dir.path().join("catalog"))
            .arg("--state")
            .arg(self.dir.path().join("state"))
            .args(args);
        // `--mirror` belongs to the subcommand, so it goes last.
        for m in &self.mirrors {
            c.arg("--mirror").arg(m);
        }
        let out = c.stdin(Stdio::null()).output().unwrap();
        eprintln!(
            "$ image-crawler {}\n--- exit {:?}\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn lock(&self, id: &str) -> (String, LockedImage) {
        let text =
            std::fs::read_to_string(self.dir.path().join(format!("state/{id}.toml"))).unwrap();
        let lock = toml::from_str(&text).unwrap();
        (text, lock)
    }
}

async fn glance() -> Glance {
    use image_crawler::openstack::config::{ConfigFiles, Environment, resolve};
    let path = clouds_yaml();
    let text = std::fs::read_to_string(&path).expect("read IMAGE_CRAWLER_TEST_CLOUDS");
    let files = ConfigFiles::from_texts(Some((&path, &text)), None).expect("the test clouds.yaml");
    let config = resolve(
        &files,
        Some(CLOUD),
        None,
        &Environment::isolated(PathBuf::from(".")),
    )
    .expect("the test cloud");
    Glance::connect(config)
        .await
        .expect("connect to the test Glance")
}

async fn images_of(g: &Glance, id: &str) -> Vec<GlanceImage> {
    image_crawler::reconcile::apply::observe(g)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.properties.get(ID_PROPERTY).map(String::as_str) == Some(id))
        .collect()
}

async fn cleanup(g: &Glance, id: &str) {
    for i in images_of(g, id).await {
        let _ = g.delete(&i.id).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fcos_xz_and_flatcar_gz_go_through_check_and_apply_with_both_digests_verified() {
    let g = glance().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (gpg, fpr) = Gpg::new(root);
    let www = root.join("www");
    let fcos_image = image_bytes(3 << 20, 71);
    let bad_image = image_bytes(1 << 20, 72);
    let flatcar_image = image_bytes(3 << 20, 73);
    fcos_tree(
        &www,
        &gpg,
        &[("x86_64", &fcos_image), ("aarch64", &bad_image)],
    );
    flatcar_tree(&www, &gpg, &flatcar_image);
    let server = support::FixtureServer::start(www);

    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000;
    let (fcos, bad, flatcar) = (
        format!("t-fcos-{nonce}"),
        format!("t-fcos-bad-{nonce}"),
        format!("t-flatcar-{nonce}"),
    );
    std::fs::create_dir_all(root.join("catalog/keys")).unwrap();
    std::fs::create_dir_all(root.join("state")).unwrap();
    std::fs::write(
        root.join("catalog/keys/test.asc"),
        gpg.run(&["--armor", "--export", &fpr]),
    )
    .unwrap();
    let catalog = format!(
        "settings:\n  vendor: test\nimages:\n{}{}{}",
        entry(
            &fcos,
            "x86_64",
            "      fedora-coreos:\n        stream: stable\n",
            "fedora-coreos"
        ),
        entry(
            &bad,
            "aarch64",
            "      fedora-coreos:\n        stream: stable\n",
            "fedora-coreos"
        ),
        entry(
            &flatcar,
            "x86_64",
            "      flatcar:\n        channel: stable\n",
            "flatcar"
        ),
    );
    std::fs::write(root.join("catalog/test.yaml"), catalog).unwrap();
    let p = Project {
        dir,
        mirrors: vec![
            format!(
                "https://builds.coreos.fedoraproject.org/={}/fcos/",
                server.url()
            ),
            format!(
                "https://stable.release.flatcar-linux.net/={}/flatcar/",
                server.url()
            ),
        ],
    };

    // check locks both digests of FCOS, the DIGESTS' sha512 of Flatcar.
    let out = p.cmd(&["check", "--no-cache"]);
    assert_eq!(out.status.code(), Some(0));
    let (_, lock) = p.lock(&fcos);
    let fcos_url = format!(
        "https://builds.coreos.fedoraproject.org/prod/streams/stable/builds/{FCOS_RELEASE}/x86_64/fedora-coreos-{FCOS_RELEASE}-openstack.x86_64.qcow2.xz"
    );
    assert_eq!(lock.build.url, fcos_url);
    assert_eq!(lock.build.version, FCOS_RELEASE);
    assert_eq!(
        lock.build.checksums,
        [(HashAlgorithm::Sha256, sha256(&xz(&fcos_image)))].into()
    );
    let info = lock.build.image.as_ref().expect("[build.image]");
    assert_eq!(info.compression.as_str(), "xz");
    assert_eq!(
        info.checksums,
        [(HashAlgorithm::Sha256, sha256(&fcos_image))].into()
    );
    assert_eq!(
        lock.build.signature.status,
        SignatureState::CheckedOnTransfer
    );
    let (_, lock) = p.lock(&flatcar);
    let flatcar_url = format!(
        "https://stable.release.flatcar-linux.net/amd64-usr/{FLATCAR_RELEASE}/{FLATCAR_ARTIFACT}"
    );
    assert_eq!(lock.build.url, flatcar_url);
    assert_eq!(lock.build.build_date, "2026-10-02");
    assert_eq!(
        lock.build.checksums,
        [(HashAlgorithm::Sha512, sha512(&gz(&flatcar_image)))].into()
    );
    assert_eq!(lock.build.signature.status, SignatureState::Verified);
    assert_eq!(lock.build.signature.key.as_deref(), Some(fpr.as_str()));
    let info = lock.build.image.as_ref().expect("[build.image]");
    assert_eq!(info.compression.as_str(), "gzip");
    assert!(info.checksums.is_empty());

    // apply: FCOS and Flatcar go up verified; the FCOS build whose image digest is not the
    // published one fails alone and leaves nothing behind.
    let out = p.cmd(&["--format", "json", "apply", "--cloud", CLOUD, "--yes"]);
    assert_eq!(out.status.code(), Some(3), "one of three images failed");
    let events = String::from_utf8_lossy(&out.stdout);
    let imported = |id: &str| -> String {
        events
            .lines()
            .find(|l| l.contains(r#""type":"image_imported""#) && l.contains(id))
            .unwrap_or_else(|| panic!("{id} imported: {events}"))
            .to_owned()
    };
    let line = imported(&fcos);
    assert!(line.contains("sha256 match lockfile"), "{line}");
    assert!(line.contains("image sha256 match lockfile"), "{line}");
    assert!(line.contains("Glance sha512 matches"), "{line}");
    assert!(
        line.contains(&format!("signature verified with {fpr}")),
        "{line}"
    );
    let line = imported(&flatcar);
    assert!(line.contains("sha512 match lockfile"), "{line}");
    assert!(line.contains("Glance sha512 matches"), "{line}");
    assert!(
        !events
            .lines()
            .any(|l| l.contains(r#""type":"image_imported""#) && l.contains(&bad)),
        "{events}"
    );
    let all = format!("{events}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        all.contains("is not the locked build") && all.contains(&bad),
        "{all}"
    );
    // The image digest is over the decompressed bytes: the error must say so.
    assert!(
        all.contains("of the decompressed image is") && !all.contains("of the downloaded bytes"),
        "{all}"
    );
    assert!(
        images_of(&g, &bad).await.is_empty(),
        "no image left of the failed one"
    );

    for (id, image, url) in [
        (&fcos, &fcos_image, &fcos_url),
        (&flatcar, &flatcar_image, &flatcar_url),
    ] {
        let imgs = images_of(&g, id).await;
        assert_eq!(imgs.len(), 1, "{imgs:#?}");
        assert_eq!(imgs[0].status, "active");
        assert_eq!(imgs[0].size, Some(image.len() as u64), "{id}");
        assert_eq!(
            imgs[0].os_hash_value.as_deref(),
            Some(sha512(image).as_str()),
            "{id}"
        );
        assert_eq!(imgs[0].properties["image_source"], *url);
    }

    // The first apply recorded Glance's sha512 of both images; a re-check keeps the files.
    let (recorded, lock) = p.lock(&flatcar);
    let info = lock.build.image.as_ref().unwrap();
    assert_eq!(
        info.checksums,
        [(HashAlgorithm::Sha512, sha512(&flatcar_image))].into()
    );
    let (fcos_recorded, lock) = p.lock(&fcos);
    let info = lock.build.image.as_ref().unwrap();
    assert_eq!(info.checksums[&HashAlgorithm::Sha256], sha256(&fcos_image));
    assert_eq!(info.checksums[&HashAlgorithm::Sha512], sha512(&fcos_image));
    assert_eq!(p.cmd(&["check", "--no-cache"]).status.code(), Some(0));
    assert_eq!(p.lock(&flatcar).0, recorded);
    assert_eq!(p.lock(&fcos).0, fcos_recorded);

    // plan compares the recorded image digests with Glance: nothing to do for the two, the
    // failed one is still to import.
    let out = p.cmd(&["--format", "json", "plan", "--cloud", CLOUD]);
    assert_eq!(out.status.code(), Some(0));
    let plan: image_crawler::reconcile::Plan = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<(&str, image_crawler::reconcile::Action)> = plan
        .changes
        .iter()
        .map(|c| (c.image_id.as_str(), c.action))
        .collect();
    assert_eq!(
        ids,
        [(bad.as_str(), image_crawler::reconcile::Action::Import)],
        "{plan:#?}"
    );

    for id in [&fcos, &bad, &flatcar] {
        cleanup(&g, id).await;
    }
}
