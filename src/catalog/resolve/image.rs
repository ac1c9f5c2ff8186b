//! One image entry, merged with its layers, checked field by field.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::merge::{entry_layer, merge_defaults, preset_layer};
use super::source::check_source;
use super::values::{REGEX_HINT, parse_duration, regex_error, valid_date, valid_id};
use super::{Ctx, TOOL_PROPERTIES};
use crate::catalog::raw::{self, ImageDefaults, ImageEntry};
use crate::catalog::{Glance, Image, Origin, Rotation, Signature, VersionPolicy, presets};
use crate::diagnostic::Diagnostic;

#[allow(clippy::too_many_lines)] // one linear list of checks reads better than many small functions
pub(super) fn resolve_image(
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
        err(ctx
            .at_key(
                line,
                "match",
                format!(
                    "invalid regular expression in `version.match`: {}",
                    regex_error(&e)
                ),
            )
            .with_hint(REGEX_HINT));
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
        // Glance stores property names in 255 characters; control characters in a name or
        // value (other than a value's line breaks and tabs) garble every listing.
        let name_chars = k.chars().count();
        if name_chars > 255 || k.chars().any(char::is_control) {
            let what = if name_chars > 255 {
                format!("{name_chars} characters; Glance allows 255")
            } else {
                "a control character".to_owned()
            };
            err(ctx
                .at_key(
                    line,
                    &k,
                    format!("the property name `{}` has {what}", k.escape_debug()),
                )
                .with_hint("property names are short printable words, e.g. `os_admin_user`"));
            continue;
        }
        if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            err(ctx
                .at_key(
                    line,
                    &k,
                    format!("the value of property `{k}` has a control character"),
                )
                .with_hint("use printable characters (line breaks and tabs are fine)"));
            continue;
        }
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
    // Glance's tag limit is 255 characters.
    for t in &tags {
        let chars = t.chars().count();
        if chars > 255 || t.chars().any(char::is_control) {
            let what = if chars > 255 {
                format!("is {chars} characters; Glance allows 255")
            } else {
                "has a control character".to_owned()
            };
            err(ctx
                .at_key(
                    line,
                    "tags",
                    format!("the tag `{}` {what}", t.escape_debug()),
                )
                .with_hint("tags are short printable labels, e.g. `os:linux`"));
        }
    }

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
            disk_format: g.disk_format,
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
pub(super) fn auth_with_web_download(ctx: &Ctx<'_>, line: u64, target: Option<&str>) -> Diagnostic {
    let whose = target.map_or_else(String::new, |t| format!("{t}: "));
    ctx.at_key(
        line,
        "transfer",
        format!("{whose}`transfer: web-download` with `source.static.auth` would hand the download header to Glance"),
    )
    .with_hint("use `transfer: stream` or `glance-direct`: the tool then downloads with the header itself and Glance never sees it")
}

/// A `pattern` that does not compile or has no `version` capture.
pub(super) fn version_pattern_problem(
    ctx: &Ctx<'_>,
    line: u64,
    pattern: &str,
) -> Option<Diagnostic> {
    match regex::Regex::new(pattern) {
        Ok(re) if !re.capture_names().flatten().any(|n| n == "version") => Some(
            ctx.at_key(line, "pattern", "`pattern` has no `version` capture")
                .with_hint("name the version part: `(?P<version>\\d{8})`"),
        ),
        Err(e) => Some(
            ctx.at_key(
                line,
                "pattern",
                format!(
                    "invalid regular expression in `pattern`: {}",
                    regex_error(&e)
                ),
            )
            .with_hint(REGEX_HINT),
        ),
        Ok(_) => None,
    }
}
