//! OpenPGP verification of checksum files (rPGP), and the catalog's signature policy.
//!
//! Three shapes (docs/upstream-formats.md §12.6): detached armoured (`SHA256SUMS.gpg`,
//! `.sha256.asc`, `CHECKSUM.asc`), detached binary (`.sig`), and clear-signed (Fedora
//! `CHECKSUM`, simplestreams `.sjson`). A signature counts when a key of the configured
//! keyrings (primary or subkey) made it and that key is usable at "now" the way `gpgv`
//! decides it ([`keyring`]); the result names the primary key's fingerprint and the
//! verified signature's date. For clear-signed files only the *signed* text is returned:
//! callers must parse that, never the raw file, or unsigned lines could slip in.

mod keyring;

use std::path::PathBuf;

use pgp::composed::{CleartextSignedMessage, Deserializable, DetachedSignature};

pub use keyring::{Keyring, SigReport, Verdict, Verified};

use crate::catalog::SignatureMode;
use crate::lock::{SignatureState, SignatureStatus};

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The catalog requires a signature and the distributor publishes none.
    #[error("no signature is published at {url}, and the catalog requires one")]
    Missing { url: String },
    /// A signature is there, but the catalog names no key to check it with.
    #[error("a signature is published at {url}, but the catalog configures no keys")]
    NoKeys { url: String },
    /// A key file could not be read or holds no usable public key.
    #[error("cannot load the key {}: {message}", path.display())]
    Key { path: PathBuf, message: String },
    /// The signature (or clear-signed message) is malformed.
    #[error("the signature at {url} cannot be read: {message}")]
    Malformed { url: String, message: String },
    /// A trusted key's signature does not match these bytes (gpgv: `BADSIG`).
    #[error(
        "BAD signature at {url}: the signature by {keys} does not match the file (tampered file)"
    )]
    Bad { url: String, keys: String },
    /// Signed, but by none of the configured keys (gpgv: `NO_PUBKEY`).
    #[error(
        "the signature at {url} is by {issuers}, which is not among the configured keys ({keys})"
    )]
    Untrusted {
        url: String,
        issuers: String,
        keys: String,
    },
    /// The key that made the signature is revoked (gpgv: `REVKEYSIG`).
    #[error("the signature at {url} is by the REVOKED key {key}")]
    Revoked { url: String, key: String },
    /// The key or signing subkey expired (gpgv: `EXPKEYSIG`).
    #[error("the signature at {url} is by the key {key}, which EXPIRED at {expired}")]
    ExpiredKey {
        url: String,
        key: String,
        expired: jiff::Timestamp,
    },
    /// Any other reason the signing key may not make this signature (gpgv: `EXPSIG`,
    /// `ERRSIG`), or a signature dated in the future.
    #[error("the signature at {url} by {key} is not valid: {reason}")]
    Unusable {
        url: String,
        key: String,
        reason: String,
    },
}

impl SignatureError {
    pub fn hint(&self) -> &'static str {
        match self {
            SignatureError::Missing { .. } => {
                "the distributor publishes no signature here; set `signature.policy: if-published` if that is acceptable"
            }
            SignatureError::NoKeys { .. } => {
                "add the distributor's key file to the image's `signature.keys` in the catalog (see catalog/keys/README.md)"
            }
            SignatureError::Key { .. } => {
                "check the key file path (relative to the catalog directory) and that it is an OpenPGP public key"
            }
            SignatureError::Malformed { .. } => {
                "the file is not an OpenPGP signature; the mirror may serve an error page"
            }
            SignatureError::Bad { .. } => {
                "do NOT use this build; the checksums may have been tampered with"
            }
            SignatureError::Untrusted { .. } => {
                "do NOT use this build unless the distributor announced that key: compare its fingerprint with the distributor's website, then add it (catalog/keys/README.md)"
            }
            SignatureError::Revoked { .. } => {
                "the distributor revoked this key; do not use the build, get the distributor's current key (catalog/keys/README.md)"
            }
            SignatureError::ExpiredKey { .. } => {
                "gpgv refuses it too (EXPKEYSIG); if the distributor extended the key, re-export the refreshed key into catalog/keys/ (catalog/keys/README.md); if it still signs with the expired key, tell the distributor, or set `signature.policy: off` for this entry knowingly"
            }
            SignatureError::Unusable { .. } => {
                "gpgv refuses such signatures too; check the machine's clock and the key file, or ask the distributor"
            }
        }
    }
}

