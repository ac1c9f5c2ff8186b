//! Hints for catalog mistakes: "did you mean", and what to write instead.

/// Edit distance (Levenshtein) between two short strings.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

/// Backticked words in a serde message: "unknown field `x`, expected one of `a`, `b`".
fn backticked(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

/// Puts backticks around the names in "expected one of a, b, c" (serde-saphyr leaves them
/// bare), so every message quotes literals the same way.
fn quote_expected(message: &str) -> String {
    const MARK: &str = "expected one of ";
    let Some(idx) = message.find(MARK) else {
        return message.to_owned();
    };
    let (head, list) = message.split_at(idx + MARK.len());
    if list.starts_with('`') {
        return message.to_owned();
    }
    let quoted: Vec<String> = list
        .split(", ")
        .map(|w| format!("`{}`", w.trim()))
        .collect();
    format!("{head}{}", quoted.join(", "))
}

/// Rewrites a parser message into (message, hint, underline width).
pub fn explain(
    message: &str,
    text: &str,
    line: u64,
    column: u64,
) -> (String, Option<String>, usize) {
    let width = token_width(text, line, column);
    if let Some((message, hint)) = in_file_terms(message) {
        return (message, Some(hint), width);
    }
    let message = &quote_expected(message);
    let words = backticked(message);
    let lower = message.to_lowercase();
    let hint = if lower.starts_with("unknown field") || lower.starts_with("unknown variant") {
        let (what, rest) = words.split_first().map_or(("", &[][..]), |(w, r)| (*w, r));
        let kind = if lower.starts_with("unknown field") {
            "keys"
        } else {
            "values"
        };
        match closest(what, rest.iter().copied()) {
            Some(c) => Some(format!("did you mean `{c}`?")),
            None if rest.is_empty() => None,
            None => Some(format!("allowed {kind} here: {}", rest.join(", "))),
        }
    } else if lower.starts_with("missing field") {
        words
            .first()
            .map(|w| format!("add `{w}:` to this entry (see docs/catalog.md)"))
    } else if lower.contains("duplicate") {
        Some(
            "each key may appear only once in a mapping; remove or merge the repeated one"
                .to_owned(),
        )
    } else if lower.contains("boolean") || lower.contains("expected a boolean") {
        Some(
            "write `true` or `false` (YAML 1.1 words such as `yes`/`on` are not accepted)"
                .to_owned(),
        )
    } else if lower.contains("invalid type") && lower.contains("expected a string") {
        Some("quote the value, e.g. `\"24.04\"`: YAML reads unquoted numbers as numbers".to_owned())
    } else if lower.contains("invalid type") {
        Some("check the value's type against docs/catalog.md".to_owned())
    } else if lower.contains("tab") {
        Some("indent with spaces, not tabs".to_owned())
    } else {
        Some("check this value against docs/catalog.md (editors check it with schema/catalog.schema.json)".to_owned())
    };
    (message.to_owned(), hint, width)
}

/// The YAML reader's messages that name its own API (`from_str_multiple`, `Options`,
/// `budget breached: Nodes { … }`, a bare `invalid u32`), said in the file's terms, each
/// with a hint. `None` for messages that already are.
pub fn in_file_terms(message: &str) -> Option<(String, String)> {
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest)
            .trim();
        return Some((
            format!("duplicate key `{key}`: it appears more than once in this mapping"),
            "each key may appear only once in a mapping; remove or merge the repeated one".into(),
        ));
    }
    if message.starts_with("multiple YAML documents detected") {
        return Some((
            "more than one YAML document in one file (a `---` line starts a second one)".into(),
            "a catalog file is one document: remove the `---` line, or move what follows it to a file of its own".into(),
        ));
    }
    if let Some(breach) = message.strip_prefix("budget breached: ") {
        let what = match breach.split([' ', '{', '(']).next().unwrap_or("") {
            "Depth" => "nests deeper than the reader allows (64 levels)",
            "Nodes" => "has more YAML nodes than the reader allows (250,000)",
            "Aliases" | "Anchors" | "AliasExpansion" => {
                "uses more anchors or aliases (`&name`, `*name`) than the reader allows"
            }
            _ => "is larger or more deeply nested than the reader allows",
        };
        return Some((
            format!("the file {what}"),
            "catalog files are small and flat: write entries out instead of nesting or repeating them through aliases".into(),
        ));
    }
    // The reader's grammar words, said as what the file should hold.
    for (said, meant, hint) in [
        (
            "expected string key for externally tagged enum",
            "expected one kind as a key here (e.g. `source:` holds `ubuntu:` or `static:`)",
            "write the kind as the only key, with its settings below it: `source: {ubuntu: {release: \"24.04\"}}`",
        ),
        (
            "expected end of mapping after enum variant value",
            "more than one kind here: `source:` holds exactly one",
            "keep one key under `source:` (an image has one upstream); declare another image for the other",
        ),
        (
            "expected mapping start",
            "expected a mapping (`key: value` lines) here",
            "see docs/catalog.md for this place's keys; a catalog file is a mapping with `images:` (and optional `settings:`, `defaults:`)",
        ),
        (
            "expected sequence start",
            "expected a list (`- item` lines) here",
            "write each entry on its own `- ` line, e.g. `images:` followed by `  - id: ...`",
        ),
        (
            "alias references unknown anchor",
            "`*name` refers to an anchor that is not defined before it",
            "define the anchor (`&name`) earlier in the same file, or write the value out",
        ),
    ] {
        if message.trim() == said {
            return Some((meant.to_owned(), hint.to_owned()));
        }
    }
    let number = message.trim();
    if let Some(kind) = number.strip_prefix("invalid ")
        && let Some(range) = integer_range(kind)
    {
        return Some((
            format!("not a whole number in the range {range}"),
            "write a plain whole number without quotes, sign or unit, e.g. `min_disk: 8`".into(),
        ));
    }
    None
}

fn integer_range(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "u8" => "0 to 255",
        "u16" => "0 to 65535",
        "u32" => "0 to 4294967295",
        "u64" | "usize" => "0 to 18446744073709551615",
        "i32" => "-2147483648 to 2147483647",
        "i64" | "isize" => "-9223372036854775808 to 9223372036854775807",
        _ => return None,
    })
}

/// The length of the identifier-like token at `line:column` (for the underline).
fn token_width(text: &str, line: u64, column: u64) -> usize {
    let Some(l) = usize::try_from(line)
        .ok()
        .and_then(|l| l.checked_sub(1))
        .and_then(|l| text.lines().nth(l))
    else {
        return 1;
    };
    let start = usize::try_from(column.max(1) - 1).unwrap_or(0);
    let w = l
        .chars()
        .skip(start)
        .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | '\''))
        .count();
    w.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos() {
        assert_eq!(
            closest("os_distor", ["os_distro", "os_version"]),
            Some("os_distro")
        );
        assert_eq!(
            closest("publik", ["public", "private", "community"]),
            Some("public")
        );
        assert_eq!(closest("zzzzzz", ["public", "private"]), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn explains_unknown_field() {
        let (_, hint, width) = explain(
            "unknown field `enabeld`, expected one of `id`, `name`, `enabled`",
            "images:\n  - enabeld: true\n",
            2,
            5,
        );
        assert_eq!(hint.as_deref(), Some("did you mean `enabled`?"));
        assert_eq!(width, 7);
    }
}
