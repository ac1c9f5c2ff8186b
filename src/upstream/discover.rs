//! The dispatcher from a catalog image's source kind to its discovery.

use crate::catalog::{Image, Source};
use crate::upstream::{Candidate, DiscoverError, Fetcher, distro, generic, object_storage};

/// All builds of an image the distributor publishes (any order; see [`super::select`]).
/// `now` is the run's one clock (for `min_age` and for judging signatures).
pub async fn discover(
    image: &Image,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    match &image.source {
        Source::ChecksumDir(s) => generic::checksum_dir(image, s, fetcher, now).await,
        Source::GithubRelease(s) => generic::github_release(image, s, fetcher).await,
        Source::ObjectStorage(s) => object_storage::discover(image, s, fetcher, now).await,
        // Built images are found where `image-crawler build` published them.
        Source::DiskimageBuilder(r) => {
            object_storage::discover(
                image,
                &crate::build::published_source(&image.id, r),
                fetcher,
                now,
            )
            .await
        }
        Source::Static(s) => generic::static_source(image, s),
        _ => distro::discover(image, fetcher, now).await,
    }
}
