//! scs-0102 rules that look at several images: recency (`scs-0102-image-recency`) and the
//! uniqueness of public generic images.
//!
//! Recency follows the SCS test (`image_metadata.py`, `is_outdated` and
//! `compute_scs_0102_image_recency`) rather than the prose: an image is outdated when
//! now > build date + 1.1 × its `replace_frequency` period (yearly 365 d, quarterly 92 d,
//! monthly 31 d, weekly 7×25 h, daily 25 h; `never`/`critical_bug` exempt), unless its
//! `provided_until` is `none`, `notice` or already past. An outdated image passes only when an
//! image named like it without its last name token exists and is itself recent (the SCS test
//! looks for that replacement even for hidden images; of several images with that name it sees
//! the oldest only, see [`super::official_by_name`]); it then still warns unless it is hidden
//! or its last token is `old`, `prev`, `YYYY-MM-DD` or `YYYYMMDD`.

use std::collections::BTreeMap;

use super::official_date::parse_official_date;
use super::{Finding, Rule, Scs0102Version, Severity, parse_glance_time};
use crate::openstack::image::GlanceImage;

/// The recency period of a `replace_frequency`, in seconds; `None` for the exempt `never`
/// and `critical_bug` and for unknown values (reported by the allowed-value rule).
pub fn period_secs(frequency: &str) -> Option<i64> {
    const H: i64 = 3600;
    match frequency {
        "yearly" => Some(365 * 24 * H),
        "quarterly" => Some(92 * 24 * H),
        "monthly" => Some(31 * 24 * H),
        "weekly" => Some(7 * 25 * H),
        "daily" => Some(25 * H),
        _ => None,
    }
}

/// The moment after which an image built at `built` counts as outdated (build + 1.1 × period).
pub fn outdated_after(built: jiff::Timestamp, frequency: &str) -> Option<jiff::Timestamp> {
    let secs = period_secs(frequency)?;
    built
        .checked_add(jiff::SignedDuration::from_secs(secs * 11 / 10))
        .ok()
}

/// What the recency test makes of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Age {
    /// Recent, exempt, or not judgeable.
    Fine,
    /// Outdated since `since`.
    Outdated { since: jiff::Timestamp },
    /// Outdated, and `provided_until` is missing or not a date.
    BadProvidedUntil,
}

/// Whether `img` is outdated at `now`.
pub fn age(img: &GlanceImage, now: jiff::Timestamp) -> Age {
    let built = img
        .properties
        .get("image_build_date")
        .and_then(|s| parse_official_date(s))
        .or_else(|| parse_glance_time(&img.created_at));
    let Some(built) = built else {
        return Age::Fine; // nothing to judge by (a planned image without dates)
    };
    let freq = img
        .properties
        .get("replace_frequency")
        .map_or("never", String::as_str);
    let Some(deadline) = outdated_after(built, freq) else {
        return Age::Fine;
    };
    if now <= deadline {
        return Age::Fine;
    }
    match img.properties.get("provided_until").map(String::as_str) {
        Some("none" | "notice") => Age::Fine,
        Some(until) => match parse_official_date(until) {
            Some(until) if now > until => Age::Fine,
            Some(_) => Age::Outdated { since: deadline },
            None => Age::BadProvidedUntil,
        },
        None => Age::BadProvidedUntil,
    }
}

/// Whether the last name token marks a rotated-out image (`old`, `prev`, a date).
pub fn has_old_marker(name: &str) -> bool {
    let Some((_, last)) = name.rsplit_once(' ') else {
        return false;
    };
    matches!(last, "old" | "prev")
        || (last.len() == 10 && last.parse::<jiff::civil::Date>().is_ok())
        || (last.len() == 8
            && last.bytes().all(|b| b.is_ascii_digit())
            && jiff::civil::Date::strptime("%Y%m%d", last).is_ok())
}

/// The recency findings for the images in scope.
pub fn check_recency(scope: &[&GlanceImage], now: jiff::Timestamp) -> Vec<Finding> {
    // The official lookup: one image per name, the oldest of duplicates.
    let by_name = super::official_by_name(scope);
    let mut out = Vec::new();
    for img in scope {
        let since = match age(img, now) {
            Age::Fine => continue,
            Age::BadProvidedUntil => {
                out.push(Finding::new(
                    img,
                    Rule::Recency,
                    Severity::Error,
                    "outdated by its `replace_frequency`, and `provided_until` is not a valid date",
                    super::set_property_hint(img, "provided_until", "<YYYY-MM-DD|none|notice>"),
                ));
                continue;
            }
            Age::Outdated { since } => since,
        };
        let freq = img
            .properties
            .get("replace_frequency")
            .map_or("", String::as_str);
        let short = img
            .name
            .rsplit_once(' ')
            .map(|(s, _)| s.trim_end())
            .filter(|s| *s != img.name);
        let replacement = short
            .and_then(|s| by_name.get(s))
            .filter(|r| age(r, now) == Age::Fine);
        let marked = img.hidden || has_old_marker(&img.name);
        match replacement {
            None => out.push(Finding::new(
                img,
                Rule::Recency,
                Severity::Error,
                format!(
                    "outdated since {since} (built {}, replace_frequency {freq}) and no recent replacement exists",
                    img.properties.get("image_build_date").map_or("?", String::as_str)
                ),
                format!(
                    "upload a newer build under the name `{name}` and rename this one to `{name} YYYYMMDD` (its build date) and hide it; or set provided_until to a past date if it is no longer maintained",
                    name = short.filter(|_| marked).unwrap_or(&img.name)
                ),
            )),
            Some(r) if !marked => out.push(Finding::new(
                img,
                Rule::Recency,
                Severity::Warning,
                format!(
                    "outdated since {since}; `{}` replaces it, but it is neither hidden nor renamed with ` old`, ` prev` or its build date",
                    r.name
                ),
                format!("openstack image set --hidden {}", img.id),
            )),
            Some(_) => {}
        }
    }
    out
}

