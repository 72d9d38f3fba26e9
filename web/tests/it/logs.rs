//! `GET /logs/<uuid>` (the page) and `GET /logs/<uuid>/events` (its live stream).

use std::time::Duration;

use netkan_common::Level;
use netkan_common::queue::Outcome;

use crate::{TestApp, Worker, noop_job, spawn_app};

#[tokio::test]
async fn the_log_page_shows_the_job_its_family_and_its_lines() {
    let app = spawn_app().await;
    let mut parent = Worker::start(
        &app,
        noop_job("push").with_body("{\"ref\": \"refs/heads/master\"}"),
    )
    .await;
    parent.log(Level::Info, "resolving 2 changed files").await;
    parent
        .log(Level::Notice, "queued inflation of Astrogator")
        .await;
    parent
        .log(Level::Warn, "DogeCoinFlag.netkan: no such file")
        .await;
    parent.log(Level::Debug, "fetch took 12 ms").await;
    let child = parent.child("inflate", "inbound.ksp").await;
    let res = app.get(&format!("/logs/{}", parent.id())).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-robots-tag"], "noindex");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(res.headers().get("content-security-policy").is_some());
    let html = res.text().await.unwrap();
    for needle in [
        "push",
        "state state-running",
        "resolving 2 changed files",
        "class=\"l-NOTICE\"",
        "class=\"l-WARN\"",
        "class=\"l-DEBUG\"",
        "queued inflation of Astrogator",
        &format!("href=\"/logs/{child}\""),
        "state state-queued",
        "inflate",
        "test-worker-1",
        "data-after=\"3\"",
        // People read INFO and above by default; DEBUG is one click away.
        "<option selected>INFO</option>",
        "class=\"log min-INFO\"",
        // The run view: the verdict of the tree, then every job in it.
        "Verdict: <span id=\"tree-state\" class=\"state state-running\">running</span>",
        "2 job(s): 0 succeeded, 0 failed, 2 queued or running",
        &format!(
            "<li class=\"run-node d1\" data-job=\"{child}\"><span class=\"state state-queued\">queued</span>"
        ),
    ] {
        assert!(html.contains(needle), "page lacks {needle:?}:\n{html}");
    }
    // The child links back to its parent.
    let html = app
        .get(&format!("/logs/{child}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("href=\"/logs/{}\"", parent.id())),
        "{html}"
    );
}

#[tokio::test]
async fn the_level_filter_is_preselected_from_the_query() {
    let app = spawn_app().await;
    let mut w = Worker::start(&app, noop_job("noop")).await;
    w.log(Level::Info, "hello").await;
    let html = app
        .get(&format!("/logs/{}?level=warn", w.id()))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("class=\"log min-WARN\""), "{html}");
    assert!(html.contains("<option selected>WARN</option>"), "{html}");
    let res = app.get(&format!("/logs/{}?level=LOUD", w.id())).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_finished_job_shows_its_outcome_and_error() {
    let app = spawn_app().await;
    let mut w = Worker::start(&app, noop_job("noop")).await;
    w.log(Level::Error, "download failed: 404").await;
    let id = w.id();
    w.finish(Outcome::Failed("download failed: 404".into()))
        .await;
    let html = app.get(&format!("/logs/{id}")).await.text().await.unwrap();
    assert!(html.contains("state state-failed"), "{html}");
    assert!(html.contains("data-finished=\"true\""), "{html}");
    assert!(
        html.contains("class=\"error-message\">download failed: 404"),
        "{html}"
    );
}

#[tokio::test]
async fn unknown_jobs_get_a_404_page() {
    let app = spawn_app().await;
    for path in [
        format!("/logs/{}", netkan_common::JobId::new()),
        "/logs/not-a-uuid".to_owned(),
        "/logs/0F8FAD5BD9CB469FA16570867728950E".to_owned(),
    ] {
        let res = app.get(&path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = res.text().await.unwrap();
        assert!(
            html.contains("404 Not Found") && html.contains("No job"),
            "{html}"
        );
    }
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("No such page"));
}

