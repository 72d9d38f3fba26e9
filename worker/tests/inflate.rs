//! The `inflate` role end to end against a real redis-server: inflate jobs on
//! `inbound.ksp` in, `index` jobs on `outbound` out (children of the inflation), with the
//! queue contract's attributes, the job's log, and failures as messages.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use netkan_common::config::HostSettings;
use netkan_common::log::{Level, LogQuery, Redactor};
use netkan_common::testing::{TestRedis, eventually};
use netkan_common::{
    Game, JobId, JobQueue, JobRecord, JobSettings, JobState, Keys, NewJob, QueueName,
};
use netkan_inflator::cache::DownloadCache;
use netkan_inflator::testing::archive::ZipBuilder;
use netkan_inflator::testing::upstream::{Reply, Upstream};
use netkan_inflator::{Inflator, Services};
use netkan_worker::jobs::inflate::{self, InflateEnv};
use netkan_worker::{Registry, Role, RunnerConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn settings() -> JobSettings {
    JobSettings {
        lease_ms: 2_000,
        maintenance_interval_ms: 100,
        backoff_base_ms: 10,
        backoff_max_ms: 50,
        max_attempts: 3,
        ..JobSettings::default()
    }
}

fn job_queue() -> JobQueue {
    JobQueue::new(Keys::default(), settings())
}

struct Worker {
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<anyhow::Result<netkan_worker::RunReport>>,
    _cache: tempfile::TempDir,
}

impl Worker {
    fn start(redis: &TestRedis, data_dir: &Path, hosts: HostSettings) -> Worker {
        let cache = tempfile::tempdir().unwrap();
        let inflator = Inflator::with_services(Services {
            http: Upstream::client_for(&hosts),
            cache: DownloadCache::new(cache.path(), 0),
        });
        let mut registry = Registry::new();
        inflate::register(
            &mut registry,
            Arc::new(InflateEnv::new(inflator, data_dir.to_owned())),
        );
        let cfg = RunnerConfig {
            worker_id: netkan_worker::runner::new_worker_id(),
            redis_url: redis.url(),
            queue: job_queue(),
            pool: netkan_common::connect::pool(&redis.url(), 4).unwrap(),
            roles: vec![Role {
                name: inflate::ROLE.into(),
                queues: inflate::queues([Game::ksp()]),
                concurrency: 2,
                registry,
            }],
            claim_batch: 8,
            shutdown_timeout: Duration::from_secs(10),
            redactor: Redactor::new(Vec::<String>::new()),
        };
        let stop = CancellationToken::new();
        let handle = tokio::spawn(netkan_worker::runner::run(cfg, stop.clone()));
        Worker {
            stop,
            handle,
            _cache: cache,
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.handle.await.unwrap().unwrap();
    }
}

async fn enqueue(redis: &TestRedis, body: &str, attrs: &[(&str, &str)]) -> JobId {
    let mut job = NewJob::new("inflate", QueueName::inbound(&Game::ksp()))
        .with_game(Game::ksp())
        .with_body(body);
    for (k, v) in attrs {
        job = job.with_attr(*k, *v);
    }
    let mut c = redis.conn().await;
    job_queue()
        .enqueue(&mut c, std::slice::from_ref(&job))
        .await
        .unwrap();
    job.id
}

async fn finished(redis: &TestRedis, id: &JobId) -> JobRecord {
    let c = redis.conn().await;
    let jq = job_queue();
    eventually(
        Duration::from_secs(20),
        &format!("job {id} to finish"),
        || {
            let mut c = c.clone();
            let jq = jq.clone();
            async move {
                jq.job(&mut c, id)
                    .await
                    .unwrap()
                    .filter(|r| r.state.is_finished())
            }
        },
    )
    .await
}

async fn record(redis: &TestRedis, id: &JobId) -> JobRecord {
    let mut c = redis.conn().await;
    job_queue().job(&mut c, id).await.unwrap().unwrap()
}

async fn children(redis: &TestRedis, parent: &JobRecord) -> Vec<JobRecord> {
    let mut out = Vec::new();
    for id in &parent.children {
        out.push(record(redis, id).await);
    }
    out
}

async fn log(redis: &TestRedis, id: &JobId) -> Vec<(Level, String)> {
    let mut c = redis.conn().await;
    job_queue()
        .logs(&mut c, id, &LogQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.level, l.message))
        .collect()
}

const DLC: &str = "identifier: BreakingGround-DLC\nname: Breaking Ground\nabstract: Breaking Ground expansion\n\
author: SQUAD\nversion: 1.7.1\nkind: dlc\nlicense: restricted\nksp_version_min: 1.7.1\n\
resources:\n  homepage: https://www.kerbalspaceprogram.com\ntags:\n  - dlc\n";

fn is_check_time(s: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").is_ok()
}

#[tokio::test]
async fn an_inflation_sends_its_ckan_to_outbound_with_the_contract_attributes() {
    let redis = TestRedis::start();
    let data = tempfile::tempdir().unwrap();
    let worker = Worker::start(&redis, data.path(), HostSettings::default());
    let id = enqueue(
        &redis,
        DLC,
        &[("GameId", "ksp"), ("HighestVersion", "1.7.0")],
    )
    .await;
    let rec = finished(&redis, &id).await;
    assert_eq!(rec.state, JobState::Succeeded, "{:?}", rec.last_error);
    let out = children(&redis, &rec).await;
    assert_eq!(out.len(), 1);
    let index = &out[0];
    assert_eq!(index.kind, "index");
    assert_eq!(index.queue, QueueName::outbound());
    assert_eq!(index.parent, Some(id));
    assert_eq!(index.game, Game::ksp());
    assert!(index.body.starts_with(
        "{\n    \"spec_version\": \"v1.28\",\n    \"identifier\": \"BreakingGround-DLC\","
    ));
    assert!(
        index
            .body
            .ends_with("    \"x_generated_by\": \"netkan\"\n}\n")
    );
    let a = &index.attributes;
    assert_eq!(a["ModIdentifier"], "BreakingGround-DLC");
    assert_eq!(a["Staged"], "False");
    assert_eq!(a["Success"], "True");
    assert_eq!(a["FileName"], "BreakingGround-DLC-1.7.1.ckan");
    assert_eq!(a["GameId"], "KSP");
    assert!(is_check_time(&a["CheckTime"]), "{}", a["CheckTime"]);
    for absent in ["ErrorMessage", "WarningMessages", "StagingReason"] {
        assert!(!a.contains_key(absent), "{absent}: {a:?}");
    }
    let lines = log(&redis, &id).await;
    assert!(
        lines.contains(&(Level::Info, "Inflating BreakingGround-DLC".into())),
        "{lines:?}"
    );
    assert!(lines.iter().any(|(l, _)| *l == Level::Debug));
    assert_eq!(
        lines.last().unwrap(),
        &(Level::Notice, "inflated BreakingGround-DLC 1.7.1".into())
    );
    worker.stop().await;
}

#[tokio::test]
async fn staged_results_carry_their_reasons_and_warnings_go_with_the_first_message_only() {
    let redis = TestRedis::start();
    let data = tempfile::tempdir().unwrap();
    let worker = Worker::start(&redis, data.path(), HostSettings::default());
    // Two documents of two versions (an epoch in the second), no tags, staged by the netkan.
    let netkan = "identifier: Twin-DLC\nname: Twin\nabstract: a\nauthor: me\nlicense: MIT\nkind: dlc\n\
                  version: '1.0'\nx_netkan_staging: true\nx_netkan_staging_reason: Look at it\n---\n\
                  identifier: Twin-DLC\nx_netkan_epoch: 1\n";
    let id = enqueue(&redis, netkan, &[("GameId", "ksp"), ("Releases", "all")]).await;
    let rec = finished(&redis, &id).await;
    assert_eq!(rec.state, JobState::Succeeded, "{:?}", rec.last_error);
    let out = children(&redis, &rec).await;
    let names: Vec<&str> = out
        .iter()
        .map(|j| j.attributes["FileName"].as_str())
        .collect();
    assert_eq!(names, ["Twin-DLC-1.0.ckan", "Twin-DLC-1-1.0.ckan"]);
    for j in &out {
        assert_eq!(j.attributes["Staged"], "True");
        let reason = &j.attributes["StagingReason"];
        assert!(
            reason.starts_with("Look at it\r\n\r\nResource | URL\n"),
            "{reason:?}"
        );
    }
    assert_eq!(
        out[0].attributes["WarningMessages"],
        "Tags not found, see https://github.com/KSP-CKAN/CKAN/wiki/Suggested-Tags"
    );
    assert!(!out[1].attributes.contains_key("WarningMessages"));
    let lines = log(&redis, &id).await;
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == Level::Warn && m.starts_with("Tags not found"))
    );
    assert_eq!(
        lines.last().unwrap(),
        &(
            Level::Notice,
            "inflated Twin-DLC 1.0, 1:1.0 (staged)".into()
        )
    );
    worker.stop().await;
}

