//! The status store against a real redis-server: the indexer's update rules (reference §1.4
//! `status_attrs`), notices only for new errors and warnings, freezing, the `status.json`
//! export, dump and restore.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use netkan_common::status::{Inflation, StatusStore, isoformat, parse_time};
use netkan_common::testing::TestRedis;
use netkan_common::{Game, Keys};
use serde_json::{Value, json};

fn inflation(success: bool, error: Option<&str>, warnings: Option<&str>) -> Inflation {
    Inflation {
        success,
        error: error.map(str::to_owned),
        warnings: warnings.map(str::to_owned),
        inflated: parse_time("2019-06-24T19:06:14").unwrap(),
        indexed: None,
        release_date: None,
        resources: None,
        downloaded: None,
    }
}

#[tokio::test]
async fn errors_and_warnings_are_new_only_when_they_change_on_a_known_mod() {
    let redis = TestRedis::start();
    let mut c = redis.conn().await;
    let store = StatusStore::new(Keys::default());
    let ksp = Game::ksp();
    let err = "Curl download failed with error CouldntConnect";
    // A mod seen for the first time: recorded, no notice (the reference creates the row quietly).
    let r = store
        .record_inflation(&mut c, &ksp, "Foo", &inflation(false, Some(err), None))
        .await
        .unwrap();
    assert!(!r.existed && !r.new_error && !r.new_warnings);
    let s = store.get(&mut c, &ksp, "Foo").await.unwrap().unwrap();
    assert_eq!(s.last_error.as_deref(), Some(err));
    assert_eq!(s.success, Some(false));
    // The same error again: not new.
    let r = store
        .record_inflation(&mut c, &ksp, "Foo", &inflation(false, Some(err), None))
        .await
        .unwrap();
    assert!(r.existed && !r.new_error);
    // Another error: new.
    let r = store
        .record_inflation(&mut c, &ksp, "Foo", &inflation(false, Some("other"), None))
        .await
        .unwrap();
    assert!(r.new_error && !r.new_warnings);
    // Success clears the error; warnings that differ are new, the same ones are not.
    let r = store
        .record_inflation(&mut c, &ksp, "Foo", &inflation(true, None, Some("w1")))
        .await
        .unwrap();
    assert!(!r.new_error && r.new_warnings);
    let s = store.get(&mut c, &ksp, "Foo").await.unwrap().unwrap();
    assert_eq!((s.last_error, s.success), (None, Some(true)));
    let r = store
        .record_inflation(&mut c, &ksp, "Foo", &inflation(true, None, Some("w1")))
        .await
        .unwrap();
    assert!(!r.new_warnings);
    // No warnings: cleared, and that is no notice.
    let r = store
        .record_inflation(&mut c, &ksp, "Foo", &inflation(true, None, None))
        .await
        .unwrap();
    assert!(!r.new_warnings);
    assert_eq!(
        store
            .get(&mut c, &ksp, "Foo")
            .await
            .unwrap()
            .unwrap()
            .last_warnings,
        None
    );
    // Games are apart.
    assert!(
        store
            .get(&mut c, &Game::new("ksp2").unwrap(), "Foo")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn any_inflation_unfreezes_and_optional_fields_are_kept_when_absent() {
    let redis = TestRedis::start();
    let mut c = redis.conn().await;
    let store = StatusStore::new(Keys::new("p:"));
    let ksp = Game::ksp();
    let mut first = inflation(true, None, None);
    first.indexed = parse_time("2023-04-11T14:40:18.673421+00:00");
    first.release_date = parse_time("2023-04-01T00:00:00Z");
    first.resources = Some(
        json!({"homepage": "https://example.com"})
            .as_object()
            .unwrap()
            .clone(),
    );
    store
        .record_inflation(&mut c, &ksp, "Bar", &first)
        .await
        .unwrap();
    store.set_frozen(&mut c, &ksp, "Bar", true).await.unwrap();
    assert!(
        store
            .get(&mut c, &ksp, "Bar")
            .await
            .unwrap()
            .unwrap()
            .frozen
    );
    let mut second = inflation(true, None, None);
    second.inflated = parse_time("2023-04-13T08:10:15").unwrap();
    store
        .record_inflation(&mut c, &ksp, "Bar", &second)
        .await
        .unwrap();
    let s = store.get(&mut c, &ksp, "Bar").await.unwrap().unwrap();
    assert!(!s.frozen);
    assert_eq!(
        s.last_indexed.map(|t| isoformat(&t)).as_deref(),
        Some("2023-04-11T14:40:18.673421+00:00")
    );
    assert_eq!(
        s.last_inflated.map(|t| isoformat(&t)).as_deref(),
        Some("2023-04-13T08:10:15+00:00")
    );
    assert_eq!(s.resources["homepage"], "https://example.com");
    // The keys are the documented ones.
    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg("p:status:ksp:Bar")
        .query_async(&mut c)
        .await
        .unwrap();
    let mut fields = fields;
    fields.sort();
    assert_eq!(
        fields,
        [
            "frozen",
            "last_indexed",
            "last_inflated",
            "release_date",
            "resources",
            "success"
        ]
    );
    let members: Vec<String> = redis::cmd("SMEMBERS")
        .arg("p:status:ksp")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(members, ["Bar"]);
}

#[tokio::test]
async fn the_export_is_keyed_by_identifier_per_game_and_dump_restore_round_trips() {
    let redis = TestRedis::start();
    let mut c = redis.conn().await;
    let store = StatusStore::new(Keys::default());
    let (ksp, ksp2) = (Game::ksp(), Game::new("ksp2").unwrap());
    store
        .record_inflation(
            &mut c,
            &ksp,
            "B",
            &inflation(false, Some("<script>alert(1)</script>"), None),
        )
        .await
        .unwrap();
    store
        .record_inflation(&mut c, &ksp, "A", &inflation(true, None, Some("w\r\nv")))
        .await
        .unwrap();
    store
        .record_inflation(&mut c, &ksp2, "C", &inflation(true, None, None))
        .await
        .unwrap();
    let export = store.export(&mut c, &ksp).await.unwrap();
    assert_eq!(export.keys().collect::<Vec<_>>(), ["A", "B"]);
    assert_eq!(
        Value::Object(export.clone()),
        json!({
            "A": {"game_id": "ksp", "last_error": null, "last_warnings": "w\r\nv", "last_checked": null,
                  "last_indexed": null, "last_inflated": "2019-06-24T19:06:14+00:00", "last_downloaded": null,
                  "release_date": null, "frozen": false, "resources": {}, "failed": false},
            "B": {"game_id": "ksp", "last_error": "<script>alert(1)</script>", "last_warnings": null, "last_checked": null,
                  "last_indexed": null, "last_inflated": "2019-06-24T19:06:14+00:00", "last_downloaded": null,
                  "release_date": null, "frozen": false, "resources": {}, "failed": true}
        })
    );
    let dump = Value::Object(
        store
            .dump(&mut c, &[ksp.clone(), ksp2.clone()])
            .await
            .unwrap(),
    );
    assert_eq!(dump["ksp2"]["C"]["game_id"], "ksp2");

    let other = TestRedis::start();
    let mut c2 = other.conn().await;
    assert_eq!(store.restore(&mut c2, &dump).await.unwrap(), 3);
    let again = Value::Object(store.dump(&mut c2, &[ksp, ksp2]).await.unwrap());
    assert_eq!(again, dump);
    // Garbage is refused with what is wrong.
    let e = store
        .restore(&mut c2, &json!({"ksp": {"X": {"failed": "yes"}}}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("X: failed"), "{e}");
    assert!(store.restore(&mut c2, &json!([1])).await.is_err());
}
