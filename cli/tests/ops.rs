//! The operator commands as a person runs them, against a real redis-server.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::process::Command;

use netkan_common::queue::{Finish, Outcome};
use netkan_common::testing::TestRedis;
use netkan_common::{JobQueue, JobSettings, JobState, Keys, NewJob, QueueName};

fn netkan(redis: &TestRedis, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netkan"))
        .args(args)
        .env("REDIS_URL", redis.url())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn an_operator_lists_and_retries_dead_jobs_and_reads_a_job() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let queue = QueueName::new("outbound").unwrap();
    let job = NewJob::new("index", queue.clone()).with_body("{}");
    jq.enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();
    let claimed = jq
        .claim(&mut conn, "w", std::slice::from_ref(&queue), 1, 0)
        .await
        .unwrap()
        .jobs
        .remove(0);
    jq.append_log(
        &mut conn,
        &job.id,
        &[(netkan_common::Level::Error, "git push rejected".into())],
    )
    .await
    .unwrap();
    jq.finish(
        &mut conn,
        &[Finish {
            id: job.id,
            queue: queue.clone(),
            token: claimed.token,
            attempt: 1,
            outcome: Outcome::Dead("git push rejected".into()),
        }],
    )
    .await
    .unwrap();

    let (ok, out) = netkan(&redis, &["dead", "list"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&job.id.to_string()) && out.contains("git push rejected"),
        "{out}"
    );

    let (ok, out) = netkan(&redis, &["jobs", "show", &job.id.to_string()]);
    assert!(ok, "{out}");
    assert!(
        out.contains("state    dead") && out.contains("ERROR  git push rejected"),
        "{out}"
    );

    let (ok, out) = netkan(&redis, &["dead", "retry", &job.id.to_string()]);
    assert!(ok, "{out}");
    assert_eq!(
        jq.job(&mut conn, &job.id).await.unwrap().unwrap().state,
        JobState::Queued
    );

    let (ok, out) = netkan(&redis, &["--json", "queues"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["queues"][0]["queue"], "outbound");
    assert_eq!(v["queues"][0]["high"], 1);

    let (ok, out) = netkan(&redis, &["dead", "retry", "not-a-uuid"]);
    assert!(!ok);
    assert!(out.contains("invalid job id \"not-a-uuid\""), "{out}");
    let (ok, out) = netkan(&redis, &["dead", "delete", &job.id.to_string()]);
    assert!(!ok, "a queued job is not in the dead-letter list");
    assert!(out.contains("not in a dead-letter list"), "{out}");
}

#[tokio::test]
async fn netkan_inflate_queues_a_request_in_the_high_lane_and_names_bad_identifiers() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = JobQueue::new(Keys::default(), JobSettings::default());

    let (ok, out) = netkan(&redis, &["inflate", "Astrogator", "DogeCoinFlag", "--json"]);
    assert!(ok, "{out}");
    let reply: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id: netkan_common::JobId = reply["id"].as_str().unwrap().parse().unwrap();
    assert!(
        reply["log"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/logs/{id}"))
    );
    let push = QueueName::push();
    let claimed = jq
        .claim(&mut conn, "w", std::slice::from_ref(&push), 10, 0)
        .await
        .unwrap()
        .jobs;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, id);
    assert_eq!(claimed[0].kind, "inflate-request");
    assert_eq!(claimed[0].lane, netkan_common::Lane::High);
    assert_eq!(
        claimed[0].body,
        r#"{"identifiers":["Astrogator","DogeCoinFlag"]}"#
    );

    let (ok, out) = netkan(&redis, &["inflate", "../etc/passwd"]);
    assert!(!ok);
    assert!(
        out.contains("invalid identifier \"../etc/passwd\""),
        "{out}"
    );
    let (ok, out) = netkan(&redis, &["inflate", "--game", "ksp3", "Astrogator"]);
    assert!(!ok);
    assert!(out.contains("unknown game ksp3"), "{out}");
}

#[tokio::test]
async fn netkan_hook_drain_enqueues_spooled_jobs_once() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let spool = tempfile::tempdir().unwrap();
    let job = NewJob::new("push", QueueName::push()).with_body("{}");
    netkan_common::spool::write(spool.path(), &job).unwrap();
    let drain = |redis: &TestRedis| {
        let out = Command::new(env!("CARGO_BIN_EXE_netkan"))
            .args(["hook", "drain"])
            .env("REDIS_URL", redis.url())
            .env("NETKAN__HOOKS__SPOOL_DIR", spool.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = drain(&redis);
    assert!(out.contains(&format!("enqueued {}", job.id)), "{out}");
    assert!(out.contains("1 spooled job(s) enqueued"), "{out}");
    let out = drain(&redis);
    assert!(out.contains("0 spooled job(s) enqueued"), "{out}");
    let push = QueueName::push();
    let claimed = jq
        .claim(&mut conn, "w", std::slice::from_ref(&push), 10, 0)
        .await
        .unwrap()
        .jobs;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, job.id);
}

#[tokio::test]
async fn an_operator_pauses_and_resumes_a_queue_and_cancels_a_queued_job() {
    let redis = TestRedis::start();
    let mut conn = redis.conn().await;
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let queue = QueueName::new("inbound.ksp").unwrap();

    let (ok, out) = netkan(&redis, &["queues", "pause", "inbound.ksp"]);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "inbound.ksp: paused");
    let job = NewJob::new("inflate", queue.clone());
    jq.enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();
    // A worker asking for the paused queue's jobs gets none.
    let claimed = jq
        .claim(&mut conn, "w", std::slice::from_ref(&queue), 10, 0)
        .await
        .unwrap();
    assert!(claimed.jobs.is_empty(), "claimed from a paused queue");

    let (ok, out) = netkan(&redis, &["--json", "queues"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["paused"], serde_json::json!(["inbound.ksp"]), "{v}");
    let (ok, out) = netkan(&redis, &["queues"]);
    assert!(ok, "{out}");
    let row = out.lines().find(|l| l.starts_with("inbound.ksp")).unwrap();
    assert!(row.ends_with("paused"), "{out}");

    let (ok, out) = netkan(&redis, &["--json", "queues", "resume", "inbound.ksp"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["changed"], true, "{v}");
    assert!(jq.paused(&mut conn).await.unwrap().is_empty());

    let (ok, out) = netkan(&redis, &["jobs", "cancel", &job.id.to_string()]);
    assert!(ok, "{out}");
    assert!(out.contains("cancelled; it will not run"), "{out}");
    assert_eq!(
        jq.job(&mut conn, &job.id).await.unwrap().unwrap().state,
        JobState::Cancelled
    );
    let claimed = jq
        .claim(&mut conn, "w", std::slice::from_ref(&queue), 10, 0)
        .await
        .unwrap();
    assert!(claimed.jobs.is_empty(), "a cancelled job was claimed");

    // A finished job cannot be cancelled; the answer says why.
    let (ok, out) = netkan(&redis, &["jobs", "cancel", &job.id.to_string()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("only a queued or running job can be cancelled"),
        "{out}"
    );
}
