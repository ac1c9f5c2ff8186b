//! Executes a [`Plan`] against Glance (the imperative shell of the reconciler).
//!
//! Per catalog image, the changes run in plan order (cleanup, import, update, rotate, keep,
//! delete); images run concurrently (bounded). If a cleanup or import of an image fails, the
//! rest of that image's changes are skipped, so an old image is never rotated away before its
//! replacement is verified and holds the stable name. Other images go on (exit 3).
//!
//! An import (see [`super`] for the contract):
//! 1. `POST /images`: private, unprotected, named `image-crawler-tmp-<id>-<version>`, with every
//!    property and tag already set;
//! 2. bytes per `transfer`:
//!    - `stream`: upstream `GET` (through the mirror rewrite) piped into `PUT /file`, chunked,
//!      hashed on the way (constant memory, no temporary file);
//!    - `glance-direct`: the same stream into `PUT /stage`; the lockfile checksum is checked
//!      *before* `POST /import`, so wrong bytes never even become an active image;
//!    - `web-download`: Glance fetches the (mirror-rewritten) URL itself. With a sha512 in the
//!      lockfile, Glance's own `os_hash_value` (sha512 by default) is compared with it. With
//!      only sha256/md5 there is nothing Glance computes that can be compared, so the tool
//!      re-reads the upstream file as a stream (hashing only, nothing stored) and compares both
//!      the lockfile checksum and Glance's sha512: the cost is one extra download, the gain is
//!      that web-download is verified like every other path;
//! 3. verification: size and the lockfile's strongest checksum of the streamed bytes (hashed
//!    off the I/O path, see [`super::transfer`]), then Glance's
//!    `size` and `os_hash_value` against what was sent; any mismatch or failure deletes the new
//!    image;
//! 4. promotion: ONE patch gives it the stable name, the target visibility and `protected`
//!    (and drops this run's claim). The image it replaces still has the stable name; the plan's
//!    `Rotate` renames it next.
//!
//! Concurrent applies (see [`super::claim`] and docs/plan-apply.md): the temporary image is
//! claimed by this run's id; before promoting, the run discards its copy when an equal verified
//! image holds the name; after promoting it settles a simultaneous promotion (one copy stays,
//! by the planner's rule); every cleanup, rotation and delete re-checks a fresh listing first.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use super::claim::{self, CLAIM_PROPERTY, CLAIM_UNTIL_PROPERTY, Claim, RunId};
use super::download;
use super::header;
use super::plan::{Desired, apply_diffs, desired, is_duplicate_of, pick_current};
use super::transfer::{self, GlanceCheck, Pipeline, SignatureConsumer};
use super::{Action, Change, Plan, tmp_name};
use crate::catalog::{ID_PROPERTY, Image, Transfer};
use crate::exit::ExitStatus;
use crate::lock::{HashAlgorithm, LockedImage, SignatureState};
use crate::openstack::glance::{patch_ops, tag_changes};
use crate::openstack::{
    Error as OsError, ExpectedHash, Glance, GlanceImage, Hidden, ImportMethod, ListFilter,
    NewImage, WaitPolicy,
};
use crate::upstream::fetch::Fetcher;
use crate::upstream::signature::StreamCheck;

/// One event of an apply (JSON lines with `--format json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    ImageCleanedUp {
        image_id: String,
        glance_id: String,
        name: String,
    },
    ImageImported {
        image_id: String,
        glance_id: String,
        name: String,
        version: String,
        bytes: u64,
        seconds: f64,
        /// What was verified, e.g. `sha256 matches lockfile; Glance sha512 matches`.
        verified: String,
    },
    ImageUpdated {
        image_id: String,
        glance_id: String,
        name: String,
        fields: Vec<String>,
    },
    ImageRotated {
        image_id: String,
        glance_id: String,
        name: String,
    },
    ImageDeleted {
        image_id: String,
        glance_id: String,
        name: String,
    },
    ImageKept {
        image_id: String,
        glance_id: String,
        name: String,
        reason: String,
    },
    ImageFailed {
        image_id: String,
        error: String,
        /// A temporary failure before any change of the image took effect (see [`FailureKind`]).
        transient: bool,
    },
}

impl Event {
    /// Whether the event reports a change that took effect in Glance.
    fn changes_glance(&self) -> bool {
        !matches!(self, Event::ImageKept { .. } | Event::ImageFailed { .. })
    }
}

/// Progress of a byte transfer (a bar on a terminal; nothing otherwise).
pub trait Progress: Send + Sync {
    /// A transfer of `total` bytes (if known) started; returns a callback for each chunk.
    fn start(&self, label: &str, total: Option<u64>) -> Box<dyn Fn(u64) + Send + Sync>;
}

/// No progress display.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: Option<u64>) -> Box<dyn Fn(u64) + Send + Sync> {
        Box::new(|_| {})
    }
}

/// What the executor needs besides the plan.
pub struct Executor<'a> {
    pub glance: &'a Glance,
    /// The target's catalog images (overrides applied), by id.
    pub images: BTreeMap<String, &'a Image>,
    pub locks: &'a BTreeMap<String, LockedImage>,
    pub managed_tag: String,
    /// For upstream downloads (no Glance token is ever sent upstream), made by
    /// [`download::client`]: it does not follow redirects, [`download::open`] does.
    pub upstream: reqwest::Client,
    /// For the mirror rewrite of upstream URLs.
    pub fetcher: &'a Fetcher,
    pub concurrency: usize,
    /// Bounds of every upstream download (`settings.download`, `--min-rate`, …).
    pub limits: crate::catalog::DownloadLimits,
    pub wait: WaitPolicy,
    /// This run's claim on the temporary images it creates (see [`super::claim`]).
    pub run: RunId,
    /// How long a claim lasts: an upper bound on one image's transfer and verification.
    pub claim_ttl: Duration,
    pub events: &'a (dyn Fn(&Event) + Send + Sync),
    pub progress: &'a dyn Progress,
    /// Where the verified image digest of a compressed artifact is recorded in the lockfile
    /// (`[build.image.checksums]`, see docs/lockfile.md); `None`: not recorded.
    pub state_dir: Option<&'a std::path::Path>,
    /// The algorithm this cloud's Glance is expected to hash with ([`transfer::glance_hash`]
    /// of what it lists): the one digest computed beside the lockfile's, none when they agree.
    pub glance_hash: HashAlgorithm,
}

