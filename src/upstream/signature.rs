//! OpenPGP verification of checksum files (rPGP), and the catalog's signature policy.
//!
//! Three shapes (docs/upstream-formats.md §12.6): detached armoured (`SHA256SUMS.gpg`,
//! `.sha256.asc`, `CHECKSUM.asc`), detached binary (`.sig`), and clear-signed (Fedora
//! `CHECKSUM`, simplestreams `.sjson`). A signature counts when any key of the configured
//! keyrings (primary or subkey) verifies it; the result names the primary key's
//! fingerprint. For clear-signed files only the *signed* text is returned: callers must
//! parse that, never the raw file, or unsigned lines could slip in.

use std::path::{Path, PathBuf};

use pgp::composed::{CleartextSignedMessage, Deserializable, DetachedSignature, SignedPublicKey};
use pgp::types::KeyDetails;

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
    /// No configured key made a valid signature over these bytes.
    #[error(
        "BAD signature at {url}: no key of {keys} verifies it (tampered file, or signed by another key)"
    )]
    Bad { url: String, keys: String },
}

impl SignatureError {
    pub fn hint(&self) -> &'static str {
        match self {
            SignatureError::Missing { .. } => {
                "the distributor publishes no signature here; set `signature.policy: if-published` if that is acceptable"
            }
            SignatureError::NoKeys { .. } => {
                "add the distributor's key file to the image's `signature.keys` in the catalog"
            }
            SignatureError::Key { .. } => {
                "check the key file path (relative to the catalog directory) and that it is an OpenPGP public key"
            }
            SignatureError::Malformed { .. } => {
                "the file is not an OpenPGP signature; the mirror may serve an error page"
            }
            SignatureError::Bad { .. } => {
                "do NOT use this build; the checksums may have been tampered with, or the distributor rotated its key (compare fingerprints with its website)"
            }
        }
    }
}

/// The public keys to trust.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

/// A successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Upper-case hex fingerprint of the primary key whose (sub)key made the signature.
    pub fingerprint: String,
}

impl Keyring {
    /// Loads every key of every file (armoured or binary; a file may hold several keys).
    pub fn load(paths: &[PathBuf]) -> Result<Keyring, SignatureError> {
        let mut ring = Keyring::default();
        for path in paths {
            let bytes = std::fs::read(path).map_err(|e| SignatureError::Key {
                path: path.clone(),
                message: e.to_string(),
            })?;
            ring.add(&bytes, path)?;
        }
        Ok(ring)
    }

