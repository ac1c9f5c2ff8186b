//! `diskimage-builder` images: the recipe as data, and where its builds are published.
//!
//! The tool does not grow its own builder: `disk-image-create` builds, and the artifacts are
//! published to an object-storage container in the layout below, so `check` discovers a built
//! image exactly like a distributor's, through [`crate::upstream::object_storage`]:
//!
//! ```text
//! <container>/<image id>/<version>/<image id>.qcow2
//! <container>/<image id>/<version>/SHA256SUMS        (+ SHA256SUMS.asc when signed)
//! <container>/<image id>/<version>/manifest.json
//! ```
//!
//! `<version>` is the build time, `YYYYMMDDTHHMMSSZ`, so versions sort as builds happened and
//! the build date is in the key.

pub mod archive;
pub mod engine;
pub mod manifest;
pub mod publish;
pub mod run;
pub mod sigv4;
pub mod trigger;

use sha2::{Digest, Sha256};

use crate::catalog::Architecture;
use crate::catalog::raw::{DiskimageBuilderSource, ObjectStorageSource};

/// The checksum file every published build carries.
pub const CHECKSUM_FILE: &str = "SHA256SUMS";
/// Its detached signature, when builds are signed.
pub const SIGNATURE_FILE: &str = "SHA256SUMS.asc";

/// The object-storage source that discovers the published builds of image `id`.
pub fn published_source(id: &str, recipe: &DiskimageBuilderSource) -> ObjectStorageSource {
    let id_re = regex::escape(id);
    ObjectStorageSource {
        url: recipe.publish.url.clone(),
        listing: recipe.publish.listing,
        prefix: Some(format!("{id}/")),
        pattern: format!(r"{id_re}/(?P<version>(?P<date>\d{{8}})T\d{{6}}Z)/{id_re}\.qcow2"),
        checksum_file: Some(CHECKSUM_FILE.to_owned()),
        checksum_suffixes: Vec::new(),
        signature_file: recipe.publish.signed.then(|| SIGNATURE_FILE.to_owned()),
    }
}

/// The key of a build's object `file` below the container.
pub fn object_key(id: &str, version: &str, file: &str) -> String {
    format!("{id}/{version}/{file}")
}

/// The key of a build's manifest next to its image at `image_url` (the published layout).
pub fn manifest_url(image_url: &str) -> String {
    match image_url.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{MANIFEST_FILE}"),
        None => MANIFEST_FILE.to_owned(),
    }
}

/// What went into a build, published next to it.
pub const MANIFEST_FILE: &str = "manifest.json";

/// A digest of what goes into a build (elements, release, mirrors as the catalog writes them,
/// environment, architecture), so a changed recipe is a reason to rebuild. Canonical: fields
/// in a fixed order, environment sorted; the catalog's `mirrors` rewrites are not part of it
/// (an air-gapped builder and a public checker agree on it).
pub fn recipe_digest(recipe: &DiskimageBuilderSource, arch: Architecture) -> String {
    let mut h = Sha256::new();
    let mut field = |k: &str, v: &str| {
        // Length-prefixed, so no two recipes serialize alike.
        h.update(format!("{}:{k}={}:{v}\n", k.len(), v.len()));
    };
    for e in &recipe.elements {
        field("element", e);
    }
    field("release", &recipe.release);
    field("mirror", &recipe.mirror);
    field(
        "security_mirror",
        recipe.security_mirror.as_deref().unwrap_or(""),
    );
    for (k, v) in &recipe.environment {
        field(k, v);
    }
    field("architecture", arch.as_str());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::raw::{ObjectListing, PublishTarget};

    fn recipe() -> DiskimageBuilderSource {
        DiskimageBuilderSource {
            elements: vec!["vm".into(), "debian-minimal".into()],
            release: "bookworm".into(),
            mirror: "http://deb.debian.org/debian".into(),
            security_mirror: None,
            environment: Default::default(),
            archive: Default::default(),
            publish: PublishTarget {
                url: "http://127.0.0.1:1/builds".into(),
                listing: ObjectListing::S3,
                signed: false,
            },
        }
    }

    #[test]
    fn published_layout_is_what_discovery_matches() {
        let src = published_source("debian-12-dib", &recipe());
        let re = regex::Regex::new(&format!("^(?:{})$", src.pattern)).unwrap();
        let key = object_key("debian-12-dib", "20261201T230000Z", "debian-12-dib.qcow2");
        let caps = re.captures(&key).expect("the published key matches");
        assert_eq!(&caps["version"], "20261201T230000Z");
        assert_eq!(&caps["date"], "20261201");
        assert!(!re.is_match("debian-12-dib/20261201T230000Z/SHA256SUMS"));
        assert!(!re.is_match("other/20261201T230000Z/debian-12-dib.qcow2"));
        assert_eq!(src.prefix.as_deref(), Some("debian-12-dib/"));
        assert_eq!(src.checksum_file.as_deref(), Some(CHECKSUM_FILE));
        assert_eq!(src.signature_file, None);
    }

    #[test]
    fn recipe_digest_changes_with_every_input() {
        let x86 = Architecture::X86_64;
        let base = recipe_digest(&recipe(), x86);
        let mut r = recipe();
        r.elements.push("growroot".into());
        assert_ne!(recipe_digest(&r, x86), base);
        let mut r = recipe();
        r.elements.reverse();
        assert_ne!(recipe_digest(&r, x86), base, "element order matters to DIB");
        let mut r = recipe();
        r.release = "trixie".into();
        assert_ne!(recipe_digest(&r, x86), base);
        let mut r = recipe();
        r.mirror = "http://ftp.de.debian.org/debian".into();
        assert_ne!(recipe_digest(&r, x86), base);
        let mut r = recipe();
        r.environment.insert("DIB_X".into(), "1".into());
        assert_ne!(recipe_digest(&r, x86), base);
        assert_ne!(recipe_digest(&recipe(), Architecture::Aarch64), base);
        // Where builds are published and what is watched are not inputs of the build.
        let mut r = recipe();
        r.publish.url = "http://elsewhere/builds".into();
        r.archive = crate::catalog::raw::ArchiveWatch::None;
        assert_eq!(recipe_digest(&r, x86), base);
        assert_eq!(recipe_digest(&recipe(), x86), base, "deterministic");
    }

    #[test]
    fn the_manifest_is_next_to_the_image() {
        assert_eq!(
            manifest_url("http://s3/builds/d/20261201T230000Z/d.qcow2"),
            "http://s3/builds/d/20261201T230000Z/manifest.json"
        );
    }
}
