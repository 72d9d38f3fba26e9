//! The GitHub step against the fixture upstream: the cases of CKAN's
//! `GithubTransformerTests.cs` with its payloads, and paging, authors, wiki probes and
//! rate limiting.

mod common;

use std::time::Duration;

use common::{releases, run, run_one};
use netkan_inflator::InflateError;
use netkan_inflator::pipeline::Step;
use netkan_inflator::testing::upstream::{Reply, Upstream};
use serde_json::{Value, json};

/// CKAN's mock repository and five releases (`SetupMockUp`), served as GitHub would.
async fn example_upstream() -> Upstream {
    let up = Upstream::start().await;
    let repo = json!({
        "name": "Example Project",
        "description": "A fake project for testing",
        "owner": {"login": "authoruser", "type": "User"},
        "license": {"spdx_id": "GPL-3.0"},
        "html_url": "https://github.com/ExampleAccount/ExampleProject",
        "homepage": "https://exampleproject.com/",
        "has_issues": true,
        "has_discussions": true
    });
    for (owner, name) in [
        ("ExampleAccount", "ExampleProject"),
        ("jrodrigv", "DestructionEffects"),
    ] {
        up.github_repo(owner, name, repo.clone());
        up.github_releases(owner, name, example_releases());
    }
    up
}

fn example_releases() -> Vec<Value> {
    let rel = |tag: &str, day: u32, assets: Vec<(&str, &str)>| {
        json!({
            "author": {"login": "ExampleProject"},
            "tag_name": tag,
            "published_at": format!("2025-01-0{day}T00:00:00Z"),
            "assets": assets.iter().map(|(n, u)| json!({"name": n, "browser_download_url": u, "updated_at": "2025-01-01T12:00:00Z"})).collect::<Vec<_>>()
        })
    };
    vec![
        rel(
            "1.0",
            5,
            vec![("download.zip", "http://github.example/download/1.0")],
        ),
        rel(
            "1.1",
            4,
            vec![("download.zip", "http://github.example/download/1.1")],
        ),
        rel(
            "1.2",
            3,
            vec![(
                "ExampleProject_1.2-1.8.1.zip",
                "http://github.example/download/1.2/ExampleProject_1.2-1.8.1.zip",
            )],
        ),
        rel(
            "1.3",
            2,
            vec![
                (
                    "ExampleProject_1.2-1.8.1.zip",
                    "http://github.example/download/1.2/ExampleProject_1.2-1.8.1.zip",
                ),
                (
                    "ExampleProject_1.2-1.9.1.zip",
                    "http://github.example/download/1.2/ExampleProject_1.2-1.9.1.zip",
                ),
            ],
        ),
        rel(
            "v1.8,0",
            1,
            vec![(
                "DestructionEffects.1.8.0_0412018.zip",
                "https://github.com/jrodrigv/DestructionEffects/releases/download/v1.8%2C0/DestructionEffects.1.8.0_0412018.zip",
            )],
        ),
    ]
}

fn netkan(id: &str, kref: &str) -> Value {
    json!({"spec_version": 1, "identifier": id, "$kref": kref})
}

#[tokio::test]
async fn a_github_release_sets_resources_and_marks_the_api_flaky() {
    let up = example_upstream().await;
    let ran = run_one(
        &up,
        Step::Github,
        netkan(
            "ExampleProject1",
            "#/ckan/github/ExampleAccount/ExampleProject",
        ),
    )
    .await;
    let m = ran.one();
    assert_eq!(
        Value::Object(m["resources"].as_object().expect("resources").clone()),
        json!({
            "repository": "https://github.com/ExampleAccount/ExampleProject",
            "homepage": "https://exampleproject.com/",
            "bugtracker": "https://github.com/ExampleAccount/ExampleProject/issues",
            "discussions": "https://github.com/ExampleAccount/ExampleProject/discussions"
        })
    );
    assert_eq!(m["abstract"], "A fake project for testing");
    assert_eq!(m["license"], "GPL-3.0");
    assert_eq!(m["version"], "1.0");
    assert_eq!(m["download"], "http://github.example/download/1.0");
    assert_eq!(m["release_date"], "2025-01-01T12:00:00Z");
    assert_eq!(m["name"], "Example Project");
    assert_eq!(m["author"], json!(["authoruser", "ExampleProject"]));
    assert_eq!(m["x_netkan_version_pieces"], json!({"tag": "1.0"}));
    assert!(!m.contains_key("$kref"));
    assert!(!m.contains_key("release_status"));
    assert!(ran.opts.flaky_api);
    assert!(ran.warnings.is_empty(), "{:?}", ran.warnings);
}

