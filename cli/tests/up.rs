//! `netkan up` as a process: embedded Redis, workers, clean stop, data kept across restarts.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use netkan_common::testing::eventually;
use netkan_common::{JobQueue, JobSettings, JobState, Keys, NewJob, QueueName};

fn start_up(data: &std::path::Path, port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netkan"))
        .args(["up", "--data-dir"])
        .arg(data)
        .env("NETKAN__REDIS__EMBEDDED_PORT", port.to_string())
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start netkan up");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("netkan up printed something").unwrap();
    assert_eq!(first, "netkan is up");
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    child
}

fn stop(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "netkan up exited with {exit}");
}

#[tokio::test]
async fn netkan_up_runs_jobs_stops_cleanly_and_keeps_its_data() {
    let data = tempfile::tempdir().unwrap();
    let port = netkan_common::redis_server::free_port();
    let up = start_up(data.path(), port);
    let url = format!("redis://127.0.0.1:{port}/");
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let job = NewJob::new("noop", QueueName::new("noop").unwrap());
    jq.enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();
    eventually(Duration::from_secs(20), "the noop job to succeed", || {
        let mut c = conn.clone();
        let jq = jq.clone();
        let id = job.id;
        async move {
            jq.job(&mut c, &id)
                .await
                .unwrap()
                .filter(|r| r.state == JobState::Succeeded)
        }
    })
    .await;
    drop(conn);
    stop(up);
    assert!(
        redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .is_err(),
        "the embedded redis-server is stopped with netkan up"
    );

    let up = start_up(data.path(), port);
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let rec = jq
        .job(&mut conn, &job.id)
        .await
        .unwrap()
        .expect("the job survives a restart");
    assert_eq!(rec.state, JobState::Succeeded);
    let lines = jq
        .logs(&mut conn, &job.id, &Default::default())
        .await
        .unwrap();
    assert!(lines.iter().any(|l| l.message.contains("ran")));
    drop(conn);
    stop(up);
}
