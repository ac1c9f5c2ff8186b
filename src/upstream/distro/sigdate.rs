//! The creation date of an OpenPGP signature, for builds whose id has no date (openSUSE
//! `Build18.7`, Fedora `1.7`). Kept apart from `upstream::signature` (which verifies and
//! applies the policy) because it only reads a packet field: the date is trustworthy exactly
//! when the same signature was verified by the policy, which the callers record.

use pgp::composed::{CleartextSignedMessage, Deserializable, DetachedSignature};

/// `YYYY-MM-DD` (UTC) of the first signature in a detached signature (armoured or binary).
pub fn detached(bytes: &[u8]) -> Option<String> {
    let (sigs, _) = DetachedSignature::from_reader_many(bytes).ok()?;
    let sig = sigs.flatten().next()?;
    date(sig.signature.created()?.as_secs())
}

/// `YYYY-MM-DD` (UTC) of the first signature of a clear-signed message.
pub fn cleartext(text: &str) -> Option<String> {
    let (msg, _) = CleartextSignedMessage::from_string(text).ok()?;
    let sig = msg.signatures().first()?;
    date(sig.created()?.as_secs())
}

fn date(secs: u32) -> Option<String> {
    let ts = jiff::Timestamp::from_second(i64::from(secs)).ok()?;
    Some(jiff::tz::TimeZone::UTC.to_datetime(ts).date().to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn epoch_seconds_to_utc_date() {
        assert_eq!(super::date(1_777_044_858).as_deref(), Some("2026-04-24"));
        assert_eq!(super::date(0).as_deref(), Some("1970-01-01"));
        assert_eq!(super::detached(b"not a signature"), None);
        assert_eq!(super::cleartext("plain text"), None);
    }
}
