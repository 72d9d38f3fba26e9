//! The one HTTP client of a process: a `User-Agent` naming the project, timeouts, the
//! configured base URLs and rewrites (`hosts.*` in the settings), a size limit on downloads,
//! and the classification of failures into [`InflateError`]s (a throttled host is
//! `RateLimited`, a 5xx or network failure `Transient`, a 4xx `Host`).
//!
//! Every URL the inflator handles is the *canonical* one (`https://api.github.com/...`,
//! `https://spacedock.info/...`, whatever a host's API returned): that is what goes into
//! the metadata and into error messages. Only when a request is sent is the URL *routed*:
//! the canonical base URLs map to the configured `hosts.github_api`, `hosts.spacedock`, ...
//! and `hosts.rewrite` maps any other prefix, the longest match winning. Redirects are
//! followed here rather than by reqwest, so each hop is routed too (a fixture upstream
//! redirecting to `https://cdn.example/...` works) and a token never follows a redirect to
//! another host.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netkan_common::config::HostSettings;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::InflateError;

/// GitHub's REST API (requests under it carry the GitHub token).
pub const GITHUB_API: &str = "https://api.github.com";
/// GitHub's web site.
pub const GITHUB: &str = "https://github.com";
/// GitLab's REST API (requests under it carry the GitLab token).
pub const GITLAB_API: &str = "https://gitlab.com/api/v4";
/// SpaceDock.
pub const SPACEDOCK: &str = "https://spacedock.info";
/// SourceForge.
pub const SOURCEFORGE: &str = "https://sourceforge.net";
/// archive.org.
pub const ARCHIVE_ORG: &str = "https://archive.org";

/// How long fetched text (API answers, remote `.version` files, metanetkan targets) is
/// reused (`CachingHttpService.stringCacheLifetime`, §8.4).
pub const TEXT_MEMO_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Attempts for a text request that fails below HTTP (connection refused, reset, timeout);
/// an HTTP answer, even a 5xx, is never retried here (§8.4: "5 times on non-protocol
/// errors").
const TEXT_ATTEMPTS: u32 = 5;

/// Redirects followed by ordinary requests before giving up.
const MAX_REDIRECTS: usize = 10;

/// API answers larger than this are refused: no host sends that much JSON, and a runaway
/// body must not exhaust memory.
const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;

/// Most text the memo keeps (GitHub release pages carry whole changelogs; a worker
/// inflating every netkan within 15 minutes must not keep them all).
const MEMO_MAX_BYTES: usize = 64 * 1024 * 1024;

/// The HTTP client, cheap to clone (one per process).
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    settings: HostSettings,
    /// Canonical prefix → routed prefix, longest first.
    routes: Vec<Route>,
    memo: Mutex<TextMemo>,
    retry_backoff: Duration,
}

struct Route {
    from: String,
    to: String,
    /// Base URLs match only at a path boundary (`https://github.com` must not take
    /// `https://github.community`); explicit rewrites are raw prefixes.
    boundary: bool,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct MemoKey {
    url: String,
    accept: Option<&'static str>,
}

struct MemoEntry {
    at: Instant,
    text: Arc<str>,
}

/// Text answers by URL and `Accept`, kept for [`TEXT_MEMO_LIFETIME`] and at most
/// [`MEMO_MAX_BYTES`] in all (the oldest go first).
#[derive(Default)]
struct TextMemo {
    entries: HashMap<MemoKey, MemoEntry>,
    bytes: usize,
}

impl TextMemo {
    fn get(&self, key: &MemoKey) -> Option<Arc<str>> {
        self.entries
            .get(key)
            .filter(|e| e.at.elapsed() < TEXT_MEMO_LIFETIME)
            .map(|e| e.text.clone())
    }

    fn put(&mut self, key: MemoKey, text: &str) {
        if text.len() > MEMO_MAX_BYTES {
            return;
        }
        if let Some(old) = self.entries.remove(&key) {
            self.bytes -= old.text.len();
        }
        if self.bytes + text.len() > MEMO_MAX_BYTES {
            let before = self.entries.len();
            self.entries
                .retain(|_, e| e.at.elapsed() < TEXT_MEMO_LIFETIME);
            if self.entries.len() != before {
                self.bytes = self.entries.values().map(|e| e.text.len()).sum();
            }
        }
        while self.bytes + text.len() > MEMO_MAX_BYTES {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.bytes -= e.text.len();
            }
        }
        self.bytes += text.len();
        self.entries.insert(
            key,
            MemoEntry {
                at: Instant::now(),
                text: Arc::from(text),
            },
        );
    }
}

