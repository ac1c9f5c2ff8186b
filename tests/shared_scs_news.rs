//! The release-list parsers of `scs::news` on the real upstream samples in `../shared`
//! (read in place; this target is skipped in a clone without `../shared`).

use std::path::PathBuf;

use image_crawler::scs::news::{
    parse_alpine_releases, parse_fedora_releases, parse_ubuntu_streams,
};

fn sample(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/upstream-samples")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (this test needs ../shared)",
            path.display()
        )
    })
}

#[test]
fn ubuntu_released_stream() {
    let r = parse_ubuntu_streams(&sample(
        "ubuntu/releases/streams/v1/com.ubuntu.cloud:released:download.json",
    ))
    .unwrap();
    let got: Vec<(&str, &str, bool, bool)> = r
        .iter()
        .map(|r| (r.version.as_str(), r.codename.as_str(), r.supported, r.lts))
        .collect();
    assert_eq!(
        got,
        [
            ("20.04", "focal", true, true),
            ("20.10", "groovy", false, false),
            ("24.04", "noble", true, true)
        ]
    );
}

#[test]
fn fedora_releases_json() {
    // 41 is only a Beta in this sample; Server/Workstation entries do not count.
    assert_eq!(
        parse_fedora_releases(&sample("fedora/releases.json")).unwrap(),
        ["39", "40"]
    );
}

#[test]
fn alpine_releases_json() {
    let r = parse_alpine_releases(&sample("alpine/releases.json")).unwrap();
    assert_eq!(r.latest_stable, "3.23");
    assert_eq!(r.branches, ["3.20", "3.21", "3.22", "3.23"]);
}
