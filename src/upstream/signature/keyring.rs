//! The trusted keys and what `gpgv` would say about each signature they are asked about.
//!
//! A signature counts only when the (sub)key that made it is *usable* at the verification
//! time, the way gpgv decides it: the primary key carries a valid self-signature (user ID
//! certification or direct-key signature) and no valid revocation; a subkey carries a valid
//! binding signature by the primary, a valid primary-key binding ("back") signature when it
//! signs, and no valid revocation; the newest self/binding signature gives the key flags and
//! the expiry. rPGP only checks the cryptography of one packet, so this module adds the rest.

use std::path::Path;

use pgp::composed::{Deserializable, SignedPublicKey, SignedPublicSubKey};
use pgp::packet::{Signature, SignatureType, SubpacketData};
use pgp::types::{KeyDetails, Tag};

use super::SignatureError;

/// Clock skew allowed for a signature dated after "now" (gpgv allows any; see [`Verdict::Future`]).
const FUTURE_SKEW_SECS: i64 = 300;

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
    /// When the verified signature was made (the date openSUSE and Fedora builds lack).
    pub created: jiff::Timestamp,
}

/// What gpgv answers for one signature (its `--status-fd` keyword in the docs of each arm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `GOODSIG` + `VALIDSIG`.
    Good,
    /// `BADSIG`: a trusted key's signature that does not match the bytes.
    Bad,
    /// `EXPSIG`: the signature's own expiry passed.
    ExpiredSig { expired: jiff::Timestamp },
    /// `EXPKEYSIG`: the primary key or the signing subkey expired.
    ExpiredKey { expired: jiff::Timestamp },
    /// `REVKEYSIG`: the primary key or the signing subkey is revoked.
    RevokedKey,
    /// `ERRSIG … 9` + `NO_PUBKEY`: no trusted key made it.
    NoPublicKey,
    /// `ERRSIG … 125`: the (sub)key is not allowed to sign.
    WrongUsage,
    /// `ERRSIG … 39`: the signature is older than the key that made it.
    TimeConflict { key_created: jiff::Timestamp },
    /// The (sub)key lacks a valid self-signature, binding or back signature; gpgv ignores
    /// such a (sub)key, so it answers `NO_PUBKEY`.
    Unbound,
    /// Dated after "now" (beyond a few minutes of skew). gpgv says `GOODSIG` here; the tool
    /// is stricter because that date becomes the build date of openSUSE and Fedora builds.
    Future,
}

impl Verdict {
    /// gpgv's `--status-fd` answer for the same signature (`ERRSIG` with its reason code),
    /// the yardstick of tests/gpg_parity.rs.
    pub fn gpgv_status(&self) -> &'static str {
        match self {
            Verdict::Good => "GOODSIG",
            Verdict::Bad => "BADSIG",
            Verdict::ExpiredSig { .. } => "EXPSIG",
            Verdict::ExpiredKey { .. } => "EXPKEYSIG",
            Verdict::RevokedKey => "REVKEYSIG",
            Verdict::NoPublicKey | Verdict::Unbound => "ERRSIG 9",
            Verdict::WrongUsage => "ERRSIG 125",
            Verdict::TimeConflict { .. } => "ERRSIG 39",
            // gpgv accepts it; the tool does not (see the variant).
            Verdict::Future => "GOODSIG",
        }
    }
}

/// One signature of a file and the verdict on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigReport {
    /// The issuer as the signature names it (fingerprint, else key id), upper-case hex.
    pub issuer: String,
    /// The primary key's fingerprint, when a trusted key matches the issuer.
    pub key: Option<String>,
    /// The subkey's fingerprint, when a subkey matches.
    pub subkey: Option<String>,
    pub created: Option<jiff::Timestamp>,
    pub verdict: Verdict,
}