/// An answer read as text, whatever its status (see [`HttpClient::get_reply`]).
#[derive(Debug, Clone)]
pub struct TextReply {
    /// The canonical URL that answered, after redirects.
    pub url: String,
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: String,
}

impl TextReply {
    /// The body of a 2xx answer; otherwise the error the status stands for.
    ///
    /// # Errors
    /// `Transient` for a 5xx, `Host` for anything else that is not a success.
    pub fn into_success(self) -> Result<String, InflateError> {
        if self.status.is_success() {
            Ok(self.body)
        } else {
            Err(status_error(&self.url, self.status))
        }
    }
}

/// What a download wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadInfo {
    /// The canonical URL that answered, after redirects.
    pub url: String,
    /// Bytes written.
    pub size: u64,
    /// SHA-1 of the bytes, upper-case hex.
    pub sha1: String,
    /// SHA-256 of the bytes, upper-case hex.
    pub sha256: String,
}

/// Options of one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestOptions<'a> {
    /// `Accept` header.
    pub accept: Option<&'static str>,
    /// A `User-Agent` other than the configured one (SourceForge wants `Wget`).
    pub user_agent: Option<&'a str>,
}

impl HttpClient {
    /// A client for these host settings.
    ///
    /// # Errors
    /// If the TLS backend cannot be set up, or a configured base URL or rewrite is not a
    /// URL.
    pub fn new(settings: &HostSettings) -> Result<Self, InflateError> {
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .connect_timeout(Duration::from_secs(settings.timeout_secs))
            // Redirects are followed by `send` so that every hop is routed and tokens stay
            // with the host they are for.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| InflateError::Local(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                routes: routes(settings),
                settings: settings.clone(),
                memo: Mutex::default(),
                retry_backoff: Duration::from_millis(500),
            }),
        })
    }

    /// The same client with another pause before the first retry of a text request (it
    /// doubles on each further attempt); tests use a short one.
    pub fn with_retry_backoff(self, backoff: Duration) -> Self {
        let inner = &self.inner;
        Self {
            inner: Arc::new(Inner {
                client: inner.client.clone(),
                settings: inner.settings.clone(),
                routes: routes(&inner.settings),
                memo: Mutex::default(),
                retry_backoff: backoff,
            }),
        }
    }

    /// The underlying client.
    pub fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    /// The host settings (base URLs, tokens, limits).
    pub fn settings(&self) -> &HostSettings {
        &self.inner.settings
    }

    /// Where a request for the canonical `url` is actually sent: the longest matching base
    /// URL or rewrite prefix replaced, or `url` itself.
    pub fn route(&self, url: &str) -> String {
        for r in &self.inner.routes {
            if let Some(rest) = url.strip_prefix(r.from.as_str())
                && (!r.boundary
                    || rest.is_empty()
                    || rest.starts_with(['/', '?', '#'])
                    || r.from.ends_with('/'))
            {
                return format!("{}{rest}", r.to);
            }
        }
        url.to_owned()
    }

    /// The body of `url` as text: a 2xx answer, reused for 15 minutes within this process.
    ///
    /// # Errors
    /// As [`HttpClient::get_reply`], and [`TextReply::into_success`] for other statuses.
    pub async fn get_text(&self, url: &str) -> Result<String, InflateError> {
        self.get_text_accept(url, None).await
    }

    /// [`HttpClient::get_text`] with an `Accept` header.
    ///
    /// # Errors
    /// As [`HttpClient::get_text`].
    pub async fn get_text_accept(
        &self,
        url: &str,
        accept: Option<&'static str>,
    ) -> Result<String, InflateError> {
        self.get_text_or_404(url, accept)
            .await?
            .ok_or_else(|| status_error(url, StatusCode::NOT_FOUND))
    }

    /// [`HttpClient::get_text_accept`], except that a 404 is `None` (a repository or project
    /// the host does not have); found text is memoized the same way.
    ///
    /// # Errors
    /// As [`HttpClient::get_text`], for statuses other than 404.
    pub async fn get_text_or_404(
        &self,
        url: &str,
        accept: Option<&'static str>,
    ) -> Result<Option<String>, InflateError> {
        let key = MemoKey {
            url: url.to_owned(),
            accept,
        };
        if let Some(text) = self.memo_get(&key) {
            return Ok(Some(text.to_string()));
        }
        let opts = RequestOptions {
            accept,
            ..RequestOptions::default()
        };
        let reply = self.get_reply(url, opts).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let text = reply.into_success()?;
        self.memo_put(key, &text);
        Ok(Some(text))
    }

    /// [`HttpClient::get_json`], except that a 404 is `None`.
    ///
    /// # Errors
    /// As [`HttpClient::get_json`], for statuses other than 404.
    pub async fn get_json_or_404<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<Option<T>, InflateError> {
        match self.get_text_or_404(url, json_accept(url)).await? {
            Some(text) => parse_json(url, &text).map(Some),
            None => Ok(None),
        }
    }

    /// `url`'s JSON body as `T` (memoized like [`HttpClient::get_text`]).
    ///
    /// # Errors
    /// As [`HttpClient::get_text`]; `Host` naming the URL when the body is not the JSON
    /// expected.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, InflateError> {
        let text = self.get_text_accept(url, json_accept(url)).await?;
        parse_json(url, &text)
    }

    /// One request, redirects followed, the body read as text whatever the status, so a
    /// caller can read a host's error body (SpaceDock) or treat a 404 as "none" (GitHub).
    /// Failures below HTTP are retried a few times with growing pauses.
    ///
    /// # Errors
    /// `RateLimited` when the host throttles us, `Transient` for network failures and
    /// timeouts, `Host` for too many redirects or a body that is too large or not text.
    /// Other error statuses are answers: see [`TextReply::into_success`].
    pub async fn get_reply(
        &self,
        url: &str,
        opts: RequestOptions<'_>,
    ) -> Result<TextReply, InflateError> {
        let mut attempt = 1;
        loop {
            match self.get_reply_once(url, opts).await {
                Err(InflateError::Transient(msg))
                    if attempt < TEXT_ATTEMPTS && is_network(&msg) =>
                {
                    let pause = self.inner.retry_backoff * 2u32.pow(attempt - 1);
                    tracing::debug!(url, attempt, error = %msg, "retrying after a network failure");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn get_reply_once(
        &self,
        url: &str,
        opts: RequestOptions<'_>,
    ) -> Result<TextReply, InflateError> {
        let timeout = Duration::from_secs(self.settings().timeout_secs);
        let (final_url, mut response) = self.send(url, opts, timeout, MAX_REDIRECTS).await?;
        if let Some(len) = response.content_length()
            && len > MAX_TEXT_BYTES as u64
        {
            return Err(InflateError::Host(format!(
                "{final_url} answered with {len} bytes, more than the {MAX_TEXT_BYTES} accepted for an API answer"
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| network_error(&final_url, &e))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_TEXT_BYTES {
                return Err(InflateError::Host(format!(
                    "{final_url} answered with more than the {MAX_TEXT_BYTES} bytes accepted for an API answer"
                )));
            }
        }
        let status = response.status();
        let body = String::from_utf8(body).map_err(|_| {
            InflateError::Host(format!(
                "{final_url} answered {status} with a body that is not UTF-8 text"
            ))
        })?;
        Ok(TextReply {
            url: final_url,
            status,
            body,
        })
    }

    /// A text file named by a URL a `.netkan` gives (a metanetkan target, a remote
    /// `.version`): through the GitHub contents API for `github.com/<o>/<r>/(blob|tree|raw)/...`
    /// and `raw.githubusercontent.com` URLs (so the token and its rate limit apply, §9.1),
    /// otherwise plainly after `GetRawUri` (§9.2).
    ///
    /// # Errors
    /// As [`HttpClient::get_text`].
    pub async fn fetch_text(&self, url: &str) -> Result<String, InflateError> {
        match crate::hosts::github::contents_api_url(url) {
            Some(api) => {
                self.get_text_accept(&api, Some(crate::hosts::github::RAW_ACCEPT))
                    .await
            }
            None => self.get_text(&crate::hosts::raw_uri(url)).await,
        }
    }

    /// Where `url` finally leads, following at most `max` redirects without reading the
    /// bodies (`Net.ResolveRedirect`); `None` when there are more than `max`.
    ///
    /// # Errors
    /// As [`HttpClient::get_reply`]; an error status at the end is `Host` (or `Transient`
    /// for a 5xx).
    pub async fn resolve_redirects(
        &self,
        url: &str,
        max: usize,
    ) -> Result<Option<String>, InflateError> {
        let mut current = url.to_owned();
        for _ in 0..=max {
            match self.redirect_target(&current, None).await? {
                Some(next) => current = next,
                None => return Ok(Some(current)),
            }
        }
        Ok(None)
    }

    /// The `Location` `url` redirects to (made absolute), or `None` when it answers
    /// without redirecting; the body is never read (`Net.ResolveRedirect` opens the URL
    /// with redirects off). Used for the http kref, wiki probes and SourceForge mirrors.
    ///
    /// # Errors
    /// As [`HttpClient::get_reply`]; an error status is `Host` (`Transient` for a 5xx).
    pub async fn redirect_target(
        &self,
        url: &str,
        user_agent: Option<&str>,
    ) -> Result<Option<String>, InflateError> {
        let timeout = Duration::from_secs(self.settings().timeout_secs);
        let opts = RequestOptions {
            user_agent,
            ..RequestOptions::default()
        };
        let (_, response) = self.send(url, opts, timeout, 0).await?;
        let status = response.status();
        if status.is_redirection()
            && let Some(next) = location(url, &response)?
        {
            return Ok(Some(next));
        }
        if status.is_success() {
            Ok(None)
        } else {
            Err(status_error(url, status))
        }
    }

    /// Streams `url` into `file` (created or truncated), hashing as it goes, refusing more
    /// than `hosts.max_download_bytes` (early when `Content-Length` says so).
    ///
    /// # Errors
    /// `Host` for an error status or a file over the limit, `Transient` for network
    /// failures and 5xx, `RateLimited`, and `Local` when `file` cannot be written.
    pub async fn download_to(&self, url: &str, file: &Path) -> Result<DownloadInfo, InflateError> {
        let limit = self.settings().max_download_bytes;
        let timeout = Duration::from_secs(self.settings().download_timeout_secs);
        let (final_url, mut response) = self
            .send(url, RequestOptions::default(), timeout, MAX_REDIRECTS)
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(status_error(&final_url, status));
        }
        let too_big = |n: u64| {
            InflateError::Host(format!(
                "{url} is larger than the download limit of {limit} bytes ({n} bytes); see hosts.max_download_bytes"
            ))
        };
        if let Some(len) = response.content_length()
            && len > limit
        {
            return Err(too_big(len));
        }
        let mut out = tokio::fs::File::create(file)
            .await
            .map_err(|e| crate::cache::disk_error(&format!("creating {}", file.display()), &e))?;
        let write_err = |e: std::io::Error| {
            crate::cache::disk_error(&format!("writing {}", file.display()), &e)
        };
        let mut sha1 = Sha1::new();
        let mut sha256 = Sha256::new();
        let mut size: u64 = 0;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| network_error(&final_url, &e))?
        {
            size += chunk.len() as u64;
            if size > limit {
                return Err(too_big(size));
            }
            sha1.update(&chunk);
            sha256.update(&chunk);
            out.write_all(&chunk).await.map_err(write_err)?;
        }
        out.flush().await.map_err(write_err)?;
        out.sync_all().await.map_err(write_err)?;
        Ok(DownloadInfo {
            url: final_url,
            size,
            sha1: upper_hex(&sha1.finalize()),
            sha256: upper_hex(&sha256.finalize()),
        })
    }

    /// Sends one request to the routed `url`, following up to `redirects` redirects. The
    /// answer is returned whatever its status, except that a throttling answer is
    /// `RateLimited`.
    async fn send(
        &self,
        url: &str,
        opts: RequestOptions<'_>,
        timeout: Duration,
        redirects: usize,
    ) -> Result<(String, reqwest::Response), InflateError> {
        let mut current = url.to_owned();
        let mut hops = 0;
        loop {
            let routed = self.route(&current);
            let mut request = self
                .inner
                .client
                .request(Method::GET, &routed)
                .timeout(timeout)
                .headers(self.auth_headers(&current));
            if let Some(accept) = opts.accept {
                request = request.header(header::ACCEPT, accept);
            }
            if let Some(ua) = opts.user_agent {
                request = request.header(header::USER_AGENT, ua);
            }
            tracing::debug!(url = %current, routed = %routed, "http request");
            let response = request
                .send()
                .await
                .map_err(|e| network_error(&current, &e))?;
            let status = response.status();
            if let Some(wait) = rate_limit_wait(status, response.headers()) {
                return Err(rate_limited(&current, wait));
            }
            if redirects > 0
                && status.is_redirection()
                && let Some(next) = location(&current, &response)?
            {
                hops += 1;
                if hops > redirects {
                    return Err(InflateError::Host(format!(
                        "{url}: more than {redirects} redirects"
                    )));
                }
                current = next;
                continue;
            }
            return Ok((current, response));
        }
    }

    /// The token header for the API `url` is under: GitHub's only for the GitHub API, and
    /// GitLab's only for the GitLab API. Never logged.
    fn auth_headers(&self, url: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let s = self.settings();
        let under = |base: &str| {
            url.strip_prefix(base)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
        };
        if under(GITHUB_API) && !s.github_token.is_empty() {
            if let Ok(mut v) = HeaderValue::from_str(&format!("token {}", s.github_token.expose()))
            {
                v.set_sensitive(true);
                headers.insert(header::AUTHORIZATION, v);
            }
        } else if under(GITLAB_API)
            && !s.gitlab_token.is_empty()
            && let Ok(mut v) = HeaderValue::from_str(s.gitlab_token.expose())
        {
            v.set_sensitive(true);
            headers.insert("PRIVATE-TOKEN", v);
        }
        headers
    }

    fn memo_get(&self, key: &MemoKey) -> Option<Arc<str>> {
        self.inner.memo.lock().ok()?.get(key)
    }

    fn memo_put(&self, key: MemoKey, text: &str) {
        if let Ok(mut memo) = self.inner.memo.lock() {
            memo.put(key, text);
        }
    }
}

/// The base URLs (boundary matches) and the rewrites (raw prefixes), longest first; an
/// explicit rewrite wins over a base URL of the same length.
fn routes(settings: &HostSettings) -> Vec<Route> {
    let bases = [
        (GITHUB_API, &settings.github_api),
        (GITHUB, &settings.github),
        (GITLAB_API, &settings.gitlab_api),
        (SPACEDOCK, &settings.spacedock),
        (SOURCEFORGE, &settings.sourceforge),
        (ARCHIVE_ORG, &settings.archive_org),
    ];
    let mut routes: Vec<Route> = settings
        .rewrite
        .iter()
        .map(|(from, to)| Route {
            from: from.clone(),
            to: to.clone(),
            boundary: false,
        })
        .chain(
            bases
                .into_iter()
                .filter(|(canonical, configured)| canonical != configured)
                .map(|(canonical, configured)| Route {
                    from: canonical.to_owned(),
                    to: configured.trim_end_matches('/').to_owned(),
                    boundary: true,
                }),
        )
        .collect();
    // Stable: rewrites (first in the list) win ties.
    routes.sort_by_key(|r| std::cmp::Reverse(r.from.len()));
    routes
}

/// The `Accept` header of a JSON API call (GitHub asks for it; others ignore it).
fn json_accept(url: &str) -> Option<&'static str> {
    url.starts_with(GITHUB_API)
        .then_some("application/vnd.github+json")
}

/// Parses `text` from `url` as `T`.
///
/// # Errors
/// `Host` naming the URL and what serde found wrong.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    url: &str,
    text: &str,
) -> Result<T, InflateError> {
    serde_json::from_str(text).map_err(|e| {
        InflateError::Host(format!("{url} did not answer with the JSON expected: {e}"))
    })
}

/// The error a non-success status stands for: 5xx is worth retrying, anything else is the
/// host telling us no.
pub fn status_error(url: &str, status: StatusCode) -> InflateError {
    let text = format!("{url} answered {status}");
    if status.is_server_error() {
        InflateError::Transient(text)
    } else {
        InflateError::Host(text)
    }
}

/// Marks transport failures, so that only those are retried.
const NETWORK_MARK: &str = "could not be fetched";

fn is_network(message: &str) -> bool {
    message.contains(NETWORK_MARK)
}

fn network_error(url: &str, e: &reqwest::Error) -> InflateError {
    let why = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        format!("connection failed ({})", error_chain(e))
    } else {
        error_chain(e)
    };
    InflateError::Transient(format!("{url} {NETWORK_MARK}: {why}"))
}

