//! Operators' controls in the job protocol, against a real redis-server: pausing and resuming
//! a queue, cancelling a job wherever it is.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use netkan_common::queue::{Cancelled, Finish, Held, Outcome, TreeState};
use netkan_common::testing::TestRedis;
use netkan_common::{
    ClaimedJob, JobQueue, JobSettings, JobState, Keys, NewJob, QueueError, QueueName,
};
use redis::aio::MultiplexedConnection;

fn q(name: &str) -> QueueName {
    QueueName::new(name).unwrap()
}

async fn claim(
    jq: &JobQueue,
    c: &mut MultiplexedConnection,
    queues: &[QueueName],
) -> Vec<ClaimedJob> {
    jq.claim(c, "w", queues, 10, 0).await.unwrap().jobs
}

#[tokio::test]
async fn a_paused_queue_is_not_claimed_from_until_resumed_and_stays_paused_across_a_restart() {
    let mut redis = TestRedis::start_persistent();
    let mut c = redis.conn().await;
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let (inbound, other) = (q("inbound.ksp"), q("other"));
    assert!(jq.pause(&mut c, &inbound).await.unwrap());
    assert!(!jq.pause(&mut c, &inbound).await.unwrap(), "paused already");
    let a = NewJob::new("inflate", inbound.clone());
    let b = NewJob::new("noop", other.clone());
    jq.enqueue(&mut c, &[a.clone(), b.clone()]).await.unwrap();

    let got = claim(&jq, &mut c, &[inbound.clone(), other.clone()]).await;
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), vec![b.id]);
    let waiting = jq
        .claim(&mut c, "w", std::slice::from_ref(&inbound), 10, 0)
        .await
        .unwrap();
    assert!(waiting.jobs.is_empty());
    assert!(
        waiting
            .wait_cursors
            .iter()
            .any(|(k, _)| k == &jq.keys().control()),
        "a waiting worker also watches the control stream: {:?}",
        waiting.wait_cursors
    );
    assert_eq!(
        jq.job(&mut c, &a.id).await.unwrap().unwrap().state,
        JobState::Queued
    );

    redis.restart();
    let mut c = redis.conn().await;
    assert_eq!(
        jq.paused(&mut c).await.unwrap(),
        vec!["inbound.ksp".to_owned()]
    );
    assert!(claim_is_empty(&jq, &mut c, &inbound).await);

    assert!(jq.resume(&mut c, &inbound).await.unwrap());
    assert!(
        !jq.resume(&mut c, &inbound).await.unwrap(),
        "not paused any more"
    );
    let got = claim(&jq, &mut c, std::slice::from_ref(&inbound)).await;
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a.id]);
    assert!(jq.paused(&mut c).await.unwrap().is_empty());
}

async fn claim_is_empty(jq: &JobQueue, c: &mut MultiplexedConnection, queue: &QueueName) -> bool {
    claim(jq, c, std::slice::from_ref(queue)).await.is_empty()
}

