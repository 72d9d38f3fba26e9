//! The job protocol against a real redis-server.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::time::Duration;

use netkan_common::job::Attributes;
use netkan_common::log::{Level, LogQuery, Order, format_line};
use netkan_common::queue::{Finish, Held, Outcome, Upkeep};
use netkan_common::testing::{TestRedis, eventually};
use netkan_common::{JobId, JobQueue, JobSettings, JobState, Keys, Lane, NewJob, QueueName};
use redis::AsyncCommands;

fn protocol(settings: JobSettings) -> JobQueue {
    JobQueue::new(Keys::default(), settings)
}

fn q(name: &str) -> QueueName {
    QueueName::new(name).unwrap()
}

async fn claim_one(
    jq: &JobQueue,
    conn: &mut redis::aio::MultiplexedConnection,
    queue: &QueueName,
    worker: &str,
) -> netkan_common::ClaimedJob {
    let mut claim = jq
        .claim(conn, worker, std::slice::from_ref(queue), 1, 0)
        .await
        .unwrap();
    assert_eq!(claim.jobs.len(), 1, "expected one job, got {claim:?}");
    claim.jobs.remove(0)
}

fn finish(job: &netkan_common::ClaimedJob, outcome: Outcome) -> Finish {
    Finish {
        id: job.id,
        queue: job.queue.clone(),
        token: job.token,
        attempt: job.attempt,
        outcome,
    }
}

/// The next job of `queue` once upkeep has made it due (a retry or a wait ending).
async fn claim_when_due(
    jq: &JobQueue,
    conn: &redis::aio::MultiplexedConnection,
    queue: &QueueName,
    what: &str,
) -> netkan_common::ClaimedJob {
    eventually(Duration::from_secs(5), what, || async {
        let mut c = conn.clone();
        jq.maintain(&mut c).await.unwrap();
        let claim = jq
            .claim(&mut c, "w", std::slice::from_ref(queue), 1, 0)
            .await
            .unwrap();
        claim.jobs.into_iter().next()
    })
    .await
}

#[tokio::test]
async fn enqueue_claim_ack_moves_the_record_through_its_states() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = protocol(JobSettings::default());
    let parent = JobId::new();
    let job = NewJob::new("noop", q("push"))
        .with_body("hello")
        .with_attr("GameId", "ksp")
        .with_parent(parent);
    let ids = jq
        .enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();
    assert_eq!(ids, vec![job.id]);

    let rec = jq
        .job(&mut conn, &job.id)
        .await
        .unwrap()
        .expect("queued job is visible");
    assert_eq!(rec.state, JobState::Queued);
    assert_eq!(rec.kind, "noop");
    assert_eq!(rec.body, "hello");
    assert_eq!(rec.parent, Some(parent));
    assert_eq!(
        rec.attributes.get("GameId").map(String::as_str),
        Some("ksp")
    );
    let parent_children: Vec<String> = conn
        .lrange(jq.keys().children(&parent), 0, -1)
        .await
        .unwrap();
    assert_eq!(parent_children, vec![job.id.to_string()]);

    let claimed = claim_one(&jq, &mut conn, &q("push"), "w1").await;
    assert_eq!(claimed.id, job.id);
    assert_eq!(claimed.attempt, 1);
    assert_eq!(claimed.body, "hello");
    let rec = jq.job(&mut conn, &job.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Running);
    assert!(rec.started.is_some() && rec.started.unwrap() >= rec.created);
    assert_eq!(rec.worker.as_deref(), Some("w1"));

    let done = jq
        .finish(&mut conn, &[finish(&claimed, Outcome::Succeeded)])
        .await
        .unwrap();
    assert_eq!(done, vec![true]);
    let rec = jq.job(&mut conn, &job.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Succeeded);
    assert!(rec.finished.unwrap() >= rec.started.unwrap());
    let stats = jq.stats(&mut conn).await.unwrap();
    assert_eq!(stats[0].waiting() + stats[0].in_flight, 0);
}

