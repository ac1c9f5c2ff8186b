//! Placeholder for the per-distribution discovery (the distros branch provides
//! `src/upstream/distro/mod.rs` with the same function; when merged, `mod.rs` declares
//! `pub mod distro;` and this file is deleted).

use crate::catalog::Image;
use crate::upstream::{Candidate, DiscoverError, Fetcher};

pub async fn discover(image: &Image, _fetcher: &Fetcher) -> Result<Vec<Candidate>, DiscoverError> {
    let kind = serde_json::to_value(&image.source)
        .ok()
        .and_then(|v| v.as_object().and_then(|o| o.keys().next().cloned()))
        .unwrap_or_else(|| "unknown".into());
    Err(DiscoverError::Unsupported { kind })
}
