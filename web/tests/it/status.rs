//! `/status`, its rows, and the `status.json` exports, over a status store filled through
//! `netkan_common::status` (as the indexer fills it).

use netkan_common::Game;
use netkan_common::status::{Inflation, StatusStore, parse_time};
use serde_json::{Value, json};

use crate::{TestApp, spawn_app_with};

pub(crate) const EVIL: &str = "<script>window.pwned = true</script> & \"quotes\"";

/// An app serving ksp and ksp2 with three mods: one failed with a markup-laden error, one
/// with resources (a `javascript:` one among them), one frozen in ksp2.
pub(crate) async fn app_with_mods() -> TestApp {
    let app = spawn_app_with(|s| {
        s.games.insert("ksp2".into(), Default::default());
    })
    .await;
    let mut c = app.conn().await;
    let store = StatusStore::new(app.jq.keys().clone());
    let base = Inflation {
        success: true,
        error: None,
        warnings: None,
        inflated: parse_time("2023-04-13T08:10:15").unwrap(),
        indexed: parse_time("2023-04-11T14:40:18.673421+00:00"),
        release_date: parse_time("2023-04-01T00:00:00Z"),
        resources: None,
        downloaded: None,
    };
    let failed = Inflation {
        success: false,
        error: Some(EVIL.into()),
        indexed: None,
        ..base.clone()
    };
    store
        .record_inflation(&mut c, &Game::ksp(), "Broken", &failed)
        .await
        .unwrap();
    let with_links = Inflation {
        warnings: Some("first\r\nsecond".into()),
        resources: Some(
            json!({"homepage": "https://example.com/a?b=1&c=2", "repository": "javascript:alert(1)"})
                .as_object()
                .unwrap()
                .clone(),
        ),
        ..base.clone()
    };
    store
        .record_inflation(&mut c, &Game::ksp(), "Astrogator", &with_links)
        .await
        .unwrap();
    store
        .set_frozen(&mut c, &Game::new("ksp2").unwrap(), "Later", true)
        .await
        .unwrap();
    app
}

#[tokio::test]
async fn the_status_page_is_a_shell_and_its_rows_are_compact_json() {
    let app = app_with_mods().await;
    let res = app.get("/status").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<script src="/static/status.js" defer></script>"#));
    assert!(
        html.contains(r#"<a href="/status/netkan.json">"#)
            && html.contains(r#"<a href="/status/netkan-ksp2.json">"#),
        "{html}"
    );
    assert!(
        !html.contains("window.pwned"),
        "the data is never in the HTML"
    );

    let res = app.get("/status/rows.json").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        v["rows"],
        json!([
            ["Astrogator", "ksp", "2023-04-13 08:10", "2023-04-11 14:40", "2023-04-01 00:00", false, null, "first\r\nsecond",
             {"homepage": "https://example.com/a?b=1&c=2", "repository": "javascript:alert(1)"}],
            ["Broken", "ksp", "2023-04-13 08:10", null, "2023-04-01 00:00", false, EVIL, null, null],
            ["Later", "ksp2", null, null, null, true, null, null, null]
        ])
    );
    let js = app.get("/static/status.js").await;
    assert_eq!(js.status(), 200);
    assert!(js.text().await.unwrap().contains("textContent"));
}

#[tokio::test]
async fn the_exports_are_the_reference_status_json_per_game() {
    let app = app_with_mods().await;
    let res = app.get("/status/netkan.json").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let text = res.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["Astrogator", "Broken"]
    );
    assert_eq!(
        v["Broken"],
        json!({"game_id": "ksp", "last_error": EVIL, "last_warnings": null, "last_checked": null,
               "last_indexed": null, "last_inflated": "2023-04-13T08:10:15+00:00", "last_downloaded": null,
               "release_date": "2023-04-01T00:00:00+00:00", "frozen": false, "resources": {}, "failed": true})
    );
    assert_eq!(
        v["Astrogator"]["last_indexed"],
        "2023-04-11T14:40:18.673421+00:00"
    );
    // Keys in the reference's order, `failed` last.
    assert!(text.contains(r#""release_date":"2023-04-01T00:00:00+00:00","frozen":false,"resources":{},"failed":true}"#), "{text}");

    let v: Value = app
        .get("/status/netkan-ksp2.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["Later"]["frozen"], true);
    assert_eq!(v["Later"]["failed"], false);
    assert_eq!(v["Later"]["game_id"], "ksp2");

    for missing in [
        "/status/netkan-ksp3.json",
        "/status/other.json",
        "/status/netkan-.json",
    ] {
        let res = app.get(missing).await;
        assert_eq!(res.status(), 404, "{missing}");
        let e: Value = res.json().await.unwrap();
        assert!(
            e["error"].as_str().unwrap().contains("No such status file"),
            "{e}"
        );
    }
}
