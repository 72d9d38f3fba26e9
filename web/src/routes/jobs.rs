//! The JSON API of jobs (`/api/v1/jobs`), shaped like the PureScript registry's
//! (`jobId`, `jobType`, `createdAt`, `startedAt`, `finishedAt`, `success`, `logs`) so its
//! clients' habits work: poll until `finishedAt` is present, then read `success`.
//!
//! - `GET /api/v1/jobs/<uuid>?level=&since=&after=&order=&limit=`: one job with its state,
//!   parent, children (each with kind and state), log lines, and `tree`: the verdict of the
//!   job and everything it caused (`state` running/failed/succeeded, `counts` by state, and
//!   `failures` with `jobId`, `kind`, `identifier`, `error`, `state`). `after` is a cursor
//!   (exclusive), `since` a time (inclusive; RFC 3339 or ms since the epoch), `level` the
//!   lowest level shown (default: all), `order` `asc` (default) or `desc`, `limit` at most
//!   10,000 lines (default 1,000; `0` for none). 404 for an unknown id.
//! - `GET /api/v1/jobs?state=&kind=&limit=`: recent jobs without logs: running ones, then
//!   the most recently finished; `state` picks one state (`queued` lists the oldest
//!   waiting), `kind` one kind; `limit` at most 500 (default 50).
//!
//! Every answer carries `Access-Control-Allow-Origin: *` (see `request::context`).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use futures::future::try_join_all;
use netkan_common::log::{LogQuery, Order, parse_time};
use netkan_common::queue::TreeSummary;
use netkan_common::{JobId, JobQueue, JobRecord, JobState, Lane, Level, LogLine, QueueName};
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};

use crate::error::WebError;
use crate::live::iso;
use crate::state::AppState;

/// Lines returned when `limit` is not given.
const DEFAULT_LINES: usize = 1000;
/// Lines returned at most.
const MAX_LINES: usize = 10_000;
/// Children listed with their state at most; the count is always exact.
pub(super) const MAX_CHILDREN: usize = 500;
/// Children without a record (still waiting) looked up one by one at most.
const MAX_WAITING_LOOKUPS: usize = 50;
/// Jobs listed when `limit` is not given, and at most.
const DEFAULT_JOBS: usize = 50;
const MAX_JOBS: usize = 500;

/// A job as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobJson {
    job_id: JobId,
    job_type: String,
    queue: String,
    game: String,
    state: &'static str,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    /// True only once the job has succeeded.
    success: bool,
    attempts: u32,
    last_error: Option<String>,
    parent: Option<JobId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    children: Option<Vec<ChildJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logs: Option<Vec<LineJson>>,
    /// The verdict of the job and everything it caused (one job's answer only).
    #[serde(skip_serializing_if = "Option::is_none")]
    tree: Option<TreeSummary>,
}

impl JobJson {
    fn new(job: &JobRecord) -> Self {
        let finished = job.state.is_finished();
        Self {
            job_id: job.id,
            job_type: job.kind.clone(),
            queue: job.queue.to_string(),
            game: job.game.to_string(),
            state: job.state.as_str(),
            created_at: iso(job.created),
            started_at: job.started.map(iso),
            finished_at: job.finished.filter(|_| finished).map(iso),
            success: job.state == JobState::Succeeded,
            attempts: job.attempts,
            last_error: job.last_error.clone(),
            parent: job.parent,
            child_count: None,
            children: None,
            logs: None,
            tree: None,
        }
    }
}

/// A child of a job.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChildJson {
    pub(crate) job_id: JobId,
    pub(crate) job_type: String,
    pub(crate) state: String,
}

/// A log line.
#[derive(Debug, Serialize)]
pub(crate) struct LineJson {
    cursor: u64,
    timestamp: String,
    level: Level,
    message: String,
}

impl From<LogLine> for LineJson {
    fn from(l: LogLine) -> Self {
        Self {
            cursor: l.cursor,
            timestamp: iso(l.timestamp),
            level: l.level,
            message: l.message,
        }
    }
}

impl LineJson {
    /// The line as one Server-Sent Events `data:` payload.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a log line serializes")
    }
}

#[derive(Deserialize)]
pub(crate) struct JobQuery {
    level: Option<String>,
    since: Option<String>,
    after: Option<u64>,
    order: Option<String>,
    limit: Option<usize>,
}

