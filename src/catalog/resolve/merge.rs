//! Layering: preset < `settings.defaults` < file `defaults` < image, field by field.

use crate::catalog::raw::{self, GlanceSpec, ImageDefaults, ImageEntry, Properties, Source};
use crate::catalog::{Image, presets};

/// Ids matching a glob (`*` and `?`) or equal to the pattern.
pub(super) fn match_ids<'a>(pattern: &str, ids: impl Iterator<Item = &'a String>) -> Vec<String> {
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
pub(super) fn merge_defaults(lower: &ImageDefaults, higher: &ImageDefaults) -> ImageDefaults {
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

pub(super) fn merge_opt<T: Clone>(
    lower: &Option<T>,
    higher: &Option<T>,
    f: impl Fn(&T, &T) -> T,
) -> Option<T> {
    match (lower, higher) {
        (Some(l), Some(h)) => Some(f(l, h)),
        (l, h) => h.clone().or_else(|| l.clone()),
    }
}

pub(super) fn merge_glance(l: &GlanceSpec, h: &GlanceSpec) -> GlanceSpec {
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

pub(super) fn merge_properties(l: &Properties, h: &Properties) -> Properties {
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
pub(super) fn entry_layer(e: &ImageEntry) -> ImageDefaults {
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
pub(super) fn preset_layer(source: &Source) -> ImageDefaults {
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

pub(super) fn apply_overrides(img: &mut Image, o: &ImageDefaults) {
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
