//! Fault scenarios (issue 9): the whole pipeline push → inflate → index → mirror made of real
//! processes (`redis-server`, `git` with the post-receive hook, `netkan-worker run`), hurt
//! while inflations flow through it, then counted: jobs submitted, completed, dead (with
//! reasons), lost, run twice, commits. Each scenario prints one `fault ...` line (recorded in
//! `docs/RELIABILITY.md`) and asserts nothing was lost or committed twice.
//!
//! `NETKAN_FAULT_SCALE` sets the inflations per scenario (the defaults keep the whole file
//! within a few minutes of CI); run with `--nocapture` to see the reports and recovery times.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use netkan_common::JobId;
use rand::Rng;
use support::load::{self, NoopLoad};
use support::{
    Bounds, ONE_AT_A_TIME, Options, Pipeline, Signal, Tally, Workers, http_status, scale, secs,
    time_until,
};
use tokio::sync::Mutex;

/// The roles of the pipeline.
const PIPELINE: &[&str] = &["push", "inflate", "index", "mirror"];

/// A worker's jobs in flight across every queue: (id, worker id) pairs, found by its pid.
async fn held_by(p: &Pipeline, pid: u32) -> (Option<String>, Vec<JobId>) {
    let Some(mut conn) = p.try_conn().await else {
        return (None, Vec::new());
    };
    let jq = p.jq();
    let Ok(workers) = jq.workers(&mut conn).await else {
        return (None, Vec::new());
    };
    let Some(me) = workers.into_iter().find(|w| w.pid == pid) else {
        return (None, Vec::new());
    };
    let mut held = Vec::new();
    for q in jq.queue_names(&mut conn).await.unwrap_or_default() {
        for f in jq
            .in_flight(&mut conn, &q, 10_000)
            .await
            .unwrap_or_default()
        {
            if f.worker == me.id {
                held.push(f.id);
            }
        }
    }
    (Some(me.id), held)
}

