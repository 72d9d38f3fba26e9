//! HTTP tests of every route of the web front end, each against its own `redis-server` and
//! its own server on a free port (`spawn_app`). Workers are played by the queue API
//! (`Worker`): the web must not depend on the worker crate.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

mod adversarial;
mod api;
mod browser;
mod files;
mod fuzz_smoke;
mod github;
mod health;
mod inflate;
mod logs;
mod queues;
mod spacedock;
mod status;

use std::collections::BTreeMap;
use std::net::TcpListener;

use hmac::{Hmac, KeyInit, Mac};
use netkan_common::config::{Secret, Settings};
use netkan_common::queue::{Finish, Outcome};
use netkan_common::testing::TestRedis;
use netkan_common::{ClaimedJob, JobId, JobQueue, JobRecord, Level, NewJob, QueueName};
use redis::aio::MultiplexedConnection;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) const GITHUB_SECRET: &str = "It's a Secret to Everybody";
pub(crate) const ADMIN_TOKEN: &str = "correct horse battery staple";

/// A running web front end on its own Redis.
pub(crate) struct TestApp {
    pub(crate) address: String,
    pub(crate) redis: TestRedis,
    pub(crate) jq: JobQueue,
    pub(crate) client: reqwest::Client,
    shutdown: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts the app with the test settings (GitHub secret and admin token set).
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the app after `adjust` has changed the test settings.
pub(crate) async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let redis = TestRedis::start();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let mut settings = Settings::default();
    settings.web.github_secret = Secret::new(GITHUB_SECRET);
    settings.web.admin_token = Secret::new(ADMIN_TOKEN);
    settings.web.base_url = address.clone();
    settings.web.workers = 1;
    settings.web.max_body_bytes = 64 * 1024;
    settings.redis.pool_size = 4;
    settings.games.insert("ksp2".into(), Default::default());
    adjust(&mut settings);
    let jq = settings.job_queue();
    let shutdown = CancellationToken::new();
    let url = redis.url();
    let token = shutdown.clone();
    let server =
        tokio::spawn(async move { netkan_web::run(&settings, &url, listener, token).await });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        address,
        redis,
        jq,
        client,
        shutdown,
        server: Some(server),
    }
}

/// How a test signs a GitHub webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sig {
    /// `X-Hub-Signature-256` with the right secret.
    Sha256,
    /// `X-Hub-Signature` (SHA-1) with the right secret.
    Sha1,
    /// `X-Hub-Signature-256` with another secret.
    Wrong,
    /// No signature header.
    Missing,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `X-Hub-Signature-256` GitHub would send for `body` under `secret`.
pub(crate) fn sign256(secret: &str, body: &[u8]) -> String {
    let mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .unwrap()
        .chain_update(body)
        .finalize()
        .into_bytes();
    format!("sha256={}", hex(&mac))
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub(crate) async fn conn(&self) -> MultiplexedConnection {
        self.redis.conn().await
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// POSTs `body` without a Content-Type (as `/inflate` clients may).
    pub(crate) async fn post_raw(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn post_json(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    pub(crate) fn form_request(
        &self,
        path: &str,
        pairs: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    pub(crate) async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        self.form_request(path, pairs).send().await.unwrap()
    }

    /// POSTs a GitHub webhook event with the given signature.
    pub(crate) async fn post_github(
        &self,
        path: &str,
        event: &str,
        body: &str,
        sig: Sig,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
            .body(body.to_owned());
        match sig {
            Sig::Sha256 => {
                req = req.header(
                    "x-hub-signature-256",
                    sign256(GITHUB_SECRET, body.as_bytes()),
                )
            }
            Sig::Sha1 => {
                let mac = Hmac::<sha1::Sha1>::new_from_slice(GITHUB_SECRET.as_bytes())
                    .unwrap()
                    .chain_update(body.as_bytes())
                    .finalize()
                    .into_bytes();
                req = req.header("x-hub-signature", format!("sha1={}", hex(&mac)));
            }
            Sig::Wrong => {
                req = req.header(
                    "x-hub-signature-256",
                    sign256("not the secret", body.as_bytes()),
                )
            }
            Sig::Missing => {}
        }
        req.send().await.unwrap()
    }

    /// The records of the jobs a response names in `X-Netkan-Job-Id`.
    pub(crate) async fn jobs_of(&self, res: &reqwest::Response) -> Vec<JobRecord> {
        let mut conn = self.conn().await;
        let mut out = Vec::new();
        for id in job_ids(res) {
            out.push(
                self.jq
                    .job(&mut conn, &id)
                    .await
                    .unwrap()
                    .expect("the job exists"),
            );
        }
        out
    }

    /// Stops the server and waits until it has stopped.
    pub(crate) async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

/// The ids in a response's `X-Netkan-Job-Id` header.
pub(crate) fn job_ids(res: &reqwest::Response) -> Vec<JobId> {
    res.headers()
        .get("x-netkan-job-id")
        .map(|v| {
            v.to_str()
                .unwrap()
                .split(',')
                .map(|s| s.trim().parse().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

/// Plays a worker through the queue API.
pub(crate) struct Worker<'a> {
    pub(crate) app: &'a TestApp,
    pub(crate) conn: MultiplexedConnection,
    pub(crate) job: ClaimedJob,
}

impl<'a> Worker<'a> {
    /// Enqueues `job` and claims it (it must be the only job waiting in its queue).
    pub(crate) async fn start(app: &'a TestApp, job: NewJob) -> Worker<'a> {
        let mut conn = app.conn().await;
        let queue = job.queue.clone();
        app.jq.enqueue(&mut conn, &[job]).await.unwrap();
        let job = app
            .jq
            .claim(
                &mut conn,
                "test-worker-1",
                std::slice::from_ref(&queue),
                1,
                0,
            )
            .await
            .unwrap()
            .jobs
            .remove(0);
        Worker { app, conn, job }
    }

    pub(crate) fn id(&self) -> JobId {
        self.job.id
    }

    pub(crate) async fn log(&mut self, level: Level, message: &str) {
        self.app
            .jq
            .append_log(&mut self.conn, &self.job.id, &[(level, message.to_owned())])
            .await
            .unwrap();
    }

    /// Enqueues a child of this job.
    pub(crate) async fn child(&mut self, kind: &str, queue: &str) -> JobId {
        let child = NewJob::new(kind, QueueName::new(queue).unwrap()).with_parent(self.job.id);
        self.app.jq.enqueue(&mut self.conn, &[child]).await.unwrap()[0]
    }

    pub(crate) async fn finish(mut self, outcome: Outcome) {
        let done = self
            .app
            .jq
            .finish(
                &mut self.conn,
                &[Finish {
                    id: self.job.id,
                    queue: self.job.queue.clone(),
                    token: self.job.token,
                    attempt: self.job.attempt,
                    outcome,
                }],
            )
            .await
            .unwrap();
        assert_eq!(done, vec![true]);
    }
}

/// A job of `kind` on the `noop` queue.
pub(crate) fn noop_job(kind: &str) -> NewJob {
    NewJob::new(kind, QueueName::new("noop").unwrap())
}

/// A job's attributes, as a map of `&str` for comparisons.
pub(crate) fn attrs(job: &JobRecord) -> BTreeMap<&str, &str> {
    job.attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}
