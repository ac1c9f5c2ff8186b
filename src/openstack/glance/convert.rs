//! Glance's JSON image record -> [`GlanceImage`] (first-class fields vs user properties).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::openstack::image::{GlanceImage, RESERVED_KEYS, is_server_owned};

/// Converts one image record. Keys in [`RESERVED_KEYS`] become fields; server-owned keys
/// (`os_glance_*`, `os_hash_*`) are dropped; everything else is a user property (non-string
/// values, which Glance does not create for custom properties, are kept as JSON text).
pub fn image_from_json(v: &Value) -> Result<GlanceImage, String> {
    let m = v
        .as_object()
        .ok_or_else(|| format!("expected an image object, found {v}"))?;
    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    let n = |k: &str| m.get(k).and_then(Value::as_u64);
    let id = s("id").ok_or("image record without `id`")?;
    let mut properties = BTreeMap::new();
    for (k, val) in m {
        if RESERVED_KEYS.contains(&k.as_str()) || is_server_owned(k) {
            continue;
        }
        let text = match val {
            Value::String(t) => t.clone(),
            Value::Null => continue,
            other => other.to_string(),
        };
        properties.insert(k.clone(), text);
    }
    let tags: BTreeSet<String> = m
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(GlanceImage {
        name: s("name").unwrap_or_default(),
        status: s("status").unwrap_or_default(),
        visibility: s("visibility").unwrap_or_default(),
        hidden: m.get("os_hidden").and_then(Value::as_bool).unwrap_or(false),
        protected: m.get("protected").and_then(Value::as_bool).unwrap_or(false),
        disk_format: s("disk_format"),
        container_format: s("container_format"),
        min_disk: n("min_disk").unwrap_or(0),
        min_ram: n("min_ram").unwrap_or(0),
        size: n("size"),
        virtual_size: n("virtual_size"),
        os_hash_algo: s("os_hash_algo"),
        os_hash_value: s("os_hash_value"),
        created_at: s("created_at").unwrap_or_default(),
        updated_at: s("updated_at").unwrap_or_default(),
        owner: s("owner"),
        tags,
        properties,
        id,
    })
}

/// The server-side import bookkeeping of a record (`os_glance_*` keys), for progress and
/// failure reports.
pub fn import_state(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(Map::iter)
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("os_glance_"))
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_fields_and_properties() {
        let v = json!({
            "id": "i1", "name": "debian-12", "status": "active", "visibility": "public",
            "os_hidden": true, "protected": false, "disk_format": "qcow2", "container_format": "bare",
            "min_disk": 3, "min_ram": 512, "size": 10, "virtual_size": null,
            "checksum": "md5", "os_hash_algo": "sha512", "os_hash_value": "ab",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z",
            "owner": "p", "tags": ["b", "a"], "self": "/v2/images/i1", "file": "/v2/images/i1/file",
            "schema": "/v2/schemas/image", "stores": "local", "locations": [],
            "os_glance_import_task": "t1", "os_glance_failed_import": "",
            "os_distro": "debian", "image_crawler_id": "debian-12", "odd": 5
        });
        let img = image_from_json(&v).unwrap();
        assert_eq!(img.id, "i1");
        assert!(img.hidden);
        assert_eq!(
            (img.min_disk, img.min_ram, img.size, img.virtual_size),
            (3, 512, Some(10), None)
        );
        assert_eq!(img.tags.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            img.properties,
            BTreeMap::from([
                ("image_crawler_id".into(), "debian-12".into()),
                ("odd".into(), "5".into()),
                ("os_distro".into(), "debian".into()),
            ])
        );
        assert_eq!(img.catalog_id(), Some("debian-12"));
        assert_eq!(
            import_state(&v)
                .get("os_glance_import_task")
                .map(String::as_str),
            Some("t1")
        );
    }

    #[test]
    fn rejects_records_without_id() {
        assert!(image_from_json(&json!({"name": "x"})).is_err());
        assert!(image_from_json(&json!([])).is_err());
    }
}
