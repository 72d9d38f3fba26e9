//! The jobs the web enqueues: their kinds, queues and bodies. This is the contract with the
//! workers that consume them: the push worker (`push`, `inflate-request`, `spacedock-event`
//! on the `push` queue), the adder (`add` on `adding`) and the mirrorer (`mirror` on
//! `mirroring`).
//!
//! The web never reads the NetKAN repository, so every webhook that names mods by file or
//! SpaceDock id becomes a *request* job that the push worker resolves against its clone into
//! inflation jobs, children of the request. Every job goes to the `high` lane (people are
//! waiting) and carries the attribute `GameId`.

use netkan_common::{Game, JobId, Lane, NewJob, QueueName};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tracing::info;

use crate::error::WebError;
use crate::python_json;
use crate::state::AppState;

/// Kind of a request to inflate named identifiers (queue `push`).
pub(crate) const INFLATE_REQUEST: &str = "inflate-request";
/// Kind of a SpaceDock mod event (queue `push`).
pub(crate) const SPACEDOCK_EVENT: &str = "spacedock-event";
/// Kind of a push to the NetKAN repository (queue `push`).
pub(crate) const PUSH: &str = "push";
/// Kind of a SpaceDock "add to CKAN" request (queue `adding`).
pub(crate) const ADD: &str = "add";
/// Kind of a mirror request for one `.ckan` path of CKAN-meta (queue `mirroring`).
pub(crate) const MIRROR: &str = "mirror";
/// The attribute naming the game, as in the reference's messages.
pub(crate) const GAME_ATTR: &str = "GameId";

/// The SpaceDock form fields whose every value makes up `all_authors` (reference §2.3).
const AUTHOR_FIELDS: [&str; 6] = [
    "username",
    "user_github",
    "user_forum_id",
    "user_forum_username",
    "email",
    "user_url",
];

fn job(kind: &str, queue: QueueName, game: &Game) -> NewJob {
    NewJob::new(kind, queue)
        .with_lane(Lane::High)
        .with_game(game.clone())
        .with_attr(GAME_ATTR, game.as_str())
}

/// Checks an identifier as CKAN does (`^[A-Za-z0-9][A-Za-z0-9-]+$`), naming a bad one.
pub(crate) fn check_identifier(id: &str) -> Result<(), WebError> {
    let mut bytes = id.bytes();
    let ok = id.len() >= 2
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        let shown: String = id.chars().take(100).collect();
        Err(WebError::BadRequest(format!(
            "Invalid identifier {shown:?}: identifiers match ^[A-Za-z0-9][A-Za-z0-9-]+$"
        )))
    }
}

/// `inflate-request` on `push`: `{"identifiers": [...]}`.
pub(crate) fn inflate_request(game: &Game, identifiers: &[String]) -> NewJob {
    #[derive(Serialize)]
    struct Body<'a> {
        identifiers: &'a [String],
    }
    let body = serde_json::to_string(&Body { identifiers }).expect("a list of strings serializes");
    job(INFLATE_REQUEST, QueueName::push(), game).with_body(body)
}

/// `spacedock-event` on `push`: `{"mod_id": "...", "event_type": "..."}`.
pub(crate) fn spacedock_event(game: &Game, mod_id: &str, event_type: &str) -> NewJob {
    let body = serde_json::json!({ "mod_id": mod_id, "event_type": event_type });
    job(SPACEDOCK_EVENT, QueueName::push(), game).with_body(body.to_string())
}

/// `add` on `adding`: exactly the reference's body, `json.dumps({**form, "all_authors":
/// [...]})`: the first value of every form key in order, then `all_authors`, the author
/// lists zipped to the longest with `null` for missing values. Identical submissions
/// waiting together coalesce (the reference's SQS de-duplication by the body's hash).
pub(crate) fn addition(game: &Game, form: &[(String, String)]) -> NewJob {
    let mut object = Map::new();
    for (k, v) in form {
        if !object.contains_key(k) {
            object.insert(k.clone(), Value::String(v.clone()));
        }
    }
    let lists: Vec<Vec<&str>> = AUTHOR_FIELDS
        .iter()
        .map(|f| {
            form.iter()
                .filter(|(k, _)| k == f)
                .map(|(_, v)| v.as_str())
                .collect()
        })
        .collect();
    let authors = (0..lists.iter().map(Vec::len).max().unwrap_or(0))
        .map(|i| {
            let author: Map<String, Value> = AUTHOR_FIELDS
                .iter()
                .zip(&lists)
                .map(|(f, values)| {
                    let v = values
                        .get(i)
                        .map_or(Value::Null, |v| Value::String((*v).into()));
                    ((*f).to_owned(), v)
                })
                .collect();
            Value::Object(author)
        })
        .collect();
    // Like Python's `{**form, "all_authors": ...}`, a form key `all_authors` keeps its place.
    object.insert("all_authors".into(), Value::Array(authors));
    let body = python_json::dumps(&Value::Object(object));
    let digest = hex(&Sha256::digest(body.as_bytes()));
    job(ADD, QueueName::adding(), game)
        .with_dedup_key(format!("{game}/add/{digest}"))
        .with_body(body)
}

