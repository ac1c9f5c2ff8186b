//! `image-crawler apply` (in progress on its own branch).

use crate::cli::{ApplyArgs, GlobalArgs};
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(
    _global: &GlobalArgs,
    _args: &ApplyArgs,
    _printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    Err(anyhow::anyhow!("`apply` is not implemented yet"))
}
