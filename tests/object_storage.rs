//! `object-storage` discovery over real HTTP: listing pages (Swift JSON with markers, S3
//! ListObjectsV2 with continuation tokens, S3 ListObjects V1 with markers) and checksum
//! objects written for this project under `tests/fixtures/object-storage/`, served on
//! 127.0.0.1; the page for each query string is a file named `<path>?<query>`.

#[allow(unused_imports)] // support re-exports helpers these tests do not use
mod support;

use std::path::PathBuf;

use image_crawler::catalog::raw::{ObjectListing, ObjectStorageSource};
use image_crawler::catalog::{Architecture, Image, Signature, SignatureMode, Source};
use image_crawler::http::RetryPolicy;
use image_crawler::lock::{HashAlgorithm, SignatureState};
use image_crawler::upstream::{Candidate, DiscoverError, Fetcher, discover};
use sha2::Digest;
use support::FixtureServer;

const SWIFT: &str = "https://swift.example.org/";
const S3: &str = "https://s3.example.org/";
const S3V1: &str = "https://built.example.org/";

/// The run's one clock, fixed: after the fixtures were signed (signatures are judged at it).
fn now() -> jiff::Timestamp {
    "2026-12-01T00:00:00Z".parse().unwrap()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/object-storage")
}

fn fetcher(server: &FixtureServer) -> Fetcher {
    let base = server.url();
    let mirrors = vec![
        (SWIFT.to_owned(), format!("{base}/swift/")),
        (S3.to_owned(), format!("{base}/s3/")),
        (S3V1.to_owned(), format!("{base}/s3v1/built/")),
    ];
    Fetcher::new(reqwest::Client::new(), mirrors, RetryPolicy::NONE)
}

fn source(url: &str, listing: ObjectListing, prefix: &str, pattern: &str) -> ObjectStorageSource {
    ObjectStorageSource {
        url: url.to_owned(),
        listing,
        prefix: Some(prefix.to_owned()),
        pattern: pattern.to_owned(),
        checksum_file: None,
        checksum_suffixes: vec![".CHECKSUM".into(), ".sha256".into()],
        signature_file: None,
    }
}

fn image(source: ObjectStorageSource, mode: SignatureMode, keys: Vec<PathBuf>) -> Image {
    let mut image = Image::new("capi", Source::ObjectStorage(source), Architecture::X86_64);
    image.signature = Signature { mode, keys };
    image
}

fn sorted(mut c: Vec<Candidate>) -> Vec<Candidate> {
    c.sort_by(|a, b| image_crawler::upstream::version::compare(&a.version, &b.version));
    c
}

