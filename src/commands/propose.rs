//! `image-crawler propose` (in progress on its own branch).

use crate::cli::{GlobalArgs, ProposeArgs};
use crate::exit::ExitStatus;
use crate::output::Printer;

pub fn run(
    _global: &GlobalArgs,
    _args: &ProposeArgs,
    _printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    Err(anyhow::anyhow!("`propose` is not implemented yet"))
}
