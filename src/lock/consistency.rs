//! Lockfiles against the catalog, offline: what `validate` reports about `state/`.

use std::collections::BTreeMap;
use std::path::Path;

use super::LockedImage;
use super::store::{self, ReadError};
use crate::catalog::{self, Catalog};
use crate::diagnostic::Diagnostic;

/// Problems of the lockfiles: unreadable files, lockfiles without a catalog entry, empty or
/// malformed checksums, alias URLs, and (warnings) locks resolved for other source settings
/// and enabled images not locked yet.
pub fn check(
    state_dir: &Path,
    catalog: Option<&Catalog>,
    locks: &BTreeMap<String, Result<LockedImage, ReadError>>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let shown = |id: &str| crate::diagnostic::display_path(&store::path_for(state_dir, id));
    for (id, lock) in locks {
        let path = shown(id);
        let lock = match lock {
            Ok(l) => l,
            Err(e) => {
                let mut d = Diagnostic::error(
                    &path,
                    e.line.unwrap_or(0) as u64,
                    e.column.unwrap_or(0) as u64,
                    format!("unreadable lockfile: {}", e.source),
                );
                if let Ok(text) = std::fs::read_to_string(store::path_for(state_dir, id)) {
                    d = d.with_source(&text);
                }
                out.push(d.with_hint("lockfiles are written by `image-crawler check`; restore it from git or run `check` again"));
                continue;
            }
        };
        if let Some(c) = catalog {
            match c.images.get(id) {
                None => {
                    let hint = match crate::catalog::suggest::closest(id, c.images.keys().map(String::as_str)) {
                        Some(s) => format!("did you mean `{s}`? rename the file, or remove it if the image was dropped from the catalog"),
                        None => "remove it if the image was dropped from the catalog, or restore the catalog entry".to_owned(),
                    };
                    out.push(
                        Diagnostic::error(
                            &path,
                            0,
                            0,
                            format!(
                                "lockfile without a catalog entry: no image `{id}` in the catalog"
                            ),
                        )
                        .with_hint(hint),
                    );
                }
                Some(image) if catalog::source_digest(image) != lock.source_digest => {
                    out.push(
                        Diagnostic::warning(
                            &path,
                            0,
                            0,
                            format!(
                                "`{id}` was resolved for other source settings than the catalog's"
                            ),
                        )
                        .with_hint("run `image-crawler check` to resolve it again"),
                    );
                }
                Some(_) => {}
            }
        }
        let b = &lock.build;
        if b.checksums.is_empty() {
            out.push(
                Diagnostic::error(&path, 0, 0, format!("`{id}` has no checksum")).with_hint(
                    "run `image-crawler check`; a build without a checksum is never locked",
                ),
            );
        }
        for (algo, hex) in &b.checksums {
            if hex.len() != algo.hex_len()
                || !hex
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            {
                out.push(
                    Diagnostic::error(
                        &path,
                        0,
                        0,
                        format!("`{id}`: malformed {algo} checksum `{hex}`"),
                    )
                    .with_hint(format!(
                        "a {algo} checksum is {} lower-case hex digits",
                        algo.hex_len()
                    )),
                );
            }
        }
        if url::Url::parse(&b.url).is_err() {
            out.push(Diagnostic::error(
                &path,
                0,
                0,
                format!("`{id}`: `{}` is not a URL", b.url),
            ));
        }
        if crate::catalog::presets::is_alias_url(&b.url) {
            out.push(
                Diagnostic::error(
                    &path,
                    0,
                    0,
                    format!("`{id}` locks an alias URL `{}`", b.url),
                )
                .with_hint(
                    "lockfiles must name the immutable, versioned file; run `image-crawler check`",
                ),
            );
        }
    }
    if let Some(c) = catalog {
        let missing: Vec<&str> = c
            .enabled()
            .filter(|i| !locks.contains_key(&i.id))
            .map(|i| i.id.as_str())
            .collect();
        if !missing.is_empty() {
            let shown_ids = if missing.len() > 6 {
                format!(
                    "{}, … ({} more)",
                    missing[..6].join(", "),
                    missing.len() - 6
                )
            } else {
                missing.join(", ")
            };
            out.push(
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
            );
        }
    }
    out
}