#[tokio::test]
async fn an_encoded_character_in_the_download_url_is_not_encoded_twice() {
    let up = example_upstream().await;
    let ran = run(
        &up,
        Step::Github,
        netkan(
            "ExampleProject2",
            "#/ckan/github/jrodrigv/DestructionEffects",
        ),
        releases(Some(1), 4),
    )
    .await;
    assert_eq!(
        ran.one()["download"],
        "https://github.com/jrodrigv/DestructionEffects/releases/download/v1.8%2C0/DestructionEffects.1.8.0_0412018.zip"
    );
}

#[tokio::test]
async fn releases_two_gives_two_modules() {
    let up = example_upstream().await;
    let ran = run(
        &up,
        Step::Github,
        netkan(
            "ExampleProject3",
            "#/ckan/github/ExampleAccount/ExampleProject",
        ),
        releases(Some(2), 0),
    )
    .await;
    let out = ran.ok();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["download"], "http://github.example/download/1.0");
    assert_eq!(out[1]["download"], "http://github.example/download/1.1");
    assert_eq!(out[0]["x_netkan_version_pieces"]["tag"], "1.0");
    assert_eq!(out[1]["x_netkan_version_pieces"]["tag"], "1.1");
}

#[tokio::test]
async fn version_from_asset_inflates_every_matching_asset() {
    let up = example_upstream().await;
    let ran = run(
        &up,
        Step::Github,
        netkan(
            "ExampleProject4",
            r"#/ckan/github/ExampleAccount/ExampleProject/version_from_asset/^.+_(?<version>.+)\.zip$",
        ),
        releases(Some(1), 1),
    )
    .await;
    let out = ran.ok();
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[0]["download"],
        "http://github.example/download/1.2/ExampleProject_1.2-1.8.1.zip"
    );
    assert_eq!(
        out[1]["download"],
        "http://github.example/download/1.2/ExampleProject_1.2-1.9.1.zip"
    );
    assert_eq!(out[0]["version"], "1.2-1.8.1");
    assert_eq!(out[1]["version"], "1.2-1.9.1");
    assert_eq!(out[1]["x_netkan_version_pieces"]["tag"], "1.3");
}

#[tokio::test]
async fn skip_releases_skips_the_newest() {
    let up = example_upstream().await;
    let ran = run(
        &up,
        Step::Github,
        netkan(
            "ExampleProject5",
            "#/ckan/github/ExampleAccount/ExampleProject",
        ),
        releases(Some(2), 1),
    )
    .await;
    let versions: Vec<&Value> = ran.ok().iter().map(|m| &m["version"]).collect();
    assert_eq!(versions, [&json!("1.1"), &json!("1.2")]);
}

#[tokio::test]
async fn a_missing_repository_fails_the_inflation() {
    let up = Upstream::start().await;
    let ran = run_one(
        &up,
        Step::Github,
        netkan(
            "ExampleProject6",
            "#/ckan/github/ExampleAccount/ExampleProject",
        ),
    )
    .await;
    assert_eq!(ran.err(), "Failed to get GitHub repo info!");
    assert!(matches!(ran.out, Err(InflateError::Metadata(_))));
}

