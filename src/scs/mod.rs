//! SCS CONFORMANCE: the rules of scs-0102 (image metadata, v1 and the v2 draft) and scs-0104
//! (standard images), plus the lifecycle checks (end of life) of this tool.
//!
//! Everything here is pure: [`check_images`] takes the observed (or planned) Glance images, the
//! current time and the options, and returns [`Finding`]s, sorted. The shells are `audit` (live
//! Glance) and `plan` (the planned state, through [`check_planned`]).
//!
//! Scope, by default the official SCS suite's ([`AuditScope`]): images with visibility `public`
//! or `community` that are not hidden (`os_hidden`), images being deleted (`deleted`,
//! `pending_delete`) ignored; which community images are listed (the auditing project's only,
//! or every project's) is the listing's business (`audit`). Name lookups follow the official
//! one: of several same-named images, the oldest is the one the name-based tests judge.
//!
//! Rule ids ([`Rule::id`]) are API: scripts filter on them. Severity is `error` for what a
//! mandatory SCS test (or the lifecycle past EOL) fails on, `warning` for recommendations.
//!
//! Submodules: [`properties`] (per-image property rules), [`recency`] (recency and
//! uniqueness, which look at several images), [`standard`] (scs-0104), [`lifecycle`] (EOL data
//! and its checks), [`news`] (staleness and new releases, for `check`), [`report`] (rendering).

pub mod lifecycle;
pub mod news;
pub mod official_date;
pub mod properties;
pub mod recency;
pub mod report;
pub mod standard;

use serde::Serialize;

pub use crate::diagnostic::Severity;
use crate::openstack::image::GlanceImage;
pub use lifecycle::Lifecycle;
pub use standard::StandardImageList;

/// A stable rule id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// A mandatory property is missing or empty.
    MandatoryProperty,
    /// A recommended property is missing (`os_purpose` under v1).
    RecommendedProperty,
    /// A property has a value the standard does not allow.
    AllowedValue,
    /// `min_disk` is zero or smaller than the image.
    MinDisk,
    /// `min_ram` is zero (error) or below 64 MiB (warning).
    MinRam,
    /// `image_build_date` is malformed, in the future, or after `created_at`.
    BuildDate,
    /// The image is older than 1.1 × its `replace_frequency` without being rotated out properly.
    Recency,
    /// More than one public, visible `generic` image per (architecture, os_distro, os_version).
    OsPurposeUnique,
    /// A standard image (scs-0104) is missing.
    MissingImage,
    /// A standard image's `image_source` does not start with an allowed prefix.
    ImageSourcePrefix,
    /// `plan` only: an image it creates from a standard image's upstream, for its purpose, is
    /// not named as that standard image must be (so the official tests would not find it).
    StandardName,
    /// The distribution release is past its end of life.
    Eol,
    /// The distribution release reaches its end of life soon.
    EolSoon,
}

