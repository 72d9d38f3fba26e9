//! The indexer on real data: the 65 real `.ckan` files of `shared/ckan-real/ckan/` sent as
//! outbound messages into the complete real CKAN-meta (`corpus/CKAN-meta.tar.gz`, ~30,000
//! files; built into a bare repository once per target directory). The unchanged ones make
//! no commit, the one changed makes exactly one, and the resulting `status.json` has the
//! format of the reference (§4).
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

mod support;

use std::time::Duration;

use netkan_common::status::{StatusStore, parse_time};
use netkan_common::testing::TestRedis;
use netkan_common::{Game, JobState};
use serde_json::Value;
use support::corpus::{corpus_copy, real_ckans};
use support::github::FakeGithub;
use support::world::{InProcess, enqueue, finished, log, outbound, pushes, settings, subjects};

/// Checks one `status.json` (reference §4): an object keyed by identifier, each value with
/// exactly the attributes of the model but the identifier, in order, times as Python's
/// `isoformat()` of a UTC time, `failed` a boolean.
fn check_status_json(v: &Value, game: &str) {
    const KEYS: [&str; 11] = [
        "game_id",
        "last_error",
        "last_warnings",
        "last_checked",
        "last_indexed",
        "last_inflated",
        "last_downloaded",
        "release_date",
        "frozen",
        "resources",
        "failed",
    ];
    for (id, item) in v.as_object().unwrap() {
        let o = item.as_object().unwrap();
        assert_eq!(
            o.keys().map(String::as_str).collect::<Vec<_>>(),
            KEYS,
            "{id}"
        );
        assert_eq!(o["game_id"], game);
        for k in ["last_error", "last_warnings"] {
            assert!(o[k].is_null() || o[k].is_string(), "{id}.{k}");
        }
        for k in &KEYS[3..8] {
            if let Some(t) = o[*k].as_str() {
                assert!(t.ends_with("+00:00"), "{id}.{k} = {t}");
                let fraction = t.split_once('.').map(|(_, f)| f.trim_end_matches("+00:00"));
                assert!(
                    fraction.is_none_or(|f| f.len() == 6 && f != "000000"),
                    "{id}.{k} = {t}"
                );
                assert!(parse_time(t).is_some(), "{id}.{k} = {t}");
            } else {
                assert!(o[*k].is_null(), "{id}.{k}");
            }
        }
        assert!(o["frozen"].is_boolean() && o["failed"].is_boolean(), "{id}");
        assert!(o["resources"].is_object(), "{id}");
    }
}

#[tokio::test]
async fn the_real_ckans_index_into_the_real_ckan_meta_with_one_commit_for_the_one_changed() {
    let dir = tempfile::tempdir().unwrap();
    let redis = TestRedis::start();
    let gh = FakeGithub::start();
    let bare = corpus_copy(&dir.path().join("CKAN-meta.git"));
    let mut s = settings(&redis, &dir.path().join("data"), &bare, &gh);
    s.worker.concurrency.insert("index".into(), 8);
    s.jobs.lease_ms = 30_000; // the first job clones 30,000 files
    let ckans = real_ckans();
    assert_eq!(ckans.len(), 65);
    let changed = "Kopernicus";
    let mut jobs = Vec::new();
    for (id, file, text) in &ckans {
        let body = if id == changed {
            text.replacen("\"abstract\": \"", "\"abstract\": \"(changed) ", 1)
        } else {
            text.clone()
        };
        assert!(id != changed || body != *text);
        let file_name = format!("./{file}");
        jobs.push(outbound(
            &body,
            &[
                ("ModIdentifier", id),
                ("FileName", &file_name),
                ("CheckTime", "2026-08-22T10:00:00"),
            ],
        ));
    }
    let worker = InProcess::start(&s);
    let jq = s.job_queue();
    let ids = enqueue(&redis, &jq, &jobs).await;
    let mut notices = Vec::new();
    for id in &ids {
        let rec = finished(&redis, &jq, *id, Duration::from_secs(120)).await;
        let lines = log(&redis, &jq, *id).await;
        assert_eq!(rec.state, JobState::Succeeded, "{lines:#?}");
        notices.push(lines.last().unwrap().clone());
    }
    worker.stop().await;
    let unchanged = notices
        .iter()
        .filter(|n| n.starts_with("NOTICE unchanged "))
        .count();
    assert_eq!(unchanged, 64, "{notices:#?}");
    let (_, file, _) = ckans.iter().find(|(id, _, _)| id == changed).unwrap();
    let stem = file.trim_end_matches(".ckan");
    assert_eq!(
        subjects(&bare, "master"),
        vec![
            format!("NetKAN updated mod - {stem}"),
            "CKAN-meta corpus".to_owned()
        ]
    );
    assert_eq!(pushes(&bare, "master"), 1);

    let mut c = redis.conn().await;
    let export = StatusStore::new(jq.keys().clone())
        .export(&mut c, &Game::ksp())
        .await
        .unwrap();
    assert_eq!(export.len(), 65);
    let export = Value::Object(export);
    check_status_json(&export, "ksp");
    assert!(export[changed]["last_indexed"].is_string());
    assert!(export["ABCORS"]["last_indexed"].is_null());
    assert_eq!(
        export["ABCORS"]["last_inflated"],
        "2026-08-22T10:00:00+00:00"
    );
    let with_dates = export
        .as_object()
        .unwrap()
        .values()
        .filter(|v| v["release_date"].is_string())
        .count();
    assert!(
        with_dates > 30,
        "release dates are taken from the .ckan files ({with_dates})"
    );
}
