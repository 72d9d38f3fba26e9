//! The hook spool: jobs written to disk when Redis cannot take them, enqueued later with
//! their original ids, in order, exactly once (enqueue is idempotent by id, and a file is
//! removed only after its job is in Redis).

use std::path::{Path, PathBuf};

use redis::aio::ConnectionLike;
use serde::{Deserialize, Serialize};

use crate::error::QueueError;
use crate::job::{Attributes, Game, JobId, Lane, NewJob, QueueName};
use crate::queue::JobQueue;

/// A job as written to the spool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SpooledJob {
    id: JobId,
    kind: String,
    queue: QueueName,
    lane: Lane,
    game: Game,
    parent: Option<JobId>,
    body: String,
    attributes: Attributes,
    dedup_key: Option<String>,
}

/// Writes `job` to `dir` atomically (a temporary file renamed into place), named so that
/// files sort in spooling order. Returns the file's path.
pub fn write(dir: &Path, job: &NewJob) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let spooled = SpooledJob {
        id: job.id,
        kind: job.kind.clone(),
        queue: job.queue.clone(),
        lane: job.lane,
        game: job.game.clone(),
        parent: job.parent,
        body: job.body.clone(),
        attributes: job.attributes.clone(),
        dedup_key: job.dedup_key.clone(),
    };
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let name = format!("{now}-{}.json", job.id);
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(&name);
    let json = serde_json::to_vec_pretty(&spooled).map_err(std::io::Error::other)?;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// What a drain did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drained {
    /// Jobs now in Redis, in order.
    pub enqueued: Vec<JobId>,
    /// Files that are not spooled jobs, left in place and named here.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Enqueues every spooled job in `dir`, oldest first, removing each file once its job is in
/// Redis. Stops at the first Redis error (the rest stay spooled).
pub async fn drain<C: ConnectionLike>(
    dir: &Path,
    queue: &JobQueue,
    conn: &mut C,
) -> Result<Drained, QueueError> {
    let mut out = Drained::default();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect(),
        Err(_) => return Ok(out),
    };
    files.sort();
    for path in files {
        let job = match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<SpooledJob>(&b).map_err(|e| e.to_string()))
        {
            Ok(j) => j,
            Err(e) => {
                out.unreadable.push((path, e));
                continue;
            }
        };
        let new = NewJob {
            id: job.id,
            kind: job.kind,
            queue: job.queue,
            lane: job.lane,
            game: job.game,
            parent: job.parent,
            body: job.body,
            attributes: job.attributes,
            dedup_key: job.dedup_key,
        };
        queue.enqueue(conn, std::slice::from_ref(&new)).await?;
        // Removing after enqueueing: a crash in between re-enqueues the same id, which the
        // enqueue script ignores.
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %e, "spooled job enqueued but its file could not be removed");
        }
        out.enqueued.push(new.id);
    }
    Ok(out)
}
