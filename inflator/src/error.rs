//! Why an inflation failed, and whether trying again could help.

use std::time::Duration;

/// Every failure of an inflation. The `Display` text is what goes into `ErrorMessage` and
/// the job log, so it reads like the reference's messages (§10) where it gives them.
#[derive(Debug, thiserror::Error)]
pub enum InflateError {
    /// The metadata is wrong or does not fit what the host offers (CKAN's `Kraken`s):
    /// retrying cannot help until someone edits the `.netkan`.
    #[error("{0}")]
    Metadata(String),
    /// A host answered, but with an error or with something unusable (404, an error body,
    /// garbage, an archive that is not a zip, a download over the size limit).
    #[error("{0}")]
    Host(String),
    /// A host throttled us; worth trying again once `retry_after` has passed.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Duration,
    },
    /// Network trouble, a timeout or a 5xx: worth retrying soon.
    #[error("{0}")]
    Transient(String),
    /// Local trouble (the cache directory is full or unwritable).
    #[error("{0}")]
    Local(String),
}

impl InflateError {
    /// A metadata error with this message.
    pub fn metadata(msg: impl Into<String>) -> Self {
        InflateError::Metadata(msg.into())
    }

    /// Whether trying the same inflation again later could succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            InflateError::RateLimited { .. } | InflateError::Transient(_) | InflateError::Local(_)
        )
    }
}

impl From<netkan_common::ckan::CkanError> for InflateError {
    fn from(e: netkan_common::ckan::CkanError) -> Self {
        InflateError::Metadata(e.to_string())
    }
}
