//! Builders of catalog, lock and Glance values for the unit tests of this module.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::raw::StaticSource;
use crate::catalog::{Architecture, ID_PROPERTY, Image, Source, VERSION_PROPERTY, Visibility};
use crate::lock::{Build, HashAlgorithm, LockedImage, SignatureState, SignatureStatus};
use crate::openstack::GlanceImage;

use super::plan::{PlanContext, desired};

pub const TAG: &str = "managed_by_test";

pub fn ctx() -> PlanContext {
    PlanContext {
        region: None,
        cloud: "test".into(),
        managed_tag: TAG.into(),
        now: "2026-11-25T12:00:00Z".parse().unwrap(),
        live_claims: BTreeSet::new(),
    }
}

pub fn image(id: &str, name: &str) -> Image {
    let properties: BTreeMap<String, String> = [
        ("os_distro", "ubuntu"),
        ("os_version", "24.04"),
        ("os_purpose", "generic"),
        ("hw_disk_bus", "scsi"),
        ("uuid_validity", "last-2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let static_source = Source::Static(StaticSource {
        url: None,
        checksum: None,
        version: None,
        build_date: None,
        auth: None,
    });
    let mut image = Image {
        name: name.into(),
        ..Image::new(id, static_source, Architecture::X86_64)
    };
    image.glance.min_disk = 8;
    image.glance.visibility = Visibility::Public;
    image.glance.tags = BTreeSet::from(["os:ubuntu".to_owned()]);
    image.glance.properties = properties;
    image.rotation.keep = 1;
    image.rotation.delete = true;
    image
}

/// A lock for `version` built on `date` (`YYYY-MM-DD`).
pub fn lock(id: &str, version: &str, date: &str) -> LockedImage {
    LockedImage {
        format_version: 1,
        id: id.into(),
        source_digest: "sha256:00".into(),
        build: Build {
            version: version.into(),
            build_date: date.into(),
            url: format!("https://upstream.example/{id}/{version}/disk.img"),
            size: Some(1024),
            metadata_url: format!("https://upstream.example/{id}/{version}/SHA256SUMS"),
            checksums: BTreeMap::from([(HashAlgorithm::Sha256, "ab".repeat(32))]),
            signature: SignatureStatus::state(SignatureState::NotPublished),
            image: None,
            inputs: None,
        },
    }
}

/// A Glance image exactly as the tool would leave a current image of `lock`.
pub fn glance_current(gid: &str, image: &Image, lock: &LockedImage) -> GlanceImage {
    let mut g = desired(image, lock, TAG).to_image(gid);
    g.created_at = format!("{}T00:00:00Z", lock.build.build_date);
    g.updated_at = g.created_at.clone();
    g
}

/// A bare managed image in some status (no metadata beyond the markers).
pub fn glance_bare(gid: &str, id: &str, name: &str, status: &str, version: &str) -> GlanceImage {
    GlanceImage {
        id: gid.into(),
        name: name.into(),
        status: status.into(),
        visibility: "private".into(),
        disk_format: Some("qcow2".into()),
        container_format: Some("bare".into()),
        created_at: "2026-11-01T00:00:00Z".into(),
        updated_at: "2026-11-01T00:00:00Z".into(),
        tags: BTreeSet::new(),
        properties: BTreeMap::from([
            (ID_PROPERTY.to_owned(), id.to_owned()),
            (VERSION_PROPERTY.to_owned(), version.to_owned()),
        ]),
        ..Default::default()
    }
}
