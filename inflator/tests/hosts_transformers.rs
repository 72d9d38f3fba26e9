//! The SpaceDock, GitLab, Gitea, SourceForge, Jenkins, HTTP and metanetkan steps against
//! the fixture upstream, with the payloads of CKAN's transformer tests where it has them.

mod common;

use common::{releases, run, run_one};
use netkan_inflator::InflateError;
use netkan_inflator::pipeline::Step;
use netkan_inflator::testing::upstream::{Reply, Upstream};
use serde_json::{Value, json};

// ----- SpaceDock -----

fn dogecoin_flag(license: &str) -> Value {
    json!({
        "id": 1,
        "name": "Dogecoin Flag",
        "short_description": "Such test. Very unit. Wow.",
        "license": license,
        "author": "pjf",
        "shared_authors": [{"username": "CoAuthor"}],
        "background": "https://spacedock.info/content/background.jpg",
        "source_code": "https://github.com/pjf/DogeCoinFlag",
        "website": "https://forum.kerbalspaceprogram.com/topic/1-doge coin",
        "default_version_id": 2,
        "versions": [
            {"id": 3, "friendly_version": "0.26", "game_version": "1.12",
             "created": "2025-08-19T14:04:41.155123+00:00",
             "download_path": "/mod/1/Dogecoin Flag/download/0.26"},
            {"id": 2, "friendly_version": "0.25", "game_version": "1.12.5",
             "created": "2024-01-02T03:04:05+00:00",
             "download_path": "/mod/1/Dogecoin%20Flag/download/0.25"}
        ]
    })
}

#[tokio::test]
async fn a_spacedock_mod_gives_one_module_per_version_default_first() {
    let up = Upstream::start().await;
    up.spacedock_mod(1, dogecoin_flag("CC-BY"));
    up.github_repo(
        "pjf",
        "DogeCoinFlag",
        json!({"html_url": "https://github.com/pjf/DogeCoinFlag", "has_issues": true}),
    );
    let ran = run(
        &up,
        Step::Spacedock,
        json!({"spec_version": 1, "identifier": "DogeCoinFlag", "$kref": "#/ckan/spacedock/1",
               "resources": {"repository": "https://example.com/netkan-says"}}),
        releases(None, 0),
    )
    .await;
    let out = ran.ok();
    assert_eq!(out.len(), 2);
    let (first, second) = (&out[0], &out[1]);
    assert_eq!(first["version"], "0.25", "the default version comes first");
    assert_eq!(second["version"], "0.26");
    assert_eq!(first["name"], "Dogecoin Flag");
    assert_eq!(first["abstract"], "Such test. Very unit. Wow.");
    assert_eq!(first["author"], json!(["pjf", "CoAuthor"]));
    assert_eq!(first["license"], "CC-BY");
    assert_eq!(first["ksp_version"], "1.12.5");
    assert_eq!(
        second["ksp_version"], "1.12.0",
        "two-piece game versions gain a .0"
    );
    assert_eq!(
        first["download"],
        "https://spacedock.info/mod/1/Dogecoin%20Flag/download/0.25"
    );
    assert_eq!(
        second["download"],
        "https://spacedock.info/mod/1/Dogecoin%20Flag/download/0.26"
    );
    assert_eq!(first["release_date"], "2024-01-02T03:04:05Z");
    assert_eq!(second["release_date"], "2025-08-19T14:04:41.155123Z");
    assert!(!first.contains_key("$kref"));
    assert_eq!(
        Value::Object(first["resources"].as_object().expect("resources").clone()),
        json!({
            "spacedock": "https://spacedock.info/mod/1/Dogecoin%20Flag",
            "homepage": "https://forum.kerbalspaceprogram.com/topic/1-doge+coin",
            "x_screenshot": "https://spacedock.info/content/background.jpg",
            "repository": "https://github.com/pjf/DogeCoinFlag",
            "bugtracker": "https://github.com/pjf/DogeCoinFlag/issues"
        }),
        "GitHub's repository replaces even the netkan's"
    );
    assert!(ran.warnings.is_empty(), "{:?}", ran.warnings);

    let one = run_one(
        &up,
        Step::Spacedock,
        json!({"identifier": "DogeCoinFlag", "$kref": "#/ckan/spacedock/1"}),
    )
    .await;
    assert_eq!(one.one()["version"], "0.25");
}

