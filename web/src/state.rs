//! What every handler shares: the job protocol, the Redis pool, the `[web]` settings (secrets
//! included, never logged) and the live-log hub.

use anyhow::Context;
use netkan_common::JobQueue;
use netkan_common::config::{Settings, WebSettings};
use tokio_util::sync::CancellationToken;

use crate::auth::AddrRule;
use crate::error::WebError;
use crate::live::LiveHub;

/// The state behind `web::Data<AppState>`.
pub(crate) struct AppState {
    /// The job protocol under the configured prefix.
    pub(crate) jq: JobQueue,
    /// Connections for handlers and the live poller; none is held across a wait.
    pub(crate) pool: deadpool_redis::Pool,
    /// The `[web]` settings.
    pub(crate) web: WebSettings,
    /// `web.allowed_addresses`, parsed.
    pub(crate) allowed: Vec<AddrRule>,
    /// Feeds the live log streams.
    pub(crate) live: LiveHub,
    /// `web.base_url` without a trailing slash.
    pub(crate) base_url: String,
}

impl AppState {
    /// Builds the state; fails on an unparsable `web.allowed_addresses` entry.
    pub(crate) fn new(
        settings: &Settings,
        redis_url: &str,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let allowed = settings
            .web
            .allowed_addresses
            .iter()
            .map(|a| AddrRule::parse(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("invalid setting web.allowed_addresses: {e}"))?;
        let pool = netkan_common::connect::pool(redis_url, settings.redis.pool_size)
            .context("creating the redis pool")?;
        Ok(Self {
            jq: settings.job_queue(),
            pool,
            web: settings.web.clone(),
            allowed,
            live: LiveHub::new(shutdown),
            base_url: settings.web.base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// A pooled connection; a Redis that cannot be reached is a 503, not a 500.
    pub(crate) async fn conn(&self) -> Result<deadpool_redis::Connection, WebError> {
        self.pool
            .get()
            .await
            .map_err(|e| WebError::Unavailable(e.to_string()))
    }

    /// The public URL of a job's log page.
    pub(crate) fn log_url(&self, id: &netkan_common::JobId) -> String {
        format!("{}/logs/{id}", self.base_url)
    }
}
