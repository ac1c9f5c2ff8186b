//! `image-crawler plan` (in progress on its own branch).

use crate::cli::{GlobalArgs, PlanArgs};
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(
    _global: &GlobalArgs,
    _args: &PlanArgs,
    _printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    Err(anyhow::anyhow!("`plan` is not implemented yet"))
}
