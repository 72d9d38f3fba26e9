//! The job-core benchmark: `netkan-worker bench`. Starts its own `redis-server` on a free
//! loopback port and measures, with full semantics (job record, one log line, lease, ack):
//! throughput at two concurrencies, enqueue → handler start latency under an open-loop
//! producer, Redis memory per queued and per finished job, and recovery after `kill -9` of
//! a worker process. Same scenarios as `shared/peers-bench` (BullMQ), so figures compare.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use netkan_common::config::Settings;
use netkan_common::log::Redactor;
use netkan_common::redis_server::{RedisServer, RedisServerOptions};
use netkan_common::{JobQueue, JobState, NewJob, QueueName};
use redis::aio::MultiplexedConnection;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::context::Registry;
use crate::runner::{self, Role, RunnerConfig};

/// Options of `netkan-worker bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Scenarios to run: throughput, latency, memory, recovery.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "throughput,latency,memory,recovery"
    )]
    pub scenarios: Vec<String>,
    /// Jobs in the throughput run at the high concurrency.
    #[arg(long, default_value_t = 50_000)]
    pub jobs: usize,
    /// The high concurrency.
    #[arg(long, default_value_t = 100)]
    pub concurrency: usize,
    /// Producer rate of the latency run, jobs per second.
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// Duration of the latency run, seconds.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Jobs queued in the memory run.
    #[arg(long, default_value_t = 100_000)]
    pub memory_jobs: usize,
    /// Print one JSON object per scenario instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the benchmark.
///
/// # Errors
/// If `redis-server` cannot be started or a scenario fails.
pub async fn run(args: BenchArgs, settings: &Settings) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = RedisServer::start(&RedisServerOptions {
        bin: std::env::var("REDIS_SERVER_BIN")
            .unwrap_or_else(|_| settings.redis.server_bin.clone()),
        dir: dir.path().to_owned(),
        port: 0,
        persistent: false,
    })?;
    let url = server.url();
    let version: String = {
        let mut c = conn(&url).await?;
        let info: String = redis::cmd("INFO").arg("server").query_async(&mut c).await?;
        info.lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .unwrap_or("?")
            .trim()
            .to_owned()
    };
    let emit = |scenario: &str, v: serde_json::Value| {
        if args.json {
            println!(
                "{}",
                json!({"system": "netkan", "scenario": scenario, "redis_version": version, "figures": v})
            );
        } else {
            println!("{scenario:<11} {}", v);
        }
    };
    for scenario in &args.scenarios {
        flush(&url).await?;
        match scenario.as_str() {
            "throughput" => {
                let low = throughput(&url, settings, (args.jobs / 10).max(1000), 1).await?;
                emit("throughput", low);
                let high = throughput(&url, settings, args.jobs, args.concurrency).await?;
                emit("throughput", high);
            }
            "latency" => emit(
                "latency",
                latency(&url, settings, args.rate, args.duration).await?,
            ),
            "memory" => emit("memory", memory(&url, settings, args.memory_jobs).await?),
            "recovery" => emit("recovery", recovery(&url).await?),
            other => anyhow::bail!(
                "unknown scenario {other:?}; expected throughput, latency, memory or recovery"
            ),
        }
    }
    drop(server);
    Ok(())
}

async fn conn(url: &str) -> anyhow::Result<MultiplexedConnection> {
    Ok(redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?)
}

async fn flush(url: &str) -> anyhow::Result<()> {
    let mut c = conn(url).await?;
    let () = redis::cmd("FLUSHALL").query_async(&mut c).await?;
    Ok(())
}

fn bench_queue() -> QueueName {
    QueueName::new("bench").expect("a valid queue name")
}

/// A runner serving `bench` with `registry`, in this process.
fn start_runner(
    url: &str,
    settings: &Settings,
    concurrency: usize,
    registry: Registry,
) -> anyhow::Result<(
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<runner::RunReport>>,
)> {
    let cfg = RunnerConfig {
        worker_id: runner::new_worker_id(),
        redis_url: url.to_owned(),
        queue: settings.job_queue(),
        pool: netkan_common::connect::pool(url, 8)?,
        roles: vec![Role {
            name: "bench".into(),
            queues: vec![bench_queue()],
            concurrency,
            registry,
        }],
        claim_batch: settings.worker.claim_batch,
        shutdown_timeout: Duration::from_secs(10),
        redactor: Redactor::default(),
    };
    let stop = CancellationToken::new();
    let handle = tokio::spawn(runner::run(cfg, stop.clone()));
    Ok((stop, handle))
}

