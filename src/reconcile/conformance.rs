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
//!   scs-0104: every planned image whose name is a standard image's (exact name or name
//!   scheme) must have an `image_source` with one of its prefixes, under the v5.1/next and the
//!   v4 lists; and every visible image the plan creates from a standard image's upstream for
//!   its purpose (`generic`, CAPI: `k8snode`) must carry that image's name under one of those
//!   lists (`scs-0104/name`). Which images must exist is a property of the cloud: `audit`.
//! - Errors block with exit 5 (refused by a guard, like every other safety refusal) unless
//!   `--allow-nonconforming`.

use crate::openstack::GlanceImage;
use std::collections::BTreeSet;

use crate::scs::{
    self, AuditOptions, AuditScope, Finding, Rule, Scs0102Version, Severity, StandardImageList,
};

/// The scs-0102 errors of a planned state, and its scs-0104 `image_source` errors under
/// every scs-0104 list a certificate scope uses (v5.1/next and v4), each naming the image
/// and the rule. Which standard images exist is a property of the cloud (`audit`), not of a
/// plan, so missing images are not judged here.
pub fn violations(planned: &[GlanceImage], now: jiff::Timestamp) -> Vec<String> {
    let opts = AuditOptions {
        scs0102: Scs0102Version::V2,
        standard_images: StandardImageList::None,
        lifecycle: None,
        // The tool's own images, hidden or duplicate ones too: it must not create a bad one.
        scope: AuditScope::STRICT,
        ..AuditOptions::default()
    };
    let mut findings: Vec<Finding> = scs::check_planned(planned, now, &opts)
        .into_iter()
        .filter(|f| f.severity == Severity::Error && f.rule != Rule::Recency)
        .collect();
    let scope: Vec<&GlanceImage> = planned
        .iter()
        .filter(|i| scs::in_scope(i, &opts.scope))
        .collect();
    let lists = [StandardImageList::V5, StandardImageList::V4];
    // The name rule judges what this plan creates (ids `(new <catalog id>)`, see
    // `planned_state`), visible ones: an existing image's name is the operator's business.
    findings.extend(
        scope
            .iter()
            .filter(|i| i.id.starts_with(crate::reconcile::plan::NEW_ID_PREFIX) && !i.hidden)
            .filter_map(|i| scs::standard::check_name(i, &lists)),
    );
    for list in lists {
        findings.extend(
            scs::standard::check(&scope, list, opts.scope.each_duplicate)
                .into_iter()
                .filter(|f| f.rule == Rule::ImageSourcePrefix),
        );
    }
    let unique: BTreeSet<String> = findings
        .iter()
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
        .collect();
    unique.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::fixtures::{ctx, glance_current, image};
    use crate::reconcile::plan::{plan, planned_state};

    /// A lock with an scs-0104 `image_source` for `Ubuntu 24.04`.
    fn lock(id: &str, version: &str, date: &str) -> crate::lock::LockedImage {
        let mut l = crate::reconcile::fixtures::lock(id, version, date);
        l.build.url =
            format!("https://cloud-images.ubuntu.com/releases/noble/release-{version}/x.img");
        l
    }

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

    /// The gate's findings for `img`, locked to `l`, created in an empty Glance.
    fn judge_new(img: &crate::catalog::Image, l: &crate::lock::LockedImage) -> Vec<String> {
        let locks = std::collections::BTreeMap::from([(l.id.clone(), l.clone())]);
        let p = plan(&[img], &locks, &[], &ctx());
        violations(&planned_state(&p, &[img], &locks, &[], &ctx()), ctx().now)
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
    fn an_image_source_outside_the_scs_0104_prefixes_is_refused() {
        let img = conforming_image();
        let mut l = lock("ubuntu-24.04", "1", "2026-11-01");
        l.build.url =
            "https://cloud-images.ubuntu.com/minimal/releases/noble/release-20261101/x.img".into();
        let locks = std::collections::BTreeMap::from([(l.id.clone(), l.clone())]);
        let p = plan(&[&img], &locks, &[], &ctx());
        let state = planned_state(&p, &[&img], &locks, &[], &ctx());
        let v = violations(&state, ctx().now);
        // v5.1 lists `Ubuntu 24.04`, v4 does not: one finding.
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(
            v[0].contains("scs-0104/image-source-prefix")
                && v[0].contains("https://cloud-images.ubuntu.com/releases/noble/"),
            "{}",
            v[0]
        );
        // The canonical release URL passes.
        l.build.url =
            "https://cloud-images.ubuntu.com/releases/noble/release-20261101/x.img".into();
        assert_eq!(judge_new(&img, &l), Vec::<String>::new());
    }

    #[test]
    fn a_capi_image_is_judged_under_the_v4_scheme_too() {
        let mut img = conforming_image();
        img.name = "ubuntu-capi-image v1.35".into();
        img.glance
            .properties
            .insert("os_purpose".into(), "k8snode".into());
        let l = lock("ubuntu-24.04", "1", "2026-11-01");
        let v = judge_new(&img, &l);
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(v[0].contains("openstack-k8s-capi-images"), "{}", v[0]);
    }

    #[test]
    fn a_standard_upstream_under_a_nonstandard_name_is_refused() {
        // The generic image from the Ubuntu 24.04 upstream, named so that scs-0104-image-ubuntu-2404
        // would not find it.
        let mut img = conforming_image();
        img.name = "Ubuntu 24.04 LTS".into();
        img.glance
            .properties
            .insert("os_purpose".into(), "generic".into());
        let l = lock("ubuntu-24.04", "1", "2026-11-01");
        let v = judge_new(&img, &l);
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(
            v[0].contains("scs-0104/name") && v[0].contains("`Ubuntu 24.04`"),
            "{}",
            v[0]
        );
        // A minimal or custom image from the same upstream is not the standard image.
        img.glance
            .properties
            .insert("os_purpose".into(), "custom".into());
        assert_eq!(judge_new(&img, &l), Vec::<String>::new());
    }

    #[test]
    fn a_capi_image_must_follow_a_capi_name_scheme() {
        let mut img = conforming_image();
        img.glance
            .properties
            .insert("os_purpose".into(), "k8snode".into());
        let mut l = lock("ubuntu-24.04", "1", "2026-11-01");
        l.build.url = "https://nbg1.your-objectstorage.com/osism/openstack-k8s-capi-images/ubuntu-2404-kube-v1.35/ubuntu-2404-kube-v1.35.3.qcow2".into();
        let locks = std::collections::BTreeMap::from([(l.id.clone(), l)]);
        let judge = |name: &str| {
            let mut img = img.clone();
            img.name = name.into();
            let p = plan(&[&img], &locks, &[], &ctx());
            violations(&planned_state(&p, &[&img], &locks, &[], &ctx()), ctx().now)
        };
        // Both schemes of the targeted versions pass (capi-2: v5.1/next, capi-1: v4 and v5.1).
        assert_eq!(judge("ubuntu-capi-image-v1.35"), Vec::<String>::new());
        assert_eq!(judge("ubuntu-capi-image v1.35"), Vec::<String>::new());
        for bad in [
            "ubuntu-capi-image-1.35",
            "ubuntu-capi-image_v1.35",
            "capi v1.35",
        ] {
            let v = judge(bad);
            assert_eq!(v.len(), 1, "{bad}: {v:#?}");
            assert!(v[0].contains("scs-0104/name"), "{}", v[0]);
        }
    }

    #[test]
    fn a_missing_mandatory_property_names_image_and_rule() {
        let mut img = conforming_image();
        img.glance.properties.remove("image_original_user");
        let l = lock("ubuntu-24.04", "1", "2026-11-01");
        let v = judge_new(&img, &l);
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
