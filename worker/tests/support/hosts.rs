//! Fake download-count hosts on one free port, answering from a deterministic [`model`]:
//! GitHub GraphQL (`POST /graphql`, the reference's query with aliases and three fork
//! levels) and the REST issue routes the ticket closer uses, SpaceDock's
//! `POST /api/download_counts`, archive.org's `GET /views/v1/short/<ids>` and SourceForge's
//! `GET /projects/<p>/files/stats/json`. It records what it was asked, can fail a host, throttle
//! GraphQL, or hold GraphQL answers until released.
//!
//! `worker/tests/data/download_counts_expected.py` computes the same model in Python; keep
//! them in step.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// The deterministic answers of the fake hosts.
pub mod model {
    /// 32-bit FNV-1a.
    pub fn fnv(text: &str) -> u32 {
        let mut h: u32 = 0x811c_9dc5;
        for b in text.bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        h
    }

    /// GitHub has no such repository.
    pub fn gh_missing(owner: &str, repo: &str) -> bool {
        fnv(&format!("gh:{owner}/{repo}")).is_multiple_of(23)
    }

    /// A repository's own release downloads.
    pub fn gh_own(owner: &str, repo: &str) -> u64 {
        u64::from(fnv(&format!("gh-count:{owner}/{repo}")) % 100_000)
    }

    /// The repository it was forked from, if any.
    pub fn gh_parent(owner: &str, repo: &str) -> Option<(String, String)> {
        (fnv(&format!("gh-parent:{owner}/{repo}")).is_multiple_of(3))
            .then(|| (format!("{owner}-up"), repo.to_owned()))
    }

    /// Its downloads and its parents', three levels up (what the query asks for).
    pub fn gh_total(owner: &str, repo: &str) -> u64 {
        let mut total = 0;
        let mut at = Some((owner.to_owned(), repo.to_owned()));
        for _ in 0..4 {
            let Some((o, r)) = at else { break };
            total += gh_own(&o, &r);
            at = gh_parent(&o, &r);
        }
        total
    }

    /// SpaceDock's count for a mod id; `None`: absent from the answer.
    pub fn sd(id: u64) -> Option<u64> {
        if fnv(&format!("sd:{id}")).is_multiple_of(13) {
            None
        } else if fnv(&format!("sd-zero:{id}")).is_multiple_of(11) {
            Some(0)
        } else {
            Some(u64::from(fnv(&format!("sd-count:{id}")) % 50_000))
        }
    }

    /// archive.org's all-time views of an item; `None`: absent from the answer.
    pub fn ia(item: &str) -> Option<u64> {
        (!fnv(&format!("ia:{item}")).is_multiple_of(9))
            .then(|| u64::from(fnv(&format!("ia-count:{item}")) % 1000))
    }

    /// SourceForge's total for a project.
    pub fn sf(project: &str) -> u64 {
        u64::from(fnv(&format!("sf-count:{project}")) % 10_000)
    }
}

/// The fragments the reference's `downloads_query.graphql` ends with.
const FRAGMENTS: &str = "}
fragment getDownloads on Repository {
    # Check 3 parent repos, GraphQL purposely discourages unbounded recursion
    parent {
        parent {
            parent {
                ...downloadsFromRelease
            }
            ...downloadsFromRelease
        }
        ...downloadsFromRelease
    }
    ...downloadsFromRelease
}
fragment downloadsFromRelease on Repository {
    releases(last: 100) { nodes {
        releaseAssets(first: 10) { nodes {
            downloadCount
        } }
    } }
}";

/// A throttled answer to give a GraphQL request instead of the real one.
#[derive(Debug, Clone)]
pub struct Throttle {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

/// An issue of the fake GitHub.
#[derive(Debug, Clone)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub author: String,
    pub labels: Vec<String>,
    pub assignee: Option<String>,
    /// Logins of the commenters, oldest first.
    pub commenters: Vec<String>,
    pub updated_at: String,
    pub state: String,
    pub state_reason: Option<String>,
    /// Bodies of the comments posted through the API.
    pub posted: Vec<String>,
}

