//! Per-request plumbing: the request id and how errors are answered (`context`, a middleware),
//! reading a size-limited body, parsing forms and JSON with errors that name the problem,
//! the game of a webhook route, and the answer of a route that enqueued jobs.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use futures::StreamExt;
use netkan_common::{Game, JobId};
use serde::de::DeserializeOwned;
use tracing::{debug, error};

use crate::error::WebError;
use crate::state::AppState;

/// The header carrying the ids of the jobs a webhook enqueued, comma-separated.
pub(crate) const JOB_ID_HEADER: &str = "x-netkan-job-id";
/// The header carrying the request id (taken from a proxy's header when it looks sane).
const REQUEST_ID_HEADER: &str = "x-request-id";

/// How a route answers errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// An HTML page (job pages, the dashboard, unknown pages).
    Html,
    /// `{"error": ..., "requestId": ...}` (the API).
    Json,
    /// The message alone (webhooks, whose reference answers are plain text; health, metrics).
    Text,
}

impl Flavour {
    /// The flavour of the route at `path`.
    pub(crate) fn of(path: &str) -> Self {
        const TEXT: [&str; 5] = ["/inflate", "/sd/", "/gh/", "/healthz", "/metrics"];
        if path.starts_with("/api/") || (path.starts_with("/status/") && path.ends_with(".json")) {
            Flavour::Json
        } else if TEXT.iter().any(|p| path.starts_with(p)) {
            Flavour::Text
        } else {
            Flavour::Html
        }
    }
}

/// What `WebError::error_response` needs to know about the request it answers.
#[derive(Debug, Clone)]
pub(crate) struct RequestInfo {
    /// Shown with server errors and logged with them.
    pub(crate) id: String,
    /// How to answer.
    pub(crate) flavour: Flavour,
}

tokio::task_local! {
    // Set around each handler by `context`; `ResponseError::error_response` has no access to
    // the request, and this is how it learns the id and the flavour.
    static REQUEST: RequestInfo;
}

/// The current request's info, or a placeholder outside a request.
pub(crate) fn current() -> RequestInfo {
    REQUEST.try_with(Clone::clone).unwrap_or(RequestInfo {
        id: "-".into(),
        flavour: Flavour::Text,
    })
}

/// Middleware: answers `HEAD` as the `GET` of the same route would, without the body (the
/// HTTP layer drops the body of an answer to a `HEAD`; the routes only know `GET`).
pub(crate) async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

/// Middleware: gives each request an id (`X-Request-Id`), answers its errors in the route's
/// flavour, and logs a server error once with that id. Only method and path are logged,
/// never the query string (it may carry `?token=`) nor the body.
pub(crate) async fn context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let flavour = Flavour::of(req.path());
    let method = req.method().clone();
    let path = req.path().to_owned();
    let started = Instant::now();
    let info = RequestInfo {
        id: id.clone(),
        flavour,
    };
    let mut res = REQUEST.scope(info, next.call(req)).await?;
    let status = res.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match res.response().error() {
        Some(err) if res.status().is_server_error() => {
            error!(request_id = %id, %method, %path, status, error = %err, "request failed");
        }
        Some(err) => {
            debug!(request_id = %id, %method, %path, status, error = %err, ms, "request refused");
        }
        None => debug!(request_id = %id, %method, %path, status, ms, "request served"),
    }
    if flavour == Flavour::Json {
        // The API is public and read-only: any site's script may read it.
        res.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    Ok(res)
}

/// Reads the whole body, refusing one larger than `limit` bytes (413), by its
/// `Content-Length` before reading when it has one.
pub(crate) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, WebError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(WebError::TooLarge(limit));
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| WebError::BadRequest(format!("reading the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(WebError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a JSON body whatever its `Content-Type` (as the reference's `force=True` did).
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, WebError> {
    serde_json::from_slice(body)
        .map_err(|e| WebError::BadRequest(format!("Invalid JSON body: {e}")))
}

/// Parses an `application/x-www-form-urlencoded` body into its pairs, in order (a key may
/// repeat). Other encodings (multipart) get a 400 naming the one expected.
pub(crate) fn parse_form(
    req: &HttpRequest,
    body: &[u8],
) -> Result<Vec<(String, String)>, WebError> {
    parse_form_of_type(content_type(req), body)
}

/// The request's `Content-Type`, if it has a readable one.
pub(crate) fn content_type(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// [`parse_form`] given the `Content-Type` alone (the fuzz target calls it directly).
pub(crate) fn parse_form_of_type(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<(String, String)>, WebError> {
    let essence = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !essence.is_empty() && essence != "application/x-www-form-urlencoded" {
        let shown: String = essence.chars().take(100).collect();
        return Err(WebError::BadRequest(format!(
            "Expected an application/x-www-form-urlencoded body, got {shown}"
        )));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(WebError::BadRequest("The form is not valid UTF-8".into()));
    }
    Ok(form_urlencoded::parse(body).into_owned().collect())
}

/// The first value of `key` in a form.
pub(crate) fn form_value<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The game of a webhook route: its `{game}` segment, or `ksp` for the legacy routes
/// without one (which the reference's nginx rewrote to `…/ksp`).
pub(crate) fn game_of(req: &HttpRequest) -> Result<Game, WebError> {
    let game = match req.match_info().get("game") {
        None => Game::ksp(),
        Some(g) => Game::new(g).map_err(|_| WebError::NotFound(format!("No such game: {g}")))?,
    };
    // Only the games this installation has repositories for (`[games.<id>]`).
    let configured = req
        .app_data::<web::Data<AppState>>()
        .is_none_or(|state| state.games.contains(&game));
    if configured {
        Ok(game)
    } else {
        Err(WebError::NotFound(format!("No such game: {game}")))
    }
}

/// True if the client asked for JSON explicitly (`*/*` does not count).
pub(crate) fn wants_json(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("application/json"))
}

/// The answer of a webhook that enqueued `ids`: `X-Netkan-Job-Id` with the ids, and 204 with
/// an empty body as the reference answered; a client that sends `Accept: application/json`
/// gets 202 with `{"jobIds": [...], "logs": [...]}` instead.
pub(crate) fn enqueued(req: &HttpRequest, state: &AppState, ids: &[JobId]) -> HttpResponse {
    let json = wants_json(req);
    let mut res = if json {
        HttpResponse::Accepted()
    } else {
        HttpResponse::NoContent()
    };
    if !ids.is_empty() {
        let joined = ids
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        res.insert_header((JOB_ID_HEADER, joined));
    }
    if json {
        let logs: Vec<String> = ids.iter().map(|id| state.log_url(id)).collect();
        res.json(serde_json::json!({ "jobIds": ids, "logs": logs }))
    } else {
        res.finish()
    }
}

/// A 200 with `{"message": ...}`, the reference's answer to pushes it ignores.
pub(crate) fn ignored(message: &str) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "message": message }))
}
