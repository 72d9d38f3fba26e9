//! Periodic jobs (the scheduler's passes today; the download counter, auto-freezer, ticket
//! closer and cache cleaner later): every worker process serving the role runs a small
//! ticker, and each period gets exactly one job.
//!
//! A period is a fixed interval aligned on the Unix epoch (`every_secs`), or a day starting
//! at a UTC time (`at`). The job of period `n` has a name-based id ([`period_job_id`]: the
//! key prefix, the job's name and `n`), and every ticker enqueues it once per period;
//! enqueueing an id Redis already knows does nothing, so however many tickers race, and
//! wherever one is killed, the period's job is enqueued once. The first ticker of a period
//! also marks it (`SET <prefix>periodic:<name>:<period> <job id> NX PX <ms>`, until a
//! minute past the period's end) and writes the job's first log line (which period, which
//! worker). A process that
//! starts in the middle of a period whose job nobody enqueued (all workers were down)
//! enqueues it at once.
//!
//! While a periodic job runs it holds a lock in Redis ([`Exclusive`]), so one instance of it
//! runs at a time even if an operator enqueues another, or a run outlasts its period; the
//! lock expires by itself if its worker dies.
//!
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use netkan_common::config::SchedulePass;
use netkan_common::log::Level;
use netkan_common::{JobId, JobQueue, NewJob};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::context::JobContext;

const DAY_MS: i64 = 86_400_000;
/// A ticker looks again at least this often (Redis may have been away at the last tick).
const MAX_SLEEP_MS: i64 = 30_000;

/// When a periodic job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Every this many milliseconds, periods aligned on the Unix epoch.
    Every(i64),
    /// Daily, at this many seconds after midnight UTC.
    DailyAt(u32),
}

impl Period {
    /// The period of a scheduler pass (`every_secs`, else daily `at`); `None` if neither is
    /// usable (validation rejects that at start-up).
    pub fn of_pass(pass: &SchedulePass) -> Option<Self> {
        if pass.every_secs > 0 {
            Some(Period::Every(pass.every_secs as i64 * 1000))
        } else {
            netkan_common::config::parse_time_of_day(&pass.at).map(Period::DailyAt)
        }
    }

    /// The number of the period holding `now_ms` (ms since the epoch), and its start and end.
    pub fn at(&self, now_ms: i64) -> (i64, i64, i64) {
        let (len, offset) = match *self {
            Period::Every(ms) => (ms.max(1), 0),
            Period::DailyAt(secs) => (DAY_MS, i64::from(secs) * 1000),
        };
        let n = (now_ms - offset).div_euclid(len);
        (n, n * len + offset, (n + 1) * len + offset)
    }
}

/// A job enqueued once per period.
#[derive(Debug, Clone)]
pub struct Periodic {
    /// Unique among periodic jobs; part of the Redis key (`schedule-nonhooks`).
    pub name: String,
    /// When.
    pub period: Period,
    /// The job to enqueue (its id is replaced by the period's, see [`period_job_id`]).
    pub job: NewJob,
}

