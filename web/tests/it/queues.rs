//! The dashboard, `/queues`, and its actions.

use chrono::Utc;
use netkan_common::queue::{Outcome, WorkerInfo};
use netkan_common::{JobState, Level};

use crate::{ADMIN_TOKEN, TestApp, Worker, noop_job, spawn_app, spawn_app_with};

/// A dead job whose reason holds markup.
async fn bury_one(app: &TestApp) -> netkan_common::JobId {
    let mut w = Worker::start(app, noop_job("mirror")).await;
    w.log(Level::Error, "upload failed").await;
    let id = w.id();
    w.finish(Outcome::Dead("archive.org said <b>503</b>".into()))
        .await;
    id
}

#[tokio::test]
async fn the_dashboard_shows_depths_in_flight_dead_workers_and_counters() {
    let app = spawn_app().await;
    let dead = bury_one(&app).await;
    let running = Worker::start(&app, noop_job("noop")).await;
    let mut conn = app.conn().await;
    app.jq
        .enqueue(&mut conn, &[noop_job("noop"), noop_job("noop")])
        .await
        .unwrap();
    let me = WorkerInfo {
        id: "worker-on-host-1".into(),
        host: "host-1".into(),
        pid: 4242,
        roles: vec!["noop".into()],
        concurrency: 8,
        started: Utc::now(),
        heartbeat: Utc::now(),
        running: 1,
    };
    app.jq
        .renew(&mut conn, &me.id, &serde_json::to_string(&me).unwrap(), &[])
        .await
        .unwrap();
    let res = app.get("/queues").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    for needle in [
        "<td>noop</td><td class=\"num\">2</td>",
        &format!("href=\"/logs/{}\"", running.id()),
        "test-worker-1",
        &format!("action=\"/queues/dead/{dead}/retry\""),
        "archive.org said &#60;b&#62;503&#60;/b&#62;",
        "worker-on-host-1",
        "host-1",
        "1 / 8",
        "id=\"admin-token\"",
    ] {
        assert!(html.contains(needle), "dashboard lacks {needle:?}:\n{html}");
    }
}

async fn post_action(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    site: Option<&str>,
) -> reqwest::Response {
    let mut pairs = vec![];
    if let Some(t) = token {
        pairs.push(("token", t));
    }
    let mut req = app.form_request(path, &pairs);
    if let Some(site) = site {
        req = req.header("sec-fetch-site", site);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn retrying_a_dead_job_needs_the_admin_token_and_the_same_site() {
    let app = spawn_app().await;
    let dead = bury_one(&app).await;
    let path = format!("/queues/dead/{dead}/retry");
    let res = post_action(&app, &path, None, Some("same-origin")).await;
    assert_eq!(res.status(), 403);
    let res = post_action(&app, &path, Some("wrong"), Some("same-origin")).await;
    assert_eq!(res.status(), 403);
    let res = post_action(&app, &path, Some(ADMIN_TOKEN), Some("cross-site")).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("cross-site"));
    let res = app
        .form_request(&path, &[("token", ADMIN_TOKEN)])
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let mut conn = app.conn().await;
    assert_eq!(
        app.jq.job(&mut conn, &dead).await.unwrap().unwrap().state,
        JobState::Dead
    );

    let res = app
        .form_request(&path, &[("token", ADMIN_TOKEN)])
        .header("origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/queues?done=Retried")
    );
    assert_eq!(
        app.jq.job(&mut conn, &dead).await.unwrap().unwrap().state,
        JobState::Queued
    );
    let html = app
        .get(res.headers()["location"].to_str().unwrap())
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("Retried {dead}")), "{html}");
    // Not dead any more.
    let res = post_action(&app, &path, Some(ADMIN_TOKEN), Some("same-origin")).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn deleting_a_dead_job_removes_it_and_its_log() {
    let app = spawn_app().await;
    let dead = bury_one(&app).await;
    let res = app
        .client
        .post(app.url(&format!("/queues/dead/{dead}/delete")))
        .header("x-netkan-admin-token", ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(app.get(&format!("/logs/{dead}")).await.status(), 404);
}

#[tokio::test]
async fn an_operator_enqueues_an_inflation_and_lands_on_its_log() {
    let app = spawn_app().await;
    let res = app
        .form_request(
            "/queues/inflate",
            &[
                ("token", ADMIN_TOKEN),
                ("game", "ksp2"),
                ("identifiers", "Astrogator, DogeCoinFlag\nKSPRC"),
            ],
        )
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let job = app.jobs_of(&res).await.remove(0);
    assert_eq!(
        res.headers()["location"],
        format!("/logs/{}", job.id).as_str()
    );
    assert_eq!(job.kind, "inflate-request");
    assert_eq!(job.queue.as_str(), "push");
    assert_eq!(job.game.as_str(), "ksp2");
    assert_eq!(
        job.body,
        r#"{"identifiers":["Astrogator","DogeCoinFlag","KSPRC"]}"#
    );
    let res = app
        .form_request(
            "/queues/inflate",
            &[("token", ADMIN_TOKEN), ("identifiers", "Bad Name!")],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn without_an_admin_token_configured_actions_are_disabled() {
    let app = spawn_app_with(|s| s.web.admin_token = Default::default()).await;
    let dead = bury_one(&app).await;
    let html = app.get("/queues").await.text().await.unwrap();
    assert!(html.contains("Actions are disabled"), "{html}");
    assert!(!html.contains("/retry\""), "{html}");
    let res = post_action(&app, &format!("/queues/dead/{dead}/retry"), Some(""), None).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("web.admin_token"));
}
