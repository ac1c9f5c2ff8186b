//! The catalog as people write it: serde shapes of `catalog/*.yaml`.
//!
//! These types are the source of `schema/catalog.schema.json` (doc comments become the
//! descriptions editors show). Every struct denies unknown keys, so a typo is an error with a
//! position, never a silently ignored setting. Everything optional here is resolved in
//! [`super::resolve`], which merges `settings.defaults` < file `defaults` < the image, and
//! checks what serde cannot.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

/// One file of the catalog. Any number of files may exist; their images form one catalog.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "image-crawler catalog file")]
pub struct CatalogFile {
    /// Settings for the whole catalog. At most one file may carry them (by convention
    /// `catalog/settings.yaml`).
    pub settings: Option<Settings>,
    /// Defaults for the images of this file; they override `settings.defaults`.
    pub defaults: Option<ImageDefaults>,
    /// The images this file declares.
    #[serde(default)]
    pub images: Vec<ImageEntry>,
}

/// Catalog-wide settings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The vendor name for the SCS `managed_by_<vendor>` tag put on every image this tool
    /// manages (lower case letters, digits, `_` and `-`).
    pub vendor: Option<String>,
    /// URL prefix rewrites for fetching upstream files (`FROM: TO`), for air-gapped clouds.
    /// The lockfile and `image_source` always keep the upstream URL.
    #[serde(default)]
    pub mirrors: BTreeMap<String, String>,
    /// Defaults for every image of the catalog.
    pub defaults: Option<ImageDefaults>,
    /// The clouds (`clouds.yaml` names) that `plan`/`apply --all-targets` reconcile.
    #[serde(default)]
    pub targets: Vec<TargetEntry>,
    /// Bounds of `apply`'s image downloads (`apply --min-rate/--rate-window/--deadline`
    /// override them).
    pub download: Option<DownloadSettings>,
}

/// How slow an image download may get before `apply` gives up on it.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadSettings {
    /// The lowest upstream rate, per second, averaged over `window`: `16KiB` (default),
    /// `1MiB`, `500B`; `0` turns the check off.
    pub min_rate: Option<String>,
    /// How long the rate is averaged over (and the longest full stall): `60s` (default).
    pub window: Option<String>,
    /// The longest a single image download may take: `2h` (default; keep it below
    /// `apply --claim-ttl`).
    pub deadline: Option<String>,
}

/// A cloud that receives images.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetEntry {
    /// The cloud's name in `clouds.yaml`.
    #[schemars(with = "String")]
    pub cloud: Spanned<String>,
    /// The cloud's region (one of its `regions:` in clouds.yaml), or `"*"` for every region
    /// clouds.yaml lists for it (plan/apply run once per region); the cloud's first region
    /// (or `--region`) when absent.
    pub region: Option<String>,
    /// Image ids (or globs such as `ubuntu-*`) this target gets; all enabled images when absent.
    pub images: Option<Vec<String>>,
    /// Image ids (or globs) this target does not get.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Settings that differ on this target (for example a private visibility on staging).
    pub overrides: Option<ImageDefaults>,
}

/// Settings shared by many images. Each field, where set, overrides the one from the level
/// above; maps (`glance.properties`, `glance.tags`) are merged key by key.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageDefaults {
    /// CPU architecture (also the `architecture` property): `x86_64` or `aarch64`.
    pub architecture: Option<Architecture>,
    pub version: Option<VersionPolicy>,
    pub signature: Option<SignaturePolicy>,
    pub glance: Option<GlanceSpec>,
    pub rotation: Option<Rotation>,
    pub transfer: Option<Transfer>,
}

/// One desired image.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageEntry {
    /// Stable id: the lockfile name (`state/<id>.toml`) and the Glance property
    /// `image_crawler_id` that marks the images this tool manages. Lower case, e.g. `ubuntu-24.04`.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// The stable Glance name, e.g. `Ubuntu 24.04` (SCS: "Distribution Version").
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// `false` keeps the entry (and its Glance images) but skips it in `check` and `plan`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Where the image comes from: a distribution preset or a generic kind.
    #[schemars(with = "Source")]
    pub source: Spanned<Source>,
    pub architecture: Option<Architecture>,
    pub version: Option<VersionPolicy>,
    pub signature: Option<SignaturePolicy>,
    pub glance: Option<GlanceSpec>,
    pub rotation: Option<Rotation>,
    pub transfer: Option<Transfer>,
}

