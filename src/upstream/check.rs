//! The core of `check`: discover, select and lock every image; report what changed.
//!
//! Images are checked concurrently (bounded); each image's outcome is a value
//! ([`ImageReport`]) collected into a `BTreeMap`, so output is sorted and stable whatever
//! the completion order. Lockfiles are written afterwards, one by one, only when their
//! bytes change, and never for a failed, held or refused image. The exit status follows
//! `docs/exit-codes.md` (see [`CheckReport::exit_status`]).

use std::collections::BTreeMap;
use std::path::Path;

use futures_util::StreamExt;
use serde::Serialize;

use crate::build::trigger;
use crate::catalog::{self, Catalog, Image, Source};
use crate::exit::ExitStatus;
use crate::lock::{self, Build, BuildInputs, FORMAT_VERSION, LockChange, LockedImage};
use crate::upstream::fetch::StatsSnapshot;
use crate::upstream::select::{self, Decision};
use crate::upstream::{Candidate, DiscoverError, Fetcher};

/// What the verb asked for.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub dry_run: bool,
    pub locked: bool,
    pub allow_downgrade: bool,
    pub concurrency: usize,
    /// "Now" for `min_age` (passed in for reproducible tests).
    pub now: jiff::Timestamp,
}

/// The outcome of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Added,
    Updated,
    /// Same version, different bytes or URL (a silent respin).
    Rebuilt,
    /// Only bookkeeping changed (signature status, size, source digest).
    Refreshed,
    Unchanged,
    /// The newest build is younger than `min_age`.
    Held,
    /// The newest build is older than the locked one (and `--allow-downgrade` was not given).
    DowngradeRefused,
    /// A `diskimage-builder` image with no lockfile whose store has no build yet: nothing to
    /// lock until `build` and `publish` ran (a note, not a failure).
    NotBuilt,
    Failed,
}

/// A failure, with the place and a next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub hint: String,
    /// A later run may succeed without any change (5xx, timeouts).
    pub transient: bool,
    /// No connection to the host at all (DNS, refused, no route): the run may be offline.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unreachable: bool,
}

/// The report of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageReport {
    pub outcome: Outcome,
    /// The locked version before the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The version after the run (or the one held back / refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Why it was held or refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whether the lockfile was written in this run.
    pub written: bool,
    /// The unified diff of the lockfile (for changes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
    /// Why a new build of a `diskimage-builder` image is due (see [`trigger`]); empty when
    /// its locked build is current, and for every other source. `build --if-needed` builds
    /// exactly the images with an entry here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rebuild: Vec<String>,
    /// The new lock, when the outcome is a change (not serialized: the diff shows it).
    #[serde(skip)]
    pub new_lock: Option<LockedImage>,
}

impl ImageReport {
    /// A report about one candidate build (taken, held or refused), nothing written yet.
    fn about(
        outcome: Outcome,
        from: Option<String>,
        candidate: &Candidate,
        note: Option<String>,
    ) -> Self {
        Self {
            outcome,
            from,
            to: Some(candidate.version.clone()),
            build_date: Some(candidate.build_date.clone()),
            url: Some(candidate.url.clone()),
            signature: Some(candidate.signature.to_string()),
            note,
            written: false,
            diff: None,
            error: None,
            rebuild: Vec::new(),
            new_lock: None,
        }
    }

    /// A built image that was never published (`cause`: what the store answered).
    fn not_built(cause: String) -> Self {
        Self {
            outcome: Outcome::NotBuilt,
            from: None,
            to: None,
            build_date: None,
            url: None,
            signature: None,
            note: Some(cause),
            written: false,
            diff: None,
            error: None,
            rebuild: vec![trigger::Reason::NeverBuilt.to_string()],
            new_lock: None,
        }
    }

    fn failed(failure: Failure, from: Option<String>) -> Self {
        Self {
            outcome: Outcome::Failed,
            from,
            to: None,
            build_date: None,
            url: None,
            signature: None,
            note: None,
            written: false,
            diff: None,
            error: Some(failure),
            rebuild: Vec::new(),
            new_lock: None,
        }
    }