impl Rule {
    /// The stable id shown to people and in JSON.
    pub fn id(self) -> &'static str {
        match self {
            Rule::MandatoryProperty => "scs-0102/mandatory-property",
            Rule::RecommendedProperty => "scs-0102/recommended-property",
            Rule::AllowedValue => "scs-0102/allowed-value",
            Rule::MinDisk => "scs-0102/min-disk",
            Rule::MinRam => "scs-0102/min-ram",
            Rule::BuildDate => "scs-0102/build-date",
            Rule::Recency => "scs-0102/recency",
            Rule::OsPurposeUnique => "scs-0102-v2/os-purpose-unique",
            Rule::MissingImage => "scs-0104/missing-image",
            Rule::ImageSourcePrefix => "scs-0104/image-source-prefix",
            Rule::StandardName => "scs-0104/name",
            Rule::Eol => "lifecycle/eol",
            Rule::EolSoon => "lifecycle/eol-soon",
        }
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// One problem with one image (or, for a missing standard image, with the cloud).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The Glance id; `None` when the finding is about an image that does not exist.
    pub image_id: Option<String>,
    /// The image name (for a missing standard image: the name it must have).
    pub image_name: String,
    pub rule: Rule,
    pub severity: Severity,
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl Finding {
    pub(crate) fn new(
        img: &GlanceImage,
        rule: Rule,
        severity: Severity,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            image_id: Some(img.id.clone()),
            image_name: img.name.clone(),
            rule,
            severity,
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// Which version of scs-0102 decides what is mandatory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scs0102Version {
    // Plain comments, not doc comments: clap would turn them into long `--help` output.
    // v1 (stable; certificate scope v5.1): `os_purpose` and its uniqueness are recommended.
    #[default]
    V1,
    // v2 (draft; certificate scope "next"): `os_purpose` and uniqueness are mandatory, and
    // `oldgeneric` is allowed.
    V2,
}

/// What to check.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    pub scs0102: Scs0102Version,
    /// Which scs-0104 image list to check; [`StandardImageList::None`] skips scs-0104.
    pub standard_images: StandardImageList,
    /// End-of-life data; lifecycle rules are skipped when absent.
    pub lifecycle: Option<Lifecycle>,
    /// Warn this many weeks before a release's end of life.
    pub eol_warning_weeks: u32,
    /// Which images are judged; the default is the official suite's.
    pub scope: AuditScope,
}

/// Where audit may be stricter than the official SCS suite (all `false` = the official scope).
/// The official suite lists images with `member_status=all` and keeps the public and community
/// ones: Glance leaves hidden images out of that list, and community images of other projects
/// too; it then looks images up by name in a dict built from that list (newest first), so the
/// last, i.e. OLDEST, of several same-named images is the one its name-based tests judge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AuditScope {
    /// Judge hidden images too.
    pub include_hidden: bool,
    /// Judge the community images of other projects too (the listing adds them).
    pub include_community: bool,
    /// scs-0104 `image_source`: judge every image of a standard name, not only the oldest.
    pub each_duplicate: bool,
}

impl AuditScope {
    /// Everything: what `plan` judges its own images with.
    pub const STRICT: AuditScope = AuditScope {
        include_hidden: true,
        include_community: true,
        each_duplicate: true,
    };
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            scs0102: Scs0102Version::V1,
            standard_images: StandardImageList::V5,
            lifecycle: None,
            eol_warning_weeks: lifecycle::DEFAULT_WARNING_WEEKS,
            scope: AuditScope::default(),
        }
    }
}

/// Whether audit judges this image: visibility `public` or `community`, not being deleted, and
/// not hidden unless the scope includes hidden images.
pub fn in_scope(img: &GlanceImage, scope: &AuditScope) -> bool {
    matches!(img.visibility.as_str(), "public" | "community")
        && !matches!(img.status.as_str(), "deleted" | "pending_delete")
        && (scope.include_hidden || !img.hidden)
}

/// The image the official suite's name lookup (`{img.name: img for img in images}` over a
/// listing sorted newest first) finds for each name: the oldest by `created_at`, then by id
/// (Glance's tie-breaker).
pub(crate) fn official_by_name<'a>(
    scope: &[&'a GlanceImage],
) -> std::collections::BTreeMap<&'a str, &'a GlanceImage> {
    let mut by_name: std::collections::BTreeMap<&str, &GlanceImage> =
        std::collections::BTreeMap::new();
    for img in scope {
        by_name
            .entry(img.name.as_str())
            .and_modify(|cur| {
                if (&img.created_at, &img.id) < (&cur.created_at, &cur.id) {
                    *cur = img;
                }
            })
            .or_insert(img);
    }
    by_name
}

