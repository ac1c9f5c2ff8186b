//! `plan` / `apply` against a REAL Glance + Keystone.
//!
//! Start one (ports chosen to stay clear of other instances):
//! ```text
//! GK_KEYSTONE_PORT=5100 GK_GLANCE_PORT=9392 GK_WEB_PORT=8792 \
//!   tests/openstack/glance-keystone.sh start /tmp/gk-reconcile
//! IMAGE_CRAWLER_TEST_CLOUDS=/tmp/gk-reconcile/clouds.yaml cargo test --test apply
//! ```
//! The tests FAIL (never skip) without `IMAGE_CRAWLER_TEST_CLOUDS`. Upstream images are random
//! bytes served by a small HTTP server on 127.0.0.1 in the test. Every test uses its own
//! catalog id (and `os_version`), so tests run in parallel on one Glance without interfering.

#![allow(clippy::print_stderr)] // commands are echoed so a failing test shows what the tool said

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use image_crawler::catalog::ID_PROPERTY;
use image_crawler::lock::{Build, HashAlgorithm, LockedImage, SignatureState, SignatureStatus};
use image_crawler::openstack::glance::PatchOp;
use image_crawler::openstack::{Glance, GlanceImage};
use image_crawler::reconcile::Plan;
use sha2::{Digest as _, Sha256, Sha512};

const CLOUD: &str = "gk-admin";

fn clouds_yaml() -> PathBuf {
    match std::env::var_os("IMAGE_CRAWLER_TEST_CLOUDS") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "IMAGE_CRAWLER_TEST_CLOUDS is not set. These tests need a real Glance + Keystone:\n  \
             GK_KEYSTONE_PORT=5100 GK_GLANCE_PORT=9392 GK_WEB_PORT=8792 tests/openstack/glance-keystone.sh start /tmp/gk-reconcile\n  \
             IMAGE_CRAWLER_TEST_CLOUDS=/tmp/gk-reconcile/clouds.yaml cargo test --test apply"
        ),
    }
}

/// A second real Glance, with `hashing_algorithm = sha256` (tests/run.sh starts it beside the
/// first one; its project must have no images when the suite starts).
fn sha256_clouds_yaml() -> PathBuf {
    match std::env::var_os("IMAGE_CRAWLER_TEST_CLOUDS_SHA256") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "IMAGE_CRAWLER_TEST_CLOUDS_SHA256 is not set. This test needs a real Glance hashing sha256:\n  \
             GK_HASHING_ALGORITHM=sha256 GK_KEYSTONE_PORT=5110 GK_GLANCE_PORT=9310 tests/openstack/glance-keystone.sh start /tmp/gk-sha256\n  \
             IMAGE_CRAWLER_TEST_CLOUDS_SHA256=/tmp/gk-sha256/clouds.yaml cargo test --test apply\n\
             (tests/run.sh does all of this)"
        ),
    }
}

// ---------- a tiny upstream HTTP server ----------

#[derive(Default)]
struct Files {
    /// path -> bytes
    files: BTreeMap<String, Vec<u8>>,
    /// Bytes per second when set (to catch an apply mid-upload).
    throttle: Option<usize>,
    /// Requests served (files or not).
    hits: usize,
}

struct Upstream {
    base: String,
    state: Arc<Mutex<Files>>,
}

impl Upstream {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state: Arc<Mutex<Files>> = Arc::default();
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let st = st.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        Upstream { base, state }
    }

    fn put(&self, path: &str, bytes: Vec<u8>) -> String {
        self.state.lock().unwrap().files.insert(path.into(), bytes);
        format!("{}{path}", self.base)
    }

    fn throttle(&self, bytes_per_sec: Option<usize>) {
        self.state.lock().unwrap().throttle = bytes_per_sec;
    }
}

fn serve(mut conn: TcpStream, state: &Mutex<Files>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let (body, throttle) = {
        let mut s = state.lock().unwrap();
        s.hits += 1;
        (s.files.get(&path).cloned(), s.throttle)
    };
    let Some(body) = body else {
        let _ = conn
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if conn.write_all(head.as_bytes()).is_err() {
        return;
    }
    let chunk = throttle.map_or(1 << 16, |t| (t / 10).max(1));
    for part in body.chunks(chunk) {
        if conn.write_all(part).is_err() {
            return;
        }
        if throttle.is_some() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift), so images differ per seed.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

// ---------- a project: catalog + state directories ----------

struct Project {
    dir: tempfile::TempDir,
    id: String,
    name: String,
    /// Another cloud's clouds.yaml than [`clouds_yaml`].
    clouds: Option<PathBuf>,
}

struct Spec<'a> {
    transfer: &'a str,
    /// Also declare `<id>-twin` with the same os_distro/os_version (both generic, public).
    twin: bool,
    keep: u32,
    delete: bool,
    extra_properties: &'a str,
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Spec {
            transfer: "stream",
            twin: false,
            keep: 1,
            delete: false,
            extra_properties: "        hw_rng_model: virtio\n",
        }
    }
}

impl Project {
    fn new(test: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        // Unique per run: a re-run never sees the images of an earlier run as its own.
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000;
        let id = format!("t-{test}-{nonce}");
        Project {
            dir,
            name: format!("TestOS {test} {nonce}"),
            id,
            clouds: None,
        }
    }

    /// The same project against the Glance of `clouds` (a clouds.yaml).
    fn on(self, clouds: PathBuf) -> Self {
        Project {
            clouds: Some(clouds),
            ..self
        }
    }

    fn catalog(&self, spec: &Spec<'_>) {
        let yaml = format!(
            r#"settings:
  vendor: test
images:
  - id: {id}
    name: "{name}"
    architecture: x86_64
    signature:
      policy: off
    source:
      static:
        url: "http://127.0.0.1:1/unused"
        checksum: "sha256:{zero}"
        version: "0"
        build_date: "2026-01-01"
    transfer: {transfer}
    glance:
      disk_format: raw
      container_format: bare
      min_disk: 1
      min_ram: 128
      visibility: public
      tags: ["os:test"]
      properties:
        os_distro: testos
        os_version: "{id}"
        os_purpose: generic
        hw_disk_bus: virtio
        replace_frequency: monthly
        provided_until: none
        uuid_validity: last-2
        image_original_user: test
        image_description: "https://example.org/notes"
{extra}    rotation:
      keep: {keep}
      delete: {delete}
"#,
            id = self.id,
            name = self.name,
            zero = "0".repeat(64),
            transfer = spec.transfer,
            keep = spec.keep,
            delete = spec.delete,
            extra = spec.extra_properties,
        );
        let yaml = if spec.twin {
            let entry = &yaml[yaml.find("  - id:").unwrap()..];
            let twin = entry
                .replacen(
                    &format!("id: {}", self.id),
                    &format!("id: {}-twin", self.id),
                    1,
                )
                .replacen(
                    &format!("name: \"{}\"", self.name),
                    &format!("name: \"{} twin\"", self.name),
                    1,
                );
            format!("{yaml}{twin}")
        } else {
            yaml
        };
        std::fs::write(self.dir.path().join("catalog/test.yaml"), yaml).unwrap();
    }

    /// Locks `version` (built on `date`) at `url` with the checksums of `bytes`.
    fn lock(&self, version: &str, date: &str, url: &str, bytes: &[u8], algos: &[HashAlgorithm]) {
        self.lock_as(&self.id, version, date, url, bytes, algos);
    }

