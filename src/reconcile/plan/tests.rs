use std::collections::BTreeMap;

use pretty_assertions::assert_eq;

use super::*;
use crate::reconcile::fixtures::{TAG, ctx, glance_bare, glance_current, image, lock};

const ID: &str = "ubuntu-24.04";
const NAME: &str = "Ubuntu 24.04";

fn locks(l: LockedImage) -> BTreeMap<String, LockedImage> {
    BTreeMap::from([(l.id.clone(), l)])
}

fn run(img: &Image, l: &LockedImage, observed: &[GlanceImage]) -> Plan {
    plan(&[img], &locks(l.clone()), observed, &ctx())
}

fn actions(p: &Plan) -> Vec<(Action, Option<&str>)> {
    p.changes
        .iter()
        .map(|c| (c.action, c.glance_id.as_deref()))
        .collect()
}

fn diff(c: &Change, field: &str) -> Option<(Option<String>, Option<String>)> {
    c.details
        .iter()
        .find(|d| d.field == field)
        .map(|d| (d.before.clone(), d.after.clone()))
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// Simulates a successful apply on values, then re-plans: must be empty (idempotency).
fn assert_converges(img: &Image, l: &LockedImage, observed: &[GlanceImage]) {
    let p = run(img, l, observed);
    let after = planned_state(&p, &[img], &locks(l.clone()), observed, &ctx());
    let again = run(img, l, &after);
    assert!(
        again.is_empty(),
        "second plan not empty: {:#?}",
        again.changes
    );
}

#[test]
fn first_import_when_nothing_exists() {
    let img = image(ID, NAME);
    let l = lock(ID, "20261101", "2026-11-01");
    let p = run(&img, &l, &[]);
    assert_eq!(actions(&p), [(Action::Import, None)]);
    let c = &p.changes[0];
    assert_eq!(c.name, NAME);
    assert_eq!(c.version.as_deref(), Some("20261101"));
    assert_eq!(diff(c, "source"), Some((None, s(&l.build.url))));
    assert_eq!(diff(c, "transfer"), Some((None, s("stream"))));
    assert_eq!(
        diff(c, "checksum"),
        Some((None, Some(format!("sha256:{}", "ab".repeat(32)))))
    );
    assert_converges(&img, &l, &[]);
}

#[test]
fn desired_metadata_comes_from_catalog_lock_and_tool() {
    let img = image(ID, NAME);
    let l = lock(ID, "20261101", "2026-11-01");
    let d = desired(&img, &l, TAG);
    assert_eq!(d.properties["image_source"], l.build.url);
    assert_eq!(d.properties["image_build_date"], "2026-11-01");
    assert_eq!(d.properties["architecture"], "x86_64");
    assert_eq!(d.properties[ID_PROPERTY], ID);
    assert_eq!(d.properties[VERSION_PROPERTY], "20261101");
    assert_eq!(
        d.properties[MANAGED_KEYS_PROPERTY],
        "hw_disk_bus,os_distro,os_purpose,os_version,uuid_validity"
    );
    assert_eq!(d.properties[MANAGED_TAGS_PROPERTY], "os:ubuntu");
    assert!(d.tags.contains(TAG) && d.tags.contains("os:ubuntu"));
    assert_eq!((d.visibility.as_str(), d.hidden), ("public", false));
}

#[test]
fn up_to_date_image_plans_nothing() {
    let img = image(ID, NAME);
    let l = lock(ID, "20261101", "2026-11-01");
    let p = run(&img, &l, &[glance_current("g1", &img, &l)]);
    assert!(p.changes.is_empty(), "{:#?}", p.changes);
}

#[test]
fn drift_shows_as_update_with_before_and_after() {
    let img = image(ID, NAME);
    let l = lock(ID, "20261101", "2026-11-01");
    let mut g = glance_current("g1", &img, &l);
    g.properties.insert("os_distro".into(), "debian".into());
    g.visibility = "private".into();
    g.min_ram = 128;
    g.hidden = true;
    g.tags.remove(TAG);
    let p = run(&img, &l, &[g.clone()]);
    assert_eq!(actions(&p), [(Action::UpdateMetadata, Some("g1"))]);
    let c = &p.changes[0];
    assert_eq!(
        diff(c, "property:os_distro"),
        Some((s("debian"), s("ubuntu")))
    );
    assert_eq!(diff(c, "visibility"), Some((s("private"), s("public"))));
    assert_eq!(diff(c, "min_ram"), Some((s("128"), s("512"))));
    assert_eq!(diff(c, "os_hidden"), Some((s("true"), s("false"))));
    assert_eq!(diff(c, &format!("tag:{TAG}")), Some((None, s(TAG))));
    assert_eq!(c.details.len(), 5, "{:#?}", c.details);
    assert_converges(&img, &l, &[g]);
}

#[test]
fn catalog_change_of_a_property_is_an_update() {
    let mut img = image(ID, NAME);
    let l = lock(ID, "20261101", "2026-11-01");
    let g = glance_current("g1", &img, &l);
    img.glance
        .properties
        .insert("hw_rng_model".into(), "virtio".into());
    let p = run(&img, &l, &[g]);
    let c = &p.changes[0];
    assert_eq!(diff(c, "property:hw_rng_model"), Some((None, s("virtio"))));
    assert_eq!(
        diff(c, &format!("property:{MANAGED_KEYS_PROPERTY}")),
        Some((
            s("hw_disk_bus,os_distro,os_purpose,os_version,uuid_validity"),
            s("hw_disk_bus,hw_rng_model,os_distro,os_purpose,os_version,uuid_validity")
        ))
    );
}

#[test]
fn properties_and_tags_the_catalog_dropped_are_removed_others_untouched() {
    let mut img = image(ID, NAME);
    let l = lock(ID, "20261101", "2026-11-01");
    let mut g = glance_current("g1", &img, &l);
    // Set by an operator: not in the managed list, must stay.
    g.properties.insert("owner_note".into(), "hands off".into());
    g.tags.insert("operator-tag".into());
    // Server-owned, even if (wrongly) listed: must stay.
    g.properties
        .insert("os_glance_importing_to_stores".into(), "".into());
    let listed = format!(
        "{},os_glance_importing_to_stores",
        g.properties[MANAGED_KEYS_PROPERTY]
    );
    g.properties.insert(MANAGED_KEYS_PROPERTY.into(), listed);
    img.glance.properties.remove("os_purpose");
    img.glance.tags.clear();
    let p = run(&img, &l, &[g.clone()]);
    let c = &p.changes[0];
    assert_eq!(c.action, Action::UpdateMetadata);
    assert_eq!(diff(c, "property:os_purpose"), Some((s("generic"), None)));
    assert_eq!(diff(c, "tag:os:ubuntu"), Some((s("os:ubuntu"), None)));
    assert_eq!(diff(c, "property:owner_note"), None);
    assert_eq!(diff(c, "tag:operator-tag"), None);
    assert_eq!(diff(c, "property:os_glance_importing_to_stores"), None);
    assert_converges(&img, &l, &[g]);
}

#[test]
fn bump_imports_and_rotates_the_old_image() {
    let img = image(ID, NAME);
    let old_lock = lock(ID, "20261101", "2026-11-01");
    let l = lock(ID, "20261120", "2026-11-20");
    let g = glance_current("g1", &img, &old_lock);
    let p = run(&img, &l, std::slice::from_ref(&g));
    assert_eq!(
        actions(&p),
        [(Action::Import, None), (Action::Rotate, Some("g1"))]
    );
    assert_eq!(
        p.changes[0].reason,
        "new build 20261120 (current: 20261101)"
    );
    let r = &p.changes[1];
    assert_eq!(diff(r, "name"), Some((s(NAME), s("Ubuntu 24.04 20261101"))));
    assert_eq!(diff(r, "os_hidden"), Some((s("false"), s("true"))));
    assert_eq!(
        diff(r, "property:os_purpose"),
        Some((s("generic"), s("oldgeneric")))
    );
    assert_converges(&img, &l, &[g]);
}

#[test]
fn rotation_follows_the_catalog_policy() {
    let mut img = image(ID, NAME);
    img.rotation.hide = false;
    img.rotation.mark_oldgeneric = false;
    img.rotation.visibility = Some(crate::catalog::Visibility::Community);
    let old_lock = lock(ID, "20261101", "2026-11-01");
    let l = lock(ID, "20261120", "2026-11-20");
    let p = run(&img, &l, &[glance_current("g1", &img, &old_lock)]);
    let r = &p.changes[1];
    assert_eq!(r.action, Action::Rotate);
    assert_eq!(diff(r, "os_hidden"), None);
    assert_eq!(diff(r, "property:os_purpose"), None);
    assert_eq!(diff(r, "visibility"), Some((s("public"), s("community"))));
}

#[test]
fn old_builds_of_the_same_day_get_distinct_stable_names() {
    let mut img = image(ID, NAME);
    img.rotation.keep = 5;
    let l = lock(ID, "3", "2026-11-20");
    let mut a = glance_current("ga", &img, &lock(ID, "1", "2026-11-01"));
    let mut b = glance_current("gb", &img, &lock(ID, "2", "2026-11-01"));
    a.created_at = "2026-11-01T01:00:00Z".into();
    b.created_at = "2026-11-01T02:00:00Z".into();
    a.name = "Ubuntu 24.04 20261101".into();
    a.hidden = true;
    a.properties
        .insert("os_purpose".into(), "oldgeneric".into());
    // gb still holds the stable name and was created after ga: it gets the suffix.
    let p = run(&img, &l, &[a.clone(), b.clone()]);
    let rot = p
        .changes
        .iter()
        .find(|c| c.action == Action::Rotate)
        .unwrap();
    assert_eq!(rot.glance_id.as_deref(), Some("gb"));
    assert_eq!(
        diff(rot, "name"),
        Some((s(NAME), s("Ubuntu 24.04 20261101-2")))
    );
    assert!(
        !p.changes
            .iter()
            .any(|c| c.glance_id.as_deref() == Some("ga")),
        "an existing valid rotated name is kept: {:#?}",
        p.changes
    );
    assert_converges(&img, &l, &[a, b]);
}

/// Three rotated old images and a current one, built on consecutive days.
fn generations(img: &Image) -> (LockedImage, Vec<GlanceImage>) {
    let l = lock(ID, "4", "2026-11-04");
    let mut all = vec![glance_current("g4", img, &l)];
    for (gid, v) in [("g1", "1"), ("g2", "2"), ("g3", "3")] {
        let mut g = glance_current(gid, img, &lock(ID, v, &format!("2026-11-0{v}")));
        g.name = format!("{NAME} 2026110{v}");
        g.hidden = true;
        g.properties
            .insert("os_purpose".into(), "oldgeneric".into());
        all.push(g);
    }
    (l, all)
}

#[test]
fn retention_deletes_the_oldest_beyond_keep_and_lists_them_last() {
    let img = image(ID, NAME); // keep 1, uuid_validity last-2 → 1 old kept
    let (l, all) = generations(&img);
    let p = run(&img, &l, &all);
    assert_eq!(
        actions(&p),
        [(Action::Delete, Some("g1")), (Action::Delete, Some("g2"))]
    );
    assert_eq!(p.changes[0].reason, "beyond retention (keep 1)");
    assert_converges(&img, &l, &all);
}

#[test]
fn uuid_validity_extends_retention() {
    let mut img = image(ID, NAME);
    img.glance
        .properties
        .insert("uuid_validity".into(), "last-3".into());
    let (l, all) = generations(&img);
    let p = run(&img, &l, &all);
    assert_eq!(actions(&p), [(Action::Delete, Some("g1"))]);

    for forever in ["forever", "2027-01-01"] {
        img.glance
            .properties
            .insert("uuid_validity".into(), forever.into());
        let (l, all) = generations(&img);
        assert!(run(&img, &l, &all).changes.is_empty(), "{forever}");
    }
    // A validity date in the past promises nothing more.
    img.glance
        .properties
        .insert("uuid_validity".into(), "2026-01-01".into());
    let (l, all) = generations(&img);
    assert_eq!(run(&img, &l, &all).summary().delete, 2);
}

#[test]
fn no_deletion_unless_the_catalog_allows_it() {
    let mut img = image(ID, NAME);
    img.rotation.delete = false;
    let (l, all) = generations(&img);
    assert!(run(&img, &l, &all).changes.is_empty());
}

#[test]
fn protected_images_beyond_retention_are_kept_and_reported() {
    let img = image(ID, NAME);
    let (l, mut all) = generations(&img);
    all.iter_mut().find(|g| g.id == "g1").unwrap().protected = true;
    let p = run(&img, &l, &all);
    assert_eq!(
        actions(&p),
        [(Action::Keep, Some("g1")), (Action::Delete, Some("g2"))]
    );
}

#[test]
fn a_deletion_of_an_unrotated_image_carries_its_rotation() {
    let mut img = image(ID, NAME);
    img.rotation.keep = 0;
    img.glance
        .properties
        .insert("uuid_validity".into(), "none".into());
    let old = lock(ID, "1", "2026-11-01");
    let l = lock(ID, "2", "2026-11-02");
    let p = run(&img, &l, &[glance_current("g1", &img, &old)]);
    assert_eq!(
        actions(&p),
        [(Action::Import, None), (Action::Delete, Some("g1"))]
    );
    // Used by apply if Glance refuses the delete (in use): the image is rotated instead.
    assert_eq!(
        diff(&p.changes[1], "name"),
        Some((s(NAME), s("Ubuntu 24.04 20261101")))
    );
}

#[test]
fn leftovers_of_interrupted_runs_are_cleaned_up() {
    let img = image(ID, NAME);
    let l = lock(ID, "2", "2026-11-02");
    let tmp_queued = glance_bare("t1", ID, &super::super::tmp_name(ID, "2"), "queued", "2");
    let tmp_active = glance_bare("t2", ID, &super::super::tmp_name(ID, "2"), "active", "2");
    let killed = glance_bare("k1", ID, NAME, "killed", "1");
    let p = run(&img, &l, &[tmp_queued, tmp_active, killed]);
    assert_eq!(
        actions(&p),
        [
            (Action::Cleanup, Some("k1")),
            (Action::Cleanup, Some("t1")),
            (Action::Cleanup, Some("t2")),
            (Action::Import, None)
        ]
    );
    assert!(p.changes[0].reason.contains("killed"));
    assert!(p.changes[1].reason.contains("interrupted"));
}

#[test]
fn unmanaged_images_are_never_touched() {
    let img = image(ID, NAME);
    let l = lock(ID, "2", "2026-11-02");
    let mut foreign = glance_bare("u1", ID, NAME, "queued", "2");
    foreign.properties.clear();
    let mut other = glance_bare("u2", "other-id", NAME, "killed", "2");
    other.name = super::super::tmp_name("other-id", "2");
    let p = run(&img, &l, &[foreign, other]);
    assert_eq!(actions(&p), [(Action::Import, None)]);
}

#[test]
fn rollback_promotes_the_old_image_and_rotates_the_newer() {
    let img = image(ID, NAME);
    let (_, all) = generations(&img);
    let l = lock(ID, "3", "2026-11-03"); // the lock went back to build 3
    let p = run(&img, &l, &all);
    let promote = p
        .changes
        .iter()
        .find(|c| c.glance_id.as_deref() == Some("g3"))
        .unwrap();
    assert_eq!(promote.action, Action::UpdateMetadata);
    assert_eq!(
        diff(promote, "name"),
        Some((s("Ubuntu 24.04 20261103"), s(NAME)))
    );
    let rot = p
        .changes
        .iter()
        .find(|c| c.glance_id.as_deref() == Some("g4"))
        .unwrap();
    assert_eq!(rot.action, Action::Rotate);
    assert!(!p.changes.iter().any(|c| c.action == Action::Import));
    assert_converges(&img, &l, &all);
}

#[test]
fn duplicates_of_the_current_version_are_rotated_not_adopted_twice() {
    let img = image(ID, NAME);
    let l = lock(ID, "1", "2026-11-01");
    let mut a = glance_current("ga", &img, &l);
    let mut b = glance_current("gb", &img, &l);
    a.created_at = "2026-11-01T01:00:00Z".into();
    b.created_at = "2026-11-01T02:00:00Z".into();
    let p = run(&img, &l, &[a.clone(), b.clone()]);
    assert_eq!(actions(&p), [(Action::Rotate, Some("gb"))]);
    assert_converges(&img, &l, &[a, b]);
}

#[test]
fn images_without_lock_are_skipped() {
    let img = image(ID, NAME);
    let p = plan(&[&img], &BTreeMap::new(), &[], &ctx());
    assert!(p.changes.is_empty());
}

#[test]
fn fingerprint_tracks_lock_and_observed_state() {
    let img = image(ID, NAME);
    let l = lock(ID, "1", "2026-11-01");
    let g = glance_current("g1", &img, &l);
    let base = run(&img, &l, std::slice::from_ref(&g)).fingerprint;
    assert!(base.starts_with("sha256:"));
    assert_eq!(run(&img, &l, std::slice::from_ref(&g)).fingerprint, base);
    let mut g2 = g.clone();
    g2.updated_at = "2026-11-24T00:00:00Z".into();
    assert_ne!(run(&img, &l, &[g2]).fingerprint, base);
    assert_ne!(
        run(&img, &lock(ID, "2", "2026-11-02"), std::slice::from_ref(&g)).fingerprint,
        base
    );
    // Images of other owners do not make a plan stale.
    let mut foreign = g.clone();
    foreign.id = "x".into();
    foreign.properties.clear();
    assert_eq!(run(&img, &l, &[g, foreign]).fingerprint, base);
}

#[test]
fn planned_state_has_one_current_image_per_name() {
    let img = image(ID, NAME);
    let old = lock(ID, "1", "2026-11-01");
    let l = lock(ID, "2", "2026-11-02");
    let obs = [glance_current("g1", &img, &old)];
    let p = run(&img, &l, &obs);
    let st = planned_state(&p, &[&img], &locks(l.clone()), &obs, &ctx());
    let visible: Vec<&GlanceImage> = st.iter().filter(|g| g.name == NAME).collect();
    assert_eq!(visible.len(), 1);
    assert_eq!(visible[0].properties[VERSION_PROPERTY], "2");
    let rotated = st.iter().find(|g| g.id == "g1").unwrap();
    assert!(rotated.hidden);
    assert_eq!(rotated.properties["os_purpose"], "oldgeneric");
}

#[test]
fn os_version_follows_the_lock_for_presets_tracking_the_newest_release() {
    let mut img = image("fedora", "Fedora");
    img.source = crate::catalog::Source::Fedora(crate::catalog::raw::FedoraSource {
        release: None,
        subvariant: "Cloud_Base".into(),
    });
    img.glance.properties.remove("os_version");
    let d = desired(&img, &lock("fedora", "43-1.6", "2026-11-01"), TAG);
    assert_eq!(d.properties["os_version"], "43");
    assert!(d.properties[MANAGED_KEYS_PROPERTY].contains("os_version"));
    // A declared os_version wins.
    img.glance
        .properties
        .insert("os_version".into(), "42".into());
    let d = desired(&img, &lock("fedora", "43-1.6", "2026-11-01"), TAG);
    assert_eq!(d.properties["os_version"], "42");
}

#[test]
fn an_operators_canonical_image_source_is_not_reverted_to_the_locked_alias() {
    let img = image(ID, NAME);
    let mut l = lock(ID, "20240821", "2024-08-21");
    // A lockfile written before Ubuntu URLs were canonical.
    l.build.url = "https://cloud-images.ubuntu.com/releases/server/releases/noble/release-20240821/ubuntu-24.04-server-cloudimg-amd64.img".into();
    let canonical = "https://cloud-images.ubuntu.com/releases/noble/release-20240821/ubuntu-24.04-server-cloudimg-amd64.img";
    let mut fixed = glance_current("g1", &img, &l);
    // The operator's manual fix in Glance.
    fixed
        .properties
        .insert("image_source".into(), canonical.into());
    assert!(run(&img, &l, &[fixed.clone()]).is_empty());
    // An image still carrying the alias is repaired to the canonical form, not the reverse.
    fixed
        .properties
        .insert("image_source".into(), l.build.url.clone());
    let p = run(&img, &l, &[fixed]);
    assert_eq!(actions(&p), [(Action::UpdateMetadata, Some("g1"))]);
    assert_eq!(
        diff(&p.changes[0], "property:image_source"),
        Some((s(&l.build.url), s(canonical)))
    );
    // Any other hand-made value is drift from the lockfile and repaired.
    let mut mirror = glance_current("g1", &img, &l);
    mirror.properties.insert(
        "image_source".into(),
        "https://mirror.example.org/x.img".into(),
    );
    assert_eq!(
        actions(&run(&img, &l, &[mirror])),
        [(Action::UpdateMetadata, Some("g1"))]
    );
}

#[test]
fn a_rotated_name_once_given_is_kept_whatever_its_suffix() {
    let img = image(ID, NAME);
    let l = lock(ID, "20261101", "2026-11-01");
    let named = |id: &str, name: &str| {
        let mut g = glance_current(id, &img, &l);
        g.name = name.into();
        g
    };
    // The images that once took `…` and `…-2` are gone; `-3` stays `-3`.
    let three = named("g3", "Ubuntu 24.04 20261101-3");
    assert_eq!(
        rotated_names(NAME, &[&three]),
        BTreeMap::from([("g3".to_owned(), "Ubuntu 24.04 20261101-3".to_owned())])
    );
    let twelve = named("g12", "Ubuntu 24.04 20261101-12");
    let names = rotated_names(NAME, &[&three, &twelve]);
    assert_eq!(names["g12"], "Ubuntu 24.04 20261101-12");
    assert_eq!(names["g3"], "Ubuntu 24.04 20261101-3");
    // Not a name the tool gives: renamed to the first free one.
    for bad in [
        "Ubuntu 24.04 20261101-1",
        "Ubuntu 24.04 20261101-03",
        "Ubuntu 24.04 20261101-x",
        "Ubuntu 24.04 20261102-3",
    ] {
        let g = named("gx", bad);
        assert_eq!(
            rotated_names(NAME, &[&g])["gx"],
            "Ubuntu 24.04 20261101",
            "{bad}"
        );
    }
    // Two images claiming one name: the older keeps it, the other gets a free one.
    let mut older = named("ga", "Ubuntu 24.04 20261101-3");
    older.created_at = "2026-11-01T01:00:00Z".into();
    let mut newer = named("gb", "Ubuntu 24.04 20261101-3");
    newer.created_at = "2026-11-01T02:00:00Z".into();
    let names = rotated_names(NAME, &[&newer, &older]);
    assert_eq!(names["ga"], "Ubuntu 24.04 20261101-3");
    assert_eq!(names["gb"], "Ubuntu 24.04 20261101");
}

#[test]
fn a_lockfile_moved_to_an_older_build_is_a_warned_downgrade() {
    let img = image(ID, NAME);
    let in_glance = lock(ID, "20261120", "2026-11-20");
    let g = glance_current("g1", &img, &in_glance);
    // Hand-edited back to an older build that Glance no longer has.
    let older = lock(ID, "20261101", "2026-11-01");
    let p = run(&img, &older, std::slice::from_ref(&g));
    let import = &p.changes[0];
    assert_eq!(import.action, Action::Import);
    assert_eq!(import.reason, "older build 20261101 (current: 20261120)");
    assert_eq!(import.warnings.len(), 1, "{:?}", import.warnings);
    assert!(
        import.warnings[0]
            .starts_with("downgrade: the lockfile names build 20261101, older than 20261120")
    );
    // Both renderings of the one plan carry it.
    let human = crate::reconcile::render::human(&p);
    assert!(
        human.contains("! warning: downgrade: the lockfile names build 20261101"),
        "{human}"
    );
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(
        json["changes"][0]["warnings"][0].as_str(),
        Some(import.warnings[0].as_str())
    );
    // A newer build is no downgrade, and says so.
    let newer = lock(ID, "20261201", "2026-12-01");
    let p = run(&img, &newer, std::slice::from_ref(&g));
    assert!(p.changes[0].warnings.is_empty());
    assert!(p.changes[0].reason.starts_with("new build"));
    assert!(
        serde_json::to_value(&p).unwrap()["changes"][0]
            .get("warnings")
            .is_none()
    );
}

#[test]
fn a_rollback_to_an_older_image_still_in_glance_is_warned() {
    let img = image(ID, NAME);
    let (_, all) = generations(&img);
    let l = lock(ID, "3", "2026-11-03");
    let p = run(&img, &l, &all);
    let promote = p
        .changes
        .iter()
        .find(|c| c.glance_id.as_deref() == Some("g3"))
        .unwrap();
    assert_eq!(promote.warnings.len(), 1, "{promote:?}");
    assert!(promote.warnings[0].contains("older than 4"));
}

#[test]
fn a_temporary_image_under_a_live_claim_is_left_to_its_run() {
    use crate::reconcile::claim::{CLAIM_PROPERTY, CLAIM_UNTIL_PROPERTY};
    let img = image(ID, NAME);
    let l = lock(ID, "2", "2026-11-02");
    let claimed = |gid: &str, run: &str| {
        let mut g = glance_bare(gid, ID, &super::super::tmp_name(ID, "2"), "saving", "2");
        g.properties.insert(CLAIM_PROPERTY.into(), run.into());
        g.properties
            .insert(CLAIM_UNTIL_PROPERTY.into(), "2026-11-25T13:00:00Z".into());
        g
    };
    let mut c = ctx();
    c.live_claims.insert("host/1/2/busy".into());
    let observed = [
        claimed("t1", "host/1/2/busy"),
        claimed("t2", "host/3/4/gone"),
    ];
    let p = plan(&[&img], &locks(l), &observed, &c);
    assert_eq!(
        actions(&p),
        [(Action::Cleanup, Some("t2")), (Action::Import, None)],
        "the live run's image is not cleaned up; the dead run's is"
    );
}

#[test]
fn copies_of_the_current_build_are_deleted_not_kept_hidden() {
    let img = image(ID, NAME);
    let l = lock(ID, "1", "2026-11-01");
    let mut a = glance_current("ga", &img, &l);
    let mut b = glance_current("gb", &img, &l);
    for g in [&mut a, &mut b] {
        g.os_hash_value = Some("ff".repeat(64));
        g.size = Some(1024);
    }
    a.created_at = "2026-11-01T01:00:00Z".into();
    b.created_at = "2026-11-01T02:00:00Z".into();
    // Both hold the name (two applies promoted at once): the older stays.
    let p = run(&img, &l, &[a.clone(), b.clone()]);
    assert_eq!(actions(&p), [(Action::Cleanup, Some("gb"))]);
    assert!(
        p.changes[0]
            .reason
            .contains("duplicate of the current image ga")
    );
    // A hidden rotated copy of the same bytes goes too; other bytes under one version stay
    // an old generation (rotated, as before).
    b.name = format!("{NAME} 20261101");
    b.hidden = true;
    assert_eq!(
        actions(&run(&img, &l, &[a.clone(), b.clone()])),
        [(Action::Cleanup, Some("gb"))]
    );
    b.os_hash_value = Some("ee".repeat(64));
    let p = run(&img, &l, &[a.clone(), b.clone()]);
    assert!(
        !p.changes.iter().any(|c| c.action == Action::Cleanup),
        "{p:#?}"
    );
    assert_converges(&img, &l, &[a, b]);
}

#[test]
fn a_locked_image_digest_that_glance_does_not_hold_is_reimported() {
    let img = image(ID, NAME);
    let mut l = lock(ID, "20261101", "2026-11-01");
    l.build.image = Some(crate::lock::ImageInfo {
        compression: crate::lock::Compression::Xz,
        checksums: BTreeMap::from([(crate::lock::HashAlgorithm::Sha512, "ab".repeat(64))]),
    });
    let mut cur = glance_current("g1", &img, &l);
    cur.os_hash_algo = s("sha512");
    cur.os_hash_value = s(&"ab".repeat(64));
    assert!(run(&img, &l, std::slice::from_ref(&cur)).is_empty());

    // Same version, other bytes in Glance: not the locked image.
    cur.os_hash_value = s(&"cd".repeat(64));
    let p = run(&img, &l, std::slice::from_ref(&cur));
    assert_eq!(actions(&p)[0], (Action::Import, None), "{:#?}", p.changes);
    assert!(
        p.changes[0].reason.contains("sha512"),
        "{}",
        p.changes[0].reason
    );

    // Glance hashing with another algorithm: nothing to compare, the image stays current.
    cur.os_hash_algo = s("sha256");
    assert!(run(&img, &l, std::slice::from_ref(&cur)).is_empty());
}

#[test]
fn min_disk_is_judged_against_the_virtual_size_as_apply_sets_it() {
    const GIB: u64 = 1 << 30;
    let mut img = image(ID, NAME);
    img.glance.min_disk = 1;
    let l = lock(ID, "20261101", "2026-11-01");
    // apply raised min_disk to the 3 GiB Glance reports: nothing to change.
    let mut cur = glance_current("g1", &img, &l);
    cur.virtual_size = Some(3 * GIB);
    cur.min_disk = 3;
    assert!(run(&img, &l, &[cur.clone()]).is_empty());
    // An image imported with the catalog's 1 GiB is repaired to the virtual size.
    cur.min_disk = 1;
    let p = run(&img, &l, &[cur.clone()]);
    assert_eq!(actions(&p), [(Action::UpdateMetadata, Some("g1"))]);
    assert_eq!(diff(&p.changes[0], "min_disk"), Some((s("1"), s("3"))));
    // A larger catalog value wins.
    img.glance.min_disk = 8;
    cur.min_disk = 8;
    assert!(run(&img, &l, &[cur.clone()]).is_empty());
    // Raw without a virtual size from Glance: its byte length is the virtual size.
    img.glance.min_disk = 1;
    cur.min_disk = 1;
    cur.virtual_size = None;
    cur.disk_format = s("raw");
    cur.size = Some(GIB + 1);
    let p = run(&img, &l, &[cur]);
    assert_eq!(diff(&p.changes[0], "min_disk"), Some((s("1"), s("2"))));
}
