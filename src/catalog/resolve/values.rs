//! Small value rules shared by the catalog and the lockfile: ids, dates, checksums, durations.

use sha2::{Digest as _, Sha256};

use crate::catalog::Image;
use crate::catalog::raw::{self, Source};

pub(super) fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// What is wrong with a regular expression, on one line: the regex crate's message spans
/// several (the expression, a caret line, then `error: …`), which would break the diagnostic
/// apart; the place is the diagnostic's.
pub(super) fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    last.strip_prefix("error: ").unwrap_or(last).to_owned()
}

/// The hint under every invalid regular expression.
pub(super) const REGEX_HINT: &str = "the expression is Rust regex syntax (https://docs.rs/regex/#syntax); write it in single quotes so YAML keeps every `\\` as written";

/// `YYYY-MM-DD`, a real date.
pub(crate) fn valid_date(s: &str) -> bool {
    s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok()
}

pub(super) fn valid_checksum(s: &str) -> bool {
    let Some((algo, hex)) = s.split_once(':') else {
        return false;
    };
    let len = match algo {
        "sha256" => 64,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == len
        && hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

/// `30m`, `12h`, `2d`, `1w`.
pub(crate) fn parse_duration(s: &str) -> Result<jiff::SignedDuration, ()> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or(())?);
    let n: i64 = num.parse().map_err(|_| ())?;
    let secs = match unit.trim() {
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(()),
    };
    Ok(jiff::SignedDuration::from_secs(
        n.checked_mul(secs).ok_or(())?,
    ))
}

/// A digest of what a lockfile was resolved from: source, architecture and version policy.
pub fn source_digest(image: &Image) -> String {
    #[derive(serde::Serialize)]
    struct Key<'a> {
        source: &'a Source,
        architecture: raw::Architecture,
        pin: &'a Option<String>,
        matches: &'a Option<String>,
    }
    let key = Key {
        source: &image.source,
        architecture: image.architecture,
        pin: &image.version.pin,
        matches: &image.version.matches,
    };
    let json = serde_json::to_vec(&key).expect("source settings serialize");
    format!("sha256:{}", hex::encode(Sha256::digest(&json)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("2d"),
            Ok(jiff::SignedDuration::from_hours(48))
        );
        assert_eq!(
            parse_duration("30m"),
            Ok(jiff::SignedDuration::from_mins(30))
        );
        assert!(parse_duration("2 days").is_err());
        assert!(parse_duration("d").is_err());
    }

    #[test]
    fn checksums_and_dates() {
        assert!(valid_checksum(&format!("sha256:{}", "a".repeat(64))));
        assert!(!valid_checksum(&format!("sha256:{}", "a".repeat(63))));
        assert!(!valid_checksum(&format!("md5:{}", "a".repeat(32))));
        assert!(valid_date("2024-02-29"));
        assert!(!valid_date("2023-02-29"));
    }
}
