//! Discovery over the REAL upstream files in `../shared/upstream-samples`, served in place
//! (read-only) on 127.0.0.1 with the distributors' hosts mirrored to it. Expected values are
//! the ones those files contain (see its README for each file's provenance).
//!
//! Needs `../shared`; run as its own target (`cargo test --test shared_upstream`), which a
//! plain clone without `../shared` skips explicitly. A missing tree fails loudly here.

mod distro_server;
#[allow(unused_imports)] // support re-exports helpers these tests do not use
mod support;

use std::path::PathBuf;

use distro_server::{Server, image, now};
use image_crawler::catalog::raw::*;
use image_crawler::catalog::{Architecture, Image, SignatureMode, Source};
use image_crawler::lock::{HashAlgorithm, SignatureState};
use image_crawler::upstream::distro::{self, discover};
use image_crawler::upstream::error::DiscoverError;
use image_crawler::upstream::{Candidate, Fetcher};

const UBUNTU_KEY: &str = "D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81";
const OPENSUSE_KEY: &str = "AD485664E901B867051AB15F35A2F86E29B700A4";
const FEDORA_44_KEY: &str = "36F612DCF27F7D1A48A835E4DBFCF71C6D9F90A6";

fn samples() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/upstream-samples");
    assert!(
        p.join("README.md").is_file(),
        "{} is missing: the shared_* test targets need ../shared (skip this target without it)",
        p.display()
    );
    p
}

fn key(name: &str) -> PathBuf {
    samples().join("keys").join(name)
}

async fn server() -> (Server, Fetcher) {
    let s = Server::start(samples());
    let f = s.fetcher();
    (s, f)
}

fn img(source: Source, arch: Architecture, keys: Vec<PathBuf>) -> Image {
    image(source, arch, SignatureMode::IfPublished, keys)
}

fn newest(c: &[Candidate]) -> &Candidate {
    c.last().expect("a candidate")
}

fn sha256(c: &Candidate) -> &str {
    &c.checksums[&HashAlgorithm::Sha256]
}

#[tokio::test]
async fn ubuntu_24_04_amd64_is_20240821_not_the_later_listed_respin() {
    let (_s, f) = server().await;
    let src = Source::Ubuntu(UbuntuSource {
        release: "24.04".into(),
        channel: Channel::Release,
        variant: UbuntuVariant::Server,
        ftype: "disk1.img".into(),
    });
    let got = discover(&img(src, Architecture::X86_64, vec![]), &f, now())
        .await
        .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "20240821");
    assert_eq!(c.build_date, "2024-08-21");
    assert_eq!(
        c.url,
        "https://cloud-images.ubuntu.com/releases/noble/release-20240821/ubuntu-24.04-server-cloudimg-amd64.img"
    );
    assert_eq!(
        sha256(c),
        "0e25ca6ee9f08ec5d4f9910054b66ae7163c6152e81a3e67689d89bd6e4dfa69"
    );
    assert_eq!(
        c.checksums[&HashAlgorithm::Md5],
        "a6c7febaf6d0bf2bed6b6fe68a342234"
    );
    assert_eq!(c.size, Some(586022912));
    // The samples hold no SHA256SUMS for release-20240821.
    assert_eq!(c.signature.status, SignatureState::NotPublished);
}

#[tokio::test]
async fn ubuntu_real_sha256sums_gpg_verifies_with_canonicals_key_and_tampering_fails() {
    let dir = samples().join("ubuntu/releases/noble/release-20260725");
    let sums = std::fs::read(dir.join("SHA256SUMS")).unwrap();
    let sig = std::fs::read(dir.join("SHA256SUMS.gpg")).unwrap();
    let keys = vec![key(
        "ubuntu-uec-image-signing-key-D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81.asc",
    )];
    let src = Source::Ubuntu(UbuntuSource {
        release: "24.04".into(),
        channel: Channel::Release,
        variant: UbuntuVariant::Server,
        ftype: "disk1.img".into(),
    });
    let image = img(src, Architecture::X86_64, keys);
    let url = "https://cloud-images.ubuntu.com/releases/noble/release-20260725/SHA256SUMS.gpg";
    // The run's one clock, fixed: after the sample was signed.
    let now: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
    let status = distro::signature_policy(&image, &sums, Some(&sig), url, now)
        .unwrap()
        .status;
    assert_eq!(status.status, SignatureState::Verified);
    assert_eq!(status.key.as_deref(), Some(UBUNTU_KEY));
    let mut tampered = sums.clone();
    tampered[0] = if tampered[0] == b'0' { b'1' } else { b'0' };
    let err = distro::signature_policy(&image, &tampered, Some(&sig), url, now).unwrap_err();
    assert!(matches!(err, DiscoverError::Signature { .. }), "{err}");
}

