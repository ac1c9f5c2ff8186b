//! scs-0102 rules that look at one image: mandatory properties and their allowed values,
//! `min_disk`, `min_ram`, `image_build_date`.

use super::{Finding, Rule, Scs0102Version, Severity, parse_glance_time, set_property_hint};
use crate::openstack::image::GlanceImage;

const GIB: u64 = 1024 * 1024 * 1024;

/// Properties scs-0102 v1 makes mandatory (besides the first-class `min_disk`, `min_ram`).
pub const MANDATORY_V1: &[&str] = &[
    "architecture",
    "hw_disk_bus",
    "image_build_date",
    "image_description",
    "image_original_user",
    "image_source",
    "os_distro",
    "os_version",
    "provided_until",
    "replace_frequency",
    "uuid_validity",
];

pub const ARCHITECTURES: &[&str] = &["x86_64", "aarch64", "risc-v"];
pub const DISK_BUSES: &[&str] = &["virtio", "scsi"];
pub const HYPERVISOR_TYPES: &[&str] = &["qemu", "kvm", "xen", "hyper-v", "esxi"];
pub const RNG_MODELS: &[&str] = &["virtio"];
pub const REPLACE_FREQUENCIES: &[&str] = &[
    "yearly",
    "quarterly",
    "monthly",
    "weekly",
    "daily",
    "critical_bug",
    "never",
];
/// The official test (scs_0102 `OS_PURPOSES`) accepts `oldgeneric` in every version, and the
/// tool itself marks rotated images with it: v1 and v2 share the list.
pub const OS_PURPOSES: &[&str] = &[
    "generic",
    "minimal",
    "k8snode",
    "gpu",
    "network",
    "custom",
    "oldgeneric",
];

/// An example value for a fix hint.
fn example(key: &str) -> &'static str {
    match key {
        "architecture" => "x86_64",
        "hw_disk_bus" => "scsi",
        "image_build_date" => "YYYY-MM-DD",
        "image_description" => "<release notes URL>",
        "image_original_user" => "<default login user or none>",
        "image_source" => "<upstream URL>",
        "os_distro" => "<osinfo id, e.g. ubuntu>",
        "os_version" => "<e.g. 24.04>",
        "os_purpose" => "generic",
        "provided_until" => "<YYYY-MM-DD|none|notice>",
        "replace_frequency" => "<yearly|quarterly|monthly|weekly|daily|critical_bug|never>",
        "uuid_validity" => "<none|last-N|YYYY-MM-DD|notice|forever>",
        _ => "<value>",
    }
}

/// All single-image findings for `img`.
pub fn check(img: &GlanceImage, now: jiff::Timestamp, version: Scs0102Version) -> Vec<Finding> {
    let mut out = Vec::new();
    mandatory(img, version, &mut out);
    allowed_values(img, version, &mut out);
    min_disk(img, &mut out);
    min_ram(img, &mut out);
    build_date(img, now, &mut out);
    out
}

fn prop<'a>(img: &'a GlanceImage, key: &str) -> Option<&'a str> {
    img.properties
        .get(key)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

fn mandatory(img: &GlanceImage, version: Scs0102Version, out: &mut Vec<Finding>) {
    for key in MANDATORY_V1 {
        if prop(img, key).is_none() {
            out.push(Finding::new(
                img,
                Rule::MandatoryProperty,
                Severity::Error,
                format!("mandatory property `{key}` is missing or empty"),
                set_property_hint(img, key, example(key)),
            ));
        }
    }
    if prop(img, "os_purpose").is_none() {
        let (rule, severity, what) = match version {
            Scs0102Version::V1 => (
                Rule::RecommendedProperty,
                Severity::Warning,
                "recommended property `os_purpose` is missing (mandatory in scs-0102 v2)",
            ),
            Scs0102Version::V2 => (
                Rule::MandatoryProperty,
                Severity::Error,
                "mandatory property `os_purpose` is missing or empty (scs-0102 v2)",
            ),
        };
        out.push(Finding::new(
            img,
            rule,
            severity,
            what,
            set_property_hint(img, "os_purpose", "generic"),
        ));
    }
}

fn not_allowed(
    img: &GlanceImage,
    key: &str,
    value: &str,
    allowed: &str,
    severity: Severity,
    out: &mut Vec<Finding>,
) {
    out.push(Finding::new(
        img,
        Rule::AllowedValue,
        severity,
        format!("`{key}` is `{value}`, allowed: {allowed}"),
        set_property_hint(img, key, example(key)),
    ));
}