/// The outcome of one apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Catalog ids whose changes all succeeded.
    pub succeeded: Vec<String>,
    /// Catalog ids with a failure, and the failure (JSON: the rendered error, as before).
    #[serde(serialize_with = "failure_messages")]
    pub failed: BTreeMap<String, Failure>,
    /// Glance ids kept although retention wanted them gone.
    pub kept: Vec<String>,
}

impl Outcome {
    /// How many images failed, and how many of those temporarily (for [`ExitStatus::for_items`]).
    pub fn failure_counts(&self) -> (usize, usize) {
        let transient = self
            .failed
            .values()
            .filter(|f| f.kind == FailureKind::Transient)
            .count();
        (self.failed.len(), transient)
    }

    /// Whether `after` (the plan made after the run) has changes no failure of this run
    /// explains: then Glance did not converge although every change reported success.
    pub fn unexplained(&self, after: &Plan) -> bool {
        after
            .changes
            .iter()
            .any(|c| !self.failed.contains_key(&c.image_id))
    }
}

/// Why an image failed, which decides the exit code (docs/exit-codes.md): a temporary failure
/// (connection refused, timeout, 5xx: [`crate::error::exit_status`] says 75) before any change
/// of that image took effect is worth retrying later; anything else is a failure of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Transient,
    Permanent,
}

/// One image's failure: its kind, and the rendered error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub error: String,
}

impl Failure {
    /// Classifies `err` by its typed chain; `changed`: a change of the image already took
    /// effect in Glance, so the run is not "nothing changed" for it.
    pub fn of(err: &anyhow::Error, changed: bool) -> Failure {
        let temporary = crate::error::exit_status(err) == ExitStatus::TempFail;
        Failure {
            kind: if temporary && !changed {
                FailureKind::Transient
            } else {
                FailureKind::Permanent
            },
            error: crate::error::render(err),
        }
    }
}

fn failure_messages<S: serde::Serializer>(
    failed: &BTreeMap<String, Failure>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(failed.iter().map(|(id, f)| (id, &f.error)))
}

/// Lists the images this tool manages in the project of the session (hidden ones too).
pub async fn observe(glance: &Glance) -> anyhow::Result<Vec<GlanceImage>> {
    Ok(observe_with_hash(glance).await?.0)
}

/// [`observe`], and the algorithm Glance hashes with as every image of the project (managed
/// or not) suggests ([`transfer::glance_hash`]): the same one listing.
pub async fn observe_with_hash(
    glance: &Glance,
) -> anyhow::Result<(Vec<GlanceImage>, HashAlgorithm)> {
    let token = glance
        .session()
        .token()
        .await
        .map_err(OsError::into_anyhow)?;
    let filter = ListFilter {
        visibility: Some("all".into()),
        hidden: Hidden::Include,
        owner: token.project_id.clone(),
        page_size: Some(200),
        ..ListFilter::default()
    };
    let all = glance
        .list(&filter)
        .await
        .map_err(OsError::into_anyhow)
        .context("cannot list the images in Glance")?;
    let hash = transfer::glance_hash(&all);
    let managed = all
        .into_iter()
        .filter(|g| g.properties.contains_key(ID_PROPERTY))
        .collect();
    Ok((managed, hash))
}

/// Refuses a plan with more deletions than allowed (before anything runs).
pub fn check_max_deletes(plan: &Plan, max_deletes: u32) -> Result<(), String> {
    let n = plan.summary().delete;
    if n > max_deletes as usize {
        return Err(format!(
            "the plan deletes {n} image(s), more than --max-deletes {max_deletes}"
        ));
    }
    Ok(())
}

impl<'a> Executor<'a> {
    /// Runs the plan; `observed` is the state the plan was checked against.
    pub async fn run(&self, plan: &Plan, observed: &[GlanceImage]) -> Outcome {
        let by_id: BTreeMap<&str, &GlanceImage> =
            observed.iter().map(|g| (g.id.as_str(), g)).collect();
        let mut groups: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
        for c in &plan.changes {
            groups.entry(&c.image_id).or_default().push(c);
        }
        for changes in groups.values_mut() {
            // Plan order puts deletions last globally; within an image keep the action order.
            changes.sort_by_key(|c| c.action);
        }
        let results: Vec<(String, Result<Vec<String>, Failure>)> =
            futures_util::stream::iter(groups)
                .map(|(id, changes)| {
                    let by_id = &by_id;
                    async move {
                        let changed = AtomicBool::new(false);
                        let r = self.run_image(id, &changes, by_id, &changed).await;
                        let r = r.map_err(|e| Failure::of(&e, changed.load(Ordering::Relaxed)));
                        (id.to_owned(), r)
                    }
                })
                .buffer_unordered(self.concurrency.max(1))
                .collect()
                .await;
        let mut out = Outcome::default();
        for (id, r) in results {
            match r {
                Ok(kept) => {
                    out.kept.extend(kept);
                    out.succeeded.push(id);
                }
                Err(f) => {
                    (self.events)(&Event::ImageFailed {
                        image_id: id.clone(),
                        error: f.error.trim_end().to_owned(),
                        transient: f.kind == FailureKind::Transient,
                    });
                    out.failed.insert(id, f);
                }
            }
        }
        out.succeeded.sort();
        out.kept.sort();
        out
    }

    /// Reports `e`; `changed` records that a change of the image took effect.
    fn emit(&self, changed: &AtomicBool, e: &Event) {
        if e.changes_glance() {
            changed.store(true, Ordering::Relaxed);
        }
        (self.events)(e);
    }

