//! Per-distribution discovery over real HTTP: the project's own fixture tree
//! (`tests/fixtures/upstream/<distro>/…`, laid out like the upstream URL paths) served on
//! 127.0.0.1, with the Fetcher's mirror rewrite pointing the distributors' hosts at it.
//! Signed fixtures are signed with a throwaway key (`keys/distros-test-key.asc`).

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

const KEY_FPR: &str = "A6B2567B9549050F5B5A350CA35AE432D189397A";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream")
}

fn key() -> Vec<PathBuf> {
    vec![fixtures().join("keys/distros-test-key.asc")]
}

async fn server() -> (Server, Fetcher) {
    let s = Server::start(fixtures());
    let f = s.fetcher();
    (s, f)
}

fn signed(source: Source, arch: Architecture) -> Image {
    image(source, arch, SignatureMode::IfPublished, key())
}

fn newest(c: &[Candidate]) -> &Candidate {
    c.last().expect("at least one candidate")
}

fn hex(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

fn assert_immutable(c: &Candidate) {
    assert!(!c.checksums.is_empty());
    assert!(
        !c.url.contains("latest") && !c.url.contains("current"),
        "{}",
        c.url
    );
    assert!(
        c.url.starts_with("https://"),
        "candidate keeps the upstream URL: {}",
        c.url
    );
}

fn ubuntu(release: &str) -> Source {
    Source::Ubuntu(UbuntuSource {
        release: release.into(),
        channel: Channel::Release,
        variant: UbuntuVariant::Server,
        ftype: "disk1.img".into(),
    })
}

#[tokio::test]
async fn ubuntu_takes_the_max_serial_and_verifies_sha256sums() {
    let (_s, f) = server().await;
    let got = discover(&signed(ubuntu("24.04"), Architecture::X86_64), &f, now())
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let c = &got[0];
    // Not 20240605.1, the last key listed.
    assert_eq!(c.version, "20240821");
    assert_eq!(c.build_date, "2024-08-21");
    assert_eq!(
        c.url,
        "https://cloud-images.ubuntu.com/releases/noble/release-20240821/ubuntu-24.04-server-cloudimg-amd64.img"
    );
    assert_eq!(c.checksums[&HashAlgorithm::Sha256], hex('b', 64));
    assert_eq!(c.size, Some(586022912));
    assert_eq!(c.signature.status, SignatureState::Verified);
    assert_eq!(c.signature.key.as_deref(), Some(KEY_FPR));
    assert_eq!(
        c.signature.url.as_deref(),
        Some("https://cloud-images.ubuntu.com/releases/noble/release-20240821/SHA256SUMS.gpg")
    );
    assert_immutable(c);
}

#[tokio::test]
async fn ubuntu_pin_and_contradicting_sha256sums() {
    let (_s, f) = server().await;
    let mut img = signed(ubuntu("noble"), Architecture::X86_64);
    img.version.pin = Some("20240523.1".into());
    let got = discover(&img, &f, now()).await.unwrap();
    // That release directory publishes no SHA256SUMS: not published, under if-published.
    assert_eq!(
        (got[0].version.as_str(), got[0].signature.status),
        ("20240523.1", SignatureState::NotPublished)
    );
    img.signature.mode = SignatureMode::Required;
    let err = discover(&img, &f, now()).await.unwrap_err();
    assert!(matches!(err, DiscoverError::Signature { .. }), "{err}");
    // arm64's SHA256SUMS lists another digest than the stream.
    let err = discover(&signed(ubuntu("24.04"), Architecture::Aarch64), &f, now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("but the stream"), "{err}");
}

#[tokio::test]
async fn debian_release_uses_the_dated_ref_and_cross_checks_sha512sums() {
    let (_s, f) = server().await;
    let src = Source::Debian(DebianSource {
        release: "12".into(),
        codename: None,
        channel: Channel::Release,
        vendor: "genericcloud".into(),
        format: "qcow2".into(),
    });
    let got = discover(&signed(src.clone(), Architecture::X86_64), &f, now())
        .await
        .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "20250210-2019");
    assert_eq!(c.build_date, "2025-02-10");
    assert_eq!(
        c.url,
        "https://cloud.debian.org/images/cloud/bookworm/20250210-2019/debian-12-genericcloud-amd64-20250210-2019.qcow2"
    );
    assert_eq!(
        c.metadata_url,
        "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.json"
    );
    // The fixture's digest is sha512("debian 12 qcow2 fixture"), unpadded base64 in the manifest.
    use sha2::Digest as _;
    let want = hex::encode(sha2::Sha512::digest(b"debian 12 qcow2 fixture"));
    assert_eq!(c.checksums[&HashAlgorithm::Sha512], want);
    assert_eq!(c.signature.status, SignatureState::NotPublished);
    assert_immutable(c);
    // No arm64 manifest in the tree: the 404 names the URL.
    let err = discover(&signed(src, Architecture::Aarch64), &f, now())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
}

