use std::process::ExitCode;

use clap::Parser as _;

// Image bytes pass through in chunks of hundreds of KiB that are freed on the hashing thread:
// glibc's malloc hands those pages back to the kernel and faults fresh zeroed ones in for the
// next chunks (about 8 % of apply's CPU, `docs/benchmarks.md`); mimalloc keeps reusing them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match image_crawler::cli::Cli::try_parse() {
        Ok(cli) => image_crawler::run(cli).into(),
        Err(err) => image_crawler::exit::usage(&err).into(),
    }
}