#[tokio::test]
async fn script_in_a_netkan_or_a_log_line_is_shown_escaped() {
    let app = spawn_app().await;
    let netkan = r##"{"identifier": "Evil", "name": "<script>alert('netkan')</script>", "$kref": "#/ckan/github/x/y"}"##;
    let mut w = Worker::start(
        &app,
        noop_job("inflate")
            .with_body(netkan)
            .with_attr("ModIdentifier", "<script>alert('attr')</script>"),
    )
    .await;
    w.log(
        Level::Error,
        "<script>alert(\"log\")</script><img src=x onerror=alert(1)>",
    )
    .await;
    let id = w.id();
    w.finish(Outcome::Failed("<script>alert('error')</script>".into()))
        .await;
    let html = app.get(&format!("/logs/{id}")).await.text().await.unwrap();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(
        html.contains("&#60;script&#62;alert(") || html.contains("&lt;script&gt;alert("),
        "{html}"
    );
    // Every script on the page is one of ours, from /static.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert!(html.contains("<script src=\"/static/logs.js\" defer></script>"));
}

#[tokio::test]
async fn the_assets_are_served() {
    let app = spawn_app().await;
    for (path, kind) in [
        ("/static/logs.js", "text/javascript"),
        ("/static/netkan.css", "text/css"),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
    }
    assert_eq!(app.get("/static/../Cargo.toml").await.status(), 404);
}

/// Reads Server-Sent Events from a streaming response.
pub(crate) struct Events {
    res: reqwest::Response,
    buf: String,
}

/// One event: its name, data and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) name: String,
    pub(crate) data: String,
    pub(crate) id: Option<String>,
}

impl Events {
    pub(crate) async fn open(app: &TestApp, path: &str, last_event_id: Option<&str>) -> Events {
        let mut req = app.client.get(app.url(path));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Events {
            res,
            buf: String::new(),
        }
    }

    /// The next named event, or `None` when the stream ends; panics after 10 s.
    pub(crate) async fn next(&mut self) -> Option<Event> {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = Event {
                    name: String::new(),
                    data: String::new(),
                    id: None,
                };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event.name = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        event.data = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        event.id = Some(v.to_owned());
                    }
                }
                if !event.name.is_empty() {
                    return Some(event);
                }
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.res.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap();
            match chunk {
                Some(bytes) => self.buf.push_str(std::str::from_utf8(&bytes).unwrap()),
                None => return None,
            }
        }
    }

    /// The next event that is not `meta`.
    pub(crate) async fn next_not_meta(&mut self) -> Option<Event> {
        loop {
            let e = self.next().await?;
            if e.name != "meta" {
                return Some(e);
            }
        }
    }
}

#[tokio::test]
async fn the_live_stream_sends_new_lines_state_changes_and_the_end() {
    let app = spawn_app().await;
    let mut w = Worker::start(&app, noop_job("noop")).await;
    w.log(Level::Info, "already there").await;
    let id = w.id();
    let mut events = Events::open(&app, &format!("/logs/{id}/events?after=0"), None).await;
    let meta = events.next().await.unwrap();
    assert_eq!(meta.name, "meta");
    let meta: serde_json::Value = serde_json::from_str(&meta.data).unwrap();
    assert_eq!(meta["state"], "running");
    assert_eq!(meta["finished"], false);

    w.log(Level::Notice, "inflated <Astrogator> 1.0").await;
    let line = events.next_not_meta().await.unwrap();
    assert_eq!(line.name, "line");
    assert_eq!(line.id.as_deref(), Some("1"));
    let line: serde_json::Value = serde_json::from_str(&line.data).unwrap();
    assert_eq!(line["cursor"], 1);
    assert_eq!(line["level"], "NOTICE");
    assert_eq!(line["message"], "inflated <Astrogator> 1.0");

    w.log(Level::Info, "done").await;
    w.finish(Outcome::Succeeded).await;
    let line = events.next_not_meta().await.unwrap();
    assert_eq!(line.id.as_deref(), Some("2"));
    let end = events.next_not_meta().await.unwrap();
    assert_eq!(end.name, "end");
    let end: serde_json::Value = serde_json::from_str(&end.data).unwrap();
    assert_eq!(end["state"], "succeeded");
    assert!(end["finishedAt"].is_string());
    assert_eq!(events.next().await, None, "the stream closes after the end");
}

