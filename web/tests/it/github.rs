//! `POST /gh/inflate`, `/gh/release`, `/gh/mirror`: signatures (good, bad, missing),
//! branches, commits, actions.

use netkan_common::config::Secret;

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
    let app = spawn_app_with(|s| {
        s.games.get_mut("ksp").unwrap().netkan_branch = Some("main".into());
    })
    .await;
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
async fn releases_deleted_or_unpublished_are_ignored_with_200() {
    let app = spawn_app().await;
    for action in ["deleted", "unpublished"] {
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
async fn every_other_event_of_a_mods_repository_inflates_it_as_the_reference_did() {
    let app = spawn_app().await;
    // The release actions other than deleted/unpublished, and a plain push: many mods'
    // repositories send only their default (push) events to /gh/release.
    let mut sent: Vec<(&str, String)> = ["created", "edited", "prereleased", "released"]
        .into_iter()
        .map(|a| ("release", release(a)))
        .collect();
    sent.push(("push", MOD_PUSH.to_owned()));
    for (i, (event, body)) in sent.iter().enumerate() {
        let path = format!("/gh/release/ksp?identifier=Mod{i}");
        let res = app.post_github(&path, event, body, Sig::Sha256).await;
        assert_eq!(res.status(), 204, "{event}: {body}");
        let job = app.jobs_of(&res).await.remove(0);
        assert_eq!(job.kind, "inflate-request", "{event}");
        assert_eq!(job.body, format!(r#"{{"identifiers":["Mod{i}"]}}"#));
    }
}

/// A push to a mod's own repository, as GitHub sends it (trimmed of the repository's
/// many URL fields, which nothing reads).
const MOD_PUSH: &str = r#"{
  "ref": "refs/heads/master",
  "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
  "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
  "repository": {"id": 35129377, "name": "Astrogator", "full_name": "HebaruSan/Astrogator",
                 "clone_url": "https://github.com/HebaruSan/Astrogator.git", "default_branch": "master"},
  "pusher": {"name": "HebaruSan", "email": "HebaruSan@users.noreply.github.com"},
  "sender": {"login": "HebaruSan", "id": 1559108, "type": "User"},
  "created": false, "deleted": false, "forced": false, "base_ref": null,
  "compare": "https://github.com/HebaruSan/Astrogator/compare/6113728f27ae...0d1a26e67d8f",
  "commits": [{"id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433",
               "distinct": true, "message": "Release 1.0.1", "timestamp": "2024-03-02T11:02:16+01:00",
               "url": "https://github.com/HebaruSan/Astrogator/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
               "author": {"name": "HebaruSan", "email": "HebaruSan@users.noreply.github.com", "username": "HebaruSan"},
               "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
               "added": [], "removed": [], "modified": ["Astrogator.version"]}],
  "head_commit": {"id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433",
               "distinct": true, "message": "Release 1.0.1", "timestamp": "2024-03-02T11:02:16+01:00",
               "url": "https://github.com/HebaruSan/Astrogator/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
               "author": {"name": "HebaruSan", "email": "HebaruSan@users.noreply.github.com", "username": "HebaruSan"},
               "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
               "added": [], "removed": [], "modified": ["Astrogator.version"]}
}"#;

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
    let app = spawn_app_with(|s| {
        s.games.get_mut("ksp2").unwrap().ckanmeta_branch = Some("main".into());
    })
    .await;
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

/// A push of two commits to KSP2-NetKAN's `main`, as GitHub sends it (trimmed of the
/// repository's many URL fields, which nothing reads): the second commit edits a file the
/// first added, and changes a file outside `NetKAN/`.
fn ksp2_push(git_ref: &str) -> String {
    format!(
        r#"{{
  "ref": "{git_ref}",
  "before": "9049f1265b7d61be4a8904a9a27120d2064dab3b",
  "after": "3cbb2bd8e14b4c4ab6e23a1bb4cdd1e9bdbe3b9c",
  "repository": {{"id": 617006321, "name": "KSP2-NetKAN", "full_name": "KSP-CKAN/KSP2-NetKAN", "private": false,
                 "clone_url": "https://github.com/KSP-CKAN/KSP2-NetKAN.git", "default_branch": "main", "master_branch": "main"}},
  "pusher": {{"name": "HebaruSan", "email": "HebaruSan@users.noreply.github.com"}},
  "sender": {{"login": "HebaruSan", "id": 1559108, "type": "User"}},
  "created": false, "deleted": false, "forced": false, "base_ref": null,
  "compare": "https://github.com/KSP-CKAN/KSP2-NetKAN/compare/9049f1265b7d...3cbb2bd8e14b",
  "commits": [
    {{"id": "5e4a9e4c4a5d2ad5b0bd7e1c4b0f0f6b1a2c3d4e", "tree_id": "0c3a3d1c0b5c5a9d4f4c1e0b7a6d5c4b3a2f1e0d", "distinct": true,
      "message": "Add SpaceWarp", "timestamp": "2024-01-15T10:30:02Z",
      "url": "https://github.com/KSP-CKAN/KSP2-NetKAN/commit/5e4a9e4c4a5d2ad5b0bd7e1c4b0f0f6b1a2c3d4e",
      "author": {{"name": "HebaruSan", "email": "HebaruSan@users.noreply.github.com", "username": "HebaruSan"}},
      "committer": {{"name": "HebaruSan", "email": "HebaruSan@users.noreply.github.com", "username": "HebaruSan"}},
      "added": ["NetKAN/SpaceWarp.netkan"], "removed": [], "modified": []}},
    {{"id": "3cbb2bd8e14b4c4ab6e23a1bb4cdd1e9bdbe3b9c", "tree_id": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "distinct": true,
      "message": "Fix SpaceWarp, update LongHorn", "timestamp": "2024-01-15T10:31:44Z",
      "url": "https://github.com/KSP-CKAN/KSP2-NetKAN/commit/3cbb2bd8e14b4c4ab6e23a1bb4cdd1e9bdbe3b9c",
      "author": {{"name": "HebaruSan", "email": "HebaruSan@users.noreply.github.com", "username": "HebaruSan"}},
      "committer": {{"name": "HebaruSan", "email": "HebaruSan@users.noreply.github.com", "username": "HebaruSan"}},
      "added": [], "removed": [], "modified": ["NetKAN/SpaceWarp.netkan", "NetKAN/LongHorn.netkan", ".github/workflows/inflate.yml"]}}
  ],
  "head_commit": {{"id": "3cbb2bd8e14b4c4ab6e23a1bb4cdd1e9bdbe3b9c", "tree_id": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "distinct": true,
      "message": "Fix SpaceWarp, update LongHorn", "timestamp": "2024-01-15T10:31:44Z",
      "url": "https://github.com/KSP-CKAN/KSP2-NetKAN/commit/3cbb2bd8e14b4c4ab6e23a1bb4cdd1e9bdbe3b9c",
      "author": {{"name": "HebaruSan", "email": "HebaruSan@users.noreply.github.com", "username": "HebaruSan"}},
      "committer": {{"name": "HebaruSan", "email": "HebaruSan@users.noreply.github.com", "username": "HebaruSan"}},
      "added": [], "removed": [], "modified": ["NetKAN/SpaceWarp.netkan", "NetKAN/LongHorn.netkan", ".github/workflows/inflate.yml"]}}
}}"#
    )
}

/// A bare repository whose `HEAD` names `branch`, as `git init --bare -b <branch>` makes it.
fn bare_repository(dir: &std::path::Path, branch: &str) -> String {
    let out = std::process::Command::new("git")
        .args(["init", "--bare", "-q", "-b", branch])
        .arg(dir)
        .output()
        .expect("git is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.display().to_string()
}

#[tokio::test]
async fn each_game_takes_pushes_from_its_own_branch() {
    // KSP on GitHub (a URL: `master` unless configured), KSP2 from a local repository whose
    // HEAD is `main`: the branch is read from it.
    let repos = tempfile::tempdir().unwrap();
    let ksp2 = bare_repository(&repos.path().join("KSP2-NetKAN.git"), "main");
    let ksp2_meta = bare_repository(&repos.path().join("KSP2-CKAN-meta.git"), "main");
    let app = spawn_app_with(|s| {
        let g = s.games.get_mut("ksp").unwrap();
        g.netkan = Some(Secret::new("https://github.com/KSP-CKAN/NetKAN.git"));
        let g = s.games.get_mut("ksp2").unwrap();
        g.netkan = Some(Secret::new(ksp2));
        g.ckanmeta = Some(Secret::new(ksp2_meta));
    })
    .await;
    let res = app
        .post_github(
            "/gh/inflate/ksp2",
            "push",
            &ksp2_push("refs/heads/main"),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 204);
    let job = app.jobs_of(&res).await.remove(0);
    assert_eq!(job.game.as_str(), "ksp2");
    let body: serde_json::Value = serde_json::from_str(&job.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "repo": "https://github.com/KSP-CKAN/KSP2-NetKAN.git",
            "ref": "refs/heads/main",
            "old": "9049f1265b7d61be4a8904a9a27120d2064dab3b",
            "new": "3cbb2bd8e14b4c4ab6e23a1bb4cdd1e9bdbe3b9c",
            "pusher": "HebaruSan",
            "source": "github",
            "files": {
                "added": ["NetKAN/SpaceWarp.netkan"],
                "modified": ["NetKAN/SpaceWarp.netkan", "NetKAN/LongHorn.netkan", ".github/workflows/inflate.yml"],
                "removed": []
            }
        })
    );
    // The same delivery for KSP, on master, is KSP's; on main it is the wrong branch.
    let res = app
        .post_github(
            "/gh/inflate/ksp",
            "push",
            &ksp2_push("refs/heads/master"),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.jobs_of(&res).await[0].game.as_str(), "ksp");
    for (path, git_ref) in [
        ("/gh/inflate/ksp", "refs/heads/main"),
        ("/gh/inflate/ksp2", "refs/heads/master"),
    ] {
        let res = app
            .post_github(path, "push", &ksp2_push(git_ref), Sig::Sha256)
            .await;
        assert_eq!(res.status(), 200, "{path} {git_ref}");
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap(),
            serde_json::json!({"message": "Wrong branch"})
        );
    }
    // CKAN-meta pushes follow the game's CKAN-meta branch the same way.
    let commits =
        r#"[{"added": ["SpaceWarp/SpaceWarp-1.9.0.ckan"], "modified": [], "removed": []}]"#;
    let res = app
        .post_github(
            "/gh/mirror/ksp2",
            "push",
            &push_event("refs/heads/main", commits),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.jobs_of(&res).await[0].body,
        "SpaceWarp/SpaceWarp-1.9.0.ckan"
    );
    let res = app
        .post_github(
            "/gh/mirror/ksp",
            "push",
            &push_event("refs/heads/main", commits),
            Sig::Sha256,
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_form_encoded_push_delivery_is_read_like_its_json() {
    let app = spawn_app_with(|s| {
        s.games.get_mut("ksp2").unwrap().netkan_branch = Some("main".into());
    })
    .await;
    let json = app
        .post_github(
            "/gh/inflate/ksp2",
            "push",
            &ksp2_push("refs/heads/main"),
            Sig::Sha256,
        )
        .await;
    let from_json = app.jobs_of(&json).await.remove(0).body;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &ksp2_push("refs/heads/main"))
        .finish();
    let res = app
        .client
        .post(app.url("/gh/inflate/ksp2"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-github-event", "push")
        .header("x-github-delivery", "d5b5b7b0-b3c9-11ee-8f4d-2b1f9b4c6a11")
        .header(
            "x-hub-signature-256",
            sign256(GITHUB_SECRET, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.jobs_of(&res).await.remove(0).body, from_json);
}

#[tokio::test]
async fn the_references_own_push_payload_without_before_or_after_is_queued_with_its_files() {
    // NetKAN-Infra's webhook tests send `ref` and `commits` only.
    let app = spawn_app().await;
    let body = r#"{"ref": "refs/heads/master", "commits": [{"id": "abc", "added": ["NetKAN/DogeCoinFlag.netkan"], "modified": [], "removed": []}]}"#;
    let res = app
        .post_github("/gh/inflate/ksp", "push", body, Sig::Sha256)
        .await;
    assert_eq!(res.status(), 204);
    let job = app.jobs_of(&res).await.remove(0);
    let body: serde_json::Value = serde_json::from_str(&job.body).unwrap();
    assert_eq!(body["old"], "");
    assert_eq!(body["new"], "");
    assert_eq!(
        body["files"],
        serde_json::json!({"added": ["NetKAN/DogeCoinFlag.netkan"], "modified": [], "removed": []})
    );
}