/// Every signature packet of a detached signature (armoured or binary).
fn parse_detached(bytes: &[u8], url: &str) -> Result<Vec<DetachedSignature>, SignatureError> {
    let malformed = |message: String| SignatureError::Malformed {
        url: url.into(),
        message,
    };
    let (sigs, _) =
        DetachedSignature::from_reader_many(bytes).map_err(|e| malformed(e.to_string()))?;
    let sigs: Vec<DetachedSignature> = sigs
        .collect::<Result<_, _>>()
        .map_err(|e| malformed(e.to_string()))?;
    if sigs.is_empty() {
        return Err(malformed("no signature packet".into()));
    }
    Ok(sigs)
}

fn parse_cleartext(text: &str, url: &str) -> Result<CleartextSignedMessage, SignatureError> {
    CleartextSignedMessage::from_string(text)
        .map(|(msg, _)| msg)
        .map_err(|e| SignatureError::Malformed {
            url: url.into(),
            message: e.to_string(),
        })
}

/// Whether a text is a PGP clear-signed message.
pub fn is_clearsigned(text: &str) -> bool {
    text.trim_start()
        .starts_with("-----BEGIN PGP SIGNED MESSAGE-----")
}

/// The policy's verdict, with the date of the verified signature (none when nothing was
/// verified: never the date of an unverified packet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub status: SignatureStatus,
    pub signed_at: Option<jiff::Timestamp>,
}

impl Checked {
    fn state(state: SignatureState) -> Checked {
        Checked {
            status: SignatureStatus::state(state),
            signed_at: None,
        }
    }

    fn verified(verified: Verified, url: &str) -> Checked {
        Checked {
            status: SignatureStatus {
                status: SignatureState::Verified,
                key: Some(verified.fingerprint),
                url: Some(url.into()),
            },
            signed_at: Some(verified.created),
        }
    }
}

/// Applies the catalog's signature policy to a file with a detached signature, at `now`.
///
/// `signature` is `None` when the distributor publishes none (404). `required` + missing is
/// an error, `if-published` + missing gives `not-published`, `off` never looks; a bad
/// signature is always an error.
pub fn verify_policy(
    mode: SignatureMode,
    keys: &[PathBuf],
    signed: &[u8],
    signature: Option<&[u8]>,
    sig_url: &str,
    now: jiff::Timestamp,
) -> Result<Checked, SignatureError> {
    match (mode, signature) {
        (SignatureMode::Off, _) => Ok(Checked::state(SignatureState::Off)),
        (SignatureMode::Required, None) => Err(SignatureError::Missing {
            url: sig_url.into(),
        }),
        (SignatureMode::IfPublished, None) => Ok(Checked::state(SignatureState::NotPublished)),
        (_, Some(sig)) => {
            let ring = keyring_for(keys, sig_url)?;
            let verified = ring.verify_detached(signed, sig, sig_url, now)?;
            Ok(Checked::verified(verified, sig_url))
        }
    }
}

/// Applies the catalog's signature policy to a file that may be clear-signed (Fedora
/// `CHECKSUM`), at `now`. Returns the verdict and the text to parse: the signed text when
/// verified, the raw text otherwise (the checksum parser strips armour itself).
pub fn verify_clearsigned_policy(
    mode: SignatureMode,
    keys: &[PathBuf],
    text: &str,
    url: &str,
    now: jiff::Timestamp,
) -> Result<(Checked, String), SignatureError> {
    match (mode, is_clearsigned(text)) {
        (SignatureMode::Off, _) => Ok((Checked::state(SignatureState::Off), text.into())),
        (SignatureMode::Required, false) => Err(SignatureError::Missing { url: url.into() }),
        (SignatureMode::IfPublished, false) => {
            Ok((Checked::state(SignatureState::NotPublished), text.into()))
        }
        (_, true) => {
            let ring = keyring_for(keys, url)?;
            let (verified, signed) = ring.verify_cleartext(text, url, now)?;
            Ok((Checked::verified(verified, url), signed))
        }
    }
}

