//! The runner: claims jobs for its roles in batches, runs each under a lease that a
//! heartbeat renews, catches panics, reports outcomes through the batching writer, keeps the
//! queues healthy (due retries, expired leases), reconnects after Redis outages, and on
//! shutdown stops claiming, lets running jobs finish within a deadline and hands back the rest.

pub(crate) mod writer;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use netkan_common::log::{Level, Redactor};
use netkan_common::queue::{Claim, Finish, Held, Outcome, Upkeep, WorkerInfo};
use netkan_common::{ClaimedJob, JobId, JobQueue, QueueError, QueueName};
use redis::aio::ConnectionManager;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::context::{JobContext, JobError, Registry};
use writer::WriteOp;

/// A role: the queues it serves, how many of their jobs run at once, and the handlers.
#[derive(Clone)]
pub struct Role {
    /// The role's name (`push`, `inflate`, `noop`...).
    pub name: String,
    /// The queues it claims from.
    pub queues: Vec<QueueName>,
    /// Jobs run at once.
    pub concurrency: usize,
    /// Handlers by job kind.
    pub registry: Registry,
}

/// What a runner needs.
pub struct RunnerConfig {
    /// Unique per process start; shown to operators as the lease holder.
    pub worker_id: String,
    /// The Redis URL.
    pub redis_url: String,
    /// The job protocol.
    pub queue: JobQueue,
    /// Pool for handlers.
    pub pool: deadpool_redis::Pool,
    /// The roles served.
    pub roles: Vec<Role>,
    /// Most jobs claimed per round trip.
    pub claim_batch: usize,
    /// How long running jobs may take to finish once shutdown begins.
    pub shutdown_timeout: Duration,
    /// Removes secrets from job log lines.
    pub redactor: Redactor,
}

/// How a run ended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Jobs started.
    pub started: u64,
    /// Jobs handed back to their queue at shutdown because they did not finish in time.
    pub handed_back: usize,
}

/// Jobs whose leases this worker holds, with what renewing and cancelling them needs.
pub(crate) type HeldJobs = HashMap<JobId, HeldJob>;

pub(crate) struct HeldJob {
    queue: QueueName,
    token: u64,
    cancel: CancellationToken,
    /// Set before `cancel` fires when an operator cancelled the job, so the attempt reports
    /// `cancelled` instead of leaving quietly as it does when its lease was lost.
    by_operator: Arc<AtomicBool>,
}

/// Redis is down or refusing: wait before trying again, longer each time, at most 5 s.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(Duration::from_millis(100))
    }
    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(5));
    }
    fn reset(&mut self) {
        self.0 = Duration::from_millis(100);
    }
}

struct Shared {
    cfg: RunnerConfig,
    held: Arc<Mutex<HeldJobs>>,
    writer: mpsc::UnboundedSender<WriteOp>,
    /// Cancelled to abort running jobs (lease lost or shutdown deadline passed).
    hard_stop: CancellationToken,
    tracker: TaskTracker,
    started_jobs: std::sync::atomic::AtomicU64,
    started_at: chrono::DateTime<chrono::Utc>,
}