/// reqwest's error with its sources, which carry the useful part ("connection refused").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// How long a throttling answer asks us to wait: a 403, 429 or 503 with
/// `X-RateLimit-Remaining: 0` or a `Retry-After`. The wait is `Retry-After` (seconds or a
/// date), else `X-RateLimit-Reset` (Unix time) from now, else a minute; at least a second.
pub fn rate_limit_wait(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    if !matches!(status.as_u16(), 403 | 429 | 503) {
        return None;
    }
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let exhausted = text("x-ratelimit-remaining") == Some("0");
    let retry_after = text("retry-after");
    if !exhausted && retry_after.is_none() {
        return None;
    }
    let now = chrono::Utc::now();
    let from_retry_after = retry_after.and_then(|v| {
        v.parse::<u64>().ok().map(Duration::from_secs).or_else(|| {
            chrono::DateTime::parse_from_rfc2822(v).ok().map(|at| {
                (at.with_timezone(&chrono::Utc) - now)
                    .to_std()
                    .unwrap_or_default()
            })
        })
    });
    let from_reset = || {
        text("x-ratelimit-reset")
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|reset| chrono::DateTime::from_timestamp(reset, 0))
            .map(|at| (at - now).to_std().unwrap_or_default())
    };
    let wait = from_retry_after
        .or_else(from_reset)
        .unwrap_or(Duration::from_secs(60));
    Some(wait.max(Duration::from_secs(1)))
}