/// The files of a push, as GitHub lists them per commit, merged in order without repeats.
#[derive(Debug, Default, Serialize)]
pub(crate) struct ChangedFiles {
    pub(crate) added: Vec<String>,
    pub(crate) modified: Vec<String>,
    pub(crate) removed: Vec<String>,
}

/// The body of a `push` job.
#[derive(Debug, Serialize)]
pub(crate) struct PushRequest {
    /// The repository pushed to (GitHub's clone URL).
    pub(crate) repo: String,
    /// The ref updated.
    #[serde(rename = "ref")]
    pub(crate) git_ref: String,
    /// The commit before the push.
    pub(crate) old: String,
    /// The commit after it.
    pub(crate) new: String,
    /// Who pushed.
    pub(crate) pusher: String,
    /// Always `github` here (the git hook says `hook`).
    pub(crate) source: &'static str,
    /// What the commits changed.
    pub(crate) files: ChangedFiles,
}

/// `push` on `push`.
pub(crate) fn push(game: &Game, request: &PushRequest) -> NewJob {
    let body = serde_json::to_string(request).expect("a push request serializes");
    job(PUSH, QueueName::push(), game).with_body(body)
}

/// `mirror` on `mirroring`: the body is the CKAN-meta path; requests for a path waiting
/// together coalesce (de-duplication key `<game>/<path>`).
pub(crate) fn mirror(game: &Game, path: &str) -> NewJob {
    let key = format!("{game}/{path}");
    // Keys are at most 256 bytes; a longer path is keyed by its hash.
    let key = if key.len() <= 256 {
        key
    } else {
        format!("{game}/sha256:{}", hex(&Sha256::digest(path.as_bytes())))
    };
    job(MIRROR, QueueName::mirroring(), game)
        .with_dedup_key(key)
        .with_body(path)
}

/// Enqueues `jobs` in one round trip and returns the ids they are known by (a request
/// coalesced into an identical waiting one gets that one's id).
pub(crate) async fn enqueue(state: &AppState, jobs: &[NewJob]) -> Result<Vec<JobId>, WebError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let mut conn = state.conn().await?;
    let ids = state.jq.enqueue(&mut conn, jobs).await?;
    for (job, id) in jobs.iter().zip(&ids) {
        info!(job.id = %id, job.kind = %job.kind, queue = %job.queue, game = %job.game, "job enqueued");
    }
    Ok(ids)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn identifiers_are_checked_like_ckan() {
        assert!(check_identifier("Astrogator").is_ok());
        assert!(check_identifier("B9-PWings-Fork").is_ok());
        assert!(check_identifier("A").is_err());
        assert!(check_identifier("-Dash").is_err());
        assert!(check_identifier("../etc").is_err());
        assert!(check_identifier("Dogé").is_err());
        let e = check_identifier("bad id").unwrap_err().to_string();
        assert!(e.contains("\"bad id\""), "{e}");
    }

    #[test]
    fn add_bodies_are_the_references() {
        let form: Vec<(String, String)> = [
            ("name", "Dogecoin Flag"),
            ("id", "777"),
            ("username", "pjf"),
            ("username", "Co Author"),
            ("email", "pjf@example.com"),
            ("license", "MIT"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let job = addition(&Game::ksp(), &form);
        assert_eq!(job.queue.as_str(), "adding");
        assert_eq!(job.kind, "add");
        assert_eq!(
            job.body,
            r#"{"name": "Dogecoin Flag", "id": "777", "username": "pjf", "email": "pjf@example.com", "license": "MIT", "all_authors": [{"username": "pjf", "user_github": null, "user_forum_id": null, "user_forum_username": null, "email": "pjf@example.com", "user_url": null}, {"username": "Co Author", "user_github": null, "user_forum_id": null, "user_forum_username": null, "email": null, "user_url": null}]}"#
        );
        assert_eq!(job.attributes.get("GameId").unwrap(), "ksp");
    }

    #[test]
    fn long_mirror_paths_get_a_short_key() {
        let long = format!("{}/x.ckan", "a".repeat(300));
        let job = mirror(&Game::ksp(), &long);
        assert!(job.dedup_key.unwrap().len() <= 256);
        assert_eq!(job.body, long);
    }
}
