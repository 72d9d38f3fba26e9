//! The web front end's benchmark (`scripts/bench-web.sh`, or
//! `cargo run --release -p netkan-web --example bench`), figures in `docs/BENCHMARKS.md`:
//!
//! 1. `wrk` against `/logs/<uuid>` of a finished job with 200 log lines, and against
//!    `/api/v1/jobs/<uuid>` of the same job (50 connections, 2 threads);
//! 2. the delay from a worker appending a line to Redis to a Server-Sent Events client
//!    reading it, with 1 and with 100 streams open;
//! 3. the same delay to a headless Chromium showing the line on `/logs/<uuid>` (skipped with
//!    a note when `chromedriver` is missing).
//!
//! Everything runs on a private `redis-server` and the web front end in this process, as
//! `netkan up` runs it. Options: `--duration <secs>` (wrk, default 10), `--lines <n>` (live
//! lines per measurement, default 200), `--no-browser`.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use netkan_common::config::Settings;
use netkan_common::queue::{Finish, Outcome};
use netkan_common::testing::TestRedis;
use netkan_common::{ClaimedJob, JobQueue, Level, NewJob, QueueName};
use redis::aio::MultiplexedConnection;
use tokio_util::sync::CancellationToken;

struct Options {
    duration: u64,
    lines: usize,
    browser: bool,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        duration: 10,
        lines: 200,
        browser: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--duration" => o.duration = args.next().context("--duration needs secs")?.parse()?,
            "--lines" => o.lines = args.next().context("--lines needs a count")?.parse()?,
            "--no-browser" => o.browser = false,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(o)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = options()?;
    let redis = TestRedis::start();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut settings = Settings::default();
    settings.web.base_url = base.clone();
    let jq = settings.job_queue();
    let shutdown = CancellationToken::new();
    {
        let (settings, url, token) = (settings.clone(), redis.url(), shutdown.clone());
        tokio::spawn(async move { netkan_web::run(&settings, &url, listener, token).await });
    }
    let mut conn = redis.conn().await;
    println!("## Web front end: benchmark run");
    println!();
    println!(
        "machine: {} CPUs; redis-server, the web server (2 HTTP workers) and the load generator share them",
        cpus()
    );
    println!();

    // 1. Throughput and latency of the job page and the API.
    let job = claim(&mut conn, &jq, "inflate").await?;
    for i in 0..200 {
        let (level, msg) = sample_line(i);
        jq.append_log(&mut conn, &job.id, &[(level, msg)]).await?;
    }
    finish(&mut conn, &jq, &job).await?;
    let page = reqwest::get(format!("{base}/logs/{}", job.id)).await?;
    let page_bytes = page.bytes().await?.len();
    let api = reqwest::get(format!("{base}/api/v1/jobs/{}", job.id)).await?;
    let api_bytes = api.bytes().await?.len();
    println!("| target | req/s | p50 | p90 | p99 | max | errors | body |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, path, bytes) in [
        (
            "`/logs/<uuid>`, 200 lines",
            format!("/logs/{}", job.id),
            page_bytes,
        ),
        (
            "`/api/v1/jobs/<uuid>`, 200 lines",
            format!("/api/v1/jobs/{}", job.id),
            api_bytes,
        ),
    ] {
        let r = wrk(&format!("{base}{path}"), o.duration)?;
        println!(
            "| {name} | {:.0} | {} | {} | {} | {} | {} | {:.1} KB |",
            r.rps,
            ms(r.p50),
            ms(r.p90),
            ms(r.p99),
            ms(r.max),
            r.errors,
            bytes as f64 / 1024.0
        );
    }
    println!();

    // 2. Line written → SSE client, with 1 and 100 streams open.
    println!("| live line → reader | lines | p50 | p90 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    for streams in [1usize, 100] {
        let d = sse_delays(&base, &redis, &jq, streams, o.lines).await?;
        println!(
            "| SSE client, {streams} stream(s) open | {} | {} | {} | {} | {} |",
            d.len(),
            ms(pct(&d, 50.0)),
            ms(pct(&d, 90.0)),
            ms(pct(&d, 99.0)),
            ms(pct(&d, 100.0))
        );
    }