impl Keyring {
    /// Loads every key of every file (armoured or binary; a file may hold several keys).
    pub fn load(paths: &[std::path::PathBuf]) -> Result<Keyring, SignatureError> {
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

    /// Adds the keys in `bytes` (armoured or binary); `origin` names them in errors. A key
    /// without a valid self-signature is refused here: it could never make a good signature.
    pub fn add(&mut self, bytes: &[u8], origin: &Path) -> Result<(), SignatureError> {
        let err = |message: String| SignatureError::Key {
            path: origin.to_owned(),
            message,
        };
        let before = self.keys.len();
        // A vendor file may hold several armour blocks one after the other (AlmaLinux 8).
        for block in armour_blocks(bytes) {
            self.add_block(block, &err)?;
        }
        if self.keys.len() == before {
            return Err(err("no public key in the file".into()));
        }
        Ok(())
    }

    fn add_block(
        &mut self,
        bytes: &[u8],
        err: &impl Fn(String) -> SignatureError,
    ) -> Result<(), SignatureError> {
        let (keys, _) = SignedPublicKey::from_reader_many(bytes).map_err(|e| err(e.to_string()))?;
        for key in keys {
            let key = key.map_err(|e| err(e.to_string()))?;
            if self_signature(&key).is_none() {
                return Err(err(format!(
                    "the key {} has no valid self-signature",
                    fingerprint(&key)
                )));
            }
            self.keys.push(key);
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The primary fingerprints, upper-case hex.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys.iter().map(fingerprint).collect()
    }

    pub(super) fn describe(&self) -> String {
        let fps = self.fingerprints();
        if fps.is_empty() {
            "(no keys)".into()
        } else {
            fps.join(", ")
        }
    }

    /// The verdict on each signature over `data`, as gpgv would list them.
    pub fn check(&self, sigs: &[Signature], data: &[u8], now: jiff::Timestamp) -> Vec<SigReport> {
        sigs.iter().map(|s| self.check_one(s, data, now)).collect()
    }

    fn check_one(&self, sig: &Signature, data: &[u8], now: jiff::Timestamp) -> SigReport {
        let mut report = unmatched(sig);
        for key in &self.keys {
            for component in components(key) {
                if !component.is_issuer_of(sig) {
                    continue;
                }
                report.key = Some(fingerprint(key));
                report.subkey = component.sub.map(|s| format!("{:X}", s.key.fingerprint()));
                if !component.verifies(sig, data) {
                    report.verdict = Verdict::Bad;
                    continue;
                }
                report.verdict = usability(key, &component, sig, now);
                return report;
            }
        }
        report
    }

    /// The verdict on one signature over bytes read ONCE from `data` (an image on its way
    /// into Glance, fed by [`super::StreamCheck`]): only the first trusted (sub)key that the
    /// signature names as its issuer is tried.
    pub fn check_read(
        &self,
        sig: &Signature,
        data: impl std::io::Read,
        now: jiff::Timestamp,
    ) -> SigReport {
        let mut report = unmatched(sig);
        let Some((key, component)) = self
            .keys
            .iter()
            .flat_map(|k| components(k).map(move |c| (k, c)))
            .find(|(_, c)| c.is_issuer_of(sig))
        else {
            return report;
        };
        report.key = Some(fingerprint(key));
        report.subkey = component.sub.map(|s| format!("{:X}", s.key.fingerprint()));
        let good = match component.sub {
            Some(s) => sig.verify(&s.key, data).is_ok(),
            None => sig.verify(component.primary, data).is_ok(),
        };
        report.verdict = if good {
            usability(key, &component, sig, now)
        } else {
            Verdict::Bad
        };
        report
    }

    /// Whether a trusted (sub)key is named as the issuer of `sig` (nothing verified yet).
    pub fn knows_issuer(&self, sig: &Signature) -> bool {
        self.keys
            .iter()
            .any(|k| components(k).any(|c| c.is_issuer_of(sig)))
    }

    /// The verdict on each signature of a detached signature file over `data`.
    pub fn check_detached(
        &self,
        data: &[u8],
        signature: &[u8],
        url: &str,
        now: jiff::Timestamp,
    ) -> Result<Vec<SigReport>, SignatureError> {
        let sigs = super::parse_detached(signature, url)?;
        let sigs: Vec<Signature> = sigs.into_iter().map(|s| s.signature).collect();
        Ok(self.check(&sigs, data, now))
    }

    /// Verifies detached signatures (armoured or binary) over `data` at `now`.
    pub fn verify_detached(
        &self,
        data: &[u8],
        signature: &[u8],
        url: &str,
        now: jiff::Timestamp,
    ) -> Result<Verified, SignatureError> {
        self.decide(&self.check_detached(data, signature, url, now)?, url)
    }

    /// Verifies a clear-signed message at `now`; returns the signed text (dash escapes
    /// undone, `\n` line endings) for the caller to parse.
    pub fn verify_cleartext(
        &self,
        text: &str,
        url: &str,
        now: jiff::Timestamp,
    ) -> Result<(Verified, String), SignatureError> {
        let msg = super::parse_cleartext(text, url)?;
        let signed = msg.signed_text();
        let verified = self.decide(&self.check(msg.signatures(), signed.as_bytes(), now), url)?;
        let mut text = signed.replace("\r\n", "\n");
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Ok((verified, text))
    }

    /// A file is accepted when one signature is good and none is bad (a trusted key's
    /// signature that does not match means tampering, whatever the others say). Extra
    /// signatures by other or retired keys are normal (key rotation) and do not count.
    pub(super) fn decide(
        &self,
        reports: &[SigReport],
        url: &str,
    ) -> Result<Verified, SignatureError> {
        let keys = || self.describe();
        if let Some(bad) = reports.iter().find(|r| r.verdict == Verdict::Bad) {
            return Err(SignatureError::Bad {
                url: url.into(),
                keys: bad.key.clone().unwrap_or_else(keys),
            });
        }
        if let Some(good) = reports.iter().find(|r| r.verdict == Verdict::Good) {
            return Ok(Verified {
                fingerprint: good.key.clone().expect("a good signature names its key"),
                created: good.created.expect("a good signature has a creation time"),
            });
        }
        // The most telling refusal: a trusted key's problem before "not our key".
        let Some(worst) = reports
            .iter()
            .find(|r| r.verdict != Verdict::NoPublicKey)
            .or(reports.first())
        else {
            return Err(SignatureError::Malformed {
                url: url.into(),
                message: "no signature packet".into(),
            });
        };
        Err(refusal(worst, url, keys()))
    }
}

/// The armour blocks of a key file, or the whole file when it is binary or has one block.
fn armour_blocks(bytes: &[u8]) -> Vec<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN PGP PUBLIC KEY BLOCK-----";
    let starts: Vec<usize> = bytes
        .windows(BEGIN.len())
        .enumerate()
        .filter(|(_, w)| *w == BEGIN)
        .map(|(i, _)| i)
        .collect();
    if starts.len() < 2 {
        return vec![bytes];
    }
    starts
        .iter()
        .enumerate()
        .map(|(n, &at)| &bytes[at..starts.get(n + 1).copied().unwrap_or(bytes.len())])
        .collect()
}

fn refusal(report: &SigReport, url: &str, keys: String) -> SignatureError {
    let key = || match (&report.key, &report.subkey) {
        (Some(k), Some(s)) => format!("{k} (signing subkey {s})"),
        (Some(k), None) => k.clone(),
        _ => report.issuer.clone(),
    };
    let url = url.to_owned();
    match &report.verdict {
        Verdict::RevokedKey => SignatureError::Revoked { url, key: key() },
        Verdict::ExpiredKey { expired } => SignatureError::ExpiredKey {
            url,
            key: key(),
            expired: *expired,
        },
        Verdict::ExpiredSig { expired } => SignatureError::Unusable {
            url,
            key: key(),
            reason: format!("the signature itself expired at {expired}"),
        },
        Verdict::WrongUsage => SignatureError::Unusable {
            url,
            key: key(),
            reason: "the key is not certified for signing (no signing flag)".into(),
        },
        Verdict::TimeConflict { key_created } => SignatureError::Unusable {
            url,
            key: key(),
            reason: format!(
                "the signature is dated {}, before the key was created ({key_created})",
                show(report.created)
            ),
        },
        Verdict::Unbound => SignatureError::Unusable {
            url,
            key: key(),
            reason: "the signing subkey has no valid binding or back signature".into(),
        },
        Verdict::Future => SignatureError::Unusable {
            url,
            key: key(),
            reason: format!(
                "the signature is dated {}, in the future (clock skew or a forged date)",
                show(report.created)
            ),
        },
        Verdict::NoPublicKey => SignatureError::Untrusted {
            url,
            issuers: report.issuer.clone(),
            keys,
        },
        Verdict::Good | Verdict::Bad => unreachable!("decided before"),
    }
}

fn show(t: Option<jiff::Timestamp>) -> String {
    t.map_or_else(|| "(no date)".into(), |t| t.to_string())
}

/// Whether the matching, cryptographically valid (sub)key may make this signature at `now`.
/// The order of the checks is gpgv's: signature expiry, then key expiry, then revocation.
fn usability(
    key: &SignedPublicKey,
    component: &Component<'_>,
    sig: &Signature,
    now: jiff::Timestamp,
) -> Verdict {
    let Some(self_sig) = self_signature(key) else {
        return Verdict::Unbound;
    };
    let binding = match component.sub {
        None => self_sig,
        Some(sub) => match binding_signature(key, sub) {
            Some(b) => b,
            None => return Verdict::Unbound,
        },
    };
    let component_created = component.created();
    let sig_created = sig.created().map(|t| i64::from(t.as_secs()));
    let Some(sig_created) = sig_created else {
        return Verdict::Bad;
    };
    if sig_created < i64::from(component_created) {
        return Verdict::TimeConflict {
            key_created: timestamp(component_created).unwrap_or_default(),
        };
    }
    if !may_sign(binding) {
        return Verdict::WrongUsage;
    }
    if component.sub.is_some() && binding_lacks_backsig(binding, component, key) {
        return Verdict::Unbound;
    }
    let now_secs = now.as_second();
    if sig_created > now_secs + FUTURE_SKEW_SECS {
        return Verdict::Future;
    }
    if let Some(d) = sig.signature_expiration_time().map(|d| d.as_secs())
        && d > 0
        && sig_created + i64::from(d) <= now_secs
    {
        return Verdict::ExpiredSig {
            expired: timestamp_i64(sig_created + i64::from(d)),
        };
    }
    let primary_expiry = expiry(key.primary_key.created_at().as_secs(), self_sig);
    let sub_expiry = component
        .sub
        .and_then(|s| expiry(s.key.created_at().as_secs(), binding));
    if let Some(expired) = [primary_expiry, sub_expiry]
        .into_iter()
        .flatten()
        .filter(|e| *e <= now_secs)
        .min()
    {
        return Verdict::ExpiredKey {
            expired: timestamp_i64(expired),
        };
    }
    let revoked = key.details.revocation_signatures.iter().any(|r| {
        r.typ() == Some(SignatureType::KeyRevocation) && r.verify_key(&key.primary_key).is_ok()
    }) || component.sub.is_some_and(|sub| {
        sub.signatures.iter().any(|r| {
            r.typ() == Some(SignatureType::SubkeyRevocation)
                && r.verify_subkey_binding(&key.primary_key, &sub.key).is_ok()
        })
    });
    if revoked {
        return Verdict::RevokedKey;
    }
    Verdict::Good
}

/// The newest valid self-signature of the primary key (user ID certification or direct-key
/// signature): it carries the primary key's flags and expiry.
fn self_signature(key: &SignedPublicKey) -> Option<&Signature> {
    let primary = &key.primary_key;
    let certs = key.details.users.iter().flat_map(|user| {
        user.signatures.iter().filter(move |s| {
            s.is_certification()
                && s.typ() != Some(SignatureType::CertRevocation)
                && s.verify_certification(primary, Tag::UserId, &user.id)
                    .is_ok()
        })
    });
    let direct = key
        .details
        .direct_signatures
        .iter()
        .filter(|s| s.verify_key(primary).is_ok());
    newest(certs.chain(direct))
}

/// The newest valid binding signature of a subkey.
fn binding_signature<'a>(
    key: &SignedPublicKey,
    sub: &'a SignedPublicSubKey,
) -> Option<&'a Signature> {
    newest(sub.signatures.iter().filter(|s| {
        s.typ() == Some(SignatureType::SubkeyBinding)
            && s.verify_subkey_binding(&key.primary_key, &sub.key).is_ok()
    }))
}

