//! Secrets never leak (issue 9): `netkan up` runs as a process against a Redis that requires
//! a password, with a GitHub token, a GitLab token, archive.org keys, a GitHub webhook
//! secret, a webhook token, an admin token, a notification webhook URL and a password in a
//! game's repository URLs configured. A pipeline runs (a git push through the hook, the
//! push, inflate, index and mirror jobs, every kind of webhook, dashboard actions, refused
//! requests), then every place a secret could surface is read and searched for each of them:
//! the process's stdout and stderr at debug level, the pusher's output, every key in Redis
//! (every job record and log), every job's page and API answer, the dashboard, status,
//! metrics and health pages, and the operator commands' output.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use netkan_common::testing::{TestRedis, eventually};
use netkan_common::{JobId, JobQueue, JobSettings, Keys};
use netkan_inflator::testing::archive::ZipBuilder;
use netkan_inflator::testing::upstream::{Reply, Upstream};
use serde_json::json;

const GITHUB_TOKEN: &str = "ghp_SecretGithubToken0123456789abcdef";
const ACCESS_KEY: &str = "ArchiveAccessKeySecret01";
const SECRET_KEY: &str = "ArchiveSecretKeySecret23";
const ADMIN_TOKEN: &str = "AdminTokenSecret4567";
const GITHUB_SECRET: &str = "GithubWebhookSecret89ab";
const WEBHOOK_TOKEN: &str = "WebhookTokenSecretcdef";
const REDIS_PASSWORD: &str = "RedisPasswordSecret0123";
const GITLAB_TOKEN: &str = "glpat-SecretGitlabToken4567";
/// The token part of the notification webhook's URL (as Discord's and Slack's carry one).
const NOTIFY_TOKEN: &str = "NotifyWebhookTokenSecret89";
/// The password in the second game's repository URLs.
const REPO_PASSWORD: &str = "GameRepoPasswordSecret01";

const SECRETS: [(&str, &str); 10] = [
    ("hosts.github_token", GITHUB_TOKEN),
    ("mirror.access_key", ACCESS_KEY),
    ("mirror.secret_key", SECRET_KEY),
    ("web.admin_token", ADMIN_TOKEN),
    ("web.github_secret", GITHUB_SECRET),
    ("web.webhook_token", WEBHOOK_TOKEN),
    ("the Redis password", REDIS_PASSWORD),
    ("hosts.gitlab_token", GITLAB_TOKEN),
    ("notify.webhook_url", NOTIFY_TOKEN),
    ("the password in games.ksp2 repository URLs", REPO_PASSWORD),
];

/// Everything read, by where it was read.
#[derive(Default)]
struct Seen(Vec<(String, String)>);

impl Seen {
    fn add(&mut self, place: impl Into<String>, text: impl Into<String>) {
        self.0.push((place.into(), text.into()));
    }

    /// Every (place, secret name, context) where a secret appears.
    fn leaks(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (place, text) in &self.0 {
            for (name, secret) in SECRETS {
                if let Some(at) = text.find(secret) {
                    let from = text[..at]
                        .char_indices()
                        .rev()
                        .nth(80)
                        .map_or(0, |(i, _)| i);
                    let to = (at + secret.len() + 80).min(text.len());
                    let to = (to..=text.len())
                        .find(|i| text.is_char_boundary(*i))
                        .unwrap();
                    out.push(format!("{name} in {place}: …{}…", &text[from..to]));
                }
            }
        }
        out
    }
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Pusher")
        .env("GIT_AUTHOR_EMAIL", "pusher@example.com")
        .env("GIT_COMMITTER_NAME", "Pusher")
        .env("GIT_COMMITTER_EMAIL", "pusher@example.com")
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

/// Collects a child's stream line by line, until it closes.
fn collect(
    stream: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            into.lock().unwrap().push(line);
        }
    })
}

fn sign(body: &str) -> String {
    let mac = Hmac::<sha2::Sha256>::new_from_slice(GITHUB_SECRET.as_bytes())
        .unwrap()
        .chain_update(body.as_bytes())
        .finalize()
        .into_bytes();
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Every value in Redis, as text, one entry per key.
async fn dump_redis(conn: &mut redis::aio::MultiplexedConnection) -> Vec<(String, String)> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(conn).await.unwrap();
    let mut out = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(conn)
            .await
            .unwrap();
        let value: redis::Value = match kind.as_str() {
            "string" => redis::cmd("GET").arg(&key).query_async(conn).await.unwrap(),
            "hash" => redis::cmd("HGETALL")
                .arg(&key)
                .query_async(conn)
                .await
                .unwrap(),
            "list" => redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query_async(conn)
                .await
                .unwrap(),
            "set" => redis::cmd("SMEMBERS")
                .arg(&key)
                .query_async(conn)
                .await
                .unwrap(),
            "zset" => redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query_async(conn)
                .await
                .unwrap(),
            "stream" => redis::cmd("XRANGE")
                .arg(&key)
                .arg("-")
                .arg("+")
                .query_async(conn)
                .await
                .unwrap(),
            other => panic!("unexpected type {other} of {key}"),
        };
        out.push((
            format!("redis key {key}"),
            format!("{key} {value:?} {}", text_of(&value)),
        ));
    }
    out
}

