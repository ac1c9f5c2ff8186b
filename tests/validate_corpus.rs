//! `validate` over a corpus of broken catalogs, settings and lockfiles: every case is refused
//! (exit 4), every problem about a value names its real `file:line:col` (never `:0:0`, never
//! line 0 in JSON), every error has a hint, and no message leaks the readers' internals.
//!
//! The corpus is built from one valid tree (settings, images of several source kinds, a key
//! file and a lockfile) by changing one thing per case. `cargo test --test validate_corpus --
//! --nocapture` prints the corpus figures.

use std::path::Path;

use assert_cmd::Command;

const SETTINGS: &str = r#"settings:
  vendor: corpus
  mirrors:
    "https://cloud-images.ubuntu.com/": "https://mirror.example.org/ubuntu/"
  download:
    min_rate: 16KiB
    window: 60s
    deadline: 2h
  targets:
    - cloud: staging
      images: ["gate-*"]
      overrides:
        glance:
          visibility: private
  defaults:
    glance:
      min_disk: 4
      min_ram: 512
      visibility: public
      properties:
        os_purpose: generic
        hw_disk_bus: scsi
        hw_scsi_model: virtio-scsi
        replace_frequency: quarterly
        provided_until: none
        uuid_validity: last-3
"#;

const IMAGES: &str = r#"images:
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
      properties:
        os_distro: gateos
        os_version: "1"
        image_original_user: none
        image_description: notes
  - id: ubuntu-24.04
    name: Ubuntu 24.04
    version:
      min_age: 2d
    signature:
      policy: if-published
      keys: [keys/good.asc]
    source:
      ubuntu:
        release: "24.04"
  - id: dir-os
    name: Dir OS
    source:
      checksum-dir:
        url: https://images.example.org/dir/
        checksum_file: SHA256SUMS
        pattern: 'dir-os-(?P<version>\d+)\.qcow2'
    glance:
      properties:
        os_distro: diros
        os_version: "1"
        image_original_user: dir
        image_description: notes
"#;

/// The lockfile of `gate-os`, `@DIGEST@` standing for its source digest.
const LOCK: &str = "format_version = 1\nid = \"gate-os\"\nsource_digest = \"@DIGEST@\"\n\n[build]\nversion = \"1\"\nbuild_date = \"2026-01-01\"\nurl = \"https://images.example.org/gate/gate-os-1.img\"\nmetadata_url = \"https://images.example.org/gate/SHA256SUMS\"\nsize = 10\n\n[build.checksums]\nsha256 = \"1111111111111111111111111111111111111111111111111111111111111111\"\n\n[build.signature]\nstatus = \"off\"\n";

/// Library phrases that must never reach the user (they name the YAML/TOML readers' API or
/// Rust types).
const INTERNAL: &[&str] = &[
    "from_str",
    "DuplicateKeyPolicy",
    "Options",
    "budget",
    "Nodes {",
    "Depth {",
    "invalid u32",
    "invalid u64",
    "expected u32",
    "expected u64",
    "expected i64",
    "saphyr",
    "toml::",
    "serde",
    "i128",
    "externally tagged",
    "enum variant",
    "mapping start",
    "sequence start",
];

/// Diagnostics that concern a whole file or directory, where no line can be named.
const WHOLE_FILE: &[&str] = &[
    "cannot read the catalog",
    "cannot read the lifecycle data",
    "the catalog directory has no",
    "lockfile without a catalog entry",
    "enabled images have no lockfile yet",
];

/// One tree: catalog files and state files, each `(name, bytes)`; `None` removes a file of
/// the valid tree.
struct Case {
    name: String,
    catalog: Vec<(String, Option<Vec<u8>>)>,
    state: Vec<(String, Option<Vec<u8>>)>,
}

fn key_file() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/upstream/keys/fixture-signing-key.asc"),
    )
    .unwrap()
}

fn good_digest() -> String {
    let dir = Path::new("catalog");
    let catalog = image_crawler::catalog::load_from_strings(
        dir,
        &[
            ("catalog/settings.yaml", SETTINGS),
            ("catalog/images.yaml", IMAGES),
        ],
    );
    // Key files are looked up on disk; without them the catalog fails, so resolve the digest
    // from the static image alone.
    let catalog = catalog.or_else(|_| {
        image_crawler::catalog::load_from_strings(
            dir,
            &[
                ("catalog/settings.yaml", SETTINGS),
                (
                    "catalog/images.yaml",
                    &IMAGES[..IMAGES.find("  - id: ubuntu-24.04").unwrap()],
                ),
            ],
        )
    });
    let catalog = catalog.unwrap_or_else(|d| panic!("{d:?}"));
    image_crawler::catalog::source_digest(&catalog.images["gate-os"])
}

