//! The verdict of a job's tree: the job and everything it caused, rolled up by the scripts
//! as jobs are enqueued and finish (`scripts/tree.lua`), so reading it costs two round trips
//! whatever the size of the tree.

use std::collections::HashMap;

use redis::aio::ConnectionLike;
use serde::{Deserialize, Serialize};

use super::JobQueue;
use crate::error::QueueError;
use crate::job::{JobId, JobRecord, JobState};

/// The state of a whole tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TreeState {
    /// The job or one of its descendants is queued or running.
    Running,
    /// Everything finished, and something failed, is dead or was cancelled.
    Failed,
    /// Everything finished and succeeded.
    Succeeded,
}

impl TreeState {
    /// The state's name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TreeState::Running => "running",
            TreeState::Failed => "failed",
            TreeState::Succeeded => "succeeded",
        }
    }
}

/// How many jobs of a tree (the job itself included) are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeCounts {
    /// Every job of the tree.
    pub jobs: u64,
    /// Queued or running.
    pub pending: u64,
    /// Succeeded.
    pub succeeded: u64,
    /// Failed (not worth retrying).
    pub failed: u64,
    /// Dead (attempts used up, or undecodable).
    pub dead: u64,
    /// Cancelled by an operator.
    #[serde(default)]
    pub cancelled: u64,
}

impl TreeCounts {
    /// Jobs that finished without doing what they were asked.
    pub fn unsuccessful(&self) -> u64 {
        self.failed + self.dead + self.cancelled
    }
}

/// One failed, dead or cancelled job of a tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeFailure {
    /// The job.
    pub job_id: JobId,
    /// Its kind (empty if its record was deleted).
    pub kind: String,
    /// The mod it was about, where there is one (`ModIdentifier`, or the identifier in the
    /// de-duplication key of an inflation or a mirror job).
    pub identifier: Option<String>,
    /// Its last error.
    pub error: Option<String>,
    /// `failed`, `dead` or `cancelled` (empty if its record was deleted).
    pub state: String,
}

/// The verdict of a job's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeSummary {
    /// Running while anything is unfinished, then failed or succeeded.
    pub state: TreeState,
    /// Jobs by state.
    pub counts: TreeCounts,
    /// The failed, dead and cancelled jobs: the job itself first, then its descendants in the order
    /// they finished; at most [`TREE_LISTED`] descendants are listed (the counts stay exact).
    pub failures: Vec<TreeFailure>,
}

impl TreeSummary {
    /// True once nothing in the tree is queued or running.
    pub fn is_finished(&self) -> bool {
        self.state != TreeState::Running
    }

    /// One line saying how the tree stands, for people (`netkan jobs follow`, the hook):
    /// `succeeded: all 4 jobs`, `failed: 1 of 3 jobs`, `running: 2 of 5 jobs unfinished`.
    pub fn verdict(&self) -> String {
        let c = &self.counts;
        match self.state {
            TreeState::Succeeded => format!("succeeded: all {} jobs", c.jobs),
            TreeState::Failed => format!("failed: {} of {} jobs", c.unsuccessful(), c.jobs),
            TreeState::Running => format!("running: {} of {} jobs unfinished", c.pending, c.jobs),
        }
    }

    /// Each listed failure as `<Identifier>: <reason>` (`<kind> <job id>: <reason>` for a job
    /// about no mod), then how many more there are if the list was capped.
    pub fn failure_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .failures
            .iter()
            .map(|f| {
                let who = f
                    .identifier
                    .clone()
                    .unwrap_or_else(|| format!("{} {}", f.kind, f.job_id));
                let why = f.error.as_deref().unwrap_or("(no error recorded)");
                if f.state == "dead" {
                    format!("{who}: {why} (dead: gave up after its last attempt)")
                } else {
                    format!("{who}: {why}")
                }
            })
            .collect();
        let total = self.counts.unsuccessful();
        let more = total.saturating_sub(self.failures.len() as u64);
        if more > 0 {
            lines.push(format!("and {more} more failed jobs"));
        }
        lines
    }
}

