//! The dates the OFFICIAL SCS test accepts: `parse_date` in `image_metadata.py` tries
//! `time.strptime` with `%Y-%m-%dT%H:%M:%SZ`, `%Y-%m-%d %H:%M:%S`, `%Y-%m-%d %H:%M` and
//! `%Y-%m-%d` and converts with `calendar.timegm`, 0 meaning "invalid". CPython's `strptime` is
//! more lenient than the standard's text (`YYYY-MM-DD` or `YYYY-MM-DD hh:mm[:ss]`): one-digit
//! fields, a space before a one-digit day, any run of whitespace for the space, lower-case `t`/`z`,
//! seconds 60 and 61. This module reproduces that (its `_strptime` regexes: alternatives tried in
//! order, the first match must consume the whole string) so `audit` fails exactly what the
//! official test fails; what the standard's text does not allow is a warning elsewhere.

use jiff::Timestamp;

#[derive(Clone, Copy)]
enum Tok {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    /// A space in the format: `\s+`.
    Space,
    /// A literal, matched case-insensitively.
    Lit(char),
}

use Tok::*;

const FORMATS: &[&[Tok]] = &[
    &[
        Year,
        Lit('-'),
        Month,
        Lit('-'),
        Day,
        Lit('T'),
        Hour,
        Lit(':'),
        Minute,
        Lit(':'),
        Second,
        Lit('Z'),
    ],
    &[
        Year,
        Lit('-'),
        Month,
        Lit('-'),
        Day,
        Space,
        Hour,
        Lit(':'),
        Minute,
        Lit(':'),
        Second,
    ],
    &[
        Year,
        Lit('-'),
        Month,
        Lit('-'),
        Day,
        Space,
        Hour,
        Lit(':'),
        Minute,
    ],
    &[Year, Lit('-'), Month, Lit('-'), Day],
];

/// One alternative of a field's regex: a character class per character.
type Alternative = &'static [fn(char) -> bool];

/// The alternatives of a field's regex, in CPython's order: each is a list of character
/// classes, one per character; the value is the digits of the matched text.
fn alternatives(t: Tok) -> &'static [Alternative] {
    fn d(c: char) -> bool {
        c.is_ascii_digit()
    }
    fn nz(c: char) -> bool {
        ('1'..='9').contains(&c)
    }
    fn c0(c: char) -> bool {
        c == '0'
    }
    fn c1(c: char) -> bool {
        c == '1'
    }
    fn c01(c: char) -> bool {
        c == '0' || c == '1'
    }
    fn c12(c: char) -> bool {
        c == '1' || c == '2'
    }
    fn c2(c: char) -> bool {
        c == '2'
    }
    fn c3(c: char) -> bool {
        c == '3'
    }
    fn c6(c: char) -> bool {
        c == '6'
    }
    fn to2(c: char) -> bool {
        ('0'..='2').contains(&c)
    }
    fn to3(c: char) -> bool {
        ('0'..='3').contains(&c)
    }
    fn to5(c: char) -> bool {
        ('0'..='5').contains(&c)
    }
    fn sp(c: char) -> bool {
        c == ' '
    }
    match t {
        Year => &[&[d, d, d, d]],
        // (?P<m>1[0-2]|0[1-9]|[1-9])
        Month => &[&[c1, to2], &[c0, nz], &[nz]],
        // (?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])
        Day => &[&[c3, c01], &[c12, d], &[c0, nz], &[nz], &[sp, nz]],
        // (?P<H>2[0-3]|[0-1]\d|\d)
        Hour => &[&[c2, to3], &[c01, d], &[d]],
        // (?P<M>[0-5]\d|\d)
        Minute => &[&[to5, d], &[d]],
        // (?P<S>6[0-1]|[0-5]\d|\d)
        Second => &[&[c6, c01], &[to5, d], &[d]],
        Space | Lit(_) => &[],
    }
}

/// Matches `toks` against `s[at..]` the way Python's `re.match` does (first successful path,
/// no end anchor); returns the end position and the field values in order.
fn first_match(toks: &[Tok], s: &[char], at: usize, vals: &mut Vec<u32>) -> Option<usize> {
    let Some((&tok, rest)) = toks.split_first() else {
        return Some(at);
    };
    match tok {
        Lit(c) => {
            let ok = s
                .get(at)
                .is_some_and(|x| x.to_lowercase().eq(c.to_lowercase()));
            if ok {
                first_match(rest, s, at + 1, vals)
            } else {
                None
            }
        }
        Space => {
            // `\s+` is greedy: longest run first, then shorter ones.
            let mut n = 0;
            while s.get(at + n).is_some_and(|c| c.is_whitespace()) {
                n += 1;
            }
            (1..=n)
                .rev()
                .find_map(|k| first_match(rest, s, at + k, vals))
        }
        field => {
            for alt in alternatives(field) {
                let fits = alt
                    .iter()
                    .enumerate()
                    .all(|(i, class)| s.get(at + i).is_some_and(|c| class(*c)));
                if !fits {
                    continue;
                }
                let value = s[at..at + alt.len()]
                    .iter()
                    .filter_map(|c| c.to_digit(10))
                    .fold(0, |acc, d| acc * 10 + d);
                vals.push(value);
                if let Some(end) = first_match(rest, s, at + alt.len(), vals) {
                    return Some(end);
                }
                vals.pop();
            }
            None
        }
    }
}

