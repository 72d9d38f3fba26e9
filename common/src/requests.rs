//! The request jobs people cause (pushes, webhooks, operator commands): their kinds, queues
//! and bodies. This is the contract between their producers (the git hook, the web, the
//! `netkan` command) and the workers that consume them: the push worker (`push`,
//! `inflate-request`, `spacedock-event` on the `push` queue), which resolves them against its
//! NetKAN clone into inflation jobs, the adder (`add` on `adding`) and the mirrorer
//! (`mirror` on `mirroring`). Every request goes to the `high` lane (people are waiting) and
//! carries the attribute `GameId`. Fields only ever get added.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::job::{Game, Lane, NewJob, QueueName};

/// Job kind of a push (from the hook or a GitHub push webhook).
pub const PUSH: &str = "push";
/// Job kind of a request to inflate named identifiers.
pub const INFLATE_REQUEST: &str = "inflate-request";
/// Job kind of a SpaceDock mod event.
pub const SPACEDOCK_EVENT: &str = "spacedock-event";
/// Job kind of a SpaceDock "add to CKAN" request (queue `adding`).
pub const ADD: &str = "add";
/// Job kind of a mirror request for one `.ckan` path of CKAN-meta (queue `mirroring`).
pub const MIRROR: &str = "mirror";
/// The attribute naming the game, as in the reference's messages.
pub const GAME_ATTR: &str = "GameId";
/// Longest de-duplication key the queue accepts.
const MAX_DEDUP_KEY: usize = 256;

/// A push to the NetKAN repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    /// The repository pushed to (a path for the hook).
    pub repo: String,
    /// The ref updated.
    pub r#ref: String,
    /// Commit before the push (all zeros for a new branch).
    pub old: String,
    /// Commit after the push.
    pub new: String,
    /// Who pushed.
    pub pusher: String,
    /// `hook` or `github`.
    pub source: String,
    /// Changed files as the sender saw them (GitHub); the worker diffs `old..new` itself when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<ChangedFiles>,
}

/// Files of a push, as GitHub lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedFiles {
    /// New files.
    #[serde(default)]
    pub added: Vec<String>,
    /// Changed files.
    #[serde(default)]
    pub modified: Vec<String>,
    /// Removed files.
    #[serde(default)]
    pub removed: Vec<String>,
}

/// Inflate these identifiers from the NetKAN repository's default branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InflateRequest {
    /// Identifiers (file stems under `NetKAN/`).
    pub identifiers: Vec<String>,
}

/// A SpaceDock event about a mod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpacedockEvent {
    /// SpaceDock's mod id.
    pub mod_id: String,
    /// `update`, `version-update`, `delete`, `locked`, `unlocked`.
    pub event_type: String,
}

fn request(kind: &str, queue: QueueName, game: &Game) -> NewJob {
    NewJob::new(kind, queue)
        .with_lane(Lane::High)
        .with_game(game.clone())
        .with_attr(GAME_ATTR, game.as_str())
}

/// A `push` job on `push`.
pub fn push_job(game: &Game, push: &PushRequest) -> NewJob {
    let body = serde_json::to_string(push).expect("a push request serializes");
    request(PUSH, QueueName::push(), game).with_body(body)
}

/// An `inflate-request` job on `push`: `{"identifiers": [...]}`.
pub fn inflate_request_job(game: &Game, identifiers: &[String]) -> NewJob {
    let body = serde_json::to_string(&InflateRequest {
        identifiers: identifiers.to_vec(),
    })
    .expect("a list of strings serializes");
    request(INFLATE_REQUEST, QueueName::push(), game).with_body(body)
}

/// A `spacedock-event` job on `push`.
pub fn spacedock_event_job(game: &Game, mod_id: &str, event_type: &str) -> NewJob {
    let body = serde_json::to_string(&SpacedockEvent {
        mod_id: mod_id.to_owned(),
        event_type: event_type.to_owned(),
    })
    .expect("strings serialize");
    request(SPACEDOCK_EVENT, QueueName::push(), game).with_body(body)
}

/// An `add` job on `adding` with the SpaceDock form as its body (reference §2.3).
/// Identical submissions waiting together coalesce (the reference's SQS de-duplication by
/// the body's hash).
pub fn add_job(game: &Game, body: String) -> NewJob {
    let key = format!("{game}/add/{}", sha256_hex(&body));
    request(ADD, QueueName::adding(), game)
        .with_dedup_key(key)
        .with_body(body)
}

/// A `mirror` job on `mirroring`: the body is the CKAN-meta-relative path of a `.ckan`;
/// requests for a path waiting together coalesce (key `<game>/<path>`, or its hash when
/// that would be too long for a key).
pub fn mirror_job(game: &Game, path: &str) -> NewJob {
    let key = format!("{game}/{path}");
    let key = if key.len() <= MAX_DEDUP_KEY {
        key
    } else {
        format!("{game}/sha256:{}", sha256_hex(path))
    };
    request(MIRROR, QueueName::mirroring(), game)
        .with_dedup_key(key)
        .with_body(path)
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn requests_go_to_the_high_lane_with_the_game() {
        let job = inflate_request_job(&Game::ksp(), &["Astrogator".into()]);
        assert_eq!(job.kind, INFLATE_REQUEST);
        assert_eq!(job.queue.as_str(), "push");
        assert_eq!(job.lane, Lane::High);
        assert_eq!(job.body, r#"{"identifiers":["Astrogator"]}"#);
        assert_eq!(job.attributes.get(GAME_ATTR).unwrap(), "ksp");
        let job = spacedock_event_job(&Game::ksp(), "777", "update");
        assert_eq!(job.body, r#"{"mod_id":"777","event_type":"update"}"#);
    }

    #[test]
    fn long_mirror_paths_get_a_short_key() {
        let long = format!("{}/x.ckan", "a".repeat(300));
        let job = mirror_job(&Game::ksp(), &long);
        assert!(job.dedup_key.unwrap().len() <= MAX_DEDUP_KEY);
        assert_eq!(job.body, long);
        let job = mirror_job(&Game::ksp(), "Foo/Foo-1.0.ckan");
        assert_eq!(job.dedup_key.unwrap(), "ksp/Foo/Foo-1.0.ckan");
    }
}