#[tokio::test]
async fn log_lines_come_back_in_order_with_cursor_since_level_and_limit() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = protocol(JobSettings::default());
    let id = JobId::new();
    let t0 = netkan_common::log::parse_time("2024-01-15T10:30:02.123Z").unwrap();
    let lines: Vec<String> = (0..6)
        .map(|i| {
            let level = [Level::Debug, Level::Info, Level::Notice][i % 3];
            format_line(
                t0 + chrono::Duration::seconds(i as i64),
                level,
                &format!("line {i}"),
            )
        })
        .collect();
    let _: i64 = conn.rpush(jq.keys().log(&id), &lines).await.unwrap();

    let all = jq.logs(&mut conn, &id, &LogQuery::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|l| l.cursor).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4, 5]
    );
    assert_eq!(all[4].message, "line 4");

    let after = jq
        .logs(
            &mut conn,
            &id,
            &LogQuery {
                after: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        after.iter().map(|l| l.cursor).collect::<Vec<_>>(),
        vec![4, 5]
    );

    let page = jq
        .logs(
            &mut conn,
            &id,
            &LogQuery {
                after: Some(0),
                limit: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|l| l.cursor).collect::<Vec<_>>(),
        vec![1, 2]
    );

    let since = jq
        .logs(
            &mut conn,
            &id,
            &LogQuery {
                since: Some(t0 + chrono::Duration::seconds(4)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        since.iter().map(|l| l.cursor).collect::<Vec<_>>(),
        vec![4, 5]
    );

    let notice = jq
        .logs(
            &mut conn,
            &id,
            &LogQuery {
                level: Some(Level::Notice),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        notice.iter().map(|l| l.cursor).collect::<Vec<_>>(),
        vec![2, 5]
    );

    let desc = jq
        .logs(
            &mut conn,
            &id,
            &LogQuery {
                order: Order::Desc,
                limit: Some(2),
                level: Some(Level::Info),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        desc.iter().map(|l| l.cursor).collect::<Vec<_>>(),
        vec![5, 4]
    );
}

#[tokio::test]
async fn a_job_that_always_fails_is_dead_after_max_attempts_and_can_be_retried() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let settings = JobSettings {
        max_attempts: 3,
        backoff_base_ms: 1,
        backoff_max_ms: 5,
        ..JobSettings::default()
    };
    let jq = protocol(settings);
    let queue = q("outbound");
    let job = NewJob::new("index", queue.clone());
    jq.enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();

    for attempt in 1..=3 {
        let claimed = claim_when_due(&jq, &conn, &queue, "the retry to come due").await;
        assert_eq!(claimed.attempt, attempt);
        let ok = jq
            .finish(
                &mut conn,
                &[finish(&claimed, Outcome::Retry(format!("boom {attempt}")))],
            )
            .await
            .unwrap();
        assert_eq!(ok, vec![true]);
        let rec = jq.job(&mut conn, &job.id).await.unwrap().unwrap();
        if attempt < 3 {
            assert_eq!(rec.state, JobState::Queued);
            assert!(rec.retry_at.is_some());
        }
    }
    let rec = jq.job(&mut conn, &job.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Dead);
    assert_eq!(rec.last_error.as_deref(), Some("boom 3"));
    let dead = jq.dead(&mut conn, &queue, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, job.id);
    assert_eq!(dead[0].error, "boom 3");

    jq.retry_dead(&mut conn, &job.id).await.unwrap();
    assert!(jq.dead(&mut conn, &queue, 10).await.unwrap().is_empty());
    let again = claim_one(&jq, &mut conn, &queue, "w2").await;
    assert_eq!(again.id, job.id);
    assert_eq!(
        again.attempt, 1,
        "retrying from the dead-letter list resets attempts"
    );
    jq.finish(&mut conn, &[finish(&again, Outcome::Succeeded)])
        .await
        .unwrap();
    let rec = jq.job(&mut conn, &job.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Succeeded);
    assert!(
        jq.retry_dead(&mut conn, &job.id).await.is_err(),
        "not dead any more"
    );
}

#[tokio::test]
async fn garbage_in_a_queue_stream_is_dead_lettered_and_the_next_job_runs() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = protocol(JobSettings::default());
    let queue = q("inbound.ksp");
    let lane = jq.keys().lane(&queue, Lane::High);
    // What an operator might type into redis-cli by mistake.
    let _: String = redis::cmd("XADD")
        .arg(&lane)
        .arg("*")
        .arg("hello")
        .arg("world")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg(&lane)
        .arg("*")
        .arg("id")
        .arg(JobId::new().to_string())
        .arg("kind")
        .arg("inflate")
        .arg("attrs")
        .arg("{not json")
        .query_async(&mut conn)
        .await
        .unwrap();
    let good = NewJob::new("inflate", queue.clone()).with_body("good");
    jq.enqueue(&mut conn, std::slice::from_ref(&good))
        .await
        .unwrap();

    let claim = jq
        .claim(&mut conn, "w", std::slice::from_ref(&queue), 10, 0)
        .await
        .unwrap();
    assert_eq!(
        claim.buried.len(),
        1,
        "the entry without an id is buried at once"
    );
    assert_eq!(
        claim.undecodable.len(),
        1,
        "the entry with bad attributes is handed over to be buried"
    );
    assert_eq!(claim.jobs.len(), 1);
    assert_eq!(claim.jobs[0].id, good.id);
    let bad = &claim.undecodable[0];
    assert!(bad.reason.contains("attrs"), "{}", bad.reason);
    let Held {
        id,
        queue: bq,
        token,
    } = bad.held.clone();
    jq.finish(
        &mut conn,
        &[Finish {
            id,
            queue: bq,
            token,
            attempt: 1,
            outcome: Outcome::Dead(bad.reason.clone()),
        }],
    )
    .await
    .unwrap();

    let dead = jq.dead(&mut conn, &queue, 10).await.unwrap();
    assert_eq!(dead.len(), 2);
    let buried = dead.iter().find(|d| d.id == claim.buried[0]).unwrap();
    assert!(buried.error.contains("undecodable"), "{}", buried.error);
    let rec = jq.job(&mut conn, &claim.buried[0]).await.unwrap().unwrap();
    assert!(
        rec.body.contains("hello=world"),
        "the raw entry is kept: {}",
        rec.body
    );
    assert!(jq.retry_dead(&mut conn, &claim.buried[0]).await.is_err());
    jq.delete_dead(&mut conn, &claim.buried[0]).await.unwrap();
    assert!(jq.job(&mut conn, &claim.buried[0]).await.unwrap().is_none());
}

#[tokio::test]
async fn high_lane_jobs_are_claimed_before_scheduled_ones() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = protocol(JobSettings::default());
    let queue = q("inbound.ksp");
    let low: Vec<NewJob> = (0..5)
        .map(|i| {
            NewJob::new("inflate", queue.clone())
                .with_lane(Lane::Low)
                .with_body(format!("s{i}"))
        })
        .collect();
    let high: Vec<NewJob> = (0..3)
        .map(|i| NewJob::new("inflate", queue.clone()).with_body(format!("h{i}")))
        .collect();
    jq.enqueue(&mut conn, &low).await.unwrap();
    jq.enqueue(&mut conn, &high).await.unwrap();
    let waiting = jq.job(&mut conn, &low[0].id).await.unwrap().unwrap();
    assert_eq!(
        (waiting.state, waiting.lane, waiting.body.as_str()),
        (JobState::Queued, Lane::Low, "s0")
    );
    let claim = jq
        .claim(&mut conn, "w", std::slice::from_ref(&queue), 4, 0)
        .await
        .unwrap();
    let bodies: Vec<&str> = claim.jobs.iter().map(|j| j.body.as_str()).collect();
    assert_eq!(bodies, vec!["h0", "h1", "h2", "s0"]);
}

#[tokio::test]
async fn a_newer_request_for_the_same_key_is_never_swallowed() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = protocol(JobSettings::default());
    let queue = q("inbound.ksp");
    let old = NewJob::new("inflate", queue.clone())
        .with_body("v1")
        .with_dedup_key("ksp/Foo");
    let same = NewJob::new("inflate", queue.clone())
        .with_body("v1")
        .with_dedup_key("ksp/Foo");
    let newer = NewJob::new("inflate", queue.clone())
        .with_body("v2")
        .with_dedup_key("ksp/Foo");
    let ids = jq
        .enqueue(&mut conn, &[old.clone(), same.clone()])
        .await
        .unwrap();
    assert_eq!(
        ids,
        vec![old.id, old.id],
        "an identical pending request is coalesced"
    );
    let ids = jq
        .enqueue(&mut conn, std::slice::from_ref(&newer))
        .await
        .unwrap();
    assert_eq!(ids, vec![newer.id], "a different request is enqueued");

    let claim = jq
        .claim(&mut conn, "w", std::slice::from_ref(&queue), 10, 0)
        .await
        .unwrap();
    assert_eq!(claim.jobs.len(), 2);
    assert_eq!(claim.jobs[0].body, "v1");
    assert_eq!(
        claim.jobs[0].superseded_by,
        Some(newer.id),
        "the older one may be skipped"
    );
    assert_eq!(claim.jobs[1].body, "v2");
    assert_eq!(
        claim.jobs[1].superseded_by, None,
        "the newest one always runs"
    );
}

