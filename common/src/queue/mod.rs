//! The job protocol on Redis: enqueue, claim with a lease, renew, finish (succeed, fail, retry,
//! bury), periodic upkeep, and the reads and repairs operators need.
//!
//! Every multi-key transition is one Lua script in `scripts/`. Functions take any async
//! connection (`redis::aio::ConnectionLike`), so the hook can use a plain connection and the
//! worker and web a pooled or multiplexed one.

mod control;
mod inspect;
pub(crate) mod scripts;
mod settings;
mod tree;

use std::collections::BTreeMap;

use redis::Value;
use redis::aio::ConnectionLike;

pub use control::Cancelled;
pub use inspect::{DeadEntry, InFlight, QueueStats, WorkerInfo};
pub use settings::JobSettings;
pub use tree::{TREE_LISTED, TreeCounts, TreeFailure, TreeState, TreeSummary};

use crate::error::QueueError;
use crate::job::{Attributes, ClaimedJob, Game, JobId, Lane, NewJob, QueueName, time_from_ms};
use crate::keys::Keys;
use crate::log::{LogLine, LogQuery, Order, format_line, parse_line};
use scripts::SCRIPTS;

/// The largest number of jobs one claim may return (a bound on script run time).
pub const MAX_CLAIM: usize = 1000;

/// The longest [`Outcome::RetryAfter`] wait honoured.
const MAX_RETRY_AFTER_MS: u64 = 24 * 3600 * 1000;

/// The job protocol for one key prefix and one set of settings.
#[derive(Debug, Clone)]
pub struct JobQueue {
    keys: Keys,
    settings: JobSettings,
}

/// What happened to a job during an attempt, as the worker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It worked.
    Succeeded,
    /// It failed for a reason retrying cannot fix; the job ends `failed`.
    Failed(String),
    /// It failed and may work later; retried after a backoff, or buried when attempts are used up.
    Retry(String),
    /// A host throttled it: it runs again once `delay` has passed, and this attempt is not
    /// counted, so waiting out a rate limit never uses up a job's attempts.
    RetryAfter {
        /// What the host said.
        error: String,
        /// How long until the host takes requests again.
        delay: std::time::Duration,
    },
    /// It must not run again (undecodable, attempts exhausted); it goes to the dead-letter list.
    Dead(String),
    /// An operator cancelled it while it ran ([`JobQueue::cancel`]); the job ends `cancelled`
    /// and is not retried.
    Cancelled(String),
}

/// What a lease renewal found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renewal {
    /// Jobs whose lease the worker no longer holds; their results would be rejected.
    pub lost: Vec<JobId>,
    /// Jobs still held that an operator asked to cancel: stop them, report them cancelled.
    pub cancel: Vec<JobId>,
}

/// One acknowledgement for [`JobQueue::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    /// The job.
    pub id: JobId,
    /// Its queue.
    pub queue: QueueName,
    /// The fencing token from the claim.
    pub token: u64,
    /// Which attempt it was (decides between retry and dead).
    pub attempt: u32,
    /// What happened.
    pub outcome: Outcome,
}

/// A job whose lease a worker holds, for renewals and hand-backs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The job.
    pub id: JobId,
    /// Its queue.
    pub queue: QueueName,
    /// The fencing token from the claim.
    pub token: u64,
}

/// A claimed entry that could not be turned into a [`ClaimedJob`]; the worker buries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable {
    /// The lease it is held under.
    pub held: Held,
    /// Why it could not be decoded.
    pub reason: String,
}

/// The result of one claim.
#[derive(Debug, Default)]
pub struct Claim {
    /// Jobs now leased to the worker.
    pub jobs: Vec<ClaimedJob>,
    /// Leased entries with a valid id whose fields make no sense; bury them with `finish`.
    pub undecodable: Vec<Undecodable>,
    /// Entries without a valid id, already moved to the dead-letter list under these ids.
    pub buried: Vec<JobId>,
    /// When nothing was claimed: each lane stream key with the id to block on after it.
    pub wait_cursors: Vec<(String, String)>,
}

/// What the periodic upkeep did to one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upkeep {
    /// Its backoff was over; it is waiting in its lane again.
    RetryDue,
    /// Its worker stopped renewing the lease; it is waiting in its lane again.
    LeaseExpired,
    /// Its worker stopped renewing the lease on the last attempt; it is dead.
    LeaseExpiredDead,
}

