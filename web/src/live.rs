//! Live job logs: one poller task for every open stream of `/logs/<uuid>/events`.
//!
//! Workers append log lines to a Redis list and nothing announces them, so a live view
//! must poll. Rather than one loop (and one connection) per open page, a single task reads
//! every watched job in one pipeline per tick: the record's state and times, the number of
//! children, the counts of its tree's roll-up, and the log lines after the lowest cursor its
//! subscribers have seen. A stream ends once the job and every job below it have finished. It takes a
//! pooled connection for that round trip only. A tick is 50 ms, so a line reaches the page
//! about 25 ms after it is written on average, 50 ms plus a round trip at worst.
//!
//! Each subscriber has a bounded channel; a subscriber too slow to keep up is dropped, and
//! the browser's `EventSource` reconnects with `Last-Event-ID`, resuming where it was.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use netkan_common::job::time_from_ms;
use netkan_common::log::parse_line;
use netkan_common::{JobId, JobQueue, JobState, Level, LogLine};
use redis::Value;
use serde::Serialize;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::error::WebError;

/// Time between two polls while any stream is open.
pub(crate) const TICK: Duration = Duration::from_millis(50);
/// The highest cursor a subscriber may ask for. A cursor comes from the client (`?after=`,
/// `Last-Event-ID`); past Redis's largest list index, `LRANGE` fails, and with it the poll of
/// every open stream, so a larger one is clamped here (no log is anywhere near as long).
const MAX_CURSOR: u64 = i64::MAX as u64 - BATCH;
/// Most lines read per job and tick; a longer backlog is sent over the next ticks.
const BATCH: u64 = 1000;
/// Events queued for one subscriber before it counts as too slow.
const CHANNEL: usize = 2048;
/// Open streams at most (each holds a channel and an HTTP connection).
const MAX_SUBSCRIBERS: usize = 10_000;

/// The state of a job as a live page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobMeta {
    /// `queued`, `running`, `succeeded`, `failed` or `dead`.
    pub(crate) state: String,
    /// Start of the latest attempt.
    pub(crate) started_at: Option<String>,
    /// Set once the job has finished.
    pub(crate) finished_at: Option<String>,
    /// Attempts started.
    pub(crate) attempts: u32,
    /// Jobs it caused so far.
    pub(crate) children: u64,
    /// True once it will not run again.
    pub(crate) finished: bool,
    /// Jobs below it (its tree's roll-up, `docs/redis-keys.md`): all, queued or running,
    /// failed or dead. The stream stays open until none is pending, so a page sees its whole
    /// tree finish.
    pub(crate) tree_jobs: u64,
    /// Queued or running below it.
    pub(crate) tree_pending: u64,
    /// Failed or dead below it.
    pub(crate) tree_failed: u64,
}

/// What a stream sends.
#[derive(Debug, Clone)]
pub(crate) enum LiveEvent {
    /// A new log line.
    Line(LogLine),
    /// The job's state, times, attempts or children changed (sent first on subscribing).
    Meta(JobMeta),
    /// The job and every job below it have finished, and every line was sent; the stream ends.
    End(JobMeta),
}

struct Subscriber {
    job: JobId,
    /// The next cursor it wants.
    next: u64,
    level: Option<Level>,
    last_meta: Option<JobMeta>,
    tx: mpsc::Sender<LiveEvent>,
}

struct Shared {
    incoming: Mutex<Vec<Subscriber>>,
    wake: Notify,
    open: AtomicUsize,
    shutdown: CancellationToken,
}

/// The handle handlers subscribe through; `run` is the poller.
#[derive(Clone)]
pub(crate) struct LiveHub {
    shared: Arc<Shared>,
}

impl LiveHub {
    /// A hub whose poller ends, closing every stream, when `shutdown` is cancelled.
    pub(crate) fn new(shutdown: CancellationToken) -> Self {
        Self {
            shared: Arc::new(Shared {
                incoming: Mutex::new(Vec::new()),
                wake: Notify::new(),
                open: AtomicUsize::new(0),
                shutdown,
            }),
        }
    }