#[tokio::test]
async fn a_late_ack_from_a_worker_whose_lease_expired_is_rejected() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = protocol(JobSettings {
        lease_ms: 300,
        maintenance_interval_ms: 100,
        ..JobSettings::default()
    });
    let queue = q("push");
    let job = NewJob::new("push", queue.clone());
    jq.enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();
    let first = claim_one(&jq, &mut conn, &queue, "old").await;

    let events = eventually(Duration::from_secs(5), "the lease to expire", || async {
        let mut c = conn.clone();
        let ev = jq.maintain(&mut c).await.unwrap();
        (!ev.is_empty()).then_some(ev)
    })
    .await;
    assert_eq!(events, vec![(job.id, Upkeep::LeaseExpired)]);
    let lost = jq
        .renew(
            &mut conn,
            "old",
            "{}",
            &[Held {
                id: job.id,
                queue: queue.clone(),
                token: first.token,
            }],
        )
        .await
        .unwrap();
    assert_eq!(
        lost.lost,
        vec![job.id],
        "the old holder learns it lost the lease"
    );

    let second = claim_one(&jq, &mut conn, &queue, "new").await;
    assert_eq!(second.attempt, 2);
    assert!(second.token > first.token);
    let late = jq
        .finish(&mut conn, &[finish(&first, Outcome::Succeeded)])
        .await
        .unwrap();
    assert_eq!(late, vec![false], "the old holder's ack is rejected");
    let rec = jq.job(&mut conn, &job.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Running);
    assert_eq!(rec.worker.as_deref(), Some("new"));
    let ok = jq
        .finish(&mut conn, &[finish(&second, Outcome::Succeeded)])
        .await
        .unwrap();
    assert_eq!(ok, vec![true]);
}