/// The bulk strings of a reply, joined (Debug of bytes would hide a secret).
fn text_of(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().map(text_of).collect::<Vec<_>>().join("\n")
        }
        redis::Value::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| format!("{} {}", text_of(k), text_of(v)))
            .collect::<Vec<_>>()
            .join("\n"),
        other => format!("{other:?}"),
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_configured_secret_appears_in_any_log_page_or_api_answer() {
    let redis = TestRedis::start_with_password(REDIS_PASSWORD);
    {
        // The password is really required.
        let open = format!("redis://127.0.0.1:{}/", redis.port());
        let mut conn = redis::Client::open(open.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let refused: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
        assert!(refused.is_err(), "redis answers without the password");
    }

    // GitHub (for a mod whose releases need the token) and archive.org (which refuses the
    // upload, so the mirror job retries with its error in its log), all local.
    let up = Upstream::start().await;
    up.github_repo("awesome", "AwesomeMod", json!({"description": "Awesome"}));
    let download = "https://github.com/awesome/AwesomeMod/releases/download/v1.0/AwesomeMod.zip";
    up.github_releases(
        "awesome",
        "AwesomeMod",
        vec![
            json!({"tag_name": "v1.0", "published_at": "2026-01-02T03:04:05Z",
            "author": {"login": "awesome", "type": "User"},
            "assets": [{"name": "AwesomeMod.zip", "browser_download_url": download,
                        "updated_at": "2026-01-02T03:04:05Z"}]}),
        ],
    );
    up.file(
        download,
        ZipBuilder::new()
            .file("GameData/AwesomeMod/AwesomeMod.cfg", "PART {}")
            .build(),
    );
    // A GitLab mod whose project does not exist: its inflation fails (asking GitLab with the
    // token), and the indexer sends a notice of the new error to the notification webhook.
    let notify_url = format!("https://discord.example/api/webhooks/1/{NOTIFY_TOKEN}");
    up.on(&notify_url, Reply::status_only(204));
    let hosts = up.settings();

    let data = tempfile::tempdir().unwrap();
    let web_port = netkan_common::redis_server::free_port();
    let base = format!("http://127.0.0.1:{web_port}");
    let config = data.path().join("netkan.toml");
    std::fs::write(
        &config,
        format!(
            r#"data_dir = {data:?}
[redis]
url = {redis_url:?}
[web]
bind = "127.0.0.1:{web_port}"
base_url = {base:?}
github_secret = {GITHUB_SECRET:?}
webhook_token = {WEBHOOK_TOKEN:?}
admin_token = {ADMIN_TOKEN:?}
[hosts]
github_token = {GITHUB_TOKEN:?}
gitlab_token = {GITLAB_TOKEN:?}
gitlab_api = {gitlab_api:?}
github_api = {github_api:?}
github = {github:?}
archive_org = {archive_org:?}
[mirror]
target = "archive.org"
s3_endpoint = {s3:?}
access_key = {ACCESS_KEY:?}
secret_key = {SECRET_KEY:?}
[notify]
webhook_url = {notify:?}
[games.ksp]
[games.ksp2]
netkan = "https://netkan-bot:{REPO_PASSWORD}@127.0.0.1:9/NetKAN.git"
ckanmeta = "https://netkan-bot:{REPO_PASSWORD}@127.0.0.1:9/CKAN-meta.git"
[jobs]
backoff_base_ms = 200
backoff_max_ms = 1000
"#,
            data = data.path().join("data").display().to_string(),
            redis_url = redis.url(),
            github_api = hosts.github_api,
            gitlab_api = hosts.gitlab_api,
            notify = up.local_url(&notify_url),
            github = hosts.github,
            archive_org = hosts.archive_org,
            s3 = up.local_url("https://s3.us.archive.org"),
        ),
    )
    .unwrap();

    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_netkan"))
        .arg("--config")
        .arg(&config)
        .arg("up")
        .env_remove("REDIS_URL")
        // Every crate at debug, the libraries' HTTP and TLS logs among them.
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netkan up");
    let readers = [
        collect(child.stdout.take().unwrap(), stdout.clone()),
        collect(child.stderr.take().unwrap(), stderr.clone()),
    ];
    let banner = eventually(Duration::from_secs(60), "netkan up to be up", || {
        let lines = stdout.lock().unwrap().clone();
        async move { lines.iter().any(|l| l.contains("stop:")).then_some(lines) }
    })
    .await;
    let mut seen = Seen::default();

    // A push through the hook.
    let netkan_repo = banner
        .iter()
        .find_map(|l| l.split("git clone ").nth(1))
        .expect("netkan up says how to clone")
        .trim()
        .to_owned();
    let work = data.path().join("clone");
    git(
        data.path(),
        &["clone", "-q", &netkan_repo, work.to_str().unwrap()],
    );
    std::fs::write(
        work.join("NetKAN/AwesomeMod.netkan"),
        "identifier: AwesomeMod\n$kref: '#/ckan/github/awesome/AwesomeMod'\nlicense: MIT\nksp_version: 1.12\ntags:\n  - parts\n",
    )
    .unwrap();
    std::fs::write(
        work.join("NetKAN/GoneMod.netkan"),
        "identifier: GoneMod\n$kref: '#/ckan/gitlab/awesome/GoneMod'\nlicense: MIT\nksp_version: 1.12\n",
    )
    .unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "add two mods"]);
    let pushed = git(&work, &["push", "origin", "main"]);
    seen.add("the pusher's output", pushed.clone());
    let push_id: JobId = pushed
        .lines()
        .find(|l| l.contains("push queued as"))
        .and_then(|l| l.split_whitespace().find_map(|w| w.parse().ok()))
        .unwrap_or_else(|| panic!("no job id in {pushed}"));

    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let mut conn = redis.conn().await;
    // The pipeline: push → inflate → index → mirror, whose first attempt failed at archive.org.
    eventually(
        Duration::from_secs(120),
        "the mirror job's first attempt",
        || {
            let mut c = conn.clone();
            let jq = jq.clone();
            async move {
                // Two mods pushed: AwesomeMod's inflation leads to a mirror job, GoneMod's
                // failed one does not.
                let push = jq.job(&mut c, &push_id).await.unwrap()?;
                for inflate in &push.children {
                    let Some(inflate) = jq.job(&mut c, inflate).await.unwrap() else {
                        continue;
                    };
                    for index in &inflate.children {
                        let Some(index) = jq.job(&mut c, index).await.unwrap() else {
                            continue;
                        };
                        for mirror in &index.children {
                            if let Some(m) = jq.job(&mut c, mirror).await.unwrap()
                                && m.attempts >= 1
                                && m.last_error.is_some()
                            {
                                return Some(());
                            }
                        }
                    }
                }
                None
            }
        },
    )
    .await;
    let gh = up
        .requests()
        .into_iter()
        .find(|r| r.url.contains("/repos/awesome/AwesomeMod"))
        .expect("the inflation asked GitHub");
    assert_eq!(
        gh.header("authorization"),
        Some(format!("token {GITHUB_TOKEN}").as_str())
    );
    let keys = format!("LOW {ACCESS_KEY}:{SECRET_KEY}");
    assert!(
        up.requests()
            .iter()
            .any(|r| r.url.contains("archive.org")
                && r.header("authorization") == Some(keys.as_str())),
        "the mirror job used its keys: {:?}",
        up.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.url))
            .collect::<Vec<_>>()
    );

    // Every kind of webhook, accepted and refused, and the dashboard's actions.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // `netkan up`'s repositories are on `main`, the branch its web takes pushes from.
    let push_event =
        r#"{"ref": "refs/heads/main", "commits": [{"modified": ["NetKAN/AwesomeMod.netkan"]}]}"#;
    let release = r#"{"action": "published"}"#;
    let mut answers = Vec::new();
    for (path, body, signature) in [
        ("/gh/inflate", push_event, sign(push_event)),
        ("/gh/inflate", push_event, sign(push_event)),
        ("/gh/release?identifier=AwesomeMod", release, sign(release)),
        ("/gh/mirror", push_event, "sha256=00".to_owned()),
    ] {
        let res = client
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", "d1")
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        answers.push((format!("POST {path}"), res));
    }
    let token_query = format!("?token={WEBHOOK_TOKEN}");
    for (path, token) in [("/inflate", WEBHOOK_TOKEN), ("/inflate", "wrong-token")] {
        let res = client
            .post(format!("{base}{path}"))
            .header("x-netkan-token", token)
            .body(r#"{"identifiers": ["AwesomeMod"]}"#)
            .send()
            .await
            .unwrap();
        answers.push((format!("POST {path} ({token})"), res));
    }
    let res = client
        .post(format!("{base}/sd/inflate{token_query}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("mod_id=1&event_type=update")
        .send()
        .await
        .unwrap();
    answers.push(("POST /sd/inflate".into(), res));
    for token in [ADMIN_TOKEN, "wrong-admin-token"] {
        let res = client
            .post(format!("{base}/queues/inflate"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("identifiers=AwesomeMod&token={token}"))
            .send()
            .await
            .unwrap();
        answers.push(("POST /queues/inflate".into(), res));
    }
    let mut statuses = Vec::new();
    for (what, res) in answers {
        statuses.push((what.clone(), res.status().as_u16()));
        let headers = format!("{:?}", res.headers());
        seen.add(
            format!("{what} answer"),
            format!("{headers}\n{}", res.text().await.unwrap()),
        );
    }
    let codes: Vec<u16> = statuses.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        codes,
        [204, 409, 204, 400, 204, 403, 204, 303, 403],
        "{statuses:?}"
    );

    // Let the requests those caused run to their end (the mirror job to its last attempt),
    // then read everything.
    let ids: Vec<String> = eventually(Duration::from_secs(120), "every job to have ended", || {
        let (mut c, jq) = (conn.clone(), jq.clone());
        async move {
            let ids: Vec<String> = redis::cmd("KEYS")
                .arg("netkan:job:*")
                .query_async::<Vec<String>>(&mut c)
                .await
                .unwrap()
                .into_iter()
                .filter_map(|k| k.strip_prefix("netkan:job:").map(str::to_owned))
                .filter(|id| id.len() == 36)
                .collect();
            for id in &ids {
                let rec = jq.job(&mut c, &id.parse().unwrap()).await.unwrap()?;
                if !rec.state.is_finished() {
                    return None;
                }
            }
            (ids.len() >= 8).then_some(ids)
        }
    })
    .await;
    let gitlab = up
        .requests()
        .into_iter()
        .find(|r| r.url.contains("GoneMod"))
        .expect("the inflation asked GitLab");
    assert_eq!(gitlab.header("private-token"), Some(GITLAB_TOKEN));
    eventually(
        Duration::from_secs(60),
        "the notice of GoneMod's error",
        || {
            let sent = up.count(&notify_url);
            async move { (sent > 0).then_some(()) }
        },
    )
    .await;
    for id in &ids {
        for path in [
            format!("/logs/{id}"),
            format!("/api/v1/jobs/{id}?limit=10000"),
        ] {
            let text = client
                .get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            seen.add(format!("GET {path}"), text);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_netkan"))
            .arg("--config")
            .arg(&config)
            .args(["jobs", "show", id])
            .output()
            .unwrap();
        seen.add(
            format!("netkan jobs show {id}"),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        );
    }
    for path in [
        "/queues",
        "/status",
        "/status/rows.json",
        "/status/netkan.json",
        "/api/v1/jobs?limit=500",
        "/api/v1/jobs?state=dead",
        "/metrics",
        "/healthz",
        "/no/such/page",
    ] {
        let text = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        seen.add(format!("GET {path}"), text);
    }
    for args in [
        &["queues"][..],
        &["workers"],
        &["dead", "list"],
        &["status", "show", "AwesomeMod"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_netkan"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        seen.add(
            format!("netkan {}", args.join(" ")),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        );
    }
    for (place, text) in dump_redis(&mut conn).await {
        seen.add(place, text);
    }
    stop(&mut child);
    for reader in readers {
        reader.join().unwrap();
    }
    let out = stdout.lock().unwrap().join("\n");
    let err = stderr.lock().unwrap().join("\n");
    assert!(err.contains("DEBUG"), "the process logged at debug level");
    seen.add("netkan up's stdout", out);
    seen.add("netkan up's stderr", err);

    // The search finds each secret where it is: in the configuration file.
    let mut control = Seen::default();
    control.add(
        "the configuration",
        std::fs::read_to_string(&config).unwrap(),
    );
    assert_eq!(
        control.leaks().len(),
        SECRETS.len(),
        "{:?}",
        control.leaks()
    );

    let leaks = seen.leaks();
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    eprintln!(
        "searched {} texts ({} bytes) for {} secrets",
        seen.0.len(),
        seen.0.iter().map(|(_, t)| t.len()).sum::<usize>(),
        SECRETS.len()
    );
}