#[tokio::test]
async fn bad_netkans_become_failure_messages_and_the_worker_goes_on() {
    let redis = TestRedis::start();
    let data = tempfile::tempdir().unwrap();
    let worker = Worker::start(&redis, data.path(), HostSettings::default());
    let malformed = enqueue(&redis, "identifier: [oops", &[("GameId", "ksp")]).await;
    let unknown = enqueue(
        &redis,
        "identifier: Techman\n$kref: '#/ckan/techman/1'\n",
        &[],
    )
    .await;
    let good = enqueue(&redis, DLC, &[]).await;
    for (id, error) in [
        (malformed, "the .netkan does not parse: yaml syntax error"),
        (unknown, "Invalid $kref: #/ckan/techman/1"),
    ] {
        let rec = finished(&redis, &id).await;
        assert_eq!(
            rec.state,
            JobState::Failed,
            "a bad netkan fails its inflation, at once"
        );
        assert_eq!(rec.attempts, 1, "not retried: the input is at fault");
        assert!(
            rec.last_error.as_deref().unwrap().starts_with(error),
            "{rec:?}"
        );
        let out = children(&redis, &rec).await;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].body, "{}");
        assert_eq!(out[0].attributes["Success"], "False");
        assert_eq!(out[0].attributes["Staged"], "False");
        assert!(
            out[0].attributes["ErrorMessage"].starts_with(error),
            "{:?}",
            out[0].attributes
        );
        assert!(!out[0].attributes.contains_key("FileName"));
        let lines = log(&redis, &id).await;
        let (level, last) = lines.last().unwrap();
        assert_eq!(*level, Level::Error);
        assert!(last.starts_with(&format!("failed: {error}")), "{last}");
    }
    assert_eq!(
        record(&redis, &unknown).await.attributes.get("GameId"),
        None,
        "GameId defaults to the job's game"
    );
    let rec = finished(&redis, &good).await;
    assert_eq!(
        children(&redis, &rec).await[0].attributes["Success"],
        "True"
    );
    worker.stop().await;
}