#[tokio::test]
async fn an_archived_repository_warns() {
    let up = Upstream::start().await;
    up.github_repo(
        "ExampleAccount",
        "ExampleProject",
        json!({"archived": true}),
    );
    up.github_release(
        "ExampleAccount",
        "ExampleProject",
        json!({"tag_name": "1.0", "assets": [{"name": "file.zip", "browser_download_url": "https://examplemod.com/download"}]}),
    );
    let ran = run_one(
        &up,
        Step::Github,
        netkan(
            "ExampleProject7",
            "#/ckan/github/ExampleAccount/ExampleProject",
        ),
    )
    .await;
    assert_eq!(ran.one()["download"], "https://examplemod.com/download");
    assert_eq!(ran.warnings, ["Repo is archived, consider freezing"]);
}

#[tokio::test]
async fn use_source_archive_downloads_the_zipball() {
    let up = Upstream::start().await;
    up.github_repo("ExampleAccount", "ExampleProject", json!({}));
    up.github_release(
        "ExampleAccount",
        "ExampleProject",
        json!({"tag_name": "1.0", "zipball_url": "https://examplemod.com/source",
               "published_at": "2024-02-03T04:05:06Z", "assets": []}),
    );
    let ran = run_one(
        &up,
        Step::Github,
        json!({"spec_version": 1, "identifier": "ExampleProject8",
               "$kref": "#/ckan/github/ExampleAccount/ExampleProject",
               "x_netkan_github": {"use_source_archive": true}}),
    )
    .await;
    let m = ran.one();
    assert_eq!(m["download"], "https://examplemod.com/source");
    assert_eq!(m["download_content_type"], "application/vnd.github+json");
    assert_eq!(m["release_date"], "2024-02-03T04:05:06Z");
    assert_eq!(m["version"], "1.0");
}

#[tokio::test]
async fn version_from_asset_without_a_version_group_fails() {
    let up = example_upstream().await;
    let ran = run(
        &up,
        Step::Github,
        netkan(
            "ExampleProject9",
            r"#/ckan/github/ExampleAccount/ExampleProject/version_from_asset/^.+_(?<name>.+)\.zip$",
        ),
        releases(Some(1), 1),
    )
    .await;
    assert_eq!(
        ran.err(),
        "version_from_asset contains no 'version' capturing group"
    );
}

#[tokio::test]
async fn no_releases_warns_and_passes_the_metadata_through() {
    let up = Upstream::start().await;
    up.github_repo("ExampleAccount", "ExampleProject", json!({}));
    up.github_releases("ExampleAccount", "ExampleProject", vec![]);
    let input = netkan(
        "ExampleProject10",
        "#/ckan/github/ExampleAccount/ExampleProject",
    );
    let ran = run_one(&up, Step::Github, input.clone()).await;
    assert_eq!(Value::Object(ran.one().clone()), input);
    assert_eq!(
        ran.warnings,
        ["No releases found for ExampleAccount/ExampleProject"]
    );

    let ran = run_one(
        &up,
        Step::Github,
        netkan(
            "ExampleProject10",
            r"#/ckan/github/ExampleAccount/ExampleProject/asset_match/^Other\.zip$",
        ),
    )
    .await;
    assert_eq!(
        ran.warnings,
        [r"No releases found for ExampleAccount/ExampleProject with asset_match ^Other\.zip$"]
    );
}

