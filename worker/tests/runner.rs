//! The runner against a real redis-server: in-process runners, and worker processes killed
//! or stopped with signals.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use netkan_common::log::{Level, LogQuery, Redactor};
use netkan_common::testing::{TestRedis, eventually};
use netkan_common::{JobId, JobQueue, JobSettings, JobState, Keys, Lane, NewJob, QueueName};
use netkan_worker::{JobError, Registry, Role, RunnerConfig};
use tokio_util::sync::CancellationToken;

fn queue() -> QueueName {
    QueueName::new("noop").unwrap()
}

fn job_queue(settings: JobSettings) -> JobQueue {
    JobQueue::new(Keys::default(), settings)
}

fn fast_settings() -> JobSettings {
    JobSettings {
        lease_ms: 1_000,
        maintenance_interval_ms: 100,
        backoff_base_ms: 10,
        backoff_max_ms: 50,
        max_attempts: 3,
        ..JobSettings::default()
    }
}

struct Runner {
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<anyhow::Result<netkan_worker::RunReport>>,
}

impl Runner {
    fn start(
        redis: &TestRedis,
        settings: JobSettings,
        registry: Registry,
        concurrency: usize,
    ) -> Self {
        Self::start_with_timeout(
            redis,
            settings,
            registry,
            concurrency,
            Duration::from_secs(10),
        )
    }

    fn start_with_timeout(
        redis: &TestRedis,
        settings: JobSettings,
        registry: Registry,
        concurrency: usize,
        shutdown_timeout: Duration,
    ) -> Self {
        Self::start_on(
            redis,
            settings,
            registry,
            concurrency,
            shutdown_timeout,
            vec![queue()],
        )
    }

    fn start_on(
        redis: &TestRedis,
        settings: JobSettings,
        registry: Registry,
        concurrency: usize,
        shutdown_timeout: Duration,
        queues: Vec<QueueName>,
    ) -> Self {
        let cfg = RunnerConfig {
            worker_id: netkan_worker::runner::new_worker_id(),
            redis_url: redis.url(),
            queue: job_queue(settings),
            pool: netkan_common::connect::pool(&redis.url(), 4).unwrap(),
            roles: vec![Role {
                name: "noop".into(),
                queues,
                concurrency,
                registry,
            }],
            claim_batch: 16,
            shutdown_timeout,
            redactor: Redactor::new(["sekrit-token"]),
        };
        let stop = CancellationToken::new();
        let handle = tokio::spawn(netkan_worker::runner::run(cfg, stop.clone()));
        Self { stop, handle }
    }

    async fn stop(self) -> netkan_worker::RunReport {
        self.stop.cancel();
        self.handle.await.unwrap().unwrap()
    }
}

