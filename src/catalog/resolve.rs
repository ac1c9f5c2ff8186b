//! From raw files to the validated [`Catalog`]: merge the layers (preset < `settings.defaults`
//! < file `defaults` < image), then check everything serde cannot. Pure: the files are already
//! read. Every problem becomes a [`Diagnostic`] pointing at the line that causes it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::load::Parsed;
use super::raw::{self, GlanceSpec, ImageDefaults, ImageEntry, Properties, Source};
use super::{
    Catalog, DEFAULT_VENDOR, Glance, ID_PROPERTY, Image, Origin, Rotation, Signature, Target,
    VERSION_PROPERTY, VersionPolicy, presets, suggest,
};
use crate::diagnostic::Diagnostic;

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
    if let Some((p, s)) = settings {
        let ctx = Ctx {
            path: &p.path,
            text: &p.text,
        };
        for (from, to) in &s.mirrors {
            for u in [from, to] {
                if url::Url::parse(u).is_err() {
                    diags.push(
                        ctx.at_key(1, "mirrors", format!("mirror prefix `{u}` is not a URL"))
                            .with_hint("write both sides as URLs, e.g. `https://cloud-images.ubuntu.com/: http://mirror.example/ubuntu/`"),
                    );
                }
            }
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

/// Ids matching a glob (`*` and `?`) or equal to the pattern.
fn match_ids<'a>(pattern: &str, ids: impl Iterator<Item = &'a String>) -> Vec<String> {
    let re = regex::Regex::new(&format!(
        "^{}$",
        regex::escape(pattern)
            .replace(r"\*", ".*")
            .replace(r"\?", ".")
    ));
    match re {
        Ok(re) => ids.filter(|id| re.is_match(id)).cloned().collect(),
        Err(_) => Vec::new(),
    }
}

/// `higher` wins over `lower`, field by field; maps merge key by key.
fn merge_defaults(lower: &ImageDefaults, higher: &ImageDefaults) -> ImageDefaults {
    ImageDefaults {
        architecture: higher.architecture.or(lower.architecture),
        version: merge_opt(&lower.version, &higher.version, |l, h| raw::VersionPolicy {
            pin: h.pin.clone().or_else(|| l.pin.clone()),
            matches: h.matches.clone().or_else(|| l.matches.clone()),
            min_age: h.min_age.clone().or_else(|| l.min_age.clone()),
        }),
        signature: merge_opt(&lower.signature, &higher.signature, |l, h| {
            raw::SignaturePolicy {
                policy: h.policy.or(l.policy),
                keys: h.keys.clone().or_else(|| l.keys.clone()),
            }
        }),
        glance: merge_opt(&lower.glance, &higher.glance, merge_glance),
        rotation: merge_opt(&lower.rotation, &higher.rotation, |l, h| raw::Rotation {
            rename: h.rename.or(l.rename),
            hide: h.hide.or(l.hide),
            mark_oldgeneric: h.mark_oldgeneric.or(l.mark_oldgeneric),
            visibility: h.visibility.or(l.visibility),
            keep: h.keep.or(l.keep),
            delete: h.delete.or(l.delete),
        }),
        transfer: higher.transfer.or(lower.transfer),
    }
}

fn merge_opt<T: Clone>(
    lower: &Option<T>,
    higher: &Option<T>,
    f: impl Fn(&T, &T) -> T,
) -> Option<T> {
    match (lower, higher) {
        (Some(l), Some(h)) => Some(f(l, h)),
        (l, h) => h.clone().or_else(|| l.clone()),
    }
}

fn merge_glance(l: &GlanceSpec, h: &GlanceSpec) -> GlanceSpec {
    let tags = match (&l.tags, &h.tags) {
        (None, None) => None,
        (a, b) => {
            let mut all: Vec<String> = a.iter().chain(b.iter()).flatten().cloned().collect();
            all.sort();
            all.dedup();
            Some(all)
        }
    };
    GlanceSpec {
        disk_format: h.disk_format.or(l.disk_format),
        container_format: h.container_format.or(l.container_format),
        min_disk: h.min_disk.or(l.min_disk),
        min_ram: h.min_ram.or(l.min_ram),
        visibility: h.visibility.or(l.visibility),
        protected: h.protected.or(l.protected),
        tags,
        properties: merge_opt(&l.properties, &h.properties, merge_properties),
    }
}

fn merge_properties(l: &Properties, h: &Properties) -> Properties {
    let extra = match (&l.extra, &h.extra) {
        (None, None) => None,
        (a, b) => {
            let mut m = a.clone().unwrap_or_default();
            m.extend(b.clone().unwrap_or_default());
            Some(m)
        }
    };
    Properties {
        os_distro: h.os_distro.clone().or_else(|| l.os_distro.clone()),
        os_version: h.os_version.clone().or_else(|| l.os_version.clone()),
        os_purpose: h.os_purpose.or(l.os_purpose),
        hw_disk_bus: h.hw_disk_bus.or(l.hw_disk_bus),
        hw_scsi_model: h.hw_scsi_model.clone().or_else(|| l.hw_scsi_model.clone()),
        hw_rng_model: h.hw_rng_model.or(l.hw_rng_model),
        hypervisor_type: h.hypervisor_type.or(l.hypervisor_type),
        replace_frequency: h.replace_frequency.or(l.replace_frequency),
        provided_until: h
            .provided_until
            .clone()
            .or_else(|| l.provided_until.clone()),
        uuid_validity: h.uuid_validity.clone().or_else(|| l.uuid_validity.clone()),
        hotfix_hours: h.hotfix_hours.or(l.hotfix_hours),
        image_original_user: h
            .image_original_user
            .clone()
            .or_else(|| l.image_original_user.clone()),
        image_description: h
            .image_description
            .clone()
            .or_else(|| l.image_description.clone()),
        extra,
    }
}

/// The image's own settings as a defaults layer.
fn entry_layer(e: &ImageEntry) -> ImageDefaults {
    ImageDefaults {
        architecture: e.architecture,
        version: e.version.clone(),
        signature: e.signature.clone(),
        glance: e.glance.clone(),
        rotation: e.rotation.clone(),
        transfer: e.transfer,
    }
}

/// The preset as the lowest defaults layer.
fn preset_layer(source: &Source) -> ImageDefaults {
    let p = presets::defaults(source);
    ImageDefaults {
        glance: Some(GlanceSpec {
            disk_format: p.disk_format,
            properties: Some(Properties {
                os_distro: p.os_distro.map(str::to_owned),
                os_version: p.os_version,
                image_original_user: p.image_original_user.map(str::to_owned),
                image_description: p.image_description,
                ..Properties::default()
            }),
            ..GlanceSpec::default()
        }),
        ..ImageDefaults::default()
    }
}

#[allow(clippy::too_many_lines)] // one linear list of checks reads better than many small functions
fn resolve_image(
    dir: &Path,
    ctx: &Ctx<'_>,
    entry: &ImageEntry,
    layered: &ImageDefaults,
    origin: Origin,
    diags: &mut Vec<Diagnostic>,
) -> Image {
    let id = entry.id.value.clone();
    let line = origin.line;
    let mut err = |d: Diagnostic| diags.push(d);

    if !valid_id(&id) {
        err(ctx
            .at(line, origin.column, format!("invalid image id `{id}`"))
            .with_width(id.len())
            .with_hint("use lower case letters, digits, `.`, `_` and `-`, starting with a letter or digit (e.g. `ubuntu-24.04`)"));
    }
    // `state/<id>.toml` must fit a file name (255 bytes on every common file system).
    if id.len() + ".toml".len() > 255 {
        err(ctx
            .at(line, origin.column, format!(
                "image id is {} characters, too long for its lockfile's name `state/<id>.toml` (255 bytes)",
                id.len()
            ))
            .with_hint("shorten the id to 250 characters or fewer"));
    }
    let name = entry.name.value.trim().to_owned();
    let (name_line, name_column) = (entry.name.referenced.line(), entry.name.referenced.column());
    if name.is_empty() {
        err(ctx
            .at(name_line, name_column, "the Glance name is empty")
            .with_hint("give the image the name users see in Glance, e.g. `Ubuntu 24.04`"));
    }
    let name_chars = name.chars().count();
    if name_chars > 255 {
        err(ctx
            .at(
                name_line,
                name_column,
                format!("the Glance name is {name_chars} characters; Glance allows 255"),
            )
            .with_hint("shorten the name; details belong in `image_description`"));
    }
    if name.chars().any(char::is_control) {
        err(ctx
            .at(
                name_line,
                name_column,
                "the Glance name has a control character (a tab, newline or escape)",
            )
            .with_hint("use printable characters only; Glance and dashboards show the name as is"));
    }

    let source = entry.source.value.clone();
    let merged = merge_defaults(
        &merge_defaults(&preset_layer(&source), layered),
        &entry_layer(entry),
    );
    let architecture = merged.architecture.unwrap_or(raw::Architecture::X86_64);
    let g = merged.glance.clone().unwrap_or_default();
    let props = g.properties.clone().unwrap_or_default();

    // Source checks.
    check_source(ctx, line, &source, architecture, entry.enabled, &mut err);

    // Version policy.
    let vp = merged.version.clone().unwrap_or_default();
    if vp.pin.is_some() && vp.matches.is_some() {
        err(ctx
            .at_key(
                line,
                "version",
                "`version.pin` and `version.match` cannot both be set",
            )
            .with_hint("a pin takes exactly one version; remove `match`"));
    }
    if let Some(m) = &vp.matches
        && let Err(e) = regex::Regex::new(m)
    {
        err(ctx.at_key(
            line,
            "match",
            format!("invalid regular expression in `version.match`: {e}"),
        ));
    }
    let min_age = vp.min_age.as_deref().and_then(|s| match parse_duration(s) {
        Ok(d) => Some(d),
        Err(()) => {
            err(ctx
                .at_key(line, "min_age", format!("invalid duration `{s}`"))
                .with_hint("write a number and a unit: `30m`, `12h`, `2d` or `1w`"));
            None
        }
    });

    // Signature keys.
    let sig = merged.signature.clone().unwrap_or_default();
    let mode = sig.policy.unwrap_or_default();
    let mut keys = Vec::new();
    for k in sig.keys.clone().unwrap_or_default() {
        let path = dir.join(&k);
        if !path.is_file() {
            err(ctx
                .at_key(
                    line,
                    "keys",
                    format!("signature key file `{k}` does not exist"),
                )
                .with_hint(format!(
                    "key files are relative to the catalog directory ({})",
                    dir.display()
                )));
        } else if crate::upstream::signature::Keyring::load(std::slice::from_ref(&path)).is_err() {
            err(ctx
                .at_key(
                    line,
                    "keys",
                    format!("signature key file `{k}` is not an OpenPGP key (no public key with a valid self-signature in it)"),
                )
                .with_hint("export the vendor's public key (`gpg --export --armor FINGERPRINT`) into that file; see catalog/keys/README.md"));
        }
        keys.push(path);
    }
    if mode == raw::SignatureMode::Required && keys.is_empty() {
        err(ctx
            .at_key(
                line,
                "signature",
                "`signature.policy: required` needs at least one key in `signature.keys`",
            )
            .with_hint(
                "add the distributor's public key file (e.g. `keys/ubuntu-cloud-images.asc`)",
            ));
    }

    // Glance side.
    let min_disk = g.min_disk.unwrap_or(0);
    let min_ram = g.min_ram.unwrap_or(0);
    if min_disk == 0 {
        err(ctx
            .at_key(
                line,
                "min_disk",
                "`glance.min_disk` must be set and non-zero (scs-0102)",
            )
            .with_hint("set it in GiB to at least the image's virtual size, e.g. `min_disk: 10`"));
    }
    if min_ram == 0 {
        err(ctx
            .at_key(
                line,
                "min_ram",
                "`glance.min_ram` must be set and non-zero (scs-0102)",
            )
            .with_hint("set it in MiB, e.g. `min_ram: 512`"));
    }
    let mut properties = BTreeMap::new();
    let mut required = |key: &str, value: Option<String>, hint: &str| match value {
        Some(v) if !v.trim().is_empty() => {
            properties.insert(key.to_owned(), v);
        }
        _ => err(ctx
            .at_key(
                line,
                key,
                format!("missing SCS property `{key}` (scs-0102)"),
            )
            .with_hint(hint.to_owned())),
    };
    required(
        "os_distro",
        props.os_distro.clone(),
        "set `glance.properties.os_distro` (lower case osinfo id, e.g. `ubuntu`)",
    );
    if props.os_version.is_some() || !presets::os_version_from_lock(&source) {
        required(
            "os_version",
            props.os_version.clone(),
            "set `glance.properties.os_version`, e.g. `\"24.04\"`",
        );
    }
    required(
        "os_purpose",
        props.os_purpose.map(|p| p.as_str().to_owned()),
        "set `glance.properties.os_purpose` (usually `generic`), e.g. in the defaults",
    );
    required(
        "hw_disk_bus",
        props.hw_disk_bus.map(|b| match b {
            raw::DiskBus::Virtio => "virtio".to_owned(),
            raw::DiskBus::Scsi => "scsi".to_owned(),
        }),
        "set `glance.properties.hw_disk_bus` (`scsi` with `hw_scsi_model: virtio-scsi`, or `virtio`)",
    );
    required(
        "replace_frequency",
        props.replace_frequency.map(|f| f.as_str().to_owned()),
        "set `glance.properties.replace_frequency` (e.g. `weekly`)",
    );
    required(
        "provided_until",
        props.provided_until.clone(),
        "set `glance.properties.provided_until` (`YYYY-MM-DD`, `none` or `notice`)",
    );
    required(
        "uuid_validity",
        props.uuid_validity.clone(),
        "set `glance.properties.uuid_validity` (e.g. `last-3`, `none`, `forever`)",
    );
    required(
        "image_original_user",
        props.image_original_user.clone(),
        "set `glance.properties.image_original_user` (the default login user)",
    );
    required(
        "image_description",
        props.image_description.clone(),
        "set `glance.properties.image_description` (release notes URL or text)",
    );
    if let Some(m) = &props.hw_scsi_model {
        properties.insert("hw_scsi_model".into(), m.clone());
    }
    if let Some(r) = props.hw_rng_model {
        let raw::RngModel::Virtio = r;
        properties.insert("hw_rng_model".into(), "virtio".into());
    }
    if let Some(h) = props.hypervisor_type {
        let v = match h {
            raw::HypervisorType::Qemu => "qemu",
            raw::HypervisorType::Kvm => "kvm",
            raw::HypervisorType::Xen => "xen",
            raw::HypervisorType::HyperV => "hyper-v",
            raw::HypervisorType::Esxi => "esxi",
        };
        properties.insert("hypervisor_type".into(), v.into());
    }
    if let Some(h) = props.hotfix_hours {
        properties.insert("hotfix_hours".into(), h.to_string());
    }
    for (k, v) in props.extra.clone().unwrap_or_default() {
        if TOOL_PROPERTIES.contains(&k.as_str()) {
            err(ctx
                .at_key(line, &k, format!("`{k}` is set by the tool and cannot be declared in the catalog"))
                .with_hint("remove it: `image_source` and `image_build_date` come from the lockfile, `architecture` from `architecture`"));
        } else if crate::openstack::image::is_server_owned(&k) {
            err(ctx
                .at_key(
                    line,
                    &k,
                    format!("`{k}` is owned by Glance and cannot be set"),
                )
                .with_hint("remove it from `extra`"));
        } else {
            properties.insert(k, v);
        }
    }
    properties.insert("architecture".into(), architecture.as_str().into());

    // Value formats SCS defines.
    if let Some(v) = &props.provided_until
        && !(v == "none" || v == "notice" || valid_date(v))
    {
        err(ctx
            .at_key(
                line,
                "provided_until",
                format!("invalid `provided_until` value `{v}`"),
            )
            .with_hint("scs-0102 allows `YYYY-MM-DD`, `none` or `notice`"));
    }
    let last_n = props
        .uuid_validity
        .as_deref()
        .and_then(|v| v.strip_prefix("last-"))
        .map(str::parse::<u32>);
    if let Some(v) = &props.uuid_validity
        && !(matches!(v.as_str(), "none" | "notice" | "forever")
            || valid_date(v)
            || matches!(last_n, Some(Ok(n)) if n > 0))
    {
        err(ctx
            .at_key(
                line,
                "uuid_validity",
                format!("invalid `uuid_validity` value `{v}`"),
            )
            .with_hint("scs-0102 allows `none`, `last-N`, `YYYY-MM-DD`, `notice` or `forever`"));
    }
    if let Some(d) = &props.os_distro
        && d != &d.to_lowercase()
    {
        err(ctx
            .at_key(
                line,
                "os_distro",
                format!("`os_distro` must be lower case, not `{d}`"),
            )
            .with_hint(format!("write `{}`", d.to_lowercase())));
    }
    if let (Some(want), Some(have)) = (
        presets::required_os_distro(&source),
        props.os_distro.as_deref(),
    ) && want != have
    {
        err(ctx
            .at_key(
                line,
                "os_distro",
                format!(
                    "`os_distro: {have}` does not match the `{}` source",
                    source.kind()
                ),
            )
            .with_hint(format!(
                "scs-0102 follows the osinfo ids: write `os_distro: {want}`"
            )));
    }
    if props.hw_disk_bus == Some(raw::DiskBus::Scsi) && props.hw_scsi_model.is_none() {
        err(ctx
            .at_key(
                line,
                "hw_disk_bus",
                "`hw_disk_bus: scsi` without `hw_scsi_model`",
            )
            .with_hint("SCS recommends `hw_scsi_model: virtio-scsi` with the scsi bus"));
    }

    // Rotation and retention.
    let r = merged.rotation.clone().unwrap_or_default();
    let rotation = Rotation {
        rename: r.rename.unwrap_or(true),
        hide: r.hide.unwrap_or(true),
        mark_oldgeneric: r.mark_oldgeneric.unwrap_or(true),
        visibility: r.visibility,
        keep: r.keep.unwrap_or(3),
        delete: r.delete.unwrap_or(false),
    };
    if let Some(Ok(n)) = last_n
        && rotation.keep + 1 < n
    {
        err(ctx
            .at_key(line, "keep", format!(
                "`rotation.keep: {}` keeps fewer images than `uuid_validity: last-{n}` promises",
                rotation.keep
            ))
            .with_hint(format!("keep at least {} replaced images (the current one counts as one)", n - 1)));
    }
    let old_visibility = rotation
        .visibility
        .or(g.visibility)
        .unwrap_or(raw::Visibility::Public);
    if props.os_purpose == Some(raw::OsPurpose::Generic)
        && !rotation.hide
        && !rotation.mark_oldgeneric
        && matches!(old_visibility, raw::Visibility::Public)
    {
        err(ctx
            .at_key(line, "rotation", "replaced images would stay public, visible and `generic`")
            .with_hint("scs-0102 v2 allows one public visible generic image per distro version: set `rotation.hide: true` or `rotation.mark_oldgeneric: true`"));
    }

    let mut tags: BTreeSet<String> = g.tags.clone().unwrap_or_default().into_iter().collect();
    tags.retain(|t| !t.is_empty());

    let image = Image {
        id,
        name,
        enabled: entry.enabled,
        origin,
        source,
        architecture,
        version: VersionPolicy {
            pin: vp.pin.clone(),
            matches: vp.matches.clone(),
            min_age,
        },
        signature: Signature { mode, keys },
        glance: Glance {
            disk_format: g.disk_format.unwrap_or(raw::DiskFormat::Qcow2),
            container_format: g.container_format.unwrap_or(raw::ContainerFormat::Bare),
            min_disk,
            min_ram,
            visibility: g.visibility.unwrap_or(raw::Visibility::Public),
            protected: g.protected.unwrap_or(false),
            tags,
            properties,
        },
        rotation,
        transfer: merged.transfer.unwrap_or_default(),
    };
    if image.hands_auth_to_glance() {
        err(auth_with_web_download(ctx, line, None));
    }
    image
}

/// `source.static.auth` with `transfer: web-download` (of the entry, or of a target).
fn auth_with_web_download(ctx: &Ctx<'_>, line: u64, target: Option<&str>) -> Diagnostic {
    let whose = target.map_or_else(String::new, |t| format!("{t}: "));
    ctx.at_key(
        line,
        "transfer",
        format!("{whose}`transfer: web-download` with `source.static.auth` would hand the download header to Glance"),
    )
    .with_hint("use `transfer: stream` or `glance-direct`: the tool then downloads with the header itself and Glance never sees it")
}

/// A `pattern` that does not compile or has no `version` capture.
fn version_pattern_problem(ctx: &Ctx<'_>, line: u64, pattern: &str) -> Option<Diagnostic> {
    match regex::Regex::new(pattern) {
        Ok(re) if !re.capture_names().flatten().any(|n| n == "version") => Some(
            ctx.at_key(line, "pattern", "`pattern` has no `version` capture")
                .with_hint("name the version part: `(?P<version>\\d{8})`"),
        ),
        Err(e) => Some(ctx.at_key(line, "pattern", format!("invalid regular expression: {e}"))),
        Ok(_) => None,
    }
}

fn check_source(
    ctx: &Ctx<'_>,
    line: u64,
    source: &Source,
    arch: raw::Architecture,
    enabled: bool,
    err: &mut impl FnMut(Diagnostic),
) {
    match source {
        Source::Ubuntu(s) if presets::ubuntu_codename(&s.release).is_none() => {
            let known: Vec<&str> = presets::UBUNTU_CODENAMES.iter().map(|(r, _)| *r).collect();
            let hint = suggest::closest(&s.release, known.iter().copied()).map_or_else(
                || format!("known releases: {}", known.join(", ")),
                |c| format!("did you mean `\"{c}\"`?"),
            );
            err(ctx
                .at_key(
                    line,
                    "release",
                    format!("unknown Ubuntu release `{}`", s.release),
                )
                .with_hint(hint));
        }
        Source::Debian(s)
            if s.codename.is_none() && presets::debian_codename(&s.release).is_none() =>
        {
            err(ctx
                .at_key(
                    line,
                    "release",
                    format!("unknown Debian release `{}`", s.release),
                )
                .with_hint("use a known release (10 to 14) or give `codename:` too"));
        }
        Source::Archlinux(_) if arch != raw::Architecture::X86_64 => {
            err(ctx
                .at_key(line, "architecture", "Arch Linux publishes official cloud images for x86_64 only")
                .with_hint("use `architecture: x86_64`, or a `checksum-dir` source for a community aarch64 build"));
        }
        Source::ChecksumDir(s) => {
            if let Some(d) = version_pattern_problem(ctx, line, &s.pattern) {
                err(d);
            }
        }
        Source::ObjectStorage(s) => {
            if let Some(d) = version_pattern_problem(ctx, line, &s.pattern) {
                err(d);
            }
            if s.signature_file.is_some() && s.checksum_file.is_none() {
                err(ctx
                    .at_key(
                        line,
                        "signature_file",
                        "`signature_file` signs a `checksum_file`, and none is set",
                    )
                    .with_hint("set `checksum_file` (e.g. SHA256SUMS), or drop `signature_file`"));
            }
            if s.checksum_file.is_none() && s.checksum_suffixes.is_empty() {
                err(ctx
                    .at_key(
                        line,
                        "checksum_suffixes",
                        "no checksum: neither `checksum_file` nor a sidecar suffix",
                    )
                    .with_hint(
                        "use `checksum_suffixes: [\".CHECKSUM\"]` or `checksum_file: SHA256SUMS`",
                    ));
            }
            if !(s.url.starts_with("https://") || s.url.starts_with("http://")) {
                err(ctx.at_key(
                    line,
                    "url",
                    format!("`url: {}` is not an http(s) URL", s.url),
                ));
            }
        }
        Source::DiskimageBuilder(r) => {
            if r.elements.is_empty() {
                err(ctx
                    .at_key(
                        line,
                        "elements",
                        "a diskimage-builder recipe needs elements",
                    )
                    .with_hint("e.g. `elements: [vm, debian-minimal, cloud-init, growroot]`"));
            }
            for (key, url) in [("mirror", Some(&r.mirror)), ("url", Some(&r.publish.url))]
                .into_iter()
                .chain([("security_mirror", r.security_mirror.as_ref())])
            {
                if let Some(u) =
                    url.filter(|u| !(u.starts_with("https://") || u.starts_with("http://")))
                {
                    err(ctx.at_key(line, key, format!("`{key}: {u}` is not an http(s) URL")));
                }
            }
            if let Some(k) = r.environment.keys().find(|k| !k.starts_with("DIB_")) {
                err(ctx
                    .at_key(
                        line,
                        "environment",
                        format!("`{k}` is not a diskimage-builder variable"),
                    )
                    .with_hint("only `DIB_*` variables are passed to disk-image-create"));
            }
        }
        Source::GithubRelease(s) => {
            if s.repo.split('/').count() != 2 {
                err(ctx.at_key(
                    line,
                    "repo",
                    format!("`repo: {}` is not `owner/name`", s.repo),
                ));
            }
            for (key, pat) in [
                ("asset", Some(&s.asset)),
                ("checksum_asset", s.checksum_asset.as_ref()),
            ] {
                if let Some(p) = pat
                    && let Err(e) = regex::Regex::new(p)
                {
                    err(ctx.at_key(line, key, format!("invalid regular expression: {e}")));
                }
            }
        }
        Source::Static(s) => {
            if enabled
                && (s.url.is_none()
                    || s.checksum.is_none()
                    || s.version.is_none()
                    || s.build_date.is_none())
            {
                err(ctx
                    .at_key(line, "static", "an enabled `static` image needs `url`, `checksum`, `version` and `build_date`")
                    .with_hint("fill them in from the vendor's download page, or set `enabled: false` until you can"));
            }
            if let Some(c) = &s.checksum
                && !valid_checksum(c)
            {
                err(ctx
                    .at_key(line, "checksum", format!("invalid checksum `{c}`"))
                    .with_hint("write `sha256:<64 hex>` or `sha512:<128 hex>`"));
            }
            if let Some(d) = &s.build_date
                && !valid_date(d)
            {
                err(ctx
                    .at_key(line, "build_date", format!("invalid build date `{d}`"))
                    .with_hint("write `YYYY-MM-DD`"));
            }
            // `check` locks this URL verbatim: hold it to the lockfile gate's rules, so `check`
            // never writes a lockfile that `validate`, `plan` and `apply` reject.
            if let Some(u) = &s.url {
                if url::Url::parse(u).is_err() {
                    err(ctx.at_key(line, "url", format!("`{u}` is not a URL")));
                } else if let Some(problem) = crate::lock::gate::url_problem(u) {
                    err(ctx
                        .at_key(line, "url", format!("`url: {u}` {problem}"))
                        .with_hint("a `static` source names the vendor's http(s) download URL"));
                } else if crate::catalog::presets::is_alias_url(u) {
                    err(ctx
                        .at_key(
                            line,
                            "url",
                            format!("`url: {u}` is an alias (`latest`, `current`): its bytes change under the lock"),
                        )
                        .with_hint("name the versioned file (the one the alias points at today), and bump it with `version` and `checksum`"));
                }
            }
            if let Some(a) = &s.auth {
                if a.env.trim().is_empty() {
                    err(ctx.at_key(line, "env", "`auth.env` must name an environment variable"));
                }
                if reqwest::header::HeaderName::from_bytes(a.header.as_bytes()).is_err() {
                    err(ctx
                        .at_key(
                            line,
                            "header",
                            format!("`auth.header: {}` is not an HTTP header name", a.header),
                        )
                        .with_hint(
                            "write a header name such as `Authorization` or `X-Auth-Token`",
                        ));
                }
            }
        }
        _ => {}
    }
}

fn apply_overrides(img: &mut Image, o: &ImageDefaults) {
    if let Some(g) = &o.glance {
        if let Some(v) = g.visibility {
            img.glance.visibility = v;
        }
        if let Some(v) = g.min_disk {
            img.glance.min_disk = v;
        }
        if let Some(v) = g.min_ram {
            img.glance.min_ram = v;
        }
        if let Some(v) = g.protected {
            img.glance.protected = v;
        }
        if let Some(tags) = &g.tags {
            img.glance.tags.extend(tags.iter().cloned());
        }
        if let Some(p) = &g.properties {
            for (k, v) in p.extra.clone().unwrap_or_default() {
                img.glance.properties.insert(k, v);
            }
        }
    }
    if let Some(r) = &o.rotation {
        img.rotation.rename = r.rename.unwrap_or(img.rotation.rename);
        img.rotation.hide = r.hide.unwrap_or(img.rotation.hide);
        img.rotation.mark_oldgeneric = r.mark_oldgeneric.unwrap_or(img.rotation.mark_oldgeneric);
        img.rotation.visibility = r.visibility.or(img.rotation.visibility);
        img.rotation.keep = r.keep.unwrap_or(img.rotation.keep);
        img.rotation.delete = r.delete.unwrap_or(img.rotation.delete);
    }
    if let Some(t) = o.transfer {
        img.transfer = t;
    }
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// `YYYY-MM-DD`, a real date.
pub(crate) fn valid_date(s: &str) -> bool {
    s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok()
}

fn valid_checksum(s: &str) -> bool {
    let Some((algo, hex)) = s.split_once(':') else {
        return false;
    };
    let len = match algo {
        "sha256" => 64,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == len
        && hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

/// `30m`, `12h`, `2d`, `1w`.
pub(crate) fn parse_duration(s: &str) -> Result<jiff::SignedDuration, ()> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or(())?);
    let n: i64 = num.parse().map_err(|_| ())?;
    let secs = match unit.trim() {
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(()),
    };
    Ok(jiff::SignedDuration::from_secs(
        n.checked_mul(secs).ok_or(())?,
    ))
}

/// A digest of what a lockfile was resolved from: source, architecture and version policy.
pub fn source_digest(image: &Image) -> String {
    #[derive(serde::Serialize)]
    struct Key<'a> {
        source: &'a Source,
        architecture: raw::Architecture,
        pin: &'a Option<String>,
        matches: &'a Option<String>,
    }
    let key = Key {
        source: &image.source,
        architecture: image.architecture,
        pin: &image.version.pin,
        matches: &image.version.matches,
    };
    let json = serde_json::to_vec(&key).expect("source settings serialize");
    format!("sha256:{}", hex::encode(Sha256::digest(&json)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("2d"),
            Ok(jiff::SignedDuration::from_hours(48))
        );
        assert_eq!(
            parse_duration("30m"),
            Ok(jiff::SignedDuration::from_mins(30))
        );
        assert!(parse_duration("2 days").is_err());
        assert!(parse_duration("d").is_err());
    }

    #[test]
    fn checksums_and_dates() {
        assert!(valid_checksum(&format!("sha256:{}", "a".repeat(64))));
        assert!(!valid_checksum(&format!("sha256:{}", "a".repeat(63))));
        assert!(!valid_checksum(&format!("md5:{}", "a".repeat(32))));
        assert!(valid_date("2024-02-29"));
        assert!(!valid_date("2023-02-29"));
    }

    #[test]
    fn finds_keys_in_the_right_block() {
        let text = "images:\n  - id: a\n    glance:\n      min_disk: 1\n  - id: b\n    name: B\n";
        assert_eq!(find_key(text, 2, "min_disk"), Some((4, 7)));
        assert_eq!(find_key(text, 5, "min_disk"), None);
        assert_eq!(find_key(text, 5, "name"), Some((6, 5)));
    }
}
