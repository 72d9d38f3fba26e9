//! The roll-up of job trees (`queue/scripts/tree.lua`) against a real redis-server: the
//! verdict of a job and everything below it, exact under retries, dead children, children
//! added after their parent finished, replays and concurrent finishes.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::time::Duration;

use netkan_common::queue::{Finish, Outcome, TREE_LISTED, TreeCounts, TreeState, TreeSummary};
use netkan_common::testing::{TestRedis, eventually};
use netkan_common::{ClaimedJob, JobId, JobQueue, JobSettings, Keys, NewJob, QueueName};
use redis::aio::MultiplexedConnection;

fn q(name: &str) -> QueueName {
    QueueName::new(name).unwrap()
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

async fn claim(jq: &JobQueue, conn: &mut MultiplexedConnection, queue: &QueueName) -> ClaimedJob {
    let mut c = jq
        .claim(conn, "w", std::slice::from_ref(queue), 1, 0)
        .await
        .unwrap();
    assert_eq!(c.jobs.len(), 1, "expected one job in {queue}, got {c:?}");
    c.jobs.remove(0)
}

async fn enqueue(jq: &JobQueue, conn: &mut MultiplexedConnection, job: &NewJob) -> JobId {
    jq.enqueue(conn, std::slice::from_ref(job)).await.unwrap()[0]
}

async fn done(jq: &JobQueue, conn: &mut MultiplexedConnection, job: &ClaimedJob, o: Outcome) {
    let ok = jq.finish(conn, &[finish(job, o)]).await.unwrap();
    assert_eq!(ok, vec![true], "the finish of {} was recorded", job.id);
}

async fn tree(jq: &JobQueue, conn: &mut MultiplexedConnection, id: &JobId) -> TreeSummary {
    let rec = jq
        .job(conn, id)
        .await
        .unwrap()
        .expect("the job has a record");
    jq.tree(conn, &rec).await.unwrap()
}

fn counts(jobs: u64, pending: u64, succeeded: u64, failed: u64, dead: u64) -> TreeCounts {
    TreeCounts {
        jobs,
        pending,
        succeeded,
        failed,
        dead,
        cancelled: 0,
    }
}

#[tokio::test]
async fn a_tree_runs_until_its_last_descendant_finishes_then_succeeds() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let push = enqueue(&jq, &mut conn, &NewJob::new("push", q("push"))).await;
    let p = claim(&jq, &mut conn, &q("push")).await;
    let inflate = NewJob::new("inflate", q("inbound.ksp"))
        .with_parent(push)
        .with_dedup_key("ksp/Astrogator");
    enqueue(&jq, &mut conn, &inflate).await;
    done(&jq, &mut conn, &p, Outcome::Succeeded).await;

    let t = tree(&jq, &mut conn, &push).await;
    assert_eq!(t.state, TreeState::Running, "the inflation is still queued");
    assert_eq!(t.counts, counts(2, 1, 1, 0, 0));

    let i = claim(&jq, &mut conn, &q("inbound.ksp")).await;
    let index = NewJob::new("index", q("outbound")).with_parent(i.id);
    enqueue(&jq, &mut conn, &index).await;
    done(&jq, &mut conn, &i, Outcome::Succeeded).await;
    let x = claim(&jq, &mut conn, &q("outbound")).await;
    let mirror = NewJob::new("mirror", q("mirroring")).with_parent(x.id);
    enqueue(&jq, &mut conn, &mirror).await;
    done(&jq, &mut conn, &x, Outcome::Succeeded).await;
    let t = tree(&jq, &mut conn, &push).await;
    assert_eq!(
        t.state,
        TreeState::Running,
        "the mirror job, three levels down, is queued"
    );
    assert_eq!(t.counts, counts(4, 1, 3, 0, 0));

    let m = claim(&jq, &mut conn, &q("mirroring")).await;
    done(&jq, &mut conn, &m, Outcome::Succeeded).await;
    let t = tree(&jq, &mut conn, &push).await;
    assert_eq!(t.state, TreeState::Succeeded);
    assert_eq!(t.counts, counts(4, 0, 4, 0, 0));
    assert!(t.failures.is_empty());
    let t = tree(&jq, &mut conn, &inflate.id).await;
    assert_eq!(
        t.counts,
        counts(3, 0, 3, 0, 0),
        "each level has its own roll-up"
    );
    let leaf = tree(&jq, &mut conn, &mirror.id).await;
    assert_eq!(leaf.counts, counts(1, 0, 1, 0, 0));
    assert_eq!(leaf.state, TreeState::Succeeded);
}

