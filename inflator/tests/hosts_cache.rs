//! The download cache against the fixture upstream: hits and misses, hash checks, one
//! download for concurrent fetches (in one process and across cache instances sharing a
//! directory, as processes do), the size cap, cleaning by age, disk errors, the archive.org
//! fallback.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use netkan_common::ckan::{Object, names};
use netkan_inflator::InflateError;
use netkan_inflator::cache::DownloadCache;
use netkan_inflator::testing::upstream::{Reply, Upstream};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn obj(v: Value) -> Object {
    match v {
        Value::Object(o) => o,
        _ => panic!("test metadata must be an object"),
    }
}

fn module(url: &str) -> Object {
    obj(json!({"identifier": "AwesomeMod", "version": "1.0.0", "download": url}))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// A small valid zip. The archive helper's builder (`testing::archive`) serves the
/// inflation tests; here only "a zip that reads cleanly" matters.
fn tiny_zip() -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(
        "GameData/AwesomeMod/readme.txt",
        zip::write::SimpleFileOptions::default(),
    )
    .expect("entry");
    std::io::Write::write_all(&mut w, b"hello kerbals").expect("write");
    w.finish().expect("finish").into_inner()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("cache dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_miss_downloads_into_the_cache_and_a_hit_reuses_it() {
    let up = Upstream::start().await;
    let url = "https://awesomesite.org/awesomemod-1.0.0.zip";
    let zip = tiny_zip();
    up.file(url, zip.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = DownloadCache::new(dir.path(), 0);
    let http = up.client();

    let first = cache.fetch(&http, url, &module(url)).await.expect("miss");
    assert!(first.fresh);
    assert_eq!(first.size, zip.len() as u64);
    assert_eq!(first.sha256, sha256_hex(&zip));
    assert_eq!(
        first.path.file_name().and_then(|n| n.to_str()),
        Some("3C69B375-AwesomeMod-1.0.0.zip")
    );
    assert_eq!(
        files_in(dir.path()),
        vec![
            "3C69B375-AwesomeMod-1.0.0.zip",
            "3C69B375-AwesomeMod-1.0.0.zip.sha1",
            "3C69B375-AwesomeMod-1.0.0.zip.sha256"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("3C69B375-AwesomeMod-1.0.0.zip.sha256"))
            .expect("sidecar"),
        first.sha256
    );

    let second = cache.fetch(&http, url, &module(url)).await.expect("hit");
    assert!(!second.fresh);
    assert_eq!(second.path, first.path);
    assert_eq!(
        (second.sha1.as_str(), second.sha256.as_str()),
        (first.sha1.as_str(), first.sha256.as_str())
    );
    assert_eq!(up.count(url), 1);
}

#[tokio::test]
async fn lookups_go_by_the_url_prefix_whatever_the_rest_of_the_name() {
    let up = Upstream::start().await;
    let url = "https://awesomesite.org/awesomemod-1.0.0.zip";
    let dir = tempfile::tempdir().expect("tempdir");
    // Written by another tool (the C# client's name for the same download).
    std::fs::write(
        dir.path().join("3C69B375-netkan-AwesomeMod.zip"),
        tiny_zip(),
    )
    .expect("seed");
    let cache = DownloadCache::new(dir.path(), 0);
    let hit = cache
        .fetch(&up.client(), url, &module(url))
        .await
        .expect("hit");
    assert!(!hit.fresh);
    assert_eq!(up.count(url), 0);
}

#[tokio::test]
async fn a_cached_file_with_the_wrong_sha256_is_downloaded_again() {
    let up = Upstream::start().await;
    let url = "https://awesomesite.org/awesomemod-1.0.0.zip";
    let zip = tiny_zip();
    up.file(url, zip.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let stale = dir.path().join("3C69B375-AwesomeMod-1.0.0.zip");
    std::fs::write(&stale, b"an older upload").expect("seed");
    let mut m = module(url);
    m.insert(
        "download_hash".into(),
        json!({"sha256": sha256_hex(&zip).to_lowercase()}),
    );
    let cache = DownloadCache::new(dir.path(), 0);
    let got = cache
        .fetch(&up.client(), url, &m)
        .await
        .expect("re-download");
    assert!(got.fresh);
    assert_eq!(std::fs::read(&got.path).expect("file"), zip);
    assert_eq!(up.count(url), 1);
}

#[tokio::test]
async fn a_download_that_contradicts_the_metadata_hash_is_refused() {
    let up = Upstream::start().await;
    let url = "https://example.com/m.zip";
    up.file(url, tiny_zip());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = module(url);
    m.insert("download_hash".into(), json!({"sha256": "00".repeat(32)}));
    let err = DownloadCache::new(dir.path(), 0)
        .fetch(&up.client(), url, &m)
        .await
        .expect_err("mismatch");
    assert!(matches!(err, InflateError::Host(_)), "{err:?}");
    assert!(
        err.to_string().contains("the download's SHA-256 is"),
        "{err}"
    );
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}

#[tokio::test]
async fn a_cached_file_older_than_the_release_is_replaced() {
    let up = Upstream::start().await;
    let url = "https://example.com/m.zip";
    up.file(url, tiny_zip());
    let dir = tempfile::tempdir().expect("tempdir");
    let cached = dir
        .path()
        .join(format!("{}-AwesomeMod-1.0.0.zip", names::cache_prefix(url)));
    let age = |days: u64| SystemTime::now() - Duration::from_secs(days * 86_400);
    let released = |days: u64| {
        netkan_common::ckan::write::format_release_date(chrono::DateTime::from(age(days)))
    };
    let cache = DownloadCache::new(dir.path(), 0);

    // Downloaded ten days ago, released yesterday: the host has a newer file.
    std::fs::write(&cached, tiny_zip()).expect("seed");
    std::fs::File::options()
        .write(true)
        .open(&cached)
        .and_then(|f| f.set_modified(age(10)))
        .expect("age it");
    let mut m = module(url);
    m.insert("release_date".into(), json!(released(1)));
    assert!(
        cache
            .fetch(&up.client(), url, &m)
            .await
            .expect("refetch")
            .fresh
    );
    assert_eq!(up.count(url), 1);

    // Downloaded now, released ten days ago: the cached file is good.
    m.insert("release_date".into(), json!(released(10)));
    assert!(!cache.fetch(&up.client(), url, &m).await.expect("hit").fresh);
    assert_eq!(up.count(url), 1);
}

#[tokio::test]
async fn a_broken_zip_is_refused_with_the_reason() {
    let up = Upstream::start().await;
    let url = "https://example.com/broken.zip";
    let mut bytes = tiny_zip();
    bytes.truncate(bytes.len() - 30);
    up.file(url, bytes);
    let dir = tempfile::tempdir().expect("tempdir");
    let err = DownloadCache::new(dir.path(), 0)
        .fetch(&up.client(), url, &module(url))
        .await
        .expect_err("broken");
    assert!(matches!(err, InflateError::Host(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("https://example.com/broken.zip is not a valid ZIP file: "),
        "{err}"
    );
    assert!(files_in(dir.path()).is_empty());
}

#[tokio::test]
async fn a_404_download_is_a_host_error_and_leaves_nothing_behind() {
    let up = Upstream::start().await;
    let url = "https://example.com/gone.zip";
    let dir = tempfile::tempdir().expect("tempdir");
    let err = DownloadCache::new(dir.path(), 0)
        .fetch(&up.client(), url, &module(url))
        .await
        .expect_err("404");
    assert_eq!(
        err.to_string(),
        "https://example.com/gone.zip answered 404 Not Found"
    );
    assert!(files_in(dir.path()).is_empty());
    assert_eq!(
        std::fs::read_dir(dir.path().join(".partial"))
            .expect("partial dir")
            .count(),
        0
    );
}

#[tokio::test]
async fn concurrent_fetches_of_one_url_download_it_once() {
    let up = Upstream::start().await;
    let url = "https://example.com/popular.zip";
    up.on(
        url,
        Reply::bytes(tiny_zip()).delayed(Duration::from_millis(300)),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let http = up.client();
    // Two caches over one directory stand for two processes (no shared in-process lock);
    // four tasks each.
    let caches = [
        DownloadCache::new(dir.path(), 0),
        DownloadCache::new(dir.path(), 0),
    ];
    let m = Arc::new(module(url));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (cache, http, m) = (caches[i % 2].clone(), http.clone(), m.clone());
        tasks.push(tokio::spawn(
            async move { cache.fetch(&http, url, &m).await },
        ));
    }
    let mut fresh = 0;
    let mut paths = Vec::new();
    for t in tasks {
        let f = t.await.expect("task").expect("fetch");
        fresh += usize::from(f.fresh);
        paths.push(f.path);
    }
    assert_eq!(up.count(url), 1);
    assert_eq!(fresh, 1);
    assert!(paths.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test]
async fn past_the_size_cap_the_least_recently_used_files_go() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let http = up.client();
    let body = |c: u8| vec![c; 1000];
    let urls = [
        "https://example.com/a.bin",
        "https://example.com/b.bin",
        "https://example.com/c.bin",
    ];
    for (u, c) in urls.iter().zip([b'a', b'b', b'c']) {
        up.file(u, body(c));
    }
    // Room for two files and their sidecars, not three.
    let cache = DownloadCache::new(dir.path(), 2400);
    let a = cache
        .fetch(&http, urls[0], &module(urls[0]))
        .await
        .expect("a");
    let b = cache
        .fetch(&http, urls[1], &module(urls[1]))
        .await
        .expect("b");
    // Age both, then use `a` again: `b` is now the least recently used.
    for f in [&a.path, &b.path] {
        std::fs::File::options()
            .write(true)
            .open(f)
            .and_then(|h| {
                h.set_times(
                    std::fs::FileTimes::new()
                        .set_accessed(SystemTime::now() - Duration::from_secs(3600)),
                )
            })
            .expect("age");
    }
    assert!(
        !cache
            .fetch(&http, urls[0], &module(urls[0]))
            .await
            .expect("a hit")
            .fresh
    );
    let c = cache
        .fetch(&http, urls[2], &module(urls[2]))
        .await
        .expect("c");
    assert!(a.path.exists(), "recently used a stays");
    assert!(!b.path.exists(), "least recently used b is evicted");
    assert!(
        !Path::new(&format!("{}.sha256", b.path.display())).exists(),
        "with its sidecars"
    );
    assert!(c.path.exists(), "the new file stays");
}

#[tokio::test]
async fn cleaning_removes_files_older_than_the_given_days() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let http = up.client();
    let (old_url, new_url) = ("https://example.com/old.bin", "https://example.com/new.bin");
    up.file(old_url, vec![1u8; 500]);
    up.file(new_url, vec![2u8; 700]);
    let cache = DownloadCache::new(dir.path(), 0);
    let old = cache
        .fetch(&http, old_url, &module(old_url))
        .await
        .expect("old");
    let new = cache
        .fetch(&http, new_url, &module(new_url))
        .await
        .expect("new");
    let forty_days_ago = SystemTime::now() - Duration::from_secs(40 * 86_400);
    let old_files = [
        old.path.clone(),
        format!("{}.sha1", old.path.display()).into(),
        format!("{}.sha256", old.path.display()).into(),
    ];
    for f in &old_files {
        std::fs::File::options()
            .write(true)
            .open(f)
            .and_then(|h| h.set_modified(forty_days_ago))
            .expect("age");
    }
    let report = cache.clean(30).expect("clean");
    let mut removed: Vec<_> = report.removed.iter().map(|r| r.path.clone()).collect();
    removed.sort();
    let mut expected = old_files.to_vec();
    expected.sort();
    assert_eq!(removed, expected);
    assert_eq!(report.bytes_freed, 500 + 40 + 64);
    assert!(new.path.exists());
    assert!(cache.clean(30).expect("again").removed.is_empty());
}

#[tokio::test]
async fn a_cache_that_cannot_be_written_is_a_local_error_naming_the_place() {
    let up = Upstream::start().await;
    let url = "https://example.com/x.zip";
    up.file(url, tiny_zip());
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"a file where the cache should be").expect("file");
    let err = DownloadCache::new(blocker.join("cache"), 0)
        .fetch(&up.client(), url, &module(url))
        .await
        .expect_err("unwritable");
    assert!(matches!(err, InflateError::Local(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("not-a-dir/cache"), "{err}");
    assert_eq!(
        up.count(url),
        0,
        "nothing is downloaded into a cache that cannot hold it"
    );
}

#[tokio::test]
async fn a_failed_download_of_a_redistributable_module_falls_back_to_archive_org() {
    let up = Upstream::start().await;
    let url = "https://spacedock.info/mod/1/X/download/1.0";
    let zip = tiny_zip();
    let sha1: String = {
        use sha1::Digest as _;
        sha1::Sha1::digest(&zip)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    };
    let fallback = format!(
        "https://archive.org/download/AwesomeMod-1-1.0/{}-AwesomeMod-1-1.0.zip",
        &sha1[..8]
    );
    up.on(url, Reply::text("gone").status(404));
    up.file(&fallback, zip.clone());
    let m = obj(json!({
        "identifier": "AwesomeMod", "version": "1:1.0", "license": "MIT", "download": url,
        "download_hash": {"sha1": sha1}
    }));
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = DownloadCache::new(dir.path(), 0);
    let got = cache.fetch(&up.client(), url, &m).await.expect("fallback");
    assert!(got.fresh);
    assert_eq!(std::fs::read(&got.path).expect("file"), zip);
    assert!(
        got.path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&names::cache_prefix(url))),
        "cached under the primary URL: {}",
        got.path.display()
    );
    assert_eq!(up.count(&fallback), 1);

    // Not redistributable: the primary's error.
    let mut restricted = m.clone();
    restricted.insert("license".into(), json!("restricted"));
    let other = "https://spacedock.info/mod/2/Y/download/1.0";
    let mut restricted_other = restricted.clone();
    restricted_other.insert("download".into(), json!(other));
    let err = cache
        .fetch(&up.client(), other, &restricted_other)
        .await
        .expect_err("no fallback");
    assert_eq!(err.to_string(), format!("{other} answered 404 Not Found"));
}
