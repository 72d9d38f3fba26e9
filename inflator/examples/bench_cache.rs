//! `cargo run --release -p netkan-inflator --features test-support --example bench_cache`
//!
//! The download cache against the fixture upstream on loopback: a cold fetch of a zip
//! (download, hashing as it streams, CRC check of every entry, atomic store, sidecars), a
//! warm fetch (lookup by prefix, sidecars, access time), and N tasks fetching one new URL at
//! once (one download, everyone waits). Prints one line per figure; `--mib N` sets the
//! archive size (default 64), `--tasks N` the concurrent fetchers (default 32).

use std::io::Write;
use std::time::Instant;

use netkan_inflator::cache::DownloadCache;
use netkan_inflator::testing::upstream::Upstream;
use serde_json::json;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A zip of `mib` MiB of incompressible data in 1 MiB stored entries.
fn archive(mib: usize) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 1 << 20];
    for i in 0..mib {
        for b in chunk.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        w.start_file(format!("GameData/Bench/part{i}.bin"), opts)
            .expect("entry");
        w.write_all(&chunk).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

#[tokio::main]
async fn main() {
    let (mib, tasks) = (arg("--mib", 64), arg("--tasks", 32));
    let up = Upstream::start().await;
    let http = up.client();
    let bytes = archive(mib);
    let size = bytes.len() as f64 / (1024.0 * 1024.0);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = DownloadCache::new(dir.path(), 0);
    let module = |url: &str| match json!({"identifier": "Bench", "version": "1.0", "download": url})
    {
        serde_json::Value::Object(o) => o,
        _ => unreachable!("an object literal"),
    };

    let url = "https://example.com/bench-cold.zip";
    up.file(url, bytes.clone());
    let t = Instant::now();
    cache
        .fetch(&http, url, &module(url))
        .await
        .expect("cold fetch");
    let cold = t.elapsed();
    println!(
        "cold fetch of {size:.1} MiB: {:.0} ms ({:.0} MiB/s)",
        cold.as_secs_f64() * 1e3,
        size / cold.as_secs_f64()
    );

    let rounds = 200;
    let t = Instant::now();
    for _ in 0..rounds {
        cache
            .fetch(&http, url, &module(url))
            .await
            .expect("warm fetch");
    }
    println!(
        "warm fetch (hit): {:.3} ms each over {rounds}",
        t.elapsed().as_secs_f64() * 1e3 / f64::from(rounds)
    );

    let url = "https://example.com/bench-shared.zip";
    up.file(url, bytes);
    let t = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (cache, http, m) = (cache.clone(), http.clone(), module(url));
            tokio::spawn(async move { cache.fetch(&http, url, &m).await })
        })
        .collect();
    for h in handles {
        h.await.expect("task").expect("fetch");
    }
    println!(
        "{tasks} concurrent fetches of one new URL: {:.0} ms, {} download(s)",
        t.elapsed().as_secs_f64() * 1e3,
        up.count(url)
    );
}
