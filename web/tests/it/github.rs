//! `POST /gh/inflate`, `/gh/release`, `/gh/mirror`: signatures (good, bad, missing),
//! branches, commits, actions.

use crate::{GITHUB_SECRET, Sig, attrs, job_ids, sign256, spawn_app, spawn_app_with};

fn push_event(git_ref: &str, commits: &str) -> String {
    format!(
        r#"{{"ref": "{git_ref}", "before": "1111111111111111111111111111111111111111",
            "after": "2222222222222222222222222222222222222222",
            "repository": {{"full_name": "KSP-CKAN/NetKAN", "clone_url": "https://github.com/KSP-CKAN/NetKAN.git"}},
            "pusher": {{"name": "HebaruSan", "email": "h@example.com"}},
            "commits": {commits}}}"#
    )
}

const COMMITS: &str = r#"[
    {"id": "a", "added": ["NetKAN/Astrogator.netkan"], "modified": ["NetKAN/DogeCoinFlag.netkan"], "removed": []},
    {"id": "b", "added": ["NetKAN/Other.frozen", "NetKAN/Astrogator.netkan"], "modified": ["README.md"], "removed": ["NetKAN/Gone.netkan"]}
]"#;

#[tokio::test]
async fn a_signed_push_to_the_primary_branch_becomes_a_push_job() {
    let app = spawn_app().await;
    let body = push_event("refs/heads/master", COMMITS);
    let res = app
        .post_github("/gh/inflate/ksp", "push", &body, Sig::Sha256)
        .await;
    assert_eq!(res.status(), 204);
    let job = app.jobs_of(&res).await.remove(0);
    assert_eq!(job.kind, "push");
    assert_eq!(job.queue.as_str(), "push");
    assert_eq!(attrs(&job).get("GameId"), Some(&"ksp"));
    let body: serde_json::Value = serde_json::from_str(&job.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "repo": "https://github.com/KSP-CKAN/NetKAN.git",
            "ref": "refs/heads/master",
            "old": "1111111111111111111111111111111111111111",
            "new": "2222222222222222222222222222222222222222",
            "pusher": "HebaruSan",
            "source": "github",
            "files": {
                "added": ["NetKAN/Astrogator.netkan", "NetKAN/Other.frozen"],
                "modified": ["NetKAN/DogeCoinFlag.netkan", "README.md"],
                "removed": ["NetKAN/Gone.netkan"]
            }
        })
    );
}

#[tokio::test]
async fn the_references_sha1_signature_is_accepted() {
    let app = spawn_app().await;
    let body = push_event("refs/heads/master", COMMITS);
    let res = app
        .post_github("/gh/inflate", "push", &body, Sig::Sha1)
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.jobs_of(&res).await[0].game.as_str(), "ksp");
}

