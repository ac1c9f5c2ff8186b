//! `image-crawler propose`: commit changed lockfiles as reviewable proposals (see
//! [`crate::propose`]).

use crate::cli::{GlobalArgs, ProposeArgs};
use crate::exit::ExitStatus;
use crate::output::Printer;
use crate::propose::{self, Options, Outcome};

pub fn run(
    global: &GlobalArgs,
    args: &ProposeArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let opts = Options {
        state_dir: global.state.clone(),
        group_by: args.group_by,
        remote: args.remote.clone(),
        base: args.base.clone(),
        branch_prefix: args.branch_prefix.clone(),
        push: args.push,
        gerrit: args.gerrit,
        allow_dirty: args.allow_dirty.clone(),
    };
    let report = propose::run(&opts)?;
    for p in &report.proposals {
        if matches!(p.outcome, Outcome::Failed | Outcome::Refused) {
            printer.error_text(p.reason.as_deref().unwrap_or("error: unknown failure"));
        }
        if let Some(w) = &p.warning {
            printer.warn(&format!("{}: {w}", p.key));
        }
    }
    if printer.is_json() {
        printer.json(&report);
    } else if report.proposals.is_empty() {
        printer.note(&propose::render_human(&report));
    } else {
        printer.data(&propose::render_human(&report));
    }
    Ok(report.exit_status())
}
