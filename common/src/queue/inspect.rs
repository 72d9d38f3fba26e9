//! Reads and repairs for operators and the web front end: a job's record, queue depths,
//! what is in flight, the dead-letter list, workers, and retrying or deleting dead jobs.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use redis::aio::ConnectionLike;
use serde::{Deserialize, Serialize};

use super::JobQueue;
use super::scripts::SCRIPTS;
use crate::error::QueueError;
use crate::job::{Attributes, Game, JobId, JobRecord, JobState, Lane, QueueName, time_from_ms};

/// Depths of one queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// The queue.
    pub queue: String,
    /// Waiting in the high lane.
    pub high: u64,
    /// Waiting in the low lane.
    pub low: u64,
    /// Interrupted by a dead or stopping worker, waiting to run again first.
    pub resuming: u64,
    /// Waiting out a retry backoff.
    pub retrying: u64,
    /// Leased to a worker.
    pub in_flight: u64,
    /// In the dead-letter list.
    pub dead: u64,
}

impl QueueStats {
    /// Jobs waiting to be claimed (every lane).
    pub fn waiting(&self) -> u64 {
        self.resuming + self.high + self.low
    }
}

/// A job a worker is running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InFlight {
    /// The job.
    pub id: JobId,
    /// Its kind.
    pub kind: String,
    /// The worker holding the lease.
    pub worker: String,
    /// When this attempt started.
    pub started: DateTime<Utc>,
    /// When the lease runs out unless renewed.
    pub lease_until: DateTime<Utc>,
    /// Which attempt it is.
    pub attempt: u32,
}

/// A job in the dead-letter list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadEntry {
    /// The job.
    pub id: JobId,
    /// Its kind (empty for an undecodable entry).
    pub kind: String,
    /// Why it died.
    pub error: String,
    /// When.
    pub died: DateTime<Utc>,
    /// Attempts made.
    pub attempts: u32,
}

/// A worker's announcement of itself, renewed with every heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Unique per process start.
    pub id: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Roles (queues) served.
    pub roles: Vec<String>,
    /// Jobs it may run at once.
    pub concurrency: usize,
    /// When it started.
    pub started: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat: DateTime<Utc>,
    /// Jobs it holds right now.
    pub running: usize,
}

/// Workers silent for longer than this are dropped from the list.
const FORGET_WORKERS_AFTER_SECS: i64 = 24 * 3600;

impl JobQueue {
    /// The record of a job, whether waiting, running or finished; `None` if unknown (or
    /// expired after the retention time).
    pub async fn job<C: ConnectionLike>(
        &self,
        conn: &mut C,
        id: &JobId,
    ) -> Result<Option<JobRecord>, QueueError> {
        let queues = self.queue_names(conn).await?;
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL")
            .arg(self.keys.job(id))
            .cmd("LRANGE")
            .arg(self.keys.children(id))
            .arg(0)
            .arg(-1);
        let places: Vec<(&QueueName, Lane)> = queues
            .iter()
            .flat_map(|q| Lane::ALL.map(|l| (q, l)))
            .collect();
        for (q, lane) in &places {
            pipe.cmd("HGET")
                .arg(self.keys.queued_index(q, *lane, id))
                .arg(id.to_string());
        }
        let mut replies: Vec<redis::Value> = match pipe.query_async(conn).await {
            Ok(r) => r,
            Err(e) => {
                let mut read: Vec<(String, &str)> = vec![
                    (self.keys.job(id), "hash"),
                    (self.keys.children(id), "list"),
                ];
                for (q, lane) in &places {
                    read.push((self.keys.queued_index(q, *lane, id), "hash"));
                }
                let read: Vec<(&str, &str)> = read.iter().map(|(k, t)| (k.as_str(), *t)).collect();
                return Err(super::naming_wrong_type(conn, e, &read).await);
            }
        };
        let index: Vec<redis::Value> = replies.split_off(2.min(replies.len()));
        let mut replies = replies.into_iter();
        let fields: HashMap<String, String> =
            redis::from_redis_value(replies.next().unwrap_or(redis::Value::Nil))
                .map_err(|e| QueueError::Reply(e.to_string()))?;
        let children: Vec<String> =
            redis::from_redis_value(replies.next().unwrap_or(redis::Value::Nil))
                .map_err(|e| QueueError::Reply(e.to_string()))?;
        let children = children.iter().filter_map(|c| c.parse().ok()).collect();
        if !fields.is_empty() {
            return Ok(Some(record_from_hash(*id, &fields, children)));
        }
        // Not claimed yet: the stream entry is the record.
        let Some((queue, lane, packed)) = places
            .into_iter()
            .zip(index)
            .find_map(|((q, l), v)| Some((q.clone(), l, super::text_opt(&v)?)))
        else {
            return Ok(None);
        };
        let sid = super::unpack_stream_id(&packed);
        let sid = sid.as_str();
        let stream = self.keys.lane(&queue, lane);
        let entries: Vec<(String, HashMap<String, String>)> = match redis::cmd("XRANGE")
            .arg(&stream)
            .arg(sid)
            .arg(sid)
            .query_async(conn)
            .await
        {
            Ok(e) => e,
            Err(e) => return Err(super::naming_wrong_type(conn, e, &[(&stream, "stream")]).await),
        };
        let Some((_, mut f)) = entries.into_iter().next() else {
            return Ok(None);
        };
        f.insert("queue".into(), queue.to_string());
        f.insert("lane".into(), lane.as_str().into());
        f.insert("state".into(), "queued".into());
        let created = sid.split('-').next().unwrap_or("0").to_owned();
        f.insert("created".into(), created);
        Ok(Some(record_from_hash(*id, &f, children)))
    }