fn sha256_of(path: PathBuf) -> String {
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

fn requests_to(server: &FixtureServer, path: &str) -> usize {
    server.log().iter().filter(|(p, _)| p == path).count()
}

#[tokio::test]
async fn swift_listing_follows_markers_and_reads_checksum_sidecars() {
    let server = FixtureServer::start(root());
    let src = source(
        &format!("{SWIFT}v1/AUTH_test/capi"),
        ObjectListing::Swift,
        "ubuntu-2404-kube-v1.35/",
        r"ubuntu-2404-kube-v1\.35/ubuntu-2404-kube-(?P<version>v1\.35\.\d+)\.qcow2",
    );
    let found = sorted(
        discover(
            &image(src, SignatureMode::IfPublished, vec![]),
            &fetcher(&server),
            now(),
        )
        .await
        .unwrap(),
    );
    let versions: Vec<&str> = found.iter().map(|c| c.version.as_str()).collect();
    // v1.35.3 is on the second page; the `v1.35.qcow2` alias never matches.
    assert_eq!(versions, ["v1.35.0", "v1.35.1", "v1.35.3"]);
    let newest = found.last().unwrap();
    assert_eq!(
        newest.url,
        format!("{SWIFT}v1/AUTH_test/capi/ubuntu-2404-kube-v1.35/ubuntu-2404-kube-v1.35.3.qcow2")
    );
    assert_eq!(newest.metadata_url, format!("{}.CHECKSUM", newest.url));
    assert_eq!(
        newest.checksums[&HashAlgorithm::Sha256],
        sha256_of(
            root().join(
                "swift/v1/AUTH_test/capi/ubuntu-2404-kube-v1.35/ubuntu-2404-kube-v1.35.3.qcow2"
            )
        )
    );
    // No date in the name: the listed last-modified day of the object.
    assert_eq!(newest.build_date, "2026-03-02");
    assert_eq!(newest.size, Some(24));
    assert_eq!(newest.signature.status, SignatureState::NotPublished);
    // Three listing pages (the last one empty), one sidecar per matching build, no alias sidecar.
    assert_eq!(requests_to(&server, "/swift/v1/AUTH_test/capi"), 3);
    let sidecars = server
        .log()
        .iter()
        .filter(|(p, _)| p.ends_with(".CHECKSUM"))
        .count();
    assert_eq!(sidecars, 3, "{:?}", server.log());
}

#[tokio::test]
async fn s3_v2_listing_follows_continuation_tokens() {
    let server = FixtureServer::start(root());
    let src = source(
        &format!("{S3}osism/"),
        ObjectListing::S3,
        "openstack-k8s-capi-images/ubuntu-2404-kube-v1.34/",
        r"openstack-k8s-capi-images/ubuntu-2404-kube-v1\.34/ubuntu-2404-kube-(?P<version>v1\.34\.\d+)\.qcow2",
    );
    let found = sorted(
        discover(
            &image(src, SignatureMode::IfPublished, vec![]),
            &fetcher(&server),
            now(),
        )
        .await
        .unwrap(),
    );
    let versions: Vec<&str> = found.iter().map(|c| c.version.as_str()).collect();
    // Natural order: v1.34.10 > v1.34.4; v1.34.10's sidecar is on the second page.
    assert_eq!(versions, ["v1.34.2", "v1.34.4", "v1.34.10"]);
    let newest = found.last().unwrap();
    assert_eq!(
        newest.url,
        format!(
            "{S3}osism/openstack-k8s-capi-images/ubuntu-2404-kube-v1.34/ubuntu-2404-kube-v1.34.10.qcow2"
        )
    );
    assert!(newest.metadata_url.ends_with(".qcow2.sha256"));
    assert_eq!(newest.build_date, "2026-04-01");
    assert_eq!(
        newest.checksums[&HashAlgorithm::Sha256],
        sha256_of(root().join(
            "s3/osism/openstack-k8s-capi-images/ubuntu-2404-kube-v1.34/ubuntu-2404-kube-v1.34.10.qcow2"
        ))
    );
    assert_eq!(requests_to(&server, "/s3/osism/"), 2);
}

/// A bucket at the host root (virtual-hosted style): `https://<bucket>.<host>/`.
/// The layout `build` publishes: `<name>-<version>.qcow2` + `SHA256SUMS` + `SHA256SUMS.asc`.
fn built_images() -> ObjectStorageSource {
    ObjectStorageSource {
        checksum_file: Some("SHA256SUMS".into()),
        signature_file: Some("SHA256SUMS.asc".into()),
        ..source(
            S3V1,
            ObjectListing::S3V1,
            "images/",
            r"images/example-(?P<version>[\d.]+-\d{8})\.x86_64\.qcow2",
        )
    }
}

#[tokio::test]
async fn s3_v1_listing_with_a_signed_checksum_file() {
    let server = FixtureServer::start(root());
    let key = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/upstream/keys/fixture-signing-key.asc");
    let found = sorted(
        discover(
            &image(built_images(), SignatureMode::Required, vec![key]),
            &fetcher(&server),
            now(),
        )
        .await
        .unwrap(),
    );
    let newest = found.last().unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(newest.version, "1.1-20260201");
    assert_eq!(newest.build_date, "2026-02-01");
    assert_eq!(
        newest.url,
        format!("{S3V1}images/example-1.1-20260201.x86_64.qcow2")
    );
    assert_eq!(newest.metadata_url, format!("{S3V1}images/SHA256SUMS"));
    assert_eq!(newest.checksums[&HashAlgorithm::Sha256], "b".repeat(64));
    assert_eq!(newest.signature.status, SignatureState::Verified);
    // Two pages (no NextMarker: the second starts after the last key); one checksum file.
    assert_eq!(requests_to(&server, "/s3v1/built/"), 2);
    assert_eq!(requests_to(&server, "/s3v1/built/images/SHA256SUMS"), 1);
}

#[tokio::test]
async fn a_signature_by_another_key_is_refused() {
    let server = FixtureServer::start(root());
    let other = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/upstream/keys/other-key.asc");
    let err = discover(
        &image(built_images(), SignatureMode::Required, vec![other]),
        &fetcher(&server),
        now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DiscoverError::Signature { .. }), "{err}");
    assert!(err.to_string().contains("SHA256SUMS.asc"), "{err}");
}

