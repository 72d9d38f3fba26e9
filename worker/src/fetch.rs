//! Downloads into a local file through the process's [`HttpClient`] (routing to the
//! configured hosts, `hosts.max_download_bytes`, `hosts.download_timeout_secs`), for files
//! that do not belong in the download cache (source archives, a mod being analyzed).

use std::path::Path;

use netkan_inflator::InflateError;
use netkan_inflator::http::{DownloadInfo, HttpClient};

/// Streams the canonical `url` into `path`; returns its size and hashes.
///
/// # Errors
/// As [`HttpClient::download_to`]: network failures, error statuses, a body over the limit,
/// a local write error.
pub async fn to_file(
    http: &HttpClient,
    url: &str,
    path: &Path,
) -> Result<DownloadInfo, InflateError> {
    http.download_to(url, path).await
}