#[tokio::test]
async fn a_finished_jobs_stream_stays_open_until_the_jobs_it_caused_finish() {
    let app = spawn_app().await;
    let mut w = Worker::start(&app, noop_job("push")).await;
    let child = w.child("inflate", "inbound.ksp").await;
    let id = w.id();
    w.finish(Outcome::Succeeded).await;
    let mut events = Events::open(&app, &format!("/logs/{id}/events"), None).await;
    let meta = events.next().await.unwrap();
    assert_eq!(
        meta.name, "meta",
        "not the end: the inflation is still queued"
    );
    let meta: serde_json::Value = serde_json::from_str(&meta.data).unwrap();
    assert_eq!(meta["finished"], true);
    assert_eq!(meta["treePending"], 1);
    // The run view the page swaps in lists the child.
    let run = app
        .get(&format!("/logs/{id}/run"))
        .await
        .text()
        .await
        .unwrap();
    assert!(run.contains(&format!("data-job=\"{child}\"")), "{run}");
    assert!(run.starts_with("<section id=\"run\""), "{run}");

    let mut conn = app.conn().await;
    let queue = netkan_common::QueueName::new("inbound.ksp").unwrap();
    let c = app
        .jq
        .claim(&mut conn, "w2", &[queue], 1, 0)
        .await
        .unwrap()
        .jobs
        .remove(0);
    let f = netkan_common::queue::Finish {
        id: c.id,
        queue: c.queue.clone(),
        token: c.token,
        attempt: c.attempt,
        outcome: Outcome::Failed("No license given".into()),
    };
    assert_eq!(app.jq.finish(&mut conn, &[f]).await.unwrap(), vec![true]);
    let end = events.next_not_meta().await.unwrap();
    assert_eq!(end.name, "end");
    let end: serde_json::Value = serde_json::from_str(&end.data).unwrap();
    assert_eq!(
        (end["treePending"].clone(), end["treeFailed"].clone()),
        (0.into(), 1.into())
    );
    let run = app
        .get(&format!("/logs/{id}/run"))
        .await
        .text()
        .await
        .unwrap();
    assert!(run.contains("class=\"run tree-failed\""), "{run}");
    assert!(run.contains("No license given"), "{run}");
    assert!(run.contains("run-node d1 failed-chain"), "{run}");
}

#[tokio::test]
async fn a_reconnecting_stream_resumes_after_last_event_id_and_filters_levels() {
    let app = spawn_app().await;
    let mut w = Worker::start(&app, noop_job("noop")).await;
    for i in 0..5 {
        w.log(
            if i % 2 == 0 {
                Level::Debug
            } else {
                Level::Warn
            },
            &format!("line {i}"),
        )
        .await;
    }
    let id = w.id();
    w.finish(Outcome::Succeeded).await;
    let mut events = Events::open(&app, &format!("/logs/{id}/events?after=0"), Some("2")).await;
    let mut got = Vec::new();
    while let Some(e) = events.next_not_meta().await {
        got.push((e.name, e.id));
    }
    assert_eq!(
        got,
        [
            ("line".to_owned(), Some("3".to_owned())),
            ("line".to_owned(), Some("4".to_owned())),
            ("end".to_owned(), None)
        ]
    );
    let mut events = Events::open(&app, &format!("/logs/{id}/events?level=WARN"), None).await;
    let mut cursors = Vec::new();
    while let Some(e) = events.next_not_meta().await {
        if e.name == "line" {
            cursors.push(e.id.unwrap());
        }
    }
    assert_eq!(cursors, ["1", "3"]);
}

#[tokio::test]
async fn streams_of_unknown_jobs_are_404() {
    let app = spawn_app().await;
    let res = app
        .get(&format!("/logs/{}/events", netkan_common::JobId::new()))
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_queued_job_streams_from_its_first_claim() {
    let app = spawn_app().await;
    let mut conn = app.conn().await;
    let job = noop_job("noop");
    let id = job.id;
    app.jq.enqueue(&mut conn, &[job]).await.unwrap();
    let page = app.get(&format!("/logs/{id}")).await.text().await.unwrap();
    assert!(page.contains("state state-queued"), "{page}");
    let mut events = Events::open(&app, &format!("/logs/{id}/events"), None).await;
    let meta: serde_json::Value = serde_json::from_str(&events.next().await.unwrap().data).unwrap();
    assert_eq!(meta["state"], "queued");
    let queue = netkan_common::QueueName::new("noop").unwrap();
    let claimed = app
        .jq
        .claim(&mut conn, "w2", &[queue], 1, 0)
        .await
        .unwrap()
        .jobs
        .remove(0);
    assert_eq!(claimed.id, id);
    let meta: serde_json::Value = serde_json::from_str(&events.next().await.unwrap().data).unwrap();
    assert_eq!(meta["state"], "running");
}