impl JobQuery {
    /// The lines the query asks for; 400 naming a bad `level`, `since`, `order` or `limit`.
    pub(crate) fn to_log_query(&self) -> Result<LogQuery, WebError> {
        let limit = self.limit.unwrap_or(DEFAULT_LINES);
        if limit > MAX_LINES {
            return Err(WebError::BadRequest(format!(
                "limit {limit} is too large: at most {MAX_LINES}"
            )));
        }
        Ok(LogQuery {
            after: self.after,
            since: self.since.as_deref().map(parse_time).transpose()?,
            level: parse_level(self.level.as_deref())?,
            order: self
                .order
                .as_deref()
                .map(str::parse::<Order>)
                .transpose()?
                .unwrap_or_default(),
            limit: Some(limit),
        })
    }
}

/// Parses `level=` (empty means none).
pub(super) fn parse_level(level: Option<&str>) -> Result<Option<Level>, WebError> {
    match level.map(str::trim).filter(|l| !l.is_empty()) {
        None => Ok(None),
        Some(l) => Ok(Some(l.parse()?)),
    }
}

/// Parses a job id from a path; anything else is a 404, as no such job exists.
pub(crate) fn parse_id(raw: &str) -> Result<JobId, WebError> {
    raw.parse().map_err(|_| {
        let shown: String = raw.chars().take(100).collect();
        WebError::NotFound(format!("No job {shown:?}: job ids are UUIDs"))
    })
}

/// 404 for a job that does not exist (or whose record has expired).
pub(super) fn no_such_job(id: &JobId) -> WebError {
    WebError::NotFound(format!(
        "No job {id}: it never existed, or its record expired after the retention time"
    ))
}

/// A second handle on a pooled connection's multiplexed socket, to run independent reads
/// concurrently without taking a second connection from the pool.
pub(super) fn shared(conn: &deadpool_redis::Connection) -> MultiplexedConnection {
    MultiplexedConnection::clone(conn)
}

/// The kind and state of `ids` (at most `MAX_CHILDREN` of them), in one round trip plus one
/// lookup per child still waiting (those have no record yet).
pub(super) async fn children_of(
    conn: &MultiplexedConnection,
    jq: &JobQueue,
    ids: &[JobId],
) -> Result<Vec<ChildJson>, WebError> {
    let ids = &ids[..ids.len().min(MAX_CHILDREN)];
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for id in ids {
        pipe.cmd("HMGET")
            .arg(jq.keys().job(id))
            .arg(&["kind", "state"]);
    }
    let rows: Vec<(Option<String>, Option<String>)> = pipe
        .query_async(&mut conn.clone())
        .await
        .map_err(WebError::from_redis)?;
    let mut children: Vec<ChildJson> = ids
        .iter()
        .zip(rows)
        .map(|(id, (kind, state))| ChildJson {
            job_id: *id,
            job_type: kind.unwrap_or_default(),
            state: state.unwrap_or_default(),
        })
        .collect();
    let waiting: Vec<&mut ChildJson> = children.iter_mut().filter(|c| c.state.is_empty()).collect();
    let lookups = waiting.iter().take(MAX_WAITING_LOOKUPS).map(|c| {
        let mut conn = conn.clone();
        let id = c.job_id;
        async move { jq.job(&mut conn, &id).await }
    });
    let found = try_join_all(lookups).await?;
    for (i, child) in waiting.into_iter().enumerate() {
        match found.get(i).cloned().flatten() {
            Some(rec) => {
                child.job_type = rec.kind;
                child.state = rec.state.as_str().to_owned();
            }
            // Not looked up, or gone between the two reads: it was waiting a moment ago.
            None => child.state = JobState::Queued.as_str().to_owned(),
        }
    }
    Ok(children)
}

/// `GET /api/v1/jobs/<uuid>`: the job, its children and its log lines.
pub(crate) async fn show_job(
    path: web::Path<String>,
    query: web::Query<JobQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let id = parse_id(&path)?;
    let log_query = query.to_log_query()?;
    let limit = log_query.limit.unwrap_or(DEFAULT_LINES);
    let pooled = state.conn().await?;
    let (mut a, mut b) = (shared(&pooled), shared(&pooled));
    let read_logs = async {
        if limit == 0 {
            Ok(Vec::new())
        } else {
            state.jq.logs(&mut b, &id, &log_query).await
        }
    };
    let (job, lines) = tokio::try_join!(state.jq.job(&mut a, &id), read_logs)?;
    let job = job.ok_or_else(|| no_such_job(&id))?;
    let (children, tree) = tokio::try_join!(children_of(&a, &state.jq, &job.children), async {
        Ok(state.jq.tree(&mut b, &job).await?)
    })?;
    drop(pooled);
    let mut json = JobJson::new(&job);
    json.tree = Some(tree);
    json.child_count = Some(job.children.len());
    json.children = Some(children);
    json.logs = Some(lines.into_iter().map(LineJson::from).collect());
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json))
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    state: Option<String>,
    kind: Option<String>,
    limit: Option<usize>,
}

