//! The `status` report: which images in a cloud this tool manages and whether each matches
//! its lockfile. Pure: Glance images and lockfiles in, a [`StatusReport`] out, rendered as a
//! table or JSON (two renderings of one value).

use std::collections::BTreeMap;

use serde::Serialize;

use super::image::GlanceImage;
use crate::catalog::{ID_PROPERTY, VERSION_PROPERTY};
use crate::lock::LockedImage;

/// The Glance property with the upstream URL the image was made from.
pub const SOURCE_PROPERTY: &str = "image_source";
/// The Glance property with the build date (`YYYY-MM-DD`).
pub const BUILD_DATE_PROPERTY: &str = "image_build_date";

/// How an image relates to its lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LockMatch {
    /// `image_source` and version equal the lockfile's build.
    Current,
    /// Another build than the locked one (an older image kept by rotation, or not yet applied).
    Differs { locked_version: String },
    /// No `state/<id>.toml` for the image's catalog id.
    NoLockfile,
    /// The lockfile exists but could not be read, or fails the lockfile gate (`lock::gate`).
    LockfileError { message: String },
    /// Managed by tag only: no `image_crawler_id`, so no lockfile to compare with.
    NoCatalogId,
}

impl LockMatch {
    fn label(&self) -> String {
        match self {
            LockMatch::Current => "current".into(),
            LockMatch::Differs { locked_version } => format!("differs (locked {locked_version})"),
            LockMatch::NoLockfile => "no lockfile".into(),
            LockMatch::LockfileError { .. } => "lockfile invalid".into(),
            LockMatch::NoCatalogId => "unknown".into(),
        }
    }
}

/// One managed image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagedImage {
    pub catalog_id: Option<String>,
    pub glance_id: String,
    pub name: String,
    pub version: Option<String>,
    pub build_date: Option<String>,
    pub visibility: String,
    pub hidden: bool,
    pub status: String,
    pub lock: LockMatch,
}

/// Everything `status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    pub cloud: String,
    /// The tag that marks managed images (`managed_by_<vendor>`).
    pub managed_tag: String,
    pub images: Vec<ManagedImage>,
}

/// Whether this tool manages an image: it carries the vendor tag or the catalog id property.
pub fn is_managed(image: &GlanceImage, managed_tag: &str) -> bool {
    image.tags.contains(managed_tag) || image.properties.contains_key(ID_PROPERTY)
}

/// Compares one image with the lockfiles (by catalog id).
pub fn lock_match(
    image: &GlanceImage,
    locks: &BTreeMap<String, Result<LockedImage, String>>,
) -> LockMatch {
    let Some(id) = image.catalog_id() else {
        return LockMatch::NoCatalogId;
    };
    match locks.get(id) {
        None => LockMatch::NoLockfile,
        Some(Err(message)) => LockMatch::LockfileError {
            message: message.clone(),
        },
        Some(Ok(lock)) => {
            let source = image.properties.get(SOURCE_PROPERTY);
            let version = image.properties.get(VERSION_PROPERTY);
            if source == Some(&lock.build.url) && version == Some(&lock.build.version) {
                LockMatch::Current
            } else {
                LockMatch::Differs {
                    locked_version: lock.build.version.clone(),
                }
            }
        }
    }
}

/// Builds the report: managed images only, sorted by catalog id, build date (newest first),
/// name and Glance id.
pub fn report(
    cloud: &str,
    managed_tag: &str,
    images: &[GlanceImage],
    locks: &BTreeMap<String, Result<LockedImage, String>>,
) -> StatusReport {
    let mut rows: Vec<ManagedImage> = images
        .iter()
        .filter(|i| is_managed(i, managed_tag))
        .map(|i| ManagedImage {
            catalog_id: i.catalog_id().map(str::to_owned),
            glance_id: i.id.clone(),
            name: i.name.clone(),
            version: i.properties.get(VERSION_PROPERTY).cloned(),
            build_date: i.properties.get(BUILD_DATE_PROPERTY).cloned(),
            visibility: i.visibility.clone(),
            hidden: i.hidden,
            status: i.status.clone(),
            lock: lock_match(i, locks),
        })
        .collect();
    rows.sort_by(|a, b| {
        (
            &a.catalog_id,
            std::cmp::Reverse(&a.build_date),
            &a.name,
            &a.glance_id,
        )
            .cmp(&(
                &b.catalog_id,
                std::cmp::Reverse(&b.build_date),
                &b.name,
                &b.glance_id,
            ))
    });
    StatusReport {
        cloud: cloud.to_owned(),
        managed_tag: managed_tag.to_owned(),
        images: rows,
    }
}

