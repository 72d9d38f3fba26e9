//! The indexer (role `index`) end to end: outbound messages as the inflator sends them, a
//! real bare CKAN-meta, a real redis-server, a fake GitHub, workers in-process or as real
//! processes. The vectors of the reference's `tests/indexer.py` (DogeCoinFlag, its md5s,
//! staged branches, new files, failures), batching, races between indexers, crashes.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

mod support;

use std::time::Duration;

use netkan_common::status::StatusStore;
use netkan_common::testing::TestRedis;
use netkan_common::{Game, JobState, Lane, QueueName};
use netkan_worker::jobs::index::md5_hex;
use support::github::FakeGithub;
use support::world::{
    InProcess, bare_repo, enqueue, finished, git, log, outbound, pushes, settings, spawn_worker,
    subjects, waiting_in,
};

const DOGE: &str = include_str!("data/DogeCoinFlag-v1.02.ckan");
const DOGE_CHANGED: &str = include_str!("data/DogeCoinFlag-v1.02-changed.ckan");
const WAIT: Duration = Duration::from_secs(60);

#[test]
fn the_fixtures_have_the_reference_md5s() {
    assert_eq!(md5_hex(DOGE.as_bytes()), "709d9d3484f8c1c719b15a8c3425276a");
    assert_eq!(
        md5_hex(DOGE_CHANGED.as_bytes()),
        "bf8409d0819f44188ddf581dd03c1ccb"
    );
}

struct World {
    dir: tempfile::TempDir,
    redis: TestRedis,
    gh: FakeGithub,
    bare: std::path::PathBuf,
    settings: netkan_common::config::Settings,
}

impl World {
    /// CKAN-meta with `files`, a worker serving `index`.
    fn new(files: &[(&str, &[u8])]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let redis = TestRedis::start();
        let gh = FakeGithub::start();
        let bare = bare_repo(dir.path(), "CKAN-meta", files);
        let settings = settings(&redis, &dir.path().join("data"), &bare, &gh);
        Self {
            dir,
            redis,
            gh,
            bare,
            settings,
        }
    }

    fn jq(&self) -> netkan_common::JobQueue {
        self.settings.job_queue()
    }

    /// Runs `jobs` through one in-process worker; returns their logs.
    async fn index(&self, jobs: Vec<netkan_common::NewJob>) -> Vec<(JobState, Vec<String>)> {
        let worker = InProcess::start(&self.settings);
        let ids = enqueue(&self.redis, &self.jq(), &jobs).await;
        let mut out = Vec::new();
        for id in ids {
            let rec = finished(&self.redis, &self.jq(), id, WAIT).await;
            out.push((rec.state, log(&self.redis, &self.jq(), id).await));
        }
        worker.stop().await;
        out
    }

    async fn status(&self, id: &str) -> Option<netkan_common::status::ModStatus> {
        let mut c = self.redis.conn().await;
        StatusStore::new(self.settings.job_queue().keys().clone())
            .get(&mut c, &Game::ksp(), id)
            .await
            .unwrap()
    }

    async fn waiting(&self, queue: &QueueName) -> Vec<(String, String, String)> {
        waiting_in(&self.redis, &self.jq(), queue, Lane::High)
            .await
            .into_iter()
            .map(|f| (f["kind"].clone(), f["body"].clone(), f["attrs"].clone()))
            .collect()
    }
}

fn last(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or("")
}