#[tokio::test]
async fn existing_game_versions_are_kept() {
    let up = Upstream::start().await;
    up.spacedock_mod(1, dogecoin_flag("CC-BY"));
    up.github_repo(
        "pjf",
        "DogeCoinFlag",
        json!({"html_url": "https://github.com/ExampleAccount/ExampleProject"}),
    );
    let ran = run_one(
        &up,
        Step::Spacedock,
        json!({"spec_version": 1, "$kref": "#/ckan/spacedock/1", "ksp_version_min": "0.23.5"}),
    )
    .await;
    let m = ran.one();
    assert!(!m.contains_key("ksp_version") && !m.contains_key("ksp_version_max"));
    assert_eq!(m["ksp_version_min"], "0.23.5");
    assert_eq!(
        m["resources"]["repository"],
        "https://github.com/ExampleAccount/ExampleProject"
    );
    assert_eq!(
        m["resources"]["x_screenshot"],
        "https://spacedock.info/content/background.jpg"
    );
}

#[tokio::test]
async fn spacedock_licenses_are_mapped() {
    for (sd, ckan) in [
        ("GPLv2", "GPL-2.0"),
        ("GPLv3", "GPL-3.0"),
        ("Other", "unknown"),
        ("ARR", "restricted"),
        ("All Rights Reserved", "restricted"),
        ("All rights reserved", "restricted"),
    ] {
        let up = Upstream::start().await;
        let mut m = dogecoin_flag(sd);
        m["source_code"] = json!("");
        up.spacedock_mod(1, m);
        let ran = run_one(&up, Step::Spacedock, json!({"$kref": "#/ckan/spacedock/1"})).await;
        assert_eq!(ran.one()["license"], ckan, "{sd}");
        assert!(ran.one()["resources"].get("repository").is_none());
    }
}

#[tokio::test]
async fn an_archived_github_source_warns() {
    let up = Upstream::start().await;
    up.spacedock_mod(1, dogecoin_flag("MIT"));
    up.github_repo("pjf", "DogeCoinFlag", json!({"archived": true}));
    let ran = run_one(&up, Step::Spacedock, json!({"$kref": "#/ckan/spacedock/1"})).await;
    ran.one();
    assert_eq!(ran.warnings, ["Repo is archived, consider freezing"]);
}

#[tokio::test]
async fn a_github_source_that_github_does_not_know_keeps_spacedocks_repository() {
    let up = Upstream::start().await;
    up.spacedock_mod(1, dogecoin_flag("MIT"));
    let ran = run_one(&up, Step::Spacedock, json!({"$kref": "#/ckan/spacedock/1"})).await;
    assert_eq!(
        ran.one()["resources"]["repository"],
        "https://github.com/pjf/DogeCoinFlag"
    );
    assert!(ran.one()["resources"].get("bugtracker").is_none());
}

#[tokio::test]
async fn a_spacedock_error_body_fails_with_its_reason() {
    let up = Upstream::start().await;
    up.spacedock_mod(
        404,
        json!({"error": true, "reason": "404 Not Found: Requested page not found.", "code": 404}),
    );
    up.on(
        "https://spacedock.info/api/mod/0",
        Reply::json(&json!({"error": true, "reason": "Fake failure reason for testing"}))
            .status(404),
    );
    let ran = run_one(
        &up,
        Step::Spacedock,
        json!({"$kref": "#/ckan/spacedock/404"}),
    )
    .await;
    assert_eq!(
        ran.err(),
        "Could not get the mod from SpaceDock, reason: 404 Not Found: Requested page not found."
    );
    let ran = run_one(&up, Step::Spacedock, json!({"$kref": "#/ckan/spacedock/0"})).await;
    assert_eq!(
        ran.err(),
        "Could not get the mod from SpaceDock, reason: Fake failure reason for testing"
    );
    assert!(matches!(ran.out, Err(InflateError::Host(_))));

    up.on(
        "https://spacedock.info/api/mod/5",
        Reply::text("<html>Bad gateway</html>").status(502),
    );
    let ran = run_one(&up, Step::Spacedock, json!({"$kref": "#/ckan/spacedock/5"})).await;
    assert!(
        matches!(ran.out, Err(InflateError::Transient(_))),
        "{}",
        ran.err()
    );
}