impl JobQueue {
    /// The protocol under `keys` with `settings`.
    pub fn new(keys: Keys, settings: JobSettings) -> Self {
        Self { keys, settings }
    }

    /// The key builder.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The settings.
    pub fn settings(&self) -> &JobSettings {
        &self.settings
    }

    /// Enqueues jobs in one round trip, each at the end of its queue's lane.
    ///
    /// Returns, for each job, the id it is known by. That is its own id, except when a job
    /// with the same de-duplication key, lane, kind, game, body and attributes is still waiting:
    /// then the new request is coalesced into it and that job's id is returned. A request that
    /// differs in any way is always enqueued; the older one is then skipped when a worker
    /// claims it (see [`ClaimedJob::superseded_by`]), so a newer request is never swallowed.
    pub async fn enqueue<C: ConnectionLike>(
        &self,
        conn: &mut C,
        jobs: &[NewJob],
    ) -> Result<Vec<JobId>, QueueError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = SCRIPTS.enqueue.prepare_invoke();
        inv.key(self.keys.queues());
        inv.arg(self.keys.prefix()).arg(jobs.len());
        for job in jobs {
            job.validate()?;
            let parent_children = match &job.parent {
                Some(p) => self.keys.children(p),
                None => self.keys.queues(),
            };
            inv.key(self.keys.lane(&job.queue, job.lane))
                .key(self.keys.queued_index(&job.queue, job.lane, &job.id))
                .key(self.keys.latest(&job.queue))
                .key(parent_children);
            let attrs = if job.attributes.is_empty() {
                String::new()
            } else {
                serde_json::to_string(&job.attributes).expect("a string map always serializes")
            };
            inv.arg(job.id.to_string())
                .arg(&job.kind)
                .arg(job.queue.as_str())
                .arg(job.lane.as_str())
                .arg(job.game.as_str())
                .arg(job.parent.map(|p| p.to_string()).unwrap_or_default())
                .arg(&job.body)
                .arg(attrs)
                .arg(job.dedup_key.as_deref().unwrap_or(""));
        }
        let ids: Vec<String> = inv.invoke_async(conn).await?;
        ids.iter()
            .map(|s| s.parse().map_err(QueueError::from))
            .collect()
    }

    /// Claims up to `max` jobs from `queues` for `worker`: every queue's high lane before any
    /// low lane, starting the rotation at `rotate` so that no queue starves the others.
    pub async fn claim<C: ConnectionLike>(
        &self,
        conn: &mut C,
        worker: &str,
        queues: &[QueueName],
        max: usize,
        rotate: usize,
    ) -> Result<Claim, QueueError> {
        let max = max.clamp(1, MAX_CLAIM);
        let n = queues.len();
        // (stream key, queue, lane name as the script records it), in claim order.
        let mut lanes: Vec<(String, &QueueName, &str)> = Vec::with_capacity(3 * n);
        for i in 0..n {
            let q = &queues[(i + rotate) % n];
            lanes.push((self.keys.resume(q), q, "resume"));
        }
        for lane in Lane::ALL {
            for i in 0..n {
                let q = &queues[(i + rotate) % n];
                lanes.push((self.keys.lane(q, lane), q, lane.as_str()));
            }
        }
        let mut inv = SCRIPTS.claim.prepare_invoke();
        for (key, _, _) in &lanes {
            inv.key(key);
        }
        inv.key(self.keys.paused()).key(self.keys.control());
        inv.arg(self.keys.prefix())
            .arg(worker)
            .arg(max)
            .arg(self.settings.lease_ms)
            .arg(self.settings.dead_retention_secs)
            .arg(lanes.len());
        for (_, q, _) in &lanes {
            inv.arg(q.as_str());
        }
        for (_, _, lane) in &lanes {
            inv.arg(*lane);
        }
        let reply: Value = inv.invoke_async(conn).await?;
        let [jobs, buried, cursors] = three(reply)?;
        let mut claim = Claim::default();
        let values = array(jobs)?;
        for chunk in values.chunks(14) {
            let f: Vec<String> = chunk.iter().map(text).collect();
            if f.len() != 14 {
                return Err(QueueError::Reply("claim returned a short job".into()));
            }
            let id: JobId = f[0]
                .parse()
                .map_err(|_| QueueError::Reply(format!("claim returned job id {:?}", f[0])))?;
            let token: u64 = number(&f[1])?;
            let queue = QueueName::new(f[4].clone())?;
            let held = Held { id, queue, token };
            match decode_claimed(held.clone(), &f) {
                Ok(job) => claim.jobs.push(job),
                Err(reason) => claim.undecodable.push(Undecodable { held, reason }),
            }
        }
        for v in array(buried)? {
            claim.buried.push(
                text(&v)
                    .parse()
                    .map_err(|_| QueueError::Reply("claim buried under a bad id".into()))?,
            );
        }
        let cursors = array(cursors)?;
        if !cursors.is_empty() {
            claim.wait_cursors = lanes
                .into_iter()
                .map(|(key, _, _)| key)
                .chain([self.keys.control()])
                .zip(cursors.iter())
                .map(|(key, c)| (key, text(c)))
                .collect();
        }
        Ok(claim)
    }

    /// Extends the leases `worker` holds and records its heartbeat (`announcement`, JSON).
    /// Returns the jobs whose lease it lost and those an operator asked to cancel.
    pub async fn renew<C: ConnectionLike>(
        &self,
        conn: &mut C,
        worker: &str,
        announcement: &str,
        held: &[Held],
    ) -> Result<Renewal, QueueError> {
        let mut inv = SCRIPTS.renew.prepare_invoke();
        inv.key(self.keys.workers())
            .arg(self.keys.prefix())
            .arg(self.settings.lease_ms)
            .arg(worker)
            .arg(announcement);
        for h in held {
            inv.arg(h.id.to_string()).arg(h.queue.as_str()).arg(h.token);
        }
        let (lost, cancel): (Vec<String>, Vec<String>) = inv.invoke_async(conn).await?;
        let ids = |v: Vec<String>| v.iter().filter_map(|s| s.parse().ok()).collect();
        Ok(Renewal {
            lost: ids(lost),
            cancel: ids(cancel),
        })
    }

    /// Records the outcomes of attempts in one round trip. A `Retry` on the last allowed
    /// attempt becomes `Dead`; a `RetryAfter` never does. Returns for each whether it was recorded: `false` means the
    /// lease had been taken over (the worker was presumed dead) and the result was dropped.
    pub async fn finish<C: ConnectionLike>(
        &self,
        conn: &mut C,
        finishes: &[Finish],
    ) -> Result<Vec<bool>, QueueError> {
        if finishes.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = SCRIPTS.finish.prepare_invoke();
        inv.key(self.keys.finished())
            .key(self.keys.stats())
            .arg(self.keys.prefix())
            .arg(self.settings.retention_secs)
            .arg(self.settings.dead_retention_secs);
        for f in finishes {
            let (outcome, error) = match &f.outcome {
                Outcome::Succeeded => ("succeeded".to_owned(), ""),
                Outcome::Failed(e) => ("failed".to_owned(), e.as_str()),
                Outcome::Dead(e) => ("dead".to_owned(), e.as_str()),
                Outcome::Cancelled(e) => ("cancelled".to_owned(), e.as_str()),
                Outcome::Retry(e) if f.attempt >= self.settings.max_attempts => {
                    ("dead".to_owned(), e.as_str())
                }
                Outcome::Retry(e) => {
                    let delay = self.settings.backoff(f.attempt, rand::random::<f64>());
                    (format!("retry:{}", delay.as_millis()), e.as_str())
                }
                Outcome::RetryAfter { error, delay } => {
                    // At least the base backoff (a reset time in the past means "now"), at most
                    // a day (a bogus header must not park a job forever).
                    let ms = (delay.as_millis() as u64)
                        .clamp(self.settings.backoff_base_ms, MAX_RETRY_AFTER_MS);
                    (format!("wait:{ms}"), error.as_str())
                }
            };
            inv.arg(f.id.to_string())
                .arg(f.queue.as_str())
                .arg(f.token)
                .arg(outcome)
                .arg(error);
        }
        let done: Vec<i64> = inv.invoke_async(conn).await?;
        Ok(done.into_iter().map(|d| d == 1).collect())
    }

    /// Hands jobs back to their queue without using up an attempt (worker shutting down).
    pub async fn release<C: ConnectionLike>(
        &self,
        conn: &mut C,
        held: &[Held],
    ) -> Result<usize, QueueError> {
        if held.is_empty() {
            return Ok(0);
        }
        let mut inv = SCRIPTS.release.prepare_invoke();
        inv.arg(self.keys.prefix());
        for h in held {
            inv.arg(h.id.to_string()).arg(h.queue.as_str()).arg(h.token);
        }
        let n: usize = inv.invoke_async(conn).await?;
        Ok(n)
    }

    /// Periodic upkeep of every known queue: due retries back into their lanes, expired
    /// leases reaped. Safe to run from several workers at once.
    pub async fn maintain<C: ConnectionLike>(
        &self,
        conn: &mut C,
    ) -> Result<Vec<(JobId, Upkeep)>, QueueError> {
        let queues = self.queue_names(conn).await?;
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = SCRIPTS.maintain.prepare_invoke();
        inv.arg(self.keys.prefix())
            .arg(self.settings.max_attempts)
            .arg(500)
            .arg(self.settings.dead_retention_secs);
        for q in &queues {
            inv.arg(q.as_str());
        }
        let out: Vec<String> = inv.invoke_async(conn).await?;
        Ok(out
            .chunks(2)
            .filter_map(|c| {
                let id = c.first()?.parse().ok()?;
                let what = match c.get(1)?.as_str() {
                    "retry" => Upkeep::RetryDue,
                    "requeued" => Upkeep::LeaseExpired,
                    "dead" => Upkeep::LeaseExpiredDead,
                    _ => return None,
                };
                Some((id, what))
            })
            .collect())
    }

    /// Every queue that has ever been enqueued into, sorted.
    pub async fn queue_names<C: ConnectionLike>(
        &self,
        conn: &mut C,
    ) -> Result<Vec<QueueName>, QueueError> {
        let names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.queues())
            .query_async(conn)
            .await?;
        let mut queues: Vec<QueueName> = names
            .into_iter()
            .filter_map(|n| QueueName::new(n).ok())
            .collect();
        queues.sort();
        Ok(queues)
    }

    /// Appends lines to a job's log outside a worker (a producer noting what it did).
    pub async fn append_log<C: ConnectionLike>(
        &self,
        conn: &mut C,
        id: &JobId,
        lines: &[(crate::log::Level, String)],
    ) -> Result<(), QueueError> {
        if lines.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now();
        let mut cmd = redis::cmd("RPUSH");
        cmd.arg(self.keys.log(id));
        for (level, msg) in lines {
            cmd.arg(format_line(now, *level, msg));
        }
        let _: i64 = cmd.query_async(conn).await?;
        Ok(())
    }

    /// Reads a job's log lines.
    pub async fn logs<C: ConnectionLike>(
        &self,
        conn: &mut C,
        id: &JobId,
        query: &LogQuery,
    ) -> Result<Vec<LogLine>, QueueError> {
        let key = self.keys.log(id);
        // A cursor comes from a client (`?after=`, `Last-Event-ID`): one past any index a
        // Redis list can have reads nothing, rather than overflowing.
        let start = query.after.map_or(0, |a| a.saturating_add(1));
        if start > i64::MAX as u64 {
            return Ok(Vec::new());
        }
        // A plain forward page with no filters is one bounded LRANGE; anything else reads the
        // rest of the log (bounded by the per-job cap) and filters here.
        let simple = query.since.is_none() && query.level.is_none() && query.order == Order::Asc;
        let stop: i64 = match (simple, query.limit) {
            (true, Some(limit)) if limit > 0 => {
                let stop = start.saturating_add(limit as u64 - 1);
                i64::try_from(stop).unwrap_or(i64::MAX)
            }
            _ => -1,
        };
        let raw: Vec<String> = redis::cmd("LRANGE")
            .arg(&key)
            .arg(start)
            .arg(stop)
            .query_async(conn)
            .await?;
        let lines = raw
            .iter()
            .enumerate()
            .map(|(i, r)| parse_line(start + i as u64, r))
            .filter(|l| query.matches(l));
        let limit = query.limit.unwrap_or(usize::MAX);
        Ok(match query.order {
            Order::Asc => lines.take(limit).collect(),
            Order::Desc => {
                let mut all: Vec<LogLine> = lines.collect();
                all.reverse();
                all.truncate(limit);
                all
            }
        })
    }
}

