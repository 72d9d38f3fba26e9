//! The HTTP client against the fixture upstream: routing, tokens, failure classes, the text
//! memo, GitHub file URLs, redirects and download limits.

use std::time::Duration;

use netkan_common::config::Secret;
use netkan_inflator::InflateError;
use netkan_inflator::testing::upstream::{Reply, Upstream};
use serde_json::json;

#[tokio::test]
async fn requests_reach_the_fixture_under_their_canonical_urls_with_the_user_agent() {
    let up = Upstream::start().await;
    up.on("https://example.com/a.txt?x=1", Reply::text("hello"));
    let http = up.client();
    assert_eq!(
        http.get_text("https://example.com/a.txt?x=1")
            .await
            .expect("text"),
        "hello"
    );
    let reqs = up.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].url, "https://example.com/a.txt?x=1");
    assert!(
        reqs[0]
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("netkan/")),
        "{:?}",
        reqs[0].header("user-agent")
    );
}

#[tokio::test]
async fn a_404_is_a_host_error_naming_the_canonical_url_and_status() {
    let up = Upstream::start().await;
    let err = up
        .client()
        .get_text("https://spacedock.info/api/mod/404")
        .await
        .expect_err("404");
    assert!(matches!(err, InflateError::Host(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "https://spacedock.info/api/mod/404 answered 404 Not Found"
    );
}

#[tokio::test]
async fn a_500_is_transient_and_not_retried() {
    let up = Upstream::start().await;
    up.on("https://example.com/x", Reply::text("oops").status(500));
    let err = up
        .client()
        .get_text("https://example.com/x")
        .await
        .expect_err("500");
    assert!(matches!(err, InflateError::Transient(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains("500 Internal Server Error"),
        "{err}"
    );
    assert_eq!(up.count("https://example.com/x"), 1);
}

#[tokio::test]
async fn garbage_json_is_a_host_error_naming_the_url() {
    let up = Upstream::start().await;
    up.on(
        "https://api.github.com/repos/a/b",
        Reply::text("<html>not json</html>"),
    );
    let err = up
        .client()
        .get_json::<serde_json::Value>("https://api.github.com/repos/a/b")
        .await
        .expect_err("garbage");
    assert!(matches!(err, InflateError::Host(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("https://api.github.com/repos/a/b did not answer with the JSON expected"),
        "{err}"
    );
}

#[tokio::test]
async fn an_exhausted_github_rate_limit_is_rate_limited_until_the_reset() {
    let up = Upstream::start().await;
    up.on(
        "https://api.github.com/repos/a/b",
        Reply::github_rate_limited(Duration::from_secs(300)),
    );
    let err = up
        .client()
        .get_text("https://api.github.com/repos/a/b")
        .await
        .expect_err("throttled");
    let InflateError::RateLimited {
        retry_after,
        message,
    } = &err
    else {
        panic!("expected RateLimited, got {err:?}");
    };
    assert!(
        (295..=300).contains(&retry_after.as_secs()),
        "{retry_after:?}"
    );
    assert_eq!(message, "GitHub API rate limit exceeded: repos/a/b");
    assert_eq!(up.count("https://api.github.com/repos/a/b"), 1);
}

#[tokio::test]
async fn a_429_with_retry_after_waits_that_long() {
    let up = Upstream::start().await;
    up.on(
        "https://spacedock.info/api/mod/1",
        Reply::text("slow down")
            .status(429)
            .header("retry-after", "42"),
    );
    let err = up
        .client()
        .get_text("https://spacedock.info/api/mod/1")
        .await
        .expect_err("throttled");
    match err {
        InflateError::RateLimited {
            retry_after,
            message,
        } => {
            assert_eq!(retry_after, Duration::from_secs(42));
            assert!(message.contains("spacedock.info"), "{message}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_plain_403_is_a_host_error() {
    let up = Upstream::start().await;
    up.on(
        "https://api.github.com/repos/a/b",
        Reply::text("private").status(403),
    );
    let err = up
        .client()
        .get_text("https://api.github.com/repos/a/b")
        .await
        .expect_err("403");
    assert!(matches!(err, InflateError::Host(_)), "{err:?}");
}

#[tokio::test]
async fn the_github_token_goes_to_the_api_only_and_not_across_redirects() {
    let up = Upstream::start().await;
    let mut settings = up.settings();
    settings.github_token = Secret::new("ghp_testtoken");
    let http = Upstream::client_for(&settings);
    up.on(
        "https://api.github.com/repos/a/b",
        Reply::json(&json!({"ok": true})),
    );
    up.redirect(
        "https://api.github.com/repos/a/b/tarball",
        "https://codeload.example/a/b.tar",
    );
    up.on("https://codeload.example/a/b.tar", Reply::text("tar"));
    up.on(
        "https://github.com/a/b/releases/download/v1/x.zip",
        Reply::text("zip"),
    );
    http.get_text("https://api.github.com/repos/a/b")
        .await
        .expect("api");
    http.get_text("https://api.github.com/repos/a/b/tarball")
        .await
        .expect("redirected");
    http.get_text("https://github.com/a/b/releases/download/v1/x.zip")
        .await
        .expect("asset");
    let auth: Vec<(String, Option<String>)> = up
        .requests()
        .iter()
        .map(|r| (r.url.clone(), r.header("authorization").map(str::to_owned)))
        .collect();
    assert_eq!(
        auth,
        vec![
            (
                "https://api.github.com/repos/a/b".into(),
                Some("token ghp_testtoken".into())
            ),
            (
                "https://api.github.com/repos/a/b/tarball".into(),
                Some("token ghp_testtoken".into())
            ),
            ("https://codeload.example/a/b.tar".into(), None),
            (
                "https://github.com/a/b/releases/download/v1/x.zip".into(),
                None
            ),
        ]
    );
}

#[tokio::test]
async fn the_token_never_appears_in_errors() {
    let up = Upstream::start().await;
    let mut settings = up.settings();
    settings.github_token = Secret::new("ghp_secret_value");
    let http = Upstream::client_for(&settings);
    up.on("https://api.github.com/x", Reply::text("no").status(401));
    let err = http
        .get_text("https://api.github.com/x")
        .await
        .expect_err("401");
    assert!(!err.to_string().contains("ghp_secret_value"), "{err}");
    assert!(!format!("{err:?}").contains("ghp_secret_value"), "{err:?}");
}

#[tokio::test]
async fn network_failures_are_retried_before_giving_up() {
    let up = Upstream::start().await;
    up.on_sequence(
        "https://example.com/flaky",
        vec![Reply::hang_up(), Reply::hang_up(), Reply::text("finally")],
    );
    let text = up
        .client()
        .get_text("https://example.com/flaky")
        .await
        .expect("third time");
    assert_eq!(text, "finally");
    assert_eq!(up.count("https://example.com/flaky"), 3);

    up.on("https://example.com/down", Reply::hang_up());
    let err = up
        .client()
        .get_text("https://example.com/down")
        .await
        .expect_err("down");
    assert!(matches!(err, InflateError::Transient(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("https://example.com/down could not be fetched"),
        "{err}"
    );
    assert_eq!(up.count("https://example.com/down"), 5);
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let mut settings = netkan_common::config::HostSettings::default();
    settings
        .rewrite
        .insert("https://".into(), format!("http://127.0.0.1:{port}/"));
    let http = Upstream::client_for(&settings);
    let err = http
        .get_text("https://example.com/x")
        .await
        .expect_err("refused");
    assert!(matches!(err, InflateError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("connection failed"), "{err}");
}

#[tokio::test]
async fn text_is_reused_for_a_while() {
    let up = Upstream::start().await;
    up.on("https://example.com/v.version", Reply::text("{}"));
    let http = up.client();
    for _ in 0..3 {
        assert_eq!(
            http.get_text("https://example.com/v.version")
                .await
                .expect("text"),
            "{}"
        );
    }
    assert_eq!(up.count("https://example.com/v.version"), 1);
}

#[tokio::test]
async fn github_file_urls_are_fetched_through_the_contents_api() {
    let up = Upstream::start().await;
    up.github_contents("o", "r", "master", "CKAN/X.netkan", "identifier: X");
    let http = up.client();
    let text = http
        .fetch_text("https://github.com/o/r/raw/master/CKAN/X.netkan")
        .await
        .expect("contents");
    assert_eq!(text, "identifier: X");
    let req = &up.requests()[0];
    assert_eq!(
        req.url,
        "https://api.github.com/repos/o/r/contents/CKAN/X.netkan?ref=master"
    );
    assert_eq!(req.header("accept"), Some("application/vnd.github.v3.raw"));

    up.file("https://example.com/X.netkan", "identifier: Y");
    assert_eq!(
        http.fetch_text("https://example.com/X.netkan")
            .await
            .expect("plain"),
        "identifier: Y"
    );
}

#[tokio::test]
async fn redirects_resolve_to_the_final_url_within_the_limit() {
    let up = Upstream::start().await;
    up.redirect("https://example.com/latest", "/releases/v2");
    up.redirect(
        "https://example.com/releases/v2",
        "https://cdn.example/files/mod-2.zip",
    );
    up.file("https://cdn.example/files/mod-2.zip", "zip");
    let http = up.client();
    assert_eq!(
        http.resolve_redirects("https://example.com/latest", 6)
            .await
            .expect("resolved"),
        Some("https://cdn.example/files/mod-2.zip".to_owned())
    );
    // Only the Location headers are read: the final URL is not downloaded more than once
    // (the body is never read).
    assert_eq!(up.count("https://cdn.example/files/mod-2.zip"), 1);

    for i in 0..7 {
        up.redirect(
            &format!("https://loop.example/{i}"),
            &format!("https://loop.example/{}", i + 1),
        );
    }
    up.file("https://loop.example/7", "end");
    assert_eq!(
        http.resolve_redirects("https://loop.example/0", 6)
            .await
            .expect("loop"),
        None
    );
    assert_eq!(
        http.resolve_redirects("https://loop.example/1", 6)
            .await
            .expect("six"),
        Some("https://loop.example/7".to_owned())
    );
}

#[tokio::test]
async fn a_download_over_the_limit_is_refused_early_by_content_length() {
    let up = Upstream::start().await;
    up.file("https://example.com/big.zip", vec![7u8; 4096]);
    let mut settings = up.settings();
    settings.max_download_bytes = 1024;
    let http = Upstream::client_for(&settings);
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("big");
    let err = http
        .download_to("https://example.com/big.zip", &dest)
        .await
        .expect_err("too big");
    assert!(matches!(err, InflateError::Host(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "https://example.com/big.zip is larger than the download limit of 1024 bytes (4096 bytes); see hosts.max_download_bytes"
    );
    assert!(
        !dest.exists(),
        "nothing is written when Content-Length is over the limit"
    );
}

#[tokio::test]
async fn a_chunked_download_over_the_limit_is_cut_off() {
    let up = Upstream::start().await;
    up.on(
        "https://example.com/big.zip",
        Reply::bytes(vec![7u8; 40_000]).chunked(),
    );
    let mut settings = up.settings();
    settings.max_download_bytes = 10_000;
    let http = Upstream::client_for(&settings);
    let dir = tempfile::tempdir().expect("tempdir");
    let err = http
        .download_to("https://example.com/big.zip", &dir.path().join("big"))
        .await
        .expect_err("too big");
    assert!(
        err.to_string().starts_with(
            "https://example.com/big.zip is larger than the download limit of 10000 bytes"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_download_is_hashed_as_it_streams() {
    let up = Upstream::start().await;
    up.on(
        "https://example.com/f.bin",
        Reply::bytes(b"abc".to_vec()).chunked(),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("f");
    let info = up
        .client()
        .download_to("https://example.com/f.bin", &dest)
        .await
        .expect("download");
    assert_eq!(info.size, 3);
    assert_eq!(info.sha1, "A9993E364706816ABA3E25717850C26C9CD0D89D");
    assert_eq!(
        info.sha256,
        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
    );
    assert_eq!(std::fs::read(&dest).expect("written"), b"abc");
}

#[tokio::test]
async fn a_slow_download_times_out_as_transient() {
    let up = Upstream::start().await;
    up.on(
        "https://example.com/slow.zip",
        Reply::bytes(b"late".to_vec()).delayed(Duration::from_secs(3)),
    );
    let mut settings = up.settings();
    settings.download_timeout_secs = 1;
    let http = Upstream::client_for(&settings);
    let dir = tempfile::tempdir().expect("tempdir");
    let err = http
        .download_to("https://example.com/slow.zip", &dir.path().join("s"))
        .await
        .expect_err("timeout");
    assert!(matches!(err, InflateError::Transient(_)), "{err:?}");
    assert!(err.to_string().ends_with("timed out"), "{err}");
}
