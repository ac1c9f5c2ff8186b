//! `image-crawler plan`: what `apply` would change in Glance, as a reviewable value.

use anyhow::Context as _;

use crate::cli::{GlobalArgs, PlanArgs};
use crate::exit::ExitStatus;
use crate::output::Printer;
use crate::reconcile::{Plan, render, shell};

pub async fn run(
    global: &GlobalArgs,
    args: &PlanArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let inputs = shell::load_inputs(global)?;
    // Checked, not used: plan reads no upstream bytes (see `UpstreamArgs`).
    super::mirrors(&inputs.catalog.mirrors, &args.upstream)?;
    let targets = shell::select(shell::targets(&inputs.catalog, &args.target)?, &args.ids)?;
    if args.out.is_some() && targets.len() != 1 {
        return Err(crate::error::refuse(
            ExitStatus::Invalid,
            "--out saves the plan of ONE cloud",
            "pick the cloud with --cloud",
        ));
    }
    let mut plans: Vec<Plan> = Vec::new();
    for target in &targets {
        for id in shell::missing_locks(target, &inputs.locks) {
            printer.warn(&format!(
                "{id}: no lockfile in `{}`; run `image-crawler check {id}`",
                global.state.display()
            ));
        }
        let glance = shell::connect(target).await?;
        let planned = shell::observe_and_plan(&glance, target, &inputs).await?;
        for p in shell::check_conformance(
            &planned,
            &planned.plan,
            target,
            &inputs,
            args.allow_nonconforming,
        )? {
            printer.warn(&format!("scs-0102 (allowed by --allow-nonconforming): {p}"));
        }
        plans.push(planned.plan);
    }
    if let (Some(path), [plan]) = (&args.out, plans.as_slice()) {
        let text = serde_json::to_string_pretty(plan).expect("plans serialize") + "\n";
        crate::lock::store::write_atomic_if_changed(path, text.as_bytes())
            .with_context(|| format!("cannot write the plan to `{}`", path.display()))?;
        printer.status("Saved", &format!("plan to {}", path.display()));
    }
    if printer.is_json() {
        match plans.as_slice() {
            [one] => printer.json(one),
            many => printer.json(&many),
        }
    } else {
        printer.data(
            &plans
                .iter()
                .map(render::human)
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    let changes = plans.iter().any(|p| !p.is_empty());
    Ok(if changes && args.detailed_exitcode {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}
