//! `/healthz`, `/metrics`, the request id, and a clean stop.

use netkan_common::queue::Outcome;

use crate::{Worker, noop_job, spawn_app};

#[tokio::test]
async fn healthz_says_whether_redis_answers() {
    let mut app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-request-id").is_some());
    assert_eq!(res.text().await.unwrap(), "ok");
    app.redis.stop();
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("unavailable"));
}

#[tokio::test]
async fn head_is_answered_like_get_without_a_body() {
    let app = spawn_app().await;
    let res = app
        .client
        .head(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-request-id").is_some());
    assert_eq!(res.text().await.unwrap(), "");
    let res = app
        .client
        .head(format!("{}/queues", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"))
    );
}

#[tokio::test]
async fn metrics_count_queues_outcomes_and_durations() {
    let app = spawn_app().await;
    let w = Worker::start(&app, noop_job("noop")).await;
    w.finish(Outcome::Succeeded).await;
    let w = Worker::start(&app, noop_job("noop")).await;
    w.finish(Outcome::Failed("no".into())).await;
    let _running = Worker::start(&app, noop_job("noop")).await;
    let mut conn = app.conn().await;
    app.jq
        .enqueue(&mut conn, &[noop_job("noop")])
        .await
        .unwrap();
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    for line in [
        "# TYPE netkan_queue_jobs gauge",
        "netkan_queue_jobs{queue=\"noop\",status=\"high\"} 1",
        "netkan_queue_jobs{queue=\"noop\",status=\"in_flight\"} 1",
        "netkan_queue_jobs{queue=\"noop\",status=\"dead\"} 0",
        "netkan_jobs_finished_total{queue=\"noop\",kind=\"noop\",outcome=\"succeeded\"} 1",
        "netkan_jobs_finished_total{queue=\"noop\",kind=\"noop\",outcome=\"failed\"} 1",
        "netkan_job_duration_seconds_count{queue=\"noop\",kind=\"noop\"} 2",
        "# TYPE netkan_job_duration_seconds summary",
        "netkan_workers 0",
        "netkan_web_live_streams 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "metrics lack {line:?}:\n{text}"
        );
    }
    assert!(text.contains("netkan_job_duration_seconds_sum{queue=\"noop\",kind=\"noop\"} "));
    assert!(text.contains("# TYPE netkan_queue_oldest_waiting_seconds gauge"));
    let age: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("netkan_queue_oldest_waiting_seconds{queue=\"noop\"} "))
        .unwrap_or_else(|| panic!("no age of the oldest waiting noop job:\n{text}"))
        .parse()
        .unwrap();
    assert!(
        (0.0..600.0).contains(&age),
        "one job waits, enqueued just now: {age}"
    );
}

#[tokio::test]
async fn the_root_leads_to_the_dashboard_and_the_server_stops_cleanly() {
    let app = spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/queues");
    // An open live stream does not hold the stop up.
    let id = Worker::start(&app, noop_job("noop")).await.id();
    let _events = crate::logs::Events::open(&app, &format!("/logs/{id}/events"), None).await;
    tokio::time::timeout(std::time::Duration::from_secs(10), app.stop())
        .await
        .expect("the server stops within 10 s");
}
