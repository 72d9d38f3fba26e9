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

/// Parses a form body into its pairs, in order (a key may repeat):
/// `application/x-www-form-urlencoded` (also assumed without a `Content-Type`) or
/// `multipart/form-data`, the two encodings of HTML forms, both of which the reference's
/// Flask accepted. Any other type gets a 400 naming the ones expected.
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
    if essence == "multipart/form-data" {
        return parse_multipart(content_type.unwrap_or(""), body);
    }
    if !essence.is_empty() && essence != "application/x-www-form-urlencoded" {
        let shown: String = essence.chars().take(100).collect();
        return Err(WebError::BadRequest(format!(
            "Expected an application/x-www-form-urlencoded or multipart/form-data body, got {shown}"
        )));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(WebError::BadRequest("The form is not valid UTF-8".into()));
    }
    Ok(form_urlencoded::parse(body).into_owned().collect())
}

/// Parses a `multipart/form-data` body (RFC 7578) into its text fields, in order. Parts
/// with a `filename` are uploaded files, which no webhook reads: they are skipped, as
/// Flask's `request.form` left them out. A malformed body is a 400 saying what is wrong.
fn parse_multipart(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, WebError> {
    let bad = |why: &str| WebError::BadRequest(format!("Invalid multipart/form-data body: {why}"));
    let boundary = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"'))
        .ok_or_else(|| bad("the Content-Type has no boundary"))?;
    // RFC 2046: 1 to 70 characters.
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(bad("the boundary must have 1 to 70 characters"));
    }
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut at = find(body, delimiter, 0).ok_or_else(|| bad("no part starts"))? + delimiter.len();
    let mut fields = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(fields);
        }
        at = after_line_break(body, at).ok_or_else(|| bad("a boundary line is not ended"))?;
        // Headers end at the first empty line.
        let (headers_end, content_start) = match find(body, b"\r\n\r\n", at) {
            Some(i) => (i, i + 4),
            None => return Err(bad("a part's headers are not ended by an empty line")),
        };
        let headers = std::str::from_utf8(&body[at..headers_end])
            .map_err(|_| bad("a part's headers are not UTF-8"))?;
        let next = [b"\r\n".as_slice(), delimiter].concat();
        let content_end =
            find(body, &next, content_start).ok_or_else(|| bad("the last part is not closed"))?;
        let (name, is_file) = disposition(headers)
            .ok_or_else(|| bad("a part has no Content-Disposition: form-data with a name"))?;
        if !is_file {
            let value = std::str::from_utf8(&body[content_start..content_end])
                .map_err(|_| bad(&format!("field {name:?} is not UTF-8")))?;
            fields.push((name, value.to_owned()));
        }
        at = content_end + next.len();
    }
}

/// The field name of a part's headers and whether it is a file (has a `filename`).
fn disposition(headers: &str) -> Option<(String, bool)> {
    let value = headers.split("\r\n").find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(v.trim())
    })?;
    let mut params = value.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("form-data") {
        return None;
    }
    let mut name = None;
    let mut is_file = false;
    for p in params {
        let Some((k, v)) = p.trim().split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v.to_owned()),
            "filename" | "filename*" => is_file = true,
            _ => {}
        }
    }
    Some((name?, is_file))
}

/// The index after the line break at `at` (CRLF; any transport padding before it allowed).
fn after_line_break(body: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    while body.get(i).is_some_and(|b| *b == b' ' || *b == b'\t') {
        i += 1;
    }
    body[i..].starts_with(b"\r\n").then_some(i + 2)
}

/// The first index of `needle` in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TYPE: &str = "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW";

    fn multipart(parts: &[(&str, &str)]) -> Vec<u8> {
        let mut body = String::from("preamble\r\n");
        for (disposition, value) in parts {
            body.push_str(&format!(
                "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; {disposition}\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str("------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n");
        body.into_bytes()
    }

    #[test]
    fn multipart_forms_give_their_text_fields_in_order_and_skip_files() {
        let body = multipart(&[
            ("name=\"mod_id\"", "777"),
            ("name=\"zip\"; filename=\"a.zip\"", "PK\u{3}\u{4}"),
            ("name=\"event_type\"", "update"),
            ("name=\"description\"", "two\r\nlines"),
        ]);
        let form = parse_form_of_type(Some(TYPE), &body).unwrap();
        assert_eq!(
            form,
            [
                ("mod_id".to_owned(), "777".to_owned()),
                ("event_type".to_owned(), "update".to_owned()),
                ("description".to_owned(), "two\r\nlines".to_owned()),
            ]
        );
        let quoted = "multipart/form-data; boundary=\"----WebKitFormBoundary7MA4YWxkTrZu0gW\"";
        assert_eq!(parse_form_of_type(Some(quoted), &body).unwrap().len(), 3);
    }

    #[test]
    fn malformed_multipart_forms_are_refused_saying_why() {
        let body = multipart(&[("name=\"mod_id\"", "777")]);
        let err = |t: &str, b: &[u8]| match parse_form_of_type(Some(t), b) {
            Err(WebError::BadRequest(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        };
        assert!(err("multipart/form-data", &body).contains("no boundary"));
        let cut = &body[..body.len() - "------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n".len()];
        assert!(err(TYPE, cut).contains("not closed"));
        let nameless = multipart(&[("filename=\"x\"", "1")]);
        assert!(err(TYPE, &nameless).contains("no Content-Disposition"));
        assert!(err("text/plain", &body).contains("multipart/form-data"));
    }
}
