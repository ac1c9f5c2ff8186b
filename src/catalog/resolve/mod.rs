//! From raw files to the validated [`Catalog`]: merge the layers (preset < `settings.defaults`
//! < file `defaults` < image), then check everything serde cannot. Pure: the files are already
//! read. Every problem becomes a [`Diagnostic`] pointing at the line that causes it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::raw::{self, Parsed};
use super::{
    Catalog, DEFAULT_VENDOR, ID_PROPERTY, Image, Origin, Target, VERSION_PROPERTY, suggest,
};
use crate::diagnostic::Diagnostic;

mod image;
mod merge;
mod source;
mod values;

use image::{auth_with_web_download, resolve_image};
use merge::{apply_overrides, match_ids, merge_defaults};
pub use values::source_digest;

/// Properties the tool sets itself; the catalog may not declare them under `extra`.
const TOOL_PROPERTIES: &[&str] = &[
    ID_PROPERTY,
    VERSION_PROPERTY,
    "image_source",
    "image_build_date",
    "architecture",
];

/// Where diagnostics for one file point, with the file's text for snippets.
struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn at(&self, line: u64, column: u64, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.path, line, column, message).with_source(self.text)
    }

    /// A diagnostic at the first line at or after `from` (1-based) whose key is `key`, within
    /// the block that starts there; at `from` itself when the key is not written there (it
    /// came from defaults or a preset).
    fn at_key(&self, from: u64, key: &str, message: impl Into<String>) -> Diagnostic {
        match find_key(self.text, from, key) {
            Some((line, column)) => self.at(line, column, message).with_width(key.len()),
            // Not written in this entry (it comes from a default or a preset): point at the entry.
            None => self
                .at(from, first_word_column(self.text, from), message)
                .with_width(2),
        }
    }
}

/// The column of the first word on a line (where `id:` stands in `- id: x`).
fn first_word_column(text: &str, line: u64) -> u64 {
    let l = usize::try_from(line.saturating_sub(1))
        .ok()
        .and_then(|i| text.lines().nth(i))
        .unwrap_or("");
    (l.len() - l.trim_start_matches([' ', '-']).len() + 1) as u64
}

/// Finds `key:` in the YAML block starting at line `from` (the block ends at the next line
/// indented less than or as much as the first line's list item).
fn find_key(text: &str, from: u64, key: &str) -> Option<(u64, u64)> {
    let start = usize::try_from(from.checked_sub(1)?).ok()?;
    let mut lines = text.lines().enumerate().skip(start);
    let (_, first) = lines.next()?;
    let base = first.len() - first.trim_start_matches([' ', '-']).len();
    let check = |idx: usize, l: &str| {
        let t = l.trim_start_matches([' ', '-']);
        (t.starts_with(key) && t[key.len()..].trim_start().starts_with(':'))
            .then(|| ((idx + 1) as u64, (l.len() - t.len() + 1) as u64))
    };
    if let Some(hit) = check(start, first) {
        return Some(hit);
    }
    for (idx, l) in lines {
        let indent = l.len() - l.trim_start().len();
        if !l.trim().is_empty()
            && !l.trim_start().starts_with('#')
            && (indent < base
                || l.trim_start().starts_with("- ") && indent <= base.saturating_sub(2))
        {
            break;
        }
        if let Some(hit) = check(idx, l) {
            return Some(hit);
        }
    }
    None
}

