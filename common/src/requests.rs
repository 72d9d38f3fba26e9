//! The bodies of request jobs on the `push` queue: the contract between their producers (the
//! git hook, the webhooks, operators) and the push worker, which resolves them against its
//! NetKAN clone into inflation jobs. Fields only ever get added.

use serde::{Deserialize, Serialize};

/// Job kind of a push (from the hook or a GitHub push webhook).
pub const PUSH: &str = "push";
/// Job kind of a request to inflate named identifiers.
pub const INFLATE_REQUEST: &str = "inflate-request";
/// Job kind of a SpaceDock mod event.
pub const SPACEDOCK_EVENT: &str = "spacedock-event";

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
