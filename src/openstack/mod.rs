//! OBSERVED STATE: the OpenStack side (clouds.yaml, Keystone, Glance).
//!
//! - [`config`]: clouds.yaml + secure.yaml + `OS_*` -> [`CloudConfig`] (pure resolution).
//! - [`keystone`]: [`Session`]: tokens, catalog, one re-auth on 401.
//! - [`glance`]: [`Glance`]: the image API v2 client; [`glance::patch`] builds the one
//!   JSON-patch per image; [`glance::wait`] judges import progress.
//! - [`image`]: [`GlanceImage`], the observed value the pure core works on.
//!
//! Secrets are [`Secret`]s everywhere and never printed or logged.

// Errors carry the whole request context (method, URL, request id, body excerpt) by value;
// they are rare next to the HTTP round trip, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod config;
pub mod error;
pub mod glance;
pub mod image;
pub mod keystone;
pub mod secret;
pub mod status;

pub use config::CloudConfig;
pub use error::{ConfigError, Error};
pub use glance::{ExpectedHash, Glance, Hidden, ImportMethod, ListFilter, NewImage, WaitPolicy};
pub use image::GlanceImage;
pub use keystone::Session;
pub use secret::Secret;

/// Resolves the cloud (`--cloud` / `OS_CLOUD`, else `OS_*`) in a region (`--region` /
/// `OS_REGION_NAME`, else its first) and connects to its Glance.
pub async fn connect(cloud: Option<&str>, region: Option<&str>) -> Result<Glance, Error> {
    let config = config::load(cloud, region)?;
    Glance::connect(config).await
}
