//! Integration tests against a REAL Keystone 30 + Glance 33 on 127.0.0.1.
//!
//! Start them with `tests/openstack/glance-keystone.sh start DIR` and run
//! `IMAGE_CRAWLER_TEST_CLOUDS=DIR/clouds.yaml cargo test --test openstack`.
//! Without the variable every test FAILS (never silently passes) and says how to start them.
//! Cloud names default to the script's (`gk-demo`, `gk-appcred`, `gk-admin`) and can be
//! changed with `IMAGE_CRAWLER_TEST_CLOUD`, `IMAGE_CRAWLER_TEST_APPCRED_CLOUD`.
//!
//! Every test works on images with its own unique name prefix and deletes them at the end,
//! so tests run in parallel and against a shared instance.

mod support;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::time::Duration;

use bytes::Bytes;
use image_crawler::openstack::config::{self, CloudConfig};
use image_crawler::openstack::error::WaitFailure;
use image_crawler::openstack::glance::{patch_ops, tag_changes};
use image_crawler::openstack::{
    Error, ExpectedHash, Glance, Hidden, ImportMethod, ListFilter, NewImage, Session, WaitPolicy,
};
use sha2::{Digest as _, Sha512};

fn demo_cloud() -> CloudConfig {
    support::clouds::cloud(
        &std::env::var("IMAGE_CRAWLER_TEST_CLOUD").unwrap_or_else(|_| "gk-demo".into()),
    )
}

fn appcred_cloud() -> CloudConfig {
    support::clouds::cloud(
        &std::env::var("IMAGE_CRAWLER_TEST_APPCRED_CLOUD").unwrap_or_else(|_| "gk-appcred".into()),
    )
}

async fn demo() -> Glance {
    Glance::connect(demo_cloud())
        .await
        .expect("connect as demo")
}

/// A unique prefix per test run and test, so parallel tests never see each other's images.
fn prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("ictest-{test}-{:x}", nanos % 0xffff_ffff)
}

fn raw_image(name: &str) -> NewImage {
    NewImage {
        name: name.to_owned(),
        disk_format: "raw".into(),
        container_format: "bare".into(),
        visibility: Some("private".into()),
        ..NewImage::default()
    }
}

/// Deterministic pseudo-random bytes (Glance checks `raw` accepts anything).
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sha512_hex(bytes: &[u8]) -> String {
    hex::encode(Sha512::digest(bytes))
}

/// The data as a stream of 64 KiB chunks.
fn chunks(
    bytes: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let parts: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(parts)
}

async fn cleanup(glance: &Glance, prefix: &str) {
    let filter = ListFilter {
        hidden: Hidden::Include,
        ..ListFilter::default()
    };
    for img in glance.list(&filter).await.unwrap_or_default() {
        if img.name.starts_with(prefix) {
            if img.protected {
                let mut after = img.clone();
                after.protected = false;
                let _ = glance.patch(&img.id, &patch_ops(&img, &after)).await;
            }
            let _ = glance.delete(&img.id).await;
        }
    }
}

/// A tiny HTTP/1.1 file server on 127.0.0.1 (port chosen by the OS) for web-download.
/// Serves `body` at `/image.raw`; anything else is 404.
fn serve(body: Vec<u8>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let body = body.clone();
            std::thread::spawn(move || {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&req);
                let line = head.lines().next().unwrap_or("");
                let head_only = line.starts_with("HEAD ");
                if line.contains(" /image.raw ") {
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    if !head_only {
                        let _ = s.write_all(&body);
                    }
                } else {
                    let _ = s.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            });
        }
    });
    format!("http://{addr}")
}

fn quick_wait() -> WaitPolicy {
    WaitPolicy {
        stuck_after: Duration::from_secs(60),
        deadline: Duration::from_secs(120),
        ..WaitPolicy::default()
    }
}

#[tokio::test]
async fn password_auth_reuses_the_token_and_discovers_v2() {
    let session = Session::new(demo_cloud()).unwrap();
    let t1 = session.token().await.unwrap();
    let t2 = session.token().await.unwrap();
    assert_eq!(t1.value, t2.value, "the token is reused");
    assert!(t1.project_id.is_some(), "password token is project-scoped");
    assert!(t1.catalog.iter().any(|c| c.service_type == "image"));
    let glance = Glance::from_session(session).await.unwrap();
    let v = glance.api_version().expect("version discovery answered");
    assert!(v.starts_with("2."), "{v}");
    glance.list(&ListFilter::default()).await.unwrap();
}

