//! DISCOVERY: "what is the newest build the distributor published, and what are its digests?"
//!
//! Every distribution has its own discovery (`distro/*`), always from the distributor's own
//! metadata (simplestreams, build manifests, checksum files), never by guessing URLs, never
//! from `latest` aliases or `Last-Modified` headers. Each returns a [`Candidate`]: an
//! immutable URL, its checksums, version and build date, and the signature evidence.
//!
//! All fetching goes through [`Fetcher`], which rewrites URLs through the mirrors (the
//! candidate keeps the upstream URL), retries transient failures and counts what it moved.

//! ## Contract with the per-distribution modules (`distro/`, the distros branch)
//!
//! `src/upstream/distro/mod.rs` provides
//! `pub async fn discover(image: &Image, fetcher: &Fetcher, now: Timestamp) -> Result<Vec<Candidate>, DiscoverError>`
//! for every distribution kind of [`crate::catalog::Source`] (all builds it found, any
//! order; [`select`] applies the catalog's version policy and picks the newest). The
//! generic kinds (`checksum-dir`, `github-release`, `static`) live in [`generic`]; the
//! dispatcher is [`discover`]. Building blocks: [`checksums`], [`version`], [`listing`],
//! [`signature`], [`error`].

pub mod check;
pub mod checksums;
pub mod discover;
pub mod distro;
pub mod error;
pub mod fetch;
pub mod generic;
pub mod listing;
pub mod names;
pub mod news;
pub mod object_storage;
pub mod select;
pub mod signature;
pub mod version;

use std::collections::BTreeMap;

pub use discover::discover;
pub use error::DiscoverError;
pub use fetch::{Fetched, Fetcher};

use crate::lock::{HashAlgorithm, SignatureStatus};

/// The canonical published URL of an upstream file (pure): the form the SCS standards
/// check `image_source` against. Only Ubuntu's simplestreams aliases are rewritten today
/// ([`distro::ubuntu::canonical_url`]); every other URL is returned unchanged.
pub fn canonical_source_url(url: &str) -> String {
    distro::ubuntu::canonical_url(url)
}

/// One upstream build found by discovery, before the catalog's version policy is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The distributor's version or build id, as the lockfile records it.
    pub version: String,
    /// `YYYY-MM-DD`, from the build id.
    pub build_date: String,
    /// Immutable upstream URL (never a `latest`/`current` alias, never a mirror URL).
    pub url: String,
    pub size: Option<u64>,
    /// The metadata document the build was resolved from (upstream URL).
    pub metadata_url: String,
    /// Never empty.
    pub checksums: BTreeMap<HashAlgorithm, String>,
    pub signature: SignatureStatus,
    /// Digests of the decompressed image, when upstream publishes them for a compressed
    /// artifact (Fedora CoreOS' `uncompressed-sha256`); usually empty.
    pub image_checksums: BTreeMap<HashAlgorithm, String>,
}
