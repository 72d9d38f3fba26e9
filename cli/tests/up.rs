//! `netkan up` as a process: embedded Redis, workers, clean stop, data kept across restarts.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use netkan_common::testing::eventually;
use netkan_common::{JobQueue, JobSettings, JobState, Keys, NewJob, QueueName};

fn start_up(data: &std::path::Path, port: u16) -> (Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netkan"))
        .args(["up", "--data-dir"])
        .arg(data)
        .env("NETKAN__REDIS__EMBEDDED_PORT", port.to_string())
        .env("NETKAN__WEB__BIND", "127.0.0.1:0")
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
    let mut banner = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let last = line.contains("stop:");
        banner.push(line);
        if last {
            break;
        }
    }
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, banner)
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Newcomer")
        .env("GIT_AUTHOR_EMAIL", "new@example.com")
        .env("GIT_COMMITTER_NAME", "Newcomer")
        .env("GIT_COMMITTER_EMAIL", "new@example.com")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "git {args:?}: {text}");
    text
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
    let (up, banner) = start_up(data.path(), port);
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

    // A newcomer clones the local NetKAN repository and pushes a .netkan.
    let clone_line = banner
        .iter()
        .find(|l| l.contains("git clone "))
        .expect("netkan up says how to clone");
    let netkan_repo = clone_line
        .split("git clone ")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    let work = data.path().join("my-clone");
    git(
        data.path(),
        &["clone", "-q", &netkan_repo, work.to_str().unwrap()],
    );
    // The first run seeded the example mod, and its archive is served by the web.
    assert!(work.join("NetKAN/ExampleMod.netkan").is_file());
    assert!(data.path().join("files/ExampleMod-1.0.zip").is_file());
    std::fs::write(
        work.join("NetKAN/Astrogator.netkan"),
        "identifier: Astrogator\n$kref: '#/ckan/spacedock/1'\n",
    )
    .unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "my first mod"]);
    let out = git(&work, &["push", "-q", "origin", "main"]);
    let push_id: netkan_common::JobId = out
        .lines()
        .find(|l| l.contains("push queued as"))
        .and_then(|l| l.split_whitespace().find_map(|w| w.parse().ok()))
        .unwrap_or_else(|| panic!("no job id in {out}"));
    let push = eventually(Duration::from_secs(30), "the push job to succeed", || {
        let mut c = conn.clone();
        let jq = jq.clone();
        async move {
            jq.job(&mut c, &push_id)
                .await
                .unwrap()
                .filter(|r| r.state == JobState::Succeeded)
        }
    })
    .await;
    assert_eq!(push.children.len(), 1, "one inflation queued");
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

    let (up, _) = start_up(data.path(), port);
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