#[tokio::test]
async fn a_malformed_attribute_fails_the_job_without_a_message() {
    let redis = TestRedis::start();
    let data = tempfile::tempdir().unwrap();
    let worker = Worker::start(&redis, data.path(), HostSettings::default());
    let id = enqueue(&redis, DLC, &[("Releases", "lots")]).await;
    let rec = finished(&redis, &id).await;
    assert_eq!(rec.state, JobState::Failed);
    assert!(rec.last_error.unwrap().contains("Releases \"lots\""));
    assert!(rec.children.is_empty());
    worker.stop().await;
}

#[tokio::test]
async fn the_known_game_versions_come_from_the_ckan_meta_checkout_when_there_is_one() {
    let redis = TestRedis::start();
    let data = tempfile::tempdir().unwrap();
    let meta = data.path().join("work/ksp/CKAN-meta-read");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(
        meta.join("builds.json"),
        r#"{"builds": {"1": "1.2.2.1622", "2": "1.3.0.1804"}}"#,
    )
    .unwrap();
    let worker = Worker::start(&redis, data.path(), HostSettings::default());
    let id = enqueue(&redis, DLC, &[]).await;
    let rec = finished(&redis, &id).await;
    let out = children(&redis, &rec).await;
    assert_eq!(
        out[0].attributes["ErrorMessage"],
        "BreakingGround-DLC doesn't match any valid game version: KSP 1.7.1 and later"
    );
    assert_eq!(
        out[0].attributes["Staged"], "True",
        "1.7.1+ misses the latest release, 1.3.0"
    );
    worker.stop().await;
}

