//! ONE parser for every checksum file the distributors publish (docs/upstream-formats.md §12).
//!
//! Accepted, in any mix within one file:
//! - GNU lines: `<hex>  <name>`, `<hex> *<name>` (binary mode), `<hex> <name>`;
//! - BSD tag lines: `SHA256 (<name>) = <hex>` (also `SHA256(<name>)= <hex>` spacing variants);
//! - `# <name>: <N> bytes` comments, which give the size of `<name>`; other `#` comments;
//! - blank lines, CRLF line endings, a missing final newline;
//! - PGP clear-sign armour (the header and the signature block are skipped, `- ` dash
//!   escapes are undone; the signature itself is checked by [`super::signature`]);
//! - a bare `<hex>` file without a name (Alpine `.sha512`): one entry with an empty name.
//!
//! Invariants of a parsed [`ChecksumFile`]: hex is lower case and its length matches the
//! algorithm; one entry per (name, algorithm), where `./a.img`, `*a.img` and `a.img` are
//! one name: identical duplicates collapse, conflicting ones are an error naming both lines.

use std::collections::BTreeMap;

use crate::lock::HashAlgorithm;
use crate::upstream::version;

/// One `(name, algorithm, digest)` of a checksum file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumEntry {
    /// The file name as written (empty for a bare-digest file).
    pub name: String,
    pub algorithm: HashAlgorithm,
    /// Lower-case hex.
    pub hex: String,
    /// From a `# <name>: <N> bytes` comment, when the file has one.
    pub size: Option<u64>,
    /// 1-based line in the (armoured) file.
    pub line: usize,
}

/// A parsed checksum file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChecksumFile {
    /// In file order, without duplicates.
    entries: Vec<ChecksumEntry>,
    /// Whether the text was PGP clear-signed.
    pub clearsigned: bool,
}

/// A checksum file that cannot be trusted, with the line it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error(
        "line {line}: {algorithm} of {name:?} is {hex}, but line {first_line} says {first_hex}"
    )]
    Conflict {
        name: String,
        algorithm: HashAlgorithm,
        line: usize,
        hex: String,
        first_line: usize,
        first_hex: String,
    },
    #[error("line {line}: the size of {name:?} is given twice, differently")]
    SizeConflict { name: String, line: usize },
    #[error("no checksums in the file")]
    Empty,
    #[error("unterminated PGP signed message (no signature block)")]
    Armour,
}

/// Parses a checksum file.
pub fn parse(text: &str) -> Result<ChecksumFile, ChecksumError> {
    let (lines, clearsigned) = unarmour(text)?;
    let mut file = ChecksumFile {
        entries: Vec::new(),
        clearsigned,
    };
    let mut sizes: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    for (line_no, line) in lines {
        let line = line.trim_end_matches(['\r', '\n']).trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            if let Some((name, size)) = size_comment(comment) {
                // `./a.img` and `a.img` are one file (see `normalize_name`).
                let name = normalize_name(&name).to_owned();
                match sizes.get(&name) {
                    Some((s, _)) if *s != size => {
                        return Err(ChecksumError::SizeConflict {
                            name,
                            line: line_no,
                        });
                    }
                    Some(_) => {}
                    None => {
                        sizes.insert(name, (size, line_no));
                    }
                }
            }
            continue;
        }
        let (name, algorithm, hex) = parse_line(trimmed).ok_or_else(|| ChecksumError::Syntax {
            line: line_no,
            message: format!("not a checksum line: {:?}", excerpt(trimmed)),
        })?;
        file.insert(ChecksumEntry {
            name,
            algorithm,
            hex,
            size: None,
            line: line_no,
        })?;
    }
    if file.entries.is_empty() {
        return Err(ChecksumError::Empty);
    }
    for entry in &mut file.entries {
        entry.size = sizes.get(normalize_name(&entry.name)).map(|(s, _)| *s);
    }
    Ok(file)
}

impl ChecksumFile {
    fn insert(&mut self, entry: ChecksumEntry) -> Result<(), ChecksumError> {
        if let Some(first) = self.entries.iter().find(|e| {
            normalize_name(&e.name) == normalize_name(&entry.name) && e.algorithm == entry.algorithm
        }) {
            if first.hex == entry.hex {
                return Ok(());
            }
            return Err(ChecksumError::Conflict {
                name: entry.name,
                algorithm: entry.algorithm,
                line: entry.line,
                hex: entry.hex,
                first_line: first.line,
                first_hex: first.hex.clone(),
            });
        }
        self.entries.push(entry);
        Ok(())
    }

    /// All entries, in file order.
    pub fn entries(&self) -> &[ChecksumEntry] {
        &self.entries
    }