    /// Adds the keys in `bytes` (armoured or binary); `origin` names them in errors.
    pub fn add(&mut self, bytes: &[u8], origin: &Path) -> Result<(), SignatureError> {
        let err = |message: String| SignatureError::Key {
            path: origin.to_owned(),
            message,
        };
        let (keys, _) = SignedPublicKey::from_reader_many(bytes).map_err(|e| err(e.to_string()))?;
        let before = self.keys.len();
        for key in keys {
            self.keys.push(key.map_err(|e| err(e.to_string()))?);
        }
        if self.keys.len() == before {
            return Err(err("no public key in the file".into()));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The primary fingerprints, upper-case hex.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys.iter().map(|k| fingerprint(k)).collect()
    }

    fn describe(&self) -> String {
        let fps = self.fingerprints();
        if fps.is_empty() {
            "(no keys)".into()
        } else {
            fps.join(", ")
        }
    }

    /// The first key whose primary key or a subkey verifies the check.
    fn find(&self, verifies: impl Fn(KeyRef<'_>) -> bool) -> Option<String> {
        self.keys.iter().find_map(|key| {
            let ok = verifies(KeyRef::Primary(&key.primary_key))
                || key
                    .public_subkeys
                    .iter()
                    .any(|sub| verifies(KeyRef::Sub(&sub.key)));
            ok.then(|| fingerprint(key))
        })
    }

    /// Verifies a detached signature (armoured or binary) over `data`.
    pub fn verify_detached(
        &self,
        data: &[u8],
        signature: &[u8],
        url: &str,
    ) -> Result<Verified, SignatureError> {
        let (sigs, _) = DetachedSignature::from_reader_many(signature).map_err(|e| {
            SignatureError::Malformed {
                url: url.into(),
                message: e.to_string(),
            }
        })?;
        let sigs: Vec<DetachedSignature> =
            sigs.collect::<Result<_, _>>()
                .map_err(|e| SignatureError::Malformed {
                    url: url.into(),
                    message: e.to_string(),
                })?;
        if sigs.is_empty() {
            return Err(SignatureError::Malformed {
                url: url.into(),
                message: "no signature packet".into(),
            });
        }
        self.find(|key| sigs.iter().any(|s| key.verifies(&s.signature, data)))
            .map(|fingerprint| Verified { fingerprint })
            .ok_or_else(|| SignatureError::Bad {
                url: url.into(),
                keys: self.describe(),
            })
    }

    /// Verifies a clear-signed message; returns the signed text (dash escapes undone,
    /// `\n` line endings) for the caller to parse.
    pub fn verify_cleartext(
        &self,
        text: &str,
        url: &str,
    ) -> Result<(Verified, String), SignatureError> {
        let (msg, _) =
            CleartextSignedMessage::from_string(text).map_err(|e| SignatureError::Malformed {
                url: url.into(),
                message: e.to_string(),
            })?;
        let signed = msg.signed_text();
        let fingerprint = self
            .find(|key| {
                msg.signatures()
                    .iter()
                    .any(|s| key.verifies(s, signed.as_bytes()))
            })
            .ok_or_else(|| SignatureError::Bad {
                url: url.into(),
                keys: self.describe(),
            })?;
        let mut text = signed.replace("\r\n", "\n");
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Ok((Verified { fingerprint }, text))
    }
}

/// A primary key or a subkey (rPGP's `verify` needs a sized key type).
#[derive(Clone, Copy)]
enum KeyRef<'a> {
    Primary(&'a pgp::packet::PublicKey),
    Sub(&'a pgp::packet::PublicSubkey),
}

impl KeyRef<'_> {
    fn verifies(self, signature: &pgp::packet::Signature, data: &[u8]) -> bool {
        match self {
            KeyRef::Primary(k) => signature.verify(k, data).is_ok(),
            KeyRef::Sub(k) => signature.verify(k, data).is_ok(),
        }
    }
}

fn fingerprint(key: &SignedPublicKey) -> String {
    format!("{:X}", key.primary_key.fingerprint())
}

/// Whether a text is a PGP clear-signed message.
pub fn is_clearsigned(text: &str) -> bool {
    text.trim_start()
        .starts_with("-----BEGIN PGP SIGNED MESSAGE-----")
}

/// Applies the catalog's signature policy to a file with a detached signature.
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
            let verified = ring.verify_detached(signed, sig, sig_url)?;
            Ok(verified_status(verified, sig_url))
        }
    }
}

/// Applies the catalog's signature policy to a file that may be clear-signed (Fedora
/// `CHECKSUM`). Returns the status and the text to parse: the signed text when verified,
/// the raw text otherwise (the checksum parser strips armour itself).
pub fn verify_clearsigned_policy(
    mode: SignatureMode,
    keys: &[PathBuf],
    text: &str,
    url: &str,
) -> Result<(SignatureStatus, String), SignatureError> {
    match (mode, is_clearsigned(text)) {
        (SignatureMode::Off, _) => Ok((SignatureStatus::state(SignatureState::Off), text.into())),
        (SignatureMode::Required, false) => Err(SignatureError::Missing { url: url.into() }),
        (SignatureMode::IfPublished, false) => Ok((
            SignatureStatus::state(SignatureState::NotPublished),
            text.into(),
        )),
        (_, true) => {
            let ring = keyring_for(keys, url)?;
            let (verified, signed) = ring.verify_cleartext(text, url)?;
            Ok((verified_status(verified, url), signed))
        }
    }
}

fn keyring_for(keys: &[PathBuf], url: &str) -> Result<Keyring, SignatureError> {
    if keys.is_empty() {
        return Err(SignatureError::NoKeys { url: url.into() });
    }
    Keyring::load(keys)
}

