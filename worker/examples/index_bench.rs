//! Indexer and status-export benchmark on the real CKAN-meta: outbound messages indexed per
//! second into a working clone of the full corpus (~30,000 `.ckan` files), unchanged and
//! changed, and the `status.json` export of one status per identifier (3,813).
//!
//! ```sh
//! cargo run --release -p netkan-worker --example index_bench -- \
//!     --corpus ../shared/ckan-real/corpus/CKAN-meta.tar.gz --messages 1000
//! ```
//! Everything runs on a private `redis-server` and a bare repository in a temporary
//! directory; `git` and `tar` must be on `PATH`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A benchmark fails loudly.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use netkan_common::config::{GameSettings, Secret, Settings};
use netkan_common::redis_server::{RedisServer, RedisServerOptions};
use netkan_common::status::{Inflation, StatusStore, parse_time};
use netkan_common::{Game, NewJob, QueueName};
use tokio_util::sync::CancellationToken;

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .status()
        .expect("git is installed");
    assert!(st.success(), "git {args:?}");
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Every `<identifier>/<file>.ckan` of the tree, sorted.
fn ckan_files(root: &Path) -> Vec<(String, String, PathBuf)> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(root).unwrap().flatten() {
        let id = d.file_name().to_string_lossy().into_owned();
        if !d.path().is_dir() || id.starts_with('.') {
            continue;
        }
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".ckan") {
                out.push((id.clone(), name, f.path()));
            }
        }
    }
    out.sort();
    out
}

fn message(id: &str, file: &str, body: String) -> NewJob {
    NewJob::new("index", QueueName::outbound())
        .with_body(body)
        .with_attr("ModIdentifier", id)
        .with_attr("Staged", "False")
        .with_attr("Success", "True")
        .with_attr("CheckTime", "2026-08-22T10:00:00")
        .with_attr("FileName", format!("./{file}"))
        .with_attr("GameId", "ksp")
}