fn catalog_case(name: &str, file: &str, text: String) -> Case {
    Case {
        name: name.to_owned(),
        catalog: vec![(file.to_owned(), Some(text.into_bytes()))],
        state: Vec::new(),
    }
}

/// `images.yaml` with `from` replaced by `to` (which must occur).
fn images(name: &str, from: &str, to: &str) -> Case {
    assert!(IMAGES.contains(from), "{name}: `{from}` not in IMAGES");
    catalog_case(name, "images.yaml", IMAGES.replacen(from, to, 1))
}

/// `settings.yaml` with `from` replaced by `to`.
fn settings(name: &str, from: &str, to: &str) -> Case {
    assert!(SETTINGS.contains(from), "{name}: `{from}` not in SETTINGS");
    catalog_case(name, "settings.yaml", SETTINGS.replacen(from, to, 1))
}

/// One more image appended to `images.yaml`.
fn extra_image(name: &str, entry: &str) -> Case {
    catalog_case(name, "images.yaml", format!("{IMAGES}{entry}"))
}

/// The lockfile with `from` replaced by `to`.
fn lock(name: &str, digest: &str, from: &str, to: &str) -> Case {
    let good = LOCK.replace("@DIGEST@", digest);
    assert!(good.contains(from), "{name}: `{from}` not in LOCK");
    Case {
        name: name.to_owned(),
        catalog: Vec::new(),
        state: vec![(
            "gate-os.toml".into(),
            Some(good.replacen(from, to, 1).into_bytes()),
        )],
    }
}

const PROPS: &str = "    glance:\n      properties:\n        os_distro: x\n        os_version: \"1\"\n        image_original_user: x\n        image_description: notes\n";

