//! `image-crawler check`: find the newest upstream build of every image, update lockfiles.

use std::time::Duration;

use crate::catalog;
use crate::cli::{CheckArgs, GlobalArgs};
use crate::error;
use crate::exit::ExitStatus;
use crate::http::{self, ClientOptions, RetryPolicy};
use crate::output::Printer;
use crate::upstream::Fetcher;
use crate::upstream::check::{self, CheckOptions};
use crate::upstream::fetch;

/// One request may take this long (connect to last byte) before it is retried.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn run(
    global: &GlobalArgs,
    args: &CheckArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let catalog = match catalog::load(&global.catalog) {
        Ok(c) => c,
        Err(diags) => {
            for d in &diags {
                printer.error_text(&d.render());
            }
            return Err(error::refuse(
                ExitStatus::Invalid,
                format!("the catalog in {} is not valid", global.catalog.display()),
                "run `image-crawler validate` and fix the problems shown",
            ));
        }
    };
    let images = check::select_images(&catalog, &args.ids).map_err(|pattern| {
        error::refuse(
            ExitStatus::Invalid,
            format!("no image in the catalog matches `{pattern}`"),
            "list the ids with `image-crawler validate -v` or check the spelling",
        )
    })?;
    let mut mirrors = catalog.mirrors.clone();
    for m in &args.upstream.mirrors {
        let Some((from, to)) = m.split_once('=') else {
            return Err(error::refuse(
                ExitStatus::Invalid,
                format!("--mirror {m:?} is not FROM=TO"),
                "write it as --mirror https://cloud-images.ubuntu.com/=https://mirror.example/ubuntu/",
            ));
        };
        mirrors.push((from.to_owned(), to.to_owned()));
    }
    let client = http::client(&ClientOptions::default())?;
    let mut fetcher =
        Fetcher::new(client, mirrors, RetryPolicy::default()).with_timeout(REQUEST_TIMEOUT);
    if !args.no_cache
        && let Some(dir) = fetch::default_cache_dir()
    {
        fetcher = fetcher.with_cache(dir);
    }
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
    let report = check::run(&images, &global.state, &fetcher, &options).await;
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
        printer.status("Checked", &lines.summary);
    }
    Ok(report.exit_status(&options, args.detailed_exitcode))
}