#[tokio::test]
async fn finished_records_and_logs_carry_an_expiry_and_running_ones_do_not() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = protocol(JobSettings {
        retention_secs: 3600,
        ..JobSettings::default()
    });
    let queue = q("mirroring");
    let job = NewJob::new("mirror", queue.clone());
    jq.enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();
    let claimed = claim_one(&jq, &mut conn, &queue, "w").await;
    jq.append_log(&mut conn, &job.id, &[(Level::Info, "working".into())])
        .await
        .unwrap();
    let ttl: i64 = conn.ttl(jq.keys().job(&job.id)).await.unwrap();
    assert_eq!(ttl, -1, "a running job's record must not expire");
    jq.finish(
        &mut conn,
        &[finish(&claimed, Outcome::Failed("bad input".into()))],
    )
    .await
    .unwrap();
    for key in [jq.keys().job(&job.id), jq.keys().log(&job.id)] {
        let ttl: i64 = conn.ttl(&key).await.unwrap();
        assert!((3500..=3600).contains(&ttl), "{key} has ttl {ttl}");
    }
    let rec = jq.job(&mut conn, &job.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Failed);
    assert!(
        jq.dead(&mut conn, &queue, 10).await.unwrap().is_empty(),
        "failed is not dead"
    );
    let recent = jq
        .recent_finished(&mut conn, Some(JobState::Failed), None, 10)
        .await
        .unwrap();
    assert_eq!(recent.len(), 1);
}

