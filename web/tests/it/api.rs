//! `GET /api/v1/jobs/<uuid>` and `GET /api/v1/jobs`.

use netkan_common::queue::Outcome;
use netkan_common::{JobId, Level};
use serde_json::Value;

use crate::{TestApp, Worker, noop_job, spawn_app};

async fn get_json(app: &TestApp, path: &str) -> (u16, Value) {
    let res = app.get(path).await;
    let status = res.status().as_u16();
    assert_eq!(res.headers()["access-control-allow-origin"], "*", "{path}");
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn a_job_reads_as_the_registry_shape_with_state_family_and_logs() {
    let app = spawn_app().await;
    let mut w = Worker::start(
        &app,
        noop_job("push").with_game(netkan_common::Game::new("ksp2").unwrap()),
    )
    .await;
    w.log(Level::Info, "one").await;
    w.log(Level::Notice, "two").await;
    let child = w.child("inflate", "inbound.ksp2").await;
    let id = w.id();
    let (status, job) = get_json(&app, &format!("/api/v1/jobs/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(job["jobId"], id.to_string());
    assert_eq!(job["jobType"], "push");
    assert_eq!(job["game"], "ksp2");
    assert_eq!(job["state"], "running");
    assert_eq!(job["success"], false);
    assert!(job["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(job["startedAt"].is_string());
    assert!(job["finishedAt"].is_null());
    assert!(job["parent"].is_null());
    assert_eq!(job["childCount"], 1);
    assert_eq!(job["children"][0]["jobId"], child.to_string());
    assert_eq!(job["children"][0]["jobType"], "inflate");
    assert_eq!(job["children"][0]["state"], "queued");
    assert_eq!(job["logs"].as_array().unwrap().len(), 2);
    assert_eq!(job["logs"][1]["cursor"], 1);
    assert_eq!(job["logs"][1]["level"], "NOTICE");
    assert_eq!(job["logs"][1]["message"], "two");

    w.finish(Outcome::Succeeded).await;
    let (_, job) = get_json(&app, &format!("/api/v1/jobs/{id}")).await;
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["success"], true);
    assert!(job["finishedAt"].is_string());
    let (_, child) = get_json(&app, &format!("/api/v1/jobs/{child}")).await;
    assert_eq!(child["parent"], id.to_string());
}

#[tokio::test]
async fn log_queries_page_by_cursor_time_level_and_order() {
    let app = spawn_app().await;
    let mut w = Worker::start(&app, noop_job("noop")).await;
    for (i, level) in [
        Level::Debug,
        Level::Info,
        Level::Notice,
        Level::Warn,
        Level::Error,
    ]
    .into_iter()
    .enumerate()
    {
        w.log(level, &format!("line {i}")).await;
    }
    let id = w.id();
    let messages = |job: &Value| -> Vec<String> {
        job["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["message"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, job) = get_json(&app, &format!("/api/v1/jobs/{id}?after=2")).await;
    assert_eq!(messages(&job), ["line 3", "line 4"]);
    let (_, job) = get_json(&app, &format!("/api/v1/jobs/{id}?level=notice")).await;
    assert_eq!(messages(&job), ["line 2", "line 3", "line 4"]);
    let (_, job) = get_json(&app, &format!("/api/v1/jobs/{id}?order=desc&limit=2")).await;
    assert_eq!(messages(&job), ["line 4", "line 3"]);
    let (_, job) = get_json(&app, &format!("/api/v1/jobs/{id}?after=0&limit=1")).await;
    assert_eq!(messages(&job), ["line 1"]);
    let (_, job) = get_json(&app, &format!("/api/v1/jobs/{id}?limit=0")).await;
    assert!(messages(&job).is_empty());
    // `since` is inclusive: the first line's own time returns it.
    let since = job_first_timestamp(&app, id).await;
    let (_, job) = get_json(&app, &format!("/api/v1/jobs/{id}?since={since}")).await;
    assert_eq!(messages(&job).len(), 5);
    let (_, job) = get_json(&app, &format!("/api/v1/jobs/{id}?since=4102444800000")).await;
    assert!(messages(&job).is_empty());
}

async fn job_first_timestamp(app: &TestApp, id: JobId) -> String {
    let (_, job) = get_json(app, &format!("/api/v1/jobs/{id}?limit=1")).await;
    job["logs"][0]["timestamp"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn bad_queries_and_unknown_jobs_get_json_errors() {
    let app = spawn_app().await;
    let w = Worker::start(&app, noop_job("noop")).await;
    let id = w.id();
    for query in [
        "level=LOUD",
        "since=yesterday",
        "order=sideways",
        "after=x",
        "limit=99999999",
    ] {
        let (status, body) = get_json(&app, &format!("/api/v1/jobs/{id}?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(body["error"].is_string(), "{query}: {body}");
        assert!(body["requestId"].is_string());
    }
    let (status, body) = get_json(&app, &format!("/api/v1/jobs/{}", JobId::new())).await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().starts_with("No job"));
    let (status, _) = get_json(&app, "/api/v1/jobs/nope").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_api_answers_cors_preflights() {
    let app = spawn_app().await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/jobs"))
        .header("origin", "https://example.org")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(
        res.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
}

#[tokio::test]
async fn recent_jobs_are_listed_by_state_and_kind() {
    let app = spawn_app().await;
    let done = Worker::start(&app, noop_job("index")).await;
    let done_id = done.id();
    done.finish(Outcome::Succeeded).await;
    let failed = Worker::start(&app, noop_job("inflate")).await;
    let failed_id = failed.id();
    failed.finish(Outcome::Failed("bad netkan".into())).await;
    let dead = Worker::start(&app, noop_job("mirror")).await;
    let dead_id = dead.id();
    dead.finish(Outcome::Dead("archive.org down".into())).await;
    let running = Worker::start(&app, noop_job("inflate")).await;
    let mut conn = app.conn().await;
    let waiting = noop_job("index");
    let waiting_id = waiting.id;
    app.jq.enqueue(&mut conn, &[waiting]).await.unwrap();

    let ids = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|j| j["jobId"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, all) = get_json(&app, "/api/v1/jobs").await;
    assert_eq!(status, 200);
    let all = ids(&all);
    assert_eq!(all[0], running.id().to_string(), "running jobs come first");
    for id in [done_id, failed_id, dead_id] {
        assert!(all.contains(&id.to_string()));
    }
    assert!(!all.contains(&waiting_id.to_string()));
    let (_, list) = get_json(&app, "/api/v1/jobs?state=succeeded").await;
    assert_eq!(ids(&list), [done_id.to_string()]);
    let (_, list) = get_json(&app, "/api/v1/jobs?state=failed").await;
    assert_eq!(ids(&list), [failed_id.to_string()]);
    assert_eq!(list[0]["success"], false);
    assert_eq!(list[0]["lastError"], "bad netkan");
    let (_, list) = get_json(&app, "/api/v1/jobs?state=dead").await;
    assert_eq!(ids(&list), [dead_id.to_string()]);
    let (_, list) = get_json(&app, "/api/v1/jobs?state=running").await;
    assert_eq!(ids(&list), [running.id().to_string()]);
    let (_, list) = get_json(&app, "/api/v1/jobs?state=queued").await;
    assert_eq!(ids(&list), [waiting_id.to_string()]);
    let (_, list) = get_json(&app, "/api/v1/jobs?kind=inflate").await;
    assert_eq!(
        ids(&list),
        [running.id().to_string(), failed_id.to_string()]
    );
    let (_, list) = get_json(&app, "/api/v1/jobs?limit=1").await;
    assert_eq!(ids(&list).len(), 1);
    let (status, _) = get_json(&app, "/api/v1/jobs?state=sleeping").await;
    assert_eq!(status, 400);
}

/// Claims the one job waiting in `queue` and finishes it with `outcome`.
async fn run_child(app: &TestApp, queue: &str, outcome: Outcome) -> JobId {
    let mut conn = app.conn().await;
    let q = netkan_common::QueueName::new(queue).unwrap();
    let job = app
        .jq
        .claim(&mut conn, "test-worker-2", std::slice::from_ref(&q), 1, 0)
        .await
        .unwrap()
        .jobs
        .remove(0);
    let done = app
        .jq
        .finish(
            &mut conn,
            &[netkan_common::queue::Finish {
                id: job.id,
                queue: job.queue.clone(),
                token: job.token,
                attempt: job.attempt,
                outcome,
            }],
        )
        .await
        .unwrap();
    assert_eq!(done, vec![true]);
    job.id
}

#[tokio::test]
async fn a_job_answers_with_the_verdict_of_its_whole_tree() {
    let app = spawn_app().await;
    let mut w = Worker::start(&app, noop_job("push")).await;
    let mut conn = app.conn().await;
    let good =
        netkan_common::NewJob::new("inflate", netkan_common::QueueName::new("good").unwrap())
            .with_parent(w.id())
            .with_dedup_key("ksp/GoodMod");
    let bad = netkan_common::NewJob::new("inflate", netkan_common::QueueName::new("bad").unwrap())
        .with_parent(w.id())
        .with_dedup_key("ksp/NoLicense");
    app.jq
        .enqueue(&mut conn, &[good, bad.clone()])
        .await
        .unwrap();
    let id = w.id();
    let _ = w.log(Level::Info, "queued two inflations").await;
    w.finish(Outcome::Succeeded).await;

    let (_, job) = get_json(&app, &format!("/api/v1/jobs/{id}")).await;
    assert_eq!(
        job["state"], "succeeded",
        "the push job itself did its part"
    );
    assert_eq!(job["tree"]["state"], "running", "{job}");
    assert_eq!(job["tree"]["counts"]["jobs"], 3);
    assert_eq!(job["tree"]["counts"]["pending"], 2);

    run_child(&app, "good", Outcome::Succeeded).await;
    run_child(&app, "bad", Outcome::Failed("No license given".into())).await;
    let (_, job) = get_json(&app, &format!("/api/v1/jobs/{id}")).await;
    let tree = &job["tree"];
    assert_eq!(tree["state"], "failed", "{tree}");
    assert_eq!(
        tree["counts"],
        serde_json::json!({"jobs": 3, "pending": 0, "succeeded": 2, "failed": 1, "dead": 0, "cancelled": 0})
    );
    assert_eq!(
        tree["failures"],
        serde_json::json!([{
            "jobId": bad.id.to_string(),
            "kind": "inflate",
            "identifier": "NoLicense",
            "error": "No license given",
            "state": "failed",
        }])
    );
}