impl ListQuery {
    /// The `state=` asked for (empty means any); 400 naming a bad one.
    pub(crate) fn wanted_state(&self) -> Result<Option<JobState>, WebError> {
        match self
            .state
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Ok(None),
            Some(s) => JobState::parse(s).map(Some).ok_or_else(|| {
                let shown: String = s.chars().take(64).collect();
                WebError::BadRequest(format!(
                    "invalid state {shown:?}: expected queued, running, succeeded, failed or dead"
                ))
            }),
        }
    }
}

/// `GET /api/v1/jobs`: recent jobs, without children or logs.
pub(crate) async fn list_jobs(
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let limit = query.limit.unwrap_or(DEFAULT_JOBS).min(MAX_JOBS);
    let wanted = query.wanted_state()?;
    let kind = query.kind.as_deref().filter(|k| !k.is_empty());
    let jq = &state.jq;
    let pooled = state.conn().await?;
    let conn = shared(&pooled);
    let queues = jq.queue_names(&mut conn.clone()).await?;
    let mut jobs: Vec<JobRecord> = Vec::new();
    if matches!(wanted, None | Some(JobState::Running)) {
        let mut ids = Vec::new();
        for q in &queues {
            ids.extend(
                jq.in_flight(&mut conn.clone(), q, limit)
                    .await?
                    .into_iter()
                    .map(|f| f.id),
            );
        }
        jobs.extend(records(&conn, jq, &ids, kind).await?);
    }
    if wanted == Some(JobState::Queued) {
        let ids = waiting_ids(&conn, jq, &queues, limit).await?;
        jobs.extend(records(&conn, jq, &ids, kind).await?);
    }
    if wanted == Some(JobState::Dead) {
        let mut dead = Vec::new();
        for q in &queues {
            dead.extend(jq.dead(&mut conn.clone(), q, limit).await?);
        }
        dead.sort_by_key(|d| std::cmp::Reverse(d.died));
        let ids: Vec<JobId> = dead.into_iter().map(|d| d.id).collect();
        jobs.extend(records(&conn, jq, &ids, kind).await?);
    } else if matches!(wanted, None | Some(JobState::Succeeded | JobState::Failed)) {
        let left = limit.saturating_sub(jobs.len());
        if left > 0 {
            jobs.extend(
                jq.recent_finished(&mut conn.clone(), wanted, kind, left)
                    .await?,
            );
        }
    }
    drop(pooled);
    jobs.truncate(limit);
    let list: Vec<JobJson> = jobs.iter().map(JobJson::new).collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(list))
}

/// The records of `ids` (those still known, of `kind` if given), read concurrently.
async fn records(
    conn: &MultiplexedConnection,
    jq: &JobQueue,
    ids: &[JobId],
    kind: Option<&str>,
) -> Result<Vec<JobRecord>, WebError> {
    let reads = ids.iter().map(|id| {
        let mut conn = conn.clone();
        async move { jq.job(&mut conn, id).await }
    });
    Ok(try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .filter(|r| kind.is_none_or(|k| r.kind == k))
        .collect())
}

/// The oldest waiting jobs of every queue: resuming first, then the high and low lanes.
async fn waiting_ids(
    conn: &MultiplexedConnection,
    jq: &JobQueue,
    queues: &[QueueName],
    limit: usize,
) -> Result<Vec<JobId>, WebError> {
    let mut pipe = redis::pipe();
    for q in queues {
        pipe.cmd("XRANGE")
            .arg(jq.keys().resume(q))
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(limit);
        for lane in Lane::ALL {
            pipe.cmd("XRANGE")
                .arg(jq.keys().lane(q, lane))
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(limit);
        }
    }
    type Entries = Vec<(String, std::collections::HashMap<String, String>)>;
    let streams: Vec<Entries> = pipe
        .query_async(&mut conn.clone())
        .await
        .map_err(WebError::from_redis)?;
    let mut waiting: Vec<(i64, JobId)> = streams
        .into_iter()
        .flatten()
        .filter_map(|(entry, fields)| {
            let id = fields.get("id")?.parse().ok()?;
            let ms = entry.split('-').next()?.parse().ok()?;
            Some((ms, id))
        })
        .collect();
    waiting.sort_by_key(|(ms, _)| *ms);
    waiting.dedup_by_key(|(_, id)| *id);
    Ok(waiting.into_iter().take(limit).map(|(_, id)| id).collect())
}

/// `OPTIONS /api/v1/*`: the CORS preflight.
pub(crate) async fn allow_preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, OPTIONS"))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "Accept, Content-Type, Last-Event-ID",
        ))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
        .finish()
}