    /// Depths of every known queue.
    pub async fn stats<C: ConnectionLike>(
        &self,
        conn: &mut C,
    ) -> Result<Vec<QueueStats>, QueueError> {
        let queues = self.queue_names(conn).await?;
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for q in &queues {
            pipe.cmd("XLEN")
                .arg(self.keys.lane(q, Lane::High))
                .cmd("XLEN")
                .arg(self.keys.lane(q, Lane::Low))
                .cmd("XLEN")
                .arg(self.keys.resume(q))
                .cmd("ZCARD")
                .arg(self.keys.retry(q))
                .cmd("ZCARD")
                .arg(self.keys.leases(q))
                .cmd("ZCARD")
                .arg(self.keys.dead(q));
        }
        let counts: Vec<u64> = pipe.query_async(conn).await?;
        Ok(queues
            .iter()
            .zip(counts.chunks(6))
            .map(|(q, c)| QueueStats {
                queue: q.to_string(),
                high: c[0],
                low: c[1],
                resuming: c[2],
                retrying: c[3],
                in_flight: c[4],
                dead: c[5],
            })
            .collect())
    }

    /// How long the oldest job waiting in any lane of each queue has waited, in seconds (0
    /// when none waits), in the order of `queues`: a lane's first stream entry id starts with
    /// its enqueue time.
    pub async fn oldest_waiting_secs<C: ConnectionLike>(
        &self,
        conn: &mut C,
        queues: &[QueueName],
    ) -> Result<Vec<f64>, QueueError> {
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for q in queues {
            for key in [
                self.keys.resume(q),
                self.keys.lane(q, Lane::High),
                self.keys.lane(q, Lane::Low),
            ] {
                pipe.cmd("XRANGE")
                    .arg(key)
                    .arg("-")
                    .arg("+")
                    .arg("COUNT")
                    .arg(1);
            }
        }
        type Entries = Vec<(String, HashMap<String, String>)>;
        let firsts: Vec<Entries> = pipe.query_async(conn).await?;
        let now_ms = Utc::now().timestamp_millis();
        Ok(firsts
            .chunks(3)
            .map(|lanes| {
                lanes
                    .iter()
                    .flatten()
                    .filter_map(|(sid, _)| sid.split('-').next()?.parse::<i64>().ok())
                    .min()
                    .map_or(0.0, |ms| (now_ms - ms).max(0) as f64 / 1000.0)
            })
            .collect())
    }