#[allow(clippy::too_many_lines)] // one flat list of cases
fn corpus(digest: &str) -> Vec<Case> {
    let mut cases = vec![
        // YAML and type errors.
        images(
            "unknown image key",
            "    signature: {policy: off}\n",
            "    signature: {policy: off}\n    enabeld: true\n",
        ),
        settings(
            "unknown settings key",
            "  vendor: corpus\n",
            "  vendor: corpus\n  vendr: x\n",
        ),
        settings(
            "settings visibility typo",
            "      visibility: public\n",
            "      visibility: publik\n",
        ),
        settings("download typo", "    window: 60s\n", "    windw: 60s\n"),
        images(
            "wrong type",
            "      disk_format: raw\n",
            "      disk_format: raw\n      min_disk: big\n",
        ),
        images(
            "negative u32",
            "      disk_format: raw\n",
            "      disk_format: raw\n      min_ram: -5\n",
        ),
        images(
            "huge u32",
            "      disk_format: raw\n",
            "      disk_format: raw\n      min_ram: 99999999999\n",
        ),
        images(
            "yes boolean",
            "    signature: {policy: off}\n",
            "    signature: {policy: off}\n    enabled: yes\n",
        ),
        images(
            "duplicate key",
            "    name: \"Gate OS 1\"\n",
            "    name: \"Gate OS 1\"\n    name: again\n",
        ),
        catalog_case(
            "two documents",
            "images.yaml",
            format!("{IMAGES}---\nimages: []\n"),
        ),
        catalog_case(
            "nesting bomb",
            "extra.yaml",
            format!("images: {}{}\n", "[".repeat(80), "]".repeat(80)),
        ),
        images("tab indentation", "    name: \"Gate", "\tname: \"Gate"),
        images("missing name", "    name: \"Gate OS 1\"\n", ""),
        images(
            "missing source",
            "    source:\n      static:\n        url: \"https://images.example.org/gate/gate-os-1.img\"\n        checksum: \"sha256:1111111111111111111111111111111111111111111111111111111111111111\"\n        version: \"1\"\n        build_date: \"2026-01-01\"\n",
            "",
        ),
        catalog_case("images is a map", "extra.yaml", "images:\n  id: x\n".into()),
        catalog_case("file is a scalar", "extra.yaml", "hello\n".into()),
        catalog_case("file is a list", "extra.yaml", "- id: x\n".into()),
        images(
            "two source kinds",
            "      ubuntu:\n        release: \"24.04\"\n",
            "      ubuntu:\n        release: \"24.04\"\n      debian:\n        release: \"12\"\n",
        ),
        images("unknown source kind", "      ubuntu:\n", "      ubunto:\n"),
        images(
            "empty source",
            "    source:\n      ubuntu:\n        release: \"24.04\"\n",
            "    source: {}\n",
        ),
        images(
            "unknown enum",
            "      disk_format: raw\n",
            "      disk_format: rav\n",
        ),
        images(
            "undefined alias",
            "    name: Ubuntu 24.04\n",
            "    name: *nothing\n",
        ),
        catalog_case(
            "DEL character",
            "extra.yaml",
            "images:\n  - id: a\u{7f}b\n".into(),
        ),
        Case {
            name: "catalog file not UTF-8".into(),
            catalog: vec![(
                "extra.yaml".into(),
                Some(b"images:\n  - id: caf\xe9\n".to_vec()),
            )],
            state: Vec::new(),
        },
        catalog_case(
            "crlf with a typo",
            "extra.yaml",
            "images:\r\n  - id: crlf\r\n    nmae: CRLF\r\n".into(),
        ),
        catalog_case(
            "bom with a typo",
            "extra.yaml",
            "\u{feff}images:\n  - id: bom\n    nmae: BOM\n".into(),
        ),
        // What resolving finds.
        images("duplicate id", "  - id: dir-os\n", "  - id: gate-os\n"),
        images(
            "duplicate name",
            "    name: Dir OS\n",
            "    name: \"Gate OS 1\"\n",
        ),
        images("invalid id", "  - id: dir-os\n", "  - id: Dir_OS!\n"),
        images(
            "id too long",
            "  - id: dir-os\n",
            &format!("  - id: {}\n", "d".repeat(251)),
        ),
        images(
            "name too long",
            "    name: Dir OS\n",
            &format!("    name: {}\n", "N".repeat(256)),
        ),
        images(
            "name with control character",
            "    name: Dir OS\n",
            "    name: \"Dir\\u001bOS\"\n",
        ),
        images("empty name", "    name: Dir OS\n", "    name: \"\"\n"),
        settings(
            "invalid vendor",
            "  vendor: corpus\n",
            "  vendor: Corpus Inc\n",
        ),
        settings(
            "bad mirror",
            "\"https://mirror.example.org/ubuntu/\"",
            "\"mirror.example.org/ubuntu/\"",
        ),
        settings(
            "target twice",
            "  defaults:\n",
            "    - cloud: staging\n      images: [\"gate-*\"]\n  defaults:\n",
        ),
        settings(
            "target matches nothing",
            "      images: [\"gate-*\"]\n",
            "      images: [\"gaet-*\"]\n",
        ),
        settings(
            "target unknown key",
            "      overrides:\n",
            "      overides:\n",
        ),
        settings(
            "bad min_rate",
            "    min_rate: 16KiB\n",
            "    min_rate: fast\n",
        ),
        settings("bad window", "    window: 60s\n", "    window: 1 minute\n"),
        settings("bad deadline", "    deadline: 2h\n", "    deadline: 0s\n"),
        images(
            "bad min_age",
            "      min_age: 2d\n",
            "      min_age: 2 days\n",
        ),
        images(
            "pin and match",
            "      min_age: 2d\n",
            "      min_age: 2d\n      pin: \"20240101\"\n      match: '^2024'\n",
        ),
        images(
            "bad match regex",
            "      min_age: 2d\n",
            "      min_age: 2d\n      match: '(unclosed'\n",
        ),
        images(
            "pattern without version",
            "'dir-os-(?P<version>\\d+)\\.qcow2'",
            "'dir-os-(\\d+)\\.qcow2'",
        ),
        images(
            "bad pattern regex",
            "'dir-os-(?P<version>\\d+)\\.qcow2'",
            "'dir-os-(?P<version>\\d+'",
        ),
        images(
            "missing key file",
            "keys: [keys/good.asc]",
            "keys: [keys/missing.asc]",
        ),
        images(
            "key file not a key",
            "keys: [keys/good.asc]",
            "keys: [keys/not-a-key.asc]",
        ),
        images(
            "required without keys",
            "      policy: if-published\n      keys: [keys/good.asc]\n",
            "      policy: required\n",
        ),
        images(
            "bad provided_until",
            "        os_distro: gateos\n",
            "        os_distro: gateos\n        provided_until: someday\n",
        ),
        images(
            "bad uuid_validity",
            "        os_distro: gateos\n",
            "        os_distro: gateos\n        uuid_validity: last-0\n",
        ),
        images(
            "upper-case os_distro",
            "        os_distro: gateos\n",
            "        os_distro: GateOS\n",
        ),
        images(
            "tool-owned property",
            "        image_description: notes\n  - id: ubuntu",
            "        image_description: notes\n        extra:\n          image_source: x\n  - id: ubuntu",
        ),
        images(
            "server-owned property",
            "        image_description: notes\n  - id: ubuntu",
            "        image_description: notes\n        extra:\n          os_hash_value: x\n  - id: ubuntu",
        ),
        images(
            "keep below uuid_validity",
            "    signature: {policy: off}\n",
            "    signature: {policy: off}\n    rotation:\n      keep: 0\n",
        ),
        images(
            "static without checksum",
            "        checksum: \"sha256:1111111111111111111111111111111111111111111111111111111111111111\"\n",
            "",
        ),
        images(
            "bad static checksum",
            "sha256:1111111111111111111111111111111111111111111111111111111111111111\"\n        version",
            "sha256:111\"\n        version",
        ),
        images(
            "bad static build_date",
            "        build_date: \"2026-01-01\"\n",
            "        build_date: \"2026-02-30\"\n",
        ),
        images(
            "bad auth header",
            "        build_date: \"2026-01-01\"\n",
            "        build_date: \"2026-01-01\"\n        auth:\n          header: \"Bad Header\"\n          env: TOKEN\n",
        ),
        images(
            "empty auth env",
            "        build_date: \"2026-01-01\"\n",
            "        build_date: \"2026-01-01\"\n        auth:\n          header: Authorization\n          env: \" \"\n",
        ),
        images(
            "auth with web-download",
            "        build_date: \"2026-01-01\"\n",
            "        build_date: \"2026-01-01\"\n        auth:\n          header: Authorization\n          env: TOKEN\n    transfer: web-download\n",
        ),
        images(
            "unknown ubuntu release",
            "        release: \"24.04\"\n",
            "        release: \"24.05\"\n",
        ),
        images(
            "static url alias",
            "gate/gate-os-1.img",
            "gate/latest/gate-os.img",
        ),
        images(
            "static url file",
            "https://images.example.org/gate/gate-os-1.img",
            "file:///srv/gate-os-1.img",
        ),
        images(
            "disabled image with errors",
            "  - id: dir-os\n",
            "  - id: dir-os\n    enabled: false\n    rotation: {keep: -1}\n",
        ),
        extra_image(
            "unknown debian release",
            &format!(
                "  - id: deb\n    name: Deb\n    source:\n      debian:\n        release: \"99\"\n{PROPS}"
            ),
        ),
        extra_image(
            "archlinux on aarch64",
            &format!(
                "  - id: arch\n    name: Arch\n    architecture: aarch64\n    source:\n      archlinux: {{}}\n{PROPS}"
            ),
        ),
        extra_image(
            "github repo not owner/name",
            &format!(
                "  - id: gh\n    name: GH\n    source:\n      github-release:\n        repo: just-a-name\n        asset: '(unclosed'\n{PROPS}"
            ),
        ),
        extra_image(
            "object storage without checksum",
            &format!(
                "  - id: os\n    name: OS\n    source:\n      object-storage:\n        url: https://s3.example.org/bucket/\n        listing: s3\n        pattern: 'k-(?P<version>\\d+)\\.qcow2'\n        checksum_suffixes: []\n        signature_file: SHA256SUMS.asc\n{PROPS}"
            ),
        ),
        extra_image(
            "recipe without elements",
            &format!(
                "  - id: dib\n    name: DIB\n    source:\n      diskimage-builder:\n        elements: []\n        release: bookworm\n        mirror: http://deb.debian.org/debian\n        environment:\n          FOO: bar\n        publish:\n          url: https://s3.example.org/built/\n          listing: s3\n{PROPS}"
            ),
        ),
        extra_image(
            "static without anything",
            &format!("  - id: st\n    name: ST\n    source:\n      static: {{}}\n{PROPS}"),
        ),
        extra_image(
            "flow style entry with errors",
            "  - {id: flow, name: Flow, source: {static: {url: \"ftp://x.example/a.img\", checksum: \"md5:0\"}}, glance: {min_disk: 0}}\n",
        ),
        Case {
            name: "settings in two files".into(),
            catalog: vec![(
                "more.yaml".into(),
                Some(b"settings:\n  vendor: again\n".to_vec()),
            )],
            state: Vec::new(),
        },
        Case {
            name: "broken settings file".into(),
            catalog: vec![(
                "settings.yaml".into(),
                Some(
                    SETTINGS
                        .replace("      min_ram: 512\n", "      min_ram: lots\n")
                        .into_bytes(),
                ),
            )],
            state: Vec::new(),
        },
        Case {
            name: "broken lifecycle".into(),
            catalog: vec![(
                "lifecycle.yaml".into(),
                Some(b"releases:\n  ubuntu/24.04: {eol: 2029-05-31}\n  bogus: [\n".to_vec()),
            )],
            state: Vec::new(),
        },
        Case {
            name: "bad lifecycle date".into(),
            catalog: vec![(
                "lifecycle.yaml".into(),
                Some(
                    b"releases:\n  ubuntu/24.04: {eol: 2029-02-30}\n  Ubuntu/x: {eol: none}\n"
                        .to_vec(),
                ),
            )],
            state: Vec::new(),
        },
        // Glance's limits: tags and property names are at most 255 characters.
        images(
            "tag over 255",
            "      disk_format: raw\n",
            &format!(
                "      disk_format: raw\n      tags: [\"{}\"]\n",
                "t".repeat(256)
            ),
        ),
        images(
            "tag with control character",
            "      disk_format: raw\n",
            "      disk_format: raw\n      tags: [\"os:\\tlinux\"]\n",
        ),
        images(
            "property name over 255",
            "        os_distro: gateos\n",
            &format!(
                "        os_distro: gateos\n        extra:\n          {}: v\n",
                "p".repeat(256)
            ),
        ),
        images(
            "property name with control character",
            "        os_distro: gateos\n",
            "        os_distro: gateos\n        extra:\n          \"a\\u0007b\": v\n",
        ),
        images(
            "property value with control character",
            "        os_distro: gateos\n",
            "        os_distro: gateos\n        extra:\n          note: \"a\\u001bb\"\n",
        ),
        // Lockfiles.
        lock("lock negative size", digest, "size = 10", "size = -5"),
        lock(
            "lock huge size",
            digest,
            "size = 10",
            "size = 99999999999999999999",
        ),
        lock(
            "lock huge format",
            digest,
            "format_version = 1",
            "format_version = 99999999999999999999",
        ),
        lock(
            "lock negative format",
            digest,
            "format_version = 1",
            "format_version = -1",
        ),
        lock(
            "lock newer format",
            digest,
            "format_version = 1",
            "format_version = 2",
        ),
        lock(
            "lock string format",
            digest,
            "format_version = 1",
            "format_version = \"one\"",
        ),
        lock("lock without format", digest, "format_version = 1\n", ""),
        lock(
            "lock duplicate key",
            digest,
            "id = \"gate-os\"\n",
            "id = \"gate-os\"\nid = \"gate-os\"\n",
        ),
        lock(
            "lock not toml",
            digest,
            "format_version = 1",
            "format_version = = 1",
        ),
        lock("lock without id", digest, "id = \"gate-os\"\n", ""),
        lock(
            "lock id mismatch",
            digest,
            "id = \"gate-os\"\n",
            "id = \"other-os\"\n",
        ),
        lock(
            "lock without build url",
            digest,
            "url = \"https://images.example.org/gate/gate-os-1.img\"\n",
            "",
        ),
        lock(
            "lock without checksums",
            digest,
            "[build.checksums]\nsha256 = \"1111111111111111111111111111111111111111111111111111111111111111\"\n",
            "",
        ),
        lock(
            "lock empty checksums",
            digest,
            "sha256 = \"1111111111111111111111111111111111111111111111111111111111111111\"\n",
            "",
        ),
        lock(
            "lock unknown key",
            digest,
            "size = 10",
            "size = 10\nsize_mb = 1",
        ),
        lock(
            "lock bad checksum",
            digest,
            "sha256 = \"1111",
            "sha256 = \"X111",
        ),
        lock(
            "lock unknown algorithm",
            digest,
            "sha256 = \"1111",
            "md4 = \"1111",
        ),
        lock(
            "lock bad date",
            digest,
            "build_date = \"2026-01-01\"",
            "build_date = \"2026-13-01\"",
        ),
        lock(
            "lock file url",
            digest,
            "url = \"https://images.example.org/gate/gate-os-1.img\"",
            "url = \"file:///etc/passwd\"",
        ),
        lock(
            "lock alias url",
            digest,
            "gate/gate-os-1.img",
            "gate/latest/gate-os.img",
        ),
        lock(
            "lock url with credentials",
            digest,
            "https://images.example.org/gate/gate-os-1.img",
            "https://u:hunter22@images.example.org/gate/gate-os-1.img",
        ),
        lock(
            "lock bad metadata url",
            digest,
            "metadata_url = \"https://images.example.org/gate/SHA256SUMS\"",
            "metadata_url = \"https://images.example.org/a/../SHA256SUMS\"",
        ),
        lock(
            "lock bad signature url",
            digest,
            "status = \"off\"",
            "status = \"off\"\nurl = \"https://x.example/a b.gpg\"",
        ),
        lock("lock stale", digest, digest, "sha256:0000"),
        lock(
            "lock unknown signature status",
            digest,
            "status = \"off\"",
            "status = \"trusted\"",
        ),
        lock(
            "lock dotted keys",
            digest,
            "[build.checksums]\nsha256 = \"1111",
            "[build.checksums]\nsha256 = \"X111",
        ),
        lock(
            "lock compressed with web-download",
            digest,
            "[build.signature]",
            "[build.image]\ncompression = \"xz\"\n\n[build.signature]",
        ),
        lock("lock empty", digest, &LOCK.replace("@DIGEST@", digest), ""),
        Case {
            name: "orphan lockfile".into(),
            catalog: Vec::new(),
            state: vec![(
                "gone-os.toml".into(),
                Some(
                    LOCK.replace("gate-os", "gone-os")
                        .replace("@DIGEST@", digest)
                        .into_bytes(),
                ),
            )],
        },
        Case {
            name: "lockfile not utf-8".into(),
            catalog: Vec::new(),
            state: vec![(
                "gate-os.toml".into(),
                Some(b"format_version = 1\nid = \"gate-\xff-os\"\n".to_vec()),
            )],
        },
    ];
    // `compressed with web-download` needs the entry to say so.
    for c in &mut cases {
        if c.name == "lock compressed with web-download" {
            c.catalog.push((
                "images.yaml".into(),
                Some(
                    IMAGES
                        .replacen(
                            "    glance:\n      disk_format: raw\n",
                            "    transfer: web-download\n    glance:\n      disk_format: raw\n",
                            1,
                        )
                        .into_bytes(),
                ),
            ));
        }
    }
    cases
}