    /// Streams `job`'s lines after cursor `after` (all when `None`) at or above `level`,
    /// and its state changes, until it finishes.
    pub(crate) fn subscribe(
        &self,
        job: JobId,
        after: Option<u64>,
        level: Option<Level>,
    ) -> Result<mpsc::Receiver<LiveEvent>, WebError> {
        if self.shared.shutdown.is_cancelled() {
            return Err(WebError::Unavailable("shutting down".into()));
        }
        let mut incoming = self
            .shared
            .incoming
            .lock()
            .map_err(|_| WebError::Internal("live hub lock poisoned".into()))?;
        if self.shared.open.load(Ordering::Relaxed) + incoming.len() >= MAX_SUBSCRIBERS {
            return Err(WebError::Unavailable("too many live streams open".into()));
        }
        let (tx, rx) = mpsc::channel(CHANNEL);
        incoming.push(Subscriber {
            job,
            next: after.map_or(0, |a| a.saturating_add(1)).min(MAX_CURSOR),
            level,
            last_meta: None,
            tx,
        });
        drop(incoming);
        self.shared.wake.notify_one();
        Ok(rx)
    }

    /// Streams open now (for metrics).
    pub(crate) fn open_streams(&self) -> usize {
        self.shared.open.load(Ordering::Relaxed)
    }

    /// The poller: runs until shutdown, idle (no Redis traffic) while no stream is open.
    pub(crate) async fn run(self, pool: deadpool_redis::Pool, jq: JobQueue) {
        let shared = &self.shared;
        let mut watched: HashMap<JobId, Vec<Subscriber>> = HashMap::new();
        let mut last_warning: Option<Instant> = None;
        loop {
            let new: Vec<Subscriber> = match shared.incoming.lock() {
                Ok(mut incoming) => std::mem::take(&mut *incoming),
                Err(_) => return,
            };
            for s in new {
                watched.entry(s.job).or_default().push(s);
            }
            watched.retain(|_, subs| {
                subs.retain(|s| !s.tx.is_closed());
                !subs.is_empty()
            });
            shared
                .open
                .store(watched.values().map(Vec::len).sum(), Ordering::Relaxed);
            if watched.is_empty() {
                tokio::select! {
                    _ = shared.wake.notified() => continue,
                    _ = shared.shutdown.cancelled() => return,
                }
            }
            let pause = match poll(&pool, &jq, &mut watched).await {
                Ok(()) => TICK,
                Err(e) => {
                    // One warning per minute is enough while Redis is away; streams stay open.
                    if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                        warn!(error = %e, "live log poll failed; retrying");
                        last_warning = Some(Instant::now());
                    }
                    Duration::from_millis(500)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shared.shutdown.cancelled() => return,
            }
        }
    }
}

async fn poll(
    pool: &deadpool_redis::Pool,
    jq: &JobQueue,
    watched: &mut HashMap<JobId, Vec<Subscriber>>,
) -> Result<(), WebError> {
    let keys = jq.keys();
    let jobs: Vec<(JobId, u64)> = watched
        .iter()
        .map(|(id, subs)| (*id, subs.iter().map(|s| s.next).min().unwrap_or(0)))
        .collect();
    let mut pipe = redis::pipe();
    for (id, start) in &jobs {
        // The record is read before the log: a job seen finished here has all its lines
        // in the list by the time LRANGE runs.
        pipe.cmd("HMGET")
            .arg(keys.job(id))
            .arg(&["state", "started", "finished", "attempts"])
            .cmd("LLEN")
            .arg(keys.children(id))
            .cmd("HMGET")
            .arg(keys.tree(id))
            .arg(&["jobs", "pending", "failed", "dead"])
            .cmd("LRANGE")
            .arg(keys.log(id))
            .arg(*start)
            .arg(start + BATCH - 1);
    }
    let replies: Vec<Value> = {
        let mut conn = pool
            .get()
            .await
            .map_err(|e| WebError::Unavailable(e.to_string()))?;
        pipe.query_async(&mut conn)
            .await
            .map_err(WebError::from_redis)?
    };
    let mut replies = replies.into_iter();
    for (id, start) in jobs {
        let (Some(record), Some(children), Some(tree), Some(lines)) = (
            replies.next(),
            replies.next(),
            replies.next(),
            replies.next(),
        ) else {
            return Err(WebError::Internal("short reply to the live poll".into()));
        };
        let record: Vec<Option<String>> = decode(record)?;
        let children: u64 = decode(children)?;
        let tree: Vec<Option<i64>> = decode(tree)?;
        let raw: Vec<String> = decode(lines)?;
        let complete = (raw.len() as u64) < BATCH;
        let lines: Vec<LogLine> = raw
            .iter()
            .enumerate()
            .map(|(i, r)| parse_line(start + i as u64, r))
            .collect();
        let meta = meta_from(&record, children, &tree);
        let Some(subs) = watched.get_mut(&id) else {
            continue;
        };
        subs.retain_mut(|s| deliver(s, &lines, &meta, complete));
    }
    Ok(())
}