impl Issue {
    /// An open support issue by `author` with comments by `commenters`, updated `updated_at`.
    pub fn support(number: u64, author: &str, commenters: &[&str], updated_at: &str) -> Self {
        Self {
            number,
            title: format!("Problem {number}"),
            author: author.into(),
            labels: vec!["support".into()],
            assignee: None,
            commenters: commenters.iter().map(|s| (*s).to_owned()).collect(),
            updated_at: updated_at.into(),
            state: "open".into(),
            state_reason: None,
            posted: Vec::new(),
        }
    }
}

/// What the fake saw and holds.
#[derive(Debug, Default)]
pub struct State {
    /// `METHOD path` of every request, in order.
    pub requests: Vec<String>,
    /// Repositories per GraphQL query.
    pub graphql_batches: Vec<usize>,
    /// `Authorization` of each GraphQL request.
    pub graphql_auth: Vec<String>,
    /// Answers for the next GraphQL requests, before the real ones.
    pub throttle: VecDeque<Throttle>,
    /// Hosts that answer 500: `graphql`, `spacedock`, `archive`, `sourceforge`, `issues`.
    pub failing: BTreeSet<String>,
    /// Bodies POSTed to SpaceDock.
    pub spacedock_forms: Vec<String>,
    /// Items per archive.org request.
    pub archive_batches: Vec<usize>,
    /// Issues per repository (`owner/name`).
    pub issues: BTreeMap<String, Vec<Issue>>,
}

