//! Fedora CoreOS and Flatcar discovery over real HTTP (issue 17): the project's fixture trees
//! `tests/fixtures/upstream/{fedora-coreos,flatcar}/` served on 127.0.0.1, the distributors'
//! hosts mirrored to them. Signed files are signed with a throwaway key
//! (`keys/coreos-test-key.asc`, secret deleted).

mod distro_server;
#[allow(unused_imports)] // support re-exports helpers these tests do not use
mod support;

use std::path::PathBuf;

use distro_server::{Server, image, now};
use image_crawler::catalog::raw::*;
use image_crawler::catalog::{Architecture, Image, SignatureMode, Source};
use image_crawler::lock::{HashAlgorithm, SignatureState};
use image_crawler::upstream::distro::discover;
use image_crawler::upstream::error::DiscoverError;
use image_crawler::upstream::{Candidate, Fetcher};
use sha2::Digest as _;

const KEY_FPR: &str = "9D31FD2D89BD19B18ED6FF6B708F7474AB57E65E";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream")
}

async fn server() -> (Server, Fetcher) {
    let s = Server::start(fixtures());
    let f = s.fetcher();
    (s, f)
}

fn with(source: Source, arch: Architecture, mode: SignatureMode) -> Image {
    image(
        source,
        arch,
        mode,
        vec![fixtures().join("keys/coreos-test-key.asc")],
    )
}

fn one(c: Vec<Candidate>) -> Candidate {
    assert_eq!(c.len(), 1, "{c:#?}");
    c.into_iter().next().unwrap()
}

fn sha(alg: &str, s: &str) -> String {
    match alg {
        "sha256" => hex::encode(sha2::Sha256::digest(s.as_bytes())),
        _ => hex::encode(sha2::Sha512::digest(s.as_bytes())),
    }
}

fn fcos(stream: FcosStream) -> Source {
    Source::FedoraCoreos(FedoraCoreosSource { stream })
}

fn flatcar(channel: FlatcarChannel) -> Source {
    Source::Flatcar(FlatcarSource { channel })
}