#[tokio::test]
async fn a_cancelled_waiting_job_ends_cancelled_never_runs_and_fails_its_tree() {
    let redis = TestRedis::start();
    let mut c = redis.conn().await;
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let inbound = q("inbound.ksp");
    let push = NewJob::new("push", q("push"));
    jq.enqueue(&mut c, std::slice::from_ref(&push))
        .await
        .unwrap();
    let push = claim(&jq, &mut c, &[q("push")]).await.remove(0);
    let child = NewJob::new("inflate", inbound.clone())
        .with_parent(push.id)
        .with_dedup_key("ksp/Astrogator");
    let next = NewJob::new("inflate", inbound.clone());
    jq.enqueue(&mut c, &[child.clone(), next.clone()])
        .await
        .unwrap();

    assert_eq!(
        jq.cancel(&mut c, &child.id, "an operator (test)")
            .await
            .unwrap(),
        Cancelled::Now
    );
    let rec = jq.job(&mut c, &child.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Cancelled);
    assert_eq!(rec.kind, "inflate");
    assert_eq!(rec.parent, Some(push.id));
    assert_eq!(
        rec.last_error.as_deref(),
        Some("cancelled by an operator (test)")
    );
    // It never runs: the next claim takes the job behind it.
    let got = claim(&jq, &mut c, std::slice::from_ref(&inbound)).await;
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), vec![next.id]);

    jq.finish(
        &mut c,
        &[Finish {
            id: push.id,
            queue: push.queue.clone(),
            token: push.token,
            attempt: 1,
            outcome: Outcome::Succeeded,
        }],
    )
    .await
    .unwrap();
    let push_rec = jq.job(&mut c, &push.id).await.unwrap().unwrap();
    let tree = jq.tree(&mut c, &push_rec).await.unwrap();
    assert_eq!(tree.state, TreeState::Failed, "{tree:?}");
    assert_eq!(tree.counts.cancelled, 1);
    assert_eq!(tree.failures.len(), 1);
    assert_eq!(tree.failures[0].state, "cancelled");
    assert_eq!(tree.failures[0].identifier.as_deref(), Some("Astrogator"));

    // Cancelling it again, or a finished job, is refused with the reason; an unknown id is not found.
    let again = jq.cancel(&mut c, &child.id, "test").await.unwrap_err();
    assert!(
        matches!(again, QueueError::Conflict(ref m) if m.contains("cancelled")),
        "{again}"
    );
    let done = jq.cancel(&mut c, &push.id, "test").await.unwrap_err();
    assert!(
        matches!(done, QueueError::Conflict(ref m) if m.contains("succeeded")),
        "{done}"
    );
    let unknown = jq
        .cancel(&mut c, &netkan_common::JobId::new(), "test")
        .await
        .unwrap_err();
    assert!(matches!(unknown, QueueError::NotFound(_)), "{unknown}");
}

#[tokio::test]
async fn a_job_waiting_out_a_retry_is_cancelled_at_once_and_a_running_one_on_request() {
    let redis = TestRedis::start();
    let mut c = redis.conn().await;
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let inbound = q("inbound.ksp");
    let a = NewJob::new("inflate", inbound.clone());
    let b = NewJob::new("inflate", inbound.clone());
    jq.enqueue(&mut c, &[a.clone(), b.clone()]).await.unwrap();
    let got = claim(&jq, &mut c, std::slice::from_ref(&inbound)).await;
    let (ja, jb) = (got[0].clone(), got[1].clone());
    jq.finish(
        &mut c,
        &[Finish {
            id: ja.id,
            queue: ja.queue.clone(),
            token: ja.token,
            attempt: 1,
            outcome: Outcome::Retry("host returned 502".into()),
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        jq.cancel(&mut c, &a.id, "test").await.unwrap(),
        Cancelled::Now
    );
    let rec = jq.job(&mut c, &a.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Cancelled);
    assert_eq!(rec.retry_at, None);
    let stats = jq.stats(&mut c).await.unwrap();
    assert_eq!(stats[0].retrying, 0, "{stats:?}");

    // Running: the worker learns at its next renewal, keeps the lease until it reports.
    assert_eq!(
        jq.cancel(&mut c, &b.id, "test").await.unwrap(),
        Cancelled::Requested
    );
    let held = Held {
        id: jb.id,
        queue: jb.queue.clone(),
        token: jb.token,
    };
    let renewal = jq
        .renew(&mut c, "w", "{}", std::slice::from_ref(&held))
        .await
        .unwrap();
    assert_eq!(renewal.cancel, vec![b.id]);
    assert!(renewal.lost.is_empty());
    jq.finish(
        &mut c,
        &[Finish {
            id: jb.id,
            queue: jb.queue.clone(),
            token: jb.token,
            attempt: 1,
            outcome: Outcome::Cancelled("cancelled by an operator".into()),
        }],
    )
    .await
    .unwrap();
    let rec = jq.job(&mut c, &b.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Cancelled);
    assert_eq!(rec.attempts, 1);
}
