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
        let cfg = RunnerConfig {
            worker_id: netkan_worker::runner::new_worker_id(),
            redis_url: redis.url(),
            queue: job_queue(settings),
            pool: netkan_common::connect::pool(&redis.url(), 4).unwrap(),
            roles: vec![Role {
                name: "noop".into(),
                queues: vec![queue()],
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