    /// The distinct file names, in file order.
    pub fn names(&self) -> Vec<&str> {
        let mut seen = std::collections::BTreeSet::new();
        self.entries
            .iter()
            .filter(|e| seen.insert(e.name.as_str()))
            .map(|e| e.name.as_str())
            .collect()
    }

    /// The strongest entry for a file name (sha512 > sha256 > md5). A leading `./` or `*`
    /// on either side is ignored.
    pub fn get(&self, name: &str) -> Option<&ChecksumEntry> {
        self.get_all(name).max_by_key(|e| e.algorithm)
    }

    /// Every entry (one per algorithm) for a file name.
    pub fn get_all(&self, name: &str) -> impl Iterator<Item = &ChecksumEntry> {
        let want = normalize_name(name).to_owned();
        self.entries
            .iter()
            .filter(move |e| normalize_name(&e.name) == want)
    }

    /// The digests of a file name, by algorithm (empty when the name is not listed).
    pub fn digests(&self, name: &str) -> BTreeMap<HashAlgorithm, String> {
        self.get_all(name)
            .map(|e| (e.algorithm, e.hex.clone()))
            .collect()
    }

    /// The size of a file name from a `# name: N bytes` comment.
    pub fn size(&self, name: &str) -> Option<u64> {
        self.get_all(name).find_map(|e| e.size)
    }

    /// The only entry of a bare-digest file (no name), or of a file with exactly one entry.
    pub fn single(&self) -> Option<&ChecksumEntry> {
        match self.entries.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Entries whose digest equals `hex` (any case).
    pub fn by_hash<'a>(&'a self, hex: &str) -> Vec<&'a ChecksumEntry> {
        let hex = hex.to_ascii_lowercase();
        self.entries.iter().filter(|e| e.hex == hex).collect()
    }

    /// Resolves an alias (`…-latest…`, `….latest.…`) to the dated, immutable names with the
    /// same digest. Aliases are never returned; the result is in file order and may be
    /// empty (an alias whose build is not listed) or hold several names (two image
    /// variants built from the same bytes).
    pub fn resolve_alias<'a>(&'a self, alias: &str) -> Vec<&'a ChecksumEntry> {
        let Some(entry) = self.get(alias) else {
            return Vec::new();
        };
        self.entries
            .iter()
            .filter(|e| {
                e.algorithm == entry.algorithm
                    && e.hex == entry.hex
                    && normalize_name(&e.name) != normalize_name(alias)
                    && !version::is_alias(&e.name)
            })
            .collect()
    }
}

fn normalize_name(name: &str) -> &str {
    let name = name.strip_prefix('*').unwrap_or(name);
    name.strip_prefix("./").unwrap_or(name)
}

/// Splits off PGP clear-sign armour; returns the signed lines with their 1-based numbers.
fn unarmour(text: &str) -> Result<(Vec<(usize, String)>, bool), ChecksumError> {
    let lines: Vec<(usize, &str)> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .collect();
    let Some(begin) = lines
        .iter()
        .position(|(_, l)| l.trim() == "-----BEGIN PGP SIGNED MESSAGE-----")
    else {
        return Ok((
            lines.into_iter().map(|(n, l)| (n, l.to_owned())).collect(),
            false,
        ));
    };
    // Armour headers (`Hash: SHA256`) run up to the first blank line.
    let mut i = begin + 1;
    while i < lines.len() && !lines[i].1.trim().is_empty() {
        i += 1;
    }
    let mut out = Vec::new();
    let mut terminated = false;
    for (n, l) in &lines[(i + 1).min(lines.len())..] {
        if l.trim() == "-----BEGIN PGP SIGNATURE-----" {
            terminated = true;
            break;
        }
        let l = l.strip_prefix("- ").unwrap_or(l);
        out.push((*n, l.to_owned()));
    }
    if !terminated {
        return Err(ChecksumError::Armour);
    }
    // Text before the armour must be blank: anything else would be unsigned content.
    if let Some((n, l)) = lines[..begin].iter().find(|(_, l)| !l.trim().is_empty()) {
        return Err(ChecksumError::Syntax {
            line: *n,
            message: format!("text before the signed message: {:?}", excerpt(l)),
        });
    }
    Ok((out, true))
}

/// `<name>: <N> bytes` (after the `#`).
fn size_comment(comment: &str) -> Option<(String, u64)> {
    let comment = comment.trim();
    let rest = comment.strip_suffix("bytes")?.trim_end();
    let (name, size) = rest.rsplit_once(':')?;
    let size = size.trim().parse().ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| (name.to_owned(), size))
}

fn parse_line(line: &str) -> Option<(String, HashAlgorithm, String)> {
    parse_bsd(line).or_else(|| parse_gnu(line))
}