struct Run {
    code: i32,
    human: String,
    json: serde_json::Value,
}

fn write_tree(root: &Path, case: &Case, digest: &str) {
    let catalog = root.join("catalog");
    let state = root.join("state");
    std::fs::create_dir_all(catalog.join("keys")).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(catalog.join("settings.yaml"), SETTINGS).unwrap();
    std::fs::write(catalog.join("images.yaml"), IMAGES).unwrap();
    std::fs::write(catalog.join("keys/good.asc"), key_file()).unwrap();
    std::fs::write(
        catalog.join("keys/not-a-key.asc"),
        "this is not an OpenPGP key\n",
    )
    .unwrap();
    std::fs::write(state.join("gate-os.toml"), LOCK.replace("@DIGEST@", digest)).unwrap();
    for (dir, files) in [(&catalog, &case.catalog), (&state, &case.state)] {
        for (name, text) in files {
            match text {
                Some(t) => std::fs::write(dir.join(name), t).unwrap(),
                None => std::fs::remove_file(dir.join(name)).unwrap(),
            }
        }
    }
}

fn validate(root: &Path, json: bool) -> (i32, String, String) {
    let mut cmd = Command::cargo_bin("image-crawler").unwrap();
    cmd.current_dir(root)
        .args(["validate", "--color", "never"])
        .env_remove("IMAGE_CRAWLER_CATALOG")
        .env_remove("IMAGE_CRAWLER_STATE")
        .env("TOKEN", "corpus-token-value");
    if json {
        cmd.args(["--format", "json"]);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run(case: &Case, digest: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), case, digest);
    let (code, out, err) = validate(dir.path(), false);
    let (_, json_out, json_err) = validate(dir.path(), true);
    let json = serde_json::from_str(&json_out)
        .unwrap_or_else(|e| panic!("{}: no JSON report ({e}): {json_out}{json_err}", case.name));
    Run {
        code,
        human: out + &err,
        json,
    }
}

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