/// The human table (stdout).
pub fn render_table(r: &StatusReport) -> String {
    if r.images.is_empty() {
        return format!(
            "No managed images in cloud `{}` (tag `{}` or property `{ID_PROPERTY}`).\n",
            r.cloud, r.managed_tag
        );
    }
    let header = [
        "CATALOG ID",
        "VERSION",
        "BUILD DATE",
        "VISIBILITY",
        "HIDDEN",
        "STATUS",
        "LOCKFILE",
        "NAME",
        "GLANCE ID",
    ];
    let dash = || "-".to_owned();
    let rows: Vec<[String; 9]> = r
        .images
        .iter()
        .map(|i| {
            [
                i.catalog_id.clone().unwrap_or_else(dash),
                i.version.clone().unwrap_or_else(dash),
                i.build_date.clone().unwrap_or_else(dash),
                i.visibility.clone(),
                if i.hidden { "yes" } else { "no" }.to_owned(),
                i.status.clone(),
                i.lock.label(),
                i.name.clone(),
                i.glance_id.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(&header.map(str::to_owned));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{Build, HashAlgorithm, SignatureState, SignatureStatus};

    fn image(id: &str, props: &[(&str, &str)], tags: &[&str]) -> GlanceImage {
        GlanceImage {
            id: id.into(),
            name: format!("name-{id}"),
            status: "active".into(),
            visibility: "public".into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            properties: props
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Default::default()
        }
    }

    fn lock(id: &str, version: &str, url: &str) -> LockedImage {
        LockedImage {
            format_version: 1,
            id: id.into(),
            source_digest: "d".into(),
            build: Build {
                version: version.into(),
                build_date: "2026-01-02".into(),
                url: url.into(),
                size: None,
                metadata_url: "m".into(),
                checksums: BTreeMap::from([(HashAlgorithm::Sha256, "00".repeat(32))]),
                signature: SignatureStatus::state(SignatureState::Off),
                image: None,
                inputs: None,
            },
        }
    }

    #[test]
    fn selects_managed_and_compares_with_locks() {
        let images = vec![
            image(
                "g1",
                &[
                    ("image_crawler_id", "debian-12"),
                    ("image_crawler_version", "20260102"),
                    ("image_source", "https://u/new.qcow2"),
                    ("image_build_date", "2026-01-02"),
                ],
                &[],
            ),
            image(
                "g2",
                &[
                    ("image_crawler_id", "debian-12"),
                    ("image_crawler_version", "20251201"),
                    ("image_source", "https://u/old.qcow2"),
                    ("image_build_date", "2025-12-01"),
                ],
                &["managed_by_x"],
            ),
            image("g3", &[], &["managed_by_x"]),
            image("g4", &[("image_crawler_id", "ubuntu-24.04")], &[]),
            image("g5", &[("image_crawler_id", "broken")], &[]),
            image("g6", &[("os_distro", "debian")], &["other"]),
        ];
        let locks = BTreeMap::from([
            (
                "debian-12".to_owned(),
                Ok(lock("debian-12", "20260102", "https://u/new.qcow2")),
            ),
            (
                "broken".to_owned(),
                Err("state/broken.toml:1:1: bad".to_owned()),
            ),
        ]);
        let r = report("prod", "managed_by_x", &images, &locks);
        let got: Vec<(&str, &LockMatch)> = r
            .images
            .iter()
            .map(|i| (i.glance_id.as_str(), &i.lock))
            .collect();
        assert_eq!(
            got,
            [
                ("g3", &LockMatch::NoCatalogId),
                (
                    "g5",
                    &LockMatch::LockfileError {
                        message: "state/broken.toml:1:1: bad".into()
                    }
                ),
                ("g1", &LockMatch::Current),
                (
                    "g2",
                    &LockMatch::Differs {
                        locked_version: "20260102".into()
                    }
                ),
                ("g4", &LockMatch::NoLockfile),
            ]
        );
        let table = render_table(&r);
        assert!(table.starts_with("CATALOG ID"), "{table}");
        let row = table.lines().find(|l| l.contains("g1")).unwrap();
        assert!(
            row.starts_with(
                "debian-12     20260102  2026-01-02  public      no      active  current "
            ),
            "{row}"
        );
        assert!(row.contains("current"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["images"][3]["lock"],
            serde_json::json!({"state": "differs", "locked_version": "20260102"})
        );
    }

    #[test]
    fn empty_report_says_what_was_looked_for() {
        let r = report("prod", "managed_by_x", &[], &BTreeMap::new());
        assert_eq!(
            render_table(&r),
            "No managed images in cloud `prod` (tag `managed_by_x` or property `image_crawler_id`).\n"
        );
    }
}