    /// The changes of one catalog image, in order; returns the kept Glance ids. `changed` is
    /// set once one of them took effect (a later failure is then not "nothing changed").
    async fn run_image(
        &self,
        id: &str,
        changes: &[&Change],
        observed: &BTreeMap<&str, &GlanceImage>,
        changed: &AtomicBool,
    ) -> anyhow::Result<Vec<String>> {
        let mut kept = Vec::new();
        for c in changes {
            let current = c
                .glance_id
                .as_deref()
                .and_then(|g| observed.get(g).copied());
            let gid = c.glance_id.clone().unwrap_or_default();
            match c.action {
                Action::Cleanup => {
                    // Re-check on a fresh listing: a concurrent run may have promoted it, or
                    // claimed it, since we looked.
                    if !self.still_removable(id, &gid).await? {
                        continue;
                    }
                    self.delete_unprotected(&gid)
                        .await
                        .with_context(|| format!("{id}: cannot clean up image {gid}"))?;
                    self.emit(
                        changed,
                        &Event::ImageCleanedUp {
                            image_id: id.into(),
                            glance_id: gid,
                            name: c.name.clone(),
                        },
                    );
                }
                Action::Import => {
                    self.import(id, c, changed).await.with_context(|| {
                        format!(
                            "{id}: import of version {} failed",
                            c.version.as_deref().unwrap_or("?")
                        )
                    })?;
                }
                Action::UpdateMetadata | Action::Rotate => {
                    let before = current.with_context(|| {
                        format!("{id}: image {gid} is not in the observed state; run `plan` again")
                    })?;
                    if c.action == Action::Rotate {
                        self.ensure_name_held_elsewhere(id, &gid).await?;
                    }
                    self.patch(before, c)
                        .await
                        .with_context(|| format!("{id}: cannot update image {gid} ({})", c.name))?;
                    let event = if c.action == Action::Rotate {
                        Event::ImageRotated {
                            image_id: id.into(),
                            glance_id: gid,
                            name: new_name(c),
                        }
                    } else {
                        Event::ImageUpdated {
                            image_id: id.into(),
                            glance_id: gid,
                            name: new_name(c),
                            fields: c.details.iter().map(|d| d.field.clone()).collect(),
                        }
                    };
                    self.emit(changed, &event);
                }
                Action::Keep => {
                    kept.push(gid.clone());
                    self.emit(
                        changed,
                        &Event::ImageKept {
                            image_id: id.into(),
                            glance_id: gid,
                            name: c.name.clone(),
                            reason: c.reason.clone(),
                        },
                    );
                }
                Action::Delete => {
                    // Re-check: never delete what holds the stable name now (a rollback or a
                    // concurrent run may have changed Glance since the plan).
                    if let Err(e) = self.ensure_name_held_elsewhere(id, &gid).await {
                        tracing::warn!(image = %gid, "not deleted: {e:#}");
                        continue;
                    }
                    match self.delete_raw(&gid).await {
                        Ok(()) | Err(OsError::NotFound { .. }) => {
                            self.emit(
                                changed,
                                &Event::ImageDeleted {
                                    image_id: id.into(),
                                    glance_id: gid,
                                    name: c.name.clone(),
                                },
                            );
                        }
                        Err(e @ (OsError::Conflict { .. } | OsError::Protected { .. })) => {
                            // In use or protected: keep it, rotated, and try again next run.
                            if let Some(before) = current
                                && !c.details.is_empty()
                            {
                                self.patch(before, c).await.with_context(|| {
                                    format!("{id}: cannot rotate kept image {gid}")
                                })?;
                                changed.store(true, Ordering::Relaxed);
                            }
                            kept.push(gid.clone());
                            self.emit(
                                changed,
                                &Event::ImageKept {
                                    image_id: id.into(),
                                    glance_id: gid,
                                    name: new_name(c),
                                    reason: format!("{e}; retried on the next run"),
                                },
                            );
                        }
                        Err(e) => {
                            return Err(e.into_anyhow())
                                .with_context(|| format!("{id}: cannot delete image {gid}"));
                        }
                    }
                }
            }
        }
        Ok(kept)
    }

    /// The managed images of catalog id `id`, freshly listed.
    async fn fresh(&self, id: &str) -> anyhow::Result<Vec<GlanceImage>> {
        Ok(observe(self.glance)
            .await?
            .into_iter()
            .filter(|g| g.catalog_id() == Some(id))
            .collect())
    }

    /// The catalog entry and lockfile of `id` (the plan was made from them).
    fn inputs(&self, id: &str) -> anyhow::Result<(&'a Image, &'a LockedImage)> {
        let image = *self
            .images
            .get(id)
            .with_context(|| format!("{id} is not in the catalog of this target"))?;
        let lock = self
            .locks
            .get(id)
            .with_context(|| format!("{id} has no lockfile"))?;
        Ok((image, lock))
    }

    fn want(&self, id: &str) -> anyhow::Result<(Desired, String)> {
        let (image, lock) = self.inputs(id)?;
        Ok((
            desired(image, lock, &self.managed_tag),
            lock.build.version.clone(),
        ))
    }

    /// Whether an image planned for cleanup may still go (re-checked right before the delete):
    /// a temporary image whose claim is dead, a failed import, or a duplicate of a current
    /// image that verifiably holds the stable name. Gone counts as done (false).
    async fn still_removable(&self, id: &str, gid: &str) -> anyhow::Result<bool> {
        let fresh = self.fresh(id).await?;
        let Some(g) = fresh.iter().find(|g| g.id == gid) else {
            return Ok(false);
        };
        if g.name.starts_with(super::TMP_PREFIX) {
            let live = Claim::of(g).is_some_and(|c| {
                c.run == self.run
                    || claim::is_live(&c, jiff::Timestamp::now(), &claim::ThisHost::default())
            });
            return Ok(!live);
        }
        if super::plan::FAILED_STATUSES.contains(&g.status.as_str()) {
            return Ok(true);
        }
        let (want, version) = self.want(id)?;
        Ok(pick_current(fresh.iter(), &version, &want)
            .is_some_and(|cur| holds_promotion(cur, &want) && is_duplicate_of(g, cur, &want)))
    }