#[test]
fn the_valid_tree_is_valid() {
    let digest = good_digest();
    let case = Case {
        name: "valid".into(),
        catalog: Vec::new(),
        state: Vec::new(),
    };
    let r = run(&case, &digest);
    assert_eq!(r.code, 0, "{}", r.human);
    assert_eq!(r.json["errors"], 0, "{}", r.json);
}

/// The corpus: each case is refused with exit 4; no problem about a value lacks its place;
/// every error has a hint; nothing leaks the readers' internals.
/// The corpus, run once for all the tests below: `(case name, run)`.
#[allow(clippy::print_stderr)] // CORPUS_DUMP=1 shows every output
fn corpus_runs() -> &'static [(String, Run)] {
    static RUNS: std::sync::OnceLock<Vec<(String, Run)>> = std::sync::OnceLock::new();
    RUNS.get_or_init(|| {
        let digest = good_digest();
        corpus(&digest)
            .iter()
            .map(|case| {
                let r = run(case, &digest);
                if std::env::var_os("CORPUS_DUMP").is_some() {
                    eprintln!("=== {} (exit {})\n{}", case.name, r.code, r.human);
                }
                (case.name.clone(), r)
            })
            .collect()
    })
}

/// Every problem about a value names its line: no `:0:0` in the output, no line 0 in the JSON
/// report except for problems of a whole file or directory.
#[test]
#[allow(clippy::print_stderr)] // the corpus figures are the point
fn no_problem_about_a_value_lacks_its_place() {
    let runs = corpus_runs();
    let mut failures = Vec::new();
    let mut diagnostics = 0;
    for (name, r) in runs {
        if r.human.contains(":0:0") {
            failures.push(format!("{name}: `:0:0` in the output:\n{}", r.human));
        }
        for d in r.json["diagnostics"].as_array().unwrap() {
            diagnostics += 1;
            let message = d["message"].as_str().unwrap();
            if d["line"] == 0 && !WHOLE_FILE.iter().any(|w| message.contains(w)) {
                failures.push(format!("{name}: no line for `{message}` in {}", d["file"]));
            }
        }
    }
    eprintln!(
        "corpus: {} cases, {diagnostics} diagnostics, {} without their place",
        runs.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every case is refused (exit 4); every error has a hint; nothing leaks the readers'
/// internals or a secret.
#[test]
#[allow(clippy::print_stderr)] // the corpus figures are the point
fn broken_input_is_refused_hinted_and_in_its_own_terms() {
    let runs = corpus_runs();
    let mut failures = Vec::new();
    let (mut errors, mut unhinted, mut unhinted_cases) = (0, 0, 0);
    for (name, r) in runs {
        if r.code != 4 {
            failures.push(format!("{name}: exit {} (want 4):\n{}", r.code, r.human));
        }
        errors += r.json["errors"].as_u64().unwrap();
        for phrase in INTERNAL {
            if r.human.contains(phrase) {
                failures.push(format!("{name}: leaks `{phrase}`:\n{}", r.human));
            }
        }
        let missing = errors_without_hint(&r.human);
        if !missing.is_empty() {
            unhinted += missing.len();
            unhinted_cases += 1;
            failures.push(format!("{name}: errors without a hint: {missing:?}"));
        }
        if r.human.contains("hunter22") || r.human.contains("corpus-token-value") {
            failures.push(format!("{name}: prints a secret:\n{}", r.human));
        }
    }
    eprintln!(
        "corpus: {} cases, {errors} errors, {unhinted} errors without a hint (in {unhinted_cases} cases)",
        runs.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
