//! The housekeeping role end to end: real redis-server, real bare repositories, workers
//! in-process, and local fake hosts (GitHub GraphQL and REST, SpaceDock, archive.org,
//! SourceForge). The reference's vectors (auto-freezer window and pull request body,
//! clean-cache age filter), the download counts of the whole real CKAN-meta corpus against an
//! independently computed file, failure isolation, rate limits, and one run at a time.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use netkan_common::config::{GameSettings, Secret, Settings};
use netkan_common::status::StatusStore;
use netkan_common::testing::{TestRedis, eventually};
use netkan_common::{Game, JobId, JobState, Lane, NewJob};
use netkan_worker::jobs::housekeeping::new_job;
use netkan_worker::jobs::ticket_close::MESSAGE;
use serde_json::{Value, json};
use support::corpus::corpus_copy;
use support::github::FakeGithub;
use support::hosts::{FakeHosts, Issue, Throttle, model};
use support::world::{InProcess, bare_repo, enqueue, finished, git, log, pushes, subjects};

const WAIT: Duration = Duration::from_secs(90);
const TOKEN: &str = "ghp_housekeeping_token";

/// Settings of a housekeeping worker: every outside host at `hosts`, no schedule running.
fn settings(redis: &TestRedis, data: &Path, hosts: &FakeHosts) -> Settings {
    let mut s = Settings {
        data_dir: data.to_owned(),
        ..Settings::default()
    };
    s.redis.url = Some(Secret::new(redis.url()));
    s.redis.pool_size = 4;
    s.worker.roles = vec!["housekeeping".into()];
    s.jobs.lease_ms = 1500;
    s.jobs.maintenance_interval_ms = 200;
    s.jobs.backoff_base_ms = 100;
    s.web.base_url = "http://netkan.test".into();
    s.hosts.github_api = hosts.url.clone();
    s.hosts.github_token = Secret::new(TOKEN);
    s.hosts.spacedock = hosts.url.clone();
    s.hosts.archive_org_views = hosts.url.clone();
    s.hosts.sourceforge = hosts.url.clone();
    let h = &mut s.housekeeping;
    h.download_count.enabled = false;
    h.auto_freeze.enabled = false;
    h.ticket_close.enabled = false;
    h.clean_cache.enabled = false;
    s
}

fn with_ckanmeta(mut s: Settings, bare: &Path) -> Settings {
    s.games.insert(
        "ksp".into(),
        GameSettings {
            ckanmeta: Some(Secret::new(bare.display().to_string())),
            ..GameSettings::default()
        },
    );
    s
}

/// A private Redis, the fake hosts, a data directory and the settings that use them.
struct World {
    dir: tempfile::TempDir,
    redis: TestRedis,
    hosts: FakeHosts,
    s: Settings,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let redis = TestRedis::start();
        let hosts = FakeHosts::start();
        let s = settings(&redis, &dir.path().join("data"), &hosts);
        Self {
            dir,
            redis,
            hosts,
            s,
        }
    }

    /// A world whose CKAN-meta is [`tree`]`(ia_mods, old)`.
    fn counting(ia_mods: usize, old: &Value) -> (Self, Tree, PathBuf) {
        let mut w = Self::new();
        let t = tree(ia_mods, old);
        let bare = repo_of(w.dir.path(), &t);
        w.s = with_ckanmeta(w.s, &bare);
        (w, t, bare)
    }

    async fn run(&self, kind: &str) -> (JobId, JobState, Vec<String>) {
        run_one(&self.redis, &self.s, kind).await
    }
}

/// Runs one housekeeping job of `kind` through a fresh in-process worker.
async fn run_one(redis: &TestRedis, s: &Settings, kind: &str) -> (JobId, JobState, Vec<String>) {
    let worker = InProcess::start(s);
    let jq = s.job_queue();
    let job = new_job(kind, Game::ksp(), Lane::High).unwrap();
    let id = enqueue(redis, &jq, &[job]).await[0];
    let rec = finished(redis, &jq, id, WAIT).await;
    let lines = log(redis, &jq, id).await;
    worker.stop().await;
    (id, rec.state, lines)
}

fn file_at(bare: &Path, branch: &str, path: &str) -> String {
    git(bare, &["show", &format!("{branch}:{path}")])
}

fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