#[tokio::test]
async fn a_mod_without_versions_warns_and_passes_through() {
    let up = Upstream::start().await;
    up.spacedock_mod(7, json!({"id": 7, "name": "Empty Mod", "versions": []}));
    let input = json!({"identifier": "EmptyMod", "$kref": "#/ckan/spacedock/7"});
    let ran = run_one(&up, Step::Spacedock, input.clone()).await;
    assert_eq!(Value::Object(ran.one().clone()), input);
    assert_eq!(ran.warnings, ["No releases found for Empty Mod"]);
}

// ----- GitLab -----

async fn gitlab_upstream() -> Upstream {
    let up = Upstream::start().await;
    up.gitlab_project(
        "AModder",
        "AMod",
        json!({"name": "A Mod", "description": "A simulated mod on GitLab",
               "web_url": "https://gitlab.com/homepage/", "issues_enabled": true,
               "readme_url": "https://gitlab.com/readme/"}),
        json!([{"tag_name": "v1.0.0", "released_at": "2025-03-04T05:06:07.000Z",
                "author": {"name": "A Modder"},
                "assets": {"count": 2, "sources": [
                    {"format": "tar.gz", "url": "https://gitlab.com/download.tar.gz"},
                    {"format": "zip", "url": "https://gitlab.com/download"}]}}]),
    );
    up
}

#[tokio::test]
async fn a_gitlab_release_gives_its_source_zip() {
    let up = gitlab_upstream().await;
    let ran = run(
        &up,
        Step::Gitlab,
        json!({"identifier": "FakeMod", "$kref": "#/ckan/gitlab/AModder/AMod",
               "x_netkan_gitlab": {"use_source_archive": true}}),
        releases(None, 0),
    )
    .await;
    let m = ran.one();
    assert!(!m.contains_key("$kref"));
    assert_eq!(m["name"], "A Mod");
    assert_eq!(m["abstract"], "A simulated mod on GitLab");
    assert_eq!(m["author"], "A Modder");
    assert_eq!(m["download"], "https://gitlab.com/download");
    assert_eq!(m["version"], "v1.0.0");
    assert_eq!(m["release_date"], "2025-03-04T05:06:07Z");
    assert_eq!(
        m["resources"],
        json!({"repository": "https://gitlab.com/homepage/",
               "bugtracker": "https://gitlab.com/homepage//-/issues",
               "manual": "https://gitlab.com/readme/"})
    );
    assert_eq!(
        up.requests()[0].url,
        "https://gitlab.com/api/v4/projects/AModder%2FAMod"
    );
}

#[tokio::test]
async fn gitlab_needs_use_source_archive() {
    let up = gitlab_upstream().await;
    let ran = run_one(
        &up,
        Step::Gitlab,
        json!({"identifier": "FakeMod", "$kref": "#/ckan/gitlab/AModder/AMod"}),
    )
    .await;
    assert_eq!(
        ran.err(),
        "'x_netkan_gitlab.use_source_archive' missing or false; GitLab ONLY supports source archives!"
    );
    let ran = run_one(
        &up,
        Step::Gitlab,
        json!({"identifier": "FakeMod", "$kref": "#/ckan/gitlab/Nobody/Nothing"}),
    )
    .await;
    assert_eq!(ran.err(), "Failed to retrieve project info from GitLab!");
}

// ----- Gitea -----

#[tokio::test]
async fn a_gitea_release_gives_its_first_zip_asset() {
    let up = Upstream::start().await;
    let host = "git.offworldcolonies.nexus";
    up.gitea_repo(
        host,
        "drewcassidy",
        "KSP-Conformal-Decals",
        json!({"name": "KSP-Conformal-Decals", "description": "Add decals to any surface",
               "html_url": "https://git.offworld.city/drewcassidy/KSP-Conformal-Decals",
               "website": "", "owner": {"login": "drewcassidy"},
               "has_issues": true, "has_wiki": true}),
        json!([{"tag_name": "v1.0", "prerelease": true, "assets": [
            {"name": "ConformalDecals.tar.gz", "browser_download_url": "https://downloadfrom.com/mod.tgz"},
            {"name": "ConformalDecals.zip", "browser_download_url": "https://downloadfrom.com/mod.zip",
             "created_at": "2026-01-28T04:45:55.723744+01:00"}]}]),
    );
    let ran = run_one(
        &up,
        Step::Gitea,
        json!({"$kref": format!("#/ckan/gitea/{host}/drewcassidy/KSP-Conformal-Decals")}),
    )
    .await;
    let m = ran.one();
    assert_eq!(m["version"], "v1.0");
    assert_eq!(m["release_status"], "testing");
    assert_eq!(m["download"], "https://downloadfrom.com/mod.zip");
    assert_eq!(m["release_date"], "2026-01-28T03:45:55.723744Z");
    assert_eq!(m["author"], "drewcassidy");
    assert_eq!(m["name"], "KSP-Conformal-Decals");
    assert_eq!(m["x_netkan_version_pieces"], json!({"tag": "v1.0"}));
    assert_eq!(
        m["resources"],
        json!({"homepage": "",
               "repository": "https://git.offworld.city/drewcassidy/KSP-Conformal-Decals",
               "bugtracker": "https://git.offworld.city/drewcassidy/KSP-Conformal-Decals/issues",
               "manual": "https://git.offworld.city/drewcassidy/KSP-Conformal-Decals/wiki"})
    );
    assert!(!m.contains_key("$kref"));
    assert!(up.requests().iter().any(|r| r.url
        == format!("https://{host}/api/v1/repos/drewcassidy/KSP-Conformal-Decals/releases")));
}