fn one_of(
    img: &GlanceImage,
    key: &str,
    allowed: &[&str],
    severity: Severity,
    out: &mut Vec<Finding>,
) {
    if let Some(v) = prop(img, key)
        && !allowed.contains(&v)
    {
        not_allowed(img, key, v, &allowed.join(", "), severity, out);
    }
}

fn is_url(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, rest)| {
        matches!(scheme, "http" | "https" | "ftp" | "ftps") && !rest.is_empty()
    })
}

/// `YYYY-MM-DD` exactly.
fn is_plain_date(s: &str) -> bool {
    s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok()
}

fn allowed_values(img: &GlanceImage, version: Scs0102Version, out: &mut Vec<Finding>) {
    one_of(img, "architecture", ARCHITECTURES, Severity::Error, out);
    one_of(img, "hw_disk_bus", DISK_BUSES, Severity::Error, out);
    one_of(
        img,
        "replace_frequency",
        REPLACE_FREQUENCIES,
        Severity::Error,
        out,
    );
    // Recommended properties: a wrong value only warns.
    one_of(
        img,
        "hypervisor_type",
        HYPERVISOR_TYPES,
        Severity::Warning,
        out,
    );
    one_of(img, "hw_rng_model", RNG_MODELS, Severity::Warning, out);
    match version {
        Scs0102Version::V1 => one_of(img, "os_purpose", OS_PURPOSES, Severity::Warning, out),
        Scs0102Version::V2 => one_of(img, "os_purpose", OS_PURPOSES, Severity::Error, out),
    }
    if prop(img, "hw_disk_bus") == Some("scsi") && prop(img, "hw_scsi_model") != Some("virtio-scsi")
    {
        out.push(Finding::new(
            img,
            Rule::AllowedValue,
            Severity::Warning,
            "`hw_disk_bus` is `scsi` but `hw_scsi_model` is not `virtio-scsi`",
            set_property_hint(img, "hw_scsi_model", "virtio-scsi"),
        ));
    }
    if let Some(v) = prop(img, "uuid_validity") {
        let ok = matches!(v, "none" | "notice" | "forever")
            || v.strip_prefix("last-")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            || super::official_date::parse_official_date(v).is_some();
        if !ok {
            not_allowed(
                img,
                "uuid_validity",
                v,
                "none, last-N, YYYY-MM-DD, notice, forever",
                Severity::Error,
                out,
            );
        }
    }
    if let Some(v) = prop(img, "provided_until")
        && !(matches!(v, "none" | "notice") || is_plain_date(v))
    {
        not_allowed(
            img,
            "provided_until",
            v,
            "YYYY-MM-DD, none, notice",
            Severity::Error,
            out,
        );
    }
    if let Some(v) = prop(img, "hotfix_hours")
        && !v.bytes().all(|b| b.is_ascii_digit())
    {
        not_allowed(
            img,
            "hotfix_hours",
            v,
            "a whole number of hours (0 = best effort)",
            Severity::Warning,
            out,
        );
    }
    if let Some(v) = prop(img, "image_source")
        && v != "private"
        && !is_url(v)
    {
        not_allowed(
            img,
            "image_source",
            v,
            "an http(s)/ftp(s) URL or `private`",
            Severity::Error,
            out,
        );
    }
    if let Some(v) = prop(img, "os_distro")
        && v != v.to_lowercase()
    {
        // The standard defers to Glance's "useful image properties", which are lower case;
        // the SCS test only checks presence, so this warns.
        out.push(Finding::new(
            img,
            Rule::AllowedValue,
            Severity::Warning,
            format!("`os_distro` is `{v}`; osinfo ids are lower case"),
            set_property_hint(img, "os_distro", &v.to_lowercase()),
        ));
    }
    if let Some(algo) = img.os_hash_algo.as_deref()
        && !matches!(algo, "sha256" | "sha512")
    {
        out.push(Finding::new(
            img,
            Rule::AllowedValue,
            Severity::Warning,
            format!("`os_hash_algo` is `{algo}`, recommended: sha256 or sha512"),
            "set `hashing_algorithm = sha512` in glance-api.conf and upload the image again",
        ));
    }
}