fn noop_registry() -> Registry {
    let mut r = Registry::new();
    crate::jobs::noop::register(&mut r);
    r
}

async fn succeeded(c: &mut MultiplexedConnection, jq: &JobQueue) -> anyhow::Result<i64> {
    let counters = jq.counters(c).await?;
    Ok(counters
        .get("finished:bench:noop:succeeded")
        .copied()
        .unwrap_or(0))
}

async fn enqueue_noops(
    c: &mut MultiplexedConnection,
    jq: &JobQueue,
    n: usize,
    body: impl Fn(usize) -> String,
) -> anyhow::Result<f64> {
    let t = Instant::now();
    let mut i = 0;
    while i < n {
        let batch: Vec<NewJob> = (i..(i + 50).min(n))
            .map(|k| NewJob::new("noop", bench_queue()).with_body(body(k)))
            .collect();
        jq.enqueue(c, &batch).await?;
        i += batch.len();
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

async fn throughput(
    url: &str,
    settings: &Settings,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<serde_json::Value> {
    flush(url).await?;
    let jq = settings.job_queue();
    let mut c = conn(url).await?;
    let add_rate = enqueue_noops(&mut c, &jq, n, |k| format!("data {k}")).await?;
    let t = Instant::now();
    let (stop, handle) = start_runner(url, settings, concurrency, noop_registry())?;
    let mut first: Option<Duration> = None;
    loop {
        let done = succeeded(&mut c, &jq).await?;
        if done > 0 && first.is_none() {
            first = Some(t.elapsed());
        }
        if done as usize >= n {
            break;
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(300),
            "throughput run did not finish in 300 s ({done} of {n})"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let total = t.elapsed();
    stop.cancel();
    handle.await??;
    let first = first.unwrap_or_default();
    let process = total.saturating_sub(first);
    Ok(json!({
        "jobs": n,
        "concurrency": concurrency,
        "add_jobs_per_s": add_rate.round(),
        "jobs_per_s": (n as f64 / process.as_secs_f64()).round(),
        "jobs_per_s_incl_startup": (n as f64 / total.as_secs_f64()).round(),
        "worker_first_job_ms": (first.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
    }))
}

async fn latency(
    url: &str,
    settings: &Settings,
    rate: u64,
    secs: u64,
) -> anyhow::Result<serde_json::Value> {
    flush(url).await?;
    let jq = settings.job_queue();
    let base = Instant::now();
    let samples: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut registry = Registry::new();
    let s2 = samples.clone();
    registry.register("noop", move |ctx| {
        let s = s2.clone();
        async move {
            let now = base.elapsed().as_micros() as u64;
            if let Some(t) = ctx
                .job()
                .attributes
                .get("t_us")
                .and_then(|t| t.parse::<u64>().ok())
            {
                s.lock().expect("samples lock").push(now.saturating_sub(t));
            }
            ctx.info("latency probe ran");
            Ok(())
        }
    });
    let (stop, handle) = start_runner(url, settings, 8, registry)?;
    let mut c = conn(url).await?;
    // Warm up connections and scripts before measuring.
    jq.enqueue(&mut c, &[NewJob::new("noop", bench_queue())])
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    samples.lock().expect("samples lock").clear();
    let total = rate * secs;
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let start = Instant::now();
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let t_us = base.elapsed().as_micros() as u64;
        let job = NewJob::new("noop", bench_queue()).with_attr("t_us", t_us.to_string());
        let mut c = c.clone();
        let jq = jq.clone();
        // Open loop: the producer does not wait for one enqueue before the next is due.
        tokio::spawn(async move { jq.enqueue(&mut c, &[job]).await });
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while samples.lock().expect("samples lock").len() < total as usize && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    handle.await??;
    let mut s = samples.lock().expect("samples lock").clone();
    s.sort_unstable();
    let at = |p: f64| {
        s.get(((s.len().max(1) - 1) as f64 * p) as usize)
            .map(|us| *us as f64 / 1000.0)
            .unwrap_or(f64::NAN)
    };
    Ok(json!({
        "rate": rate, "jobs": total, "measured": s.len(),
        "p50_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99), "p999_ms": at(0.999), "max_ms": at(1.0),
    }))
}

async fn used_memory(c: &mut MultiplexedConnection) -> anyhow::Result<i64> {
    let mut readings = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let info: String = redis::cmd("INFO").arg("memory").query_async(c).await?;
        let used = info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .context("INFO memory has no used_memory")?
            .trim()
            .parse::<i64>()?;
        readings.push(used);
    }
    readings.sort_unstable();
    Ok(readings[1])
}

async fn memory(url: &str, settings: &Settings, n: usize) -> anyhow::Result<serde_json::Value> {
    flush(url).await?;
    let jq = settings.job_queue();
    let mut c = conn(url).await?;
    let before = used_memory(&mut c).await?;
    // The same git-push-like payload as the BullMQ memory scenario.
    enqueue_noops(&mut c, &jq, n, |_| {
        let sha: String = (0..20)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        json!({"repo": "/srv/git/NetKAN.git", "ref": "refs/heads/main", "sha": sha, "kind": "push"})
            .to_string()
    })
    .await?;
    let queued = used_memory(&mut c).await?;
    let t = Instant::now();
    let (stop, handle) = start_runner(url, settings, 100, noop_registry())?;
    while (succeeded(&mut c, &jq).await? as usize) < n {
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(300),
            "memory run did not drain in 300 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    handle.await??;
    let finished = used_memory(&mut c).await?;
    let sample: Vec<String> = redis::cmd("ZRANGE")
        .arg(jq.keys().finished())
        .arg(0)
        .arg(0)
        .query_async(&mut c)
        .await?;
    let state = match sample.first().and_then(|s| s.parse().ok()) {
        Some(id) => jq.job(&mut c, &id).await?.map(|r| r.state),
        None => None,
    };
    anyhow::ensure!(
        state == Some(JobState::Succeeded),
        "finished jobs are not kept"
    );
    Ok(json!({
        "jobs": n,
        "bytes_per_queued_job": ((queued - before) as f64 / n as f64).round(),
        "bytes_per_finished_job_kept": ((finished - before) as f64 / n as f64).round(),
        "payload_bytes": 120,
    }))
}

async fn recovery(url: &str) -> anyhow::Result<serde_json::Value> {
    flush(url).await?;
    let settings = Settings::default();
    let jq = settings.job_queue();
    let mut c = conn(url).await?;
    let n = 200;
    let queue = QueueName::new("noop")?;
    let jobs: Vec<NewJob> = (0..n)
        .map(|_| NewJob::new("noop", queue.clone()).with_attr("sleep_ms", "2000"))
        .collect();
    let ids: Vec<_> = jobs.iter().map(|j| j.id).collect();
    jq.enqueue(&mut c, &jobs).await?;
    let exe = std::env::current_exe()?;
    let spawn_worker = || {
        Command::new(&exe)
            .args(["run", "--role", "noop=20"])
            .env("REDIS_URL", url)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    };
    let mut victim = spawn_worker()?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    // The jobs it holds right now are the interrupted ones.
    let interrupted: Vec<_> = jq
        .in_flight(&mut c, &queue, 1000)
        .await?
        .into_iter()
        .map(|f| (f.id, f.attempt))
        .collect();
    victim.kill()?;
    let killed_at = Instant::now();
    victim.wait()?;
    let mut fresh = spawn_worker()?;
    let mut recovered = Duration::ZERO;
    loop {
        let mut all_again = true;
        for (id, attempt) in &interrupted {
            let rec = jq.job(&mut c, id).await?;
            let again = rec.is_some_and(|r| r.attempts > *attempt || r.state.is_finished());
            if !again {
                all_again = false;
                break;
            }
        }
        if all_again {
            recovered = killed_at.elapsed();
            break;
        }
        if killed_at.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Wait for everything to finish, then count.
    let t = Instant::now();
    let mut lost = 0;
    let mut ran_twice = 0;
    loop {
        let mut done = 0;
        for id in &ids {
            if let Some(r) = jq.job(&mut c, id).await?
                && r.state == JobState::Succeeded
            {
                done += 1;
            }
        }
        if done == n || t.elapsed() > Duration::from_secs(120) {
            for id in &ids {
                match jq.job(&mut c, id).await? {
                    Some(r) if r.state == JobState::Succeeded => {
                        let logs = jq.logs(&mut c, id, &Default::default()).await?;
                        if logs.iter().filter(|l| l.message.ends_with(" ran")).count() > 1 {
                            ran_twice += 1;
                        }
                    }
                    _ => lost += 1,
                }
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = fresh.kill();
    let _ = fresh.wait();
    Ok(json!({
        "jobs": n, "job_ms": 2000, "worker_concurrency": 20,
        "interrupted": interrupted.len(),
        "recovery_s": (recovered.as_secs_f64() * 100.0).round() / 100.0,
        "lease_ms": settings.jobs.lease_ms,
        "lost": lost, "completed_twice": ran_twice,
    }))
}
