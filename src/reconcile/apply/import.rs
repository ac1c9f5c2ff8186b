//! Importing one image: create the temporary record, fill and verify it ([`super::fill`]),
//! then promote it, settling with concurrent runs.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context as _;

use crate::openstack::glance::patch_ops;
use crate::openstack::{Error as OsError, GlanceImage, NewImage};
use crate::reconcile::claim::{self, CLAIM_PROPERTY, CLAIM_UNTIL_PROPERTY, Claim};
use crate::reconcile::download;
use crate::reconcile::header;
use crate::reconcile::plan::{Desired, desired, is_duplicate_of, pick_current};
use crate::reconcile::{Change, tmp_name};

use super::fill::Created;
use super::{Event, Executor, holds_promotion};

impl<'a> Executor<'a> {
    /// Creates, fills, verifies and promotes a new image. On any failure after the image
    /// was created, the image is deleted.
    pub(super) async fn import(
        &self,
        id: &str,
        c: &Change,
        changed: &AtomicBool,
    ) -> anyhow::Result<()> {
        let (image, lock) = self.inputs(id)?;
        let want = desired(image, lock, &self.managed_tag);
        if let Some(v) = &c.version
            && *v != lock.build.version
        {
            anyhow::bail!(
                "the plan imports version {v} but the lockfile has {}; run `plan` again",
                lock.build.version
            );
        }
        if image.hands_auth_to_glance() {
            // `validate` refuses this; never hand a download credential to Glance anyway.
            anyhow::bail!(
                "`transfer: web-download` with `source.static.auth` would hand the download header to Glance; run `image-crawler validate`"
            );
        }
        // Read at transfer time, before anything is created: a missing variable leaves no trace.
        let auth = download::Auth::for_image(
            image,
            &lock.build.url,
            &self.fetcher.effective_url(&lock.build.url),
            |k| std::env::var(k).ok(),
        )?;
        let signature = self.signature_check(image, lock).await?;
        let started = Instant::now();
        let new = NewImage {
            name: tmp_name(id, &lock.build.version),
            // From the head of the bytes, right before the record is created (`create_for`).
            disk_format: String::new(),
            container_format: want.container_format.clone(),
            min_disk: want.min_disk,
            min_ram: want.min_ram,
            visibility: Some("private".into()),
            protected: false,
            hidden: false,
            tags: want.tags.clone(),
            properties: self.claimed(&want.properties),
        };
        let mut created = None;
        let verified = match self
            .fill_and_verify(image, lock, &new, &mut created, auth.as_ref(), signature)
            .await
        {
            Ok(v) => v,
            Err(e) => {
                // Refused before the record existed (e.g. by its header): nothing to delete.
                let Some(Created { gid, .. }) = created else {
                    return Err(e);
                };
                let cleanup = self.delete_if_exists(&gid).await;
                let what = match cleanup {
                    Ok(()) => format!("the new image {gid} was deleted"),
                    Err(d) => format!(
                        "the new image {gid} could not be deleted ({d}); the next run cleans it up"
                    ),
                };
                return Err(e.context(what));
            }
        };
        let Some(Created { gid, header }) = created else {
            anyhow::bail!("the transfer ended without creating an image record");
        };
        // scs-0102: min_disk holds the virtual size (a raw image's is its verified length).
        let promoted = Desired {
            min_disk: header::min_disk(
                want.min_disk,
                header.virtual_size.unwrap_or(verified.bytes),
            ),
            ..want.clone()
        };
        // Convergent under concurrency: when an equal verified image already holds the name,
        // ours is a duplicate: discard it instead of promoting a second one.
        let version = lock.build.version.clone();
        let fresh = self.fresh(id).await?;
        if pick_current(fresh.iter(), &version, &want).is_some_and(|cur| {
            holds_promotion(cur, &want) && is_duplicate_of(&verified.image, cur, &want)
        }) {
            self.delete_if_exists(&gid).await?;
            self.emit(
                changed,
                &Event::ImageCleanedUp {
                    image_id: id.into(),
                    glance_id: gid,
                    name: new.name,
                },
            );
            return Ok(());
        }
        // Our claim must still hold with a margin: an expired claim may be being cleaned up by
        // another run right now, and must never receive the stable name.
        let left = Claim::of(&verified.image)
            .map(|c| c.remaining(jiff::Timestamp::now()))
            .unwrap_or_default();
        if left < claim::PROMOTE_MARGIN {
            let _ = self.delete_if_exists(&gid).await;
            anyhow::bail!(
                "image {gid} is verified, but its claim expired during the transfer (--claim-ttl {} s); it was deleted, not promoted",
                self.claim_ttl.as_secs()
            );
        }
        if let Err(e) = self.promote(&verified.image, &promoted).await {
            // Deleted under us as the younger copy of a concurrent run's promotion: fine when
            // that run's image holds the name.
            let gone = matches!(self.glance.get(&gid).await, Err(OsError::NotFound { .. }));
            if !(gone && matches!(self.settle(id, &gid, &want, &version).await, Ok(false))) {
                return Err(e);
            }
        }
        // Another run may have promoted a copy at the same moment: one stays, by a rule every
        // run applies alike.
        if !self.settle(id, &gid, &want, &version).await? {
            self.emit(
                changed,
                &Event::ImageCleanedUp {
                    image_id: id.into(),
                    glance_id: gid,
                    name: want.name,
                },
            );
            return Ok(());
        }
        self.emit(
            changed,
            &Event::ImageImported {
                image_id: id.into(),
                glance_id: gid,
                name: want.name,
                version: lock.build.version.clone(),
                bytes: verified.bytes,
                seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
                verified: verified.summary,
            },
        );
        Ok(())
    }

    /// Promotes a verified image: stable name, target visibility, protection in one patch;
    /// then re-reads it and succeeds only when Glance verifiably holds all four (a write
    /// racing with ours — e.g. an import task's last save — is detected and the patch
    /// retried). Only then may the old image be rotated.
    async fn promote(&self, verified: &GlanceImage, want: &Desired) -> anyhow::Result<()> {
        let gid = &verified.id;
        let mut current = verified.clone();
        for attempt in 0..3u32 {
            let mut after = current.clone();
            after.name = want.name.clone();
            after.visibility = want.visibility.clone();
            after.protected = want.protected;
            after.hidden = want.hidden;
            after.min_disk = want.min_disk;
            // The claim ends with the promotion (a promoted image is nobody's leftover).
            after.properties.remove(CLAIM_PROPERTY);
            after.properties.remove(CLAIM_UNTIL_PROPERTY);
            self.glance
                .patch(gid, &patch_ops(&current, &after))
                .await
                .map_err(OsError::into_anyhow)
                .with_context(|| {
                    format!("image {gid} is verified but could not take the name {:?}; the next run cleans it up", want.name)
                })?;
            current = self
                .glance
                .get(gid)
                .await
                .map_err(OsError::into_anyhow)
                .with_context(|| format!("cannot re-read image {gid} after promoting it"))?;
            if holds_promotion(&current, want) {
                return Ok(());
            }
            tracing::warn!(image = %gid, attempt, "promotion did not stick; patching again");
            tokio::time::sleep(std::time::Duration::from_millis(500 << attempt)).await;
        }
        anyhow::bail!(
            "image {gid} was promoted but Glance shows name {:?}, visibility {:?}: the old image stays current; the next run repairs it",
            current.name,
            current.visibility
        )
    }
}