// ---------------------------------------------------------------------------------------
// Download counts.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_real_corpus_is_counted_as_the_independent_expectation_and_once_only() {
    let w = World::new();
    let (dir, redis, hosts) = (&w.dir, &w.redis, &w.hosts);
    let bare = corpus_copy(&dir.path().join("CKAN-meta.git"));
    let old: BTreeMap<String, u64> =
        serde_json::from_str(&file_at(&bare, "master", "download_counts.json")).unwrap();
    let s = with_ckanmeta(w.s.clone(), &bare);

    let (id, state, lines) = run_one(redis, &s, "download-count").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    // Byte for byte what Python's json.dumps writes for the model's answers
    // (tests/data/download_counts_expected.py).
    let expected = include_str!("data/download-counts-corpus.json");
    let written = file_at(&bare, "master", "download_counts.json");
    if written != expected {
        let first = written
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b);
        panic!(
            "download_counts.json differs from the expectation, first at line {:?}: {:?} (expected {:?}); {} bytes (expected {}); log {lines:#?}",
            first.map(|n| n + 1),
            first.and_then(|n| written.lines().nth(n)),
            first.and_then(|n| expected.lines().nth(n)),
            written.len(),
            expected.len()
        );
    }
    assert_eq!(
        subjects(&bare, "master")[0],
        "NetKAN updating download counts"
    );
    let message = git(&bare, &["log", "-1", "--format=%B", "master"]);
    assert!(message.contains(&format!("Job-Id: {id}")), "{message}");
    assert_eq!(pushes(&bare, "master"), 1);

    // The hosts were asked as the reference asks them.
    {
        let st = hosts.state.lock().unwrap();
        let b = &st.graphql_batches;
        assert!(b.len() > 100, "{} GraphQL queries", b.len());
        assert!(b[..b.len() - 1].iter().all(|n| *n == 10), "{b:?}");
        assert!(
            st.graphql_auth
                .iter()
                .all(|a| a == &format!("bearer {TOKEN}"))
        );
        assert_eq!(st.spacedock_forms.len(), 1, "one SpaceDock request");
        let a = &st.archive_batches;
        assert!(
            !a.is_empty() && a[..a.len() - 1].iter().all(|n| *n == 30),
            "{a:?}"
        );
    }

    // The summaries: top five all-time and since the previous (real) file.
    let expected: BTreeMap<String, u64> = serde_json::from_str(expected).unwrap();
    let top = |m: &BTreeMap<String, i64>| -> Vec<String> {
        let mut v: Vec<(&String, &i64)> = m.iter().filter(|(_, n)| **n > 0).collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.into_iter()
            .take(5)
            .map(|(id, n)| format!("NOTICE     {n:>8}  {id}"))
            .collect()
    };
    let all_time: BTreeMap<String, i64> = expected
        .iter()
        .map(|(k, v)| (k.clone(), *v as i64))
        .collect();
    let today: BTreeMap<String, i64> = expected
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), *v as i64 - *old.get(k)? as i64)))
        .collect();
    let at = lines
        .iter()
        .position(|l| l == "NOTICE Top 5 downloads for ksp all-time:")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(lines[at + 1..at + 6], top(&all_time)[..]);
    let at = lines
        .iter()
        .position(|l| l == "NOTICE Top 5 downloads for ksp today:")
        .unwrap();
    let today_top = top(&today);
    assert_eq!(lines[at + 1..at + 1 + today_top.len()], today_top[..]);

    // Counted again with the same answers: nothing to commit.
    let (_, state, lines) = run_one(redis, &s, "download-count").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    assert!(
        has(
            &lines,
            "NOTICE download counts match existing data (3402 mods)"
        ),
        "{lines:#?}"
    );
    assert_eq!(pushes(&bare, "master"), 1);
}

/// A small CKAN-meta: one mod per host, a mod on two hosts, a prerelease, DLC, a metapackage,
/// and `ia_mods` more mods mirrored on archive.org; with a previous `download_counts.json`.
struct Tree {
    files: Vec<(String, Vec<u8>)>,
    sd_id: u64,
    repo: (String, String),
}