/// Checks observed Glance images against scs-0102, scs-0104 and the lifecycle data.
/// Findings are sorted by image name, image id, rule id and message.
pub fn check_images(
    images: &[GlanceImage],
    now: jiff::Timestamp,
    opts: &AuditOptions,
) -> Vec<Finding> {
    let scope: Vec<&GlanceImage> = images.iter().filter(|i| in_scope(i, &opts.scope)).collect();
    let mut findings = Vec::new();
    for img in &scope {
        findings.extend(properties::check(img, now, opts.scs0102));
        if let Some(lc) = &opts.lifecycle {
            findings.extend(lifecycle::check_image(img, lc, now, opts.eol_warning_weeks));
        }
    }
    findings.extend(recency::check_recency(&scope, now));
    findings.extend(recency::check_uniqueness(&scope, opts.scs0102));
    findings.extend(standard::check(
        &scope,
        opts.standard_images,
        opts.scope.each_duplicate,
    ));
    sort(&mut findings);
    findings
}

/// Checks the state `plan` would leave in Glance (the images kept, changed and created, as
/// [`GlanceImage`] values) with the same rules as [`check_images`]: conformance is a property
/// of the resulting image set, whether it exists yet or not.
///
/// What the planner must fill in for images it creates: every property it will set, `visibility`,
/// `hidden`, `min_disk`/`min_ram`, `size` (or `virtual_size`) when the lockfile knows it (the
/// `min_disk` size check is skipped without it), and `created_at` = the planning time (RFC 3339)
/// so the "build date after created_at" rule compares against the time of the upload; an empty
/// `created_at` skips that comparison.
pub fn check_planned(
    images: &[GlanceImage],
    now: jiff::Timestamp,
    opts: &AuditOptions,
) -> Vec<Finding> {
    check_images(images, now, opts)
}

/// The findings of the planned state that the current state does not have (by image and
/// rule; a missing standard image by its name), so `plan` can refuse only what it would make
/// worse, not the problems a cloud already has with images this tool does not manage.
pub fn introduced(current: &[Finding], planned: &[Finding]) -> Vec<Finding> {
    let key = |f: &Finding| {
        (
            f.image_id
                .clone()
                .unwrap_or_else(|| format!("name:{}", f.image_name)),
            f.rule,
        )
    };
    let before: std::collections::BTreeSet<_> = current.iter().map(key).collect();
    planned
        .iter()
        .filter(|f| !before.contains(&key(f)))
        .cloned()
        .collect()
}

/// Whether any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.image_name, &a.image_id, a.rule.id(), &a.message).cmp(&(
            &b.image_name,
            &b.image_id,
            b.rule.id(),
            &b.message,
        ))
    });
}

/// Parses an SCS date (`image_build_date`, `provided_until`, `uuid_validity`): the formats the
/// SCS test accepts, `YYYY-MM-DDThh:mm:ssZ`, `YYYY-MM-DD hh:mm[:ss]` and `YYYY-MM-DD`, in UTC.
pub fn parse_scs_date(s: &str) -> Option<jiff::Timestamp> {
    use jiff::civil::{Date, DateTime};
    use jiff::tz::TimeZone;
    let bytes = s.as_bytes();
    let date_like = bytes.len() >= 10
        && bytes[..10].iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !date_like {
        return None;
    }
    let dt: DateTime = match s.len() {
        10 => s
            .parse::<Date>()
            .ok()?
            .to_datetime(jiff::civil::Time::midnight()),
        16 | 19 if bytes[10] == b' ' => {
            let t = &s[11..];
            let valid = t.bytes().enumerate().all(|(i, b)| {
                if i == 2 || i == 5 {
                    b == b':'
                } else {
                    b.is_ascii_digit()
                }
            });
            if !valid {
                return None;
            }
            format!("{}T{}", &s[..10], t).parse().ok()?
        }
        20 if bytes[10] == b'T' && bytes[19] == b'Z' => {
            return s.parse::<jiff::Timestamp>().ok();
        }
        _ => return None,
    };
    TimeZone::UTC.to_timestamp(dt).ok()
}

/// Parses a Glance timestamp (`created_at`, RFC 3339).
pub(crate) fn parse_glance_time(s: &str) -> Option<jiff::Timestamp> {
    s.parse::<jiff::Timestamp>().ok()
}

