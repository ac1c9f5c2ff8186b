//! The planner: a PURE function from catalog + lockfiles + observed Glance images to a [`Plan`].
//!
//! Per catalog image (its lockfile gives the wanted version):
//! - leftover temporary images (`image-crawler-tmp-…` whose claim is not live, see
//!   [`super::claim`]), managed images stuck in a non-active state (`queued`, `saving`,
//!   `importing`, `uploading`, `killed`) and active copies of the current image (same build,
//!   same sha512: two applies imported it at once) → `Cleanup`; temporary images under a live
//!   claim are a concurrent apply's work and are not planned;
//! - no active managed image carries the locked version → `Import`;
//! - the current image's metadata differs from the desired metadata → `UpdateMetadata`, one
//!   [`FieldDiff`] per field (drift and catalog changes look the same);
//! - every other managed image is an *old generation*: kept ones are rotated (`Rotate` while
//!   they still look current, `UpdateMetadata` when a rotated one drifted), the ones beyond
//!   retention are deleted when the catalog allows it (`Delete`, or `Keep` when protected).
//!
//! Rotated names are `<Name> YYYYMMDD` from the old image's own `image_build_date`; when two old
//! builds share a date the later-created ones get `<Name> YYYYMMDD-2`, `-3`, … An image that
//! already carries a valid rotated name for its date keeps it, so names never shuffle.
//!
//! Retention keeps `max(rotation.keep, N-1)` old images where `uuid_validity: last-N` (the N
//! includes the current image, as scs-0102 counts "the last N images"); `forever` or a date
//! not yet passed keeps everything.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::claim::Claim;
use super::{
    Action, Change, FieldDiff, MANAGED_KEYS_PROPERTY, MANAGED_TAGS_PROPERTY, PLAN_FORMAT_VERSION,
    Plan, TMP_PREFIX,
};
use crate::catalog::{ID_PROPERTY, Image, VERSION_PROPERTY, presets};
use crate::lock::LockedImage;
use crate::openstack::GlanceImage;
use crate::openstack::image::is_server_owned;

/// Property keys the tool always sets (never listed in [`MANAGED_KEYS_PROPERTY`]: they are
/// never removed).
pub const TOOL_KEYS: &[&str] = &[
    "architecture",
    "image_source",
    "image_build_date",
    ID_PROPERTY,
    VERSION_PROPERTY,
    MANAGED_KEYS_PROPERTY,
    MANAGED_TAGS_PROPERTY,
];

/// Statuses of an image whose import failed or was interrupted.
pub(crate) const FAILED_STATUSES: &[&str] =
    &["queued", "saving", "importing", "uploading", "killed"];

/// What the planner needs besides the data.
#[derive(Debug, Clone)]
pub struct PlanContext {
    /// The `clouds.yaml` name.
    pub cloud: String,
    /// The region (as resolved from clouds.yaml), when the cloud has one.
    pub region: Option<String>,
    /// The `managed_by_<vendor>` tag.
    pub managed_tag: String,
    /// The planning time: `uuid_validity: YYYY-MM-DD` is compared with its UTC date, and
    /// images to be imported get it as `created_at` in the planned state.
    pub now: jiff::Timestamp,
    /// Run ids whose claims are live ([`super::claim`]): their temporary images belong to an
    /// apply still at work and are left alone.
    pub live_claims: BTreeSet<String>,
}

impl PlanContext {
    /// Today (UTC).
    pub fn today(&self) -> jiff::civil::Date {
        self.now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date()
    }
}

/// The metadata a current image should have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Desired {
    pub name: String,
    pub visibility: String,
    pub hidden: bool,
    pub protected: bool,
    /// The catalog's `min_disk`; apply raises it to the image's virtual size (GiB, rounded
    /// up), and the plan judges a current image by that rule ([`wanted_min_disk`]).
    pub min_disk: u64,
    pub min_ram: u64,
    /// The catalog's `disk_format`; `None`: the image's header decides at apply.
    pub disk_format: Option<String>,
    pub container_format: String,
    pub tags: BTreeSet<String>,
    pub properties: BTreeMap<String, String>,
}

