//! Reading `catalog/*.yaml` into a [`Catalog`], collecting every problem.
//!
//! The only file I/O of the catalog. Parsing is strict: unknown keys, wrong types, duplicate
//! keys and YAML 1.1 booleans (`yes`, `on`) are errors with `file:line:col`, the offending line
//! and, where the mistake looks like a typo, a "did you mean". A file that does not parse
//! still lets the others be checked, so one run shows everything.

use std::path::{Path, PathBuf};

use super::raw::{CatalogFile, Parsed};
use super::yaml::yaml_diagnostic;
use super::{Catalog, LIFECYCLE_FILE, LoadResult, resolve, urls};
use crate::diagnostic::{self, Diagnostic};

/// Loads and validates every `*.yaml`/`*.yml` file directly in `dir`.
pub fn load(dir: &Path) -> LoadResult {
    let display_dir = diagnostic::display_path(dir);
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            return Err(vec![
                Diagnostic::error(
                    &display_dir,
                    0,
                    0,
                    format!("cannot read the catalog directory: {e}"),
                )
                .with_hint("pass the catalog directory with `--catalog DIR` (default `./catalog`)"),
            ]);
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        // By name only: a directory, FIFO, dangling link or link loop named `*.yaml` is
        // reported when read below, never skipped silently.
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        // `lifecycle.yaml` is EOL data with its own schema and loader (`scs::lifecycle`).
        .filter(|p| p.file_name().and_then(|n| n.to_str()) != Some(LIFECYCLE_FILE))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(vec![
            Diagnostic::error(&display_dir, 0, 0, "the catalog directory has no `*.yaml` files")
                .with_hint("create one, e.g. `catalog/ubuntu.yaml` with an `images:` list (see docs/catalog.md)"),
        ]);
    }

    let mut diags = Vec::new();
    let mut parsed = Vec::new();
    let mut broken_layers = Vec::new();
    for path in paths {
        let shown = diagnostic::display_path(&path);
        match crate::localfile::read_text(&path, crate::localfile::CATALOG_LIMIT) {
            Ok(text) => match parse_file(&shown, &text) {
                Ok(file) => parsed.push(Parsed {
                    path: shown,
                    text,
                    file,
                }),
                Err(d) => {
                    if has_layers(&text) {
                        broken_layers.push(shown);
                    }
                    diags.push(d);
                }
            },
            Err(e) => diags.push(match crate::localfile::NotUtf8::place(&e) {
                Some((line, column)) => Diagnostic::error(
                    &shown,
                    line,
                    column,
                    format!("cannot read the catalog file: {e}"),
                )
                .with_hint(crate::localfile::NotUtf8::HINT),
                None => Diagnostic::error(&shown, 0, 0, format!("cannot read the catalog file: {e}"))
                    .with_hint(
                        "every `*.yaml`/`*.yml` entry of the catalog directory is read as a catalog file: make it a regular file, or rename or remove it",
                    ),
            }),
        }
    }
    diags.extend(urls::check(&parsed));
    finish(diags, &broken_layers, resolve::resolve(dir, &parsed))
}

/// Whether a file has a top-level `settings:` or `defaults:` block: layers that every image
/// of the catalog (or of the file) inherits.
fn has_layers(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("settings:") || l.starts_with("defaults:"))
}

/// Parse errors plus what resolving the parsed files found. When a file with `settings` or
/// `defaults` did not parse, its layers are missing from every image, so what resolving
/// finds ("missing property", "must be set" for each image) follows from that one error:
/// those are not shown, only counted in one warning (one typo once gave 232 errors, the real
/// one at position 195).
fn finish(mut diags: Vec<Diagnostic>, broken_layers: &[PathBuf], result: LoadResult) -> LoadResult {
    match result {
        Ok(catalog) if diags.is_empty() => return Ok(catalog),
        Ok(_) => {}
        Err(more) if broken_layers.is_empty() => diags.extend(more),
        Err(more) => {
            diagnostic::sort(&mut diags);
            let files: Vec<String> = broken_layers
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect();
            // At the root cause's place, so it is shown right after it.
            let (line, column) = diags
                .iter()
                .find(|d| d.file == broken_layers[0])
                .map_or((0, 0), |d| (d.line, d.column));
            diags.push(
                Diagnostic::warning(
                    &broken_layers[0],
                    line,
                    column,
                    format!(
                        "{} further problem(s) not shown: they can follow from {} not being read (its `settings`/`defaults` apply to the images)",
                        more.len(),
                        files.join(", ")
                    ),
                )
                .with_hint("fix the error above first, then run `image-crawler validate` again"),
            );
            return Err(diags);
        }
    }
    diagnostic::sort(&mut diags);
    Err(diags)
}

/// Loads a catalog from in-memory files (for tests and tools): `(name, text)` pairs.
pub fn load_from_strings(dir: &Path, files: &[(&str, &str)]) -> Result<Catalog, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut parsed = Vec::new();
    let mut broken_layers = Vec::new();
    for (name, text) in files {
        let path = PathBuf::from(name);
        match parse_file(&path, text) {
            Ok(file) => parsed.push(Parsed {
                path,
                text: (*text).to_owned(),
                file,
            }),
            Err(d) => {
                if has_layers(text) {
                    broken_layers.push(path);
                }
                diags.push(d);
            }
        }
    }
    diags.extend(urls::check(&parsed));
    finish(diags, &broken_layers, resolve::resolve(dir, &parsed))
}

/// The YAML options every catalog file is read with.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
    }
}

/// Parses one file; a syntax or type error becomes one diagnostic with its place.
#[allow(clippy::result_large_err)] // one diagnostic per file, built once: size does not matter
fn parse_file(path: &Path, text: &str) -> Result<CatalogFile, Diagnostic> {
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        // An empty file is a valid (empty) catalog file, e.g. a placeholder.
        return Ok(CatalogFile {
            settings: None,
            defaults: None,
            images: Vec::new(),
        });
    }
    serde_saphyr::from_str_with_options::<CatalogFile>(text, options())
        .map_err(|e| yaml_diagnostic(path, text, &e))
}
