//! GitHub's webhooks, each checked against `web.github_secret` (`X-Hub-Signature-256`, or
//! the reference's `X-Hub-Signature`) before anything else; a bad or missing signature is
//! 400 `Signature mismatch`, as in the reference. A `ping` event (sent when the webhook is
//! created) is answered 200 `{"message": "pong"}`.
//!
//! - `POST /gh/inflate[/<game>]`: a push to NetKAN. Pushes to a branch other than
//!   `web.netkan_branch` get 200 `{"message": "Wrong branch"}`, pushes without commits 200
//!   `{"message": "No commits received"}`; otherwise one `push` job on the `push` queue
//!   carrying the refs and the changed files, which the push worker resolves (`.netkan`
//!   changes are inflated, `.frozen` ones frozen).
//! - `POST /gh/release[/<game>]?identifier=<Id>`: a release of a mod's repository. Only
//!   the `published` and `released` actions inflate (see `INFLATING_ACTIONS`); other
//!   actions get 200 `{"message": "Ignored action <a>"}`.
//! - `POST /gh/mirror[/<game>]`: a push to CKAN-meta. Same branch (`web.ckanmeta_branch`)
//!   and commit checks; then one `mirror` job on `mirroring` per `.ckan` added or modified.
//!
//! Bodies are accepted as `application/json` or as GitHub's form encoding (`payload=`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth;
use crate::error::WebError;
use crate::request::{self, enqueued, ignored};
use crate::requests::{self, ChangedFiles, PushRequest};
use crate::state::AppState;

/// The release actions that inflate. GitHub sends, for one release made public, `created`
/// (unless it was a draft first), `published` and, for a full release, `released`; turning
/// a pre-release into a release sends `released` alone, and a pre-release's metadata differs
/// from a release's. `created` also fires for drafts, whose assets may not exist yet, and
/// `edited`, `deleted`, `unpublished` and `prereleased` (always with `published`) change
/// nothing to inflate. The two inflations a publication sends coalesce while waiting.
pub(crate) const INFLATING_ACTIONS: [&str; 2] = ["published", "released"];

/// The reference's answer when `identifier` is missing.
const IDENTIFIER_REQUIRED: &str = "Param \"identifier\" is required, e.g. http://netkan.ksp-ckan.space/gh/release?identifier=AwesomeMod";

#[derive(Deserialize)]
struct PushEvent {
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

#[derive(Deserialize)]
struct ReleaseEvent {
    #[serde(default)]
    action: Option<String>,
}

/// What is left of a verified GitHub request: its body parsed, or `None` for a ping.
async fn verified<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Option<T>, WebError> {
    let body = request::read_body(req, payload, state.web.max_body_bytes).await?;
    auth::verify_github(req, &body, &state.web.github_secret)?;
    let event = req
        .headers()
        .get("x-github-event")
        .and_then(|v| v.to_str().ok());
    if event == Some("ping") {
        return Ok(None);
    }
    let form_encoded = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form_encoded {
        let form = request::parse_form(req, &body)?;
        let payload = request::form_value(&form, "payload")
            .ok_or_else(|| WebError::BadRequest("The form has no payload field".into()))?;
        return request::parse_json(payload.as_bytes()).map(Some);
    }
    request::parse_json(&body).map(Some)
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

/// A push to NetKAN: one `push` job (204, or 202 with JSON, its id in `X-Netkan-Job-Id`).
pub(crate) async fn receive_push(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let game = request::game_of(&req)?;
    let Some(mut event) = verified::<PushEvent>(&req, payload, &state).await? else {
        return Ok(pong());
    };
    if let Err(message) = accepted_commits(&event, &state.web.netkan_branch) {
        return Ok(ignored(message));
    }
    let commits = event.commits.take().unwrap_or_default();
    let repository = event.repository.take();
    let push = PushRequest {
        repo: repository
            .and_then(|r| r.clone_url.or(r.full_name))
            .unwrap_or_default(),
        r#ref: event.git_ref.unwrap_or_default(),
        old: event.before.unwrap_or_default(),
        new: event.after.unwrap_or_default(),
        pusher: event.pusher.and_then(|p| p.name).unwrap_or_default(),
        source: "github".into(),
        files: Some(changed_files(&commits)),
    };
    let ids = requests::enqueue(&state, &[requests::push_job(&game, &push)]).await?;
    Ok(enqueued(&req, &state, &ids))
}

/// A release of a mod: one `inflate-request` for `?identifier=` when the action is one of
/// `INFLATING_ACTIONS` (204, or 202 with JSON); 200 `Ignored action` otherwise; 400 without
/// an identifier (the reference's text) or with a malformed one.
pub(crate) async fn receive_release(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let game = request::game_of(&req)?;
    let Some(event) = verified::<ReleaseEvent>(&req, payload, &state).await? else {
        return Ok(pong());
    };
    let identifier = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "identifier")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| WebError::BadRequest(IDENTIFIER_REQUIRED.into()))?;
    requests::check_identifier(&identifier)?;
    let action = event.action.unwrap_or_default();
    if !INFLATING_ACTIONS.contains(&action.as_str()) {
        let shown: String = action.chars().take(64).collect();
        return Ok(ignored(&format!("Ignored action {shown}")));
    }
    let job = requests::inflate_request_job(&game, std::slice::from_ref(&identifier))
        .with_dedup_key(format!("{game}/release/{identifier}"));
    let ids = requests::enqueue(&state, &[job]).await?;
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
    let Some(mut event) = verified::<PushEvent>(&req, payload, &state).await? else {
        return Ok(pong());
    };
    if let Err(message) = accepted_commits(&event, &state.web.ckanmeta_branch) {
        return Ok(ignored(message));
    }
    let files = changed_files(&event.commits.take().unwrap_or_default());
    let mut paths: Vec<&String> = Vec::new();
    for f in files.added.iter().chain(&files.modified) {
        if f.ends_with(".ckan") && !paths.contains(&f) {
            paths.push(f);
        }
    }
    let jobs: Vec<_> = paths
        .iter()
        .map(|p| requests::mirror_job(&game, p))
        .collect();
    let ids = requests::enqueue(&state, &jobs).await?;
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
