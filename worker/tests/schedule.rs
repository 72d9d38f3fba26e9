//! The scheduler (role `schedule`) and the periodic jobs under it: groups, highest versions,
//! the queue-depth and rate-limit gates, one enqueue per period across processes, one run
//! at a time. Real bare repositories, a real redis-server, a fake GitHub.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use netkan_common::config::Settings;
use netkan_common::testing::{TestRedis, eventually};
use netkan_common::{JobState, Lane, NewJob, QueueName};
use support::github::FakeGithub;
use support::world::{InProcess, bare_repo, enqueue, finished, log, settings, waiting_in};

const WAIT: Duration = Duration::from_secs(60);

/// The kinds of `.netkan` of the reference's scheduler and metadata fixtures.
fn netkans() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("NetKAN/DogeCoinFlag.netkan", b"identifier: DogeCoinFlag\n$kref: '#/ckan/github/pjf/DogeCoinFlag'\n"),
        ("NetKAN/DockCoinFlag.netkan", b"identifier: DockCoinFlag\n$kref: '#/ckan/spacedock/777'\n"),
        ("NetKAN/CurseCoinFlag.netkan", b"identifier: CurseCoinFlag\n$kref: '#/ckan/curse/666'\n"),
        ("NetKAN/NetkanCoinFlag.netkan", b"identifier: NetkanCoinFlag\n$kref: '#/ckan/netkan/http://example.com/A.netkan'\n"),
        ("NetKAN/VrefCoinFlag.netkan", b"identifier: VrefCoinFlag\n$kref: '#/ckan/spacedock/778'\n$vref: '#/ckan/ksp-avc'\n"),
        ("NetKAN/UnknownCoinFlag.netkan", b"identifier: UnknownCoinFlag\n$kref: '#/ckan/unknown/1'\n"),
        ("NetKAN/AwesomeMod.netkan", b"{\"identifier\": \"AwesomeMod\", \"$kref\": \"#/ckan/github/a/b\"}\n"),
        ("NetKAN/OutOfOrder.netkan", b"identifier: OutOfOrder\n$kref: '#/ckan/github/a/c'\nx_netkan_allow_out_of_order: true\n"),
        ("NetKAN/FrozenFlag.frozen", b"identifier: FrozenFlag\n$kref: '#/ckan/github/a/d'\n"),
        ("NetKAN/Broken.netkan", b"identifier: [unclosed\n"),
        ("README.md", b"not a netkan\n"),
    ]
}

fn ckanmeta() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for (v, status) in [
        ("0.9", "stable"),
        ("0.10", "stable"),
        ("0.11", "stable"),
        ("0.12-rc1", "testing"),
    ] {
        files.push((
            format!("AwesomeMod/AwesomeMod-{v}.ckan"),
            format!("{{\"spec_version\": 1, \"identifier\": \"AwesomeMod\", \"version\": \"{v}\", \"release_status\": \"{status}\"}}\n").into_bytes(),
        ));
    }
    files.push((
        "OutOfOrder/OutOfOrder-1.0.ckan".into(),
        b"{\"spec_version\": 1, \"identifier\": \"OutOfOrder\", \"version\": \"1.0\"}\n".to_vec(),
    ));
    files
}

