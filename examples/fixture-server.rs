//! Serves a directory over HTTP on 127.0.0.1 like the test fixture server (for
//! `bench/check.sh`): `cargo run --example fixture-server -- --root DIR [--latency-ms N] [--port N]`.
//! Prints `listening on http://127.0.0.1:PORT`, then runs until killed; with `--stats-file`
//! it keeps `requests=N bytes=N not_modified=N` in that file up to date.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/support/server.rs"]
mod server;

use std::time::Duration;

fn main() {
    let mut root = None;
    let mut latency = 0u64;
    let mut port = 0u16;
    let mut stats_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => root = args.next(),
            "--latency-ms" => latency = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--port" => port = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--stats-file" => stats_file = args.next(),
            _ => {
                eprintln!(
                    "usage: fixture-server --root DIR [--latency-ms N] [--port N] [--stats-file FILE]"
                );
                std::process::exit(2);
            }
        }
    }
    let Some(root) = root else {
        eprintln!("--root DIR is required");
        std::process::exit(2);
    };
    let server = server::FixtureServer::start_on(root, port);
    server.set_latency(Duration::from_millis(latency));
    println!("listening on {}", server.url());
    // Writes the counters to the stats file twice a second (the benchmark reads them).
    loop {
        std::thread::sleep(Duration::from_millis(500));
        if let Some(path) = &stats_file {
            let s = server.stats();
            let _ = std::fs::write(
                path,
                format!(
                    "requests={} bytes={} not_modified={}\n",
                    s.requests, s.bytes, s.not_modified
                ),
            );
        }
    }
}
