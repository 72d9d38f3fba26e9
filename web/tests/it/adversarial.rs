//! Hostile input at the web's boundaries (issue 9): replayed, oversized and malformed
//! webhooks, job ids that are not UUIDs, cursors past any log, and log lines carrying HTML,
//! terminal escapes and forged Server-Sent Events. Each is refused with an error that names
//! the problem, or shown as the text it is.

use netkan_common::Level;
use netkan_common::queue::Outcome;

use crate::logs::Events;
use crate::{GITHUB_SECRET, Sig, Worker, job_ids, noop_job, sign256, spawn_app};

const PUSH: &str = r#"{"ref": "refs/heads/master", "before": "1111111111111111111111111111111111111111",
    "after": "2222222222222222222222222222222222222222",
    "repository": {"clone_url": "https://github.com/KSP-CKAN/NetKAN.git"},
    "commits": [{"added": ["NetKAN/Astrogator.netkan"]}]}"#;

async fn push_queue_depth(app: &crate::TestApp) -> u64 {
    let mut conn = app.conn().await;
    let stats = app.jq.stats(&mut conn).await.unwrap();
    stats
        .iter()
        .filter(|s| s.queue == "push")
        .map(|s| s.waiting())
        .sum()
}

/// A signed delivery with the given `X-GitHub-Delivery` (or none).
async fn deliver(
    app: &crate::TestApp,
    path: &str,
    body: &str,
    delivery: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header(
            "x-hub-signature-256",
            sign256(GITHUB_SECRET, body.as_bytes()),
        )
        .body(body.to_owned());
    if let Some(d) = delivery {
        req = req.header("x-github-delivery", d);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_replayed_github_delivery_is_refused_with_409_naming_it() {
    let app = spawn_app().await;
    let first = app
        .post_github("/gh/inflate/ksp", "push", PUSH, Sig::Sha256)
        .await;
    assert_eq!(first.status(), 204);
    assert_eq!(job_ids(&first).len(), 1);

    // The same request again, then with a fresh delivery id, then with none: the signature
    // covers only the body, so all three are the same payload.
    for delivery in [
        Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        Some("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        None,
    ] {
        let res = deliver(&app, "/gh/inflate/ksp", PUSH, delivery).await;
        assert_eq!(res.status(), 409, "{delivery:?}");
        assert!(job_ids(&res).is_empty());
        let text = res.text().await.unwrap();
        let shown = delivery.unwrap_or("(none)");
        assert_eq!(
            text,
            format!(
                "Replayed GitHub delivery {shown}: this payload was already received (as delivery 72d3162e-cc78-11e3-81ab-4c9367dc0958)"
            )
        );
    }
    assert_eq!(push_queue_depth(&app).await, 1, "one push job, not four");

    // Another route is another webhook: the same body to /gh/mirror is not a replay.
    let res = deliver(
        &app,
        "/gh/mirror/ksp",
        PUSH,
        Some("bbbbbbbb-0000-0000-0000-000000000000"),
    )
    .await;
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn one_release_sent_to_two_identifiers_inflates_both_but_each_only_once() {
    let app = spawn_app().await;
    let body = r#"{"action": "published", "release": {"tag_name": "v1.0"}}"#;
    for identifier in ["ModA", "ModB"] {
        let path = format!("/gh/release/ksp?identifier={identifier}");
        let res = app.post_github(&path, "release", body, Sig::Sha256).await;
        assert_eq!(res.status(), 204, "{identifier}");
        let again = app.post_github(&path, "release", body, Sig::Sha256).await;
        assert_eq!(again.status(), 409, "{identifier}");
    }
}

#[tokio::test]
async fn a_refused_delivery_leaves_no_mark_so_a_corrected_redelivery_is_not_a_replay() {
    let app = spawn_app().await;
    // Malformed JSON, correctly signed: 400 each time, never 409.
    let bad = r#"{"ref": "refs/heads/master", "commits": [{"added": "#;
    for _ in 0..2 {
        let res = app
            .post_github("/gh/inflate/ksp", "push", bad, Sig::Sha256)
            .await;
        assert_eq!(res.status(), 400);
        assert!(
            res.text()
                .await
                .unwrap()
                .starts_with("Invalid JSON body: EOF while parsing")
        );
    }
    // A release without its identifier: 400 with the reference's text, twice.
    let body = r#"{"action": "published"}"#;
    for _ in 0..2 {
        let res = app
            .post_github("/gh/release/ksp", "release", body, Sig::Sha256)
            .await;
        assert_eq!(res.status(), 400);
        assert!(
            res.text()
                .await
                .unwrap()
                .starts_with("Param \"identifier\" is required")
        );
    }
    // Unsigned requests never create a mark: the signed one after them is accepted.
    for _ in 0..2 {
        let res = app
            .post_github("/gh/inflate/ksp", "push", PUSH, Sig::Wrong)
            .await;
        assert_eq!(res.status(), 400);
        assert_eq!(res.text().await.unwrap(), "Signature mismatch");
    }
    let res = app
        .post_github("/gh/inflate/ksp", "push", PUSH, Sig::Sha256)
        .await;
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn oversized_deeply_nested_and_non_utf8_webhook_bodies_are_refused_with_their_reason() {
    let app = spawn_app().await;
    // Over web.max_body_bytes (64 KiB in the tests) on every kind of webhook.
    let huge = format!(r#"{{"identifiers": ["{}"]}}"#, "A".repeat(70 * 1024));
    for path in [
        "/gh/inflate/ksp",
        "/inflate/ksp",
        "/sd/add/ksp",
        "/sd/inflate/ksp",
    ] {
        let res = app.post_raw(path, &huge).await;
        assert_eq!(res.status(), 413, "{path}");
        assert_eq!(
            res.text().await.unwrap(),
            "request body larger than 65536 bytes",
            "{path}"
        );
    }
    // JSON nested deeper than the parser's recursion limit: a 400 that says so.
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let res = app.post_raw("/inflate/ksp", &nested).await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("recursion limit exceeded")
    );
    // Deep nesting where GitHub's payload has free-form values: skipped without recursion.
    let res = app
        .post_github(
            "/gh/inflate/ksp",
            "push",
            &format!(r#"{{"zen": {nested}}}"#),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), r#"{"message":"Wrong branch"}"#);
    // And where a typed value is expected: the type is named.
    let res = app
        .post_github(
            "/gh/inflate/ksp",
            "push",
            &format!(r#"{{"ref": "refs/heads/master", "commits": [{{"added": {nested}}}]}}"#),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 400);
    let text = res.text().await.unwrap();
    assert!(
        text.starts_with("Invalid JSON body: invalid type: sequence, expected a string"),
        "{text}"
    );
    // A form that is not UTF-8.
    let res = app
        .client
        .post(app.url("/sd/inflate/ksp"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"mod_id=1\xff\xfe".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.text().await.unwrap(), "The form is not valid UTF-8");
    // A mod id that is not a number is named (cut to 40 characters).
    let res = app
        .post_form(
            "/sd/inflate/ksp",
            &[("mod_id", "1; DROP TABLE mods <script>")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.text().await.unwrap(),
        "Invalid mod_id \"1; DROP TABLE mods <script>\": expected a number"
    );
    // An identifier with a path in it is named.
    let res = app
        .post_raw("/inflate/ksp", r#"{"identifiers": ["../../etc/passwd"]}"#)
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .starts_with("Invalid identifier \"../../etc/passwd\"")
    );
    assert_eq!(push_queue_depth(&app).await, 0, "nothing was enqueued");
}

#[tokio::test]
async fn job_paths_that_are_not_uuids_are_404s_that_name_them_escaped_and_cut() {
    let app = spawn_app().await;
    let long = "x".repeat(5000);
    for (raw, shown) in [
        (
            "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "&#34;&#60;script&#62;alert(1)&#60;/script&#62;&#34;",
        ),
        ("..%2F..%2Fetc%2Fpasswd", "&#34;../../etc/passwd&#34;"),
        ("%1B%5B31mred%00", "&#34;\\u{1b}[31mred\\0&#34;"),
        (long.as_str(), &format!("&#34;{}&#34;", "x".repeat(100))),
    ] {
        let res = app.get(&format!("/logs/{raw}")).await;
        assert_eq!(res.status(), 404, "{raw}");
        let html = res.text().await.unwrap();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(
            html.contains(&format!("No job {shown}: job ids are UUIDs")),
            "{raw}: {html}"
        );
        let res = app.get(&format!("/logs/{raw}/events")).await;
        assert_eq!(res.status(), 404, "{raw}");
        let res = app.get(&format!("/api/v1/jobs/{raw}")).await;
        assert_eq!(res.status(), 404, "{raw}");
        let json: serde_json::Value = res.json().await.unwrap();
        assert!(
            json["error"]
                .as_str()
                .unwrap()
                .ends_with(": job ids are UUIDs"),
            "{json}"
        );
    }
}

#[tokio::test]
async fn cursors_and_limits_past_any_log_read_nothing_or_are_refused() {
    let app = spawn_app().await;
    let mut w = Worker::start(&app, noop_job("noop")).await;
    w.log(Level::Info, "the only line").await;
    let id = w.id();
    for after in [
        "18446744073709551615",
        "18446744073709551614",
        "9223372036854775807",
    ] {
        for extra in ["", "&level=debug", "&order=desc"] {
            let res = app
                .get(&format!("/api/v1/jobs/{id}?after={after}{extra}"))
                .await;
            assert_eq!(res.status(), 200, "{after}{extra}");
            let json: serde_json::Value = res.json().await.unwrap();
            assert_eq!(json["logs"], serde_json::json!([]), "{after}{extra}");
        }
    }
    for (query, error) in [
        ("after=-1", "invalid query"),
        ("after=18446744073709551616", "invalid query"),
        ("limit=10001", "limit 10001 is too large: at most 10000"),
        ("level=%3Cb%3E", "<b>"),
        ("since=yesterday", "yesterday"),
        ("order=sideways", "sideways"),
    ] {
        let res = app.get(&format!("/api/v1/jobs/{id}?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        let json: serde_json::Value = res.json().await.unwrap();
        assert!(
            json["error"].as_str().unwrap().contains(error),
            "{query}: {json}"
        );
    }
    // A stream asked to start past any log does not stall the streams of other pages.
    let mut far = Events::open(
        &app,
        &format!("/logs/{id}/events?after=18446744073709551614"),
        None,
    )
    .await;
    assert_eq!(far.next().await.unwrap().name, "meta");
    let mut other = Worker::start(&app, noop_job("noop")).await;
    let other_id = other.id();
    let mut near = Events::open(&app, &format!("/logs/{other_id}/events"), None).await;
    other.log(Level::Info, "still streamed").await;
    let line = near.next_not_meta().await.unwrap();
    assert_eq!(line.name, "line");
    assert!(line.data.contains("still streamed"), "{line:?}");
    other.finish(Outcome::Succeeded).await;
    assert_eq!(near.next_not_meta().await.unwrap().name, "end");
    w.finish(Outcome::Succeeded).await;
    assert_eq!(far.next_not_meta().await.unwrap().name, "end");
}

#[tokio::test]
async fn control_characters_in_log_lines_are_shown_as_pictures_and_cannot_forge_events() {
    let app = spawn_app().await;
    let mut w = Worker::start(
        &app,
        noop_job("noop").with_body("name: \u{1b}]0;pwned\u{7}"),
    )
    .await;
    let forged = "done\n\nevent: end\ndata: {}\n\nid: 99";
    let terminal = "\u{1b}[2J\u{1b}[31mred\u{0}\r\u{202e}txt.exe\u{85}<b>bold</b>";
    w.log(Level::Warn, terminal).await;
    let id = w.id();
    let mut events = Events::open(&app, &format!("/logs/{id}/events"), None).await;
    w.log(Level::Info, forged).await;

    // The page: escapes as pictures, HTML as text.
    let html = app.get(&format!("/logs/{id}")).await.text().await.unwrap();
    assert!(
        html.contains("␛[2J␛[31mred␀␍<U+202E>txt.exe<U+0085>&#60;b&#62;bold&#60;/b&#62;")
            || html.contains(
                "␛[2J␛[31mred␀␍&lt;U+202E&gt;txt.exe&lt;U+0085&gt;&lt;b&gt;bold&lt;/b&gt;"
            )
            || html.contains(
                "␛[2J␛[31mred␀␍&#60;U+202E&#62;txt.exe&#60;U+0085&#62;&#60;b&#62;bold&#60;/b&#62;"
            ),
        "{html}"
    );
    assert!(
        html.contains("name: ␛]0;pwned␇"),
        "the request body too: {html}"
    );
    for raw in ['\u{1b}', '\u{0}', '\r', '\u{202e}', '\u{85}', '\u{7}'] {
        assert!(!html.contains(raw), "{raw:?} reached the page");
    }

    // The stream: each line one `line` event whose JSON holds the text exactly; the
    // newlines of the forged line do not end the stream.
    let mut messages = Vec::new();
    while messages.len() < 2 {
        let e = events.next_not_meta().await.unwrap();
        assert_eq!(e.name, "line", "{e:?}");
        let json: serde_json::Value = serde_json::from_str(&e.data).unwrap();
        messages.push(json["message"].as_str().unwrap().to_owned());
    }
    assert_eq!(messages, [terminal, forged]);
    // The API gives the exact text as well.
    let json: serde_json::Value = app
        .get(&format!("/api/v1/jobs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(json["logs"][0]["message"], terminal);
    w.finish(Outcome::Succeeded).await;
    assert_eq!(events.next_not_meta().await.unwrap().name, "end");
}
