//! The routes, one module per resource; handlers are named verb first.
//!
//! | route | module |
//! |---|---|
//! | `POST /inflate[/<game>]` | `inflate` |
//! | `POST /sd/inflate[/<game>]`, `POST /sd/add[/<game>]` | `spacedock` |
//! | `POST /gh/inflate[/<game>]`, `/gh/release[/<game>]`, `/gh/mirror[/<game>]` | `github` |
//! | `GET /logs/<uuid>`, `GET /logs/<uuid>/events` (SSE) | `logs` |
//! | `GET /api/v1/jobs/<uuid>`, `GET /api/v1/jobs` | `jobs` |
//! | `GET /queues`, `POST /queues/dead/<uuid>/{retry,delete}`, `POST /queues/inflate` | `queues` |
//! | `GET /status`, `GET /status/rows.json`, `GET /status/netkan[-<game>].json` | `status` |
//! | `GET /healthz`, `GET /metrics` | `health` |
//! | `GET /static/<file>` | `assets` |
//! | `GET /files/<name>` (`web.files_dir`) | `files` |
//!
//! The routes without a game are the reference's legacy ones, which its nginx rewrote to
//! `…/ksp`; here they are served directly with `ksp`.

mod assets;
mod files;
pub(crate) mod github;
mod health;
pub(crate) mod inflate;
pub(crate) mod jobs;
pub(crate) mod logs;
mod queues;
pub(crate) mod run;
pub(crate) mod spacedock;
mod status;

use actix_web::{HttpResponse, web};

use crate::error::WebError;

/// Registers every route.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(show_index));
    for path in ["/inflate", "/inflate/{game}"] {
        cfg.route(path, web::post().to(inflate::enqueue_inflation));
    }
    for path in ["/sd/inflate", "/sd/inflate/{game}"] {
        cfg.route(path, web::post().to(spacedock::enqueue_spacedock_event));
    }
    for path in ["/sd/add", "/sd/add/{game}"] {
        cfg.route(path, web::post().to(spacedock::enqueue_addition));
    }
    for path in ["/gh/inflate", "/gh/inflate/{game}"] {
        cfg.route(path, web::post().to(github::receive_push));
    }
    for path in ["/gh/release", "/gh/release/{game}"] {
        cfg.route(path, web::post().to(github::receive_release));
    }
    for path in ["/gh/mirror", "/gh/mirror/{game}"] {
        cfg.route(path, web::post().to(github::receive_mirror_push));
    }
    cfg.route("/logs/{id}", web::get().to(logs::show_log))
        .route("/logs/{id}/events", web::get().to(logs::stream_log))
        .route("/logs/{id}/run", web::get().to(run::show_run))
        .route("/api/v1/jobs", web::get().to(jobs::list_jobs))
        .route("/api/v1/jobs/{id}", web::get().to(jobs::show_job))
        .route(
            "/api/v1/{rest:.*}",
            web::method(actix_web::http::Method::OPTIONS).to(jobs::allow_preflight),
        )
        .route("/queues", web::get().to(queues::show_queues))
        .route(
            "/queues/dead/{id}/retry",
            web::post().to(queues::retry_dead),
        )
        .route(
            "/queues/dead/{id}/delete",
            web::post().to(queues::delete_dead),
        )
        .route("/queues/inflate", web::post().to(queues::enqueue_inflation))
        .route("/status", web::get().to(status::show_status))
        .route("/status/rows.json", web::get().to(status::list_status_rows))
        .route("/status/{file}", web::get().to(status::show_status_json))
        .route("/healthz", web::get().to(health::check_health))
        .route("/metrics", web::get().to(health::show_metrics))
        .route("/static/{file}", web::get().to(assets::show_asset))
        .route("/files/{name}", web::get().to(files::show_file));
}

/// `/` leads to the dashboard.
async fn show_index() -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("location", "/queues"))
        .finish()
}

/// Every unknown route.
pub(crate) async fn show_not_found() -> Result<HttpResponse, WebError> {
    Err(WebError::NotFound("No such page".into()))
}