/// The desired metadata of the current image of `image` at the locked build.
pub fn desired(image: &Image, lock: &LockedImage, managed_tag: &str) -> Desired {
    let g = &image.glance;
    let declared: BTreeMap<String, String> = g
        .properties
        .iter()
        .filter(|(k, _)| !is_server_owned(k) && !TOOL_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut declared = declared;
    // Presets that follow the newest release take `os_version` from the locked build.
    if !declared.contains_key("os_version")
        && presets::os_version_from_lock(&image.source)
        && let Some(v) = presets::os_version_of(&image.source, &lock.build.version)
    {
        declared.insert("os_version".into(), v);
    }
    let mut properties = declared.clone();
    properties.insert(
        MANAGED_KEYS_PROPERTY.into(),
        join(declared.keys().map(String::as_str)),
    );
    let declared_tags: BTreeSet<String> = g
        .tags
        .iter()
        .filter(|t| *t != managed_tag)
        .cloned()
        .collect();
    properties.insert(
        MANAGED_TAGS_PROPERTY.into(),
        join(declared_tags.iter().map(String::as_str)),
    );
    properties.insert("architecture".into(), image.architecture.as_str().into());
    // The canonical form of the locked URL: a lockfile written before Ubuntu URLs were
    // canonical keeps its alias until the next build, and an operator who fixed
    // `image_source` by hand in Glance must not see plan revert it (docs/plan-apply.md).
    properties.insert(
        "image_source".into(),
        crate::upstream::canonical_source_url(&lock.build.url),
    );
    properties.insert("image_build_date".into(), lock.build.build_date.clone());
    properties.insert(ID_PROPERTY.into(), image.id.clone());
    properties.insert(VERSION_PROPERTY.into(), lock.build.version.clone());
    let mut tags = declared_tags;
    tags.insert(managed_tag.to_owned());
    Desired {
        name: image.name.clone(),
        visibility: g.visibility.as_str().into(),
        hidden: false,
        protected: g.protected,
        min_disk: u64::from(g.min_disk),
        min_ram: u64::from(g.min_ram),
        disk_format: g.disk_format.map(|f| f.as_str().into()),
        container_format: g.container_format.as_str().into(),
        tags,
        properties,
    }
}

impl Desired {
    /// The image as it will look once imported (for checks of the planned state).
    pub fn to_image(&self, id: &str) -> GlanceImage {
        GlanceImage {
            id: id.into(),
            name: self.name.clone(),
            status: "active".into(),
            visibility: self.visibility.clone(),
            hidden: self.hidden,
            protected: self.protected,
            disk_format: self.disk_format.clone(),
            container_format: Some(self.container_format.clone()),
            min_disk: self.min_disk,
            min_ram: self.min_ram,
            tags: self.tags.clone(),
            properties: self.properties.clone(),
            ..Default::default()
        }
    }
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(",")
}

fn split_list(value: Option<&String>) -> BTreeSet<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The field diffs turning `obs` into `want` (only what the tool owns).
pub fn diff_metadata(obs: &GlanceImage, want: &Desired) -> Vec<FieldDiff> {
    let mut d = Vec::new();
    let mut field = |name: &str, before: String, after: String| {
        if before != after {
            d.push(FieldDiff::new(name, Some(before), Some(after)));
        }
    };
    field("name", obs.name.clone(), want.name.clone());
    field(
        "visibility",
        obs.visibility.clone(),
        want.visibility.clone(),
    );
    field("os_hidden", obs.hidden.to_string(), want.hidden.to_string());
    field(
        "protected",
        obs.protected.to_string(),
        want.protected.to_string(),
    );
    field(
        "min_disk",
        obs.min_disk.to_string(),
        wanted_min_disk(obs, want).to_string(),
    );
    field("min_ram", obs.min_ram.to_string(), want.min_ram.to_string());
    for (k, v) in &want.properties {
        if obs.properties.get(k) != Some(v) {
            d.push(FieldDiff::new(
                format!("property:{k}"),
                obs.properties.get(k).cloned(),
                Some(v.clone()),
            ));
        }
    }
    for k in split_list(obs.properties.get(MANAGED_KEYS_PROPERTY)) {
        if !want.properties.contains_key(&k)
            && !is_server_owned(&k)
            && !TOOL_KEYS.contains(&k.as_str())
            && let Some(v) = obs.properties.get(&k)
        {
            d.push(FieldDiff::new(
                format!("property:{k}"),
                Some(v.clone()),
                None,
            ));
        }
    }
    for t in want.tags.difference(&obs.tags) {
        d.push(FieldDiff::new(format!("tag:{t}"), None, Some(t.clone())));
    }
    for t in split_list(obs.properties.get(MANAGED_TAGS_PROPERTY)) {
        if !want.tags.contains(&t) && obs.tags.contains(&t) {
            d.push(FieldDiff::new(format!("tag:{t}"), Some(t.clone()), None));
        }
    }
    d
}

/// The `min_disk` an image should have: the catalog's, raised to its virtual size in GiB
/// rounded up, as apply sets it. Glance's `virtual_size` (its own inspection of the bytes);
/// a raw image's virtual size is its byte length.
pub fn wanted_min_disk(obs: &GlanceImage, want: &Desired) -> u64 {
    let virtual_size = obs.virtual_size.filter(|v| *v > 0).or_else(|| {
        (obs.disk_format.as_deref() == Some("raw"))
            .then_some(obs.size)
            .flatten()
    });
    virtual_size.map_or(want.min_disk, |v| super::header::min_disk(want.min_disk, v))
}

/// Applies diffs to an image value (the planned state, and the tag list of a patch).
pub fn apply_diffs(img: &mut GlanceImage, diffs: &[FieldDiff]) {
    for d in diffs {
        let after = d.after.clone();
        match d.field.as_str() {
            "name" => img.name = after.unwrap_or_default(),
            "visibility" => img.visibility = after.unwrap_or_default(),
            "os_hidden" => img.hidden = after.as_deref() == Some("true"),
            "protected" => img.protected = after.as_deref() == Some("true"),
            "min_disk" => img.min_disk = after.and_then(|v| v.parse().ok()).unwrap_or(0),
            "min_ram" => img.min_ram = after.and_then(|v| v.parse().ok()).unwrap_or(0),
            f => {
                if let Some(k) = f.strip_prefix("property:") {
                    match after {
                        Some(v) => img.properties.insert(k.to_owned(), v),
                        None => img.properties.remove(k),
                    };
                } else if let Some(t) = f.strip_prefix("tag:") {
                    if after.is_some() {
                        img.tags.insert(t.to_owned());
                    } else {
                        img.tags.remove(t);
                    }
                }
            }
        }
    }
}

/// The versions of the images under the stable name that are newer than the locked one:
/// the lockfile went back (a downgrade, e.g. by hand edit or a revert).
fn newer_in_glance(version: &str, stable: &str, live: &[&GlanceImage]) -> Vec<String> {
    let mut newer: Vec<String> = live
        .iter()
        .filter(|g| g.name == stable)
        .filter_map(|g| g.properties.get(VERSION_PROPERTY))
        .filter(|v| crate::upstream::version::compare(v, version).is_gt())
        .cloned()
        .collect();
    newer.sort();
    newer.dedup();
    newer
}

fn downgrade_warning(version: &str, newer: &[String]) -> Vec<String> {
    if newer.is_empty() {
        return vec![];
    }
    vec![format!(
        "downgrade: the lockfile names build {version}, older than {} in Glance; \
         if that is not intended, restore the lockfile (or run `check`)",
        newer.join(", ")
    )]
}

/// The build date of an image as `YYYYMMDD` (its `image_build_date`, else its creation date).
fn date_token(img: &GlanceImage) -> String {
    let raw = img
        .properties
        .get("image_build_date")
        .map(String::as_str)
        .unwrap_or(&img.created_at);
    raw.chars().take(10).filter(char::is_ascii_digit).collect()
}

/// Assigns rotated names to old images (stable: valid existing names are kept).
fn rotated_names(stable: &str, olds: &[&GlanceImage]) -> BTreeMap<String, String> {
    let mut by_age: Vec<&GlanceImage> = olds.to_vec();
    by_age.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    let candidate = |img: &GlanceImage, k: u32| {
        let base = format!("{stable} {}", date_token(img));
        if k <= 1 { base } else { format!("{base}-{k}") }
    };
    // A name the tool gives: `<stable> <date>` or `<stable> <date>-<k>` with k >= 2 written
    // plainly, whatever k is (the images that took the smaller ones may be gone).
    let given = |img: &GlanceImage| {
        let base = format!("{stable} {}", date_token(img));
        match img.name.strip_prefix(&base) {
            Some("") => true,
            Some(rest) => rest
                .strip_prefix('-')
                .and_then(|k| (!k.starts_with('0')).then(|| k.parse::<u32>().ok())?)
                .is_some_and(|k| k >= 2 && candidate(img, k) == img.name),
            None => false,
        }
    };
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut names = BTreeMap::new();
    for img in &by_age {
        if given(img) && taken.insert(img.name.clone()) {
            names.insert(img.id.clone(), img.name.clone());
        }
    }
    for img in &by_age {
        if names.contains_key(&img.id) {
            continue;
        }
        let name = (1..)
            .map(|k| candidate(img, k))
            .find(|n| !taken.contains(n))
            .expect("an unbounded range finds a free name");
        taken.insert(name.clone());
        names.insert(img.id.clone(), name);
    }
    names
}

/// What `uuid_validity` promises for old images.
#[derive(Debug, PartialEq, Eq)]
enum Validity {
    /// No promise beyond the catalog's `keep`.
    Free,
    /// Keep at least this many old images.
    LastOld(u32),
    /// Keep every old image.
    All,
}

fn validity(value: Option<&String>, today: jiff::civil::Date) -> Validity {
    let Some(v) = value.map(|v| v.trim()) else {
        return Validity::Free;
    };
    if v == "forever" {
        return Validity::All;
    }
    if let Some(n) = v.strip_prefix("last-").and_then(|n| n.parse::<u32>().ok()) {
        return Validity::LastOld(n.saturating_sub(1));
    }
    if let Ok(date) = v.parse::<jiff::civil::Date>() {
        return if date >= today {
            Validity::All
        } else {
            Validity::Free
        };
    }
    Validity::Free
}

/// The rotation diffs of an old image.
fn rotation_diffs(old: &GlanceImage, new_name: &str, image: &Image) -> Vec<FieldDiff> {
    let r = &image.rotation;
    let mut d = Vec::new();
    if r.rename && old.name != new_name {
        d.push(FieldDiff::new(
            "name",
            Some(old.name.clone()),
            Some(new_name.into()),
        ));
    }
    if r.hide && !old.hidden {
        d.push(FieldDiff::new(
            "os_hidden",
            Some("false".into()),
            Some("true".into()),
        ));
    }
    if let Some(v) = r.visibility
        && old.visibility != v.as_str()
    {
        d.push(FieldDiff::new(
            "visibility",
            Some(old.visibility.clone()),
            Some(v.as_str().into()),
        ));
    }
    if r.mark_oldgeneric && old.properties.get("os_purpose").map(String::as_str) == Some("generic")
    {
        d.push(FieldDiff::new(
            "property:os_purpose",
            Some("generic".into()),
            Some("oldgeneric".into()),
        ));
    }
    d
}

/// Plans one cloud. `catalog_images` are the enabled images this target gets (with target
/// overrides applied); images without a lockfile are skipped (the caller reports them).
pub fn plan(
    catalog_images: &[&Image],
    locks: &BTreeMap<String, LockedImage>,
    observed: &[GlanceImage],
    ctx: &PlanContext,
) -> Plan {
    let mut changes = Vec::new();
    for image in catalog_images {
        if let Some(lock) = locks.get(&image.id) {
            let mine: Vec<&GlanceImage> = observed
                .iter()
                .filter(|g| g.catalog_id() == Some(image.id.as_str()))
                .collect();
            plan_image(image, lock, &mine, ctx, &mut changes);
        }
    }
    let mut p = Plan {
        format_version: PLAN_FORMAT_VERSION,
        cloud: ctx.cloud.clone(),
        region: ctx.region.clone(),
        fingerprint: fingerprint(catalog_images, locks, observed, ctx),
        changes,
    };
    p.sort();
    p
}

fn plan_image(
    image: &Image,
    lock: &LockedImage,
    mine: &[&GlanceImage],
    ctx: &PlanContext,
    out: &mut Vec<Change>,
) {
    let want = desired(image, lock, &ctx.managed_tag);
    let version = &lock.build.version;
    let change = |action, g: &GlanceImage, reason: String, details| Change {
        image_id: image.id.clone(),
        action,
        glance_id: Some(g.id.clone()),
        name: g.name.clone(),
        version: g.properties.get(VERSION_PROPERTY).cloned(),
        reason,
        details,
        warnings: vec![],
    };

    let mut live: Vec<&GlanceImage> = Vec::new();
    for g in mine {
        if g.name.starts_with(TMP_PREFIX) {
            if Claim::of(g).is_some_and(|c| ctx.live_claims.contains(&c.run.0)) {
                // Another apply is importing it: not ours to judge (see `claim`).
                continue;
            }
            let reason = format!(
                "leftover temporary image of an interrupted apply ({})",
                g.status
            );
            out.push(change(Action::Cleanup, g, reason, vec![]));
        } else if FAILED_STATUSES.contains(&g.status.as_str()) {
            let reason = format!("failed import, stuck in status {}", g.status);
            out.push(change(Action::Cleanup, g, reason, vec![]));
        } else if g.status == "active" || g.status == "deactivated" {
            live.push(g);
        }
        // `deleted` / `pending_delete` are on their way out: nothing to do.
    }

    // The current image: active, of the locked version; the stable name and visibility break ties.
    // A locked image digest (of a decompressed artifact) must match Glance's own hash.
    let other_bytes: Vec<&GlanceImage> = live
        .iter()
        .filter(|g| g.status == "active" && g.properties.get(VERSION_PROPERTY) == Some(version))
        .filter(|g| image_digest_differs(g, lock).is_some())
        .copied()
        .collect();
    let current = pick_current(
        live.iter()
            .copied()
            .filter(|g| image_digest_differs(g, lock).is_none()),
        version,
        &want,
    );
    // Copies of the current build (two applies imported it at once): the same bytes, so one is
    // enough; the others are deleted rather than kept as hidden duplicates.
    let duplicates: BTreeSet<&str> = current
        .map(|cur| {
            live.iter()
                .filter(|g| is_duplicate_of(g, cur, &want))
                .map(|g| g.id.as_str())
                .collect()
        })
        .unwrap_or_default();
    for g in live.iter().filter(|g| duplicates.contains(g.id.as_str())) {
        let cur = current.map(|c| c.id.as_str()).unwrap_or_default();
        let reason = format!("duplicate of the current image {cur} (same build and sha512)");
        out.push(change(Action::Cleanup, g, reason, vec![]));
    }
    live.retain(|g| !duplicates.contains(g.id.as_str()));

    match current {
        None => {
            let previous: Vec<String> = live
                .iter()
                .filter(|g| g.name == want.name)
                .filter_map(|g| g.properties.get(VERSION_PROPERTY).cloned())
                .collect();
            let newer = newer_in_glance(version, &want.name, &live);
            let reason = if let Some(g) = other_bytes.first() {
                format!(
                    "image {} of version {version} holds other bytes: {}",
                    g.id,
                    image_digest_differs(g, lock).unwrap_or_default()
                )
            } else if previous.is_empty() {
                format!("no image of version {version}")
            } else if newer.is_empty() {
                format!("new build {version} (current: {})", previous.join(", "))
            } else {
                format!("older build {version} (current: {})", previous.join(", "))
            };
            let (algo, sum) = lock
                .build
                .strongest_checksum()
                .map(|(a, s)| (a.as_str(), s))
                .unwrap_or(("none", ""));
            out.push(Change {
                image_id: image.id.clone(),
                action: Action::Import,
                glance_id: None,
                name: want.name.clone(),
                version: Some(version.clone()),
                reason,
                details: vec![
                    FieldDiff::new("source", None, Some(lock.build.url.clone())),
                    FieldDiff::new("transfer", None, Some(image.transfer.as_str().into())),
                    FieldDiff::new("checksum", None, Some(format!("{algo}:{sum}"))),
                ],
                warnings: downgrade_warning(version, &newer),
            });
        }
        Some(cur) => {
            let diffs = diff_metadata(cur, &want);
            if !diffs.is_empty() {
                let reason = format!(
                    "{} field(s) differ from the catalog and lockfile",
                    diffs.len()
                );
                let mut c = change(Action::UpdateMetadata, cur, reason, diffs);
                c.warnings =
                    downgrade_warning(version, &newer_in_glance(version, &want.name, &live));
                out.push(c);
            }
        }
    }

    // Old generations, newest first.
    let mut olds: Vec<&GlanceImage> = live
        .iter()
        .filter(|g| current.is_none_or(|c| c.id != g.id))
        .copied()
        .collect();
    olds.sort_by(|a, b| {
        (date_token(b), &b.created_at, &b.id).cmp(&(date_token(a), &a.created_at, &a.id))
    });
    let names = rotated_names(&want.name, &olds);
    let keep = match validity(want.properties.get("uuid_validity"), ctx.today()) {
        Validity::All => None,
        Validity::LastOld(n) => Some(n.max(image.rotation.keep)),
        Validity::Free => Some(image.rotation.keep),
    };
    for (i, old) in olds.iter().enumerate() {
        let rot_name = names
            .get(&old.id)
            .cloned()
            .unwrap_or_else(|| old.name.clone());
        let diffs = rotation_diffs(old, &rot_name, image);
        let beyond = keep.is_some_and(|k| i >= k as usize);
        if beyond && image.rotation.delete {
            let keep_n = keep.unwrap_or_default();
            if old.protected {
                let reason = format!("beyond retention (keep {keep_n}) but protected");
                out.push(change(Action::Keep, old, reason, vec![]));
                // A protected old image is still rotated, so the stable name stays unique.
                if !diffs.is_empty() {
                    out.push(change(
                        Action::Rotate,
                        old,
                        "replaced by a newer build".into(),
                        diffs,
                    ));
                }
            } else {
                // The rotation diffs ride along: apply uses them when Glance refuses (409).
                let reason = format!("beyond retention (keep {keep_n})");
                out.push(change(Action::Delete, old, reason, diffs));
            }
        } else if !diffs.is_empty() {
            let still_current = old.name == want.name;
            let (action, reason) = if still_current {
                (Action::Rotate, "replaced by a newer build".to_owned())
            } else {
                (Action::UpdateMetadata, "rotated image drifted".to_owned())
            };
            out.push(change(action, old, reason, diffs));
        }
    }
}

/// The current image among `live` (non-temporary) images: active, of the locked version; the
/// stable name, then not hidden, then the oldest wins (apply re-checks with the same rule).
pub(crate) fn pick_current<'a>(
    live: impl Iterator<Item = &'a GlanceImage>,
    version: &str,
    want: &Desired,
) -> Option<&'a GlanceImage> {
    live.filter(|g| {
        g.status == "active"
            && !g.name.starts_with(TMP_PREFIX)
            && g.properties.get(VERSION_PROPERTY).map(String::as_str) == Some(version)
    })
    .min_by_key(|g| {
        (
            g.name != want.name,
            g.hidden,
            g.created_at.clone(),
            g.id.clone(),
        )
    })
}