    pub fn is_change(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Added | Outcome::Updated | Outcome::Rebuilt | Outcome::Refreshed
        )
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub images: BTreeMap<String, ImageReport>,
    pub summary: Summary,
    pub http: StatsSnapshot,
    pub dry_run: bool,
    /// Lifecycle and release news: EOL dates, stale upstreams, releases the catalog does not
    /// have yet, release lists that could not be read. Informational: no effect on the exit.
    pub notes: Vec<crate::scs::news::Note>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub checked: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub held: usize,
    pub refused: usize,
    /// Built images with no published build yet (see [`Outcome::NotBuilt`]).
    pub not_built: usize,
    pub failed: usize,
}

impl CheckReport {
    /// 0 ok; 2 changes (with `--detailed-exitcode`); 3 some failed; 75 all failed
    /// transiently; 5 a downgrade refused or, with `--locked`, a lockfile would change.
    pub fn exit_status(&self, options: &CheckOptions, detailed: bool) -> ExitStatus {
        let s = &self.summary;
        let mut status = ExitStatus::Success;
        if detailed && s.changed > 0 {
            status = ExitStatus::Changes;
        }
        if s.refused > 0 || (options.locked && s.changed > 0) {
            status = status.merge(ExitStatus::Refused);
        }
        let failures: Vec<&Failure> = self
            .images
            .values()
            .filter_map(|r| r.error.as_ref())
            .collect();
        let transient = failures.iter().filter(|f| f.transient).count();
        status.merge(ExitStatus::for_items(
            ExitStatus::Success,
            failures.len(),
            transient,
            s.checked,
        ))
    }
}

/// Which images to check: all enabled ones, or those matching `ids` (globs). An id pattern
/// that matches no image is an error (a typo must not silently check nothing).
pub fn select_images<'a>(catalog: &'a Catalog, ids: &[String]) -> Result<Vec<&'a Image>, String> {
    if ids.is_empty() {
        return Ok(catalog.enabled().collect());
    }
    for pattern in ids {
        if !catalog.images.keys().any(|id| glob_match(pattern, id)) {
            return Err(pattern.clone());
        }
    }
    Ok(catalog
        .enabled()
        .filter(|i| ids.iter().any(|p| glob_match(p, &i.id)))
        .collect())
}

/// `*` and `?` globs over ids.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn rec(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => rec(&p[1..], t) || (!t.is_empty() && rec(p, &t[1..])),
            (Some(b'?'), Some(_)) => rec(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => rec(&p[1..], &t[1..]),
            _ => false,
        }
    }
    rec(pattern.as_bytes(), text.as_bytes())
}