fn min_disk(img: &GlanceImage, out: &mut Vec<Finding>) {
    if img.min_disk == 0 {
        out.push(Finding::new(
            img,
            Rule::MinDisk,
            Severity::Error,
            "`min_disk` is 0",
            format!(
                "openstack image set --min-disk <GiB, at least the virtual size> {}",
                img.id
            ),
        ));
        return;
    }
    // The disk must hold the image as it unpacks: the virtual size when Glance knows it.
    let (bytes, what) = match (img.virtual_size, img.size) {
        (Some(v), _) if v > 0 => (v, "virtual size"),
        (_, Some(s)) => (s, "size"),
        _ => return,
    };
    if img.min_disk.saturating_mul(GIB) < bytes {
        let need = bytes.div_ceil(GIB);
        out.push(Finding::new(
            img,
            Rule::MinDisk,
            Severity::Error,
            format!(
                "`min_disk` is {} GiB but the image's {what} is {bytes} bytes ({need} GiB rounded up)",
                img.min_disk
            ),
            format!("openstack image set --min-disk {need} {}", img.id),
        ));
    }
}

fn min_ram(img: &GlanceImage, out: &mut Vec<Finding>) {
    if img.min_ram == 0 {
        out.push(Finding::new(
            img,
            Rule::MinRam,
            Severity::Error,
            "`min_ram` is 0",
            format!(
                "openstack image set --min-ram <MiB the image needs to boot> {}",
                img.id
            ),
        ));
    } else if img.min_ram < 64 {
        out.push(Finding::new(
            img,
            Rule::MinRam,
            Severity::Warning,
            format!("`min_ram` is {} MiB, below 64 MiB", img.min_ram),
            format!("check that the image boots with that little memory, or raise it: openstack image set --min-ram 512 {}", img.id),
        ));
    }
}