fn debian(release: &str, channel: Channel) -> Source {
    Source::Debian(DebianSource {
        release: release.into(),
        codename: None,
        channel,
        vendor: "genericcloud".into(),
        format: "qcow2".into(),
    })
}

#[tokio::test]
async fn debian_12_amd64_is_20250210_2019_with_the_dated_url() {
    let (_s, f) = server().await;
    let got = discover(
        &img(debian("12", Channel::Release), Architecture::X86_64, vec![]),
        &f,
        now(),
    )
    .await
    .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "20250210-2019");
    assert_eq!(c.build_date, "2025-02-10");
    assert_eq!(
        c.url,
        "https://cloud.debian.org/images/cloud/bookworm/20250210-2019/debian-12-genericcloud-amd64-20250210-2019.qcow2"
    );
    // The manifest's base64 digest, decoded, equals the dated SHA512SUMS line.
    let sums = std::fs::read_to_string(samples().join("debian/bookworm/20250210-2019/SHA512SUMS"))
        .unwrap();
    let line = sums
        .lines()
        .find(|l| l.ends_with("amd64-20250210-2019.qcow2"))
        .unwrap();
    assert_eq!(c.checksums[&HashAlgorithm::Sha512], line[..128]);
    assert!(c.checksums[&HashAlgorithm::Sha512].starts_with("a58d86525d75fd8e139a"));
    assert_eq!(c.signature.status, SignatureState::NotPublished);
}

#[tokio::test]
async fn debian_13_daily_is_20260717_2542() {
    let (_s, f) = server().await;
    let got = discover(
        &img(debian("13", Channel::Daily), Architecture::X86_64, vec![]),
        &f,
        now(),
    )
    .await
    .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "20260717-2542");
    assert_eq!(
        c.url,
        "https://cloud.debian.org/images/cloud/trixie/daily/20260717-2542/debian-13-genericcloud-amd64-daily-20260717-2542.qcow2"
    );
    assert!(
        c.checksums[&HashAlgorithm::Sha512].starts_with("fcc52bdff35697583f9331b64c688db6681fea98")
    );
}