#[tokio::test]
async fn an_unchanged_result_makes_no_commit_and_records_the_inflation() {
    let w = World::new(&[("DogeCoinFlag/DogeCoinFlag-v1.02.ckan", DOGE.as_bytes())]);
    let out = w.index(vec![outbound(DOGE, &[])]).await;
    let (state, lines) = &out[0];
    assert_eq!(*state, JobState::Succeeded, "{lines:#?}");
    assert_eq!(last(lines), "NOTICE unchanged DogeCoinFlag-v1.02.ckan");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("709d9d3484f8c1c719b15a8c3425276a") && l.contains("unchanged")),
        "{lines:#?}"
    );
    assert_eq!(subjects(&w.bare, "main"), vec!["Test Data"]);
    assert_eq!(pushes(&w.bare, "main"), 0);
    let s = w.status("DogeCoinFlag").await.unwrap();
    assert_eq!(s.success, Some(true));
    assert_eq!(s.last_indexed, None, "no commit, no last_indexed");
    assert_eq!(
        s.last_inflated
            .map(|t| netkan_common::status::isoformat(&t))
            .as_deref(),
        Some("2019-06-24T19:06:14+00:00")
    );
    assert_eq!(
        s.resources["repository"],
        "https://github.com/pjf/DogeCoinFlag"
    );
    assert!(
        w.waiting(&QueueName::mirroring()).await.is_empty(),
        "nothing to mirror"
    );
}

#[tokio::test]
async fn a_changed_result_is_committed_verbatim_pushed_and_mirrored() {
    let w = World::new(&[("DogeCoinFlag/DogeCoinFlag-v1.02.ckan", DOGE.as_bytes())]);
    let out = w
        .index(vec![outbound(DOGE_CHANGED, &[("GameId", "ksp")])])
        .await;
    let (state, lines) = &out[0];
    assert_eq!(*state, JobState::Succeeded, "{lines:#?}");
    assert_eq!(
        subjects(&w.bare, "main"),
        vec!["NetKAN updated mod - DogeCoinFlag-v1.02", "Test Data"]
    );
    let sha = git(&w.bare, &["rev-parse", "--short=7", "main"]);
    assert_eq!(
        last(lines),
        format!(
            "NOTICE committed DogeCoinFlag-v1.02.ckan ({}) to main",
            sha.trim()
        )
    );
    assert_eq!(
        git(
            &w.bare,
            &["show", "main:DogeCoinFlag/DogeCoinFlag-v1.02.ckan"]
        ),
        DOGE_CHANGED
    );
    let who = git(&w.bare, &["log", "-1", "--format=%an <%ae>", "main"]);
    assert_eq!(
        who.trim(),
        "NetKAN inflator Robot <netkan-bot@ksp-ckan.space>"
    );
    assert!(
        w.status("DogeCoinFlag")
            .await
            .unwrap()
            .last_indexed
            .is_some()
    );
    let mirror = w.waiting(&QueueName::mirroring()).await;
    assert_eq!(mirror.len(), 1);
    assert_eq!(mirror[0].0, "mirror");
    assert_eq!(mirror[0].1, "DogeCoinFlag/DogeCoinFlag-v1.02.ckan");
    assert_eq!(mirror[0].2, r#"{"GameId":"ksp"}"#);
}

#[tokio::test]
async fn a_new_file_is_added_and_the_same_message_twice_commits_once() {
    let w = World::new(&[]);
    let msg = outbound(DOGE, &[]);
    let again = outbound(DOGE, &[]);
    let out = w.index(vec![msg, again]).await;
    assert!(
        out.iter().all(|(s, _)| *s == JobState::Succeeded),
        "{out:#?}"
    );
    assert_eq!(
        subjects(&w.bare, "main"),
        vec!["NetKAN added mod - DogeCoinFlag-v1.02", "Test Data"]
    );
    // The first one's commit may not be pushed yet when the second looks: the second
    // reports the file unchanged once that commit is on the remote.
    assert!(
        last(&out[1].1).starts_with("NOTICE unchanged DogeCoinFlag-v1.02.ckan"),
        "{:?}",
        out[1].1
    );
    assert_eq!(pushes(&w.bare, "main"), 1);
}

#[tokio::test]
async fn a_staged_result_goes_to_its_branch_with_a_labelled_pull_request() {
    let w = World::new(&[("DogeCoinFlag/DogeCoinFlag-v1.02.ckan", DOGE.as_bytes())]);
    let reason = "Something to check\r\n\r\n| a | b |";
    let out = w
        .index(vec![outbound(
            DOGE_CHANGED,
            &[("Staged", "true"), ("StagingReason", reason)],
        )])
        .await;
    let (state, lines) = &out[0];
    assert_eq!(*state, JobState::Succeeded, "{lines:#?}");
    assert_eq!(
        last(lines),
        "NOTICE staged on add/DogeCoinFlag-v1.02, pull request #1"
    );
    assert_eq!(
        subjects(&w.bare, "main"),
        vec!["Test Data"],
        "primary untouched"
    );
    assert_eq!(
        subjects(&w.bare, "add/DogeCoinFlag-v1.02"),
        vec!["NetKAN updated mod - DogeCoinFlag-v1.02", "Test Data"]
    );
    let pulls = w.gh.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].title, "NetKAN inflated: DogeCoinFlag");
    assert_eq!(pulls[0].head, "add/DogeCoinFlag-v1.02");
    assert_eq!(pulls[0].base, "main");
    assert_eq!(pulls[0].body, reason);
    assert_eq!(pulls[0].labels, vec!["Needs looking into".to_owned()]);
    assert!(
        w.waiting(&QueueName::mirroring()).await.is_empty(),
        "staged results are not mirrored"
    );
    assert!(
        w.status("DogeCoinFlag")
            .await
            .unwrap()
            .last_indexed
            .is_some()
    );

    // Staged again with the same bytes: the branch has them, no commit, no second PR.
    let out = w
        .index(vec![outbound(DOGE_CHANGED, &[("Staged", "True")])])
        .await;
    assert_eq!(
        last(&out[0].1),
        "NOTICE unchanged DogeCoinFlag-v1.02.ckan on add/DogeCoinFlag-v1.02"
    );
    assert_eq!(w.gh.pulls().len(), 1);
}

