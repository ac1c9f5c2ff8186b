//! Log lines (tracing, on stderr) follow `--color` and `-q` like the rest of the output.

use std::process::Command;

/// Runs `status --cloud t` against a Keystone port nothing listens on (debug lines: token
/// request, retries) with `OS_CLIENT_CONFIG_FILE` naming a missing file beside a real
/// ./clouds.yaml (a warning line: the search falls through).
fn stderr_of(flags: &[&str]) -> String {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("clouds.yaml"),
        format!("clouds:\n  t:\n    auth: {{auth_url: 'http://127.0.0.1:{port}/v3', username: u, password: p, project_name: p}}\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_image-crawler"))
        .current_dir(dir.path())
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env("HOME", dir.path())
        .env("OS_CLIENT_CONFIG_FILE", dir.path().join("missing.yaml"))
        .args(flags)
        .args(["status", "--cloud", "t"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn color_never_keeps_escape_codes_out_of_debug_logs() {
    let err = stderr_of(&["-vv", "--color", "never"]);
    assert!(err.contains("DEBUG"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "ANSI codes with --color never:\n{err:?}"
    );
}

#[test]
fn color_always_colours_them() {
    let err = stderr_of(&["-vv", "--color", "always"]);
    assert!(err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn quiet_silences_log_warnings_but_not_the_error() {
    let loud = stderr_of(&["--color", "never"]);
    assert!(loud.contains("looking in the standard places"), "{loud}");
    let quiet = stderr_of(&["-q", "--color", "never"]);
    assert!(!quiet.contains("looking in the standard places"), "{quiet}");
    assert_eq!(
        quiet.matches("could not connect").count(),
        1,
        "the error once:\n{quiet}"
    );
    assert!(quiet.contains("error:"), "{quiet}");
}