const SD_NETKAN: &str = "identifier: AwesomeMod\n$kref: '#/ckan/spacedock/777'\nlicense: MIT\n\
                         tags:\n  - parts\n";

#[tokio::test]
async fn a_host_error_worth_retrying_is_retried_and_reported_on_the_last_attempt() {
    let redis = TestRedis::start();
    let data = tempfile::tempdir().unwrap();
    let up = Upstream::start().await;
    up.on(
        "https://spacedock.info/api/mod/777",
        Reply::status_only(500),
    );
    let worker = Worker::start(&redis, data.path(), up.settings());
    let id = enqueue(&redis, SD_NETKAN, &[]).await;
    let rec = finished(&redis, &id).await;
    assert_eq!(rec.state, JobState::Dead, "{rec:?}");
    assert_eq!(rec.attempts, 3);
    assert!(up.count("https://spacedock.info/api/mod/777") >= 3);
    let out = children(&redis, &rec).await;
    assert_eq!(
        out.len(),
        1,
        "one failure message, sent on the last attempt"
    );
    assert_eq!(out[0].body, "{}");
    assert_eq!(out[0].attributes["Success"], "False");
    assert!(
        out[0].attributes["ErrorMessage"].contains("500"),
        "{:?}",
        out[0].attributes
    );
    let lines = log(&redis, &id).await;
    let retries = lines
        .iter()
        .filter(|(l, m)| *l == Level::Notice && m.starts_with("failed, will retry: "))
        .count();
    assert_eq!(retries, 2, "{lines:?}");
    let (level, last) = lines.last().unwrap();
    assert_eq!(*level, Level::Error);
    assert!(
        last.starts_with("failed on attempt 3 of 3, giving up: "),
        "{last}"
    );
    worker.stop().await;
}

#[tokio::test]
async fn a_throttled_host_makes_the_job_wait_without_using_attempts() {
    let redis = TestRedis::start();
    let data = tempfile::tempdir().unwrap();
    let up = Upstream::start().await;
    let repo = "https://api.github.com/repos/awesome/AwesomeMod";
    up.github_repo("awesome", "AwesomeMod", json!({"description": "Awesome"}));
    // Throttled four times: more than the three attempts a job has.
    up.on_sequence(
        repo,
        vec![
            Reply::github_rate_limited(Duration::from_secs(0)),
            Reply::github_rate_limited(Duration::from_secs(0)),
            Reply::github_rate_limited(Duration::from_secs(0)),
            Reply::github_rate_limited(Duration::from_secs(0)),
            Reply::json(
                &json!({"name": "AwesomeMod", "full_name": "awesome/AwesomeMod",
                "html_url": "https://github.com/awesome/AwesomeMod", "description": "Awesome",
                "owner": {"login": "awesome", "type": "User"}}),
            ),
        ],
    );
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
    let netkan = "identifier: AwesomeMod\n$kref: '#/ckan/github/awesome/AwesomeMod'\n\
                  license: MIT\nksp_version: 1.12\ntags:\n  - parts\n";
    let worker = Worker::start(&redis, data.path(), up.settings());
    let id = enqueue(&redis, netkan, &[]).await;
    let rec = finished(&redis, &id).await;
    assert_eq!(rec.state, JobState::Succeeded, "{rec:?}");
    assert_eq!(
        rec.attempts, 1,
        "waiting for the limit to reset used no attempt"
    );
    let out = children(&redis, &rec).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].attributes["Success"], "True");
    assert_eq!(out[0].attributes["FileName"], "AwesomeMod-v1.0.ckan");
    let lines = log(&redis, &id).await;
    let waits = lines
        .iter()
        .filter(|(l, m)| *l == Level::Warn && m.starts_with("throttled; trying again in "))
        .count();
    assert_eq!(waits, 4, "{lines:?}");
    worker.stop().await;
}