#[tokio::test]
async fn released_jobs_go_back_without_using_an_attempt() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = protocol(JobSettings::default());
    let queue = q("push");
    let job = NewJob::new("push", queue.clone());
    jq.enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();
    let first = claim_one(&jq, &mut conn, &queue, "w").await;
    let n = jq
        .release(
            &mut conn,
            &[Held {
                id: job.id,
                queue: queue.clone(),
                token: first.token,
            }],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let again = claim_one(&jq, &mut conn, &queue, "w2").await;
    assert_eq!(again.attempt, 1);
    let _: Attributes = again.attributes;
}

#[tokio::test]
async fn an_interrupted_job_runs_again_before_the_backlog() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = protocol(JobSettings {
        lease_ms: 300,
        maintenance_interval_ms: 100,
        ..JobSettings::default()
    });
    let queue = q("inbound.ksp");
    let jobs: Vec<NewJob> = (0..5)
        .map(|i| NewJob::new("inflate", queue.clone()).with_body(format!("{i}")))
        .collect();
    jq.enqueue(&mut conn, &jobs).await.unwrap();
    let interrupted = claim_one(&jq, &mut conn, &queue, "dies").await;
    assert_eq!(interrupted.body, "0");
    eventually(Duration::from_secs(5), "the lease to expire", || async {
        let mut c = conn.clone();
        (!jq.maintain(&mut c).await.unwrap().is_empty()).then_some(())
    })
    .await;
    let stats = jq.stats(&mut conn).await.unwrap();
    assert_eq!((stats[0].resuming, stats[0].high), (1, 4));
    let next = claim_one(&jq, &mut conn, &queue, "takes over").await;
    assert_eq!(
        next.id, interrupted.id,
        "the interrupted job is served before the four waiting ones"
    );
    assert_eq!(next.lane, Lane::High, "it keeps its lane");
}

#[tokio::test]
async fn enqueueing_a_known_id_again_makes_no_second_job() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = protocol(JobSettings::default());
    let queue = q("push");
    let job = NewJob::new("push", queue.clone()).with_body("spooled");
    jq.enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();
    jq.enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();
    assert_eq!(
        jq.stats(&mut conn).await.unwrap()[0].high,
        1,
        "waiting: not enqueued twice"
    );
    let claimed = claim_one(&jq, &mut conn, &queue, "w").await;
    jq.finish(&mut conn, &[finish(&claimed, Outcome::Succeeded)])
        .await
        .unwrap();
    jq.enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();
    assert_eq!(
        jq.stats(&mut conn).await.unwrap()[0].waiting(),
        0,
        "finished: not enqueued again"
    );
}

