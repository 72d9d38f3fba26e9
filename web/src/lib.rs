//! The web front end: webhooks that only enqueue, the job log pages (live while the job runs)
//! and their JSON API, the operator dashboard, health and Prometheus metrics.
//!
//! It reads and enqueues through the job protocol of `netkan_common::queue` and never runs a
//! job. Every handler takes a pooled Redis connection for the few round trips it needs and
//! gives it back before answering; live log streams are fed by one shared poller task
//! (`live`), so an open page costs no connection while it waits.
//!
//! # Layout
//! - `routes/`: one module per resource, handlers named verb first. Webhooks: `inflate`
//!   (`/inflate`), `spacedock` (`/sd/*`), `github` (`/gh/*`); pages and API: `logs`
//!   (`/logs/<uuid>`), `jobs` (`/api/v1/jobs`), `queues` (the dashboard), `status` (`/status`
//!   and the `status.json` exports, from the status store); `health`
//!   (`/healthz`, `/metrics`); `assets` (`/static/*`).
//! - `state`: what every handler shares (`AppState`).
//! - `error`: `WebError`, answered as a page, JSON or plain text depending on the route.
//! - `request`: request ids, the per-request context, the body reader, enqueue answers.
//! - `auth`: GitHub signatures, the webhook token and address list, the admin token and
//!   cross-site checks.
//! - `live`: the poller behind the Server-Sent Events of `/logs/<uuid>/events`.
//! - `views`: the askama templates' structs and formatting helpers.
//! - `requests`: the jobs the web enqueues (kinds, queues, bodies): the contract with workers.
//! - `fuzzing`: the fuzz entry points of the webhook and log-query parsers (`fuzz/`).

mod auth;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod live;
mod request;
mod requests;
mod routes;
mod state;
mod views;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::{App, HttpServer, middleware, web};
use anyhow::Context;
use netkan_common::config::Settings;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use error::WebError;

use state::AppState;

/// How long open connections (live log streams among them) get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves the web front end on `listener` until `shutdown` is cancelled.
///
/// `redis_url` is passed apart from `settings` because `netkan up` may have started its own
/// Redis. Fails at once if the `[web]` settings are invalid (an unparsable allowed address).
pub async fn run(
    settings: &Settings,
    redis_url: &str,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let state = AppState::new(settings, redis_url, shutdown.clone())
        .context("starting the web front end")?;
    if settings.web.github_secret.is_empty() {
        warn!("web.github_secret is not set: the /gh/* webhooks will answer 400 to every request");
    }
    let addr = listener
        .local_addr()
        .context("reading the listen address")?;
    let data = web::Data::new(state);
    let live = data.live.clone();
    let server = serve(data.clone(), listener, settings.web.workers)
        .with_context(|| format!("listening on {addr}"))?;
    let handle = server.handle();
    info!(%addr, "web front end listening");
    let poller = tokio::spawn(live.run(data.pool.clone(), data.jq.clone()));
    let stopper = tokio::spawn(async move {
        shutdown.cancelled().await;
        // Ending the live streams first lets the graceful stop finish at once.
        handle.stop(true).await;
    });
    let served = server.await;
    stopper.abort();
    poller.abort();
    served.context("serving HTTP")?;
    info!("web front end stopped");
    Ok(())
}

/// The HTTP server, built outside `run`'s async body: the builder is not `Send`, and `run`
/// must be spawnable.
fn serve(
    data: web::Data<AppState>,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<actix_web::dev::Server> {
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(configure)
            .wrap(middleware::from_fn(request::context))
            .wrap(middleware::from_fn(request::head_as_get))
    })
    .listen(listener)?
    // `netkan up` and `netkan-web` own signal handling through `shutdown`.
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs());
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// Registers every route. The app must also hold the shared state, as `run` arranges.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| WebError::BadRequest(format!("invalid query: {e}")).into()),
    )
    .app_data(
        web::PathConfig::default()
            .error_handler(|e, _| WebError::NotFound(format!("no such page: {e}")).into()),
    )
    .configure(routes::configure)
    .default_service(web::to(routes::show_not_found));
}
