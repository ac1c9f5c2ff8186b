//! `image-crawler schema`: the JSON Schemas of catalog and lockfile.

use crate::cli::SchemaArgs;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub fn run(_args: &SchemaArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    Err(anyhow::anyhow!("`schema` is not implemented yet"))
}