    /// Before an image is rotated away from the stable name (or deleted): a verified image of
    /// the locked build other than `gid` must hold the name now, whatever the plan assumed.
    async fn ensure_name_held_elsewhere(&self, id: &str, gid: &str) -> anyhow::Result<()> {
        let (want, version) = self.want(id)?;
        let fresh = self.fresh(id).await?;
        let others = fresh.iter().filter(|g| g.id != gid);
        match pick_current(others, &version, &want) {
            Some(cur) if holds_promotion(cur, &want) => Ok(()),
            _ => Err(crate::error::refuse(
                crate::exit::ExitStatus::Partial,
                format!(
                    "{id}: not retiring image {gid}: no verified image of build {version} holds the name {:?} now",
                    want.name
                ),
                "a concurrent apply may be promoting it; run `plan` again (a re-run is safe)",
            )),
        }
    }

    /// After our promotion, with one fresh listing: if another run promoted a copy of the same
    /// build as well, the older (by the planner's rule) stays and every other copy is deleted,
    /// ours included. Returns whether ours is the one that holds the name.
    async fn settle(
        &self,
        id: &str,
        ours: &str,
        want: &Desired,
        version: &str,
    ) -> anyhow::Result<bool> {
        let fresh = self.fresh(id).await?;
        let Some(cur) =
            pick_current(fresh.iter(), version, want).filter(|c| holds_promotion(c, want))
        else {
            anyhow::bail!(
                "image {ours} was promoted, but no image of build {version} holds the name {:?} now; the next run repairs it",
                want.name
            );
        };
        // Temporary images are their holders' business (they discard them before promoting).
        let copies = fresh
            .iter()
            .filter(|g| !g.name.starts_with(super::TMP_PREFIX) && is_duplicate_of(g, cur, want));
        for g in copies {
            tracing::info!(image = %g.id, current = %cur.id, "deleting a concurrent run's duplicate");
            self.delete_unprotected(&g.id).await?;
        }
        Ok(cur.id == ours)
    }

    /// Deletes an image, lifting the `protected` flag the catalog gave it first.
    async fn delete_unprotected(&self, gid: &str) -> anyhow::Result<()> {
        match self.delete_raw(gid).await {
            Ok(()) | Err(OsError::NotFound { .. }) => Ok(()),
            Err(OsError::Protected { .. }) => {
                let op = crate::openstack::glance::PatchOp {
                    op: crate::openstack::glance::PatchKind::Replace,
                    path: "/protected".into(),
                    value: Some(serde_json::json!(false)),
                };
                match self.glance.patch(gid, &[op]).await {
                    Ok(_) | Err(OsError::NotFound { .. }) => {}
                    Err(e) => return Err(e.into_anyhow()),
                }
                self.delete_if_exists(gid).await
            }
            Err(e) => Err(e.into_anyhow()),
        }
    }

    /// `DELETE`, where a concurrent run deleting the same image counts as done: Glance then
    /// answers 404, or 400 "status transition from deleted to deleted".
    async fn delete_raw(&self, gid: &str) -> Result<(), OsError> {
        match self.glance.delete(gid).await {
            Err(e) if !matches!(e, OsError::NotFound { .. }) => match self.glance.get(gid).await {
                Err(OsError::NotFound { .. }) => Ok(()),
                Ok(g) if g.status == "deleted" || g.status == "pending_delete" => Ok(()),
                _ => Err(e),
            },
            r => r,
        }
    }

    async fn delete_if_exists(&self, gid: &str) -> anyhow::Result<()> {
        match self.delete_raw(gid).await {
            Ok(()) | Err(OsError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into_anyhow()),
        }
    }

    /// One JSON patch (plus tag calls when tags change) from the change's field diffs.
    async fn patch(&self, before: &GlanceImage, c: &Change) -> anyhow::Result<()> {
        let mut after = before.clone();
        apply_diffs(&mut after, &c.details);
        let ops = patch_ops(before, &after);
        if !ops.is_empty() {
            self.glance
                .patch(&before.id, &ops)
                .await
                .map_err(OsError::into_anyhow)?;
        }
        let (add, remove) = tag_changes(before, &after);
        for t in add {
            self.glance
                .add_tag(&before.id, &t)
                .await
                .map_err(OsError::into_anyhow)?;
        }
        for t in remove {
            self.glance
                .remove_tag(&before.id, &t)
                .await
                .map_err(OsError::into_anyhow)?;
        }
        Ok(())
    }

