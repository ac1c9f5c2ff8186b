//! Names read from upstream documents (checksum files, listings, simplestreams paths,
//! object-storage keys, JSON manifests) that are joined onto a base URL.
//!
//! Such a name is data from the upstream, not a URL: `../../etc/passwd-20240101.qcow2`,
//! `/abs.qcow2` or `https://evil.example/x.qcow2` must never turn into a lockfile URL
//! outside the directory the catalog names. One rule, one pure function ([`check`]) for
//! every source; a name that breaks it is skipped with a warning ([`admit`]) or, where the
//! document names exactly one file, refused by the caller.

use std::fmt;

/// What shape a name may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One path segment: `debian-12-genericcloud-amd64.qcow2`.
    FileName,
    /// Segments separated by `/` (simplestreams `path`, object keys, checksum files that
    /// list `images/x.qcow2`): none empty, none `.` or `..`, no leading `/`.
    RelativePath,
}

/// Why a name was refused (the text reads after "name … is skipped: ").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsafe {
    Empty,
    Url,
    Absolute,
    ParentOrDot,
    EmptySegment,
    HasSlash,
    Backslash,
    ControlCharacter,
    QueryOrFragment,
    PercentEncoded,
}

impl fmt::Display for Unsafe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unsafe::Empty => "it is empty",
            Unsafe::Url => "it is a URL, not a name relative to the directory",
            Unsafe::Absolute => "it is an absolute path",
            Unsafe::ParentOrDot => "it has a `..` or `.` segment",
            Unsafe::EmptySegment => "it has an empty path segment (`//` or a trailing `/`)",
            Unsafe::HasSlash => "it has a `/` where a plain file name is expected",
            Unsafe::Backslash => "it has a backslash",
            Unsafe::ControlCharacter => "it has a control character",
            Unsafe::QueryOrFragment => "it has a `?` or `#` (a URL query or fragment)",
            Unsafe::PercentEncoded => "it has a percent-encoded byte (`%2e`, `%2f`, …)",
        })
    }
}

/// Whether `name` may be joined onto a directory URL with the given shape (pure).
pub fn check(name: &str, shape: Shape) -> Result<(), Unsafe> {
    if name.is_empty() {
        return Err(Unsafe::Empty);
    }
    if name.contains("://") || name.starts_with("//") {
        return Err(Unsafe::Url);
    }
    if name.chars().any(char::is_control) {
        return Err(Unsafe::ControlCharacter);
    }
    if name.contains('\\') {
        return Err(Unsafe::Backslash);
    }
    if name.contains(['?', '#']) {
        return Err(Unsafe::QueryOrFragment);
    }
    // Names are already decoded (listings decode their hrefs); an encoded byte left in one
    // would be decoded again by the URL parser (`%2e%2e/`).
    let b = name.as_bytes();
    if b.windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
    {
        return Err(Unsafe::PercentEncoded);
    }
    if name.starts_with('/') {
        return Err(Unsafe::Absolute);
    }
    match shape {
        Shape::FileName if name == "." || name == ".." => Err(Unsafe::ParentOrDot),
        Shape::FileName if name.contains('/') => Err(Unsafe::HasSlash),
        Shape::FileName => Ok(()),
        Shape::RelativePath => {
            for segment in name.split('/') {
                if segment.is_empty() {
                    return Err(Unsafe::EmptySegment);
                }
                if segment == "." || segment == ".." {
                    return Err(Unsafe::ParentOrDot);
                }
            }
            Ok(())
        }
    }
}

/// `dir` (ending in `/`) followed by `name`, when the name passes [`check`].
pub fn join(dir: &str, name: &str, shape: Shape) -> Result<String, Unsafe> {
    check(name, shape)?;
    Ok(format!("{dir}{name}"))
}

/// [`check`] for a name among many (a listing, a checksum file): `false` skips it, with a
/// warning naming the document and why.
pub fn admit(document_url: &str, name: &str, shape: Shape) -> bool {
    match check(name, shape) {
        Ok(()) => true,
        Err(why) => {
            tracing::warn!("{document_url}: name {name:?} is skipped: {why}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused() {
        use Shape::*;
        use Unsafe::*;
        let cases: &[(&str, Shape, Result<(), Unsafe>)] = &[
            ("debian-12-amd64-20240101.qcow2", FileName, Ok(())),
            ("a b+c:d.qcow2", FileName, Ok(())),
            ("images/x-20240101.qcow2", RelativePath, Ok(())),
            (
                "server/releases/noble/release-20240423/x.img",
                RelativePath,
                Ok(()),
            ),
            ("", FileName, Err(Empty)),
            (
                "../../etc/passwd-20240101.qcow2",
                RelativePath,
                Err(ParentOrDot),
            ),
            ("../../etc/passwd-20240101.qcow2", FileName, Err(HasSlash)),
            ("sub/../../x.qcow2", RelativePath, Err(ParentOrDot)),
            ("./x.qcow2", RelativePath, Err(ParentOrDot)),
            ("..", FileName, Err(ParentOrDot)),
            (".", FileName, Err(ParentOrDot)),
            ("/abs.qcow2", RelativePath, Err(Absolute)),
            ("/abs.qcow2", FileName, Err(Absolute)),
            ("https://evil.example/x.qcow2", RelativePath, Err(Url)),
            ("https://evil.example/x.qcow2", FileName, Err(Url)),
            ("//evil.example/x.qcow2", RelativePath, Err(Url)),
            ("a//b.qcow2", RelativePath, Err(EmptySegment)),
            ("dir/", RelativePath, Err(EmptySegment)),
            ("..\\x.qcow2", FileName, Err(Backslash)),
            ("x\n.qcow2", FileName, Err(ControlCharacter)),
            ("x.qcow2?a=1", FileName, Err(QueryOrFragment)),
            ("x.qcow2#frag", FileName, Err(QueryOrFragment)),
            ("%2e%2e/x.qcow2", RelativePath, Err(PercentEncoded)),
            ("..%2Fx.qcow2", FileName, Err(PercentEncoded)),
            ("100%.qcow2", FileName, Ok(())),
        ];
        for (name, shape, want) in cases {
            assert_eq!(check(name, *shape), *want, "{name:?} as {shape:?}");
        }
    }

    #[test]
    fn join_keeps_names_inside_the_directory() {
        assert_eq!(
            join("https://h/d/", "x.qcow2", Shape::FileName).unwrap(),
            "https://h/d/x.qcow2"
        );
        assert!(join("https://h/d/", "../x.qcow2", Shape::RelativePath).is_err());
        assert!(!admit("https://h/d/SHA256SUMS", "/etc/x", Shape::FileName));
        assert!(admit("https://h/d/SHA256SUMS", "x", Shape::FileName));
    }
}
