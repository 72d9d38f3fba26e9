//! Mod status, from the status store (never from git): `GET /status`, a table of every mod
//! (searched and sorted in the browser, its rows fetched as compact JSON from
//! `GET /status/rows.json`), and the reference's `status.json` exports,
//! `GET /status/netkan.json` (ksp) and `GET /status/netkan-<game>.json`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use netkan_common::Game;
use netkan_common::status::{ModStatus, StatusStore};
use serde_json::{Value, json};

use super::jobs::shared;
use crate::error::WebError;
use crate::state::AppState;
use crate::views;

/// `status/index.html`.
#[derive(Template)]
#[template(path = "status/index.html")]
struct StatusPage {
    games: Vec<String>,
    /// (game, export file name).
    files: Vec<(String, String)>,
}

/// The export file of a game: `netkan.json` for ksp (the reference's name), else
/// `netkan-<game>.json`.
fn export_file(game: &Game) -> String {
    if *game == Game::ksp() {
        "netkan.json".into()
    } else {
        format!("netkan-{game}.json")
    }
}

/// `GET /status`: the page; its rows come from `/status/rows.json`.
pub(crate) async fn show_status(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let page = StatusPage {
        games: state.games.iter().map(Game::to_string).collect(),
        files: state
            .games
            .iter()
            .map(|g| (g.to_string(), export_file(g)))
            .collect(),
    };
    views::html(StatusCode::OK, &page)
}

/// `YYYY-MM-DD HH:MM` (UTC), compact and sortable as text.
fn minute(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        json!(t.format("%Y-%m-%d %H:%M").to_string())
    })
}

fn row(s: &ModStatus) -> Value {
    json!([
        s.identifier,
        s.game.as_str(),
        minute(s.last_inflated),
        minute(s.last_indexed),
        minute(s.release_date),
        s.frozen,
        s.last_error,
        s.last_warnings,
        if s.resources.is_empty() {
            Value::Null
        } else {
            Value::Object(s.resources.clone())
        }
    ])
}

/// `GET /status/rows.json`: `{"rows": [[identifier, game, last inflated, last indexed,
/// released, frozen, error, warnings, resources], ...]}` for every configured game.
pub(crate) async fn list_status_rows(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let store = StatusStore::new(state.jq.keys().clone());
    let pooled = state.conn().await?;
    let mut conn = shared(&pooled);
    let mut rows = Vec::new();
    for game in &state.games {
        rows.extend(store.all(&mut conn, game).await?.iter().map(row));
    }
    drop(pooled);
    Ok(json_response(&json!({ "rows": rows }), false))
}

/// `GET /status/<file>`: `netkan.json` (ksp) or `netkan-<game>.json`, the reference's
/// `status.json` of that game.
pub(crate) async fn show_status_json(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let name = path.into_inner();
    let game = match name.as_str() {
        "netkan.json" => Game::ksp(),
        other => other
            .strip_prefix("netkan-")
            .and_then(|g| g.strip_suffix(".json"))
            .and_then(|g| Game::new(g).ok())
            .filter(|g| state.games.contains(g))
            .ok_or_else(|| WebError::NotFound("No such status file".into()))?,
    };
    let store = StatusStore::new(state.jq.keys().clone());
    let pooled = state.conn().await?;
    let mut conn = shared(&pooled);
    let export = store.export(&mut conn, &game).await?;
    drop(pooled);
    Ok(json_response(&Value::Object(export), true))
}

/// JSON with the headers of the pages; `public`: readable by other sites' scripts (the
/// status site of the reference fetches these files) and cacheable for a minute, as the
/// reference refreshed them every five.
fn json_response(v: &Value, public: bool) -> HttpResponse {
    let mut resp = HttpResponse::Ok();
    resp.content_type("application/json")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if public {
        resp.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header((header::CACHE_CONTROL, "public, max-age=60"));
    } else {
        resp.insert_header((header::CACHE_CONTROL, "no-store"));
    }
    resp.body(v.to_string())
}
