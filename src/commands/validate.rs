//! `image-crawler validate`: catalog and lockfiles, offline, every problem at once.

use crate::cli::{GlobalArgs, ValidateArgs};
use crate::exit::ExitStatus;
use crate::output::Printer;

pub fn run(
    _global: &GlobalArgs,
    _args: &ValidateArgs,
    _printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    Err(anyhow::anyhow!("`validate` is not implemented yet"))
}
