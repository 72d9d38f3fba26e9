//! Whole inflations against a fixture upstream that misbehaves: a host answering 404, 500 or
//! garbage, a download over the size limit, a throttled GitHub, and the purge of what a
//! failed attempt downloaded. Each ends in a clear error that says whether retrying helps.

use std::time::Duration;

use netkan_common::Game;
use netkan_inflator::cache::DownloadCache;
use netkan_inflator::context::NoLog;
use netkan_inflator::testing::archive::ZipBuilder;
use netkan_inflator::testing::upstream::{Reply, Upstream};
use netkan_inflator::{InflateError, InflateRequest, Inflation, Inflator, Services};
use serde_json::json;

const SD_NETKAN: &str = "identifier: AwesomeMod\n$kref: '#/ckan/spacedock/777'\nlicense: MIT\n\
                         tags:\n  - parts\n";
const GH_NETKAN: &str = "identifier: AwesomeMod\n$kref: '#/ckan/github/awesome/AwesomeMod'\n\
                         license: MIT\ntags:\n  - parts\n";
const SD_API: &str = "https://spacedock.info/api/mod/777";
const DOWNLOAD: &str = "https://spacedock.info/mod/777/AwesomeMod/download/1.0";

fn sd_mod() -> serde_json::Value {
    json!({
        "id": 777, "name": "Awesome Mod", "short_description": "Awesome", "author": "me",
        "license": "MIT", "default_version_id": 1,
        "versions": [{"id": 1, "friendly_version": "1.0", "game_version": "1.12.5",
                      "created": "2026-01-02T03:04:05Z",
                      "download_path": "/mod/777/AwesomeMod/download/1.0"}],
    })
}

fn good_zip() -> Vec<u8> {
    ZipBuilder::new()
        .file("GameData/AwesomeMod/AwesomeMod.cfg", "PART {}")
        .build()
}

struct World {
    up: Upstream,
    cache: tempfile::TempDir,
}

impl World {
    async fn new() -> World {
        World {
            up: Upstream::start().await,
            cache: tempfile::tempdir().expect("cache dir"),
        }
    }

    async fn inflate_with(&self, netkan: &str, max_download_bytes: Option<u64>) -> Inflation {
        let mut hosts = self.up.settings();
        if let Some(max) = max_download_bytes {
            hosts.max_download_bytes = max;
        }
        let inflator = Inflator::with_services(Services {
            http: Upstream::client_for(&hosts),
            cache: DownloadCache::new(self.cache.path(), 0),
        });
        inflator
            .inflate(&InflateRequest::new(netkan, Game::ksp()), &NoLog)
            .await
    }

    async fn inflate(&self, netkan: &str) -> Inflation {
        self.inflate_with(netkan, None).await
    }

    /// Files in the cache directory (downloads and their hash sidecars).
    fn cached_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.cache.path())
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

fn error(inflation: Inflation) -> InflateError {
    match inflation.outcome {
        Ok(m) => panic!("expected a failure, got {} modules", m.len()),
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_healthy_spacedock_mod_inflates_and_is_cached() {
    let w = World::new().await;
    w.up.spacedock_mod(777, sd_mod());
    w.up.file(DOWNLOAD, good_zip());
    let inflation = w.inflate(SD_NETKAN).await;
    let modules = inflation.outcome.expect("inflates");
    assert_eq!(modules[0].json["version"], "1.0");
    assert_eq!(modules[0].json["download_content_type"], "application/zip");
    let cached = w.cached_files();
    assert_eq!(
        cached.len(),
        3,
        "the download and its two hash sidecars: {cached:?}"
    );
    assert!(cached[0].ends_with("-AwesomeMod-1.0.zip"), "{cached:?}");
}

#[tokio::test]
async fn a_missing_mod_is_an_error_not_worth_retrying() {
    let w = World::new().await;
    w.up.on(
        SD_API,
        Reply::json(&json!({"error": true, "reason": "Mod not found"})).status(404),
    );
    let e = error(w.inflate(SD_NETKAN).await);
    assert_eq!(
        e.to_string(),
        "Could not get the mod from SpaceDock, reason: Mod not found"
    );
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn a_server_error_is_worth_retrying() {
    let w = World::new().await;
    w.up.on(SD_API, Reply::status_only(500));
    let e = error(w.inflate(SD_NETKAN).await);
    assert!(e.is_retryable(), "{e:?}");
    assert!(e.to_string().contains("500"), "{e}");
}

#[tokio::test]
async fn garbage_from_a_host_names_the_url() {
    let w = World::new().await;
    w.up.on(SD_API, Reply::text("<html>this is not json</html>"));
    let e = error(w.inflate(SD_NETKAN).await);
    assert!(!e.is_retryable(), "{e:?}");
    assert!(e.to_string().contains(SD_API), "{e}");
}

#[tokio::test]
async fn a_download_over_the_size_limit_is_refused_and_not_kept() {
    let w = World::new().await;
    w.up.spacedock_mod(777, sd_mod());
    w.up.file(
        DOWNLOAD,
        ZipBuilder::new()
            .stored("GameData/AwesomeMod/big.bin", vec![7u8; 64 * 1024])
            .build(),
    );
    let e = error(w.inflate_with(SD_NETKAN, Some(16 * 1024)).await);
    assert!(
        e.to_string()
            .contains("larger than the download limit of 16384 bytes"),
        "{e}"
    );
    assert!(!e.is_retryable());
    assert!(w.cached_files().is_empty(), "{:?}", w.cached_files());
}

#[tokio::test]
async fn a_download_that_is_not_there_is_a_host_error() {
    let w = World::new().await;
    w.up.spacedock_mod(777, sd_mod());
    w.up.on(DOWNLOAD, Reply::status_only(404));
    let e = error(w.inflate(SD_NETKAN).await);
    assert!(e.to_string().contains(DOWNLOAD), "{e}");
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn a_throttled_github_says_when_to_come_back() {
    let w = World::new().await;
    w.up.on(
        "https://api.github.com/repos/awesome/AwesomeMod",
        Reply::github_rate_limited(Duration::from_secs(120)),
    );
    let e = error(w.inflate(GH_NETKAN).await);
    let InflateError::RateLimited { retry_after, .. } = &e else {
        panic!("expected RateLimited, got {e:?}");
    };
    assert!(
        *retry_after > Duration::from_secs(60) && *retry_after <= Duration::from_secs(125),
        "{retry_after:?}"
    );
    assert!(e.is_retryable());
}

#[tokio::test]
async fn a_failed_inflation_removes_what_it_downloaded() {
    let w = World::new().await;
    w.up.spacedock_mod(777, sd_mod());
    // Nothing in it matches the default stanza (`find: AwesomeMod`).
    w.up.file(
        DOWNLOAD,
        ZipBuilder::new().file("Other/readme.txt", "x").build(),
    );
    let e = error(w.inflate(SD_NETKAN).await);
    assert!(e.to_string().contains("AwesomeMod"), "{e}");
    assert!(
        w.cached_files().is_empty(),
        "a retry must download afresh: {:?}",
        w.cached_files()
    );
}
