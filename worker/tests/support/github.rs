//! A fake GitHub REST API on a free port: repositories, pull requests (one open per head),
//! labels, comments and the rate limit, recording what it was asked.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// A pull request the fake holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub number: u64,
    pub repo: String,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub comments: Vec<String>,
}

/// What the fake saw and holds.
#[derive(Debug, Default)]
pub struct State {
    pub pulls: Vec<Pull>,
    /// `Authorization` headers received.
    pub auth: Vec<String>,
    /// `User-Agent` headers received.
    pub agents: Vec<String>,
    /// What `GET /rate_limit` answers as `remaining`.
    pub remaining: u64,
    /// Answer every call with this status (to test failures).
    pub fail_with: Option<u16>,
    /// With `fail_with`: answer with a proxy's HTML error page instead of GitHub's JSON.
    pub fail_as_html: bool,
    /// Bodies POSTed to `/notify` (the notification webhook).
    pub notices: Vec<Value>,
    /// `/notify` answers 500.
    pub notify_fails: bool,
}

/// The running fake.
pub struct FakeGithub {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        let h = self.handle.clone();
        tokio::spawn(async move { h.stop(false).await });
    }
}

type Shared = web::Data<Arc<Mutex<State>>>;

fn record(state: &Shared, req: &HttpRequest) -> Option<HttpResponse> {
    let mut s = state.lock().unwrap();
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    s.auth.push(header("authorization"));
    s.agents.push(header("user-agent"));
    let html = s.fail_as_html;
    s.fail_with.map(|code| {
        let mut reply = HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap());
        if html {
            reply
                .content_type("text/html")
                .body("<html><body><h1>502 Bad Gateway</h1></body></html>")
        } else {
            reply.json(json!({"message": "fake failure"}))
        }
    })
}

async fn show_repo(
    state: Shared,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    if let Some(r) = record(&state, &req) {
        return r;
    }
    let (o, r) = path.into_inner();
    HttpResponse::Ok().json(json!({"full_name": format!("{o}/{r}"), "default_branch": "main"}))
}

async fn create_pull(
    state: Shared,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> HttpResponse {
    if let Some(r) = record(&state, &req) {
        return r;
    }
    let (o, r) = path.into_inner();
    let repo = format!("{o}/{r}");
    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut s = state.lock().unwrap();
    let head = field("head");
    if s.pulls.iter().any(|p| p.repo == repo && p.head == head) {
        return HttpResponse::UnprocessableEntity().json(json!({
            "message": "Validation Failed",
            "errors": [{"resource": "PullRequest", "code": "custom",
                        "message": format!("A pull request already exists for {o}:{head}.")}]
        }));
    }
    let number = s.pulls.len() as u64 + 1;
    s.pulls.push(Pull {
        number,
        repo: repo.clone(),
        head,
        base: field("base"),
        title: field("title"),
        body: field("body"),
        labels: Vec::new(),
        comments: Vec::new(),
    });
    HttpResponse::Created().json(
        json!({"number": number, "html_url": format!("https://github.test/{repo}/pull/{number}")}),
    )
}

#[derive(serde::Deserialize)]
struct PullQuery {
    head: String,
    state: String,
}

async fn list_pulls(
    state: Shared,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<PullQuery>,
) -> HttpResponse {
    if let Some(r) = record(&state, &req) {
        return r;
    }
    let (o, r) = path.into_inner();
    let repo = format!("{o}/{r}");
    assert_eq!(q.state, "open");
    let s = state.lock().unwrap();
    let found: Vec<Value> = s
        .pulls
        .iter()
        .filter(|p| p.repo == repo && format!("{o}:{}", p.head) == q.head)
        .map(|p| json!({"number": p.number, "html_url": format!("https://github.test/{repo}/pull/{}", p.number)}))
        .collect();
    HttpResponse::Ok().json(found)
}

async fn set_labels(
    state: Shared,
    req: HttpRequest,
    path: web::Path<(String, String, u64)>,
    body: web::Json<Value>,
) -> HttpResponse {
    if let Some(r) = record(&state, &req) {
        return r;
    }
    let (_, _, n) = path.into_inner();
    let labels: Vec<String> = body["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    let mut s = state.lock().unwrap();
    let Some(p) = s.pulls.iter_mut().find(|p| p.number == n) else {
        return HttpResponse::NotFound().json(json!({"message": "Not Found"}));
    };
    p.labels = labels.clone();
    HttpResponse::Ok().json(
        labels
            .iter()
            .map(|l| json!({"name": l}))
            .collect::<Vec<_>>(),
    )
}

async fn comment(
    state: Shared,
    req: HttpRequest,
    path: web::Path<(String, String, u64)>,
    body: web::Json<Value>,
) -> HttpResponse {
    if let Some(r) = record(&state, &req) {
        return r;
    }
    let (_, _, n) = path.into_inner();
    let mut s = state.lock().unwrap();
    let Some(p) = s.pulls.iter_mut().find(|p| p.number == n) else {
        return HttpResponse::NotFound().json(json!({"message": "Not Found"}));
    };
    p.comments
        .push(body["body"].as_str().unwrap_or("").to_owned());
    HttpResponse::Created().json(json!({"id": 1}))
}

async fn rate_limit(state: Shared, req: HttpRequest) -> HttpResponse {
    if let Some(r) = record(&state, &req) {
        return r;
    }
    let remaining = state.lock().unwrap().remaining;
    HttpResponse::Ok().json(json!({"resources": {"core": {"limit": 5000, "remaining": remaining, "reset": 1_700_000_000u64, "used": 5000 - remaining}}}))
}

async fn notify(state: Shared, body: web::Json<Value>) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.notices.push(body.into_inner());
    if s.notify_fails {
        HttpResponse::InternalServerError().finish()
    } else {
        HttpResponse::NoContent().finish()
    }
}

impl FakeGithub {
    /// Starts one (on the current tokio runtime).
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            remaining: 5000,
            ..State::default()
        }));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/repos/{o}/{r}", web::get().to(show_repo))
                .route("/repos/{o}/{r}/pulls", web::post().to(create_pull))
                .route("/repos/{o}/{r}/pulls", web::get().to(list_pulls))
                .route(
                    "/repos/{o}/{r}/issues/{n}/labels",
                    web::put().to(set_labels),
                )
                .route(
                    "/repos/{o}/{r}/issues/{n}/comments",
                    web::post().to(comment),
                )
                .route("/rate_limit", web::get().to(rate_limit))
                .route("/notify", web::post().to(notify))
        })
        .listen(listener)
        .unwrap()
        .workers(1)
        .disable_signals()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url, state, handle }
    }

    /// The notification webhook's URL.
    pub fn notify_url(&self) -> String {
        format!("{}/notify", self.url)
    }

    /// The notices received.
    pub fn notices(&self) -> Vec<Value> {
        self.state.lock().unwrap().notices.clone()
    }

    /// A copy of the pull requests.
    pub fn pulls(&self) -> Vec<Pull> {
        self.state.lock().unwrap().pulls.clone()
    }
}
