//! The operator dashboard, `/queues`: per queue its depth, recent throughput, in-flight
//! jobs with age and holder, and dead-letter entries with reasons; the workers with their
//! last heartbeat; finished-job counters. Its actions (retry or delete a dead job, enqueue
//! an inflation) are POSTs that need `web.admin_token` (a header, or the form field the page
//! fills in) and are refused when a browser sends them from another site.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use netkan_common::Game;
use serde::Deserialize;
use tracing::info;

use super::jobs::{parse_id, shared};
use crate::auth;
use crate::error::WebError;
use crate::request::{self, form_value};
use crate::requests;
use crate::state::AppState;
use crate::views::{self, CounterRow, DeadRow, InFlightRow, QueueRow, QueuesPage, WorkerRow};

/// Per queue, in-flight and dead jobs listed at most.
const LISTED: usize = 50;
/// Finished jobs looked at for the throughput columns.
const THROUGHPUT_SCAN: usize = 1000;
/// Body of an action form at most.
const MAX_FORM_BYTES: usize = 16 * 1024;

#[derive(Deserialize)]
pub(crate) struct DashboardQuery {
    done: Option<String>,
}

/// `GET /queues`.
pub(crate) async fn show_queues(
    query: web::Query<DashboardQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let jq = &state.jq;
    let pooled = state.conn().await?;
    let conn = shared(&pooled);
    let (mut c1, mut c2, mut c3, mut c4) = (conn.clone(), conn.clone(), conn.clone(), conn.clone());
    let (stats, workers, counters, recent) = tokio::try_join!(
        jq.stats(&mut c1),
        jq.workers(&mut c2),
        jq.counters(&mut c3),
        jq.recent_finished(&mut c4, None, None, THROUGHPUT_SCAN),
    )?;
    let mut in_flight = Vec::new();
    let mut dead = Vec::new();
    for s in &stats {
        let q = netkan_common::QueueName::new(s.queue.clone())?;
        if s.in_flight > 0 {
            for f in jq.in_flight(&mut conn.clone(), &q, LISTED).await? {
                in_flight.push(InFlightRow::new(&s.queue, f));
            }
        }
        if s.dead > 0 {
            for d in jq.dead(&mut conn.clone(), &q, LISTED).await? {
                dead.push(DeadRow::new(&s.queue, d));
            }
        }
    }
    drop(pooled);
    let now = Utc::now();
    let scanned_cap = recent.len() == THROUGHPUT_SCAN;
    let queues = stats
        .into_iter()
        .map(|stats| {
            let done = |mins: i64| {
                recent
                    .iter()
                    .filter(|r| r.queue.as_str() == stats.queue)
                    .filter(|r| r.finished.is_some_and(|f| (now - f).num_minutes() < mins))
                    .count()
            };
            QueueRow {
                done_5m: done(5),
                done_1h: done(60),
                stats,
            }
        })
        .collect();
    let page = QueuesPage {
        queues,
        in_flight,
        dead,
        workers: workers.into_iter().map(WorkerRow::from).collect(),
        counters: counter_rows(&counters),
        message: query.done.clone().filter(|m| !m.is_empty()),
        actions_enabled: !state.web.admin_token.is_empty(),
        scanned_cap,
    };
    views::html(StatusCode::OK, &page)
}