/// Descendants listed among a tree's failures at most (`TREE_LISTED` in `tree.lua`).
pub const TREE_LISTED: usize = 100;

impl JobQueue {
    /// The verdict of the tree of `job` (a record just read with [`JobQueue::job`]).
    pub async fn tree<C: ConnectionLike>(
        &self,
        conn: &mut C,
        job: &JobRecord,
    ) -> Result<TreeSummary, QueueError> {
        let hash: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.keys.tree(&job.id))
            .query_async(conn)
            .await?;
        // A count can only be negative if the hash was edited by hand; show it as zero.
        let count = |k: &str| {
            hash.get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
                .max(0) as u64
        };
        let mut counts = TreeCounts {
            jobs: count("jobs") + 1,
            pending: count("pending"),
            succeeded: count("succeeded"),
            failed: count("failed"),
            dead: count("dead"),
            cancelled: count("cancelled"),
        };
        match job.state {
            JobState::Queued | JobState::Running => counts.pending += 1,
            JobState::Succeeded => counts.succeeded += 1,
            JobState::Failed => counts.failed += 1,
            JobState::Dead => counts.dead += 1,
            JobState::Cancelled => counts.cancelled += 1,
        }
        let mut listed: Vec<(i64, JobId)> = hash
            .iter()
            .filter_map(|(k, v)| Some((v.parse().ok()?, k.strip_prefix("f:")?.parse().ok()?)))
            .collect();
        listed.sort();
        listed.truncate(TREE_LISTED);
        let mut failures = Vec::with_capacity(listed.len() + 1);
        if matches!(
            job.state,
            JobState::Failed | JobState::Dead | JobState::Cancelled
        ) {
            failures.push(TreeFailure {
                job_id: job.id,
                kind: job.kind.clone(),
                identifier: identifier(
                    job.attributes.get("ModIdentifier").map(String::as_str),
                    job.dedup_key.as_deref(),
                ),
                error: job.last_error.clone(),
                state: job.state.as_str().to_owned(),
            });
        }
        if !listed.is_empty() {
            let mut pipe = redis::pipe();
            for (_, id) in &listed {
                pipe.cmd("HMGET")
                    .arg(self.keys.job(id))
                    .arg(&["kind", "error", "attrs", "dedup", "state"]);
            }
            let rows: Vec<Vec<Option<String>>> = pipe.query_async(conn).await?;
            for ((_, id), row) in listed.iter().zip(rows) {
                let field = |i: usize| row.get(i).cloned().flatten().filter(|v| !v.is_empty());
                let attrs: HashMap<String, String> = field(2)
                    .and_then(|a| serde_json::from_str(&a).ok())
                    .unwrap_or_default();
                failures.push(TreeFailure {
                    job_id: *id,
                    kind: field(0).unwrap_or_default(),
                    identifier: identifier(
                        attrs.get("ModIdentifier").map(String::as_str),
                        field(3).as_deref(),
                    ),
                    error: field(1),
                    state: field(4).unwrap_or_default(),
                });
            }
        }
        let state = if counts.pending > 0 {
            TreeState::Running
        } else if counts.unsuccessful() > 0 {
            TreeState::Failed
        } else {
            TreeState::Succeeded
        };
        Ok(TreeSummary {
            state,
            counts,
            failures,
        })
    }
}

/// The mod a job is about: its `ModIdentifier` attribute (index jobs), else the part of its
/// de-duplication key after the game (`ksp/Astrogator` of an inflation,
/// `ksp/Astrogator/Astrogator-v1.0.ckan` of a mirror job).
fn identifier(mod_identifier: Option<&str>, dedup: Option<&str>) -> Option<String> {
    mod_identifier
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            dedup
                .and_then(|d| d.split('/').nth(1))
                .filter(|i| !i.is_empty())
                .map(str::to_owned)
        })
}
