//! The lockfile gate: every check of `state/` that needs no network, in one pure function.
//!
//! `validate` reports its diagnostics; `plan` and `apply` refuse (exit 4) on any error before
//! they connect to a cloud, because a lockfile is the one input that reaches Glance verbatim
//! (`url` becomes `image_source`, the checksums decide what is promoted). `status` marks an
//! image whose lockfile fails the gate instead of comparing Glance with it.

use std::collections::BTreeMap;
use std::path::Path;

use super::format::{self, FormatError};
use super::store::{self, LockFile, ReadError, ReadErrorKind};
use crate::catalog::{self, Catalog, Image};
use crate::diagnostic::{Diagnostic, Severity};

/// Problems of the lockfiles: unreadable files and unknown format versions, lockfiles without
/// a catalog entry, stale locks (resolved for other source settings than the catalog's: the
/// build may not be what the entry now asks for), then the problems of each lock
/// ([`check_lock`]); and (a warning) enabled images not locked yet.
pub fn check(
    state_dir: &Path,
    catalog: Option<&Catalog>,
    locks: &BTreeMap<String, Result<LockFile, ReadError>>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (id, file) in locks {
        let path = crate::diagnostic::display_path(&store::path_for(state_dir, id));
        let file = match file {
            Ok(f) => f,
            Err(e) => {
                out.push(unreadable(&path, e));
                continue;
            }
        };
        if let Some(c) = catalog {
            match c.images.get(id) {
                None => out.push(orphan(&path, id, c)),
                Some(image) => {
                    out.extend(stale(&path, file, image));
                    out.extend(web_download_of_compressed(&path, file, image));
                }
            }
        }
        out.extend(check_lock(&path, file));
    }
    if let Some(c) = catalog {
        out.extend(missing(state_dir, c, locks));
    }
    out
}

/// A compressed artifact with `transfer: web-download`: Glance would store the compressed
/// bytes (it cannot decompress), so the combination is refused rather than silently rerouted.
fn web_download_of_compressed(path: &Path, file: &LockFile, image: &Image) -> Option<Diagnostic> {
    let compression = file.lock.build.compression()?;
    if image.transfer != catalog::Transfer::WebDownload {
        return None;
    }
    let (line, column) = format::place(&file.text, &["build", "image", "compression"])
        .or_else(|| format::place(&file.text, &["build", "url"]))
        .unwrap_or((0, 0));
    Some(
        Diagnostic::error(
            path,
            line as u64,
            column as u64,
            format!(
                "`{}` locks a {compression} artifact, but its catalog entry ({}) has `transfer: web-download`, which cannot decompress",
                file.lock.id, image.origin
            ),
        )
        .with_source(&file.text)
        .with_hint(
            "use `transfer: stream` (or `glance-direct`) for compressed artifacts: the tool decompresses while streaming and Glance stores the disk image",
        ),
    )
}

/// The errors of `check`, if any: what makes `plan` and `apply` refuse.
pub fn errors(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diags
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

/// The problems of one readable lock, on its own: checksums, URLs, dates.
pub fn check_lock(path: &Path, file: &LockFile) -> Vec<Diagnostic> {
    let LockFile { lock, text } = file;
    let id = &lock.id;
    let at = |keys: &[&str], message: String, hint: String| {
        let (line, column) = format::place(text, keys).unwrap_or((0, 0));
        Diagnostic::error(path, line as u64, column as u64, message)
            .with_source(text)
            .with_hint(hint)
    };
    let mut out = Vec::new();
    let b = &lock.build;
    if b.checksums.is_empty() {
        out.push(at(
            &["build", "checksums"],
            format!("`{id}` has no checksum"),
            "run `image-crawler check`; a build without a checksum is never locked".into(),
        ));
    }
    for (algo, hex) in &b.checksums {
        if hex.len() != algo.hex_len()
            || !hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            out.push(at(
                &["build", "checksums", algo.as_str()],
                format!("`{id}`: malformed {algo} checksum `{hex}`"),
                format!(
                    "a {algo} checksum is {} lower-case hex digits",
                    algo.hex_len()
                ),
            ));
        }
    }
    if !crate::upstream::version::valid_date(&b.build_date) {
        out.push(at(
            &["build", "build_date"],
            format!("`{id}`: `{}` is not a date", b.build_date),
            "`build_date` is a real calendar date, `YYYY-MM-DD`; run `image-crawler check`".into(),
        ));
    }
    let mut urls = vec![(vec!["build", "url"], "url", b.url.as_str())];
    urls.push((
        vec!["build", "metadata_url"],
        "metadata_url",
        &b.metadata_url,
    ));
    if let Some(u) = &b.signature.url {
        urls.push((vec!["build", "signature", "url"], "signature.url", u));
    }
    for (keys, field, url) in urls {
        if let Some(problem) = url_problem(url) {
            let mut d = at(
                &keys,
                format!(
                    "`{id}`: {field} `{}` {problem}",
                    crate::catalog::urls::shown(url)
                ),
                "lockfiles name plain http(s) URLs of the upstream files; run `image-crawler check`"
                    .into(),
            );
            crate::catalog::urls::redact_source(&mut d, url);
            out.push(d);
        }
    }
    if crate::catalog::presets::is_alias_url(&b.url) {
        out.push(at(
            &["build", "url"],
            format!("`{id}` locks an alias URL `{}`", b.url),
            "lockfiles must name the immutable, versioned file; run `image-crawler check`".into(),
        ));
    }
    out
}

