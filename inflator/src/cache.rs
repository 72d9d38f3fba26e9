//! The download cache shared by every worker of a machine (§8.4, and NetKAN-Infra's
//! `~/ckan_cache`): files named `<sha1(url)[..8]>-<identifier>-<version>.<ext>`
//! (`netkan_common::ckan::names`), verified by SHA-256 when the metadata knows it.

use std::path::{Path, PathBuf};

use netkan_common::ckan::Object;

use crate::InflateError;
use crate::http::HttpClient;

/// The cache directory and its limits, cheap to clone.
#[derive(Debug, Clone)]
pub struct DownloadCache {
    dir: PathBuf,
    max_bytes: u64,
}

impl DownloadCache {
    /// A cache in `dir`, kept under `max_bytes` in total (0: no cap).
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        Self {
            dir: dir.into(),
            max_bytes,
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The size cap in bytes (0: none).
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }
}

/// A download, in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-1, upper-case hex.
    pub sha1: String,
    /// SHA-256, upper-case hex.
    pub sha256: String,
    /// Whether this call downloaded it (rather than finding it in the cache).
    pub fresh: bool,
}

impl DownloadCache {
    /// The file at `url`, for `module` (which names the cache file: identifier, version,
    /// content type): from the cache when there (and its SHA-256 matches
    /// `download_hash.sha256` when the module has one), else downloaded into it.
    ///
    /// # Errors
    /// `Host` for an answer that is not the file (4xx, over `hosts.max_download_bytes`),
    /// `Transient` for network trouble and 5xx, `Local` when the cache cannot be written.
    pub async fn fetch(
        &self,
        _http: &HttpClient,
        url: &str,
        _module: &Object,
    ) -> Result<CachedFile, InflateError> {
        Err(InflateError::Local(format!(
            "cannot download {url}: the download cache is not built yet"
        )))
    }
}