fn decode<T: redis::FromRedisValue>(v: Value) -> Result<T, WebError> {
    redis::from_redis_value(v).map_err(|e| WebError::Internal(format!("live poll reply: {e}")))
}

/// Sends a subscriber what is new to it; false when it is done or too slow (drop it).
fn deliver(s: &mut Subscriber, lines: &[LogLine], meta: &JobMeta, complete: bool) -> bool {
    let from = s.next;
    for line in lines.iter().filter(|l| l.cursor >= from) {
        if s.level.is_none_or(|min| line.level >= min)
            && s.tx.try_send(LiveEvent::Line(line.clone())).is_err()
        {
            return false;
        }
        s.next = line.cursor + 1;
    }
    if meta.finished && meta.tree_pending == 0 && complete {
        let _ = s.tx.try_send(LiveEvent::End(meta.clone()));
        return false;
    }
    if s.last_meta.as_ref() != Some(meta) {
        if s.tx.try_send(LiveEvent::Meta(meta.clone())).is_err() {
            return false;
        }
        s.last_meta = Some(meta.clone());
    }
    true
}

fn meta_from(record: &[Option<String>], children: u64, tree: &[Option<i64>]) -> JobMeta {
    let count = |i: usize| tree.get(i).copied().flatten().unwrap_or(0).max(0) as u64;
    let field = |i: usize| record.get(i).cloned().flatten().filter(|v| !v.is_empty());
    let time = |i: usize| {
        field(i)
            .and_then(|v| v.parse::<i64>().ok())
            .map(time_from_ms)
    };
    // A job without a record has not been claimed yet.
    let state = field(0)
        .and_then(|s| JobState::parse(&s))
        .unwrap_or(JobState::Queued);
    let finished = state.is_finished();
    JobMeta {
        state: state.as_str().to_owned(),
        started_at: time(1).map(iso),
        finished_at: if finished { time(2).map(iso) } else { None },
        attempts: field(3).and_then(|v| v.parse().ok()).unwrap_or(0),
        children,
        finished,
        tree_jobs: count(0),
        tree_pending: count(1),
        tree_failed: count(2) + count(3),
    }
}

/// A time as the API and pages print it: RFC 3339, UTC, milliseconds.
///
/// Written by hand: a page or an API answer prints hundreds of these, and chrono's general
/// formatter was a tenth of the page's cost.
pub(crate) fn iso(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    }
    let ms = t.timestamp_subsec_millis().min(999);
    let mut out = String::with_capacity(24);
    for (n, width, sep) in [
        (year as u32, 4, '-'),
        (t.month(), 2, '-'),
        (t.day(), 2, 'T'),
        (t.hour(), 2, ':'),
        (t.minute(), 2, ':'),
        (t.second().min(59), 2, '.'),
        (ms, 3, 'Z'),
    ] {
        push_digits(&mut out, n, width);
        out.push(sep);
    }
    out
}

fn push_digits(out: &mut String, n: u32, width: usize) {
    let mut digits = [b'0'; 4];
    let mut n = n;
    for d in digits[..width].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for d in &digits[..width] {
        out.push(char::from(*d));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn iso_matches_chrono() {
        for raw in [
            "2024-01-15T10:30:02.123Z",
            "1999-12-31T23:59:59.009Z",
            "2026-03-04T05:06:07.000Z",
        ] {
            let t = netkan_common::log::parse_time(raw).unwrap();
            assert_eq!(iso(t), raw);
            assert_eq!(
                iso(t),
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
        }
    }
}
