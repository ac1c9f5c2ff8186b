//! The one error type of upstream discovery.
//!
//! Every variant names the upstream URL it is about (never a mirror URL, so the message
//! matches what the catalog says) and [`DiscoverError::hint`] gives the operator a next step.
//! Discovery modules return it; `check` reports it per image and goes on with the others.

use crate::http::HttpError;
use crate::upstream::checksums::ChecksumError;
use crate::upstream::signature::SignatureError;

/// Why discovery of one image failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// A request failed (status, timeout, connection); carries method, URL and status.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A metadata document did not parse. `line` is 1-based; 0 means the whole document.
    #[error("{url}{}: {message}", line_suffix(*line))]
    Parse {
        url: String,
        line: usize,
        message: String,
    },
    /// The document parsed but does not contain what the catalog asks for.
    #[error("{url}: no {what}")]
    NotFound {
        url: String,
        /// What was looked for, e.g. `image matching "…-GenericCloud-…x86_64.qcow2"`.
        what: String,
    },
    /// The signature of a metadata file is missing (when required) or does not verify.
    #[error("{url}: {source}")]
    Signature {
        url: String,
        #[source]
        source: SignatureError,
    },
    /// A checksum file is malformed or contradicts itself or the other metadata.
    #[error("{url}: {source}")]
    Checksum {
        url: String,
        #[source]
        source: ChecksumError,
    },
    /// Something in the found metadata is not acceptable (an empty digest, a bad date).
    #[error("{url}: {message}")]
    Invalid { url: String, message: String },
    /// The image's source kind has no discovery in this build.
    #[error("source kind `{kind}` is not supported by this build")]
    Unsupported { kind: String },
}

fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

impl DiscoverError {
    /// Shorthand for [`DiscoverError::Parse`].
    pub fn parse(url: impl Into<String>, line: usize, message: impl Into<String>) -> Self {
        DiscoverError::Parse {
            url: url.into(),
            line,
            message: message.into(),
        }
    }

    /// Shorthand for [`DiscoverError::NotFound`].
    pub fn not_found(url: impl Into<String>, what: impl Into<String>) -> Self {
        DiscoverError::NotFound {
            url: url.into(),
            what: what.into(),
        }
    }

    /// Shorthand for [`DiscoverError::Checksum`].
    pub fn checksum(url: impl Into<String>, source: ChecksumError) -> Self {
        DiscoverError::Checksum {
            url: url.into(),
            source,
        }
    }

    /// Shorthand for [`DiscoverError::Signature`].
    pub fn signature(url: impl Into<String>, source: SignatureError) -> Self {
        DiscoverError::Signature {
            url: url.into(),
            source,
        }
    }

    /// The URL the failure is about (upstream), if any.
    pub fn url(&self) -> Option<&str> {
        match self {
            DiscoverError::Http(e) => Some(&e.url),
            DiscoverError::Parse { url, .. }
            | DiscoverError::NotFound { url, .. }
            | DiscoverError::Signature { url, .. }
            | DiscoverError::Checksum { url, .. }
            | DiscoverError::Invalid { url, .. } => Some(url),
            DiscoverError::Unsupported { .. } => None,
        }
    }

    /// The HTTP status, when the failure was an HTTP status.
    pub fn status(&self) -> Option<u16> {
        match self {
            DiscoverError::Http(e) => e.status(),
            _ => None,
        }
    }

    /// Worth retrying later (a later run may succeed without any change on our side).
    /// The host could not be connected to at all (offline, DNS, refused).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, DiscoverError::Http(e) if e.kind == crate::http::HttpErrorKind::Connect)
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, DiscoverError::Http(e) if e.is_transient())
    }

    /// What the operator can do about it.
    pub fn hint(&self) -> String {
        match self {
            DiscoverError::Http(e) => e
                .hint()
                .unwrap_or("check the URL and the network path")
                .to_owned(),
            DiscoverError::Parse { .. } => {
                "the distributor changed the file format or served something else (an error page?); open the URL and compare with docs/upstream-formats.md".into()
            }
            DiscoverError::NotFound { .. } => {
                "check the release, architecture and variant in the catalog against what the distributor publishes".into()
            }
            DiscoverError::Signature { source, .. } => source.hint().to_owned(),
            DiscoverError::Checksum { .. } => {
                "the checksum file is inconsistent; wait for the distributor to fix it, or pin the previous build".into()
            }
            DiscoverError::Invalid { .. } => {
                "the distributor's metadata is incomplete; the lockfile is left as it is".into()
            }
            DiscoverError::Unsupported { .. } => {
                "use a build that includes this source kind, or a generic kind (checksum-dir, static)".into()
            }
        }
    }
}
