//! Debug logs (`-vv`, `RUST_LOG`) go to stderr through `tracing`; they never carry secrets
//! (request bodies with credentials are never logged, tokens are never formatted).

use tracing_subscriber::EnvFilter;

use crate::cli::GlobalArgs;

/// Installs the subscriber once; `-vv` debug, `-vvv` trace, `RUST_LOG` overrides.
pub fn init(global: &GlobalArgs) {
    let default = match global.verbose {
        0 | 1 => "warn",
        2 => "image_crawler=debug,warn",
        _ => "image_crawler=trace,info",
    };
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