#[tokio::test]
async fn scoping_by_ids_gives_the_same_project() {
    let by_name = Session::new(demo_cloud()).unwrap().token().await.unwrap();
    let by_id = Session::new(support::clouds::cloud("gk-demo-ids"))
        .unwrap()
        .token()
        .await
        .unwrap();
    assert_eq!(by_name.project_id, by_id.project_id);
}

#[tokio::test]
async fn application_credential_auth_is_scoped_to_its_project() {
    let demo_token = Session::new(demo_cloud()).unwrap().token().await.unwrap();
    let session = Session::new(appcred_cloud()).unwrap();
    let token = session.token().await.unwrap();
    assert_eq!(token.project_id, demo_token.project_id);
    let glance = Glance::from_session(session).await.unwrap();
    let p = prefix("appcred");
    let img = glance.create(&raw_image(&p)).await.unwrap();
    assert_eq!(img.owner, demo_token.project_id);
    glance.delete(&img.id).await.unwrap();
}

#[tokio::test]
async fn wrong_password_is_a_typed_auth_error() {
    let mut cfg = demo_cloud();
    if let config::AuthMethod::Password { password, .. } = &mut cfg.auth {
        *password = image_crawler::openstack::Secret::new("wrong-password");
    }
    let err = Session::new(cfg).unwrap().token().await.unwrap_err();
    assert!(matches!(err, Error::AuthRefused { .. }), "{err:?}");
    assert_eq!(err.status(), Some(401));
    assert!(err.hint().is_some());
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once_on_401() {
    let session = Session::new(demo_cloud()).unwrap();
    let glance = Glance::from_session(session.clone()).await.unwrap();
    let old = session.token().await.unwrap();
    // Revoke it behind the session's back (a user may revoke its own token).
    let url = session.config().token_url();
    let resp = reqwest::Client::new()
        .delete(&url)
        .header("X-Auth-Token", old.value.expose())
        .header("X-Subject-Token", old.value.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204, "token revoked");
    // Glance now answers 401; the session authenticates again and repeats the request.
    glance.list(&ListFilter::default()).await.unwrap();
    let new = session.token().await.unwrap();
    assert_ne!(new.value, old.value, "a new token was issued");
}

#[tokio::test]
async fn list_follows_next_links_and_filters() {
    let glance = demo().await;
    let p = prefix("page");
    let tag = format!("{p}-tag");
    for i in 0..7 {
        let mut n = raw_image(&format!("{p}-{i}"));
        n.tags.insert(tag.clone());
        n.properties
            .insert("ictest_parity".into(), (i % 2).to_string());
        glance.create(&n).await.unwrap();
    }
    let filter = ListFilter {
        tags: vec![tag.clone()],
        page_size: Some(3),
        ..ListFilter::default()
    };
    let all = glance.list(&filter).await.unwrap();
    let names: Vec<_> = all.iter().map(|i| i.name.clone()).collect();
    assert_eq!(
        names,
        (0..7).map(|i| format!("{p}-{i}")).collect::<Vec<_>>()
    );
    // Property and name filters.
    let odd = glance
        .list(&ListFilter {
            properties: BTreeMap::from([("ictest_parity".into(), "1".into())]),
            ..filter.clone()
        })
        .await
        .unwrap();
    assert_eq!(odd.len(), 3);
    let one = glance
        .list(&ListFilter {
            name: Some(format!("{p}-4")),
            status: Some("queued".into()),
            visibility: Some("all".into()),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].status, "queued");
    cleanup(&glance, &p).await;
}

#[tokio::test]
async fn streaming_upload_matches_our_sha512_chunked_and_sized() {
    let glance = demo().await;
    let p = prefix("upload");
    for (i, sized) in [false, true].into_iter().enumerate() {
        let bytes = data(3 * 1024 * 1024 + 17, 7 + i as u64);
        let want = sha512_hex(&bytes);
        let mut n = raw_image(&format!("{p}-{i}"));
        n.min_disk = 1;
        n.min_ram = 128;
        n.properties.insert("os_distro".into(), "debian".into());
        let img = glance.create(&n).await.unwrap();
        assert_eq!(img.status, "queued");
        let size = sized.then_some(bytes.len() as u64);
        let len = bytes.len() as u64;
        glance.upload(&img.id, chunks(bytes), size).await.unwrap();
        let done = glance
            .wait_active(&img.id, "upload", &quick_wait(), None)
            .await
            .unwrap();
        assert_eq!(done.size, Some(len));
        assert_eq!(done.os_hash_algo.as_deref(), Some("sha512"));
        assert_eq!(done.os_hash_value.as_deref(), Some(want.as_str()));
        assert_eq!((done.min_disk, done.min_ram), (1, 128));
        assert_eq!(
            done.properties.get("os_distro").map(String::as_str),
            Some("debian")
        );
    }
    cleanup(&glance, &p).await;
}

#[tokio::test]
async fn web_download_import_from_a_local_server() {
    let glance = demo().await;
    assert!(
        glance
            .import_methods()
            .await
            .unwrap()
            .contains(&"web-download".to_owned())
    );
    let p = prefix("web");
    let bytes = data(1024 * 1024 + 3, 11);
    let want = sha512_hex(&bytes);
    let base = serve(bytes);
    let img = glance.create(&raw_image(&format!("{p}-ok"))).await.unwrap();
    glance
        .import(
            &img.id,
            &ImportMethod::WebDownload {
                uri: format!("{base}/image.raw"),
            },
        )
        .await
        .unwrap();
    let expected = ExpectedHash {
        algo: "sha512".into(),
        value: want.clone(),
    };
    let done = glance
        .wait_active(&img.id, "web-download", &quick_wait(), Some(&expected))
        .await
        .unwrap();
    assert_eq!(done.os_hash_value.as_deref(), Some(want.as_str()));

    // A second import into an active image is a conflict.
    let err = glance
        .import(
            &img.id,
            &ImportMethod::WebDownload {
                uri: format!("{base}/image.raw"),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");

    // A missing file: the import task fails and the wait reports it.
    let bad = glance
        .create(&raw_image(&format!("{p}-404")))
        .await
        .unwrap();
    glance
        .import(
            &bad.id,
            &ImportMethod::WebDownload {
                uri: format!("{base}/missing.raw"),
            },
        )
        .await
        .unwrap();
    let err = glance
        .wait_active(&bad.id, "web-download", &quick_wait(), None)
        .await
        .unwrap_err();
    match &err {
        Error::Wait {
            failure, detail, ..
        } => {
            assert_eq!(*failure, WaitFailure::Failed);
            assert!(detail.contains("local"), "{detail}");
        }
        other => panic!("expected a failed wait, got {other:?}"),
    }
    cleanup(&glance, &p).await;
}

#[tokio::test]
async fn glance_direct_stage_then_import() {
    let glance = demo().await;
    let p = prefix("direct");
    let bytes = data(2 * 1024 * 1024, 5);
    let want = sha512_hex(&bytes);
    let img = glance.create(&raw_image(&p)).await.unwrap();
    let len = bytes.len() as u64;
    glance
        .stage(&img.id, chunks(bytes), Some(len))
        .await
        .unwrap();
    assert_eq!(glance.get(&img.id).await.unwrap().status, "uploading");
    glance
        .import(&img.id, &ImportMethod::GlanceDirect)
        .await
        .unwrap();
    let done = glance
        .wait_active(
            &img.id,
            "glance-direct",
            &quick_wait(),
            Some(&ExpectedHash {
                algo: "sha512".into(),
                value: want,
            }),
        )
        .await
        .unwrap();
    assert_eq!(done.size, Some(len));
    cleanup(&glance, &p).await;
}

#[tokio::test]
async fn a_wrong_expected_hash_fails_the_wait() {
    let glance = demo().await;
    let p = prefix("badhash");
    let img = glance.create(&raw_image(&p)).await.unwrap();
    glance
        .upload(&img.id, chunks(data(4096, 3)), None)
        .await
        .unwrap();
    let err = glance
        .wait_active(
            &img.id,
            "upload",
            &quick_wait(),
            Some(&ExpectedHash {
                algo: "sha512".into(),
                value: "00".repeat(64),
            }),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Wait {
                failure: WaitFailure::Failed,
                ..
            }
        ),
        "{err:?}"
    );
    cleanup(&glance, &p).await;
}

#[tokio::test]
async fn one_batched_patch_and_tags() {
    let glance = demo().await;
    let p = prefix("patch");
    let mut n = raw_image(&format!("{p}-a"));
    n.properties = BTreeMap::from([
        ("os_distro".into(), "debian".into()),
        ("ictest_old".into(), "1".into()),
    ]);
    n.tags.insert("keep".into());
    n.tags.insert("drop".into());
    let before = glance.create(&n).await.unwrap();

    let mut after = before.clone();
    after.name = format!("{p}-b");
    after.visibility = "shared".into();
    after.hidden = true;
    after.min_ram = 256;
    after.properties.remove("ictest_old");
    after
        .properties
        .insert("os_distro".into(), "debian12".into());
    after
        .properties
        .insert("image_crawler_id".into(), "debian-12".into());
    after.tags = ["keep".to_owned(), "new".to_owned()].into();
    let ops = patch_ops(&before, &after);
    assert_eq!(ops.len(), 7, "{ops:?}");
    let patched = glance.patch(&before.id, &ops).await.unwrap();
    assert_eq!(patched.name, after.name);
    assert_eq!(patched.visibility, "shared");
    assert!(patched.hidden);
    assert_eq!(patched.min_ram, 256);
    assert_eq!(patched.properties, after.properties);

    let (add, remove) = tag_changes(&before, &after);
    for t in &add {
        glance.add_tag(&before.id, t).await.unwrap();
    }
    for t in &remove {
        glance.remove_tag(&before.id, t).await.unwrap();
    }
    let now = glance.get(&before.id).await.unwrap();
    assert_eq!(now.tags, after.tags);
    // The same comparison now finds nothing to change.
    assert!(patch_ops(&now, &after).is_empty());

    // Hidden: not in the default listing, found when hidden ones are included.
    let by_name = |hidden| ListFilter {
        name: Some(after.name.clone()),
        hidden,
        ..ListFilter::default()
    };
    assert!(
        glance
            .list(&by_name(Hidden::Exclude))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(glance.list(&by_name(Hidden::Only)).await.unwrap().len(), 1);
    assert_eq!(
        glance.list(&by_name(Hidden::Include)).await.unwrap().len(),
        1
    );
    cleanup(&glance, &p).await;
}

#[tokio::test]
async fn deactivate_reactivate_delete_and_protected() {
    let glance = demo().await;
    let p = prefix("life");
    let img = glance.create(&raw_image(&p)).await.unwrap();
    glance
        .upload(&img.id, chunks(data(8192, 9)), Some(8192))
        .await
        .unwrap();
    glance
        .wait_active(&img.id, "upload", &quick_wait(), None)
        .await
        .unwrap();
    glance.deactivate(&img.id).await.unwrap();
    assert_eq!(glance.get(&img.id).await.unwrap().status, "deactivated");
    glance.reactivate(&img.id).await.unwrap();
    assert_eq!(glance.get(&img.id).await.unwrap().status, "active");

    // Protected: delete is refused with a typed error carrying status and request id.
    let before = glance.get(&img.id).await.unwrap();
    let mut after = before.clone();
    after.protected = true;
    glance
        .patch(&img.id, &patch_ops(&before, &after))
        .await
        .unwrap();
    let err = glance.delete(&img.id).await.unwrap_err();
    match &err {
        Error::Protected { id, source } => {
            assert_eq!(id, &img.id);
            assert_eq!(source.status(), Some(403));
            assert!(
                source
                    .request_id
                    .as_deref()
                    .is_some_and(|r| r.starts_with("req-"))
            );
            assert!(
                source.url.ends_with(&format!("/v2/images/{}", img.id)),
                "{}",
                source.url
            );
        }
        other => panic!("expected Protected, got {other:?}"),
    }
    glance
        .patch(&img.id, &patch_ops(&after, &before))
        .await
        .unwrap();
    glance.delete(&img.id).await.unwrap();
    let err = glance.get(&img.id).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(err.status(), Some(404));
}

/// Runs the real binary with `-vvv` and `RUST_LOG=trace`; returns (success, stdout+stderr).
fn run_binary(clouds_yaml: &std::path::Path, args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("image-crawler")
        .unwrap()
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("OS_CLIENT_CONFIG_FILE", clouds_yaml)
        .env("RUST_LOG", "trace")
        .arg("-vvv")
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn assert_no_secret(output: &str, secret: &str, what: &str) {
    assert!(secret.len() >= 8, "{what} too short to search for");
    assert!(
        !output.contains(secret),
        "{what} leaked into the output:\n{output}"
    );
    // Fernet tokens start with `gAAAAA`: none of the tokens the binary obtained may show.
    assert!(
        !output.contains("gAAAAA"),
        "a token leaked into the output:\n{output}"
    );
}

#[tokio::test]
async fn secrets_never_appear_in_output_at_any_verbosity() {
    let clouds = support::clouds::clouds_file();
    // Password and application-credential secret, as written in clouds.yaml.
    let password = match &demo_cloud().auth {
        config::AuthMethod::Password { password, .. } => password.expose().to_owned(),
        other => panic!("gk-demo is not a password cloud: {other:?}"),
    };
    let app_secret = match &appcred_cloud().auth {
        config::AuthMethod::ApplicationCredential { secret, .. } => secret.expose().to_owned(),
        other => panic!("gk-appcred is not an app-credential cloud: {other:?}"),
    };
    for (cloud, secret, what) in [
        ("gk-demo", &password, "password"),
        ("gk-appcred", &app_secret, "application credential secret"),
    ] {
        let (ok, out) = run_binary(&clouds, &["status", "--cloud", cloud]);
        assert!(ok, "status --cloud {cloud} failed:\n{out}");
        assert!(
            out.contains("got a Keystone token"),
            "trace logging was not on:\n{out}"
        );
        assert!(
            out.contains("TRACE"),
            "RUST_LOG=trace had no effect:\n{out}"
        );
        assert_no_secret(&out, secret, what);
    }

    // A token cloud: we read X-Subject-Token ourselves and hand it to the binary.
    let demo = demo_cloud();
    let resp = reqwest::Client::new()
        .post(demo.token_url())
        .json(&image_crawler::openstack::keystone::auth_body(&demo))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let token = resp.headers()["x-subject-token"]
        .to_str()
        .unwrap()
        .to_owned();
    let project_id = resp.json::<serde_json::Value>().await.unwrap()["token"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let token_yaml = dir.path().join("clouds.yaml");
    std::fs::write(
        &token_yaml,
        format!(
            "clouds:\n  tok:\n    auth_type: token\n    auth:\n      auth_url: \"{}\"\n      token: \"{token}\"\n      project_id: \"{project_id}\"\n",
            demo.auth_url
        ),
    )
    .unwrap();
    let (ok, out) = run_binary(
        &token_yaml,
        &["status", "--cloud", "tok", "--format", "json"],
    );
    assert!(ok, "status with a token cloud failed:\n{out}");
    assert_no_secret(&out, &token, "token");

    // A refused password: the error path does not print it either.
    let bad_yaml = dir.path().join("bad.yaml");
    std::fs::write(
        &bad_yaml,
        format!(
            "clouds:\n  bad:\n    auth:\n      auth_url: \"{}\"\n      username: demo\n      password: wrong-password-123\n      project_name: demo\n",
            demo.auth_url
        ),
    )
    .unwrap();
    let (ok, out) = run_binary(&bad_yaml, &["status", "--cloud", "bad"]);
    assert!(!ok, "a wrong password must fail:\n{out}");
    assert!(out.contains("refused the credentials"), "{out}");
    assert_no_secret(&out, "wrong-password-123", "refused password");
}

#[tokio::test]
async fn status_reports_managed_images_against_lockfiles() {
    use image_crawler::lock::{
        self, Build, HashAlgorithm, LockedImage, SignatureState, SignatureStatus,
    };
    let glance = demo().await;
    let p = prefix("status");
    let catalog_id = format!("{p}-id");
    let locked = LockedImage {
        format_version: lock::format::FORMAT_VERSION,
        id: catalog_id.clone(),
        source_digest: "sha256:00".into(),
        build: Build {
            version: "20260102".into(),
            build_date: "2026-01-02".into(),
            url: "https://example.org/new.qcow2".into(),
            size: None,
            metadata_url: "https://example.org/SHA256SUMS".into(),
            checksums: BTreeMap::from([(HashAlgorithm::Sha256, "ab".repeat(32))]),
            signature: SignatureStatus::state(SignatureState::Off),
            image: None,
            inputs: None,
        },
    };
    let state = tempfile::tempdir().unwrap();
    lock::store::write_if_changed(state.path(), &locked).unwrap();
    let mk = |suffix: &str, version: &str, url: &str, hidden: bool| {
        let mut n = raw_image(&format!("{p}-{suffix}"));
        n.hidden = hidden;
        n.tags.insert("managed_by_image_crawler".into());
        n.properties = BTreeMap::from([
            ("image_crawler_id".into(), catalog_id.clone()),
            ("image_crawler_version".into(), version.into()),
            ("image_source".into(), url.into()),
            (
                "image_build_date".into(),
                format!("{}-{}-{}", &version[..4], &version[4..6], &version[6..]),
            ),
        ]);
        n
    };
    let current = glance
        .create(&mk(
            "new",
            "20260102",
            "https://example.org/new.qcow2",
            false,
        ))
        .await
        .unwrap();
    let old = glance
        .create(&mk(
            "old",
            "20251201",
            "https://example.org/old.qcow2",
            true,
        ))
        .await
        .unwrap();
    let (ok, out) = run_binary(
        &support::clouds::clouds_file(),
        &[
            "--state",
            state.path().to_str().unwrap(),
            "--catalog",
            "no-catalog-here",
            "status",
            "--cloud",
            "gk-demo",
            "--format",
            "json",
            "--quiet",
        ],
    );
    assert!(ok, "{out}");
    let json_start = out.find('{').expect("JSON on stdout");
    let mut de =
        serde_json::Deserializer::from_str(&out[json_start..]).into_iter::<serde_json::Value>();
    let report = de.next().unwrap().unwrap();
    let rows: Vec<&serde_json::Value> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["catalog_id"] == catalog_id.as_str())
        .collect();
    assert_eq!(rows.len(), 2, "{report:#}");
    // Newest build first.
    assert_eq!(rows[0]["glance_id"], current.id.as_str());
    assert_eq!(rows[0]["lock"]["state"], "current");
    assert_eq!(rows[0]["build_date"], "2026-01-02");
    assert_eq!(rows[1]["glance_id"], old.id.as_str());
    assert_eq!(rows[1]["hidden"], true);
    assert_eq!(
        rows[1]["lock"],
        serde_json::json!({"state": "differs", "locked_version": "20260102"})
    );
    cleanup(&glance, &p).await;
}

#[tokio::test]
async fn waiting_on_an_image_that_never_progresses_is_stuck_then_deadline() {
    let glance = demo().await;
    let p = prefix("stuck");
    // A queued image with no upload and no import: nothing will ever change.
    let img = glance.create(&raw_image(&p)).await.unwrap();
    let started = std::time::Instant::now();
    let stuck = WaitPolicy {
        stuck_after: Duration::from_millis(1500),
        deadline: Duration::from_secs(60),
        ..WaitPolicy::default()
    };
    let err = glance
        .wait_active(&img.id, "upload", &stuck, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Wait { failure: WaitFailure::Stuck, detail, .. } if detail.contains("queued")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let deadline = WaitPolicy {
        stuck_after: Duration::from_secs(60),
        deadline: Duration::from_millis(800),
        ..WaitPolicy::default()
    };
    let err = glance
        .wait_active(&img.id, "upload", &deadline, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Wait {
                failure: WaitFailure::Deadline,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.hint().is_some());
    cleanup(&glance, &p).await;
}

/// A one-shot HTTP server that records the request head of a PUT and drains its body.
/// Returns the base URL and a receiver for (head, body length).
fn capture_put() -> (String, std::sync::mpsc::Receiver<(String, usize)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            let head_end = loop {
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
            let chunked = head.contains("transfer-encoding: chunked");
            let mut body = buf[head_end..].to_vec();
            // Read until the body is complete: the length, or the last chunk `0\r\n\r\n`.
            let want = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse::<usize>().ok());
            loop {
                let done = match want {
                    Some(n) => body.len() >= n,
                    None => !chunked || body.ends_with(b"0\r\n\r\n"),
                };
                if done {
                    break;
                }
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => body.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            // Version discovery (GET /) is answered too, but only PUTs are reported.
            if head.starts_with("put ") {
                let _ = tx.send((head, body.len()));
            }
        }
    });
    (format!("http://{addr}"), rx)
}

#[tokio::test]
async fn uploads_send_content_length_when_known_and_chunks_otherwise() {
    let (base, rx) = capture_put();
    let mut cfg = demo_cloud();
    // Real Keystone auth, but Glance replaced by the recorder (image_endpoint_override).
    cfg.image_endpoint_override = Some(base.parse().unwrap());
    let glance = Glance::connect(cfg).await.unwrap();
    let bytes = data(300_000, 1);
    glance
        .upload("img-1", chunks(bytes.clone()), Some(bytes.len() as u64))
        .await
        .unwrap();
    let (head, len) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(head.starts_with("put /v2/images/img-1/file "), "{head}");
    assert!(head.contains("content-length: 300000"), "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert!(
        head.contains("content-type: application/octet-stream"),
        "{head}"
    );
    assert!(head.contains("x-auth-token: "), "{head}");
    assert_eq!(len, 300_000);

    glance.stage("img-2", chunks(bytes), None).await.unwrap();
    let (head, len) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(head.starts_with("put /v2/images/img-2/stage "), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    assert!(len > 300_000, "chunk framing adds bytes: {len}");
}
