//! `image-crawler apply`: bring Glance to the state of the lockfiles (see `reconcile`).

use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::report_error;
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::exit::ExitStatus;
use crate::output::Printer;
use crate::reconcile::apply::{self, Event, Executor, NoProgress, Progress};
use crate::reconcile::claim::RunId;
use crate::reconcile::{Plan, render, rights, shell};
use crate::upstream::fetch::Fetcher;

pub async fn run(
    global: &GlobalArgs,
    args: &ApplyArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let inputs = shell::load_inputs(global)?;
    let targets = shell::select(shell::targets(&inputs.catalog, &args.target)?, &args.ids)?;
    let saved = match &args.plan {
        None => None,
        Some(path) => {
            if targets.len() != 1 {
                return Err(crate::error::refuse(
                    ExitStatus::Invalid,
                    "--plan applies the plan of ONE cloud",
                    "pick the cloud with --cloud",
                ));
            }
            let text = crate::localfile::read_text(path, crate::localfile::CATALOG_LIMIT)
                .with_context(|| format!("cannot read the plan `{}`", path.display()))?;
            Some(
                Plan::from_json(&text)
                    .with_context(|| format!("`{}` is not a plan of this tool", path.display()))?,
            )
        }
    };
    let fetcher = fetcher(&inputs.catalog.mirrors, &args.upstream)?;
    let upstream = crate::reconcile::download::client(&crate::http::ClientOptions {
        read_timeout: Duration::from_secs(300),
        ..Default::default()
    })?;
    let bars = (!printer.is_json() && !printer.quiet && std::io::stderr().is_terminal())
        .then(Bars::default);
    let progress: &dyn Progress = match &bars {
        Some(b) => b,
        None => &NoProgress,
    };
    let run_id = RunId::current();
    let mut status = ExitStatus::Success;
    // Images that failed (of them temporarily) and images processed, over every target.
    let (mut failed, mut transient, mut total) = (0, 0, 0);
    // Targets that could not be reached or observed: the others are applied all the same.
    let mut unreached: Vec<anyhow::Error> = Vec::new();
    for target in &targets {
        let reached = async {
            let glance = shell::connect(target).await?;
            let planned = shell::observe_and_plan(&glance, target, &inputs)
                .await
                .with_context(|| format!("cannot plan cloud {}", target.label()))?;
            anyhow::Ok((glance, planned))
        }
        .await;
        let (glance, planned) = match reached {
            Ok(r) => r,
            Err(e) => {
                report_error(printer, &e);
                unreached.push(e);
                continue;
            }
        };
        let plan = match &saved {
            None => planned.plan.clone(),
            Some(saved) => {
                check_fresh(saved, &planned.plan)?;
                saved.clone()
            }
        };
        for p in
            shell::check_conformance(&planned, &plan, target, &inputs, args.allow_nonconforming)?
        {
            printer.warn(&format!("scs-0102 (allowed by --allow-nonconforming): {p}"));
        }
        apply::check_max_deletes(&plan, args.max_deletes).map_err(|m| {
            crate::error::refuse(
                ExitStatus::Refused,
                m,
                "review the deletions, then raise --max-deletes (or set rotation.delete: false)",
            )
        })?;
        if printer.is_json() {
            printer.json_line(&serde_json::json!({ "type": "plan", "plan": &plan }));
        } else {
            printer.data(&render::human(&plan));
        }
        if plan.is_empty() {
            finished(printer, target.label(), &apply::Outcome::default(), true);
            continue;
        }
        confirm(args.yes, printer)?;
        // Before the first transfer: may this credential publish what the plan publishes?
        rights::probe(
            &glance,
            &target.label(),
            &rights::needed_visibilities(&plan, &target.images),
        )
        .await?;
        let events = |e: &Event| report(printer, e);
        let executor = Executor {
            glance: &glance,
            images: target.images.iter().map(|i| (i.id.clone(), *i)).collect(),
            locks: &inputs.locks,
            managed_tag: inputs.catalog.managed_tag(),
            upstream: upstream.clone(),
            fetcher: &fetcher,
            concurrency: usize::from(args.concurrency),
            limits: crate::catalog::DownloadLimits {
                min_rate: args.min_rate.unwrap_or(inputs.catalog.download.min_rate),
                window: args.rate_window.unwrap_or(inputs.catalog.download.window),
                deadline: args.deadline.unwrap_or(inputs.catalog.download.deadline),
            },
            wait: Default::default(),
            run: run_id.clone(),
            claim_ttl: Duration::from_secs(args.claim_ttl),
            events: &events,
            progress,
            state_dir: Some(&global.state),
            glance_hash: planned.glance_hash,
        };
        let outcome = executor.run(&plan, &planned.observed).await;
        let (f, t) = outcome.failure_counts();
        (failed, transient) = (failed + f, transient + t);
        total += outcome.succeeded.len() + f;
        // Self-check: after the apply the next plan must be empty but for the images that
        // failed; if it is not, the run did not converge (exit 3 even when every change
        // reported success). A concurrent apply may still be settling (discarding its copy,
        // finishing its rotation): look again a few times before calling it not converged.
        let after = async {
            let mut after = shell::observe_and_plan(&glance, target, &inputs).await?;
            for pause in [1, 2, 4] {
                if !outcome.unexplained(&after.plan) {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(pause)).await;
                after = shell::observe_and_plan(&glance, target, &inputs).await?;
            }
            anyhow::Ok(after)
        }
        .await;
        let after = match after {
            Ok(after) => after,
            Err(e) => {
                // What was done stays done; unverified convergence is a partial run, not 75.
                report_error(
                    printer,
                    &e.context(format!(
                        "cloud {}: cannot plan again after the apply to check it converged",
                        target.label()
                    )),
                );
                status = status.merge(ExitStatus::Partial);
                finished(printer, target.label(), &outcome, false);
                continue;
            }
        };
        let converged = after.plan.is_empty();
        if outcome.unexplained(&after.plan) {
            status = status.merge(ExitStatus::Partial);
            printer.warn(&format!(
                "cloud {}: Glance still differs after apply ({}); run `plan` to see why, a re-run is safe",
                target.label(),
                render::summary_line(&after.plan.summary())
            ));
        }
        finished(printer, target.label(), &outcome, converged);
    }
    // A target not reached counts as one failed item (temporary when its error is): over every
    // target, 75 only when everything that failed failed temporarily and nothing was done; 3
    // when anything failed beside something done. A lasting error of a target (e.g. a refused
    // credential) keeps its own status, as it had when it was the only target.
    for e in &unreached {
        let s = crate::error::exit_status(e);
        failed += 1;
        total += 1;
        if s == ExitStatus::TempFail {
            transient += 1;
        } else {
            status = status.merge(s);
        }
    }
    Ok(status.merge(ExitStatus::for_items(
        ExitStatus::Success,
        failed,
        transient,
        total,
    )))
}