/// Checks the images and writes the changed lockfiles (unless `dry_run`/`locked`).
pub async fn run(
    images: &[&Image],
    state_dir: &Path,
    fetcher: &Fetcher,
    options: &CheckOptions,
) -> CheckReport {
    let concurrency = options.concurrency.max(1);
    let results: Vec<(String, ImageReport)> = futures_util::stream::iter(images.iter().copied())
        .map(|image| async move {
            let report = check_image(image, state_dir, fetcher, options).await;
            (image.id.clone(), report)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut images: BTreeMap<String, ImageReport> = results.into_iter().collect();
    if !options.dry_run && !options.locked {
        for (id, report) in images.iter_mut() {
            let Some(new) = &report.new_lock else {
                continue;
            };
            match lock::store::write_if_changed(state_dir, new) {
                Ok(written) => report.written = written,
                Err(e) => {
                    let path = lock::store::path_for(state_dir, id);
                    *report = ImageReport::failed(
                        Failure {
                            message: format!("cannot write {}: {e}", path.display()),
                            url: None,
                            status: None,
                            hint: "check that the state directory exists and is writable".into(),
                            transient: false,
                            unreachable: false,
                        },
                        report.from.clone(),
                    );
                }
            }
        }
    }
    let mut summary = Summary {
        checked: images.len(),
        ..Summary::default()
    };
    for r in images.values() {
        match r.outcome {
            Outcome::Unchanged => summary.unchanged += 1,
            Outcome::Held => summary.held += 1,
            Outcome::DowngradeRefused => summary.refused += 1,
            Outcome::NotBuilt => summary.not_built += 1,
            Outcome::Failed => summary.failed += 1,
            _ => summary.changed += 1,
        }
    }
    CheckReport {
        images,
        summary,
        http: fetcher.stats().snapshot(),
        dry_run: options.dry_run || options.locked,
        notes: Vec::new(),
    }
}

async fn check_image(
    image: &Image,
    state_dir: &Path,
    fetcher: &Fetcher,
    options: &CheckOptions,
) -> ImageReport {
    let old_text = crate::localfile::read_text(
        &lock::store::path_for(state_dir, &image.id),
        crate::localfile::LOCKFILE_LIMIT,
    )
    .ok();
    let old = match lock::store::read(state_dir, &image.id) {
        Ok(old) => old,
        Err(e) => {
            return ImageReport::failed(
                Failure {
                    message: e.to_string(),
                    url: None,
                    status: None,
                    hint: "fix or delete the lockfile; `check` rewrites it from upstream".into(),
                    transient: false,
                    unreachable: false,
                },
                None,
            );
        }
    };
    let from = old.as_ref().map(|l| l.build.version.clone());
    let recipe = match &image.source {
        Source::DiskimageBuilder(r) => Some(r),
        _ => None,
    };
    let candidates = match crate::upstream::discover(image, fetcher, options.now).await {
        Ok(c) => c,
        // A built image nobody built yet: the store has no build of it, or no bucket yet, or
        // is not set up at all. Only before the first lock: once a build was locked, a store
        // that stops answering is a failure like any upstream's.
        Err(e) if recipe.is_some() && old.is_none() && nothing_published(&e) => {
            return ImageReport::not_built(e.to_string());
        }
        Err(e) => return ImageReport::failed(failure(&e), from),
    };
    let built = match recipe {
        Some(recipe) => {
            match built_state(image, recipe, old.as_ref(), &candidates, fetcher, options).await {
                Ok(b) => b,
                Err(e) => return ImageReport::failed(failure(&e), from),
            }
        }
        None => None,
    };
    let mut report = decide(
        image,
        old.as_ref(),
        old_text.as_deref(),
        candidates,
        options,
        built.as_ref().map(|b| &b.0),
    );
    if let Some((_, reasons)) = built {
        report.rebuild = reasons.iter().map(ToString::to_string).collect();
    }
    report
}

fn failure(e: &DiscoverError) -> Failure {
    Failure {
        message: e.to_string(),
        url: e.url().map(str::to_owned),
        status: e.status(),
        hint: e.hint(),
        transient: e.is_transient(),
        unreachable: e.is_unreachable(),
    }
}

/// The store has nothing for the image: no matching object, no such bucket (404), or no
/// answer at all.
fn nothing_published(e: &DiscoverError) -> bool {
    matches!(e, DiscoverError::NotFound { .. }) || e.status() == Some(404) || e.is_unreachable()
}

/// The inputs recorded by the published build at `url` (what [`decide`] puts into the lock
/// when it locks that build).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub url: String,
    pub inputs: Option<BuildInputs>,
}

/// For a built image: the inputs of the build the lock holds after this run (the one
/// `select` takes, else the locked one) and why a new build is due. `None` when no build is
/// locked or taken (held back with no lock yet).
async fn built_state(
    image: &Image,
    recipe: &crate::catalog::raw::DiskimageBuilderSource,
    old: Option<&LockedImage>,
    candidates: &[Candidate],
    fetcher: &Fetcher,
    options: &CheckOptions,
) -> Result<Option<(Recorded, Vec<trigger::Reason>)>, DiscoverError> {
    let locked = old.map(|l| &l.build);
    let url = match select::select(candidates.to_vec(), &image.version, locked, options.now) {
        Ok(Decision::Take(c)) => Some(c.url),
        Ok(Decision::Downgrade { candidate, .. }) if options.allow_downgrade => Some(candidate.url),
        _ => locked.map(|b| b.url.clone()),
    };
    let Some(url) = url else {
        return Ok(None);
    };
    // The lock already carries what that build recorded: no need to read its manifest again.
    let inputs = match locked.filter(|b| b.url == url && b.inputs.is_some()) {
        Some(b) => b.inputs.clone(),
        None => trigger::published(&url, fetcher).await?,
    };
    let now = trigger::current(image, recipe, fetcher).await?;
    let reasons = trigger::due(inputs.as_ref(), &now);
    Ok(Some((Recorded { url, inputs }, reasons)))
}

/// The pure part: from the candidates and the old lock to a report (with the new lock).
pub fn decide(
    image: &Image,
    old: Option<&LockedImage>,
    old_text: Option<&str>,
    candidates: Vec<Candidate>,
    options: &CheckOptions,
    recorded: Option<&Recorded>,
) -> ImageReport {
    let from = old.map(|l| l.build.version.clone());
    let decision = match select::select(
        candidates,
        &image.version,
        old.map(|l| &l.build),
        options.now,
    ) {
        Ok(d) => d,
        Err(e) => {
            return ImageReport::failed(
                Failure {
                    message: e.to_string(),
                    url: None,
                    status: None,
                    hint: e.hint().into(),
                    transient: false,
                    unreachable: false,
                },
                from,
            );
        }
    };
    let (candidate, note) = match decision {
        Decision::Take(c) => (c, None),
        Decision::Downgrade { candidate, locked } if options.allow_downgrade => {
            let note = format!("downgrade from {locked} allowed by --allow-downgrade");
            (candidate, Some(note))
        }
        Decision::Downgrade { candidate, locked } => {
            let note = format!(
                "the newest published build {} is older than the locked {locked}; the distributor withdrew a build? Use --allow-downgrade to take it",
                candidate.version
            );
            return ImageReport::about(Outcome::DowngradeRefused, from, &candidate, Some(note));
        }
        Decision::Held { newest, ready_on } => {
            let note = format!("younger than the catalog's min_age; taken on or after {ready_on}");
            return ImageReport::about(Outcome::Held, from, &newest, Some(note));
        }
    };
    if candidate.checksums.is_empty() || candidate.checksums.values().any(String::is_empty) {
        return ImageReport::failed(
            Failure {
                message: format!(
                    "{}: no checksum for {}",
                    candidate.metadata_url, candidate.url
                ),
                url: Some(candidate.metadata_url.clone()),
                status: None,
                hint: "the distributor's metadata is incomplete; the lockfile is left as it is"
                    .into(),
                transient: false,
                unreachable: false,
            },
            from,
        );
    }
    let new = LockedImage {
        format_version: FORMAT_VERSION,
        id: image.id.clone(),
        source_digest: catalog::source_digest(image),
        build: Build {
            version: candidate.version.clone(),
            build_date: candidate.build_date.clone(),
            url: candidate.url.clone(),
            size: candidate.size,
            metadata_url: candidate.metadata_url.clone(),
            checksums: candidate.checksums.clone(),
            signature: candidate.signature.clone(),
            image: lock::ImageInfo::for_build(
                &candidate.url,
                &candidate.checksums,
                candidate.image_checksums.clone(),
                old.map(|o| &o.build),
            ),
            inputs: recorded
                .filter(|r| r.url == candidate.url)
                .and_then(|r| r.inputs.clone()),
        },
    };
    let change = LockChange::between(old, &new);
    let outcome = match &change {
        None => Outcome::Unchanged,
        Some(LockChange::Added { .. }) => Outcome::Added,
        Some(LockChange::Updated { .. }) => Outcome::Updated,
        Some(LockChange::Rebuilt { .. }) => Outcome::Rebuilt,
        Some(LockChange::Refreshed { .. }) => Outcome::Refreshed,
    };
    let diff = change.as_ref().map(|_| {
        let new_text = lock::format::to_toml(&new);
        let old_text = old_text.unwrap_or("");
        let path = format!("state/{}.toml", image.id);
        similar::TextDiff::from_lines(old_text, &new_text)
            .unified_diff()
            .header(&path, &path)
            .to_string()
    });
    ImageReport {
        diff,
        new_lock: change.map(|_| new),
        ..ImageReport::about(outcome, from, &candidate, note)
    }
}

/// The human rendering: one line per change on stdout, problems on stderr.
pub struct HumanLines {
    /// Change lines (the data of `check`).
    pub changes: Vec<String>,
    /// `(id, message)` for held and refused images.
    pub warnings: Vec<String>,
    /// Rendered failures (`error:` / `hint:` lines).
    pub errors: Vec<String>,
    /// Built images not published yet (`note:` lines, not failures).
    pub notes: Vec<String>,
    pub summary: String,
}

/// Renders a report for people (pure).
pub fn render_human(report: &CheckReport, verbose: bool) -> HumanLines {
    let mut out = HumanLines {
        changes: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
        notes: Vec::new(),
        summary: String::new(),
    };
    // Offline: every failure is "could not connect" and no byte came back from anywhere. One
    // summary line then says so (41 errors, one per URL, hide the cause); -v shows them all.
    let failures: Vec<&Failure> = report
        .images
        .values()
        .filter_map(|r| r.error.as_ref())
        .collect();
    let offline = !failures.is_empty()
        && failures.iter().all(|f| f.unreachable)
        && report.http.bytes == 0
        && report.http.not_modified == 0;
    if offline {
        out.errors.push(format!(
            "error: no upstream host was reachable ({} image{})\n\
             hint: `check` reads the distributors' own hosts; connect this machine to them, or \
             point it at a local copy with `--mirror FROM=TO` (or `settings.mirrors`); `-v` shows every failed URL",
            failures.len(),
            if failures.len() == 1 { "" } else { "s" }
        ));
    }
    for (id, r) in &report.images {
        let to = r.to.as_deref().unwrap_or("?");
        let date = r.build_date.as_deref().unwrap_or("?");
        let sig = r.signature.as_deref().unwrap_or("?");
        let line = match r.outcome {
            Outcome::Added => Some(format!(
                "{id}: (new) -> {to} (built {date}, signature {sig})"
            )),
            Outcome::Updated | Outcome::Rebuilt | Outcome::Refreshed => {
                let what = match r.outcome {
                    Outcome::Rebuilt => " [rebuilt: same version, new bytes]",
                    Outcome::Refreshed => " [metadata only]",
                    _ => "",
                };
                Some(format!(
                    "{id}: {} -> {to} (built {date}, signature {sig}){what}",
                    r.from.as_deref().unwrap_or("?")
                ))
            }
            _ => None,
        };
        if let Some(mut line) = line {
            if let Some(note) = &r.note {
                line.push_str(&format!("; {note}"));
            }
            if verbose && let Some(diff) = &r.diff {
                line.push('\n');
                line.push_str(diff.trim_end());
            }
            out.changes.push(line);
        }
        if r.outcome == Outcome::NotBuilt {
            out.notes.push(format!(
                "note: {id}: no build published yet ({}); build and publish it: `image-crawler build {id}` then `image-crawler publish {id}`",
                r.note.as_deref().unwrap_or("the store lists none")
            ));
        } else if !r.rebuild.is_empty() {
            out.changes.push(format!(
                "{id}: rebuild due: {}; `image-crawler build --if-needed` builds it",
                r.rebuild.join("; ")
            ));
        }
        match r.outcome {
            Outcome::Held => out.warnings.push(format!(
                "{id}: held at {}: {to} (built {date}) is {}",
                r.from.as_deref().unwrap_or("nothing"),
                r.note.as_deref().unwrap_or("")
            )),
            Outcome::DowngradeRefused => out.warnings.push(format!(
                "{id}: refused: {}",
                r.note.as_deref().unwrap_or("downgrade")
            )),
            _ => {}
        }
        if let Some(e) = &r.error
            && (verbose || !offline)
        {
            let mut text = format!("error: {id}: {}", e.message);
            text.push_str(&format!("\nhint: {}", e.hint));
            out.errors.push(text);
        }
    }
    let s = &report.summary;
    out.summary = format!(
        "{} image{}: {} changed, {} unchanged, {} held, {} refused, {}{} failed{}; {} requests, {} bytes, {} not modified",
        s.checked,
        if s.checked == 1 { "" } else { "s" },
        s.changed,
        s.unchanged,
        s.held,
        s.refused,
        // Only where there are built images not published yet.
        if s.not_built > 0 {
            format!("{} not built, ", s.not_built)
        } else {
            String::new()
        },
        s.failed,
        if report.dry_run {
            " (nothing written)"
        } else {
            ""
        },
        report.http.requests,
        report.http.bytes,
        report.http.not_modified
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{HashAlgorithm, SignatureState, SignatureStatus};

    const CATALOG: &str = r#"
settings:
  defaults:
    glance:
      disk_format: qcow2
      container_format: bare
      min_disk: 1
      min_ram: 128
      visibility: public
      properties:
        os_purpose: generic
        hw_disk_bus: virtio
        replace_frequency: monthly
        provided_until: none
        uuid_validity: last-3
        image_original_user: cloud
        image_description: https://example.org/notes
images:
  - id: img
    name: Img
    source:
      checksum-dir:
        url: https://example.org/img/
        checksum_file: SHA256SUMS
        pattern: 'img-(?P<version>\d+)\.qcow2'
    glance:
      properties:
        os_distro: img
        os_version: "1"
"#;

    fn image() -> Image {
        let catalog =
            catalog::load_from_strings(Path::new("catalog"), &[("img.yaml", CATALOG)]).unwrap();
        catalog.images["img"].clone()
    }

    fn cand(version: &str, hex: &str) -> Candidate {
        Candidate {
            image_checksums: Default::default(),
            version: version.into(),
            build_date: "2026-01-01".into(),
            url: format!("https://example.org/img/img-{version}.qcow2"),
            size: Some(10),
            metadata_url: "https://example.org/img/SHA256SUMS".into(),
            checksums: BTreeMap::from([(HashAlgorithm::Sha256, hex.into())]),
            signature: SignatureStatus::state(SignatureState::NotPublished),
        }
    }

    fn options() -> CheckOptions {
        CheckOptions {
            dry_run: false,
            locked: false,
            allow_downgrade: false,
            concurrency: 1,
            now: "2026-06-01T00:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn added_then_unchanged_then_rebuilt() {
        let image = image();
        let a = "a".repeat(64);
        let first = decide(
            &image,
            None,
            None,
            vec![cand("1", &a), cand("2", &a)],
            &options(),
            None,
        );
        assert_eq!(first.outcome, Outcome::Added);
        assert_eq!(first.to.as_deref(), Some("2"));
        let lock = first.new_lock.clone().unwrap();
        assert_eq!(lock.source_digest, catalog::source_digest(&image));
        let text = lock::format::to_toml(&lock);
        assert!(first.diff.unwrap().contains("+version = \"2\""));

        let again = decide(
            &image,
            Some(&lock),
            Some(&text),
            vec![cand("2", &a)],
            &options(),
            None,
        );
        assert_eq!(again.outcome, Outcome::Unchanged);
        assert!(again.new_lock.is_none() && again.diff.is_none());

        // Same version, new bytes: shown as a respin, not hidden.
        let b = "b".repeat(64);
        let respin = decide(
            &image,
            Some(&lock),
            Some(&text),
            vec![cand("2", &b)],
            &options(),
            None,
        );
        assert_eq!(respin.outcome, Outcome::Rebuilt);
        let diff = respin.diff.unwrap();
        assert!(diff.contains(&format!("-sha256 = \"{a}\"")), "{diff}");
        assert!(diff.contains(&format!("+sha256 = \"{b}\"")));
    }

    #[test]
    fn empty_digest_downgrade_and_no_candidates_fail_without_a_lock() {
        let image = image();
        let empty = decide(&image, None, None, vec![cand("2", "")], &options(), None);
        assert_eq!(empty.outcome, Outcome::Failed);
        assert!(empty.new_lock.is_none());
        assert!(empty.error.unwrap().message.contains("no checksum"));

        let a = "a".repeat(64);
        let lock = decide(&image, None, None, vec![cand("3", &a)], &options(), None)
            .new_lock
            .unwrap();
        let down = decide(
            &image,
            Some(&lock),
            None,
            vec![cand("2", &a)],
            &options(),
            None,
        );
        assert_eq!(down.outcome, Outcome::DowngradeRefused);
        assert!(down.new_lock.is_none());
        let mut allow = options();
        allow.allow_downgrade = true;
        let taken = decide(&image, Some(&lock), None, vec![cand("2", &a)], &allow, None);
        assert_eq!(taken.outcome, Outcome::Updated);
        assert!(taken.note.unwrap().contains("downgrade from 3"));

        let none = decide(&image, Some(&lock), None, vec![], &options(), None);
        assert_eq!(none.outcome, Outcome::Failed);
        assert_eq!(none.from.as_deref(), Some("3"));
    }

    #[test]
    fn globs() {
        assert!(glob_match("ubuntu-*", "ubuntu-24.04"));
        assert!(glob_match("*", "x"));
        assert!(glob_match("alma?inux-9", "almalinux-9"));
        assert!(!glob_match("ubuntu-*", "debian-12"));
        assert!(glob_match("debian-12", "debian-12"));
        assert!(!glob_match("debian-1", "debian-12"));
    }
}
