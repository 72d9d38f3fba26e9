//! `POST /inflate[/<game>]`, and what every webhook shares: the enqueue answer, body limits,
//! the token and address guards, Redis being away.

use std::io::{Read, Write};

use netkan_common::{JobState, Lane};

use crate::{attrs, job_ids, spawn_app, spawn_app_with};

#[tokio::test]
async fn inflate_enqueues_one_request_and_answers_204_with_its_id() {
    let app = spawn_app().await;
    let res = app
        .post_raw(
            "/inflate/ksp2",
            r#"{"identifiers": ["Astrogator", "B9-PWings-Fork"]}"#,
        )
        .await;
    assert_eq!(res.status(), 204);
    let jobs = app.jobs_of(&res).await;
    assert_eq!(res.text().await.unwrap(), "");
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.kind, "inflate-request");
    assert_eq!(job.queue.as_str(), "push");
    assert_eq!(job.lane, Lane::High);
    assert_eq!(job.game.as_str(), "ksp2");
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(attrs(job).get("GameId"), Some(&"ksp2"));
    assert_eq!(
        job.body,
        r#"{"identifiers":["Astrogator","B9-PWings-Fork"]}"#
    );
}

#[tokio::test]
async fn legacy_inflate_route_means_ksp() {
    let app = spawn_app().await;
    let res = app
        .post_json("/inflate", r#"{"identifiers": ["Astrogator"]}"#)
        .await;
    assert_eq!(res.status(), 204);
    let jobs = app.jobs_of(&res).await;
    assert_eq!(jobs[0].game.as_str(), "ksp");
    assert_eq!(attrs(&jobs[0]).get("GameId"), Some(&"ksp"));
}

#[tokio::test]
async fn a_client_asking_for_json_gets_202_with_the_ids_and_log_links() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/inflate/ksp"))
        .header("accept", "application/json")
        .body(r#"{"identifiers": ["Astrogator"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let ids = job_ids(&res);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["jobIds"][0], ids[0].to_string());
    assert_eq!(body["logs"][0], format!("{}/logs/{}", app.address, ids[0]));
}

#[tokio::test]
async fn missing_or_empty_identifiers_get_the_references_400() {
    let app = spawn_app().await;
    for body in [
        r#"{}"#,
        r#"{"identifiers": []}"#,
        r#"{"identifiers": "Astrogator"}"#,
        "[]",
    ] {
        let res = app.post_json("/inflate/ksp", body).await;
        assert_eq!(res.status(), 400, "{body}");
        assert!(job_ids(&res).is_empty());
        assert_eq!(
            res.text().await.unwrap(),
            "An array of identifiers is required"
        );
    }
}

#[tokio::test]
async fn a_bad_identifier_is_named_in_the_400() {
    let app = spawn_app().await;
    let res = app
        .post_json(
            "/inflate/ksp",
            r#"{"identifiers": ["Astrogator", "../../etc/passwd"]}"#,
        )
        .await;
    assert_eq!(res.status(), 400);
    let text = res.text().await.unwrap();
    assert!(text.contains("\"../../etc/passwd\""), "{text}");
}

#[tokio::test]
async fn malformed_json_gets_400_with_a_message() {
    let app = spawn_app().await;
    let res = app.post_json("/inflate/ksp", r#"{"identifiers": ["#).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("x-request-id").is_some());
    let text = res.text().await.unwrap();
    assert!(text.starts_with("Invalid JSON body"), "{text}");
}

#[tokio::test]
async fn an_unknown_game_spelling_is_404() {
    let app = spawn_app().await;
    let res = app
        .post_json("/inflate/ksp%202", r#"{"identifiers": ["A1"]}"#)
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_game_without_repositories_is_404() {
    let app = spawn_app_with(|s| {
        s.games.remove("ksp2");
    })
    .await;
    let res = app
        .post_json("/inflate/ksp2", r#"{"identifiers": ["A1"]}"#)
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.text().await.unwrap(), "No such game: ksp2");
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let app = spawn_app_with(|s| s.web.max_body_bytes = 1024).await;
    let ids: Vec<String> = (0..200).map(|i| format!("\"Mod{i}\"")).collect();
    let body = format!(r#"{{"identifiers": [{}]}}"#, ids.join(","));
    assert!(body.len() > 1024);
    let res = app.post_json("/inflate/ksp", &body).await;
    assert_eq!(res.status(), 413);
    assert_eq!(
        res.text().await.unwrap(),
        "request body larger than 1024 bytes"
    );
}

#[tokio::test]
async fn chunked_bodies_over_the_limit_get_413_too() {
    let app = spawn_app_with(|s| s.web.max_body_bytes = 1024).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    // No Content-Length: the limit must hold while reading.
    let status = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let chunk = "x".repeat(700);
        let req = format!(
            "POST /inflate/ksp HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
             {len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
            len = chunk.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer.lines().next().unwrap_or_default().to_owned()
    })
    .await
    .unwrap();
    assert!(status.contains(" 413 "), "{status}");
}

#[tokio::test]
async fn the_webhook_token_guards_the_non_github_routes() {
    let app = spawn_app_with(|s| {
        s.web.webhook_token = netkan_common::config::Secret::new("s3cret-token")
    })
    .await;
    let body = r#"{"identifiers": ["Astrogator"]}"#;
    let res = app.post_json("/inflate/ksp", body).await;
    assert_eq!(res.status(), 403);
    let res = app
        .client
        .post(app.url("/inflate/ksp"))
        .header("x-netkan-token", "wrong")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .client
        .post(app.url("/inflate/ksp"))
        .header("x-netkan-token", "s3cret-token")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app.post_json("/inflate/ksp?token=s3cret-token", body).await;
    assert_eq!(res.status(), 204);
    let res = app
        .post_form("/sd/inflate/ksp?token=s3cret-token", &[("mod_id", "777")])
        .await;
    assert_eq!(res.status(), 204);
    let res = app.post_form("/sd/add/ksp", &[("name", "X")]).await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn the_address_list_guards_the_non_github_routes() {
    let app = spawn_app_with(|s| s.web.allowed_addresses = vec!["10.0.0.0/8".into()]).await;
    let res = app
        .post_json("/inflate/ksp", r#"{"identifiers": ["Astrogator"]}"#)
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(res.text().await.unwrap(), "Forbidden: address not allowed");

    let app =
        spawn_app_with(|s| s.web.allowed_addresses = vec!["10.0.0.0/8".into(), "127.0.0.1".into()])
            .await;
    let res = app
        .post_json("/inflate/ksp", r#"{"identifiers": ["Astrogator"]}"#)
        .await;
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_list_applies_to_the_forwarded_client() {
    let app = spawn_app_with(|s| {
        s.web.allowed_addresses = vec!["10.0.0.0/8".into()];
        s.web.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let post = |forwarded: &'static str| {
        app.client
            .post(format!("{}/inflate/ksp", app.address))
            .header("x-forwarded-for", forwarded)
            .body(r#"{"identifiers": ["Astrogator"]}"#)
            .send()
    };
    assert_eq!(post("10.1.2.3").await.unwrap().status(), 204);
    assert_eq!(post("192.0.2.7").await.unwrap().status(), 403);
    // A client cannot forge its way in: the proxy appends the real address last.
    assert_eq!(post("10.1.2.3, 192.0.2.7").await.unwrap().status(), 403);

    // Without trusting the proxy, the header is ignored.
    let app = spawn_app_with(|s| s.web.allowed_addresses = vec!["10.0.0.0/8".into()]).await;
    let res = app
        .client
        .post(format!("{}/inflate/ksp", app.address))
        .header("x-forwarded-for", "10.1.2.3")
        .body(r#"{"identifiers": ["Astrogator"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn an_unparsable_address_list_stops_the_server_at_start() {
    let redis = netkan_common::testing::TestRedis::start();
    let mut settings = netkan_common::config::Settings::default();
    settings.web.allowed_addresses = vec!["localhost".into()];
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = netkan_web::run(&settings, &redis.url(), listener, Default::default())
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("web.allowed_addresses"),
        "{err:#}"
    );
}

#[tokio::test]
async fn redis_being_away_gets_a_short_503_with_the_request_id() {
    let mut app = spawn_app().await;
    app.redis.stop();
    let res = app
        .post_json("/inflate/ksp", r#"{"identifiers": ["Astrogator"]}"#)
        .await;
    assert_eq!(res.status(), 503);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = res.text().await.unwrap();
    assert!(text.contains(&id) && text.contains("unavailable"), "{text}");
}