#[tokio::test]
async fn a_throttled_job_waits_and_keeps_its_attempts() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let settings = JobSettings {
        max_attempts: 1,
        backoff_base_ms: 1,
        ..JobSettings::default()
    };
    let jq = protocol(settings);
    let queue = q("inbound.ksp");
    let job = NewJob::new("inflate", queue.clone());
    jq.enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();
    // With one attempt allowed, a plain retry would bury the job; a throttled one must not,
    // however often the host says so.
    for round in 1..=3 {
        let claimed = claim_when_due(&jq, &conn, &queue, "the wait to end").await;
        assert_eq!(
            claimed.attempt, 1,
            "round {round}: the wait was not counted"
        );
        let before = chrono::Utc::now();
        let ok = jq
            .finish(
                &mut conn,
                &[finish(
                    &claimed,
                    Outcome::RetryAfter {
                        error: format!("rate limited {round}"),
                        delay: Duration::from_millis(300),
                    },
                )],
            )
            .await
            .unwrap();
        assert_eq!(ok, vec![true]);
        let rec = jq.job(&mut conn, &job.id).await.unwrap().unwrap();
        assert_eq!(rec.state, JobState::Queued);
        assert_eq!(rec.attempts, 0);
        assert_eq!(
            rec.last_error.as_deref(),
            Some(format!("rate limited {round}").as_str())
        );
        let due = rec.retry_at.expect("waiting");
        assert!(
            due >= before + chrono::Duration::milliseconds(250),
            "{due} vs {before}"
        );
    }
    let claimed = claim_when_due(&jq, &conn, &queue, "the last wait to end").await;
    jq.finish(
        &mut conn,
        &[finish(&claimed, Outcome::Retry("boom".into()))],
    )
    .await
    .unwrap();
    let rec = jq.job(&mut conn, &job.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Dead, "a real failure still counts");
}

/// Enqueues, claims and finishes `n` jobs of `queue` in one script call each, so they share
/// one finish time.
async fn finish_many(
    jq: &JobQueue,
    conn: &mut redis::aio::MultiplexedConnection,
    queue: &QueueName,
    n: usize,
) -> Vec<JobId> {
    let jobs: Vec<NewJob> = (0..n).map(|_| NewJob::new("noop", queue.clone())).collect();
    jq.enqueue(conn, &jobs).await.unwrap();
    let claim = jq
        .claim(conn, "w", std::slice::from_ref(queue), n, 0)
        .await
        .unwrap();
    assert_eq!(claim.jobs.len(), n);
    let finishes: Vec<Finish> = claim
        .jobs
        .iter()
        .map(|j| finish(j, Outcome::Succeeded))
        .collect();
    jq.finish(conn, &finishes).await.unwrap();
    jobs.into_iter().map(|j| j.id).collect()
}

#[tokio::test]
async fn recent_finished_lists_each_job_once_across_pages_ties_and_concurrent_finishes() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = protocol(JobSettings::default());
    let queue = q("noop");
    // More jobs with one finish time than a page of the index holds.
    let mut expected = finish_many(&jq, &mut conn, &queue, 450).await;
    let all = jq
        .recent_finished(&mut conn, None, None, 1000)
        .await
        .unwrap();
    let ids: std::collections::HashSet<JobId> = all.iter().map(|r| r.id).collect();
    assert_eq!(all.len(), 450, "each finished job once");
    assert_eq!(ids.len(), 450);

    // Jobs finishing while a reader pages must not make it list a job twice.
    let writer = {
        let jq = jq.clone();
        let mut conn = redis.conn().await;
        let queue = queue.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..40 {
                ids.extend(finish_many(&jq, &mut conn, &queue, 10).await);
            }
            ids
        })
    };
    let mut reads = 0;
    while !writer.is_finished() || reads == 0 {
        let page = jq
            .recent_finished(&mut conn, None, None, 1000)
            .await
            .unwrap();
        let distinct: std::collections::HashSet<JobId> = page.iter().map(|r| r.id).collect();
        assert_eq!(distinct.len(), page.len(), "a job listed twice");
        reads += 1;
    }
    expected.extend(writer.await.unwrap());
    let all = jq
        .recent_finished(&mut conn, None, None, 1000)
        .await
        .unwrap();
    let listed: std::collections::HashSet<JobId> = all.iter().map(|r| r.id).collect();
    assert_eq!(listed, expected.into_iter().collect());
}