/// The running fake.
pub struct FakeHosts {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    gate: tokio::sync::watch::Sender<bool>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for FakeHosts {
    fn drop(&mut self) {
        let h = self.handle.clone();
        tokio::spawn(async move { h.stop(false).await });
    }
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<State>>,
    gate: tokio::sync::watch::Receiver<bool>,
}

type Data = web::Data<Shared>;

fn record(data: &Data, req: &HttpRequest, host: &str) -> Option<HttpResponse> {
    let mut s = data.state.lock().unwrap();
    s.requests.push(format!("{} {}", req.method(), req.uri()));
    s.failing
        .contains(host)
        .then(|| HttpResponse::InternalServerError().body("fake failure"))
}

/// The answer for one repository at `depth` parents up (the query asks three levels).
fn repo_answer(owner: &str, repo: &str, depth: usize) -> Value {
    let own = model::gh_own(owner, repo);
    let (a, b) = (own / 3, own / 5);
    let mut v = json!({"releases": {"nodes": [
        {"releaseAssets": {"nodes": [{"downloadCount": a}, {"downloadCount": b}]}},
        {"releaseAssets": {"nodes": [{"downloadCount": own - a - b}]}},
        {"releaseAssets": {"nodes": []}}
    ]}});
    if depth < 3 {
        v["parent"] = match model::gh_parent(owner, repo) {
            Some((o, r)) => repo_answer(&o, &r, depth + 1),
            None => Value::Null,
        };
    }
    v
}

/// Reads `xAlias: repository(owner: "o", name: "r") { ...getDownloads }`.
fn parse_module_line(line: &str) -> Option<(String, String, String)> {
    let (alias, rest) = line.split_once(": repository(owner: \"")?;
    let (owner, rest) = rest.split_once("\", name: \"")?;
    let (repo, rest) = rest.split_once("\")")?;
    (rest == " { ...getDownloads }").then(|| (alias.to_owned(), owner.to_owned(), repo.to_owned()))
}

async fn graphql(data: Data, req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    if let Some(r) = record(&data, &req, "graphql") {
        return r;
    }
    let mut gate = data.gate.clone();
    let _ = gate.wait_for(|open| *open).await;
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let throttled = {
        let mut s = data.state.lock().unwrap();
        s.graphql_auth.push(auth);
        s.throttle.pop_front()
    };
    if let Some(t) = throttled {
        let mut resp =
            HttpResponse::build(actix_web::http::StatusCode::from_u16(t.status).unwrap());
        for (k, v) in &t.headers {
            resp.insert_header((k.as_str(), v.as_str()));
        }
        return resp.json(json!({"message": "API rate limit exceeded"}));
    }
    let query = body["query"].as_str().unwrap_or("");
    let Some(modules) = query
        .strip_prefix("query {\n")
        .and_then(|q| q.strip_suffix(FRAGMENTS))
    else {
        return HttpResponse::BadRequest()
            .json(json!({"errors": [{"message": "not the reference's query"}]}));
    };
    let mut out = serde_json::Map::new();
    let mut errors = Vec::new();
    let lines: Vec<&str> = modules.lines().collect();
    for line in &lines {
        let Some((alias, owner, repo)) = parse_module_line(line) else {
            return HttpResponse::BadRequest()
                .json(json!({"errors": [{"message": format!("bad line {line:?}")}]}));
        };
        if model::gh_missing(&owner, &repo) {
            out.insert(alias.clone(), Value::Null);
            errors.push(json!({"type": "NOT_FOUND", "path": [alias],
                "message": format!("Could not resolve to a Repository with the name '{owner}/{repo}'.")}));
        } else {
            out.insert(alias, repo_answer(&owner, &repo, 0));
        }
    }
    data.state.lock().unwrap().graphql_batches.push(lines.len());
    let mut answer = json!({"data": out});
    if !errors.is_empty() {
        answer["errors"] = Value::Array(errors);
    }
    HttpResponse::Ok().json(answer)
}

async fn spacedock(data: Data, req: HttpRequest, body: String) -> HttpResponse {
    if let Some(r) = record(&data, &req, "spacedock") {
        return r;
    }
    data.state
        .lock()
        .unwrap()
        .spacedock_forms
        .push(body.clone());
    let counts: Vec<Value> = body
        .split('&')
        .filter_map(|kv| kv.strip_prefix("mod_id="))
        .filter_map(|id| id.parse::<u64>().ok())
        .filter_map(|id| model::sd(id).map(|n| json!({"id": id, "downloads": n})))
        .collect();
    HttpResponse::Ok().json(json!({"download_counts": counts}))
}

async fn archive(data: Data, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    if let Some(r) = record(&data, &req, "archive") {
        return r;
    }
    let ids: Vec<String> = path.split(',').map(str::to_owned).collect();
    data.state.lock().unwrap().archive_batches.push(ids.len());
    let mut out = serde_json::Map::new();
    for id in ids {
        if let Some(n) = model::ia(&id) {
            out.insert(id, json!({"all_time": n, "last_30day": 0, "last_7day": 0}));
        }
    }
    HttpResponse::Ok().json(out)
}

#[derive(serde::Deserialize)]
struct StatsQuery {
    start_date: String,
    end_date: String,
    os_by_country: String,
    period: String,
}

async fn sourceforge(
    data: Data,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<StatsQuery>,
) -> HttpResponse {
    if let Some(r) = record(&data, &req, "sourceforge") {
        return r;
    }
    assert_eq!(
        (
            q.start_date.as_str(),
            q.os_by_country.as_str(),
            q.period.as_str()
        ),
        ("2010-01-01", "false", "monthly")
    );
    assert_eq!(q.end_date.len(), 10, "end_date is today as YYYY-MM-DD");
    HttpResponse::Ok().json(json!({"total": model::sf(&path), "summaries": {}}))
}

#[derive(serde::Deserialize)]
struct IssueQuery {
    state: String,
    labels: String,
    assignee: String,
    per_page: usize,
    page: usize,
}

fn issue_json(repo: &str, i: &Issue) -> Value {
    json!({
        "number": i.number,
        "title": i.title,
        "user": {"login": i.author},
        "comments": i.commenters.len() + i.posted.len(),
        "updated_at": i.updated_at,
        "state": i.state,
        "labels": i.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        "html_url": format!("https://github.test/{repo}/issues/{}", i.number),
    })
}

async fn list_issues(
    data: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<IssueQuery>,
) -> HttpResponse {
    if let Some(r) = record(&data, &req, "issues") {
        return r;
    }
    let (o, r) = path.into_inner();
    let repo = format!("{o}/{r}");
    let s = data.state.lock().unwrap();
    let matching: Vec<Value> = s
        .issues
        .get(&repo)
        .into_iter()
        .flatten()
        .filter(|i| i.state == q.state && i.labels.contains(&q.labels))
        .filter(|i| q.assignee != "none" || i.assignee.is_none())
        .map(|i| issue_json(&repo, i))
        .collect();
    HttpResponse::Ok().json(page_of(matching, q.page, q.per_page))
}

#[derive(serde::Deserialize)]
struct PageQuery {
    per_page: usize,
    page: usize,
}

/// Runs `f` on the issue named by the path, or answers 404.
fn on_issue(
    data: &Data,
    req: &HttpRequest,
    (o, r, n): (String, String, u64),
    f: impl FnOnce(&mut Issue) -> HttpResponse,
) -> HttpResponse {
    if let Some(resp) = record(data, req, "issues") {
        return resp;
    }
    let mut s = data.state.lock().unwrap();
    match s
        .issues
        .get_mut(&format!("{o}/{r}"))
        .and_then(|is| is.iter_mut().find(|i| i.number == n))
    {
        Some(issue) => f(issue),
        None => HttpResponse::NotFound().json(json!({"message": "Not Found"})),
    }
}

/// Page `page` (from 1) of `per_page` items.
fn page_of(items: Vec<Value>, page: usize, per_page: usize) -> Vec<Value> {
    items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect()
}

async fn list_comments(
    data: Data,
    req: HttpRequest,
    path: web::Path<(String, String, u64)>,
    q: web::Query<PageQuery>,
) -> HttpResponse {
    on_issue(&data, &req, path.into_inner(), |issue| {
        let all: Vec<Value> = issue
            .commenters
            .iter()
            .map(|login| json!({"user": {"login": login}, "body": "..."}))
            .collect();
        HttpResponse::Ok().json(page_of(all, q.page, q.per_page))
    })
}

async fn post_comment(
    data: Data,
    req: HttpRequest,
    path: web::Path<(String, String, u64)>,
    body: web::Json<Value>,
) -> HttpResponse {
    on_issue(&data, &req, path.into_inner(), |issue| {
        issue
            .posted
            .push(body["body"].as_str().unwrap_or("").to_owned());
        HttpResponse::Created().json(json!({"id": 1}))
    })
}

async fn edit_issue(
    data: Data,
    req: HttpRequest,
    path: web::Path<(String, String, u64)>,
    body: web::Json<Value>,
) -> HttpResponse {
    on_issue(&data, &req, path.into_inner(), |issue| {
        if let Some(state) = body["state"].as_str() {
            issue.state = state.to_owned();
        }
        issue.state_reason = body["state_reason"].as_str().map(str::to_owned);
        HttpResponse::Ok().json(json!({"number": issue.number}))
    })
}

impl FakeHosts {
    /// Starts one (on the current tokio runtime).
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let (gate, rx) = tokio::sync::watch::channel(true);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let data = web::Data::new(Shared {
            state: state.clone(),
            gate: rx,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::JsonConfig::default().limit(16 * 1024 * 1024))
                .app_data(web::PayloadConfig::default().limit(16 * 1024 * 1024))
                .route("/graphql", web::post().to(graphql))
                .route("/api/download_counts", web::post().to(spacedock))
                .route("/views/v1/short/{ids}", web::get().to(archive))
                .route("/projects/{p}/files/stats/json", web::get().to(sourceforge))
                .route("/repos/{o}/{r}/issues", web::get().to(list_issues))
                .route(
                    "/repos/{o}/{r}/issues/{n}/comments",
                    web::get().to(list_comments),
                )
                .route(
                    "/repos/{o}/{r}/issues/{n}/comments",
                    web::post().to(post_comment),
                )
                .route("/repos/{o}/{r}/issues/{n}", web::patch().to(edit_issue))
        })
        .listen(listener)
        .unwrap()
        .workers(2)
        .disable_signals()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url,
            state,
            gate,
            handle,
        }
    }

    /// Holds GraphQL answers (`false`) until opened again (`true`).
    pub fn set_gate(&self, open: bool) {
        self.gate.send_replace(open);
    }

    /// The requests seen so far whose `METHOD path` starts with `prefix`.
    pub fn requests(&self, prefix: &str) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.starts_with(prefix))
            .cloned()
            .collect()
    }
}