    /// `properties` plus this run's claim.
    fn claimed(&self, properties: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let until = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::try_from(self.claim_ttl).unwrap_or_default())
            .unwrap_or(jiff::Timestamp::MAX);
        let mut p = properties.clone();
        p.insert(CLAIM_PROPERTY.into(), self.run.0.clone());
        p.insert(
            CLAIM_UNTIL_PROPERTY.into(),
            until.round(jiff::Unit::Second).unwrap_or(until).to_string(),
        );
        p
    }

    /// Creates, fills, verifies and promotes a new image. On any failure after the image
    /// was created, the image is deleted.
    async fn import(&self, id: &str, c: &Change, changed: &AtomicBool) -> anyhow::Result<()> {
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

    /// Opens the transfer, creates the image record from the head of its bytes
    /// ([`Self::create_for`], recorded in `created`), fills and verifies it.
    async fn fill_and_verify(
        &self,
        image: &Image,
        lock: &LockedImage,
        new: &NewImage,
        created: &mut Option<Created>,
        auth: Option<&download::Auth>,
        signature: Option<SignatureConsumer>,
    ) -> anyhow::Result<Verified> {
        let url = self.fetcher.effective_url(&lock.build.url);
        if lock.build.compression().is_some() {
            return self
                .fill_decompressed(image, lock, new, created, auth, signature)
                .await;
        }
        match image.transfer {
            Transfer::Stream | Transfer::GlanceDirect => {
                let pass = if image.transfer == Transfer::Stream {
                    // `PUT /file` makes the image active as it ends, checked or not: Glance's
                    // hash of the stored bytes is compared with the lockfile's instead of
                    // hashing the same bytes here too (the image is promoted only after).
                    Pipeline::for_upload(&lock.build, self.glance_hash, signature)
                } else {
                    // glance-direct checks the staged bytes BEFORE the import makes them active.
                    Pipeline::for_build_with(&lock.build, Some(self.glance_hash), signature)
                };
                let failure = download::Failure::default();
                let body = self
                    .upstream_stream(&url, lock, &pass, auth, &failure)
                    .await?;
                let (head, body) = match header::peek(body, header::PEEK).await {
                    Ok(peeked) => peeked,
                    Err(e) => return Err(upstream_failed(failure.take().unwrap_or(e))),
                };
                let gid = &self.create_for(new, image, &head, created).await?;
                let sent = if image.transfer == Transfer::Stream {
                    self.glance.upload(gid, body, None).await
                } else {
                    self.glance.stage(gid, body, None).await
                };
                if let Err(e) = sent {
                    // The upload fails when its body (the upstream stream) breaks: say so.
                    if let Some(up) = failure.take() {
                        return Err(upstream_failed(up));
                    }
                    return Err(e.into_anyhow()).context(if image.transfer == Transfer::Stream {
                        "upload to Glance failed"
                    } else {
                        "staging in Glance failed"
                    });
                }
                let digests = pass.finish().await.context("the upload ended early")?;
                transfer::verify_against_lock(&lock.build, &digests)
                    .with_context(|| format!("the bytes of {url} are not the locked build"))?;
                let img = self.settle_upload(gid, image.transfer, &digests).await?;
                let glance = self
                    .verify_stored(&img, &digests)
                    .await
                    .with_context(|| format!("what Glance stored from {url} is not verified"))?;
                Ok(Verified {
                    summary: with_checks(summary(lock, &digests, &glance), &digests),
                    bytes: digests.bytes,
                    image: img,
                })
            }
            Transfer::WebDownload => {
                // Glance fetches the bytes itself: the head comes from a short read of ours.
                let head = self.probe_head(&url, lock, auth).await?;
                let gid = &self.create_for(new, image, &head, created).await?;
                // The lockfile's digest of the algorithm Glance hashes with (as far as its
                // images tell) is what Glance's own hash is compared with.
                let locked = transfer::left_to_glance(&lock.build, self.glance_hash);
                self.glance
                    .import(gid, &ImportMethod::WebDownload { uri: url.clone() })
                    .await
                    .map_err(OsError::into_anyhow)?;
                let expected = locked.as_ref().map(|(a, v)| ExpectedHash {
                    algo: a.as_str().into(),
                    value: v.clone(),
                });
                let wait = async {
                    self.glance
                        .wait_imported(gid, "web-download", &self.wait, expected.as_ref())
                        .await
                        .map_err(OsError::into_anyhow)
                };
                // A signature over the image can only be checked on bytes this tool reads.
                let Some((algo, lock_sum)) = locked.filter(|_| signature.is_none()) else {
                    // Nothing Glance computes is vouched for by the lockfile: re-read upstream
                    // (hashing only) WHILE Glance imports, so the two downloads overlap.
                    let (img, digests) = tokio::join!(wait, self.reread(&url, lock, signature));
                    return self.verified_by_reread(lock, img?, digests?).await;
                };
                let img = wait.await?;
                if img.os_hash_algo.as_deref() != Some(algo.as_str()) {
                    // A cloud configured with another hash than its images suggested: fall
                    // back to the re-read.
                    let digests = self.reread(&url, lock, None).await?;
                    return self.verified_by_reread(lock, img, digests).await;
                }
                // Glance hashed what it stored; the lockfile vouches for that hash.
                if !img
                    .os_hash_value
                    .as_deref()
                    .is_some_and(|v| v.eq_ignore_ascii_case(&lock_sum))
                {
                    anyhow::bail!(
                        "Glance stored {algo} {}, the lockfile says {lock_sum}",
                        img.os_hash_value.as_deref().unwrap_or("(none)")
                    );
                }
                if let (Some(want), Some(got)) = (lock.build.size, img.size)
                    && want != got
                {
                    anyhow::bail!("Glance stored {got} bytes, the lockfile says {want}");
                }
                Ok(Verified {
                    summary: format!("Glance {algo} matches lockfile"),
                    bytes: img.size.unwrap_or_default(),
                    image: img,
                })
            }
        }
    }

    /// `stream` / `glance-direct` of a compressed artifact: the artifact is checked against
    /// the lockfile, the decompressed image is uploaded and checked against Glance (and the
    /// lockfile's image digest when it has one). `web-download` cannot decompress.
    async fn fill_decompressed(
        &self,
        image: &Image,
        lock: &LockedImage,
        new: &NewImage,
        created: &mut Option<Created>,
        auth: Option<&download::Auth>,
        signature: Option<SignatureConsumer>,
    ) -> anyhow::Result<Verified> {
        let url = &self.fetcher.effective_url(&lock.build.url);
        let compression = lock
            .build
            .compression()
            .context("the lockfile has no `[build.image]`")?;
        if image.transfer == Transfer::WebDownload {
            // `validate` refuses this; Glance would store the compressed bytes.
            anyhow::bail!(
                "`transfer: web-download` cannot decompress the {compression} artifact {url}; use `transfer: stream` or `glance-direct` (run `image-crawler validate`)"
            );
        }
        let (resp, at) = download::open(&self.upstream, url, auth).await?;
        let total = resp.content_length().or(lock.build.size);
        let tick = self.progress.start(&lock.id, total);
        // Bounded like the plain path: minimum rate over a window, per-image deadline.
        let failure = download::Failure::default();
        let (body, pass) = super::decompress::start(
            &lock.build,
            compression,
            Some(self.glance_hash),
            signature
                .into_iter()
                .map(|s| Box::new(s) as Box<dyn transfer::Consumer>)
                .collect(),
            download::watch(resp, at, self.limits, failure.clone()),
            tick,
        );
        // The header is the decompressed image's.
        let (head, body) = match header::peek(body, header::PEEK).await {
            Ok(peeked) => peeked,
            Err(e) => {
                // The upstream's or the pass's verdict first: it says why the stream broke.
                decompressed_verdict(pass, &failure, &lock.build, url).await?;
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("cannot read the decompressed image of {url}"));
            }
        };
        let gid = &match self.create_for(new, image, &head, created).await {
            Ok(gid) => gid,
            Err(e) => {
                // Nothing will read the rest: stop the download.
                pass.abort();
                return Err(e);
            }
        };
        let sent = if image.transfer == Transfer::Stream {
            self.glance.upload(gid, body, None).await
        } else {
            self.glance.stage(gid, body, None).await
        };
        // A broken upstream or a decode error is the cause of a failed upload.
        let digests = decompressed_verdict(pass, &failure, &lock.build, url).await?;
        sent.map_err(OsError::into_anyhow)
            .context("upload to Glance failed")?;
        let inner = digests
            .inner
            .as_deref()
            .context("the decompressor reported nothing")?;
        let image_sums = verify_image_digests(&lock.build, inner)
            .with_context(|| format!("the decompressed image of {url} is not the locked build"))?;
        let img = self.settle_upload(gid, image.transfer, inner).await?;
        let glance = self.verify_stored(&img, inner).await?;
        self.record_image_digest(lock, &img)?;
        Ok(Verified {
            summary: with_checks(
                format!("{}; image {image_sums}", summary(lock, &digests, &glance)),
                &digests,
            ),
            bytes: inner.bytes,
            image: img,
        })
    }

    /// Creates the temporary image record once the head of its bytes is known: `disk_format`
    /// from the header (a catalog value must agree, or the image is refused before Glance sees
    /// it), `min_disk` raised to the header's virtual size. Records it in `created`.
    async fn create_for(
        &self,
        new: &NewImage,
        image: &Image,
        head: &[u8],
        created: &mut Option<Created>,
    ) -> anyhow::Result<String> {
        let refused = |r: header::Refusal| crate::error::hinted(r.message, r.hint);
        let found = header::inspect(head).map_err(refused)?;
        let format = header::decide(image.glance.disk_format, &found).map_err(refused)?;
        let mut new = new.clone();
        new.disk_format = format.as_str().into();
        if let Some(v) = found.virtual_size {
            new.min_disk = header::min_disk(new.min_disk, v);
        }
        let record = self
            .glance
            .create(&new)
            .await
            .map_err(OsError::into_anyhow)
            .context("cannot create the image record")?;
        *created = Some(Created {
            gid: record.id.clone(),
            header: found,
        });
        Ok(record.id)
    }

    /// The first [`header::PEEK`] bytes of the upstream file (for `web-download`, where Glance
    /// fetches the rest itself); the connection is dropped after them.
    async fn probe_head(
        &self,
        url: &str,
        lock: &LockedImage,
        auth: Option<&download::Auth>,
    ) -> anyhow::Result<Vec<u8>> {
        let failure = download::Failure::default();
        let (resp, at) = download::open(&self.upstream, url, auth).await?;
        let body = download::watch(resp, at, self.limits, failure.clone());
        match header::peek(body, header::PEEK).await {
            Ok((head, _)) => Ok(head),
            Err(e) => Err(upstream_failed(failure.take().unwrap_or(e)))
                .with_context(|| format!("cannot read the head of {} ({url})", lock.id)),
        }
    }

    /// Records Glance's verified digest of a decompressed image in the lockfile, once (the
    /// file changes only when the digest is new; `check` keeps it while the build is the same).
    /// After the bytes went up: starts Glance's import for glance-direct, then waits until the
    /// image is active (for an import, until its task finished) holding `digests`' hash of
    /// Glance's algorithm.
    async fn settle_upload(
        &self,
        gid: &str,
        transfer: Transfer,
        digests: &transfer::Digests,
    ) -> anyhow::Result<GlanceImage> {
        if transfer == Transfer::GlanceDirect {
            self.glance
                .import(gid, &ImportMethod::GlanceDirect)
                .await
                .map_err(OsError::into_anyhow)?;
        }
        let expected = digests.get(self.glance_hash).map(|v| ExpectedHash {
            algo: self.glance_hash.as_str().into(),
            value: v.to_owned(),
        });
        if transfer == Transfer::GlanceDirect {
            self.glance
                .wait_imported(gid, "glance-direct", &self.wait, expected.as_ref())
                .await
        } else {
            self.glance
                .wait_active(gid, "stream", &self.wait, expected.as_ref())
                .await
        }
        .map_err(OsError::into_anyhow)
    }

    fn record_image_digest(&self, lock: &LockedImage, img: &GlanceImage) -> anyhow::Result<()> {
        let (Some(dir), Some(algo), Some(value)) = (
            self.state_dir,
            img.os_hash_algo.as_deref().and_then(HashAlgorithm::parse),
            img.os_hash_value.as_deref(),
        ) else {
            return Ok(());
        };
        let mut new = lock.clone();
        let Some(info) = new.build.image.as_mut() else {
            return Ok(());
        };
        if info.checksums.contains_key(&algo) {
            return Ok(());
        }
        info.checksums.insert(algo, value.to_ascii_lowercase());
        crate::lock::store::write_if_changed(dir, &new).with_context(|| {
            format!(
                "image {} is verified, but its digest could not be recorded in {}",
                img.id,
                crate::lock::store::path_for(dir, &lock.id).display()
            )
        })?;
        Ok(())
    }

    async fn verified_by_reread(
        &self,
        lock: &LockedImage,
        img: GlanceImage,
        digests: transfer::Digests,
    ) -> anyhow::Result<Verified> {
        let glance = self.verify_stored(&img, &digests).await?;
        Ok(Verified {
            summary: with_checks(
                format!("{} (upstream re-read)", summary(lock, &digests, &glance)),
                &digests,
            ),
            bytes: digests.bytes,
            image: img,
        })
    }

    /// Checks what Glance stored (`img`, settled) against the bytes sent (`sent`): its size and
    /// its own hash; when that hash is of an algorithm this run did not compute (the cloud's
    /// `hashing_algorithm` differs from what its images suggested, or Glance gave none), the
    /// stored bytes are read back and hashed, so nothing is promoted unverified.
    async fn verify_stored(
        &self,
        img: &GlanceImage,
        sent: &transfer::Digests,
    ) -> anyhow::Result<GlanceCheck> {
        let glance = transfer::verify_against_glance(
            sent,
            img.size,
            img.os_hash_algo.as_deref(),
            img.os_hash_value.as_deref(),
        )?;
        let GlanceCheck::AlgorithmUnknown(theirs) = glance else {
            return Ok(glance);
        };
        let algo = transfer::read_back_algorithm(sent).context("no digest of the bytes sent")?;
        tracing::debug!(image = %img.id, glance = %theirs, "reading the stored image back ({algo})");
        let pass = Pipeline::start(transfer::Consumers::digests(&[algo]));
        let body = self
            .glance
            .download(&img.id)
            .await
            .map_err(OsError::into_anyhow)
            .with_context(|| {
                format!(
                    "Glance hashes with `{theirs}`, not comparable: cannot read image {} back to verify it",
                    img.id
                )
            })?;
        // Never more than was sent (+1 to see it): a longer answer is a mismatch, not a hang.
        let limit = sent.bytes + 1;
        let mut seen = 0u64;
        let bounded = body.take_while(move |chunk| {
            let go = seen < limit;
            if let Ok(c) = chunk {
                seen += c.len() as u64;
            }
            std::future::ready(go)
        });
        pass.feed(bounded, |_| {})
            .try_for_each(|_| async { Ok(()) })
            .await
            .with_context(|| format!("reading image {} back from Glance broke off", img.id))?;
        let back = pass.finish().await.context("the read-back ended early")?;
        Ok(transfer::verify_read_back(sent, &back, &theirs)?)
    }

    /// Re-reads the upstream file (hashing only, nothing stored) and checks it against the lock.
    async fn reread(
        &self,
        url: &str,
        lock: &LockedImage,
        signature: Option<SignatureConsumer>,
    ) -> anyhow::Result<transfer::Digests> {
        // Glance's algorithm is not known before its import ends: hash the expected one beside
        // the lockfile's (a cloud with another one is read back from Glance).
        let pass = Pipeline::for_build_with(&lock.build, Some(self.glance_hash), signature);
        let body = self
            .upstream_stream(url, lock, &pass, None, &download::Failure::default())
            .await?;
        body.try_for_each(|_| async { Ok(()) })
            .await
            .with_context(|| format!("cannot re-read {url} to verify the web-download"))?;
        let digests = pass.finish().await.context("the re-read ended early")?;
        transfer::verify_against_lock(&lock.build, &digests)
            .with_context(|| format!("the bytes of {url} are not the locked build"))?;
        Ok(digests)
    }

    /// The signature to verify on the stream when the lockfile says `checked-on-transfer`,
    /// fetched (through the mirror rewrite) and parsed before anything is created in Glance.
    async fn signature_check(
        &self,
        image: &Image,
        lock: &LockedImage,
    ) -> anyhow::Result<Option<SignatureConsumer>> {
        if lock.build.signature.status != SignatureState::CheckedOnTransfer {
            return Ok(None);
        }
        let url = lock.build.signature.url.as_deref().with_context(|| {
            format!(
                "the lockfile of {} says `checked-on-transfer` but names no signature; run `check`",
                lock.id
            )
        })?;
        let sig = self
            .fetcher
            .get(url)
            .await
            .with_context(|| format!("cannot fetch the signature {url}"))?;
        let check = StreamCheck::start(
            &image.signature.keys,
            &sig.body,
            url,
            jiff::Timestamp::now(),
        )
        .map_err(|e| crate::error::hinted(e.to_string(), e.hint()))?;
        Ok(Some(SignatureConsumer::new(check)))
    }

    /// The upstream file as a hashing byte stream (`auth`: the source's download header).
    async fn upstream_stream(
        &self,
        url: &str,
        lock: &LockedImage,
        pass: &Pipeline,
        auth: Option<&download::Auth>,
        failure: &download::Failure,
    ) -> anyhow::Result<
        impl futures_util::Stream<Item = Result<bytes::Bytes, crate::http::HttpError>> + Send + 'static,
    > {
        let (resp, at) = download::open(&self.upstream, url, auth).await?;
        let total = resp.content_length().or(lock.build.size);
        let tick = self.progress.start(&lock.id, total);
        Ok(pass.feed(
            download::watch(resp, at, self.limits, failure.clone()),
            tick,
        ))
    }
}

