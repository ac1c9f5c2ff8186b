//! Every URL the catalog names, held to one rule ([`problem`]), and the lockfile's URLs too.
//!
//! A URL in the catalog ends up fetched, rewritten through a mirror, or written verbatim into
//! a lockfile and then into Glance (`image_source`). So each one must be a plain absolute
//! `http`/`https` URL with a host, no credentials, no whitespace or control characters, no
//! `.`/`..` segments, and written the way every parser reads it (`https://`, forward
//! slashes): the `url` crate silently drops a tab or newline, reads `https:host` as
//! `https://host/` and `\` as `/`, so the raw text is checked before it is parsed.
//!
//! The fields are every URL-valued field of [`super::raw`]: `settings.mirrors` (both sides)
//! and the URLs of the sources (see [`source_urls`]).

use std::path::Path;

use super::raw::Parsed;
use super::raw::Source;
use crate::diagnostic::Diagnostic;

/// Why a URL may not be used, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlProblem {
    /// Completes "`<url>` …", e.g. "has the scheme `file:`; only http and https are fetched".
    pub what: String,
    pub hint: &'static str,
}

/// Why `url` may not stand in the catalog or a lockfile, if it may not.
pub fn problem(url: &str) -> Option<UrlProblem> {
    let bad = |what: String, hint: &'static str| Some(UrlProblem { what, hint });
    if let Some(c) = url.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return bad(
            format!(
                "has a whitespace or control character ({})",
                c.escape_default()
            ),
            "remove it (a URL parser would drop or keep it silently); write a space inside a path as `%20`",
        );
    }
    let parsed = match url::Url::parse(url) {
        Ok(u) => u,
        Err(url::ParseError::EmptyHost) => {
            return bad(
                "has no host".into(),
                "name the server, e.g. `https://mirror.example.org/ubuntu/`",
            );
        }
        Err(e) => {
            return bad(
                format!("is not a URL ({e})"),
                "write an absolute URL with scheme and host, e.g. `https://mirror.example.org/ubuntu/`",
            );
        }
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return bad(
            format!(
                "has the scheme `{}:`; only http and https are fetched",
                parsed.scheme()
            ),
            "serve local files over HTTP (e.g. `python3 -m http.server`) and name that http:// URL, or map it with `settings.mirrors`",
        );
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return bad(
            "carries credentials; they would end up in lockfiles, logs and Glance".into(),
            "remove `user:password@`; a vendor portal's credentials go in `source.static.auth` (a header read from an environment variable)",
        );
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return bad(
            "has no host".into(),
            "name the server, e.g. `https://mirror.example.org/ubuntu/`",
        );
    }
    let rest = url.split_once(':').map_or("", |(_, rest)| rest);
    if !rest.starts_with("//") || url.contains('\\') {
        return bad(
            "is not written `http(s)://host/path` (parsers differ on a missing `//` or a `\\`)"
                .into(),
            "write it with `//` after the scheme and forward slashes only",
        );
    }
    let raw_path = rest[2..].split(['?', '#']).next().unwrap_or_default();
    let dot_segment = raw_path.split('/').skip(1).any(|seg| {
        let s = seg.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    });
    if dot_segment {
        return bad(
            "has a `.` or `..` path segment".into(),
            "write the path without `.`/`..` segments (they would be resolved silently)",
        );
    }
    None
}

