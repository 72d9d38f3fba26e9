//! The run view of a job (`/logs/<uuid>`'s top section, and `GET /logs/<uuid>/run`, the
//! same section alone for the page's script to swap in when the tree changes): the verdict of
//! the job's tree, its failures, and every job it caused, nested, each with its state,
//! duration and final log line. GitHub Actions' run page is the model.
//!
//! The verdict comes from the roll-up the scripts keep (`JobQueue::tree`). The nested list
//! has to name every job, so it reads them: one pipelined round trip per level of the tree
//! (four in the pipeline), at most [`MAX_NODES`] jobs.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use futures::future::try_join_all;
use netkan_common::job::time_from_ms;
use netkan_common::log::parse_line;
use netkan_common::queue::TreeSummary;
use netkan_common::{JobId, JobQueue, JobRecord, JobState};
use redis::aio::MultiplexedConnection;

use super::jobs::{no_such_job, parse_id, shared};
use crate::error::WebError;
use crate::state::AppState;
use crate::views::{self, duration, visible_controls};

/// Jobs listed in a run view at most (a scheduler pass causes about 1,000 inflations, each
/// an index and a mirror job); past it the view says how many are left out.
pub(crate) const MAX_NODES: usize = 5000;
/// Levels below the job read at most (the pipeline has three below a push).
const MAX_DEPTH: usize = 6;
/// Waiting jobs (no record yet) whose kind is looked up one by one at most.
const MAX_WAITING_LOOKUPS: usize = 50;

/// One job of the run, in the order the page lists them (each after its parent).
pub(crate) struct RunNode {
    pub(crate) id: String,
    /// Levels below the viewed job: 1 for its children.
    pub(crate) depth: usize,
    pub(crate) kind: String,
    pub(crate) identifier: String,
    pub(crate) state: &'static str,
    pub(crate) duration: String,
    /// Its last log line (empty if none), and that line's level.
    pub(crate) last_line: String,
    pub(crate) last_level: &'static str,
    /// Its last error, if it failed or died.
    pub(crate) error: Option<String>,
    /// It, or a job below it, failed or died: the page marks the whole chain red.
    pub(crate) failed_chain: bool,
}

/// The run section.
#[derive(Template)]
#[template(path = "logs/run.html")]
pub(crate) struct RunSection {
    pub(crate) job_id: String,
    pub(crate) tree: TreeView,
    pub(crate) nodes: Vec<RunNode>,
    /// Jobs of the tree not listed (past [`MAX_NODES`], or whose records expired).
    pub(crate) left_out: u64,
}

/// The verdict as the page shows it.
pub(crate) struct TreeView {
    pub(crate) state: &'static str,
    pub(crate) jobs: u64,
    pub(crate) pending: u64,
    pub(crate) succeeded: u64,
    pub(crate) failed: u64,
    pub(crate) failures: Vec<FailureView>,
    /// Failures counted but not listed (the roll-up lists 100).
    pub(crate) more_failures: u64,
}

pub(crate) struct FailureView {
    pub(crate) id: String,
    pub(crate) who: String,
    pub(crate) state: String,
    pub(crate) error: String,
}

impl TreeView {
    fn new(t: &TreeSummary) -> Self {
        let failed = t.counts.failed + t.counts.dead;
        Self {
            state: t.state.as_str(),
            jobs: t.counts.jobs,
            pending: t.counts.pending,
            succeeded: t.counts.succeeded,
            failed,
            failures: t
                .failures
                .iter()
                .map(|f| FailureView {
                    id: f.job_id.to_string(),
                    who: f
                        .identifier
                        .clone()
                        .unwrap_or_else(|| format!("{} job", f.kind)),
                    state: f.state.clone(),
                    error: visible_controls(f.error.as_deref().unwrap_or("(no error recorded)")),
                })
                .collect(),
            more_failures: failed.saturating_sub(t.failures.len() as u64),
        }
    }
}

/// Reads the run section of `job`.
pub(crate) async fn section(
    conn: &MultiplexedConnection,
    jq: &JobQueue,
    job: &JobRecord,
) -> Result<RunSection, WebError> {
    let tree = jq.tree(&mut conn.clone(), job).await?;
    let mut nodes: Vec<Node> = Vec::new();
    // Level by level: (index of the parent in `nodes`, or None for the viewed job; child id).
    let mut level: Vec<(Option<usize>, JobId)> = job.children.iter().map(|c| (None, *c)).collect();
    let mut depth = 1;
    while !level.is_empty() && depth <= MAX_DEPTH && nodes.len() < MAX_NODES {
        level.truncate(MAX_NODES - nodes.len());
        let read = read_level(conn, jq, &level).await?;
        let mut next = Vec::new();
        for ((parent, _), (mut node, children)) in level.iter().zip(read) {
            let index = nodes.len();
            node.parent = *parent;
            node.view.depth = depth;
            nodes.push(node);
            next.extend(children.into_iter().map(|c| (Some(index), c)));
        }
        level = next;
        depth += 1;
    }
    // A failure marks every job above it, up to the viewed job.
    let failed: Vec<usize> = (0..nodes.len())
        .filter(|&i| matches!(nodes[i].view.state, "failed" | "dead"))
        .collect();
    for mut i in failed {
        loop {
            if nodes[i].view.failed_chain {
                break;
            }
            nodes[i].view.failed_chain = true;
            match nodes[i].parent {
                Some(p) => i = p,
                None => break,
            }
        }
    }
    // Each job right after its parent: a depth-first order over the level-by-level reads.
    let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        children.entry(n.parent).or_default().push(i);
    }
    let mut order = Vec::with_capacity(nodes.len());
    let mut stack: Vec<usize> = children.get(&None).cloned().unwrap_or_default();
    stack.reverse();
    while let Some(i) = stack.pop() {
        order.push(i);
        if let Some(c) = children.get(&Some(i)) {
            stack.extend(c.iter().rev());
        }
    }
    let mut slots: Vec<Option<RunNode>> = nodes.into_iter().map(|n| Some(n.view)).collect();
    let listed: Vec<RunNode> = order
        .into_iter()
        .filter_map(|i| {
            let mut v = slots[i].take()?;
            v.depth = v.depth.min(MAX_DEPTH);
            Some(v)
        })
        .collect();
    let left_out = tree.counts.jobs.saturating_sub(1 + listed.len() as u64);
    Ok(RunSection {
        job_id: job.id.to_string(),
        tree: TreeView::new(&tree),
        nodes: listed,
        left_out,
    })
}

