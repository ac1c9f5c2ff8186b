//! The scs-0102 gate on the PLANNED state: what Glance will look like after the plan (the
//! managed images kept, changed and created), checked with the rules of [`crate::scs`] before
//! anything is applied.
//!
//! - Only the images of the target's catalog entries are judged (the caller filters), so an
//!   operator's own image, or a managed image of an id outside this catalog, never blocks an
//!   apply.
//! - Rules: scs-0102 v2 (v1's mandatory properties and values, plus mandatory `os_purpose`
//!   and at most one public, visible `generic` image per architecture/os_distro/os_version),
//!   errors only. Recency is left out: an upstream that publishes slowly is not made worse by
//!   an apply, and blocking it would stop drift repairs too (`audit` reports recency).
//!   scs-0104 (which images must exist) is a property of the cloud, not of a plan: `audit`.
//! - Errors block with exit 5 (refused by a guard, like every other safety refusal) unless
//!   `--allow-nonconforming`.

use crate::openstack::GlanceImage;
use crate::scs::{self, AuditOptions, Rule, Scs0102Version, Severity, StandardImageList};

/// The scs-0102 errors of a planned state, each naming the image and the rule.
pub fn violations(planned: &[GlanceImage], now: jiff::Timestamp) -> Vec<String> {
    let opts = AuditOptions {
        scs0102: Scs0102Version::V2,
        standard_images: StandardImageList::None,
        lifecycle: None,
        ..AuditOptions::default()
    };
    scs::check_planned(planned, now, &opts)
        .into_iter()
        .filter(|f| f.severity == Severity::Error && f.rule != Rule::Recency)
        .map(|f| {
            format!(
                "{:?} ({}): {}: {} (fix: {})",
                f.image_name,
                f.image_id.as_deref().unwrap_or("-"),
                f.rule,
                f.message,
                f.fix
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::fixtures::{ctx, glance_current, image, lock};
    use crate::reconcile::plan::{plan, planned_state};

    fn conforming_image() -> crate::catalog::Image {
        let mut img = image("ubuntu-24.04", "Ubuntu 24.04");
        for (k, v) in [
            ("hw_disk_bus", "virtio"),
            ("replace_frequency", "monthly"),
            ("provided_until", "none"),
            ("image_original_user", "ubuntu"),
            ("image_description", "https://example.org/notes"),
        ] {
            img.glance.properties.insert(k.into(), v.into());
        }
        img
    }

    #[test]
    fn a_bump_with_rotation_conforms() {
        let img = conforming_image();
        let old = lock("ubuntu-24.04", "1", "2026-11-01");
        let l = lock("ubuntu-24.04", "2", "2026-11-20");
        let obs = [glance_current("g1", &img, &old)];
        let locks = std::collections::BTreeMap::from([(l.id.clone(), l)]);
        let p = plan(&[&img], &locks, &obs, &ctx());
        let state = planned_state(&p, &[&img], &locks, &obs, &ctx());
        assert_eq!(violations(&state, ctx().now), Vec::<String>::new());
    }

    #[test]
    fn two_visible_generic_images_break_uniqueness() {
        let mut img = conforming_image();
        // Rotation that neither hides nor marks oldgeneric: two public generic images.
        img.rotation.hide = false;
        img.rotation.mark_oldgeneric = false;
        let old = lock("ubuntu-24.04", "1", "2026-11-01");
        let l = lock("ubuntu-24.04", "2", "2026-11-20");
        let obs = [glance_current("g1", &img, &old)];
        let locks = std::collections::BTreeMap::from([(l.id.clone(), l)]);
        let p = plan(&[&img], &locks, &obs, &ctx());
        let state = planned_state(&p, &[&img], &locks, &obs, &ctx());
        let v = violations(&state, ctx().now);
        assert!(v.iter().any(|m| m.contains("os-purpose-unique")), "{v:#?}");
    }

    #[test]
    fn a_missing_mandatory_property_names_image_and_rule() {
        let mut img = conforming_image();
        img.glance.properties.remove("image_original_user");
        let l = lock("ubuntu-24.04", "1", "2026-11-01");
        let locks = std::collections::BTreeMap::from([(l.id.clone(), l)]);
        let p = plan(&[&img], &locks, &[], &ctx());
        let state = planned_state(&p, &[&img], &locks, &[], &ctx());
        let v = violations(&state, ctx().now);
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(
            v[0].contains("\"Ubuntu 24.04\"")
                && v[0].contains("scs-0102/mandatory-property")
                && v[0].contains("image_original_user"),
            "{}",
            v[0]
        );
    }
}
