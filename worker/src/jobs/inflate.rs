//! `inflate`: the inflator role. Consumes the `inflate` jobs the push worker puts on
//! `inbound.<game>` (body: the `.netkan` text; attributes `GameId`, `HighestVersion`,
//! `HighestVersionPrerelease`, `Releases`), inflates them with the process's one
//! [`Inflator`], and sends each `.ckan` as an `index` job on `outbound` with the attributes of
//! the reference's queue contract (`ModIdentifier`, `Staged`, `Success`, `CheckTime`,
//! `FileName`, `GameId`, `WarningMessages`, `StagingReason`), or one failure message (body
//! `{}`, `Success` `False`, `ErrorMessage`).
//!
//! Retry policy: an error retrying could fix (network trouble, 5xx, a full cache) is retried
//! by the runner while attempts remain; on the last attempt the failure message is sent first,
//! so the mod's status shows the error, and the job is then buried in the dead-letter list. A
//! throttled host makes the job wait for the host's reset without using an attempt. Any other
//! failure is the input's fault: as in the reference, the failure message goes out at once
//! (so the status store records the error), and the job ends `failed` with the reason.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use netkan_common::log::Level;
use netkan_common::{Game, NewJob, QueueName};
use netkan_inflator::{GameInfo, InflateError, InflateRequest, Inflation, InflationLog, Inflator};

use crate::context::{JobContext, JobError, JobResult, Registry};
use crate::git::clone_dir;
use crate::jobs::inflation::INFLATE_KIND;

/// The role name.
pub const ROLE: &str = "inflate";
/// The kind of the result jobs this role enqueues on `outbound`.
pub const INDEX_KIND: &str = "index";

/// What the inflate role shares between its jobs: built once per process.
pub struct InflateEnv {
    /// The inflator (HTTP client, download cache, game data).
    pub inflator: Inflator,
    /// Where the push worker keeps its read-only CKAN-meta checkouts
    /// (`<data_dir>/work/<game>/CKAN-meta-read`), whose `builds.json` is preferred to the
    /// built-in one.
    pub data_dir: PathBuf,
    /// When each game's `builds.json` was last read, to re-read it only when it changes.
    builds_seen: Mutex<HashMap<Game, SystemTime>>,
}

impl InflateEnv {
    /// The environment for an inflator and a data directory.
    pub fn new(inflator: Inflator, data_dir: PathBuf) -> InflateEnv {
        InflateEnv {
            inflator,
            data_dir,
            builds_seen: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a fresher `builds.json` from the game's CKAN-meta checkout, if there is one.
    async fn refresh_game(&self, ctx: &JobContext, game: &Game) {
        let path = clone_dir(&self.data_dir, game.as_str(), "CKAN-meta-read").join("builds.json");
        let Ok(modified) = tokio::fs::metadata(&path).await.and_then(|m| m.modified()) else {
            return;
        };
        let seen = self
            .builds_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(game)
            .copied();
        if seen == Some(modified) {
            return;
        }
        match tokio::fs::read_to_string(&path).await {
            Ok(text) => match GameInfo::from_builds_json(game, &text) {
                Ok(info) => {
                    ctx.debug(format!(
                        "known {} versions from {} (latest {})",
                        info.short_name(),
                        path.display(),
                        info.latest().map(|v| v.to_string()).unwrap_or_default()
                    ));
                    self.inflator.set_game(info);
                    self.builds_seen
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(game.clone(), modified);
                }
                Err(e) => ctx.warn(format!("ignoring {}: {e}", path.display())),
            },
            Err(e) => ctx.warn(format!("cannot read {}: {e}", path.display())),
        }
    }
}

/// Registers the handler of the inflate role.
pub fn register(registry: &mut Registry, env: Arc<InflateEnv>) {
    registry.register(INFLATE_KIND, move |ctx| run_inflate(ctx, env.clone()));
}

/// The queues the role serves: `inbound.<game>` for every configured game.
pub fn queues(games: impl IntoIterator<Item = Game>) -> Vec<QueueName> {
    games.into_iter().map(|g| QueueName::inbound(&g)).collect()
}

/// The inflator's lines go to the job's log as they come.
struct JobLog<'a>(&'a JobContext);

impl InflationLog for JobLog<'_> {
    fn line(&self, level: Level, message: &str) {
        self.0.log(level, message);
    }
}