fn binding_lacks_backsig(
    binding: &Signature,
    component: &Component<'_>,
    key: &SignedPublicKey,
) -> bool {
    let Some(sub) = component.sub else {
        return false;
    };
    !binding.embedded_signature().is_some_and(|b| {
        b.verify_primary_key_binding(&sub.key, &key.primary_key)
            .is_ok()
    })
}

fn newest<'a>(sigs: impl Iterator<Item = &'a Signature>) -> Option<&'a Signature> {
    sigs.max_by_key(|s| s.created().map(|t| t.as_secs()).unwrap_or(0))
}

/// A self/binding signature without a key-flags subpacket leaves the usage to the algorithm
/// (RFC 9580 §5.2.3.29; gpg does the same): every algorithm we verify can sign.
fn may_sign(binding: &Signature) -> bool {
    let has_flags = binding.config().is_some_and(|c| {
        c.hashed_subpackets()
            .any(|p| matches!(p.data, SubpacketData::KeyFlags(_)))
    });
    !has_flags || binding.key_flags().sign()
}

/// The expiry (epoch seconds) a self/binding signature sets for a key created at `created`.
fn expiry(created: u32, sig: &Signature) -> Option<i64> {
    let d = sig.key_expiration_time()?.as_secs();
    (d > 0).then(|| i64::from(created) + i64::from(d))
}