fn decode_claimed(held: Held, f: &[String]) -> Result<ClaimedJob, String> {
    let lane = Lane::parse(&f[5]).ok_or_else(|| format!("unknown lane {:?}", f[5]))?;
    let game = if f[6].is_empty() {
        Game::default()
    } else {
        Game::new(&f[6]).map_err(|e| e.to_string())?
    };
    let parent = if f[7].is_empty() {
        None
    } else {
        Some(
            f[7].parse::<JobId>()
                .map_err(|e| format!("field parent: {e}"))?,
        )
    };
    let attributes: Attributes = if f[9].is_empty() {
        BTreeMap::new()
    } else {
        serde_json::from_str(&f[9])
            .map_err(|e| format!("field attrs is not a JSON object of strings: {e}"))?
    };
    let kind = f[3].clone();
    if kind.is_empty() {
        return Err("field kind is empty".into());
    }
    Ok(ClaimedJob {
        id: held.id,
        kind,
        queue: held.queue,
        lane,
        game,
        parent,
        body: f[8].clone(),
        attributes,
        dedup_key: (!f[10].is_empty()).then(|| f[10].clone()),
        created: time_from_ms(f[11].parse().unwrap_or(0)),
        attempt: f[2].parse().map_err(|_| "bad attempt count".to_owned())?,
        token: held.token,
        log_lines: f[12].parse().unwrap_or(0),
        superseded_by: f[13].parse().ok(),
    })
}

