//! OpenPGP verification on the REAL signed files and vendor keys in
//! `../shared/upstream-samples` (read in place, never copied), plus tampered copies made in
//! memory. Needs `../shared`: `.ci/run` always runs it; a plain clone skips this target.

use std::path::{Path, PathBuf};

use image_crawler::catalog::SignatureMode;
use image_crawler::lock::SignatureState;
use image_crawler::upstream::checksums;
use image_crawler::upstream::signature::{self, Keyring, SignatureError};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/upstream-samples")
}

fn read(rel: &str) -> Vec<u8> {
    let p = samples().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn ring(rel: &str) -> Keyring {
    Keyring::load(&[samples().join(rel)]).unwrap()
}

const UBUNTU_KEY: &str =
    "keys/ubuntu-uec-image-signing-key-D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81.asc";
const OPENSUSE_KEY: &str =
    "keys/opensuse-project-signing-key-AD485664E901B867051AB15F35A2F86E29B700A4.asc";
const FEDORA_CHECKSUM: &str =
    "fedora/pub/fedora/linux/releases/44/Cloud/aarch64/images/Fedora-Cloud-44-1.7-aarch64-CHECKSUM";
const OPENSUSE_SHA: &str = "opensuse/distribution/leap/16.0/appliances/Leap-16.0-Minimal-VM.aarch64-Cloud-Build18.7.qcow2.sha256";

/// Changes the first hex digit of the first digest (what an attacker would do).
fn tamper(data: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(data).unwrap();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let at = if line.starts_with("SHA256 (") {
            line.find(" = ").map(|i| i + 3)
        } else if line.len() > 64 && line.as_bytes()[..64].iter().all(u8::is_ascii_hexdigit) {
            Some(0)
        } else {
            None
        };
        if let Some(i) = at {
            let mut bytes = data.to_vec();
            let p = offset + i;
            bytes[p] = if bytes[p] == b'0' { b'1' } else { b'0' };
            return bytes;
        }
        offset += line.len();
    }
    panic!("no digest line")
}

#[test]
fn ubuntu_sha256sums_gpg_verifies_with_canonicals_key() {
    let data = read("ubuntu/releases/noble/release-20260725/SHA256SUMS");
    let sig = read("ubuntu/releases/noble/release-20260725/SHA256SUMS.gpg");
    let ring = ring(UBUNTU_KEY);
    let v = ring
        .verify_detached(&data, &sig, "SHA256SUMS.gpg", now())
        .unwrap();
    assert_eq!(v.fingerprint, "D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81");
    let err = ring
        .verify_detached(&tamper(&data), &sig, "SHA256SUMS.gpg", now())
        .unwrap_err();
    assert!(matches!(err, SignatureError::Bad { .. }), "{err}");
    // The signed file parses with the one checksum parser.
    let file = checksums::parse(std::str::from_utf8(&data).unwrap()).unwrap();
    assert!(!file.entries().is_empty());
}

#[test]
fn ubuntu_signature_does_not_verify_with_another_vendors_key() {
    let data = read("ubuntu/releases/noble/release-20260725/SHA256SUMS");
    let sig = read("ubuntu/releases/noble/release-20260725/SHA256SUMS.gpg");
    let err = ring(OPENSUSE_KEY)
        .verify_detached(&data, &sig, "u", now())
        .unwrap_err();
    assert!(matches!(err, SignatureError::Untrusted { .. }), "{err}");
}

#[test]
fn fedora_clearsigned_checksum_verifies_with_the_fedora_keyring() {
    let text = String::from_utf8(read(FEDORA_CHECKSUM)).unwrap();
    let ring = ring("keys/fedora.gpg");
    assert!(ring.fingerprints().len() > 1, "fedora.gpg is a keyring");
    let (v, signed) = ring.verify_cleartext(&text, "CHECKSUM", now()).unwrap();
    assert!(ring.fingerprints().contains(&v.fingerprint));
    let file = checksums::parse(&signed).unwrap();
    let e = file
        .get("Fedora-Cloud-Base-Generic-44-1.7.aarch64.qcow2")
        .unwrap();
    assert_eq!(
        e.hex,
        "55c60a3b80d3616a08705afd0459e75fe9f03c54aba7a46e4002a41a72fa0d5b"
    );
    assert_eq!(e.size, Some(528154624));
    let bad = String::from_utf8(tamper(text.as_bytes())).unwrap();
    assert!(matches!(
        ring.verify_cleartext(&bad, "CHECKSUM", now()).unwrap_err(),
        SignatureError::Bad { .. }
    ));
    // The policy helper: verified with the keyring file, refused when tampered.
    let keys = vec![samples().join("keys/fedora.gpg")];
    let (status, _) =
        signature::verify_clearsigned_policy(SignatureMode::Required, &keys, &text, "u", now())
            .unwrap();
    assert_eq!(status.status.status, SignatureState::Verified);
    assert!(
        signature::verify_clearsigned_policy(SignatureMode::IfPublished, &keys, &bad, "u", now())
            .is_err()
    );
}

