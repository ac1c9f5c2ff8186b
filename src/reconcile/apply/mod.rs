//! Executes a [`Plan`] against Glance (the imperative shell of the reconciler).
//!
//! Per catalog image, the changes run in plan order (cleanup, import, update, rotate, keep,
//! delete); images run concurrently (bounded). If a cleanup or import of an image fails, the
//! rest of that image's changes are skipped, so an old image is never rotated away before its
//! replacement is verified and holds the stable name. Other images go on (exit 3).
//!
//! An import ([`import`]; see [`super`] for the contract):
//! 1. `POST /images`: private, unprotected, named `image-crawler-tmp-<id>-<version>`, with every
//!    property and tag already set;
//! 2. bytes per `transfer` ([`fill`]):
//!    - `stream`: upstream `GET` (through the mirror rewrite) piped into `PUT /file`, chunked
//!      (constant memory, no temporary file), hashed on the way only where Glance's own hash
//!      cannot stand for the lockfile's ([`super::transfer::left_to_glance`]);
//!    - `glance-direct`: the same stream into `PUT /stage`, hashed; the lockfile checksum is
//!      checked *before* `POST /import`, so wrong bytes never even become an active image;
//!    - `web-download`: Glance fetches the (mirror-rewritten) URL itself. With a lockfile
//!      checksum of Glance's algorithm, Glance's own `os_hash_value` is compared with it.
//!      Otherwise there is nothing Glance computes that can be compared, so the tool re-reads
//!      the upstream file as a stream (hashing only, nothing stored) and compares both the
//!      lockfile checksum and Glance's hash: the cost is one extra download, the gain is that
//!      web-download is verified like every other path;
//! 3. verification: the size of the streamed bytes, the lockfile's checksum (of the stream, or
//!    Glance's of the stored bytes), and Glance's `size` and `os_hash_value` against what was
//!    sent; a Glance hashing with an algorithm not computed is read back. Any mismatch or
//!    failure deletes the new image;
//! 4. promotion: ONE patch gives it the stable name, the target visibility and `protected`
//!    (and drops this run's claim). The image it replaces still has the stable name; the plan's
//!    `Rotate` renames it next.
//!
//! Concurrent applies (see [`super::claim`] and docs/plan-apply.md): the temporary image is
//! claimed by this run's id; before promoting, the run discards its copy when an equal verified
//! image holds the name; after promoting it settles a simultaneous promotion (one copy stays,
//! by the planner's rule); every cleanup, rotation and delete re-checks a fresh listing first.

mod fill;
mod import;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::StreamExt as _;
use serde::Serialize;

use super::claim::{self, CLAIM_PROPERTY, CLAIM_UNTIL_PROPERTY, Claim, RunId};
use super::plan::{Desired, apply_diffs, desired, is_duplicate_of, pick_current};
use super::transfer::{self};
use super::{Action, Change, Plan};
use crate::catalog::{ID_PROPERTY, Image};
use crate::exit::ExitStatus;
use crate::lock::{HashAlgorithm, LockedImage};
use crate::openstack::glance::{patch_ops, tag_changes};
use crate::openstack::{Error as OsError, Glance, GlanceImage, Hidden, ListFilter, WaitPolicy};
use crate::upstream::fetch::Fetcher;

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