    fn lock_as(
        &self,
        id: &str,
        version: &str,
        date: &str,
        url: &str,
        bytes: &[u8],
        algos: &[HashAlgorithm],
    ) {
        let mut checksums = BTreeMap::new();
        for a in algos {
            let hex = match a {
                HashAlgorithm::Sha256 => hex::encode(Sha256::digest(bytes)),
                HashAlgorithm::Sha512 => hex::encode(Sha512::digest(bytes)),
                HashAlgorithm::Md5 => unreachable!(),
            };
            checksums.insert(*a, hex);
        }
        // The digest of the catalog entry as written: plan and apply refuse a stale lock.
        let catalog = image_crawler::catalog::load(&self.dir.path().join("catalog"))
            .unwrap_or_else(|d| panic!("write the catalog before the lock: {d:?}"));
        let lock = LockedImage {
            format_version: image_crawler::lock::FORMAT_VERSION,
            id: id.to_owned(),
            source_digest: image_crawler::catalog::source_digest(&catalog.images[id]),
            build: Build {
                version: version.into(),
                build_date: date.into(),
                url: url.into(),
                size: Some(bytes.len() as u64),
                metadata_url: format!("{url}.SHA256SUMS"),
                checksums,
                signature: SignatureStatus::state(SignatureState::Off),
                image: None,
                inputs: None,
            },
        };
        image_crawler::lock::store::write_if_changed(&self.dir.path().join("state"), &lock)
            .unwrap();
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_image-crawler"));
        let clouds = self.clouds.clone().unwrap_or_else(clouds_yaml);
        c.env("OS_CLIENT_CONFIG_FILE", clouds)
            .env_remove("OS_CLOUD")
            .env("NO_COLOR", "1")
            .arg("--catalog")
            .arg(self.dir.path().join("catalog"))
            .arg("--state")
            .arg(self.dir.path().join("state"))
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().unwrap();
        eprintln!(
            "$ image-crawler {}\n--- exit {:?}\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn plan(&self) -> Plan {
        let out = self.run(&["--format", "json", "plan", "--cloud", CLOUD]);
        assert_eq!(out.status.code(), Some(0));
        serde_json::from_slice(&out.stdout).expect("plan JSON")
    }

    fn apply(&self, extra: &[&str]) -> Output {
        let mut args = vec!["apply", "--cloud", CLOUD, "--yes"];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

// ---------- Glance, seen by the test through the tool's own client ----------

async fn glance() -> Glance {
    glance_as(CLOUD).await
}

async fn glance_as(cloud: &str) -> Glance {
    glance_at(&clouds_yaml(), cloud).await
}

async fn glance_at(path: &std::path::Path, cloud: &str) -> Glance {
    use image_crawler::openstack::config::{ConfigFiles, Environment, resolve};
    let text = std::fs::read_to_string(path).expect("read the test clouds.yaml");
    let files = ConfigFiles::from_texts(Some((path, &text)), None).expect("the test clouds.yaml");
    let config = resolve(
        &files,
        Some(cloud),
        None,
        &Environment::isolated(PathBuf::from(".")),
    )
    .expect("the test cloud");
    Glance::connect(config)
        .await
        .expect("connect to the test Glance")
}

async fn images_of(g: &Glance, id: &str) -> Vec<GlanceImage> {
    let mut v: Vec<GlanceImage> = image_crawler::reconcile::apply::observe(g)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.properties.get(ID_PROPERTY).map(String::as_str) == Some(id))
        .collect();
    v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    v
}

async fn cleanup(g: &Glance, id: &str) {
    for i in images_of(g, id).await {
        if i.protected {
            let _ = g
                .patch(
                    &i.id,
                    &[op("replace", "/protected", serde_json::json!(false))],
                )
                .await;
        }
        let _ = g.delete(&i.id).await;
    }
}

fn op(kind: &str, path: &str, value: serde_json::Value) -> PatchOp {
    use image_crawler::openstack::glance::PatchKind;
    PatchOp {
        op: match kind {
            "add" => PatchKind::Add,
            "remove" => PatchKind::Remove,
            _ => PatchKind::Replace,
        },
        path: path.into(),
        value: (kind != "remove").then_some(value),
    }
}

fn sha512(b: &[u8]) -> String {
    hex::encode(Sha512::digest(b))
}

// ---------- the tests ----------

/// The `verified` text of the one `image_imported` event of a JSON apply.
fn verified_of(out: &Output) -> String {
    let events = String::from_utf8_lossy(&out.stdout);
    let imported: Vec<serde_json::Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "image_imported")
        .collect();
    assert_eq!(imported.len(), 1, "{events}");
    imported[0]["verified"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Issue 15: only the digests that are needed. On a cloud whose Glance hashes sha256, the
/// tool learns the algorithm from the images Glance lists, and a sha256 lock is then left to
/// Glance's own hash (nothing is hashed here); while it cannot know (an empty project: it
/// expects Glance's default sha512), a sha512 lock is left to Glance, Glance's sha256 is not
/// comparable, and the stored bytes are read back and compared with the lockfile before
/// anything is promoted.
#[tokio::test(flavor = "multi_thread")]
async fn a_glance_hashing_sha256_is_learned_and_a_wrong_guess_is_read_back() {
    let clouds = sha256_clouds_yaml();
    let g = glance_at(&clouds, CLOUD).await;
    // This Glance is this test's alone: what an earlier, failed run left is removed first.
    for i in image_crawler::reconcile::apply::observe(&g).await.unwrap() {
        if let Some(id) = i.properties.get(ID_PROPERTY)
            && (id.starts_with("t-hash-guess-") || id.starts_with("t-hash-learned-"))
        {
            cleanup(&g, id).await;
        }
    }
    let (_, guess) = image_crawler::reconcile::apply::observe_with_hash(&g)
        .await
        .unwrap();
    assert_eq!(
        guess,
        HashAlgorithm::Sha512,
        "the sha256 Glance's project must start without images (start it afresh)"
    );
    let up = Upstream::start();
    let mirror = format!("https://images.example.invalid/={}/", up.base);
    let run = |p: &Project| {
        p.run(&[
            "--format", "json", "-vv", "apply", "--cloud", CLOUD, "--yes", "--mirror", &mirror,
        ])
    };

    // 1. Nothing tells the algorithm yet: sha512 expected and left to Glance, then a read-back.
    let first = Project::new("hash-guess").on(clouds.clone());
    first.catalog(&Spec::default());
    let bytes = random_bytes(2 << 20, 71);
    up.put("/hash-guess/disk.img", bytes.clone());
    let url = "https://images.example.invalid/hash-guess/disk.img";
    first.lock("1", "2026-11-01", url, &bytes, &[HashAlgorithm::Sha512]);
    let out = run(&first);
    assert_eq!(out.status.code(), Some(0));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("hashing [], sha512 left to Glance"), "{log}");
    let verified = verified_of(&out);
    assert_eq!(
        verified,
        "Glance hash `sha256` not comparable, stored bytes read back: sha512 matches lockfile"
    );
    let imgs = images_of(&g, &first.id).await;
    assert_eq!(imgs.len(), 1, "{imgs:#?}");
    assert_eq!(imgs[0].status, "active");
    assert_eq!(imgs[0].os_hash_algo.as_deref(), Some("sha256"));
    let sha256 = hex::encode(Sha256::digest(&bytes));
    assert_eq!(imgs[0].os_hash_value.as_deref(), Some(sha256.as_str()));

    // 2. Now an image tells: a sha256 lock is left to Glance, whose sha256 matches it.
    let second = Project::new("hash-learned").on(clouds.clone());
    second.catalog(&Spec::default());
    let bytes = random_bytes(2 << 20, 72);
    up.put("/hash-learned/disk.img", bytes.clone());
    let url = "https://images.example.invalid/hash-learned/disk.img";
    second.lock("1", "2026-11-01", url, &bytes, &[HashAlgorithm::Sha256]);
    let out = run(&second);
    assert_eq!(out.status.code(), Some(0));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("hashing [], sha256 left to Glance"), "{log}");
    assert!(!log.contains("Sha512"), "sha512 was computed: {log}");
    assert_eq!(verified_of(&out), "Glance sha256 matches lockfile");
    cleanup(&g, &first.id).await;
    cleanup(&g, &second.id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn first_import_is_verified_and_a_second_apply_is_a_no_op() {
    let g = glance().await;
    let up = Upstream::start();
    let p = Project::new("first");
    p.catalog(&Spec::default());
    let bytes = random_bytes(3 << 20, 1);
    up.put("/first/v1/disk.img", bytes.clone());
    // The lockfile keeps the upstream URL; the bytes come through a --mirror rewrite.
    let url = "https://images.example.invalid/first/v1/disk.img".to_owned();
    let mirror = format!("https://images.example.invalid/={}/", up.base);
    p.lock("1", "2026-11-01", &url, &bytes, &[HashAlgorithm::Sha256]);

    let out = p.run(&["plan", "--cloud", CLOUD, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "changes pending -> exit 2");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("+ import"), "{text}");
    assert!(
        text.contains("Plan: 1 to import, 0 to update, 0 to rotate, 0 to delete."),
        "{text}"
    );

    let out = p.apply(&["--format", "json", "--mirror", &mirror]);
    assert_eq!(out.status.code(), Some(0));
    let events = String::from_utf8_lossy(&out.stdout);
    assert!(
        events
            .lines()
            .any(|l| l.contains(r#""type":"image_imported""#)),
        "{events}"
    );
    // Every event is a versioned JSON document (issue 14).
    for line in events.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(e["format_version"], 1, "{line}");
    }

    let imgs = images_of(&g, &p.id).await;
    assert_eq!(imgs.len(), 1, "{imgs:#?}");
    let img = &imgs[0];
    assert_eq!(img.name, p.name);
    assert_eq!(img.status, "active");
    assert_eq!(img.visibility, "public");
    assert!(!img.hidden);
    assert_eq!(img.size, Some(bytes.len() as u64));
    assert_eq!(img.os_hash_value.as_deref(), Some(sha512(&bytes).as_str()));
    assert_eq!(img.properties["image_source"], url);
    assert_eq!(img.properties["image_build_date"], "2026-11-01");
    assert_eq!(img.properties["image_crawler_version"], "1");
    assert_eq!(img.properties["architecture"], "x86_64");
    assert!(img.tags.contains("managed_by_test") && img.tags.contains("os:test"));

    // Idempotency: the next plan is empty, a second apply changes nothing.
    assert!(p.plan().is_empty());
    let out = p.run(&["plan", "--cloud", CLOUD, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0));
    let out = p.apply(&["--format", "json", "--mirror", &mirror]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("image_"),
        "second apply did something"
    );
    let again = images_of(&g, &p.id).await;
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].updated_at, img.updated_at,
        "second apply touched the image"
    );
    cleanup(&g, &p.id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bump_rotates_then_retention_deletes_only_within_max_deletes() {
    let g = glance().await;
    let up = Upstream::start();
    let p = Project::new("bump");
    p.catalog(&Spec {
        delete: true,
        keep: 1,
        ..Spec::default()
    });
    let b1 = random_bytes(1 << 20, 11);
    let u1 = up.put("/bump/v1.img", b1.clone());
    p.lock("1", "2026-11-01", &u1, &b1, &[HashAlgorithm::Sha256]);
    assert_eq!(p.apply(&[]).status.code(), Some(0));
    let first = images_of(&g, &p.id).await;
    assert_eq!(first.len(), 1);

    let b2 = random_bytes(1 << 20, 12);
    let u2 = up.put("/bump/v2.img", b2.clone());
    p.lock("2", "2026-11-08", &u2, &b2, &[HashAlgorithm::Sha256]);
    let plan = p.plan();
    let s = plan.summary();
    assert_eq!((s.import, s.rotate, s.delete), (1, 1, 0), "{plan:#?}");
    assert_eq!(p.apply(&[]).status.code(), Some(0));
    let imgs = images_of(&g, &p.id).await;
    assert_eq!(imgs.len(), 2, "{imgs:#?}");
    let old = imgs.iter().find(|i| i.id == first[0].id).unwrap();
    let new = imgs.iter().find(|i| i.id != first[0].id).unwrap();
    assert_eq!(old.name, format!("{} 20261101", p.name));
    assert!(old.hidden);
    assert_eq!(old.properties["os_purpose"], "oldgeneric");
    assert_eq!(new.name, p.name);
    assert!(!new.hidden);
    assert_eq!(new.properties["os_purpose"], "generic");
    assert_eq!(new.properties["image_crawler_version"], "2");
    assert!(p.plan().is_empty());

    // A third build: keep 1 old -> build 1 is beyond retention and may be deleted.
    let b3 = random_bytes(1 << 20, 13);
    let u3 = up.put("/bump/v3.img", b3.clone());
    p.lock("3", "2026-11-15", &u3, &b3, &[HashAlgorithm::Sha256]);
    let out = p.apply(&["--max-deletes", "0"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "more deletions than --max-deletes: refused"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-deletes"));
    assert_eq!(
        images_of(&g, &p.id).await.len(),
        2,
        "a refused apply changes nothing"
    );

    assert_eq!(p.apply(&["--max-deletes", "1"]).status.code(), Some(0));
    let imgs = images_of(&g, &p.id).await;
    let names: Vec<&str> = imgs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(imgs.len(), 2, "{names:?}");
    assert!(!imgs.iter().any(|i| i.id == first[0].id), "build 1 deleted");
    assert!(names.contains(&p.name.as_str()));
    assert!(names.contains(&format!("{} 20261108", p.name).as_str()));
    assert!(p.plan().is_empty());
    cleanup(&g, &p.id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_repaired_and_dropped_properties_are_removed() {
    let g = glance().await;
    let up = Upstream::start();
    let p = Project::new("drift");
    p.catalog(&Spec::default());
    let b = random_bytes(1 << 20, 21);
    let u = up.put("/drift.img", b.clone());
    p.lock("1", "2026-11-01", &u, &b, &[HashAlgorithm::Sha256]);
    assert_eq!(p.apply(&[]).status.code(), Some(0));
    let img = images_of(&g, &p.id).await.remove(0);

    // Out of band: change a managed property, add an operator's own, drop a tag.
    g.patch(
        &img.id,
        &[
            op("replace", "/os_distro", serde_json::json!("tampered")),
            op("add", "/operator_note", serde_json::json!("keep me")),
            op("replace", "/min_ram", serde_json::json!(64)),
        ],
    )
    .await
    .unwrap();
    g.remove_tag(&img.id, "os:test").await.unwrap();

    let plan = p.plan();
    assert_eq!(plan.changes.len(), 1, "{plan:#?}");
    let c = &plan.changes[0];
    let field = |f: &str| c.details.iter().find(|d| d.field == f).cloned();
    let d = field("property:os_distro").expect("os_distro drift shown");
    assert_eq!(
        (d.before.as_deref(), d.after.as_deref()),
        (Some("tampered"), Some("testos"))
    );
    assert!(field("min_ram").is_some() && field("tag:os:test").is_some());
    assert!(field("property:operator_note").is_none());

    assert_eq!(p.apply(&[]).status.code(), Some(0));
    let fixed = images_of(&g, &p.id).await.remove(0);
    assert_eq!(fixed.properties["os_distro"], "testos");
    assert_eq!(fixed.min_ram, 128);
    assert!(fixed.tags.contains("os:test"));
    assert_eq!(fixed.properties["operator_note"], "keep me");

    // The catalog stops declaring hw_rng_model: it is removed; operator_note stays.
    p.catalog(&Spec {
        extra_properties: "",
        ..Spec::default()
    });
    assert_eq!(p.apply(&[]).status.code(), Some(0));
    let after = images_of(&g, &p.id).await.remove(0);
    assert!(
        !after.properties.contains_key("hw_rng_model"),
        "{:#?}",
        after.properties
    );
    assert_eq!(after.properties["operator_note"], "keep me");
    assert!(after.properties.contains_key("os_hash_algo") || after.os_hash_algo.is_some());
    assert!(p.plan().is_empty());
    cleanup(&g, &p.id).await;
}

/// A sha256 lock is checked on the stream; with `stream`, a sha512 lock (the algorithm of this
/// Glance) is left to Glance's own hash of what it stored, while glance-direct still checks the
/// staged bytes before the import. Either way wrong bytes are refused and deleted.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_upstream_bytes_leave_no_image_behind() {
    let g = glance().await;
    let up = Upstream::start();
    for (transfer, algo) in [
        ("stream", HashAlgorithm::Sha256),
        ("glance-direct", HashAlgorithm::Sha256),
        ("web-download", HashAlgorithm::Sha256),
        ("stream", HashAlgorithm::Sha512),
        ("glance-direct", HashAlgorithm::Sha512),
        ("web-download", HashAlgorithm::Sha512),
    ] {
        let p = Project::new(&format!("mismatch-{transfer}-{algo}"));
        p.catalog(&Spec {
            transfer,
            ..Spec::default()
        });
        let promised = random_bytes(1 << 20, 31);
        let served = random_bytes(1 << 20, 32);
        let u = up.put(&format!("/mismatch-{transfer}-{algo}.img"), served);
        p.lock("1", "2026-11-01", &u, &promised, &[algo]);
        let out = p.apply(&[]);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{transfer} {algo}: failed image -> exit 3"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(algo.as_str()), "{transfer} {algo}: {err}");
        if algo == HashAlgorithm::Sha512 && transfer == "stream" {
            assert!(
                err.contains("Glance hashed the stored bytes to sha512")
                    && err.contains(&sha512(&promised)),
                "{transfer}: {err}"
            );
        }
        if transfer == "glance-direct" {
            assert!(err.contains("of the downloaded bytes is"), "{err}");
        }
        let left = images_of(&g, &p.id).await;
        assert!(left.is_empty(), "{transfer} {algo}: {left:#?}");
    }
}

/// Issue 15: Glance hashes every byte it stores (sha512 here, its default). With `stream`, a
/// lockfile with a sha512 is compared with Glance's hash of the stored bytes, so the upload
/// itself hashes nothing: the one sha512 pass over the image is Glance's. glance-direct still
/// hashes here, to refuse wrong bytes before the import makes them active.
#[tokio::test(flavor = "multi_thread")]
async fn a_lockfile_digest_of_glances_algorithm_is_left_to_glance() {
    let g = glance().await;
    let up = Upstream::start();
    for transfer in ["stream", "glance-direct"] {
        let p = Project::new(&format!("left-to-glance-{transfer}"));
        p.catalog(&Spec {
            transfer,
            ..Spec::default()
        });
        let b = random_bytes(2 << 20, 43);
        let u = up.put(&format!("/{}.img", p.id), b.clone());
        p.lock(
            "1",
            "2026-11-01",
            &u,
            &b,
            &[HashAlgorithm::Sha256, HashAlgorithm::Sha512],
        );
        let out = p.apply(&["--format", "json", "-vv"]);
        assert_eq!(out.status.code(), Some(0), "{transfer}");
        let log = String::from_utf8_lossy(&out.stderr);
        if transfer == "stream" {
            assert!(
                log.contains("hashing [], sha512 left to Glance"),
                "{transfer}: {log}"
            );
            assert_eq!(verified_of(&out), "Glance sha512 matches lockfile");
        } else {
            assert!(log.contains("hashing [Sha512]"), "{transfer}: {log}");
            assert_eq!(
                verified_of(&out),
                "sha512 match lockfile; Glance sha512 matches"
            );
        }
        let imgs = images_of(&g, &p.id).await;
        assert_eq!(imgs.len(), 1, "{transfer}: {imgs:#?}");
        assert_eq!(imgs[0].name, p.name);
        assert_eq!(imgs[0].os_hash_value.as_deref(), Some(sha512(&b).as_str()));
        assert!(p.plan().is_empty(), "{transfer}");
        cleanup(&g, &p.id).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn web_download_and_glance_direct_import_verified_images() {
    let g = glance().await;
    let up = Upstream::start();
    for (transfer, algos) in [
        ("glance-direct", vec![HashAlgorithm::Sha256]),
        ("web-download", vec![HashAlgorithm::Sha512]),
        ("web-download", vec![HashAlgorithm::Sha256]),
    ] {
        let p = Project::new(&format!("{transfer}-{}", algos[0]));
        p.catalog(&Spec {
            transfer,
            ..Spec::default()
        });
        let b = random_bytes(2 << 20, 41);
        let u = up.put(&format!("/{}.img", p.id), b.clone());
        p.lock("1", "2026-11-01", &u, &b, &algos);
        let out = p.apply(&["--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{transfer}");
        let events = String::from_utf8_lossy(&out.stdout);
        assert!(events.contains("image_imported"), "{events}");
        let imgs = images_of(&g, &p.id).await;
        assert_eq!(imgs.len(), 1);
        assert_eq!(imgs[0].name, p.name);
        assert_eq!(imgs[0].os_hash_value.as_deref(), Some(sha512(&b).as_str()));
        assert!(p.plan().is_empty());
        cleanup(&g, &p.id).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_saved_plan_is_refused() {
    let g = glance().await;
    let up = Upstream::start();
    let p = Project::new("stale");
    p.catalog(&Spec::default());
    let b = random_bytes(1 << 20, 51);
    let u = up.put("/stale.img", b.clone());
    p.lock("1", "2026-11-01", &u, &b, &[HashAlgorithm::Sha256]);
    assert_eq!(p.apply(&[]).status.code(), Some(0));
    let img = images_of(&g, &p.id).await.remove(0);

    // Plan a drift repair, then Glance changes again before the apply.
    g.patch(
        &img.id,
        &[op("replace", "/os_distro", serde_json::json!("one"))],
    )
    .await
    .unwrap();
    let plan_file = p.path("plan.json");
    let out = p.run(&[
        "plan",
        "--cloud",
        CLOUD,
        "--out",
        plan_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    g.patch(
        &img.id,
        &[op("replace", "/os_distro", serde_json::json!("two"))],
    )
    .await
    .unwrap();
    let out = p.apply(&["--plan", plan_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stale"));
    assert_eq!(
        images_of(&g, &p.id).await[0].properties["os_distro"],
        "two",
        "nothing applied"
    );

    // A lockfile change makes it stale too.
    let out = p.run(&[
        "plan",
        "--cloud",
        CLOUD,
        "--out",
        plan_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    p.lock("2", "2026-11-02", &u, &b, &[HashAlgorithm::Sha256]);
    assert_eq!(
        p.apply(&["--plan", plan_file.to_str().unwrap()])
            .status
            .code(),
        Some(5)
    );

    // A fresh plan applies.
    let out = p.run(&[
        "plan",
        "--cloud",
        CLOUD,
        "--out",
        plan_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        p.apply(&["--plan", plan_file.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert!(p.plan().is_empty());
    cleanup(&g, &p.id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_upload_then_a_rerun_converges() {
    let g = glance().await;
    let up = Upstream::start();
    let p = Project::new("kill");
    p.catalog(&Spec::default());
    let b1 = random_bytes(1 << 20, 61);
    let u1 = up.put("/kill/v1.img", b1.clone());
    p.lock("1", "2026-11-01", &u1, &b1, &[HashAlgorithm::Sha256]);
    assert_eq!(p.apply(&[]).status.code(), Some(0));
    let v1 = images_of(&g, &p.id).await.remove(0);

    // Build 2 trickles in at 1 MiB/s: kill the apply while it uploads.
    let b2 = random_bytes(8 << 20, 62);
    let u2 = up.put("/kill/v2.img", b2.clone());
    p.lock("2", "2026-11-08", &u2, &b2, &[HashAlgorithm::Sha256]);
    up.throttle(Some(1 << 20));
    let mut child = p
        .cmd(&["apply", "--cloud", CLOUD, "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let imgs = images_of(&g, &p.id).await;
        if imgs
            .iter()
            .any(|i| i.name.starts_with("image-crawler-tmp-"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no temporary image appeared");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();

    // Mid-upload state: the stable name still points to the verified build 1.
    let imgs = images_of(&g, &p.id).await;
    let stable: Vec<&GlanceImage> = imgs.iter().filter(|i| i.name == p.name).collect();
    assert_eq!(stable.len(), 1);
    assert_eq!(stable[0].id, v1.id);
    assert!(
        imgs.iter()
            .all(|i| i.status != "active" || i.visibility == "private" || i.id == v1.id)
    );

    up.throttle(None);
    let plan = p.plan();
    assert!(
        plan.changes
            .iter()
            .any(|c| c.action == image_crawler::reconcile::Action::Cleanup),
        "{plan:#?}"
    );
    assert_eq!(p.apply(&[]).status.code(), Some(0));
    let imgs = images_of(&g, &p.id).await;
    assert_eq!(imgs.len(), 2, "no duplicate, nothing lost: {imgs:#?}");
    assert!(
        imgs.iter()
            .all(|i| i.status == "active" && !i.name.starts_with("image-crawler-tmp-"))
    );
    let current = imgs.iter().find(|i| i.name == p.name).unwrap();
    assert_eq!(current.os_hash_value.as_deref(), Some(sha512(&b2).as_str()));
    assert!(p.plan().is_empty());
    cleanup(&g, &p.id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_breaking_scs_0102_is_refused_unless_allowed() {
    let g = glance().await;
    let up = Upstream::start();
    let p = Project::new("scs");
    // Two public generic images of one os_distro/os_version: scs-0102 v2 uniqueness.
    p.catalog(&Spec {
        twin: true,
        ..Spec::default()
    });
    let b = random_bytes(1 << 20, 71);
    let u = up.put("/scs/v1.img", b.clone());
    p.lock("1", "2026-11-01", &u, &b, &[HashAlgorithm::Sha256]);
    let twin = format!("{}-twin", p.id);
    p.lock_as(&twin, "1", "2026-11-01", &u, &b, &[HashAlgorithm::Sha256]);
    let out = p.run(&["plan", "--cloud", CLOUD]);
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("os-purpose-unique") && err.contains(&p.name),
        "{err}"
    );
    let out = p.apply(&[]);
    assert_eq!(out.status.code(), Some(5));
    assert!(
        images_of(&g, &p.id).await.is_empty(),
        "refused: nothing imported"
    );
    let out = p.apply(&["--allow-nonconforming"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(images_of(&g, &p.id).await.len(), 1);
    assert_eq!(images_of(&g, &twin).await.len(), 1);
    cleanup(&g, &p.id).await;
    cleanup(&g, &twin).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_failing_image_does_not_stop_the_others() {
    let g = glance().await;
    let up = Upstream::start();
    let p = Project::new("partial");
    p.catalog(&Spec {
        twin: true,
        ..Spec::default()
    });
    let good = random_bytes(1 << 20, 81);
    let u = up.put("/partial.img", good.clone());
    let twin = format!("{}-twin", p.id);
    p.lock(
        "1",
        "2026-11-01",
        &u,
        &random_bytes(1 << 20, 82),
        &[HashAlgorithm::Sha256],
    );
    p.lock_as(
        &twin,
        "1",
        "2026-11-01",
        &u,
        &good,
        &[HashAlgorithm::Sha256],
    );
    // (Twins share os_version: uniqueness is waived here, this test is about isolation.)
    let out = p.apply(&["--allow-nonconforming", "--concurrency", "2"]);
    assert_eq!(out.status.code(), Some(3), "partial failure -> exit 3");
    assert!(images_of(&g, &p.id).await.is_empty());
    let ok = images_of(&g, &twin).await;
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].status, "active");
    cleanup(&g, &twin).await;
}

/// `plan` and `apply` take image ids (globs) like `check`, and `plan` takes `apply`'s `--mirror`
/// flags, so one wrapper passes one set of arguments to both.
#[tokio::test(flavor = "multi_thread")]
async fn plan_and_apply_limited_to_ids_touch_only_those_images() {
    let g = glance().await;
    let up = Upstream::start();
    let p = Project::new("subset");
    p.catalog(&Spec {
        twin: true,
        ..Spec::default()
    });
    let bytes = random_bytes(1 << 16, 91);
    let u = up.put("/subset.img", bytes.clone());
    let twin = format!("{}-twin", p.id);
    p.lock("1", "2026-11-01", &u, &bytes, &[HashAlgorithm::Sha256]);
    p.lock_as(
        &twin,
        "1",
        "2026-11-01",
        &u,
        &bytes,
        &[HashAlgorithm::Sha256],
    );
    let mirror = format!("--mirror=http://upstream.invalid/={}/", up.base);
    let out = p.run(&[
        "--format",
        "json",
        "plan",
        "--cloud",
        CLOUD,
        &mirror,
        "--allow-nonconforming",
        &twin,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let plan: Plan = serde_json::from_slice(&out.stdout).expect("plan JSON");
    assert!(!plan.changes.is_empty());
    assert!(plan.changes.iter().all(|c| c.image_id == twin), "{plan:?}");
    // A pattern that matches no catalog id is a usage error, not an empty plan.
    let out = p.run(&["plan", "--cloud", CLOUD, "no-such-image-*"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-image-*"));
    let out = p.apply(&["--allow-nonconforming", &mirror, "*-twin"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(images_of(&g, &p.id).await.is_empty());
    assert_eq!(images_of(&g, &twin).await.len(), 1);
    cleanup(&g, &twin).await;
}

// ---------- issue 13: promotion after Glance's import task, concurrent applies ----------

/// Imports `n` successive builds with `transfer`, asserting after EVERY apply that the stable
/// name is held by the new build, public, and that nothing is left under a temporary name.
/// Glance turns an imported image `active` before its import task re-saves the record; a
/// promotion made in that window was lost (seen 4 in 64 imports).
async fn repeated_imports(transfer: &str, algo: HashAlgorithm, n: u32) {
    let g = glance().await;
    let up = Upstream::start();
    let p = Project::new(&format!("rep-{transfer}"));
    p.catalog(&Spec {
        transfer,
        delete: true,
        ..Spec::default()
    });
    for i in 1..=n {
        let b = random_bytes(64 << 10, u64::from(i) * 7 + 3);
        let u = up.put(&format!("/{}-{i}.img", p.id), b.clone());
        p.lock(&i.to_string(), &format!("2026-11-{i:02}"), &u, &b, &[algo]);
        let out = p.apply(&["--format", "json", "--max-deletes", "5"]);
        assert_eq!(out.status.code(), Some(0), "{transfer} run {i}");
        let events = String::from_utf8_lossy(&out.stdout);
        assert!(events.contains("\"converged\":true"), "{events}");
        let imgs = images_of(&g, &p.id).await;
        let named: Vec<&GlanceImage> = imgs.iter().filter(|x| x.name == p.name).collect();
        assert_eq!(named.len(), 1, "{transfer} run {i}: {imgs:#?}");
        assert_eq!(named[0].visibility, "public", "{transfer} run {i}");
        assert_eq!(
            named[0].properties.get("image_crawler_version"),
            Some(&i.to_string()),
            "{transfer} run {i}"
        );
        assert_eq!(named[0].os_hash_value.as_deref(), Some(sha512(&b).as_str()));
        assert!(
            imgs.iter()
                .all(|x| !x.name.starts_with("image-crawler-tmp-")),
            "{transfer} run {i}: {imgs:#?}"
        );
    }
    cleanup(&g, &p.id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_stream_imports_always_hold_the_stable_name() {
    repeated_imports("stream", HashAlgorithm::Sha256, 10).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_glance_direct_imports_always_hold_the_stable_name() {
    repeated_imports("glance-direct", HashAlgorithm::Sha256, 10).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_web_download_imports_always_hold_the_stable_name() {
    repeated_imports("web-download", HashAlgorithm::Sha256, 10).await;
}

// ---------- issue 14: one catalog fans out to every region of a cloud ----------

/// A target with `region: "*"` is planned once per region of clouds.yaml's `regions:`, and
/// `--region` applies to one of them. The second "region" reaches the same Glance through
/// its `values` (`image_endpoint_override`), so no second Glance is needed; the clouds file
/// is `clouds.json`, read as JSON.
#[tokio::test(flavor = "multi_thread")]
async fn a_target_fans_out_to_every_region_of_its_cloud() {
    let g = glance().await;
    let up = Upstream::start();
    let p = Project::new("regions");
    p.catalog(&Spec::default());
    let catalog = p.path("catalog/test.yaml");
    let text = std::fs::read_to_string(&catalog).unwrap().replacen(
        "settings:\n  vendor: test\n",
        "settings:\n  vendor: test\n  targets:\n    - cloud: gk-regions\n      region: \"*\"\n",
        1,
    );
    std::fs::write(&catalog, text).unwrap();
    // gk-admin, with two regions.
    let clouds: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(clouds_yaml()).unwrap()).unwrap();
    let mut entry = clouds["clouds"][CLOUD].clone();
    entry["regions"] = serde_json::json!([
        "RegionOne",
        {"name": "Mirror", "values": {"image_endpoint_override": g.endpoint()}}
    ]);
    let file = p.path("clouds.json");
    std::fs::write(
        &file,
        serde_json::json!({"clouds": {"gk-regions": entry}}).to_string(),
    )
    .unwrap();
    let bytes = random_bytes(1 << 15, 14);
    let u = up.put("/regions.img", bytes.clone());
    p.lock("1", "2026-11-01", &u, &bytes, &[HashAlgorithm::Sha256]);
    let run = |args: &[&str]| {
        let out = p
            .cmd(args)
            .env("OS_CLIENT_CONFIG_FILE", &file)
            .output()
            .unwrap();
        eprintln!(
            "$ {args:?} -> {:?}\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };

    let out = run(&["--format", "json", "plan", "--all-targets"]);
    assert_eq!(out.status.code(), Some(0));
    let plans: Vec<Plan> = serde_json::from_slice(&out.stdout).expect("one plan per region");
    let regions: Vec<_> = plans.iter().map(|p| p.region.as_deref()).collect();
    assert_eq!(regions, [Some("RegionOne"), Some("Mirror")]);
    for plan in &plans {
        assert_eq!(plan.cloud, "gk-regions");
        assert!(plan.changes.iter().any(|c| c.image_id == p.id), "{plan:?}");
    }
    assert_ne!(
        plans[0].fingerprint, plans[1].fingerprint,
        "the region is planned for"
    );

    // Apply in one region only (the one reached through the override).
    let out = run(&["apply", "--all-targets", "--region", "Mirror", "--yes"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gk-regions (region Mirror)"));
    assert_eq!(images_of(&g, &p.id).await.len(), 1);
    // The same Glance seen from RegionOne has nothing left to do.
    let out = run(&["plan", "--cloud", "gk-regions", "--region", "RegionOne"]);
    assert_eq!(out.status.code(), Some(0));
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        human.contains("Cloud gk-regions, region RegionOne"),
        "{human}"
    );
    assert!(human.contains("No changes"), "{human}");
    // A region clouds.yaml does not list is refused, naming the ones it does.
    let out = run(&["plan", "--cloud", "gk-regions", "--region", "Nowhere"]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no target of the catalog is in region `Nowhere`"),
        "{err}"
    );
    cleanup(&g, &p.id).await;
}

// ---------- issue 13: two and three applies at once ----------

/// When the later applies start, relative to the first.
#[derive(Debug, Clone, Copy)]
enum Offset {
    /// Each next apply starts this many ms after the previous one.
    Ms(u64),
    /// The others start while the first one uploads (its temporary image exists).
    MidUpload,
}

/// What one concurrent round left behind (every field 0 = safe).
#[derive(Debug, Default)]
struct Damage {
    /// Images beyond one per build (active copies of one version), before any repair.
    duplicates: usize,
    /// `image-crawler-tmp-…` images left.
    leftovers: usize,
    /// Stable name held by no image, or not by the locked build.
    stable_name_lost: bool,
    /// The rotated old build is gone (bump only).
    old_lost: bool,
    /// Applies that did not exit 0.
    failed_runs: usize,
    /// The plan after the round is not empty.
    plan_not_empty: bool,
}

impl Damage {
    fn is_safe(&self) -> bool {
        self.duplicates == 0
            && self.leftovers == 0
            && !self.stable_name_lost
            && !self.old_lost
            && self.failed_runs == 0
            && !self.plan_not_empty
    }
}

/// `procs` applies of one build at once; `bump` = a build 1 is current and they import build 2.
async fn concurrent_round(
    g: &Glance,
    bump: bool,
    procs: usize,
    offset: Offset,
    round: u32,
) -> (String, Damage) {
    let label = format!(
        "{} x{procs} {offset:?} r{round}",
        if bump { "bump" } else { "new" }
    );
    let up = Upstream::start();
    let p = Project::new(&format!("conc-{}{procs}", if bump { "b" } else { "n" }));
    p.catalog(&Spec::default());
    let seed = u64::from(round) * 1000 + procs as u64 * 10 + u64::from(bump);
    let mut old = None;
    if bump {
        let b1 = random_bytes(256 << 10, seed);
        let u1 = up.put("/v1.img", b1.clone());
        p.lock("1", "2026-11-01", &u1, &b1, &[HashAlgorithm::Sha256]);
        assert_eq!(p.apply(&[]).status.code(), Some(0), "{label}: build 1");
        old = Some(images_of(g, &p.id).await.remove(0));
    }
    let (size, throttle) = match offset {
        // 1 MiB at 512 KiB/s: the first apply is caught mid-upload.
        Offset::MidUpload => (1 << 20, Some(512 << 10)),
        Offset::Ms(_) => (256 << 10, None),
    };
    let b2 = random_bytes(size, seed + 1);
    let u2 = up.put("/v2.img", b2.clone());
    let version = if bump { "2" } else { "1" };
    p.lock(version, "2026-11-08", &u2, &b2, &[HashAlgorithm::Sha256]);
    up.throttle(throttle);

    let spawn = || {
        p.cmd(&["--format", "json", "apply", "--cloud", CLOUD, "--yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut children = vec![spawn()];
    for _ in 1..procs {
        match offset {
            Offset::Ms(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Offset::MidUpload => {
                let deadline = Instant::now() + Duration::from_secs(60);
                while !images_of(g, &p.id)
                    .await
                    .iter()
                    .any(|i| i.name.starts_with("image-crawler-tmp-") && i.status != "queued")
                {
                    assert!(Instant::now() < deadline, "{label}: no upload started");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        children.push(spawn());
    }
    let mut damage = Damage::default();
    for child in children {
        let out = child.wait_with_output().unwrap();
        if out.status.code() != Some(0) {
            damage.failed_runs += 1;
            eprintln!(
                "{label}: apply exited {:?}\n{}{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    up.throttle(None);
    let imgs = images_of(g, &p.id).await;
    let of_version = imgs
        .iter()
        .filter(|i| {
            i.status == "active"
                && !i.name.starts_with("image-crawler-tmp-")
                && i.properties
                    .get("image_crawler_version")
                    .map(String::as_str)
                    == Some(version)
        })
        .count();
    damage.duplicates = of_version.saturating_sub(1);
    damage.leftovers = imgs
        .iter()
        .filter(|i| i.name.starts_with("image-crawler-tmp-"))
        .count();
    let named: Vec<&GlanceImage> = imgs.iter().filter(|i| i.name == p.name).collect();
    damage.stable_name_lost = !(named.len() == 1
        && named[0].visibility == "public"
        && !named[0].hidden
        && named[0].os_hash_value.as_deref() == Some(sha512(&b2).as_str()));
    if let Some(old) = &old {
        damage.old_lost = !imgs
            .iter()
            .any(|i| i.id == old.id && i.name == format!("{} 20261101", p.name) && i.hidden);
    }
    damage.plan_not_empty = !p.plan().is_empty();
    if !damage.is_safe() {
        eprintln!("{label}: {damage:?}\n{imgs:#?}");
    }
    cleanup(g, &p.id).await;
    (label, damage)
}

/// Rounds of 2 and 3 applies at 0 ms, 50 ms, 300 ms and mid-upload offsets; prints the figures
/// and fails when any round left a duplicate, a leftover, a lost name or a failed run.
/// `IMAGE_CRAWLER_CONCURRENCY_ROUNDS` (default 1) repeats every case (10 for the report).
async fn concurrent_applies(bump: bool) {
    let g = glance().await;
    let rounds: u32 = std::env::var("IMAGE_CRAWLER_CONCURRENCY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut unsafe_rounds = Vec::new();
    let mut total = Damage::default();
    let mut cases = 0;
    for round in 1..=rounds {
        for procs in [2, 3] {
            for offset in [
                Offset::Ms(0),
                Offset::Ms(50),
                Offset::Ms(300),
                Offset::MidUpload,
            ] {
                let (label, d) = concurrent_round(&g, bump, procs, offset, round).await;
                cases += 1;
                total.duplicates += d.duplicates;
                total.leftovers += d.leftovers;
                total.failed_runs += d.failed_runs;
                total.stable_name_lost |= d.stable_name_lost;
                total.old_lost |= d.old_lost;
                total.plan_not_empty |= d.plan_not_empty;
                if !d.is_safe() {
                    unsafe_rounds.push(format!("{label}: {d:?}"));
                }
            }
        }
    }
    eprintln!(
        "concurrency figures ({}): {cases} cases, {} unsafe; duplicates {}, leftovers {}, failed runs {}",
        if bump { "bump" } else { "new" },
        unsafe_rounds.len(),
        total.duplicates,
        total.leftovers,
        total.failed_runs
    );
    assert!(unsafe_rounds.is_empty(), "{unsafe_rounds:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_applies_of_a_new_image_converge_to_one() {
    concurrent_applies(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_applies_of_a_bump_converge_to_one_and_keep_the_old() {
    concurrent_applies(true).await;
}

// ---------- issue 13: the rights the plan needs, checked before the first transfer ----------

/// `gk-demo` is a plain `member` of project demo: Glance's default `publicize_image` policy is
/// admin-only. Before, apply streamed and verified the whole image, then failed with 403 on the
/// promotion and left a temporary image.
#[tokio::test(flavor = "multi_thread")]
async fn a_credential_that_cannot_publish_is_refused_before_any_transfer() {
    use image_crawler::openstack::{Hidden, ListFilter};
    let demo = glance_as("gk-demo").await;
    let up = Upstream::start();
    let p = Project::new("rights");
    p.catalog(&Spec::default()); // visibility: public
    let b = random_bytes(1 << 20, 101);
    let u = up.put("/rights.img", b.clone());
    p.lock("1", "2026-11-01", &u, &b, &[HashAlgorithm::Sha256]);
    let out = p.run(&["apply", "--cloud", "gk-demo", "--yes"]);
    assert_eq!(out.status.code(), Some(5), "refused before anything ran");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("may not make images public")
            && err.contains("publicize_image")
            && err.contains("hint:"),
        "{err}"
    );
    assert_eq!(
        up.state.lock().unwrap().hits,
        0,
        "no byte was fetched from upstream"
    );
    let token = demo.session().token().await.unwrap();
    let left: Vec<GlanceImage> = demo
        .list(&ListFilter {
            visibility: Some("all".into()),
            hidden: Hidden::Include,
            owner: token.project_id.clone(),
            ..ListFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|i| {
            i.properties.get(ID_PROPERTY) == Some(&p.id)
                || i.name.starts_with("image-crawler-probe-")
        })
        .collect();
    assert!(
        left.is_empty(),
        "no temporary image, no probe left: {left:#?}"
    );

    // The same credential may apply what it may publish: a private image goes through.
    let yaml = std::fs::read_to_string(p.path("catalog/test.yaml")).unwrap();
    std::fs::write(
        p.path("catalog/test.yaml"),
        yaml.replace("visibility: public", "visibility: private"),
    )
    .unwrap();
    let out = p.run(&["apply", "--cloud", "gk-demo", "--yes"]);
    assert_eq!(out.status.code(), Some(0));
    let token = demo.session().token().await.unwrap();
    let mine: Vec<GlanceImage> = demo
        .list(&ListFilter {
            visibility: Some("all".into()),
            hidden: Hidden::Include,
            owner: token.project_id.clone(),
            ..ListFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.properties.get(ID_PROPERTY) == Some(&p.id))
        .collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert_eq!(mine[0].name, p.name);
    let _ = demo.delete(&mine[0].id).await;
}

// ---------- compressed upstream artifacts ----------

fn compress(kind: &str, data: &[u8]) -> Vec<u8> {
    match kind {
        "xz" => {
            let mut w =
                lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(1))
                    .unwrap();
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
        "gz" => {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
        _ => unreachable!(),
    }
}

/// A disk image that compresses (runs of a pattern with noise), as real images do.
fn compressible_image(len: usize, seed: u64) -> Vec<u8> {
    let noise = random_bytes(len / 16, seed);
    (0..len)
        .map(|i| {
            if i % 16 == 0 {
                noise[i / 16]
            } else {
                (i / 4096) as u8
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn xz_and_gzip_artifacts_go_through_check_and_apply_with_both_digests_verified() {
    let g = glance().await;
    let up = Upstream::start();
    for (kind, transfer) in [("xz", "stream"), ("gz", "glance-direct")] {
        let p = Project::new(&format!("compressed-{kind}"));
        let image = compressible_image(3 << 20, 41);
        let artifact = compress(kind, &image);
        assert!(
            artifact.len() < image.len() / 2,
            "{kind}: the fixture compresses"
        );
        let url = up.put(&format!("/{kind}/v1/disk.img.{kind}"), artifact.clone());
        p.catalog(&Spec {
            transfer,
            ..Spec::default()
        });
        let yaml = std::fs::read_to_string(p.path("catalog/test.yaml")).unwrap();
        let yaml = yaml
            .replace("http://127.0.0.1:1/unused", &url)
            .replace(
                &format!("sha256:{}", "0".repeat(64)),
                &format!("sha256:{}", hex::encode(Sha256::digest(&artifact))),
            )
            .replace("version: \"0\"", "version: \"1\"");
        std::fs::write(p.path("catalog/test.yaml"), yaml).unwrap();

        // check locks the artifact's digest and its compression.
        let out = p.run(&["check"]);
        assert_eq!(out.status.code(), Some(0), "{kind}");
        let lock_path = p.path(&format!("state/{}.toml", p.id));
        let locked = std::fs::read_to_string(&lock_path).unwrap();
        let lock: LockedImage = toml::from_str(&locked).unwrap();
        assert_eq!(
            lock.build.checksums[&HashAlgorithm::Sha256],
            hex::encode(Sha256::digest(&artifact))
        );
        let info = lock.build.image.as_ref().expect("[build.image]");
        assert_eq!(
            info.compression.as_str(),
            if kind == "xz" { "xz" } else { "gzip" }
        );
        assert!(info.checksums.is_empty(), "{locked}");

        // apply uploads the decompressed image; Glance's hash is the image's.
        let out = p.apply(&["--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{kind}");
        let events = String::from_utf8_lossy(&out.stdout);
        let imported = events
            .lines()
            .find(|l| l.contains(r#""type":"image_imported""#))
            .unwrap_or_else(|| panic!("{kind}: {events}"));
        assert!(imported.contains("sha256 match lockfile"), "{imported}");
        assert!(imported.contains("Glance sha512 matches"), "{imported}");
        let imgs = images_of(&g, &p.id).await;
        assert_eq!(imgs.len(), 1, "{imgs:#?}");
        assert_eq!(imgs[0].status, "active");
        assert_eq!(imgs[0].size, Some(image.len() as u64), "{kind}");
        assert_eq!(
            imgs[0].os_hash_value.as_deref(),
            Some(sha512(&image).as_str()),
            "{kind}"
        );
        assert_eq!(imgs[0].properties["image_source"], url);

        // The first apply recorded the image digest; a re-check keeps the file as it is.
        let recorded = std::fs::read_to_string(&lock_path).unwrap();
        let lock: LockedImage = toml::from_str(&recorded).unwrap();
        assert_eq!(
            lock.build.image.as_ref().unwrap().checksums[&HashAlgorithm::Sha512],
            sha512(&image),
            "{recorded}"
        );
        assert_eq!(p.run(&["check"]).status.code(), Some(0));
        assert_eq!(std::fs::read_to_string(&lock_path).unwrap(), recorded);
        assert!(p.plan().is_empty(), "{kind}: plan after apply");

        // Glance holding other bytes for that version is seen by plan.
        let mut tampered = lock.clone();
        tampered
            .build
            .image
            .as_mut()
            .unwrap()
            .checksums
            .insert(HashAlgorithm::Sha512, "0".repeat(128));
        image_crawler::lock::store::write_if_changed(&p.path("state"), &tampered).unwrap();
        let plan = p.plan();
        assert!(
            plan.changes
                .iter()
                .any(|c| c.action == image_crawler::reconcile::Action::Import
                    && c.reason.contains("holds other bytes")),
            "{plan:#?}"
        );
        cleanup(&g, &p.id).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_compressed_artifact_leaves_no_image_behind() {
    let g = glance().await;
    let up = Upstream::start();
    let p = Project::new("compressed-corrupt");
    p.catalog(&Spec::default());
    let mut artifact = compress("xz", &compressible_image(1 << 20, 43));
    let n = artifact.len();
    artifact[n / 2] ^= 0xff;
    let url = up.put("/corrupt/v1/disk.img.xz", artifact.clone());
    // The lockfile vouches for the corrupt bytes: the decoder must still refuse them.
    p.lock("1", "2026-11-01", &url, &artifact, &[HashAlgorithm::Sha256]);
    let lock_path = p.path(&format!("state/{}.toml", p.id));
    let mut lock: LockedImage =
        toml::from_str(&std::fs::read_to_string(&lock_path).unwrap()).unwrap();
    lock.build.image = Some(image_crawler::lock::ImageInfo {
        compression: image_crawler::lock::Compression::Xz,
        checksums: BTreeMap::new(),
    });
    image_crawler::lock::store::write_if_changed(&p.path("state"), &lock).unwrap();
    let out = p.apply(&[]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("xz decompression"), "{err}");
    assert!(images_of(&g, &p.id).await.is_empty());

    // web-download cannot decompress: refused before any cloud is contacted.
    p.catalog(&Spec {
        transfer: "web-download",
        ..Spec::default()
    });
    let out = p.run(&["plan", "--cloud", CLOUD]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot decompress"), "{err}");
    assert!(err.contains("hint: use `transfer: stream`"), "{err}");
}

/// A port nothing listens on (bound, read, closed): an upstream that is down.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// docs/exit-codes.md: 75 when every image failed and every failure was temporary (nothing
/// changed, retry later); 3 when some failed and others were done, or a failure is not
/// temporary. The classification is carried by the executor's typed failure, not read from
/// the error text.
#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_that_is_down_is_75_alone_and_3_beside_a_success() {
    let g = glance().await;
    let up = Upstream::start();
    let p = Project::new("tempfail");
    p.catalog(&Spec {
        twin: true,
        ..Spec::default()
    });
    let twin = format!("{}-twin", p.id);
    let bytes = random_bytes(1 << 20, 91);
    let down = format!("http://127.0.0.1:{}/tempfail.img", closed_port());
    let json = |out: &Output| String::from_utf8_lossy(&out.stdout).into_owned();

    // Both upstreams down: every image failed, every failure temporary -> 75.
    p.lock("1", "2026-11-01", &down, &bytes, &[HashAlgorithm::Sha256]);
    p.lock_as(
        &twin,
        "1",
        "2026-11-01",
        &down,
        &bytes,
        &[HashAlgorithm::Sha256],
    );
    let out = p.apply(&["--allow-nonconforming", "--format", "json"]);
    assert_eq!(out.status.code(), Some(75), "all failed transiently -> 75");
    assert!(json(&out).contains("\"transient\":true"), "{}", json(&out));
    assert!(images_of(&g, &p.id).await.is_empty());
    assert!(images_of(&g, &twin).await.is_empty());

    // One upstream down, the other image imported -> 3 (something was done).
    let u = up.put("/tempfail-twin.img", bytes.clone());
    p.lock_as(
        &twin,
        "1",
        "2026-11-01",
        &u,
        &bytes,
        &[HashAlgorithm::Sha256],
    );
    let out = p.apply(&["--allow-nonconforming"]);
    assert_eq!(out.status.code(), Some(3), "one down beside a success -> 3");
    assert_eq!(images_of(&g, &twin).await.len(), 1);
    assert!(images_of(&g, &p.id).await.is_empty());

    // A permanent failure (404) is not a reason to retry later -> 3, even alone.
    let gone = format!("{}/no-such-file.img", up.base);
    p.lock("1", "2026-11-01", &gone, &bytes, &[HashAlgorithm::Sha256]);
    let out = p.apply(&["--allow-nonconforming", "--format", "json"]);
    assert_eq!(out.status.code(), Some(3), "a 404 is permanent -> 3");
    assert!(json(&out).contains("\"transient\":false"), "{}", json(&out));
    cleanup(&g, &p.id).await;
    cleanup(&g, &twin).await;
}

// ---------- disk_format and min_disk from the image's header ----------

/// A qcow2 of `gib` GiB virtual size made by the real `qemu-img` (empty: a few hundred KiB).
fn qemu_img_qcow2(dir: &std::path::Path, gib: u64) -> Vec<u8> {
    let path = dir.join("disk.qcow2");
    let out = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&path)
        .arg(format!("{gib}G"))
        .output()
        .expect("these tests need qemu-img (Debian/Ubuntu: qemu-utils; tests/run.sh installs it)");
    assert!(out.status.success(), "{out:?}");
    std::fs::read(&path).unwrap()
}

/// A project whose static source serves `artifact` from `up` at `path`, with the catalog's
/// `glance.disk_format` line replaced by `disk_format` (`None`: no line) and `min_disk` set.
fn header_project(
    test: &str,
    up: &Upstream,
    path: &str,
    artifact: &[u8],
    disk_format: Option<&str>,
    min_disk: u32,
) -> (Project, String) {
    let p = Project::new(test);
    let url = up.put(path, artifact.to_vec());
    p.catalog(&Spec::default());
    let yaml = std::fs::read_to_string(p.path("catalog/test.yaml")).unwrap();
    let line = disk_format.map_or(String::new(), |f| format!("      disk_format: {f}\n"));
    let yaml = yaml
        .replace("http://127.0.0.1:1/unused", &url)
        .replace(
            &format!("sha256:{}", "0".repeat(64)),
            &format!("sha256:{}", hex::encode(Sha256::digest(artifact))),
        )
        .replace("version: \"0\"", "version: \"1\"")
        .replace("      disk_format: raw\n", &line)
        .replace(
            "      min_disk: 1\n",
            &format!("      min_disk: {min_disk}\n"),
        );
    std::fs::write(p.path("catalog/test.yaml"), yaml).unwrap();
    (p, url)
}

/// One image through `check` and `apply`: the catalog's `disk_format` and `min_disk`, and
/// what Glance must hold after.
struct HeaderCase {
    test: &'static str,
    file: &'static str,
    artifact: Vec<u8>,
    format: Option<&'static str>,
    catalog_min: u32,
    glance_format: &'static str,
    min_disk: u64,
}

#[tokio::test(flavor = "multi_thread")]
async fn disk_format_and_min_disk_come_from_the_image_header() {
    const GIB: u64 = 1 << 30;
    let g = glance().await;
    let up = Upstream::start();
    let tmp = tempfile::tempdir().unwrap();
    let qcow2 = qemu_img_qcow2(tmp.path(), 3);
    assert!(qcow2.len() < 1 << 20, "qemu-img made an empty image");
    let raw = compressible_image(3 << 20, 47);
    let case = |test, file, artifact, format, catalog_min, glance_format, min_disk| HeaderCase {
        test,
        file,
        artifact,
        format,
        catalog_min,
        glance_format,
        min_disk,
    };
    let cases = [
        // No disk_format in the catalog: the header decides; min_disk rises to 3 GiB.
        case(
            "hdr-qcow2",
            "disk.qcow2",
            qcow2.clone(),
            None,
            1,
            "qcow2",
            3,
        ),
        // Compressed: the header of the decompressed bytes; the catalog agrees.
        case(
            "hdr-qcow2-xz",
            "disk.qcow2.xz",
            compress("xz", &qcow2),
            Some("qcow2"),
            2,
            "qcow2",
            3,
        ),
        // The catalog's min_disk stays when it is larger than the virtual size.
        case(
            "hdr-qcow2-big",
            "disk.qcow2.gz",
            compress("gz", &qcow2),
            None,
            5,
            "qcow2",
            5,
        ),
        // No signature in the first bytes: raw, virtual size = byte length.
        case(
            "hdr-raw-gz",
            "disk.raw.gz",
            compress("gz", &raw),
            None,
            2,
            "raw",
            2,
        ),
    ];
    for HeaderCase {
        test,
        file,
        artifact,
        format,
        catalog_min,
        glance_format,
        min_disk,
    } in cases
    {
        let (p, _) = header_project(
            test,
            &up,
            &format!("/{test}/v1/{file}"),
            &artifact,
            format,
            catalog_min,
        );
        assert_eq!(p.run(&["check"]).status.code(), Some(0), "{test}");
        let out = p.apply(&[]);
        assert_eq!(out.status.code(), Some(0), "{test}");
        let imgs = images_of(&g, &p.id).await;
        assert_eq!(imgs.len(), 1, "{test}: {imgs:#?}");
        let img = &imgs[0];
        assert_eq!(img.status, "active", "{test}");
        assert_eq!(img.disk_format.as_deref(), Some(glance_format), "{test}");
        assert_eq!(img.min_disk, min_disk, "{test}");
        // Glance's own inspection agrees with the header.
        let want_virtual = if glance_format == "qcow2" {
            3 * GIB
        } else {
            raw.len() as u64
        };
        assert_eq!(img.virtual_size, Some(want_virtual), "{test}");
        // The plan judges min_disk as apply set it: nothing to do.
        assert!(p.plan().is_empty(), "{test}: plan after apply");
        cleanup(&g, &p.id).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catalog_disk_format_that_contradicts_the_header_is_refused() {
    let g = glance().await;
    let up = Upstream::start();
    let tmp = tempfile::tempdir().unwrap();
    let qcow2 = qemu_img_qcow2(tmp.path(), 1);
    let raw = random_bytes(1 << 20, 53);
    for (test, file, artifact, format, says, fix) in [
        (
            "hdr-bad-raw",
            "disk.img",
            qcow2.clone(),
            "raw",
            "header is qcow2",
            "glance.disk_format: qcow2",
        ),
        (
            "hdr-bad-xz",
            "disk.img.xz",
            compress("xz", &qcow2),
            "vmdk",
            "header is qcow2",
            "glance.disk_format: qcow2",
        ),
        (
            "hdr-bad-qcow2",
            "disk.img",
            raw.clone(),
            "qcow2",
            "header is raw",
            "glance.disk_format: raw",
        ),
    ] {
        let (p, _) = header_project(
            test,
            &up,
            &format!("/{test}/v1/{file}"),
            &artifact,
            Some(format),
            1,
        );
        assert_eq!(p.run(&["check"]).status.code(), Some(0), "{test}");
        let out = p.apply(&[]);
        assert_eq!(out.status.code(), Some(3), "{test}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("`disk_format: {format}`")),
            "{test}: {err}"
        );
        assert!(err.contains(says), "{test}: {err}");
        assert!(err.contains(&format!("hint: set `{fix}`")), "{test}: {err}");
        // Refused before the image record is created: nothing in Glance, not even briefly.
        assert!(!err.contains("was deleted"), "{test}: {err}");
        assert!(images_of(&g, &p.id).await.is_empty(), "{test}");
    }
}

// ---------- several targets, one of them unreachable ----------

/// docs/exit-codes.md counts "over every target of the run": a target whose Keystone or Glance
/// cannot be reached is a temporary failure of that target, but once another target of the
/// same run changed something the run is 3 (partial), never 75 ("nothing changed"), in either
/// order; the reachable targets are still applied. Only when nothing changed anywhere is it 75.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_target_beside_one_that_changed_is_3_in_either_order() {
    let g = glance().await;
    let up = Upstream::start();
    let p = Project::new("multitarget");
    p.catalog(&Spec::default());
    // gk-admin as it is; gk-down: its Keystone on a closed port; gk-glance-down: a working
    // Keystone, its Glance on a closed port (`image_endpoint_override`).
    let clouds: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(clouds_yaml()).unwrap()).unwrap();
    let admin = clouds["clouds"][CLOUD].clone();
    let mut keystone_down = admin.clone();
    keystone_down["auth"]["auth_url"] =
        serde_json::json!(format!("http://127.0.0.1:{}/v3", closed_port()));
    let mut glance_down = admin.clone();
    glance_down["image_endpoint_override"] =
        serde_json::json!(format!("http://127.0.0.1:{}/", closed_port()));
    let file = p.path("clouds.json");
    std::fs::write(
        &file,
        serde_json::json!({"clouds": {
            CLOUD: admin, "gk-down": keystone_down, "gk-glance-down": glance_down
        }})
        .to_string(),
    )
    .unwrap();
    let catalog = p.path("catalog/test.yaml");
    let yaml = std::fs::read_to_string(&catalog).unwrap();
    let with_targets = |clouds: &[&str]| {
        let list: String = clouds
            .iter()
            .map(|c| format!("    - cloud: {c}\n"))
            .collect();
        std::fs::write(
            &catalog,
            yaml.replacen(
                "settings:\n  vendor: test\n",
                &format!("settings:\n  vendor: test\n  targets:\n{list}"),
                1,
            ),
        )
        .unwrap();
    };
    let apply = || {
        let out = p
            .cmd(&["apply", "--all-targets", "--yes"])
            .env("OS_CLIENT_CONFIG_FILE", &file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        eprintln!("$ apply --all-targets -> {:?}\n{err}", out.status.code());
        (out.status.code(), err)
    };
    let b1 = random_bytes(1 << 16, 131);
    let u1 = up.put("/multitarget-1.img", b1.clone());
    p.lock("1", "2026-11-01", &u1, &b1, &[HashAlgorithm::Sha256]);

    // Every target unreachable: nothing changed anywhere -> 75, naming both clouds.
    with_targets(&["gk-down", "gk-glance-down"]);
    let (code, err) = apply();
    assert_eq!(code, Some(75), "all targets unreachable -> 75\n{err}");
    assert!(err.contains("cannot connect to cloud gk-down"), "{err}");
    assert!(err.contains("gk-glance-down"), "{err}");
    assert!(images_of(&g, &p.id).await.is_empty());

    // First target unreachable, the second imports: the second is still applied -> 3.
    with_targets(&["gk-down", CLOUD]);
    let (code, err) = apply();
    assert_eq!(code, Some(3), "unreachable, then a change -> 3\n{err}");
    assert!(err.contains("cannot connect to cloud gk-down"), "{err}");
    assert!(err.contains("1 image(s) done, 0 failed"), "{err}");
    assert_eq!(
        images_of(&g, &p.id).await.len(),
        1,
        "the second target applied"
    );

    // The reachable target has nothing to do, the other is unreachable: nothing changed -> 75.
    with_targets(&[CLOUD, "gk-glance-down"]);
    let (code, err) = apply();
    assert_eq!(code, Some(75), "no change, then unreachable -> 75\n{err}");
    assert!(err.contains("0 image(s) done, 0 failed"), "{err}");

    // A change on the first target, the second unreachable -> 3 (was 75).
    let b2 = random_bytes(1 << 16, 132);
    let u2 = up.put("/multitarget-2.img", b2.clone());
    p.lock("2", "2026-11-02", &u2, &b2, &[HashAlgorithm::Sha256]);
    with_targets(&[CLOUD, "gk-down"]);
    let (code, err) = apply();
    assert_eq!(code, Some(3), "a change, then unreachable -> 3\n{err}");
    assert!(err.contains("1 image(s) done, 0 failed"), "{err}");
    assert!(err.contains("cannot connect to cloud gk-down"), "{err}");
    assert!(
        images_of(&g, &p.id)
            .await
            .iter()
            .any(|i| i.name == p.name && i.properties["image_crawler_version"] == "2"),
        "the first target took the bump"
    );
    cleanup(&g, &p.id).await;
}
