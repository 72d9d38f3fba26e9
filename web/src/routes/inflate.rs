//! `POST /inflate[/<game>]`: inflate named identifiers. The body is JSON
//! `{"identifiers": ["Id1", ...]}`, parsed whatever its `Content-Type` (as the reference did).
//! One `inflate-request` job is enqueued on the `push` queue; the push worker reads each
//! identifier's `.netkan` and enqueues its inflation as a child of the request.
//!
//! Guarded by `web.webhook_token` and `web.allowed_addresses` when they are set.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::auth;
use crate::error::WebError;
use crate::request::{self, enqueued};
use crate::requests;
use crate::state::AppState;

/// The reference's answer when the list is missing or empty.
const IDENTIFIERS_REQUIRED: &str = "An array of identifiers is required";

#[derive(Deserialize)]
struct InflateBody {
    #[serde(default)]
    identifiers: Option<Vec<String>>,
}

/// The identifiers of an `/inflate` body; 400 if the list is missing, empty, or holds a bad
/// name (named in the message).
pub(crate) fn inflate_identifiers(body: &[u8]) -> Result<Vec<String>, WebError> {
    let value: serde_json::Value = request::parse_json(body)?;
    // A JSON value that is not an object, or whose list is not strings, lacks the list.
    let identifiers = serde_json::from_value::<InflateBody>(value)
        .ok()
        .and_then(|b| b.identifiers)
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| WebError::BadRequest(IDENTIFIERS_REQUIRED.into()))?;
    for id in &identifiers {
        requests::check_identifier(id)?;
    }
    Ok(identifiers)
}

/// Enqueues one `inflate-request` for the listed identifiers: 204 (or 202 with JSON), the
/// job's id in `X-Netkan-Job-Id`; 400 if the list is missing, empty, or holds a bad name.
pub(crate) async fn enqueue_inflation(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    auth::check_webhook_access(&req, &state)?;
    let game = request::game_of(&req)?;
    let body = request::read_body(&req, payload, state.web.max_body_bytes).await?;
    let identifiers = inflate_identifiers(&body)?;
    let ids = requests::enqueue(
        &state,
        &[requests::inflate_request_job(&game, &identifiers)],
    )
    .await?;
    Ok(enqueued(&req, &state, &ids))
}