fn yes() -> bool {
    true
}

/// CPU architecture, named as Glance and SCS name it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    X86_64,
    Aarch64,
}

impl Architecture {
    /// The Glance/SCS name.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Aarch64 => "aarch64",
        }
    }

    /// The Debian/Ubuntu name (`amd64`, `arm64`).
    pub fn debian(self) -> &'static str {
        match self {
            Architecture::X86_64 => "amd64",
            Architecture::Aarch64 => "arm64",
        }
    }
}

/// The upstream of an image: one key naming the preset or kind, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Source {
    /// Ubuntu cloud images, from Canonical's simplestreams.
    Ubuntu(UbuntuSource),
    /// Debian cloud images, from the per-build JSON manifest and `SHA512SUMS`.
    Debian(DebianSource),
    /// AlmaLinux GenericCloud images, from `CHECKSUM`.
    Almalinux(RhelLikeSource),
    /// Rocky Linux GenericCloud images, from `CHECKSUM`.
    Rocky(RhelLikeSource),
    /// CentOS Stream GenericCloud images, from `CHECKSUM`.
    CentosStream(RhelLikeSource),
    /// Fedora Cloud Base, from `releases.json` and the clear-signed `CHECKSUM`.
    Fedora(FedoraSource),
    /// openSUSE Leap Minimal-VM appliances, from the `.sha256` files.
    OpensuseLeap(OpensuseSource),
    /// CirrOS test images.
    Cirros(CirrosSource),
    /// Alpine Linux cloud images, from `releases.json` and the cloud directory.
    Alpine(AlpineSource),
    /// Arch Linux cloud images (arch-boxes).
    Archlinux(ArchSource),
    /// Fedora CoreOS OpenStack images, from the stream metadata JSON (`streams/<stream>.json`).
    FedoraCoreos(FedoraCoreosSource),
    /// Flatcar Container Linux OpenStack images, from the channel's `version.txt` and the
    /// release's `.DIGESTS`.
    Flatcar(FlatcarSource),
    /// Any directory with a checksum file whose names carry the version.
    ChecksumDir(ChecksumDirSource),
    /// A GitHub release asset.
    GithubRelease(GithubReleaseSource),
    /// Objects in an object-storage container (S3 bucket or Swift container), listed through
    /// the store's structured listing API, with a checksum sidecar or checksum file per image.
    ObjectStorage(ObjectStorageSource),
    /// An image this project builds with diskimage-builder from a recipe, published to an
    /// object-storage container and discovered there like a distributor's.
    DiskimageBuilder(DiskimageBuilderSource),
    /// A pinned URL and checksum, for images without public metadata (SLES, RHEL, Windows).
    Static(StaticSource),
}

impl Source {
    /// The preset or kind as written in the catalog (`ubuntu`, `checksum-dir`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Ubuntu(_) => "ubuntu",
            Source::Debian(_) => "debian",
            Source::Almalinux(_) => "almalinux",
            Source::Rocky(_) => "rocky",
            Source::CentosStream(_) => "centos-stream",
            Source::Fedora(_) => "fedora",
            Source::OpensuseLeap(_) => "opensuse-leap",
            Source::Cirros(_) => "cirros",
            Source::Alpine(_) => "alpine",
            Source::Archlinux(_) => "archlinux",
            Source::FedoraCoreos(_) => "fedora-coreos",
            Source::Flatcar(_) => "flatcar",
            Source::ChecksumDir(_) => "checksum-dir",
            Source::GithubRelease(_) => "github-release",
            Source::ObjectStorage(_) => "object-storage",
            Source::DiskimageBuilder(_) => "diskimage-builder",
            Source::Static(_) => "static",
        }
    }
}

/// Release channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// Released builds (default).
    #[default]
    Release,
    /// Daily builds.
    Daily,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UbuntuSource {
    /// The release number, e.g. `"24.04"` (quote it: YAML reads 24.04 as a number).
    pub release: String,
    #[serde(default)]
    pub channel: Channel,
    /// `server` (default) or `minimal`.
    #[serde(default)]
    pub variant: UbuntuVariant,
    /// The simplestreams item type; `disk1.img` (qcow2) by default.
    #[serde(default = "default_ubuntu_ftype")]
    pub ftype: String,
}

