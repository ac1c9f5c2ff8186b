//! Done when (issue 11): the shipped catalog's shape, applied into the real Glance, passes the
//! scs-0104 `image_source` prefix and name rules of the official lists for every image it
//! creates. Upstreams are fixture trees written here from the documented formats (Ubuntu
//! simplestreams, Debian's build manifest + `SHA512SUMS`, an S3 ListObjectsV2 container with
//! `.CHECKSUM` sidecars), served on 127.0.0.1 and reached through `--mirror`. The only change
//! to the shipped files: the Ubuntu fixture cannot carry Canonical's signature, so its policy is
//! `if-published` (and the CAPI entry v1.35 is enabled).
//!
//! The rules are those of SovereignCloudStack/standards `Tests/iaas/scs-0104-v1-images-v5.yaml`
//! and `scs-0104-v1-images.yaml` (test ids scs-0104-source-ubuntu-2404, -debian-12, -capi-1,
//! -capi-2, scs-0104-image-ubuntu-2404, -debian-12, -capi-2), restated here as data.

#![allow(clippy::print_stderr)] // commands are echoed so a failing test shows what the tool said

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use image_crawler::openstack::{Glance, GlanceImage};
use sha2::Digest as _;
use support::FixtureServer;

const CLOUD: &str = "gk-admin";

/// (name or name scheme, is a scheme, allowed prefixes), as the official YAML lists them.
const SCS_0104: &[(&str, bool, &[&str])] = &[
    (
        "Ubuntu 24.04",
        false,
        &[
            "https://cloud-images.ubuntu.com/releases/noble/",
            "https://cloud-images.ubuntu.com/noble/",
        ],
    ),
    (
        "Debian 12",
        false,
        &[
            "https://cloud.debian.org/images/cloud/bookworm/",
            "https://cdimage.debian.org/cdimage/cloud/bookworm/",
        ],
    ),
    (r"ubuntu-capi-image-v[0-9]\.[0-9]+(\.[0-9]+)?", true, CAPI),
    (r"ubuntu-capi-image v[0-9]\.[0-9]+(\.[0-9]+)?", true, CAPI),
];
const CAPI: &[&str] = &[
    "https://nbg1.your-objectstorage.com/osism/openstack-k8s-capi-images/",
    "https://swift.services.a.regiocloud.tech/swift/v1/AUTH_b182637428444b9aa302bb8d5a5a418c/openstack-k8s-capi-images/ubuntu-2404-kube",
    "https://swift.services.a.regiocloud.tech/swift/v1/AUTH_b182637428444b9aa302bb8d5a5a418c/openstack-k8s-capi-images/ubuntu-2204-kube",
];