/// `SHA256 (name) = hex`.
fn parse_bsd(line: &str) -> Option<(String, HashAlgorithm, String)> {
    let open = line.find('(')?;
    let algorithm = HashAlgorithm::parse(line[..open].trim())?;
    let close = line.rfind(')')?;
    if close < open {
        return None;
    }
    let name = &line[open + 1..close];
    let hex = line[close + 1..].trim_start().strip_prefix('=')?.trim();
    let hex = check_hex(hex, Some(algorithm))?;
    (!name.is_empty()).then(|| (name.to_owned(), algorithm, hex))
}

/// `hex  name`, `hex *name`, `hex name`, or a bare `hex`.
fn parse_gnu(line: &str) -> Option<(String, HashAlgorithm, String)> {
    let (hex, name) = match line.find([' ', '\t']) {
        Some(i) => (&line[..i], line[i..].trim_start_matches([' ', '\t'])),
        None => (line, ""),
    };
    let hex = check_hex(hex, None)?;
    let algorithm = algorithm_for_len(hex.len())?;
    let name = name.strip_prefix('*').unwrap_or(name);
    Some((name.to_owned(), algorithm, hex))
}

fn algorithm_for_len(len: usize) -> Option<HashAlgorithm> {
    [
        HashAlgorithm::Md5,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha512,
    ]
    .into_iter()
    .find(|a| a.hex_len() == len)
}

fn check_hex(hex: &str, algorithm: Option<HashAlgorithm>) -> Option<String> {
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if let Some(a) = algorithm
        && a.hex_len() != hex.len()
    {
        return None;
    }
    Some(hex.to_ascii_lowercase())
}

