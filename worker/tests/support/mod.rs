//! Shared by the mirror and add tests: a recording local HTTP server that plays archive.org,
//! GitHub and SpaceDock (actix-web on a free port, answers chosen by the test), bare git
//! repositories in temp dirs, the worker in-process against a private redis-server, and zips
//! built in the test.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub, unused_imports)] // Test helpers fail loudly by design.

pub mod corpus;
pub mod github;
pub mod hosts;
pub mod world;

pub use world::{bare_repo, git};

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use netkan_common::config::{GameSettings, Secret, Settings};
use netkan_common::log::{Level, LogLine, LogQuery};
use netkan_common::testing::{TestRedis, eventually};
use netkan_common::{Game, JobId, JobQueue, JobRecord, NewJob, QueueName};
use tokio_util::sync::CancellationToken;

/// One request the fake server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// What the fake server answers.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(value: serde_json::Value) -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }

    pub fn bytes(body: Vec<u8>) -> Self {
        Self {
            status: 200,
            content_type: "application/octet-stream",
            body,
        }
    }

    pub fn status(status: u16, text: &str) -> Self {
        Self {
            status,
            content_type: "text/plain",
            body: text.as_bytes().to_vec(),
        }
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// A local HTTP server that records every request and answers with the test's handler.
pub struct FakeServer {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeServer {
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let state = (requests.clone(), handler);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .default_service(web::to(serve))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url,
            requests,
            handle,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests with this method whose path starts with `prefix`.
    pub fn matching(&self, method: &str, prefix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .collect()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

type State = (Arc<Mutex<Vec<Recorded>>>, Arc<Handler>);

async fn serve(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let recorded = Recorded {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or("<binary>").to_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let reply = (state.1)(&recorded);
    state.0.lock().unwrap().push(recorded);
    HttpResponse::build(actix_web::http::StatusCode::from_u16(reply.status).unwrap())
        .content_type(reply.content_type)
        .body(reply.body)
}

/// A zip holding `files` (path, bytes), built with the inflator's test archive builder.
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    files
        .iter()
        .fold(
            netkan_inflator::testing::archive::ZipBuilder::new(),
            |b, (name, bytes)| b.file(name, bytes),
        )
        .build()
}

pub fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Settings for a test: the data dir in `root`, fast retries, the given roles, and the
/// game `ksp` with the given repositories.
pub fn settings(
    root: &Path,
    redis: &TestRedis,
    roles: &[&str],
    netkan: Option<&Path>,
    ckanmeta: Option<&Path>,
) -> Settings {
    let mut s = Settings {
        data_dir: root.join("data"),
        ..Settings::default()
    };
    s.redis.url = Some(Secret::new(redis.url()));
    s.redis.pool_size = 4;
    s.worker.roles = roles.iter().map(|r| (*r).to_owned()).collect();
    s.jobs.lease_ms = 5_000;
    s.jobs.maintenance_interval_ms = 100;
    s.jobs.backoff_base_ms = 50;
    s.jobs.backoff_max_ms = 200;
    s.jobs.max_attempts = 3;
    s.games.insert(
        "ksp".into(),
        GameSettings {
            netkan: netkan.map(|p| Secret::new(p.display().to_string())),
            ckanmeta: ckanmeta.map(|p| Secret::new(p.display().to_string())),
            ..GameSettings::default()
        },
    );
    s
}

/// The worker in-process, stopped when dropped.
pub struct Worker {
    stop: CancellationToken,
    pub settings: Settings,
}

impl Worker {
    pub fn start(settings: Settings, redis: &TestRedis) -> Self {
        let stop = CancellationToken::new();
        let (s, url, token) = (settings.clone(), redis.url(), stop.clone());
        tokio::spawn(async move { netkan_worker::run(&s, &url, token).await });
        Self { stop, settings }
    }

    pub fn jq(&self) -> JobQueue {
        self.settings.job_queue()
    }

    pub async fn enqueue(&self, redis: &TestRedis, job: NewJob) -> JobId {
        let mut conn = redis.conn().await;
        self.jq().enqueue(&mut conn, &[job]).await.unwrap()[0]
    }

    /// Waits until the job reaches a state satisfying `done`.
    pub async fn wait(
        &self,
        redis: &TestRedis,
        id: JobId,
        what: &str,
        done: impl Fn(&JobRecord) -> bool,
    ) -> JobRecord {
        let jq = self.jq();
        let conn = redis.conn().await;
        eventually(Duration::from_secs(60), what, || {
            let (mut c, jq) = (conn.clone(), jq.clone());
            let done = &done;
            async move { jq.job(&mut c, &id).await.unwrap().filter(|r| done(r)) }
        })
        .await
    }

    pub async fn finished(&self, redis: &TestRedis, id: JobId) -> JobRecord {
        self.wait(redis, id, &format!("job {id} to finish"), |r| {
            r.state.is_finished()
        })
        .await
    }

    /// Enqueues `job` and waits for it to finish.
    pub async fn run(&self, redis: &TestRedis, job: NewJob) -> (JobId, JobRecord) {
        let id = self.enqueue(redis, job).await;
        (id, self.finished(redis, id).await)
    }

    /// Enqueues `job`, waits for it and checks it succeeded.
    pub async fn run_ok(&self, redis: &TestRedis, job: NewJob) -> JobId {
        let (id, record) = self.run(redis, job).await;
        assert_eq!(
            record.state,
            netkan_common::JobState::Succeeded,
            "{:?}",
            record.last_error
        );
        id
    }

    pub async fn log(&self, redis: &TestRedis, id: JobId) -> Vec<LogLine> {
        let mut conn = redis.conn().await;
        self.jq()
            .logs(&mut conn, &id, &LogQuery::default())
            .await
            .unwrap()
    }

    /// The message of the last NOTICE line.
    pub async fn last_notice(&self, redis: &TestRedis, id: JobId) -> String {
        self.log(redis, id)
            .await
            .into_iter()
            .rev()
            .find(|l| l.level == Level::Notice)
            .map(|l| l.message)
            .unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Waits until `count()` reaches `n`.
pub async fn at_least(n: usize, what: &str, count: impl Fn() -> usize) {
    eventually(Duration::from_secs(60), what, || {
        let c = count();
        async move { (c >= n).then_some(()) }
    })
    .await;
}

/// A job of `kind` on `queue` for `ksp`, as the web enqueues it.
pub fn job(kind: &str, queue: QueueName, body: &str) -> NewJob {
    NewJob::new(kind, queue)
        .with_game(Game::ksp())
        .with_attr("GameId", "ksp")
        .with_body(body)
}
