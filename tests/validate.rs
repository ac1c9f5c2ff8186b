//! `validate` on typical catalog mistakes: the exact message, place, snippet and hint.

use std::path::Path;

use assert_cmd::Command;

/// Settings that make the images below valid; each case breaks one thing.
const SETTINGS: &str = r#"settings:
  defaults:
    glance:
      min_disk: 4
      min_ram: 512
      properties:
        os_purpose: generic
        hw_disk_bus: scsi
        hw_scsi_model: virtio-scsi
        replace_frequency: quarterly
        provided_until: none
        uuid_validity: last-3
"#;

const GOOD: &str = r#"images:
  - id: ubuntu-24.04
    name: Ubuntu 24.04
    source:
      ubuntu:
        release: "24.04"
"#;

fn run(files: &[(&str, &str)], state: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    let state_dir = dir.path().join("state");
    std::fs::create_dir_all(&catalog).unwrap();
    std::fs::create_dir_all(&state_dir).unwrap();
    for (name, text) in files {
        std::fs::write(catalog.join(name), text).unwrap();
    }
    for (name, text) in state {
        std::fs::write(state_dir.join(name), text).unwrap();
    }
    let out = Command::cargo_bin("image-crawler")
        .unwrap()
        .current_dir(dir.path())
        .args(["validate", "--color", "never"])
        .env_remove("IMAGE_CRAWLER_CATALOG")
        .env_remove("IMAGE_CRAWLER_STATE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Runs a catalog made of the settings and `images` (as `catalog/images.yaml`), expects exit 4,
/// and returns stderr without the final count line.
fn errors_for(images: &str) -> String {
    let (code, _, stderr) = run(&[("settings.yaml", SETTINGS), ("images.yaml", images)], &[]);
    assert_eq!(code, 4, "expected invalid input; stderr:\n{stderr}");
    stderr
        .lines()
        .filter(|l| !l.starts_with("error: ") || !l.contains("problems found"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn a_valid_catalog_passes() {
    let (code, _, stderr) = run(&[("settings.yaml", SETTINGS), ("images.yaml", GOOD)], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("Valid 1 images, 0 lockfiles, 1 warnings"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 enabled images have no lockfile yet: ubuntu-24.04"),
        "{stderr}"
    );
}

#[test]
fn misspelled_key() {
    let text = GOOD.replace("    name:", "    enabeld: true\n    name:");
    assert_eq!(
        errors_for(&text),
        "error: unknown field `enabeld`, expected one of `id`, `name`, `enabled`, `source`, `architecture`, `version`, `signature`, `glance`, `rotation`, `transfer`
 --> catalog/images.yaml:3:5
  |
3 |     enabeld: true
  |     ^^^^^^^
  = hint: did you mean `enabled`?
"
    );
}

#[test]
fn unknown_preset() {
    let text = GOOD.replace("      ubuntu:", "      ubunto:");
    let err = errors_for(&text);
    assert!(
        err.starts_with("error: unknown variant `ubunto`, expected one of `ubuntu`, `debian`"),
        "{err}"
    );
    assert!(err.contains(" --> catalog/images.yaml:5:7\n"), "{err}");
    assert!(err.ends_with("  = hint: did you mean `ubuntu`?\n"), "{err}");
}

#[test]
fn invalid_scs_enum_value() {
    let text = format!("{GOOD}    glance:\n      properties:\n        os_purpose: genric\n");
    let err = errors_for(&text);
    assert!(
        err.starts_with("error: unknown variant `genric`, expected one of `generic`, `minimal`"),
        "{err}"
    );
    assert!(err.contains(" --> catalog/images.yaml:9:21\n"), "{err}");
    assert!(
        err.contains("9 |         os_purpose: genric\n  |                     ^^^^^^\n"),
        "{err}"
    );
    assert!(
        err.ends_with("  = hint: did you mean `generic`?\n"),
        "{err}"
    );
}

#[test]
fn wrong_type() {
    let text = format!("{GOOD}    glance:\n      min_disk: big\n");
    let err = errors_for(&text);
    assert!(err.contains(" --> catalog/images.yaml:8:17\n"), "{err}");
    assert!(
        err.contains("8 |       min_disk: big\n  |                 ^^^\n"),
        "{err}"
    );
}

#[test]
fn unquoted_release_keeps_its_digits() {
    // YAML would read 24.10 as the float 24.1; the catalog keeps what was written.
    let text = GOOD.replace("release: \"24.04\"", "release: 24.04");
    let (code, _, stderr) = run(&[("settings.yaml", SETTINGS), ("images.yaml", &text)], &[]);
    assert_eq!(code, 0, "{stderr}");
    let text = GOOD.replace("release: \"24.04\"", "release: 24.10");
    let (code, _, stderr) = run(&[("settings.yaml", SETTINGS), ("images.yaml", &text)], &[]);
    assert_eq!(code, 0, "24.10 is a known release: {stderr}");
}

#[test]
fn yaml_11_boolean_is_refused() {
    let text = GOOD.replace("    name:", "    enabled: yes\n    name:");
    let err = errors_for(&text);
    assert!(err.contains(" --> catalog/images.yaml:3:14\n"), "{err}");
    assert!(err.contains("= hint: write `true` or `false`"), "{err}");
}

#[test]
fn duplicate_key_in_a_mapping() {
    let text = GOOD.replace(
        "    name: Ubuntu 24.04\n",
        "    name: Ubuntu 24.04\n    name: Ubuntu\n",
    );
    let err = errors_for(&text);
    assert!(err.contains("duplicate"), "{err}");
    assert!(err.contains(" --> catalog/images.yaml:4:"), "{err}");
    assert!(
        err.contains("= hint: each key may appear only once"),
        "{err}"
    );
}

#[test]
fn duplicate_id_points_at_both() {
    let text = format!(
        "{GOOD}{}",
        GOOD.replace("images:\n", "")
            .replace("Ubuntu 24.04", "Ubuntu Other")
    );
    assert_eq!(
        errors_for(&text),
        "error: duplicate image id `ubuntu-24.04`
 --> catalog/images.yaml:7:9
  |
7 |   - id: ubuntu-24.04
  |         ^^^^^^^^^^^^^^^^
  = hint: it is first declared at catalog/images.yaml:2:9; ids must be unique across the catalog
"
    );
}

#[test]
fn duplicate_glance_name_per_architecture() {
    let text = format!(
        "{GOOD}{}",
        GOOD.replace("images:\n", "")
            .replace("ubuntu-24.04", "ubuntu-noble")
    );
    let err = errors_for(&text);
    assert!(err.starts_with("error: duplicate Glance name `Ubuntu 24.04` for x86_64\n --> catalog/images.yaml:8:11\n"), "{err}");
    assert!(
        err.contains("first used at catalog/images.yaml:2:9"),
        "{err}"
    );
    // The same name on another architecture is fine.
    let other_arch = format!(
        "{GOOD}{}",
        GOOD.replace("images:\n", "")
            .replace("ubuntu-24.04", "ubuntu-noble")
            .replace("    source:", "    architecture: aarch64\n    source:")
    );
    let (code, _, stderr) = run(
        &[("settings.yaml", SETTINGS), ("images.yaml", &other_arch)],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn wrong_os_distro_for_almalinux() {
    let text = "images:\n  - id: almalinux-9\n    name: AlmaLinux 9\n    source:\n      almalinux:\n        release: \"9\"\n    glance:\n      properties:\n        os_distro: centos\n";
    assert_eq!(
        errors_for(text),
        "error: `os_distro: centos` does not match the `almalinux` source
 --> catalog/images.yaml:9:9
  |
9 |         os_distro: centos
  |         ^^^^^^^^^
  = hint: scs-0102 follows the osinfo ids: write `os_distro: almalinux`
"
    );
}

#[test]
fn missing_mandatory_property_and_bad_formats_all_at_once() {
    let text = "images:\n  - id: x\n    name: X\n    source:\n      checksum-dir:\n        url: https://example.org/images/\n        checksum_file: SHA256SUMS\n        pattern: 'x-(\\d+)\\.qcow2'\n    glance:\n      properties:\n        provided_until: soon\n        uuid_validity: last-0\n";
    let err = errors_for(text);
    for expected in [
        "error: `pattern` has no `version` capture\n --> catalog/images.yaml:8:9\n",
        "error: missing SCS property `os_distro` (scs-0102)\n --> catalog/images.yaml:2:5\n",
        "error: missing SCS property `os_version` (scs-0102)\n",
        "error: missing SCS property `image_original_user` (scs-0102)\n",
        "error: invalid `provided_until` value `soon`\n  --> catalog/images.yaml:11:9\n",
        "= hint: scs-0102 allows `YYYY-MM-DD`, `none` or `notice`\n",
        "error: invalid `uuid_validity` value `last-0`\n  --> catalog/images.yaml:12:9\n",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn retention_shorter_than_uuid_validity() {
    let text = format!("{GOOD}    rotation:\n      keep: 1\n");
    let err = errors_for(&text);
    assert!(err.starts_with("error: `rotation.keep: 1` keeps fewer images than `uuid_validity: last-3` promises\n --> catalog/images.yaml:8:7\n"), "{err}");
    assert!(
        err.ends_with("= hint: keep at least 2 replaced images (the current one counts as one)\n"),
        "{err}"
    );
}

#[test]
fn enabled_static_image_without_url() {
    let text = "images:\n  - id: sles-15\n    name: SLES 15\n    source:\n      static:\n        checksum: sha256:abc\n    glance:\n      properties:\n        os_distro: sles\n        os_version: \"15\"\n        image_original_user: sles\n        image_description: notes\n";
    let err = errors_for(text);
    assert!(err.contains("error: an enabled `static` image needs `url`, `checksum`, `version` and `build_date`\n --> catalog/images.yaml:5:7\n"), "{err}");
    assert!(err.contains("set `enabled: false` until you can"), "{err}");
    assert!(
        err.contains("error: invalid checksum `sha256:abc`\n --> catalog/images.yaml:6:9\n"),
        "{err}"
    );
    // Disabled, it is accepted without URL and checksum.
    let disabled = "images:\n  - id: sles-15\n    name: SLES 15\n    enabled: false\n    source:\n      static: {}\n    glance:\n      properties:\n        os_distro: sles\n        os_version: \"15\"\n        image_original_user: sles\n        image_description: notes\n";
    let (code, _, stderr) = run(
        &[("settings.yaml", SETTINGS), ("images.yaml", disabled)],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn missing_key_file_and_required_signature() {
    let text =
        format!("{GOOD}    signature:\n      policy: required\n      keys: [keys/nope.asc]\n");
    let err = errors_for(&text);
    assert!(err.contains("error: signature key file `keys/nope.asc` does not exist\n --> catalog/images.yaml:9:7\n"), "{err}");
}

#[test]
fn settings_twice_and_tool_owned_property() {
    let text = format!(
        "{SETTINGS}{GOOD}    glance:\n      properties:\n        extra:\n          image_source: https://x/\n"
    );
    let (code, _, err) = run(&[("settings.yaml", SETTINGS), ("z.yaml", &text)], &[]);
    assert_eq!(code, 4);
    assert!(
        err.contains(
            "error: `settings` appears in more than one catalog file\n --> catalog/z.yaml:1:1\n"
        ),
        "{err}"
    );
    assert!(err.contains("error: `image_source` is set by the tool and cannot be declared in the catalog\n  --> catalog/z.yaml:22:11\n"), "{err}");
}

#[test]
fn target_pattern_matching_nothing() {
    let settings =
        format!("{SETTINGS}  targets:\n    - cloud: prod\n      images: [ubuntu-24.4]\n");
    let (code, _, err) = run(&[("settings.yaml", &settings), ("images.yaml", GOOD)], &[]);
    assert_eq!(code, 4);
    assert!(err.contains("error: target `prod`: `ubuntu-24.4` matches no image\n  --> catalog/settings.yaml:15:7\n"), "{err}");
    assert!(
        err.contains("= hint: did you mean `ubuntu-24.04`?"),
        "{err}"
    );
}

#[test]
fn orphan_and_broken_lockfiles() {
    let lock = "format_version = 1\nid = \"ubuntu-22.04\"\nsource_digest = \"x\"\n\n[build]\nversion = \"1\"\nbuild_date = \"2024-01-01\"\nurl = \"https://x/a.img\"\nmetadata_url = \"https://x/\"\n\n[build.checksums]\nsha256 = \"00\"\n\n[build.signature]\nstatus = \"off\"\n";
    let (code, _, err) = run(
        &[("settings.yaml", SETTINGS), ("images.yaml", GOOD)],
        &[
            ("ubuntu-22.04.toml", lock),
            ("broken.toml", "format_version = 1\nid = [\n"),
        ],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("error: lockfile without a catalog entry: no image `ubuntu-22.04` in the catalog\n --> state/ubuntu-22.04.toml\n"), "{err}");
    assert!(err.contains("hint: did you mean `ubuntu-24.04`?"), "{err}");
    assert!(
        err.contains("error: `ubuntu-22.04`: malformed sha256 checksum `00`"),
        "{err}"
    );
    assert!(err.contains("error: unreadable lockfile: "), "{err}");
    assert!(err.contains(" --> state/broken.toml:2:"), "{err}");
}

#[test]
fn json_report_has_every_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    std::fs::write(catalog.join("settings.yaml"), SETTINGS).unwrap();
    std::fs::write(
        catalog.join("images.yaml"),
        GOOD.replace("ubuntu-24.04", "Ubuntu_24"),
    )
    .unwrap();
    let out = Command::cargo_bin("image-crawler")
        .unwrap()
        .current_dir(dir.path())
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"], 1);
    assert_eq!(
        v["diagnostics"][0]["message"],
        "invalid image id `Ubuntu_24`"
    );
    assert_eq!(v["diagnostics"][0]["line"], 2);
    assert_eq!(v["diagnostics"][0]["file"], "catalog/images.yaml");
}

#[test]
fn the_shipped_catalog_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::cargo_bin("image-crawler")
        .unwrap()
        .current_dir(root)
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"], 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(v["images"].as_u64().unwrap() >= 40);
    // Every --format json document says its version first (issue 14).
    assert_eq!(v["format_version"], 1);
    let first = String::from_utf8_lossy(&out.stdout);
    assert!(first.starts_with("{\n  \"format_version\": 1,"), "{first}");
}

#[test]
fn object_storage_source_problems_are_placed() {
    let text = "images:\n  - id: capi\n    name: CAPI\n    source:\n      object-storage:\n        url: swift.example.org/v1/AUTH_x/c\n        listing: swift\n        pattern: 'k-(\\d+)\\.qcow2'\n        checksum_suffixes: []\n        signature_file: SHA256SUMS.asc\n    glance:\n      properties:\n        os_distro: ubuntu\n        os_version: \"24.04\"\n        image_original_user: ubuntu\n        image_description: notes\n";
    let err = errors_for(text);
    for expected in [
        "error: `url: swift.example.org/v1/AUTH_x/c` is not a URL (relative URL without a base)\n --> catalog/images.yaml:6:9\n",
        "error: `pattern` has no `version` capture\n --> catalog/images.yaml:8:9\n",
        "error: no checksum: neither `checksum_file` nor a sidecar suffix\n --> catalog/images.yaml:9:9\n",
        "error: `signature_file` signs a `checksum_file`, and none is set\n  --> catalog/images.yaml:10:9\n",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    let listing = text.replace("listing: swift", "listing: xml");
    assert!(
        errors_for(&listing).contains("xml"),
        "{}",
        errors_for(&listing)
    );
}

/// The shipped catalog enables no image whose release is past its end of life (per the shipped
/// `catalog/lifecycle.yaml`): a first `check`/`apply` must not upload Debian 11 or Leap 15.6.
#[test]
fn shipped_catalog_enables_no_image_past_its_eol() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    let catalog = image_crawler::catalog::load(&dir).expect("the shipped catalog is valid");
    let lc = image_crawler::scs::lifecycle::load(&dir).expect("lifecycle.yaml is valid");
    let today = jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date();
    let past: Vec<String> = catalog
        .enabled()
        .filter_map(|image| {
            let (key, rel) = lc.for_image(image)?;
            match image_crawler::scs::lifecycle::status(rel, today, 0) {
                image_crawler::scs::lifecycle::EolStatus::Past { eol } => {
                    Some(format!("{} ({key}, EOL {eol})", image.id))
                }
                _ => None,
            }
        })
        .collect();
    assert!(past.is_empty(), "enabled past EOL: {past:?}");
}

/// Runs `validate` in `dir` (with `catalog/` and `state/`), killed after 60 s: a read that
/// blocks (a FIFO) fails the test instead of hanging it.
#[cfg(unix)]
fn validate_in(dir: &Path) -> (Option<i32>, String) {
    let out = Command::cargo_bin("image-crawler")
        .unwrap()
        .current_dir(dir)
        .args(["validate", "--color", "never"])
        .env_remove("IMAGE_CRAWLER_CATALOG")
        .env_remove("IMAGE_CRAWLER_STATE")
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(unix)]
fn tree_with_good_catalog() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("catalog/settings.yaml"), SETTINGS).unwrap();
    std::fs::write(dir.path().join("catalog/images.yaml"), GOOD).unwrap();
    dir
}

#[cfg(unix)]
#[test]
fn state_entries_that_are_not_regular_files_are_refused() {
    use std::os::unix::fs::symlink;
    let dir = tree_with_good_catalog();
    let state = dir.path().join("state");
    let ok = std::process::Command::new("mkfifo")
        .arg(state.join("ubuntu-24.04.toml"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo");
    symlink("/dev/zero", state.join("zero.toml")).unwrap();
    symlink(state.join("nowhere.toml"), state.join("dangling.toml")).unwrap();
    let (code, err) = validate_in(dir.path());
    assert_eq!(code, Some(4), "{err}");
    for (file, what) in [
        (
            "ubuntu-24.04.toml",
            "a named pipe (FIFO), not a regular file",
        ),
        ("zero.toml", "a character device, not a regular file"),
        ("dangling.toml", "a dangling symbolic link"),
    ] {
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines.windows(2).any(|w| w[0].starts_with("error:")
                && w[0].contains(what)
                && w[1].ends_with(&format!("/{file}"))),
            "{file}: {what}: {err}"
        );
    }
    assert!(err.contains("hint:"), "{err}");
}

#[cfg(unix)]
#[test]
fn catalog_links_that_lead_nowhere_and_yaml_directories_are_reported() {
    use std::os::unix::fs::symlink;
    let dir = tree_with_good_catalog();
    let catalog = dir.path().join("catalog");
    symlink(catalog.join("loop-b.yaml"), catalog.join("loop-a.yaml")).unwrap();
    symlink(catalog.join("loop-a.yaml"), catalog.join("loop-b.yaml")).unwrap();
    symlink(catalog.join("gone.yaml"), catalog.join("dangling.yaml")).unwrap();
    std::fs::create_dir(catalog.join("extra.yaml")).unwrap();
    symlink("/dev/zero", catalog.join("zero.yml")).unwrap();
    let (code, err) = validate_in(dir.path());
    assert_eq!(code, Some(4), "{err}");
    for (file, what) in [
        ("loop-a.yaml", "a symbolic link loop"),
        ("loop-b.yaml", "a symbolic link loop"),
        ("dangling.yaml", "a dangling symbolic link"),
        ("extra.yaml", "a directory, not a regular file"),
        ("zero.yml", "a character device, not a regular file"),
    ] {
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines.windows(2).any(|w| w[0].starts_with("error:")
                && w[0].contains(what)
                && w[1].ends_with(&format!("/{file}"))),
            "{file}: {what}: {err}"
        );
    }
    assert!(err.contains("make it a regular file"), "{err}");
}

/// One typo in the project's own settings.yaml: its defaults then miss from every image, and
/// each image's "missing property" used to be reported too (232 errors, the real one 195th).
/// Now: the root cause, once, and one warning counting what was held back.
#[test]
fn a_typo_in_settings_is_reported_once_not_once_per_image() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::create_dir_all(&catalog).unwrap();
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    for entry in std::fs::read_dir(&project).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), catalog.join(entry.file_name())).unwrap();
        }
    }
    std::fs::create_dir_all(catalog.join("keys")).unwrap();
    for key in std::fs::read_dir(project.join("keys")).unwrap() {
        let key = key.unwrap();
        std::fs::copy(key.path(), catalog.join("keys").join(key.file_name())).unwrap();
    }
    let settings = std::fs::read_to_string(catalog.join("settings.yaml")).unwrap();
    assert!(
        settings.contains("\n      visibility: public\n"),
        "{settings}"
    );
    std::fs::write(
        catalog.join("settings.yaml"),
        settings.replacen(
            "\n      visibility: public\n",
            "\n      visibility: publik\n",
            1,
        ),
    )
    .unwrap();
    let out = Command::cargo_bin("image-crawler")
        .unwrap()
        .current_dir(dir.path())
        .args(["validate", "--color", "never"])
        .env_remove("IMAGE_CRAWLER_CATALOG")
        .env_remove("IMAGE_CRAWLER_STATE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("error:") && !l.contains("problems found"))
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("`publik`"), "{err}");
    assert!(err.contains("settings.yaml:"), "{err}");
    assert!(err.contains("hint: did you mean `public`?"), "{err}");
    let warning = err
        .find(" further problem(s) not shown")
        .expect("one warning counts what was held back");
    assert!(
        warning > err.find("`publik`").unwrap(),
        "after the error: {err}"
    );
}

/// `check` locks a `static` URL verbatim, so `validate` holds it to the lockfile's URL rules:
/// otherwise `check` would write a lockfile that `validate`, `plan` and `apply` then reject.
#[test]
fn static_url_follows_the_lockfile_rules() {
    let entry = |url: &str| {
        format!(
            "images:\n  - id: sles-15\n    name: SLES 15\n    source:\n      static:\n        url: \"{url}\"\n        checksum: sha256:{}\n        version: \"15.6\"\n        build_date: \"2026-01-01\"\n    glance:\n      properties:\n        os_distro: sles\n        os_version: \"15\"\n        image_original_user: sles\n        image_description: notes\n",
            "0".repeat(64)
        )
    };
    for (url, want) in [
        (
            "https://dl.example.com/sles/latest/SLES15.qcow2",
            "is an alias (`latest`, `current`)",
        ),
        (
            "https://dl.example.com/sles/current/SLES15.qcow2",
            "is an alias (`latest`, `current`)",
        ),
        (
            "https://dl.example.com/SLES15-Minimal-latest.x86_64.qcow2",
            "is an alias (`latest`, `current`)",
        ),
        ("file:///srv/SLES15.qcow2", "has the scheme `file:`"),
        (
            "https://dl.example.com/a/../SLES15.qcow2",
            "has a `.` or `..` path segment",
        ),
    ] {
        let err = errors_for(&entry(url));
        assert!(
            err.contains(&format!("error: `url: {url}` {want}")),
            "{url}: {err}"
        );
        assert!(
            err.contains(" --> catalog/images.yaml:6:9\n"),
            "{url}: {err}"
        );
    }
    let (code, _, err) = run(
        &[
            ("settings.yaml", SETTINGS),
            (
                "images.yaml",
                &entry("https://dl.example.com/sles/15.6/SLES15-Minimal-15.6.x86_64.qcow2"),
            ),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
}

/// Library phrases that must never reach the user (they name the YAML/TOML readers' API).
const INTERNAL: &[&str] = &[
    "from_str_multiple",
    "DuplicateKeyPolicy",
    "Options",
    "budget breached",
    "Nodes {",
    "Depth {",
    "invalid u32",
    "invalid u64",
    "expected u32",
    "expected u64",
    "expected i64",
    "saphyr",
    "toml::",
];

/// Every `error:` has a `hint:` before the next diagnostic starts.
fn errors_without_hint(stderr: &str) -> Vec<String> {
    let mut missing = Vec::new();
    let mut current: Option<&str> = None;
    for line in stderr.lines() {
        if line.starts_with("error:") || line.starts_with("warning:") {
            if let Some(e) = current.take() {
                missing.push(e.to_owned());
            }
            if line.starts_with("error:") && !line.contains("problems found") {
                current = Some(line);
            }
        } else if line.trim_start().starts_with("= hint:") {
            current = None;
        }
    }
    missing.extend(current.map(str::to_owned));
    missing
}

const GATE_CATALOG: &str = r#"settings:
  vendor: test
images:
  - id: gate-os
    name: "Gate OS 1"
    signature: {policy: off}
    source:
      static:
        url: "https://images.example.org/gate/gate-os-1.img"
        checksum: "sha256:1111111111111111111111111111111111111111111111111111111111111111"
        version: "1"
        build_date: "2026-01-01"
    glance:
      disk_format: raw
      container_format: bare
      min_disk: 1
      min_ram: 128
      visibility: public
      properties: {os_distro: gateos, os_version: "1", os_purpose: generic, hw_disk_bus: virtio, replace_frequency: monthly, provided_until: none, uuid_validity: none, image_original_user: none, image_description: x}
"#;

const GATE_LOCK: &str = "format_version = 1\nid = \"gate-os\"\nsource_digest = \"sha256:00\"\n\n[build]\nversion = \"1\"\nbuild_date = \"2026-01-01\"\nurl = \"https://images.example.org/gate/gate-os-1.img\"\nmetadata_url = \"https://images.example.org/gate/SHA256SUMS\"\nsize = 10\n\n[build.checksums]\nsha256 = \"1111111111111111111111111111111111111111111111111111111111111111\"\n\n[build.signature]\nstatus = \"off\"\n";

#[test]
fn broken_files_are_explained_in_their_own_terms_with_a_hint() {
    let nested = format!("images: {}{}\n", "[".repeat(80), "]".repeat(80));
    let catalogs: Vec<(&str, String)> = vec![
        (
            "duplicate key",
            GATE_CATALOG.replace(
                "    name: \"Gate OS 1\"\n",
                "    name: \"Gate OS 1\"\n    name: again\n",
            ),
        ),
        ("two documents", format!("{GATE_CATALOG}---\nimages: []\n")),
        ("nesting bomb", nested),
        (
            "negative u32",
            GATE_CATALOG.replace("min_disk: 1", "min_disk: -5"),
        ),
        (
            "huge u32",
            GATE_CATALOG.replace("min_disk: 1", "min_disk: 99999999999"),
        ),
        (
            "yes boolean",
            GATE_CATALOG.replace("policy: off}", "policy: off}\n    enabled: yes"),
        ),
        (
            "unknown key",
            GATE_CATALOG.replace("min_ram: 128", "min_rma: 128"),
        ),
        (
            "tab",
            GATE_CATALOG.replace("    name: \"Gate", "\tname: \"Gate"),
        ),
    ];
    for (case, catalog) in &catalogs {
        let (code, _, err) = run(&[("gate.yaml", catalog)], &[]);
        assert_eq!(code, 4, "{case}: {err}");
        for phrase in INTERNAL {
            assert!(!err.contains(phrase), "{case}: leaks `{phrase}`: {err}");
        }
        assert_eq!(
            errors_without_hint(&err),
            Vec::<String>::new(),
            "{case}: {err}"
        );
    }
    let locks: Vec<(&str, String)> = vec![
        ("negative size", GATE_LOCK.replace("size = 10", "size = -5")),
        (
            "huge format",
            GATE_LOCK.replace(
                "format_version = 1",
                "format_version = 99999999999999999999",
            ),
        ),
        (
            "negative format",
            GATE_LOCK.replace("format_version = 1", "format_version = -1"),
        ),
        (
            "duplicate key",
            GATE_LOCK.replace("id = \"gate-os\"\n", "id = \"gate-os\"\nid = \"gate-os\"\n"),
        ),
        (
            "string format",
            GATE_LOCK.replace("format_version = 1", "format_version = \"one\""),
        ),
        ("not toml", "format_version = = 1\n".to_owned()),
    ];
    for (case, lock) in &locks {
        let (code, _, err) = run(&[("gate.yaml", GATE_CATALOG)], &[("gate-os.toml", lock)]);
        assert_eq!(code, 4, "{case}: {err}");
        for phrase in INTERNAL {
            assert!(!err.contains(phrase), "{case}: leaks `{phrase}`: {err}");
        }
        assert_eq!(
            errors_without_hint(&err),
            Vec::<String>::new(),
            "{case}: {err}"
        );
    }
}

/// What `validate` can know offline: a key file that is no OpenPGP key, an id too long for
/// its lockfile's name, a Glance name with a control character or over Glance's 255.
#[test]
fn offline_checks_of_keys_ids_and_names() {
    let with = |text: &str| {
        run(
            &[
                ("settings.yaml", SETTINGS),
                ("images.yaml", text),
                ("not-a-key.asc", "this is not an OpenPGP key\n"),
            ],
            &[],
        )
    };
    let key = GOOD.replace(
        "    source:",
        "    signature:\n      policy: required\n      keys: [not-a-key.asc]\n    source:",
    );
    let (code, _, err) = with(&key);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("signature key file `not-a-key.asc` is not an OpenPGP key"),
        "{err}"
    );
    assert!(err.contains(" --> catalog/images.yaml:6:7"), "{err}");

    let long_id = "a".repeat(251);
    let (code, _, err) = with(&GOOD.replace("ubuntu-24.04", &long_id));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("too long for its lockfile's name"), "{err}");

    let long_name = "N".repeat(256);
    let (code, _, err) = with(&GOOD.replace("Ubuntu 24.04", &long_name));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("256 characters; Glance allows 255"), "{err}");
    assert!(err.contains(" --> catalog/images.yaml:3:11"), "{err}");

    let (code, _, err) = with(&GOOD.replace("Ubuntu 24.04", "\"Ubuntu\\u0007 24.04\""));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("control character"), "{err}");
    let (_, _, err) = with(&key);
    assert_eq!(errors_without_hint(&err), Vec::<String>::new(), "{err}");
}

/// The catalog's settings with one mirror (`@FROM@` → `@TO@`), valid otherwise.
const MIRROR_SETTINGS: &str = r#"settings:
  mirrors:
    "@FROM@": "@TO@"
  defaults:
    glance:
      min_disk: 4
      min_ram: 512
      properties:
        os_purpose: generic
        hw_disk_bus: scsi
        hw_scsi_model: virtio-scsi
        replace_frequency: quarterly
        provided_until: none
        uuid_validity: last-3
"#;

const GOOD_PROPERTIES: &str = "    glance:\n      properties:\n        os_distro: ubuntu\n        os_version: \"24.04\"\n        image_original_user: ubuntu\n        image_description: notes\n";

/// One image per source kind with URL fields, each field a placeholder.
fn url_sources() -> Vec<(&'static str, String)> {
    let sum = "0".repeat(64);
    [
        ("checksum-dir", "      checksum-dir:\n        url: \"@url@\"\n        checksum_file: SHA256SUMS\n        pattern: 'cd-(?P<version>\\d+)\\.qcow2'\n".to_owned()),
        ("object-storage", "      object-storage:\n        url: \"@url@\"\n        listing: swift\n        pattern: 'k-(?P<version>\\d+)\\.qcow2'\n        checksum_file: SHA256SUMS\n".to_owned()),
        ("github-release", "      github-release:\n        repo: owner/name\n        asset: 'img-(?P<version>\\d+)\\.qcow2'\n        api_url: \"@api_url@\"\n".to_owned()),
        ("static", format!("      static:\n        url: \"@url@\"\n        checksum: sha256:{sum}\n        version: \"15.6\"\n        build_date: \"2026-01-01\"\n")),
        ("diskimage-builder", "      diskimage-builder:\n        elements: [vm, debian-minimal]\n        release: bookworm\n        mirror: \"@mirror@\"\n        security_mirror: \"@security_mirror@\"\n        publish:\n          listing: s3\n          url: \"@publish.url@\"\n".to_owned()),
    ]
    .into_iter()
    .map(|(kind, source)| {
        (
            kind,
            format!("images:\n  - id: {kind}\n    name: {kind}\n    source:\n{source}{GOOD_PROPERTIES}"),
        )
    })
    .collect()
}

/// Broken URLs (as YAML double-quoted text), what the error says, and a secret that must not
/// be printed.
const URL_FAULTS: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "unparsable",
        "mirror.example.org/images/",
        "is not a URL (relative URL without a base)",
        None,
    ),
    (
        "bad port",
        "https://mirror.example.org:99999/images/",
        "is not a URL (invalid port number)",
        None,
    ),
    (
        "file scheme",
        "file:///srv/images/",
        "has the scheme `file:`; only http and https are fetched",
        None,
    ),
    (
        "ftp scheme",
        "ftp://mirror.example.org/images/",
        "has the scheme `ftp:`",
        None,
    ),
    (
        "credentials",
        "https://alice:s3cr3t-pw@mirror.example.org/images/",
        "carries credentials",
        Some("s3cr3t-pw"),
    ),
    (
        "token as user",
        "https://ghp-t0ken-value@mirror.example.org/images/",
        "carries credentials",
        Some("ghp-t0ken-value"),
    ),
    ("empty host", "https://:8443/images/", "has no host", None),
    (
        "space",
        "https://mirror.example.org/my images/",
        "has a whitespace or control character ( )",
        None,
    ),
    (
        "tab",
        "https://mirror.example.org/a\\tb/",
        "has a whitespace or control character (\\t)",
        None,
    ),
    (
        "escape char",
        "https://mirror.example.org/a\\x1bb/",
        "has a whitespace or control character (\\u{1b})",
        None,
    ),
    (
        "no slashes",
        "https:mirror.example.org/images/",
        "is not written `http(s)://host/path`",
        None,
    ),
    (
        "dot segment",
        "https://mirror.example.org/a/../images/",
        "has a `.` or `..` path segment",
        None,
    ),
];