async fn wait_for_state(
    redis: &TestRedis,
    jq: &JobQueue,
    id: &JobId,
    state: JobState,
) -> netkan_common::JobRecord {
    let mut c = redis.conn().await;
    eventually(
        Duration::from_secs(20),
        &format!("job {id} to be {state}"),
        || {
            let mut c = c.clone();
            async move {
                jq.job(&mut c, id)
                    .await
                    .unwrap()
                    .filter(|r| r.state == state)
            }
        },
    )
    .await;
    jq.job(&mut c, id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_job_runs_and_its_log_is_written_while_it_runs() {
    let redis = TestRedis::start();
    let jq = job_queue(fast_settings());
    let gate = Arc::new(tokio::sync::Notify::new());
    let mut registry = Registry::new();
    let g = gate.clone();
    registry.register("noop", move |ctx| {
        let g = g.clone();
        async move {
            ctx.notice("started with token sekrit-token at https://u:pw@example.com/x");
            g.notified().await;
            ctx.info("done");
            Ok(())
        }
    });
    let runner = Runner::start(&redis, fast_settings(), registry, 2);
    let mut c = redis.conn().await;
    let job = NewJob::new("noop", queue());
    jq.enqueue(&mut c, std::slice::from_ref(&job))
        .await
        .unwrap();

    let first = eventually(
        Duration::from_secs(10),
        "the first line while running",
        || {
            let mut c = c.clone();
            let jq = jq.clone();
            async move {
                jq.logs(&mut c, &job.id, &LogQuery::default())
                    .await
                    .unwrap()
                    .into_iter()
                    .next()
            }
        },
    )
    .await;
    assert_eq!(first.level, Level::Notice);
    assert_eq!(
        first.message,
        "started with token *** at https://u:***@example.com/x"
    );
    assert_eq!(
        jq.job(&mut c, &job.id).await.unwrap().unwrap().state,
        JobState::Running
    );
    gate.notify_one();
    let rec = wait_for_state(&redis, &jq, &job.id, JobState::Succeeded).await;
    assert_eq!(rec.attempts, 1);
    let lines = jq
        .logs(&mut c, &job.id, &LogQuery::default())
        .await
        .unwrap();
    assert_eq!(
        lines.iter().map(|l| l.message.as_str()).collect::<Vec<_>>()[1],
        "done"
    );
    runner.stop().await;
}

#[tokio::test]
async fn an_always_failing_job_is_dead_after_max_attempts_and_retrying_it_works() {
    let redis = TestRedis::start();
    let jq = job_queue(fast_settings());
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut registry = Registry::new();
    let f = fail.clone();
    registry.register("noop", move |ctx| {
        let f = f.clone();
        async move {
            if f.load(Ordering::SeqCst) {
                return Err(JobError::Retry(anyhow::anyhow!("upstream returned 500")));
            }
            ctx.notice("worked this time");
            Ok(())
        }
    });
    let runner = Runner::start(&redis, fast_settings(), registry, 2);
    let mut c = redis.conn().await;
    let job = NewJob::new("noop", queue());
    jq.enqueue(&mut c, std::slice::from_ref(&job))
        .await
        .unwrap();
    let rec = wait_for_state(&redis, &jq, &job.id, JobState::Dead).await;
    assert_eq!(rec.attempts, 3);
    assert_eq!(rec.last_error.as_deref(), Some("upstream returned 500"));
    let lines = jq
        .logs(&mut c, &job.id, &LogQuery::default())
        .await
        .unwrap();
    let last = lines.last().unwrap();
    assert_eq!(
        last.level,
        Level::Error,
        "a failed job's log ends with an ERROR line"
    );
    assert!(last.message.contains("giving up"), "{}", last.message);
    let dead = jq.dead(&mut c, &queue(), 10).await.unwrap();
    assert_eq!(dead[0].id, job.id);

    fail.store(false, Ordering::SeqCst);
    jq.retry_dead(&mut c, &job.id).await.unwrap();
    let rec = wait_for_state(&redis, &jq, &job.id, JobState::Succeeded).await;
    assert_eq!(rec.attempts, 1);
    runner.stop().await;
}

#[tokio::test]
async fn a_panicking_handler_is_a_failed_attempt_and_the_worker_goes_on() {
    let redis = TestRedis::start();
    let jq = job_queue(fast_settings());
    let mut registry = Registry::new();
    registry.register("noop", |ctx| async move {
        if ctx.job().body == "panic" {
            panic!("index out of bounds");
        }
        if ctx.job().body == "bad" {
            return Err(JobError::permanent("identifier does not match file name"));
        }
        Ok(())
    });
    let runner = Runner::start(&redis, fast_settings(), registry, 2);
    let mut c = redis.conn().await;
    let panicking = NewJob::new("noop", queue()).with_body("panic");
    let bad = NewJob::new("noop", queue()).with_body("bad");
    let good = NewJob::new("noop", queue()).with_body("good");
    jq.enqueue(&mut c, &[panicking.clone(), bad.clone(), good.clone()])
        .await
        .unwrap();
    wait_for_state(&redis, &jq, &good.id, JobState::Succeeded).await;
    let rec = wait_for_state(&redis, &jq, &bad.id, JobState::Failed).await;
    assert_eq!(rec.attempts, 1, "a permanent failure is not retried");
    let rec = wait_for_state(&redis, &jq, &panicking.id, JobState::Dead).await;
    assert!(
        rec.last_error
            .unwrap()
            .contains("panicked: index out of bounds")
    );
    runner.stop().await;
}

#[tokio::test]
async fn garbage_in_the_queue_is_dead_lettered_and_the_next_job_is_processed() {
    let redis = TestRedis::start();
    let jq = job_queue(fast_settings());
    let runner = Runner::start(&redis, fast_settings(), noop_registry(), 2);
    let mut c = redis.conn().await;
    let _: String = redis::cmd("XADD")
        .arg(jq.keys().lane(&queue(), Lane::High))
        .arg("*")
        .arg("garbage")
        .arg("\u{0}\u{1}binary")
        .query_async(&mut c)
        .await
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg(jq.keys().lane(&queue(), Lane::High))
        .arg("*")
        .arg("id")
        .arg(JobId::new().to_string())
        .arg("kind")
        .arg("noop")
        .arg("game")
        .arg("not a game!")
        .query_async(&mut c)
        .await
        .unwrap();
    let job = NewJob::new("noop", queue());
    jq.enqueue(&mut c, std::slice::from_ref(&job))
        .await
        .unwrap();
    wait_for_state(&redis, &jq, &job.id, JobState::Succeeded).await;
    let dead = eventually(Duration::from_secs(10), "two dead entries", || {
        let mut c = c.clone();
        let jq = jq.clone();
        async move { Some(jq.dead(&mut c, &queue(), 10).await.unwrap()).filter(|d| d.len() == 2) }
    })
    .await;
    assert!(
        dead.iter()
            .any(|d| d.error.contains("undecodable queue entry"))
    );
    assert!(
        dead.iter().any(|d| d.error.contains("invalid game id")),
        "{dead:?}"
    );
    runner.stop().await;
}

fn noop_registry() -> Registry {
    let mut r = Registry::new();
    netkan_worker::jobs::noop::register(&mut r);
    r
}

#[tokio::test]
async fn the_worker_reconnects_after_redis_restarts_while_it_waits() {
    let mut redis = TestRedis::start_persistent();
    let jq = job_queue(fast_settings());
    let runner = Runner::start(&redis, fast_settings(), noop_registry(), 2);
    let mut c = redis.conn().await;
    let before = NewJob::new("noop", queue());
    jq.enqueue(&mut c, std::slice::from_ref(&before))
        .await
        .unwrap();
    wait_for_state(&redis, &jq, &before.id, JobState::Succeeded).await;

    redis.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart();
    let job = NewJob::new("noop", queue());
    let mut c = redis.conn().await;
    jq.enqueue(&mut c, std::slice::from_ref(&job))
        .await
        .unwrap();
    wait_for_state(&redis, &jq, &job.id, JobState::Succeeded).await;
    runner.stop().await;
}

#[tokio::test]
async fn shutdown_lets_running_jobs_finish_or_hands_them_back() {
    let redis = TestRedis::start();
    let jq = job_queue(fast_settings());
    let ran = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let r = ran.clone();
    registry.register("noop", move |ctx| {
        let r = r.clone();
        async move {
            let ms: u64 = ctx.job().body.parse().unwrap();
            tokio::time::sleep(Duration::from_millis(ms)).await;
            r.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    // Short jobs finish within the deadline; long ones are handed back.
    let runner = Runner::start_with_timeout(
        &redis,
        fast_settings(),
        registry.clone(),
        10,
        Duration::from_millis(500),
    );
    let mut c = redis.conn().await;
    let short: Vec<NewJob> = (0..3)
        .map(|_| NewJob::new("noop", queue()).with_body("200"))
        .collect();
    let long: Vec<NewJob> = (0..2)
        .map(|_| NewJob::new("noop", queue()).with_body("3000"))
        .collect();
    jq.enqueue(&mut c, &short).await.unwrap();
    jq.enqueue(&mut c, &long).await.unwrap();
    eventually(Duration::from_secs(10), "all five to start", || {
        let mut c = c.clone();
        let jq = jq.clone();
        async move { (jq.in_flight(&mut c, &queue(), 10).await.unwrap().len() == 5).then_some(()) }
    })
    .await;
    let report = runner.stop().await;
    assert_eq!(report.handed_back, 2);
    for j in &short {
        assert_eq!(
            jq.job(&mut c, &j.id).await.unwrap().unwrap().state,
            JobState::Succeeded
        );
    }
    for j in &long {
        let rec = jq.job(&mut c, &j.id).await.unwrap().unwrap();
        assert_eq!(rec.state, JobState::Queued, "handed back, not lost");
        assert_eq!(rec.attempts, 0, "a hand-back does not use up an attempt");
    }
    // Another worker picks them up.
    let runner = Runner::start(&redis, fast_settings(), registry, 10);
    for j in &long {
        wait_for_state(&redis, &jq, &j.id, JobState::Succeeded).await;
    }
    runner.stop().await;
    assert_eq!(ran.load(Ordering::SeqCst), 5);
}

fn spawn_worker(redis: &TestRedis, lease_ms: u64) -> Child {
    Command::new(env!("CARGO_BIN_EXE_netkan-worker"))
        .args(["run", "--role", "noop=4"])
        .env("REDIS_URL", redis.url())
        .env("NETKAN__JOBS__LEASE_MS", lease_ms.to_string())
        .env("NETKAN__JOBS__MAINTENANCE_INTERVAL_MS", "100")
        .env("NETKAN__WORKER__SHUTDOWN_TIMEOUT_SECS", "10")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start netkan-worker")
}

#[tokio::test]
async fn a_worker_killed_mid_job_has_its_job_run_again_by_another_worker() {
    let redis = TestRedis::start();
    let settings = JobSettings {
        lease_ms: 1_000,
        maintenance_interval_ms: 100,
        ..JobSettings::default()
    };
    let jq = job_queue(settings.clone());
    let mut c = redis.conn().await;
    let mut victim = spawn_worker(&redis, 1_000);
    let job = NewJob::new("noop", queue()).with_attr("sleep_ms", "60000");
    jq.enqueue(&mut c, std::slice::from_ref(&job))
        .await
        .unwrap();
    let first = wait_for_state(&redis, &jq, &job.id, JobState::Running).await;
    victim.kill().unwrap();
    victim.wait().unwrap();

    // Another worker (in this process) takes it over once the lease expires.
    let mut registry = Registry::new();
    registry.register("noop", |ctx| async move {
        ctx.notice("finished by the second worker");
        Ok(())
    });
    let runner = Runner::start(&redis, settings, registry, 2);
    let rec = wait_for_state(&redis, &jq, &job.id, JobState::Succeeded).await;
    assert_eq!(rec.attempts, 2);
    assert_ne!(rec.worker, first.worker);
    let lines = jq
        .logs(&mut c, &job.id, &LogQuery::default())
        .await
        .unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.message.contains("stopped renewing its lease")),
        "{lines:?}"
    );
    // The old holder's late acknowledgement (token of attempt 1) is rejected.
    let late = jq
        .finish(
            &mut c,
            &[netkan_common::queue::Finish {
                id: job.id,
                queue: queue(),
                token: 1,
                attempt: 1,
                outcome: netkan_common::queue::Outcome::Failed("late".into()),
            }],
        )
        .await
        .unwrap();
    assert_eq!(late, vec![false]);
    assert_eq!(
        jq.job(&mut c, &job.id).await.unwrap().unwrap().state,
        JobState::Succeeded
    );
    runner.stop().await;
}

#[tokio::test]
async fn sigterm_lets_running_jobs_finish_and_loses_nothing() {
    let redis = TestRedis::start();
    let jq = job_queue(JobSettings::default());
    let mut c = redis.conn().await;
    let mut worker = spawn_worker(&redis, 5_000);
    let jobs: Vec<NewJob> = (0..8)
        .map(|_| NewJob::new("noop", queue()).with_attr("sleep_ms", "700"))
        .collect();
    jq.enqueue(&mut c, &jobs).await.unwrap();
    eventually(Duration::from_secs(10), "four jobs running", || {
        let mut c = c.clone();
        let jq = jq.clone();
        async move { (jq.in_flight(&mut c, &queue(), 10).await.unwrap().len() == 4).then_some(()) }
    })
    .await;
    let status = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = worker.wait().unwrap();
    assert!(exit.success(), "worker exited with {exit}");
    let mut succeeded = 0;
    let mut queued = 0;
    for j in &jobs {
        match jq.job(&mut c, &j.id).await.unwrap().unwrap().state {
            JobState::Succeeded => succeeded += 1,
            JobState::Queued => queued += 1,
            other => panic!("job {} is {other} after SIGTERM", j.id),
        }
    }
    assert_eq!(succeeded, 4, "the running jobs finished");
    assert_eq!(queued, 4, "the waiting ones are still waiting");
    let workers = jq.workers(&mut c).await.unwrap();
    assert!(
        workers.is_empty(),
        "a cleanly stopped worker removes its announcement: {workers:?}"
    );
}

/// A way Redis refuses writes while it stays up and answers reads.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// `maxmemory` reached under `noeviction`: `OOM`.
    MemoryFull,
    /// It became a replica (of a primary that does not answer): `READONLY`.
    Replica,
    /// A snapshot failed to be written: `MISCONF`.
    SnapshotFailed,
}

impl Refusal {
    /// The error code Redis answers writes with (counted in `INFO errorstats`).
    fn code(self) -> &'static str {
        match self {
            Refusal::MemoryFull => "OOM",
            Refusal::Replica => "READONLY",
            Refusal::SnapshotFailed => "MISCONF",
        }
    }

    async fn impose(self, c: &mut redis::aio::MultiplexedConnection) {
        match self {
            Refusal::MemoryFull => config_set(c, "maxmemory", "1").await,
            Refusal::Replica => {
                let nobody = netkan_common::redis_server::free_port();
                let () = redis::cmd("REPLICAOF")
                    .arg("127.0.0.1")
                    .arg(nobody)
                    .query_async(c)
                    .await
                    .unwrap();
            }
            Refusal::SnapshotFailed => {
                // With a save point configured, a snapshot that fails stops writes; one whose
                // process is killed counts as failed. A delay per key keeps it running until then.
                config_set(c, "save", "3600 1").await;
                config_set(c, "rdb-key-save-delay", "1000000").await;
                let () = redis::cmd("BGSAVE").query_async(c).await.unwrap();
                let pid = info_field(c, "server", "process_id").await.unwrap();
                let child = eventually(Duration::from_secs(10), "the snapshot process", || {
                    let pid = pid.clone();
                    async move {
                        let children =
                            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                                .ok()?;
                        children.split_whitespace().next().map(str::to_owned)
                    }
                })
                .await;
                let status = Command::new("kill").arg("-9").arg(&child).status().unwrap();
                assert!(status.success(), "kill -9 {child}");
                config_set(c, "rdb-key-save-delay", "0").await;
                eventually(
                    Duration::from_secs(10),
                    "the failed snapshot to be noted",
                    || {
                        let mut c = c.clone();
                        async move {
                            (info_field(&mut c, "persistence", "rdb_last_bgsave_status")
                                .await
                                .as_deref()
                                == Some("err"))
                            .then_some(())
                        }
                    },
                )
                .await;
            }
        }
    }

    async fn lift(self, c: &mut redis::aio::MultiplexedConnection) {
        match self {
            Refusal::MemoryFull => config_set(c, "maxmemory", "0").await,
            Refusal::Replica => {
                let () = redis::cmd("REPLICAOF")
                    .arg("NO")
                    .arg("ONE")
                    .query_async(c)
                    .await
                    .unwrap();
            }
            Refusal::SnapshotFailed => bgsave_until(c, "ok").await,
        }
    }
}

async fn config_set(c: &mut redis::aio::MultiplexedConnection, name: &str, value: &str) {
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query_async(c)
        .await
        .unwrap();
}

/// The value of `field` in `INFO section`.
async fn info_field(
    c: &mut redis::aio::MultiplexedConnection,
    section: &str,
    field: &str,
) -> Option<String> {
    let info: String = redis::cmd("INFO")
        .arg(section)
        .query_async(c)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(str::to_owned))
}

