//! `image-crawler completions SHELL`: a completion script on stdout.

use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::ExitStatus;
use crate::output::Printer;

const BIN: &str = "image-crawler";

pub fn run(args: &CompletionsArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    printer.data(&script(args.shell));
    Ok(ExitStatus::Success)
}

/// The script for a shell.
///
/// Bash: clap_complete's generator escapes the `-` of a binary name one way in the state
/// machine (`image__crawler`) and another in its `case` labels (`image__subcmd__crawler`),
/// so no subcommand's options were ever offered (`image-crawler plan --<Tab>`: nothing). Generating for a
/// name without `-` keeps both sides equal; only the `complete` lines then name the binary.
pub fn script(shell: Shell) -> String {
    let mut cmd = Cli::command();
    let generate = |name: &str, cmd: &mut clap::Command| {
        let mut buf = Vec::new();
        clap_complete::generate(shell, cmd, name, &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    };
    if shell != Shell::Bash {
        return generate(BIN, &mut cmd);
    }
    let plain = BIN.replace('-', "_");
    generate(&plain, &mut cmd)
        .lines()
        .map(|line| {
            let registration = line.trim_start().starts_with("complete -F ");
            match line.strip_suffix(&format!(" {plain}")) {
                Some(head) if registration => format!("{head} {BIN}\n"),
                _ => format!("{line}\n"),
            }
        })
        .collect()
}
