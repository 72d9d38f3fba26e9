//! GitHub's webhooks, each checked against `web.github_secret` (`X-Hub-Signature-256`, or
//! the reference's `X-Hub-Signature`) before anything else; a bad or missing signature is
//! 400 `Signature mismatch`, as in the reference. A `ping` event (sent when the webhook is
//! created) is answered 200 `{"message": "pong"}`.
//!
//! - `POST /gh/inflate[/<game>]`: a push to the game's NetKAN. Pushes to a branch other than
//!   the game's `games.<id>.netkan_branch` get 200 `{"message": "Wrong branch"}`, pushes
//!   without commits 200 `{"message": "No commits received"}`; otherwise one `push` job on
//!   the `push` queue carrying the refs and the files the commits list, which the push
//!   worker resolves (`.netkan` files added or modified are inflated, `.frozen` ones frozen).
//! - `POST /gh/release[/<game>]?identifier=<Id>`: any event of a mod's repository (a
//!   release, or a push: many mods send their default events) inflates `<Id>`, as the
//!   reference did, except those that provably carry nothing new: `ping`, and the actions
//!   `deleted` and `unpublished` (see `IGNORED_ACTIONS`), answered 200 `Ignored action <a>`.
//! - `POST /gh/mirror[/<game>]`: a push to the game's CKAN-meta. Same branch
//!   (`games.<id>.ckanmeta_branch`) and commit checks; then one `mirror` job on `mirroring`
//!   per `.ckan` added or modified.
//!
//! Bodies are accepted as `application/json` or as GitHub's form encoding (`payload=`).
//! A correctly signed payload is accepted once per `web.github_replay_window_secs`: a replay
//! of it gets 409 naming the delivery (see `mark_delivery`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::auth;
use crate::error::WebError;
use crate::request::{self, enqueued, ignored};
use crate::requests::{self, ChangedFiles, PushRequest};
use crate::state::AppState;

/// The actions `/gh/release` ignores: a release `deleted` or `unpublished` leaves nothing
/// new to inflate (the inflator reads the releases that remain, which the last inflation
/// already saw). Every other event inflates, as in the reference, which acted on every
/// signed request: `created`, `edited`, `prereleased` may each be the one that matters
/// (an edit can replace an asset), and many mods send `push` events only. The several
/// requests one publication sends coalesce while they wait (one de-duplication key).
pub(crate) const IGNORED_ACTIONS: [&str; 2] = ["deleted", "unpublished"];

/// The reference's answer when `identifier` is missing.
const IDENTIFIER_REQUIRED: &str = "Param \"identifier\" is required, e.g. http://netkan.ksp-ckan.space/gh/release?identifier=AwesomeMod";

#[derive(Deserialize)]
pub(crate) struct PushEvent {
    #[serde(rename = "ref", default)]
    git_ref: Option<String>,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    pusher: Option<Pusher>,
    #[serde(default)]
    commits: Option<Vec<Commit>>,
    #[serde(default)]
    repository: Option<Repository>,
}