async fn succeeded(conn: &mut redis::aio::MultiplexedConnection, s: &Settings) -> i64 {
    // A loaded machine may answer slowly; a timed-out poll is simply tried again.
    loop {
        if let Ok(c) = s.job_queue().counters(conn).await {
            return c
                .get("finished:outbound:index:succeeded")
                .copied()
                .unwrap_or(0)
                + c.get("finished:outbound:index:failed")
                    .copied()
                    .unwrap_or(0);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Enqueues `jobs` and waits until they are all done; returns the seconds it took.
async fn run_batch(
    conn: &mut redis::aio::MultiplexedConnection,
    s: &Settings,
    jobs: Vec<NewJob>,
) -> f64 {
    let before = succeeded(conn, s).await;
    let n = jobs.len() as i64;
    let start = Instant::now();
    for chunk in jobs.chunks(500) {
        s.job_queue().enqueue(conn, chunk).await.unwrap();
    }
    while succeeded(conn, s).await < before + n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let corpus =
        arg("--corpus").unwrap_or_else(|| "../shared/ckan-real/corpus/CKAN-meta.tar.gz".into());
    let messages: usize = arg("--messages").map_or(1000, |m| m.parse().expect("--messages N"));
    let concurrency: usize =
        arg("--concurrency").map_or(10, |m| m.parse().expect("--concurrency N"));
    let tmp = tempfile::tempdir()?;
    let root = tmp.path();
    let t = Instant::now();
    let st = Command::new("tar")
        .arg("xzf")
        .arg(&corpus)
        .arg("-C")
        .arg(root)
        .status()?;
    anyhow::ensure!(st.success(), "cannot unpack {corpus}");
    let tree = root.join("CKAN-meta");
    git(&tree, &["init", "-q", "-b", "master"]);
    git(&tree, &["add", "-A"]);
    git(&tree, &["commit", "-q", "-m", "corpus"]);
    let bare = root.join("CKAN-meta.git");
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            tree.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    let files = ckan_files(&tree);
    println!(
        "corpus: {} .ckan files, prepared in {:.1} s",
        files.len(),
        t.elapsed().as_secs_f64()
    );

    let server = RedisServer::start(&RedisServerOptions {
        bin: std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into()),
        dir: root.join("redis"),
        port: 0,
        persistent: false,
    })?;
    let mut s = Settings {
        data_dir: root.join("data"),
        ..Settings::default()
    };
    s.redis.url = Some(Secret::new(server.url()));
    s.worker.roles = vec!["index".into()];
    s.worker.concurrency.insert("index".into(), concurrency);
    s.jobs.lease_ms = 60_000;
    s.games.insert(
        "ksp".into(),
        GameSettings {
            ckanmeta: Some(Secret::new(bare.display().to_string())),
            ..GameSettings::default()
        },
    );
    let mut conn = redis::Client::open(server.url())?
        .get_multiplexed_async_connection()
        .await?;
    let stop = CancellationToken::new();
    let worker = {
        let (s, stop, url) = (s.clone(), stop.clone(), server.url());
        tokio::spawn(async move { netkan_worker::run(&s, &url, stop).await })
    };

    // The first message clones the corpus into the working clone.
    let (id, file, path) = &files[0];
    let secs = run_batch(
        &mut conn,
        &s,
        vec![message(id, file, std::fs::read_to_string(path)?)],
    )
    .await;
    println!("first message (clones {} files): {secs:.1} s", files.len());

    // Spread over the whole tree, not one corner of it.
    let step = (files.len() / messages.max(1)).max(1);
    let sample: Vec<&(String, String, PathBuf)> =
        files.iter().step_by(step).take(messages).collect();
    let unchanged: Vec<NewJob> = sample
        .iter()
        .map(|(id, file, p)| message(id, file, std::fs::read_to_string(p).unwrap()))
        .collect();
    let n = unchanged.len();
    let secs = run_batch(&mut conn, &s, unchanged).await;
    println!(
        "unchanged: {n} messages in {secs:.2} s = {:.0} messages/s",
        n as f64 / secs
    );

    let changed: Vec<NewJob> = sample
        .iter()
        .map(|(id, file, p)| {
            let text = std::fs::read_to_string(p).unwrap();
            message(
                id,
                file,
                text.replacen("\"abstract\": \"", "\"abstract\": \"(bench) ", 1),
            )
        })
        .collect();
    let secs = run_batch(&mut conn, &s, changed).await;
    let count = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new("git").args(args).current_dir(&bare).output()?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    println!(
        "changed: {n} messages in {secs:.2} s = {:.1} messages/s ({} commits and {} merges on master now)",
        n as f64 / secs,
        count(&["rev-list", "--count", "--no-merges", "master"])?,
        count(&["rev-list", "--count", "--merges", "master"])?
    );
    stop.cancel();
    worker.await??;

    // One status per identifier, as after indexing all of CKAN-meta.
    let store = StatusStore::new(s.job_queue().keys().clone());
    // Every identifier folder (some hold only .frozen or .kerbalstuff files), with the
    // resources and release date of one of its .ckan files when it has one.
    let mut per_id: std::collections::BTreeMap<String, Option<&PathBuf>> =
        std::fs::read_dir(&tree)?
            .flatten()
            .filter(|d| d.path().is_dir() && !d.file_name().to_string_lossy().starts_with('.'))
            .map(|d| (d.file_name().to_string_lossy().into_owned(), None))
            .collect();
    for (id, _, p) in &files {
        per_id.insert(id.clone(), Some(p));
    }
    for (id, path) in &per_id {
        let text = path
            .map(std::fs::read_to_string)
            .transpose()?
            .unwrap_or_default();
        let ckan: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).unwrap_or_default();
        let inf = Inflation {
            success: true,
            error: None,
            warnings: None,
            inflated: parse_time("2026-08-22T10:00:00").unwrap(),
            indexed: parse_time("2026-08-22T10:00:01.123456Z"),
            release_date: ckan
                .get("release_date")
                .and_then(|v| v.as_str())
                .and_then(parse_time),
            resources: ckan.get("resources").and_then(|v| v.as_object()).cloned(),
            downloaded: None,
        };
        store
            .record_inflation(&mut conn, &Game::ksp(), id, &inf)
            .await?;
    }
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..7 {
        let t = Instant::now();
        let export = store.export(&mut conn, &Game::ksp()).await?;
        size = serde_json::Value::Object(export).to_string().len();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "status export: {} mods, {size} bytes, median {:.1} ms, best {:.1} ms (7 runs)",
        per_id.len(),
        times[3],
        times[0]
    );
    Ok(())
}