fn default_ubuntu_ftype() -> String {
    "disk1.img".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UbuntuVariant {
    #[default]
    Server,
    Minimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DebianSource {
    /// The major release, e.g. `"12"`.
    pub release: String,
    /// The codename (`bookworm`); known releases fill it in.
    pub codename: Option<String>,
    #[serde(default)]
    pub channel: Channel,
    /// Image vendor flavour: `genericcloud` (default), `generic`, `nocloud`.
    #[serde(default = "default_debian_vendor")]
    pub vendor: String,
    /// `qcow2` (default) or `raw`.
    #[serde(default = "default_qcow2")]
    pub format: String,
}

fn default_debian_vendor() -> String {
    "genericcloud".into()
}

fn default_qcow2() -> String {
    "qcow2".into()
}

/// AlmaLinux, Rocky Linux and CentOS Stream share one shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RhelLikeSource {
    /// The major release, e.g. `"9"`.
    pub release: String,
    /// The image variant in the file name; `GenericCloud` (AlmaLinux, CentOS Stream) or
    /// `GenericCloud-Base` (Rocky) by default.
    pub variant: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FedoraSource {
    /// The release, e.g. `"43"`; absent means the newest stable release.
    pub release: Option<String>,
    /// `Cloud_Base` (default) or `Cloud_Base_UKI`.
    #[serde(default = "default_fedora_subvariant")]
    pub subvariant: String,
}

fn default_fedora_subvariant() -> String {
    "Cloud_Base".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpensuseSource {
    /// The Leap release, e.g. `"15.6"` or `"16.0"`.
    pub release: String,
    /// The appliance, `Minimal-VM` by default.
    #[serde(default = "default_opensuse_variant")]
    pub variant: String,
    /// The appliance flavour, `Cloud` by default.
    #[serde(default = "default_opensuse_flavor")]
    pub flavor: String,
}

fn default_opensuse_variant() -> String {
    "Minimal-VM".into()
}

fn default_opensuse_flavor() -> String {
    "Cloud".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CirrosSource {
    /// Stay within this series, e.g. `"0.6"`; absent means the newest release.
    pub series: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlpineSource {
    /// The release branch, e.g. `"3.22"`; absent means `latest_stable` from `releases.json`.
    pub release: Option<String>,
    /// `uefi` (default) or `bios`.
    #[serde(default = "default_alpine_firmware")]
    pub firmware: String,
    /// `cloudinit` (default) or `tiny`.
    #[serde(default = "default_alpine_bootstrap")]
    pub bootstrap: String,
    /// The cloud prefix of names before 3.24 (`nocloud`, `generic`); 3.24 and later have none.
    #[serde(default = "default_alpine_cloud")]
    pub cloud: String,
}

fn default_alpine_firmware() -> String {
    "uefi".into()
}

fn default_alpine_bootstrap() -> String {
    "cloudinit".into()
}

fn default_alpine_cloud() -> String {
    "nocloud".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchSource {
    /// `cloudimg` (default) or `basic`.
    #[serde(default = "default_arch_variant")]
    pub variant: String,
}

fn default_arch_variant() -> String {
    "cloudimg".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FedoraCoreosSource {
    /// The update stream: `stable` (default), `testing` or `next`.
    #[serde(default)]
    pub stream: FcosStream,
}

/// A Fedora CoreOS update stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FcosStream {
    #[default]
    Stable,
    Testing,
    Next,
}

impl FcosStream {
    pub fn as_str(self) -> &'static str {
        match self {
            FcosStream::Stable => "stable",
            FcosStream::Testing => "testing",
            FcosStream::Next => "next",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlatcarSource {
    /// The release channel: `stable` (default), `beta`, `alpha` or `lts`.
    #[serde(default)]
    pub channel: FlatcarChannel,
}

/// A Flatcar release channel (each is its own host, `<channel>.release.flatcar-linux.net`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FlatcarChannel {
    #[default]
    Stable,
    Beta,
    Alpha,
    Lts,
}

impl FlatcarChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            FlatcarChannel::Stable => "stable",
            FlatcarChannel::Beta => "beta",
            FlatcarChannel::Alpha => "alpha",
            FlatcarChannel::Lts => "lts",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecksumDirSource {
    /// The directory URL (ending in `/`).
    pub url: String,
    /// The checksum file in it, e.g. `SHA256SUMS` or `CHECKSUM`.
    pub checksum_file: String,
    /// A regular expression over file names; its named capture `version` gives the version
    /// (compared part by part, numbers numerically) and an optional `date` capture
    /// (`YYYYMMDD`) the build date.
    pub pattern: String,
    /// A detached signature of the checksum file, e.g. `SHA256SUMS.gpg`.
    pub signature_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectStorageSource {
    /// The container (Swift) or bucket (S3, path style) URL; object keys are appended to it.
    pub url: String,
    /// The listing API the store speaks.
    pub listing: ObjectListing,
    /// Only list keys starting with this (e.g. `ubuntu-2404-kube-v1.35/`); fewer pages.
    pub prefix: Option<String>,
    /// A regular expression over whole object keys (relative to `url`) selecting the images;
    /// its named capture `version` gives the version, an optional `date` capture (`YYYYMMDD`)
    /// the build date (otherwise the date in the version, else the object's listed
    /// last-modified day).
    pub pattern: String,
    /// A checksum file next to the images (same key prefix up to the last `/`), e.g.
    /// `SHA256SUMS`. Without it, each image has a sidecar object `<key><suffix>`.
    pub checksum_file: Option<String>,
    /// The sidecar suffixes tried in order when there is no `checksum_file`.
    #[serde(default = "default_checksum_suffixes")]
    pub checksum_suffixes: Vec<String>,
    /// A detached signature of `checksum_file` in the same place, e.g. `SHA256SUMS.asc`.
    pub signature_file: Option<String>,
}

fn default_checksum_suffixes() -> Vec<String> {
    [".CHECKSUM", ".sha256", ".sha512"]
        .map(str::to_owned)
        .to_vec()
}

/// A diskimage-builder recipe: what `image-crawler build` hands to `disk-image-create`, and
/// where the artifacts are published. The recipe is data; nothing about it is guessed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskimageBuilderSource {
    /// The elements, in order, e.g. `[vm, debian-minimal, cloud-init, growroot]`.
    pub elements: Vec<String>,
    /// `DIB_RELEASE`, e.g. `bookworm`.
    pub release: String,
    /// The distribution's package mirror (`DIB_DISTRIBUTION_MIRROR`); the catalog's `mirrors`
    /// rewrite it like any upstream URL.
    pub mirror: String,
    /// The security mirror (`DIB_DEBIAN_SECURITY_MIRROR`) for Debian-based elements.
    pub security_mirror: Option<String>,
    /// Further `DIB_*` variables, passed as they are.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Which package archive `check` watches to tell that a rebuild is due (`apt`, the
    /// default: `<mirror>/dists/<release>/Release` and, with a `security_mirror`,
    /// `<security_mirror>/dists/<release>-security/Release`; `none`: only a recipe change
    /// triggers a rebuild).
    #[serde(default)]
    pub archive: ArchiveWatch,
    /// Where the artifacts go and where `check` finds them.
    pub publish: PublishTarget,
}

/// The package archive whose movement triggers a rebuild.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ArchiveWatch {
    /// An apt archive (Debian, Ubuntu): the `Date:` of the suites' `Release` files.
    #[default]
    Apt,
    /// Nothing is watched.
    None,
}

/// An object-storage container holding built artifacts as
/// `<image id>/<version>/<image id>.qcow2` next to `SHA256SUMS` (+ `SHA256SUMS.asc`) and
/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishTarget {
    /// The container (Swift) or bucket (S3, path style) URL.
    pub url: String,
    /// The listing API the store speaks.
    pub listing: ObjectListing,
    /// Whether builds carry a detached `SHA256SUMS.asc` (a signing key is configured).
    #[serde(default)]
    pub signed: bool,
}

/// How an object store lists a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectListing {
    /// S3 `ListObjectsV2` (`?list-type=2`, continuation tokens).
    S3,
    /// S3 `ListObjects` (version 1, markers), for stores without V2.
    S3V1,
    /// Swift `?format=json`, `marker` paging.
    Swift,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GithubReleaseSource {
    /// `owner/name`.
    pub repo: String,
    /// A regular expression over asset names selecting the image.
    pub asset: String,
    /// A regular expression selecting a checksum asset, when the release has no asset digests.
    pub checksum_asset: Option<String>,
    /// Take pre-releases too.
    #[serde(default)]
    pub prereleases: bool,
    /// The API root, `https://api.github.com` by default (GitHub Enterprise has another).
    #[serde(default = "default_github_api")]
    pub api_url: String,
}

fn default_github_api() -> String {
    "https://api.github.com".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StaticSource {
    /// The image URL (immutable: a versioned file, not a `latest` alias).
    pub url: Option<String>,
    /// `sha256:<hex>` or `sha512:<hex>`.
    pub checksum: Option<String>,
    /// The version to record, e.g. `15.6-20240601`.
    pub version: Option<String>,
    /// The build date, `YYYY-MM-DD`.
    pub build_date: Option<String>,
    /// An HTTP header whose value comes from an environment variable (for vendor portals).
    pub auth: Option<StaticAuth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StaticAuth {
    /// The header name, e.g. `Authorization`.
    pub header: String,
    /// The environment variable holding its value (read at transfer time, never written
    /// anywhere).
    pub env: String,
    /// Also send the header to the mirror that `settings.mirrors` / `--mirror` rewrites this
    /// URL to. Default `false`: only the source's own host (scheme, host and port of `url`)
    /// ever gets it, and never a host a redirect leads to.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mirrors: bool,
}

/// Which upstream build to take.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionPolicy {
    /// Take exactly this version (no updates).
    pub pin: Option<String>,
    /// Only versions matching this regular expression.
    #[serde(rename = "match")]
    pub matches: Option<String>,
    /// Take a build only once it is this old, e.g. `2d`, `12h`, `1w` (a soak time).
    pub min_age: Option<String>,
}

/// How strictly checksum files must be signed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignaturePolicy {
    /// `required`, `if-published` (default) or `off`.
    pub policy: Option<SignatureMode>,
    /// Public key files (armoured or binary), relative to the catalog directory.
    pub keys: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureMode {
    /// A missing or bad signature fails the image.
    Required,
    /// Verify where the distributor publishes a signature; a bad one fails the image.
    #[default]
    IfPublished,
    /// Do not verify.
    Off,
}

/// The Glance side of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GlanceSpec {
    pub disk_format: Option<DiskFormat>,
    pub container_format: Option<ContainerFormat>,
    /// Minimum disk in GiB (SCS: non-zero and at least the image's virtual size).
    pub min_disk: Option<u32>,
    /// Minimum RAM in MiB (SCS: non-zero).
    pub min_ram: Option<u32>,
    pub visibility: Option<Visibility>,
    /// Protect the current image from deletion.
    pub protected: Option<bool>,
    /// Tags; merged with the levels above.
    pub tags: Option<Vec<String>>,
    /// Image properties (SCS scs-0102); merged with the levels above.
    pub properties: Option<Properties>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DiskFormat {
    Qcow2,
    Raw,
    Vmdk,
    Vhd,
    Vhdx,
    Vdi,
    Iso,
    Ploop,
}

impl DiskFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Qcow2 => "qcow2",
            DiskFormat::Raw => "raw",
            DiskFormat::Vmdk => "vmdk",
            DiskFormat::Vhd => "vhd",
            DiskFormat::Vhdx => "vhdx",
            DiskFormat::Vdi => "vdi",
            DiskFormat::Iso => "iso",
            DiskFormat::Ploop => "ploop",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContainerFormat {
    Bare,
    Ovf,
    Ova,
}

impl ContainerFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerFormat::Bare => "bare",
            ContainerFormat::Ovf => "ovf",
            ContainerFormat::Ova => "ova",
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Community,
    Shared,
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Community => "community",
            Visibility::Shared => "shared",
            Visibility::Private => "private",
        }
    }
}

/// Image properties. The SCS ones (scs-0102) are typed so a wrong value is caught here;
/// anything else goes under `extra`. `architecture` comes from the image's `architecture`;
/// `image_source` and `image_build_date` come from the lockfile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Properties {
    /// Lower-case distribution id per osinfo (`ubuntu`, `debian`, `almalinux`, `rocky`, `centos`, ...).
    pub os_distro: Option<String>,
    /// The distribution version, numeric where the distribution uses numbers (`24.04`).
    pub os_version: Option<String>,
    pub os_purpose: Option<OsPurpose>,
    pub hw_disk_bus: Option<DiskBus>,
    /// With `hw_disk_bus: scsi`, SCS recommends `virtio-scsi`.
    pub hw_scsi_model: Option<String>,
    pub hw_rng_model: Option<RngModel>,
    pub hypervisor_type: Option<HypervisorType>,
    pub replace_frequency: Option<ReplaceFrequency>,
    /// `YYYY-MM-DD`, `none` or `notice`.
    pub provided_until: Option<String>,
    /// `none`, `last-N`, `YYYY-MM-DD`, `notice` or `forever`.
    pub uuid_validity: Option<String>,
    /// Hours within which critical fixes are rolled out (0 = best effort).
    pub hotfix_hours: Option<u32>,
    /// The default login user, or `none`.
    pub image_original_user: Option<String>,
    /// Release notes URL or a description.
    pub image_description: Option<String>,
    /// Further properties, passed to Glance as they are.
    pub extra: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OsPurpose {
    Generic,
    Minimal,
    K8snode,
    Gpu,
    Network,
    Custom,
    Oldgeneric,
}

impl OsPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            OsPurpose::Generic => "generic",
            OsPurpose::Minimal => "minimal",
            OsPurpose::K8snode => "k8snode",
            OsPurpose::Gpu => "gpu",
            OsPurpose::Network => "network",
            OsPurpose::Custom => "custom",
            OsPurpose::Oldgeneric => "oldgeneric",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DiskBus {
    Virtio,
    Scsi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RngModel {
    Virtio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HypervisorType {
    Qemu,
    Kvm,
    Xen,
    HyperV,
    Esxi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplaceFrequency {
    Yearly,
    Quarterly,
    Monthly,
    Weekly,
    Daily,
    CriticalBug,
    Never,
}

impl ReplaceFrequency {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplaceFrequency::Yearly => "yearly",
            ReplaceFrequency::Quarterly => "quarterly",
            ReplaceFrequency::Monthly => "monthly",
            ReplaceFrequency::Weekly => "weekly",
            ReplaceFrequency::Daily => "daily",
            ReplaceFrequency::CriticalBug => "critical_bug",
            ReplaceFrequency::Never => "never",
        }
    }

    /// The SCS recency period in hours (yearly 365 d, quarterly 92 d, monthly 31 d,
    /// weekly 7×25 h, daily 25 h); `None` for the exempt `never` and `critical_bug`.
    pub fn period_hours(self) -> Option<u64> {
        match self {
            ReplaceFrequency::Yearly => Some(365 * 24),
            ReplaceFrequency::Quarterly => Some(92 * 24),
            ReplaceFrequency::Monthly => Some(31 * 24),
            ReplaceFrequency::Weekly => Some(7 * 25),
            ReplaceFrequency::Daily => Some(25),
            ReplaceFrequency::CriticalBug | ReplaceFrequency::Never => None,
        }
    }
}

/// What happens to the image a new build replaces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Rename it to `<Name> YYYYMMDD` (its build date), as SCS asks. Default `true`.
    pub rename: Option<bool>,
    /// Hide it from image lists (`os_hidden`). Default `true`.
    pub hide: Option<bool>,
    /// Set `os_purpose: oldgeneric` on it (scs-0102 v2 wants this for a visible old generic
    /// image). Default `true`.
    pub mark_oldgeneric: Option<bool>,
    /// The visibility of replaced images; unchanged when absent.
    pub visibility: Option<Visibility>,
    /// How many replaced images to keep (besides the current one). Default 3.
    pub keep: Option<u32>,
    /// Whether images beyond `keep` may be deleted (otherwise they stay, hidden). Default `false`.
    pub delete: Option<bool>,
}

/// How `apply` moves the bytes into Glance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Transfer {
    /// Stream upstream → Glance through this tool, hashing on the way (default).
    #[default]
    Stream,
    /// Glance fetches the URL itself (interoperable image import `web-download`).
    WebDownload,
    /// Stream into Glance's staging area, then import (`glance-direct`).
    GlanceDirect,
}

impl Transfer {
    pub fn as_str(self) -> &'static str {
        match self {
            Transfer::Stream => "stream",
            Transfer::WebDownload => "web-download",
            Transfer::GlanceDirect => "glance-direct",
        }
    }
}

/// A parsed catalog file with its text (for snippets in later diagnostics).
pub(crate) struct Parsed {
    pub path: std::path::PathBuf,
    pub text: String,
    pub file: CatalogFile,
}
