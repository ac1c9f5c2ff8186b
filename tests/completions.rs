//! Bash completion in a real bash: the generated script is sourced, the function bash would
//! call for `image-crawler` (as `complete -p` registers it) is called with COMP_WORDS /
//! COMP_CWORD set, and the offered words are read back from COMPREPLY.

use std::process::Command;

/// What bash offers for the words typed so far (the last one is being completed).
fn offered(words: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_image-crawler"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("image-crawler.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let cword = words.len() - 1;
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let prog = format!(
        r#"source "$1" || exit 90
spec=$(complete -p image-crawler) || {{ echo "no completion registered for image-crawler" >&2; exit 91; }}
fn=$(sed -E 's/.*-F ([^ ]+).*/\1/' <<<"$spec")
COMP_WORDS=({words})
COMP_CWORD={cword}
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$fn" image-crawler "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        words = quoted.join(" "),
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &prog, "bash"])
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn assert_offers(words: &[&str], expected: &[&str]) {
    let got = offered(words);
    for e in expected {
        assert!(
            got.iter().any(|g| g == e),
            "{words:?}: `{e}` not offered; got {got:?}"
        );
    }
}

#[test]
fn subcommands_are_offered() {
    assert_offers(
        &["image-crawler", ""],
        &["plan", "apply", "check", "status"],
    );
}

#[test]
fn plan_options_are_offered() {
    assert_offers(
        &["image-crawler", "plan", "--"],
        &[
            "--cloud",
            "--region",
            "--all-targets",
            "--out",
            "--detailed-exitcode",
            "--mirror",
        ],
    );
}

#[test]
fn apply_options_are_offered() {
    assert_offers(
        &["image-crawler", "apply", "--"],
        &["--cloud", "--region", "--yes", "--plan", "--max-deletes"],
    );
    // A prefix narrows the list.
    let got = offered(&["image-crawler", "apply", "--ma"]);
    assert_eq!(got, ["--max-deletes"]);
}

#[test]
fn options_after_global_flags_are_offered() {
    assert_offers(&["image-crawler", "--quiet", "plan", "--"], &["--cloud"]);
}
