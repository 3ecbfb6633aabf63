//! Errors of the OpenCode client.

use std::time::Duration;

/// Everything a request to OpenCode can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The base URL or a path could not form a valid URL.
    #[error("invalid OpenCode URL: {0}")]
    InvalidUrl(String),
    /// Connection refused, reset, DNS, TLS, … (the server is down or restarting).
    #[error("cannot reach OpenCode at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The request did not complete in time.
    #[error("OpenCode request {what} timed out after {after:?}")]
    Timeout { what: String, after: Duration },
    /// 401: missing or wrong basic-auth credentials.
    #[error("OpenCode rejected the credentials (401)")]
    Unauthorized,
    /// A non-success HTTP status with OpenCode's error body decoded when possible.
    #[error("OpenCode answered {status} for {what}: {name}: {message}")]
    Status {
        what: String,
        status: u16,
        name: String,
        message: String,
    },
    /// A 2xx answer that is not JSON: unknown routes answer 200 text/html (the web UI).
    #[error(
        "OpenCode answered {content_type:?} instead of JSON for {what} (unknown route or old server?)"
    )]
    NotJson { what: String, content_type: String },
    /// JSON that does not match the expected shape.
    #[error("cannot decode OpenCode answer for {what}: {source}")]
    Decode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// Transport failure after the request was sent (body read, stream broken).
    #[error("OpenCode transport error for {what}: {source}")]
    Transport {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    /// `/global/health` answered but said it is not healthy.
    #[error("OpenCode reports unhealthy")]
    Unhealthy,
}

impl Error {
    /// True for 404s (e.g. `PermissionNotFoundError` when a request was already answered).
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Status { status: 404, .. })
    }

    /// True when retrying later may help (server down, restarting or slow).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Timeout { .. } | Self::Transport { .. } => true,
            Self::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
