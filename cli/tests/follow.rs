//! `netkan jobs follow` as a person runs it, against the real web front end (in-process) on
//! a real redis-server, and against a flaky fake server.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use netkan_common::config::Settings;
use netkan_common::queue::{Finish, Outcome};
use netkan_common::testing::TestRedis;
use netkan_common::{ClaimedJob, JobQueue, Level, NewJob, QueueName};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// The web front end on `redis`, stopped when the token is dropped.
struct Web {
    url: String,
    shutdown: CancellationToken,
}

impl Drop for Web {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn start_web(redis: &TestRedis) -> Web {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut settings = Settings::default();
    settings.web.workers = 1;
    settings.redis.pool_size = 2;
    let shutdown = CancellationToken::new();
    let (redis_url, token) = (redis.url(), shutdown.clone());
    tokio::spawn(async move { netkan_web::run(&settings, &redis_url, listener, token).await });
    Web { url, shutdown }
}

async fn running_job(redis: &TestRedis, jq: &JobQueue) -> ClaimedJob {
    let mut conn = redis.conn().await;
    let queue = QueueName::new("noop").unwrap();
    jq.enqueue(&mut conn, &[NewJob::new("noop", queue.clone())])
        .await
        .unwrap();
    jq.claim(&mut conn, "w", &[queue], 1, 0)
        .await
        .unwrap()
        .jobs
        .remove(0)
}

async fn finish(redis: &TestRedis, jq: &JobQueue, job: &ClaimedJob, outcome: Outcome) {
    let mut conn = redis.conn().await;
    let f = Finish {
        id: job.id,
        queue: job.queue.clone(),
        token: job.token,
        attempt: job.attempt,
        outcome,
    };
    assert_eq!(jq.finish(&mut conn, &[f]).await.unwrap(), [true]);
}

async fn next_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    secs: u64,
) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(secs), lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
}

fn follow(url: &str, id: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_netkan"))
        .args(["jobs", "follow", id, "--url", url])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn follow_prints_lines_as_they_come_and_exits_0_when_the_job_succeeds() {
    let redis = TestRedis::start();
    let web = start_web(&redis);
    let jq = Settings::default().job_queue();
    let job = running_job(&redis, &jq).await;
    let mut conn = redis.conn().await;
    jq.append_log(&mut conn, &job.id, &[(Level::Info, "first line".into())])
        .await
        .unwrap();
    let mut child = follow(&web.url, &job.id.to_string());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = next_line(&mut lines, 10).await.unwrap();
    assert!(first.ends_with(" INFO first line"), "{first}");
    assert!(first.starts_with("20") && first.contains('T'), "{first}");
    // A line written after follow started shows up while the job still runs.
    jq.append_log(&mut conn, &job.id, &[(Level::Notice, "second line".into())])
        .await
        .unwrap();
    let second = next_line(&mut lines, 10).await.unwrap();
    assert!(second.ends_with(" NOTICE second line"), "{second}");
    finish(&redis, &jq, &job, Outcome::Succeeded).await;
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(
        next_line(&mut lines, 1).await,
        None,
        "nothing printed twice"
    );
}

#[tokio::test]
async fn follow_exits_1_when_the_job_failed() {
    let redis = TestRedis::start();
    let web = start_web(&redis);
    let jq = Settings::default().job_queue();
    let job = running_job(&redis, &jq).await;
    let mut conn = redis.conn().await;
    jq.append_log(&mut conn, &job.id, &[(Level::Error, "no download".into())])
        .await
        .unwrap();
    finish(&redis, &jq, &job, Outcome::Failed("no download".into())).await;
    let child = follow(&web.url, &job.id.to_string());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(" ERROR no download\n"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("failed: no download"), "{err}");
}

#[tokio::test]
async fn follow_waits_for_the_jobs_it_caused_and_names_each_failed_mod() {
    let redis = TestRedis::start();
    let web = start_web(&redis);
    let jq = Settings::default().job_queue();
    let push = running_job(&redis, &jq).await;
    let mut conn = redis.conn().await;
    let inbound = QueueName::new("inbound.ksp").unwrap();
    let inflation = |ident: &str| {
        NewJob::new("inflate", inbound.clone())
            .with_parent(push.id)
            .with_dedup_key(format!("ksp/{ident}"))
    };
    jq.enqueue(&mut conn, &[inflation("GoodMod"), inflation("NoLicense")])
        .await
        .unwrap();
    jq.append_log(
        &mut conn,
        &push.id,
        &[(Level::Notice, "2 inflations queued".into())],
    )
    .await
    .unwrap();
    finish(&redis, &jq, &push, Outcome::Succeeded).await;
    let mut child = follow(&web.url, &push.id.to_string());
    // The push job has finished, the inflations have not: follow says it waits for them.
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let waiting = tokio::time::timeout(Duration::from_secs(10), stderr.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .unwrap();
    assert!(
        waiting.contains(
            "succeeded; waiting for the jobs it caused (running: 2 of 3 jobs unfinished)"
        ),
        "{waiting}"
    );
    let mut claimed = jq
        .claim(&mut conn, "w", std::slice::from_ref(&inbound), 2, 0)
        .await
        .unwrap()
        .jobs;
    assert_eq!(claimed.len(), 2);
    let bad = claimed.pop().unwrap();
    let good = claimed.pop().unwrap();
    finish(&redis, &jq, &good, Outcome::Succeeded).await;
    finish(
        &redis,
        &jq,
        &bad,
        Outcome::Failed("No license given".into()),
    )
    .await;
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(" NOTICE 2 inflations queued\n"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "netkan: job {} succeeded; with the jobs it caused, failed: 1 of 3 jobs\nNoLicense: No license given\n",
            push.id
        )),
        "{stdout}"
    );
}

/// A server that answers 503 to its first two requests, then 203 with a finished job.
async fn flaky_server(requests: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let n = requests.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let answer = if n < 2 {
                "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    .to_owned()
            } else {
                let body = r#"{"jobId":"x","state":"succeeded","finishedAt":"2024-01-15T10:30:03.000Z","success":true,"lastError":null,
                    "logs":[{"cursor":0,"timestamp":"2024-01-15T10:30:02.123Z","level":"NOTICE","message":"made it"}]}"#;
                format!(
                    "HTTP/1.1 203 Non-Authoritative Information\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            };
            let _ = sock.write_all(answer.as_bytes()).await;
        }
    });
    url
}

#[tokio::test]
async fn follow_retries_server_errors_and_takes_any_2xx() {
    let requests = Arc::new(AtomicUsize::new(0));
    let url = flaky_server(requests.clone()).await;
    let child = follow(&url, &netkan_common::JobId::new().to_string());
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2024-01-15T10:30:02.123Z NOTICE made it\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("503"));
    assert_eq!(requests.load(Ordering::SeqCst), 3);
}
