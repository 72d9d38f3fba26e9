//! SpaceDock's webhooks: HTML forms, `application/x-www-form-urlencoded` (what SpaceDock
//! sends) or `multipart/form-data` (the reference's Flask took either; so do we).
//!
//! - `POST /sd/inflate[/<game>]` (`mod_id`, `event_type`): a mod was updated, deleted,
//!   locked or unlocked. One `spacedock-event` job on the `push` queue; the push worker finds
//!   the `.netkan` files whose `$kref` is `#/ckan/spacedock/<mod_id>` and inflates them (or,
//!   for `delete`/`locked`/`unlocked`, reports the affected mods in the job's log).
//!
//!   Deviation from the reference: it answered 404 `No such module` when no `.netkan`
//!   referred to the mod. That needs the NetKAN repository, which the web never reads, so
//!   this route always answers 204 and the request job's log says "no such module".
//! - `POST /sd/add[/<game>]` (SpaceDock's "add to CKAN" form): one `add` job on the `adding`
//!   queue with the reference's body; always 204, as the reference.
//!
//! Guarded by `web.webhook_token` and `web.allowed_addresses` when they are set (the
//! reference relied on a firewall).

use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth;
use crate::error::WebError;
use crate::request::{self, enqueued, form_value};
use crate::requests;
use crate::state::AppState;

/// Enqueues a `spacedock-event`: 204 (or 202 with JSON) with the job's id in
/// `X-Netkan-Job-Id`; 400 if `mod_id` is missing or not a number. A missing `event_type`
/// counts as `update` (SpaceDock sent none before it had event types, and the reference
/// inflated on anything but `delete`, `locked` and `unlocked`).
pub(crate) async fn enqueue_spacedock_event(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    auth::check_webhook_access(&req, &state)?;
    let game = request::game_of(&req)?;
    let body = request::read_body(&req, payload, state.web.max_body_bytes).await?;
    let form = request::parse_form(&req, &body)?;
    let (mod_id, event_type) = spacedock_event(&form)?;
    let job = requests::spacedock_event_job(&game, mod_id, event_type);
    let ids = requests::enqueue(&state, &[job]).await?;
    Ok(enqueued(&req, &state, &ids))
}

/// The `mod_id` and `event_type` of a SpaceDock event form; 400 naming a bad one.
pub(crate) fn spacedock_event(form: &[(String, String)]) -> Result<(&str, &str), WebError> {
    let mod_id = form_value(form, "mod_id")
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| WebError::BadRequest("A mod_id is required".into()))?;
    if !mod_id.bytes().all(|b| b.is_ascii_digit()) || mod_id.len() > 20 {
        return Err(WebError::BadRequest(format!(
            "Invalid mod_id {:?}: expected a number",
            mod_id.chars().take(40).collect::<String>()
        )));
    }
    let event_type = form_value(form, "event_type")
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .unwrap_or("update");
    if event_type.len() > 64 {
        return Err(WebError::BadRequest("Invalid event_type: too long".into()));
    }
    Ok((mod_id, event_type))
}

/// Enqueues an `add` request with the form as the reference encoded it: 204 (or 202 with
/// JSON) with the job's id in `X-Netkan-Job-Id`.
pub(crate) async fn enqueue_addition(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    auth::check_webhook_access(&req, &state)?;
    let game = request::game_of(&req)?;
    let body = request::read_body(&req, payload, state.web.max_body_bytes).await?;
    let form = request::parse_form(&req, &body)?;
    if form.is_empty() {
        return Err(WebError::BadRequest(
            "The form is empty: expected SpaceDock's mod fields".into(),
        ));
    }
    let ids = requests::enqueue(&state, &[requests::addition(&game, &form)]).await?;
    Ok(enqueued(&req, &state, &ids))
}