/// Hostile downloads through the real boundary (issue 9): `inflate` jobs on the queue, run by
/// the worker, whose downloads come from the fixture upstream. Each inflation fails as data
/// (a failure message for the indexer) with the archive and the problem named, and nothing
/// is extracted anywhere.
#[tokio::test]
async fn hostile_archives_fail_their_inflation_with_the_problem_named() {
    let redis = TestRedis::start();
    let data = tempfile::tempdir().unwrap();
    let up = Upstream::start().await;
    let mut bomb = ZipBuilder::new();
    for i in 0..20 {
        bomb = bomb.lying_size(
            &format!("GameData/Bomb/part{i}.bin"),
            "x",
            u64::from(u32::MAX),
        );
    }
    let deep_version = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<(&str, Vec<u8>, &str, String)> = vec![
        (
            "Link",
            ZipBuilder::new()
                .file("GameData/Link/Link.cfg", "PART {}")
                .symlink("GameData/Link/passwd", "/etc/passwd")
                .build(),
            "",
            "`GameData/Link/passwd` is a symbolic link".into(),
        ),
        (
            "Slip",
            ZipBuilder::new()
                .dir("Slip/")
                .file("Slip/../../../outside.txt", "pwned")
                .build(),
            "",
            "Invalid installation path: Slip/../../../outside.txt".into(),
        ),
        (
            "Escape",
            ZipBuilder::new().file("GameData/Escape/a.cfg", "x").build(),
            "install:\n  - find: Escape\n    install_to: GameData/../../../../etc\n",
            "GameData/../../../../etc".into(),
        ),
        (
            "Bomb",
            bomb.build(),
            "",
            "https://example.com/Bomb.zip: declares".into(),
        ),
        (
            "Html",
            b"<html><body>Not a zip</body></html>".to_vec(),
            "",
            "https://example.com/Html.zip".into(),
        ),
        (
            "Deep",
            ZipBuilder::new()
                .file("GameData/Deep/Deep.cfg", "x")
                .file("GameData/Deep/Deep.version", &deep_version)
                .build(),
            "$vref: '#/ckan/ksp-avc'\n",
            "MaxDepth of 64 has been exceeded".into(),
        ),
    ];
    let worker = Worker::start(&redis, data.path(), up.settings());
    let mut jobs = Vec::new();
    for (name, archive, extra, error) in cases {
        let url = format!("https://example.com/{name}.zip");
        up.file(&url, archive);
        let netkan = format!(
            "identifier: {name}\n$kref: '#/ckan/http/{url}'\nversion: '1.0'\nlicense: MIT\n\
             ksp_version: 1.12\ntags:\n  - parts\n{extra}"
        );
        jobs.push((name, enqueue(&redis, &netkan, &[]).await, error));
    }
    for (name, id, error) in jobs {
        let rec = finished(&redis, &id).await;
        assert_eq!(
            rec.state,
            JobState::Failed,
            "{name}: a bad download fails the inflation"
        );
        let out = children(&redis, &rec).await;
        assert_eq!(out.len(), 1, "{name}");
        assert_eq!(out[0].body, "{}", "{name}");
        assert_eq!(out[0].attributes["Success"], "False", "{name}");
        let message = &out[0].attributes["ErrorMessage"];
        eprintln!("{name}: {message}");
        assert!(
            message.contains(&error),
            "{name}: {message:?} should name {error:?}"
        );
        let lines = log(&redis, &id).await;
        let (level, last) = lines.last().unwrap();
        assert_eq!(*level, Level::Error, "{name}");
        assert!(last.starts_with("failed: "), "{name}: {last}");
    }
    assert!(
        !data.path().join("outside.txt").exists() && !Path::new("/outside.txt").exists(),
        "nothing was extracted"
    );
    worker.stop().await;
}