/// Runs until `shutdown` is cancelled, then drains as described in the module docs.
///
/// # Errors
/// Only if Redis cannot be reached at start-up; later outages are waited out.
pub async fn run(cfg: RunnerConfig, shutdown: CancellationToken) -> anyhow::Result<RunReport> {
    let client = netkan_common::connect::client(&cfg.redis_url)?;
    let conn = connect_with_retry(&client, &shutdown).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let held: Arc<Mutex<HeldJobs>> = Arc::default();
    let writer_task = tokio::spawn(writer::run(
        rx,
        cfg.queue.clone(),
        conn.clone(),
        held.clone(),
    ));
    let shared = Arc::new(Shared {
        cfg,
        held,
        writer: tx,
        hard_stop: CancellationToken::new(),
        tracker: TaskTracker::new(),
        started_jobs: Default::default(),
        started_at: chrono::Utc::now(),
    });
    info!(
        worker.id = %shared.cfg.worker_id,
        roles = ?shared.cfg.roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        "worker started"
    );

    let background = CancellationToken::new();
    let heartbeat = tokio::spawn(heartbeat(shared.clone(), conn.clone(), background.clone()));
    let upkeep = tokio::spawn(upkeep(shared.clone(), conn.clone(), background.clone()));
    let mut loops = Vec::new();
    for role in shared.cfg.roles.clone() {
        loops.push(tokio::spawn(claim_loop(
            shared.clone(),
            role,
            client.clone(),
            conn.clone(),
            shutdown.clone(),
        )));
    }
    for l in loops {
        if let Err(e) = l.await {
            error!(error = %e, "claim loop ended abnormally");
        }
    }

    // Shutdown: no more claims. Running jobs get until the deadline.
    info!(worker.id = %shared.cfg.worker_id, "stopping: waiting for running jobs");
    shared.tracker.close();
    let mut report = RunReport::default();
    if tokio::time::timeout(shared.cfg.shutdown_timeout, shared.tracker.wait())
        .await
        .is_err()
    {
        shared.hard_stop.cancel();
        shared.tracker.wait().await;
        let remaining: Vec<Held> = {
            let held = shared
                .held
                .lock()
                .expect("held-jobs lock is never poisoned");
            held.iter()
                .map(|(id, h)| Held {
                    id: *id,
                    queue: h.queue.clone(),
                    token: h.token,
                })
                .collect()
        };
        let mut c = conn.clone();
        match shared.cfg.queue.release(&mut c, &remaining).await {
            Ok(n) => {
                report.handed_back = n;
                for h in &remaining {
                    let _ = shared.writer.send(WriteOp::Line {
                        id: h.id,
                        token: h.token,
                        line: netkan_common::log::format_line(
                            chrono::Utc::now(),
                            Level::Warn,
                            &format!(
                                "worker {} stopped before this attempt finished; job handed back to its queue",
                                shared.cfg.worker_id
                            ),
                        ),
                    });
                }
                warn!(handed_back = n, "running jobs handed back at shutdown");
            }
            Err(e) => {
                error!(error = %e, "handing back jobs failed; their leases will expire and they will run again")
            }
        }
    }
    report.started = shared
        .started_jobs
        .load(std::sync::atomic::Ordering::Relaxed);
    background.cancel();
    let _ = heartbeat.await;
    let _ = upkeep.await;
    let worker_id = shared.cfg.worker_id.clone();
    let queue = shared.cfg.queue.clone();
    // Dropping the last sender lets the writer flush what is left and end.
    drop(shared);
    if tokio::time::timeout(Duration::from_secs(30), writer_task)
        .await
        .is_err()
    {
        error!(
            "job logs and outcomes could not be flushed within 30 s; leases will expire and the jobs run again"
        );
    }
    let mut c = conn.clone();
    if let Err(e) = queue.forget_worker(&mut c, &worker_id).await {
        warn!(error = %e, "could not remove the worker's announcement");
    }
    info!(worker.id = %worker_id, started = report.started, handed_back = report.handed_back, "worker stopped");
    Ok(report)
}

async fn connect_with_retry(
    client: &redis::Client,
    shutdown: &CancellationToken,
) -> anyhow::Result<ConnectionManager> {
    let mut backoff = Backoff::new();
    let started = Instant::now();
    loop {
        match netkan_common::connect::manager(client, Duration::from_secs(5)).await {
            Ok(c) => return Ok(c),
            Err(e) if started.elapsed() < Duration::from_secs(30) && !shutdown.is_cancelled() => {
                warn!(error = %e, "cannot reach redis yet, retrying");
                backoff.wait().await;
            }
            Err(e) => return Err(anyhow::Error::new(e).context("connecting to redis")),
        }
    }
}