/// A primary key or a subkey of one certificate.
struct Component<'a> {
    primary: &'a pgp::packet::PublicKey,
    sub: Option<&'a SignedPublicSubKey>,
}

fn components(key: &SignedPublicKey) -> impl Iterator<Item = Component<'_>> {
    std::iter::once(Component {
        primary: &key.primary_key,
        sub: None,
    })
    .chain(key.public_subkeys.iter().map(|sub| Component {
        primary: &key.primary_key,
        sub: Some(sub),
    }))
}

impl Component<'_> {
    fn created(&self) -> u32 {
        match self.sub {
            Some(s) => s.key.created_at().as_secs(),
            None => self.primary.created_at().as_secs(),
        }
    }

    fn is_issuer_of(&self, sig: &Signature) -> bool {
        let (fpr, id) = match self.sub {
            Some(s) => (s.key.fingerprint(), s.key.legacy_key_id()),
            None => (self.primary.fingerprint(), self.primary.legacy_key_id()),
        };
        let fprs = sig.issuer_fingerprint();
        let ids = sig.issuer_key_id();
        if fprs.is_empty() && ids.is_empty() {
            return true;
        }
        fprs.iter().any(|f| **f == fpr) || ids.iter().any(|i| **i == id)
    }

    fn verifies(&self, sig: &Signature, data: &[u8]) -> bool {
        match self.sub {
            Some(s) => sig.verify(&s.key, data).is_ok(),
            None => sig.verify(self.primary, data).is_ok(),
        }
    }
}

/// The report of a signature no trusted key has been matched with yet.
fn unmatched(sig: &Signature) -> SigReport {
    SigReport {
        issuer: issuer(sig),
        key: None,
        subkey: None,
        created: sig.created().and_then(|t| timestamp(t.as_secs())),
        verdict: Verdict::NoPublicKey,
    }
}

pub(super) fn issuer(sig: &Signature) -> String {
    if let Some(f) = sig.issuer_fingerprint().first() {
        return format!("{f:X}");
    }
    sig.issuer_key_id().first().map_or_else(
        || "(no issuer)".into(),
        |id| id.as_ref().iter().map(|b| format!("{b:02X}")).collect(),
    )
}

pub(super) fn fingerprint(key: &SignedPublicKey) -> String {
    format!("{:X}", key.primary_key.fingerprint())
}

fn timestamp(secs: u32) -> Option<jiff::Timestamp> {
    jiff::Timestamp::from_second(i64::from(secs)).ok()
}

fn timestamp_i64(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::MAX)
}
