//! Debug logs (`-vv`, `RUST_LOG`) go to stderr through `tracing`; they never carry secrets
//! (request bodies with credentials are never logged, tokens are never formatted).
//! They follow the output's rules: colours only when the output has them (`--color`,
//! `NO_COLOR`, a terminal), and `-q` leaves only errors.

use tracing_subscriber::EnvFilter;

use crate::cli::GlobalArgs;

/// The filter when `RUST_LOG` is unset: `-q` errors, default warnings, `-vv` debug, `-vvv` trace.
/// rustls logs every refused server certificate at ERROR; the request's own error already says
/// it (once, with a hint), so rustls speaks only with `-vvv`.
fn default_filter(global: &GlobalArgs) -> &'static str {
    match (global.quiet, global.verbose) {
        (true, _) => "error,rustls=off",
        (false, 0 | 1) => "warn,rustls=off",
        (false, 2) => "image_crawler=debug,warn,rustls=off",
        (false, _) => "image_crawler=trace,info",
    }
}

/// Installs the subscriber once; `color` is the output's decision (`Printer::color`).
pub fn init(global: &GlobalArgs, color: bool) {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| EnvFilter::new(default_filter(global)));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(false)
        .try_init();
}
