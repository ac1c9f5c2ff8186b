//! One thin file per verb: load inputs, call the core, render. No business logic here.

mod apply;
mod audit;
mod build;
mod check;
mod completions;
mod plan;
mod propose;
mod publish;
mod schema;
mod status;
mod validate;

use crate::cli::{Cli, Command};
use crate::exit::ExitStatus;
use crate::output::Printer;

/// Runs a parsed command line and returns its exit status; errors are rendered here.
pub fn run(cli: Cli) -> ExitStatus {
    let printer = Printer::new(&cli.global);
    crate::logging::init(&cli.global, printer.color());
    let result = match &cli.command {
        Command::Validate(args) => validate::run(&cli.global, args, &printer),
        Command::Schema(args) => schema::run(args, &printer),
        Command::Completions(args) => completions::run(args, &printer),
        Command::Check(args) => block_on(check::run(&cli.global, args, &printer)),
        Command::Propose(args) => propose::run(&cli.global, args, &printer),
        Command::Status(args) => block_on(status::run(&cli.global, args, &printer)),
        Command::Plan(args) => block_on(plan::run(&cli.global, args, &printer)),
        Command::Apply(args) => block_on(apply::run(&cli.global, args, &printer)),
        Command::Audit(args) => block_on(audit::run(&cli.global, args, &printer)),
        Command::Build(args) => build::run(&cli.global, args, &printer),
        Command::Publish(args) => block_on(publish::run(&cli.global, args, &printer)),
    };
    match result {
        Ok(status) => status,
        Err(err) => {
            report_error(&printer, &err);
            crate::error::exit_status(&err)
        }
    }
}

/// Prints an error as the run's last word is printed: rendered for people, or one JSON line
/// with `--format json`. Also for an error that ends one part of a run (a target of `apply`).
pub(crate) fn report_error(printer: &Printer, err: &anyhow::Error) {
    if printer.is_json() {
        printer.error_json(&crate::error::render_json(err));
    } else {
        printer.error_text(&crate::error::render(err));
    }
}

/// Runs the async part of a verb on a multi-threaded runtime (hashing and parsing run beside
/// the network I/O).
fn block_on<F: std::future::Future<Output = anyhow::Result<ExitStatus>>>(
    fut: F,
) -> anyhow::Result<ExitStatus> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    runtime.block_on(fut)
}

/// The catalog, or exit 4 after printing its diagnostics (the verbs that need a valid one).
fn load_catalog(
    global: &crate::cli::GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<crate::catalog::Catalog> {
    crate::catalog::load(&global.catalog).map_err(|diags| {
        for d in &diags {
            printer.error_text(&d.render());
        }
        crate::error::refuse(
            ExitStatus::Invalid,
            format!("the catalog in {} is not valid", global.catalog.display()),
            "run `image-crawler validate` and fix the problems shown",
        )
    })
}

/// The enabled images matching `ids` (all enabled ones for none), or exit 4 for a pattern
/// that matches nothing.
fn select_images<'a>(
    catalog: &'a crate::catalog::Catalog,
    ids: &[String],
) -> anyhow::Result<Vec<&'a crate::catalog::Image>> {
    crate::upstream::check::select_images(catalog, ids).map_err(|pattern| {
        crate::error::refuse(
            ExitStatus::Invalid,
            format!("no image in the catalog matches `{pattern}`"),
            "list the ids with `image-crawler validate -v` or check the spelling",
        )
    })
}

/// The fetcher of the verbs that read upstream files: the mirrors, retries, a per-request
/// timeout and (unless `no_cache`) the conditional-request cache.
fn fetcher(
    mirrors: Vec<(String, String)>,
    no_cache: bool,
) -> anyhow::Result<crate::upstream::Fetcher> {
    let client = crate::http::client(&crate::http::ClientOptions::default())?;
    let mut fetcher =
        crate::upstream::Fetcher::new(client, mirrors, crate::http::RetryPolicy::default())
            .with_timeout(REQUEST_TIMEOUT);
    if !no_cache && let Some(dir) = crate::upstream::fetch::default_cache_dir() {
        fetcher = fetcher.with_cache(dir);
    }
    Ok(fetcher)
}

/// One upstream request may take this long (connect to last byte) before it is retried.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The catalog's `settings.mirrors` plus the `--mirror FROM=TO` flags (the fetcher picks the
/// longest matching prefix).
fn mirrors(
    catalog: &[(String, String)],
    args: &crate::cli::UpstreamArgs,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut mirrors = catalog.to_vec();
    for m in &args.mirrors {
        let (from, to) = m.split_once('=').ok_or_else(|| {
            crate::error::refuse(
                ExitStatus::Invalid,
                format!("--mirror `{m}` is not FROM=TO"),
                "write it as --mirror https://cloud-images.ubuntu.com/=https://mirror.example/ubuntu/",
            )
        })?;
        mirrors.push((from.to_owned(), to.to_owned()));
    }
    Ok(mirrors)
}
