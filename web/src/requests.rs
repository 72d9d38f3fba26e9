//! The jobs the web enqueues. Their kinds, queues and bodies are the contract in
//! `netkan_common::requests`; this module turns webhook input into them.
//!
//! The web never reads the NetKAN repository, so every webhook that names mods by file or
//! SpaceDock id becomes a *request* job that the push worker resolves against its clone into
//! inflation jobs, children of the request.

use netkan_common::ckan::module::is_valid_identifier;
use netkan_common::requests::add_job;
pub(crate) use netkan_common::requests::{
    ADD, ChangedFiles, PushRequest, inflate_request_job, mirror_job, push_job, spacedock_event_job,
};
use netkan_common::{Game, JobId, NewJob};
use serde_json::{Map, Value};
use tracing::info;

use crate::error::WebError;
use crate::state::AppState;
use netkan_common::python_json;

/// The SpaceDock form fields whose every value makes up `all_authors` (reference §2.3).
const AUTHOR_FIELDS: [&str; 6] = [
    "username",
    "user_github",
    "user_forum_id",
    "user_forum_username",
    "email",
    "user_url",
];

/// Checks an identifier as CKAN does (`^[A-Za-z0-9][A-Za-z0-9-]+$`), naming a bad one.
pub(crate) fn check_identifier(id: &str) -> Result<(), WebError> {
    if is_valid_identifier(id) {
        Ok(())
    } else {
        let shown: String = id.chars().take(100).collect();
        Err(WebError::BadRequest(format!(
            "Invalid identifier {shown:?}: identifiers match ^[A-Za-z0-9][A-Za-z0-9-]+$"
        )))
    }
}

/// `add` on `adding`: exactly the reference's body, `json.dumps({**form, "all_authors":
/// [...]})`: the first value of every form key in order, then `all_authors`, the author
/// lists zipped to the longest with `null` for missing values.
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
    add_job(game, python_json::dumps(&Value::Object(object)))
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
}
