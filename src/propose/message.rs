//! The commit message of a proposal, as pure functions of the lock changes.
//!
//! Format (versioned by `Generated-By`, see `docs/propose.md`):
//! - a stable subject without dates or run ids (`Bump ubuntu-24.04 to 20241004`);
//! - a body with one aligned table row per image, the source links, and review notes;
//! - trailers that carry the proposal's identity: `Image-Bump-Key` (which proposal),
//!   `Lock-Digest` (which content; equal digests mean "already proposed"),
//!   `Generated-By`, and in Gerrit mode `Change-Id`.
//!
//! The same changes always give the same bytes, so the commit tree and message are
//! reproducible; only commit dates differ between runs.

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};

use crate::lock::{Build, LockChange, SignatureState};

/// The longest subject line git tools show without truncating.
pub const SUBJECT_MAX: usize = 72;
/// The tool name in the `Generated-By` trailer (identifies our own commits).
pub const GENERATOR: &str = "image-crawler";

pub const KEY_TRAILER: &str = "Image-Bump-Key";
pub const DIGEST_TRAILER: &str = "Lock-Digest";
pub const GENERATED_TRAILER: &str = "Generated-By";
pub const CHANGE_ID_TRAILER: &str = "Change-Id";

/// A changed lockfile, as it goes into a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockFile {
    /// Repository-relative path (`state/ubuntu-24.04.toml`).
    pub path: String,
    pub bytes: Vec<u8>,
}

