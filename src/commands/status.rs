//! `image-crawler status` (in progress on its own branch).

use crate::cli::{GlobalArgs, StatusArgs};
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(
    _global: &GlobalArgs,
    _args: &StatusArgs,
    _printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    Err(anyhow::anyhow!("`status` is not implemented yet"))
}
