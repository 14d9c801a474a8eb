//! Redash's answers, mapped to errors a person can act on. None of them carries the API key.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum RedashError {
    #[error("authentication failed: check REDASH_API_KEY (Redash at {url} did not accept the key)")]
    Auth { url: String },
    #[error("{request}: permission denied: {message}")]
    Forbidden { request: String, message: String },
    #[error("{request}: not found")]
    NotFound { request: String },
    #[error("{request}: conflict: the object was changed in Redash since it was read")]
    Conflict { request: String },
    #[error("{request}: Redash answered {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Status { request: String, status: u16, message: String },
    #[error("cannot reach Redash at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error(
        "{url} does not look like Redash: {request} answered {status} with {content_type}, not JSON (check the URL)"
    )]
    NotRedash { url: String, request: String, status: u16, content_type: String },
    #[error("{request}: unexpected answer from Redash: {detail}")]
    Decode { request: String, detail: String },
    #[error(
        "{request}: the list changed while it was read (page {ended} was past its end, page {later} was not): nothing was planned from it; run again"
    )]
    ListChanged { request: String, ended: u64, later: u64 },
    #[error("Redash {version} is not supported: redash-gitops needs Redash 10 or later")]
    Unsupported { version: String },
    #[error(
        "the API key is not a user API key (a query or dashboard key?): use a user's API key, from the user's profile page"
    )]
    NotAUserKey,
    #[error("invalid Redash URL {url:?}: it must start with http:// or https://")]
    BadUrl { url: String },
    #[error(
        "invalid Redash URL {url:?}: it must not carry a query string or fragment (give the API key in REDASH_API_KEY or --api-key-file)"
    )]
    UrlWithQuery { url: String },
    #[error("not sent: the run was interrupted")]
    Interrupted,
}

impl RedashError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, RedashError::Conflict { .. })
    }

    /// Whether Redash certainly did not carry the request out: it refused it (4xx other than
    /// timeouts and rate limits) or it was never sent. After any other failure (a lost
    /// connection, a timeout, a 5xx, a garbled answer) a write may have happened.
    pub fn is_definite(&self) -> bool {
        match self {
            RedashError::Status { status, .. } => (400..500).contains(status) && *status != 408 && *status != 429,
            RedashError::Unreachable { .. } | RedashError::NotRedash { .. } | RedashError::Decode { .. } => false,
            _ => true,
        }
    }
}
