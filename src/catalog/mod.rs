//! DESIRED STATE: the catalog (`catalog/*.yaml`), written by people, never by the tool.
//!
//! Three representations, as in cargo-deny and ripgrep: [`raw`] is what people wrote (serde
//! shapes with positions), [`Catalog`]/[`Image`] is what the rest of the tool uses (defaults
//! merged, every field resolved, invariants checked), and the loader in [`load`] turns one
//! into the other, collecting *all* problems as [`Diagnostic`]s instead of stopping at the
//! first. Code downstream of [`load`] never re-checks the catalog.

pub mod load;
pub mod presets;
pub mod raw;
mod resolve;
pub mod suggest;
pub mod urls;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

pub use load::{load, load_from_strings};
pub use raw::{
    Architecture, Channel, ContainerFormat, DiskFormat, OsPurpose, ReplaceFrequency, SignatureMode,
    Source, Transfer, Visibility,
};
pub use resolve::source_digest;
pub(crate) use yaml::yaml_diagnostic;

/// The file beside the catalog that holds end-of-life data; read by `scs::lifecycle`, not as a
/// catalog file.
pub const LIFECYCLE_FILE: &str = "lifecycle.yaml";

use crate::diagnostic::Diagnostic;

/// The Glance property that marks an image as managed by this tool, holding the catalog id.
pub const ID_PROPERTY: &str = "image_crawler_id";
/// The Glance property holding the upstream version an image was made from.
pub const VERSION_PROPERTY: &str = "image_crawler_version";
/// The default vendor for the SCS `managed_by_<vendor>` tag.
pub const DEFAULT_VENDOR: &str = "image_crawler";

/// The whole catalog, validated.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The catalog directory (key files are relative to it).
    pub dir: PathBuf,
    /// The vendor for the `managed_by_<vendor>` tag.
    pub vendor: String,
    /// URL prefix rewrites for fetching (`FROM` → `TO`), longest `FROM` first.
    pub mirrors: Vec<(String, String)>,
    /// Images by id (sorted, so every iteration is deterministic).
    pub images: BTreeMap<String, Image>,
    /// Clouds to reconcile, in catalog order.
    pub targets: Vec<Target>,
    /// Bounds of image downloads (`settings.download`).
    pub download: DownloadLimits,
}

/// How slow an image download may get (`settings.download`, `apply --min-rate …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadLimits {
    /// Bytes per second averaged over `window` (time spent waiting for upstream); 0: off.
    pub min_rate: u64,
    pub window: std::time::Duration,
    /// Wall-clock bound of one image's download.
    pub deadline: std::time::Duration,
}

impl Default for DownloadLimits {
    /// 16 KiB/s over 60 s (a stall is noticed within a minute, a slow but moving mirror is
    /// not cut off) and 2 hours per image (a 3.5 GiB image at 500 KiB/s), below `apply`'s
    /// default `--claim-ttl` (3 h), so no other run cleans up an image still downloading.
    fn default() -> Self {
        Self {
            min_rate: 16 << 10,
            window: std::time::Duration::from_secs(60),
            deadline: std::time::Duration::from_secs(2 * 3600),
        }
    }
}