/// `url` fit to print: the user-info of a URL with credentials replaced by `***`, control
/// characters escaped.
pub fn shown(url: &str) -> String {
    let masked = match url::Url::parse(url) {
        Ok(u) if !u.username().is_empty() || u.password().is_some() => {
            let userinfo = url
                .split_once("://")
                .and_then(|(_, rest)| rest.split(['/', '?', '#']).next())
                .and_then(|authority| authority.rsplit_once('@'))
                .map(|(userinfo, _)| userinfo);
            match userinfo {
                Some(ui) if !ui.is_empty() => url.replacen(ui, "***", 1),
                _ => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    };
    masked
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// The URL-valued fields of a source: the key path below the source's kind and the value.
pub(super) fn source_urls(source: &Source) -> Vec<(Vec<&'static str>, &str)> {
    match source {
        Source::ChecksumDir(s) => vec![(vec!["url"], s.url.as_str())],
        Source::ObjectStorage(s) => vec![(vec!["url"], s.url.as_str())],
        Source::GithubRelease(s) => vec![(vec!["api_url"], s.api_url.as_str())],
        Source::Static(s) => s.url.iter().map(|u| (vec!["url"], u.as_str())).collect(),
        Source::DiskimageBuilder(r) => {
            let mut out = vec![(vec!["mirror"], r.mirror.as_str())];
            if let Some(u) = &r.security_mirror {
                out.push((vec!["security_mirror"], u.as_str()));
            }
            out.push((vec!["publish", "url"], r.publish.url.as_str()));
            out
        }
        // The presets build their URLs from the release; nothing written is a URL.
        Source::Ubuntu(_)
        | Source::Debian(_)
        | Source::Almalinux(_)
        | Source::Rocky(_)
        | Source::CentosStream(_)
        | Source::Fedora(_)
        | Source::OpensuseLeap(_)
        | Source::Cirros(_)
        | Source::Alpine(_)
        | Source::Archlinux(_)
        | Source::FedoraCoreos(_)
        | Source::Flatcar(_) => Vec::new(),
    }
}

/// Every URL problem of the parsed catalog files, each at the field's own `file:line:col`.
pub(super) fn check(files: &[Parsed]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for p in files {
        if let Some(s) = &p.file.settings {
            let settings_line = top_level_key_line(&p.text, "settings").unwrap_or(1);
            for (from, to) in &s.mirrors {
                let place = locate(&p.text, settings_line, &["settings", "mirrors", from]);
                if let Some(pr) = problem(from) {
                    let (line, column) = place.map_or((settings_line, 1), |pl| (pl.line, pl.key));
                    out.push(diagnostic(
                        &p.path,
                        &p.text,
                        (line, column, from.chars().count()),
                        format!("mirror prefix `{}` {}", shown(from), pr.what),
                        pr.hint,
                        from,
                    ));
                }
                if let Some(pr) = problem(to) {
                    let (line, column) = place.map_or((settings_line, 1), |pl| (pl.line, pl.value));
                    out.push(diagnostic(
                        &p.path,
                        &p.text,
                        (line, column, to.chars().count()),
                        format!("mirror `{}` → `{}` {}", shown(from), shown(to), pr.what),
                        pr.hint,
                        to,
                    ));
                }
            }
        }
        for entry in &p.file.images {
            // The source's own place; a source without one (never seen) falls back to the id.
            let anchor = if entry.source.referenced.line() > 0 {
                (
                    entry.source.referenced.line(),
                    entry.source.referenced.column(),
                )
            } else {
                (entry.id.referenced.line(), entry.id.referenced.column())
            };
            let kind = entry.source.value.kind();
            for (keys, url) in source_urls(&entry.source.value) {
                let Some(pr) = problem(url) else { continue };
                let mut path = vec![kind];
                path.extend(&keys);
                let field = keys.join(".");
                let (line, column, width) = locate(&p.text, anchor.0, &path)
                    .map_or((anchor.0, anchor.1, kind.len()), |pl| {
                        (pl.line, pl.key, keys.last().map_or(1, |k| k.len()))
                    });
                out.push(diagnostic(
                    &p.path,
                    &p.text,
                    (line, column, width),
                    format!("`{field}: {}` {}", shown(url), pr.what),
                    pr.hint,
                    url,
                ));
            }
        }
    }
    out
}

fn diagnostic(
    path: &Path,
    text: &str,
    (line, column, width): (u64, u64, usize),
    message: String,
    hint: &str,
    url: &str,
) -> Diagnostic {
    let mut d = Diagnostic::error(path, line, column, message)
        .with_width(width)
        .with_source(text)
        .with_hint(hint);
    redact_source(&mut d, url);
    d
}

/// The snippet under a diagnostic quotes the line as written: never with the credentials of
/// `url` in it.
pub fn redact_source(d: &mut Diagnostic, url: &str) {
    let userinfo = url
        .split_once("://")
        .and_then(|(_, r)| r.split(['/', '?', '#']).next())
        .and_then(|a| a.rsplit_once('@'))
        .map(|(userinfo, _)| userinfo)
        .filter(|u| !u.is_empty());
    if let (Some(src), Some(userinfo)) = (&mut d.source_line, userinfo) {
        *src = src.replace(userinfo, "***");
    }
}

/// Where a key and its value stand (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    line: u64,
    key: u64,
    value: u64,
}

/// The 1-based line of a top-level `key:`.
fn top_level_key_line(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .position(|l| split_key(l).is_some_and(|(k, _)| k == key) && !l.starts_with([' ', '-']))
        .map(|i| i as u64 + 1)
}

/// A block-style YAML line as (key, byte offset of the value), comments and list dashes
/// skipped; `None` for blank lines, comments and lines without a key.
fn split_key(line: &str) -> Option<(String, usize)> {
    let body = line.trim_start_matches([' ', '-']);
    if body.is_empty() || body.starts_with('#') {
        return None;
    }
    let (key, after) = if body.starts_with('"') {
        quoted_key(body)?
    } else if let Some(rest) = body.strip_prefix('\'') {
        let end = rest.find('\'')?;
        (rest[..end].to_owned(), &rest[end + 1..])
    } else {
        let end = body
            .find(": ")
            .or_else(|| body.strip_suffix(':').map(str::len))?;
        (body[..end].trim_end().to_owned(), &body[end..])
    };
    let value = after.strip_prefix(':')?.trim_start();
    Some((key, line.len() - value.len()))
}

/// A double-quoted key with its escapes decoded (so `"a\tb"` matches the key `a<TAB>b`), and
/// the text after it.
fn quoted_key(body: &str) -> Option<(String, &str)> {
    let mut key = String::new();
    let mut chars = body.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((key, &body[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                let hex = |n: usize, chars: &mut std::iter::Skip<std::str::CharIndices<'_>>| {
                    let digits: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                    u32::from_str_radix(&digits, 16)
                        .ok()
                        .and_then(char::from_u32)
                };
                key.push(match e {
                    't' => '\t',
                    'n' => '\n',
                    'r' => '\r',
                    '0' => '\0',
                    'a' => '\u{7}',
                    'b' => '\u{8}',
                    'e' => '\u{1b}',
                    ' ' => ' ',
                    'x' => hex(2, &mut chars)?,
                    'u' => hex(4, &mut chars)?,
                    'U' => hex(8, &mut chars)?,
                    other => other,
                });
            }
            c => key.push(c),
        }
    }
    None
}

/// The indentation of a line's key (after spaces and list dashes).
fn key_indent(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '-']).len()
}

