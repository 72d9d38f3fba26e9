//! git push → hook → Redis → push worker → inflation jobs: real bare repositories, the real
//! `git` and `netkan-hook` binaries, a real redis-server, the push worker in-process.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use netkan_common::config::{GameSettings, Secret, Settings};
use netkan_common::testing::{TestRedis, eventually};
use netkan_common::{JobId, JobQueue, JobRecord, JobState, Lane, QueueName};
use tokio_util::sync::CancellationToken;

/// The hook binary, built by `cargo test --workspace` beside this test's own binary.
fn hook_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("netkan-hook");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace`",
        bin.display()
    );
    bin
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Pusher")
        .env("GIT_AUTHOR_EMAIL", "pusher@example.com")
        .env("GIT_COMMITTER_NAME", "Pusher")
        .env("GIT_COMMITTER_EMAIL", "pusher@example.com")
        .output()
        .expect("git is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "git {args:?} failed: {text}");
    text
}

struct World {
    dir: tempfile::TempDir,
    redis: TestRedis,
    settings: Settings,
    clone: PathBuf,
    stop: CancellationToken,
    worker: tokio::task::JoinHandle<anyhow::Result<netkan_worker::RunReport>>,
}

impl World {
    async fn new() -> Self {
        Self::with_follow(false).await
    }

    async fn with_follow(follow: bool) -> Self {
        let redis = TestRedis::start();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let bare = root.join("NetKAN.git");
        let meta = root.join("CKAN-meta.git");
        git(
            root,
            &["init", "--bare", "-q", "-b", "main", bare.to_str().unwrap()],
        );
        // CKAN-meta with two releases of Astrogator, one a prerelease.
        let meta_src = root.join("meta-src");
        git(
            root,
            &["init", "-q", "-b", "main", meta_src.to_str().unwrap()],
        );
        std::fs::create_dir_all(meta_src.join("Astrogator")).unwrap();
        for (v, status) in [("v1.0.0", "stable"), ("v1.1.0-rc1", "testing")] {
            std::fs::write(
                meta_src.join(format!("Astrogator/Astrogator-{v}.ckan")),
                format!("{{\"spec_version\": 1, \"identifier\": \"Astrogator\", \"version\": \"{v}\", \"release_status\": \"{status}\"}}\n"),
            )
            .unwrap();
        }
        git(&meta_src, &["add", "-A"]);
        git(&meta_src, &["commit", "-q", "-m", "meta"]);
        git(
            root,
            &[
                "clone",
                "-q",
                "--bare",
                meta_src.to_str().unwrap(),
                meta.to_str().unwrap(),
            ],
        );

        let mut settings = Settings {
            data_dir: root.join("data"),
            ..Settings::default()
        };
        settings.redis.url = Some(Secret::new(redis.url()));
        settings.web.base_url = "http://netkan.test".into();
        settings.worker.roles = vec!["push".into()];
        settings.games.insert(
            "ksp".into(),
            GameSettings {
                netkan: Some(Secret::new(bare.display().to_string())),
                ckanmeta: Some(Secret::new(meta.display().to_string())),
                ..GameSettings::default()
            },
        );
        let config = root.join("netkan.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\n[redis]\nurl = \"{}\"\n[web]\nbase_url = \"http://netkan.test\"\n[hooks]\nfollow = {follow}\nfollow_timeout_secs = 10\n",
                settings.data_dir.display(),
                redis.url()
            ),
        )
        .unwrap();
        let out = Command::new(hook_binary())
            .arg("--config")
            .arg(&config)
            .arg("install")
            .arg(&bare)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let clone = root.join("clone");
        git(
            root,
            &[
                "clone",
                "-q",
                bare.to_str().unwrap(),
                clone.to_str().unwrap(),
            ],
        );
        git(&clone, &["checkout", "-q", "-b", "main"]);
        let stop = CancellationToken::new();
        let worker = {
            let settings = settings.clone();
            let url = redis.url();
            let stop = stop.clone();
            tokio::spawn(async move { netkan_worker::run(&settings, &url, stop).await })
        };
        Self {
            dir,
            redis,
            settings,
            clone,
            stop,
            worker,
        }
    }

    fn jq(&self) -> JobQueue {
        self.settings.job_queue()
    }

    fn write(&self, files: &[(&str, &str)]) {
        for (path, text) in files {
            let p = self.clone.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }

    fn commit_and_push(&self, msg: &str, push_args: &[&str]) -> String {
        git(&self.clone, &["add", "-A"]);
        git(&self.clone, &["commit", "-q", "-m", msg]);
        let mut args = vec!["push", "-q", "origin"];
        args.extend_from_slice(push_args);
        git(&self.clone, &args)
    }

    async fn finished(&self, id: JobId) -> JobRecord {
        let jq = self.jq();
        let mut conn = self.redis.conn().await;
        eventually(
            Duration::from_secs(60),
            &format!("push job {id} to finish"),
            || {
                let mut c = conn.clone();
                let jq = jq.clone();
                async move {
                    jq.job(&mut c, &id)
                        .await
                        .unwrap()
                        .filter(|r| r.state.is_finished())
                }
            },
        )
        .await;
        jq.job(&mut conn, &id).await.unwrap().unwrap()
    }

    async fn children(&self, rec: &JobRecord) -> Vec<JobRecord> {
        let mut conn = self.redis.conn().await;
        let mut out = Vec::new();
        for c in &rec.children {
            out.push(self.jq().job(&mut conn, c).await.unwrap().unwrap());
        }
        out
    }

    async fn log(&self, id: JobId) -> Vec<String> {
        let mut conn = self.redis.conn().await;
        self.jq()
            .logs(&mut conn, &id, &Default::default())
            .await
            .unwrap()
            .into_iter()
            .map(|l| format!("{} {}", l.level, l.message))
            .collect()
    }

    async fn shutdown(self) {
        self.stop.cancel();
        self.worker.await.unwrap().unwrap();
        drop(self.dir);
    }
}

fn printed_id(output: &str) -> JobId {
    let line = output
        .lines()
        .find(|l| l.contains("push queued as"))
        .unwrap_or_else(|| panic!("no job id in {output}"));
    line.split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap()
}

const ASTROGATOR: &str =
    "identifier: Astrogator\n$kref: '#/ckan/github/HebaruSan/Astrogator'\nlicense: GPL-3.0\n";
const DOGE: &str = "{\n    \"identifier\": \"DogeCoinFlag\",\n    \"$kref\": \"#/ckan/spacedock/269\",\n    \"license\": \"CC-BY\"\n}\n";

#[tokio::test]
async fn a_push_adding_two_netkans_queues_two_inflations_under_the_push_job() {
    let w = World::new().await;
    w.write(&[
        ("NetKAN/Astrogator.netkan", ASTROGATOR),
        ("NetKAN/DogeCoinFlag.netkan", DOGE),
    ]);
    let out = w.commit_and_push("add two mods", &["main"]);
    let id = printed_id(&out);
    assert!(
        out.contains(&format!(
            "remote: netkan: log at http://netkan.test/logs/{id}"
        )),
        "{out}"
    );
    let push = w.finished(id).await;
    assert_eq!(push.state, JobState::Succeeded, "{:?}", w.log(id).await);
    let children = w.children(&push).await;
    assert_eq!(children.len(), 2);
    for child in &children {
        assert_eq!(child.parent, Some(id));
        assert_eq!(child.kind, "inflate");
        assert_eq!(child.queue, QueueName::new("inbound.ksp").unwrap());
        assert_eq!(child.lane, Lane::High);
        assert_eq!(child.attributes["GameId"], "ksp");
    }
    let astro = children
        .iter()
        .find(|c| c.body == ASTROGATOR)
        .expect("the file's bytes are the body");
    assert_eq!(astro.attributes["HighestVersion"], "v1.0.0");
    assert_eq!(astro.attributes["HighestVersionPrerelease"], "v1.1.0-rc1");
    let doge = children.iter().find(|c| c.body == DOGE).unwrap();
    assert!(
        !doge.attributes.contains_key("HighestVersion"),
        "not indexed yet"
    );
    let log = w.log(id).await;
    assert_eq!(
        log.last().unwrap(),
        "NOTICE 2 inflations queued: Astrogator, DogeCoinFlag",
        "{log:?}"
    );
    w.shutdown().await;
}

#[tokio::test]
async fn an_invalid_netkan_is_named_and_the_others_still_go_ahead() {
    let w = World::new().await;
    w.write(&[
        ("NetKAN/Astrogator.netkan", ASTROGATOR),
        ("NetKAN/Wrong.netkan", "identifier: NotWrong\n"),
        ("NetKAN/Broken.netkan", "identifier: [Broken\n"),
        (
            "NetKAN/Unknown.netkan",
            "identifier: Unknown\n$kref: '#/ckan/myforge/1'\n",
        ),
    ]);
    let id = printed_id(&w.commit_and_push("mixed", &["main"]));
    let push = w.finished(id).await;
    assert_eq!(push.state, JobState::Failed);
    assert_eq!(w.children(&push).await.len(), 1);
    let log = w.log(id).await;
    let text = log.join("\n");
    assert!(text.contains("ERROR NetKAN/Wrong.netkan: identifier \"NotWrong\" does not match the file name \"Wrong\""), "{text}");
    assert!(
        text.contains("ERROR NetKAN/Broken.netkan: yaml syntax error"),
        "{text}"
    );
    assert!(
        text.contains("ERROR NetKAN/Unknown.netkan: invalid $kref"),
        "{text}"
    );
    assert!(
        text.contains("NOTICE 1 inflation queued: Astrogator"),
        "{text}"
    );
    assert!(push.last_error.unwrap().starts_with("3 files invalid: "));
    w.shutdown().await;
}

#[tokio::test]
async fn deletions_frozen_files_force_pushes_and_other_branches() {
    let w = World::new().await;
    w.write(&[
        ("NetKAN/Astrogator.netkan", ASTROGATOR),
        ("NetKAN/DogeCoinFlag.netkan", DOGE),
    ]);
    let first = printed_id(&w.commit_and_push("two", &["main"]));
    w.finished(first).await;

    // Freeze one, delete the other.
    std::fs::remove_file(w.clone.join("NetKAN/DogeCoinFlag.netkan")).unwrap();
    std::fs::rename(
        w.clone.join("NetKAN/Astrogator.netkan"),
        w.clone.join("NetKAN/Astrogator.frozen"),
    )
    .unwrap();
    let id = printed_id(&w.commit_and_push("freeze and delete", &["main"]));
    let rec = w.finished(id).await;
    assert_eq!(rec.state, JobState::Succeeded);
    assert!(rec.children.is_empty());
    let text = w.log(id).await.join("\n");
    assert!(
        text.contains("NetKAN/DogeCoinFlag.netkan removed"),
        "{text}"
    );
    assert!(text.contains("NOTICE Astrogator is frozen"), "{text}");
    let mut conn = w.redis.conn().await;
    let frozen: Option<String> = redis::cmd("HGET")
        .arg(
            w.jq()
                .keys()
                .status(&netkan_common::Game::ksp(), "Astrogator"),
        )
        .arg("frozen")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(frozen.as_deref(), Some("true"));

    // A force push that rewrites the last commit: only what differs from the shared base counts.
    git(&w.clone, &["reset", "-q", "--hard", "HEAD~1"]);
    let changed = ASTROGATOR.replace("GPL-3.0", "MIT");
    w.write(&[("NetKAN/Astrogator.netkan", &changed)]);
    let id = printed_id(&w.commit_and_push("rewrite", &["--force", "main"]));
    let rec = w.finished(id).await;
    let kids = w.children(&rec).await;
    assert_eq!(kids.len(), 1, "{:?}", w.log(id).await);
    assert_eq!(kids[0].body, changed);

    // Another branch: the hook reports and ignores it.
    git(&w.clone, &["checkout", "-q", "-b", "topic"]);
    w.write(&[("NetKAN/Other.netkan", "identifier: Other\n")]);
    let out = w.commit_and_push("topic", &["topic"]);
    assert!(
        out.contains("only the default branch is inflated") && !out.contains("push queued"),
        "{out}"
    );
    w.shutdown().await;
}

#[tokio::test]
async fn a_push_of_a_thousand_netkans_queues_a_thousand_inflations() {
    let w = World::new().await;
    let files: Vec<(String, String)> = (0..1000)
        .map(|i| {
            (
                format!("NetKAN/Mod{i:04}.netkan"),
                format!("identifier: Mod{i:04}\n$kref: '#/ckan/spacedock/{i}'\n"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    w.write(&refs);
    let id = printed_id(&w.commit_and_push("a thousand", &["main"]));
    let rec = w.finished(id).await;
    assert_eq!(rec.state, JobState::Succeeded);
    assert_eq!(rec.children.len(), 1000);
    let mut conn = w.redis.conn().await;
    let stats = w.jq().stats(&mut conn).await.unwrap();
    let inbound = stats.iter().find(|s| s.queue == "inbound.ksp").unwrap();
    assert_eq!(inbound.high, 1000);
    let text = w.log(id).await.join("\n");
    assert!(
        text.contains("NOTICE 1000 inflations queued: Mod0000, Mod0001"),
        "{text}"
    );
    w.shutdown().await;
}

#[tokio::test]
async fn a_push_spooled_while_redis_was_down_is_processed_after_it_returns() {
    let mut w = World::new().await;
    w.stop.cancel();
    let worker = std::mem::replace(
        &mut w.worker,
        tokio::spawn(async { Ok(Default::default()) }),
    );
    worker.await.unwrap().unwrap();
    w.redis.stop();
    w.write(&[("NetKAN/Astrogator.netkan", ASTROGATOR)]);
    let out = w.commit_and_push("while down", &["main"]);
    let line = out
        .lines()
        .find(|l| l.contains("push spooled as"))
        .unwrap_or_else(|| panic!("{out}"));
    let id: JobId = line
        .split_whitespace()
        .find_map(|s| s.parse().ok())
        .unwrap();
    w.redis.restart();
    // A worker starting up drains the spool.
    let stop = CancellationToken::new();
    let settings = w.settings.clone();
    let url = w.redis.url();
    let s2 = stop.clone();
    let worker = tokio::spawn(async move { netkan_worker::run(&settings, &url, s2).await });
    let rec = w.finished(id).await;
    assert_eq!(rec.state, JobState::Succeeded);
    assert_eq!(rec.children.len(), 1);
    stop.cancel();
    worker.await.unwrap().unwrap();
}

// Multi-threaded: the in-process worker must run while this thread waits on `git push`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_follow_the_pusher_sees_the_push_jobs_notices_until_it_ends() {
    let w = World::with_follow(true).await;
    w.write(&[
        ("NetKAN/Astrogator.netkan", ASTROGATOR),
        ("NetKAN/Wrong.netkan", "identifier: NotWrong\n"),
    ]);
    let out = w.commit_and_push("follow me", &["main"]);
    assert!(
        out.contains("remote: netkan: 1 inflation queued: Astrogator"),
        "{out}"
    );
    assert!(out.contains("remote: netkan: push job failed"), "{out}");
    // Only the push role runs here: the inflation it caused stays queued, and the hook says
    // so once its follow time is up.
    assert!(
        out.contains(
            "remote: netkan: the jobs it caused are still running (running: 1 of 2 jobs unfinished)"
        ),
        "{out}"
    );
    assert!(
        out.contains("remote: netkan: NetKAN/Wrong.netkan: identifier \"NotWrong\" does not match"),
        "errors reach the pusher: {out}"
    );
    assert!(
        !out.contains("inflation of Astrogator queued as"),
        "INFO lines stay in the log: {out}"
    );
    w.shutdown().await;
}

/// Hostile `.netkan` files through the real boundary (issue 9): a `git push` through the
/// installed hook to the push worker. Each is refused with the file and the problem named;
/// the valid file of the same push still goes ahead.
#[tokio::test]
async fn hostile_netkans_in_a_push_are_each_refused_with_the_file_and_problem_named() {
    let w = World::new().await;
    let deep = format!(
        "identifier: Deep\n$kref: '#/ckan/spacedock/1'\nx: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let mut laughs = String::from(
        "identifier: Laughs\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for (prev, next) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        let refs = vec![format!("*{prev}"); 10].join(", ");
        laughs.push_str(&format!("{next}: &{next} [{refs}]\n"));
    }
    let huge = format!(
        "identifier: Huge\n$kref: '#/ckan/spacedock/2'\ndescription: '{}'\n",
        "x".repeat(1024 * 1024)
    );
    w.write(&[
        ("NetKAN/Astrogator.netkan", ASTROGATOR),
        (
            "NetKAN/Traversal.netkan",
            "identifier: ../../etc/passwd\n$kref: '#/ckan/spacedock/3'\n",
        ),
        (
            "NetKAN/Html.netkan",
            "identifier: \"<script>alert(1)</script>\\e[31m\"\n",
        ),
        ("NetKAN/-Dash.netkan", "identifier: -Dash\n"),
        ("NetKAN/Deep.netkan", &deep),
        ("NetKAN/Laughs.netkan", &laughs),
        ("NetKAN/Huge.netkan", &huge),
    ]);
    std::fs::write(
        w.clone.join("NetKAN/Latin1.netkan"),
        b"identifier: Latin1\nname: Caf\xe9\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("../../../../etc/passwd", w.clone.join("NetKAN/Link.netkan"))
        .unwrap();
    let id = printed_id(&w.commit_and_push("hostile", &["main"]));
    let push = w.finished(id).await;
    assert_eq!(push.state, JobState::Failed);
    let children = w.children(&push).await;
    assert_eq!(children.len(), 1, "only Astrogator is inflated");
    assert_eq!(children[0].body, ASTROGATOR);
    let text = w.log(id).await.join("\n");
    let huge_error = format!(
        "ERROR NetKAN/Huge.netkan: NetKAN/Huge.netkan is {} bytes, more than the 1048576 allowed (worker.max_netkan_bytes)",
        huge.len()
    );
    for expected in [
        "ERROR NetKAN/Traversal.netkan: at $.identifier: `../../etc/passwd` does not match ^[A-Za-z0-9][A-Za-z0-9-]+$",
        "ERROR NetKAN/Html.netkan: at $.identifier: `<script>alert(1)</script>\u{1b}[31m` does not match",
        "ERROR NetKAN/-Dash.netkan: at $.identifier: `-Dash` does not match",
        "ERROR NetKAN/Deep.netkan: yaml syntax error at line 3, column 259: recursion limit exceeded",
        "ERROR NetKAN/Laughs.netkan: document expands to more than",
        huge_error.as_str(),
        "ERROR NetKAN/Latin1.netkan: NetKAN/Latin1.netkan is not valid UTF-8",
        "ERROR NetKAN/Link.netkan: NetKAN/Link.netkan is a symbolic link (to \"../../../../etc/passwd\"), not a file",
        "NOTICE 1 inflation queued: Astrogator",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(
        push.last_error.unwrap().starts_with("8 files invalid: "),
        "{text}"
    );
    w.shutdown().await;
}