/// Runs the ticker for `jobs` until `shutdown`.
pub async fn run(
    jobs: Vec<Periodic>,
    queue: JobQueue,
    redis_url: String,
    worker_id: String,
    shutdown: CancellationToken,
) {
    if jobs.is_empty() {
        return;
    }
    let mut conn = loop {
        let attempt = async {
            let client = netkan_common::connect::client(&redis_url)?;
            netkan_common::connect::manager(&client, Duration::from_secs(5)).await
        };
        match attempt.await {
            Ok(c) => break c,
            Err(e) => {
                warn!(error = %e, "periodic ticker cannot reach redis yet");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = shutdown.cancelled() => return,
                }
            }
        }
    };
    let mut done: std::collections::HashMap<String, i64> = Default::default();
    loop {
        let now = Utc::now().timestamp_millis();
        let mut wake = now + MAX_SLEEP_MS;
        for p in &jobs {
            let (n, start, end) = p.period.at(now);
            if done.get(&p.name) != Some(&n) {
                match tick(&mut conn, &queue, p, n, start, end, now, &worker_id).await {
                    Ok(enqueued) => {
                        if let Some(id) = enqueued {
                            info!(job.id = %id, periodic = %p.name, "periodic job enqueued");
                        }
                        done.insert(p.name.clone(), n);
                    }
                    Err(e) => {
                        warn!(periodic = %p.name, error = %e, "periodic job not enqueued yet")
                    }
                }
            }
            wake = wake.min(end);
        }
        // Spread the tickers of many processes over a few hundred ms after a boundary.
        let jitter = i64::from(rand::random::<u16>() % 500);
        let sleep = Duration::from_millis((wake - now + jitter).max(10) as u64);
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// The id of `name`'s job for period `n`, the same in every process sharing `prefix`.
pub fn period_job_id(prefix: &str, name: &str, n: i64) -> JobId {
    JobId::from_name(&format!("{prefix}periodic:{name}:{n}"))
}

/// One attempt to enqueue `p` for period `n`: `Some(id)` if this ticker marked the period.
#[allow(clippy::too_many_arguments)] // The period's facts, computed once by the caller.
async fn tick(
    conn: &mut redis::aio::ConnectionManager,
    queue: &JobQueue,
    p: &Periodic,
    n: i64,
    start: i64,
    end: i64,
    now: i64,
    worker_id: &str,
) -> Result<Option<JobId>, netkan_common::QueueError> {
    let id = period_job_id(queue.keys().prefix(), &p.name, n);
    let ttl = (end - now).max(1000) + 60_000;
    let marked: Option<String> = redis::cmd("SET")
        .arg(queue.keys().periodic(&p.name, n))
        .arg(id.to_string())
        .arg("NX")
        .arg("PX")
        .arg(ttl)
        .query_async(conn)
        .await?;
    if marked.is_some() {
        // Written before the job exists, so it is the first line of the job's log.
        let started = Utc
            .timestamp_millis_opt(start)
            .single()
            .unwrap_or(DateTime::UNIX_EPOCH);
        let line = format!(
            "periodic job {} for the period starting {}, enqueued by worker {worker_id}",
            p.name,
            started.format("%Y-%m-%dT%H:%M:%SZ")
        );
        queue.append_log(conn, &id, &[(Level::Info, line)]).await?;
    }
    // Every ticker enqueues, not only the one that marked the period: the id is the
    // period's, so all but the first are no-ops, and a marker whose setter died before
    // enqueueing does not cost the period its run. "Redis knows the id" lasts as long as
    // finished jobs are kept, so late in a period longer than that only the marker counts.
    let retention_ms = queue.settings().retention_secs.saturating_mul(1000) as i64;
    if marked.is_some() || now - start < retention_ms {
        queue.enqueue(conn, &[p.job.clone().with_id(id)]).await?;
    }
    Ok(marked.map(|_| id))
}

/// Compare-and-delete and compare-and-extend of a lock held by one job.
/// KEYS[1] = the lock; ARGV[1] = the holder's job id, ARGV[2] = `del` or a lease in ms.
/// Returns 1 if the caller held it (and it was released or extended), else 0.
const LOCK_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'del' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
";

/// A lock held by a running job (a Redis string holding the job's id, renewed while it
/// runs); released when dropped through [`Exclusive::release`], or expired if the worker died.
pub struct Exclusive {
    key: String,
    holder: String,
    renewer: tokio::task::JoinHandle<()>,
    pool: deadpool_redis::Pool,
}

/// How long a lock lasts without renewal (a dead worker's lock frees itself this fast).
const LOCK_LEASE_MS: u64 = 30_000;

impl Exclusive {
    /// Takes lock `name` for the job of `ctx`; `Err(holder)` with the holding job's id if
    /// another job holds it.
    pub async fn acquire(ctx: &JobContext, name: &str) -> anyhow::Result<Result<Self, String>> {
        let key = ctx.queue().keys().lock(name);
        let holder = ctx.id().to_string();
        let pool = ctx.redis().clone();
        {
            let mut c = pool.get().await?;
            let set: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&holder)
                .arg("NX")
                .arg("PX")
                .arg(LOCK_LEASE_MS)
                .query_async(&mut *c)
                .await?;
            if set.is_none() {
                let current: Option<String> =
                    redis::cmd("GET").arg(&key).query_async(&mut *c).await?;
                // Our own earlier attempt (retried after a crash) may still hold it.
                if current.as_deref() != Some(holder.as_str()) {
                    return Ok(Err(current.unwrap_or_default()));
                }
            }
        }
        let renewer = {
            let (key, holder, pool) = (key.clone(), holder.clone(), pool.clone());
            tokio::spawn(async move {
                let script = redis::Script::new(LOCK_SCRIPT);
                loop {
                    tokio::time::sleep(Duration::from_millis(LOCK_LEASE_MS / 3)).await;
                    let Ok(mut c) = pool.get().await else {
                        continue;
                    };
                    let held: Result<i64, _> = script
                        .key(&key)
                        .arg(&holder)
                        .arg(LOCK_LEASE_MS)
                        .invoke_async(&mut *c)
                        .await;
                    if matches!(held, Ok(0)) {
                        warn!(lock = %key, "a periodic job lost its lock");
                        return;
                    }
                }
            })
        };
        Ok(Ok(Self {
            key,
            holder,
            renewer,
            pool,
        }))
    }

    /// Releases the lock (only if still ours).
    pub async fn release(self) -> anyhow::Result<()> {
        self.renewer.abort();
        let mut c = self.pool.get().await?;
        let _: i64 = redis::Script::new(LOCK_SCRIPT)
            .key(&self.key)
            .arg(&self.holder)
            .arg("del")
            .invoke_async(&mut *c)
            .await?;
        Ok(())
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        // A job that ends without `release` (a panic) leaves the lock to expire.
        self.renewer.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_aligned_on_the_epoch_or_a_time_of_day() {
        let p = Period::Every(1_800_000);
        assert_eq!(p.at(0), (0, 0, 1_800_000));
        assert_eq!(p.at(1_800_000), (1, 1_800_000, 3_600_000));
        assert_eq!(p.at(3_599_999).0, 1);
        let d = Period::DailyAt(4 * 3600);
        // 03:59:59 on day 1 still belongs to day 0's run; 04:00 starts day 1's.
        let day1_4am = DAY_MS + 4 * 3_600_000;
        assert_eq!(d.at(day1_4am - 1).0, 0);
        assert_eq!(d.at(day1_4am), (1, day1_4am, day1_4am + DAY_MS));
    }

    #[test]
    fn a_periods_job_id_depends_on_prefix_name_and_period_only() {
        let a = period_job_id("netkan:", "schedule-all", 7);
        assert_eq!(a, period_job_id("netkan:", "schedule-all", 7));
        assert_ne!(a, period_job_id("netkan:", "schedule-all", 8));
        assert_ne!(a, period_job_id("netkan:", "schedule-some", 7));
        assert_ne!(a, period_job_id("other:", "schedule-all", 7));
    }
}
