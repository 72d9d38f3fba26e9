//! Long-running netkan workers: a generic job runner and the concrete job kinds.
//!
//! # Layout
//! - `runner`: claiming in batches, leases and heartbeats, panics as failures, the batching
//!   writer of logs and outcomes, queue upkeep, reconnection, graceful shutdown.
//! - `context`: what a handler gets (`JobContext`) and returns (`JobError`); the `Registry`.
//! - `jobs`: one module per job kind, grouped into roles.
//! - `analyzer`: guesses a new mod's `.netkan` properties from its zip (the adder,
//!   `netkan analyze-mod`); `netkan_yaml`: `.netkan` documents as YAML in NetKAN-Infra's
//!   layout; `fetch`: downloads into a file.
//! - `git`: working clones: read (the push worker) and write (commit, pull `-X ours`, push,
//!   branches) for the indexer and the adder.
//! - `forge`: GitHub pull requests, labels, comments and the rate limit.
//! - `downloads`: download counts from GitHub, SpaceDock, archive.org and SourceForge.
//! - `notify`: notices for people (new inflation errors, scheduler skips) to a webhook.
//! - `periodic`: jobs enqueued once per period by whichever worker gets there first, and
//!   the lock that keeps one instance of each running.
//! - `bench`: the job-core benchmark (`netkan-worker bench`).

pub mod analyzer;
pub mod bench;
pub mod context;
pub mod downloads;
pub mod fetch;
pub mod forge;
pub mod git;
pub mod jobs;
pub mod netkan_yaml;
pub mod notify;
pub mod periodic;
pub mod runner;

use std::time::Duration;

use netkan_common::config::Settings;
use netkan_common::log::Redactor;
use tokio_util::sync::CancellationToken;

pub use context::{JobContext, JobError, JobResult, Registry};
pub use runner::{Role, RunReport, RunnerConfig};

/// Runs a worker for the roles in `settings` against `redis_url` until `shutdown`.
///
/// # Errors
/// If the settings name an unknown role or Redis cannot be reached at start-up.
pub async fn run(
    settings: &Settings,
    redis_url: &str,
    shutdown: CancellationToken,
) -> anyhow::Result<RunReport> {
    let roles = jobs::roles(settings)?;
    let worker_id = runner::new_worker_id();
    let ticker = tokio::spawn(periodic::run(
        jobs::periodic(settings, &roles),
        settings.job_queue(),
        redis_url.to_owned(),
        worker_id.clone(),
        shutdown.clone(),
    ));
    let cfg = RunnerConfig {
        worker_id,
        redis_url: redis_url.to_owned(),
        queue: settings.job_queue(),
        pool: netkan_common::connect::pool(redis_url, settings.redis.pool_size)?,
        roles,
        claim_batch: settings.worker.claim_batch,
        shutdown_timeout: Duration::from_secs(settings.worker.shutdown_timeout_secs),
        redactor: Redactor::new(settings.secrets()),
    };
    let drain = tokio::spawn(drain_spool(
        settings.spool_dir(),
        settings.job_queue(),
        redis_url.to_owned(),
        shutdown.clone(),
    ));
    let report = runner::run(cfg, shutdown).await;
    drain.abort();
    ticker.abort();
    report
}

/// How often a worker looks for pushes the hook spooled while Redis was down.
const SPOOL_DRAIN_INTERVAL: Duration = Duration::from_secs(10);

/// Enqueues spooled pushes at start and every [`SPOOL_DRAIN_INTERVAL`], so a push made while
/// Redis was down is processed even if nobody pushes again.
async fn drain_spool(
    dir: std::path::PathBuf,
    queue: netkan_common::JobQueue,
    redis_url: String,
    shutdown: CancellationToken,
) {
    loop {
        if dir.is_dir() {
            let result = async {
                let client = redis::Client::open(redis_url.as_str())?;
                let mut conn = client.get_multiplexed_async_connection().await?;
                Ok::<_, anyhow::Error>(netkan_common::spool::drain(&dir, &queue, &mut conn).await?)
            }
            .await;
            match result {
                Ok(d) => {
                    for id in &d.enqueued {
                        tracing::info!(job.id = %id, "spooled job enqueued");
                    }
                    for (path, why) in &d.unreadable {
                        tracing::error!(path = %path.display(), reason = %why, "spool file is not a job; left in place");
                    }
                }
                Err(e) => tracing::debug!(error = %format!("{e:#}"), "spool not drained yet"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(SPOOL_DRAIN_INTERVAL) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Cancels `token` on SIGTERM or SIGINT (Ctrl-C); a second signal exits at once.
pub async fn shutdown_on_signals(token: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    tracing::info!("shutdown requested");
    token.cancel();
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    tracing::warn!("second signal: exiting now");
    std::process::exit(130);
}