#[derive(Deserialize)]
struct Pusher {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Repository {
    #[serde(default)]
    clone_url: Option<String>,
    #[serde(default)]
    full_name: Option<String>,
}

#[derive(Deserialize)]
struct Commit {
    #[serde(default)]
    added: Vec<String>,
    #[serde(default)]
    modified: Vec<String>,
    #[serde(default)]
    removed: Vec<String>,
}

/// What `/gh/release` reads of any event: its `action`, if it has one (a push has none).
#[derive(Deserialize)]
pub(crate) struct ReleaseEvent {
    #[serde(default)]
    action: Option<serde_json::Value>,
}

/// A verified GitHub request: its body parsed (`None` for a ping), and the replay mark set
/// for it, to be taken back if the request then fails.
struct Verified<T> {
    event: Option<T>,
    delivery: Option<Delivery>,
}

/// The replay mark of one payload (`Keys::github_delivery`).
struct Delivery {
    key: String,
}

impl Delivery {
    /// Removes the mark, so that GitHub's redelivery of a request that failed is accepted.
    async fn forget(self, state: &AppState) {
        if let Ok(mut conn) = state.conn().await {
            let removed: Result<(), _> = redis::cmd("DEL")
                .arg(&self.key)
                .query_async(&mut *conn)
                .await;
            if let Err(e) = removed {
                warn!(error = %e, "could not remove the replay mark of a failed github delivery");
            }
        }
    }
}

/// Runs `enqueue` for a verified request; when it fails, the replay mark is removed first.
async fn enqueue_verified(
    state: &AppState,
    delivery: Option<Delivery>,
    jobs: &[netkan_common::NewJob],
) -> Result<Vec<netkan_common::JobId>, WebError> {
    match requests::enqueue(state, jobs).await {
        Ok(ids) => Ok(ids),
        Err(e) => {
            if let Some(d) = delivery {
                d.forget(state).await;
            }
            Err(e)
        }
    }
}

/// Reads, verifies and parses a GitHub request, and refuses a replay of a payload already
/// received (409 naming the delivery).
async fn verified<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Verified<T>, WebError> {
    let body = request::read_body(req, payload, state.web.max_body_bytes).await?;
    auth::verify_github(req, &body, &state.web.github_secret)?;
    let delivery = mark_delivery(req, &body, state).await?;
    let event = req
        .headers()
        .get("x-github-event")
        .and_then(|v| v.to_str().ok());
    if event == Some("ping") {
        return Ok(Verified {
            event: None,
            delivery,
        });
    }
    let parsed = parse_payload(request::content_type(req), &body);
    match parsed {
        Ok(event) => Ok(Verified {
            event: Some(event),
            delivery,
        }),
        Err(e) => {
            if let Some(d) = delivery {
                d.forget(state).await;
            }
            Err(e)
        }
    }
}

/// Marks the payload as received (`SET NX EX`), or refuses it as a replay (409). Runs after
/// the signature check, so only GitHub's own payloads ever create a mark.
async fn mark_delivery(
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
) -> Result<Option<Delivery>, WebError> {
    let window = state.web.github_replay_window_secs;
    if window == 0 {
        return Ok(None);
    }
    let delivery_id: String = req
        .headers()
        .get("x-github-delivery")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().chars().take(100).collect())
        .filter(|v: &String| !v.is_empty())
        .unwrap_or_else(|| "(none)".into());
    // The route and query are part of what is received: one repository's release may be
    // sent, with the same body, to two webhooks (`?identifier=A`, `?identifier=B`).
    let digest: String = Sha256::new()
        .chain_update(req.path())
        .chain_update(b"?")
        .chain_update(req.query_string())
        .chain_update(b"\0")
        .chain_update(body)
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let key = state.jq.keys().github_delivery(&digest);
    let mut conn = state.conn().await?;
    let (set, first): (Option<String>, Option<String>) = redis::pipe()
        .cmd("SET")
        .arg(&key)
        .arg(&delivery_id)
        .arg("NX")
        .arg("EX")
        .arg(window)
        .cmd("GET")
        .arg(&key)
        .query_async(&mut *conn)
        .await
        .map_err(WebError::from_redis)?;
    if set.is_some() {
        return Ok(Some(Delivery { key }));
    }
    let first = first.unwrap_or_else(|| "(unknown)".into());
    warn!(delivery = %delivery_id, first = %first, "github webhook refused: replayed payload");
    Err(WebError::Conflict(format!(
        "Replayed GitHub delivery {delivery_id}: this payload was already received (as delivery {first})"
    )))
}

/// Parses a verified body: GitHub's form encoding (`payload=<json>`) when the `Content-Type`
/// says so, else JSON.
pub(crate) fn parse_payload<T: DeserializeOwned>(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<T, WebError> {
    let form_encoded =
        content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form_encoded {
        let form = request::parse_form_of_type(content_type, body)?;
        let payload = request::form_value(&form, "payload")
            .ok_or_else(|| WebError::BadRequest("The form has no payload field".into()))?;
        return request::parse_json(payload.as_bytes());
    }
    request::parse_json(body)
}

fn pong() -> HttpResponse {
    ignored("pong")
}

/// The push's files over all its commits, in order, each once per list.
fn changed_files(commits: &[Commit]) -> ChangedFiles {
    fn merge(into: &mut Vec<String>, files: &[String]) {
        for f in files {
            if !into.contains(f) {
                into.push(f.clone());
            }
        }
    }
    let mut files = ChangedFiles::default();
    for c in commits {
        merge(&mut files.added, &c.added);
        merge(&mut files.modified, &c.modified);
        merge(&mut files.removed, &c.removed);
    }
    files
}

/// Checks branch and commits as the reference did; `Err` holds the 200 answer.
fn accepted_commits(event: &PushEvent, branch: &str) -> Result<(), &'static str> {
    let wanted = format!("refs/heads/{branch}");
    if event.git_ref.as_deref() != Some(wanted.as_str()) {
        return Err("Wrong branch");
    }
    match &event.commits {
        Some(c) if !c.is_empty() => Ok(()),
        _ => Err("No commits received"),
    }
}

/// The push job's request for a push event to `branch`; `Err` holds the 200 answer of an
/// ignored push. The files come from the commits' lists, as the reference took them (a file
/// changed and changed back within the push is still inflated). A payload without
/// `before`/`after` (the reference's own tests send `ref` and `commits` only) is resolved
/// from its lists alone.
pub(crate) fn push_request(
    mut event: PushEvent,
    branch: &str,
) -> Result<PushRequest, &'static str> {
    accepted_commits(&event, branch)?;
    let commits = event.commits.take().unwrap_or_default();
    let repository = event.repository.take();
    let files = Some(changed_files(&commits));
    Ok(PushRequest {
        repo: repository
            .and_then(|r| r.clone_url.or(r.full_name))
            .unwrap_or_default(),
        r#ref: event.git_ref.unwrap_or_default(),
        old: event.before.unwrap_or_default(),
        new: event.after.unwrap_or_default(),
        pusher: event.pusher.and_then(|p| p.name).unwrap_or_default(),
        source: "github".into(),
        files,
    })
}

