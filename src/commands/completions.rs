//! `image-crawler completions SHELL`: a completion script on stdout.

use clap::CommandFactory as _;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::ExitStatus;
use crate::output::Printer;

pub fn run(args: &CompletionsArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "image-crawler", &mut buf);
    printer.data(&String::from_utf8_lossy(&buf));
    Ok(ExitStatus::Success)
}
