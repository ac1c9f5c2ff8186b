//! Version strings as distributors write them: natural ordering, alias detection, and
//! build dates from build ids.
//!
//! Ordering splits a string into tokens: digit runs, letter runs and separators (every
//! other character is a token of its own). Digit runs compare as numbers, so
//! `1.14 > 1.7`, `3.23.10 > 3.23.4` and `20240821 < 20240821.1 < 20240822`.
//! Pre-release words (`dev`, `alpha`, `beta`, `pre`, `preview`, `rc`, in that order,
//! any case, with or without a separator before them) and Debian's `~` sort before the
//! end of the string, so `1.0rc1 < 1.0-rc2 < 1.0 < 1.0.1`, `0.3.1~pre4 < 0.3.1` and
//! `41_Beta-1.2 < 41-1.4`. Otherwise a string that ends sorts before one that goes on
//! with a separator, letters or digits, and a number sorts after a word at the same
//! position (`1.0 > 1.rc`). The ordering is total and consistent with equality (ties
//! broken by the plain string).

use std::cmp::Ordering;

/// Compares two version strings naturally (see the module docs).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (tokens(a), tokens(b));
    let len = ta.len().max(tb.len());
    (0..len)
        .map(|i| compare_tokens(ta.get(i), tb.get(i)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.cmp(b))
}

/// One token of a version string. The derive order is the rank at one position:
/// a pre-release sorts before the end of the string, which sorts before anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token<'a> {
    /// A pre-release word (its rank among `PRE_RELEASES`) or `~` (rank 0).
    Pre(usize),
    /// A separator such as `.`, `-`, `_`, `+` or a space.
    Sep(char),
    Text(&'a str),
    Num(Digits<'a>),
}

/// Pre-release words, lowest first. Single letters (`1.1.1b`) are not among them: some
/// projects use them for post-releases.
const PRE_RELEASES: [&str; 6] = ["dev", "alpha", "beta", "pre", "preview", "rc"];

/// A digit run that compares numerically without overflow (leading zeros ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Digits<'a>(&'a str);

impl Ord for Digits<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let a = self.0.trim_start_matches('0');
        let b = other.0.trim_start_matches('0');
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

impl PartialOrd for Digits<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares tokens at one position; `None` is the end of the string.
fn compare_tokens(a: Option<&Token>, b: Option<&Token>) -> Ordering {
    // The end sits between pre-releases and everything else.
    let rank = |t: Option<&Token>| match t {
        Some(Token::Pre(_)) => 0,
        None => 1,
        Some(_) => 2,
    };
    match (a, b) {
        (Some(x), Some(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn tokens(s: &str) -> Vec<Token<'_>> {
    let mut out: Vec<Token> = Vec::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        let len = if c.is_ascii_digit() {
            rest.find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len())
        } else if c.is_alphabetic() {
            rest.find(|c: char| !c.is_alphabetic())
                .unwrap_or(rest.len())
        } else {
            c.len_utf8()
        };
        let (run, tail) = rest.split_at(len);
        rest = tail;
        let token = if c.is_ascii_digit() {
            Token::Num(Digits(run))
        } else if c == '~' {
            Token::Pre(0)
        } else if c.is_alphabetic() {
            match PRE_RELEASES
                .iter()
                .position(|p| run.eq_ignore_ascii_case(p))
            {
                Some(rank) => {
                    // `1.0-rc1`, `1.0.rc1` and `1.0rc1` mean the same pre-release.
                    if matches!(out.last(), Some(Token::Sep(_))) {
                        out.pop();
                    }
                    Token::Pre(rank + 1)
                }
                None => Token::Text(run),
            }
        } else {
            Token::Sep(c)
        };
        out.push(token);
    }
    out
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
    fn pre_releases_sort_before_the_release() {
        assert_eq!(compare("1.0rc1", "1.0"), Ordering::Less);
        assert_eq!(compare("1.0", "1.rc"), Ordering::Greater);
        assert_eq!(compare("0.6.3-rc1", "0.6.3"), Ordering::Less);
        assert_eq!(compare("0.3.1~pre4", "0.3.1"), Ordering::Less);
        assert_eq!(compare("41 Beta", "41"), Ordering::Less);
        assert_eq!(compare("41_Beta-1.2", "41-1.4"), Ordering::Less);
        assert_eq!(
            sorted(vec![
                "1.0.1",
                "1.0",
                "1.0rc2",
                "1.0-rc1",
                "1.0beta",
                "1.0alpha2",
                "1.0.dev3",
                "0.9",
            ]),
            vec![
                "0.9",
                "1.0.dev3",
                "1.0alpha2",
                "1.0beta",
                "1.0-rc1",
                "1.0rc2",
                "1.0",
                "1.0.1"
            ]
        );
        // A letter that is no pre-release word keeps sorting after (OpenSSL's `1.1.1b`).
        assert_eq!(compare("1.1.1b", "1.1.1"), Ordering::Greater);
    }

    #[test]
    fn separators_are_tokens_of_their_own() {
        // A separator is not part of the word after it: `-rc`, `_rc`, ` rc` and `.rc`
        // are all the pre-release `rc` (before the fix, `-rc` was one text run that
        // sorted after the end of `1.0`).
        for v in ["1.0-rc1", "1.0_rc1", "1.0 rc1", "1.0.rc1", "1.0rc1"] {
            assert_eq!(tokens(v), tokens("1.0rc1"), "{v}");
            assert_eq!(compare(v, "1.0"), Ordering::Less, "{v}");
        }
        // Elsewhere separators compare as themselves, and after the end of a string.
        assert_eq!(tokens("1.a-b").len(), 5);
        assert_eq!(compare("1.0-1", "1.0"), Ordering::Greater);
        assert_eq!(compare("20240821", "20240821.1"), Ordering::Less);
    }

    /// A small deterministic generator (xorshift64*), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn version(&mut self) -> String {
            const PARTS: [&str; 20] = [
                "0", "00", "1", "01", "2", "10", "20240821", ".", "-", "_", "~", " ", "+", "rc",
                "RC", "beta", "dev", "a", "b", "x86_",
            ];
            (0..self.below(7))
                .map(|_| PARTS[self.below(PARTS.len())])
                .collect()
        }
    }

    #[test]
    fn ordering_is_a_total_order_over_random_versions() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let versions: Vec<String> = (0..300).map(|_| rng.version()).collect();
        for a in &versions {
            assert_eq!(compare(a, a), Ordering::Equal, "reflexive: {a:?}");
            for b in &versions {
                let ab = compare(a, b);
                assert_eq!(ab, compare(b, a).reverse(), "antisymmetric: {a:?} {b:?}");
                assert_eq!(ab.is_eq(), a == b, "consistent with Eq: {a:?} {b:?}");
            }
        }
        // Transitivity: a sort by `compare` is consistent with every pairwise answer.
        let mut sorted = versions.clone();
        sorted.sort_by(|a, b| compare(a, b));
        for i in 0..sorted.len() {
            for j in i..sorted.len() {
                assert!(
                    compare(&sorted[i], &sorted[j]).is_le(),
                    "not transitive: {:?} {:?}",
                    sorted[i],
                    sorted[j]
                );
            }
        }
        for _ in 0..20_000 {
            let (a, b, c) = (rng.version(), rng.version(), rng.version());
            if compare(&a, &b).is_le() && compare(&b, &c).is_le() {
                assert!(compare(&a, &c).is_le(), "transitive: {a:?} {b:?} {c:?}");
            }
        }
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
