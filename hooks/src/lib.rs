//! The git post-receive hook: reads git's `<old> <new> <ref>` lines, turns a push to the
//! repository's default branch into one `push` job on Redis, prints its id and log URL to
//! the pusher, and spools the job to disk when Redis cannot take it in time.
//!
//! A hook is short-lived: no pool, no background task, and every Redis step bounded by
//! `hooks.timeout_ms` so a slow or dead Redis never holds a `git push` for long. Nothing
//! from the push reaches a shell.
//!
//! # Layout
//! - `cli`: the command line shared by `netkan-hook` and `netkan hook`.
//! - `install`: writing the hook script into a bare repository (chaining an existing hook).
//! - this file: parsing the push, building the job, enqueueing or spooling, following.

pub mod cli;
pub mod install;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netkan_common::config::Settings;
use netkan_common::log::{Level, LogQuery, visible_controls};
use netkan_common::requests::{self, PushRequest};
use netkan_common::{Game, JobId, JobQueue, NewJob, QueueName};
use thiserror::Error;

/// The all-zero object id git uses for "no commit" (branch created or deleted).
pub const ZERO_OID: &str = "0000000000000000000000000000000000000000";

/// Problems with the push or the repository, named for the pusher.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HookError {
    /// A line of git's input is not `<old> <new> <ref>`.
    #[error("unexpected line from git: {0:?}")]
    BadLine(String),
    /// The repository is not one the configuration allows.
    #[error("repository {0} is not in hooks.repositories")]
    NotAllowed(PathBuf),
    /// The repository's HEAD could not be read.
    #[error("cannot read the default branch of {path}: {reason}")]
    Head {
        /// The repository.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// One ref update of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// Commit before (all zeros for a new ref).
    pub old: String,
    /// Commit after (all zeros for a deleted ref).
    pub new: String,
    /// Full ref name.
    pub refname: String,
}

/// Parses git's post-receive input.
pub fn parse_updates(input: &str) -> Result<Vec<RefUpdate>, HookError> {
    input
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(old), Some(new), Some(refname), None)
                    if is_oid(old) && is_oid(new) && refname.starts_with("refs/") =>
                {
                    Ok(RefUpdate {
                        old: old.to_owned(),
                        new: new.to_owned(),
                        refname: refname.to_owned(),
                    })
                }
                _ => Err(HookError::BadLine(line.chars().take(200).collect())),
            }
        })
        .collect()
}

fn is_oid(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The ref the bare repository's `HEAD` points to (`refs/heads/main`).
pub fn default_branch(repo: &Path) -> Result<String, HookError> {
    let head = std::fs::read_to_string(repo.join("HEAD")).map_err(|e| HookError::Head {
        path: repo.to_owned(),
        reason: e.to_string(),
    })?;
    head.trim()
        .strip_prefix("ref: ")
        .map(str::to_owned)
        .ok_or_else(|| HookError::Head {
            path: repo.to_owned(),
            reason: "HEAD is detached".into(),
        })
}

/// Who pushed, from the variables git servers set, falling back to the local user.
pub fn pusher_from_env() -> String {
    [
        "GL_USERNAME",
        "GITEA_PUSHER_NAME",
        "GIT_PUSHER",
        "REMOTE_USER",
        "USER",
        "LOGNAME",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    .unwrap_or_else(|| "unknown".into())
}

/// What the hook was asked to do.
#[derive(Debug, Clone)]
pub struct HookRun {
    /// The bare repository.
    pub repo: PathBuf,
    /// Its game.
    pub game: Game,
    /// The public URL of the web front end.
    pub base_url: String,
    /// Who pushed.
    pub pusher: String,
    /// Follow the push job's NOTICE lines.
    pub follow: bool,
}

/// Runs the hook for one push, writing what the pusher should read to `out`. Never fails
/// the push: problems are reported and the job is spooled if Redis cannot take it.
pub async fn post_receive(
    settings: &Settings,
    run: &HookRun,
    input: &str,
    out: &mut impl Write,
) -> anyhow::Result<Option<JobId>> {
    let started = Instant::now();
    let repo = run.repo.canonicalize().unwrap_or_else(|_| run.repo.clone());
    if !settings.hooks.repositories.is_empty()
        && !settings
            .hooks
            .repositories
            .iter()
            .any(|r| r.canonicalize().is_ok_and(|r| r == repo))
    {
        writeln!(out, "netkan: {}", HookError::NotAllowed(repo))?;
        return Ok(None);
    }
    let updates = match parse_updates(input) {
        Ok(u) => u,
        Err(e) => {
            writeln!(out, "netkan: {e}; push not processed")?;
            return Ok(None);
        }
    };
    let default = default_branch(&repo)?;
    let mut chosen = None;
    for u in updates {
        if u.refname != default {
            writeln!(
                out,
                "netkan: {} is not {default}; only the default branch is inflated",
                u.refname
            )?;
        } else if u.new == ZERO_OID {
            writeln!(out, "netkan: {default} was deleted; nothing to inflate")?;
        } else {
            chosen = Some(u);
        }
    }
    let Some(update) = chosen else {
        return Ok(None);
    };
    let body = PushRequest {
        repo: repo.display().to_string(),
        r#ref: update.refname,
        old: update.old,
        new: update.new,
        pusher: run.pusher.clone(),
        source: "hook".into(),
        files: None,
    };
    let job = NewJob::new(requests::PUSH, QueueName::push())
        .with_game(run.game.clone())
        .with_attr("GameId", run.game.as_str())
        .with_body(serde_json::to_string(&body)?);
    let id = job.id;
    let jq = settings.job_queue();
    let budget = Duration::from_millis(settings.hooks.timeout_ms);
    let spool = settings.spool_dir();
    let result = tokio::time::timeout(budget, enqueue(settings, &jq, &spool, &job)).await;
    let log_url = format!("{}/logs/{id}", run.base_url.trim_end_matches('/'));
    match result {
        Ok(Ok(mut conn)) => {
            writeln!(out, "netkan: push queued as {id}")?;
            writeln!(out, "netkan: log at {log_url}")?;
            if run.follow {
                let left = Duration::from_secs(settings.hooks.follow_timeout_secs);
                follow(&jq, &mut conn, &id, left, out).await?;
            }
        }
        Ok(Err(e)) => spooled(&spool, &job, &e.to_string(), &log_url, out)?,
        Err(_) => spooled(
            &spool,
            &job,
            &format!("no answer within {} ms", budget.as_millis()),
            &log_url,
            out,
        )?,
    }
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "hook done"
    );
    Ok(Some(id))
}

async fn enqueue(
    settings: &Settings,
    jq: &JobQueue,
    spool: &Path,
    job: &NewJob,
) -> anyhow::Result<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(settings.redis_url())?;
    let budget = Duration::from_millis(settings.hooks.timeout_ms);
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(budget))
        .set_response_timeout(Some(budget));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await?;
    // Older spooled pushes go first, so jobs reach Redis in the order they were pushed.
    netkan_common::spool::drain(spool, jq, &mut conn).await?;
    jq.enqueue(&mut conn, std::slice::from_ref(job)).await?;
    Ok(conn)
}

