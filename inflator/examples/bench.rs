//! The inflator's benchmark (`cargo run --release -p netkan-inflator --example bench`),
//! figures in `docs/BENCHMARKS.md`: inflations per second over every `.netkan` of the real
//! NetKAN tree (`shared/ckan-real/corpus/NetKAN.tar.gz`, 1,454 files), against the fixture
//! upstream in this process.
//!
//! Each netkan's hosts answer with generated metadata (version 1.0.0, game version
//! 1.12.5) and a small generated archive that fits its install stanzas (with a `.version`
//! for a ksp-avc `$vref`). A first pass warms the download cache and the HTTP text memo;
//! the second pass is timed, at the workers' default concurrency (`worker.default_concurrency`)
//! unless `--concurrency N` says otherwise. Netkans whose options do not fit the generated
//! answers (a custom `asset_match`, a strict version edit, a `$vref` path) fail; they are
//! counted and timed like the others, as failures are real work for the worker too.
//!
//! Set `CKAN_REAL_DIR` to point at another copy of `ckan-real/`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use netkan_common::Game;
use netkan_common::ckan::{Kref, Module, Object, mix_documents, parse_netkan};
use netkan_common::config::Settings;
use netkan_inflator::cache::DownloadCache;
use netkan_inflator::context::NoLog;
use netkan_inflator::testing::archive::ZipBuilder;
use netkan_inflator::testing::fixtures::{serve_text, stanza_entries};
use netkan_inflator::testing::upstream::Upstream;
use netkan_inflator::{InflateRequest, Inflator, Services};
use serde_json::{Value, json};

const VERSION: &str = "1.0.0";
const DATE: &str = "2026-01-02T03:04:05Z";

fn real_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CKAN_REAL_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../../shared/ckan-real", "../../../shared/ckan-real"]
        .iter()
        .map(|p| here.join(p))
        .find(|p| p.is_dir())
        .context("shared/ckan-real beside the checkout, or set CKAN_REAL_DIR")
}

/// Every active `.netkan` of the corpus, as (identifier, text).
fn netkans(root: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let file = std::fs::File::open(root.join("corpus/NetKAN.tar.gz"))
        .context("opening corpus/NetKAN.tar.gz")?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let name = path.to_string_lossy().into_owned();
        let Some(stem) = name
            .strip_prefix("NetKAN/NetKAN/")
            .and_then(|n| n.strip_suffix(".netkan"))
        else {
            continue;
        };
        if stem.contains('/') {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text)?;
        out.push((stem.to_owned(), text));
    }
    out.sort();
    Ok(out)
}

fn zip_for(identifier: &str, doc: &Object) -> Vec<u8> {
    let (mut entries, _) = stanza_entries(identifier, doc.get("install"));
    if entries.is_empty() {
        entries.push(format!("GameData/{identifier}/readme.txt"));
    }
    let dir = entries[0]
        .rsplit_once('/')
        .map_or_else(String::new, |(d, _)| d.to_owned());
    let mut zip = ZipBuilder::new();
    for e in &entries {
        zip = zip.file(e, identifier);
    }
    let vref = doc.get("$vref").and_then(Value::as_str).unwrap_or_default();
    if vref.starts_with("#/ckan/ksp-avc") {
        let path = match vref.strip_prefix("#/ckan/ksp-avc/") {
            Some(p) if p.starts_with("GameData/") => p.to_owned(),
            Some(p) => format!("{dir}/{p}"),
            None => format!("{dir}/{identifier}.version"),
        };
        let avc = json!({"NAME": identifier, "VERSION": VERSION, "KSP_VERSION": "1.12.5"});
        zip = zip.file(&path, avc.to_string());
    }
    zip.build()
}

