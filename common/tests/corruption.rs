//! Every queue script checks the keys it will write before its first write: a key of the
//! wrong type fails the script with an error that names the key and changes nothing, so no
//! job is left half-claimed, half-finished or half-queued.
//!
//! For each operation (16 of them), the test sets up the state the operation acts on, runs it once to
//! learn which keys it writes (their serialized values change, or they appear), then, for each
//! of those keys in turn, restores the state, replaces that key by a string and runs the
//! operation again: it must fail naming the key and leave every key's value as it was, or
//! (where the operation deletes the key) succeed. Restored once more with the key intact, the
//! operation must succeed: nothing was stranded.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::collections::BTreeMap;

use netkan_common::queue::{Finish, Held, Outcome};
use netkan_common::testing::TestRedis;
use netkan_common::{
    ClaimedJob, JobId, JobQueue, JobSettings, Keys, NewJob, QueueError, QueueName,
};
use redis::aio::MultiplexedConnection;

type Conn = MultiplexedConnection;

fn q() -> QueueName {
    QueueName::new("inbound.ksp").unwrap()
}

/// Every key's serialized value and remaining lifetime (ms, 0 for none).
type Snapshot = BTreeMap<String, (Vec<u8>, i64)>;

async fn snapshot(c: &mut Conn) -> Snapshot {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(c).await.unwrap();
    let mut out = Snapshot::new();
    for k in keys {
        let dump: Vec<u8> = redis::cmd("DUMP").arg(&k).query_async(c).await.unwrap();
        let ttl: i64 = redis::cmd("PTTL").arg(&k).query_async(c).await.unwrap();
        out.insert(k, (dump, ttl.max(0)));
    }
    out
}

async fn restore(c: &mut Conn, s: &Snapshot) {
    let () = redis::cmd("FLUSHALL").query_async(c).await.unwrap();
    for (k, (dump, ttl)) in s {
        let () = redis::cmd("RESTORE")
            .arg(k)
            .arg(*ttl)
            .arg(dump.as_slice())
            .query_async(c)
            .await
            .unwrap();
    }
}

/// Values only: lifetimes tick while the test runs.
fn values(s: &Snapshot) -> BTreeMap<&str, &[u8]> {
    s.iter()
        .map(|(k, (v, _))| (k.as_str(), v.as_slice()))
        .collect()
}

fn held(job: &ClaimedJob) -> Held {
    Held {
        id: job.id,
        queue: job.queue.clone(),
        token: job.token,
    }
}

fn finish(job: &ClaimedJob, outcome: Outcome) -> Finish {
    Finish {
        id: job.id,
        queue: job.queue.clone(),
        token: job.token,
        attempt: job.attempt,
        outcome,
    }
}

async fn claim(jq: &JobQueue, c: &mut Conn) -> Result<(), QueueError> {
    let claim = jq.claim(c, "w", &[q()], 10, 0).await?;
    assert!(
        !claim.jobs.is_empty() || !claim.buried.is_empty(),
        "the claim took nothing: {claim:?}"
    );
    Ok(())
}

async fn claim_one(jq: &JobQueue, c: &mut Conn) -> ClaimedJob {
    let mut claim = jq.claim(c, "w", &[q()], 1, 0).await.unwrap();
    assert_eq!(claim.jobs.len(), 1, "{claim:?}");
    claim.jobs.remove(0)
}

/// A push job (running) with an inflate child (running) under it: the tree the operations
/// below act on, so that each writes its job's record and its ancestors' roll-ups.
async fn running_child(jq: &JobQueue, c: &mut Conn) -> ClaimedJob {
    let push = NewJob::new("push", q());
    jq.enqueue(c, std::slice::from_ref(&push)).await.unwrap();
    let push = claim_one(jq, c).await;
    let child = NewJob::new("inflate", q())
        .with_parent(push.id)
        .with_dedup_key("ksp/Astrogator")
        .with_body("{}");
    jq.enqueue(c, std::slice::from_ref(&child)).await.unwrap();
    claim_one(jq, c).await
}

/// What one operation needs, set up before it runs.
enum Op {
    Enqueue(NewJob),
    Claim,
    Renew(ClaimedJob),
    Finish(ClaimedJob, Outcome),
    Maintain,
    Release(ClaimedJob),
    RetryDead(JobId),
    DeleteDead(JobId),
    Cancel(JobId),
}