/// The throttling error; for the GitHub API in the C# inflator's words (`GithubApi.Call`).
/// The wait is in `retry_after`, not the message: the worker says how long it sleeps.
fn rate_limited(url: &str, wait: Duration) -> InflateError {
    let message = match url.strip_prefix(GITHUB_API) {
        Some(path) => format!(
            "GitHub API rate limit exceeded: {}",
            path.trim_start_matches('/')
        ),
        None => {
            let host = Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| url.to_owned());
            format!("rate limited by {host} (at {url})")
        }
    };
    InflateError::RateLimited {
        message,
        retry_after: wait,
    }
}

/// `1h 2m 3s`, `4m 5s`, `6s`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// The absolute canonical URL a redirect answer points to, if it is one.
fn location(current: &str, response: &reqwest::Response) -> Result<Option<String>, InflateError> {
    if !response.status().is_redirection() {
        return Ok(None);
    }
    let Some(value) = response.headers().get(header::LOCATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| {
        InflateError::Host(format!(
            "{current} redirected to a Location that is not text"
        ))
    })?;
    let base = Url::parse(current)
        .map_err(|e| InflateError::Host(format!("{current} is not a valid URL: {e}")))?;
    let next = base.join(value).map_err(|e| {
        InflateError::Host(format!(
            "{current} redirected to an invalid URL {value:?}: {e}"
        ))
    })?;
    Ok(Some(next.to_string()))
}