fn spooled(
    spool: &Path,
    job: &NewJob,
    why: &str,
    log_url: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match netkan_common::spool::write(spool, job) {
        Ok(_) => {
            writeln!(
                out,
                "netkan: Redis is unavailable ({why}); push spooled as {} and will be queued when it is back",
                job.id
            )?;
            writeln!(out, "netkan: log at {log_url}")?;
        }
        Err(e) => writeln!(
            out,
            "netkan: Redis is unavailable ({why}) and the spool {} is not writable ({e}); push NOT queued: push again later",
            spool.display()
        )?,
    }
    Ok(())
}

/// Prints the job's NOTICE-and-above lines as they come, until it finishes; then waits for
/// the jobs it caused (its tree) and prints the verdict, each failure as
/// `netkan: <Identifier>: <reason>`, all within `limit`.
async fn follow<C: redis::aio::ConnectionLike>(
    jq: &JobQueue,
    conn: &mut C,
    id: &JobId,
    limit: Duration,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    let mut after = None;
    let mut own_done = false;
    loop {
        let finished = jq
            .job(conn, id)
            .await?
            .filter(|rec| rec.state.is_finished());
        if !own_done {
            // Read after the state, so the lines written just before the end are included.
            let query = LogQuery {
                after,
                level: Some(Level::Notice),
                ..LogQuery::default()
            };
            for line in jq.logs(conn, id, &query).await? {
                writeln!(out, "netkan: {}", visible_controls(&line.message))?;
                after = Some(line.cursor);
            }
            out.flush()?;
        }
        if let Some(rec) = finished {
            if !own_done {
                writeln!(out, "netkan: push job {}", rec.state)?;
                own_done = true;
            }
            let tree = jq.tree(conn, &rec).await?;
            if tree.is_finished() {
                if tree.counts.jobs > 1 {
                    writeln!(out, "netkan: with the jobs it caused, {}", tree.verdict())?;
                    for line in tree.failure_lines() {
                        writeln!(out, "netkan: {}", visible_controls(&line))?;
                    }
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                writeln!(
                    out,
                    "netkan: the jobs it caused are still running ({}); follow them at the log URL above",
                    tree.verdict()
                )?;
                return Ok(());
            }
        } else if Instant::now() > deadline {
            writeln!(out, "netkan: still running; follow it at the log URL above")?;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_input_is_parsed_and_junk_named() {
        let a = "a".repeat(40);
        let input = format!("{ZERO_OID} {a} refs/heads/main\n{a} {ZERO_OID} refs/heads/old\n");
        let u = parse_updates(&input).unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].refname, "refs/heads/main");
        assert_eq!(u[1].new, ZERO_OID);
        let e = parse_updates("x y; rm -rf /\n").unwrap_err().to_string();
        assert!(e.contains("unexpected line"), "{e}");
    }

    #[test]
    fn default_branch_comes_from_head() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("HEAD"), "ref: refs/heads/main\n").unwrap();
        assert_eq!(default_branch(dir.path()).unwrap(), "refs/heads/main");
    }
}
