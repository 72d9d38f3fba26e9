//! The writer: one task that sends every job's log lines and every acknowledgement to Redis,
//! batching whatever has piled up since the last round trip. This is what lets a worker
//! finish tens of thousands of jobs a second: one pipeline and one script call carry the
//! lines and outcomes of many jobs.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netkan_common::queue::{Finish, Outcome};
use netkan_common::{JobId, JobQueue, QueueError};
use redis::aio::ConnectionManager;
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::{debug, error, warn};

use super::HeldJobs;

/// A write for the writer task.
#[derive(Debug)]
pub(crate) enum WriteOp {
    /// Append a formatted line to a job's log, from the attempt holding fencing token `token`.
    Line { id: JobId, token: u64, line: String },
    /// Record an attempt's outcome; the lease is dropped from `held` once recorded.
    Finish(Finish),
}

/// Most operations combined into one round trip.
const MAX_BATCH: usize = 2048;

pub(crate) async fn run(
    mut rx: UnboundedReceiver<WriteOp>,
    queue: JobQueue,
    mut conn: ConnectionManager,
    held: Arc<Mutex<HeldJobs>>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(op) = rx.recv().await {
        batch.push(op);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut delay = Duration::from_millis(50);
        let mut tries = 0u32;
        // Lines and outcomes are never dropped while Redis may still take them: a lost
        // connection, full memory (OOM), a failed snapshot (MISCONF) or a replica (READONLY)
        // is waited out, however long. A lease that expires meanwhile makes the outcome
        // stale, which is safe.
        loop {
            match write(&queue, &mut conn, &batch, &held).await {
                Ok(()) => break,
                Err(e) if e.is_connection() || e.refused_for_now().is_some() || tries < 3 => {
                    tries += 1;
                    warn!(error = %e, tries, "writing job logs and outcomes failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    // A write that can never succeed: hand its jobs back rather than keep
                    // renewing leases on outcomes that will never be recorded. Their leases
                    // lapse and the maintenance pass gives the jobs another attempt.
                    let handed_back = hand_back(&batch, &held);
                    error!(error = %e, ops = batch.len(), handed_back, "writing job logs and outcomes failed; dropping this batch and handing its jobs back");
                    break;
                }
            }
        }
        batch.clear();
    }
}

/// Stops holding (and so renewing) the jobs whose outcomes are in `batch`; returns how many.
fn hand_back(batch: &[WriteOp], held: &Arc<Mutex<HeldJobs>>) -> usize {
    let mut held = held.lock().expect("held-jobs lock is never poisoned");
    batch
        .iter()
        .filter(|op| matches!(op, WriteOp::Finish(f) if held.remove(&f.id).is_some()))
        .count()
}

async fn write(
    queue: &JobQueue,
    conn: &mut ConnectionManager,
    batch: &[WriteOp],
    held: &Arc<Mutex<HeldJobs>>,
) -> Result<(), QueueError> {
    // Lines of one job go in one RPUSH, in order; lines precede the outcome they lead to.
    // A line is written only while its attempt holds the job here and has not sent its
    // outcome: an attempt that timed out, lost its lease or finished (work it left running in
    // the background, waking up late) cannot add to a log that has its verdict, nor to the
    // log of the job's next attempt.
    let mut order: Vec<JobId> = Vec::new();
    let mut lines: HashMap<JobId, Vec<&str>> = HashMap::new();
    let mut finishes: Vec<Finish> = Vec::new();
    let mut refused = 0usize;
    let current: HashMap<JobId, u64> = {
        let held = held.lock().expect("held-jobs lock is never poisoned");
        batch
            .iter()
            .filter_map(|op| match op {
                WriteOp::Line { id, .. } => Some((*id, held.get(id)?.token)),
                WriteOp::Finish(_) => None,
            })
            .collect()
    };
    let mut finished_here: HashSet<(JobId, u64)> = HashSet::new();
    for op in batch {
        match op {
            WriteOp::Line { id, token, line } => {
                if current.get(id) != Some(token) || finished_here.contains(&(*id, *token)) {
                    refused += 1;
                    continue;
                }
                lines
                    .entry(*id)
                    .or_insert_with(|| {
                        order.push(*id);
                        Vec::new()
                    })
                    .push(line);
            }
            WriteOp::Finish(f) => {
                finished_here.insert((f.id, f.token));
                finishes.push(f.clone());
            }
        }
    }
    if refused > 0 {
        debug!(
            lines = refused,
            "log lines of attempts that no longer hold their job were refused"
        );
    }
    if !order.is_empty() {
        let mut pipe = redis::pipe();
        for id in &order {
            pipe.cmd("RPUSH")
                .arg(queue.keys().log(id))
                .arg(&lines[id])
                .ignore();
        }
        let () = pipe.query_async(conn).await?;
    }
    if !finishes.is_empty() {
        let recorded = queue.finish(conn, &finishes).await?;
        let mut held = held.lock().expect("held-jobs lock is never poisoned");
        for (f, ok) in finishes.iter().zip(recorded) {
            held.remove(&f.id);
            if !ok {
                let what = match &f.outcome {
                    Outcome::Succeeded => "success",
                    _ => "failure",
                };
                warn!(job.id = %f.id, queue = %f.queue, "late {what} of job {} rejected: its lease had been taken over", f.id);
            }
        }
    }
    Ok(())
}