#[tokio::test]
async fn releases_are_read_a_page_at_a_time_and_sorted_within_the_page() {
    let up = Upstream::start().await;
    up.github_repo("o", "r", json!({}));
    // 23 releases, newest first, except that the first one listed is the oldest: sorting
    // by date moves it to the end of page one, not of the whole list.
    for i in (0..23).rev() {
        let day = if i == 22 { 1 } else { 2 + i };
        up.github_release(
            "o",
            "r",
            json!({"tag_name": format!("1.{i}"),
                   "published_at": format!("2024-03-{day:02}T00:00:00Z"),
                   "assets": [{"name": format!("r-1.{i}.ZIP"), "browser_download_url": format!("https://example.com/r-1.{i}.zip")}]}),
        );
    }
    let ran = run_one(&up, Step::Github, netkan("Rr", "#/ckan/github/o/r")).await;
    assert_eq!(ran.one()["version"], "1.21");
    assert_eq!(
        up.count("https://api.github.com/repos/o/r/releases"),
        1,
        "one page for one release"
    );
    assert_eq!(
        up.requests()
            .iter()
            .filter(|r| r.url.contains("/releases"))
            .map(|r| r.url.clone())
            .collect::<Vec<_>>(),
        ["https://api.github.com/repos/o/r/releases?per_page=10&page=1"]
    );

    let ran = run(
        &up,
        Step::Github,
        netkan("Rr", "#/ckan/github/o/r"),
        releases(None, 0),
    )
    .await;
    let versions: Vec<&str> = ran
        .ok()
        .iter()
        .map(|m| m["version"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(versions.len(), 23);
    assert_eq!(&versions[8..11], ["1.13", "1.22", "1.12"]);
    // Pages 1-3 have releases; page 4 is empty and ends the listing.
    assert!(
        up.requests()
            .iter()
            .any(|r| r.url == "https://api.github.com/repos/o/r/releases?per_page=10&page=4")
    );
}

#[tokio::test]
async fn prerelease_options_filter_releases() {
    let up = Upstream::start().await;
    up.github_repo("o", "r", json!({}));
    up.github_releases(
        "o",
        "r",
        vec![
            json!({"tag_name": "2.0-beta", "prerelease": true, "assets": [{"name": "b.zip", "browser_download_url": "https://example.com/b.zip"}]}),
            json!({"tag_name": "1.0", "prerelease": false, "assets": [{"name": "a.zip", "browser_download_url": "https://example.com/a.zip"}]}),
        ],
    );
    let with = |pre: Value| json!({"identifier": "Rr", "$kref": "#/ckan/github/o/r", "x_netkan_github": {"prereleases": pre}});
    let both = run(&up, Step::Github, with(Value::Null), releases(None, 0)).await;
    assert_eq!(both.ok().len(), 2);
    assert_eq!(both.ok()[0]["release_status"], "testing");
    let stable = run(&up, Step::Github, with(json!(false)), releases(None, 0)).await;
    assert_eq!(stable.one()["version"], "1.0");
    let pre = run(&up, Step::Github, with(json!(true)), releases(None, 0)).await;
    assert_eq!(pre.one()["version"], "2.0-beta");
}

#[tokio::test]
async fn several_matching_assets_warn_and_the_first_is_used() {
    let up = Upstream::start().await;
    up.github_repo(
        "o",
        "r",
        json!({"license": {"spdx_id": "NOASSERTION"}, "description": "  "}),
    );
    up.github_release(
        "o",
        "r",
        json!({"tag_name": "1.0", "assets": [
            {"name": "source.tar.gz", "browser_download_url": "https://example.com/s.tgz"},
            {"name": "a.zip", "browser_download_url": "https://example.com/a.zip"},
            {"name": "b.zip", "browser_download_url": "https://example.com/b.zip"}
        ]}),
    );
    let ran = run_one(&up, Step::Github, netkan("Rr", "#/ckan/github/o/r")).await;
    let m = ran.one();
    assert_eq!(m["download"], "https://example.com/a.zip");
    assert!(!m.contains_key("license"), "NOASSERTION is no license");
    assert!(
        !m.contains_key("abstract"),
        "a blank description is no abstract"
    );
    assert_eq!(
        ran.warnings,
        ["Multiple assets found for Rr 1.0 without `version_from_asset`"]
    );
}

#[tokio::test]
async fn authors_follow_the_fork_chain_and_expand_organizations() {
    let up = Upstream::start().await;
    up.github_repo(
        "forker",
        "Mod",
        json!({"parent": {"name": "Mod", "owner": {"login": "MidOrg", "type": "Organization"}}}),
    );
    up.github_repo(
        "MidOrg",
        "Mod",
        json!({"owner": {"login": "MidOrg", "type": "Organization"},
               "parent": {"name": "Mod", "owner": {"login": "original"}}}),
    );
    up.github_repo("original", "Mod", json!({}));
    up.github_org_members("MidOrg", &["alice", "forker"]);
    up.github_release(
        "forker",
        "Mod",
        json!({"tag_name": "1.0", "author": {"login": "dependabot[bot]", "type": "Bot"},
               "assets": [{"name": "m.zip", "browser_download_url": "https://example.com/m.zip"}]}),
    );
    let ran = run_one(&up, Step::Github, netkan("Mod", "#/ckan/github/forker/Mod")).await;
    assert_eq!(ran.one()["author"], json!(["original", "alice", "forker"]));

    // An author in the netkan wins, and then no author lookups are made.
    let before = up.requests().len();
    let mut input = netkan("Mod", "#/ckan/github/forker/Mod");
    input["author"] = json!("me");
    let ran = run_one(&up, Step::Github, input).await;
    assert_eq!(ran.one()["author"], "me");
    assert!(
        up.requests()[before..]
            .iter()
            .all(|r| !r.url.contains("public_members") && !r.url.ends_with("/repos/original/Mod")),
        "{:?}",
        up.requests()[before..]
            .iter()
            .map(|r| &r.url)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_wiki_with_pages_is_the_manual_and_one_without_is_not() {
    let up = Upstream::start().await;
    up.github_repo("o", "HiddenWiki", json!({"has_wiki": true}));
    up.on(
        "https://github.com/o/HiddenWiki/wiki",
        Reply::status_only(404),
    );
    up.github_release(
        "o",
        "HiddenWiki",
        json!({"tag_name": "1", "assets": [{"name": "m.zip", "browser_download_url": "https://example.com/m.zip"}]}),
    );
    for (repo, pages) in [("WithWiki", true), ("EmptyWiki", false)] {
        up.github_repo("o", repo, json!({"has_wiki": true}));
        up.github_wiki("o", repo, pages);
        up.github_release(
            "o",
            repo,
            json!({"tag_name": "1", "assets": [{"name": "m.zip", "browser_download_url": "https://example.com/m.zip"}]}),
        );
    }
    let with = run_one(&up, Step::Github, netkan("Ww", "#/ckan/github/o/WithWiki")).await;
    assert_eq!(
        with.one()["resources"]["manual"],
        "https://github.com/o/WithWiki/wiki"
    );
    let without = run_one(&up, Step::Github, netkan("Ew", "#/ckan/github/o/EmptyWiki")).await;
    assert!(without.one()["resources"].get("manual").is_none());
    let hidden = run_one(
        &up,
        Step::Github,
        netkan("Hw", "#/ckan/github/o/HiddenWiki"),
    )
    .await;
    assert!(hidden.one()["resources"].get("manual").is_none());
}

#[tokio::test]
async fn a_throttled_api_fails_with_the_wait() {
    let up = Upstream::start().await;
    up.github_repo("o", "r", json!({}));
    up.on(
        "https://api.github.com/repos/o/r/releases",
        Reply::github_rate_limited(Duration::from_secs(120)),
    );
    let ran = run_one(&up, Step::Github, netkan("Rr", "#/ckan/github/o/r")).await;
    match ran.out {
        Err(InflateError::RateLimited {
            retry_after,
            message,
        }) => {
            assert!(
                (115..=120).contains(&retry_after.as_secs()),
                "{retry_after:?}"
            );
            assert_eq!(
                message,
                "GitHub API rate limit exceeded: repos/o/r/releases?per_page=10&page=1"
            );
        }
        other => panic!("expected RateLimited, got {:?}", other.map(|o| o.len())),
    }
}

#[tokio::test]
async fn other_krefs_pass_through_untouched() {
    let up = Upstream::start().await;
    let input = json!({"identifier": "X1", "$kref": "#/ckan/spacedock/1"});
    let ran = run_one(&up, Step::Github, input.clone()).await;
    assert_eq!(Value::Object(ran.one().clone()), input);
    assert!(!ran.opts.flaky_api);
    assert!(up.requests().is_empty());
}