#[tokio::test]
async fn bad_or_missing_signatures_get_400_signature_mismatch_on_every_github_route() {
    let app = spawn_app().await;
    let body = push_event("refs/heads/master", COMMITS);
    for path in [
        "/gh/inflate/ksp",
        "/gh/mirror/ksp",
        "/gh/release/ksp?identifier=Astrogator",
    ] {
        for sig in [Sig::Wrong, Sig::Missing] {
            let res = app.post_github(path, "push", &body, sig).await;
            assert_eq!(res.status(), 400, "{path} {sig:?}");
            assert!(job_ids(&res).is_empty());
            assert_eq!(res.text().await.unwrap(), "Signature mismatch");
        }
    }
    // A signature of another body (replayed header) does not pass either.
    let res = app
        .client
        .post(app.url("/gh/inflate/ksp"))
        .header("x-hub-signature-256", sign256(GITHUB_SECRET, b"{}"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Garbage in the header.
    let res = app
        .client
        .post(app.url("/gh/inflate/ksp"))
        .header("x-hub-signature-256", "sha256=zz")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn without_a_configured_secret_every_github_request_is_refused() {
    let app = spawn_app_with(|s| s.web.github_secret = Default::default()).await;
    let body = push_event("refs/heads/master", COMMITS);
    let res = app
        .post_github("/gh/inflate/ksp", "push", &body, Sig::Sha256)
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.text().await.unwrap(), "Signature mismatch");
}

#[tokio::test]
async fn pushes_to_other_branches_or_without_commits_are_ignored_with_200() {
    let app = spawn_app_with(|s| s.web.netkan_branch = "main".into()).await;
    let res = app
        .post_github(
            "/gh/inflate/ksp",
            "push",
            &push_event("refs/heads/master", COMMITS),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(job_ids(&res).is_empty());
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"message": "Wrong branch"})
    );
    let res = app
        .post_github(
            "/gh/inflate/ksp",
            "push",
            &push_event("refs/heads/main", "[]"),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"message": "No commits received"})
    );
    let res = app
        .post_github(
            "/gh/inflate/ksp",
            "push",
            &push_event("refs/heads/main", COMMITS),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn malformed_github_bodies_get_400_and_pings_get_pong() {
    let app = spawn_app().await;
    let res = app
        .post_github("/gh/inflate/ksp", "push", "{\"ref\": ", Sig::Sha256)
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().starts_with("Invalid JSON body"));
    let res = app
        .post_github(
            "/gh/inflate/ksp",
            "push",
            r#"{"ref": "refs/heads/master", "commits": [{"added": 5}]}"#,
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .post_github(
            "/gh/inflate/ksp",
            "ping",
            r#"{"zen": "Keep it logically awesome."}"#,
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["message"],
        "pong"
    );
}

#[tokio::test]
async fn form_encoded_github_deliveries_are_understood() {
    let app = spawn_app().await;
    let payload = push_event("refs/heads/master", COMMITS);
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload)
        .finish();
    let res = app
        .client
        .post(app.url("/gh/inflate/ksp"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-github-event", "push")
        .header(
            "x-hub-signature-256",
            sign256(GITHUB_SECRET, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.jobs_of(&res).await[0].kind, "push");
}

fn release(action: &str) -> String {
    format!(
        r#"{{"action": "{action}", "release": {{"tag_name": "v1.0", "draft": false, "prerelease": false}}}}"#
    )
}

#[tokio::test]
async fn a_published_release_inflates_its_identifier() {
    let app = spawn_app().await;
    let res = app
        .post_github(
            "/gh/release/ksp2?identifier=Astrogator",
            "release",
            &release("published"),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 204);
    let job = app.jobs_of(&res).await.remove(0);
    assert_eq!(job.kind, "inflate-request");
    assert_eq!(job.queue.as_str(), "push");
    assert_eq!(job.game.as_str(), "ksp2");
    assert_eq!(job.body, r#"{"identifiers":["Astrogator"]}"#);
    // GitHub follows `published` with `released`: the second request joins the first.
    let again = app
        .post_github(
            "/gh/release/ksp2?identifier=Astrogator",
            "release",
            &release("released"),
            Sig::Sha256,
        )
        .await;
    assert_eq!(again.status(), 204);
    assert_eq!(job_ids(&again), vec![job.id]);
}

#[tokio::test]
async fn other_release_actions_are_ignored_with_200() {
    let app = spawn_app().await;
    for action in ["created", "edited", "deleted", "prereleased", "unpublished"] {
        let res = app
            .post_github(
                "/gh/release?identifier=Astrogator",
                "release",
                &release(action),
                Sig::Sha256,
            )
            .await;
        assert_eq!(res.status(), 200, "{action}");
        assert!(job_ids(&res).is_empty());
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap(),
            serde_json::json!({"message": format!("Ignored action {action}")})
        );
    }
}

#[tokio::test]
async fn a_release_without_identifier_gets_the_references_400() {
    let app = spawn_app().await;
    let res = app
        .post_github(
            "/gh/release/ksp",
            "release",
            &release("published"),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.text().await.unwrap(),
        "Param \"identifier\" is required, e.g. http://netkan.ksp-ckan.space/gh/release?identifier=AwesomeMod"
    );
    let res = app
        .post_github(
            "/gh/release/ksp?identifier=no%20spaces",
            "release",
            &release("published"),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_ckan_meta_push_mirrors_each_added_or_modified_ckan() {
    let app = spawn_app_with(|s| s.web.ckanmeta_branch = "main".into()).await;
    let commits = r#"[
        {"added": ["DogeCoinFlag/DogeCoinFlag-v1.0.2.ckan", "README.md"], "modified": [], "removed": ["Old/Old-1.ckan"]},
        {"added": [], "modified": ["Astrogator/Astrogator-v1.0.ckan", "DogeCoinFlag/DogeCoinFlag-v1.0.2.ckan"]}
    ]"#;
    let res = app
        .post_github(
            "/gh/mirror/ksp2",
            "push",
            &push_event("refs/heads/master", commits),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["message"],
        "Wrong branch"
    );
    let res = app
        .post_github(
            "/gh/mirror/ksp2",
            "push",
            &push_event("refs/heads/main", commits),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 204);
    let jobs = app.jobs_of(&res).await;
    let bodies: Vec<&str> = jobs.iter().map(|j| j.body.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "DogeCoinFlag/DogeCoinFlag-v1.0.2.ckan",
            "Astrogator/Astrogator-v1.0.ckan"
        ]
    );
    for job in &jobs {
        assert_eq!(job.kind, "mirror");
        assert_eq!(job.queue.as_str(), "mirroring");
        assert_eq!(attrs(job).get("GameId"), Some(&"ksp2"));
        assert_eq!(
            job.dedup_key.as_deref(),
            Some(format!("ksp2/{}", job.body).as_str())
        );
    }
    let res = app
        .post_github(
            "/gh/mirror/ksp2",
            "push",
            &push_event("refs/heads/main", "[]"),
            Sig::Sha256,
        )
        .await;
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["message"],
        "No commits received"
    );
}