/// The last word on one cloud, on every path that reached its plan.
fn finished(printer: &Printer, cloud: String, outcome: &apply::Outcome, converged: bool) {
    if printer.is_json() {
        printer.json_line(&serde_json::json!({ "type": "apply_finished", "cloud": cloud, "outcome": outcome, "converged": converged }));
    } else {
        printer.status(
            "Applied",
            &format!(
                "cloud {cloud}: {} image(s) done, {} failed{}",
                outcome.succeeded.len(),
                outcome.failed.len(),
                if converged { "" } else { ", NOT converged" }
            ),
        );
    }
}

/// A saved plan is executed only if it is exactly what would be planned now.
fn check_fresh(saved: &Plan, fresh: &Plan) -> anyhow::Result<()> {
    if saved.cloud != fresh.cloud || saved.region != fresh.region {
        let of = |p: &Plan| match &p.region {
            Some(r) => format!("{} (region {r})", p.cloud),
            None => p.cloud.clone(),
        };
        return Err(crate::error::refuse(
            ExitStatus::Refused,
            format!("the plan is for cloud {}, not {}", of(saved), of(fresh)),
            "pass the --cloud and --region the plan was made for",
        ));
    }
    if saved.fingerprint != fresh.fingerprint || saved.changes != fresh.changes {
        return Err(crate::error::refuse(
            ExitStatus::Refused,
            format!(
                "the plan is stale: the catalog, the lockfiles or the images in Glance changed since it was made (fingerprint {} -> {})",
                saved.fingerprint, fresh.fingerprint
            ),
            "run `image-crawler plan --out FILE` again and review it",
        ));
    }
    Ok(())
}