#[tokio::test]
async fn debian_daily_takes_the_newest_dated_directory_numerically() {
    let (_s, f) = server().await;
    let src = Source::Debian(DebianSource {
        release: "13".into(),
        codename: None,
        channel: Channel::Daily,
        vendor: "genericcloud".into(),
        format: "qcow2".into(),
    });
    let got = discover(&signed(src, Architecture::X86_64), &f, now())
        .await
        .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "20260717-2542");
    assert_eq!(
        c.url,
        "https://cloud.debian.org/images/cloud/trixie/daily/20260717-2542/debian-13-genericcloud-amd64-daily-20260717-2542.qcow2"
    );
    assert_eq!(c.checksums[&HashAlgorithm::Sha512].len(), 128);
}

fn rhel(release: &str) -> RhelLikeSource {
    RhelLikeSource {
        release: release.into(),
        variant: None,
    }
}

#[tokio::test]
async fn almalinux_gnu_checksum_signed_and_aliases_excluded() {
    let (_s, f) = server().await;
    let got = discover(
        &signed(Source::Almalinux(rhel("9")), Architecture::X86_64),
        &f,
        now(),
    )
    .await
    .unwrap();
    let v: Vec<&str> = got.iter().map(|c| c.version.as_str()).collect();
    assert_eq!(v, ["9.7-20251118", "9.8-20260526"]);
    let c = newest(&got);
    assert_eq!(
        c.url,
        "https://repo.almalinux.org/almalinux/9.8/cloud/x86_64/images/AlmaLinux-9-GenericCloud-9.8-20260526.x86_64.qcow2"
    );
    assert_eq!(c.checksums[&HashAlgorithm::Sha256], hex('a', 64));
    assert_eq!(c.signature.status, SignatureState::Verified);
    assert_eq!(
        c.signature.url.as_deref(),
        Some("https://repo.almalinux.org/almalinux/9/cloud/x86_64/images/CHECKSUM.asc")
    );
    assert_immutable(c);
}

#[tokio::test]
async fn almalinux_tampered_checksum_fails_the_signature() {
    let (_s, f) = server().await;
    let err = discover(
        &signed(Source::Almalinux(rhel("10")), Architecture::X86_64),
        &f,
        now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DiscoverError::Signature { .. }), "{err}");
    assert!(err.to_string().contains("CHECKSUM.asc"), "{err}");
    // With the policy off it is taken, unverified.
    let img = image(
        Source::Almalinux(rhel("10")),
        Architecture::X86_64,
        SignatureMode::Off,
        vec![],
    );
    let got = discover(&img, &f, now()).await.unwrap();
    assert_eq!(got[0].signature.status, SignatureState::Off);
}

#[tokio::test]
async fn rocky_bsd_crlf_duplicates_unsigned() {
    let (_s, f) = server().await;
    let got = discover(
        &signed(Source::Rocky(rhel("10")), Architecture::Aarch64),
        &f,
        now(),
    )
    .await
    .unwrap();
    let v: Vec<&str> = got.iter().map(|c| c.version.as_str()).collect();
    assert_eq!(
        v,
        ["10.0-20250611.9", "10.0-20250611.12", "10.1-20251116.0"]
    );
    let c = newest(&got);
    assert_eq!(c.size, Some(507248640));
    assert_eq!(
        c.url,
        "https://download.rockylinux.org/pub/rocky/10.1/images/aarch64/Rocky-10-GenericCloud-Base-10.1-20251116.0.aarch64.qcow2"
    );
    assert_eq!(c.signature.status, SignatureState::NotPublished);
    let mut req = signed(Source::Rocky(rhel("10")), Architecture::Aarch64);
    req.signature.mode = SignatureMode::Required;
    assert!(matches!(
        discover(&req, &f, now()).await.unwrap_err(),
        DiscoverError::Signature { .. }
    ));
}

