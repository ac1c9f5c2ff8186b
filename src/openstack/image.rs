//! A Glance image as observed: the value `plan`, `status` and `audit` compute over.
//!
//! This is the tool's own view of Glance's image record (API v2), not a wire type: the
//! client converts the JSON into it, and the pure core never sees JSON.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Keys of a Glance image record that are not user properties (first-class fields, or owned
/// by the server). A reconcile never sets or removes them as properties.
pub const RESERVED_KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "os_hidden",
    "tags",
    "owner",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "disk_format",
    "container_format",
    "min_disk",
    "min_ram",
    "created_at",
    "updated_at",
    "file",
    "schema",
    "self",
    "direct_url",
    "locations",
    "stores",
];

/// Whether a property is owned by the server (`os_glance_*`, `os_hash_*`, `stores`, ...)
/// and must never be touched.
pub fn is_server_owned(key: &str) -> bool {
    key.starts_with("os_glance") || key.starts_with("os_hash_") || RESERVED_KEYS.contains(&key)
}

/// One image in Glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlanceImage {
    pub id: String,
    pub name: String,
    /// `queued`, `saving`, `uploading`, `importing`, `active`, `killed`, `deleted`,
    /// `pending_delete`, `deactivated`.
    pub status: String,
    pub visibility: String,
    pub hidden: bool,
    pub protected: bool,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    /// GiB.
    pub min_disk: u64,
    /// MiB.
    pub min_ram: u64,
    /// Bytes.
    pub size: Option<u64>,
    pub virtual_size: Option<u64>,
    /// Glance's own multihash (`sha512` by default).
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
    pub owner: Option<String>,
    pub tags: BTreeSet<String>,
    /// User properties only (everything in the record that is not a first-class field).
    pub properties: BTreeMap<String, String>,
}

impl GlanceImage {
    /// The catalog id this image carries, if this tool manages it.
    pub fn catalog_id(&self) -> Option<&str> {
        self.properties
            .get(crate::catalog::ID_PROPERTY)
            .map(String::as_str)
    }
}