/// The policy for a detached signature over the IMAGE bytes (Alpine's `<image>.asc`), which
/// `check` cannot verify without downloading the image. `signature` is `None` when none is
/// published (404). What `check` can know it checks now: the policy, that keys are
/// configured and load, that the file is an OpenPGP signature, and that a configured key is
/// named as its issuer. The verdict `checked-on-transfer` then tells `apply` to verify the
/// bytes in the same pass as the hashes ([`StreamCheck`]) before the image is promoted.
pub fn on_transfer_policy(
    mode: SignatureMode,
    keys: &[PathBuf],
    signature: Option<&[u8]>,
    sig_url: &str,
) -> Result<SignatureStatus, SignatureError> {
    match (mode, signature) {
        (SignatureMode::Off, _) => Ok(SignatureStatus::state(SignatureState::Off)),
        (SignatureMode::Required, None) => Err(SignatureError::Missing {
            url: sig_url.into(),
        }),
        (SignatureMode::IfPublished, None) => {
            Ok(SignatureStatus::state(SignatureState::NotPublished))
        }
        (_, Some(sig)) => {
            let ring = keyring_for(keys, sig_url)?;
            let sigs = parse_detached(sig, sig_url)?;
            if !sigs.iter().any(|s| ring.knows_issuer(&s.signature)) {
                return Err(SignatureError::Untrusted {
                    url: sig_url.into(),
                    issuers: sigs
                        .iter()
                        .map(|s| keyring::issuer(&s.signature))
                        .collect::<Vec<_>>()
                        .join(", "),
                    keys: ring.describe(),
                });
            }
            Ok(SignatureStatus {
                status: SignatureState::CheckedOnTransfer,
                key: None,
                url: Some(sig_url.into()),
            })
        }
    }
}

/// A detached signature verified over bytes that arrive in chunks, in one pass: one thread
/// per signature packet reads the chunks (cheap `Bytes` clones through a bounded channel, so
/// memory stays constant and a slow verifier slows the transfer rather than buffering it).
pub struct StreamCheck {
    ring: std::sync::Arc<Keyring>,
    url: String,
    feeds: Vec<std::sync::mpsc::SyncSender<bytes::Bytes>>,
    workers: Vec<std::thread::JoinHandle<SigReport>>,
}

impl StreamCheck {
    /// Starts checking `signature` (fetched from `url`) with the keys in `keys` at `now`.
    pub fn start(
        keys: &[PathBuf],
        signature: &[u8],
        url: &str,
        now: jiff::Timestamp,
    ) -> Result<StreamCheck, SignatureError> {
        let ring = std::sync::Arc::new(keyring_for(keys, url)?);
        let mut feeds = Vec::new();
        let mut workers = Vec::new();
        for sig in parse_detached(signature, url)? {
            let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(16);
            let ring = ring.clone();
            let sig = sig.signature;
            workers.push(std::thread::spawn(move || {
                ring.check_read(&sig, ChunkReader { rx, chunk: None }, now)
            }));
            feeds.push(tx);
        }
        Ok(StreamCheck {
            ring,
            url: url.into(),
            feeds,
            workers,
        })
    }

    pub fn update(&mut self, chunk: &bytes::Bytes) {
        for f in &self.feeds {
            // A verifier that stopped reading (it refused the signature early) gets no more.
            let _ = f.send(chunk.clone());
        }
    }

    /// Ends the input and decides as for a file: one good signature and no bad one.
    pub fn finish(self) -> Result<Verified, SignatureError> {
        drop(self.feeds);
        let mut reports = Vec::new();
        for w in self.workers {
            reports.push(w.join().map_err(|_| SignatureError::Malformed {
                url: self.url.clone(),
                message: "the verifier failed".into(),
            })?);
        }
        self.ring.decide(&reports, &self.url)
    }
}

/// Reads the chunks of a channel as one byte stream (EOF when the sender is dropped).
struct ChunkReader {
    rx: std::sync::mpsc::Receiver<bytes::Bytes>,
    chunk: Option<bytes::Bytes>,
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match &mut self.chunk {
                Some(c) if !c.is_empty() => {
                    let n = c.len().min(buf.len());
                    buf[..n].copy_from_slice(&c.split_to(n));
                    return Ok(n);
                }
                _ => match self.rx.recv() {
                    Ok(c) => self.chunk = Some(c),
                    Err(_) => return Ok(0),
                },
            }
        }
    }
}