impl Op {
    async fn run(&self, jq: &JobQueue, c: &mut Conn) -> Result<(), QueueError> {
        match self {
            Op::Enqueue(job) => jq.enqueue(c, std::slice::from_ref(job)).await.map(drop),
            Op::Claim => claim(jq, c).await,
            Op::Renew(job) => jq.renew(c, "w", "{}", &[held(job)]).await.map(|lost| {
                assert!(lost.lost.is_empty(), "the lease was kept: {lost:?}");
            }),
            Op::Finish(job, outcome) => jq
                .finish(c, &[finish(job, outcome.clone())])
                .await
                .map(|done| assert_eq!(done, vec![true], "the outcome was recorded")),
            Op::Maintain => jq.maintain(c).await.map(|events| {
                assert!(!events.is_empty(), "upkeep moved a job");
            }),
            Op::Release(job) => jq
                .release(c, &[held(job)])
                .await
                .map(|n| assert_eq!(n, 1, "the job was handed back")),
            Op::RetryDead(id) => jq.retry_dead(c, id).await,
            Op::DeleteDead(id) => jq.delete_dead(c, id).await,
            Op::Cancel(id) => jq.cancel(c, id, "test").await.map(drop),
        }
    }
}

/// Waits until every lease and retry backoff of the queue has ended (by Redis's clock), so
/// upkeep has work whenever it runs.
async fn until_due(jq: &JobQueue, c: &mut Conn) {
    loop {
        let mut latest = 0f64;
        for key in [jq.keys().leases(&q()), jq.keys().retry(&q())] {
            let top: Vec<(String, f64)> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(-1)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(c)
                .await
                .unwrap();
            latest = top.iter().map(|(_, s)| *s).fold(latest, f64::max);
        }
        let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(c).await.unwrap();
        if (secs * 1000 + micros / 1000) as f64 > latest {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// Settings under which a lease or a backoff ends at once, so upkeep has work.
fn short() -> JobSettings {
    JobSettings {
        lease_ms: 1,
        backoff_base_ms: 1,
        backoff_max_ms: 1,
        max_attempts: 2,
        ..JobSettings::default()
    }
}

/// Sets up scenario `name` on an empty Redis; returns the protocol to run it with and the op.
async fn scenario(name: &str, c: &mut Conn) -> (JobQueue, Op) {
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    match name {
        "enqueue a child" => {
            let push = NewJob::new("push", q());
            jq.enqueue(c, std::slice::from_ref(&push)).await.unwrap();
            let push = claim_one(&jq, c).await;
            let old = NewJob::new("inflate", q()).with_dedup_key("ksp/Astrogator");
            jq.enqueue(c, std::slice::from_ref(&old)).await.unwrap();
            let child = NewJob::new("inflate", q())
                .with_parent(push.id)
                .with_dedup_key("ksp/Astrogator")
                .with_body("newer");
            (jq, Op::Enqueue(child))
        }
        "claim a fresh job" => {
            jq.enqueue(c, &[NewJob::new("inflate", q()).with_dedup_key("ksp/A")])
                .await
                .unwrap();
            (jq, Op::Claim)
        }
        "claim a job coming back and bury garbage" => {
            let jq = JobQueue::new(Keys::default(), short());
            let job = running_child(&jq, c).await;
            jq.finish(c, &[finish(&job, Outcome::Retry("flaky".into()))])
                .await
                .unwrap();
            until_due(&jq, c).await;
            assert!(!jq.maintain(c).await.unwrap().is_empty());
            let () = redis::cmd("XADD")
                .arg(jq.keys().lane(&q(), netkan_common::Lane::High))
                .arg("*")
                .arg("garbage")
                .arg("1")
                .query_async(c)
                .await
                .unwrap();
            (jq, Op::Claim)
        }
        "renew a lease" => {
            let job = running_child(&jq, c).await;
            (jq, Op::Renew(job))
        }
        "finish a success" => {
            let job = running_child(&jq, c).await;
            (jq, Op::Finish(job, Outcome::Succeeded))
        }
        "finish a retry" => {
            let job = running_child(&jq, c).await;
            (jq, Op::Finish(job, Outcome::Retry("flaky".into())))
        }
        "finish a failure" => {
            let job = running_child(&jq, c).await;
            (jq, Op::Finish(job, Outcome::Failed("no license".into())))
        }
        "finish a dead job" => {
            let job = running_child(&jq, c).await;
            (jq, Op::Finish(job, Outcome::Dead("undecodable".into())))
        }
        "upkeep: a retry is due" => {
            let jq = JobQueue::new(Keys::default(), short());
            let job = running_child(&jq, c).await;
            jq.finish(c, &[finish(&job, Outcome::Retry("flaky".into()))])
                .await
                .unwrap();
            until_due(&jq, c).await;
            (jq, Op::Maintain)
        }
        "upkeep: a lease expired on the last attempt" => {
            let jq = JobQueue::new(
                Keys::default(),
                JobSettings {
                    max_attempts: 1,
                    ..short()
                },
            );
            running_child(&jq, c).await;
            until_due(&jq, c).await;
            (jq, Op::Maintain)
        }
        "release at shutdown" => {
            let job = running_child(&jq, c).await;
            (jq, Op::Release(job))
        }
        "retry a dead job" | "delete a dead job" => {
            let job = running_child(&jq, c).await;
            jq.finish(c, &[finish(&job, Outcome::Dead("gave up".into()))])
                .await
                .unwrap();
            let op = if name.starts_with("retry") {
                Op::RetryDead(job.id)
            } else {
                Op::DeleteDead(job.id)
            };
            (jq, op)
        }
        "cancel a waiting job" => {
            let push = NewJob::new("push", q());
            jq.enqueue(c, std::slice::from_ref(&push)).await.unwrap();
            let push = claim_one(&jq, c).await;
            let child = NewJob::new("inflate", q())
                .with_parent(push.id)
                .with_dedup_key("ksp/Astrogator");
            jq.enqueue(c, std::slice::from_ref(&child)).await.unwrap();
            (jq, Op::Cancel(child.id))
        }
        "cancel a job waiting out a retry" => {
            let job = running_child(&jq, c).await;
            jq.finish(c, &[finish(&job, Outcome::Retry("flaky".into()))])
                .await
                .unwrap();
            (jq, Op::Cancel(job.id))
        }
        "cancel a running job" => {
            let job = running_child(&jq, c).await;
            (jq, Op::Cancel(job.id))
        }
        other => panic!("no scenario {other}"),
    }
}

const SCENARIOS: [&str; 16] = [
    "enqueue a child",
    "claim a fresh job",
    "claim a job coming back and bury garbage",
    "renew a lease",
    "finish a success",
    "finish a retry",
    "finish a failure",
    "finish a dead job",
    "upkeep: a retry is due",
    "upkeep: a lease expired on the last attempt",
    "release at shutdown",
    "retry a dead job",
    "delete a dead job",
    "cancel a waiting job",
    "cancel a job waiting out a retry",
    "cancel a running job",
];

#[tokio::test]
async fn a_key_of_the_wrong_type_fails_each_script_naming_it_and_changes_nothing() {
    let redis = TestRedis::start();
    let mut c = redis.conn().await;
    let mut checked = 0;
    for name in SCENARIOS {
        let () = redis::cmd("FLUSHALL").query_async(&mut c).await.unwrap();
        let (jq, op) = scenario(name, &mut c).await;
        let before = snapshot(&mut c).await;

        // Which keys the operation writes.
        op.run(&jq, &mut c)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let after = snapshot(&mut c).await;
        let written: Vec<&String> = after
            .keys()
            .chain(before.keys())
            .filter(|k| before.get(*k).map(|v| &v.0) != after.get(*k).map(|v| &v.0))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert!(!written.is_empty(), "{name}: writes nothing");

        for key in written {
            restore(&mut c, &before).await;
            let () = redis::cmd("SET")
                .arg(key)
                .arg("not what netkan keeps here")
                .query_async(&mut c)
                .await
                .unwrap();
            let corrupted = snapshot(&mut c).await;
            match op.run(&jq, &mut c).await {
                Err(e) => {
                    let msg = e.to_string();
                    assert!(
                        msg.contains(key.as_str()),
                        "{name}: the error names {key}: {msg}"
                    );
                    let now = snapshot(&mut c).await;
                    assert_eq!(
                        values(&now),
                        values(&corrupted),
                        "{name}: with {key} corrupted the script changed something"
                    );
                }
                Ok(()) => {
                    let exists: bool = redis::cmd("EXISTS")
                        .arg(key)
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    assert!(
                        !exists,
                        "{name}: succeeded with {key} corrupted, and did not delete it"
                    );
                }
            }
            checked += 1;

            // With the key as it was, the same operation works: nothing was stranded.
            restore(&mut c, &before).await;
            op.run(&jq, &mut c)
                .await
                .unwrap_or_else(|e| panic!("{name} after restoring {key}: {e}"));
        }
    }
    assert!(checked >= 40, "only {checked} keys were corrupted");
}