#[tokio::test]
async fn centos_stream_date_and_build_number() {
    let (_s, f) = server().await;
    let got = discover(
        &signed(Source::CentosStream(rhel("9")), Architecture::X86_64),
        &f,
        now(),
    )
    .await
    .unwrap();
    let v: Vec<&str> = got.iter().map(|c| c.version.as_str()).collect();
    assert_eq!(v, ["20250801.3", "20260714.0", "20260714.1"]);
    assert_eq!(newest(&got).build_date, "2026-07-14");
    assert_eq!(newest(&got).signature.status, SignatureState::NotPublished);
}

fn fedora(release: Option<&str>) -> Source {
    Source::Fedora(FedoraSource {
        release: release.map(str::to_owned),
        subvariant: "Cloud_Base".into(),
    })
}

#[tokio::test]
async fn fedora_newest_release_clearsigned_with_compose_date() {
    let (_s, f) = server().await;
    let got = discover(&signed(fedora(None), Architecture::X86_64), &f, now())
        .await
        .unwrap();
    let c = newest(&got);
    // 44, not "45 Beta".
    assert_eq!(c.version, "44-1.7");
    assert_eq!(c.build_date, "2026-04-15");
    assert_eq!(
        c.url,
        "https://dl.fedoraproject.org/pub/fedora/linux/releases/44/Cloud/x86_64/images/Fedora-Cloud-Base-Generic-44-1.7.x86_64.qcow2"
    );
    assert_eq!(c.checksums[&HashAlgorithm::Sha256], hex('a', 64));
    assert_eq!(c.size, Some(528154624));
    assert_eq!(c.signature.key.as_deref(), Some(KEY_FPR));
}

#[tokio::test]
async fn fedora_40_naming_and_signature_date() {
    let (_s, f) = server().await;
    let got = discover(&signed(fedora(Some("40")), Architecture::X86_64), &f, now())
        .await
        .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "40-1.14");
    assert!(
        c.url
            .ends_with("/40/Cloud/x86_64/images/Fedora-Cloud-Base-Generic.x86_64-40-1.14.qcow2"),
        "{}",
        c.url
    );
    // No COMPOSE_ID for 40 in the tree: the date is the CHECKSUM signature's (the day the
    // fixture was signed).
    assert_eq!(c.build_date, "2026-11-25");
    assert_eq!(c.signature.status, SignatureState::Verified);
}

