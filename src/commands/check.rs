//! `image-crawler check` (in progress on its own branch).

use crate::cli::{CheckArgs, GlobalArgs};
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(
    _global: &GlobalArgs,
    _args: &CheckArgs,
    _printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    Err(anyhow::anyhow!("`check` is not implemented yet"))
}
