//! `POST /sd/inflate[/<game>]` and `POST /sd/add[/<game>]`.

use crate::{attrs, spawn_app};

#[tokio::test]
async fn a_spacedock_update_becomes_one_request_on_the_push_queue() {
    let app = spawn_app().await;
    let res = app
        .post_form(
            "/sd/inflate/ksp2",
            &[("mod_id", "777"), ("event_type", "version-update")],
        )
        .await;
    assert_eq!(res.status(), 204);
    let jobs = app.jobs_of(&res).await;
    let job = &jobs[0];
    assert_eq!(job.kind, "spacedock-event");
    assert_eq!(job.queue.as_str(), "push");
    assert_eq!(job.game.as_str(), "ksp2");
    assert_eq!(attrs(job).get("GameId"), Some(&"ksp2"));
    let body: serde_json::Value = serde_json::from_str(&job.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"mod_id": "777", "event_type": "version-update"})
    );
}

#[tokio::test]
async fn delete_lock_and_unlock_events_are_enqueued_too_and_legacy_means_ksp() {
    let app = spawn_app().await;
    for event in ["delete", "locked", "unlocked"] {
        let res = app
            .post_form("/sd/inflate", &[("mod_id", "777"), ("event_type", event)])
            .await;
        assert_eq!(res.status(), 204);
        let job = app.jobs_of(&res).await.remove(0);
        assert_eq!(job.game.as_str(), "ksp");
        assert!(job.body.contains(event));
    }
}

#[tokio::test]
async fn a_missing_event_type_counts_as_update() {
    let app = spawn_app().await;
    let res = app.post_form("/sd/inflate/ksp", &[("mod_id", "42")]).await;
    assert_eq!(res.status(), 204);
    let job = app.jobs_of(&res).await.remove(0);
    assert_eq!(job.body, r#"{"mod_id":"42","event_type":"update"}"#);
}

#[tokio::test]
async fn a_missing_or_non_numeric_mod_id_is_400() {
    let app = spawn_app().await;
    let res = app
        .post_form("/sd/inflate/ksp", &[("event_type", "update")])
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.text().await.unwrap(), "A mod_id is required");
    let res = app.post_form("/sd/inflate/ksp", &[("mod_id", "ABC")]).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("\"ABC\""));
}

#[tokio::test]
async fn an_add_request_carries_the_references_body() {
    let app = spawn_app().await;
    let form = [
        ("name", "Dogecoin Flag"),
        ("id", "777"),
        ("license", "MIT"),
        ("username", "pjf"),
        ("username", "Ünïcode Co-Author"),
        ("user_github", "pjf"),
        ("email", "pjf@example.com"),
        ("short_description", "Such flag. <b>Very</b> wow."),
        ("site_name", "SpaceDock"),
    ];
    let res = app.post_form("/sd/add/ksp", &form).await;
    assert_eq!(res.status(), 204);
    let job = app.jobs_of(&res).await.remove(0);
    assert_eq!(job.kind, "add");
    assert_eq!(job.queue.as_str(), "adding");
    assert_eq!(attrs(&job).get("GameId"), Some(&"ksp"));
    // Byte for byte what Python's json.dumps({**form, "all_authors": [...]}) writes.
    assert_eq!(
        job.body,
        concat!(
            r#"{"name": "Dogecoin Flag", "id": "777", "license": "MIT", "username": "pjf", "user_github": "pjf", "#,
            r#""email": "pjf@example.com", "short_description": "Such flag. <b>Very</b> wow.", "site_name": "SpaceDock", "#,
            r#""all_authors": [{"username": "pjf", "user_github": "pjf", "user_forum_id": null, "user_forum_username": null, "email": "pjf@example.com", "user_url": null}, "#,
            r#"{"username": "\u00dcn\u00efcode Co-Author", "user_github": null, "user_forum_id": null, "user_forum_username": null, "email": null, "user_url": null}]}"#
        )
    );
    // The same submission while the first waits is the same job.
    let again = app.post_form("/sd/add", &form).await;
    assert_eq!(crate::job_ids(&again), crate::job_ids(&res));
}

#[tokio::test]
async fn an_add_request_that_is_not_a_form_is_400() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/sd/add/ksp"))
        .header("content-type", "text/plain")
        .body("mod_id=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.text().await.unwrap(),
        "Expected an application/x-www-form-urlencoded or multipart/form-data body, got text/plain"
    );
    let res = app.post_form("/sd/add/ksp", &[]).await;
    assert_eq!(res.status(), 400);
    // A multipart form without fields is as empty.
    let res = app
        .client
        .post(app.url("/sd/add/ksp"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x--")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("The form is empty"));
}

/// A `multipart/form-data` body as `curl -F` writes it.
fn multipart(pairs: &[(&str, &str)]) -> (String, String) {
    let boundary = "------------------------d74496d66958873e";
    let mut body = String::new();
    for (k, v) in pairs {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn multipart_forms_are_accepted_like_urlencoded_ones() {
    let app = spawn_app().await;
    let (content_type, body) = multipart(&[("mod_id", "777"), ("event_type", "version-update")]);
    let res = app
        .client
        .post(app.url("/sd/inflate/ksp"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let job = app.jobs_of(&res).await.remove(0);
    assert_eq!(
        job.body,
        r#"{"mod_id":"777","event_type":"version-update"}"#
    );

    // The "add to CKAN" form, both ways, gives the same request body (so the second joins
    // the first, which is still waiting).
    let fields = [
        ("name", "Dogecoin Flag"),
        ("id", "269"),
        ("license", "CC-BY"),
        ("username", "Daz"),
        ("email", "daz@example.com"),
        ("short_description", "Such flag. Very Kerbal."),
        ("site_name", "SpaceDock"),
    ];
    let urlencoded = app.post_form("/sd/add/ksp", &fields).await;
    assert_eq!(urlencoded.status(), 204);
    let first = app.jobs_of(&urlencoded).await.remove(0);
    let (content_type, body) = multipart(&fields);
    let res = app
        .client
        .post(app.url("/sd/add/ksp"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let second = app.jobs_of(&res).await.remove(0);
    assert_eq!(second.body, first.body);
    assert_eq!(second.id, first.id);

    // A multipart body cut short is a 400 that says so.
    let (content_type, body) = multipart(&[("mod_id", "777")]);
    let res = app
        .client
        .post(app.url("/sd/inflate/ksp"))
        .header("content-type", content_type)
        .body(body[..body.len() - 30].to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("multipart/form-data"));
}
