use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    match image_crawler::cli::Cli::try_parse() {
        Ok(cli) => image_crawler::run(cli).into(),
        Err(err) => image_crawler::exit::usage(&err).into(),
    }
}
