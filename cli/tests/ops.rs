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
