//! The job model: ids, queue names, lanes, states, and the shapes of a job on its way
//! through Redis (`NewJob` in, `ClaimedJob` to a worker, `JobRecord` to readers).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::InputError;

/// A job's id: a UUID minted by whoever enqueues the job (v4), printed in hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(Uuid);

impl JobId {
    /// A fresh random (v4) id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// A name-based (v5) id: every process that names the same thing gets the same id, so
    /// enqueueing it twice (an idempotent producer) makes one job.
    pub fn from_name(name: &str) -> Self {
        Self(Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes()))
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Uuid> for JobId {
    fn from(u: Uuid) -> Self {
        Self(u)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for JobId {
    type Err = InputError;

    /// Accepts only the canonical hyphenated form, so that one job has one spelling in keys
    /// and URLs.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let u = Uuid::try_parse(s).map_err(|_| InputError::JobId(s.chars().take(64).collect()))?;
        if s.len() != 36 {
            return Err(InputError::JobId(s.to_owned()));
        }
        Ok(Self(u))
    }
}

/// The name of a queue: lowercase letters, digits, `.`, `_` and `-`, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QueueName(String);

impl QueueName {
    /// Validates a queue name.
    pub fn new(name: impl Into<String>) -> Result<Self, InputError> {
        let name = name.into();
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.bytes().enumerate().all(|(i, b)| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || (i > 0 && matches!(b, b'.' | b'_' | b'-'))
            });
        if ok {
            Ok(Self(name))
        } else {
            Err(InputError::QueueName(name))
        }
    }

    /// The queue fed by the git post-receive hook.
    pub fn push() -> Self {
        Self("push".into())
    }

    /// A game's inflation requests (`inbound.ksp`, `inbound.ksp2`).
    pub fn inbound(game: &Game) -> Self {
        Self(format!("inbound.{game}"))
    }

    /// Inflation results, for the indexer.
    pub fn outbound() -> Self {
        Self("outbound".into())
    }

    /// SpaceDock "add to CKAN" requests, for the adder.
    pub fn adding() -> Self {
        Self("adding".into())
    }

    /// Freshly indexed `.ckan` paths, for the mirrorer.
    pub fn mirroring() -> Self {
        Self("mirroring".into())
    }

    /// The periodic housekeeping jobs (download counts, freezing, tickets, cache).
    pub fn housekeeping() -> Self {
        Self("housekeeping".into())
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for QueueName {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for QueueName {
    type Error = InputError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<QueueName> for String {
    fn from(q: QueueName) -> Self {
        q.0
    }
}

/// A game id (`ksp`, `ksp2`): lowercase letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Game(String);

impl Game {
    /// Validates a game id; upper case is folded, as the reference's `GameId` may be `KSP`.
    pub fn new(id: impl AsRef<str>) -> Result<Self, InputError> {
        let id = id.as_ref().to_ascii_lowercase();
        if !id.is_empty() && id.len() <= 16 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(id))
        } else {
            Err(InputError::Game(id))
        }
    }

    /// Kerbal Space Program, the default game.
    pub fn ksp() -> Self {
        Self("ksp".into())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Game {
    fn default() -> Self {
        Self::ksp()
    }
}

impl fmt::Display for Game {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Game {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for Game {
    type Error = InputError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<Game> for String {
    fn from(g: Game) -> Self {
        g.0
    }
}

/// Which lane of its queue a job waits in. Every `High` job is claimed before any `Low` one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    /// Requests from people: git hooks, webhooks, operators.
    #[default]
    High,
    /// Requests from the scheduler.
    Low,
}

impl Lane {
    /// Both lanes, in the order they are served.
    pub const ALL: [Lane; 2] = [Lane::High, Lane::Low];

    /// The lane's name in keys and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::High => "high",
            Lane::Low => "low",
        }
    }

    /// Parses a lane name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "high" => Some(Lane::High),
            "low" => Some(Lane::Low),
            _ => None,
        }
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting in a queue stream, or waiting out a retry backoff.
    Queued,
    /// Claimed by a worker that holds a lease on it.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished with a failure that retrying cannot fix (bad input); not dead-lettered.
    Failed,
    /// In the dead-letter list: attempts exhausted, or the entry could not be decoded.
    Dead,
    /// Stopped by an operator before it finished; not retried.
    Cancelled,
}

impl JobState {
    /// Every state, in life order.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Dead,
        JobState::Cancelled,
    ];

    /// The state's name in records and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Parses a state name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// True once the job will not run again by itself.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Dead | JobState::Cancelled
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// String attributes of a job; message attributes of the system being replaced keep their
/// names (`GameId`, `HighestVersion`, `ModIdentifier`, ...).
pub type Attributes = BTreeMap<String, String>;

/// A job about to be enqueued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Minted here, so the producer can print it before the job runs.
    pub id: JobId,
    /// The handler that runs it (`push`, `inflate`, `noop`, ...).
    pub kind: String,
    /// The queue it waits in.
    pub queue: QueueName,
    /// Served before or after other waiting jobs.
    pub lane: Lane,
    /// The game it concerns.
    pub game: Game,
    /// The job that caused this one.
    pub parent: Option<JobId>,
    /// The payload (a `.netkan`, a `.ckan`, a push description...).
    pub body: String,
    /// String attributes.
    pub attributes: Attributes,
    /// Coalesces pending requests: see [`crate::queue::JobQueue::enqueue`].
    pub dedup_key: Option<String>,
}

impl NewJob {
    /// A job of `kind` for `queue` with a fresh id, default game, high lane and empty body.
    pub fn new(kind: impl Into<String>, queue: QueueName) -> Self {
        Self {
            id: JobId::new(),
            kind: kind.into(),
            queue,
            lane: Lane::High,
            game: Game::default(),
            parent: None,
            body: String::new(),
            attributes: Attributes::new(),
            dedup_key: None,
        }
    }

    /// Uses a given id (a spooled job keeps the id the pusher was shown).
    pub fn with_id(mut self, id: JobId) -> Self {
        self.id = id;
        self
    }

    /// Sets the lane.
    pub fn with_lane(mut self, lane: Lane) -> Self {
        self.lane = lane;
        self
    }

    /// Sets the game.
    pub fn with_game(mut self, game: Game) -> Self {
        self.game = game;
        self
    }

    /// Sets the parent.
    pub fn with_parent(mut self, parent: JobId) -> Self {
        self.parent = Some(parent);
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds an attribute.
    pub fn with_attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }

    /// Sets the de-duplication key.
    pub fn with_dedup_key(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }

    pub(crate) fn validate(&self) -> Result<(), InputError> {
        let kind_ok = !self.kind.is_empty()
            && self.kind.len() <= 64
            && self
                .kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !kind_ok {
            return Err(InputError::Kind(self.kind.clone()));
        }
        if let Some(key) = &self.dedup_key
            && (key.is_empty() || key.len() > 256)
        {
            return Err(InputError::DedupKey(key.clone()));
        }
        Ok(())
    }
}

/// A job handed to a worker, with the lease token that fences its acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    /// The job's id.
    pub id: JobId,
    /// Handler name.
    pub kind: String,
    /// Queue it came from.
    pub queue: QueueName,
    /// Lane it waited in.
    pub lane: Lane,
    /// Game.
    pub game: Game,
    /// The job that caused it.
    pub parent: Option<JobId>,
    /// Payload.
    pub body: String,
    /// Attributes.
    pub attributes: Attributes,
    /// De-duplication key, if any.
    pub dedup_key: Option<String>,
    /// When it was first enqueued.
    pub created: DateTime<Utc>,
    /// Which attempt this is (1 for the first run).
    pub attempt: u32,
    /// Increases with every claim; an acknowledgement carrying an older token is rejected.
    pub token: u64,
    /// Lines already in the job's log (from earlier attempts).
    pub log_lines: u64,
    /// A newer request with the same de-duplication key is waiting, so this one may be skipped.
    pub superseded_by: Option<JobId>,
}

/// What a reader sees of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRecord {
    /// The job's id.
    pub id: JobId,
    /// Handler name.
    pub kind: String,
    /// Queue.
    pub queue: QueueName,
    /// Lane.
    pub lane: Lane,
    /// Game.
    pub game: Game,
    /// Where it is in its life.
    pub state: JobState,
    /// First enqueued.
    pub created: DateTime<Utc>,
    /// Start of the latest attempt.
    pub started: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished: Option<DateTime<Utc>>,
    /// Attempts started so far.
    pub attempts: u32,
    /// The latest failure.
    pub last_error: Option<String>,
    /// When a retry is due, while waiting out a backoff.
    pub retry_at: Option<DateTime<Utc>>,
    /// The worker holding or last holding it.
    pub worker: Option<String>,
    /// The job that caused it.
    pub parent: Option<JobId>,
    /// Jobs it caused.
    pub children: Vec<JobId>,
    /// Payload.
    pub body: String,
    /// Attributes.
    pub attributes: Attributes,
    /// De-duplication key.
    pub dedup_key: Option<String>,
}

/// Milliseconds since the Unix epoch to a UTC time; out-of-range values clamp to the epoch.
pub fn time_from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_are_validated() {
        assert!(QueueName::new("inbound.ksp2").is_ok());
        assert!(QueueName::new("Push").is_err());
        assert!(QueueName::new("").is_err());
        assert!(QueueName::new(".hidden").is_err());
        assert!(QueueName::new("a:b").is_err());
        assert_eq!(QueueName::inbound(&Game::ksp()).as_str(), "inbound.ksp");
    }

    #[test]
    fn job_ids_have_one_spelling() {
        let id = JobId::new();
        assert_eq!(id.to_string().parse::<JobId>().unwrap(), id);
        assert!("0F8FAD5BD9CB469FA16570867728950E".parse::<JobId>().is_err());
        assert!("not-a-uuid".parse::<JobId>().is_err());
        assert!("../../etc/passwd".parse::<JobId>().is_err());
    }

    #[test]
    fn games_fold_case_and_reject_junk() {
        assert_eq!(Game::new("KSP").unwrap(), Game::ksp());
        assert!(Game::new("ksp 2").is_err());
    }

    #[test]
    fn kinds_and_dedup_keys_are_validated() {
        let job = NewJob::new("noop", QueueName::push());
        assert!(job.validate().is_ok());
        assert!(NewJob::new("No Op", QueueName::push()).validate().is_err());
        assert!(job.with_dedup_key("").validate().is_err());
    }
}
