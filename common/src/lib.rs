//! Shared core of netkan: the Redis job protocol, the CKAN/NetKAN metadata model,
//! configuration and telemetry. It depends on no other netkan crate and never on a web
//! framework, git or an HTTP client.
//!
//! # Layout
//! - `ckan`: parsing, ordering, validating and writing `.netkan` / `.ckan` files exactly as CKAN does.
//! - `instance`: the lock that keeps one `netkan up` per data directory.
//! - `keys`: every Redis key, built in one place under one prefix.
//! - `job`: ids, queue names, lanes, states; `NewJob`, `ClaimedJob`, `JobRecord`.
//! - `queue`: the protocol (`JobQueue`): enqueue, claim, renew, finish, upkeep, inspection;
//!   its Lua scripts live in `queue/scripts/`.
//! - `log`: job log lines (levels, storage format, queries) and secret redaction.
//! - `config`: settings from defaults, a TOML file and the environment.
//! - `connect`: pools, reconnecting and dedicated Redis connections.
//! - `python_json`: JSON written as Python's `json.dumps` writes it (bodies and files the
//!   reference wrote that way).
//! - `redis_server`: a private `redis-server` child (the embedded default, and tests).
//! - `requests`: bodies of the request jobs on the `push` queue (push, inflate-request, spacedock-event).
//! - `spool`: jobs written to disk when Redis is down, enqueued later exactly once.
//! - `status`: the status store (per mod and game: last inflated, indexed, error, frozen...),
//!   `status.json` export, dump and restore.
//! - `telemetry`: the process's own tracing output.
//! - `testing` (feature `test-support`): `TestRedis` and polling helpers for tests.

pub mod ckan;
pub mod config;
pub mod connect;
pub mod error;
pub mod instance;
pub mod job;
pub mod keys;
pub mod log;
pub mod python_json;
pub mod queue;
pub mod redis_server;
pub mod requests;
pub mod spool;
pub mod status;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod testing;

pub use error::{InputError, QueueError};
pub use job::{ClaimedJob, Game, JobId, JobRecord, JobState, Lane, NewJob, QueueName};
pub use keys::Keys;
pub use log::{Level, LogLine, LogQuery};
pub use queue::{JobQueue, JobSettings};