/// `16KiB`, `1MiB`, `500B`, `2048` (bytes), optionally with `/s`.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix("/s").unwrap_or(t).trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a rate such as `16KiB`"))?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        _ => {
            return Err(format!(
                "`{s}`: the unit must be B, KiB or MiB (per second)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// `30s`, `10m`, `6h`, `1d`.
pub fn parse_span(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let bad = || format!("`{s}` is not a duration such as `60s`, `10m` or `6h`");
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(secs)
        .filter(|&n| n > 0)
        .map(std::time::Duration::from_secs)
        .ok_or_else(bad)
}

impl Catalog {
    /// The `managed_by_<vendor>` tag.
    pub fn managed_tag(&self) -> String {
        format!("managed_by_{}", self.vendor)
    }

    /// The enabled images.
    pub fn enabled(&self) -> impl Iterator<Item = &Image> {
        self.images.values().filter(|i| i.enabled)
    }
}

/// One desired image, with every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Stable id, e.g. `ubuntu-24.04`.
    pub id: String,
    /// Stable Glance name, e.g. `Ubuntu 24.04`.
    pub name: String,
    pub enabled: bool,
    /// Where it was declared (`catalog/ubuntu.yaml:12:5`), for messages.
    pub origin: Origin,
    pub source: Source,
    pub architecture: Architecture,
    pub version: VersionPolicy,
    pub signature: Signature,
    pub glance: Glance,
    pub rotation: Rotation,
    pub transfer: Transfer,
}

impl Image {
    /// An image with no catalog settings beyond its source: signature checks off, private,
    /// `min_disk` 1 GiB, `min_ram` 512 MiB, the default rotation (rename, hide, oldgeneric,
    /// keep 3, no deletion), stream transfer. For programs that build images without catalog
    /// files, and for tests; set the fields that matter afterwards.
    pub fn new(id: &str, source: Source, architecture: Architecture) -> Image {
        Image {
            id: id.to_owned(),
            name: id.to_owned(),
            enabled: true,
            origin: Origin {
                file: PathBuf::from("catalog/<memory>.yaml"),
                line: 1,
                column: 1,
            },
            source,
            architecture,
            version: VersionPolicy {
                pin: None,
                matches: None,
                min_age: None,
            },
            signature: Signature {
                mode: SignatureMode::Off,
                keys: Vec::new(),
            },
            glance: Glance {
                disk_format: None,
                container_format: ContainerFormat::Bare,
                min_disk: 1,
                min_ram: 512,
                visibility: Visibility::Private,
                protected: false,
                tags: BTreeSet::new(),
                properties: BTreeMap::new(),
            },
            rotation: Rotation {
                rename: true,
                hide: true,
                mark_oldgeneric: true,
                visibility: None,
                keep: 3,
                delete: false,
            },
            transfer: Transfer::Stream,
        }
    }

    /// The download header of a `static` source (`source.static.auth`), if any.
    pub fn download_auth(&self) -> Option<&raw::StaticAuth> {
        match &self.source {
            Source::Static(s) => s.auth.as_ref(),
            _ => None,
        }
    }

    /// `web-download` would hand the download header to Glance (and every task log it
    /// writes): a source with `auth` needs a transfer through this tool.
    pub fn hands_auth_to_glance(&self) -> bool {
        self.transfer == Transfer::WebDownload && self.download_auth().is_some()
    }
}

/// A place in a catalog file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Which upstream build to take.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionPolicy {
    /// Take exactly this version.
    pub pin: Option<String>,
    /// Only versions matching this expression (already compiled once to check it).
    pub matches: Option<String>,
    /// A new build must be at least this old.
    pub min_age: Option<jiff::SignedDuration>,
}

/// Signature policy with resolved key files.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub mode: SignatureMode,
    /// Key files, absolute or relative to the working directory (resolved against the catalog).
    pub keys: Vec<PathBuf>,
}

/// The Glance side, fully resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Glance {
    /// The format the catalog declares; `None`: taken from the image's header at apply
    /// (`reconcile::header`), which a declared format must agree with.
    pub disk_format: Option<DiskFormat>,
    pub container_format: ContainerFormat,
    pub min_disk: u32,
    pub min_ram: u32,
    pub visibility: Visibility,
    pub protected: bool,
    pub tags: BTreeSet<String>,
    /// Every property the catalog declares (SCS and extra), as Glance strings; without the
    /// ones that come from the lockfile (`image_source`, `image_build_date`) or the tool
    /// (`image_crawler_id`, `image_crawler_version`).
    pub properties: BTreeMap<String, String>,
}

/// What happens to replaced images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub rename: bool,
    pub hide: bool,
    pub mark_oldgeneric: bool,
    pub visibility: Option<Visibility>,
    pub keep: u32,
    pub delete: bool,
}

/// A cloud to reconcile.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The `clouds.yaml` name.
    pub cloud: String,
    /// The region, `*` for every region of the cloud, `None` for its first.
    pub region: Option<String>,
    /// The ids of the images this target gets (sorted).
    pub images: BTreeSet<String>,
    /// Per-target image settings, already applied in [`Target::image`].
    overrides: BTreeMap<String, Image>,
}

impl Target {
    /// The image as this target sees it (with the target's overrides), if the target gets it.
    pub fn image<'a>(&'a self, catalog: &'a Catalog, id: &str) -> Option<&'a Image> {
        if !self.images.contains(id) {
            return None;
        }
        self.overrides.get(id).or_else(|| catalog.images.get(id))
    }
}

/// The result of loading: a catalog, or every problem found.
pub type LoadResult = Result<Catalog, Vec<Diagnostic>>;
