//! `netkan clean-cache --days N`: removes downloads (with their hash sidecars, abandoned
//! partial downloads and unused lock files) older than N days from the download cache, as
//! NetKAN-Infra's `clean-cache` does, and says what it removed and how much it freed.
//!
//! Output contract: one line `removed <path> (<bytes> bytes)` per file, then
//! `freed <bytes> bytes (<n> files) in <dir>`; with `--json`, one object
//! `{"dir", "removed": [{"path", "bytes"}], "bytes_freed"}`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use netkan_common::config::Settings;
use netkan_inflator::cache::DownloadCache;

#[derive(Args)]
pub(crate) struct CleanCacheArgs {
    /// Remove files downloaded more than this many days ago.
    #[arg(long)]
    days: u64,
    /// The cache directory (default: `cache.dir`, else `<data_dir>/cache`).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(
    args: &CleanCacheArgs,
    settings: &Settings,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let dir = args.dir.clone().unwrap_or_else(|| settings.cache_dir());
    let report = DownloadCache::new(&dir, settings.cache.max_bytes)
        .clean(args.days)
        .with_context(|| format!("cleaning the download cache {}", dir.display()))?;
    if json || args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "dir": dir,
                "removed": report.removed,
                "bytes_freed": report.bytes_freed,
            }))?
        );
    } else {
        for f in &report.removed {
            println!("removed {} ({} bytes)", f.path.display(), f.bytes);
        }
        println!(
            "freed {} bytes ({} files) in {}",
            report.bytes_freed,
            report.removed.len(),
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
