//! A steady stream of acknowledged enqueues (`noop` jobs, one every few milliseconds) beside
//! the pushes: which enqueues Redis acknowledged is known exactly, so a scenario can check
//! that every one of them survived and ran.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use netkan_common::{JobId, JobQueue, JobState, NewJob, QueueName};
use tokio_util::sync::CancellationToken;

/// The running enqueuer.
pub struct NoopLoad {
    acked: Arc<Mutex<Vec<JobId>>>,
    refused: Arc<Mutex<usize>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl NoopLoad {
    /// Enqueues one `noop` job every `every` on `redis_url` until stopped, reconnecting
    /// whenever Redis does not answer.
    pub fn start(redis_url: String, jq: JobQueue, every: Duration) -> NoopLoad {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(0));
        let stop = CancellationToken::new();
        let task = {
            let (acked, refused, stop) = (acked.clone(), refused.clone(), stop.clone());
            tokio::spawn(async move {
                let client = redis::Client::open(redis_url.as_str()).unwrap();
                let mut conn = None;
                while !stop.is_cancelled() {
                    tokio::time::sleep(every).await;
                    if conn.is_none() {
                        conn = tokio::time::timeout(
                            Duration::from_millis(500),
                            client.get_multiplexed_async_connection(),
                        )
                        .await
                        .ok()
                        .and_then(Result::ok);
                    }
                    let Some(c) = conn.as_mut() else {
                        *refused.lock().unwrap() += 1;
                        continue;
                    };
                    let job = NewJob::new("noop", QueueName::new("noop").unwrap());
                    let id = job.id;
                    match tokio::time::timeout(
                        Duration::from_millis(500),
                        jq.enqueue(c, std::slice::from_ref(&job)),
                    )
                    .await
                    {
                        Ok(Ok(_)) => acked.lock().unwrap().push(id),
                        _ => {
                            *refused.lock().unwrap() += 1;
                            conn = None;
                        }
                    }
                }
            })
        };
        NoopLoad {
            acked,
            refused,
            stop,
            task,
        }
    }

    /// Enqueues acknowledged so far.
    pub fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Stops it; the acknowledged ids, and how many enqueues were not acknowledged.
    pub async fn stop(self) -> (Vec<JobId>, usize) {
        self.stop.cancel();
        self.task.await.unwrap();
        let acked = self.acked.lock().unwrap().clone();
        let refused = *self.refused.lock().unwrap();
        (acked, refused)
    }
}

/// Of `ids`: how many succeeded, and those that did not (lost: no record, or never ran).
pub async fn outcome(
    conn: &mut redis::aio::MultiplexedConnection,
    jq: &JobQueue,
    ids: &[JobId],
) -> (usize, Vec<(JobId, Option<JobState>)>) {
    let mut ok = 0;
    let mut bad = Vec::new();
    for id in ids {
        match jq.job(conn, id).await.unwrap() {
            Some(r) if r.state == JobState::Succeeded => ok += 1,
            other => bad.push((*id, other.map(|r| r.state))),
        }
    }
    (ok, bad)
}