/// Whether `g` is a copy of the current image `cur`: same build, same bytes (Glance's hash),
/// active, and not protected by anyone but the catalog.
pub(crate) fn is_duplicate_of(g: &GlanceImage, cur: &GlanceImage, want: &Desired) -> bool {
    g.id != cur.id
        && g.status == "active"
        && g.properties.get(VERSION_PROPERTY) == cur.properties.get(VERSION_PROPERTY)
        && g.os_hash_value.is_some()
        && g.os_hash_value == cur.os_hash_value
        && g.size == cur.size
        && (!g.protected || want.protected)
}

/// A digest of everything the plan depends on (except the date).
fn fingerprint(
    catalog_images: &[&Image],
    locks: &BTreeMap<String, LockedImage>,
    observed: &[GlanceImage],
    ctx: &PlanContext,
) -> String {
    #[derive(Serialize)]
    struct Input<'a> {
        desired: Desired,
        rotation: String,
        transfer: &'a str,
        lock: &'a LockedImage,
        observed: Vec<&'a GlanceImage>,
    }
    let mut inputs: BTreeMap<&str, Input> = BTreeMap::new();
    for image in catalog_images {
        if let Some(lock) = locks.get(&image.id) {
            let mut obs: Vec<&GlanceImage> = observed
                .iter()
                .filter(|g| g.catalog_id() == Some(image.id.as_str()))
                .collect();
            obs.sort_by(|a, b| a.id.cmp(&b.id));
            inputs.insert(
                &image.id,
                Input {
                    desired: desired(image, lock, &ctx.managed_tag),
                    rotation: format!("{:?}", image.rotation),
                    transfer: image.transfer.as_str(),
                    lock,
                    observed: obs,
                },
            );
        }
    }
    // The region joins the hashed inputs only when there is one (older fingerprints stay).
    let bytes = match &ctx.region {
        None => serde_json::to_vec(&(&ctx.cloud, &inputs)),
        Some(r) => serde_json::to_vec(&(&ctx.cloud, r, &inputs)),
    }
    .expect("plan inputs serialize");
    format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
}