/// `file:line:col` of the first occurrence of `needle` in `text` (1-based, in characters).
fn place_of(file: &str, text: &str, needle: &str) -> String {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in {text}"));
    let line = text[..at].matches('\n').count() + 1;
    let column = text[..at].rsplit('\n').next().unwrap().chars().count() + 1;
    format!("catalog/{file}:{line}:{column}")
}

/// The only `error:` lines of a run (without the count line).
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("error: ") && !l.contains("problems found"))
        .collect()
}

/// Every URL field of the catalog, each with every fault: exit 4, one error naming the field,
/// at the field's own `file:line:col`, with a hint, never printing credentials.
#[test]
fn every_url_field_refuses_every_malformed_url() {
    const OK: &str = "https://mirror.example.org/images/";
    let mut cases = 0;
    let check =
        |case: &str, files: &[(&str, &str)], place: &str, wants: &[&str], secret: Option<&str>| {
            let (code, _, err) = run(files, &[]);
            assert_eq!(code, 4, "{case}: {err}");
            let errors = error_lines(&err);
            assert_eq!(errors.len(), 1, "{case}: one error expected:\n{err}");
            for want in wants {
                assert!(errors[0].contains(want), "{case}: want {want:?}:\n{err}");
            }
            assert!(
                err.contains(&format!(" --> {place}\n")),
                "{case}: want {place}:\n{err}"
            );
            assert_eq!(
                errors_without_hint(&err),
                Vec::<String>::new(),
                "{case}: {err}"
            );
            if let Some(s) = secret {
                assert!(!err.contains(s), "{case}: prints the credentials:\n{err}");
            }
        };
    for &(fault, bad, want, secret) in URL_FAULTS {
        // `settings.mirrors`, both sides.
        for side in ["@FROM@", "@TO@"] {
            let settings = MIRROR_SETTINGS
                .replace(side, bad)
                .replace("@FROM@", "https://cloud-images.ubuntu.com/")
                .replace("@TO@", OK);
            let needle = if side == "@FROM@" {
                format!("\"{bad}\"")
            } else {
                format!("\"{bad}\"\n")
            };
            let place = place_of("settings.yaml", &settings, &needle);
            let case = format!("mirrors {side} / {fault}");
            check(
                &case,
                &[("settings.yaml", &settings), ("images.yaml", GOOD)],
                &place,
                &[want],
                secret,
            );
            cases += 1;
        }
        // Every URL field of every source.
        for (kind, template) in url_sources() {
            let fields: Vec<&str> = template.split('@').skip(1).step_by(2).collect();
            for field in &fields {
                let mut text = template.replace(&format!("@{field}@"), bad);
                for other in &fields {
                    text = text.replace(&format!("@{other}@"), OK);
                }
                let key = format!("{}: \"{bad}\"", field.rsplit('.').next().unwrap());
                let place = place_of("images.yaml", &text, &key);
                let case = format!("{kind}.{field} / {fault}");
                let field_named = format!("error: `{field}: ");
                check(
                    &case,
                    &[("settings.yaml", SETTINGS), ("images.yaml", &text)],
                    &place,
                    &[&field_named, want],
                    secret,
                );
                cases += 1;
            }
        }
    }
    // 2 mirror sides + 7 source fields, each with every fault.
    assert_eq!(cases, 9 * URL_FAULTS.len());
    // The same catalogs with good URLs pass: the faults alone are what fails them.
    for (kind, template) in url_sources() {
        let mut text = template.clone();
        for field in ["url", "api_url", "mirror", "security_mirror", "publish.url"] {
            text = text.replace(&format!("@{field}@"), OK);
        }
        let settings = MIRROR_SETTINGS
            .replace("@FROM@", "https://cloud-images.ubuntu.com/")
            .replace("@TO@", OK);
        let (code, _, err) = run(&[("settings.yaml", &settings), ("images.yaml", &text)], &[]);
        assert_eq!(code, 0, "{kind}: {err}");
    }
}
