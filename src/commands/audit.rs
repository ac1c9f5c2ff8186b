//! `image-crawler audit` (in progress on its own branch).

use crate::cli::{AuditArgs, GlobalArgs};
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(
    _global: &GlobalArgs,
    _args: &AuditArgs,
    _printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    Err(anyhow::anyhow!("`audit` is not implemented yet"))
}