#[tokio::test]
async fn retries_change_nothing_and_a_dead_grandchild_fails_every_ancestor_until_retried() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = JobQueue::new(
        Keys::default(),
        JobSettings {
            max_attempts: 2,
            backoff_base_ms: 1,
            backoff_max_ms: 5,
            ..JobSettings::default()
        },
    );
    let push = enqueue(&jq, &mut conn, &NewJob::new("push", q("push"))).await;
    let p = claim(&jq, &mut conn, &q("push")).await;
    let inflate = NewJob::new("inflate", q("inbound.ksp"))
        .with_parent(push)
        .with_dedup_key("ksp/Astrogator");
    enqueue(&jq, &mut conn, &inflate).await;
    done(&jq, &mut conn, &p, Outcome::Succeeded).await;
    let i = claim(&jq, &mut conn, &q("inbound.ksp")).await;
    let index = NewJob::new("index", q("outbound"))
        .with_parent(i.id)
        .with_attr("ModIdentifier", "Astrogator");
    enqueue(&jq, &mut conn, &index).await;
    done(&jq, &mut conn, &i, Outcome::Succeeded).await;

    // Attempt 1 fails and is retried: still pending, nothing failed.
    let x = claim(&jq, &mut conn, &q("outbound")).await;
    done(&jq, &mut conn, &x, Outcome::Retry("remote hung up".into())).await;
    let t = tree(&jq, &mut conn, &push).await;
    assert_eq!(t.state, TreeState::Running);
    assert_eq!(t.counts, counts(3, 1, 2, 0, 0));
    // Attempt 2, the last, fails: dead.
    let x = eventually(Duration::from_secs(5), "the retry to come due", || async {
        let mut c = conn.clone();
        jq.maintain(&mut c).await.unwrap();
        let claim = jq.claim(&mut c, "w", &[q("outbound")], 1, 0).await.unwrap();
        claim.jobs.into_iter().next()
    })
    .await;
    assert_eq!(x.attempt, 2);
    done(
        &jq,
        &mut conn,
        &x,
        Outcome::Retry("remote hung up again".into()),
    )
    .await;
    for ancestor in [push, inflate.id] {
        let t = tree(&jq, &mut conn, &ancestor).await;
        assert_eq!(
            t.state,
            TreeState::Failed,
            "dead two levels down fails {ancestor}"
        );
        assert_eq!(t.failures.len(), 1);
        let f = &t.failures[0];
        assert_eq!(f.job_id, index.id);
        assert_eq!(f.kind, "index");
        assert_eq!(f.identifier.as_deref(), Some("Astrogator"));
        assert_eq!(f.error.as_deref(), Some("remote hung up again"));
        assert_eq!(f.state, "dead");
    }
    assert_eq!(
        tree(&jq, &mut conn, &push).await.counts,
        counts(3, 0, 2, 0, 1)
    );

    // The operator retries it: running again, no failure listed; then it succeeds.
    jq.retry_dead(&mut conn, &index.id).await.unwrap();
    let t = tree(&jq, &mut conn, &push).await;
    assert_eq!(t.state, TreeState::Running);
    assert_eq!(t.counts, counts(3, 1, 2, 0, 0));
    assert!(t.failures.is_empty(), "{:?}", t.failures);
    let x = claim(&jq, &mut conn, &q("outbound")).await;
    done(&jq, &mut conn, &x, Outcome::Succeeded).await;
    let t = tree(&jq, &mut conn, &push).await;
    assert_eq!(t.state, TreeState::Succeeded);
    assert_eq!(t.counts, counts(3, 0, 3, 0, 0));
}

#[tokio::test]
async fn a_failed_job_and_a_lease_lost_on_the_last_attempt_are_listed_with_their_reasons() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = JobQueue::new(
        Keys::default(),
        JobSettings {
            max_attempts: 1,
            lease_ms: 200,
            ..JobSettings::default()
        },
    );
    let push = enqueue(&jq, &mut conn, &NewJob::new("push", q("push"))).await;
    let p = claim(&jq, &mut conn, &q("push")).await;
    let bad = NewJob::new("inflate", q("inbound.ksp"))
        .with_parent(push)
        .with_dedup_key("ksp/NoLicense");
    let lost = NewJob::new("inflate", q("inbound.ksp"))
        .with_parent(push)
        .with_dedup_key("ksp/Astrogator");
    jq.enqueue(&mut conn, &[bad.clone(), lost.clone()])
        .await
        .unwrap();
    done(
        &jq,
        &mut conn,
        &p,
        Outcome::Failed("NetKAN/Bad.netkan: not YAML".into()),
    )
    .await;

    let b = claim(&jq, &mut conn, &q("inbound.ksp")).await;
    assert_eq!(b.id, bad.id);
    done(
        &jq,
        &mut conn,
        &b,
        Outcome::Failed("No license given".into()),
    )
    .await;
    let l = claim(&jq, &mut conn, &q("inbound.ksp")).await;
    assert_eq!(l.id, lost.id);
    let t = tree(&jq, &mut conn, &push).await;
    assert_eq!(t.state, TreeState::Running, "one inflation is running");
    // Its worker dies: the lease expires on the only attempt allowed.
    eventually(Duration::from_secs(5), "the lease to expire", || async {
        let mut c = conn.clone();
        let ev = jq.maintain(&mut c).await.unwrap();
        (!ev.is_empty()).then_some(())
    })
    .await;
    let t = tree(&jq, &mut conn, &push).await;
    assert_eq!(t.state, TreeState::Failed);
    assert_eq!(t.counts, counts(3, 0, 0, 2, 1));
    let seen: Vec<(JobId, Option<&str>, &str)> = t
        .failures
        .iter()
        .map(|f| (f.job_id, f.identifier.as_deref(), f.state.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (push, None, "failed"),
            (bad.id, Some("NoLicense"), "failed"),
            (lost.id, Some("Astrogator"), "dead"),
        ],
        "the job itself first, then its descendants in the order they finished"
    );
    assert_eq!(t.failures[1].error.as_deref(), Some("No license given"));
    assert!(
        t.failures[2]
            .error
            .as_deref()
            .unwrap()
            .starts_with("lease expired")
    );
}

