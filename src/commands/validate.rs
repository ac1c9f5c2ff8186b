//! `image-crawler validate`: catalog and lockfiles, offline, every problem at once.

use serde::Serialize;

use crate::catalog;
use crate::cli::{GlobalArgs, ValidateArgs};
use crate::diagnostic::{self, Diagnostic, Severity};
use crate::exit::ExitStatus;
use crate::lock;
use crate::output::Printer;

#[derive(Serialize)]
struct Report<'a> {
    valid: bool,
    images: usize,
    lockfiles: usize,
    errors: usize,
    warnings: usize,
    diagnostics: &'a [Diagnostic],
}

pub fn run(
    global: &GlobalArgs,
    _args: &ValidateArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let (catalog, mut diags) = match catalog::load(&global.catalog) {
        Ok(c) => (Some(c), Vec::new()),
        Err(d) => (None, d),
    };
    // `check` and `audit` read `lifecycle.yaml` too: a broken one fails here first, offline.
    if let Err(d) = crate::scs::lifecycle::load(&global.catalog) {
        diags.extend(d);
    }
    let locks = lock::store::read_all(&global.state).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the state directory `{}`: {e}",
            global.state.display()
        )
    })?;
    diags.extend(lock::gate::check(&global.state, catalog.as_ref(), &locks));
    diagnostic::sort(&mut diags);
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors;
    let images = catalog.as_ref().map_or(0, |c| c.images.len());
    if printer.is_json() {
        printer.json(&Report {
            valid: errors == 0,
            images,
            lockfiles: locks.len(),
            errors,
            warnings,
            diagnostics: &diags,
        });
    } else {
        for d in &diags {
            printer.error_text(&d.render());
        }
        if errors == 0 {
            printer.status(
                "Valid",
                &format!(
                    "{images} images, {} lockfiles, {warnings} warnings",
                    locks.len()
                ),
            );
        } else {
            printer.note(&format!(
                "error: {errors} problems found ({warnings} warnings)"
            ));
        }
    }
    Ok(if errors == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Invalid
    })
}