struct World {
    _dir: tempfile::TempDir,
    redis: TestRedis,
    gh: FakeGithub,
    settings: Settings,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let redis = TestRedis::start();
        let gh = FakeGithub::start();
        let netkan = bare_repo(dir.path(), "NetKAN", &netkans());
        let meta_files = ckanmeta();
        let meta: Vec<(&str, &[u8])> = meta_files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        let meta = bare_repo(dir.path(), "CKAN-meta", &meta);
        let mut s = settings(&redis, &dir.path().join("data"), &meta, &gh);
        s.worker.roles = vec!["schedule".into()];
        s.games.get_mut("ksp").unwrap().netkan = Some(netkan_common::config::Secret::new(
            netkan.display().to_string(),
        ));
        // Passes are enqueued by hand here; the periodic test turns one on.
        s.scheduler.pass.enabled = false;
        s.scheduler.webhooks_pass.enabled = false;
        Self {
            _dir: dir,
            redis,
            gh,
            settings: s,
        }
    }

    fn jq(&self) -> netkan_common::JobQueue {
        self.settings.job_queue()
    }

    async fn pass(&self, attrs: &[(&str, &str)]) -> (JobState, Vec<String>) {
        let mut job = NewJob::new("schedule", QueueName::new("schedule").unwrap());
        for (k, v) in attrs {
            job = job.with_attr(*k, *v);
        }
        let worker = InProcess::start(&self.settings);
        let id = enqueue(&self.redis, &self.jq(), &[job]).await[0];
        let rec = finished(&self.redis, &self.jq(), id, WAIT).await;
        let lines = log(&self.redis, &self.jq(), id).await;
        worker.stop().await;
        (rec.state, lines)
    }

    /// The inflations waiting in the low lane of `inbound.ksp`: identifier → attributes.
    async fn scheduled(&self) -> Vec<(String, HashMap<String, String>)> {
        let inbound = QueueName::inbound(&netkan_common::Game::ksp());
        waiting_in(&self.redis, &self.jq(), &inbound, Lane::Low)
            .await
            .into_iter()
            .map(|f| {
                assert_eq!(f["kind"], "inflate");
                let attrs: HashMap<String, String> = serde_json::from_str(&f["attrs"]).unwrap();
                let id = f["dedup"].strip_prefix("ksp/").unwrap().to_owned();
                (id, attrs)
            })
            .collect()
    }
}

fn ids(s: &[(String, HashMap<String, String>)]) -> Vec<&str> {
    s.iter().map(|(i, _)| i.as_str()).collect()
}

#[tokio::test]
async fn the_nonhooks_pass_schedules_every_other_active_netkan_with_its_highest_versions() {
    let w = World::new();
    let (state, lines) = w.pass(&[("Group", "nonhooks")]).await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    let got = w.scheduled().await;
    // Sorted by case-folded name; DockCoinFlag is hook-only; frozen and broken ones never.
    assert_eq!(
        ids(&got),
        [
            "AwesomeMod",
            "CurseCoinFlag",
            "DogeCoinFlag",
            "NetkanCoinFlag",
            "OutOfOrder",
            "UnknownCoinFlag",
            "VrefCoinFlag"
        ]
    );
    let awesome = &got[0].1;
    assert_eq!(awesome["GameId"], "ksp");
    assert_eq!(awesome["HighestVersion"], "0.11");
    assert_eq!(awesome["HighestVersionPrerelease"], "0.12-rc1");
    assert!(
        !got[4].1.contains_key("HighestVersion"),
        "out of order: no highest versions"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("WARN NetKAN/Broken.netkan:")),
        "{lines:#?}"
    );
    assert_eq!(lines.last().unwrap(), "NOTICE ksp: 7 inflations queued");
}