pub(super) fn resolve(dir: &Path, files: &[Parsed]) -> Result<Catalog, Vec<Diagnostic>> {
    let mut diags = Vec::new();

    // Settings: at most one file.
    let mut settings: Option<(&Parsed, &raw::Settings)> = None;
    for p in files {
        if let Some(s) = &p.file.settings {
            if let Some((first, _)) = settings {
                let ctx = Ctx {
                    path: &p.path,
                    text: &p.text,
                };
                diags.push(
                    ctx.at_key(
                        1,
                        "settings",
                        "`settings` appears in more than one catalog file",
                    )
                    .with_hint(format!(
                        "keep one `settings:` block (the first is in {})",
                        first.path.display()
                    )),
                );
            } else {
                settings = Some((p, s));
            }
        }
    }
    let vendor = settings
        .and_then(|(_, s)| s.vendor.clone())
        .unwrap_or_else(|| DEFAULT_VENDOR.to_owned());
    if let Some((p, _)) = settings
        && !vendor
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        let ctx = Ctx {
            path: &p.path,
            text: &p.text,
        };
        diags.push(
            ctx.at_key(1, "vendor", format!("invalid vendor `{vendor}`"))
                .with_hint("use lower case letters, digits, `_` and `-` (it becomes the tag `managed_by_<vendor>`)"),
        );
    }
    let mut mirrors = Vec::new();
    if let Some((_, s)) = settings {
        // Their URLs are checked with every other URL of the catalog (`urls::check`).
        for (from, to) in &s.mirrors {
            mirrors.push((from.clone(), to.clone()));
        }
    }
    mirrors.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    let mut download = super::DownloadLimits::default();
    if let Some((p, s)) = settings
        && let Some(d) = &s.download
    {
        let ctx = Ctx {
            path: &p.path,
            text: &p.text,
        };
        if let Some(r) = &d.min_rate {
            match super::parse_rate(r) {
                Ok(v) => download.min_rate = v,
                Err(m) => diags.push(ctx.at_key(1, "min_rate", m).with_hint(
                    "write e.g. `min_rate: 16KiB` (per second), or `0` to turn the check off",
                )),
            }
        }
        for (key, value, slot) in [
            ("window", &d.window, &mut download.window),
            ("deadline", &d.deadline, &mut download.deadline),
        ] {
            if let Some(v) = value {
                match super::parse_span(v) {
                    Ok(v) => *slot = v,
                    Err(m) => diags.push(
                        ctx.at_key(1, key, m)
                            .with_hint("write e.g. `60s`, `10m` or `6h`"),
                    ),
                }
            }
        }
    }
    let global_defaults = settings
        .and_then(|(_, s)| s.defaults.clone())
        .unwrap_or_default();

    // Images.
    let mut images: BTreeMap<String, Image> = BTreeMap::new();
    let mut first_seen: BTreeMap<String, Origin> = BTreeMap::new();
    let mut names: BTreeMap<(String, raw::Architecture), Origin> = BTreeMap::new();
    for p in files {
        let ctx = Ctx {
            path: &p.path,
            text: &p.text,
        };
        let file_defaults = p.file.defaults.clone().unwrap_or_default();
        let layered = merge_defaults(&global_defaults, &file_defaults);
        for entry in &p.file.images {
            let origin = Origin {
                file: p.path.clone(),
                line: entry.id.referenced.line(),
                column: entry.id.referenced.column(),
            };
            let image = resolve_image(dir, &ctx, entry, &layered, origin.clone(), &mut diags);
            let id = image.id.clone();
            if let Some(prev) = first_seen.get(&id) {
                diags.push(
                    ctx.at(
                        origin.line,
                        origin.column,
                        format!("duplicate image id `{id}`"),
                    )
                    .with_width(id.len() + 4)
                    .with_hint(format!(
                        "it is first declared at {prev}; ids must be unique across the catalog"
                    )),
                );
                continue;
            }
            let name_key = (image.name.clone(), image.architecture);
            if let Some(prev) = names.get(&name_key) {
                let line = entry.name.referenced.line();
                diags.push(
                    ctx.at(line, entry.name.referenced.column(), format!(
                        "duplicate Glance name `{}` for {}",
                        image.name,
                        image.architecture.as_str()
                    ))
                    .with_width(image.name.len())
                    .with_hint(format!("the same name and architecture is first used at {prev}; give one of them another name")),
                );
            } else {
                names.insert(name_key, origin.clone());
            }
            first_seen.insert(id.clone(), origin);
            images.insert(id, image);
        }
    }

    // Targets.
    let mut targets = Vec::new();
    if let Some((p, s)) = settings {
        let ctx = Ctx {
            path: &p.path,
            text: &p.text,
        };
        let mut seen = BTreeSet::new();
        for t in &s.targets {
            let (line, column) = (t.cloud.referenced.line(), t.cloud.referenced.column());
            if !seen.insert((t.cloud.value.clone(), t.region.clone())) {
                let what = match &t.region {
                    Some(r) => format!("target `{}` in region `{r}`", t.cloud.value),
                    None => format!("target `{}`", t.cloud.value),
                };
                diags.push(
                    ctx.at(line, column, format!("{what} is listed twice"))
                        .with_hint("give each entry of the same cloud its own `region`"),
                );
                continue;
            }
            let mut selected = BTreeSet::new();
            let include: Vec<String> = t.images.clone().unwrap_or_else(|| vec!["*".to_owned()]);
            for pat in &include {
                let matched = match_ids(pat, images.keys());
                if matched.is_empty() {
                    let hint = suggest::closest(pat, images.keys().map(String::as_str))
                        .map_or_else(
                            || "list catalog ids or globs such as `ubuntu-*`".to_owned(),
                            |c| format!("did you mean `{c}`?"),
                        );
                    diags.push(
                        ctx.at_key(
                            line,
                            "images",
                            format!("target `{}`: `{pat}` matches no image", t.cloud.value),
                        )
                        .with_hint(hint),
                    );
                }
                selected.extend(matched);
            }
            for pat in &t.exclude {
                for id in match_ids(pat, images.keys()) {
                    selected.remove(&id);
                }
            }
            selected.retain(|id| images.get(id).is_some_and(|i| i.enabled));
            let mut overrides = BTreeMap::new();
            if let Some(o) = &t.overrides {
                for id in &selected {
                    let base = &images[id];
                    let mut img = base.clone();
                    apply_overrides(&mut img, o);
                    if img.hands_auth_to_glance() && !base.hands_auth_to_glance() {
                        diags.push(auth_with_web_download(
                            &ctx,
                            line,
                            Some(&format!("target `{}`, image `{id}`", t.cloud.value)),
                        ));
                    }
                    overrides.insert(id.clone(), img);
                }
            }
            targets.push(Target {
                cloud: t.cloud.value.clone(),
                region: t.region.clone(),
                images: selected,
                overrides,
            });
        }
    }

    if diags.is_empty() {
        Ok(Catalog {
            dir: dir.to_path_buf(),
            vendor,
            mirrors,
            images,
            targets,
            download,
        })
    } else {
        Err(diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_in_the_right_block() {
        let text = "images:\n  - id: a\n    glance:\n      min_disk: 1\n  - id: b\n    name: B\n";
        assert_eq!(find_key(text, 2, "min_disk"), Some((4, 7)));
        assert_eq!(find_key(text, 5, "min_disk"), None);
        assert_eq!(find_key(text, 5, "name"), Some((6, 5)));
    }
}
