//! What operators do to queues and jobs while they run: pause and resume a queue, cancel a
//! job. Both are visible to `redis-cli` users (docs/redis-keys.md: `paused`, `control`, a
//! record's `cancel` field).

use redis::aio::ConnectionLike;

use super::JobQueue;
use super::scripts::SCRIPTS;
use crate::error::QueueError;
use crate::job::{JobId, JobState, QueueName};
use crate::log::{Level, format_line};

/// Control events kept in the control stream (approximately): workers only need the newest.
const CONTROL_KEEP: usize = 1000;

/// What [`JobQueue::cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// The job was waiting; it is `cancelled` now and will not run.
    Now,
    /// The job is running; the worker holding it stops the attempt at its next lease renewal
    /// (within a third of a lease) and reports it `cancelled`.
    Requested,
}

impl JobQueue {
    /// Pauses `queue`: no worker claims from it until it is resumed; running jobs finish.
    /// Kept in Redis, so it survives restarts of every process. Returns false if it was
    /// paused already.
    pub async fn pause<C: ConnectionLike>(
        &self,
        conn: &mut C,
        queue: &QueueName,
    ) -> Result<bool, QueueError> {
        let added: i64 = redis::cmd("SADD")
            .arg(self.keys.paused())
            .arg(queue.as_str())
            .query_async(conn)
            .await?;
        Ok(added == 1)
    }

    /// Resumes `queue`, and wakes the workers waiting for jobs so they claim from it at once.
    /// Returns false if it was not paused.
    pub async fn resume<C: ConnectionLike>(
        &self,
        conn: &mut C,
        queue: &QueueName,
    ) -> Result<bool, QueueError> {
        let (removed, _): (i64, String) = redis::pipe()
            .atomic()
            .cmd("SREM")
            .arg(self.keys.paused())
            .arg(queue.as_str())
            .cmd("XADD")
            .arg(self.keys.control())
            .arg("MAXLEN")
            .arg("~")
            .arg(CONTROL_KEEP)
            .arg("*")
            .arg("resumed")
            .arg(queue.as_str())
            .query_async(conn)
            .await?;
        Ok(removed == 1)
    }

    /// The paused queues, sorted.
    pub async fn paused<C: ConnectionLike>(&self, conn: &mut C) -> Result<Vec<String>, QueueError> {
        let mut names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.paused())
            .query_async(conn)
            .await?;
        names.sort();
        Ok(names)
    }

    /// Cancels job `id`, which must be queued (waiting in a lane or out a retry backoff) or
    /// running; it ends `cancelled` and is not retried. `who` says who asked, for its log.
    ///
    /// # Errors
    /// `NotFound` for an unknown job; `Conflict` for one that has finished.
    pub async fn cancel<C: ConnectionLike>(
        &self,
        conn: &mut C,
        id: &JobId,
        who: &str,
    ) -> Result<Cancelled, QueueError> {
        // Where the job is; the script decides from its state (read again inside it, so a job
        // finishing meanwhile is answered as finished).
        let record = self
            .job(conn, id)
            .await?
            .ok_or_else(|| QueueError::NotFound(id.to_string()))?;
        // A job never claimed has no record hash yet: the caller names the lane it waits in.
        let lane = match (&record.state, record.attempts) {
            (JobState::Queued, 0) => record.lane.as_str(),
            _ => "",
        };
        let reason = format!("cancelled by {who}");
        let reply: String = SCRIPTS
            .cancel
            .prepare_invoke()
            .key(self.keys.finished())
            .key(self.keys.stats())
            .arg(self.keys.prefix())
            .arg(id.to_string())
            .arg(record.queue.as_str())
            .arg(lane)
            .arg(self.settings.retention_secs)
            .arg(&reason)
            .arg(format_line(chrono::Utc::now(), Level::Warn, &reason))
            .invoke_async(conn)
            .await?;
        match reply.as_str() {
            "cancelled" => Ok(Cancelled::Now),
            "requested" => Ok(Cancelled::Requested),
            "unknown" => Err(QueueError::NotFound(id.to_string())),
            other => match other.strip_prefix("finished:") {
                Some(state) => Err(QueueError::Conflict(format!(
                    "job {id} has finished ({state}); only a queued or running job can be cancelled"
                ))),
                None => Err(QueueError::Reply(format!(
                    "cancel: unexpected reply {other:?}"
                ))),
            },
        }
    }
}