#[tokio::test]
async fn fedora_release_missing_from_releases_json_via_imagelist_and_tampered() {
    let (_s, f) = server().await;
    let err = discover(
        &signed(fedora(Some("43")), Architecture::Aarch64),
        &f,
        now(),
    )
    .await
    .unwrap_err();
    // Found through imagelist-fedora (1.6 > 1.2), then the tampered line breaks the signature.
    assert!(matches!(err, DiscoverError::Signature { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("Fedora-Cloud-43-1.6-aarch64-CHECKSUM"),
        "{err}"
    );
}

fn leap(release: &str) -> Source {
    Source::OpensuseLeap(OpensuseSource {
        release: release.into(),
        variant: "Minimal-VM".into(),
        flavor: "Cloud".into(),
    })
}

#[tokio::test]
async fn opensuse_maps_the_alias_by_hash_to_its_versioned_build() {
    let (_s, f) = server().await;
    let got = discover(&signed(leap("16.0"), Architecture::X86_64), &f, now())
        .await
        .unwrap();
    let c = newest(&got);
    // Build18.12 is listed too, but the unversioned .sha256 has Build18.7's hash.
    assert_eq!(c.version, "16.0-Build18.7");
    assert_eq!(
        c.url,
        "https://download.opensuse.org/distribution/leap/16.0/appliances/Leap-16.0-Minimal-VM.x86_64-Cloud-Build18.7.qcow2"
    );
    assert_eq!(c.checksums[&HashAlgorithm::Sha256], hex('a', 64));
    assert_eq!(c.size, Some(283115520));
    assert_eq!(c.signature.status, SignatureState::Verified);
    // Build ids carry no date: the .sha256.asc signature's creation day.
    assert_eq!(c.build_date, "2026-11-25");
    // 15.6 has no listing here: no versioned (immutable) name, an error.
    let err = discover(&signed(leap("15.6"), Architecture::X86_64), &f, now())
        .await
        .unwrap_err();
    assert!(matches!(err, DiscoverError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn cirros_prefers_stream_sha256_and_respects_series() {
    let (_s, f) = server().await;
    let got = discover(
        &signed(
            Source::Cirros(CirrosSource { series: None }),
            Architecture::X86_64,
        ),
        &f,
        now(),
    )
    .await
    .unwrap();
    let c = newest(&got);
    assert_eq!(
        (c.version.as_str(), c.build_date.as_str()),
        ("0.6.3", "2024-09-25")
    );
    assert_eq!(
        c.url,
        "https://download.cirros-cloud.net/0.6.3/cirros-0.6.3-x86_64-disk.img"
    );
    assert_eq!(c.checksums[&HashAlgorithm::Sha256], hex('a', 64));
    assert_eq!(
        c.checksums[&HashAlgorithm::Md5],
        "0123456789abcdef0123456789abcdef"
    );
    assert_eq!(c.signature.status, SignatureState::NotPublished);
    let got = discover(
        &signed(
            Source::Cirros(CirrosSource {
                series: Some("0.5".into()),
            }),
            Architecture::X86_64,
        ),
        &f,
        now(),
    )
    .await
    .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "0.5.3");
    // Its md5 is a placeholder and it has no MD5SUMS: sha256 only.
    assert_eq!(
        c.checksums.keys().collect::<Vec<_>>(),
        [&HashAlgorithm::Sha256]
    );
    // aarch64 has an md5 but no stream entry, so no build date.
    let err = discover(
        &signed(
            Source::Cirros(CirrosSource { series: None }),
            Architecture::Aarch64,
        ),
        &f,
        now(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("no stream entry for 0.6.3 aarch64"),
        "{err}"
    );
}

fn alpine(release: Option<&str>) -> Source {
    Source::Alpine(AlpineSource {
        release: release.map(str::to_owned),
        firmware: "uefi".into(),
        bootstrap: "cloudinit".into(),
        cloud: "nocloud".into(),
    })
}

#[tokio::test]
async fn alpine_new_naming_bounded_by_releases_json() {
    let (_s, f) = server().await;
    let got = discover(&signed(alpine(None), Architecture::X86_64), &f, now())
        .await
        .unwrap();
    let c = newest(&got);
    // 3.24.2 is in the listing but not released; r1 beats r0.
    assert_eq!(c.version, "3.24.1-r1");
    assert_eq!(
        c.url,
        "https://dl-cdn.alpinelinux.org/alpine/v3.24/releases/cloud/alpine-3.24.1-x86_64-cloudinit-r1.qcow2"
    );
    assert_eq!(c.build_date, "2026-07-03");
    assert_eq!(c.checksums[&HashAlgorithm::Sha512].len(), 128);
}

#[tokio::test]
async fn alpine_old_naming_dates_from_releases_json() {
    let (_s, f) = server().await;
    let got = discover(
        &signed(alpine(Some("3.23")), Architecture::X86_64),
        &f,
        now(),
    )
    .await
    .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "3.23.4-r0");
    assert_eq!(
        c.url,
        "https://dl-cdn.alpinelinux.org/alpine/v3.23/releases/cloud/nocloud_alpine-3.23.4-x86_64-uefi-cloudinit-r0.qcow2"
    );
    assert_eq!(c.build_date, "2026-04-15");
}

#[tokio::test]
async fn arch_numeric_job_ids_and_binary_sig() {
    let (_s, f) = server().await;
    let src = Source::Archlinux(ArchSource {
        variant: "cloudimg".into(),
    });
    let got = discover(&signed(src.clone(), Architecture::X86_64), &f, now())
        .await
        .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "20260715.100000");
    assert_eq!(
        c.url,
        "https://geo.mirror.pkgbuild.com/images/v20260715.100000/Arch-Linux-x86_64-cloudimg-20260715.100000.qcow2"
    );
    assert_eq!(c.build_date, "2026-07-15");
    assert_eq!(c.signature.status, SignatureState::Verified);
    assert!(
        discover(&signed(src, Architecture::Aarch64), &f, now())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn ubuntu_daily_stream_unsigned_directory() {
    let (_s, f) = server().await;
    let src = Source::Ubuntu(UbuntuSource {
        release: "24.04".into(),
        channel: Channel::Daily,
        variant: UbuntuVariant::Server,
        ftype: "disk1.img".into(),
    });
    let got = discover(&signed(src, Architecture::X86_64), &f, now())
        .await
        .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "20260705");
    assert_eq!(
        c.url,
        "https://cloud-images.ubuntu.com/noble/20260705/noble-server-cloudimg-amd64.img"
    );
    assert_eq!(
        c.metadata_url,
        "https://cloud-images.ubuntu.com/daily/streams/v1/com.ubuntu.cloud:daily:download.json"
    );
    // SHA256SUMS agrees with the stream, but the fixture publishes no SHA256SUMS.gpg.
    assert_eq!(c.signature.status, SignatureState::NotPublished);
}

/// `min_age` at its boundary: what discovery gathers and what selection takes follow the
/// one rule (`select::old_enough`): a build is old enough from the first UTC day it is
/// `min_age` old. Before, discovery compared instants and selection days, so at
/// `build day + 36h` discovery dropped the older build and selection held the newest:
/// nothing was taken.
#[tokio::test]
async fn min_age_boundary_is_the_same_in_discovery_and_selection() {
    use image_crawler::upstream::select::{Decision, select};
    let (_s, f) = server().await;
    let debian = Source::Debian(DebianSource {
        release: "13".into(),
        codename: None,
        channel: Channel::Daily,
        vendor: "genericcloud".into(),
        format: "qcow2".into(),
    });
    // (source, older build, newest build, the newest build's day)
    let cases = [
        (debian, "20260716-2541", "20260717-2542", "2026-07-17"),
        (ubuntu("24.04"), "20240605.1", "20240821", "2024-08-21"),
    ];
    for (src, older, newest, day) in cases {
        let day: jiff::civil::Date = day.parse().unwrap();
        let midnight = |d: jiff::civil::Date| {
            jiff::tz::TimeZone::UTC
                .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .unwrap()
        };
        let hours = jiff::SignedDuration::from_hours;
        let second = jiff::SignedDuration::from_secs(1);
        // (min_age, now, the build to take)
        let checks = [
            (hours(48), midnight(day) + hours(48), newest),
            (hours(48), midnight(day) + hours(48) - second, older),
            (hours(36), midnight(day) + hours(36), older),
            (hours(36), midnight(day) + hours(48), newest),
        ];
        for (min_age, now, want) in checks {
            // Signatures are judged at `now` too, and these fixtures were signed long after
            // the builds' dates: this test is about min_age, so it does not verify them.
            let mut img = image(
                src.clone(),
                Architecture::X86_64,
                SignatureMode::Off,
                vec![],
            );
            img.version.min_age = Some(min_age);
            let got = discover(&img, &f, now).await.unwrap();
            let versions: Vec<&str> = got.iter().map(|c| c.version.as_str()).collect();
            let expect: Vec<&str> = if want == newest {
                vec![newest]
            } else {
                vec![older, newest]
            };
            assert_eq!(versions, expect, "{min_age:?} at {now}: discovery");
            match select(got, &img.version, None, now).unwrap() {
                Decision::Take(c) => assert_eq!(c.version, want, "{min_age:?} at {now}"),
                other => panic!("{min_age:?} at {now}: {other:?}"),
            }
        }
    }
}

/// Signatures are judged at the run's injected "now", never at the system clock: at a "now"
/// before the fixture key and its signatures existed, every signed fixture is refused (a
/// signature dated in the future), for detached (Ubuntu, AlmaLinux, openSUSE), binary (Arch)
/// and clear-signed (Fedora) signatures alike.
#[tokio::test]
async fn signatures_are_verified_at_the_injected_now() {
    let (_s, f) = server().await;
    let before_the_key: jiff::Timestamp = "2001-01-01T00:00:00Z".parse().unwrap();
    let sources = [
        ubuntu("24.04"),
        Source::Almalinux(rhel("9")),
        leap("16.0"),
        fedora(None),
        Source::Archlinux(ArchSource {
            variant: "cloudimg".into(),
        }),
    ];
    for src in sources {
        let img = signed(src, Architecture::X86_64);
        // At the fixtures' own "now" they verify ...
        let got = discover(&img, &f, now()).await.unwrap();
        assert_eq!(newest(&got).signature.status, SignatureState::Verified);
        // ... and at a "now" before they were made they do not.
        let err = discover(&img, &f, before_the_key).await.unwrap_err();
        assert!(
            matches!(err, DiscoverError::Signature { .. }) && err.to_string().contains("future"),
            "{}: {err}",
            img.id
        );
    }
}
