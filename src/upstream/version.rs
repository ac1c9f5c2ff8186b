//! Version strings as distributors write them: natural ordering, alias detection, and
//! build dates from build ids.
//!
//! Ordering splits a string into digit and non-digit runs and compares digit runs as
//! numbers, so `1.14 > 1.7`, `3.23.10 > 3.23.4` and `20240821 < 20240821.1 < 20240822`.
//! A string that is a prefix of another (run by run) sorts first. The ordering is total
//! and consistent with equality (ties broken by the plain string).

use std::cmp::Ordering;

/// Compares two version strings naturally (see the module docs).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ra, rb) = (runs(a), runs(b));
    for (x, y) in ra.iter().zip(rb.iter()) {
        let ord = match (x, y) {
            (Run::Num(x), Run::Num(y)) => compare_digits(x, y),
            (Run::Text(x), Run::Text(y)) => x.cmp(y),
            // A number sorts after text at the same position (`1.0` > `1.rc`).
            (Run::Num(_), Run::Text(_)) => Ordering::Greater,
            (Run::Text(_), Run::Num(_)) => Ordering::Less,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    ra.len().cmp(&rb.len()).then_with(|| a.cmp(b))
}

/// A key for `sort_by_key`/`max_by_key` that orders naturally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Natural<'a>(pub &'a str);

impl PartialOrd for Natural<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Natural<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(self.0, other.0)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Run<'a> {
    Num(&'a str),
    Text(&'a str),
}

fn runs(s: &str) -> Vec<Run<'_>> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let digit = bytes[start].is_ascii_digit();
        let mut end = start;
        while end < bytes.len() && bytes[end].is_ascii_digit() == digit {
            end += 1;
        }
        let run = &s[start..end];
        out.push(if digit { Run::Num(run) } else { Run::Text(run) });
        start = end;
    }
    out
}

/// Compares digit strings numerically without overflow (leading zeros ignored).
fn compare_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Whether a file or directory name is a moving alias (`latest`, `current`, `…-latest.…`,
/// `….latest.…`) rather than an immutable, versioned name. Aliases are never selected as
/// builds; they only cross-check a digest.
pub fn is_alias(name: &str) -> bool {
    let lower = name.trim_end_matches('/').to_ascii_lowercase();
    // Split on the separators distributors use; an alias word is a whole segment.
    lower
        .split(['.', '-', '_', '/'])
        .any(|seg| matches!(seg, "latest" | "current"))
}

/// The build date from the first valid `YYYYMMDD` in a build id, as `YYYY-MM-DD`.
///
/// Only an 8-digit run that is a real calendar date between 2000 and 2099 counts, so job
/// numbers (`556894`) and releases (`9.7`) are not mistaken for dates. Longer digit runs
/// (`202607051230`) are accepted when they start with a date (timestamps).
pub fn build_date(id: &str) -> Option<String> {
    runs(id).into_iter().find_map(|r| match r {
        Run::Num(d) if d.len() == 8 || d.len() == 12 || d.len() == 14 => date_of(&d[..8]),
        _ => None,
    })
}

fn date_of(d: &str) -> Option<String> {
    let year: i16 = d[..4].parse().ok()?;
    let month: i8 = d[4..6].parse().ok()?;
    let day: i8 = d[6..8].parse().ok()?;
    if !(2000..=2099).contains(&year) {
        return None;
    }
    let date = jiff::civil::Date::new(year, month, day).ok()?;
    Some(date.to_string())
}

/// Validates a `YYYY-MM-DD` date string (as written in catalogs and lockfiles).
pub fn valid_date(s: &str) -> bool {
    s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<&str>) -> Vec<&str> {
        v.sort_by(|a, b| compare(a, b));
        v
    }

    #[test]
    fn numbers_compare_numerically() {
        assert_eq!(compare("1.14", "1.7"), Ordering::Greater);
        assert_eq!(compare("3.23.10", "3.23.4"), Ordering::Greater);
        assert_eq!(compare("44-1.7", "44-1.10"), Ordering::Less);
        assert_eq!(compare("v10", "v9"), Ordering::Greater);
        assert_eq!(compare("1.0", "1.0"), Ordering::Equal);
        // No overflow on long digit runs.
        assert_eq!(
            compare("99999999999999999999999", "100000000000000000000000"),
            Ordering::Less
        );
    }

    #[test]
    fn ubuntu_serials_sort_by_date_then_respin() {
        assert_eq!(
            sorted(vec!["20240822", "20240821.1", "20240523.1", "20240821"]),
            vec!["20240523.1", "20240821", "20240821.1", "20240822"]
        );
    }

    #[test]
    fn rhel_like_versions() {
        let v = sorted(vec![
            "9.10-20260101",
            "9.8-20260526",
            "9.7-20251123.2",
            "9.7-20251123.10",
        ]);
        assert_eq!(
            v,
            vec![
                "9.7-20251123.2",
                "9.7-20251123.10",
                "9.8-20260526",
                "9.10-20260101"
            ]
        );
    }

    #[test]
    fn ordering_is_total_for_leading_zeros() {
        assert_eq!(compare("1.01", "1.1"), Ordering::Less);
        assert_eq!(compare("1.1", "1.01"), Ordering::Greater);
        let mut v = vec![Natural("b2"), Natural("b10"), Natural("a")];
        v.sort();
        assert_eq!(v, vec![Natural("a"), Natural("b2"), Natural("b10")]);
    }

    #[test]
    fn aliases() {
        for alias in [
            "latest",
            "latest/",
            "current",
            "AlmaLinux-9-GenericCloud-latest.x86_64.qcow2",
            "Rocky-9-GenericCloud-Base.latest.x86_64.qcow2",
            "CentOS-Stream-GenericCloud-9-latest.x86_64.qcow2",
            "debian-12-genericcloud-amd64-latest.qcow2",
        ] {
            assert!(is_alias(alias), "{alias}");
        }
        for name in [
            "AlmaLinux-9-GenericCloud-9.8-20260526.x86_64.qcow2",
            "Rocky-9-GenericCloud-Base-9.7-20251123.2.x86_64.qcow2",
            "20240821/",
            "latestfoo-1.0.img",
            "concurrent-1.img",
        ] {
            assert!(!is_alias(name), "{name}");
        }
    }

    #[test]
    fn build_dates() {
        assert_eq!(build_date("20240821.1").as_deref(), Some("2024-08-21"));
        assert_eq!(build_date("9.8-20260526").as_deref(), Some("2026-05-26"));
        assert_eq!(build_date("20250210-2019").as_deref(), Some("2025-02-10"));
        assert_eq!(
            build_date("v20260715.556894").as_deref(),
            Some("2026-07-15")
        );
        assert_eq!(build_date("44-1.7"), None);
        assert_eq!(build_date("20241399"), None, "month 13 is no date");
        assert_eq!(build_date("20230229"), None, "2023 is no leap year");
        assert_eq!(build_date("20240229").as_deref(), Some("2024-02-29"));
        assert_eq!(build_date("12345678"), None);
        assert!(valid_date("2024-02-29"));
        assert!(!valid_date("2024-2-29"));
        assert!(!valid_date("2023-02-29"));
    }
}