/// At most one public, visible image with `os_purpose=generic` per (architecture, os_distro,
/// os_version): mandatory in v2, recommended in v1.
pub fn check_uniqueness(scope: &[&GlanceImage], version: Scs0102Version) -> Vec<Finding> {
    let mut buckets: BTreeMap<(&str, &str, &str), Vec<&GlanceImage>> = BTreeMap::new();
    for img in scope {
        let p = |k: &str| img.properties.get(k).map_or("", String::as_str);
        if img.visibility != "public" || img.hidden || p("os_purpose") != "generic" {
            continue;
        }
        if p("os_distro").is_empty() || p("os_version").is_empty() {
            continue;
        }
        buckets
            .entry((p("architecture"), p("os_distro"), p("os_version")))
            .or_default()
            .push(img);
    }
    let severity = match version {
        Scs0102Version::V1 => Severity::Warning,
        Scs0102Version::V2 => Severity::Error,
    };
    let mut out = Vec::new();
    for ((arch, distro, ver), imgs) in buckets {
        if imgs.len() < 2 {
            continue;
        }
        let mut names: Vec<String> = imgs
            .iter()
            .map(|i| format!("{} ({})", i.name, i.id))
            .collect();
        names.sort();
        for img in &imgs {
            out.push(Finding::new(
                img,
                Rule::OsPurposeUnique,
                severity,
                format!(
                    "{} public visible images with os_purpose=generic for {arch}/{distro}/{ver}: {}",
                    imgs.len(),
                    names.join(", ")
                ),
                format!(
                    "keep one generic image: hide the others (openstack image set --hidden {id}) or mark them old (openstack image set --property os_purpose=oldgeneric {id})",
                    id = img.id
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{image, now, rules, set, unset};
    use super::*;

    fn recency(imgs: &[GlanceImage]) -> Vec<Finding> {
        let scope: Vec<&GlanceImage> = imgs.iter().collect();
        check_recency(&scope, now())
    }

    /// Built 40 days before `now()`: outdated for monthly (34.1 d), fine for quarterly.
    fn old(id: &str, name: &str) -> GlanceImage {
        let mut img = set(image(id, name), "image_build_date", "2026-10-11");
        img.created_at = "2026-10-12T00:00:00Z".into();
        img
    }

    #[test]
    fn periods_and_deadline() {
        let built: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let after = |f| outdated_after(built, f).map(|t| t.to_string());
        assert_eq!(after("daily").as_deref(), Some("2026-01-02T03:30:00Z")); // 27.5 h
        assert_eq!(after("weekly").as_deref(), Some("2026-01-09T00:30:00Z")); // 192.5 h
        assert_eq!(after("monthly").as_deref(), Some("2026-02-04T02:24:00Z")); // 34.1 d
        assert_eq!(after("never"), None);
        assert_eq!(after("critical_bug"), None);
    }

    #[test]
    fn recent_images_pass_and_outdated_ones_fail() {
        assert_eq!(recency(&[image("a", "Ubuntu 24.04")]), vec![]);
        let f = recency(&[old("a", "Ubuntu 24.04")]);
        assert_eq!(rules(&f), [("Ubuntu 24.04", "scs-0102/recency")]);
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].message.contains("outdated since 2026-11-14T"),
            "{}",
            f[0].message
        );
        // Quarterly is fine at 40 days.
        assert_eq!(
            recency(&[set(
                old("a", "Ubuntu 24.04"),
                "replace_frequency",
                "quarterly"
            )]),
            vec![]
        );
    }

    #[test]
    fn exemptions() {
        for (k, v) in [
            ("replace_frequency", "never"),
            ("replace_frequency", "critical_bug"),
            ("provided_until", "none"),
            ("provided_until", "notice"),
            ("provided_until", "2026-11-19"),
        ] {
            assert_eq!(
                recency(&[set(old("a", "Ubuntu 24.04"), k, v)]),
                vec![],
                "{k}={v}"
            );
        }
        // An invalid provided_until on an outdated image is an error of its own.
        let f = recency(&[set(old("a", "Ubuntu 24.04"), "provided_until", "soon")]);
        assert!(f[0].message.contains("provided_until"), "{}", f[0].message);
        let f = recency(&[unset(old("a", "Ubuntu 24.04"), "provided_until")]);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn without_build_date_created_at_counts() {
        let mut img = unset(image("a", "Ubuntu 24.04"), "image_build_date");
        img.created_at = "2026-09-01T00:00:00Z".into();
        assert_eq!(recency(&[img.clone()]).len(), 1);
        img.created_at = "2026-11-19T00:00:00Z".into();
        assert_eq!(recency(&[img]), vec![]);
    }

    #[test]
    fn a_renamed_image_with_a_recent_replacement_passes() {
        for name in [
            "Ubuntu 24.04 20261011",
            "Ubuntu 24.04 2026-10-11",
            "Ubuntu 24.04 old",
            "Ubuntu 24.04 prev",
        ] {
            let imgs = [image("new", "Ubuntu 24.04"), old("a", name)];
            assert_eq!(recency(&imgs), vec![], "{name}");
            // Without the replacement it fails.
            assert_eq!(
                rules(&recency(&imgs[1..])),
                [(name, "scs-0102/recency")],
                "{name}"
            );
        }
    }

    #[test]
    fn the_replacement_must_itself_be_recent() {
        let imgs = [
            old("new", "Ubuntu 24.04"),
            old("a", "Ubuntu 24.04 20261011"),
        ];
        assert_eq!(
            rules(&recency(&imgs)),
            [
                ("Ubuntu 24.04", "scs-0102/recency"),
                ("Ubuntu 24.04 20261011", "scs-0102/recency")
            ]
        );
    }

    #[test]
    fn hidden_needs_a_replacement_too_and_unmarked_warns() {
        // Hidden under a dated name with a replacement: fine.
        let mut hidden = old("a", "Ubuntu 24.04 20261011");
        hidden.hidden = true;
        assert_eq!(recency(&[image("new", "Ubuntu 24.04"), hidden]), vec![]);
        // Hidden but still named like the current image: the SCS test finds no replacement.
        let mut hidden = old("a", "Ubuntu 24.04");
        hidden.hidden = true;
        assert_eq!(recency(&[image("new", "Ubuntu 24.04"), hidden]).len(), 1);
        // Not marked, but a recent image carries its name minus the last token: a warning.
        let f = recency(&[
            image("new", "Ubuntu 24.04"),
            old("a", "Ubuntu 24.04 minimal"),
        ]);
        assert_eq!(rules(&f), [("Ubuntu 24.04 minimal", "scs-0102/recency")]);
        assert_eq!(f[0].severity, Severity::Warning);
    }

    #[test]
    fn old_markers() {
        for yes in [
            "Ubuntu 24.04 old",
            "Ubuntu 24.04 prev",
            "Ubuntu 24.04 20240101",
            "Ubuntu 24.04 2024-01-01",
        ] {
            assert!(has_old_marker(yes), "{yes}");
        }
        for no in [
            "Ubuntu",
            "Ubuntu 24.04",
            "Ubuntu 24.04 20241301",
            "Ubuntu 24.04 older",
            "Debian 12 12345678",
        ] {
            assert!(!has_old_marker(no), "{no}");
        }
    }

    fn unique(imgs: &[GlanceImage], v: Scs0102Version) -> Vec<Finding> {
        let scope: Vec<&GlanceImage> = imgs.iter().collect();
        check_uniqueness(&scope, v)
    }

    #[test]
    fn one_generic_image_per_distro_version_arch() {
        let a = image("a", "Ubuntu 24.04");
        let b = image("b", "Ubuntu 24.04 20261001");
        let f = unique(&[a.clone(), b.clone()], Scs0102Version::V2);
        assert_eq!(
            rules(&f),
            [
                ("Ubuntu 24.04", "scs-0102-v2/os-purpose-unique"),
                ("Ubuntu 24.04 20261001", "scs-0102-v2/os-purpose-unique")
            ]
        );
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].message.contains("x86_64/ubuntu/24.04"),
            "{}",
            f[0].message
        );
        assert_eq!(
            unique(&[a.clone(), b.clone()], Scs0102Version::V1)[0].severity,
            Severity::Warning
        );
        // Any of these makes the pair fine.
        let mut hidden = b.clone();
        hidden.hidden = true;
        let mut community = b.clone();
        community.visibility = "community".into();
        for other in [
            hidden,
            community,
            set(b.clone(), "os_purpose", "oldgeneric"),
            set(b.clone(), "architecture", "aarch64"),
            set(b.clone(), "os_version", "22.04"),
            set(b.clone(), "os_purpose", "minimal"),
        ] {
            assert_eq!(
                unique(&[a.clone(), other.clone()], Scs0102Version::V2),
                vec![],
                "{other:?}"
            );
        }
    }
}