#[tokio::test]
async fn a_staged_result_without_a_reason_gets_the_default_body_and_spaces_leave_the_branch_name() {
    let w = World::new(&[]);
    let body = DOGE.replace("\"v1.02\"", "\"v1 02\"");
    let out = w
        .index(vec![outbound(
            &body,
            &[
                ("Staged", "TRUE"),
                ("FileName", "./DogeCoinFlag-v1 02.ckan"),
            ],
        )])
        .await;
    assert_eq!(
        last(&out[0].1),
        "NOTICE staged on add/DogeCoinFlag-v102, pull request #1"
    );
    let pulls = w.gh.pulls();
    assert_eq!(
        pulls[0].body,
        "DogeCoinFlag has been staged, please test and merge"
    );
    assert_eq!(
        subjects(&w.bare, "add/DogeCoinFlag-v102")[0],
        "NetKAN added mod - DogeCoinFlag-v1 02"
    );
}

#[tokio::test]
async fn without_a_forge_a_staged_branch_is_pushed_and_the_log_says_where() {
    let mut w = World::new(&[]);
    w.settings.games.get_mut("ksp").unwrap().ckanmeta_repo = None;
    let out = w.index(vec![outbound(DOGE, &[("Staged", "True")])]).await;
    let lines = &out[0].1;
    assert_eq!(out[0].0, JobState::Succeeded, "{lines:#?}");
    let warning = format!(
        "WARN branch add/DogeCoinFlag-v1.02 pushed to {}; no pull request",
        w.bare.display()
    );
    assert!(lines.iter().any(|l| l.starts_with(&warning)), "{lines:#?}");
    assert_eq!(last(lines), "NOTICE staged on add/DogeCoinFlag-v1.02");
    assert_eq!(subjects(&w.bare, "add/DogeCoinFlag-v1.02").len(), 2);
    assert!(w.gh.pulls().is_empty());
}

