//! The inflator: turns a `.netkan` into `.ckan` metadata exactly as CKAN's NetKAN inflator
//! does (the behaviour is `shared/reference/inflator.md`; section numbers below are its), and
//! the pieces the other services share with it: the HTTP host clients, the download cache
//! and archive inspection.
//!
//! Nothing here touches Redis or git: the worker's `inflate` role and `netkan inflate-file`
//! both drive [`Inflator`], so a local run and a queued one run the same code.
//!
//! # Map
//! - [`Inflator`], [`InflateRequest`], [`Inflation`]: the entry point (§1, §6, §11).
//! - [`pipeline`]: the steps in the reference's order (§5), the versioned overrides injected
//!   between them, and what happens after them (merge by version, spec version, sort,
//!   `Releases`).
//! - [`transformers`]: one module per step.
//! - [`validate`]: the pre- and post-validation of §10.
//! - [`context`]: what a step gets: [`TransformOptions`], the hosts, the cache, the game, the
//!   log and the warnings.
//! - [`game`]: the game: its short name, mod folder and known versions (`builds.json`).
//! - [`metadata`]: typed reads of a metadata object (version, options) as `Metadata.cs` does.
//! - [`json`]: `SafeAdd` / `SafeMerge`, the precedence rules every step follows.
//! - [`http`]: the one HTTP client (User-Agent, timeouts, size limits, rate-limit detection,
//!   configurable base URLs and rewrites).
//! - [`hosts`]: the API clients of GitHub, SpaceDock, GitLab, Gitea, Jenkins, SourceForge.
//! - [`cache`]: the download cache shared by every worker of a machine.
//! - `testing` (feature `test-support`): the fixture upstream and archive builders for tests.
//! - [`archive`]: reading downloads as CKAN's installer does (install stanzas, `.version`,
//!   internal `.ckan`, localizations, content sniffing).
//!
//! Architecture invariant: no Redis, no git, no job protocol here; errors say whether
//! retrying could help ([`InflateError::is_retryable`]).

pub mod archive;
pub mod cache;
pub mod context;
pub mod error;
pub mod game;
pub mod hosts;
pub mod http;
mod inflate;
pub mod json;
pub mod metadata;
pub mod pipeline;
#[cfg(feature = "test-support")]
pub mod testing;
#[cfg(test)]
mod testing_support;
pub mod transformers;
pub mod validate;

pub use context::{GameInfo, InflationLog, Services, TransformOptions};
pub use error::InflateError;
pub use inflate::{InflateRequest, InflatedModule, Inflation, Inflator, parse_releases};
