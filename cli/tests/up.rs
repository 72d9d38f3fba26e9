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

fn stop(child: &mut Child) {
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
    let (mut up, banner) = start_up(data.path(), port);
    // web.bind is a free port (127.0.0.1:0) and web.base_url unset: links follow the port.
    let web_line = banner.iter().find(|l| l.contains("web:")).unwrap();
    assert!(
        web_line.contains("http://127.0.0.1:") && !web_line.contains(":8080/"),
        "{web_line}"
    );
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
    // The banner names the branch the clone is on: the one the hook and /gh/inflate take.
    let branch = git(&work, &["rev-parse", "--abbrev-ref", "HEAD"]);
    assert_eq!(branch.trim(), "main");
    assert!(
        banner
            .iter()
            .any(|l| l.contains("local NetKAN repository (branch main)")),
        "{banner:?}"
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
    stop(&mut up);
    assert!(
        redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .is_err(),
        "the embedded redis-server is stopped with netkan up"
    );

    let (mut up, _) = start_up(data.path(), port);
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
    stop(&mut up);
}

/// A `netkan up` that a failing test does not leave running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A job of the tree the web's job API shows, fetched with its descendants.
#[derive(Debug)]
struct JobNode {
    kind: String,
    state: String,
    last_notice: Option<String>,
    children: Vec<JobNode>,
}

async fn job_tree(client: &reqwest::Client, base: &str, id: &str) -> JobNode {
    let v: serde_json::Value = client
        .get(format!("{base}/api/v1/jobs/{id}?level=NOTICE"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut children = Vec::new();
    for c in v["children"].as_array().into_iter().flatten() {
        children.push(Box::pin(job_tree(client, base, c["jobId"].as_str().unwrap())).await);
    }
    JobNode {
        kind: v["jobType"].as_str().unwrap_or_default().to_owned(),
        state: v["state"].as_str().unwrap_or_default().to_owned(),
        last_notice: v["logs"]
            .as_array()
            .and_then(|l| l.last())
            .and_then(|l| l["message"].as_str())
            .map(str::to_owned),
        children,
    }
}

fn finished(node: &JobNode) -> bool {
    matches!(node.state.as_str(), "succeeded" | "failed" | "dead")
        && node.children.iter().all(finished)
}

#[tokio::test]
async fn a_newcomers_push_travels_push_inflate_index_mirror_with_netkan_up_alone() {
    let data = tempfile::tempdir().unwrap();
    let redis_port = netkan_common::redis_server::free_port();
    let web_port = netkan_common::redis_server::free_port();
    let base = format!("http://127.0.0.1:{web_port}");
    let start = |data: &std::path::Path| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netkan"))
            .args(["up", "--data-dir"])
            .arg(data)
            .env("NETKAN__REDIS__EMBEDDED_PORT", redis_port.to_string())
            .env("NETKAN__WEB__BIND", format!("127.0.0.1:{web_port}"))
            .env("NETKAN__WEB__BASE_URL", &base)
            .env_remove("REDIS_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start netkan up");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let last = line.contains("stop:");
            banner.push(line);
            if last {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        (KillOnDrop(child), banner)
    };
    let (mut up, banner) = start(data.path());
    let clone_line = banner
        .iter()
        .find(|l| l.contains("git clone "))
        .expect("netkan up says how to clone");
    let netkan_repo = clone_line.split("git clone ").nth(1).unwrap().trim();
    let work = data.path().join("my-clone");
    git(
        data.path(),
        &["clone", "-q", netkan_repo, work.to_str().unwrap()],
    );

    // The scheduler's passes (both are due at a first start-up) inflate every mod; were the
    // main one to read NetKAN after the push below, its own inflation of 1.1 could reach the
    // indexer first and the push's index job would find its bytes already committed. Let
    // them finish first, as a newcomer reading the banner would.
    let client = reqwest::Client::new();
    eventually(
        Duration::from_secs(90),
        "the start-up scheduler passes",
        || {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let url = format!("{base}/api/v1/jobs?kind=schedule&state=succeeded");
                let list: Vec<serde_json::Value> =
                    client.get(url).send().await.ok()?.json().await.ok()?;
                (list.len() >= 2).then_some(())
            }
        },
    )
    .await;

    // The newcomer changes the example mod and pushes, as its comment says.
    let file = work.join("NetKAN/ExampleMod.netkan");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("version: '1.0'"), "{text}");
    std::fs::write(&file, text.replace("version: '1.0'", "version: '1.1'")).unwrap();
    git(&work, &["commit", "-q", "-am", "Example Mod 1.1"]);
    let out = git(&work, &["push", "origin", "main"]);
    let push_id = out
        .lines()
        .find(|l| l.contains("push queued as"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("no job id in {out}"))
        .to_owned();
    assert!(out.contains(&format!("{base}/logs/{push_id}")), "{out}");

    // Its job tree, followed through the job API, ends push → inflate → index → mirror.
    let tree = eventually(
        Duration::from_secs(90),
        "the push's job tree to finish",
        || {
            let (client, base, id) = (client.clone(), base.clone(), push_id.clone());
            async move {
                let tree = job_tree(&client, &base, &id).await;
                (finished(&tree) && !tree.children.is_empty()).then_some(tree)
            }
        },
    )
    .await;
    let mut chain = vec![(tree.kind.clone(), tree.state.clone())];
    let mut node = &tree;
    while let Some(child) = node.children.first() {
        assert_eq!(node.children.len(), 1, "{node:?}");
        chain.push((child.kind.clone(), child.state.clone()));
        node = child;
    }
    let kinds: Vec<&str> = chain.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["push", "inflate", "index", "mirror"], "{tree:#?}");
    assert!(chain.iter().all(|(_, s)| s == "succeeded"), "{tree:#?}");
    let inflate = &tree.children[0];
    assert_eq!(
        inflate.last_notice.as_deref(),
        Some("inflated ExampleMod 1.1")
    );
    let index = &inflate.children[0];
    assert!(
        index
            .last_notice
            .as_deref()
            .is_some_and(|n| n.starts_with("committed ExampleMod-1.1.ckan")),
        "{index:?}"
    );

    // The .ckan is committed in the local CKAN-meta and the download mirrored.
    let ckanmeta = data.path().join("repos/ksp/CKAN-meta.git");
    let ckan = git(&ckanmeta, &["show", "main:ExampleMod/ExampleMod-1.1.ckan"]);
    let json: serde_json::Value = serde_json::from_str(&ckan).unwrap();
    assert_eq!(json["version"], "1.1");
    assert_eq!(json["ksp_version_min"], "1.8.0");
    assert_eq!(json["download_content_type"], "application/zip");
    assert!(json["download_hash"]["sha256"].is_string(), "{ckan}");
    let subjects = git(&ckanmeta, &["log", "--format=%s", "main"]);
    assert_eq!(
        subjects
            .lines()
            .filter(|s| *s == "NetKAN added mod - ExampleMod-1.1")
            .count(),
        1,
        "{subjects}"
    );
    assert!(data.path().join("mirror/ExampleMod-1.1").is_dir());

    // A clean stop, then a second start on the same data finds the same jobs and logs.
    stop(&mut up.0);
    let (mut up, _) = start(data.path());
    // A new client: the old one's pooled connections died with the first server.
    let again = job_tree(&reqwest::Client::new(), &base, &push_id).await;
    assert_eq!(again.state, "succeeded");
    assert_eq!(again.children.len(), 1);
    assert_eq!(
        again.children[0].last_notice.as_deref(),
        Some("inflated ExampleMod 1.1")
    );
    stop(&mut up.0);
}

/// `netkan up` as a terminal runs it: the leader of its own process group, so a Ctrl-C
/// (`kill -INT -<pgid>`) reaches every process in that group. Its stderr is collected.
fn start_group_leader(
    data: &std::path::Path,
    redis_port: u16,
) -> (
    KillOnDrop,
    Vec<String>,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(env!("CARGO_BIN_EXE_netkan"))
        .args(["up", "--data-dir"])
        .arg(data)
        .env("NETKAN__REDIS__EMBEDDED_PORT", redis_port.to_string())
        .env("NETKAN__WEB__BIND", "127.0.0.1:0")
        .env("NETKAN__WORKER__SHUTDOWN_TIMEOUT_SECS", "20")
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start netkan up");
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
    std::thread::spawn({
        let stderr = stderr.clone();
        move || {
            for line in err_lines.by_ref().map_while(Result::ok) {
                let mut all = stderr.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        }
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let last = line.contains("stop:");
        banner.push(line);
        if last {
            break;
        }
    }
    assert!(
        banner.first().is_some_and(|l| l == "netkan is up"),
        "{banner:?}\n{}",
        stderr.lock().unwrap()
    );
    std::thread::spawn(move || for _ in lines {});
    (KillOnDrop(child), banner, stderr)
}

fn netkan(args: &[&str], redis_url: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netkan"));
    cmd.args(args).env("RUST_LOG", "warn");
    match redis_url {
        Some(url) => cmd.env("REDIS_URL", url),
        None => cmd.env_remove("REDIS_URL"),
    };
    cmd.output().expect("run netkan")
}

#[tokio::test]
async fn ctrl_c_to_the_group_finishes_the_running_job_once_and_stops_redis_last() {
    let data = tempfile::tempdir().unwrap();
    let port = netkan_common::redis_server::free_port();
    let (mut up, _, stderr) = start_group_leader(data.path(), port);
    let url = format!("redis://127.0.0.1:{port}/");
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let mut job = NewJob::new("noop", QueueName::new("noop").unwrap());
    job.attributes.insert("sleep_ms".into(), "3000".into());
    jq.enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();
    eventually(Duration::from_secs(20), "the noop job to start", || {
        let (mut c, jq, id) = (conn.clone(), jq.clone(), job.id);
        async move {
            jq.job(&mut c, &id)
                .await
                .unwrap()
                .filter(|r| r.state == JobState::Running)
        }
    })
    .await;
    drop(conn);

    // Ctrl-C in a terminal: SIGINT to every process of the foreground group.
    let pgid = up.0.id();
    let status = Command::new("kill")
        .args(["-s", "INT", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    assert!(status.success());
    // shutdown_timeout_secs (20) + 5 s.
    let exit = eventually(Duration::from_secs(25), "netkan up to exit", || {
        let exit = up.0.try_wait().unwrap();
        async move { exit }
    })
    .await;
    let log = stderr.lock().unwrap().clone();
    assert!(exit.success(), "netkan up exited with {exit}:\n{log}");
    assert!(!log.contains("Connection refused"), "{log}");
    // Start-up may warn about settings (an unset webhook secret); stopping must not.
    let stopping = log
        .split_once("shutdown requested")
        .map(|(_, after)| after)
        .unwrap_or_else(|| panic!("no shutdown logged:\n{log}"));
    assert!(
        !stopping.contains("WARN") && !stopping.contains("ERROR"),
        "{log}"
    );
    assert!(
        !log.contains('\x1b'),
        "colour codes in a log that is not a terminal:\n{log}"
    );
    assert!(log.contains("embedded redis-server stopped"), "{log}");

    // Redis stopped with netkan up; its data, served again, says what happened.
    let mut redis = netkan_common::redis_server::RedisServer::start(
        &netkan_common::redis_server::RedisServerOptions {
            bin: std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into()),
            dir: data.path().join("redis"),
            port,
            persistent: true,
        },
    )
    .expect("the embedded Redis's data directory serves again");
    let out = netkan(&["workers", "--json"], Some(&url));
    assert!(out.status.success(), "{out:?}");
    let workers: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(workers.is_empty(), "a ghost worker: {workers:?}");
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let rec = jq.job(&mut conn, &job.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Succeeded, "{rec:?}");
    assert_eq!(rec.attempts, 1, "{rec:?}");
    let lines = jq
        .logs(&mut conn, &job.id, &Default::default())
        .await
        .unwrap();
    let runs = lines
        .iter()
        .filter(|l| l.message.starts_with("sleeping"))
        .count();
    assert_eq!(runs, 1, "{lines:?}");
    drop(conn);
    redis.stop();
}

#[tokio::test]
async fn a_second_netkan_up_on_the_same_data_directory_is_refused_naming_the_first() {
    let data = tempfile::tempdir().unwrap();
    let port = netkan_common::redis_server::free_port();
    let (mut first, banner, _) = start_group_leader(data.path(), port);
    let web = banner
        .iter()
        .find_map(|l| l.strip_prefix("  web:    "))
        .and_then(|l| l.strip_suffix("/queues"))
        .expect("the banner names the web front end")
        .to_owned();
    let hook = data.path().join("repos/ksp/NetKAN.git/hooks/post-receive");
    let hook_before = std::fs::read_to_string(&hook).unwrap();

    // Another web port, the same data directory.
    let second = Command::new(env!("CARGO_BIN_EXE_netkan"))
        .args(["up", "--data-dir"])
        .arg(data.path())
        .env("NETKAN__REDIS__EMBEDDED_PORT", port.to_string())
        .env("NETKAN__WEB__BIND", "127.0.0.1:0")
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{second:?}");
    assert!(
        text.contains(&format!("pid {}", first.0.id())) && text.contains(&web),
        "{text}"
    );
    assert!(!String::from_utf8_lossy(&second.stdout).contains("netkan is up"));

    // Nor may a hook install take over the repositories the running instance manages.
    let repo = data.path().join("repos/ksp/NetKAN.git");
    let out = netkan(&["hook", "install", repo.to_str().unwrap()], None);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(text.contains(&format!("pid {}", first.0.id())), "{text}");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), hook_before);

    stop(&mut first.0);
    // Once it has stopped, the data directory is free again.
    let (mut again, _, _) = start_group_leader(data.path(), port);
    stop(&mut again.0);
}