fn spacedock(up: &Upstream, id: i64, identifier: &str) -> String {
    let path = format!("/mod/{id}/{identifier}/download/{VERSION}");
    up.spacedock_mod(
        id,
        json!({"id": id, "name": identifier, "short_description": "A benchmark mod",
               "author": "bench", "license": "MIT", "default_version_id": 1,
               "versions": [{"id": 1, "friendly_version": VERSION, "game_version": "1.12.5",
                             "created": DATE, "download_path": path}]}),
    );
    format!("https://spacedock.info{path}")
}

/// Serves what one netkan's inflation asks for; `n` makes generated ids unique.
fn serve(up: &Upstream, n: usize, identifier: &str, text: &str) {
    let Ok(docs) = parse_netkan(text) else {
        return;
    };
    for doc in mix_documents(&docs) {
        let zip = zip_for(identifier, &doc);
        let download = match Module::new(&doc).kref() {
            Ok(None) => doc
                .get("download")
                .and_then(Value::as_str)
                .map(str::to_owned),
            Ok(Some(Kref::SpaceDock { id })) => Some(spacedock(up, i64::from(id), identifier)),
            Ok(Some(Kref::GitHub {
                account, project, ..
            })) => {
                let url = format!(
                    "https://github.com/{account}/{project}/releases/download/{VERSION}/{project}-{VERSION}.zip"
                );
                up.github_repo(
                    &account,
                    &project,
                    json!({"description": "A benchmark mod", "license": {"spdx_id": "MIT"}}),
                );
                up.github_wiki(&account, &project, false);
                up.github_releases(
                    &account,
                    &project,
                    vec![
                        json!({"tag_name": VERSION, "published_at": DATE, "zipball_url": url,
                        "author": {"login": "bench", "type": "User"},
                        "assets": [{"name": format!("{project}-{VERSION}.zip"),
                                    "browser_download_url": url, "updated_at": DATE}]}),
                    ],
                );
                Some(url)
            }
            Ok(Some(Kref::Gitea {
                host,
                owner,
                repository,
            })) => {
                let url = format!(
                    "https://{host}/{owner}/{repository}/releases/download/{VERSION}/{repository}.zip"
                );
                up.gitea_repo(
                    &host,
                    &owner,
                    &repository,
                    json!({"name": repository, "description": "A benchmark mod",
                           "html_url": format!("https://{host}/{owner}/{repository}"),
                           "owner": {"login": owner}}),
                    json!([{"tag_name": VERSION, "published_at": DATE,
                            "assets": [{"name": format!("{repository}.zip"),
                                        "browser_download_url": url, "created_at": DATE}]}]),
                );
                Some(url)
            }
            Ok(Some(Kref::Jenkins { url })) => {
                let job = if url.ends_with('/') {
                    url
                } else {
                    format!("{url}/")
                };
                let build = format!("{job}1/");
                let file = format!("{identifier}-{VERSION}.zip");
                up.jenkins_job(
                    &job,
                    vec![json!({"number": 1, "url": build, "result": "SUCCESS",
                                "timestamp": 1_767_323_045_000_i64,
                                "artifacts": [{"fileName": file, "relativePath": file}]})],
                );
                Some(format!("{build}artifact/{file}"))
            }
            Ok(Some(Kref::Http { url })) => Some(url.split('#').next().unwrap_or(&url).to_owned()),
            Ok(Some(Kref::Netkan { url })) => {
                // A target on SpaceDock, under an id no real netkan uses.
                let id = 900_000 + i64::try_from(n).unwrap_or(0);
                serve_text(
                    up,
                    &url,
                    &format!("identifier: {identifier}\n$kref: '#/ckan/spacedock/{id}'\n"),
                );
                Some(spacedock(up, id, identifier))
            }
            _ => None,
        };
        if let Some(url) = download {
            up.file(&url, zip);
        }
    }
}

#[derive(Default)]
struct Pass {
    ok: usize,
    failed: usize,
    /// Failure messages (cut at the first `:`, so similar ones group) and their counts.
    reasons: std::collections::BTreeMap<String, usize>,
    latencies: Vec<Duration>,
    wall: Duration,
}