/// Checks the decompressed image's digests against the lockfile's `[build.image.checksums]`;
/// returns what was proved.
fn verify_image_digests(
    build: &crate::lock::Build,
    inner: &transfer::Digests,
) -> Result<String, transfer::Mismatch> {
    let locked = build.image.as_ref().map(|i| &i.checksums);
    let mut proved = Vec::new();
    for (algo, expected) in locked.into_iter().flatten() {
        if let Some(actual) = inner.get(*algo) {
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(transfer::Mismatch::ImageChecksum {
                    algo: *algo,
                    expected: expected.clone(),
                    actual: actual.to_owned(),
                });
            }
            proved.push(algo.as_str());
        }
    }
    Ok(if proved.is_empty() {
        "digest not locked yet".to_owned()
    } else {
        format!("{} match lockfile", proved.join("+"))
    })
}

/// The temporary image record of an import, and the header it was created from.
struct Created {
    gid: String,
    header: header::Header,
}

/// An upstream download that broke while its bytes went to Glance (the upstream side).
/// The decompressing pass's verdict once its input ended: a broken upstream is the cause (the
/// decoder then only saw its input end); otherwise the pass's digests, checked against the lock.
async fn decompressed_verdict(
    pass: tokio::task::JoinHandle<Option<transfer::Digests>>,
    failure: &download::Failure,
    build: &crate::lock::Build,
    url: &str,
) -> anyhow::Result<transfer::Digests> {
    if let Some(up) = failure.take() {
        pass.abort();
        return Err(upstream_failed(up));
    }
    let digests = pass
        .await
        .ok()
        .flatten()
        .context("the decompressing pass ended early")?;
    transfer::verify_against_lock(build, &digests)
        .with_context(|| format!("the bytes of {url} are not the locked build"))?;
    Ok(digests)
}