    // 3. Line written → shown by a browser.
    if o.browser {
        match browser_delays(&base, &redis, &jq, o.lines).await {
            Ok(d) => println!(
                "| headless Chromium, `/logs/<uuid>` | {} | {} | {} | {} | {} |",
                d.len(),
                ms(pct(&d, 50.0)),
                ms(pct(&d, 90.0)),
                ms(pct(&d, 99.0)),
                ms(pct(&d, 100.0))
            ),
            Err(e) => println!("\nbrowser measurement skipped: {e:#}"),
        }
    }
    shutdown.cancel();
    Ok(())
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A log line like an inflation's.
fn sample_line(i: usize) -> (Level, String) {
    match i % 10 {
        0 => (
            Level::Notice,
            format!(
                "Inflated Mod{i} 1.{i}.0 from https://github.com/example/Mod{i}/releases/download/v1.{i}.0/Mod{i}.zip"
            ),
        ),
        1 | 2 => (
            Level::Debug,
            format!(
                "Using cached download 3C69B375-Mod{i}-1.{i}.0.zip (sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08)"
            ),
        ),
        3 => (
            Level::Warn,
            format!(
                "Mod{i}: version 1.{i}.0 is older than the indexed 2.0 <x_netkan_allow_out_of_order>"
            ),
        ),
        _ => (
            Level::Info,
            format!(
                "Processing {i}: resolving $kref #/ckan/github/example/Mod{i}, $vref #/ckan/ksp-avc"
            ),
        ),
    }
}

async fn claim(
    conn: &mut MultiplexedConnection,
    jq: &JobQueue,
    kind: &str,
) -> anyhow::Result<ClaimedJob> {
    let queue = QueueName::new("bench")?;
    jq.enqueue(conn, &[NewJob::new(kind, queue.clone())])
        .await?;
    let mut claim = jq.claim(conn, "bench-worker", &[queue], 1, 0).await?;
    claim.jobs.pop().context("the job just enqueued")
}

async fn finish(
    conn: &mut MultiplexedConnection,
    jq: &JobQueue,
    job: &ClaimedJob,
) -> anyhow::Result<()> {
    jq.finish(
        conn,
        &[Finish {
            id: job.id,
            queue: job.queue.clone(),
            token: job.token,
            attempt: job.attempt,
            outcome: Outcome::Succeeded,
        }],
    )
    .await?;
    Ok(())
}

struct Wrk {
    rps: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    errors: u64,
}

/// Runs `wrk -t2 -c50 --latency` and reads its report (latencies in ms).
fn wrk(url: &str, secs: u64) -> anyhow::Result<Wrk> {
    // A short warm-up, so connections and pools exist before measuring.
    let _ = Command::new("wrk")
        .args(["-t2", "-c50", "-d2s", url])
        .stdout(Stdio::null())
        .status();
    let out = Command::new("wrk")
        .args(["-t2", "-c50", &format!("-d{secs}s"), "--latency", url])
        .output()
        .context("running wrk (apt-get install wrk; scripts/bench-web.sh does it)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let value = |prefix: &str| -> Option<f64> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(duration_ms)
    };
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("wrk's report: {text}"))?;
    let max = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("Latency "))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(duration_ms)
        .unwrap_or(f64::NAN);
    let errors = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Ok(Wrk {
        rps,
        p50: value("50%").unwrap_or(f64::NAN),
        p90: value("90%").unwrap_or(f64::NAN),
        p99: value("99%").unwrap_or(f64::NAN),
        max,
        errors,
    })
}

/// `812.00us`, `4.20ms`, `1.01s` → ms.
fn duration_ms(s: &str) -> Option<f64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