struct Node {
    parent: Option<usize>,
    view: RunNode,
}

/// The facts of `level`'s jobs and their children's ids, in one round trip (plus a lookup
/// per waiting job, whose facts are still in its queue entry).
async fn read_level(
    conn: &MultiplexedConnection,
    jq: &JobQueue,
    level: &[(Option<usize>, JobId)],
) -> Result<Vec<(Node, Vec<JobId>)>, WebError> {
    let mut pipe = redis::pipe();
    for (_, id) in level {
        pipe.cmd("HMGET")
            .arg(jq.keys().job(id))
            .arg(&[
                "kind", "state", "started", "finished", "error", "attrs", "dedup",
            ])
            .cmd("LINDEX")
            .arg(jq.keys().log(id))
            .arg(-1)
            .cmd("LRANGE")
            .arg(jq.keys().children(id))
            .arg(0)
            .arg(-1);
    }
    type Row = (Vec<Option<String>>, Option<String>, Vec<String>);
    let rows: Vec<Row> = pipe
        .query_async(&mut conn.clone())
        .await
        .map_err(WebError::from_redis)?;
    let waiting: Vec<JobId> = level
        .iter()
        .zip(&rows)
        .filter(|(_, (r, _, _))| r.first().cloned().flatten().is_none())
        .map(|((_, id), _)| *id)
        .take(MAX_WAITING_LOOKUPS)
        .collect();
    let found = try_join_all(waiting.iter().map(|id| {
        let mut c = conn.clone();
        async move { jq.job(&mut c, id).await }
    }))
    .await?;
    let found: HashMap<JobId, JobRecord> = found.into_iter().flatten().map(|r| (r.id, r)).collect();
    let now = Utc::now();
    Ok(level
        .iter()
        .zip(rows)
        .map(|((_, id), (r, last, children))| {
            let field = |i: usize| r.get(i).cloned().flatten().filter(|v| !v.is_empty());
            let time = |i: usize| {
                field(i)
                    .and_then(|v| v.parse::<i64>().ok())
                    .map(time_from_ms)
            };
            let waiting = found.get(id);
            let state = field(1)
                .and_then(|s| JobState::parse(&s))
                .unwrap_or(JobState::Queued);
            let kind = field(0)
                .or_else(|| waiting.map(|w| w.kind.clone()))
                .unwrap_or_default();
            let attrs: HashMap<String, String> = field(5)
                .and_then(|a| serde_json::from_str(&a).ok())
                .or_else(|| waiting.map(|w| w.attributes.clone().into_iter().collect()))
                .unwrap_or_default();
            let dedup = field(6).or_else(|| waiting.and_then(|w| w.dedup_key.clone()));
            let identifier = attrs
                .get("ModIdentifier")
                .cloned()
                .or_else(|| dedup.and_then(|d| d.split('/').nth(1).map(str::to_owned)))
                .unwrap_or_default();
            let (started, finished) = (time(2), time(3));
            let duration = match (started, finished, state) {
                (Some(s), Some(f), st) if st.is_finished() => duration((f - s).num_milliseconds()),
                (Some(s), _, JobState::Running) => {
                    format!("{} so far", duration((now - s).num_milliseconds()))
                }
                _ => String::new(),
            };
            let line = last.map(|l| parse_line(0, &l));
            let node = Node {
                parent: None,
                view: RunNode {
                    id: id.to_string(),
                    depth: 0,
                    kind,
                    identifier,
                    state: state.as_str(),
                    duration,
                    last_line: line
                        .as_ref()
                        .map(|l| visible_controls(&l.message))
                        .unwrap_or_default(),
                    last_level: line.as_ref().map_or("", |l| l.level.as_str()),
                    error: field(4)
                        .filter(|_| matches!(state, JobState::Failed | JobState::Dead))
                        .map(|e| visible_controls(&e)),
                    failed_chain: false,
                },
            };
            let children = children.iter().filter_map(|c| c.parse().ok()).collect();
            (node, children)
        })
        .collect())
}

/// `GET /logs/<uuid>/run`: the run section alone (HTML), for the page's script.
pub(crate) async fn show_run(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let id = parse_id(&path)?;
    let pooled = state.conn().await?;
    let conn = shared(&pooled);
    let job = state
        .jq
        .job(&mut conn.clone(), &id)
        .await?
        .ok_or_else(|| no_such_job(&id))?;
    let run = section(&conn, &state.jq, &job).await?;
    drop(pooled);
    views::html(StatusCode::OK, &run)
}