#[tokio::test]
async fn fcos_takes_the_streams_openstack_build_with_both_digests() {
    let (_s, f) = server().await;
    for (arch, a) in [
        (Architecture::X86_64, "x86_64"),
        (Architecture::Aarch64, "aarch64"),
    ] {
        let img = with(fcos(FcosStream::Stable), arch, SignatureMode::Required);
        let c = one(discover(&img, &f, now()).await.unwrap());
        assert_eq!(c.version, "43.20261110.3.1");
        assert_eq!(c.build_date, "2026-11-10");
        let url = format!(
            "https://builds.coreos.fedoraproject.org/prod/streams/stable/builds/43.20261110.3.1/{a}/fedora-coreos-43.20261110.3.1-openstack.{a}.qcow2.xz"
        );
        // The openstack artifact, not the qemu one listed beside it.
        assert_eq!(c.url, url);
        assert_eq!(
            c.metadata_url,
            "https://builds.coreos.fedoraproject.org/streams/stable.json"
        );
        let what = format!("fcos stable 43.20261110.3.1 {a}");
        assert_eq!(
            c.checksums,
            [(HashAlgorithm::Sha256, sha("sha256", &format!("{what} xz")))].into()
        );
        assert_eq!(
            c.image_checksums,
            [(
                HashAlgorithm::Sha256,
                sha("sha256", &format!("{what} qcow2"))
            )]
            .into()
        );
        // The .sig signs the compressed artifact: apply verifies it on the stream.
        assert_eq!(c.signature.status, SignatureState::CheckedOnTransfer);
        assert_eq!(c.signature.url.as_deref(), Some(&*format!("{url}.sig")));
    }
    // A pin on another release: the stream names only its current build.
    let mut img = with(
        fcos(FcosStream::Stable),
        Architecture::X86_64,
        SignatureMode::Required,
    );
    img.version.pin = Some("43.20261027.3.0".into());
    let err = discover(&img, &f, now()).await.unwrap_err();
    assert!(matches!(err, DiscoverError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn fcos_refuses_an_alias_location_and_a_bad_digest() {
    let (_s, f) = server().await;
    let img = with(
        fcos(FcosStream::Testing),
        Architecture::X86_64,
        SignatureMode::Off,
    );
    let err = discover(&img, &f, now()).await.unwrap_err().to_string();
    assert!(
        err.contains("builds/latest/") && err.contains("is not in the build directory"),
        "{err}"
    );
    assert!(
        err.contains("streams/testing.json"),
        "names the document: {err}"
    );
    let img = with(
        fcos(FcosStream::Next),
        Architecture::X86_64,
        SignatureMode::Off,
    );
    let err = discover(&img, &f, now()).await.unwrap_err().to_string();
    assert!(err.contains("malformed sha256"), "{err}");
    // A .sig by a key the catalog does not list is refused at check.
    let mut img = with(
        fcos(FcosStream::Stable),
        Architecture::X86_64,
        SignatureMode::Required,
    );
    img.signature.keys = vec![fixtures().join("keys/distros-test-key.asc")];
    let err = discover(&img, &f, now()).await.unwrap_err();
    assert!(matches!(err, DiscoverError::Signature { .. }), "{err}");
}

#[tokio::test]
async fn flatcar_locks_the_versioned_directory_not_current() {
    let (_s, f) = server().await;
    let img = with(
        flatcar(FlatcarChannel::Stable),
        Architecture::X86_64,
        SignatureMode::Required,
    );
    let c = one(discover(&img, &f, now()).await.unwrap());
    assert_eq!(c.version, "4230.2.3");
    assert_eq!(c.build_date, "2026-10-02");
    let dir = "https://stable.release.flatcar-linux.net/amd64-usr/4230.2.3/";
    assert_eq!(
        c.url,
        format!("{dir}flatcar_production_openstack_image.img.gz")
    );
    assert!(!c.url.contains("current"), "{}", c.url);
    // sha512 from the signed DIGESTS; md5 and sha1 are not locked.
    assert_eq!(
        c.checksums,
        [(
            HashAlgorithm::Sha512,
            sha("sha512", "flatcar stable 4230.2.3 amd64")
        )]
        .into()
    );
    assert_eq!(c.signature.status, SignatureState::Verified);
    assert_eq!(c.signature.key.as_deref(), Some(KEY_FPR));
    assert_eq!(
        c.metadata_url,
        format!("{dir}flatcar_production_openstack_image.img.gz.DIGESTS.asc")
    );
    assert!(c.image_checksums.is_empty());

    // arm64 publishes no .DIGESTS.asc: if-published reads the plain DIGESTS, required refuses.
    let mut img = with(
        flatcar(FlatcarChannel::Stable),
        Architecture::Aarch64,
        SignatureMode::IfPublished,
    );
    let c = one(discover(&img, &f, now()).await.unwrap());
    assert_eq!(
        c.url,
        "https://stable.release.flatcar-linux.net/arm64-usr/4230.2.3/flatcar_production_openstack_image.img.gz"
    );
    assert_eq!(c.signature.status, SignatureState::NotPublished);
    assert!(c.metadata_url.ends_with(".DIGESTS"), "{}", c.metadata_url);
    img.signature.mode = SignatureMode::Required;
    let err = discover(&img, &f, now()).await.unwrap_err();
    assert!(matches!(err, DiscoverError::Signature { .. }), "{err}");
}

#[tokio::test]
async fn flatcar_refuses_alias_contradiction_bad_digest_and_tampering() {
    let (_s, f) = server().await;
    let run = |channel, arch, mode| {
        let img = with(flatcar(channel), arch, mode);
        let f = f.clone();
        async move { discover(&img, &f, now()).await.unwrap_err().to_string() }
    };
    // alpha: current/version.txt names the alias, not a release.
    let err = run(
        FlatcarChannel::Alpha,
        Architecture::X86_64,
        SignatureMode::Off,
    )
    .await;
    assert!(err.contains("FLATCAR_VERSION \"current\" is not"), "{err}");
    // beta: the versioned directory says another release than current names.
    let err = run(
        FlatcarChannel::Beta,
        Architecture::X86_64,
        SignatureMode::Off,
    )
    .await;
    assert!(
        err.contains("4250.1.0/version.txt") && err.contains("FLATCAR_VERSION=4250.1.1"),
        "{err}"
    );
    // lts amd64: the signed DIGESTS carries a malformed sha512.
    let err = run(
        FlatcarChannel::Lts,
        Architecture::X86_64,
        SignatureMode::Required,
    )
    .await;
    assert!(err.contains("malformed sha512"), "{err}");
    // lts arm64: the clear-signed text was changed after signing.
    let err = run(
        FlatcarChannel::Lts,
        Architecture::Aarch64,
        SignatureMode::Required,
    )
    .await;
    assert!(err.to_lowercase().contains("bad signature"), "{err}");
}

/// The shipped entries (`catalog/container-os.yaml`, disabled) load with their SCS properties
/// and discover through the same fixture trees.
#[tokio::test]
async fn shipped_entries_resolve_and_discover() {
    let (_s, f) = server().await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalog");
    let catalog = image_crawler::catalog::load(&dir).expect("the shipped catalog is valid");
    for (id, distro) in [
        ("fedora-coreos", "fedora-coreos"),
        ("fedora-coreos-arm64", "fedora-coreos"),
        ("fedora-coreos-testing", "fedora-coreos"),
        ("flatcar", "flatcar"),
        ("flatcar-arm64", "flatcar"),
        ("flatcar-lts", "flatcar"),
    ] {
        let img = &catalog.images[id];
        assert!(!img.enabled, "{id} is shipped disabled");
        let p = &img.glance.properties;
        assert_eq!(p["os_distro"], distro, "{id}");
        assert_eq!(p["image_original_user"], "core", "{id}");
        assert_eq!(p["hw_disk_bus"], "virtio", "{id}");
        assert!(!p.contains_key("os_version"), "{id}: follows the lock");
    }
    for id in ["flatcar", "flatcar-arm64"] {
        let c = one(discover(&catalog.images[id], &f, now()).await.unwrap());
        assert_eq!(c.version, "4230.2.3", "{id}");
        assert_eq!(c.signature.status, SignatureState::Off, "{id}");
    }
    // The shipped FCOS entries require a Fedora key: the fixtures' test key is refused.
    let err = discover(&catalog.images["fedora-coreos"], &f, now())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not among the configured keys"),
        "{err}"
    );
}