/// Turns the `finished:<q>:<kind>:<outcome>` and `duration_ms:<q>:<kind>` counters into
/// rows, sorted by queue and kind.
fn counter_rows(counters: &std::collections::HashMap<String, i64>) -> Vec<CounterRow> {
    let mut rows: std::collections::BTreeMap<(String, String), CounterRow> = Default::default();
    let mut durations: std::collections::HashMap<(String, String), i64> = Default::default();
    for (field, value) in counters {
        let mut parts = field.splitn(2, ':');
        let (Some(what), Some(rest)) = (parts.next(), parts.next()) else {
            continue;
        };
        match what {
            "finished" => {
                let mut p = rest.rsplitn(2, ':');
                let (Some(outcome), Some(qk)) = (p.next(), p.next()) else {
                    continue;
                };
                let Some((q, k)) = qk.split_once(':') else {
                    continue;
                };
                let row = rows
                    .entry((q.to_owned(), k.to_owned()))
                    .or_insert_with(|| CounterRow {
                        queue: q.to_owned(),
                        kind: k.to_owned(),
                        succeeded: 0,
                        failed: 0,
                        dead: 0,
                        retried: 0,
                        mean: String::new(),
                    });
                match outcome {
                    "succeeded" => row.succeeded += value,
                    "failed" => row.failed += value,
                    "dead" => row.dead += value,
                    "retried" => row.retried += value,
                    _ => {}
                }
            }
            "duration_ms" => {
                if let Some((q, k)) = rest.split_once(':') {
                    durations.insert((q.to_owned(), k.to_owned()), *value);
                }
            }
            _ => {}
        }
    }
    rows.into_iter()
        .map(|(key, mut row)| {
            let attempts = row.succeeded + row.failed + row.dead + row.retried;
            row.mean = match durations.get(&key) {
                Some(ms) if attempts > 0 => views::duration(ms / attempts),
                _ => "—".into(),
            };
            row
        })
        .collect()
}

/// Reads an action's form and checks the admin token and the origin.
async fn authorized_form(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Vec<(String, String)>, WebError> {
    auth::check_same_origin(req, &state.base_url)?;
    let body =
        request::read_body(req, payload, MAX_FORM_BYTES.min(state.web.max_body_bytes)).await?;
    let form = request::parse_form(req, &body)?;
    auth::check_admin(req, state, form_value(&form, "token"))?;
    Ok(form)
}

fn back_to_dashboard(message: &str) -> HttpResponse {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("done", message)
        .finish();
    HttpResponse::SeeOther()
        .insert_header(("location", format!("/queues?{query}")))
        .finish()
}

/// `POST /queues/dead/<uuid>/retry`: back in its queue, same id, attempts reset.
pub(crate) async fn retry_dead(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    authorized_form(&req, payload, &state).await?;
    let id = parse_id(&path)?;
    let mut conn = state.conn().await?;
    state.jq.retry_dead(&mut conn, &id).await?;
    info!(job.id = %id, "dead job retried from the dashboard");
    Ok(back_to_dashboard(&format!("Retried {id}")))
}

/// `POST /queues/dead/<uuid>/delete`: gone, with its record and log.
pub(crate) async fn delete_dead(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    authorized_form(&req, payload, &state).await?;
    let id = parse_id(&path)?;
    let mut conn = state.conn().await?;
    state.jq.delete_dead(&mut conn, &id).await?;
    info!(job.id = %id, "dead job deleted from the dashboard");
    Ok(back_to_dashboard(&format!("Deleted {id}")))
}

/// `POST /queues/inflate` (`game`, `identifiers` separated by spaces or commas): the same
/// `inflate-request` as `/inflate`; answers with a redirect to the request's log page.
pub(crate) async fn enqueue_inflation(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let form = authorized_form(&req, payload, &state).await?;
    let game = match form_value(&form, "game")
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        Some(g) => Game::new(g)?,
        None => Game::ksp(),
    };
    let identifiers: Vec<String> = form_value(&form, "identifiers")
        .unwrap_or("")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if identifiers.is_empty() {
        return Err(WebError::BadRequest(
            "An array of identifiers is required".into(),
        ));
    }
    for id in &identifiers {
        requests::check_identifier(id)?;
    }
    let ids = requests::enqueue(
        &state,
        &[requests::inflate_request_job(&game, &identifiers)],
    )
    .await?;
    let id = ids
        .first()
        .ok_or_else(|| WebError::Internal("enqueue returned no id".into()))?;
    info!(job.id = %id, count = identifiers.len(), "inflation requested from the dashboard");
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", format!("/logs/{id}")))
        .insert_header((request::JOB_ID_HEADER, id.to_string()))
        .finish())
}
