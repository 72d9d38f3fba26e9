//! What every handler shares: the job protocol, the Redis pools, the `[web]` settings (secrets
//! included, never logged) and the live-log hub.
//!
//! Each HTTP worker thread takes its connections from a pool of its own. A multiplexed
//! connection's I/O task runs on the thread that opened it, so with one pool for all threads
//! most round trips hopped between threads twice; per-thread pools served the 200-line log
//! page about a quarter faster (`docs/BENCHMARKS.md`).

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// The live poller's connections (handlers use `conn`); none is held across a wait.
    pub(crate) pool: deadpool_redis::Pool,
    /// The `[web]` settings.
    pub(crate) web: WebSettings,
    /// `web.allowed_addresses`, parsed.
    pub(crate) allowed: Vec<AddrRule>,
    /// `web.trusted_proxies`, parsed.
    pub(crate) proxies: Vec<AddrRule>,
    /// The games configured (`[games.<id>]`): webhooks for others are 404; the status pages
    /// list these.
    pub(crate) games: Vec<netkan_common::Game>,
    /// Each game's primary branches, resolved once at start (a local repository's `HEAD`
    /// is read then): `/gh/inflate` and `/gh/mirror` ignore pushes to other branches.
    pub(crate) branches: std::collections::BTreeMap<netkan_common::Game, GameBranches>,
    /// Feeds the live log streams.
    pub(crate) live: LiveHub,
    /// `web.base_url` without a trailing slash.
    pub(crate) base_url: String,
    /// Tells this state's thread pools from another server's in the same process (tests).
    id: usize,
    redis_url: String,
    pool_size: usize,
}

/// A game's primary branches (`games.<id>.netkan_branch`, `games.<id>.ckanmeta_branch`).
#[derive(Debug, Clone)]
pub(crate) struct GameBranches {
    /// NetKAN's.
    pub(crate) netkan: String,
    /// CKAN-meta's.
    pub(crate) ckanmeta: String,
}

thread_local! {
    // The pools of the states this thread has served, by state id.
    static THREAD_POOLS: RefCell<Vec<(usize, deadpool_redis::Pool)>> =
        const { RefCell::new(Vec::new()) };
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
        let proxies = settings
            .web
            .trusted_proxies
            .iter()
            .map(|a| AddrRule::parse(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("invalid setting web.trusted_proxies: {e}"))?;
        let games = settings
            .games
            .keys()
            .map(netkan_common::Game::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("invalid game in [games]: {e}"))?;
        let branches = games
            .iter()
            .map(|game| {
                let g = &settings.games[game.as_str()];
                let b = GameBranches {
                    netkan: g.netkan_primary_branch(),
                    ckanmeta: g.ckanmeta_primary_branch(),
                };
                tracing::info!(
                    game = %game,
                    netkan = %b.netkan,
                    ckanmeta = %b.ckanmeta,
                    "github pushes are taken from these branches"
                );
                (game.clone(), b)
            })
            .collect();
        let pool = netkan_common::connect::pool(redis_url, settings.redis.pool_size)
            .context("creating the redis pool")?;
        static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
        Ok(Self {
            jq: settings.job_queue(),
            pool,
            web: settings.web.clone(),
            allowed,
            proxies,
            games,
            branches,
            live: LiveHub::new(shutdown),
            base_url: settings.web.base_url.trim_end_matches('/').to_owned(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            redis_url: redis_url.to_owned(),
            pool_size: settings.redis.pool_size,
        })
    }

    /// A connection from this thread's pool (`redis.pool_size` connections per HTTP worker
    /// thread); a Redis that cannot be reached is a 503, not a 500.
    pub(crate) async fn conn(&self) -> Result<deadpool_redis::Connection, WebError> {
        self.thread_pool()?
            .get()
            .await
            .map_err(|e| WebError::Unavailable(e.to_string()))
    }

    fn thread_pool(&self) -> Result<deadpool_redis::Pool, WebError> {
        THREAD_POOLS.with(|pools| {
            let mut pools = pools.borrow_mut();
            if let Some((_, pool)) = pools.iter().find(|(id, _)| *id == self.id) {
                return Ok(pool.clone());
            }
            let pool = netkan_common::connect::pool(&self.redis_url, self.pool_size)?;
            pools.push((self.id, pool.clone()));
            Ok(pool)
        })
    }

    /// The primary branches of `game` (one of `games`: `request::game_of` has checked it).
    pub(crate) fn branches_of(
        &self,
        game: &netkan_common::Game,
    ) -> Result<&GameBranches, WebError> {
        self.branches
            .get(game)
            .ok_or_else(|| WebError::NotFound(format!("No such game: {game}")))
    }

    /// The public URL of a job's log page.
    pub(crate) fn log_url(&self, id: &netkan_common::JobId) -> String {
        format!("{}/logs/{id}", self.base_url)
    }
}
