//! The fixture upstream: one local HTTP server answering as the hosts do.
//!
//! A test starts it on `127.0.0.1:0` ([`Upstream::start`]) and gives the inflator
//! [`Upstream::settings`]: every base URL and a catch-all `hosts.rewrite` point at it, so
//! the inflator keeps using the real, canonical URLs (`https://api.github.com/...`,
//! `https://spacedock.info/...`, `https://ci.example/job/X/`) and the server sees them as
//! paths: `https://host/path?q` arrives as `/https/host/path?q` and is turned back into the
//! canonical URL. Routes, redirects (`Location` headers) and the request record all speak
//! canonical URLs, so fixtures read like the real hosts' answers.
//!
//! Responses are programmable: a fixed [`Reply`] (status, headers, body, delay, chunked),
//! a sequence (the last one repeats), or a handler. Builders answer as the hosts' APIs do
//! (`github_repo`, `github_release`, `spacedock_mod`, `gitlab_project`, `gitea_repo`,
//! `jenkins_job`, `sourceforge_rss`, `file`, ...), so a test can serve what a real `.ckan`
//! says its host said, and serve a generated archive (see [`super::archive`]) as the
//! download. A route registered without a query matches any query; one with a query matches
//! only that query. Unknown URLs answer 404 with a GitHub-like JSON body.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use netkan_common::config::HostSettings;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::http::{
    ARCHIVE_ORG, GITHUB, GITHUB_API, GITLAB_API, HttpClient, SOURCEFORGE, SPACEDOCK,
};

/// One answer.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    delay: Option<Duration>,
    chunked: bool,
    hang_up: bool,
}

impl Reply {
    /// A 200 with `body` and no content type.
    pub fn bytes(body: impl Into<Bytes>) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            delay: None,
            chunked: false,
            hang_up: false,
        }
    }

    /// No answer at all: the connection is closed (a network failure for the client).
    pub fn hang_up() -> Reply {
        Reply {
            hang_up: true,
            ..Reply::status_only(500)
        }
    }

    /// A 200 `text/plain` answer.
    pub fn text(body: impl Into<String>) -> Reply {
        Reply::bytes(body.into()).header("content-type", "text/plain; charset=utf-8")
    }

    /// A 200 JSON answer.
    pub fn json(body: &Value) -> Reply {
        Reply::bytes(body.to_string()).header("content-type", "application/json")
    }

    /// An empty answer with this status.
    pub fn status_only(status: u16) -> Reply {
        Reply::bytes(Bytes::new()).status(status)
    }

    /// A redirect (`302`) to the canonical URL `to`.
    pub fn redirect(to: &str) -> Reply {
        Reply::status_only(302).header("location", to)
    }

    /// GitHub's throttling answer: 403, `X-RateLimit-Remaining: 0`, and the reset time
    /// `reset_in` from now.
    pub fn github_rate_limited(reset_in: Duration) -> Reply {
        let reset = chrono::Utc::now().timestamp() + reset_in.as_secs() as i64;
        Reply::json(&json!({"message": "API rate limit exceeded"}))
            .status(403)
            .header("x-ratelimit-limit", "60")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", &reset.to_string())
    }

    /// The same answer with another status.
    pub fn status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    /// The same answer with one more header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The same answer, sent after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }

    /// The same answer sent in chunks without a `Content-Length`.
    pub fn chunked(mut self) -> Reply {
        self.chunked = true;
        self
    }
}

/// A request the upstream received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The canonical URL, with its query.
    pub url: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of a query parameter.
    pub fn query(&self, key: &str) -> Option<String> {
        reqwest::Url::parse(&self.url)
            .ok()?
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
}

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

enum Responder {
    Sequence(VecDeque<Reply>),
    Handler(Handler),
}

#[derive(Default)]
struct State {
    /// Canonical URL (with or without a query) → responder; later registrations replace
    /// earlier ones.
    routes: Mutex<HashMap<String, Responder>>,
    requests: Mutex<Vec<Recorded>>,
    /// Releases served by [`Upstream::github_release`], per `owner/repo`.
    github_releases: Mutex<HashMap<String, Vec<Value>>>,
}

