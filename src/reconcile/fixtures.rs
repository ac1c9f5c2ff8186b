//! Builders of catalog, lock and Glance values for the unit tests of this module.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::raw::StaticSource;
use crate::catalog::{
    Architecture, ContainerFormat, DiskFormat, Glance, ID_PROPERTY, Image, Origin, Rotation,
    Signature, SignatureMode, Source, Transfer, VERSION_PROPERTY, VersionPolicy, Visibility,
};
use crate::lock::{Build, HashAlgorithm, LockedImage, SignatureState, SignatureStatus};
use crate::openstack::GlanceImage;

use super::plan::{PlanContext, desired};

pub const TAG: &str = "managed_by_test";

pub fn ctx() -> PlanContext {
    PlanContext {
        cloud: "test".into(),
        managed_tag: TAG.into(),
        now: "2026-11-25T12:00:00Z".parse().unwrap(),
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
    Image {
        id: id.into(),
        name: name.into(),
        enabled: true,
        origin: Origin {
            file: "catalog/test.yaml".into(),
            line: 1,
            column: 1,
        },
        source: Source::Static(StaticSource {
            url: None,
            checksum: None,
            version: None,
            build_date: None,
            auth: None,
        }),
        architecture: Architecture::X86_64,
        version: VersionPolicy {
            pin: None,
            matches: None,
            min_age: None,
        },
        signature: Signature {
            mode: SignatureMode::Off,
            keys: vec![],
        },
        glance: Glance {
            disk_format: DiskFormat::Qcow2,
            container_format: ContainerFormat::Bare,
            min_disk: 8,
            min_ram: 512,
            visibility: Visibility::Public,
            protected: false,
            tags: BTreeSet::from(["os:ubuntu".to_owned()]),
            properties,
        },
        rotation: Rotation {
            rename: true,
            hide: true,
            mark_oldgeneric: true,
            visibility: None,
            keep: 1,
            delete: true,
        },
        transfer: Transfer::Stream,
    }
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
        hidden: false,
        protected: false,
        disk_format: Some("qcow2".into()),
        container_format: Some("bare".into()),
        min_disk: 0,
        min_ram: 0,
        size: None,
        virtual_size: None,
        os_hash_algo: None,
        os_hash_value: None,
        created_at: "2026-11-01T00:00:00Z".into(),
        updated_at: "2026-11-01T00:00:00Z".into(),
        owner: None,
        tags: BTreeSet::new(),
        properties: BTreeMap::from([
            (ID_PROPERTY.to_owned(), id.to_owned()),
            (VERSION_PROPERTY.to_owned(), version.to_owned()),
        ]),
    }
}
