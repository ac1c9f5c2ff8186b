//! The ONE JSON-patch per image (`application/openstack-images-v2.1-json-patch`): built by a
//! pure function from the observed image and the wanted one.
//!
//! Covers name, visibility, os_hidden, protected, min_disk, min_ram and user properties.
//! Tags go through the tag endpoints ([`tag_changes`]); server-owned keys are never touched.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Value, json};

use crate::openstack::image::{GlanceImage, is_server_owned};

/// The media type Glance wants for PATCH.
pub const PATCH_CONTENT_TYPE: &str = "application/openstack-images-v2.1-json-patch";

/// One operation of an RFC 6902 patch, in Glance's dialect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchOp {
    pub op: PatchKind,
    /// A JSON pointer (`/name`, `/os_distro`; `/` and `~` escaped).
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchKind {
    Add,
    Replace,
    Remove,
}

/// Escapes a key for a JSON pointer (RFC 6901).
pub fn pointer(key: &str) -> String {
    format!("/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// The operations that turn `before` into `after` (empty when nothing differs). Fields not
/// settable through PATCH (status, size, hashes, formats of an active image, ...) are ignored,
/// as are server-owned properties. Output order is stable: fields, then properties by key.
pub fn patch_ops(before: &GlanceImage, after: &GlanceImage) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    let mut replace = |path: &str, value: Value| {
        ops.push(PatchOp {
            op: PatchKind::Replace,
            path: path.to_owned(),
            value: Some(value),
        });
    };
    if before.name != after.name {
        replace("/name", json!(after.name));
    }
    if before.visibility != after.visibility {
        replace("/visibility", json!(after.visibility));
    }
    if before.hidden != after.hidden {
        replace("/os_hidden", json!(after.hidden));
    }
    if before.protected != after.protected {
        replace("/protected", json!(after.protected));
    }
    if before.min_disk != after.min_disk {
        replace("/min_disk", json!(after.min_disk));
    }
    if before.min_ram != after.min_ram {
        replace("/min_ram", json!(after.min_ram));
    }
    let keys: BTreeSet<&String> = before
        .properties
        .keys()
        .chain(after.properties.keys())
        .collect();
    for key in keys {
        if is_server_owned(key) {
            continue;
        }
        match (before.properties.get(key), after.properties.get(key)) {
            (None, Some(v)) => ops.push(PatchOp {
                op: PatchKind::Add,
                path: pointer(key),
                value: Some(json!(v)),
            }),
            (Some(old), Some(v)) if old != v => ops.push(PatchOp {
                op: PatchKind::Replace,
                path: pointer(key),
                value: Some(json!(v)),
            }),
            (Some(_), None) => ops.push(PatchOp {
                op: PatchKind::Remove,
                path: pointer(key),
                value: None,
            }),
            _ => {}
        }
    }
    ops
}

/// Tags to add and to remove to go from `before` to `after` (sorted).
pub fn tag_changes(before: &GlanceImage, after: &GlanceImage) -> (Vec<String>, Vec<String>) {
    let add = after.tags.difference(&before.tags).cloned().collect();
    let remove = before.tags.difference(&after.tags).cloned().collect();
    (add, remove)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn image() -> GlanceImage {
        GlanceImage {
            id: "i".into(),
            name: "debian-12".into(),
            status: "active".into(),
            visibility: "private".into(),
            disk_format: Some("qcow2".into()),
            container_format: Some("bare".into()),
            size: Some(1),
            tags: ["managed_by_x".to_owned()].into(),
            properties: BTreeMap::from([
                ("os_distro".into(), "debian".into()),
                ("old".into(), "1".into()),
                ("keep".into(), "k".into()),
            ]),
            ..Default::default()
        }
    }

    #[test]
    fn no_change_no_ops() {
        assert!(patch_ops(&image(), &image()).is_empty());
    }

    #[test]
    fn one_batch_for_fields_and_properties() {
        let before = image();
        let mut after = image();
        after.name = "Debian 12".into();
        after.visibility = "public".into();
        after.hidden = true;
        after.protected = true;
        after.min_disk = 4;
        after.min_ram = 512;
        after.properties.remove("old");
        after
            .properties
            .insert("os_distro".into(), "debian12".into());
        after.properties.insert("a/b~c".into(), "v".into());
        // Status or size differences are not patchable and are ignored.
        after.status = "queued".into();
        after.size = Some(2);
        let ops = serde_json::to_value(patch_ops(&before, &after)).unwrap();
        assert_eq!(
            ops,
            json!([
                {"op": "replace", "path": "/name", "value": "Debian 12"},
                {"op": "replace", "path": "/visibility", "value": "public"},
                {"op": "replace", "path": "/os_hidden", "value": true},
                {"op": "replace", "path": "/protected", "value": true},
                {"op": "replace", "path": "/min_disk", "value": 4},
                {"op": "replace", "path": "/min_ram", "value": 512},
                {"op": "add", "path": "/a~1b~0c", "value": "v"},
                {"op": "remove", "path": "/old"},
                {"op": "replace", "path": "/os_distro", "value": "debian12"},
            ])
        );
    }

    #[test]
    fn server_owned_properties_are_never_touched() {
        let before = image();
        let mut after = image();
        after
            .properties
            .insert("os_glance_import_task".into(), "x".into());
        after.properties.insert("os_hash_value".into(), "x".into());
        assert!(patch_ops(&before, &after).is_empty());
    }

    #[test]
    fn tags_diff() {
        let before = image();
        let mut after = image();
        after.tags = ["b".to_owned(), "a".to_owned()].into();
        assert_eq!(
            tag_changes(&before, &after),
            (vec!["a".into(), "b".into()], vec!["managed_by_x".into()])
        );
    }
}