/// How [`planned_state`] names the ids of the images the plan creates: `(new <catalog id>)`.
pub const NEW_ID_PREFIX: &str = "(new ";

/// The state Glance will be in after the plan (for the scs-0102 check before anything runs).
pub fn planned_state(
    plan: &Plan,
    catalog_images: &[&Image],
    locks: &BTreeMap<String, LockedImage>,
    observed: &[GlanceImage],
    ctx: &PlanContext,
) -> Vec<GlanceImage> {
    let mut state: Vec<GlanceImage> = observed.to_vec();
    for c in &plan.changes {
        match c.action {
            Action::Cleanup | Action::Delete => {
                state.retain(|g| Some(&g.id) != c.glance_id.as_ref());
            }
            Action::Import => {
                let image = catalog_images.iter().find(|i| i.id == c.image_id);
                if let (Some(image), Some(lock)) = (image, locks.get(&c.image_id)) {
                    let want = desired(image, lock, &ctx.managed_tag);
                    let mut new = want.to_image(&format!("{NEW_ID_PREFIX}{})", c.image_id));
                    new.size = lock.build.size;
                    new.created_at = ctx.now.to_string();
                    new.updated_at = new.created_at.clone();
                    state.push(new);
                }
            }
            Action::UpdateMetadata | Action::Rotate => {
                if let Some(g) = state
                    .iter_mut()
                    .find(|g| Some(&g.id) == c.glance_id.as_ref())
                {
                    apply_diffs(g, &c.details);
                }
            }
            Action::Keep => {}
        }
    }
    state
}

#[cfg(test)]
mod tests;

/// Why Glance's hash of `g` is not the lockfile's image digest, when the lockfile has one in
/// Glance's algorithm (`[build.image.checksums]`); `None`: it matches or cannot be compared.
fn image_digest_differs(g: &GlanceImage, lock: &LockedImage) -> Option<String> {
    let algo = crate::lock::HashAlgorithm::parse(g.os_hash_algo.as_deref()?)?;
    let locked = lock.build.image.as_ref()?.checksums.get(&algo)?;
    let glance = g.os_hash_value.as_deref()?;
    (!glance.eq_ignore_ascii_case(locked))
        .then(|| format!("Glance's {algo} is {glance}, the lockfile's image digest is {locked}"))
}