fn upstream_failed(up: crate::http::HttpError) -> anyhow::Error {
    anyhow::Error::new(crate::error::Hinted {
        message: "the upstream download failed (the upstream side, not Glance)".into(),
        hint: "retry later or fetch from a closer mirror (`--mirror`); a slow but working upstream needs a lower `settings.download.min_rate` / `--min-rate` or a longer `--deadline`".into(),
        cause: Some(anyhow::Error::new(up)),
    })
}

struct Verified {
    summary: String,
    bytes: u64,
    image: GlanceImage,
}

/// What the consumers proved besides the hashes (a verified signature), appended.
fn with_checks(summary: String, d: &transfer::Digests) -> String {
    d.checks
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .fold(summary, |acc, proved| format!("{acc}; {proved}"))
}

/// What proved the bytes: the lockfile digests computed over the bytes sent (`sent`), then
/// Glance's side.
fn summary(lock: &LockedImage, sent: &transfer::Digests, glance: &GlanceCheck) -> String {
    let algos: Vec<&str> = sent
        .digests
        .keys()
        .filter(|a| lock.build.checksums.contains_key(a))
        .map(|a| a.as_str())
        .collect();
    let theirs = match glance {
        GlanceCheck::Matches(a) => format!("Glance {a} matches"),
        GlanceCheck::Lock(a) => format!("Glance {a} matches lockfile"),
        GlanceCheck::AlgorithmUnknown(a) => {
            format!("Glance hash `{a}` not comparable (size matches)")
        }
        GlanceCheck::ReadBack(a, ours_algo) => {
            let what = match &sent.by_glance {
                Some((a, _)) if a == ours_algo && sent.get(*a).is_none() => "matches lockfile",
                _ => "matches",
            };
            format!("Glance hash `{a}` not comparable, stored bytes read back: {ours_algo} {what}")
        }
    };
    if algos.is_empty() {
        theirs
    } else {
        format!("{} match lockfile; {theirs}", algos.join("+"))
    }
}