fn confirm(yes: bool, printer: &Printer) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(crate::error::refuse(
            ExitStatus::Refused,
            "apply needs confirmation, and stdin is not a terminal",
            "pass --yes (pipelines review the plan, then apply with --yes)",
        ));
    }
    printer.note("Apply these changes? Only `yes` is accepted.");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        return Err(crate::error::refuse(
            ExitStatus::Refused,
            "apply cancelled",
            "answer `yes` to apply",
        ));
    }
    Ok(())
}

fn fetcher(
    catalog: &[(String, String)],
    args: &crate::cli::UpstreamArgs,
) -> anyhow::Result<Fetcher> {
    let client = crate::http::client(&Default::default())?;
    Ok(Fetcher::new(
        client,
        super::mirrors(catalog, args)?,
        Default::default(),
    ))
}

fn report(printer: &Printer, e: &Event) {
    if printer.is_json() {
        printer.json_line(e);
        return;
    }
    match e {
        Event::ImageCleanedUp {
            image_id,
            glance_id,
            name,
        } => printer.status("Cleaned", &format!("{image_id}: {name} ({glance_id})")),
        Event::ImageImported {
            image_id,
            glance_id,
            version,
            bytes,
            seconds,
            verified,
            ..
        } => printer.status(
            "Imported",
            &format!(
                "{image_id} {version} as {glance_id}: {} MiB in {seconds:.1} s; {verified}",
                bytes / (1024 * 1024)
            ),
        ),
        Event::ImageUpdated {
            image_id,
            glance_id,
            fields,
            ..
        } => printer.status(
            "Updated",
            &format!("{image_id}: {glance_id} ({})", fields.join(", ")),
        ),
        Event::ImageRotated {
            image_id,
            glance_id,
            name,
        } => printer.status(
            "Rotated",
            &format!("{image_id}: {glance_id} is now {name:?}"),
        ),
        Event::ImageDeleted {
            image_id,
            glance_id,
            name,
        } => printer.status("Deleted", &format!("{image_id}: {name:?} ({glance_id})")),
        Event::ImageKept {
            image_id,
            glance_id,
            reason,
            ..
        } => printer.warn(&format!("{image_id}: kept {glance_id}: {reason}")),
        Event::ImageFailed { error, .. } => printer.error_text(error),
    }
}

/// Transfer bars on a terminal.
#[derive(Default)]
struct Bars {
    multi: MultiProgress,
}

impl Progress for Bars {
    fn start(&self, label: &str, total: Option<u64>) -> Box<dyn Fn(u64) + Send + Sync> {
        self.multi.set_draw_target(ProgressDrawTarget::stderr());
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::no_length(),
        };
        let style = ProgressStyle::with_template(
            "{prefix:>20} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bar = self
            .multi
            .add(bar.with_style(style).with_prefix(label.to_owned()));
        Box::new(move |n| {
            bar.inc(n);
            if bar.length().is_some_and(|l| bar.position() >= l) {
                bar.finish_and_clear();
            }
        })
    }
}
