//! `/logs/<uuid>`: a job's page, and its live stream.
//!
//! - `GET /logs/<uuid>[?level=]`: the run view (`run`: the verdict of the job's tree, its
//!   failures, every job it caused, nested), then kind, state, times, attempts, parent and
//!   children (each with its state and a link), the request, and the whole log with level
//!   colours. `level` preselects the level filter (default INFO), which the page's script
//!   switches without reloading.
//! - `GET /logs/<uuid>/run`: the run view alone, which the page's script swaps in when the
//!   live stream says the tree changed.
//!   Unknown job: a 404 page. Every page carries `X-Robots-Tag: noindex`.
//! - `GET /logs/<uuid>/events[?after=&level=]`: Server-Sent Events: `line` (id = cursor,
//!   data = the line as the API shows it), `meta` (state, times, attempts, children count,
//!   the tree's counts, when they change) and `end` (the job and every job below it finished;
//!   every line was sent), after which the stream closes. A reconnecting `EventSource` resumes after its `Last-Event-ID`.

use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use netkan_common::{Level, LogQuery};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::jobs::{
    LineJson, MAX_CHILDREN, children_of, no_such_job, parse_id, parse_level, shared,
};
use crate::error::WebError;
use crate::live::LiveEvent;
use crate::requests;
use crate::state::AppState;
use crate::views::{self, ChildView, JobView, LineView, LogPage};

/// Request bodies shown at most (a `.netkan` is a few KB).
const MAX_BODY_SHOWN: usize = 64 * 1024;
/// A comment sent on an idle stream, so proxies and browsers keep it open.
const KEEPALIVE: Duration = Duration::from_secs(15);

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    level: Option<String>,
}

impl PageQuery {
    /// The level preselected (default: INFO, for people; DEBUG is one click away); 400
    /// naming a bad one.
    pub(crate) fn level(&self) -> Result<Level, WebError> {
        Ok(parse_level(self.level.as_deref())?.unwrap_or(Level::Info))
    }
}

/// `GET /logs/<uuid>`.
pub(crate) async fn show_log(
    path: web::Path<String>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let id = parse_id(&path)?;
    let level = query.level()?;
    let pooled = state.conn().await?;
    let (mut a, mut b) = (shared(&pooled), shared(&pooled));
    let all = LogQuery::default();
    let (job, lines) =
        tokio::try_join!(state.jq.job(&mut a, &id), state.jq.logs(&mut b, &id, &all))?;
    let job = job.ok_or_else(|| no_such_job(&id))?;
    let (children, run) = tokio::try_join!(
        children_of(&a, &state.jq, &job.children),
        super::run::section(&b, &state.jq, &job)
    )?;
    drop(pooled);
    let after = lines
        .last()
        .map(|l| l.cursor.to_string())
        .unwrap_or_default();
    // SpaceDock add requests carry authors' e-mail addresses: not for a public page.
    let body = (job.kind != requests::ADD && !job.body.is_empty()).then(|| {
        let mut shown =
            views::visible_controls(&job.body.chars().take(MAX_BODY_SHOWN).collect::<String>());
        if job.body.chars().nth(MAX_BODY_SHOWN).is_some() {
            shown.push_str("\n… (cut)");
        }
        shown
    });
    let page = LogPage {
        run,
        job: JobView::new(&job),
        lines: lines.into_iter().map(LineView::from).collect(),
        more_children: job.children.len().saturating_sub(MAX_CHILDREN),
        children: children
            .into_iter()
            .map(|c| ChildView {
                id: c.job_id.to_string(),
                kind: c.job_type,
                state: c.state,
            })
            .collect(),
        levels: LogPage::level_options(level),
        level: level.as_str(),
        after,
        body,
        attributes: job.attributes.into_iter().collect(),
    };
    views::html(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub(crate) struct StreamQuery {
    after: Option<u64>,
    level: Option<String>,
}

impl StreamQuery {
    /// The lowest level streamed (default: all); 400 naming a bad one.
    pub(crate) fn level(&self) -> Result<Option<Level>, WebError> {
        parse_level(self.level.as_deref())
    }
}

/// `GET /logs/<uuid>/events`.
pub(crate) async fn stream_log(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<StreamQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let id = parse_id(&path)?;
    let level = query.level()?;
    // A reconnecting EventSource says where it was; that wins over the page's cursor.
    let after = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(query.after);
    {
        let mut conn = state.conn().await?;
        if state.jq.job(&mut conn, &id).await?.is_none() {
            return Err(no_such_job(&id));
        }
    }
    let rx = state.live.subscribe(id, after, level)?;
    let first = futures::stream::once(async {
        Ok::<_, actix_web::Error>(Bytes::from_static(b"retry: 2000\n\n"))
    });
    let events = futures::stream::unfold(rx, next_event);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("x-accel-buffering", "no"))
        .insert_header(("x-robots-tag", "noindex"))
        .streaming(futures::StreamExt::chain(first, events)))
}

async fn next_event(
    mut rx: mpsc::Receiver<LiveEvent>,
) -> Option<(Result<Bytes, actix_web::Error>, mpsc::Receiver<LiveEvent>)> {
    let bytes = match tokio::time::timeout(KEEPALIVE, rx.recv()).await {
        Ok(Some(event)) => encode(event),
        Ok(None) => return None,
        Err(_) => Bytes::from_static(b": keepalive\n\n"),
    };
    Some((Ok(bytes), rx))
}

fn encode(event: LiveEvent) -> Bytes {
    let text = match event {
        LiveEvent::Line(line) => {
            let cursor = line.cursor;
            format!(
                "id: {cursor}\nevent: line\ndata: {}\n\n",
                LineJson::from(line).to_json()
            )
        }
        LiveEvent::Meta(meta) => format!("event: meta\ndata: {}\n\n", json(&meta)),
        LiveEvent::End(meta) => format!("event: end\ndata: {}\n\n", json(&meta)),
    };
    Bytes::from(text)
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}
