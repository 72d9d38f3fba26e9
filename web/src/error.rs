//! `WebError`: every failure a handler can answer with. Its response depends on the route
//! (see `request::Flavour`): an HTML page for browsers, JSON for the API, plain text for
//! webhooks, whose senders show the body as it is. Internal errors are logged once, with the
//! request's id, by `request::context`, and answered with that id, never with an empty 500.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use netkan_common::{InputError, QueueError};
use thiserror::Error;

use crate::request::{self, Flavour};
use crate::views::ErrorPage;

/// A failure answered to the client.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WebError {
    /// The request is malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// A GitHub webhook whose signature is missing or wrong (the reference's answer: 400).
    #[error("Signature mismatch")]
    Signature,
    /// The caller may not do this (token, address, cross-site request).
    #[error("{0}")]
    Forbidden(String),
    /// No such job or page.
    #[error("{0}")]
    NotFound(String),
    /// The request repeats one already received (a replayed GitHub delivery), or asks for
    /// what the job's state does not allow (cancelling a finished job).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than `web.max_body_bytes`.
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    /// Redis cannot be reached; retrying later may work.
    #[error("redis is unavailable: {0}")]
    Unavailable(String),
    /// Anything else; the details are logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<QueueError> for WebError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::NotFound(what) => WebError::NotFound(what),
            QueueError::Input(input) => WebError::BadRequest(input.to_string()),
            QueueError::Conflict(why) => WebError::Conflict(why),
            e if e.is_connection() => WebError::Unavailable(e.to_string()),
            e => WebError::Internal(e.to_string()),
        }
    }
}

impl From<InputError> for WebError {
    fn from(e: InputError) -> Self {
        WebError::BadRequest(e.to_string())
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(format!("rendering a template: {e}"))
    }
}

impl WebError {
    /// A Redis error, classified as `QueueError` classifies it.
    pub(crate) fn from_redis(e: redis::RedisError) -> Self {
        QueueError::from(e).into()
    }

    /// What the client is shown: the message for client errors, a short line with the
    /// request id for server errors (whose details stay in the process log).
    fn public_message(&self, request_id: &str) -> String {
        match self {
            WebError::Unavailable(_) => {
                format!("Service unavailable: redis cannot be reached (request {request_id})")
            }
            WebError::Internal(_) => format!("Internal error (request {request_id})"),
            other => other.to_string(),
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) | WebError::Signature => StatusCode::BAD_REQUEST,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let info = request::current();
        let message = self.public_message(&info.id);
        let mut res = HttpResponse::build(status);
        if let WebError::Unavailable(_) = self {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        match info.flavour {
            Flavour::Json => res.json(serde_json::json!({
                "error": message,
                "status": status.as_u16(),
                "requestId": info.id,
            })),
            Flavour::Text => res.content_type("text/plain; charset=utf-8").body(message),
            Flavour::Html => {
                let page = ErrorPage {
                    status: status.as_u16(),
                    reason: status.canonical_reason().unwrap_or("Error"),
                    message: &message,
                    request_id: &info.id,
                };
                match page.render() {
                    Ok(html) => res
                        .content_type("text/html; charset=utf-8")
                        .insert_header((header::CONTENT_SECURITY_POLICY, crate::views::CSP))
                        .insert_header(("x-robots-tag", "noindex"))
                        .body(html),
                    // The error page itself failed: plain text still says what happened.
                    Err(_) => res.content_type("text/plain; charset=utf-8").body(message),
                }
            }
        }
    }
}
