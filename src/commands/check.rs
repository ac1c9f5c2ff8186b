//! `image-crawler check`: find the newest upstream build of every image, update lockfiles.

use crate::catalog;
use crate::cli::{CheckArgs, GlobalArgs};
use crate::error;
use crate::exit::ExitStatus;
use crate::output::Printer;
use crate::scs::news::Note;
use crate::upstream::check::{self, CheckOptions};

pub async fn run(
    global: &GlobalArgs,
    args: &CheckArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let catalog = super::load_catalog(global, printer)?;
    let images = super::select_images(&catalog, &args.ids)?;
    let mirrors = super::mirrors(&catalog.mirrors, &args.upstream)?;
    let fetcher = super::fetcher(mirrors, args.no_cache)?;
    let options = CheckOptions {
        dry_run: args.dry_run,
        locked: args.locked,
        allow_downgrade: args.allow_downgrade,
        concurrency: usize::from(args.concurrency),
        now: jiff::Timestamp::now(),
    };
    if !options.dry_run && !options.locked {
        std::fs::create_dir_all(&global.state).map_err(|e| {
            error::hinted(
                format!(
                    "cannot create the state directory {}: {e}",
                    global.state.display()
                ),
                "pass an existing, writable directory with --state DIR",
            )
        })?;
    }
    let lifecycle = crate::scs::lifecycle::load(&global.catalog).map_err(|diags| {
        for d in &diags {
            printer.error_text(&d.render());
        }
        error::refuse(
            ExitStatus::Invalid,
            "the lifecycle data is not valid",
            "fix catalog/lifecycle.yaml as shown",
        )
    })?;
    // The release lists of the news do not depend on discovery: fetch them alongside it (the
    // fetcher's single flight shares any index that both read).
    let (mut report, release_lists) = tokio::join!(
        check::run(&images, &global.state, &fetcher, &options),
        crate::upstream::news::fetch_release_lists(&images, &fetcher),
    );
    report.notes = news(
        &images,
        &global.state,
        &report,
        release_lists,
        &lifecycle,
        options.now,
    );
    if printer.is_json() {
        printer.json(&report);
    } else {
        let lines = check::render_human(&report, printer.verbose > 0);
        for line in &lines.changes {
            printer.data(line);
        }
        for w in &lines.warnings {
            printer.warn(w);
        }
        for e in &lines.errors {
            printer.error_text(e);
        }
        for n in &lines.notes {
            printer.note(n);
        }
        for n in &report.notes {
            printer.note(&n.render());
        }
        printer.status("Checked", &lines.summary);
    }
    Ok(report.exit_status(&options, args.detailed_exitcode))
}

/// Lifecycle and release news for the checked images: EOL warnings, upstreams that published
/// nothing for longer than `replace_frequency`, and releases the catalog does not have.
fn news(
    images: &[&catalog::Image],
    state: &std::path::Path,
    report: &check::CheckReport,
    (lists, unavailable): (crate::scs::news::ReleaseLists, Vec<Note>),
    lifecycle: &crate::scs::lifecycle::Lifecycle,
    now: jiff::Timestamp,
) -> Vec<Note> {
    // The newest upstream build date: this run's result, else the lockfile's.
    let mut dates = std::collections::BTreeMap::new();
    for image in images {
        let date = report
            .images
            .get(&image.id)
            .and_then(|r| r.build_date.clone())
            .or_else(|| {
                crate::lock::store::read(state, &image.id)
                    .ok()
                    .flatten()
                    .map(|l| l.build.build_date)
            });
        if let Some(d) = date {
            dates.insert(image.id.clone(), d);
        }
    }
    let mut notes = crate::scs::news::for_check(images, &dates, &lists, lifecycle, now, 8).notes();
    notes.extend(unavailable);
    notes
}
