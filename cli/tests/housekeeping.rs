//! `netkan housekeeping`: running a housekeeping job by hand, against a real redis-server.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::process::Command;

use netkan_common::testing::TestRedis;
use netkan_common::{JobId, JobQueue, JobSettings, JobState, Keys, Lane};

fn netkan(redis: &TestRedis, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netkan"))
        .args(args)
        .env("REDIS_URL", redis.url())
        .env("NETKAN__WEB__BASE_URL", "https://netkan.example")
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
async fn an_operator_runs_a_housekeeping_job_now_and_gets_its_log_page() {
    let redis = TestRedis::start();
    let (ok, out) = netkan(
        &redis,
        &["housekeeping", "run", "download-count", "--game", "ksp"],
    );
    assert!(ok, "{out}");
    let mut lines = out.lines();
    let first = lines.next().unwrap();
    let id: JobId = first
        .strip_prefix("download-count for ksp queued as ")
        .unwrap_or_else(|| panic!("{out}"))
        .parse()
        .unwrap();
    assert_eq!(
        lines.next(),
        Some(format!("log: https://netkan.example/logs/{id}").as_str())
    );
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let mut conn = redis.conn().await;
    let rec = jq.job(&mut conn, &id).await.unwrap().unwrap();
    assert_eq!(
        (rec.kind.as_str(), rec.queue.as_str(), rec.game.as_str()),
        ("download-count", "housekeeping", "ksp")
    );
    assert_eq!((rec.state, rec.lane), (JobState::Queued, Lane::High));

    let (ok, out) = netkan(&redis, &["--json", "housekeeping", "run", "clean-cache"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "clean-cache");
    assert!(
        v["log"]
            .as_str()
            .unwrap()
            .ends_with(v["id"].as_str().unwrap())
    );
}

#[test]
fn unknown_kinds_and_games_are_refused_by_name() {
    let redis = TestRedis::start();
    let (ok, out) = netkan(&redis, &["housekeeping", "run", "sweep"]);
    assert!(!ok);
    assert!(
        out.contains("\"sweep\" is not a housekeeping job; known: download-count, auto-freeze, ticket-close, clean-cache"),
        "{out}"
    );
    let (ok, out) = netkan(
        &redis,
        &["housekeeping", "run", "auto-freeze", "--game", "ksp2"],
    );
    assert!(!ok);
    assert!(out.contains("--game: ksp2 is not configured"), "{out}");
    let (ok, out) = netkan(&redis, &["housekeeping", "list"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("download-count   per game  daily at 03:00 UTC"),
        "{out}"
    );
    assert!(
        out.contains("auto-freeze      per game  every 604800 s"),
        "{out}"
    );
}
