//! `image-crawler build`: run `disk-image-create` for the catalog's `diskimage-builder`
//! images (see [`crate::build`]). One image at a time: a build takes the machine's disk and
//! CPU; a failed image does not stop the others. With `--if-needed`, only the images whose
//! rebuild `check` reports due ([`crate::build::trigger`]): the periodic pipeline's mode.

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressStyle};

use crate::build::run::{self, Built, Options};
use crate::build::trigger;
use crate::catalog::Source;
use crate::cli::{BuildArgs, GlobalArgs};
use crate::error::{self, ResultExt as _};
use crate::exit::ExitStatus;
use crate::output::Printer;

#[derive(Debug, serde::Serialize)]
struct Report {
    builds: Vec<Outcome>,
}

#[derive(Debug, serde::Serialize)]
struct Outcome {
    image: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    built: Option<Built>,
    /// Why it was built (`--if-needed`: what `check` reported due).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<String>,
    /// `--if-needed` and nothing was due: not built.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    current: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(global: &GlobalArgs, args: &BuildArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let catalog = super::load_catalog(global, printer)?;
    let images = super::select_images(&catalog, &args.ids)?;
    let recipes: Vec<_> = images
        .iter()
        .filter_map(|i| match &i.source {
            Source::DiskimageBuilder(r) => Some((*i, r)),
            _ => None,
        })
        .filter(|(i, _)| {
            args.arch
                .as_deref()
                .is_none_or(|a| i.architecture.as_str() == a)
        })
        .collect();
    if recipes.is_empty() {
        printer.note("no selected image has a `diskimage-builder` source: nothing to build");
        return Ok(ExitStatus::Success);
    }
    let path = std::env::var_os("PATH");
    let engine =
        crate::build::engine::locate(args.engine.as_deref(), path.as_deref()).ok_or_else(|| {
            error::refuse(
                ExitStatus::Invalid,
                format!("`{}` is not on PATH", crate::build::engine::ENGINE),
                "install diskimage-builder (`pip install diskimage-builder`) or pass --engine PATH",
            )
        })?;
    std::fs::create_dir_all(&args.output).map_err(|e| {
        error::hinted(
            format!("cannot create {}: {e}", args.output.display()),
            "pass a writable directory with --output DIR",
        )
    })?;
    let mirrors = super::mirrors(&catalog.mirrors, &args.upstream)?;
    let fetcher = super::fetcher(mirrors.clone(), args.no_cache)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    let opts = Options {
        engine,
        output: args.output.clone(),
        mirrors,
        signing_key: args.signing_key.clone(),
    };
    // `--if-needed`: what `check` says about each image, without writing a lockfile.
    let due = if args.if_needed {
        let selected: Vec<_> = recipes.iter().map(|(i, _)| *i).collect();
        let options = crate::upstream::check::CheckOptions {
            dry_run: true,
            locked: false,
            allow_downgrade: false,
            concurrency: 4,
            now: jiff::Timestamp::now(),
        };
        let report = runtime.block_on(crate::upstream::check::run(
            &selected,
            &global.state,
            &fetcher,
            &options,
        ));
        Some(report.images)
    } else {
        None
    };
    let show = !printer.is_json() && !printer.quiet && std::io::stderr().is_terminal();
    let mut report = Report { builds: Vec::new() };
    let mut status = ExitStatus::Success;
    for (image, recipe) in recipes {
        let mut reasons = Vec::new();
        let outcome = match due.as_ref().and_then(|d| d.get(&image.id)) {
            Some(checked) if let Some(e) = &checked.error => {
                Err(anyhow::anyhow!(e.message.clone())).hint_context(
                    format!("cannot tell whether `{}` needs a build", image.id),
                    e.hint.clone(),
                )
            }
            Some(checked) if checked.rebuild.is_empty() => {
                printer.status("Current", &format!("{}: no rebuild due", image.id));
                report.builds.push(Outcome {
                    image: image.id.clone(),
                    built: None,
                    reasons,
                    current: true,
                    error: None,
                });
                continue;
            }
            checked => {
                if let Some(checked) = checked {
                    reasons = checked.rebuild.clone();
                    printer.status(
                        "Rebuilding",
                        &format!("{}: {}", image.id, reasons.join("; ")),
                    );
                }
                build_one(image, recipe, &opts, &fetcher, &runtime, show, printer)
            }
        };
        match outcome {
            Ok(built) => {
                printer.status(
                    "Built",
                    &format!(
                        "{} {} ({} MiB, {} s) in {}",
                        built.image,
                        built.version,
                        built.size >> 20,
                        built.seconds,
                        built.dir.display()
                    ),
                );
                report.builds.push(Outcome {
                    image: image.id.clone(),
                    built: Some(built),
                    reasons,
                    current: false,
                    error: None,
                });
            }
            Err(e) => {
                let text = error::render(&e);
                printer.error_text(&text);
                status = ExitStatus::Partial;
                report.builds.push(Outcome {
                    image: image.id.clone(),
                    built: None,
                    reasons,
                    current: false,
                    error: Some(text),
                });
            }
        }
    }
    if printer.is_json() {
        printer.json(&report);
    }
    Ok(status)
}

/// One build: the inputs (the archive's state is read before the engine starts, so a move
/// during the build triggers the next one), then the engine.
fn build_one(
    image: &crate::catalog::Image,
    recipe: &crate::catalog::raw::DiskimageBuilderSource,
    opts: &Options,
    fetcher: &crate::upstream::Fetcher,
    runtime: &tokio::runtime::Runtime,
    show: bool,
    printer: &Printer,
) -> anyhow::Result<Built> {
    let context = || format!("cannot build `{}`", image.id);
    if recipe.publish.signed && opts.signing_key.is_none() {
        return Err(error::hinted(
            format!(
                "`{}` is published signed, but no signing key is given",
                image.id
            ),
            "pass --signing-key FILE (or IMAGE_CRAWLER_SIGNING_KEY)",
        ));
    }
    let inputs = match runtime.block_on(trigger::current(image, recipe, fetcher)) {
        Ok(inputs) => inputs,
        Err(e) => {
            let hint = e.hint();
            return Err(e).hint_context(
                format!(
                    "cannot build `{}`: cannot read the `Release` files of its package archive",
                    image.id
                ),
                hint,
            );
        }
    };
    let bar = show.then(|| spinner(&image.id));
    let on_line = |line: &str| match &bar {
        Some(b) => b.set_message(line.chars().take(80).collect::<String>()),
        None => printer.verbose(line),
    };
    let result = run::build(
        image,
        recipe,
        &inputs,
        opts,
        jiff::Timestamp::now(),
        &on_line,
    );
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let hint = result.as_ref().err().map(|e| e.hint()).unwrap_or_default();
    result.hint_context(context(), hint)
}

fn spinner(id: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_prefix(id.to_owned());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} {elapsed} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
