//! [`Error`]: everything that can go wrong talking to a cloud, typed so callers can react
//! (a protected image, a missing image, a stuck import) and every variant names its place
//! (file:line:col, method + URL + status + request id, image id) and carries a hint.

use crate::http::HttpError;

/// A problem in clouds.yaml / secure.yaml / `OS_*` variables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default())]
pub struct ConfigError {
    /// `file:line:col` (or `file`, or `OS_* environment`) when known.
    pub location: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl ConfigError {
    pub fn new(location: Option<String>, message: impl Into<String>) -> Self {
        Self {
            location,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// How an import or upload ended when it did not reach `active`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitFailure {
    /// Glance reported a failure (`killed`, a failed import task, failed stores).
    Failed,
    /// Nothing changed (status, size, stores) for longer than the stuck limit.
    Stuck,
    /// The overall deadline passed.
    Deadline,
}

/// An error from the OpenStack client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Any failed request: method, URL, status, `x-openstack-request-id`, body excerpt.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// Keystone refused the credentials (401 on `POST /v3/auth/tokens`).
    #[error("Keystone refused the credentials of cloud `{cloud}`")]
    AuthRefused {
        cloud: String,
        #[source]
        source: HttpError,
    },
    /// Keystone answered, but not in a shape we understand, or without what we need.
    #[error("{0}")]
    Protocol(String),
    /// The service catalog has no matching endpoint.
    #[error("no `{service}` endpoint with interface `{interface}`{} in the service catalog (available: {available})", region.as_ref().map(|r| format!(" in region `{r}`")).unwrap_or_default())]
    NoEndpoint {
        service: String,
        interface: String,
        region: Option<String>,
        available: String,
    },
    /// 404 for an image.
    #[error("image {id} not found")]
    NotFound {
        id: String,
        #[source]
        source: HttpError,
    },
    /// 409: the image is protected, in use, or in a state that forbids the operation.
    #[error("image {id}: Glance refused the change (conflict)")]
    Conflict {
        id: String,
        #[source]
        source: HttpError,
    },
    /// 403 on deleting a protected image (Glance's `ProtectedImageDelete`).
    #[error("image {id} is protected and cannot be deleted")]
    Protected {
        id: String,
        #[source]
        source: HttpError,
    },
    /// An upload or import did not make the image `active`.
    #[error("image {id}: {what} did not finish: {detail}")]
    Wait {
        id: String,
        what: String,
        failure: WaitFailure,
        /// Last observed status, failed stores, import task, ...
        detail: String,
    },
}

impl Error {
    /// A hint for the operator, when one is obvious.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Config(e) => e.hint.clone(),
            Error::Http(e) => e.hint().map(str::to_owned),
            Error::AuthRefused { .. } => Some(
                "check username/password or the application credential (id, secret, expiry) in clouds.yaml / secure.yaml"
                    .into(),
            ),
            Error::Protocol(_) => None,
            Error::NoEndpoint { .. } => Some(
                "set `region_name` / `interface` in clouds.yaml to one the catalog offers, or `image_endpoint_override`"
                    .into(),
            ),
            Error::NotFound { .. } => Some("the image was deleted meanwhile; run `plan` again".into()),
            Error::Conflict { .. } => Some(
                "the image is in use (servers, snapshots) or in a state that forbids this; retry later"
                    .into(),
            ),
            Error::Protected { .. } => {
                Some("unset `protected` on the image first (PATCH protected=false)".into())
            }
            Error::Wait { failure, .. } => Some(match failure {
                WaitFailure::Failed => "see the Glance logs for the request id; the image can be deleted and the upload retried".into(),
                WaitFailure::Stuck => "Glance stopped making progress; check its staging store and task workers".into(),
                WaitFailure::Deadline => "the upload took longer than allowed; raise the timeout or check the network path".into(),
            }),
        }
    }

    /// The HTTP status, if the error came from a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http(e)
            | Error::AuthRefused { source: e, .. }
            | Error::NotFound { source: e, .. }
            | Error::Conflict { source: e, .. }
            | Error::Protected { source: e, .. } => e.status(),
            _ => None,
        }
    }

    /// Worth retrying later (transient HTTP failures).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Http(e) if e.is_transient())
    }

    /// Converts into an `anyhow` error whose rendering shows the hint (see `crate::error`).
    pub fn into_anyhow(self) -> anyhow::Error {
        // clouds.yaml / secure.yaml / OS_* problems are invalid input (exit 4).
        let invalid = matches!(self, Error::Config(_));
        let err = self.into_anyhow_unmarked();
        if invalid {
            anyhow::Error::new(crate::error::Exit {
                status: crate::exit::ExitStatus::Invalid,
                cause: err,
            })
        } else {
            err
        }
    }

    fn into_anyhow_unmarked(self) -> anyhow::Error {
        match self.hint() {
            // HttpError hints are rendered by crate::error already.
            Some(hint) if !matches!(self, Error::Http(_)) => {
                anyhow::Error::new(crate::error::Hinted {
                    message: self.to_string(),
                    hint,
                    cause: std::error::Error::source(&self).map(|s| anyhow::anyhow!(s.to_string())),
                })
            }
            _ => anyhow::Error::new(self),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