#[tokio::test]
async fn debian_13_release_needs_its_dated_sha512sums() {
    // trixie/latest names 20250814-2204, whose dated directory is not in the samples: the
    // cross-check cannot be made, and that is an error, not a silent pass.
    let (_s, f) = server().await;
    let err = discover(
        &img(debian("13", Channel::Release), Architecture::X86_64, vec![]),
        &f,
        now(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    assert!(
        err.to_string().contains("trixie/20250814-2204/SHA512SUMS"),
        "{err}"
    );
}

fn rhel(release: &str) -> RhelLikeSource {
    RhelLikeSource {
        release: release.into(),
        variant: None,
    }
}

#[tokio::test]
async fn almalinux_8_9_10() {
    let (_s, f) = server().await;
    let cases = [
        (
            "9",
            Architecture::X86_64,
            "9.8-20260526",
            "c397eed7023e92c841155831b1f47e26300e5bef0f0256c129322307c897a251",
        ),
        (
            "9",
            Architecture::Aarch64,
            "9.8-20260526",
            "b5d883c5f84c68a9828fbd3aac863f9a723b43f8965a32ff7a1c198301f42a29",
        ),
        (
            "10",
            Architecture::X86_64,
            "10.2-20260526.0",
            "47f2218668dd4776be140dd92fa3bea700be1766e2c7d88bdfd6a4b50f477b4d",
        ),
        (
            "8",
            Architecture::X86_64,
            "8.10-20260928",
            "4a4dfcbd0a02f9fbf62dee6420a168858ff1640a26fb8840ea4013db57436a6c",
        ),
    ];
    for (rel, arch, version, hash) in cases {
        let got = discover(&img(Source::Almalinux(rhel(rel)), arch, vec![]), &f, now())
            .await
            .unwrap();
        let c = newest(&got);
        assert_eq!(
            (c.version.as_str(), sha256(c)),
            (version, hash),
            "AlmaLinux {rel} {arch:?}"
        );
        assert!(!c.url.contains("latest"));
        // The samples hold no CHECKSUM.asc.
        assert_eq!(c.signature.status, SignatureState::NotPublished);
    }
    let got = discover(
        &img(Source::Almalinux(rhel("9")), Architecture::X86_64, vec![]),
        &f,
        now(),
    )
    .await
    .unwrap();
    assert_eq!(
        newest(&got).url,
        "https://repo.almalinux.org/almalinux/9.8/cloud/x86_64/images/AlmaLinux-9-GenericCloud-9.8-20260526.x86_64.qcow2"
    );
}

#[tokio::test]
async fn rocky_8_9_10() {
    let (_s, f) = server().await;
    let cases = [
        (
            "9",
            Architecture::X86_64,
            "9.7-20251123.2",
            "15d81d3434b298142b2fdd8fb54aef2662684db5c082cc191c3c79762ed6360c",
        ),
        (
            "10",
            Architecture::Aarch64,
            "10.1-20251116.0",
            "abc0023cf8fb415532138fa735a79bc254ba0d13f4d79b032a09431d438ee36d",
        ),
        (
            "8",
            Architecture::X86_64,
            "8.10-20240528.0",
            "e56066c58606191e96184de9a9183a3af33c59bcbd8740d8b10ca054a7a89c14",
        ),
    ];
    for (rel, arch, version, hash) in cases {
        let got = discover(&img(Source::Rocky(rhel(rel)), arch, vec![]), &f, now())
            .await
            .unwrap();
        let c = newest(&got);
        assert_eq!(
            (c.version.as_str(), sha256(c)),
            (version, hash),
            "Rocky {rel} {arch:?}"
        );
    }
    let got = discover(
        &img(Source::Rocky(rhel("10")), Architecture::Aarch64, vec![]),
        &f,
        now(),
    )
    .await
    .unwrap();
    let c = newest(&got);
    assert_eq!(c.size, Some(507248640));
    assert_eq!(
        c.url,
        "https://download.rockylinux.org/pub/rocky/10.1/images/aarch64/Rocky-10-GenericCloud-Base-10.1-20251116.0.aarch64.qcow2"
    );
}

#[tokio::test]
async fn centos_stream_9_and_10() {
    let (_s, f) = server().await;
    let got = discover(
        &img(
            Source::CentosStream(rhel("9")),
            Architecture::X86_64,
            vec![],
        ),
        &f,
        now(),
    )
    .await
    .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "20260714.1");
    assert_eq!(
        sha256(c),
        "2aa1716dc75fc5485df1b221d3d930f276024d70024f68f9ee047dad0e03d85d"
    );
    assert_eq!(c.size, Some(1517945856));
    assert_eq!(
        c.url,
        "https://cloud.centos.org/centos/9-stream/x86_64/images/CentOS-Stream-GenericCloud-9-20260714.1.x86_64.qcow2"
    );
    assert!(got.len() > 10, "a year of builds, all dated: {}", got.len());
    let got = discover(
        &img(
            Source::CentosStream(rhel("10")),
            Architecture::X86_64,
            vec![],
        ),
        &f,
        now(),
    )
    .await
    .unwrap();
    let c = newest(&got);
    assert_eq!(
        (c.version.as_str(), sha256(c)),
        (
            "20241118.0",
            "3cb1310f39d92d34d0ea62c1d6f8943f47dce9df6937adb5bd26af8efa5d921d"
        )
    );
}

#[tokio::test]
async fn fedora_44_aarch64_verified_with_the_real_fedora_key() {
    let (_s, f) = server().await;
    let src = Source::Fedora(FedoraSource {
        release: Some("44".into()),
        subvariant: "Cloud_Base".into(),
    });
    let got = discover(
        &img(src, Architecture::Aarch64, vec![key("fedora.gpg")]),
        &f,
        now(),
    )
    .await
    .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "44-1.7");
    assert_eq!(
        c.url,
        "https://dl.fedoraproject.org/pub/fedora/linux/releases/44/Cloud/aarch64/images/Fedora-Cloud-Base-Generic-44-1.7.aarch64.qcow2"
    );
    assert_eq!(
        sha256(c),
        "55c60a3b80d3616a08705afd0459e75fe9f03c54aba7a46e4002a41a72fa0d5b"
    );
    assert_eq!(c.size, Some(528154624));
    assert_eq!(c.signature.status, SignatureState::Verified);
    assert_eq!(c.signature.key.as_deref(), Some(FEDORA_44_KEY));
    // No COMPOSE_ID in the samples: the date of the CHECKSUM's (verified) signature.
    assert_eq!(c.build_date, "2026-04-24");
}

#[tokio::test]
async fn fedora_newest_release_in_the_real_releases_json_is_40() {
    let (_s, f) = server().await;
    let src = Source::Fedora(FedoraSource {
        release: None,
        subvariant: "Cloud_Base".into(),
    });
    let err = discover(
        &img(src, Architecture::X86_64, vec![key("fedora.gpg")]),
        &f,
        now(),
    )
    .await
    .unwrap_err();
    // 40 (not "41 Beta"), CHECKSUM name derived from the link's build 1.14; that file is not
    // in the samples.
    assert_eq!(err.status(), Some(404), "{err}");
    assert!(
        err.to_string()
            .contains("releases/40/Cloud/x86_64/images/Fedora-Cloud-40-1.14-x86_64-CHECKSUM"),
        "{err}"
    );
}