#[test]
fn opensuse_sha256_asc_verifies_with_the_project_key() {
    let data = read(OPENSUSE_SHA);
    let sig = read(&format!("{OPENSUSE_SHA}.asc"));
    let keys = vec![samples().join(OPENSUSE_KEY)];
    let status = signature::verify_policy(
        SignatureMode::Required,
        &keys,
        &data,
        Some(&sig),
        "asc",
        now(),
    )
    .unwrap();
    assert_eq!(status.status.status, SignatureState::Verified);
    assert_eq!(
        status.status.key.as_deref(),
        Some("AD485664E901B867051AB15F35A2F86E29B700A4")
    );
    let err = signature::verify_policy(
        SignatureMode::IfPublished,
        &keys,
        &tamper(&data),
        Some(&sig),
        "asc",
        now(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("BAD signature at asc"), "{err}");
}

#[test]
fn the_throwaway_fixture_key_loads() {
    let ring = ring("keys/test-throwaway-fixture-key.asc");
    assert_eq!(ring.fingerprints().len(), 1);
    assert_eq!(ring.fingerprints()[0].len(), 40);
}

#[test]
fn real_checksum_files_parse() {
    for rel in [
        "rocky/pub/rocky/9/images/x86_64/CHECKSUM",
        "almalinux/almalinux/9/cloud/x86_64/images/CHECKSUM",
        "centos-stream/centos/9-stream/x86_64/images/CHECKSUM",
        "debian/bookworm/latest/SHA512SUMS",
        "ubuntu/noble/20260705/SHA256SUMS",
        "alpine/alpine/v3.23/releases/cloud/nocloud_alpine-3.23.4-x86_64-uefi-cloudinit-r0.qcow2.sha512",
        OPENSUSE_SHA,
        FEDORA_CHECKSUM,
        "cirros/0.6.2/MD5SUMS",
    ] {
        let text = String::from_utf8(read(rel)).unwrap();
        let file = checksums::parse(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(!file.entries().is_empty(), "{rel}");
    }
    // Aliases resolve to the dated names by hash.
    let alma = checksums::parse(
        &String::from_utf8(read("almalinux/almalinux/9/cloud/x86_64/images/CHECKSUM")).unwrap(),
    )
    .unwrap();
    let dated = alma.resolve_alias("AlmaLinux-9-GenericCloud-latest.x86_64.qcow2");
    assert_eq!(
        dated.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["AlmaLinux-9-GenericCloud-9.8-20260526.x86_64.qcow2"]
    );
}

/// The vendor keys shipped in catalog/keys/ are the ones in ../shared/vendor-keys, load with
/// valid self-signatures, and carry the fingerprints catalog/keys/README.md names.
#[test]
fn shipped_vendor_keys_match_their_source_and_readme() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("catalog/keys/README.md")).unwrap();
    for (file, source, fprs) in [
        (
            "almalinux-8.asc",
            "RPM-GPG-KEY-AlmaLinux-8.asc",
            &[
                "5E9B8F5617B5066CE92057C3488FCF7C3ABB34F8",
                "BC5EDDCADF502C077F1582882AE81E8ACED7258B",
            ][..],
        ),
        (
            "almalinux-9.asc",
            "RPM-GPG-KEY-AlmaLinux-9.asc",
            &["BF18AC2876178908D6E71267D36CB86CB86B3716"][..],
        ),
        (
            "rocky-8.asc",
            "RPM-GPG-KEY-Rocky-8.asc",
            &["7051C470A929F454CEBE37B715AF5DAC6D745A60"][..],
        ),
        (
            "rocky-9.asc",
            "RPM-GPG-KEY-Rocky-9.asc",
            &["21CB256AE16FC54C6E652949702D426D350D275D"][..],
        ),
    ] {
        let shipped = root.join("catalog/keys").join(file);
        let vendor = samples().join("../vendor-keys").join(source);
        assert_eq!(
            std::fs::read(&shipped).unwrap(),
            std::fs::read(&vendor).unwrap(),
            "{file} is the vendor's key, unmodified"
        );
        let ring = Keyring::load(&[shipped]).unwrap();
        assert_eq!(ring.fingerprints(), fprs, "{file}");
        for fpr in fprs {
            assert!(readme.contains(fpr), "README names {fpr}");
        }
        assert!(readme.contains(&format!("`{file}`")), "README lists {file}");
    }
}

/// No shipped entry fails out of the box for want of a key: whatever checks signatures has
/// keys, and every key file it names exists and loads.
#[test]
fn every_shipped_entry_that_checks_signatures_has_its_keys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    let catalog = image_crawler::catalog::load(&root).unwrap_or_else(|d| panic!("{d:?}"));
    let mut checked = 0;
    for (id, image) in &catalog.images {
        if image.signature.mode == SignatureMode::Off || !image.enabled {
            continue;
        }
        // Discovery of these never fetches a signature (none is published), so
        // `if-published` without keys just records `not-published`.
        let unsigned = ["cirros", "debian", "centos-stream"]
            .iter()
            .any(|p| id.starts_with(p));
        if image.signature.mode == SignatureMode::IfPublished && unsigned {
            continue;
        }
        assert!(
            !image.signature.keys.is_empty(),
            "{id}: policy {:?} without keys fails whenever a signature is published",
            image.signature.mode
        );
        Keyring::load(&image.signature.keys).unwrap_or_else(|e| panic!("{id}: {e}"));
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} entries check signatures");
    for id in [
        "archlinux",
        "alpine",
        "alpine-arm64",
        "almalinux-10",
        "rocky-10",
    ] {
        assert_eq!(
            catalog.images[id].signature.mode,
            SignatureMode::Off,
            "{id}"
        );
    }
    for id in ["almalinux-8", "almalinux-9", "rocky-8"] {
        assert_eq!(
            catalog.images[id].signature.mode,
            SignatureMode::Required,
            "{id}"
        );
    }
}