fn ckan(id: &str, version: &str, extra: Value) -> (String, Vec<u8>) {
    let mut v =
        json!({"spec_version": 1, "identifier": id, "version": version, "license": "restricted"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    (
        format!("{id}/{id}-{version}.ckan"),
        serde_json::to_vec_pretty(&v).unwrap(),
    )
}

fn tree(ia_mods: usize, old: &Value) -> Tree {
    // Parameters for which the model answers something, and a repository with a fork parent.
    let sd_id = (100..)
        .find(|&i| matches!(model::sd(i), Some(n) if n > 0))
        .unwrap();
    let repo = (0..)
        .map(|i| (format!("owner{i}"), "Mod".to_owned()))
        .find(|(o, r)| !model::gh_missing(o, r) && model::gh_parent(o, r).is_some())
        .unwrap();
    let gh = format!(
        "https://github.com/{}/{}/releases/download/v2/GitMod.zip",
        repo.0, repo.1
    );
    let mirrored = |id: &str| {
        json!({"license": "MIT", "download": format!("https://example.com/{id}.zip"),
               "download_hash": {"sha1": "DF564E21ABCDEF0123456789", "sha256": "00"},
               "download_content_type": "application/zip"})
    };
    let mut files = vec![
        ckan("GitMod", "1.0", json!({"download": gh})),
        ckan("GitMod", "2.0", json!({"download": gh})),
        ckan(
            "GitMod",
            "3.0",
            json!({"download": gh, "release_status": "testing"}),
        ),
        ckan(
            "SdMod",
            "1",
            json!({"download": format!("https://spacedock.info/mod/{sd_id}/SdMod/download/1")}),
        ),
        ckan(
            "Both",
            "1",
            json!({"download": [gh.clone(), format!("https://spacedock.info/mod/{sd_id}/x/download/1")]}),
        ),
        ckan(
            "SfMod",
            "0.1",
            json!({"download": "https://downloads.sourceforge.net/project/sfproj/SfMod-0.1.zip"}),
        ),
        ckan("IaMod", "1", mirrored("IaMod")),
        ckan("DlcMod", "1", json!({"kind": "dlc", "download": gh})),
        ckan("MetaMod", "1", json!({"kind": "metapackage"})),
    ];
    for i in 0..ia_mods {
        files.push(ckan(
            &format!("Mirrored{i}"),
            "1",
            mirrored(&format!("Mirrored{i}")),
        ));
    }
    files.push((
        "download_counts.json".into(),
        serde_json::to_vec_pretty(old).unwrap(),
    ));
    Tree { files, sd_id, repo }
}

fn repo_of(dir: &Path, t: &Tree) -> PathBuf {
    let files: Vec<(&str, &[u8])> = t
        .files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    bare_repo(dir, "CKAN-meta", &files)
}

fn counts(bare: &Path) -> BTreeMap<String, u64> {
    serde_json::from_str(&file_at(bare, "main", "download_counts.json")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_host_is_counted_and_prereleases_dlc_and_metapackages_are_not() {
    let (w, t, bare) = World::counting(0, &json!({}));
    let hosts = &w.hosts;
    let (_, state, lines) = w.run("download-count").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    let gh = model::gh_total(&t.repo.0, &t.repo.1);
    assert!(
        gh > model::gh_own(&t.repo.0, &t.repo.1),
        "the fork parent counts too"
    );
    let sd = model::sd(t.sd_id).unwrap();
    let ia = model::ia("IaMod-1").unwrap_or(0);
    let mut want: BTreeMap<String, u64> = [
        ("GitMod".to_owned(), gh),
        ("SdMod".into(), sd),
        ("Both".into(), gh + sd),
        ("SfMod".into(), model::sf("sfproj")),
    ]
    .into_iter()
    .collect();
    if model::ia("IaMod-1").is_some() {
        want.insert("IaMod".into(), ia);
    }
    assert_eq!(counts(&bare), want);
    // The same repository is asked once, for the first mod that wants it.
    assert_eq!(hosts.state.lock().unwrap().graphql_batches, vec![1]);
    let form = hosts.state.lock().unwrap().spacedock_forms[0].clone();
    assert_eq!(form, format!("mod_id={}", t.sd_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unchanged_counts_make_no_commit() {
    let (w, _, bare) = World::counting(0, &json!({}));
    let (_, state, lines) = w.run("download-count").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    assert!(
        has(&lines, "download counts changed: committed"),
        "{lines:#?}"
    );
    let (_, state, lines) = w.run("download-count").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    assert!(
        has(
            &lines,
            &format!(
                "NOTICE download counts match existing data ({} mods)",
                counts(&bare).len()
            )
        ),
        "{lines:#?}"
    );
    assert!(
        has(&lines, "NOTICE Top 5 downloads for ksp today:"),
        "{lines:#?}"
    );
    assert_eq!(pushes(&bare, "main"), 1);
    assert_eq!(subjects(&bare, "main").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_host_costs_only_its_own_mods_which_keep_their_previous_counts() {
    let old = json!({"SdMod": 999_999, "GitMod": 1, "SfMod": 2});
    let (w, t, bare) = World::counting(0, &old);
    let hosts = &w.hosts;
    hosts
        .state
        .lock()
        .unwrap()
        .failing
        .insert("spacedock".into());
    let (_, state, lines) = w.run("download-count").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    assert!(
        has(&lines, "ERROR SpaceDock download counts failed: HTTP 500"),
        "{lines:#?}"
    );
    let c = counts(&bare);
    let gh = model::gh_total(&t.repo.0, &t.repo.1);
    // SpaceDock's mod keeps its old count; the others are counted anew.
    assert_eq!(c.get("SdMod"), Some(&999_999));
    assert_eq!(c.get("GitMod"), Some(&gh));
    assert_eq!(c.get("SfMod"), Some(&model::sf("sfproj")));
    // Both had no previous count: its GitHub part stands.
    assert_eq!(c.get("Both"), Some(&gh));
    assert!(has(
        &lines,
        "1 mods kept their previous count because a host failed"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_archive_org_is_not_asked_again_in_the_same_run() {
    let (w, t, bare) = World::counting(40, &json!({"Mirrored35": 5}));
    let redis = &w.redis;
    let mut s = w.s.clone();
    // Nothing listens there: connecting fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    s.hosts.archive_org_views = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (_, state, lines) = run_one(redis, &s, "download-count").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    let failures: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("archive.org views failed"))
        .collect();
    assert_eq!(failures.len(), 1, "{lines:#?}");
    assert!(failures[0].contains("archive.org counting is off for the rest of this run"));
    let c = counts(&bare);
    assert_eq!(c.get("Mirrored35"), Some(&5));
    assert!(!c.contains_key("Mirrored1"));
    assert_eq!(c.get("SdMod"), model::sd(t.sd_id).as_ref());
}

fn throttle(status: u16, headers: &[(&str, String)]) -> Throttle {
    Throttle {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_github_throttles_are_waited_out_in_the_job() {
    let (w, t, bare) = World::counting(0, &json!({}));
    let hosts = &w.hosts;
    {
        let now = Utc::now().timestamp();
        let mut st = hosts.state.lock().unwrap();
        st.throttle
            .push_back(throttle(403, &[("Retry-After", "0".into())]));
        st.throttle.push_back(throttle(
            200,
            &[
                ("X-RateLimit-Remaining", "0".into()),
                ("X-RateLimit-Reset", (now - 5).to_string()),
            ],
        ));
    }
    let (_, state, lines) = w.run("download-count").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    let waits = lines
        .iter()
        .filter(|l| l.starts_with("WARN GitHub throttled the download counter"))
        .count();
    assert_eq!(waits, 2, "{lines:#?}");
    assert_eq!(hosts.requests("POST /graphql").len(), 3);
    assert_eq!(
        counts(&bare).get("GitMod"),
        Some(&model::gh_total(&t.repo.0, &t.repo.1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_github_that_throttles_every_try_costs_only_the_github_mods() {
    let (w, t, bare) = World::counting(0, &json!({"GitMod": 77}));
    let hosts = &w.hosts;
    for _ in 0..5 {
        hosts
            .state
            .lock()
            .unwrap()
            .throttle
            .push_back(throttle(429, &[("Retry-After", "0".into())]));
    }
    let (_, state, lines) = w.run("download-count").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    assert!(has(
        &lines,
        "ERROR GitHub download count query ran out of retries"
    ));
    assert_eq!(hosts.requests("POST /graphql").len(), 5);
    let c = counts(&bare);
    assert_eq!(c.get("GitMod"), Some(&77));
    assert_eq!(c.get("SdMod"), model::sd(t.sd_id).as_ref());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_github_throttle_ends_the_attempt_until_the_limit_resets() {
    let (w, _, bare) = World::counting(0, &json!({}));
    let (redis, hosts) = (&w.redis, &w.hosts);
    let reset = Utc::now().timestamp() + 3600;
    hosts.state.lock().unwrap().throttle.push_back(throttle(
        403,
        &[
            ("X-RateLimit-Remaining", "0".into()),
            ("X-RateLimit-Reset", reset.to_string()),
        ],
    ));
    let s = w.s.clone();
    let worker = InProcess::start(&s);
    let jq = s.job_queue();
    let id = enqueue(
        redis,
        &jq,
        &[new_job("download-count", Game::ksp(), Lane::High).unwrap()],
    )
    .await[0];
    let conn = redis.conn().await;
    let rec = eventually(WAIT, "the job to wait for GitHub's reset", || {
        let (mut c, jq) = (conn.clone(), jq.clone());
        async move {
            jq.job(&mut c, &id)
                .await
                .unwrap()
                .filter(|r| r.retry_at.is_some())
        }
    })
    .await;
    worker.stop().await;
    assert_eq!(rec.state, JobState::Queued);
    let due = rec.retry_at.unwrap().timestamp();
    assert!(
        (reset - 60..=reset + 5).contains(&due),
        "due {due}, reset {reset}"
    );
    let lines = log(redis, &jq, id).await;
    assert!(has(&lines, "(not counted as an attempt)"), "{lines:#?}");
    assert!(has(&lines, "GitHub asked to wait"), "{lines:#?}");
    // Nothing was written: the run starts over once the limit resets.
    assert_eq!(pushes(&bare, "main"), 0);
    assert_eq!(hosts.requests("POST /graphql").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_run_one_download_count_at_a_time() {
    let (w, _, bare) = World::counting(0, &json!({}));
    let (redis, hosts) = (&w.redis, &w.hosts);
    let mut s = w.s.clone();
    s.worker.concurrency.insert("housekeeping".into(), 1);
    let mut s2 = s.clone();
    s2.data_dir = w.dir.path().join("data2");
    let (w1, w2) = (InProcess::start(&s), InProcess::start(&s2));
    let jq = s.job_queue();
    hosts.set_gate(false);
    let first = enqueue(
        redis,
        &jq,
        &[new_job("download-count", Game::ksp(), Lane::High).unwrap()],
    )
    .await[0];
    eventually(WAIT, "the first run to ask GitHub", || async {
        (!hosts.requests("POST /graphql").is_empty()).then_some(())
    })
    .await;
    let second = enqueue(
        redis,
        &jq,
        &[new_job("download-count", Game::ksp(), Lane::High).unwrap()],
    )
    .await[0];
    let rec2 = finished(redis, &jq, second, WAIT).await;
    let lines2 = log(redis, &jq, second).await;
    assert_eq!(rec2.state, JobState::Succeeded, "{lines2:#?}");
    assert!(
        has(
            &lines2,
            &format!(
                "skipped: another download-count run holds housekeeping:download-count:ksp (job {first})"
            )
        ),
        "{lines2:#?}"
    );
    hosts.set_gate(true);
    let rec1 = finished(redis, &jq, first, WAIT).await;
    assert_eq!(rec1.state, JobState::Succeeded);
    assert_ne!(rec1.worker, rec2.worker, "each worker took one");
    w1.stop().await;
    w2.stop().await;
    assert_eq!(pushes(&bare, "main"), 1);
    assert_eq!(hosts.requests("POST /graphql").len(), 1);
}

// ---------------------------------------------------------------------------------------
// The schedule.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_schedule_makes_one_run_per_period_across_two_workers() {
    let w = World::new();
    let (dir, redis) = (&w.dir, &w.redis);
    let mut s = w.s.clone();
    s.housekeeping.clean_cache.enabled = true;
    s.housekeeping.clean_cache.every_secs = 1;
    let mut s2 = s.clone();
    s2.data_dir = dir.path().join("data2");
    let (w1, w2) = (InProcess::start(&s), InProcess::start(&s2));
    let jq = s.job_queue();
    let conn = redis.conn().await;
    let runs = eventually(WAIT, "four scheduled cache cleanings", || {
        let (mut c, jq) = (conn.clone(), jq.clone());
        async move {
            let r = jq
                .recent_finished(&mut c, None, Some("clean-cache"), 100)
                .await
                .unwrap();
            (r.len() >= 4).then_some(r)
        }
    })
    .await;
    w1.stop().await;
    w2.stop().await;
    let mut periods = Vec::new();
    let mut cleaned_runs = 0;
    for r in &runs {
        assert_eq!(r.state, JobState::Succeeded);
        assert_eq!(r.lane, Lane::Low);
        let lines = log(redis, &jq, r.id).await;
        let period = lines
            .iter()
            .find(|l| l.starts_with("INFO periodic job clean-cache for the period starting "))
            .unwrap_or_else(|| panic!("{lines:#?}"))
            .clone();
        // Periods are a second long here: under load a run may still hold the lock when the
        // next period's starts, which then skips (one run at a time), saying so.
        let cleaned = has(&lines, "NOTICE freed 0 bytes (0 files)");
        assert!(
            cleaned || has(&lines, "NOTICE skipped: another clean-cache run holds"),
            "{lines:#?}"
        );
        cleaned_runs += usize::from(cleaned);
        periods.push(period);
    }
    assert!(cleaned_runs >= 1, "no run cleaned anything");
    let n = periods.len();
    periods.sort();
    periods.dedup();
    assert_eq!(periods.len(), n, "a period ran twice: {periods:#?}");
}

// ---------------------------------------------------------------------------------------
// The auto-freezer.
// ---------------------------------------------------------------------------------------

struct FreezeWorld {
    _dir: tempfile::TempDir,
    redis: TestRedis,
    gh: FakeGithub,
    bare: PathBuf,
    settings: Settings,
    now: DateTime<Utc>,
}

impl FreezeWorld {
    async fn new(with_forge: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let redis = TestRedis::start();
        let gh = FakeGithub::start();
        let hosts = FakeHosts::start();
        let netkan = |id: &str| {
            (
                format!("NetKAN/{id}.netkan"),
                format!("identifier: {id}\n$kref: '#/ckan/github/a/{id}'\n"),
            )
        };
        let files: Vec<(String, String)> = [
            "Astrogator",
            "SmartTank",
            "Ringworld",
            "Indexed",
            "NoStatus",
        ]
        .iter()
        .map(|id| netkan(id))
        .chain([(
            "NetKAN/WasFrozen.frozen".to_owned(),
            "identifier: WasFrozen\n".to_owned(),
        )])
        .collect();
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_bytes()))
            .collect();
        let bare = bare_repo(dir.path(), "NetKAN", &refs);
        let mut s = settings(&redis, &dir.path().join("data"), &hosts);
        s.hosts.github_api = gh.url.clone();
        s.games.insert(
            "ksp".into(),
            GameSettings {
                netkan: Some(Secret::new(bare.display().to_string())),
                netkan_repo: with_forge.then(|| "KSP-CKAN/NetKAN".to_owned()),
                ..GameSettings::default()
            },
        );
        let now = Utc::now();
        let ago = |days: i64| {
            (now - chrono::Duration::days(days))
                .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
                .to_string()
        };
        let dump = json!({"ksp": {
            "Astrogator": {"release_date": ago(1001), "frozen": false,
                "resources": {"homepage": "https://forum.kerbalspaceprogram.com/index.php?/topic/155998-*"}},
            "SmartTank": {"release_date": ago(1050), "resources": {"repository": "https://github.com/HebaruSan/SmartTank"}},
            "Ringworld": {"release_date": ago(0), "resources": {"bugtracker": "https://github.com/HebaruSan/Ringworld/issues"}},
            "Indexed": {"release_date": null, "last_indexed": ago(1010)},
            "Gone": {"release_date": ago(5), "frozen": false},
            "WasFrozen": {"release_date": ago(2000), "frozen": false}
        }});
        let mut c = redis.conn().await;
        StatusStore::new(s.job_queue().keys().clone())
            .restore(&mut c, &dump)
            .await
            .unwrap();
        Self {
            _dir: dir,
            redis,
            gh,
            bare,
            settings: s,
            now,
        }
    }

    async fn frozen(&self, id: &str) -> bool {
        let mut c = self.redis.conn().await;
        StatusStore::new(self.settings.job_queue().keys().clone())
            .get(&mut c, &Game::ksp(), id)
            .await
            .unwrap()
            .unwrap()
            .frozen
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_auto_freezer_proposes_freshly_idle_mods_and_marks_gone_ones_frozen() {
    let w = FreezeWorld::new(true).await;
    let (id, state, lines) = run_one(&w.redis, &w.settings, "auto-freeze").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    // Oldest first; SmartTank is too old, Ringworld active, NoStatus unknown.
    assert_eq!(
        subjects(&w.bare, "freeze/auto"),
        ["Freeze Astrogator", "Freeze Indexed", "Test Data"]
    );
    let message = git(&w.bare, &["log", "-1", "--format=%B", "freeze/auto"]);
    assert!(message.contains(&format!("Job-Id: {id}")));
    let on_branch = git(
        &w.bare,
        &["ls-tree", "--name-only", "freeze/auto", "NetKAN/"],
    );
    assert!(
        on_branch.contains("NetKAN/Astrogator.frozen")
            && !on_branch.contains("NetKAN/Astrogator.netkan")
    );
    assert!(on_branch.contains("NetKAN/SmartTank.netkan"));
    assert_eq!(subjects(&w.bare, "main"), ["Test Data"]);

    let pulls = w.gh.pulls();
    assert_eq!(pulls.len(), 1);
    let pr = &pulls[0];
    assert_eq!(
        (pr.repo.as_str(), pr.head.as_str(), pr.base.as_str()),
        ("KSP-CKAN/NetKAN", "freeze/auto", "main")
    );
    assert_eq!(pr.title, "Freeze idle mods");
    assert_eq!(pr.labels, ["Pull request", "Freeze", "Needs looking into"]);
    let when = |days: i64| (w.now - chrono::Duration::days(days)).format("%Y-%m-%d %H:%M");
    assert_eq!(
        pr.body,
        format!(
            "The attached mods have not updated in 1000 or more days. Freeze them to save the bot some CPU cycles.\n\nMod | Last Update\n:-- | :--\n**Indexed** | {} UTC\n**Astrogator**<br>[homepage](https://forum.kerbalspaceprogram.com/index.php?/topic/155998-*) | {} UTC",
            when(1010),
            when(1001)
        )
    );
    // No .netkan on the primary branch any more: frozen in the status store.
    assert!(w.frozen("Gone").await);
    assert!(w.frozen("WasFrozen").await);
    assert!(
        !w.frozen("Astrogator").await,
        "frozen only once the pull request is merged"
    );

    // Next week: the branch has them already; the open pull request gets the body again.
    let (_, state, lines) = run_one(&w.redis, &w.settings, "auto-freeze").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    assert!(has(&lines, "INFO Already froze Astrogator"), "{lines:#?}");
    assert_eq!(subjects(&w.bare, "freeze/auto").len(), 3);
    let pulls = w.gh.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].comments, [pulls[0].body.clone()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_forge_the_freeze_branch_is_pushed_and_the_log_says_so() {
    let w = FreezeWorld::new(false).await;
    let (_, state, lines) = run_one(&w.redis, &w.settings, "auto-freeze").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    assert!(
        has(
            &lines,
            "NOTICE branch freeze/auto pushed; no pull request: set games.ksp.netkan_repo"
        ),
        "{lines:#?}"
    );
    assert_eq!(subjects(&w.bare, "freeze/auto").len(), 3);
    assert!(w.gh.pulls().is_empty());
}

// ---------------------------------------------------------------------------------------
// The ticket closer.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ticket_closer_closes_only_stale_answered_support_tickets() {
    let w = World::new();
    let (redis, hosts) = (&w.redis, &w.hosts);
    let old = (Utc::now() - chrono::Duration::days(8)).to_rfc3339();
    let recent = (Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let many: Vec<&str> = std::iter::repeat_n("helper", 100).chain(["op"]).collect();
    {
        let mut st = hosts.state.lock().unwrap();
        let mut bug = Issue::support(5, "op", &["helper"], &old);
        bug.labels = vec!["bug".into()];
        let mut assigned = Issue::support(6, "op", &["helper"], &old);
        assigned.assignee = Some("maintainer".into());
        st.issues.insert(
            "KSP-CKAN/CKAN".into(),
            vec![
                Issue::support(1, "op", &[], &old),
                Issue::support(2, "op", &["helper", "op"], &old),
                Issue::support(3, "op", &["helper"], &recent),
                Issue::support(4, "op", &["op", "helper"], &old),
                bug,
                assigned,
                // 101 comments: the last, on the second page, is the author's.
                Issue::support(7, "op", &many, &old),
            ],
        );
        // More than a page of issues.
        let mut netkan: Vec<Issue> = (1000..1100)
            .map(|n| Issue::support(n, "someone", &[], &old))
            .collect();
        netkan.push(Issue::support(2000, "someone", &["helper"], &old));
        st.issues.insert("KSP-CKAN/NetKAN".into(), netkan);
    }
    let mut s = w.s.clone();
    s.housekeeping.ticket_close.repositories =
        vec!["KSP-CKAN/CKAN".into(), "KSP-CKAN/NetKAN".into()];
    let (_, state, lines) = run_one(redis, &s, "ticket-close").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    let st = hosts.state.lock().unwrap();
    let closed: Vec<(String, u64)> = st
        .issues
        .iter()
        .flat_map(|(repo, is)| {
            is.iter()
                .filter(|i| i.state == "closed")
                .map(move |i| (repo.clone(), i.number))
        })
        .collect();
    assert_eq!(
        closed,
        [
            ("KSP-CKAN/CKAN".to_owned(), 4),
            ("KSP-CKAN/NetKAN".to_owned(), 2000)
        ]
    );
    for (repo, n) in &closed {
        let i = st.issues[repo].iter().find(|i| i.number == *n).unwrap();
        assert_eq!(i.state_reason.as_deref(), Some("not_planned"));
        assert_eq!(i.posted, [MESSAGE]);
    }
    assert!(
        st.issues
            .values()
            .flatten()
            .filter(|i| i.state == "open")
            .all(|i| i.posted.is_empty())
    );
    assert!(has(
        &lines,
        "INFO Skipped (no comments): Problem 1 (KSP-CKAN/CKAN#1)"
    ));
    assert!(has(
        &lines,
        "INFO Skipped (author comment): Problem 2 (KSP-CKAN/CKAN#2)"
    ));
    assert!(has(
        &lines,
        "INFO Skipped (recent update): Problem 3 (KSP-CKAN/CKAN#3)"
    ));
    assert!(has(
        &lines,
        "INFO Skipped (author comment): Problem 7 (KSP-CKAN/CKAN#7)"
    ));
    assert!(has(&lines, "INFO Closing: Problem 4 (KSP-CKAN/CKAN#4)"));
    assert!(has(
        &lines,
        "NOTICE closed 2 support tickets in 2 repositories"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ticket_closer_without_repositories_says_why_it_did_nothing() {
    let w = World::new();
    let (redis, hosts) = (&w.redis, &w.hosts);
    let s = w.s.clone();
    let (_, state, lines) = run_one(redis, &s, "ticket-close").await;
    assert_eq!(state, JobState::Succeeded);
    assert!(
        has(
            &lines,
            "NOTICE no repositories are configured (housekeeping.ticket_close.repositories)"
        ),
        "{lines:#?}"
    );
    assert!(hosts.requests("").is_empty());
}

// ---------------------------------------------------------------------------------------
// The cache cleaner.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cache_cleaner_removes_only_files_older_than_the_limit() {
    let w = World::new();
    let (dir, redis) = (&w.dir, &w.redis);
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let aged = |name: &str, days: u64, bytes: usize| {
        let p = cache.join(name);
        std::fs::write(&p, vec![b'x'; bytes]).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(days * 86_400))
            .unwrap();
    };
    aged("3C69B375-AwesomeMod-1.0.0.zip", 31, 100);
    aged("3C69B375-AwesomeMod-1.0.0.zip.sha256", 31, 64);
    aged("25B8A610-NASA-CountDown-1.3.9.1.zip", 29, 10);
    let mut s = w.s.clone();
    s.cache.dir = Some(cache.clone());
    let (_, state, lines) = run_one(redis, &s, "clean-cache").await;
    assert_eq!(state, JobState::Succeeded, "{lines:#?}");
    let left: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["25B8A610-NASA-CountDown-1.3.9.1.zip"]);
    assert!(
        has(&lines, "3C69B375-AwesomeMod-1.0.0.zip (100 bytes)"),
        "{lines:#?}"
    );
    assert!(
        has(&lines, "NOTICE freed 164 bytes (2 files) in"),
        "{lines:#?}"
    );
}

#[test]
fn unknown_housekeeping_kinds_are_refused_with_the_known_ones() {
    let e = new_job("dust", Game::ksp(), Lane::High).unwrap_err();
    assert!(
        e.contains("download-count, auto-freeze, ticket-close, clean-cache"),
        "{e}"
    );
    let job: NewJob = new_job("auto-freeze", Game::new("ksp2").unwrap(), Lane::Low).unwrap();
    assert_eq!(job.queue.as_str(), "housekeeping");
    assert_eq!(job.game.as_str(), "ksp2");
}