// ----- SourceForge -----

#[tokio::test]
async fn a_sourceforge_zip_is_downloaded_from_the_master_mirror() {
    let up = Upstream::start().await;
    up.sourceforge_rss(
        "testmod",
        r#"<?xml version="1.0" encoding="utf-8"?>
        <rss xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">
          <channel>
            <title>Test Mod</title>
            <description>A hypothetical mod on SourceForge</description>
            <item>
              <title><![CDATA[/Download-1.0.0.zip]]></title>
              <link>https://sourceforge.net/projects/testmod/files/Download-1.0.0.zip/download</link>
              <pubDate>Thu, 04 Mar 2021 05:06:07 UT</pubDate>
            </item>
          </channel>
        </rss>"#,
    );
    up.redirect(
        "https://sourceforge.net/projects/testmod/files/Download-1.0.0.zip/download",
        "https://downloads.sourceforge.net/project/testmod/Download-1.0.0.zip?ts=1&use_mirror=kent",
    );
    up.on_with(
        "https://downloads.sourceforge.net/project/testmod/Download-1.0.0.zip",
        |req| {
            if req.query("use_mirror").as_deref() == Some("master") {
                Reply::redirect(
                    "https://master.dl.sourceforge.net/project/testmod/Download-1.0.0.zip?viasf=1",
                )
            } else {
                Reply::redirect(
                    "https://kent.dl.sourceforge.net/project/testmod/Download-1.0.0.zip",
                )
            }
        },
    );
    let ran = run(
        &up,
        Step::Sourceforge,
        json!({"identifier": "FakeMod", "$kref": "#/ckan/sourceforge/testmod"}),
        releases(None, 0),
    )
    .await;
    let m = ran.one();
    assert!(!m.contains_key("$kref"));
    assert_eq!(m["name"], "Test Mod");
    assert_eq!(
        m["download"],
        "https://master.dl.sourceforge.net/project/testmod/Download-1.0.0.zip?viasf=1"
    );
    assert_eq!(m["release_date"], "2021-03-04T05:06:07Z");
    assert_eq!(
        m["resources"],
        json!({"homepage": "https://sourceforge.net/projects/testmod/",
               "repository": "https://sourceforge.net/p/testmod/code/",
               "bugtracker": "https://sourceforge.net/p/testmod/bugs/"})
    );
    let redirects: Vec<_> = up
        .requests()
        .into_iter()
        .filter(|r| !r.url.ends_with("/rss"))
        .collect();
    assert_eq!(redirects.len(), 2);
    assert!(
        redirects
            .iter()
            .all(|r| r.header("user-agent") == Some("Wget"))
    );
    assert_eq!(
        redirects[1].url,
        "https://downloads.sourceforge.net/project/testmod/Download-1.0.0.zip?ts=1&use_mirror=master"
    );
}

// ----- Jenkins -----

