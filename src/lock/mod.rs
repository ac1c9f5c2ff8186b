//! RESOLVED STATE: one TOML lockfile per image in `state/`, written only by `check`.
//!
//! Invariants (see `docs/lockfile.md`):
//! - one file per catalog id (`state/<id>.toml`), so two bump reviews never conflict;
//! - no run timestamps, no tool version, no ETags: an unchanged upstream leaves the file
//!   byte-identical;
//! - fixed field order and sorted maps, so the serializer output is canonical;
//! - written atomically (temp file + rename) and only when the bytes change.

pub mod changes;
pub mod format;
pub mod gate;
pub mod store;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use changes::LockChange;
pub use format::{FORMAT_VERSION, HEADER};

/// The resolved upstream build of one catalog image: the content of `state/<id>.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "image-crawler lockfile")]
pub struct LockedImage {
    /// The lockfile format; readers refuse formats they do not know.
    pub format_version: u32,
    /// The catalog id this lock belongs to.
    pub id: String,
    /// A digest of the catalog's source settings (source, architecture, version policy) this
    /// build was resolved for; `validate` reports a lock resolved for other settings as stale.
    pub source_digest: String,
    /// The upstream build.
    pub build: Build,
}

/// One upstream build, immutable: the same URL always gives the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// The distributor's version or build id (`20240821`, `9.8-20260526`, `20250210-2019`).
    pub version: String,
    /// The build date, `YYYY-MM-DD`, from the upstream build id (never from HTTP headers).
    pub build_date: String,
    /// The immutable upstream URL (never a `latest`/`current` alias); `image_source` in Glance.
    pub url: String,
    /// Size in bytes, when the distributor publishes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The metadata document this build was resolved from.
    pub metadata_url: String,
    /// Checksums by algorithm (`sha256`, `sha512`, `md5`), lower-case hex; never empty.
    pub checksums: BTreeMap<HashAlgorithm, String>,
    /// How the checksums were authenticated.
    pub signature: SignatureStatus,
    /// The disk image inside a compressed artifact (`[build.image]`); absent for an artifact
    /// Glance takes as it is. The checksums above are then the artifact's (what upstream
    /// vouches for), these are the decompressed image's (what Glance stores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageInfo>,
    /// What a build this project made was built from (`[build.inputs]`, only for
    /// `diskimage-builder` images, read from the published `manifest.json`): the next `check`
    /// compares it with the recipe and the archive of now to tell whether a rebuild is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<BuildInputs>,
}

/// The inputs of one `image-crawler build`: the recipe's digest and the state of the
/// distribution's package archive when the build started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildInputs {
    /// SHA-256 (hex) of the canonical recipe: elements, release, mirrors, environment and
    /// architecture (`build::recipe_digest`).
    pub recipe_digest: String,
    /// The `Date:` of each watched suite's `Release` file (`bookworm`, `bookworm-security`),
    /// RFC 3339 in UTC.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub archive: BTreeMap<String, String>,
}

/// The decompressed image of a compressed artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageInfo {
    /// How the artifact is compressed (from its URL's suffix).
    pub compression: Compression,
    /// Digests of the decompressed bytes, lower-case hex: published by upstream (Fedora
    /// CoreOS' `uncompressed-sha256`) or, when upstream publishes none, recorded by the first
    /// `apply` that verified the image (Glance's `os_hash_algo`), so `plan` can compare it with
    /// Glance's `os_hash_value`. Empty before that apply.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<HashAlgorithm, String>,
}

/// A compression format that `apply` undoes while streaming.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Xz,
    Gzip,
    Bzip2,
    Zstd,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Xz => "xz",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Zstd => "zstd",
        }
    }

    /// The compression a URL's file name announces (`.xz`, `.gz`, `.bz2`, `.zst`; query and
    /// fragment ignored), `None` for anything else.
    pub fn from_url(url: &str) -> Option<Compression> {
        let path = url.split(['?', '#']).next().unwrap_or(url);
        let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
        let ext = name.rsplit_once('.')?.1;
        match ext {
            "xz" => Some(Compression::Xz),
            "gz" | "gzip" => Some(Compression::Gzip),
            "bz2" => Some(Compression::Bzip2),
            "zst" | "zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ImageInfo {
    /// `[build.image]` for a freshly resolved build at `url`: the compression from the URL,
    /// upstream's image digests, and the digests an earlier apply recorded in `old` when
    /// `old` locks the same artifact (same URL and checksums), so a re-check of an unchanged
    /// build keeps the file byte-identical.
    pub fn for_build(
        url: &str,
        checksums: &BTreeMap<HashAlgorithm, String>,
        published: BTreeMap<HashAlgorithm, String>,
        old: Option<&Build>,
    ) -> Option<ImageInfo> {
        let compression = Compression::from_url(url)?;
        let mut image = ImageInfo {
            compression,
            checksums: published,
        };
        if let Some(old) = old
            && old.url == url
            && old.checksums == *checksums
            && let Some(prev) = &old.image
            && prev.compression == compression
        {
            for (a, v) in &prev.checksums {
                image.checksums.entry(*a).or_insert_with(|| v.clone());
            }
        }
        Some(image)
    }
}

impl Build {
    /// The strongest checksum recorded (sha512 > sha256 > md5).
    pub fn strongest_checksum(&self) -> Option<(HashAlgorithm, &str)> {
        [
            HashAlgorithm::Sha512,
            HashAlgorithm::Sha256,
            HashAlgorithm::Md5,
        ]
        .into_iter()
        .find_map(|a| self.checksums.get(&a).map(|v| (a, v.as_str())))
    }

    /// The compression `apply` undoes, if any.
    pub fn compression(&self) -> Option<Compression> {
        self.image.as_ref().map(|i| i.compression)
    }
}

/// A checksum algorithm.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgorithm {
    Md5,
    Sha256,
    Sha512,
}

impl HashAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    /// The hex length of a digest.
    pub fn hex_len(self) -> usize {
        match self {
            HashAlgorithm::Md5 => 32,
            HashAlgorithm::Sha256 => 64,
            HashAlgorithm::Sha512 => 128,
        }
    }

    /// Parses `md5`, `sha256`, `sha512` (any case, `SHA-256` too).
    pub fn parse(s: &str) -> Option<HashAlgorithm> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "md5" => Some(HashAlgorithm::Md5),
            "sha256" => Some(HashAlgorithm::Sha256),
            "sha512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }
}

impl std::fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether and how the checksums were authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureStatus {
    pub status: SignatureState,
    /// The fingerprint of the key that made the verified signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The signature (or clear-signed file) that was verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl SignatureStatus {
    /// Shorthand for a status without key and URL.
    pub fn state(status: SignatureState) -> Self {
        Self {
            status,
            key: None,
            url: None,
        }
    }
}

impl std::fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.status, &self.key) {
            (SignatureState::Verified, Some(k)) => write!(f, "verified with {k}"),
            (s, _) => f.write_str(s.as_str()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureState {
    /// A valid signature by a trusted key covers the checksums.
    Verified,
    /// The distributor publishes no signature for this file.
    NotPublished,
    /// A detached signature over the image bytes is published (`url`), which `check` cannot
    /// verify without downloading the image: `apply` verifies it on transfer, in the same pass
    /// as the hashes, before the image is promoted (Alpine's `<image>.asc`).
    CheckedOnTransfer,
    /// Verification is turned off in the catalog.
    Off,
}

impl SignatureState {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureState::Verified => "verified",
            SignatureState::NotPublished => "not published",
            SignatureState::CheckedOnTransfer => "published, checked on transfer",
            SignatureState::Off => "off",
        }
    }
}