#[tokio::test]
async fn a_failed_result_records_the_error_and_only_a_new_one_is_noticed() {
    let w = World::new(&[]);
    let err = "Curl download failed with error CouldntConnect";
    let failed = |e: &str| {
        outbound(
            "{}",
            &[("Success", "False"), ("FileName", ""), ("ErrorMessage", e)],
        )
    };
    let out = w.index(vec![failed(err), failed(err)]).await;
    assert_eq!(
        last(&out[0].1),
        format!("NOTICE recorded failure for DogeCoinFlag: {err}")
    );
    let s = w.status("DogeCoinFlag").await.unwrap();
    assert_eq!(s.last_error.as_deref(), Some(err));
    assert_eq!(s.success, Some(false));
    assert!(
        w.gh.notices().is_empty(),
        "a first or repeated error is no news"
    );
    assert_eq!(subjects(&w.bare, "main"), vec!["Test Data"]);

    w.gh.state.lock().unwrap().notify_fails = true;
    let out = w.index(vec![failed("Something else broke")]).await;
    let lines = &out[0].1;
    assert_eq!(
        out[0].0,
        JobState::Succeeded,
        "a failing webhook never fails the job: {lines:#?}"
    );
    assert!(
        lines.contains(
            &"NOTICE New inflation error for DogeCoinFlag: Something else broke".to_owned()
        ),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("WARN the notification webhook answered HTTP 500")),
        "{lines:#?}"
    );
    let notices = w.gh.notices();
    assert_eq!(notices.len(), 1);
    assert_eq!(
        notices[0]["content"],
        "New inflation error for DogeCoinFlag: Something else broke"
    );
    assert_eq!(notices[0]["netkan"]["kind"], "new_error");

    // Success clears the error; new warnings are noticed.
    w.gh.state.lock().unwrap().notify_fails = false;
    w.index(vec![outbound(DOGE, &[("WarningMessages", "w1\r\nw2")])])
        .await;
    let s = w.status("DogeCoinFlag").await.unwrap();
    assert_eq!(
        (s.last_error, s.last_warnings.as_deref()),
        (None, Some("w1\r\nw2"))
    );
    assert_eq!(w.gh.notices()[1]["netkan"]["kind"], "new_warnings");
}

#[tokio::test]
async fn a_bad_message_fails_permanently_naming_the_attribute() {
    let w = World::new(&[]);
    let out = w
        .index(vec![
            outbound(DOGE, &[("ModIdentifier", "../etc")]),
            outbound(DOGE, &[("Success", "maybe")]),
            outbound(DOGE, &[("CheckTime", "")]),
            outbound("not json", &[]),
        ])
        .await;
    for ((state, lines), what) in out.iter().zip([
        "ModIdentifier",
        "Success",
        "CheckTime",
        "not a .ckan JSON object",
    ]) {
        assert_eq!(*state, JobState::Failed);
        assert!(last(lines).contains(what), "{what}: {lines:#?}");
    }
    assert_eq!(subjects(&w.bare, "main"), vec!["Test Data"]);
}

#[tokio::test]
async fn results_arriving_together_are_committed_one_by_one_and_pushed_in_fewer_pushes() {
    let w = World::new(&[]);
    let mut settings = w.settings.clone();
    settings.worker.concurrency.insert("index".into(), 8);
    let jobs: Vec<_> = (0..8)
        .map(|i| {
            let id = format!("Mod{i}");
            let file = format!("./{id}-1.0.ckan");
            let body = format!("{{\n    \"identifier\": \"{id}\",\n    \"version\": \"1.0\"\n}}\n");
            outbound(&body, &[("ModIdentifier", &id), ("FileName", &file)])
        })
        .collect();
    let ids = enqueue(&w.redis, &w.jq(), &jobs).await;
    let worker = InProcess::start(&settings);
    for id in &ids {
        assert_eq!(
            finished(&w.redis, &w.jq(), *id, WAIT).await.state,
            JobState::Succeeded
        );
    }
    worker.stop().await;
    let added = subjects(&w.bare, "main")
        .iter()
        .filter(|s| s.starts_with("NetKAN added mod"))
        .count();
    assert_eq!(added, 8);
    let n = pushes(&w.bare, "main");
    assert!(n < 8, "8 commits claimed together took {n} pushes");
}

