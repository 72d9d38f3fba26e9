//! `netkan status` as an operator runs it, against a real redis-server.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::process::Command;

use netkan_common::status::{Inflation, StatusStore, parse_time};
use netkan_common::testing::TestRedis;
use netkan_common::{Game, Keys};

fn netkan(redis: &TestRedis, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netkan"))
        .args(args)
        .env("REDIS_URL", redis.url())
        .env("NETKAN__GAMES__KSP__CKANMETA", "/nowhere")
        .env("NETKAN__GAMES__KSP2__CKANMETA", "/nowhere")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn an_operator_shows_exports_dumps_and_restores_status() {
    let redis = TestRedis::start();
    let mut c = redis.conn().await;
    let store = StatusStore::new(Keys::default());
    let inf = Inflation {
        success: false,
        error: Some("Curl download failed with error CouldntConnect".into()),
        warnings: None,
        inflated: parse_time("2019-06-24T19:06:14").unwrap(),
        indexed: None,
        release_date: None,
        resources: Some(
            serde_json::json!({"homepage": "https://example.com"})
                .as_object()
                .unwrap()
                .clone(),
        ),
        downloaded: None,
    };
    store
        .record_inflation(&mut c, &Game::ksp(), "DogeCoinFlag", &inf)
        .await
        .unwrap();
    store
        .set_frozen(&mut c, &Game::new("ksp2").unwrap(), "Other", true)
        .await
        .unwrap();

    let (ok, out) = netkan(&redis, &["status", "show", "DogeCoinFlag"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("last_inflated    2019-06-24T19:06:14+00:00"),
        "{out}"
    );
    assert!(
        out.contains("last_error       Curl download failed"),
        "{out}"
    );
    assert!(
        out.contains("resources.homepage https://example.com"),
        "{out}"
    );
    let (ok, out) = netkan(&redis, &["status", "show", "DogeCoinFlag", "--json"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["failed"], true);
    let (ok, out) = netkan(&redis, &["status", "show", "Nope"]);
    assert!(!ok && out.contains("no status for Nope in ksp"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("netkan.json");
    let (ok, out) = netkan(
        &redis,
        &["status", "export", "--out", file.to_str().unwrap()],
    );
    assert!(ok, "{out}");
    let export: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        export["DogeCoinFlag"]["last_error"],
        "Curl download failed with error CouldntConnect"
    );
    let (ok, out) = netkan(&redis, &["status", "export", "--game", "ksp2"]);
    assert!(ok, "{out}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["Other"]["frozen"],
        true
    );

    let dump = dir.path().join("dump.json");
    let (ok, out) = netkan(&redis, &["status", "dump", "--out", dump.to_str().unwrap()]);
    assert!(ok, "{out}");
    let other = TestRedis::start();
    let (ok, out) = netkan(&other, &["status", "restore", dump.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("restored the status of 2 mods"), "{out}");
    let (_, again) = netkan(&other, &["status", "dump"]);
    assert_eq!(again.trim(), std::fs::read_to_string(&dump).unwrap());
    let (ok, out) = netkan(&other, &["status", "restore", file.to_str().unwrap()]);
    assert!(!ok, "an export is not a dump: {out}");
}
