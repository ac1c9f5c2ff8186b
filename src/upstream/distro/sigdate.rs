//! The build date of builds whose id has no date (openSUSE `Build18.7`, Fedora `1.7`): the
//! creation date of the signature over their checksums.
//!
//! Only the *verified* signature's date counts when the policy verified one: a file may
//! carry several signatures, and an untrusted one (dated 2099, say) must not decide the
//! build date. With nothing verified (`signature.policy: off`) the dates of the file's
//! signatures are used only when they all name the same day; otherwise there is no date.

use pgp::composed::{CleartextSignedMessage, Deserializable, DetachedSignature};

use crate::upstream::signature::Checked;

/// `YYYY-MM-DD` (UTC) for a detached signature file, given the policy's verdict on it.
pub fn detached(checked: &Checked, bytes: &[u8]) -> Option<String> {
    decide(checked, || {
        let Ok((sigs, _)) = DetachedSignature::from_reader_many(bytes) else {
            return Vec::new();
        };
        sigs.flatten()
            .filter_map(|s| s.signature.created().map(|t| t.as_secs()))
            .collect()
    })
}

/// `YYYY-MM-DD` (UTC) for a clear-signed message, given the policy's verdict on it.
pub fn cleartext(checked: &Checked, text: &str) -> Option<String> {
    decide(checked, || {
        let Ok((msg, _)) = CleartextSignedMessage::from_string(text) else {
            return Vec::new();
        };
        msg.signatures()
            .iter()
            .filter_map(|s| s.created().map(|t| t.as_secs()))
            .collect()
    })
}

fn decide(checked: &Checked, unverified: impl FnOnce() -> Vec<u32>) -> Option<String> {
    if let Some(t) = checked.signed_at {
        return Some(day(t));
    }
    let days: Vec<String> = unverified()
        .into_iter()
        .filter_map(|s| jiff::Timestamp::from_second(i64::from(s)).ok())
        .map(day)
        .collect();
    let first = days.first()?;
    days.iter().all(|d| d == first).then(|| first.clone())
}

fn day(t: jiff::Timestamp) -> String {
    jiff::tz::TimeZone::UTC.to_datetime(t).date().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{SignatureState, SignatureStatus};

    fn unverified() -> Checked {
        Checked {
            status: SignatureStatus::state(SignatureState::Off),
            signed_at: None,
        }
    }

    #[test]
    fn epoch_seconds_to_utc_date() {
        let t = jiff::Timestamp::from_second(1_777_044_858).unwrap();
        assert_eq!(day(t), "2026-04-24");
        assert_eq!(day(jiff::Timestamp::UNIX_EPOCH), "1970-01-01");
        assert_eq!(detached(&unverified(), b"not a signature"), None);
        assert_eq!(cleartext(&unverified(), "plain text"), None);
    }

    #[test]
    fn the_verified_date_wins_and_unverified_dates_must_agree() {
        let verified = Checked {
            signed_at: Some(jiff::Timestamp::from_second(1_777_044_858).unwrap()),
            ..unverified()
        };
        // Whatever the file holds, the verified signature's date decides.
        assert_eq!(
            decide(&verified, || vec![4_070_908_800]).as_deref(),
            Some("2026-04-24")
        );
        assert_eq!(
            decide(&unverified(), || vec![1_777_044_858, 1_777_044_000]).as_deref(),
            Some("2026-04-24")
        );
        assert_eq!(
            decide(&unverified(), || vec![1_777_044_858, 4_070_908_800]),
            None
        );
        assert_eq!(decide(&unverified(), Vec::new), None);
    }
}