#[tokio::test]
async fn two_indexers_with_their_own_clones_race_to_push_and_lose_nothing() {
    let w = World::new(&[]);
    let mut other = w.settings.clone();
    other.data_dir = w.dir.path().join("data-2");
    let jobs: Vec<_> = (0..12)
        .map(|i| {
            let id = format!("Race{i}");
            let file = format!("./{id}-1.0.ckan");
            outbound(
                &format!("{{\"identifier\": \"{id}\"}}\n"),
                &[("ModIdentifier", &id), ("FileName", &file)],
            )
        })
        .collect();
    let (a, b) = (InProcess::start(&w.settings), InProcess::start(&other));
    let ids = enqueue(&w.redis, &w.jq(), &jobs).await;
    for id in &ids {
        let rec = finished(&w.redis, &w.jq(), *id, WAIT).await;
        assert_eq!(
            rec.state,
            JobState::Succeeded,
            "{:#?}",
            log(&w.redis, &w.jq(), *id).await
        );
    }
    a.stop().await;
    b.stop().await;
    for i in 0..12 {
        git(
            &w.bare,
            &["cat-file", "-e", &format!("main:Race{i}/Race{i}-1.0.ckan")],
        );
    }
    let added = subjects(&w.bare, "main")
        .iter()
        .filter(|s| s.starts_with("NetKAN added mod"))
        .count();
    assert_eq!(added, 12, "each file committed exactly once");
}

#[tokio::test]
async fn a_worker_killed_after_its_commit_and_before_its_push_is_pushed_once_after_restart() {
    let w = World::new(&[("DogeCoinFlag/DogeCoinFlag-v1.02.ckan", DOGE.as_bytes())]);
    let config = w.dir.path().join("netkan.toml");
    let mut crashing = spawn_worker(
        &w.settings,
        &config,
        &[("NETKAN_FAULT", "index-after-commit")],
    );
    let id = enqueue(&w.redis, &w.jq(), &[outbound(DOGE_CHANGED, &[])]).await[0];
    let status = tokio::task::spawn_blocking(move || crashing.wait().unwrap())
        .await
        .unwrap();
    assert!(!status.success(), "the fault hook aborts the worker");
    assert_eq!(
        subjects(&w.bare, "main"),
        vec!["Test Data"],
        "committed, not pushed"
    );

    let mut worker = spawn_worker(&w.settings, &config, &[]);
    let rec = finished(&w.redis, &w.jq(), id, WAIT).await;
    let lines = log(&w.redis, &w.jq(), id).await;
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert_eq!(rec.state, JobState::Succeeded, "{lines:#?}");
    assert_eq!(rec.attempts, 2);
    let sha = git(&w.bare, &["rev-parse", "--short=7", "main"]);
    assert_eq!(
        last(&lines),
        format!(
            "NOTICE committed DogeCoinFlag-v1.02.ckan ({}) to main (by an earlier attempt of this job)",
            sha.trim()
        )
    );
    assert_eq!(
        subjects(&w.bare, "main"),
        vec!["NetKAN updated mod - DogeCoinFlag-v1.02", "Test Data"]
    );
    assert_eq!(pushes(&w.bare, "main"), 1, "pushed once");
    assert!(
        w.status("DogeCoinFlag")
            .await
            .unwrap()
            .last_indexed
            .is_some()
    );
    // Delivered once more (an operator retry, say): still one commit.
    let out = w.index(vec![outbound(DOGE_CHANGED, &[])]).await;
    assert_eq!(last(&out[0].1), "NOTICE unchanged DogeCoinFlag-v1.02.ckan");
    assert_eq!(pushes(&w.bare, "main"), 1);
}