fn ms(v: f64) -> String {
    if v < 1.0 {
        format!("{:.2} ms", v)
    } else {
        format!("{:.1} ms", v)
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Appends `lines` lines to a running job, one every 20 to 40 ms (so they fall anywhere in
/// the poller's tick), and returns when each was written.
async fn write_lines(
    conn: &mut MultiplexedConnection,
    jq: &JobQueue,
    job: &ClaimedJob,
    lines: usize,
) -> anyhow::Result<Vec<Instant>> {
    let mut written = Vec::with_capacity(lines);
    for i in 0..lines {
        written.push(Instant::now());
        jq.append_log(conn, &job.id, &[(Level::Info, format!("live line {i}"))])
            .await?;
        tokio::time::sleep(Duration::from_millis(20 + (i as u64 * 7) % 21)).await;
    }
    Ok(written)
}

/// Delays (ms, sorted) from writing a line to reading it on each of `streams` SSE clients.
async fn sse_delays(
    base: &str,
    redis: &TestRedis,
    jq: &JobQueue,
    streams: usize,
    lines: usize,
) -> anyhow::Result<Vec<f64>> {
    let mut conn = redis.conn().await;
    let job = claim(&mut conn, jq, "live").await?;
    let client = reqwest::Client::new();
    let mut readers = Vec::new();
    for _ in 0..streams {
        let res = client
            .get(format!("{base}/logs/{}/events", job.id))
            .send()
            .await?;
        readers.push(tokio::spawn(read_stream(res, lines)));
    }
    // Every stream is registered before the first line (its first event is `meta`).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = write_lines(&mut conn, jq, &job, lines).await?;
    let mut delays = Vec::new();
    for r in readers {
        for (cursor, at) in r.await?? {
            if let Some(w) = written.get(cursor) {
                delays.push(at.duration_since(*w).as_secs_f64() * 1000.0);
            }
        }
    }
    finish(&mut conn, jq, &job).await?;
    delays.sort_by(f64::total_cmp);
    Ok(delays)
}

/// Reads `lines` line events; returns each one's cursor and arrival time.
async fn read_stream(
    mut res: reqwest::Response,
    lines: usize,
) -> anyhow::Result<Vec<(usize, Instant)>> {
    let mut buf = String::new();
    let mut got = Vec::with_capacity(lines);
    while got.len() < lines {
        let Some(chunk) = tokio::time::timeout(Duration::from_secs(30), res.chunk()).await?? else {
            bail!("the stream ended early");
        };
        let at = Instant::now();
        buf.push_str(std::str::from_utf8(&chunk)?);
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if block.contains("event: line") {
                let id = block
                    .lines()
                    .find_map(|l| l.strip_prefix("id: "))
                    .and_then(|v| v.parse().ok())
                    .context("a line event without id")?;
                got.push((id, at));
            }
        }
    }
    Ok(got)
}

/// Delays (ms, sorted) from writing a line to a headless Chromium showing it.
async fn browser_delays(
    base: &str,
    redis: &TestRedis,
    jq: &JobQueue,
    lines: usize,
) -> anyhow::Result<Vec<f64>> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting chromedriver (apt-get install chromium chromium-driver)")?;
    let result = async {
        let profile = tempfile::tempdir()?;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", format!("--user-data-dir={}", profile.path().display())]
            }),
        );
        let started = Instant::now();
        let client = loop {
            match fantoccini::ClientBuilder::rustls()?
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => break c,
                Err(e) if started.elapsed() > Duration::from_secs(20) => return Err(e.into()),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let mut conn = redis.conn().await;
        let job = claim(&mut conn, jq, "live").await?;
        client.goto(&format!("{base}/logs/{}", job.id)).await?;
        // The page records when each line appears, on the browser's clock (same machine).
        client
            .execute(
                "window.seen = {}; new MutationObserver(ms => ms.forEach(m => m.addedNodes.forEach(n => {
                     if (n.dataset) { window.seen[n.dataset.cursor] = Date.now(); } })))
                   .observe(document.getElementById('log'), {childList: true});",
                vec![],
            )
            .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let wall = |i: Instant| {
            let since = Instant::now().duration_since(i);
            (std::time::SystemTime::now() - since)
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(f64::NAN)
        };
        let written: Vec<f64> = write_lines(&mut conn, jq, &job, lines)
            .await?
            .into_iter()
            .map(wall)
            .collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let seen = client.execute("return window.seen", vec![]).await?;
        finish(&mut conn, jq, &job).await?;
        client.close().await?;
        let mut delays: Vec<f64> = written
            .iter()
            .enumerate()
            .filter_map(|(i, w)| Some(seen.get(i.to_string())?.as_f64()? - w))
            .collect();
        if delays.len() < lines {
            bail!("the browser showed {} of {lines} lines", delays.len());
        }
        delays.sort_by(f64::total_cmp);
        Ok(delays)
    }
    .await;
    let _ = driver.kill();
    let _ = driver.wait();
    result
}
