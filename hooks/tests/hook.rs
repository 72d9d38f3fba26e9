//! The hook as git runs it: real bare repositories, real `git push`, a real redis-server.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use netkan_common::testing::TestRedis;
use netkan_common::{JobId, JobQueue, JobSettings, Keys, QueueName};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Pusher")
        .env("GIT_AUTHOR_EMAIL", "pusher@example.com")
        .env("GIT_COMMITTER_NAME", "Pusher")
        .env("GIT_COMMITTER_EMAIL", "pusher@example.com")
        .env("USER", "pusher")
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

struct Setup {
    _dir: tempfile::TempDir,
    bare: PathBuf,
    clone: PathBuf,
    spool: PathBuf,
}

fn setup(redis_url: &str, timeout_ms: u64) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("NetKAN.git");
    let clone = dir.path().join("clone");
    let spool = dir.path().join("spool");
    git(
        dir.path(),
        &["init", "--bare", "-q", "-b", "main", bare.to_str().unwrap()],
    );
    let config = dir.path().join("netkan.toml");
    std::fs::write(
        &config,
        format!(
            "[redis]\nurl = \"{redis_url}\"\n[hooks]\ntimeout_ms = {timeout_ms}\nspool_dir = \"{}\"\n[web]\nbase_url = \"http://netkan.test\"\n",
            spool.display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_netkan-hook"))
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
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    git(&clone, &["checkout", "-q", "-b", "main"]);
    Setup {
        _dir: dir,
        bare,
        clone,
        spool,
    }
}

fn commit_files(clone: &Path, files: &[(&str, &str)], msg: &str) {
    for (path, text) in files {
        let p = clone.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    git(clone, &["add", "-A"]);
    git(clone, &["commit", "-q", "-m", msg]);
}

fn printed_id(output: &str, what: &str) -> JobId {
    let line = output
        .lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no {what:?} in {output}"));
    line.split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap()
}

fn jq() -> JobQueue {
    JobQueue::new(Keys::default(), JobSettings::default())
}

#[tokio::test]
async fn a_push_to_the_default_branch_becomes_one_push_job() {
    let redis = TestRedis::start();
    let s = setup(&redis.url(), 2000);
    commit_files(
        &s.clone,
        &[
            ("NetKAN/A.netkan", "{\"identifier\": \"A\"}\n"),
            ("NetKAN/B.netkan", "identifier: B\n"),
        ],
        "add two mods",
    );
    let out = git(&s.clone, &["push", "-q", "origin", "main"]);
    let id = printed_id(&out, "push queued as");
    assert!(
        out.contains(&format!(
            "remote: netkan: log at http://netkan.test/logs/{id}"
        )),
        "{out}"
    );
    let mut conn = redis.conn().await;
    let rec = jq()
        .job(&mut conn, &id)
        .await
        .unwrap()
        .expect("the push job is in Redis");
    assert_eq!(rec.kind, "push");
    assert_eq!(rec.queue, QueueName::push());
    let body: serde_json::Value = serde_json::from_str(&rec.body).unwrap();
    assert_eq!(body["ref"], "refs/heads/main");
    assert_eq!(body["old"], netkan_hooks::ZERO_OID);
    assert_eq!(
        body["new"].as_str().unwrap(),
        git(&s.clone, &["rev-parse", "HEAD"]).trim()
    );
    assert_eq!(body["pusher"], "pusher");
    assert_eq!(
        body["repo"],
        s.bare.canonicalize().unwrap().display().to_string()
    );
    assert_eq!(rec.attributes["GameId"], "ksp");
}

#[tokio::test]
async fn a_push_to_another_branch_or_a_deletion_is_reported_and_ignored() {
    let redis = TestRedis::start();
    let s = setup(&redis.url(), 2000);
    commit_files(&s.clone, &[("NetKAN/A.netkan", "identifier: A\n")], "a");
    git(&s.clone, &["push", "-q", "origin", "main"]);
    git(&s.clone, &["checkout", "-q", "-b", "topic"]);
    commit_files(&s.clone, &[("NetKAN/B.netkan", "identifier: B\n")], "b");
    let out = git(&s.clone, &["push", "-q", "origin", "topic"]);
    assert!(
        out.contains("refs/heads/topic is not refs/heads/main"),
        "{out}"
    );
    assert!(!out.contains("push queued"), "{out}");
    let out = git(&s.clone, &["push", "-q", "origin", "--delete", "topic"]);
    assert!(!out.contains("push queued"), "{out}");
    let mut conn = redis.conn().await;
    assert_eq!(
        jq().stats(&mut conn).await.unwrap()[0].waiting(),
        1,
        "only the push to main"
    );
}

#[tokio::test]
async fn with_redis_down_the_push_completes_in_time_and_the_spooled_job_is_queued_once_later() {
    let mut redis = TestRedis::start();
    let s = setup(&redis.url(), 500);
    redis.stop();
    commit_files(&s.clone, &[("NetKAN/A.netkan", "identifier: A\n")], "a");
    let started = Instant::now();
    let out = git(&s.clone, &["push", "-q", "origin", "main"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the push waited {:?}",
        started.elapsed()
    );
    let id = printed_id(&out, "push spooled as");
    assert!(out.contains("Redis is unavailable"), "{out}");
    assert_eq!(std::fs::read_dir(&s.spool).unwrap().count(), 1);

    redis.restart();
    let mut conn = redis.conn().await;
    let drained = netkan_common::spool::drain(&s.spool, &jq(), &mut conn)
        .await
        .unwrap();
    assert_eq!(
        drained.enqueued,
        vec![id],
        "queued with the id the pusher was shown"
    );
    let again = netkan_common::spool::drain(&s.spool, &jq(), &mut conn)
        .await
        .unwrap();
    assert!(again.enqueued.is_empty(), "exactly once");
    let rec = jq().job(&mut conn, &id).await.unwrap().unwrap();
    assert_eq!(rec.kind, "push");
    assert_eq!(jq().stats(&mut conn).await.unwrap()[0].waiting(), 1);
}

#[tokio::test]
async fn the_next_push_drains_older_spooled_pushes_first() {
    let mut redis = TestRedis::start();
    let s = setup(&redis.url(), 500);
    redis.stop();
    commit_files(&s.clone, &[("NetKAN/A.netkan", "identifier: A\n")], "a");
    let first = printed_id(
        &git(&s.clone, &["push", "-q", "origin", "main"]),
        "push spooled as",
    );
    redis.restart();
    commit_files(&s.clone, &[("NetKAN/B.netkan", "identifier: B\n")], "b");
    let second = printed_id(
        &git(&s.clone, &["push", "-q", "origin", "main"]),
        "push queued as",
    );
    let mut conn = redis.conn().await;
    let claim = jq()
        .claim(&mut conn, "w", &[QueueName::push()], 10, 0)
        .await
        .unwrap();
    let order: Vec<JobId> = claim.jobs.iter().map(|j| j.id).collect();
    assert_eq!(order, vec![first, second]);
}

#[tokio::test]
async fn installing_twice_is_idempotent_and_an_existing_hook_keeps_working() {
    let redis = TestRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("r.git");
    git(
        dir.path(),
        &["init", "--bare", "-q", "-b", "main", bare.to_str().unwrap()],
    );
    let marker = dir.path().join("old-hook-ran");
    let old = bare.join("hooks/post-receive");
    std::fs::write(&old, format!("#!/bin/sh\ncat > '{}'\n", marker.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    for expected in ["Chained", "Updated"] {
        let out = Command::new(env!("CARGO_BIN_EXE_netkan-hook"))
            .args(["install", bare.to_str().unwrap()])
            .env("REDIS_URL", redis.url())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(expected), "{text}");
    }
    let clone = dir.path().join("c");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    git(&clone, &["checkout", "-q", "-b", "main"]);
    commit_files(&clone, &[("NetKAN/A.netkan", "identifier: A\n")], "a");
    let out = Command::new("git")
        .args(["push", "-q", "origin", "main"])
        .current_dir(&clone)
        .env("REDIS_URL", redis.url())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("push queued as"), "{text}");
    let seen = std::fs::read_to_string(&marker).unwrap();
    assert!(
        seen.contains("refs/heads/main"),
        "the old hook got the same input: {seen:?}"
    );
}