#[tokio::test]
async fn a_child_added_after_its_parent_finished_makes_the_tree_run_again() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let parent = enqueue(&jq, &mut conn, &NewJob::new("push", q("push"))).await;
    let p = claim(&jq, &mut conn, &q("push")).await;
    done(&jq, &mut conn, &p, Outcome::Succeeded).await;
    let t = tree(&jq, &mut conn, &parent).await;
    assert_eq!(
        (t.state, t.counts),
        (TreeState::Succeeded, counts(1, 0, 1, 0, 0))
    );

    let late = NewJob::new("inflate", q("inbound.ksp")).with_parent(parent);
    enqueue(&jq, &mut conn, &late).await;
    let t = tree(&jq, &mut conn, &parent).await;
    assert_eq!(
        (t.state, t.counts),
        (TreeState::Running, counts(2, 1, 1, 0, 0))
    );
    // The roll-up made after the parent finished expires with the parent's record.
    let ttl: i64 = redis::cmd("TTL")
        .arg(jq.keys().tree(&parent))
        .query_async(&mut conn)
        .await
        .unwrap();
    let record_ttl: i64 = redis::cmd("TTL")
        .arg(jq.keys().job(&parent))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        ttl > 0 && ttl <= record_ttl,
        "tree TTL {ttl}, record TTL {record_ttl}"
    );

    // Enqueueing the same id again (a producer retrying) counts nothing twice.
    enqueue(&jq, &mut conn, &late).await;
    let c = claim(&jq, &mut conn, &q("inbound.ksp")).await;
    done(&jq, &mut conn, &c, Outcome::Failed("bad netkan".into())).await;
    let t = tree(&jq, &mut conn, &parent).await;
    assert_eq!(
        (t.state, t.counts),
        (TreeState::Failed, counts(2, 0, 1, 1, 0))
    );
}

#[tokio::test]
async fn concurrent_finishes_and_replayed_acks_keep_the_counts_exact() {
    const CHILDREN: usize = 300;
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let push = enqueue(&jq, &mut conn, &NewJob::new("push", q("push"))).await;
    let p = claim(&jq, &mut conn, &q("push")).await;
    let children: Vec<NewJob> = (0..CHILDREN)
        .map(|i| {
            NewJob::new("inflate", q("inbound.ksp"))
                .with_parent(push)
                .with_dedup_key(format!("ksp/Mod{i}"))
        })
        .collect();
    jq.enqueue(&mut conn, &children).await.unwrap();
    done(&jq, &mut conn, &p, Outcome::Succeeded).await;

    // Eight workers claim and finish in small batches at once; every third child fails,
    // and every acknowledgement is sent twice (a replay the fencing token must drop).
    let workers = (0..8).map(|w| {
        let jq = jq.clone();
        let mut c = conn.clone();
        tokio::spawn(async move {
            loop {
                let claim = jq
                    .claim(&mut c, &format!("w{w}"), &[q("inbound.ksp")], 5, 0)
                    .await
                    .unwrap();
                if claim.jobs.is_empty() {
                    return;
                }
                let fin: Vec<Finish> = claim
                    .jobs
                    .iter()
                    .map(|j| {
                        let n: usize = j.dedup_key.as_deref().unwrap()[7..].parse().unwrap();
                        let o = if n.is_multiple_of(3) {
                            Outcome::Failed(format!("mod {n} is bad"))
                        } else {
                            Outcome::Succeeded
                        };
                        finish(j, o)
                    })
                    .collect();
                let first = jq.finish(&mut c, &fin).await.unwrap();
                assert!(first.iter().all(|d| *d));
                let replay = jq.finish(&mut c, &fin).await.unwrap();
                assert!(replay.iter().all(|d| !*d), "a replayed ack is dropped");
            }
        })
    });
    for w in workers.collect::<Vec<_>>() {
        w.await.unwrap();
    }
    let t = tree(&jq, &mut conn, &push).await;
    let failed = CHILDREN.div_ceil(3) as u64;
    assert_eq!(t.state, TreeState::Failed);
    assert_eq!(
        t.counts,
        counts(
            CHILDREN as u64 + 1,
            0,
            CHILDREN as u64 + 1 - failed,
            failed,
            0
        )
    );
    assert_eq!(
        t.failures.len(),
        TREE_LISTED,
        "the list is capped, the counts are not"
    );
    assert!(
        t.failures
            .iter()
            .all(|f| f.error.as_deref().unwrap().ends_with("is bad"))
    );
}