/// What the official `parse_date` makes of `s`: `None` where it returns 0 (no format matches,
/// an impossible date, or exactly 1970-01-01T00:00:00Z, which is 0).
pub fn parse_official_date(s: &str) -> Option<Timestamp> {
    let chars: Vec<char> = s.chars().collect();
    FORMATS.iter().find_map(|fmt| {
        let mut v = Vec::new();
        let end = first_match(fmt, &chars, 0, &mut v)?;
        if end != chars.len() {
            return None; // "unconverted data remains"
        }
        let get = |i: usize| v.get(i).copied().unwrap_or(0);
        let (year, month, day) = (get(0), get(1), get(2));
        let date = jiff::civil::Date::new(
            i16::try_from(year).ok()?,
            i8::try_from(month).ok()?,
            i8::try_from(day).ok()?,
        )
        .ok()?;
        if year == 0 {
            return None; // datetime.date refuses year 0
        }
        // `calendar.timegm` adds the fields up, so second 60 and 61 roll over.
        let secs = i64::from(get(3)) * 3600 + i64::from(get(4)) * 60 + i64::from(get(5));
        let midnight = jiff::tz::TimeZone::UTC
            .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
            .ok()?;
        let ts = midnight
            .checked_add(jiff::SignedDuration::from_secs(secs))
            .ok()?;
        (ts.as_second() != 0).then_some(ts)
    })
}

/// Whether `s` has a form the standard's text allows for `image_build_date`: `YYYY-MM-DD` or
/// `YYYY-MM-DD hh:mm[:ss]` (two-digit fields, one space).
pub fn is_standard_form(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    let date = b.len() >= 10
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10);
    match b.len() {
        10 => date,
        16 => date && b[10] == b' ' && digits(11..13) && b[13] == b':' && digits(14..16),
        19 => {
            date && b[10] == b' '
                && digits(11..13)
                && b[13] == b':'
                && digits(14..16)
                && b[16] == b':'
                && digits(17..19)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_cpython_strptime_accepts() {
        // Expected values from CPython 3.11 (`calendar.timegm(time.strptime(s, fmt))` over the
        // four formats of image_metadata.py), run by hand; `None` = parse_date returned 0.
        let cases: &[(&str, Option<&str>)] = &[
            ("2025-10-08T00:00:00Z", Some("2025-10-08T00:00:00Z")),
            ("2025-10-08t00:00:00z", Some("2025-10-08T00:00:00Z")),
            ("2025-1-8", Some("2025-01-08T00:00:00Z")),
            ("2025-10-8", Some("2025-10-08T00:00:00Z")),
            ("2024-05-01 1:2", Some("2024-05-01T01:02:00Z")),
            ("2024-05-01  10:11", Some("2024-05-01T10:11:00Z")),
            ("2024-05-01 10:11:61", Some("2024-05-01T10:12:01Z")),
            ("2024-02-30", None),
            ("2024-05- 1", Some("2024-05-01T00:00:00Z")),
            ("20240501", None),
            ("2024-05-01T10:11", None),
            ("2024-05-01 ", None),
            (" 2024-05-01", None),
            ("2024-05-01\t10:11", Some("2024-05-01T10:11:00Z")),
            ("0000-01-01", None),
            ("2024-05-01 24:00", None),
            ("2024-05-01 23:60", None),
            ("2024-05-01T1:2:3Z", Some("2024-05-01T01:02:03Z")),
            ("2024-05-01 10:11:12.5", None),
            ("2024-05-01 10", None),
            ("2024-12-31 23:59:60", Some("2025-01-01T00:00:00Z")),
            ("1970-01-01", None),
            ("2026-11-01", Some("2026-11-01T00:00:00Z")),
            ("2026-11-01 23:59:59", Some("2026-11-01T23:59:59Z")),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(
                parse_official_date(s).map(|t| t.to_string()).as_deref(),
                *want,
                "{s:?}"
            );
        }
    }

    #[test]
    fn the_standard_form_is_narrower() {
        for ok in ["2026-11-01", "2026-11-01 10:11", "2026-11-01 10:11:12"] {
            assert!(is_standard_form(ok), "{ok}");
        }
        for not in [
            "2025-10-08T00:00:00Z",
            "2025-1-8",
            "2024-05-01  10:11",
            "2024-05-01 1:2",
        ] {
            assert!(!is_standard_form(not), "{not}");
        }
    }
}