#[tokio::test]
async fn sidecars_cannot_meet_a_required_signature() {
    let server = FixtureServer::start(root());
    let src = source(
        &format!("{SWIFT}v1/AUTH_test/capi"),
        ObjectListing::Swift,
        "ubuntu-2404-kube-v1.35/",
        r"ubuntu-2404-kube-v1\.35/ubuntu-2404-kube-(?P<version>v1\.35\.\d+)\.qcow2",
    );
    let err = discover(
        &image(src, SignatureMode::Required, vec![]),
        &fetcher(&server),
        now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DiscoverError::Signature { .. }), "{err}");
}

#[tokio::test]
async fn the_wrong_listing_format_and_no_match_are_named() {
    let server = FixtureServer::start(root());
    // A Swift container asked for S3 XML: the answer (here an HTML index) is named as not one.
    let wrong = source(
        &format!("{SWIFT}v1/AUTH_test/capi"),
        ObjectListing::S3,
        "ubuntu-2404-kube-v1.35/",
        r"(?P<version>.*)\.qcow2",
    );
    let err = discover(
        &image(wrong, SignatureMode::IfPublished, vec![]),
        &fetcher(&server),
        now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DiscoverError::Parse { .. }), "{err}");
    assert!(
        err.to_string().contains("not an S3 ListBucketResult"),
        "{err}"
    );
    let none = source(
        &format!("{SWIFT}v1/AUTH_test/capi"),
        ObjectListing::Swift,
        "ubuntu-2404-kube-v1.35/",
        r"ubuntu-2404-kube-v1\.35/ubuntu-2404-kube-(?P<version>v1\.36\.\d+)\.qcow2",
    );
    let err = discover(
        &image(none, SignatureMode::IfPublished, vec![]),
        &fetcher(&server),
        now(),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DiscoverError::NotFound { .. }), "{text}");
    assert!(text.contains("v1\\.36"), "{text}");
    assert!(
        text.starts_with(SWIFT),
        "the upstream URL, not the mirror: {text}"
    );
}

/// What `image-crawler build` publishes (`<id>/<build time>/<id>.qcow2` + `SHA256SUMS`) is
/// discovered through a `diskimage-builder` source exactly like a distributor's release.
#[tokio::test]
async fn diskimage_builder_builds_are_discovered_where_they_are_published() {
    use image_crawler::catalog::raw::{DiskimageBuilderSource, PublishTarget};
    let server = FixtureServer::start(root());
    let recipe = DiskimageBuilderSource {
        elements: vec!["vm".into(), "debian-minimal".into()],
        release: "bookworm".into(),
        mirror: "http://deb.debian.org/debian".into(),
        security_mirror: None,
        environment: Default::default(),
        archive: Default::default(),
        publish: PublishTarget {
            url: format!("{SWIFT}v1/AUTH_test/builds"),
            listing: ObjectListing::Swift,
            signed: false,
        },
    };
    let mut image = Image::new(
        "debian-12-dib",
        Source::DiskimageBuilder(recipe),
        Architecture::X86_64,
    );
    image.signature = Signature {
        mode: SignatureMode::IfPublished,
        keys: vec![],
    };
    let found = sorted(discover(&image, &fetcher(&server), now()).await.unwrap());
    let versions: Vec<&str> = found.iter().map(|c| c.version.as_str()).collect();
    assert_eq!(versions, ["20261101T030000Z", "20261201T030000Z"]);
    let newest = found.last().unwrap();
    let key = "debian-12-dib/20261201T030000Z/debian-12-dib.qcow2";
    assert_eq!(newest.url, format!("{SWIFT}v1/AUTH_test/builds/{key}"));
    assert_eq!(newest.build_date, "2026-12-01");
    assert_eq!(
        newest.checksums[&HashAlgorithm::Sha256],
        sha256_of(root().join("swift/v1/AUTH_test/builds").join(key))
    );
    // One listing page plus the empty one; neither manifest.json nor the image is fetched.
    assert_eq!(requests_to(&server, "/swift/v1/AUTH_test/builds"), 2);
    assert!(
        !server
            .log()
            .iter()
            .any(|(p, _)| p.ends_with(".qcow2") || p.ends_with(".json"))
    );
}