fn build_date(img: &GlanceImage, now: jiff::Timestamp, out: &mut Vec<Finding>) {
    let Some(raw) = prop(img, "image_build_date") else {
        return; // reported as missing
    };
    // Error where the official test fails (its lenient `strptime` formats); a value it accepts
    // but the standard's text does not (`YYYY-MM-DD[ hh:mm[:ss]]`) is a warning.
    let Some(built) = super::official_date::parse_official_date(raw) else {
        out.push(Finding::new(
            img,
            Rule::BuildDate,
            Severity::Error,
            format!("`image_build_date` `{raw}` is not `YYYY-MM-DD` or `YYYY-MM-DD hh:mm[:ss]` (nor a date the official test accepts)"),
            set_property_hint(img, "image_build_date", "YYYY-MM-DD"),
        ));
        return;
    };
    if !super::official_date::is_standard_form(raw) {
        out.push(Finding::new(
            img,
            Rule::BuildDate,
            Severity::Warning,
            format!("`image_build_date` `{raw}` is not `YYYY-MM-DD` or `YYYY-MM-DD hh:mm[:ss]`, the forms scs-0102 allows (the official test accepts it)"),
            set_property_hint(img, "image_build_date", &built.strftime("%Y-%m-%d").to_string()),
        ));
    }
    if built > now {
        out.push(Finding::new(
            img,
            Rule::BuildDate,
            Severity::Error,
            format!("`image_build_date` `{raw}` is in the future"),
            set_property_hint(img, "image_build_date", "<the upstream build date>"),
        ));
    }
    if let Some(created) = parse_glance_time(&img.created_at)
        && built > created
    {
        out.push(Finding::new(
            img,
            Rule::BuildDate,
            Severity::Error,
            format!(
                "`image_build_date` `{raw}` is after the image was registered ({})",
                img.created_at
            ),
            set_property_hint(img, "image_build_date", "<the upstream build date>"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{image, now, set, unset};
    use super::*;

    fn findings(img: &GlanceImage, v: Scs0102Version) -> Vec<(Rule, Severity, String)> {
        check(img, now(), v)
            .into_iter()
            .map(|f| (f.rule, f.severity, f.message))
            .collect()
    }

    fn ok() -> GlanceImage {
        image("id-1", "Ubuntu 24.04")
    }

    #[test]
    fn the_conforming_image_passes_v1_and_v2() {
        assert_eq!(findings(&ok(), Scs0102Version::V1), vec![]);
        assert_eq!(findings(&ok(), Scs0102Version::V2), vec![]);
    }

    #[test]
    fn every_mandatory_property_is_required() {
        for key in MANDATORY_V1 {
            let f = findings(&unset(ok(), key), Scs0102Version::V1);
            assert_eq!(
                f,
                vec![(
                    Rule::MandatoryProperty,
                    Severity::Error,
                    format!("mandatory property `{key}` is missing or empty")
                )],
                "{key}"
            );
            // Empty counts as missing.
            let f = findings(&set(ok(), key, " "), Scs0102Version::V1);
            assert_eq!(f.len(), 1, "{key}");
        }
    }

    #[test]
    fn os_purpose_is_recommended_in_v1_and_mandatory_in_v2() {
        let img = unset(ok(), "os_purpose");
        assert_eq!(
            findings(&img, Scs0102Version::V1),
            vec![(
                Rule::RecommendedProperty,
                Severity::Warning,
                "recommended property `os_purpose` is missing (mandatory in scs-0102 v2)".into()
            )]
        );
        assert_eq!(
            findings(&img, Scs0102Version::V2),
            vec![(
                Rule::MandatoryProperty,
                Severity::Error,
                "mandatory property `os_purpose` is missing or empty (scs-0102 v2)".into()
            )]
        );
    }

    #[test]
    fn oldgeneric_is_accepted_in_v1_and_v2() {
        let img = set(ok(), "os_purpose", "oldgeneric");
        assert_eq!(findings(&img, Scs0102Version::V2), vec![]);
        assert_eq!(findings(&img, Scs0102Version::V1), vec![]);
        let f = findings(&set(ok(), "os_purpose", "desktop"), Scs0102Version::V1);
        assert_eq!((f[0].0, f[0].1), (Rule::AllowedValue, Severity::Warning));
        let f = findings(&set(ok(), "os_purpose", "desktop"), Scs0102Version::V2);
        assert_eq!((f[0].0, f[0].1), (Rule::AllowedValue, Severity::Error));
    }

    #[test]
    fn allowed_values_pass_and_fail() {
        // (key, good values, bad value, severity of the bad one)
        let cases: &[(&str, &[&str], &str, Severity)] = &[
            (
                "architecture",
                &["x86_64", "aarch64", "risc-v"],
                "amd64",
                Severity::Error,
            ),
            ("hw_disk_bus", &["virtio"], "ide", Severity::Error),
            (
                "hypervisor_type",
                &["qemu", "kvm", "xen", "hyper-v", "esxi"],
                "vmware",
                Severity::Warning,
            ),
            ("hw_rng_model", &["virtio"], "random", Severity::Warning),
            (
                "replace_frequency",
                &[
                    "yearly",
                    "quarterly",
                    "weekly",
                    "daily",
                    "critical_bug",
                    "never",
                ],
                "fortnightly",
                Severity::Error,
            ),
            (
                "uuid_validity",
                &["none", "last-3", "2027-01-31", "notice", "forever"],
                "last-",
                Severity::Error,
            ),
            ("uuid_validity", &["last-12"], "three", Severity::Error),
            (
                "provided_until",
                &["none", "notice", "2030-01-01"],
                "2030-01-01 10:00",
                Severity::Error,
            ),
            (
                "provided_until",
                &["2029-05-31"],
                "forever",
                Severity::Error,
            ),
            ("hotfix_hours", &["0", "48"], "2d", Severity::Warning),
            (
                "image_source",
                &["private", "ftp://x/y", "http://x"],
                "cloud-images.ubuntu.com/noble",
                Severity::Error,
            ),
            (
                "os_distro",
                &["ubuntu", "almalinux"],
                "AlmaLinux",
                Severity::Warning,
            ),
        ];
        for (key, good, bad, severity) in cases {
            for g in *good {
                assert_eq!(
                    findings(&set(ok(), key, g), Scs0102Version::V2),
                    vec![],
                    "{key}={g}"
                );
            }
            let f = findings(&set(ok(), key, bad), Scs0102Version::V2);
            assert_eq!(f.len(), 1, "{key}={bad}: {f:?}");
            assert_eq!(
                (f[0].0, f[0].1),
                (Rule::AllowedValue, *severity),
                "{key}={bad}"
            );
            assert!(f[0].2.contains(key), "{key}: {}", f[0].2);
        }
    }

    #[test]
    fn scsi_wants_virtio_scsi() {
        let f = findings(&unset(ok(), "hw_scsi_model"), Scs0102Version::V1);
        assert_eq!((f[0].0, f[0].1), (Rule::AllowedValue, Severity::Warning));
        let virtio = unset(set(ok(), "hw_disk_bus", "virtio"), "hw_scsi_model");
        assert_eq!(findings(&virtio, Scs0102Version::V1), vec![]);
    }

    #[test]
    fn hash_algo_is_recommended_sha2() {
        let mut img = ok();
        img.os_hash_algo = Some("md5".into());
        let f = findings(&img, Scs0102Version::V1);
        assert_eq!((f[0].0, f[0].1), (Rule::AllowedValue, Severity::Warning));
    }

    #[test]
    fn min_disk_must_be_set_and_hold_the_virtual_size() {
        let mut img = ok();
        img.min_disk = 0;
        assert_eq!(findings(&img, Scs0102Version::V1)[0].2, "`min_disk` is 0");
        // 3.5 GiB virtual size needs 4 GiB; 3 fails.
        img.min_disk = 3;
        let f = check(&img, now(), Scs0102Version::V1);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, Rule::MinDisk);
        assert!(
            f[0].message
                .contains("virtual size is 3758096384 bytes (4 GiB"),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].fix, "openstack image set --min-disk 4 id-1");
        img.min_disk = 4;
        assert_eq!(findings(&img, Scs0102Version::V1), vec![]);
        // Without a virtual size the (compressed) size is used.
        img.virtual_size = None;
        img.min_disk = 1;
        assert_eq!(findings(&img, Scs0102Version::V1), vec![]);
        img.size = Some(2 * GIB);
        assert_eq!(findings(&img, Scs0102Version::V1)[0].0, Rule::MinDisk);
        // Unknown size (a planned image): only the non-zero check.
        img.size = None;
        assert_eq!(findings(&img, Scs0102Version::V1), vec![]);
    }

    #[test]
    fn min_ram_zero_fails_and_tiny_warns() {
        let mut img = ok();
        img.min_ram = 0;
        assert_eq!(findings(&img, Scs0102Version::V1)[0].0, Rule::MinRam);
        assert_eq!(findings(&img, Scs0102Version::V1)[0].1, Severity::Error);
        img.min_ram = 32;
        assert_eq!(findings(&img, Scs0102Version::V1)[0].1, Severity::Warning);
        img.min_ram = 64;
        assert_eq!(findings(&img, Scs0102Version::V1), vec![]);
    }

    #[test]
    fn build_date_format_future_and_after_registration() {
        for good in ["2026-11-01", "2026-11-01 23:59", "2026-11-01 23:59:59"] {
            assert_eq!(
                findings(&set(ok(), "image_build_date", good), Scs0102Version::V1),
                vec![],
                "{good}"
            );
        }
        // Accepted by the official test (CPython strptime), not by scs-0102's text: a warning.
        for lenient in ["2026-11-02T07:59:59Z", "2026-11-1", "2026-11-01  7:05"] {
            let f = findings(&set(ok(), "image_build_date", lenient), Scs0102Version::V1);
            assert_eq!(f.len(), 1, "{lenient}: {f:?}");
            assert_eq!(
                (f[0].0, f[0].1),
                (Rule::BuildDate, Severity::Warning),
                "{lenient}"
            );
            assert!(
                f[0].2.contains("the official test accepts it"),
                "{}",
                f[0].2
            );
        }
        let f = findings(
            &set(ok(), "image_build_date", "20261101"),
            Scs0102Version::V1,
        );
        assert_eq!(f[0].1, Severity::Error);
        assert_eq!(f.len(), 1);
        assert!(f[0].2.contains("is not `YYYY-MM-DD`"), "{}", f[0].2);
        // After created_at (2026-11-02T08:00Z) but before now.
        let f = findings(
            &set(ok(), "image_build_date", "2026-11-03"),
            Scs0102Version::V1,
        );
        assert_eq!(f.len(), 1);
        assert!(
            f[0].2.contains("after the image was registered"),
            "{}",
            f[0].2
        );
        // In the future: also after created_at.
        let f = findings(
            &set(ok(), "image_build_date", "2027-01-01"),
            Scs0102Version::V1,
        );
        assert_eq!(
            f.iter().map(|f| f.0).collect::<Vec<_>>(),
            [Rule::BuildDate, Rule::BuildDate]
        );
        assert!(f[0].2.contains("in the future"));
        // A planned image without created_at is only checked against now.
        let mut planned = set(ok(), "image_build_date", "2026-11-19");
        planned.created_at.clear();
        assert_eq!(findings(&planned, Scs0102Version::V1), vec![]);
    }

    #[test]
    fn fix_hints_point_at_the_catalog_for_managed_images() {
        let img = unset(
            set(ok(), crate::catalog::ID_PROPERTY, "ubuntu-24.04"),
            "architecture",
        );
        let f = check(&img, now(), Scs0102Version::V1);
        assert_eq!(
            f[0].fix,
            "openstack image set --property architecture=x86_64 id-1 (managed by image-crawler: set it in the catalog entry `ubuntu-24.04`)"
        );
    }
}