#[tokio::test]
async fn a_jenkins_build_gives_its_one_matching_artifact() {
    let up = Upstream::start().await;
    let job = "https://fake-server.com/jenkins/job/Project/";
    let build = |n: u32, result: &str, files: &[&str]| {
        json!({"number": n, "url": format!("{job}{n}/"), "result": result,
               "timestamp": 1_780_000_000_123_i64 + i64::from(n),
               "artifacts": files.iter().map(|f| json!({"fileName": f, "relativePath": format!("out/{f}")})).collect::<Vec<_>>()})
    };
    up.jenkins_job(
        job,
        vec![
            build(4, "FAILURE", &["Project-4.zip"]),
            build(3, "SUCCESS", &["Project-3.zip", "Project.dll"]),
            build(2, "SUCCESS", &["Project-2.zip"]),
        ],
    );
    let ran = run_one(
        &up,
        Step::Jenkins,
        json!({"identifier": "FakeMod", "$kref": format!("#/ckan/jenkins/{job}"),
               "x_netkan_jenkins": {"use_filename_version": true}}),
    )
    .await;
    let m = ran.one();
    assert!(!m.contains_key("$kref"));
    assert_eq!(m["download"], format!("{job}3/artifact/out/Project-3.zip"));
    assert_eq!(m["version"], "Project-3.zip");
    assert_eq!(m["release_date"], "2026-05-28T20:26:40.126Z");
    assert_eq!(m["resources"], json!({"ci": job}));
    assert_eq!(
        up.count(&format!("{job}2/api/json")),
        0,
        "builds are read only as needed"
    );

    let any = run(
        &up,
        Step::Jenkins,
        json!({"$kref": format!("#/ckan/jenkins/{job}"), "x_netkan_jenkins": {"build": "any"}}),
        releases(None, 1),
    )
    .await;
    let downloads: Vec<&Value> = any.ok().iter().map(|m| &m["download"]).collect();
    assert_eq!(
        downloads,
        [
            &json!(format!("{job}3/artifact/out/Project-3.zip")),
            &json!(format!("{job}2/artifact/out/Project-2.zip"))
        ]
    );
}

#[tokio::test]
async fn a_jenkins_build_needs_exactly_one_matching_artifact() {
    let up = Upstream::start().await;
    let job = "https://ci.example/job/X/";
    up.jenkins_job(
        job,
        vec![json!({"url": format!("{job}1/"), "result": "SUCCESS",
                    "artifacts": [{"fileName": "a.zip", "relativePath": "a.zip"}, {"fileName": "b.zip", "relativePath": "b.zip"}]})],
    );
    let kref = json!({"$kref": format!("#/ckan/jenkins/{job}")});
    assert_eq!(
        run_one(&up, Step::Jenkins, kref.clone()).await.err(),
        "Found too many matching artifacts"
    );
    let custom = json!({"$kref": format!("#/ckan/jenkins/{job}"), "x_netkan_jenkins": {"asset_match": "^c\\.zip$"}});
    assert_eq!(
        run_one(&up, Step::Jenkins, custom).await.err(),
        "Could not find any matching artifacts"
    );
    let one = json!({"$kref": format!("#/ckan/jenkins/{job}"), "x_netkan_jenkins": {"asset_match": "^b"}});
    assert_eq!(
        run_one(&up, Step::Jenkins, one).await.one()["download"],
        format!("{job}1/artifact/b.zip")
    );
}

// ----- HTTP -----

#[tokio::test]
async fn an_http_kref_becomes_the_redirect_resolved_download() {
    let up = Upstream::start().await;
    up.redirect(
        "https://example.com/latest.zip",
        "https://cdn.example.com/mod-1.2.zip",
    );
    up.file("https://cdn.example.com/mod-1.2.zip", "zip");
    let ran = run_one(&up, Step::Http, json!({"identifier": "Mod", "$kref": "#/ckan/http/https://example.com/latest.zip", "version": "1.2"}))
    .await;
    let m = ran.one();
    assert_eq!(m["download"], "https://cdn.example.com/mod-1.2.zip");
    assert!(!m.contains_key("$kref"));

    let input =
        json!({"identifier": "Mod", "download": "https://example.com/x.zip", "version": "1"});
    let ran = run_one(&up, Step::Http, input.clone()).await;
    assert_eq!(
        Value::Object(ran.one().clone()),
        input,
        "no http kref: unchanged"
    );
}

#[tokio::test]
async fn an_http_kref_that_never_settles_or_is_no_url_fails() {
    let up = Upstream::start().await;
    for i in 0..8 {
        up.redirect(
            &format!("https://loop.example/{i}"),
            &format!("https://loop.example/{}", i + 1),
        );
    }
    let ran = run_one(
        &up,
        Step::Http,
        json!({"$kref": "#/ckan/http/https://loop.example/0"}),
    )
    .await;
    assert_eq!(
        ran.err(),
        "Could not resolve HTTP $kref URL, exceeded number of redirects."
    );
    let ran = run_one(&up, Step::Http, json!({"$kref": "#/ckan/http/not a url"})).await;
    assert_eq!(ran.err(), "Invalid URL in HTTP $kref: not a url");
}