#[tracing::instrument(name = "claim_loop", skip_all, fields(role = %role.name))]
async fn claim_loop(
    shared: Arc<Shared>,
    role: Role,
    client: redis::Client,
    mut conn: ConnectionManager,
    shutdown: CancellationToken,
) {
    let semaphore = Arc::new(Semaphore::new(role.concurrency));
    let batch = shared.cfg.claim_batch.clamp(1, role.concurrency.max(1));
    let mut waiter: Option<redis::aio::MultiplexedConnection> = None;
    let mut backoff = Backoff::new();
    let mut rotate = 0usize;
    loop {
        let first = tokio::select! {
            p = semaphore.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = shutdown.cancelled() => break,
        };
        let mut permits = vec![first];
        while permits.len() < batch {
            match semaphore.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        let claim = tokio::select! {
            c = shared.cfg.queue.claim(&mut conn, &shared.cfg.worker_id, &role.queues, permits.len(), rotate) => c,
            _ = shutdown.cancelled() => break,
        };
        rotate = rotate.wrapping_add(1);
        let claim = match claim {
            Ok(c) => {
                backoff.reset();
                c
            }
            Err(e) => {
                warn!(error = %e, "claiming jobs failed; retrying");
                drop(permits);
                tokio::select! { _ = backoff.wait() => {}, _ = shutdown.cancelled() => break }
                continue;
            }
        };
        let Claim {
            jobs,
            undecodable,
            buried,
            wait_cursors,
        } = claim;
        for id in &buried {
            error!(job.id = %id, "an undecodable queue entry was moved to the dead-letter list");
        }
        let got_any = !jobs.is_empty() || !undecodable.is_empty() || !buried.is_empty();
        for bad in undecodable {
            error!(job.id = %bad.held.id, reason = %bad.reason, "undecodable job moved to the dead-letter list");
            shared.hold(&bad.held, CancellationToken::new(), Arc::default());
            let _ = shared.writer.send(WriteOp::Line {
                id: bad.held.id,
                token: bad.held.token,
                line: netkan_common::log::format_line(
                    chrono::Utc::now(),
                    Level::Error,
                    &format!("cannot decode this job: {}", bad.reason),
                ),
            });
            let _ = shared.writer.send(WriteOp::Finish(Finish {
                id: bad.held.id,
                queue: bad.held.queue.clone(),
                token: bad.held.token,
                attempt: 1,
                outcome: Outcome::Dead(format!("undecodable job: {}", bad.reason)),
            }));
        }
        for job in jobs {
            let permit = permits
                .pop()
                .expect("never more jobs than permits were claimed");
            shared.spawn_job(&role, job, permit);
        }
        drop(permits);
        if got_any {
            continue;
        }
        // Nothing waiting: block until something is added to one of the lanes.
        if waiter.is_none() {
            match netkan_common::connect::dedicated(&client, BLOCK).await {
                Ok(w) => waiter = Some(w),
                Err(e) => {
                    warn!(error = %e, "cannot open the blocking connection; retrying");
                    tokio::select! { _ = backoff.wait() => {}, _ = shutdown.cancelled() => break }
                    continue;
                }
            }
        }
        let w = waiter.as_mut().expect("set just above");
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS");
        for (key, _) in &wait_cursors {
            cmd.arg(key);
        }
        for (_, id) in &wait_cursors {
            cmd.arg(id);
        }
        tokio::select! {
            r = cmd.query_async::<redis::Value>(w) => {
                if let Err(e) = r {
                    debug!(error = %e, "blocking read failed; reconnecting");
                    waiter = None;
                }
            }
            _ = shutdown.cancelled() => break,
        }
    }
}

/// How long one blocking read waits before the loop looks around again.
const BLOCK: Duration = Duration::from_secs(5);

impl Shared {
    fn hold(&self, held: &Held, cancel: CancellationToken, by_operator: Arc<AtomicBool>) {
        self.held
            .lock()
            .expect("held-jobs lock is never poisoned")
            .insert(
                held.id,
                HeldJob {
                    queue: held.queue.clone(),
                    token: held.token,
                    cancel,
                    by_operator,
                },
            );
    }

    fn spawn_job(self: &Arc<Self>, role: &Role, job: ClaimedJob, permit: OwnedSemaphorePermit) {
        let cancel = self.hard_stop.child_token();
        let by_operator: Arc<AtomicBool> = Arc::default();
        self.hold(
            &Held {
                id: job.id,
                queue: job.queue.clone(),
                token: job.token,
            },
            cancel.clone(),
            by_operator.clone(),
        );
        self.started_jobs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let span = info_span!("job", job.id = %job.id, job.kind = %job.kind, job.attempt = job.attempt, queue = %job.queue);
        let shared = self.clone();
        let handler = role.registry.get(&job.kind).cloned();
        let roles = role.name.clone();
        self.tracker.spawn(
            async move {
                let finish_base = (job.id, job.queue.clone(), job.token, job.attempt);
                let superseded = job.superseded_by;
                let kind = job.kind.clone();
                let limit = shared.cfg.queue.settings().timeout(&kind);
                let ctx = JobContext::new(
                    job,
                    shared.cfg.queue.clone(),
                    shared.cfg.pool.clone(),
                    shared.writer.clone(),
                    shared.cfg.redactor.clone(),
                    cancel.clone(),
                );
                let started = Instant::now();
                let result: Result<(), JobError> = match (superseded, handler) {
                    (Some(newer), _) => {
                        ctx.notice(format!("skipped: superseded by the newer request {newer}"));
                        Ok(())
                    }
                    (None, None) => Err(JobError::Retry(anyhow::anyhow!(
                        "no handler for job kind {kind:?} in worker {} (role {roles})",
                        shared.cfg.worker_id
                    ))),
                    (None, Some(h)) => {
                        let fut = AssertUnwindSafe(h(ctx.clone())).catch_unwind();
                        tokio::select! {
                            r = fut => match r {
                                Ok(r) => r,
                                Err(panic) => Err(JobError::Retry(anyhow::anyhow!("handler panicked: {}", panic_message(&panic)))),
                            },
                            _ = cancel.cancelled() => {
                                if by_operator.load(Ordering::SeqCst) {
                                    Err(JobError::Cancelled)
                                } else {
                                    // Lease lost or shutdown deadline passed: someone else
                                    // will run it, or it was handed back; report nothing.
                                    debug!("job cancelled");
                                    return;
                                }
                            }
                            _ = tokio::time::sleep(limit) => {
                                // A hung attempt: stop what watches the token (blocking
                                // work), drop the future, and count the attempt as failed.
                                // Lines it writes from now on are refused by the writer.
                                cancel.cancel();
                                Err(JobError::Retry(anyhow::anyhow!(
                                    "timed out: the attempt ran longer than {} s (jobs.timeout_secs{}) and was cancelled",
                                    limit.as_secs(),
                                    if shared.cfg.queue.settings().timeout_secs_by_kind.contains_key(&kind) {
                                        format!("_by_kind.{kind}")
                                    } else {
                                        String::new()
                                    }
                                )))
                            }
                        }
                    }
                };
                // A handler that returns as soon as it sees its token fire races the runner's
                // own watch of the token: whatever it returned, an attempt an operator stopped
                // did not do what it was asked.
                let result = if by_operator.load(Ordering::SeqCst) {
                    Err(JobError::Cancelled)
                } else {
                    result
                };
                let (id, queue, token, attempt) = finish_base;
                let max = shared.cfg.queue.settings().max_attempts;
                let outcome = match result {
                    Ok(()) => Outcome::Succeeded,
                    Err(JobError::Permanent(e)) => {
                        let msg = format!("{e:#}");
                        ctx.log_final(Level::Error, &format!("failed: {msg}"));
                        Outcome::Failed(msg)
                    }
                    Err(JobError::Retry(e)) => {
                        let msg = format!("{e:#}");
                        if attempt >= max {
                            ctx.log_final(Level::Error, &format!("failed on attempt {attempt} of {max}, giving up: {msg}"));
                        } else {
                            ctx.log_final(Level::Error, &format!("attempt {attempt} of {max} failed, will retry: {msg}"));
                        }
                        Outcome::Retry(msg)
                    }
                    Err(JobError::Cancelled) => {
                        let msg = "cancelled by an operator; the attempt was stopped".to_owned();
                        ctx.log_final(Level::Warn, &msg);
                        Outcome::Cancelled(msg)
                    }
                    Err(JobError::RetryAfter { error, delay }) => {
                        let msg = format!("{error:#}");
                        ctx.log_final(
                            Level::Warn,
                            &format!("throttled; trying again in {}s (not counted as an attempt): {msg}", delay.as_secs()),
                        );
                        Outcome::RetryAfter { error: msg, delay }
                    }
                };
                let ms = started.elapsed().as_millis() as u64;
                match &outcome {
                    Outcome::Succeeded => debug!(duration_ms = ms, "job succeeded"),
                    Outcome::Failed(e) => info!(duration_ms = ms, error = %e, "job failed permanently"),
                    _ => warn!(duration_ms = ms, "job attempt failed"),
                }
                let _ = shared.writer.send(WriteOp::Finish(Finish { id, queue, token, attempt, outcome }));
                drop(permit);
            }
            .instrument(span),
        );
    }

    fn announcement(&self) -> String {
        let running = self
            .held
            .lock()
            .expect("held-jobs lock is never poisoned")
            .len();
        let info = WorkerInfo {
            id: self.cfg.worker_id.clone(),
            host: hostname(),
            pid: std::process::id(),
            roles: self.cfg.roles.iter().map(|r| r.name.clone()).collect(),
            concurrency: self.cfg.roles.iter().map(|r| r.concurrency).sum(),
            started: self.started_at,
            heartbeat: chrono::Utc::now(),
            running,
        };
        serde_json::to_string(&info).expect("worker info always serializes")
    }
}

/// Renews the leases of held jobs every third of the lease, and cancels jobs whose lease
/// was lost (they will run elsewhere; their results would be rejected anyway).
async fn heartbeat(shared: Arc<Shared>, mut conn: ConnectionManager, stop: CancellationToken) {
    let every = shared.cfg.queue.settings().lease() / 3;
    loop {
        let held: Vec<Held> = {
            let held = shared
                .held
                .lock()
                .expect("held-jobs lock is never poisoned");
            held.iter()
                .map(|(id, h)| Held {
                    id: *id,
                    queue: h.queue.clone(),
                    token: h.token,
                })
                .collect()
        };
        match shared
            .cfg
            .queue
            .renew(
                &mut conn,
                &shared.cfg.worker_id,
                &shared.announcement(),
                &held,
            )
            .await
        {
            Ok(renewal) => {
                let mut held = shared
                    .held
                    .lock()
                    .expect("held-jobs lock is never poisoned");
                for id in renewal.lost {
                    if let Some(h) = held.remove(&id) {
                        warn!(job.id = %id, "lease lost (taken over after a missed renewal); cancelling this attempt");
                        h.cancel.cancel();
                    }
                }
                for id in renewal.cancel {
                    if let Some(h) = held.get(&id) {
                        if !h.by_operator.swap(true, Ordering::SeqCst) {
                            info!(job.id = %id, "cancelled by an operator; stopping this attempt");
                        }
                        h.cancel.cancel();
                    }
                }
            }
            Err(e) => warn!(error = %e, "renewing leases failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// Promotes due retries and reaps expired leases of every queue, noting it in job logs.
async fn upkeep(shared: Arc<Shared>, mut conn: ConnectionManager, stop: CancellationToken) {
    let every = Duration::from_millis(shared.cfg.queue.settings().maintenance_interval_ms);
    loop {
        match shared.cfg.queue.maintain(&mut conn).await {
            Ok(events) => {
                for (id, what) in events {
                    let (level, msg) = match what {
                        Upkeep::RetryDue => (Level::Info, "backoff over; queued again".to_owned()),
                        Upkeep::LeaseExpired => {
                            warn!(job.id = %id, "lease expired; job queued again");
                            (Level::Warn, "the worker running this job stopped renewing its lease; queued again".to_owned())
                        }
                        Upkeep::LeaseExpiredDead => {
                            error!(job.id = %id, "lease expired on the last attempt; job is dead");
                            (Level::Error, "the worker running this job stopped renewing its lease on the last attempt; moved to the dead-letter list".to_owned())
                        }
                    };
                    if let Err(e) = shared
                        .cfg
                        .queue
                        .append_log(&mut conn, &id, &[(level, msg)])
                        .await
                    {
                        debug!(error = %e, "could not note upkeep in the job log");
                    }
                }
            }
            Err(e) => log_upkeep_error(&e),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
    }
}

fn log_upkeep_error(e: &QueueError) {
    if e.is_connection() {
        debug!(error = %e, "queue upkeep skipped: redis unreachable");
    } else {
        warn!(error = %e, "queue upkeep failed");
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// This machine's name, for worker announcements.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A worker id unique to this process start: `<host>-<pid>-<random>`.
pub fn new_worker_id() -> String {
    format!(
        "{}-{}-{:04x}",
        hostname(),
        std::process::id(),
        rand::random::<u16>()
    )
}
