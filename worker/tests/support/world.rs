//! A CKAN-meta bare repository, a private Redis, a fake GitHub and workers with the `index`
//! (or other) roles, in-process or as real `netkan-worker` processes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use netkan_common::config::{GameSettings, Secret, Settings};
use netkan_common::testing::{TestRedis, eventually};
use netkan_common::{JobId, JobQueue, JobRecord, NewJob, QueueName};
use tokio_util::sync::CancellationToken;

use super::github::FakeGithub;

/// Runs `git` in `dir`, panicking with its stderr on failure; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Someone")
        .env("GIT_AUTHOR_EMAIL", "someone@example.com")
        .env("GIT_COMMITTER_NAME", "Someone")
        .env("GIT_COMMITTER_EMAIL", "someone@example.com")
        .output()
        .expect("git is installed");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A bare repository `<root>/<name>.git` on `main` whose one commit ("Test Data") holds
/// `files`; every update of its refs is logged (to count pushes).
pub fn bare_repo(root: &Path, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let src = root.join(format!("{name}-src"));
    git(root, &["init", "-q", "-b", "main", src.to_str().unwrap()]);
    for (path, bytes) in files {
        let p = src.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    git(&src, &["add", "-A"]);
    git(&src, &["commit", "-q", "--allow-empty", "-m", "Test Data"]);
    let bare = root.join(format!("{name}.git"));
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            src.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    log_ref_updates(&bare);
    bare
}

/// Turns on the reflog of a bare repository, so each push leaves one entry.
pub fn log_ref_updates(bare: &Path) {
    git(bare, &["config", "core.logAllRefUpdates", "always"]);
}

/// Pushes that moved `branch` of a bare repository (its reflog; see [`log_ref_updates`]).
pub fn pushes(bare: &Path, branch: &str) -> usize {
    let path = bare.join("logs/refs/heads").join(branch);
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Subjects of `branch`'s commits, newest first.
pub fn subjects(bare: &Path, branch: &str) -> Vec<String> {
    git(bare, &["log", "--format=%s", branch])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The settings of a world: its Redis, its data directory, CKAN-meta, the fake GitHub.
pub fn settings(redis: &TestRedis, data_dir: &Path, ckanmeta: &Path, gh: &FakeGithub) -> Settings {
    let mut s = Settings {
        data_dir: data_dir.to_owned(),
        ..Settings::default()
    };
    s.redis.url = Some(Secret::new(redis.url()));
    s.redis.pool_size = 4;
    s.worker.roles = vec!["index".into()];
    s.jobs.lease_ms = 1500;
    s.jobs.maintenance_interval_ms = 200;
    s.jobs.backoff_base_ms = 100;
    s.web.base_url = "http://netkan.test".into();
    s.hosts.github_api = gh.url.clone();
    s.hosts.github_token = Secret::new("ghp_test_token");
    s.notify.webhook_url = Secret::new(gh.notify_url());
    s.games.insert(
        "ksp".into(),
        GameSettings {
            ckanmeta: Some(Secret::new(ckanmeta.display().to_string())),
            ckanmeta_repo: Some("KSP-CKAN/CKAN-meta".into()),
            ..GameSettings::default()
        },
    );
    s
}

/// A worker running in this process.
pub struct InProcess {
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<anyhow::Result<netkan_worker::RunReport>>,
}

impl InProcess {
    /// Starts `netkan_worker::run` with `settings`.
    pub fn start(settings: &Settings) -> Self {
        let stop = CancellationToken::new();
        let (s, token) = (settings.clone(), stop.clone());
        let handle = tokio::spawn(async move {
            let url = s.redis_url();
            netkan_worker::run(&s, &url, token).await
        });
        Self { stop, handle }
    }

    /// Stops it (running jobs finish or are handed back).
    pub async fn stop(self) {
        self.stop.cancel();
        self.handle.await.unwrap().unwrap();
    }
}

/// A `netkan-worker run` process with `settings` written to a config file.
pub fn spawn_worker(settings: &Settings, config: &Path, env: &[(&str, &str)]) -> Child {
    std::fs::write(config, toml::to_string(settings).unwrap()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netkan-worker"));
    cmd.arg("--config")
        .arg(config)
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// An outbound message as the inflator sends it: `attrs` over the defaults of a successful,
/// unstaged KSP result for `DogeCoinFlag-v1.02.ckan`.
pub fn outbound(body: &str, attrs: &[(&str, &str)]) -> NewJob {
    let mut job = NewJob::new("index", QueueName::outbound())
        .with_body(body)
        .with_attr("ModIdentifier", "DogeCoinFlag")
        .with_attr("Staged", "False")
        .with_attr("Success", "True")
        .with_attr("CheckTime", "2019-06-24T19:06:14")
        .with_attr("FileName", "./DogeCoinFlag-v1.02.ckan")
        .with_attr("GameId", "KSP");
    for (k, v) in attrs {
        if v.is_empty() {
            job.attributes.remove(*k);
        } else {
            job.attributes.insert((*k).to_owned(), (*v).to_owned());
        }
    }
    job
}

/// Enqueues jobs; returns their ids.
pub async fn enqueue(redis: &TestRedis, jq: &JobQueue, jobs: &[NewJob]) -> Vec<JobId> {
    let mut c = redis.conn().await;
    jq.enqueue(&mut c, jobs).await.unwrap()
}

/// Waits for a job to finish; returns its record.
pub async fn finished(redis: &TestRedis, jq: &JobQueue, id: JobId, within: Duration) -> JobRecord {
    let conn = redis.conn().await;
    eventually(within, &format!("job {id} to finish"), || {
        let (mut c, jq) = (conn.clone(), jq.clone());
        async move {
            jq.job(&mut c, &id)
                .await
                .unwrap()
                .filter(|r| r.state.is_finished())
        }
    })
    .await
}

/// A job's log lines.
pub async fn log(redis: &TestRedis, jq: &JobQueue, id: JobId) -> Vec<String> {
    let mut c = redis.conn().await;
    jq.logs(&mut c, &id, &netkan_common::LogQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|l| format!("{} {}", l.level.as_str(), l.message))
        .collect()
}