/// Starts snapshots until the last one's status is `status` (`ok` or `err`).
async fn bgsave_until(c: &mut redis::aio::MultiplexedConnection, status: &str) {
    eventually(
        Duration::from_secs(20),
        &format!("a snapshot ending {status}"),
        || {
            let mut c = c.clone();
            async move {
                let _: redis::RedisResult<redis::Value> =
                    redis::cmd("BGSAVE").query_async(&mut c).await;
                (info_field(&mut c, "persistence", "rdb_last_bgsave_status")
                    .await
                    .as_deref()
                    == Some(status)
                    && info_field(&mut c, "persistence", "rdb_bgsave_in_progress")
                        .await
                        .as_deref()
                        == Some("0"))
                .then_some(())
            }
        },
    )
    .await;
}

/// How many writes Redis has refused with `code` so far.
async fn refused(c: &mut redis::aio::MultiplexedConnection, code: &str) -> u64 {
    info_field(c, "errorstats", &format!("errorstat_{code}"))
        .await
        .and_then(|v| v.strip_prefix("count=")?.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

/// Jobs run while Redis refuses every write, for longer than several leases; once it takes
/// writes again, the same worker drains the queue with nothing dead and no job lost.
async fn the_queue_drains_after(refusal: Refusal) {
    const JOBS: usize = 200;
    let redis = TestRedis::start();
    let jq = job_queue(fast_settings());
    let ran = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let r = ran.clone();
    registry.register("noop", move |ctx| {
        let r = r.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            ctx.info("done");
            r.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let runner = Runner::start(&redis, fast_settings(), registry, 8);
    let mut c = redis.conn().await;
    let jobs: Vec<NewJob> = (0..JOBS).map(|_| NewJob::new("noop", queue())).collect();
    jq.enqueue(&mut c, &jobs).await.unwrap();
    eventually(Duration::from_secs(20), "a few jobs to have run", || {
        let n = ran.load(Ordering::SeqCst);
        async move { (n >= 10).then_some(()) }
    })
    .await;

    refusal.impose(&mut c).await;
    eventually(
        Duration::from_secs(20),
        &format!("Redis to refuse writes with {}", refusal.code()),
        || {
            let mut c = c.clone();
            async move { (refused(&mut c, refusal.code()).await >= 10).then_some(()) }
        },
    )
    .await;
    // The scenario: Redis refuses writes for five leases (the lease is 1 s). Jobs finish
    // meanwhile; their outcomes wait in the writer, beyond the point where it once gave up.
    tokio::time::sleep(Duration::from_secs(5)).await;
    refusal.lift(&mut c).await;

    // Within 30 s every job has succeeded: the worker that lived through the refusal drains
    // the queue by itself.
    let stats = eventually(Duration::from_secs(30), "the queue to drain", || {
        let mut c = c.clone();
        let jq = jq.clone();
        async move {
            let s = jq
                .stats(&mut c)
                .await
                .unwrap()
                .into_iter()
                .find(|s| s.queue == "noop")?;
            (s.waiting() + s.retrying + s.in_flight == 0).then_some(s)
        }
    })
    .await;
    assert_eq!(stats.dead, 0, "{refusal:?}: no job may be dead: {stats:?}");
    for job in &jobs {
        let rec = jq.job(&mut c, &job.id).await.unwrap().unwrap();
        assert_eq!(
            rec.state,
            JobState::Succeeded,
            "{refusal:?}: job {}",
            job.id
        );
    }
    assert!(ran.load(Ordering::SeqCst) >= JOBS);
    runner.stop().await;
}

#[tokio::test]
async fn after_redis_was_full_the_queue_drains_without_a_restart() {
    the_queue_drains_after(Refusal::MemoryFull).await;
}

#[tokio::test]
async fn after_redis_was_a_replica_the_queue_drains_without_a_restart() {
    the_queue_drains_after(Refusal::Replica).await;
}

#[tokio::test]
async fn after_a_failed_snapshot_the_queue_drains_without_a_restart() {
    the_queue_drains_after(Refusal::SnapshotFailed).await;
}

#[tokio::test]
async fn a_hung_attempt_times_out_as_a_failed_attempt_and_its_late_lines_are_refused() {
    let redis = TestRedis::start();
    let settings = JobSettings {
        timeout_secs: 1,
        max_attempts: 2,
        ..fast_settings()
    };
    let jq = job_queue(settings.clone());
    let wake = Arc::new(tokio::sync::Notify::new());
    let woke = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let (w, k) = (wake.clone(), woke.clone());
    registry.register("hang", move |ctx| {
        let (w, k) = (w.clone(), k.clone());
        async move {
            // Work left running beside the attempt, which writes once it wakes up.
            let late = ctx.clone();
            tokio::spawn(async move {
                w.notified().await;
                late.info("woke up after the attempt was over");
                k.fetch_add(1, Ordering::SeqCst);
            });
            ctx.info("started; hanging");
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    netkan_worker::jobs::noop::register(&mut registry);
    let runner = Runner::start(&redis, settings, registry, 4);
    let mut c = redis.conn().await;
    let job = NewJob::new("hang", queue());
    jq.enqueue(&mut c, std::slice::from_ref(&job))
        .await
        .unwrap();
    let rec = wait_for_state(&redis, &jq, &job.id, JobState::Dead).await;
    assert_eq!(rec.attempts, 2);
    let error = rec.last_error.unwrap();
    assert!(
        error.contains("timed out") && error.contains("jobs.timeout_secs"),
        "{error}"
    );

    // Both attempts' background work wakes up and writes; then a later job's outcome, sent
    // through the same writer after those lines, is recorded: the lines were dealt with.
    wake.notify_waiters();
    eventually(
        Duration::from_secs(10),
        "both late writers to have written",
        || {
            let n = woke.load(Ordering::SeqCst);
            async move { (n == 2).then_some(()) }
        },
    )
    .await;
    let after = NewJob::new("noop", queue());
    jq.enqueue(&mut c, std::slice::from_ref(&after))
        .await
        .unwrap();
    wait_for_state(&redis, &jq, &after.id, JobState::Succeeded).await;
    let lines: Vec<String> = jq
        .logs(&mut c, &job.id, &LogQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.message)
        .collect();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("started")).count(),
        2,
        "{lines:#?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains("woke up")),
        "a finished attempt wrote to the log: {lines:#?}"
    );
    assert!(
        lines.last().unwrap().contains("timed out"),
        "the verdict stays last: {lines:#?}"
    );
    runner.stop().await;
}

#[tokio::test]
async fn a_paused_queue_waits_while_others_run_and_runs_as_soon_as_it_is_resumed() {
    let redis = TestRedis::start();
    let jq = job_queue(fast_settings());
    let other = QueueName::new("other").unwrap();
    let runner = Runner::start_on(
        &redis,
        fast_settings(),
        noop_registry(),
        2,
        Duration::from_secs(10),
        vec![queue(), other.clone()],
    );
    let mut c = redis.conn().await;
    assert!(jq.pause(&mut c, &queue()).await.unwrap());
    let held_back = NewJob::new("noop", queue());
    let passing = NewJob::new("noop", other);
    // Enqueued after the held-back job: once it has run, the worker has passed over the
    // paused queue's lane at least once.
    jq.enqueue(&mut c, std::slice::from_ref(&held_back))
        .await
        .unwrap();
    jq.enqueue(&mut c, std::slice::from_ref(&passing))
        .await
        .unwrap();
    wait_for_state(&redis, &jq, &passing.id, JobState::Succeeded).await;
    assert_eq!(
        jq.job(&mut c, &held_back.id).await.unwrap().unwrap().state,
        JobState::Queued
    );

    // The worker now waits for jobs (blocking up to 5 s per read); resuming wakes it through
    // the control stream, well before its wait would end by itself.
    assert!(jq.resume(&mut c, &queue()).await.unwrap());
    eventually(
        Duration::from_secs(3),
        "the resumed queue's job to run",
        || {
            let mut c = c.clone();
            let jq = jq.clone();
            let id = held_back.id;
            async move {
                jq.job(&mut c, &id)
                    .await
                    .unwrap()
                    .filter(|r| r.state == JobState::Succeeded)
            }
        },
    )
    .await;
    runner.stop().await;
}

#[tokio::test]
async fn a_running_job_cancelled_by_an_operator_stops_and_ends_cancelled_without_a_retry() {
    let redis = TestRedis::start();
    let jq = job_queue(fast_settings());
    let runs = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let r = runs.clone();
    registry.register("noop", move |ctx| {
        let r = r.clone();
        async move {
            r.fetch_add(1, Ordering::SeqCst);
            ctx.info("working until told to stop");
            ctx.cancelled().cancelled().await;
            Ok(())
        }
    });
    let runner = Runner::start(&redis, fast_settings(), registry, 2);
    let mut c = redis.conn().await;
    let job = NewJob::new("noop", queue());
    jq.enqueue(&mut c, std::slice::from_ref(&job))
        .await
        .unwrap();
    wait_for_state(&redis, &jq, &job.id, JobState::Running).await;
    assert_eq!(
        jq.cancel(&mut c, &job.id, "an operator (test)")
            .await
            .unwrap(),
        netkan_common::queue::Cancelled::Requested
    );
    let rec = wait_for_state(&redis, &jq, &job.id, JobState::Cancelled).await;
    assert_eq!(rec.attempts, 1);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let lines = jq
        .logs(&mut c, &job.id, &LogQuery::default())
        .await
        .unwrap();
    let last = lines.last().unwrap();
    assert!(
        last.message.contains("cancelled by an operator"),
        "{lines:?}"
    );
    // Not retried: the queue is empty and nothing is waiting out a backoff.
    let stats = jq.stats(&mut c).await.unwrap();
    assert_eq!(
        stats[0].waiting() + stats[0].retrying + stats[0].in_flight,
        0,
        "{stats:?}"
    );
    runner.stop().await;
}