#[tokio::test]
async fn a_replayed_job_that_finds_its_bytes_already_in_ckan_meta_queues_the_mirror_job() {
    // What a job killed after its push and before it queued its mirror job finds on its next
    // attempt when its own commit cannot be found by its `Job-Id` (past the search horizon,
    // or pushed by another job's push): its bytes already in CKAN-meta, no commit of its own.
    // Without the mirror job the file would never be mirrored (docs/RELIABILITY.md, fix 5).
    let w = World::new(&[("DogeCoinFlag/DogeCoinFlag-v1.02.ckan", DOGE.as_bytes())]);
    let jq = w.jq();
    let id = enqueue(&w.redis, &jq, &[outbound(DOGE, &[])]).await[0];
    // The first attempt: claimed by a worker that then dies (never renews, never finishes).
    let mut c = w.redis.conn().await;
    let claim = jq
        .claim(&mut c, "killed-worker", &[QueueName::outbound()], 1, 0)
        .await
        .unwrap();
    assert_eq!(claim.jobs.len(), 1, "the first attempt was claimed");
    let worker = InProcess::start(&w.settings);
    let rec = finished(&w.redis, &jq, id, WAIT).await;
    let lines = log(&w.redis, &jq, id).await;
    worker.stop().await;
    assert_eq!(rec.state, JobState::Succeeded, "{lines:#?}");
    assert_eq!(rec.attempts, 2, "{lines:#?}");
    assert_eq!(last(&lines), "NOTICE unchanged DogeCoinFlag-v1.02.ckan");
    assert_eq!(pushes(&w.bare, "main"), 0, "nothing committed");
    let mirror = w.waiting(&QueueName::mirroring()).await;
    assert_eq!(
        mirror.len(),
        1,
        "the replay queued the mirror job: {lines:#?}"
    );
}

#[tokio::test]
async fn a_job_finding_its_bytes_in_a_killed_jobs_unpushed_commit_pushes_it_and_queues_the_mirror()
{
    // A worker killed after its commit and before its push leaves the commit in the clone;
    // its job is not run again (one attempt only, here). Another job with the same bytes
    // then finds them "unchanged" in the clone: it must push the waiting commit, or the
    // `.ckan` never reaches CKAN-meta (docs/RELIABILITY.md, fix 3).
    let mut w = World::new(&[("DogeCoinFlag/DogeCoinFlag-v1.02.ckan", DOGE.as_bytes())]);
    w.settings.jobs.max_attempts = 1;
    let config = w.dir.path().join("netkan.toml");
    let mut crashing = spawn_worker(
        &w.settings,
        &config,
        &[("NETKAN_FAULT", "index-after-commit")],
    );
    enqueue(&w.redis, &w.jq(), &[outbound(DOGE_CHANGED, &[])]).await;
    let status = tokio::task::spawn_blocking(move || crashing.wait().unwrap())
        .await
        .unwrap();
    assert!(!status.success(), "the fault hook aborts the worker");
    assert_eq!(subjects(&w.bare, "main"), vec!["Test Data"], "not pushed");

    let id = enqueue(&w.redis, &w.jq(), &[outbound(DOGE_CHANGED, &[])]).await[0];
    let mut worker = spawn_worker(&w.settings, &config, &[]);
    let rec = finished(&w.redis, &w.jq(), id, WAIT).await;
    let lines = log(&w.redis, &w.jq(), id).await;
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert_eq!(rec.state, JobState::Succeeded, "{lines:#?}");
    assert_eq!(
        subjects(&w.bare, "main"),
        vec!["NetKAN updated mod - DogeCoinFlag-v1.02", "Test Data"],
        "{lines:#?}"
    );
    assert_eq!(
        w.waiting(&QueueName::mirroring()).await.len(),
        1,
        "{lines:#?}"
    );
}
