//! `clean-cache`: the scheduled `netkan clean-cache --days N` (reference §1.10, run daily
//! with `--days 30`): removes the downloads (and their sidecars, abandoned partial downloads
//! and unused lock files) of this machine's download cache that are older than
//! `housekeeping.clean_cache.days`, through the cache's own `clean`.

use std::sync::Arc;

use netkan_inflator::cache::DownloadCache;

use crate::context::{JobContext, JobError, JobResult, Registry};

use super::housekeeping::{HousekeepingEnv, exclusively};

/// The job kind.
pub const KIND: &str = "clean-cache";

/// Registers the handler.
pub fn register(registry: &mut Registry, env: Arc<HousekeepingEnv>) {
    registry.register(KIND, move |ctx| {
        let env = env.clone();
        async move { exclusively(&ctx.clone(), run(ctx, env)).await }
    });
}

async fn run(ctx: JobContext, env: Arc<HousekeepingEnv>) -> JobResult {
    let days = env.settings.clean_cache.days;
    let cache = DownloadCache::new(env.cache_dir.clone(), env.cache_max_bytes);
    ctx.info(format!(
        "removing files older than {days} days from {}",
        cache.dir().display()
    ));
    let dir = cache.dir().to_owned();
    let report = tokio::task::spawn_blocking(move || cache.clean(days))
        .await
        .map_err(|e| JobError::Retry(anyhow::anyhow!("cache cleaning panicked: {e}")))?
        .map_err(|e| JobError::Retry(anyhow::anyhow!("cleaning {}: {e}", dir.display())))?;
    for f in &report.removed {
        ctx.info(format!("removed {} ({} bytes)", f.path.display(), f.bytes));
    }
    ctx.notice(format!(
        "freed {} bytes ({} files) in {}",
        report.bytes_freed,
        report.removed.len(),
        dir.display()
    ));
    Ok(())
}