fn excerpt(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const A: &str = "c397eed7023e92c841155831b1f47e26300e5bef0f0256c129322307c897a251";
    const B: &str = "53a20d1d73d739f437b45e34fcbda48b7b9856c648fcc9730ce9653e27712092";

    #[test]
    fn gnu_two_spaces_star_and_single_space() {
        let text = format!("{A}  one.qcow2\n{B} *two.qcow2\n{A} three.img\n");
        let f = parse(&text).unwrap();
        assert_eq!(f.names(), vec!["one.qcow2", "two.qcow2", "three.img"]);
        assert_eq!(f.get("two.qcow2").unwrap().hex, B);
        assert_eq!(f.get("two.qcow2").unwrap().algorithm, HashAlgorithm::Sha256);
        assert_eq!(f.get("three.img").unwrap().line, 3);
        assert!(f.get("four").is_none());
    }

    #[test]
    fn bsd_tags_with_sizes_and_spacing_variants() {
        let text = format!(
            "# img-9.7-20251123.2.qcow2: 648806400 bytes\nSHA256 (img-9.7-20251123.2.qcow2) = {A}\nSHA256(other.raw)= {B}\n"
        );
        let f = parse(&text).unwrap();
        let e = f.get("img-9.7-20251123.2.qcow2").unwrap();
        assert_eq!(e.size, Some(648806400));
        assert_eq!(e.hex, A);
        assert_eq!(f.size("other.raw"), None);
        assert_eq!(f.get("other.raw").unwrap().hex, B);
    }

    #[test]
    fn names_with_parentheses_and_spaces_survive() {
        let text = format!("SHA256 (odd (1).img) = {A}\n{B}  name with space.img\n");
        let f = parse(&text).unwrap();
        assert_eq!(f.names(), vec!["odd (1).img", "name with space.img"]);
    }

    #[test]
    fn crlf_blank_lines_and_missing_final_newline() {
        let text = format!("\r\n{A}  a.img\r\n\r\n# just a comment\r\n{B}  b.img");
        let f = parse(&text).unwrap();
        assert_eq!(f.names(), vec!["a.img", "b.img"]);
        assert_eq!(f.get("b.img").unwrap().hex, B);
        assert_eq!(f.get("b.img").unwrap().line, 5);
    }

    #[test]
    fn identical_duplicates_collapse_and_conflicts_name_both_lines() {
        let ok = parse(&format!("{A}  a.img\n{A}  a.img\n")).unwrap();
        assert_eq!(ok.entries().len(), 1);
        let err = parse(&format!("{A}  a.img\n\n{B}  a.img\n")).unwrap_err();
        assert!(matches!(
            err,
            ChecksumError::Conflict {
                line: 3,
                first_line: 1,
                ..
            }
        ));
        assert!(err.to_string().starts_with("line 3: sha256 of \"a.img\""));
    }

    #[test]
    fn one_file_under_several_spellings_is_one_file() {
        // `./a.img`, `a.img` and `*a.img` name the same file: the same digest collapses,
        // a different one is the conflict the module promises.
        for (first, second) in [
            ("./a.img", "a.img"),
            ("a.img", "*a.img"),
            ("*./a.img", "a.img"),
        ] {
            let ok = parse(&format!("{A}  {first}\n{A}  {second}\n")).unwrap();
            assert_eq!(ok.entries().len(), 1, "{first} {second}");
            let err = parse(&format!("{A}  {first}\n{B}  {second}\n")).unwrap_err();
            assert!(
                matches!(
                    err,
                    ChecksumError::Conflict {
                        line: 2,
                        first_line: 1,
                        ..
                    }
                ),
                "{first} {second}: {err:?}"
            );
        }
        let bsd = format!("SHA256 (./a.img) = {A}\nSHA256 (a.img) = {B}\n");
        assert!(matches!(parse(&bsd), Err(ChecksumError::Conflict { .. })));
        let sizes = format!("# ./a.img: 10 bytes\n# a.img: 11 bytes\n{A}  a.img\n");
        assert!(matches!(
            parse(&sizes),
            Err(ChecksumError::SizeConflict { .. })
        ));
    }

    #[test]
    fn clearsigned_armour_is_stripped_and_dash_escapes_undone() {
        let text = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n# x.qcow2: 12 bytes\nSHA256 (x.qcow2) = {A}\n- {B}  -dash.img\n-----BEGIN PGP SIGNATURE-----\n\niQIz\n=abcd\n-----END PGP SIGNATURE-----\n"
        );
        let f = parse(&text).unwrap();
        assert!(f.clearsigned);
        assert_eq!(f.names(), vec!["x.qcow2", "-dash.img"]);
        assert_eq!(f.size("x.qcow2"), Some(12));
        assert_eq!(f.get("x.qcow2").unwrap().line, 5);
        let unterminated = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSHA256 (x) = 00\n";
        assert_eq!(parse(unterminated).unwrap_err(), ChecksumError::Armour);
    }

    #[test]
    fn unsigned_text_before_armour_is_refused() {
        let text = format!(
            "{B}  evil.img\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{A}  x\n-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----\n"
        );
        assert!(matches!(
            parse(&text).unwrap_err(),
            ChecksumError::Syntax { line: 1, .. }
        ));
    }

    #[test]
    fn bare_digest_file_has_one_nameless_entry() {
        let sha512 = "8".repeat(128);
        let f = parse(&format!("{sha512}\n")).unwrap();
        let e = f.single().unwrap();
        assert_eq!(e.name, "");
        assert_eq!(e.algorithm, HashAlgorithm::Sha512);
    }

    #[test]
    fn algorithm_from_tag_or_length_and_md5() {
        let md5 = "0123456789abcdef0123456789ABCDEF";
        let f = parse(&format!(
            "{md5}  c.img\nSHA512 (c.img) = {}\n",
            "a".repeat(128)
        ))
        .unwrap();
        assert_eq!(f.digests("c.img").len(), 2);
        assert_eq!(f.get("c.img").unwrap().algorithm, HashAlgorithm::Sha512);
        assert_eq!(
            f.digests("c.img")[&HashAlgorithm::Md5],
            md5.to_ascii_lowercase()
        );
        // A tag whose digest has the wrong length is not a checksum line.
        let err = parse(&format!("SHA512 (c.img) = {A}\n")).unwrap_err();
        assert!(matches!(err, ChecksumError::Syntax { line: 1, .. }));
    }

    #[test]
    fn garbage_names_its_line() {
        let err = parse(&format!("{A}  a.img\n<html>oops</html>\n")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: not a checksum line: \"<html>oops</html>\""
        );
        assert_eq!(parse("\n\n# nothing\n").unwrap_err(), ChecksumError::Empty);
        // Hex of a length no algorithm has.
        assert!(parse("abcdef  x.img\n").is_err());
    }

    #[test]
    fn aliases_resolve_to_the_dated_name_by_hash() {
        let text = format!(
            "{A}  AlmaLinux-9-GenericCloud-9.8-20260526.x86_64.qcow2\n{B}  AlmaLinux-9-GenericCloud-ext4-9.8-20260526.x86_64.qcow2\n{B}  AlmaLinux-9-GenericCloud-ext4-latest.x86_64.qcow2\n{A}  AlmaLinux-9-GenericCloud-latest.x86_64.qcow2\n"
        );
        let f = parse(&text).unwrap();
        let r = f.resolve_alias("AlmaLinux-9-GenericCloud-latest.x86_64.qcow2");
        assert_eq!(r.len(), 1);
        assert_eq!(
            r[0].name,
            "AlmaLinux-9-GenericCloud-9.8-20260526.x86_64.qcow2"
        );
        assert!(f.resolve_alias("missing").is_empty());
        assert_eq!(f.by_hash(&B.to_ascii_uppercase()).len(), 2);
    }

    #[test]
    fn conflicting_sizes_are_an_error() {
        let text = format!("# a: 1 bytes\n# a: 2 bytes\nSHA256 (a) = {A}\n");
        assert!(matches!(
            parse(&text).unwrap_err(),
            ChecksumError::SizeConflict { line: 2, .. }
        ));
    }
}
