//! Does the credential have the rights the plan needs? Checked before the first transfer, so a
//! credential that may not publish fails in a second instead of after streaming and verifying
//! a whole image (and leaving a temporary image behind).
//!
//! Glance's policy is not readable through its API, so the check is a probe: a tiny image
//! record (no data, private, hidden, named `image-crawler-probe-…`) is created, patched to the
//! visibility the plan needs, and deleted again. By default `publicize_image` is admin-only;
//! `communitize_image` is allowed to project members.

use std::collections::BTreeSet;

use crate::catalog::Image;
use crate::exit::ExitStatus;
use crate::openstack::glance::{PatchKind, PatchOp};
use crate::openstack::{Glance, NewImage};

use super::{Action, Plan};

/// Name prefix of probe images.
pub const PROBE_PREFIX: &str = "image-crawler-probe-";

/// The visibilities the plan gives images that need more than owning the image (`public`,
/// `community`), sorted (pure).
pub fn needed_visibilities(plan: &Plan, images: &[&Image]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for c in &plan.changes {
        let to = match c.action {
            Action::Import => images
                .iter()
                .find(|i| i.id == c.image_id)
                .map(|i| i.glance.visibility.as_str().to_owned()),
            Action::UpdateMetadata | Action::Rotate | Action::Delete => c
                .details
                .iter()
                .find(|d| d.field == "visibility")
                .and_then(|d| d.after.clone()),
            Action::Cleanup | Action::Keep => None,
        };
        if let Some(v) = to.filter(|v| v == "public" || v == "community") {
            out.insert(v);
        }
    }
    out
}

/// Probes each visibility; refuses (exit 5) on the first one Glance forbids (403).
pub async fn probe(
    glance: &Glance,
    cloud: &str,
    visibilities: &BTreeSet<String>,
) -> anyhow::Result<()> {
    for visibility in visibilities {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let new = NewImage {
            name: format!("{PROBE_PREFIX}{nonce:x}"),
            disk_format: "raw".into(),
            container_format: "bare".into(),
            visibility: Some("private".into()),
            hidden: true,
            ..NewImage::default()
        };
        let created = match glance.create(&new).await {
            Ok(c) => c,
            Err(e) if e.status() == Some(403) => {
                return Err(refused(
                    cloud,
                    "create images (Glance answered 403 to a probe; policy `add_image`)",
                    "apply needs the `member` role in the project (or one Glance's `add_image` policy allows)",
                ));
            }
            Err(e) => return Err(e.into_anyhow().context("the rights probe failed")),
        };
        let op = PatchOp {
            op: PatchKind::Replace,
            path: "/visibility".into(),
            value: Some(serde_json::json!(visibility)),
        };
        let patched = glance.patch(&created.id, &[op]).await;
        // The probe goes whatever the answer was; a failed delete only leaves a hidden,
        // empty, private record with the probe prefix.
        if let Err(e) = glance.delete(&created.id).await {
            tracing::warn!(image = %created.id, "cannot delete the rights probe: {e}");
        }
        match patched {
            Ok(_) => {}
            Err(e) if e.status() == Some(403) => {
                let policy = if visibility == "public" {
                    "publicize_image"
                } else {
                    "communitize_image"
                };
                return Err(refused(
                    cloud,
                    &format!(
                        "make images {visibility} (Glance answered 403 to a probe; policy `{policy}`)"
                    ),
                    &format!(
                        "use a credential with a role Glance's `{policy}` policy allows (`admin` by default), or set `glance.visibility` of these images (or the target's overrides) to `private`/`shared`"
                    ),
                ));
            }
            Err(e) => return Err(e.into_anyhow().context("the rights probe failed")),
        }
    }
    Ok(())
}

fn refused(cloud: &str, what: &str, hint: &str) -> anyhow::Error {
    crate::error::refuse(
        ExitStatus::Refused,
        format!("cloud {cloud}: the credential may not {what}; nothing was transferred"),
        hint,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Visibility;
    use crate::reconcile::fixtures::{image, lock};
    use crate::reconcile::{FieldDiff, plan::plan};

    #[test]
    fn only_public_and_community_need_a_probe() {
        let mut img = image("a", "A");
        let l = lock("a", "1", "2026-11-01");
        let locks = std::collections::BTreeMap::from([("a".to_owned(), l)]);
        let p = plan(&[&img], &locks, &[], &crate::reconcile::fixtures::ctx());
        assert_eq!(
            needed_visibilities(&p, &[&img]),
            BTreeSet::from(["public".to_owned()])
        );
        img.glance.visibility = Visibility::Private;
        assert!(needed_visibilities(&p, &[&img]).is_empty());
        // An update that makes an image community needs the probe too.
        let mut p = p;
        p.changes[0].action = Action::UpdateMetadata;
        p.changes[0].details = vec![FieldDiff::new(
            "visibility",
            Some("private".into()),
            Some("community".into()),
        )];
        assert_eq!(
            needed_visibilities(&p, &[&img]),
            BTreeSet::from(["community".to_owned()])
        );
    }
}