/// The place of the value at `path` (each key nested in the one before, block style), where
/// `path[0]` is a key of the block whose first line is `from`. `None` when the text does not
/// show it that way (flow style `{…}`, or the value came from elsewhere).
fn locate(text: &str, from: u64, path: &[&str]) -> Option<Place> {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = usize::try_from(from.checked_sub(1)?).ok()?;
    let mut base = key_indent(lines.get(start)?);
    let mut found = None;
    for key in path {
        let mut hit = None;
        for (i, l) in lines.iter().enumerate().skip(start) {
            let Some((k, value_at)) = split_key(l) else {
                continue;
            };
            let indent = key_indent(l);
            let raw_indent = l.len() - l.trim_start().len();
            // The block ends at a line indented less than its keys (the next list item's dash
            // stands left of them).
            if i > start && (raw_indent < base || indent < base) {
                break;
            }
            if indent == base && k == *key {
                hit = Some((i, indent, value_at));
                break;
            }
        }
        let (i, indent, value_at) = hit?;
        found = Some(Place {
            line: i as u64 + 1,
            key: indent as u64 + 1,
            value: lines[i][..value_at].chars().count() as u64 + 1,
        });
        // The children: the first key line after it, indented more.
        let child = lines
            .iter()
            .enumerate()
            .skip(i + 1)
            .find(|(_, l)| split_key(l).is_some());
        match child {
            Some((ci, cl))
                if key_indent(cl) > indent && (cl.len() - cl.trim_start().len()) > indent =>
            {
                start = ci;
                base = key_indent(cl);
            }
            _ => {
                start = lines.len();
                base = usize::MAX;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        for good in [
            "https://cloud-images.ubuntu.com/releases/",
            "http://127.0.0.1:8080/a/b-1.img",
            "https://x.example/a..b/c.img",
            "HTTPS://X.example/c.img",
        ] {
            assert_eq!(problem(good), None, "{good}");
        }
        for (bad, want) in [
            ("not a url", "whitespace"),
            (
                "mirror.example/ubuntu/",
                "is not a URL (relative URL without a base)",
            ),
            ("https://", "has no host"),
            ("https://:8080/x", "has no host"),
            ("file:///srv/images/", "has the scheme `file:`"),
            ("ftp://x.example/c.img", "has the scheme `ftp:`"),
            ("data:,hello", "has the scheme `data:`"),
            ("https://u:p@x.example/", "carries credentials"),
            ("https://token@x.example/", "carries credentials"),
            ("https://x.example/a b/", "whitespace"),
            ("https://x.example/a\tb/", "whitespace"),
            ("https://x.example/a\u{1b}b/", "control"),
            (" https://x.example/", "whitespace"),
            ("https:x.example/", "not written"),
            ("https:\\\\x.example\\a", "not written"),
            ("https://x.example/./c.img", "`.` or `..`"),
            ("https://x.example/%2E%2e/c.img", "`.` or `..`"),
            (
                "https://x.exa_mple:99999/",
                "is not a URL (invalid port number)",
            ),
        ] {
            let got = problem(bad).map(|p| p.what);
            assert!(
                got.as_deref().is_some_and(|g| g.contains(want)),
                "{bad:?}: {got:?}"
            );
        }
    }

    #[test]
    fn credentials_are_never_shown() {
        assert_eq!(shown("https://u:pw@x.example/a"), "https://***@x.example/a");
        assert_eq!(
            shown("https://tok@x.example/a@b"),
            "https://***@x.example/a@b"
        );
        assert_eq!(shown("https://x.example/a\tb"), "https://x.example/a\\tb");
    }

    #[test]
    fn locates_nested_keys() {
        let text = "images:\n  - id: a\n    source:\n      diskimage-builder:\n        mirror: http://m/\n        publish:\n          listing: s3\n          url: x\n  - id: b\n    source:\n      static:\n        url: y\n";
        let at = |from, path: &[&str]| locate(text, from, path).map(|p| (p.line, p.key, p.value));
        assert_eq!(
            at(4, &["diskimage-builder", "publish", "url"]),
            Some((8, 11, 16))
        );
        assert_eq!(at(4, &["diskimage-builder", "mirror"]), Some((5, 9, 17)));
        assert_eq!(at(4, &["diskimage-builder", "url"]), None);
        assert_eq!(at(11, &["static", "url"]), Some((12, 9, 14)));
        let escaped = "settings:\n  mirrors:\n    \"https://a/\\tb\\x1b\\\"\": x\n";
        assert_eq!(
            locate(
                escaped,
                1,
                &["settings", "mirrors", "https://a/\tb\u{1b}\""]
            )
            .map(|p| p.line),
            Some(3)
        );
        let settings = "# mirrors: no\nsettings:\n  # mirrors:\n  mirrors:\n    \"https://a/\": http://b/\n    https://c/: 'http://d/'\n";
        assert_eq!(
            locate(settings, 2, &["settings", "mirrors", "https://c/"])
                .map(|p| (p.line, p.key, p.value)),
            Some((6, 5, 17))
        );
        assert_eq!(
            locate(settings, 2, &["settings", "mirrors", "https://a/"])
                .map(|p| (p.line, p.key, p.value)),
            Some((5, 5, 19))
        );
        assert_eq!(top_level_key_line(settings, "settings"), Some(2));
    }
}