/// Upper-case hex, as CKAN writes hashes.
pub fn upper_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02X}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(edit: impl FnOnce(&mut HostSettings)) -> HttpClient {
        let mut s = HostSettings::default();
        edit(&mut s);
        HttpClient::new(&s).expect("client")
    }

    #[test]
    fn canonical_urls_route_to_configured_bases_at_a_boundary() {
        let c = client(|s| {
            s.github_api = "http://127.0.0.1:9/gh-api/".into();
            s.github = "http://127.0.0.1:9/gh".into();
            s.rewrite.insert(
                "https://ci.example/".into(),
                "http://127.0.0.1:9/ci/".into(),
            );
        });
        assert_eq!(
            c.route("https://api.github.com/repos/a/b?x=1"),
            "http://127.0.0.1:9/gh-api/repos/a/b?x=1"
        );
        assert_eq!(
            c.route("https://github.com/a/b/wiki"),
            "http://127.0.0.1:9/gh/a/b/wiki"
        );
        assert_eq!(
            c.route("https://github.community/x"),
            "https://github.community/x"
        );
        assert_eq!(
            c.route("https://ci.example/job/X/"),
            "http://127.0.0.1:9/ci/job/X/"
        );
        assert_eq!(
            c.route("https://spacedock.info/api/mod/1"),
            "https://spacedock.info/api/mod/1"
        );
    }

    #[test]
    fn the_longest_prefix_wins_and_rewrites_win_ties() {
        let c = client(|s| {
            s.spacedock = "http://sd.local".into();
            s.rewrite
                .insert("https://".into(), "http://all/https/".into());
            s.rewrite.insert(
                "https://spacedock.info/api".into(),
                "http://api.local".into(),
            );
        });
        assert_eq!(
            c.route("https://spacedock.info/api/mod/1"),
            "http://api.local/mod/1"
        );
        assert_eq!(
            c.route("https://spacedock.info/mod/1/x"),
            "http://sd.local/mod/1/x"
        );
        assert_eq!(
            c.route("https://example.com/a.zip"),
            "http://all/https/example.com/a.zip"
        );
    }

    #[test]
    fn tokens_go_only_to_their_api() {
        let c = client(|s| {
            s.github_token = netkan_common::config::Secret::new("ghp_secret");
            s.gitlab_token = netkan_common::config::Secret::new("glpat");
        });
        let h = c.auth_headers("https://api.github.com/repos/a/b");
        assert_eq!(
            h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()),
            Some("token ghp_secret")
        );
        assert!(c.auth_headers("https://github.com/a/b").is_empty());
        assert!(c.auth_headers("https://api.github.com.evil/x").is_empty());
        assert!(
            c.auth_headers("https://objects.githubusercontent.com/x")
                .is_empty()
        );
        let h = c.auth_headers("https://gitlab.com/api/v4/projects/a%2Fb");
        assert_eq!(
            h.get("PRIVATE-TOKEN").and_then(|v| v.to_str().ok()),
            Some("glpat")
        );
        assert!(
            client(|_| {})
                .auth_headers("https://api.github.com/x")
                .is_empty()
        );
    }

    #[test]
    fn throttling_answers_give_the_wait_from_their_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let reset = chrono::Utc::now().timestamp() + 125;
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&reset.to_string()).expect("hv"),
        );
        let wait = rate_limit_wait(StatusCode::FORBIDDEN, &h).expect("throttled");
        assert!((123..=126).contains(&wait.as_secs()), "{wait:?}");

        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("30"));
        assert_eq!(
            rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &h),
            Some(Duration::from_secs(30))
        );
        let date = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_str(&date).expect("hv"));
        let wait = rate_limit_wait(StatusCode::SERVICE_UNAVAILABLE, &h).expect("throttled");
        assert!((88..=90).contains(&wait.as_secs()), "{wait:?}");

        // A plain 403 (a private repository) and a 500 with Retry-After are not throttling.
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &HeaderMap::new()),
            None
        );
        assert_eq!(rate_limit_wait(StatusCode::INTERNAL_SERVER_ERROR, &h), None);
        // Exhausted without a reset time: a minute.
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn the_text_memo_drops_the_oldest_answers_past_its_size() {
        let key = |u: &str| MemoKey {
            url: u.to_owned(),
            accept: None,
        };
        let big = "x".repeat(MEMO_MAX_BYTES / 3 + 1);
        let mut memo = TextMemo::default();
        for u in ["a", "b", "c"] {
            memo.put(key(u), &big);
        }
        assert!(memo.get(&key("a")).is_none(), "the oldest went");
        assert!(memo.get(&key("b")).is_some() && memo.get(&key("c")).is_some());
        assert!(memo.bytes <= MEMO_MAX_BYTES);
        memo.put(key("c"), "small");
        assert_eq!(memo.get(&key("c")).as_deref(), Some("small"));
        assert_eq!(memo.bytes, big.len() + 5);
        memo.put(key("huge"), &"y".repeat(MEMO_MAX_BYTES + 1));
        assert!(memo.get(&key("huge")).is_none(), "too big to keep");
    }

    #[test]
    fn durations_read_like_the_queue_handler_prints_them() {
        assert_eq!(human_duration(Duration::from_secs(5)), "5s");
        assert_eq!(human_duration(Duration::from_secs(65)), "1m 5s");
        assert_eq!(human_duration(Duration::from_secs(3725)), "1h 2m 5s");
    }

    #[test]
    fn statuses_classify_by_whether_retrying_helps() {
        assert!(matches!(
            status_error("u", StatusCode::BAD_GATEWAY),
            InflateError::Transient(_)
        ));
        let e = status_error("https://x/y", StatusCode::NOT_FOUND);
        assert!(matches!(e, InflateError::Host(_)));
        assert_eq!(e.to_string(), "https://x/y answered 404 Not Found");
    }
}