// ----- metanetkan -----

#[tokio::test]
async fn a_metanetkan_step_ignores_other_krefs() {
    let up = Upstream::start().await;
    let input = json!({"spec_version": 1, "$kref": "#/ckan/foo"});
    let ran = run_one(&up, Step::Metanetkan, input.clone()).await;
    assert_eq!(Value::Object(ran.one().clone()), input);
}

#[tokio::test]
async fn a_metanetkan_target_may_not_be_a_metanetkan() {
    let up = Upstream::start().await;
    up.file(
        "http://awesomemod.example/AwesomeMod.netkan",
        json!({"spec_version": 1, "$kref": "#/ckan/netkan/http://awesomemod.example/AwesomeMod.netkan"}).to_string(),
    );
    let ran = run_one(&up, Step::Metanetkan, json!({"spec_version": 1, "$kref": "#/ckan/netkan/http://awesomemod.example/AwesomeMod.netkan"}))
    .await;
    assert_eq!(
        ran.err(),
        "The target of a metanetkan may not also be a metanetkan."
    );
}

#[tokio::test]
async fn a_metanetkan_target_fills_gaps_and_the_outer_values_win() {
    let up = Upstream::start().await;
    up.file(
        "http://awesomemod.example/AwesomeMod.netkan",
        "spec_version: 1\nfoo: bar\nname: Target Name\n$kref: '#/ckan/spacedock/42'\nresources:\n  homepage: https://target.example/\n  bugtracker: https://target.example/issues\n",
    );
    let ran = run_one(
        &up,
        Step::Metanetkan,
        json!({"spec_version": 1, "identifier": "AwesomeMod",
               "$kref": "#/ckan/netkan/http://awesomemod.example/AwesomeMod.netkan",
               "foo": "baz", "resources": {"homepage": "https://outer.example/"}}),
    )
    .await;
    let m = ran.one();
    assert_eq!(m["foo"], "baz", "the outer value wins");
    assert_eq!(m["name"], "Target Name", "the target fills a gap");
    assert_eq!(m["$kref"], "#/ckan/spacedock/42");
    assert_eq!(
        m["resources"],
        json!({"homepage": "https://outer.example/",
               "metanetkan": "http://awesomemod.example/AwesomeMod.netkan",
               "bugtracker": "https://target.example/issues"})
    );
}

#[tokio::test]
async fn a_real_metanetkan_reads_its_target_through_the_github_contents_api() {
    // CKAN_REAL_DIR, else `shared/` beside the checkout (a worktree is one level deeper).
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = std::env::var_os("CKAN_REAL_DIR").map_or_else(
        || {
            ["../../shared/ckan-real", "../../../shared/ckan-real"]
                .iter()
                .map(|p| here.join(p))
                .find(|p| p.is_dir())
                .expect("shared/ckan-real beside the checkout, or CKAN_REAL_DIR")
        },
        std::path::PathBuf::from,
    );
    let outer =
        std::fs::read_to_string(root.join("netkan/NearFutureAeronautics.netkan")).expect("netkan");
    let target =
        std::fs::read_to_string(root.join("metanetkan-targets/NearFutureAeronautics.netkan"))
            .expect("target");
    let up = Upstream::start().await;
    up.github_contents(
        "post-kerbin-mining-corporation",
        "NearFutureAeronautics",
        "master",
        "CKAN/NearFutureAeronautics.netkan",
        &target,
    );
    let outer: Value = serde_json::from_str(&outer).expect("the outer netkan is JSON");
    let ran = run_one(&up, Step::Metanetkan, outer).await;
    let m = ran.one();
    assert_eq!(m["$kref"], "#/ckan/spacedock/1957");
    assert_eq!(m["tags"], json!(["parts"]));
    assert_eq!(m["name"], "Near Future Aeronautics");
    assert_eq!(
        m["resources"]["metanetkan"],
        "https://github.com/post-kerbin-mining-corporation/NearFutureAeronautics/raw/master/CKAN/NearFutureAeronautics.netkan"
    );
    assert_eq!(
        m["resources"]["repository"],
        "https://github.com/post-kerbin-mining-corporation/NearFutureAeronautics"
    );
    assert_eq!(m["depends"].as_array().map(Vec::len), Some(5));
}