/// `sha256:<hex>` over the changed lockfiles, sorted by path: for each file its path, a NUL,
/// its length, a NUL and its bytes (the path is included so moving content between images
/// counts as a change; the length keeps the framing unambiguous).
pub fn lock_digest(files: &[LockFile]) -> String {
    let mut sorted: Vec<&LockFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = Sha256::new();
    for f in sorted {
        h.update(f.path.as_bytes());
        h.update([0]);
        h.update(f.bytes.len().to_string().as_bytes());
        h.update([0]);
        h.update(&f.bytes);
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// A new Gerrit Change-Id, derived from the key and the content, so a push retried after a
/// network failure lands on the same change instead of opening a duplicate. Only used when no
/// open change exists for the key (an open one's Change-Id is always reused).
pub fn mint_change_id(key: &str, lock_digest: &str, replaces_closed: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(b"image-crawler change-id\0");
    h.update(key.as_bytes());
    h.update([0]);
    h.update(lock_digest.as_bytes());
    // A change Gerrit closed cannot take new patchsets: its successor needs another id.
    if let Some(closed) = replaces_closed {
        h.update([0]);
        h.update(closed.as_bytes());
    }
    let hex = hex::encode(h.finalize());
    format!("I{}", &hex[..40])
}

/// Whether `s` has the shape of a Gerrit Change-Id.
pub fn is_change_id(s: &str) -> bool {
    s.len() == 41
        && s.starts_with('I')
        && s[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The trailers of a commit message: the `Key: value` lines of its last paragraph (later
/// lines win). Empty when the last paragraph is not all trailers, as `git interpret-trailers`
/// sees it.
pub fn trailers(message: &str) -> BTreeMap<String, String> {
    let text = message.trim_end();
    let last = text.rsplit("\n\n").next().unwrap_or("");
    let mut out = BTreeMap::new();
    for line in last.lines() {
        let Some((key, value)) = line.split_once(": ") else {
            return BTreeMap::new();
        };
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return BTreeMap::new();
        }
        out.insert(key.to_owned(), value.trim().to_owned());
    }
    out
}

/// The subject line for a set of changes (sorted by id).
pub fn subject(changes: &[LockChange]) -> String {
    let line = match changes {
        [] => "Update image lockfiles".to_owned(),
        [one] => single_subject(one),
        many => {
            let ids: Vec<&str> = many.iter().map(LockChange::id).collect();
            group_subject(&ids)
        }
    };
    truncate(&line, SUBJECT_MAX)
}

fn single_subject(change: &LockChange) -> String {
    let id = change.id();
    let v = &change.to().version;
    match change {
        LockChange::Added { .. } => format!("Add {id} {v}"),
        LockChange::Updated { .. } => format!("Bump {id} to {v}"),
        LockChange::Rebuilt { .. } => format!("Rebuild {id} {v} (upstream checksum changed)"),
        LockChange::Refreshed { .. } => format!("Refresh {id} {v} lock metadata"),
    }
}

/// `Bump 3 images (a, b, c)`, listing as many ids as fit in [`SUBJECT_MAX`], then `…`.
fn group_subject(ids: &[&str]) -> String {
    let head = format!("Bump {} images (", ids.len());
    let mut listed = String::new();
    for (i, id) in ids.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let rest_marker = if i + 1 < ids.len() { ", …" } else { "" };
        let candidate = format!("{listed}{sep}{id}");
        if (head.chars().count() + candidate.chars().count() + rest_marker.chars().count() + 1)
            > SUBJECT_MAX
        {
            let more = if listed.is_empty() { "…" } else { ", …" };
            return format!("{head}{listed}{more})");
        }
        listed = candidate;
    }
    format!("{head}{listed})")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The full commit message.
pub fn message(
    key: &str,
    changes: &[LockChange],
    lock_digest: &str,
    change_id: Option<&str>,
) -> String {
    let mut out = subject(changes);
    out.push_str("\n\n");
    out.push_str(&body(changes));
    out.push('\n');
    out.push_str(&format!("{KEY_TRAILER}: {key}\n"));
    out.push_str(&format!("{DIGEST_TRAILER}: {lock_digest}\n"));
    out.push_str(&format!(
        "{GENERATED_TRAILER}: {GENERATOR} {}\n",
        env!("CARGO_PKG_VERSION")
    ));
    if let Some(id) = change_id {
        out.push_str(&format!("{CHANGE_ID_TRAILER}: {id}\n"));
    }
    out
}

/// The body: intro, table, sources, notes; ends with a blank line.
fn body(changes: &[LockChange]) -> String {
    let mut out = String::new();
    out.push_str(match changes.len() {
        1 => "The upstream build in the lockfile changed; `apply` imports it after merge.\n\n",
        _ => {
            "The upstream builds in these lockfiles changed; `apply` imports them after merge.\n\n"
        }
    });
    let mut rows = vec![[
        "image".to_owned(),
        "version".to_owned(),
        "build date".to_owned(),
        "checksum".to_owned(),
        "signature".to_owned(),
        "source".to_owned(),
    ]];
    let mut sources = String::new();
    for (i, c) in changes.iter().enumerate() {
        let to = c.to();
        let from = c.from();
        let version = match from {
            Some(f) if f.version != to.version => format!("{} -> {}", f.version, to.version),
            Some(_) => to.version.clone(),
            None => format!("(new) -> {}", to.version),
        };
        let checksum = match from.map(short_checksum) {
            Some(old) if old != short_checksum(to) => {
                format!("{old} -> {}", short_checksum(to))
            }
            _ => short_checksum(to),
        };
        rows.push([
            c.id().to_owned(),
            version,
            to.build_date.clone(),
            checksum,
            short_signature(to),
            format!("[{}]", i + 1),
        ]);
        sources.push_str(&format!("[{}]: {}\n", i + 1, to.url));
        sources.push_str(&format!("     metadata: {}\n", to.metadata_url));
        if let Some(sig) = &to.signature.url {
            sources.push_str(&format!("     signature: {sig}\n"));
        }
    }
    out.push_str(&table(&rows));
    out.push('\n');
    out.push_str(&sources);
    let notes: Vec<String> = changes.iter().flat_map(notes).collect();
    if !notes.is_empty() {
        out.push_str("\nReview notes:\n");
        for n in notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out
}

/// Renders rows as an aligned Markdown table (first row is the header).
fn table(rows: &[[String; 6]]) -> String {
    let mut widths = [0usize; 6];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 6]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |\n", parts.join(" | "))
    };
    let mut out = line(&rows[0]);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for row in &rows[1..] {
        out.push_str(&line(row));
    }
    out
}

/// `sha512:0123456789ab`: the strongest checksum, 12 hex digits (enough to tell builds apart
/// in review; the lockfile has the full value).
fn short_checksum(b: &Build) -> String {
    match b.strongest_checksum() {
        Some((algo, hex)) => format!("{algo}:{}", &hex[..hex.len().min(12)]),
        None => "-".to_owned(),
    }
}

fn short_signature(b: &Build) -> String {
    match (&b.signature.status, &b.signature.key) {
        (SignatureState::Verified, Some(key)) => {
            let tail = &key[key.len().saturating_sub(16)..];
            format!("verified ({tail})")
        }
        (s, _) => s.as_str().to_owned(),
    }
}

/// Things a reviewer should not miss.
fn notes(c: &LockChange) -> Vec<String> {
    let id = c.id();
    let to = c.to();
    let mut out = Vec::new();
    if matches!(c, LockChange::Rebuilt { .. }) {
        out.push(format!(
            "{id}: upstream replaced the files of {} without a new version (a respin); \
             check the distributor's announcement before merging",
            to.version
        ));
    }
    if let Some(from) = c.from()
        && from.signature.status == SignatureState::Verified
        && to.signature.status != SignatureState::Verified
    {
        out.push(format!(
            "{id}: the checksums were signed before and are not now ({})",
            to.signature.status.as_str()
        ));
    } else if to.signature.status != SignatureState::Verified {
        out.push(format!(
            "{id}: the checksums are not signature-verified ({})",
            to.signature.status.as_str()
        ));
    }
    if let (Some(old), Some(new)) = (c.from().and_then(|f| f.size), to.size)
        && old > 0
        && new.abs_diff(old) * 4 > old
    {
        out.push(format!(
            "{id}: the image size changed by more than 25% ({old} -> {new} bytes)"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::format::tests::sample;
    use crate::lock::{HashAlgorithm, LockedImage, SignatureStatus};

    fn bumped(version: &str, date: &str) -> LockedImage {
        let mut l = sample();
        l.build.version = version.into();
        l.build.build_date = date.into();
        l.build.url = format!("https://cloud-images.example/release-{version}/img");
        l.build
            .checksums
            .insert(HashAlgorithm::Sha256, "ab".repeat(32));
        l
    }

    fn change(id: &str, from_v: &str, to_v: &str) -> LockChange {
        let mut old = bumped(from_v, "2024-08-21");
        old.id = id.into();
        let mut new = bumped(to_v, "2024-10-04");
        new.id = id.into();
        new.build
            .checksums
            .insert(HashAlgorithm::Sha256, "cd".repeat(32));
        LockChange::between(Some(&old), &new).unwrap()
    }

    #[test]
    fn subjects() {
        assert_eq!(
            subject(&[change("ubuntu-24.04", "20240821", "20241004")]),
            "Bump ubuntu-24.04 to 20241004"
        );
        let old = sample();
        let mut respin = old.clone();
        respin
            .build
            .checksums
            .insert(HashAlgorithm::Sha256, "ff".repeat(32));
        let c = LockChange::between(Some(&old), &respin).unwrap();
        assert_eq!(
            subject(&[c]),
            "Rebuild ubuntu-24.04 20240821 (upstream checksum changed)"
        );
        let added = LockChange::between(None, &old).unwrap();
        assert_eq!(subject(&[added]), "Add ubuntu-24.04 20240821");
        let three = [
            change("debian-12", "1", "2"),
            change("rocky-9", "1", "2"),
            change("ubuntu-24.04", "1", "2"),
        ];
        assert_eq!(
            subject(&three),
            "Bump 3 images (debian-12, rocky-9, ubuntu-24.04)"
        );
    }

    #[test]
    fn group_subject_fits_72_chars() {
        let ids: Vec<String> = (0..20).map(|i| format!("some-long-image-{i:02}")).collect();
        let changes: Vec<LockChange> = ids.iter().map(|id| change(id, "1", "2")).collect();
        let s = subject(&changes);
        assert!(s.chars().count() <= SUBJECT_MAX, "{s}");
        assert_eq!(
            s,
            "Bump 20 images (some-long-image-00, some-long-image-01, …)"
        );
    }

    #[test]
    fn full_message_is_deterministic_with_table_and_trailers() {
        let c = change("ubuntu-24.04", "20240821", "20241004");
        let digest = lock_digest(&[LockFile {
            path: "state/ubuntu-24.04.toml".into(),
            bytes: b"x".to_vec(),
        }]);
        let id = mint_change_id("ubuntu-24.04", &digest, None);
        let m = message("ubuntu-24.04", std::slice::from_ref(&c), &digest, Some(&id));
        assert_eq!(m, message("ubuntu-24.04", &[c], &digest, Some(&id)));
        let expected = format!(
            "Bump ubuntu-24.04 to 20241004

The upstream build in the lockfile changed; `apply` imports it after merge.

| image        | version              | build date | checksum                                   | signature                   | source |
|--------------|----------------------|------------|--------------------------------------------|-----------------------------|--------|
| ubuntu-24.04 | 20240821 -> 20241004 | 2024-10-04 | sha256:abababababab -> sha256:cdcdcdcdcdcd | verified (1A5D6C4C7DB87C81) | [1]    |

[1]: https://cloud-images.example/release-20241004/img
     metadata: https://cloud-images.ubuntu.com/releases/streams/v1/com.ubuntu.cloud:released:download.json
     signature: https://cloud-images.ubuntu.com/releases/noble/release-20240821/SHA256SUMS.gpg

Image-Bump-Key: ubuntu-24.04
Lock-Digest: {digest}
Generated-By: image-crawler {}
Change-Id: {id}
",
            env!("CARGO_PKG_VERSION")
        );
        pretty_assertions::assert_eq!(m, expected);
        let t = trailers(&m);
        assert_eq!(t[KEY_TRAILER], "ubuntu-24.04");
        assert_eq!(t[DIGEST_TRAILER], digest);
        assert_eq!(t[CHANGE_ID_TRAILER], id);
        assert!(is_change_id(&id), "{id}");
    }

    #[test]
    fn notes_flag_unsigned_and_respins() {
        let old = sample();
        let mut new = old.clone();
        new.build
            .checksums
            .insert(HashAlgorithm::Sha256, "ff".repeat(32));
        new.build.signature = SignatureStatus::state(SignatureState::NotPublished);
        new.build.size = Some(1);
        let c = LockChange::between(Some(&old), &new).unwrap();
        let m = message("ubuntu-24.04", &[c], "sha256:0", None);
        assert!(m.contains("\nReview notes:\n- ubuntu-24.04: upstream replaced the files of 20240821 without a new version"), "{m}");
        assert!(
            m.contains("were signed before and are not now (not published)"),
            "{m}"
        );
        assert!(m.contains("size changed by more than 25%"), "{m}");
        assert!(!m.contains("Change-Id"), "no Change-Id outside Gerrit mode");
    }

    #[test]
    fn digest_and_change_id_depend_on_content() {
        let a = LockFile {
            path: "state/a.toml".into(),
            bytes: b"1".to_vec(),
        };
        let b = LockFile {
            path: "state/b.toml".into(),
            bytes: b"2".to_vec(),
        };
        assert_eq!(
            lock_digest(&[a.clone(), b.clone()]),
            lock_digest(&[b.clone(), a.clone()]),
            "order does not matter"
        );
        let mut a2 = a.clone();
        a2.bytes = b"3".to_vec();
        assert_ne!(lock_digest(std::slice::from_ref(&a)), lock_digest(&[a2]));
        let d = lock_digest(&[a]);
        assert_ne!(mint_change_id("x", &d, None), mint_change_id("y", &d, None));
        assert_eq!(mint_change_id("x", &d, None), mint_change_id("x", &d, None));
    }

    #[test]
    fn trailer_parsing_needs_a_trailer_paragraph() {
        assert!(trailers("Subject\n\nJust text: here\nand more").is_empty());
        let t = trailers("Subject\n\nBody\n\nA-B: 1\nC: two words\n");
        assert_eq!(t["A-B"], "1");
        assert_eq!(t["C"], "two words");
    }
}
