//! A CirrOS release tree on disk, as download.cirros-cloud.net lays it out, for tests that
//! serve it on 127.0.0.1 and import its (tiny, valid qcow2) image into the test Glance.

use std::path::Path;

use sha2::{Digest as _, Sha256};

/// An empty 1 MiB qcow2 (version 3, 64 KiB clusters): Glance inspects uploads and refuses a
/// `qcow2` image whose bytes are not qcow2. Header, refcount table, refcount block, L1 table.
pub fn tiny_qcow2() -> Vec<u8> {
    const CLUSTER: usize = 1 << 16;
    let mut img = vec![0u8; 4 * CLUSTER];
    let mut h: Vec<u8> = Vec::new();
    h.extend_from_slice(&0x5146_49fb_u32.to_be_bytes()); // "QFI\xfb"
    h.extend_from_slice(&3u32.to_be_bytes()); // version
    h.extend_from_slice(&0u64.to_be_bytes()); // no backing file
    h.extend_from_slice(&0u32.to_be_bytes());
    h.extend_from_slice(&16u32.to_be_bytes()); // cluster_bits
    h.extend_from_slice(&(1u64 << 20).to_be_bytes()); // virtual size
    h.extend_from_slice(&0u32.to_be_bytes()); // no encryption
    h.extend_from_slice(&1u32.to_be_bytes()); // l1_size
    h.extend_from_slice(&(3 * CLUSTER as u64).to_be_bytes()); // l1_table_offset
    h.extend_from_slice(&(CLUSTER as u64).to_be_bytes()); // refcount_table_offset
    h.extend_from_slice(&1u32.to_be_bytes()); // refcount_table_clusters
    h.extend_from_slice(&0u32.to_be_bytes()); // nb_snapshots
    h.extend_from_slice(&0u64.to_be_bytes()); // snapshots_offset
    h.extend_from_slice(&[0u8; 24]); // incompatible, compatible, autoclear features
    h.extend_from_slice(&4u32.to_be_bytes()); // refcount_order (16-bit)
    h.extend_from_slice(&104u32.to_be_bytes()); // header_length
    img[..h.len()].copy_from_slice(&h);
    img[CLUSTER..CLUSTER + 8].copy_from_slice(&(2 * CLUSTER as u64).to_be_bytes());
    for c in 0..4 {
        img[2 * CLUSTER + 2 * c + 1] = 1;
    }
    img
}

/// A CirrOS release tree as download.cirros-cloud.net lays it out (docs/upstream-formats.md),
/// with a small image whose sha256 and size the stream states truthfully.
pub fn cirros_tree(root: &Path) {
    let image = tiny_qcow2();
    let sha = hex::encode(Sha256::digest(&image));
    std::fs::create_dir_all(root.join("0.6.3")).unwrap();
    std::fs::create_dir_all(root.join("version")).unwrap();
    std::fs::create_dir_all(root.join("streams/v1")).unwrap();
    std::fs::write(root.join("0.6.3/cirros-0.6.3-x86_64-disk.img"), &image).unwrap();
    std::fs::write(root.join("version/released"), "0.6.3\n").unwrap();
    let stream = serde_json::json!({
        "content_id": "net.cirros-cloud:released:download",
        "datatype": "image-downloads",
        "format": "products:1.0",
        "products": {
            "net.cirros-cloud:standard:0.6:x86_64": {
                "arch": "x86_64",
                "os": "cirros",
                "versions": {
                    "20240925": {
                        "items": {"disk.img": {
                            "ftype": "disk.img",
                            "path": "0.6.3/cirros-0.6.3-x86_64-disk.img",
                            "sha256": sha,
                            "size": image.len(),
                        }},
                        "pubname": "cirros-0.6.3-x86_64",
                        "version": "0.6.3"
                    }
                }
            }
        },
        "updated": "Thu, 26 Sep 2024 12:00:00 +0000"
    });
    std::fs::write(
        root.join("streams/v1/net.cirros-cloud:released:download.json"),
        serde_json::to_vec_pretty(&stream).unwrap(),
    )
    .unwrap();
}
