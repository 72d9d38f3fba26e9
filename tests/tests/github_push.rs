//! GitHub push deliveries → web → push worker → inflation jobs, for two games whose NetKAN
//! repositories are on different branches (`ksp` on `master`, `ksp2` on `main`, as
//! KSP-CKAN's are). Real bare repositories pushed to with the real `git`, the delivery built
//! from those commits in the shape GitHub sends (`before`, `after`, `commits[]`,
//! `head_commit`, ...), signed, and POSTed to the web front end running in-process beside
//! the push worker, on a private redis-server.
//!
//! Also each class of failure of the push worker: permanent ones end `failed` at once,
//! a commit that never arrives is looked for `worker.missing_commit_attempts` times and then
//! fails with the reason, an unreachable repository is retried.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use netkan_common::config::{GameSettings, Secret, Settings};
use netkan_common::requests::{self, PushRequest};
use netkan_common::testing::{TestRedis, eventually};
use netkan_common::{Game, JobId, JobQueue, JobRecord, JobState};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "It's a Secret to Everybody";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "HebaruSan")
        .env("GIT_AUTHOR_EMAIL", "HebaruSan@users.noreply.github.com")
        .env("GIT_COMMITTER_NAME", "HebaruSan")
        .env("GIT_COMMITTER_EMAIL", "HebaruSan@users.noreply.github.com")
        .output()
        .expect("git is installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "git {args:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// A game's NetKAN: a bare repository on `branch` and a clone to commit in.
struct Repo {
    bare: PathBuf,
    clone: PathBuf,
    branch: &'static str,
}

impl Repo {
    fn new(root: &Path, name: &str, branch: &'static str) -> Self {
        let bare = root.join(format!("{name}.git"));
        let clone = root.join(name);
        git(
            root,
            &["init", "--bare", "-q", "-b", branch, bare.to_str().unwrap()],
        );
        git(root, &["init", "-q", "-b", branch, clone.to_str().unwrap()]);
        git(&clone, &["remote", "add", "origin", bare.to_str().unwrap()]);
        Self {
            bare,
            clone,
            branch,
        }
    }

    fn head(&self) -> String {
        git(&self.clone, &["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// Commits `files` (`None` removes one).
    fn commit(&self, message: &str, files: &[(&str, Option<&str>)]) {
        for (path, text) in files {
            let p = self.clone.join(path);
            match text {
                Some(t) => {
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(p, t).unwrap();
                }
                None => std::fs::remove_file(p).unwrap(),
            }
        }
        git(&self.clone, &["add", "-A"]);
        git(&self.clone, &["commit", "-q", "-m", message]);
    }

    fn push(&self) {
        git(&self.clone, &["push", "-q", "origin", self.branch]);
    }

    /// The delivery GitHub sends for a push of `before..HEAD` (its commits oldest first, each
    /// with the files it added, removed and modified; `head_commit` the last of them).
    fn delivery(&self, before: &str, full_name: &str) -> String {
        let after = self.head();
        let ids = git(
            &self.clone,
            &["rev-list", "--reverse", &format!("{before}..{after}")],
        );
        let commits: Vec<serde_json::Value> = ids
            .lines()
            .map(|id| self.commit_json(id, full_name))
            .collect();
        serde_json::json!({
            "ref": format!("refs/heads/{}", self.branch),
            "before": before,
            "after": after,
            "repository": {
                "id": 617006321,
                "name": full_name.split('/').nth(1).unwrap(),
                "full_name": full_name,
                "private": false,
                "owner": {"name": "KSP-CKAN", "login": "KSP-CKAN", "type": "Organization"},
                "html_url": format!("https://github.com/{full_name}"),
                "clone_url": format!("https://github.com/{full_name}.git"),
                "default_branch": self.branch,
                "master_branch": self.branch,
            },
            "pusher": {"name": "HebaruSan", "email": "HebaruSan@users.noreply.github.com"},
            "sender": {"login": "HebaruSan", "id": 1559108, "type": "User"},
            "created": false,
            "deleted": false,
            "forced": false,
            "base_ref": null,
            "compare": format!("https://github.com/{full_name}/compare/{}...{}", &before[..12], &after[..12]),
            "head_commit": commits.last().cloned(),
            "commits": commits,
        })
        .to_string()
    }

    fn commit_json(&self, id: &str, full_name: &str) -> serde_json::Value {
        let status = git(
            &self.clone,
            &["show", "--no-renames", "--name-status", "--format=", id],
        );
        let (mut added, mut removed, mut modified) = (vec![], vec![], vec![]);
        for line in status.lines().filter(|l| !l.is_empty()) {
            let (kind, path) = line.split_once('\t').unwrap();
            match kind {
                "A" => added.push(path),
                "D" => removed.push(path),
                _ => modified.push(path),
            }
        }
        let message = git(&self.clone, &["show", "-s", "--format=%s", id]);
        let who = serde_json::json!({"name": "HebaruSan", "email": "HebaruSan@users.noreply.github.com", "username": "HebaruSan"});
        serde_json::json!({
            "id": id,
            "tree_id": git(&self.clone, &["show", "-s", "--format=%T", id]).trim(),
            "distinct": true,
            "message": message.trim(),
            "timestamp": "2024-01-15T10:30:02Z",
            "url": format!("https://github.com/{full_name}/commit/{id}"),
            "author": who,
            "committer": who,
            "added": added,
            "removed": removed,
            "modified": modified,
        })
    }
}

struct World {
    _dir: tempfile::TempDir,
    redis: TestRedis,
    settings: Settings,
    web: String,
    client: reqwest::Client,
    ksp: Repo,
    ksp2: Repo,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl World {
    async fn new(adjust: impl FnOnce(&mut Settings)) -> Self {
        let redis = TestRedis::start();
        let dir = tempfile::tempdir().unwrap();
        let ksp = Repo::new(dir.path(), "NetKAN", "master");
        let ksp2 = Repo::new(dir.path(), "KSP2-NetKAN", "main");
        let mut settings = Settings {
            data_dir: dir.path().join("data"),
            ..Settings::default()
        };
        settings.redis.url = Some(Secret::new(redis.url()));
        settings.worker.roles = vec!["push".into()];
        settings.web.github_secret = Secret::new(SECRET);
        settings.jobs.backoff_base_ms = 100;
        settings.jobs.backoff_max_ms = 400;
        settings.games.clear();
        // No `netkan_branch`: each is read from its repository's HEAD.
        for (game, repo) in [("ksp", &ksp), ("ksp2", &ksp2)] {
            settings.games.insert(
                game.into(),
                GameSettings {
                    netkan: Some(Secret::new(repo.bare.display().to_string())),
                    ..GameSettings::default()
                },
            );
        }
        adjust(&mut settings);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let web = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        {
            let (settings, url, stop) = (settings.clone(), redis.url(), stop.clone());
            tasks.push(tokio::spawn(async move {
                netkan_web::run(&settings, &url, listener, stop)
                    .await
                    .unwrap();
            }));
        }
        {
            let (settings, url, stop) = (settings.clone(), redis.url(), stop.clone());
            tasks.push(tokio::spawn(async move {
                netkan_worker::run(&settings, &url, stop).await.unwrap();
            }));
        }
        Self {
            _dir: dir,
            redis,
            settings,
            web,
            client: reqwest::Client::new(),
            ksp,
            ksp2,
            stop,
            tasks,
        }
    }

    fn jq(&self) -> JobQueue {
        self.settings.job_queue()
    }

    /// POSTs a signed delivery as GitHub does (JSON, or its form encoding `payload=`); returns
    /// the status and the push job's id.
    async fn deliver(&self, game: &str, payload: &str, form: bool) -> (u16, Option<JobId>) {
        let (content_type, body) = if form {
            let body = form_urlencoded_payload(payload);
            ("application/x-www-form-urlencoded", body)
        } else {
            ("application/json", payload.to_owned())
        };
        let mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes())
            .unwrap()
            .chain_update(body.as_bytes())
            .finalize()
            .into_bytes();
        let signature: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        // The web must be listening; the first request may race its start.
        let res = eventually(Duration::from_secs(30), "the web to answer", || {
            let req = self
                .client
                .post(format!("{}/gh/inflate/{game}", self.web))
                .header("content-type", content_type)
                .header("user-agent", "GitHub-Hookshot/7f3a2c1")
                .header("x-github-event", "push")
                .header("x-github-delivery", uuid_like(&body))
                .header("x-hub-signature-256", format!("sha256={signature}"))
                .body(body.clone());
            async move { req.send().await.ok() }
        })
        .await;
        let status = res.status().as_u16();
        let id = res
            .headers()
            .get("x-netkan-job-id")
            .map(|v| v.to_str().unwrap().parse().unwrap());
        (status, id)
    }

    async fn finished(&self, id: JobId) -> JobRecord {
        let jq = self.jq();
        let mut conn = self.redis.conn().await;
        eventually(
            Duration::from_secs(60),
            &format!("job {id} to finish"),
            || {
                let (mut c, jq) = (conn.clone(), jq.clone());
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

    async fn log(&self, id: JobId) -> String {
        let mut conn = self.redis.conn().await;
        self.jq()
            .logs(&mut conn, &id, &Default::default())
            .await
            .unwrap()
            .into_iter()
            .map(|l| format!("{} {}\n", l.level, l.message))
            .collect()
    }

    async fn enqueue_push(&self, game: &str, body: String) -> JobId {
        let mut job = requests::push_job(&Game::new(game).unwrap(), &dummy_push());
        job.body = body;
        let mut conn = self.redis.conn().await;
        self.jq()
            .enqueue(&mut conn, &[job])
            .await
            .unwrap()
            .remove(0)
    }

    async fn shutdown(self) {
        self.stop.cancel();
        for t in self.tasks {
            t.await.unwrap();
        }
    }
}

fn dummy_push() -> PushRequest {
    PushRequest {
        repo: String::new(),
        r#ref: String::new(),
        old: String::new(),
        new: String::new(),
        pusher: String::new(),
        source: "github".into(),
        files: None,
    }
}

fn form_urlencoded_payload(payload: &str) -> String {
    // `payload=<json>`, percent-encoded as GitHub's form deliveries are.
    let mut out = String::from("payload=");
    for b in payload.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A delivery id that differs with the body (GitHub's are UUIDs).
fn uuid_like(body: &str) -> String {
    let h: u64 = body.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    format!("{:08x}-{:04x}-11ee-8f4d-2b1f9b4c6a11", h >> 32, h & 0xffff)
}

fn netkan(id: &str, kref: &str) -> String {
    format!("identifier: {id}\n$kref: '{kref}'\nlicense: MIT\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_for_ksp_on_master_and_ksp2_on_main_each_queue_their_inflations() {
    let w = World::new(|_| {}).await;
    // KSP: a first commit already pushed, then two commits in one push.
    w.ksp.commit("start", &[("README.md", Some("NetKAN\n"))]);
    w.ksp.push();
    let ksp_before = w.ksp.head();
    w.ksp.commit(
        "Add Astrogator",
        &[(
            "NetKAN/Astrogator.netkan",
            Some(&netkan("Astrogator", "#/ckan/github/HebaruSan/Astrogator")),
        )],
    );
    w.ksp.commit(
        "Add DogeCoinFlag, touch the README",
        &[
            (
                "NetKAN/DogeCoinFlag.netkan",
                Some(&netkan("DogeCoinFlag", "#/ckan/spacedock/269")),
            ),
            ("README.md", Some("NetKAN, the KSP one\n")),
        ],
    );
    w.ksp.push();
    // KSP2: SpaceWarp is changed and changed back within the push (the reference inflated
    // it all the same: it is in the commits' lists), LongHorn is added and removed again.
    let spacewarp = netkan("SpaceWarp", "#/ckan/spacedock/3257");
    w.ksp2.commit(
        "Add SpaceWarp",
        &[("NetKAN/SpaceWarp.netkan", Some(&spacewarp))],
    );
    w.ksp2.push();
    let ksp2_before = w.ksp2.head();
    w.ksp2.commit(
        "Try a new license",
        &[(
            "NetKAN/SpaceWarp.netkan",
            Some(&spacewarp.replace("MIT", "GPL-3.0")),
        )],
    );
    w.ksp2.commit(
        "Back to MIT; add LongHorn",
        &[
            ("NetKAN/SpaceWarp.netkan", Some(&spacewarp)),
            (
                "NetKAN/LongHorn.netkan",
                Some(&netkan("LongHorn", "#/ckan/spacedock/3300")),
            ),
        ],
    );
    w.ksp2.commit(
        "Not LongHorn after all",
        &[("NetKAN/LongHorn.netkan", None)],
    );
    w.ksp2.push();

    // Each delivery on the wrong game's route is the wrong branch.
    let ksp_delivery = w.ksp.delivery(&ksp_before, "KSP-CKAN/NetKAN");
    let ksp2_delivery = w.ksp2.delivery(&ksp2_before, "KSP-CKAN/KSP2-NetKAN");
    assert_eq!(w.deliver("ksp2", &ksp_delivery, false).await, (200, None));
    assert_eq!(w.deliver("ksp", &ksp2_delivery, false).await, (200, None));

    let (status, ksp_id) = w.deliver("ksp", &ksp_delivery, false).await;
    assert_eq!(status, 204);
    let (status, ksp2_id) = w.deliver("ksp2", &ksp2_delivery, true).await;
    assert_eq!(status, 204);

    let rec = w.finished(ksp_id.unwrap()).await;
    let log = w.log(rec.id).await;
    assert_eq!(rec.state, JobState::Succeeded, "{log}");
    let kids = w.children(&rec).await;
    let mut bodies: Vec<(&str, &str)> = kids
        .iter()
        .map(|k| (k.queue.as_str(), k.body.as_str()))
        .collect();
    bodies.sort();
    assert_eq!(
        bodies,
        [
            (
                "inbound.ksp",
                netkan("Astrogator", "#/ckan/github/HebaruSan/Astrogator").as_str()
            ),
            (
                "inbound.ksp",
                netkan("DogeCoinFlag", "#/ckan/spacedock/269").as_str()
            ),
        ]
    );
    assert!(
        log.contains("NOTICE 2 inflations queued: Astrogator, DogeCoinFlag"),
        "{log}"
    );

    let rec = w.finished(ksp2_id.unwrap()).await;
    let log = w.log(rec.id).await;
    assert_eq!(rec.state, JobState::Succeeded, "{log}");
    let kids = w.children(&rec).await;
    assert_eq!(kids.len(), 1, "{log}");
    assert_eq!(kids[0].queue.as_str(), "inbound.ksp2");
    assert_eq!(kids[0].attributes["GameId"], "ksp2");
    assert_eq!(kids[0].body, spacewarp);
    assert!(
        log.contains("NetKAN/LongHorn.netkan was removed later in the push"),
        "{log}"
    );
    assert!(
        log.contains("NOTICE 1 inflation queued: SpaceWarp"),
        "{log}"
    );
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_references_own_push_payload_inflates_the_files_it_names() {
    let w = World::new(|_| {}).await;
    let doge = netkan("DogeCoinFlag", "#/ckan/spacedock/269");
    let astrogator = netkan("Astrogator", "#/ckan/github/HebaruSan/Astrogator");
    w.ksp.commit(
        "two mods",
        &[
            ("NetKAN/DogeCoinFlag.netkan", Some(&doge)),
            ("NetKAN/Astrogator.netkan", Some(&astrogator)),
        ],
    );
    w.ksp.push();
    // NetKAN-Infra's webhook tests send `ref` and `commits` only: no before, no after.
    // A `.netkan` outside NetKAN/ stands for NetKAN/<its stem>, as the reference read it.
    let payload = r#"{"ref": "refs/heads/master", "commits": [
        {"id": "1", "added": ["NetKAN/DogeCoinFlag.netkan"], "modified": [], "removed": []},
        {"id": "2", "added": [], "modified": ["Extras/Astrogator.netkan"], "removed": []}]}"#;
    let (status, id) = w.deliver("ksp", payload, false).await;
    assert_eq!(status, 204);
    let rec = w.finished(id.unwrap()).await;
    let log = w.log(rec.id).await;
    assert_eq!(rec.state, JobState::Succeeded, "{log}");
    let mut bodies: Vec<String> = w.children(&rec).await.into_iter().map(|k| k.body).collect();
    bodies.sort();
    assert_eq!(bodies, [astrogator, doge]);
    assert!(
        log.contains(
            "Extras/Astrogator.netkan is outside NetKAN/: NetKAN/Astrogator.netkan is taken for it"
        ),
        "{log}"
    );
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_naming_a_commit_that_never_arrives_fails_with_the_reason_after_the_bounded_wait()
 {
    let w = World::new(|s| s.worker.missing_commit_attempts = 3).await;
    w.ksp.commit(
        "one",
        &[(
            "NetKAN/DogeCoinFlag.netkan",
            Some(&netkan("DogeCoinFlag", "#/ckan/spacedock/269")),
        )],
    );
    w.ksp.push();
    // A delivery for a commit this repository never gets (it was pushed somewhere else).
    let head = w.ksp.head();
    let mut payload: serde_json::Value =
        serde_json::from_str(&w.ksp.delivery(&head, "KSP-CKAN/NetKAN")).unwrap();
    let missing = "0123456789abcdef0123456789abcdef01234567";
    payload["after"] = missing.into();
    payload["commits"] = serde_json::json!([{"id": missing, "distinct": true, "message": "elsewhere",
        "added": [], "removed": [], "modified": ["NetKAN/DogeCoinFlag.netkan"]}]);
    payload["head_commit"] = payload["commits"][0].clone();
    let (status, id) = w.deliver("ksp", &payload.to_string(), false).await;
    assert_eq!(status, 204);
    let rec = w.finished(id.unwrap()).await;
    let log = w.log(rec.id).await;
    assert_eq!(rec.state, JobState::Failed, "{log}");
    assert_eq!(rec.attempts, 3, "{log}");
    let reason = rec.last_error.unwrap();
    assert!(
        reason.contains(
            "commit 0123456789abcdef0123456789abcdef01234567 is not in NetKAN after 3 fetches (worker.missing_commit_attempts)"
        ),
        "{reason}"
    );
    assert!(rec.children.is_empty());
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_can_never_succeed_fails_at_the_first_attempt_with_the_reason() {
    let w = World::new(|_| {}).await;
    w.ksp.commit(
        "one",
        &[(
            "NetKAN/DogeCoinFlag.netkan",
            Some(&netkan("DogeCoinFlag", "#/ckan/spacedock/269")),
        )],
    );
    w.ksp.push();
    let head = w.ksp.head();
    let cases = [
        ("not a push request", "the job body is not a push request"),
        (
            r#"{"repo": "", "ref": "refs/heads/master", "old": "not-a-commit", "new": "0123", "pusher": "", "source": "github",
                "files": {"added": ["NetKAN/DogeCoinFlag.netkan"]}}"#,
            "is not a commit id (40 hexadecimal digits)",
        ),
        (
            r#"{"repo": "", "ref": "refs/heads/master", "old": "", "new": "", "pusher": "", "source": "github"}"#,
            "the push lists no files and does not name both the commit before and after it",
        ),
        (
            r#"{"repo": "", "ref": "", "old": "", "new": "", "pusher": "", "source": "github", "files": {"added": ["NetKAN/DogeCoinFlag.netkan"]}}"#,
            "the push names neither its commit nor a branch",
        ),
    ];
    for (body, reason) in cases {
        let id = w.enqueue_push("ksp", body.to_owned()).await;
        let rec = w.finished(id).await;
        assert_eq!(rec.state, JobState::Failed, "{body}");
        assert_eq!(rec.attempts, 1, "{body}");
        let error = rec.last_error.unwrap();
        assert!(error.contains(reason), "{body}: {error}");
    }
    // An invalid file: the others go ahead, and the push fails at once naming it.
    let body = serde_json::to_string(&PushRequest {
        r#ref: "refs/heads/master".into(),
        new: head,
        files: Some(requests::ChangedFiles {
            added: vec![
                "NetKAN/DogeCoinFlag.netkan".into(),
                "NetKAN/Gone.netkan".into(),
            ],
            ..Default::default()
        }),
        ..dummy_push()
    })
    .unwrap();
    w.ksp.commit(
        "broken",
        &[
            ("NetKAN/Broken.netkan", Some("identifier: [Broken\n")),
            // Changed, so its inflation is not the one still waiting from the push above.
            (
                "NetKAN/DogeCoinFlag.netkan",
                Some(&netkan("DogeCoinFlag", "#/ckan/spacedock/269").replace("MIT", "CC-BY")),
            ),
        ],
    );
    w.ksp.push();
    let id = w.enqueue_push("ksp", body).await;
    let rec = w.finished(id).await;
    let log = w.log(id).await;
    assert_eq!(rec.state, JobState::Succeeded, "{log}");
    assert!(
        log.contains("WARN NetKAN/Gone.netkan is not in "),
        "a file the push lists but its commit lacks is skipped with a warning: {log}"
    );
    let body = serde_json::to_string(&PushRequest {
        r#ref: "refs/heads/master".into(),
        new: w.ksp.head(),
        files: Some(requests::ChangedFiles {
            added: vec![
                "NetKAN/Broken.netkan".into(),
                "NetKAN/DogeCoinFlag.netkan".into(),
            ],
            ..Default::default()
        }),
        ..dummy_push()
    })
    .unwrap();
    let id = w.enqueue_push("ksp", body).await;
    let rec = w.finished(id).await;
    assert_eq!(rec.state, JobState::Failed);
    assert_eq!(rec.attempts, 1);
    assert_eq!(rec.children.len(), 1);
    assert!(
        rec.last_error
            .unwrap()
            .starts_with("1 file invalid: Broken"),
        "{}",
        w.log(id).await
    );
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_netkan_repository_is_retried_as_transient() {
    let w = World::new(|s| {
        s.jobs.max_attempts = 3;
        // A repository that is not there (yet): its server may come back.
        let missing = s.data_dir.parent().unwrap().join("not-there.git");
        s.games.get_mut("ksp").unwrap().netkan = Some(Secret::new(missing.display().to_string()));
    })
    .await;
    let body = serde_json::to_string(&PushRequest {
        r#ref: "refs/heads/master".into(),
        new: "0123456789abcdef0123456789abcdef01234567".into(),
        files: Some(requests::ChangedFiles {
            added: vec!["NetKAN/DogeCoinFlag.netkan".into()],
            ..Default::default()
        }),
        ..dummy_push()
    })
    .unwrap();
    let id = w.enqueue_push("ksp", body).await;
    let rec = w.finished(id).await;
    // Retried with backoff until the attempts are used up, then dead-lettered: the runner's
    // treatment of what may work later.
    assert_eq!(rec.state, JobState::Dead, "{}", w.log(id).await);
    assert_eq!(rec.attempts, 3);
    assert!(
        rec.last_error.unwrap().contains("not-there.git"),
        "the reason names the repository"
    );
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_arrives_before_its_commit_is_served_is_inflated_once_it_is() {
    let w = World::new(|s| {
        s.worker.missing_commit_attempts = 5;
        s.jobs.backoff_base_ms = 500;
        s.jobs.backoff_max_ms = 4000;
    })
    .await;
    w.ksp.commit("start", &[("README.md", Some("NetKAN\n"))]);
    w.ksp.push();
    let before = w.ksp.head();
    let doge = netkan("DogeCoinFlag", "#/ckan/spacedock/269");
    w.ksp.commit(
        "Add DogeCoinFlag",
        &[("NetKAN/DogeCoinFlag.netkan", Some(&doge))],
    );
    // Delivered before the commit reaches the repository the worker fetches from.
    let (status, id) = w
        .deliver("ksp", &w.ksp.delivery(&before, "KSP-CKAN/NetKAN"), false)
        .await;
    assert_eq!(status, 204);
    let id = id.unwrap();
    let jq = w.jq();
    let conn = w.redis.conn().await;
    let first = eventually(
        Duration::from_secs(30),
        "the first attempt to miss the commit",
        || {
            let (mut c, jq) = (conn.clone(), jq.clone());
            async move {
                jq.job(&mut c, &id)
                    .await
                    .unwrap()
                    .filter(|r| r.retry_at.is_some())
            }
        },
    )
    .await;
    assert!(
        first
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("looking again"),
        "{:?}",
        first.last_error
    );
    w.ksp.push();
    let rec = w.finished(id).await;
    let log = w.log(id).await;
    assert_eq!(rec.state, JobState::Succeeded, "{log}");
    assert!(rec.attempts >= 2, "{log}");
    let kids = w.children(&rec).await;
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].body, doge);
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_inflation_from_a_configured_branch_netkan_lacks_fails_at_once_naming_the_setting()
 {
    let w = World::new(|s| {
        s.games.get_mut("ksp2").unwrap().netkan_branch = Some("develop".into());
    })
    .await;
    w.ksp2.commit(
        "one",
        &[(
            "NetKAN/SpaceWarp.netkan",
            Some(&netkan("SpaceWarp", "#/ckan/spacedock/3257")),
        )],
    );
    w.ksp2.push();
    let job = requests::inflate_request_job(&Game::new("ksp2").unwrap(), &["SpaceWarp".into()]);
    let mut conn = w.redis.conn().await;
    let id = w.jq().enqueue(&mut conn, &[job]).await.unwrap().remove(0);
    let rec = w.finished(id).await;
    assert_eq!(rec.state, JobState::Failed, "{}", w.log(id).await);
    assert_eq!(rec.attempts, 1);
    assert!(
        rec.last_error
            .unwrap()
            .contains("NetKAN has no branch develop (games.ksp2.netkan_branch)")
    );
    w.shutdown().await;
}
