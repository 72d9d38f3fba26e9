//! Errors at the boundary of `common`: bad input named as such, and queue failures.

use thiserror::Error;

/// Input that does not fit the job model, named in the message.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// Not a hyphenated UUID.
    #[error("invalid job id {0:?}: expected a hyphenated UUID")]
    JobId(String),
    /// Not a valid queue name.
    #[error("invalid queue name {0:?}: use lowercase letters, digits, '.', '_' and '-'")]
    QueueName(String),
    /// Not a valid game id.
    #[error("invalid game id {0:?}: use letters and digits, such as 'ksp' or 'ksp2'")]
    Game(String),
    /// Not a valid job kind.
    #[error("invalid job kind {0:?}: use lowercase letters, digits, '_' and '-'")]
    Kind(String),
    /// Empty or oversized de-duplication key.
    #[error("invalid de-duplication key {0:?}: must be 1 to 256 bytes")]
    DedupKey(String),
    /// Unknown log level.
    #[error("invalid log level {0:?}: expected DEBUG, INFO, NOTICE, WARN or ERROR")]
    Level(String),
    /// Unparsable time.
    #[error(
        "invalid time {0:?}: expected RFC 3339 (2024-01-15T10:30:02.123Z) or milliseconds since the epoch"
    )]
    Time(String),
    /// Unknown sort order.
    #[error("invalid order {0:?}: expected asc or desc")]
    Order(String),
}

/// A failure talking to Redis or making sense of what it holds.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum QueueError {
    /// Redis refused or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// No connection could be taken from the pool.
    #[error("redis pool: {0}")]
    Pool(String),
    /// A reply did not have the expected shape.
    #[error("unexpected reply from redis: {0}")]
    Reply(String),
    /// The caller's input was invalid.
    #[error(transparent)]
    Input(#[from] InputError),
    /// No job with this id (or not in the state the operation needs).
    #[error("no such job: {0}")]
    NotFound(String),
    /// The job or queue is in a state the operation does not apply to (cancelling a job that
    /// has finished).
    #[error("{0}")]
    Conflict(String),
}

impl From<deadpool_redis::PoolError> for QueueError {
    fn from(e: deadpool_redis::PoolError) -> Self {
        QueueError::Pool(e.to_string())
    }
}

impl QueueError {
    /// True when the failure is about the connection, so waiting and retrying may help.
    pub fn is_connection(&self) -> bool {
        match self {
            QueueError::Redis(e) => {
                e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                    || e.is_unrecoverable_error()
            }
            QueueError::Pool(_) => true,
            _ => false,
        }
    }

    /// The reply code when Redis refused a write for a reason that clears by itself or by an
    /// operator's hand: full memory (`OOM`), a failed snapshot (`MISCONF`), a replica
    /// (`READONLY`), a server still loading its data set (`LOADING`), or a primary waiting for
    /// its replicas (`MASTERDOWN`, `NOREPLICAS`). Such a write is
    /// retried, never given up on, because giving up would strand whatever it records.
    pub fn refused_for_now(&self) -> Option<&str> {
        match self {
            QueueError::Redis(e) => {
                let code = e.code()?;
                [
                    "OOM",
                    "MISCONF",
                    "READONLY",
                    "LOADING",
                    "MASTERDOWN",
                    "NOREPLICAS",
                ]
                .into_iter()
                .find(|c| *c == code)
            }
            _ => None,
        }
    }
}