async fn pass(
    inflator: &Arc<Inflator>,
    corpus: &Arc<Vec<(String, String)>>,
    concurrency: usize,
) -> Pass {
    let gate = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..corpus.len() {
        let (inflator, corpus, gate) = (inflator.clone(), corpus.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate
                .acquire_owned()
                .await
                .expect("the semaphore stays open");
            let (id, text) = &corpus[i];
            let mut req = InflateRequest::new(text.clone(), Game::ksp());
            req.file_identifier = Some(id.clone());
            let t = Instant::now();
            let inflation = inflator.inflate(&req, &NoLog).await;
            let reason = inflation.outcome.err().map(|e| {
                let text = e.to_string().replace(id.as_str(), "<id>");
                text.split(':')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(90)
                    .collect::<String>()
            });
            (reason, t.elapsed())
        });
    }
    let mut out = Pass::default();
    while let Some(r) = tasks.join_next().await {
        let (reason, took) = r.expect("an inflation task does not panic");
        match reason {
            None => out.ok += 1,
            Some(r) => {
                out.failed += 1;
                *out.reasons.entry(r).or_default() += 1;
            }
        }
        out.latencies.push(took);
    }
    out.wall = started.elapsed();
    out.latencies.sort();
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(label: &str, p: &Pass, requests: usize) {
    let n = p.ok + p.failed;
    println!(
        "{label}: {n} inflations ({} ok, {} failed) in {:.2} s = {:.0} inflations/s; \
         per inflation p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms; {requests} upstream requests",
        p.ok,
        p.failed,
        p.wall.as_secs_f64(),
        n as f64 / p.wall.as_secs_f64(),
        percentile(&p.latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&p.latencies, 0.95).as_secs_f64() * 1e3,
        p.latencies
            .last()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3,
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut concurrency = Settings::default().worker.default_concurrency;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--concurrency" => {
                concurrency = args
                    .next()
                    .context("--concurrency needs a number")?
                    .parse()
                    .context("--concurrency needs a number")?;
            }
            other => anyhow::bail!("unknown option {other}; options: --concurrency N"),
        }
    }
    let corpus = Arc::new(netkans(&real_dir()?)?);
    println!("{} netkans, concurrency {concurrency}", corpus.len());
    let up = Upstream::start().await;
    for (n, (id, text)) in corpus.iter().enumerate() {
        serve(&up, n, id, text);
    }
    let cache = tempfile::tempdir()?;
    let inflator = Arc::new(Inflator::with_services(Services {
        http: Upstream::client_for(&up.settings()),
        cache: DownloadCache::new(cache.path(), 0),
    }));
    let cold = pass(&inflator, &corpus, concurrency).await;
    let after_cold = up.requests().len();
    report("cold (first pass: downloads, API calls)", &cold, after_cold);
    let warm = pass(&inflator, &corpus, concurrency).await;
    report(
        "warm (cache and text memo filled)",
        &warm,
        up.requests().len() - after_cold,
    );
    let mut hosts = std::collections::BTreeMap::<String, usize>::new();
    for r in &up.requests()[after_cold..] {
        let host = r.url.split('/').nth(2).unwrap_or_default();
        let what = if r.url.ends_with("/wiki") {
            "(wiki probe)"
        } else if r.url.contains("/api/") {
            "(api)"
        } else if r.url.contains("/download") {
            "(download)"
        } else {
            ""
        };
        *hosts.entry(format!("{host} {what}")).or_default() += 1;
    }
    println!("warm-pass requests by host: {hosts:?}");
    let mut reasons: Vec<(&String, &usize)> = warm.reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1));
    println!("why the failures failed (the generated answers do not fit the netkan):");
    for (reason, count) in reasons.into_iter().take(8) {
        println!("  {count:>4}  {reason}");
    }
    Ok(())
}