fn verified_status(verified: Verified, url: &str) -> SignatureStatus {
    SignatureStatus {
        status: SignatureState::Verified,
        key: Some(verified.fingerprint),
        url: Some(url.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A throwaway key generated for these fixtures (its secret half was discarded).
    const KEY: &[u8] = include_bytes!("../../tests/fixtures/upstream/keys/fixture-signing-key.asc");
    const KEY_FPR: &str = "02214749ED8C7A602448DDF2BA6400A54D03C457";
    const OTHER: &[u8] = include_bytes!("../../tests/fixtures/upstream/keys/other-key.asc");
    const SUMS: &[u8] = include_bytes!("../../tests/fixtures/upstream/signed/SHA256SUMS");
    const SUMS_ASC: &[u8] = include_bytes!("../../tests/fixtures/upstream/signed/SHA256SUMS.gpg");
    const SUMS_SIG: &[u8] = include_bytes!("../../tests/fixtures/upstream/signed/SHA256SUMS.sig");
    const SUMS_OTHER: &[u8] =
        include_bytes!("../../tests/fixtures/upstream/signed/SHA256SUMS.other.gpg");
    const CLEAR: &str = include_str!("../../tests/fixtures/upstream/signed/CHECKSUM");

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
            let v = r.verify_detached(SUMS, sig, "u").unwrap();
            assert_eq!(v.fingerprint, KEY_FPR);
        }
    }

    #[test]
    fn tampered_data_fails_with_bad_signature() {
        let r = ring(&[KEY]);
        let err = r
            .verify_detached(&tampered(SUMS), SUMS_ASC, "https://x/SHA256SUMS.gpg")
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
            .verify_detached(SUMS, SUMS_OTHER, "u")
            .unwrap_err();
        assert!(matches!(err, SignatureError::Bad { .. }));
        // ... and verifies when that key is trusted.
        let v = ring(&[OTHER])
            .verify_detached(SUMS, SUMS_OTHER, "u")
            .unwrap();
        assert_eq!(v.fingerprint, "6C96190BB7AF5A5F7F6DE74B9608393895405AB0");
    }

    #[test]
    fn garbage_signature_and_key_are_malformed() {
        let err = ring(&[KEY])
            .verify_detached(SUMS, b"<html>404</html>", "u")
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
        let (v, text) = ring(&[KEY]).verify_cleartext(CLEAR, "u").unwrap();
        assert_eq!(v.fingerprint, KEY_FPR);
        assert!(text.starts_with("# example-1.1-20260201.x86_64.qcow2: 1024 bytes\nSHA256 ("));
        assert!(!text.contains("PGP"));
        let bad = CLEAR.replace("cccc", "dddd");
        assert!(matches!(
            ring(&[KEY]).verify_cleartext(&bad, "u").unwrap_err(),
            SignatureError::Bad { .. }
        ));
    }

    #[test]
    fn policy_decisions() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.asc");
        std::fs::write(&key, KEY).unwrap();
        let keys = vec![key];
        let s = verify_policy(SignatureMode::Off, &[], SUMS, Some(b"junk"), "u").unwrap();
        assert_eq!(s.status, SignatureState::Off);
        let s = verify_policy(SignatureMode::IfPublished, &keys, SUMS, None, "u").unwrap();
        assert_eq!(s.status, SignatureState::NotPublished);
        assert!(matches!(
            verify_policy(SignatureMode::Required, &keys, SUMS, None, "u").unwrap_err(),
            SignatureError::Missing { .. }
        ));
        let s = verify_policy(SignatureMode::Required, &keys, SUMS, Some(SUMS_ASC), "s").unwrap();
        assert_eq!(s.status, SignatureState::Verified);
        assert_eq!(s.key.as_deref(), Some(KEY_FPR));
        assert_eq!(s.url.as_deref(), Some("s"));
        assert!(matches!(
            verify_policy(
                SignatureMode::IfPublished,
                &keys,
                &tampered(SUMS),
                Some(SUMS_ASC),
                "s"
            )
            .unwrap_err(),
            SignatureError::Bad { .. }
        ));
        assert!(matches!(
            verify_policy(SignatureMode::IfPublished, &[], SUMS, Some(SUMS_ASC), "s").unwrap_err(),
            SignatureError::NoKeys { .. }
        ));
        let (s, text) =
            verify_clearsigned_policy(SignatureMode::Required, &keys, CLEAR, "c").unwrap();
        assert_eq!(s.status, SignatureState::Verified);
        assert!(!text.contains("BEGIN PGP"));
        assert!(matches!(
            verify_clearsigned_policy(SignatureMode::Required, &keys, "aa  x\n", "c").unwrap_err(),
            SignatureError::Missing { .. }
        ));
    }
}