/// Seconds from `killed` until every job in `held` had started again elsewhere or ended;
/// `None` if that took longer than `within`.
async fn taken_over(
    p: &Pipeline,
    dead_worker: &str,
    held: &[JobId],
    killed: Instant,
    within: Duration,
) -> Option<Duration> {
    let killed_at = chrono::Utc::now() - chrono::Duration::from_std(killed.elapsed()).unwrap();
    let jq = p.jq();
    let mut left: Vec<JobId> = held.to_vec();
    while killed.elapsed() < within {
        if let Some(mut conn) = p.try_conn().await {
            let mut still = Vec::new();
            for id in left {
                let again = match jq.job(&mut conn, &id).await {
                    Ok(Some(r)) => {
                        r.state.is_finished()
                            || (r.worker.as_deref() != Some(dead_worker)
                                && r.started.is_some_and(|s| s > killed_at))
                    }
                    _ => false,
                };
                if !again {
                    still.push(id);
                }
            }
            left = still;
            if left.is_empty() {
                return Some(killed.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Recovery times measured in a scenario, for its report.
#[derive(Default)]
struct Recoveries {
    /// Time from a kill to the killed worker's jobs running again, per kill with jobs held.
    takeovers: Vec<Duration>,
    /// Jobs held by workers when they were killed.
    interrupted: usize,
    kills: usize,
    /// The killer stopped because nine tenths of the mods were indexed, not at its deadline.
    stop_reached: bool,
}

impl Recoveries {
    fn line(&self) -> String {
        let mut sorted = self.takeovers.clone();
        sorted.sort();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
        let max = sorted.last().copied().unwrap_or_default();
        format!(
            "kills {}, jobs interrupted {}, taken over: median {}, max {} (over {} kills holding jobs)",
            self.kills,
            self.interrupted,
            secs(median),
            secs(max),
            sorted.len()
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_of_every_role_killed_at_random_lose_nothing_and_commit_nothing_twice() {
    let _one = ONE_AT_A_TIME.lock().await;
    let n = scale(200);
    let lease = Duration::from_millis(2_000);
    let p = Arc::new(
        Pipeline::new(&Options {
            mods: n,
            lease_ms: lease.as_millis() as u64,
            ..Options::default()
        })
        .await,
    );
    let workers = Arc::new(Mutex::new(Workers::default()));
    for k in 0..3 {
        workers
            .lock()
            .await
            .add(&format!("all-{k}"), p.worker_settings(PIPELINE));
    }
    let started = Instant::now();

    // The killer: every 0.5 to 3 s, SIGKILL to a random worker, which is started again
    // 0 to 0.5 s later; until nine tenths of the mods are indexed.
    let chaos = {
        let (p, workers) = (p.clone(), workers.clone());
        tokio::spawn(async move {
            let mut rec = Recoveries::default();
            let mut watchers = Vec::new();
            while p.indexed().len() < n * 9 / 10 && started.elapsed() < Duration::from_secs(600) {
                let pause = rand::rng().random_range(500..3_000);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                let mut w = workers.lock().await;
                let running = w.running();
                let victim = running[rand::rng().random_range(0..running.len())];
                let pid = w.all[victim].pid().unwrap();
                let (id, held) = held_by(&p, pid).await;
                w.signal(victim, Signal::Kill);
                let killed = Instant::now();
                rec.kills += 1;
                rec.interrupted += held.len();
                if let (Some(id), false) = (id, held.is_empty()) {
                    let p = p.clone();
                    watchers.push(tokio::spawn(async move {
                        taken_over(&p, &id, &held, killed, lease + Duration::from_secs(30)).await
                    }));
                }
                drop(w);
                let back = rand::rng().random_range(0..500);
                tokio::time::sleep(Duration::from_millis(back)).await;
                workers.lock().await.start(victim);
            }
            rec.stop_reached = p.indexed().len() >= n * 9 / 10;
            for w in watchers {
                // A takeover beyond lease + 30 s is a failure the report shows as missing.
                if let Some(d) = w.await.unwrap() {
                    rec.takeovers.push(d);
                } else {
                    rec.takeovers.push(Duration::MAX);
                }
            }
            rec
        })
    };

    let pushes = p.push_all(n, 4).await;
    let rec = chaos.await.unwrap();
    p.settle(&pushes, Duration::from_secs(300)).await;
    let elapsed = started.elapsed();
    let tally = Tally::count("sigkill", &p, &pushes).await;
    println!(
        "fault sigkill: {n} inflations, 3 all-role workers, lease {}; {}; settled in {}",
        secs(lease),
        rec.line(),
        secs(elapsed)
    );
    // Bounds: a job whose worker is killed under it on every one of its 5 attempts is
    // dead-lettered with that reason (4 mirror jobs of 1,000 in the run recorded in
    // docs/RELIABILITY.md); at most 1 + 1 % of the mods may end so, and every mod is indexed.
    tally.assert_within(&Bounds {
        max_failures: 1 + n / 100,
        reasons: &["stopped renewing it during attempt"],
        unindexed: &[],
    });
    assert!(
        rec.stop_reached,
        "the killer stopped at its 600 s deadline before nine tenths were indexed: {}",
        rec.line()
    );
    assert!(rec.kills > 0, "the killer never struck");
    for d in &rec.takeovers {
        assert!(
            *d <= lease + Duration::from_secs(10),
            "a killed worker's jobs were not taken over within lease + 10 s: {}",
            rec.line()
        );
    }
}

/// Roles of the workers of the Redis scenarios: the pipeline and `noop` (the acknowledged
/// enqueues of [`NoopLoad`]).
const PIPELINE_AND_NOOP: &[&str] = &["push", "inflate", "index", "mirror", "noop"];

/// Two all-role workers and a web front end on a free port; waits until the web is healthy.
async fn workers_and_web(p: &Pipeline) -> (Workers, u16) {
    let mut workers = Workers::default();
    for k in 0..2 {
        workers.add(&format!("all-{k}"), p.worker_settings(PIPELINE_AND_NOOP));
    }
    let port = netkan_common::redis_server::free_port();
    let mut web = p.settings.clone();
    web.web.bind = format!("127.0.0.1:{port}");
    workers.add_web("web", web);
    time_until(Duration::from_secs(30), || async {
        http_status(port, "/healthz").await == Some(200)
    })
    .await
    .expect("the web front end answers /healthz");
    (workers, port)
}

/// Jobs of `noop` that finished successfully so far (the runner's counters).
async fn noop_succeeded(p: &Pipeline) -> Option<i64> {
    let mut conn = p.try_conn().await?;
    let counters = p.jq().counters(&mut conn).await.ok()?;
    Some(
        counters
            .iter()
            .filter(|(k, _)| k.contains("noop") && k.ends_with("succeeded"))
            .map(|(_, v)| *v)
            .sum(),
    )
}

/// Asserts every acknowledged noop enqueue ran; prints what the load saw.
async fn check_load(scenario: &str, p: &Pipeline, load: NoopLoad) {
    let (acked, refused) = load.stop().await;
    let mut conn = p.conn().await;
    let jq = p.jq();
    time_until(Duration::from_secs(60), || {
        let (mut conn, jq, acked) = (conn.clone(), jq.clone(), acked.clone());
        async move { load::outcome(&mut conn, &jq, &acked).await.1.is_empty() }
    })
    .await;
    let (ok, bad) = load::outcome(&mut conn, &jq, &acked).await;
    println!(
        "fault {scenario}: acknowledged enqueues {}, succeeded {ok}, lost {}, not acknowledged (Redis away) {refused}",
        acked.len(),
        bad.len()
    );
    assert!(bad.is_empty(), "acknowledged enqueues lost: {bad:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_and_restarted_under_load_loses_no_acknowledged_enqueue() {
    let _one = ONE_AT_A_TIME.lock().await;
    let n = scale(200) / 2;
    let p = Pipeline::new(&Options {
        mods: n,
        ..Options::default()
    })
    .await;
    let (mut workers, web_port) = workers_and_web(&p).await;
    let load = NoopLoad::start(p.redis_url(), p.jq(), Duration::from_millis(5));
    let third = n / 3;
    let mut pushes = vec![p.push((0..third).collect()).await];
    tokio::time::sleep(Duration::from_secs(1)).await;

    p.kill_redis();
    let down = Instant::now();
    let spooled = p.push((third..2 * third).collect()).await;
    assert!(spooled.spooled, "a push while Redis is down is spooled");
    println!(
        "fault redis-kill: a push with Redis down took {} (spooled)",
        secs(spooled.took)
    );
    pushes.push(spooled.clone());
    assert_ne!(http_status(web_port, "/healthz").await, Some(200));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let acked_before = load.acked();
    p.restart_redis().await;
    let restarted = Instant::now();
    let before = noop_succeeded(&p).await.unwrap_or(0);
    let moving = time_until(Duration::from_secs(30), || async {
        noop_succeeded(&p).await.is_some_and(|n| n > before)
    })
    .await;
    let web_back = time_until(Duration::from_secs(30), || async {
        http_status(web_port, "/healthz").await == Some(200)
    })
    .await;
    let jq = p.jq();
    let drained = time_until(Duration::from_secs(60), || async {
        let Some(mut conn) = p.try_conn().await else {
            return false;
        };
        matches!(jq.job(&mut conn, &spooled.id).await, Ok(Some(_)))
    })
    .await;
    println!(
        "fault redis-kill: down {}; after the restart: jobs finishing again after {}, web healthy after {}, spooled push enqueued after {}; acknowledged enqueues by the restart {acked_before}",
        secs(restarted - down),
        moving.map(secs).unwrap_or("never".into()),
        web_back.map(secs).unwrap_or("never".into()),
        drained.map(secs).unwrap_or("never".into()),
    );
    assert!(moving.is_some(), "workers did not reconnect by themselves");
    assert!(web_back.is_some(), "the web did not reconnect by itself");
    assert!(drained.is_some(), "the spool was not drained");

    pushes.push(p.push((2 * third..n).collect()).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    check_load("redis-kill", &p, load).await;
    p.settle(&pushes, Duration::from_secs(300)).await;
    for i in workers.running() {
        assert!(
            workers.wait(i, Duration::ZERO).is_none(),
            "{} exited: {}",
            workers.all[i].name,
            workers.log(i)
        );
    }
    assert_eq!(workers.running().len(), 3, "no process had to be restarted");
    Tally::count("redis-kill", &p, &pushes)
        .await
        .assert_all_succeeded();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stopped_under_load_spools_every_push_answers_503_and_loses_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let n = scale(200) / 2;
    let stop_for = Duration::from_secs(
        std::env::var("NETKAN_FAULT_STOP_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            // Longer than the lease (2 s) and the hook's timeout (2 s) several times over,
            // which is what the scenario proves; NETKAN_FAULT_STOP_SECS=30 for a longer one.
            .unwrap_or(12),
    );
    let p = Pipeline::new(&Options {
        mods: n,
        ..Options::default()
    })
    .await;
    let (workers, web_port) = workers_and_web(&p).await;
    let load = NoopLoad::start(p.redis_url(), p.jq(), Duration::from_millis(5));
    let half = n / 2;
    let mut pushes = vec![p.push((0..half / 2).collect()).await];
    tokio::time::sleep(Duration::from_secs(1)).await;

    let pid = p.redis_pid();
    support::workers::signal(pid, Signal::Stop);
    let stopped = Instant::now();
    // Pushes while Redis is frozen: each must return within the hook's timeout.
    let timeout = Duration::from_millis(p.settings.hooks.timeout_ms);
    let mut during = Vec::new();
    let mut next = half / 2;
    while stopped.elapsed() + Duration::from_secs(3) < stop_for && next < half {
        let to = (next + half / 8).min(half);
        during.push(p.push((next..to).collect()).await);
        next = to;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let healthz = http_status(web_port, "/healthz").await;
    let left = stop_for.saturating_sub(stopped.elapsed());
    tokio::time::sleep(left).await;
    support::workers::signal(pid, Signal::Cont);
    let resumed = Instant::now();
    let before = noop_succeeded(&p).await.unwrap_or(0);
    let moving = time_until(Duration::from_secs(30), || async {
        noop_succeeded(&p).await.is_some_and(|n| n > before)
    })
    .await;
    let longest = during.iter().map(|d| d.took).max().unwrap_or_default();
    println!(
        "fault redis-stop: stopped {}; {} pushes meanwhile, all spooled: {}, longest {} (hook timeout {}); web /healthz meanwhile: {healthz:?}; jobs finishing again {} after SIGCONT",
        secs(resumed - stopped),
        during.len(),
        during.iter().all(|d| d.spooled),
        secs(longest),
        secs(timeout),
        moving.map(secs).unwrap_or("never".into()),
    );
    assert!(
        during.len() >= 2,
        "pushes during the stop: {}",
        during.len()
    );
    for d in &during {
        assert!(
            d.spooled,
            "a push while Redis was stopped was not spooled: {d:?}"
        );
        // The hook gives Redis `hooks.timeout_ms`, then spools; git's own work on a loaded
        // machine comes on top, so the bound is the timeout plus 5 s (not the timeout).
        assert!(
            d.took <= timeout + Duration::from_secs(5),
            "a push took {} with Redis stopped",
            secs(d.took)
        );
    }
    assert_eq!(
        healthz,
        Some(503),
        "/healthz while Redis is stopped answers 503"
    );
    assert!(
        moving.is_some(),
        "workers did not resume within 30 s by themselves"
    );
    pushes.extend(during);
    pushes.push(p.push((half..n).collect()).await);
    check_load("redis-stop", &p, load).await;
    p.settle(&pushes, Duration::from_secs(300)).await;
    assert_eq!(workers.running().len(), 3);
    Tally::count("redis-stop", &p, &pushes)
        .await
        .assert_all_succeeded();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_to_every_process_under_load_exits_cleanly_and_loses_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let n = scale(200) / 2;
    let p = Pipeline::new(&Options {
        mods: n,
        ..Options::default()
    })
    .await;
    let (mut workers, web_port) = workers_and_web(&p).await;
    let load = NoopLoad::start(p.redis_url(), p.jq(), Duration::from_millis(5));
    let mut pushes = p.push_all(n / 2, 2).await;
    // Under load: some of every kind in flight.
    time_until(Duration::from_secs(60), || async {
        !p.indexed().is_empty()
    })
    .await;
    let (acked, _) = load.stop().await;

    let termed = Instant::now();
    for i in workers.running() {
        workers.signal(i, Signal::Term);
    }
    let mut exits = Vec::new();
    for i in 0..workers.all.len() {
        let status = workers.wait(i, Duration::from_secs(60));
        exits.push((workers.all[i].name.clone(), status, termed.elapsed()));
    }
    let redis_exit = p.term_redis();
    println!(
        "fault sigterm: exits {:?}; redis-server exited after {}",
        exits
            .iter()
            .map(|(n, s, t)| format!("{n} {s:?} after {}", secs(*t)))
            .collect::<Vec<_>>(),
        secs(redis_exit)
    );
    for (i, (name, status, _)) in exits.iter().enumerate() {
        assert!(
            status.is_some_and(|s| s.success()),
            "{name} did not exit cleanly: {status:?}\n{}",
            workers.log(i)
        );
    }

    // Everything comes back; what was in flight runs again and nothing is lost.
    p.restart_redis().await;
    for i in 0..workers.all.len() {
        workers.start(i);
    }
    time_until(Duration::from_secs(30), || async {
        http_status(web_port, "/healthz").await == Some(200)
    })
    .await
    .expect("the web comes back");
    let mut conn = p.conn().await;
    // Acknowledged before the stop but not run yet: they must run after the restart.
    let (_, bad) = load::outcome(&mut conn, &p.jq(), &acked).await;
    pushes.extend(p.push_all_from(n / 2, n, 2).await);
    time_until(Duration::from_secs(60), || {
        let (mut conn, jq, acked) = (conn.clone(), p.jq(), acked.clone());
        async move { load::outcome(&mut conn, &jq, &acked).await.1.is_empty() }
    })
    .await;
    let (ok, bad_after) = load::outcome(&mut conn, &p.jq(), &acked).await;
    println!(
        "fault sigterm: acknowledged enqueues {}, succeeded {ok}, lost {} ({} not yet run at the stop)",
        acked.len(),
        bad_after.len(),
        bad.len()
    );
    assert!(bad_after.is_empty(), "{bad_after:?}");
    p.settle(&pushes, Duration::from_secs(300)).await;
    Tally::count("sigterm", &p, &pushes)
        .await
        .assert_all_succeeded();
}

/// `git daemon` serving the pipeline's repositories over `git://` (pushes allowed), so the
/// indexer's remote is a network service the test can stop, and whose hooks run.
struct GitDaemon {
    child: Option<std::process::Child>,
    port: u16,
    root: std::path::PathBuf,
}

impl GitDaemon {
    fn start(root: &std::path::Path, port: u16) -> GitDaemon {
        let mut d = GitDaemon {
            child: None,
            port,
            root: root.to_owned(),
        };
        d.restart();
        d
    }

    fn restart(&mut self) {
        // `git daemon` would run git-daemon as a child that outlives a kill of `git`.
        let exec_path = support::git(&self.root, &["--exec-path"]);
        let bin = std::path::Path::new(exec_path.trim()).join("git-daemon");
        let child = std::process::Command::new(bin)
            .args(["--reuseaddr", "--export-all", "--enable=receive-pack"])
            .arg(format!("--base-path={}", self.root.display()))
            .arg(format!("--port={}", self.port))
            .arg("--listen=127.0.0.1")
            .arg(&self.root)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon starts");
        self.child = Some(child);
        let port = self.port;
        let up = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(25));
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "git daemon did not listen on {port}");
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Leftovers of an interrupted git operation in the indexer's clones: lock files (other
/// than the clone slots' own), a merge in progress.
fn partial_git_state(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if (name.ends_with(".lock") && !name.starts_with("CKAN-meta-index-"))
                || name == "MERGE_HEAD"
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// The bare clones the indexer works in, under a data directory.
fn index_clones(data_dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![data_dir.join("work")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.join("objects").is_dir() && path.join("HEAD").is_file() {
                out.push(path);
            } else if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_git_remote_rejecting_or_unreachable_dead_letters_index_jobs_with_the_reason() {
    let _one = ONE_AT_A_TIME.lock().await;
    let per_phase = 5;
    let attempts = 3;
    let p = Pipeline::new(&Options {
        mods: per_phase * 3,
        max_attempts: attempts,
        ..Options::default()
    })
    .await;
    let mut daemon = GitDaemon::start(&p.root, netkan_common::redis_server::free_port());
    let mut workers = Workers::default();
    // The indexer reaches CKAN-meta over git://; the other roles read it on disk, so only
    // indexing sees the remote go away.
    workers.add(
        "pipeline",
        p.worker_settings(&["push", "inflate", "mirror"]),
    );
    let mut indexer = p.worker_settings(&["index"]);
    indexer.data_dir = p.root.join("data-index");
    indexer.games.get_mut("ksp").unwrap().ckanmeta = Some(netkan_common::config::Secret::new(
        daemon.url("CKAN-meta.git"),
    ));
    workers.add("indexer", indexer.clone());

    // A healthy first phase makes the indexer's clone.
    let mut pushes = vec![p.push((0..per_phase).collect()).await];
    p.settle(&pushes, Duration::from_secs(120)).await;
    assert_eq!(p.indexed().len(), per_phase);

    // The remote rejects every push (a pre-receive hook says no).
    let hook = p.ckanmeta.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'CKAN-meta is closed for the fault test' >&2\nexit 1\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x"])
        .arg(&hook)
        .status()
        .unwrap();
    let rejected_phase = p.push((per_phase..2 * per_phase).collect()).await;
    pushes.push(rejected_phase.clone());
    p.settle(&pushes, Duration::from_secs(120)).await;
    let rejected = Tally::count("git-rejected", &p, std::slice::from_ref(&rejected_phase)).await;
    println!("{}", rejected.line());

    // The remote cannot be reached at all.
    std::fs::remove_file(&hook).unwrap();
    daemon.stop();
    let unreachable_phase = p.push((2 * per_phase..3 * per_phase).collect()).await;
    pushes.push(unreachable_phase.clone());
    p.settle(&pushes, Duration::from_secs(120)).await;
    let unreachable = Tally::count(
        "git-unreachable",
        &p,
        std::slice::from_ref(&unreachable_phase),
    )
    .await;
    println!("{}", unreachable.line());

    for (t, says) in [
        (&rejected, "rejected the push"),
        (&unreachable, "cannot reach"),
    ] {
        let index_dead: Vec<_> = t.dead.iter().filter(|d| d.kind == "index").collect();
        assert_eq!(index_dead.len(), per_phase, "{}", t.line());
        for d in &index_dead {
            assert!(d.error.contains(says), "{}: {}", t.scenario, d.error);
        }
        assert!(t.lost.is_empty(), "{:?}", t.lost);
    }
    let mut conn = p.conn().await;
    let jq = p.jq();
    for id in rejected.dead.iter().chain(&unreachable.dead).map(|d| d.id) {
        let rec = jq.job(&mut conn, &id).await.unwrap().unwrap();
        assert_eq!(rec.attempts, attempts, "every attempt was used: {rec:?}");
    }
    let clones = index_clones(&indexer.data_dir);
    assert!(!clones.is_empty());
    for clone in &clones {
        let left = partial_git_state(clone);
        assert!(
            left.is_empty(),
            "partial state left in {}: {left:?}",
            clone.display()
        );
        support::git(clone, &["fsck", "--no-progress"]);
    }

    // The remote comes back; an operator retries the dead jobs: each .ckan lands once.
    daemon.restart();
    let dead_ids: Vec<JobId> = rejected
        .dead
        .iter()
        .chain(&unreachable.dead)
        .map(|d| d.id)
        .collect();
    for id in &dead_ids {
        jq.retry_dead(&mut conn, id).await.unwrap();
    }
    p.settle(&pushes, Duration::from_secs(120)).await;
    let all = Tally::count("git-remote", &p, &pushes).await;
    all.assert_all_succeeded();
    for clone in &clones {
        let local = support::git(clone, &["rev-parse", "main"]);
        let remote = support::git(&p.ckanmeta, &["rev-parse", "main"]);
        assert_eq!(local, remote, "the clone holds nothing unpushed");
    }
}

/// A tmpfs mounted for the length of a scenario; unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=`) on `dir`; `Err` with mount's words where
    /// mounting is not permitted.
    fn mount(dir: &std::path::Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if out.status.success() {
            Ok(Tmpfs(dir.to_owned()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_download_cache_fails_that_inflation_clearly_and_the_others_go_on() {
    let _one = ONE_AT_A_TIME.lock().await;
    let n = 20;
    let big = 7;
    let p = Pipeline::new(&Options {
        mods: n,
        max_attempts: 3,
        ..Options::default()
    })
    .await;
    let cache = p.root.join("cache");
    // Needs root (or CAP_SYS_ADMIN), as CI has: a scenario that cannot run fails.
    let _tmpfs = Tmpfs::mount(&cache, "1m").unwrap_or_else(|e| {
        panic!("fault disk-full cannot run: mounting a tmpfs needs root or CAP_SYS_ADMIN: {e}")
    });
    // One archive larger than the whole cache file system (incompressible, stored).
    let mut noise = vec![0u8; 3 << 20];
    rand::rng().fill(&mut noise[..]);
    let name = support::mod_name(big);
    let zip = netkan_inflator::testing::archive::ZipBuilder::new()
        .stored(&format!("GameData/{name}/{name}.bin"), &noise)
        .build();
    p.upstream.file(&support::download_url(big), zip);

    let mut settings = p.worker_settings(PIPELINE);
    settings.cache.dir = Some(cache.clone());
    let mut workers = Workers::default();
    workers.add("all", settings);
    let pushes = p.push_all(n, 2).await;
    p.settle(&pushes, Duration::from_secs(180)).await;
    let tally = Tally::count("disk-full", &p, &pushes).await;
    // Bounds: that one inflation dead and its failure reported to the indexer, nothing else.
    tally.assert_within(&Bounds {
        max_failures: 2,
        reasons: &["No space left on device"],
        unindexed: std::slice::from_ref(&name),
    });
    assert_eq!(tally.indexed, n - 1, "the others go on: {}", tally.line());
    assert_eq!(tally.mirrored, n - 1, "{}", tally.line());
    let failures: Vec<_> = tally
        .dead
        .iter()
        .chain(&tally.failed)
        .chain(&tally.reported_failures)
        .collect();
    assert!(!failures.is_empty(), "{}", tally.line());
    for f in failures {
        assert_eq!(f.module.as_deref(), Some(name.as_str()), "{f:?}");
        assert!(
            f.error.contains("No space left on device"),
            "a clear error: {}",
            f.error
        );
    }
    drop(workers);
}

/// Network namespaces with a veth pair each to the host (`10.<a>.<k>.1` on the host side,
/// `.2` inside); removed when dropped.
struct Namespaces {
    names: Vec<String>,
    host_links: Vec<String>,
    net: u8,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Namespaces {
    fn create(count: usize) -> Result<Namespaces, String> {
        // Names and addresses unique to this process, so parallel runs do not collide.
        let tag = std::process::id() % 10_000;
        let net = 100 + (std::process::id() % 100) as u8;
        let mut ns = Namespaces {
            names: Vec::new(),
            host_links: Vec::new(),
            net,
        };
        for k in 0..count {
            let name = format!("nk{tag}n{k}");
            let host = format!("nk{tag}h{k}");
            let inner = format!("nk{tag}i{k}");
            ip(&["netns", "add", &name])?;
            ns.names.push(name.clone());
            ip(&["link", "add", &host, "type", "veth", "peer", "name", &inner])?;
            ns.host_links.push(host.clone());
            ip(&["link", "set", &inner, "netns", &name])?;
            ip(&[
                "addr",
                "add",
                &format!("{}/30", ns.host_addr(k)),
                "dev",
                &host,
            ])?;
            ip(&["link", "set", &host, "up"])?;
            let inside = |args: &[&str]| {
                let mut all = vec!["netns", "exec", name.as_str(), "ip"];
                all.extend_from_slice(args);
                ip(&all)
            };
            inside(&["addr", "add", &format!("10.{net}.{k}.2/30"), "dev", &inner])?;
            inside(&["link", "set", &inner, "up"])?;
            inside(&["link", "set", "lo", "up"])?;
        }
        Ok(ns)
    }

    fn host_addr(&self, k: usize) -> String {
        format!("10.{}.{k}.1", self.net)
    }

    /// Cuts namespace `k` off the host (its link goes down), or connects it again.
    fn set_link(&self, k: usize, up: bool) {
        ip(&[
            "link",
            "set",
            &self.host_links[k],
            if up { "up" } else { "down" },
        ])
        .unwrap();
    }

    fn exec(&self, k: usize) -> Vec<String> {
        vec![
            "ip".into(),
            "netns".into(),
            "exec".into(),
            self.names[k].clone(),
        ]
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.names {
            // Deleting a namespace deletes its end of the veth pair, and so the pair.
            let _ = ip(&["netns", "del", name]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_cut_off_mid_job_is_taken_over_within_the_lease_and_its_late_results_rejected() {
    let _one = ONE_AT_A_TIME.lock().await;
    let jobs = scale(200) / 4;
    let lease = Duration::from_millis(2_000);
    let p = Pipeline::new(&Options {
        mods: 0,
        lease_ms: lease.as_millis() as u64,
        ..Options::default()
    })
    .await;
    // Needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN) and `ip` (iproute2), as CI has: a
    // scenario that cannot run fails.
    let ns = Namespaces::create(3).unwrap_or_else(|e| {
        panic!(
            "fault netns cannot run: network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2: {e}"
        )
    });
    // Redis answers on every host-side address too.
    let mut binds = vec!["127.0.0.1".to_owned()];
    binds.extend((0..3).map(|k| ns.host_addr(k)));
    let mut conn = p.conn().await;
    // Only loopback and the private veth addresses: no password needed, so protected mode
    // (which refuses every non-loopback client without one) goes.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("bind")
        .arg(binds.join(" "))
        .arg("protected-mode")
        .arg("no")
        .query_async(&mut conn)
        .await
        .unwrap();
    let port = p
        .redis_url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let mut workers = Workers::default();
    for k in 0..3 {
        let mut s = p.worker_settings(&["noop"]);
        s.data_dir = p.root.join(format!("data-ns{k}"));
        s.redis.url = Some(netkan_common::config::Secret::new(format!(
            "redis://{}:{port}/",
            ns.host_addr(k)
        )));
        workers.add_wrapped(&format!("ns{k}"), s, ns.exec(k));
    }
    let jq = p.jq();
    let queue = netkan_common::QueueName::new("noop").unwrap();
    time_until(Duration::from_secs(30), || {
        let (mut conn, jq) = (conn.clone(), jq.clone());
        async move { jq.workers(&mut conn).await.is_ok_and(|w| w.len() == 3) }
    })
    .await
    .expect("the three workers announce themselves through their namespaces");

    let batch: Vec<netkan_common::NewJob> = (0..jobs)
        .map(|_| netkan_common::NewJob::new("noop", queue.clone()).with_attr("sleep_ms", "1500"))
        .collect();
    let ids = jq.enqueue(&mut conn, &batch).await.unwrap();

    // Cut worker 0 off while it holds jobs.
    let pid = workers.all[0].pid().unwrap();
    let (worker_id, held) = loop {
        let (id, held) = held_by(&p, pid).await;
        if !held.is_empty() {
            break (id.unwrap(), held);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    ns.set_link(0, false);
    let cut = Instant::now();
    let takeover = taken_over(&p, &worker_id, &held, cut, lease + Duration::from_secs(30)).await;
    // Connected again once its held jobs have run elsewhere: what it says now is late.
    time_until(Duration::from_secs(30), || {
        let (mut conn, jq, held) = (conn.clone(), jq.clone(), held.clone());
        async move { load::outcome(&mut conn, &jq, &held).await.1.is_empty() }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    ns.set_link(0, true);
    let reconnected = Instant::now();
    time_until(Duration::from_secs(60), || {
        let (mut conn, jq, ids) = (conn.clone(), jq.clone(), ids.clone());
        async move { load::outcome(&mut conn, &jq, &ids).await.1.is_empty() }
    })
    .await;
    // Its late acknowledgements reach Redis and are refused (the worker says so).
    let rejected_lines = time_until(Duration::from_secs(20), || async {
        workers
            .log(0)
            .matches("rejected: its lease had been taken over")
            .count()
            >= held.len()
    })
    .await;
    let rejected = workers
        .log(0)
        .matches("rejected: its lease had been taken over")
        .count();
    let counters = jq.counters(&mut conn).await.unwrap();
    let accepted: i64 = counters
        .iter()
        .filter(|(k, _)| k.contains("noop") && k.ends_with("succeeded"))
        .map(|(_, v)| *v)
        .sum();
    let mut ran_twice = 0;
    for id in &held {
        let lines = jq.logs(&mut conn, id, &Default::default()).await.unwrap();
        if lines.iter().filter(|l| l.message.contains("ran")).count() > 1 {
            ran_twice += 1;
        }
    }
    let (ok, lost) = load::outcome(&mut conn, &jq, &ids).await;
    println!(
        "fault netns: {jobs} jobs of 1.5 s on 3 workers in 3 namespaces, lease {}; cut off holding {}: taken over after {}; reconnected after {}; late results rejected {rejected} (within {}), acknowledgements accepted {accepted} for {jobs} jobs; succeeded {ok}, lost {}, held jobs whose log shows both runs {ran_twice}",
        secs(lease),
        held.len(),
        takeover.map(secs).unwrap_or("never".into()),
        secs(reconnected - cut),
        rejected_lines.map(secs).unwrap_or("never".into()),
        lost.len(),
    );
    assert!(lost.is_empty(), "{lost:?}");
    assert!(
        takeover.is_some_and(|d| d <= lease + Duration::from_secs(10)),
        "not taken over within the lease (+ 10 s)"
    );
    assert_eq!(accepted, jobs as i64, "one accepted result per job");
    assert!(
        rejected_lines.is_some(),
        "the late results were not seen rejected:\n{}",
        workers.log(0)
    );
}
