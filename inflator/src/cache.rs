//! The download cache shared by every worker of a machine (§8.4, and NetKAN-Infra's
//! `~/ckan_cache`): files named `<sha1(url)[..8]>-<identifier>-<version>.<ext>`
//! (`netkan_common::ckan::names`), verified by SHA-256 when the metadata knows it.

use std::path::{Path, PathBuf};

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