/// C#'s `bool.ToString()`.
fn cs_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// The inflation the job asks for.
fn request(ctx: &JobContext) -> Result<InflateRequest, JobError> {
    let job = ctx.job();
    let game = match job.attributes.get("GameId") {
        Some(id) => Game::new(id)
            .map_err(|e| JobError::permanent(format!("attribute GameId {id:?}: {e}")))?,
        None => job.game.clone(),
    };
    let mut req = InflateRequest::new(job.body.clone(), game);
    if let Some(r) = job.attributes.get("Releases") {
        req.releases = netkan_inflator::parse_releases(r).map_err(JobError::permanent)?;
    }
    req.highest_version = job.attributes.get("HighestVersion").cloned();
    req.highest_version_prerelease = job.attributes.get("HighestVersionPrerelease").cloned();
    Ok(req)
}

async fn run_inflate(ctx: JobContext, env: Arc<InflateEnv>) -> JobResult {
    // A malformed attribute is the sender's fault, not the mod's: no message to the
    // indexer, the job fails.
    let req = request(&ctx)?;
    env.refresh_game(&ctx, &req.game).await;
    let game = env.inflator.game(&req.game);
    let inflation = env.inflator.inflate(&req, &JobLog(&ctx)).await;
    match &inflation.outcome {
        Ok(modules) => {
            let jobs = modules
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    outbound(&inflation, game.short_name(), &req.game, i == 0)
                        .with_body(m.text.clone())
                        .with_attr("Success", "True")
                        .with_attr("FileName", m.file_name.clone())
                })
                .collect();
            let ids = ctx.enqueue(jobs).await?;
            for (m, id) in modules.iter().zip(&ids) {
                ctx.info(format!("{} queued for indexing as {id}", m.file_name));
            }
            let versions: Vec<String> = modules.iter().map(|m| m.version()).collect();
            let staged = if inflation.staged { " (staged)" } else { "" };
            ctx.notice(format!(
                "inflated {} {}{staged}",
                inflation.identifier,
                versions.join(", ")
            ));
            Ok(())
        }
        Err(error) => {
            let attempt = ctx.job().attempt;
            let max = ctx.queue().settings().max_attempts;
            if let InflateError::RateLimited { retry_after, .. } = error {
                ctx.notice(format!("waiting: {error}"));
                return Err(JobError::RetryAfter {
                    error: anyhow::anyhow!("{error}"),
                    delay: *retry_after,
                });
            }
            if error.is_retryable() && attempt < max {
                ctx.notice(format!("failed, will retry: {error}"));
                return Err(JobError::Retry(anyhow::anyhow!("{error}")));
            }
            let message = outbound(&inflation, game.short_name(), &req.game, true)
                .with_body("{}")
                .with_attr("Success", "False")
                .with_attr("ErrorMessage", error.to_string());
            let ids = ctx.enqueue(vec![message]).await?;
            if let Some(id) = ids.first() {
                ctx.info(format!("failure queued for indexing as {id}"));
            }
            // The runner's final ERROR line gives the reason.
            if error.is_retryable() {
                // The last attempt: the status shows the error, the job goes to the
                // dead-letter list where an operator can retry it.
                Err(JobError::Retry(anyhow::anyhow!("{error}")))
            } else {
                // The mod's input is at fault: retrying cannot help, and the job did not
                // produce a .ckan, so it ends failed (its tree, and the push's, say so).
                Err(JobError::Permanent(anyhow::anyhow!("{error}")))
            }
        }
    }
}

/// An `index` job with the attributes every outbound message carries; the warnings go with
/// the first message only.
fn outbound(inflation: &Inflation, short_name: &str, game: &Game, first: bool) -> NewJob {
    let mut job = NewJob::new(INDEX_KIND, QueueName::outbound())
        .with_game(game.clone())
        .with_attr("ModIdentifier", inflation.identifier.clone())
        .with_attr("Staged", cs_bool(inflation.staged))
        .with_attr("CheckTime", inflation.check_time_text())
        .with_attr("GameId", short_name);
    if first && !inflation.warnings.is_empty() {
        job = job.with_attr("WarningMessages", inflation.warnings.join("\r\n"));
    }
    if inflation.staged && !inflation.staging_reasons.is_empty() {
        job = job.with_attr("StagingReason", inflation.staging_reasons.join("\r\n\r\n"));
    }
    job
}