#[tokio::test]
async fn opensuse_leap_16_0_verified_with_the_real_opensuse_key() {
    let (_s, f) = server().await;
    let src = Source::OpensuseLeap(OpensuseSource {
        release: "16.0".into(),
        variant: "Minimal-VM".into(),
        flavor: "Cloud".into(),
    });
    let keys = vec![key(
        "opensuse-project-signing-key-AD485664E901B867051AB15F35A2F86E29B700A4.asc",
    )];
    let got = discover(&img(src, Architecture::Aarch64, keys), &f, now())
        .await
        .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "16.0-Build18.7");
    assert_eq!(
        c.url,
        "https://download.opensuse.org/distribution/leap/16.0/appliances/Leap-16.0-Minimal-VM.aarch64-Cloud-Build18.7.qcow2"
    );
    assert_eq!(
        sha256(c),
        "2e9eeb56e7523775f1f01261f4900f289e20c38910226b0c1e5aa7228a84194a"
    );
    assert_eq!(c.size, Some(271319040));
    assert_eq!(c.signature.status, SignatureState::Verified);
    assert_eq!(c.signature.key.as_deref(), Some(OPENSUSE_KEY));
    // Build ids carry no date: the (verified) .sha256.asc signature was made that day.
    assert_eq!(c.build_date, "2026-06-19");
}

#[tokio::test]
async fn alpine_latest_stable_3_23_4() {
    let (_s, f) = server().await;
    let src = Source::Alpine(AlpineSource {
        release: None,
        firmware: "uefi".into(),
        bootstrap: "cloudinit".into(),
        cloud: "nocloud".into(),
    });
    let got = discover(&img(src, Architecture::X86_64, vec![]), &f, now())
        .await
        .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "3.23.4-r0");
    assert_eq!(
        c.url,
        "https://dl-cdn.alpinelinux.org/alpine/v3.23/releases/cloud/nocloud_alpine-3.23.4-x86_64-uefi-cloudinit-r0.qcow2"
    );
    assert!(c.checksums[&HashAlgorithm::Sha512].starts_with("849196e26640b33fb1f106d46cebdf34"));
    assert_eq!(c.build_date, "2026-04-15");
}

#[tokio::test]
async fn arch_v20260715_556894() {
    let (_s, f) = server().await;
    let src = Source::Archlinux(ArchSource {
        variant: "cloudimg".into(),
    });
    let got = discover(&img(src, Architecture::X86_64, vec![]), &f, now())
        .await
        .unwrap();
    let c = newest(&got);
    assert_eq!(c.version, "20260715.556894");
    assert_eq!(c.build_date, "2026-07-15");
    assert_eq!(
        c.url,
        "https://geo.mirror.pkgbuild.com/images/v20260715.556894/Arch-Linux-x86_64-cloudimg-20260715.556894.qcow2"
    );
    assert_eq!(
        sha256(c),
        "f419d4e29aebfc017ad4c9de330a3be0d7eefba710b269108b116aaca1122926"
    );
}

#[tokio::test]
async fn cirros_released_and_pinned() {
    let (_s, f) = server().await;
    let got = discover(
        &img(
            Source::Cirros(CirrosSource {
                series: Some("0.6".into()),
            }),
            Architecture::X86_64,
            vec![],
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
        sha256(c),
        "7d6355852aeb6dbcd191bcda7cd74f1536cfe5cbf8a10495a7283a8396e4b75b"
    );
    // Its md5 in the stream is a placeholder and 0.6.3 has no MD5SUMS in the samples.
    assert!(!c.checksums.contains_key(&HashAlgorithm::Md5));
    let mut pinned = img(
        Source::Cirros(CirrosSource { series: None }),
        Architecture::X86_64,
        vec![],
    );
    pinned.version.pin = Some("0.6.2".into());
    let got = discover(&pinned, &f, now()).await.unwrap();
    let c = newest(&got);
    assert_eq!(
        c.url,
        "https://download.cirros-cloud.net/0.6.2/cirros-0.6.2-x86_64-disk.img"
    );
    assert_eq!(
        c.checksums[&HashAlgorithm::Md5],
        "c8fc807773e5354afe61636071771906"
    );
    assert_eq!(
        sha256(c),
        "07e44a73e54c94d988028515403c1ed762055e01b83a767edf3c2b387f78ce00"
    );
    assert_eq!(
        (c.size, c.build_date.as_str()),
        (Some(21430272), "2023-05-12")
    );
}