fn keyring_for(keys: &[PathBuf], url: &str) -> Result<Keyring, SignatureError> {
    if keys.is_empty() {
        return Err(SignatureError::NoKeys { url: url.into() });
    }
    Keyring::load(keys)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    // A throwaway key generated for these fixtures (its secret half was discarded).
    const KEY: &[u8] =
        include_bytes!("../../../tests/fixtures/upstream/keys/fixture-signing-key.asc");
    const KEY_FPR: &str = "02214749ED8C7A602448DDF2BA6400A54D03C457";
    const OTHER: &[u8] = include_bytes!("../../../tests/fixtures/upstream/keys/other-key.asc");
    const SUMS: &[u8] = include_bytes!("../../../tests/fixtures/upstream/signed/SHA256SUMS");
    const SUMS_ASC: &[u8] =
        include_bytes!("../../../tests/fixtures/upstream/signed/SHA256SUMS.gpg");
    const SUMS_SIG: &[u8] =
        include_bytes!("../../../tests/fixtures/upstream/signed/SHA256SUMS.sig");
    const SUMS_OTHER: &[u8] =
        include_bytes!("../../../tests/fixtures/upstream/signed/SHA256SUMS.other.gpg");
    const CLEAR: &str = include_str!("../../../tests/fixtures/upstream/signed/CHECKSUM");

    fn ring(keys: &[&[u8]]) -> Keyring {
        let mut r = Keyring::default();
        for k in keys {
            r.add(k, Path::new("test.asc")).unwrap();
        }
        r
    }

    fn tampered(data: &[u8]) -> Vec<u8> {
        let mut t = data.to_vec();
        // Flip one hex digit of the first digest.
        t[0] = if t[0] == b'a' { b'b' } else { b'a' };
        t
    }

    #[test]
    fn detached_armoured_and_binary_verify_and_name_the_key() {
        let r = ring(&[OTHER, KEY]);
        assert_eq!(r.fingerprints().len(), 2);
        for sig in [SUMS_ASC, SUMS_SIG] {
            let v = r.verify_detached(SUMS, sig, "u", now()).unwrap();
            assert_eq!(v.fingerprint, KEY_FPR);
        }
    }

    #[test]
    fn tampered_data_fails_with_bad_signature() {
        let r = ring(&[KEY]);
        let err = r
            .verify_detached(&tampered(SUMS), SUMS_ASC, "https://x/SHA256SUMS.gpg", now())
            .unwrap_err();
        assert!(matches!(err, SignatureError::Bad { .. }));
        assert!(
            err.to_string()
                .contains("BAD signature at https://x/SHA256SUMS.gpg")
        );
        assert!(err.to_string().contains(KEY_FPR));
    }

    #[test]
    fn signature_by_an_untrusted_key_fails() {
        let err = ring(&[KEY])
            .verify_detached(SUMS, SUMS_OTHER, "u", now())
            .unwrap_err();
        assert!(matches!(err, SignatureError::Untrusted { .. }), "{err:?}");
        // ... and verifies when that key is trusted.
        let v = ring(&[OTHER])
            .verify_detached(SUMS, SUMS_OTHER, "u", now())
            .unwrap();
        assert_eq!(v.fingerprint, "6C96190BB7AF5A5F7F6DE74B9608393895405AB0");
    }

    #[test]
    fn garbage_signature_and_key_are_malformed() {
        let err = ring(&[KEY])
            .verify_detached(SUMS, b"<html>404</html>", "u", now())
            .unwrap_err();
        assert!(matches!(err, SignatureError::Malformed { .. }), "{err:?}");
        let mut r = Keyring::default();
        assert!(matches!(
            r.add(b"not a key", Path::new("k.asc")).unwrap_err(),
            SignatureError::Key { .. }
        ));
    }

    #[test]
    fn cleartext_returns_only_the_signed_text() {
        let (v, text) = ring(&[KEY]).verify_cleartext(CLEAR, "u", now()).unwrap();
        assert_eq!(v.fingerprint, KEY_FPR);
        assert!(text.starts_with("# example-1.1-20260201.x86_64.qcow2: 1024 bytes\nSHA256 ("));
        assert!(!text.contains("PGP"));
        let bad = CLEAR.replace("cccc", "dddd");
        assert!(matches!(
            ring(&[KEY]).verify_cleartext(&bad, "u", now()).unwrap_err(),
            SignatureError::Bad { .. }
        ));
    }

    #[test]
    fn policy_decisions() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.asc");
        std::fs::write(&key, KEY).unwrap();
        let keys = vec![key];
        let s = verify_policy(SignatureMode::Off, &[], SUMS, Some(b"junk"), "u", now()).unwrap();
        assert_eq!(s.status.status, SignatureState::Off);
        let s = verify_policy(SignatureMode::IfPublished, &keys, SUMS, None, "u", now()).unwrap();
        assert_eq!(s.status.status, SignatureState::NotPublished);
        assert!(matches!(
            verify_policy(SignatureMode::Required, &keys, SUMS, None, "u", now()).unwrap_err(),
            SignatureError::Missing { .. }
        ));
        let s = verify_policy(
            SignatureMode::Required,
            &keys,
            SUMS,
            Some(SUMS_ASC),
            "s",
            now(),
        )
        .unwrap();
        assert_eq!(s.status.status, SignatureState::Verified);
        assert_eq!(s.status.key.as_deref(), Some(KEY_FPR));
        assert_eq!(s.status.url.as_deref(), Some("s"));
        assert!(matches!(
            verify_policy(
                SignatureMode::IfPublished,
                &keys,
                &tampered(SUMS),
                Some(SUMS_ASC),
                "s",
                now()
            )
            .unwrap_err(),
            SignatureError::Bad { .. }
        ));
        assert!(matches!(
            verify_policy(
                SignatureMode::IfPublished,
                &[],
                SUMS,
                Some(SUMS_ASC),
                "s",
                now()
            )
            .unwrap_err(),
            SignatureError::NoKeys { .. }
        ));
        let (s, text) =
            verify_clearsigned_policy(SignatureMode::Required, &keys, CLEAR, "c", now()).unwrap();
        assert_eq!(s.status.status, SignatureState::Verified);
        assert!(!text.contains("BEGIN PGP"));
        assert!(matches!(
            verify_clearsigned_policy(SignatureMode::Required, &keys, "aa  x\n", "c", now())
                .unwrap_err(),
            SignatureError::Missing { .. }
        ));
    }

    fn streamed(keys: &[PathBuf], data: &[u8], sig: &[u8]) -> Result<Verified, SignatureError> {
        let mut c = StreamCheck::start(keys, sig, "u.asc", now())?;
        for chunk in data.chunks(5) {
            c.update(&bytes::Bytes::copy_from_slice(chunk));
        }
        c.finish()
    }

    #[test]
    fn a_streamed_check_gives_the_verdict_of_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.asc");
        std::fs::write(&key, KEY).unwrap();
        let keys = vec![key];
        for sig in [SUMS_ASC, SUMS_SIG] {
            assert_eq!(streamed(&keys, SUMS, sig).unwrap().fingerprint, KEY_FPR);
        }
        assert!(matches!(
            streamed(&keys, &tampered(SUMS), SUMS_ASC).unwrap_err(),
            SignatureError::Bad { .. }
        ));
        assert!(matches!(
            streamed(&keys, &SUMS[..SUMS.len() - 1], SUMS_ASC).unwrap_err(),
            SignatureError::Bad { .. }
        ));
        assert!(matches!(
            streamed(&keys, SUMS, SUMS_OTHER).unwrap_err(),
            SignatureError::Untrusted { .. }
        ));
        assert!(matches!(
            streamed(&[], SUMS, SUMS_ASC).unwrap_err(),
            SignatureError::NoKeys { .. }
        ));
    }

    #[test]
    fn on_transfer_policy_records_what_check_can_know() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.asc");
        std::fs::write(&key, KEY).unwrap();
        let keys = vec![key];
        let s =
            on_transfer_policy(SignatureMode::Required, &keys, Some(SUMS_ASC), "i.asc").unwrap();
        assert_eq!(s.status, SignatureState::CheckedOnTransfer);
        assert_eq!(s.url.as_deref(), Some("i.asc"));
        assert_eq!(s.key, None, "nothing was verified yet");
        assert_eq!(
            on_transfer_policy(SignatureMode::Off, &[], Some(b"junk"), "i.asc")
                .unwrap()
                .status,
            SignatureState::Off
        );
        assert_eq!(
            on_transfer_policy(SignatureMode::IfPublished, &keys, None, "i.asc")
                .unwrap()
                .status,
            SignatureState::NotPublished
        );
        assert!(matches!(
            on_transfer_policy(SignatureMode::Required, &keys, None, "i.asc").unwrap_err(),
            SignatureError::Missing { .. }
        ));
        assert!(matches!(
            on_transfer_policy(SignatureMode::IfPublished, &[], Some(SUMS_ASC), "i.asc")
                .unwrap_err(),
            SignatureError::NoKeys { .. }
        ));
        assert!(matches!(
            on_transfer_policy(SignatureMode::Required, &keys, Some(SUMS_OTHER), "i.asc")
                .unwrap_err(),
            SignatureError::Untrusted { .. }
        ));
        assert!(matches!(
            on_transfer_policy(SignatureMode::Required, &keys, Some(b"<html>"), "i.asc")
                .unwrap_err(),
            SignatureError::Malformed { .. }
        ));
    }
}