/// The `openstack image set` command that sets a property, for fix hints.
pub(crate) fn set_property_hint(img: &GlanceImage, key: &str, value: &str) -> String {
    // The tool sets these from the lockfile; the catalog cannot (docs/catalog.md).
    let from_lock = matches!(key, "image_source" | "image_build_date");
    let managed = img
        .catalog_id()
        .map(|id| {
            if from_lock {
                format!(" (managed by image-crawler: it comes from state/{id}.toml; `image-crawler check` then `apply` rewrite it)")
            } else {
                format!(" (managed by image-crawler: set it in the catalog entry `{id}`)")
            }
        })
        .unwrap_or_default();
    format!(
        "openstack image set --property {key}={value} {}{managed}",
        img.id
    )
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::collections::{BTreeMap, BTreeSet};

    use crate::openstack::image::GlanceImage;

    /// A public, active, fully conforming Ubuntu 24.04 image built 2026-11-01, registered
    /// 2026-11-02 (tests run at `NOW` = 2026-11-20).
    pub fn image(id: &str, name: &str) -> GlanceImage {
        let props: BTreeMap<String, String> = [
            ("architecture", "x86_64"),
            ("hw_disk_bus", "scsi"),
            ("hw_scsi_model", "virtio-scsi"),
            ("hypervisor_type", "qemu"),
            ("hw_rng_model", "virtio"),
            ("os_distro", "ubuntu"),
            ("os_version", "24.04"),
            ("os_purpose", "generic"),
            ("replace_frequency", "monthly"),
            ("provided_until", "2029-05-31"),
            ("uuid_validity", "last-3"),
            ("hotfix_hours", "0"),
            (
                "image_source",
                "https://cloud-images.ubuntu.com/releases/noble/release-20261101/ubuntu-24.04-server-cloudimg-amd64.img",
            ),
            ("image_description", "https://ubuntu.com/server/docs"),
            ("image_build_date", "2026-11-01"),
            ("image_original_user", "ubuntu"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        GlanceImage {
            id: id.to_owned(),
            name: name.to_owned(),
            status: "active".into(),
            visibility: "public".into(),
            disk_format: Some("qcow2".into()),
            container_format: Some("bare".into()),
            min_disk: 4,
            min_ram: 512,
            size: Some(600 * 1024 * 1024),
            virtual_size: Some(3_758_096_384),
            os_hash_algo: Some("sha512".into()),
            os_hash_value: Some("ab".repeat(64)),
            created_at: "2026-11-02T08:00:00Z".into(),
            updated_at: "2026-11-02T08:01:00Z".into(),
            owner: Some("admin".into()),
            tags: BTreeSet::new(),
            properties: props,
            ..Default::default()
        }
    }

    pub fn set(mut img: GlanceImage, key: &str, value: &str) -> GlanceImage {
        img.properties.insert(key.to_owned(), value.to_owned());
        img
    }

    pub fn unset(mut img: GlanceImage, key: &str) -> GlanceImage {
        img.properties.remove(key);
        img
    }

    pub fn now() -> jiff::Timestamp {
        "2026-11-20T12:00:00Z".parse().unwrap()
    }

    pub fn rules(findings: &[super::Finding]) -> Vec<(&str, &str)> {
        findings
            .iter()
            .map(|f| (f.image_name.as_str(), f.rule.id()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    /// scs-0102 only (scs-0104 has its own tests and would want a full set of images).
    fn opts() -> AuditOptions {
        AuditOptions {
            standard_images: StandardImageList::None,
            ..AuditOptions::default()
        }
    }

    #[test]
    fn a_conforming_cloud_has_no_findings() {
        let imgs = vec![image("a", "Ubuntu 24.04")];
        let opts = AuditOptions {
            scs0102: Scs0102Version::V2,
            lifecycle: Some(lifecycle::builtin()),
            ..opts()
        };
        assert_eq!(check_images(&imgs, now(), &opts), vec![]);
        // With scs-0104 (v5) the cloud lacks the recommended images, and only them.
        let v5 = AuditOptions {
            standard_images: StandardImageList::V5,
            ..opts
        };
        assert_eq!(
            rules(&check_images(&imgs, now(), &v5)),
            [
                ("Debian 12", "scs-0104/missing-image"),
                ("ubuntu-capi-image", "scs-0104/missing-image")
            ]
        );
    }

    #[test]
    fn private_and_deleted_images_are_out_of_scope() {
        let mut private = unset(image("p", "Ubuntu 24.04 private"), "architecture");
        private.visibility = "private".into();
        let mut gone = unset(image("d", "Ubuntu 24.04 gone"), "architecture");
        gone.status = "pending_delete".into();
        let imgs = vec![image("a", "Ubuntu 24.04"), private, gone];
        assert_eq!(check_images(&imgs, now(), &opts()), vec![]);
        // The same broken image in scope is found.
        let mut community = unset(image("c", "Ubuntu 24.04 c"), "architecture");
        community.visibility = "community".into();
        let imgs = vec![image("a", "Ubuntu 24.04"), community];
        assert_eq!(
            rules(&check_images(&imgs, now(), &opts())),
            [("Ubuntu 24.04 c", "scs-0102/mandatory-property")]
        );
    }

    #[test]
    fn planned_state_uses_the_same_rules() {
        let imgs = vec![
            image("a", "Ubuntu 24.04"),
            unset(image("b", "Debian 12"), "min_disk"),
        ];
        let mut planned_new = image("new", "Ubuntu 24.04");
        planned_new.created_at = String::new();
        planned_new.size = None;
        planned_new.virtual_size = None;
        assert_eq!(check_planned(&[planned_new], now(), &opts()), vec![]);
        assert_eq!(
            check_planned(&imgs, now(), &opts()),
            check_images(&imgs, now(), &opts())
        );
    }

    #[test]
    fn introduced_findings_are_the_new_ones_only() {
        let current = vec![
            image("a", "Ubuntu 24.04"),
            unset(image("b", "Debian 12"), "architecture"), // not ours, already broken
        ];
        let mut planned = current.clone();
        planned[0] = unset(planned[0].clone(), "image_original_user"); // the plan breaks `a`
        planned.push(unset(image("new-1", "Ubuntu 24.04 minimal"), "os_distro"));
        let opts = AuditOptions::default();
        let before = check_images(&current, now(), &opts);
        let after = check_planned(&planned, now(), &opts);
        assert_eq!(
            rules(&introduced(&before, &after)),
            [
                ("Ubuntu 24.04", "scs-0102/mandatory-property"),
                ("Ubuntu 24.04 minimal", "scs-0102/mandatory-property")
            ]
        );
        // Removing the standard image introduces a missing-image finding.
        let after = check_planned(&current[1..], now(), &opts);
        assert_eq!(
            rules(&introduced(&before, &after)),
            [("Ubuntu 24.04", "scs-0104/missing-image")]
        );
        assert_eq!(introduced(&before, &before), vec![]);
    }

    #[test]
    fn scs_dates() {
        let ts = |s: &str| parse_scs_date(s).map(|t| t.to_string());
        assert_eq!(ts("2024-05-01").as_deref(), Some("2024-05-01T00:00:00Z"));
        assert_eq!(
            ts("2024-05-01 10:11").as_deref(),
            Some("2024-05-01T10:11:00Z")
        );
        assert_eq!(
            ts("2024-05-01 10:11:12").as_deref(),
            Some("2024-05-01T10:11:12Z")
        );
        assert_eq!(
            ts("2024-05-01T10:11:12Z").as_deref(),
            Some("2024-05-01T10:11:12Z")
        );
        for bad in [
            "20240501",
            "2024-5-1",
            "2024-13-01",
            "2024-05-01T10:11",
            "yesterday",
            "",
            "2024-05-01 1:2",
        ] {
            assert_eq!(ts(bad), None, "{bad}");
        }
    }
}