/// `e` as it is, unless it is a `WRONGTYPE` from a read of `keys` (key, the type netkan keeps
/// there): then an error naming the first key that holds another type, found by asking Redis
/// for each key's type (only on this error path). Scripts name such keys themselves
/// (`common.lua`); this is the same for the reads made outside scripts.
pub(crate) async fn naming_wrong_type<C: ConnectionLike>(
    conn: &mut C,
    e: redis::RedisError,
    keys: &[(&str, &str)],
) -> QueueError {
    if !e.to_string().contains("WRONGTYPE") {
        return e.into();
    }
    for (key, want) in keys {
        let found: redis::RedisResult<String> =
            redis::cmd("TYPE").arg(*key).query_async(conn).await;
        if let Ok(t) = found
            && t != "none"
            && t != *want
        {
            return QueueError::Reply(format!(
                "WRONGTYPE {key} holds a {t} where netkan keeps a {want}"
            ));
        }
    }
    e.into()
}

fn three(v: Value) -> Result<[Value; 3], QueueError> {
    let parts = array(v)?;
    <[Value; 3]>::try_from(parts).map_err(|_| QueueError::Reply("expected three arrays".into()))
}

pub(crate) fn array(v: Value) -> Result<Vec<Value>, QueueError> {
    match v {
        Value::Array(a) | Value::Set(a) => Ok(a),
        Value::Nil => Ok(Vec::new()),
        other => Err(QueueError::Reply(format!(
            "expected an array, got {other:?}"
        ))),
    }
}

pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Okay => "OK".into(),
        _ => String::new(),
    }
}

/// Unpacks a stream id stored in the queued index (see [`Keys::queued_index`]).
pub fn unpack_stream_id(v: &str) -> String {
    if v.contains('-') {
        return v.to_owned();
    }
    match v.parse::<u64>() {
        Ok(n) => format!("{}-{}", n / 100, n % 100),
        Err(_) => v.to_owned(),
    }
}

pub(crate) fn text_opt(v: &Value) -> Option<String> {
    match v {
        Value::Nil => None,
        other => Some(text(other)),
    }
}

fn number(s: &str) -> Result<u64, QueueError> {
    s.parse()
        .map_err(|_| QueueError::Reply(format!("expected a number, got {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::unpack_stream_id;

    #[test]
    fn packed_stream_ids_unpack() {
        assert_eq!(unpack_stream_id("173230000000012"), "1732300000000-12");
        assert_eq!(unpack_stream_id("173230000000000"), "1732300000000-0");
        assert_eq!(unpack_stream_id("1732300000000-345"), "1732300000000-345");
    }
}