    /// Jobs leased to workers in one queue, oldest lease deadline first.
    pub async fn in_flight<C: ConnectionLike>(
        &self,
        conn: &mut C,
        queue: &QueueName,
        limit: usize,
    ) -> Result<Vec<InFlight>, QueueError> {
        let rows = self
            .scored_with_fields(
                conn,
                "ZRANGE",
                &self.keys.leases(queue),
                limit,
                &["kind", "worker", "started", "attempts"],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, deadline, f)| InFlight {
                id,
                kind: f[0].clone(),
                worker: f[1].clone(),
                started: time_from_ms(f[2].parse().unwrap_or(0)),
                lease_until: time_from_ms(deadline as i64),
                attempt: f[3].parse().unwrap_or(0),
            })
            .collect())
    }

    /// The dead-letter list of one queue, most recent first.
    pub async fn dead<C: ConnectionLike>(
        &self,
        conn: &mut C,
        queue: &QueueName,
        limit: usize,
    ) -> Result<Vec<DeadEntry>, QueueError> {
        let rows = self
            .scored_with_fields(
                conn,
                "ZREVRANGE",
                &self.keys.dead(queue),
                limit,
                &["kind", "error", "attempts"],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, died, f)| DeadEntry {
                id,
                kind: f[0].clone(),
                error: f[1].clone(),
                died: time_from_ms(died as i64),
                attempts: f[2].parse().unwrap_or(0),
            })
            .collect())
    }

    /// The first `limit` members of the sorted set `zset` (in the order of `range`, `ZRANGE`
    /// or `ZREVRANGE`) that are job ids, with their scores and the record `fields` of each
    /// (empty where a record lacks one), in two round trips.
    async fn scored_with_fields<C: ConnectionLike>(
        &self,
        conn: &mut C,
        range: &str,
        zset: &str,
        limit: usize,
        fields: &[&str],
    ) -> Result<Vec<(JobId, f64, Vec<String>)>, QueueError> {
        let members: Vec<(String, f64)> = redis::cmd(range)
            .arg(zset)
            .arg(0)
            .arg(limit.max(1) as i64 - 1)
            .arg("WITHSCORES")
            .query_async(conn)
            .await?;
        let ids: Vec<(JobId, f64)> = members
            .into_iter()
            .filter_map(|(id, s)| Some((id.parse().ok()?, s)))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (id, _) in &ids {
            pipe.cmd("HMGET").arg(self.keys.job(id)).arg(fields);
        }
        let rows: Vec<Vec<Option<String>>> = pipe.query_async(conn).await?;
        Ok(ids
            .into_iter()
            .zip(rows)
            .map(|((id, score), r)| {
                let values = (0..fields.len())
                    .map(|i| r.get(i).cloned().flatten().unwrap_or_default())
                    .collect();
                (id, score, values)
            })
            .collect())
    }

    /// Puts a dead job back in its queue with the same id and its attempts reset.
    /// Errors with `NotFound` if it is not in a dead-letter list.
    pub async fn retry_dead<C: ConnectionLike>(
        &self,
        conn: &mut C,
        id: &JobId,
    ) -> Result<(), QueueError> {
        self.dead_action(conn, id, "retry").await
    }

    /// Deletes a dead job, its record and its log.
    pub async fn delete_dead<C: ConnectionLike>(
        &self,
        conn: &mut C,
        id: &JobId,
    ) -> Result<(), QueueError> {
        self.dead_action(conn, id, "delete").await
    }

    async fn dead_action<C: ConnectionLike>(
        &self,
        conn: &mut C,
        id: &JobId,
        action: &str,
    ) -> Result<(), QueueError> {
        let done: i64 = SCRIPTS
            .dead
            .prepare_invoke()
            .arg(self.keys.prefix())
            .arg(action)
            .arg(id.to_string())
            .invoke_async(conn)
            .await?;
        if done == 1 {
            Ok(())
        } else {
            Err(QueueError::NotFound(format!(
                "{id} is not in a dead-letter list"
            )))
        }
    }

    /// Workers that announced themselves within the last day, most recent heartbeat first;
    /// older announcements are removed.
    pub async fn workers<C: ConnectionLike>(
        &self,
        conn: &mut C,
    ) -> Result<Vec<WorkerInfo>, QueueError> {
        let all: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.keys.workers())
            .query_async(conn)
            .await?;
        let now = Utc::now();
        let mut workers = Vec::new();
        let mut forget = Vec::new();
        for (id, json) in all {
            match serde_json::from_str::<WorkerInfo>(&json) {
                Ok(w) if (now - w.heartbeat).num_seconds() < FORGET_WORKERS_AFTER_SECS => {
                    workers.push(w)
                }
                _ => forget.push(id),
            }
        }
        if !forget.is_empty() {
            let _: i64 = redis::cmd("HDEL")
                .arg(self.keys.workers())
                .arg(&forget)
                .query_async(conn)
                .await?;
        }
        workers.sort_by_key(|w| std::cmp::Reverse(w.heartbeat));
        Ok(workers)
    }

    /// Removes a worker's announcement (it stopped cleanly).
    pub async fn forget_worker<C: ConnectionLike>(
        &self,
        conn: &mut C,
        worker: &str,
    ) -> Result<(), QueueError> {
        let _: i64 = redis::cmd("HDEL")
            .arg(self.keys.workers())
            .arg(worker)
            .query_async(conn)
            .await?;
        Ok(())
    }

    /// Finished jobs, most recently finished first, optionally only those in `state` and of
    /// `kind`; scans at most `scan` of the most recent.
    pub async fn recent_finished<C: ConnectionLike>(
        &self,
        conn: &mut C,
        state: Option<JobState>,
        kind: Option<&str>,
        limit: usize,
    ) -> Result<Vec<JobRecord>, QueueError> {
        const PAGE: usize = 200;
        let mut out = Vec::new();
        // Filtering happens here, so page through the index until enough match or it ends.
        // Pages follow the finish time (the score), not a rank: jobs finishing while we page
        // push ranks down, and paging by rank would then return some of them twice. A page
        // starts at the last score of the one before, past the members of that score already
        // read (many jobs finished in one script call share a score).
        let mut before: Option<f64> = None;
        let mut skip = 0usize;
        let mut seen: HashSet<String> = HashSet::new();
        let mut scanned = 0usize;
        while out.len() < limit && scanned < 20 * PAGE.max(limit) {
            let page: Vec<(String, f64)> = redis::cmd("ZREVRANGEBYSCORE")
                .arg(self.keys.finished())
                .arg(before.map_or_else(|| "+inf".to_owned(), |b| b.to_string()))
                .arg("-inf")
                .arg("WITHSCORES")
                .arg("LIMIT")
                .arg(skip)
                .arg(PAGE)
                .query_async(conn)
                .await?;
            let Some(&(_, last_score)) = page.last() else {
                break;
            };
            let full_page = page.len() == PAGE;
            let at_last = page.iter().filter(|(_, s)| *s == last_score).count();
            skip = if before == Some(last_score) {
                skip + at_last
            } else {
                at_last
            };
            before = Some(last_score);
            let fresh: Vec<String> = page
                .into_iter()
                .map(|(id, _)| id)
                .filter(|id| seen.insert(id.clone()))
                .collect();
            scanned += fresh.len();
            let ids: Vec<JobId> = fresh.iter().filter_map(|s| s.parse().ok()).collect();
            if ids.is_empty() {
                if full_page {
                    continue;
                }
                break;
            }
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.cmd("HGETALL").arg(self.keys.job(id));
            }
            let rows: Vec<HashMap<String, String>> = pipe.query_async(conn).await?;
            for (id, fields) in ids.into_iter().zip(rows) {
                if fields.is_empty() {
                    continue;
                }
                let rec = record_from_hash(id, &fields, Vec::new());
                if state.is_none_or(|s| rec.state == s) && kind.is_none_or(|k| rec.kind == k) {
                    out.push(rec);
                    if out.len() == limit {
                        break;
                    }
                }
            }
            if !full_page {
                break;
            }
        }
        Ok(out)
    }

    /// The counters of finished jobs (`finished:<queue>:<kind>:<outcome>` and
    /// `duration_ms:<queue>:<kind>`).
    pub async fn counters<C: ConnectionLike>(
        &self,
        conn: &mut C,
    ) -> Result<HashMap<String, i64>, QueueError> {
        Ok(redis::cmd("HGETALL")
            .arg(self.keys.stats())
            .query_async(conn)
            .await?)
    }
}

fn record_from_hash(id: JobId, f: &HashMap<String, String>, children: Vec<JobId>) -> JobRecord {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let opt = |k: &str| f.get(k).filter(|v| !v.is_empty()).cloned();
    let time = |k: &str| {
        f.get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .map(time_from_ms)
    };
    let attributes: Attributes = f
        .get("attrs")
        .filter(|a| !a.is_empty())
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or_default();
    JobRecord {
        id,
        kind: get("kind").to_owned(),
        queue: QueueName::new(get("queue")).unwrap_or_else(|_| QueueName::push()),
        lane: Lane::parse(get("lane")).unwrap_or_default(),
        game: Game::new(get("game")).unwrap_or_default(),
        state: JobState::parse(get("state")).unwrap_or(JobState::Queued),
        created: time("created").unwrap_or(DateTime::UNIX_EPOCH),
        started: time("started"),
        finished: time("finished"),
        attempts: get("attempts").parse().unwrap_or(0),
        last_error: opt("error"),
        retry_at: time("retry_at"),
        worker: opt("worker"),
        parent: f.get("parent").and_then(|p| p.parse().ok()),
        children,
        body: get("body").to_owned(),
        attributes,
        dedup_key: opt("dedup"),
    }
}
