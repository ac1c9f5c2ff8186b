use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    image_crawler::run(image_crawler::cli::Cli::parse()).into()
}