/// The `.ckan` files a CKAN-meta push to `branch` added or modified, each once; `Err` holds
/// the 200 answer of an ignored push.
pub(crate) fn mirrored_paths(
    mut event: PushEvent,
    branch: &str,
) -> Result<Vec<String>, &'static str> {
    accepted_commits(&event, branch)?;
    let files = changed_files(&event.commits.take().unwrap_or_default());
    let mut paths: Vec<String> = Vec::new();
    for f in files.added.into_iter().chain(files.modified) {
        if f.ends_with(".ckan") && !paths.contains(&f) {
            paths.push(f);
        }
    }
    Ok(paths)
}

/// The `?identifier=` of a release webhook, checked: 400 when missing (the reference's
/// text) or malformed.
pub(crate) fn release_identifier(query: &str) -> Result<String, WebError> {
    let identifier = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "identifier")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| WebError::BadRequest(IDENTIFIER_REQUIRED.into()))?;
    requests::check_identifier(&identifier)?;
    Ok(identifier)
}

/// `Ok` when an event sent to `/gh/release` inflates; `Err` holds the 200 answer's message.
pub(crate) fn release_inflates(event: &ReleaseEvent) -> Result<(), String> {
    match event.action.as_ref().and_then(serde_json::Value::as_str) {
        Some(action) if IGNORED_ACTIONS.contains(&action) => {
            Err(format!("Ignored action {action}"))
        }
        _ => Ok(()),
    }
}

/// A push to NetKAN: one `push` job (204, or 202 with JSON, its id in `X-Netkan-Job-Id`).
pub(crate) async fn receive_push(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let game = request::game_of(&req)?;
    let Verified { event, delivery } = verified::<PushEvent>(&req, payload, &state).await?;
    let Some(event) = event else {
        return Ok(pong());
    };
    let branch = &state.branches_of(&game)?.netkan;
    let push = match push_request(event, branch) {
        Ok(push) => push,
        Err(message) => return Ok(ignored(message)),
    };
    let ids = enqueue_verified(&state, delivery, &[requests::push_job(&game, &push)]).await?;
    Ok(enqueued(&req, &state, &ids))
}

/// An event of a mod's repository: one `inflate-request` for `?identifier=` (204, or 202
/// with JSON) unless its action is one of `IGNORED_ACTIONS` (200 `Ignored action`); 400
/// without an identifier (the reference's text) or with a malformed one.
pub(crate) async fn receive_release(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let game = request::game_of(&req)?;
    let Verified { event, delivery } = verified::<ReleaseEvent>(&req, payload, &state).await?;
    let Some(event) = event else {
        return Ok(pong());
    };
    let identifier = match release_identifier(req.query_string()) {
        Ok(id) => id,
        Err(e) => {
            if let Some(d) = delivery {
                d.forget(&state).await;
            }
            return Err(e);
        }
    };
    if let Err(message) = release_inflates(&event) {
        return Ok(ignored(&message));
    }
    let job = requests::inflate_request_job(&game, std::slice::from_ref(&identifier))
        .with_dedup_key(format!("{game}/release/{identifier}"));
    let ids = enqueue_verified(&state, delivery, &[job]).await?;
    Ok(enqueued(&req, &state, &ids))
}

/// A push to CKAN-meta: one `mirror` job per `.ckan` added or modified (204, or 202 with
/// JSON, their ids in `X-Netkan-Job-Id`).
pub(crate) async fn receive_mirror_push(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let game = request::game_of(&req)?;
    let Verified { event, delivery } = verified::<PushEvent>(&req, payload, &state).await?;
    let Some(event) = event else {
        return Ok(pong());
    };
    let branch = &state.branches_of(&game)?.ckanmeta;
    let paths = match mirrored_paths(event, branch) {
        Ok(paths) => paths,
        Err(message) => return Ok(ignored(message)),
    };
    let jobs: Vec<_> = paths
        .iter()
        .map(|p| requests::mirror_job(&game, p))
        .collect();
    let ids = enqueue_verified(&state, delivery, &jobs).await?;
    Ok(enqueued(&req, &state, &ids))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn files_merge_in_order_without_repeats() {
        let commits: Vec<Commit> = serde_json::from_str(
            r#"[{"added": ["NetKAN/A.netkan"], "modified": ["NetKAN/B.netkan"]},
                {"added": ["NetKAN/C.netkan", "NetKAN/A.netkan"], "removed": ["NetKAN/D.netkan"]},
                {"modified": ["NetKAN/B.netkan", "NetKAN/E.frozen"]}]"#,
        )
        .unwrap();
        let f = changed_files(&commits);
        assert_eq!(f.added, ["NetKAN/A.netkan", "NetKAN/C.netkan"]);
        assert_eq!(f.modified, ["NetKAN/B.netkan", "NetKAN/E.frozen"]);
        assert_eq!(f.removed, ["NetKAN/D.netkan"]);
    }
}