/// The running server; stopped when dropped.
pub struct Upstream {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    /// Starts a server on a free loopback port.
    ///
    /// # Panics
    /// If no port can be bound (a test cannot run without it).
    pub async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port for the fixture upstream");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let state = Arc::new(State::default());
        let served = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { handle(&state, req).await }
                    });
                    // A client that hangs up mid-answer is not the fixture's problem.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Upstream { addr, state, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the canonical `url` is served (`/https/<host>/<path>`).
    pub fn local_url(&self, url: &str) -> String {
        match url.split_once("://") {
            Some((scheme, rest)) => format!("{}/{scheme}/{rest}", self.base()),
            None => format!("{}/{url}", self.base()),
        }
    }

    /// Host settings that send every request here: each base URL, and `rewrite` entries
    /// for every other `http://` and `https://` URL (Jenkins servers, Gitea hosts, download
    /// sites). Short timeouts; other settings are the defaults.
    pub fn settings(&self) -> HostSettings {
        let mut s = HostSettings {
            github_api: self.local_url(GITHUB_API),
            github: self.local_url(GITHUB),
            gitlab_api: self.local_url(GITLAB_API),
            spacedock: self.local_url(SPACEDOCK),
            sourceforge: self.local_url(SOURCEFORGE),
            archive_org: self.local_url(ARCHIVE_ORG),
            timeout_secs: 10,
            download_timeout_secs: 30,
            ..HostSettings::default()
        };
        for scheme in ["https", "http"] {
            s.rewrite
                .insert(format!("{scheme}://"), format!("{}/{scheme}/", self.base()));
        }
        s
    }

    /// An HTTP client for [`Upstream::settings`], retrying network failures quickly.
    ///
    /// # Panics
    /// If the client cannot be built.
    pub fn client(&self) -> HttpClient {
        Self::client_for(&self.settings())
    }

    /// An HTTP client for edited settings, retrying network failures quickly.
    ///
    /// # Panics
    /// If the client cannot be built.
    pub fn client_for(settings: &HostSettings) -> HttpClient {
        HttpClient::new(settings)
            .expect("the HTTP client builds")
            .with_retry_backoff(Duration::from_millis(5))
    }

    /// Answers `url` with `reply` from now on.
    pub fn on(&self, url: &str, reply: Reply) -> &Self {
        self.route(url, Responder::Sequence(VecDeque::from([reply])))
    }

    /// Answers `url` with each reply in turn; the last one repeats.
    ///
    /// # Panics
    /// If `replies` is empty.
    pub fn on_sequence(&self, url: &str, replies: Vec<Reply>) -> &Self {
        assert!(!replies.is_empty(), "a sequence needs at least one reply");
        self.route(url, Responder::Sequence(replies.into()))
    }

    /// Answers `url` with whatever `handler` says about each request.
    pub fn on_with(
        &self,
        url: &str,
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> &Self {
        self.route(url, Responder::Handler(Arc::new(handler)))
    }

    /// Serves `bytes` at `url` (an archive, a `.version`, a metanetkan target).
    pub fn file(&self, url: &str, bytes: impl Into<Bytes>) -> &Self {
        self.on(url, Reply::bytes(bytes.into()))
    }

    /// Redirects `from` to `to`.
    pub fn redirect(&self, from: &str, to: &str) -> &Self {
        self.on(from, Reply::redirect(to))
    }

    fn route(&self, url: &str, responder: Responder) -> &Self {
        self.state
            .routes
            .lock()
            .expect("no panics while the routes are locked")
            .insert(url.to_owned(), responder);
        self
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state
            .requests
            .lock()
            .expect("no panics while the record is locked")
            .clone()
    }

    /// How many requests asked for exactly `url` (with its query, if it has one; any
    /// query otherwise).
    pub fn count(&self, url: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.url == url || (!url.contains('?') && strip_query(&r.url) == url))
            .count()
    }

    // ----- GitHub -----

    /// `repos/{owner}/{repo}`: `fields` over defaults (name, full_name, html_url, owner as
    /// a user).
    pub fn github_repo(&self, owner: &str, repo: &str, fields: Value) -> &Self {
        let mut body = json!({
            "name": repo,
            "full_name": format!("{owner}/{repo}"),
            "html_url": format!("https://github.com/{owner}/{repo}"),
            "owner": {"login": owner, "type": "User"},
            "has_issues": false,
            "has_discussions": false,
            "has_wiki": false,
            "archived": false,
        });
        merge(&mut body, fields);
        self.on(
            &format!("{GITHUB_API}/repos/{owner}/{repo}"),
            Reply::json(&body),
        )
    }

    /// Adds a release to `repo`'s releases (newest first, as GitHub lists them), served
    /// ten per page at `repos/{owner}/{repo}/releases?per_page=10&page=N`.
    pub fn github_release(&self, owner: &str, repo: &str, release: Value) -> &Self {
        let key = format!("{owner}/{repo}");
        self.state
            .github_releases
            .lock()
            .expect("no panics while releases are locked")
            .entry(key.clone())
            .or_default()
            .push(release);
        let state = self.state.clone();
        self.on_with(&format!("{GITHUB_API}/repos/{key}/releases"), move |req| {
            let all = state
                .github_releases
                .lock()
                .expect("no panics while releases are locked")
                .get(&key)
                .cloned()
                .unwrap_or_default();
            let per_page = req
                .query("per_page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(30usize);
            let page = req
                .query("page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1usize)
                .max(1);
            let items: Vec<Value> = all
                .into_iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .collect();
            Reply::json(&Value::Array(items))
        })
    }

    /// Every release of `repo` at once (see [`Upstream::github_release`]).
    pub fn github_releases(&self, owner: &str, repo: &str, releases: Vec<Value>) -> &Self {
        self.state
            .github_releases
            .lock()
            .expect("no panics while releases are locked")
            .remove(&format!("{owner}/{repo}"));
        if releases.is_empty() {
            return self.on(
                &format!("{GITHUB_API}/repos/{owner}/{repo}/releases"),
                Reply::json(&json!([])),
            );
        }
        for r in releases {
            self.github_release(owner, repo, r);
        }
        self
    }

    /// `orgs/{org}/public_members`.
    pub fn github_org_members(&self, org: &str, logins: &[&str]) -> &Self {
        let members: Vec<Value> = logins
            .iter()
            .map(|l| json!({"login": l, "type": "User"}))
            .collect();
        self.on(
            &format!("{GITHUB_API}/orgs/{org}/public_members"),
            Reply::json(&Value::Array(members)),
        )
    }

    /// The wiki probe: a wiki with pages answers 200, one without redirects to the
    /// repository.
    pub fn github_wiki(&self, owner: &str, repo: &str, has_pages: bool) -> &Self {
        let url = format!("{GITHUB}/{owner}/{repo}/wiki");
        if has_pages {
            self.on(&url, Reply::text("<html>wiki</html>"))
        } else {
            self.on(&url, Reply::redirect(&format!("{GITHUB}/{owner}/{repo}")))
        }
    }

    /// A file through the contents API (`Accept: application/vnd.github.v3.raw`).
    pub fn github_contents(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
        path: &str,
        text: &str,
    ) -> &Self {
        self.on(
            &format!("{GITHUB_API}/repos/{owner}/{repo}/contents/{path}?ref={branch}"),
            Reply::text(text),
        )
    }

    // ----- other hosts -----

    /// `https://spacedock.info/api/mod/{id}`.
    pub fn spacedock_mod(&self, id: i64, body: Value) -> &Self {
        self.on(&format!("{SPACEDOCK}/api/mod/{id}"), Reply::json(&body))
    }

    /// A GitLab project and its releases.
    pub fn gitlab_project(
        &self,
        owner: &str,
        repo: &str,
        project: Value,
        releases: Value,
    ) -> &Self {
        let base = format!("{GITLAB_API}/projects/{owner}%2F{repo}");
        self.on(&base, Reply::json(&project));
        self.on(&format!("{base}/releases"), Reply::json(&releases))
    }

    /// A Gitea (or Forgejo) repository and its releases at `https://{host}/api/v1`.
    pub fn gitea_repo(
        &self,
        host: &str,
        owner: &str,
        repo: &str,
        body: Value,
        releases: Value,
    ) -> &Self {
        let base = format!("https://{host}/api/v1/repos/{owner}/{repo}");
        self.on(&base, Reply::json(&body));
        self.on(&format!("{base}/releases"), Reply::json(&releases))
    }

    /// A Jenkins job (`job_url` ends with `/`) and its builds, newest first; each build
    /// object needs `url` (ending with `/`) and is served at `<url>api/json`.
    pub fn jenkins_job(&self, job_url: &str, builds: Vec<Value>) -> &Self {
        let list: Vec<Value> = builds
            .iter()
            .map(|b| json!({"number": b.get("number").cloned().unwrap_or(Value::Null), "url": b["url"]}))
            .collect();
        self.on(
            &format!("{job_url}api/json"),
            Reply::json(&json!({"builds": list})),
        );
        for b in builds {
            if let Some(url) = b.get("url").and_then(Value::as_str) {
                self.on(&format!("{url}api/json"), Reply::json(&b));
            }
        }
        self
    }

    /// `https://sourceforge.net/projects/{project}/rss`.
    pub fn sourceforge_rss(&self, project: &str, xml: &str) -> &Self {
        self.on(
            &format!("{SOURCEFORGE}/projects/{project}/rss"),
            Reply::text(xml).header("content-type", "application/rss+xml"),
        )
    }
}

fn strip_query(url: &str) -> &str {
    url.split_once('?').map_or(url, |(u, _)| u)
}

/// `fields` merged over `base`, recursively for objects.
fn merge(base: &mut Value, fields: Value) {
    match (base, fields) {
        (Value::Object(b), Value::Object(f)) => {
            for (k, v) in f {
                match b.get_mut(&k) {
                    Some(existing @ Value::Object(_)) if v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, f) => *b = f,
    }
}

/// The canonical URL of a request path `/https/host/path?q`.
fn canonical(path_and_query: &str) -> String {
    let rest = path_and_query.trim_start_matches('/');
    match rest.split_once('/') {
        Some((scheme @ ("http" | "https"), tail)) => format!("{scheme}://{tail}"),
        _ => format!("unrouted:{path_and_query}"),
    }
}

async fn handle(
    state: &State,
    req: Request<Incoming>,
) -> Result<Response<BoxBody<Bytes, Infallible>>, std::io::Error> {
    let recorded = Recorded {
        method: req.method().to_string(),
        url: canonical(req.uri().path_and_query().map_or("/", |p| p.as_str())),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
    };
    state
        .requests
        .lock()
        .expect("no panics while the record is locked")
        .push(recorded.clone());
    let reply = {
        let mut routes = state
            .routes
            .lock()
            .expect("no panics while the routes are locked");
        let key = if routes.contains_key(&recorded.url) {
            Some(recorded.url.clone())
        } else {
            let bare = strip_query(&recorded.url).to_owned();
            routes.contains_key(&bare).then_some(bare)
        };
        match key.and_then(|k| routes.get_mut(&k)) {
            Some(Responder::Sequence(replies)) => {
                if replies.len() > 1 {
                    replies.pop_front()
                } else {
                    replies.front().cloned()
                }
            }
            Some(Responder::Handler(h)) => {
                let h = h.clone();
                drop(routes);
                Some(h(&recorded))
            }
            None => None,
        }
    };
    let reply = reply.unwrap_or_else(|| {
        Reply::json(&json!({"message": "Not Found", "url": recorded.url})).status(404)
    });
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    if reply.hang_up {
        return Err(std::io::Error::other("the fixture hangs up"));
    }
    let body: BoxBody<Bytes, Infallible> = if reply.chunked {
        let chunks: Vec<Result<Frame<Bytes>, Infallible>> = reply
            .body
            .chunks(8192)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        StreamBody::new(futures::stream::iter(chunks)).boxed()
    } else {
        http_body_util::Full::new(reply.body.clone()).boxed()
    };
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in &reply.headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(v),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response)
}
