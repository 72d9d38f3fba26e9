//! The forge client against a fake GitHub on a local port: pull requests with labels, the
//! comment when one is already open, the rate limit, errors, and the token kept secret.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

mod support;

use netkan_common::config::{HostSettings, Secret};
use netkan_worker::forge::{Forge, ForgeError, Opened, PullRequest, http_client};
use support::github::FakeGithub;

fn forge(gh: &FakeGithub, token: &str) -> Forge {
    let hosts = HostSettings {
        github_api: gh.url.clone(),
        github_token: Secret::new(token),
        ..HostSettings::default()
    };
    Forge::new(http_client(&hosts).unwrap(), &hosts)
}

fn staged<'a>(body: &'a str) -> PullRequest<'a> {
    PullRequest {
        repo: "KSP-CKAN/CKAN-meta",
        branch: "add/DogeCoinFlag-v1.02",
        title: "NetKAN inflated: DogeCoinFlag",
        body,
        labels: &["Needs looking into"],
    }
}

#[tokio::test]
async fn a_pull_request_is_opened_against_the_default_branch_with_labels() {
    let gh = FakeGithub::start();
    let f = forge(&gh, "ghp_secret123");
    let opened = f
        .open_pull_request(&staged("Staged because reasons"))
        .await
        .unwrap();
    assert_eq!(
        opened,
        Opened::Created {
            number: 1,
            url: "https://github.test/KSP-CKAN/CKAN-meta/pull/1".into()
        }
    );
    let pulls = gh.pulls();
    assert_eq!(pulls.len(), 1);
    let p = &pulls[0];
    assert_eq!(
        (
            p.head.as_str(),
            p.base.as_str(),
            p.title.as_str(),
            p.body.as_str()
        ),
        (
            "add/DogeCoinFlag-v1.02",
            "main",
            "NetKAN inflated: DogeCoinFlag",
            "Staged because reasons"
        )
    );
    assert_eq!(p.labels, vec!["Needs looking into".to_owned()]);
    let s = gh.state.lock().unwrap();
    assert!(s.auth.iter().all(|a| a == "Bearer ghp_secret123"));
    assert!(
        s.agents.iter().all(|a| a.starts_with("netkan/")),
        "{:?}",
        s.agents
    );
}

#[tokio::test]
async fn an_open_pull_request_for_the_branch_gets_the_body_as_a_comment() {
    let gh = FakeGithub::start();
    let f = forge(&gh, "t");
    f.open_pull_request(&staged("first")).await.unwrap();
    let again = f.open_pull_request(&staged("second")).await.unwrap();
    assert!(
        matches!(again, Opened::Commented { number: 1, .. }),
        "{again:?}"
    );
    let pulls = gh.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].comments, vec!["second".to_owned()]);
}

#[tokio::test]
async fn the_rate_limit_is_read_and_errors_say_what_failed_without_the_token() {
    let gh = FakeGithub::start();
    gh.state.lock().unwrap().remaining = 1234;
    let f = forge(&gh, "ghp_secret123");
    assert_eq!(f.rate_limit().await.unwrap().remaining, 1234);

    gh.state.lock().unwrap().fail_with = Some(502);
    let e = f.open_pull_request(&staged("x")).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(e.to_string().contains("HTTP 502"), "{e}");
    assert!(!e.to_string().contains("ghp_secret123"));
    // A proxy's HTML page in front of GitHub is still a 502, worth retrying.
    gh.state.lock().unwrap().fail_as_html = true;
    let e = f.rate_limit().await.unwrap_err();
    assert!(
        matches!(e, ForgeError::Status { status: 502, .. }) && e.is_transient(),
        "{e}"
    );
    gh.state.lock().unwrap().fail_as_html = false;
    gh.state.lock().unwrap().fail_with = Some(404);
    let e = f.rate_limit().await.unwrap_err();
    assert!(!e.is_transient(), "{e}");

    let no_token = forge(&gh, "");
    assert!(matches!(
        no_token.open_pull_request(&staged("x")).await,
        Err(ForgeError::NoToken)
    ));
    assert!(!format!("{f:?}").contains("ghp_secret123"));
}

#[tokio::test]
async fn an_unreachable_forge_is_a_transient_network_error() {
    let hosts = HostSettings {
        github_api: "http://127.0.0.1:1".into(),
        github_token: Secret::new("t"),
        ..HostSettings::default()
    };
    let f = Forge::new(http_client(&hosts).unwrap(), &hosts);
    let e = f.rate_limit().await.unwrap_err();
    assert!(matches!(e, ForgeError::Network { .. }), "{e}");
    assert!(e.is_transient());
}