#[tokio::test]
async fn the_webhooks_pass_takes_only_spacedock_krefs_without_vref_and_all_takes_both() {
    let w = World::new();
    w.pass(&[("Group", "webhooks")]).await;
    assert_eq!(ids(&w.scheduled().await), ["DockCoinFlag"]);
    let w = World::new();
    w.pass(&[("Group", "all")]).await;
    assert_eq!(w.scheduled().await.len(), 8);
    let (state, lines) = World::new().pass(&[("Group", "some")]).await;
    assert_eq!(state, JobState::Failed);
    assert!(
        lines.last().unwrap().contains("attribute Group"),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn a_pass_is_skipped_while_too_many_scheduled_inflations_wait() {
    let w = World::new();
    let queued: Vec<NewJob> = (0..3)
        .map(|i| {
            NewJob::new("inflate", QueueName::inbound(&netkan_common::Game::ksp()))
                .with_lane(Lane::Low)
                .with_attr("GameId", "ksp")
                .with_dedup_key(format!("ksp/Filler{i}"))
                .with_body(format!("{i}"))
        })
        .collect();
    enqueue(&w.redis, &w.jq(), &queued).await;
    let (state, lines) = w.pass(&[("Group", "nonhooks"), ("MaxQueued", "2")]).await;
    assert_eq!(state, JobState::Succeeded);
    assert!(
        lines.contains(&"WARN Run skipped for ksp: 3 messages in queue exceeds 2".to_owned()),
        "{lines:#?}"
    );
    assert_eq!(w.scheduled().await.len(), 3, "nothing added");
    assert_eq!(
        w.gh.notices()[0]["content"],
        "Run skipped for ksp: 3 messages in queue exceeds 2"
    );
    // High-lane (people's) requests do not count.
    let w = World::new();
    let high: Vec<NewJob> = (0..3)
        .map(|i| {
            NewJob::new("inflate", QueueName::inbound(&netkan_common::Game::ksp()))
                .with_body(format!("{i}"))
        })
        .collect();
    enqueue(&w.redis, &w.jq(), &high).await;
    w.pass(&[("Group", "nonhooks"), ("MaxQueued", "2")]).await;
    assert_eq!(w.scheduled().await.len(), 7);
}

#[tokio::test]
async fn a_pass_is_skipped_while_the_github_rate_limit_is_low() {
    let w = World::new();
    w.gh.state.lock().unwrap().remaining = 100;
    let (_, lines) = w
        .pass(&[("Group", "nonhooks"), ("MinGithubRemaining", "1500")])
        .await;
    assert!(
        lines.contains(
            &"WARN Run skipped for ksp; GitHub API rate limit remaining 100 below 1500".to_owned()
        ),
        "{lines:#?}"
    );
    assert!(w.scheduled().await.is_empty());
    // Without a token the gate is not consulted.
    let mut w = World::new();
    w.settings.hosts.github_token = netkan_common::config::Secret::default();
    w.gh.state.lock().unwrap().remaining = 100;
    w.pass(&[("Group", "nonhooks")]).await;
    assert_eq!(w.scheduled().await.len(), 7);
}

#[tokio::test]
async fn a_pass_whose_lock_is_held_is_skipped() {
    let w = World::new();
    let mut c = w.redis.conn().await;
    let holder = netkan_common::JobId::new();
    let () = redis::cmd("SET")
        .arg(w.jq().keys().lock("schedule:nonhooks"))
        .arg(holder.to_string())
        .query_async(&mut c)
        .await
        .unwrap();
    let (state, lines) = w.pass(&[("Group", "nonhooks")]).await;
    assert_eq!(state, JobState::Succeeded);
    assert_eq!(
        lines.last().unwrap(),
        &format!("NOTICE skipped: another nonhooks pass is running (job {holder})")
    );
    assert!(w.scheduled().await.is_empty());
}

#[tokio::test]
async fn two_processes_enqueue_one_pass_per_period_with_its_own_uuid_and_log() {
    let mut w = World::new();
    w.settings.scheduler.pass.enabled = true;
    w.settings.scheduler.pass.every_secs = 1;
    w.settings.scheduler.pass.max_queued = 100_000;
    let mut other = w.settings.clone();
    other.data_dir = w._dir.path().join("data-2");
    let (a, b) = (InProcess::start(&w.settings), InProcess::start(&other));
    let jq = w.jq();
    let conn = w.redis.conn().await;
    // Wait for four passes to have run.
    let runs = eventually(WAIT, "four periodic passes", || {
        let (mut c, jq) = (conn.clone(), jq.clone());
        async move {
            let done = jq.recent_finished(&mut c, None, None, 100).await.unwrap();
            let runs: std::collections::BTreeMap<_, _> = done
                .into_iter()
                .filter(|r| r.kind == "schedule")
                .map(|r| (r.id, r))
                .collect();
            (runs.len() >= 4).then_some(runs.into_values().collect::<Vec<_>>())
        }
    })
    .await;
    a.stop().await;
    b.stop().await;
    let mut periods = Vec::new();
    for r in &runs {
        assert_eq!(r.state, JobState::Succeeded);
        let lines = log(&w.redis, &jq, r.id).await;
        let first = &lines[0];
        assert!(
            first.starts_with("INFO periodic job schedule-pass for the period starting "),
            "{first}"
        );
        periods.push(first.split(", enqueued by").next().unwrap().to_owned());
    }
    let n = periods.len();
    periods.sort();
    periods.dedup();
    assert_eq!(periods.len(), n, "one job per period: {periods:#?}");
}

#[tokio::test]
async fn a_period_marked_by_a_ticker_that_died_before_enqueueing_still_gets_its_job() {
    use netkan_worker::periodic::{Period, Periodic, period_job_id};
    let redis = TestRedis::start();
    let jq = netkan_common::JobQueue::new(
        netkan_common::Keys::default(),
        netkan_common::JobSettings::default(),
    );
    // A period of about an hour whose end is at least 5 minutes away, so the marker below
    // cannot belong to a period that ends while the test runs (no waiting for a boundary).
    let now = chrono::Utc::now().timestamp_millis();
    let hour = (0..60)
        .map(|k| Period::Every(3_600_000 + k * 60_000))
        .find(|p| p.at(now).2 - now > 300_000)
        .expect("one of 60 period lengths a minute apart ends 5 minutes from now");
    let (n, _, _) = hour.at(now);
    let id = period_job_id(jq.keys().prefix(), "hourly", n);
    // What a ticker killed between marking the period and enqueueing leaves behind.
    let mut c = redis.conn().await;
    let () = redis::cmd("SET")
        .arg(jq.keys().periodic("hourly", n))
        .arg(id.to_string())
        .query_async(&mut c)
        .await
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let job = NewJob::new("noop", QueueName::new("hourly").unwrap());
    let ticker = tokio::spawn(netkan_worker::periodic::run(
        vec![Periodic {
            name: "hourly".into(),
            period: hour,
            job,
        }],
        jq.clone(),
        redis.url(),
        "w-2".into(),
        stop.clone(),
    ));
    let rec = eventually(WAIT, "the period's job", || {
        let (mut c, jq) = (c.clone(), jq.clone());
        async move { jq.job(&mut c, &id).await.unwrap() }
    })
    .await;
    assert_eq!(rec.state, JobState::Queued);
    // A second ticker of another process makes no second job for the period.
    let before = set_and_script_calls(&mut c).await;
    let stop2 = tokio_util::sync::CancellationToken::new();
    let again = tokio::spawn(netkan_worker::periodic::run(
        vec![Periodic {
            name: "hourly".into(),
            period: hour,
            job: NewJob::new("noop", QueueName::new("hourly").unwrap()),
        }],
        jq.clone(),
        redis.url(),
        "w-3".into(),
        stop2.clone(),
    ));
    // Waits until the second ticker has made its attempt: its `SET NX` of the marker and its
    // enqueue (a script), counted by Redis, beyond what was counted before it started.
    eventually(WAIT, "the second ticker's attempt", || {
        let mut c = c.clone();
        async move {
            let now = set_and_script_calls(&mut c).await;
            (now.0 > before.0 && now.1 > before.1).then_some(())
        }
    })
    .await;
    stop.cancel();
    stop2.cancel();
    ticker.await.unwrap();
    again.await.unwrap();
    let stats = jq.stats(&mut c).await.unwrap();
    let waiting: u64 = stats
        .iter()
        .filter(|q| q.queue == "hourly")
        .map(|q| q.high + q.low)
        .sum();
    assert_eq!(waiting, 1, "one job for the period: {stats:?}");
}

/// Calls of `SET` and of scripts (`EVALSHA`, `EVAL`) the server has counted.
async fn set_and_script_calls(c: &mut redis::aio::MultiplexedConnection) -> (u64, u64) {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(c)
        .await
        .unwrap();
    let calls = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{name}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (calls("set"), calls("evalsha") + calls("eval"))
}