/// Whether Glance's record of an image holds what promotion gives it.
fn holds_promotion(now: &GlanceImage, want: &Desired) -> bool {
    now.name == want.name
        && now.visibility == want.visibility
        && now.protected == want.protected
        && now.hidden == want.hidden
        && now.status == "active"
}

/// The name an image has after a change.
fn new_name(c: &Change) -> String {
    c.details
        .iter()
        .find(|d| d.field == "name")
        .and_then(|d| d.after.clone())
        .unwrap_or_else(|| c.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HttpError, HttpErrorKind};

    fn http(kind: HttpErrorKind) -> anyhow::Error {
        let mut e = HttpError::decode(&reqwest::Method::GET, "http://up.example/x.img", "x");
        e.kind = kind;
        anyhow::Error::new(e).context("x: import of version 1 failed")
    }

    #[test]
    fn a_failure_is_transient_only_when_temporary_and_nothing_changed() {
        let kind = |e: &anyhow::Error, changed| Failure::of(e, changed).kind;
        assert_eq!(
            kind(&http(HttpErrorKind::Connect), false),
            FailureKind::Transient
        );
        assert_eq!(
            kind(&http(HttpErrorKind::Status(503)), false),
            FailureKind::Transient
        );
        // A change of the image already took effect: not "nothing changed".
        assert_eq!(
            kind(&http(HttpErrorKind::Status(503)), true),
            FailureKind::Permanent
        );
        assert_eq!(
            kind(&http(HttpErrorKind::Status(404)), false),
            FailureKind::Permanent
        );
        assert_eq!(
            kind(&anyhow::anyhow!("sha256 mismatch"), false),
            FailureKind::Permanent
        );
        // The JSON outcome keeps the rendered error per id.
        let mut out = Outcome::default();
        out.failed.insert(
            "a".into(),
            Failure::of(&http(HttpErrorKind::Connect), false),
        );
        out.failed
            .insert("b".into(), Failure::of(&anyhow::anyhow!("bad"), false));
        assert_eq!(out.failure_counts(), (2, 1));
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["failed"]["b"], "error: bad\n");
    }

    #[test]
    fn only_changes_of_images_that_did_not_fail_are_unexplained() {
        let change = |id: &str| Change {
            image_id: id.into(),
            action: Action::Import,
            glance_id: None,
            name: id.into(),
            version: Some("1".into()),
            reason: String::new(),
            details: Vec::new(),
            warnings: Vec::new(),
        };
        let plan = |ids: &[&str]| Plan {
            format_version: 1,
            cloud: "c".into(),
            region: None,
            fingerprint: String::new(),
            changes: ids.iter().map(|i| change(i)).collect(),
        };
        let mut out = Outcome::default();
        out.failed
            .insert("a".into(), Failure::of(&anyhow::anyhow!("bad"), false));
        assert!(!out.unexplained(&plan(&[])));
        assert!(!out.unexplained(&plan(&["a"])));
        assert!(out.unexplained(&plan(&["a", "b"])));
    }
}