/// A minimal valid qcow2 (version 2, 1 MiB virtual, 64 KiB clusters, nothing allocated), with
/// `marker` in the unused rest of the header cluster so every image has its own digest.
/// Glance inspects uploads and refuses bytes that are not the declared `disk_format`.
fn qcow2(marker: &str) -> Vec<u8> {
    const CLUSTER: usize = 0x10000;
    let mut d = vec![0u8; 3 * CLUSTER + 8];
    let mut put = |at: usize, bytes: &[u8]| d[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, b"QFI\xfb");
    put(4, &2u32.to_be_bytes()); // version
    put(20, &16u32.to_be_bytes()); // cluster_bits
    put(24, &(1u64 << 20).to_be_bytes()); // virtual size
    put(36, &1u32.to_be_bytes()); // l1_size
    put(40, &(3 * CLUSTER as u64).to_be_bytes()); // l1_table_offset
    put(48, &(CLUSTER as u64).to_be_bytes()); // refcount_table_offset
    put(56, &1u32.to_be_bytes()); // refcount_table_clusters
    put(CLUSTER, &(2 * CLUSTER as u64).to_be_bytes()); // refcount block
    put(2 * CLUSTER, &[0, 1, 0, 1, 0, 1, 0, 1]); // clusters 0..3 in use
    put(0x200, marker.as_bytes());
    d
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// The three upstreams, with one build each.
fn upstream_tree(root: &Path) {
    // Ubuntu: simplestreams item path through the `server/` alias, as Canonical publishes it.
    let img = qcow2("ubuntu noble fixture");
    let sha = hex::encode(sha2::Sha256::digest(&img));
    let md5 = hex::encode(md5::Md5::digest(&img));
    let stream = format!(
        r#"{{"content_id": "com.ubuntu.cloud:released:download", "datatype": "image-downloads", "format": "products:1.0",
"products": {{"com.ubuntu.cloud:server:24.04:amd64": {{"arch": "amd64", "os": "ubuntu", "release": "noble", "version": "24.04",
"versions": {{"20261101": {{"items": {{"disk1.img": {{"ftype": "disk1.img", "md5": "{md5}",
"path": "server/releases/noble/release-20261101/ubuntu-24.04-server-cloudimg-amd64.img", "sha256": "{sha}", "size": {size}}}}},
"label": "release", "pubname": "ubuntu-noble-24.04-amd64-server-20261101"}}}}}}}}, "updated": "Sun, 01 Nov 2026 03:00:00 +0000"}}"#,
        size = img.len()
    );
    write(
        root,
        "ubuntu/releases/streams/v1/com.ubuntu.cloud:released:download.json",
        stream.as_bytes(),
    );
    let dir = "ubuntu/releases/noble/release-20261101/";
    write(
        root,
        &format!("{dir}ubuntu-24.04-server-cloudimg-amd64.img"),
        &img,
    );
    write(
        root,
        &format!("{dir}SHA256SUMS"),
        format!("{sha} *ubuntu-24.04-server-cloudimg-amd64.img\n").as_bytes(),
    );
    // The alias tree serves the same file (a symlink upstream).
    write(
        root,
        "ubuntu/releases/server/releases/noble/release-20261101/ubuntu-24.04-server-cloudimg-amd64.img",
        &img,
    );

    // Debian: the latest/ manifest names the dated build; SHA512SUMS next to it.
    let img = qcow2("debian bookworm fixture");
    let digest = sha2::Sha512::digest(&img);
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest);
    let file = "debian-12-genericcloud-amd64-20261101-2000.qcow2";
    let manifest = format!(
        r#"{{"apiVersion": "v1", "kind": "List", "items": [
{{"apiVersion": "cloud.debian.org/v1alpha1", "kind": "Build", "data": {{"info": {{"arch": "amd64", "release": "bookworm", "release_id": "12", "vendor": "genericcloud", "version": "20261101-2000"}}}},
 "metadata": {{"labels": {{"cloud.debian.org/vendor": "genericcloud", "cloud.debian.org/version": "20261101-2000", "debian.org/arch": "amd64", "debian.org/release": "bookworm"}}}}}},
{{"apiVersion": "cloud.debian.org/v1alpha1", "kind": "Upload", "data": {{"provider": "cloud.debian.org", "ref": "bookworm/20261101-2000/{file}"}},
 "metadata": {{"annotations": {{"cloud.debian.org/digest": "sha512:{b64}"}},
  "labels": {{"cloud.debian.org/vendor": "genericcloud", "cloud.debian.org/version": "20261101-2000", "debian.org/arch": "amd64", "debian.org/release": "bookworm",
   "upload.cloud.debian.org/image-format": "qcow2", "upload.cloud.debian.org/type": "release"}}}}}}]}}"#
    );
    write(
        root,
        "debian/bookworm/latest/debian-12-genericcloud-amd64.json",
        manifest.as_bytes(),
    );
    write(root, &format!("debian/bookworm/20261101-2000/{file}"), &img);
    write(
        root,
        "debian/bookworm/20261101-2000/SHA512SUMS",
        format!("{}  {file}\n", hex::encode(digest)).as_bytes(),
    );

    // CAPI: OSISM's bucket, ListObjectsV2, one page, `.CHECKSUM` sidecars.
    let prefix = "openstack-k8s-capi-images/ubuntu-2404-kube-v1.35/";
    let mut contents = String::new();
    for (patch, day) in [(1, "2026-10-01"), (2, "2026-11-02")] {
        let name = format!("ubuntu-2404-kube-v1.35.{patch}.qcow2");
        let img = qcow2(&format!("capi v1.35.{patch} fixture"));
        let sidecar = format!("{}  {name}\n", hex::encode(sha2::Sha256::digest(&img)));
        write(root, &format!("s3/osism/{prefix}{name}"), &img);
        write(
            root,
            &format!("s3/osism/{prefix}{name}.CHECKSUM"),
            sidecar.as_bytes(),
        );
        for (key, size) in [
            (name.clone(), img.len()),
            (format!("{name}.CHECKSUM"), sidecar.len()),
        ] {
            contents.push_str(&format!(
                "<Contents><Key>{prefix}{key}</Key><LastModified>{day}T08:00:00.000Z</LastModified><Size>{size}</Size></Contents>\n"
            ));
        }
    }
    let listing = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>osism</Name><Prefix>{prefix}</Prefix><IsTruncated>false</IsTruncated>\n{contents}</ListBucketResult>\n"
    );
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("list-type", "2")
        .append_pair("prefix", prefix)
        .finish();
    write(root, &format!("s3/osism?{query}"), listing.as_bytes());
}

/// The shipped catalog files, with a run-unique vendor and a target of the three images.
fn project(root: &Path, vendor: &str) {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    let catalog = root.join("catalog");
    support::copy_tree(&shipped.join("keys"), &catalog.join("keys"));
    let settings = std::fs::read_to_string(shipped.join("settings.yaml"))
        .unwrap()
        .replace("vendor: image_crawler", &format!("vendor: {vendor}"))
        .replace(
            "  targets: []",
            &format!("  targets:\n    - cloud: {CLOUD}\n      images: [ubuntu-24.04, debian-12, ubuntu-capi-image-v1.35]"),
        );
    assert!(settings.contains(vendor) && settings.contains("ubuntu-capi-image-v1.35"));
    std::fs::write(catalog.join("settings.yaml"), settings).unwrap();
    let ubuntu = std::fs::read_to_string(shipped.join("ubuntu.yaml"))
        .unwrap()
        .replacen("policy: required", "policy: if-published", 1);
    std::fs::write(catalog.join("ubuntu.yaml"), ubuntu).unwrap();
    std::fs::copy(shipped.join("debian.yaml"), catalog.join("debian.yaml")).unwrap();
    let capi = std::fs::read_to_string(shipped.join("capi.yaml")).unwrap();
    let at = capi
        .find("  - id: ubuntu-capi-image-v1.35")
        .expect("the shipped v1.35 entry");
    let (head, tail) = capi.split_at(at);
    let capi = format!(
        "{head}{}",
        tail.replacen("enabled: false", "enabled: true", 1)
    );
    std::fs::write(catalog.join("capi.yaml"), capi).unwrap();
    std::fs::create_dir_all(root.join("state")).unwrap();
}