/// Why `url` may not stand in a lockfile, if it may not: the catalog's URL rule
/// ([`crate::catalog::urls::problem`]): http(s) with a host, no credentials, no whitespace, no
/// `.`/`..` segments.
pub fn url_problem(url: &str) -> Option<String> {
    crate::catalog::urls::problem(url).map(|p| p.what)
}

fn unreadable(path: &Path, e: &ReadError) -> Diagnostic {
    let hint = match &e.source {
        ReadErrorKind::Format(f @ FormatError::UnknownFormat { .. }) => f.hint(),
        _ => {
            "lockfiles are written by `image-crawler check`; restore it from git or run `check` again"
        }
    };
    let mut d = Diagnostic::error(
        path,
        e.line.unwrap_or(0) as u64,
        e.column.unwrap_or(0) as u64,
        format!("unreadable lockfile: {}", e.source),
    );
    if let Some(text) = &e.text {
        d = d.with_source(text);
    }
    d.with_hint(hint)
}

fn orphan(path: &Path, id: &str, c: &Catalog) -> Diagnostic {
    let hint = match crate::catalog::suggest::closest(id, c.images.keys().map(String::as_str)) {
        Some(s) => format!(
            "did you mean `{s}`? rename the file, or remove it if the image was dropped from the catalog"
        ),
        None => "remove it if the image was dropped from the catalog, or restore the catalog entry"
            .to_owned(),
    };
    Diagnostic::error(
        path,
        0,
        0,
        format!("lockfile without a catalog entry: no image `{id}` in the catalog"),
    )
    .with_hint(hint)
}

fn stale(path: &Path, file: &LockFile, image: &Image) -> Option<Diagnostic> {
    if catalog::source_digest(image) == file.lock.source_digest {
        return None;
    }
    let (line, column) = format::place(&file.text, &["source_digest"]).unwrap_or((0, 0));
    let id = &file.lock.id;
    Some(
        Diagnostic::error(
            path,
            line as u64,
            column as u64,
            format!("`{id}` is stale: it was resolved for other source settings than the catalog's"),
        )
        .with_source(&file.text)
        .with_hint(format!(
            "the catalog entry changed after this build was locked: run `image-crawler check {id}` and commit `{}` with the catalog change",
            path.display()
        )),
    )
}

fn missing(
    state_dir: &Path,
    c: &Catalog,
    locks: &BTreeMap<String, Result<LockFile, ReadError>>,
) -> Option<Diagnostic> {
    let missing: Vec<&str> = c
        .enabled()
        .filter(|i| !locks.contains_key(&i.id))
        .map(|i| i.id.as_str())
        .collect();
    if missing.is_empty() {
        return None;
    }
    let shown_ids = if missing.len() > 6 {
        format!(
            "{}, … ({} more)",
            missing[..6].join(", "),
            missing.len() - 6
        )
    } else {
        missing.join(", ")
    };
    Some(
        Diagnostic::warning(
            crate::diagnostic::display_path(state_dir),
            0,
            0,
            format!(
                "{} enabled images have no lockfile yet: {shown_ids}",
                missing.len()
            ),
        )
        .with_hint("run `image-crawler check` to resolve them"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::format::{tests::sample, to_toml};

    fn problems(edit: impl Fn(&str) -> String) -> Vec<String> {
        let text = edit(&to_toml(&sample()));
        let lock = format::from_toml(&text).unwrap();
        check_lock(Path::new("state/x.toml"), &LockFile { lock, text })
            .iter()
            .map(|d| format!("{}: {}", d.place(), d.message))
            .collect()
    }

    #[test]
    fn a_good_lock_passes() {
        assert_eq!(problems(str::to_owned), Vec::<String>::new());
    }

    #[test]
    fn hostile_locks_are_placed() {
        let url = "https://cloud-images.ubuntu.com/releases/noble/release-20240821/ubuntu-24.04-server-cloudimg-amd64.img";
        let cases = [
            (
                url.replace("release-20240821", "current"),
                "state/x.toml:11:7: `ubuntu-24.04` locks an alias URL",
            ),
            (
                url.replace("release-20240821", "a/../../etc"),
                "state/x.toml:11:7: `ubuntu-24.04`: url `https://cloud-images.ubuntu.com/releases/noble/a/../../etc/ubuntu-24.04-server-cloudimg-amd64.img` has a `.` or `..` path segment",
            ),
            (
                url.replace("release-20240821", "%2E%2e"),
                "has a `.` or `..` path segment",
            ),
            ("file:///etc/passwd".to_owned(), "has the scheme `file:`"),
            (
                url.replace("https://", "https://user:pw@"),
                "carries credentials",
            ),
        ];
        for (bad, want) in cases {
            let got = problems(|t| t.replace(url, &bad));
            assert!(got.iter().any(|p| p.contains(want)), "{bad}: {got:?}");
        }
        let got = problems(|t| t.replace("2024-08-21", "2024-02-30"));
        assert_eq!(
            got,
            ["state/x.toml:10:14: `ubuntu-24.04`: `2024-02-30` is not a date"]
        );
        let got = problems(|t| t.replace("a6c7febaf6d0bf2bed6b6fe68a342234", "A6C7"));
        assert_eq!(
            got,
            ["state/x.toml:16:7: `ubuntu-24.04`: malformed md5 checksum `A6C7`"]
        );
    }

    #[test]
    fn url_rules() {
        assert_eq!(url_problem("http://127.0.0.1:8080/a/b-1.img"), None);
        assert_eq!(url_problem("https://x.example/a..b/c.img"), None);
        assert!(url_problem("ftp://x.example/c.img").is_some());
        assert!(url_problem("data:,hello").is_some());
        assert!(url_problem("https://x.example/./c.img").is_some());
        assert!(url_problem("not a url").is_some());
    }
}