fn run(root: &Path, server: &FixtureServer, args: &[&str]) -> std::process::Output {
    let base = server.url();
    let out = Command::new(env!("CARGO_BIN_EXE_image-crawler"))
        .env("OS_CLIENT_CONFIG_FILE", support::clouds::clouds_file())
        .env_remove("OS_CLOUD")
        .env("NO_COLOR", "1")
        .env("IMAGE_CRAWLER_CACHE_DIR", root.join("cache"))
        .arg("--catalog")
        .arg(root.join("catalog"))
        .arg("--state")
        .arg(root.join("state"))
        .args(args)
        .arg("--mirror")
        .arg(format!("https://cloud-images.ubuntu.com/={base}/ubuntu/"))
        .arg("--mirror")
        .arg(format!(
            "https://cloud.debian.org/images/cloud/={base}/debian/"
        ))
        .arg("--mirror")
        .arg(format!("https://nbg1.your-objectstorage.com/={base}/s3/"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    eprintln!(
        "$ image-crawler {}\n--- exit {:?}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

async fn managed(g: &Glance, vendor: &str) -> Vec<GlanceImage> {
    let tag = format!("managed_by_{vendor}");
    image_crawler::reconcile::apply::observe(g)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.tags.contains(&tag))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_catalog_shape_passes_scs_0104_in_a_real_glance() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("upstream");
    upstream_tree(&tree);
    let server = FixtureServer::start(&tree);
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000;
    let vendor = format!("scs{nonce}");
    project(dir.path(), &vendor);

    let check = run(
        dir.path(),
        &server,
        &[
            "check",
            "ubuntu-24.04",
            "debian-12",
            "ubuntu-capi-image-v1.35",
        ],
    );
    assert_eq!(check.status.code(), Some(0));
    let apply = run(dir.path(), &server, &["apply", "--cloud", CLOUD, "--yes"]);
    let g = Glance::connect(support::clouds::cloud(CLOUD))
        .await
        .unwrap();
    let created = managed(&g, &vendor).await;
    // IMAGE_CRAWLER_TEST_KEEP_IMAGES=1 leaves the applied images in Glance, so that the
    // official SCS checker can be run against them by hand (docs/audit.md, "Official run").
    if std::env::var_os("IMAGE_CRAWLER_TEST_KEEP_IMAGES").is_none() {
        for i in &created {
            let _ = g.delete(&i.id).await;
        }
    }
    assert_eq!(apply.status.code(), Some(0));

    let by_name: BTreeMap<&str, &GlanceImage> =
        created.iter().map(|i| (i.name.as_str(), i)).collect();
    assert_eq!(
        by_name.keys().copied().collect::<Vec<_>>(),
        ["Debian 12", "Ubuntu 24.04", "ubuntu-capi-image-v1.35"]
    );
    for img in &created {
        let source = img
            .properties
            .get("image_source")
            .map_or("", String::as_str);
        let mut matched = 0;
        for (name, scheme, prefixes) in SCS_0104 {
            let applies = if *scheme {
                regex::Regex::new(&format!("^(?:{name})"))
                    .unwrap()
                    .is_match(&img.name)
            } else {
                img.name == *name
            };
            if applies {
                matched += 1;
                assert!(
                    prefixes.iter().any(|p| source.starts_with(p)),
                    "{}: image_source {source} matches none of {prefixes:?}",
                    img.name
                );
            }
        }
        assert_eq!(matched, 1, "{} is a standard image by name", img.name);
        assert_eq!(img.visibility, "public", "{}", img.name);
        assert!(!img.hidden, "{}", img.name);
    }
    assert_eq!(
        by_name["Ubuntu 24.04"].properties["image_source"],
        "https://cloud-images.ubuntu.com/releases/noble/release-20261101/ubuntu-24.04-server-cloudimg-amd64.img"
    );
    let capi = by_name["ubuntu-capi-image-v1.35"];
    assert_eq!(
        capi.properties["image_source"],
        "https://nbg1.your-objectstorage.com/osism/openstack-k8s-capi-images/ubuntu-2404-kube-v1.35/ubuntu-2404-kube-v1.35.2.qcow2"
    );
    assert_eq!(capi.properties["os_purpose"], "k8snode");
    assert_eq!(capi.properties["image_build_date"], "2026-11-02");
}
