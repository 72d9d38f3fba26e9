//! `auto-freeze`: proposes freezing the mods of a game that have been idle for long
//! (NetKAN-Infra `auto_freezer.py`, reference §1.8), then marks frozen in the status store
//! the mods whose `.netkan` is gone.
//!
//! A mod is idle when its last update, the `release_date` of its status or, without one,
//! its `last_indexed` (the reference meant this fallback but never had it), falls in the
//! `days_till_ignore` days just past `days_limit` days ago, so ancient mods are not proposed
//! week after week. Idle mods, oldest first, are frozen on branch `freeze/auto` of NetKAN
//! (`git mv NetKAN/<id>.netkan NetKAN/<id>.frozen`, one `Freeze <id>` commit each), the
//! branch is pushed, and a pull request `Freeze idle mods` is opened with the reference's
//! body and labels; if one is open already, the body is posted on it as a comment. Without
//! a forge (`games.<game>.netkan_repo` and `hosts.github_token`) the log says where the
//! branch went.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use netkan_common::Game;
use netkan_common::status::{ModStatus, StatusStore};
use serde_json::{Map, Value};

use crate::context::{JobContext, JobError, JobResult, Registry};
use crate::forge::{Opened, PullRequest};
use crate::git::{GitError, message_with_job};

use super::housekeeping::{HousekeepingEnv, blocking, exclusively, lock_work_dir, open_primary};

/// The job kind.
pub const KIND: &str = "auto-freeze";
/// The branch the freezes are committed on.
pub const BRANCH: &str = "freeze/auto";
/// The pull request's title.
pub const TITLE: &str = "Freeze idle mods";
/// The pull request's labels.
pub const LABELS: [&str; 3] = ["Pull request", "Freeze", "Needs looking into"];

/// Registers the handler.
pub fn register(registry: &mut Registry, env: Arc<HousekeepingEnv>) {
    registry.register(KIND, move |ctx| {
        let env = env.clone();
        async move { exclusively(&ctx.clone(), run(ctx, env)).await }
    });
}

/// A mod proposed for freezing.
#[derive(Debug, Clone, PartialEq)]
pub struct Idle {
    /// Its identifier.
    pub identifier: String,
    /// Its last update.
    pub when: DateTime<Utc>,
    /// Its resources (links for the pull request).
    pub resources: Map<String, Value>,
}

/// When a mod last changed: its release date, else when it was last indexed.
pub fn last_update(status: &ModStatus) -> Option<DateTime<Utc>> {
    status.release_date.or(status.last_indexed)
}

/// The idle mods among `identifiers` (in their order), oldest first: those whose last update
/// is after `now - days_limit - days_till_ignore` and before `now - days_limit`. Mods without
/// a status or a time are skipped (a mod merged moments ago has none yet).
pub fn find_idle(
    identifiers: &[String],
    statuses: &HashMap<String, ModStatus>,
    now: DateTime<Utc>,
    days_limit: u64,
    days_till_ignore: u64,
) -> Vec<Idle> {
    let days = |n: u64| Duration::days(i64::try_from(n).unwrap_or(i64::MAX / 86_400_000));
    let update_cutoff = now - days(days_limit);
    let too_old_cutoff = update_cutoff - days(days_till_ignore);
    let mut idle: Vec<Idle> = identifiers
        .iter()
        .filter_map(|id| {
            let status = statuses.get(id)?;
            let when = last_update(status)?;
            (too_old_cutoff < when && when < update_cutoff).then(|| Idle {
                identifier: id.clone(),
                when,
                resources: status.resources.clone(),
            })
        })
        .collect();
    // Stable: equal times keep the identifiers' order.
    idle.sort_by_key(|m| m.when);
    idle
}

/// The pull request's body (the reference's `_submit_pr` and `_mod_table`).
pub fn pr_body(days_limit: u64, idle: &[Idle]) -> String {
    let mut lines = vec!["Mod | Last Update".to_owned(), ":-- | :--".to_owned()];
    for m in idle {
        lines.push(format!(
            "{} | {} UTC",
            mod_cell(&m.identifier, &m.resources),
            m.when.format("%Y-%m-%d %H:%M")
        ));
    }
    format!(
        "The attached mods have not updated in {days_limit} or more days. Freeze them to save the bot some CPU cycles.\n\n{}",
        lines.join("\n")
    )
}

/// `**<id>**`, then `<br>` and the resource links sorted by name, separated by an escaped
/// pipe (the table's own separator).
fn mod_cell(identifier: &str, resources: &Map<String, Value>) -> String {
    if resources.is_empty() {
        return format!("**{identifier}**");
    }
    let mut links: Vec<(&String, String)> = resources
        .iter()
        .map(|(k, v)| {
            let url = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (k, url)
        })
        .collect();
    links.sort();
    let links: Vec<String> = links
        .into_iter()
        .map(|(k, url)| format!("[{k}]({url})"))
        .collect();
    format!("**{identifier}**<br>{}", links.join(r" \| "))
}

/// The identifiers of the active `.netkan` files (`NetKAN/<id>.netkan`), sorted as the
/// reference enumerates them (case-folded).
fn active_netkans(root: &std::path::Path) -> Result<Vec<String>, GitError> {
    let dir = root.join("NetKAN");
    let mut ids: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = name.strip_suffix(".netkan")?;
                (!id.is_empty()).then(|| id.to_owned())
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(GitError::Io {
                context: format!("reading {}", dir.display()),
                source,
            });
        }
    };
    ids.sort_by(|a, b| a.to_lowercase().cmp(&b.to_lowercase()).then(a.cmp(b)));
    Ok(ids)
}

/// Deletes the local `branch` so that the freeze starts from the remote's branch (if it is
/// still there) or from the primary branch, never from a stale local copy of an older run.
fn forget_local_branch(dir: &std::path::Path, branch: &str) -> Result<(), GitError> {
    let git = |source: git2::Error| GitError::Git {
        context: format!("deleting the local branch {branch}"),
        source,
    };
    let repo = git2::Repository::open(dir).map_err(git)?;
    if let Ok(mut b) = repo.find_branch(branch, git2::BranchType::Local) {
        b.delete().map_err(git)?;
    }
    Ok(())
}

async fn run(ctx: JobContext, env: Arc<HousekeepingEnv>) -> JobResult {
    let game = ctx.job().game.clone();
    let Some(remote) = env.repository(&ctx, |g| g.netkan.as_ref(), "netkan", "nothing to freeze")
    else {
        return Ok(());
    };
    let settings = env.settings.auto_freeze.clone();
    let work = lock_work_dir(&env.data_dir, &game, "NetKAN-freeze")?;
    let (dir, identity) = (work.dir.clone(), env.identity.clone());
    let remote2 = remote.clone();
    let active = blocking(move || {
        let tree = open_primary(&remote2, &dir, &identity)?;
        active_netkans(tree.dir())
    })
    .await?;
    let store = StatusStore::new(ctx.queue().keys().clone());
    let statuses: HashMap<String, ModStatus> = {
        let mut conn = ctx.redis().get().await?;
        store
            .all(&mut *conn, &game)
            .await?
            .into_iter()
            .map(|s| (s.identifier.clone(), s))
            .collect()
    };
    let idle = find_idle(
        &active,
        &statuses,
        Utc::now(),
        settings.days_limit,
        settings.days_till_ignore,
    );
    ctx.info(format!(
        "{} active mods; {} idle (last update between {} and {} days ago)",
        active.len(),
        idle.len(),
        settings.days_limit + settings.days_till_ignore,
        settings.days_limit
    ));
    if !idle.is_empty() {
        freeze(&ctx, &env, &game, &remote, &work.dir, &idle).await?;
        submit(&ctx, &env, &game, &idle, settings.days_limit).await?;
    }
    drop(work);
    mark_frozen(&ctx, &store, &game, &active, statuses.values()).await
}

/// Commits the freezes on [`BRANCH`] and pushes it.
async fn freeze(
    ctx: &JobContext,
    env: &HousekeepingEnv,
    game: &Game,
    remote: &str,
    dir: &std::path::Path,
    idle: &[Idle],
) -> Result<(), JobError> {
    let (remote, dir, identity) = (remote.to_owned(), dir.to_owned(), env.identity.clone());
    let ids: Vec<String> = idle.iter().map(|m| m.identifier.clone()).collect();
    let (ctx2, job) = (ctx.clone(), ctx.id());
    let url = blocking(move || {
        let mut tree = open_primary(&remote, &dir, &identity)?;
        forget_local_branch(&dir, BRANCH)?;
        let id2 = identity.clone();
        tree.on_branch(BRANCH, &identity, |t| {
            for id in &ids {
                let (from, to) = (format!("NetKAN/{id}.netkan"), format!("NetKAN/{id}.frozen"));
                let (src, dst) = (t.dir().join(&from), t.dir().join(&to));
                if !src.exists() {
                    ctx2.info(format!("Already froze {id}"));
                    continue;
                }
                ctx2.info(format!("Freezing {id}"));
                std::fs::rename(&src, &dst).map_err(|source| GitError::Io {
                    context: format!("moving {from} to {to}"),
                    source,
                })?;
                let message = message_with_job(&format!("Freeze {id}"), &job);
                t.commit(&[from.as_str(), to.as_str()], &message, &id2, &id2)?;
            }
            Ok(())
        })?;
        Ok(tree.url().to_owned())
    })
    .await?;
    ctx.info(format!("pushed {BRANCH} to {url} ({game})"));
    Ok(())
}

/// Opens the pull request of [`BRANCH`] (or comments on the open one).
async fn submit(
    ctx: &JobContext,
    env: &HousekeepingEnv,
    game: &Game,
    idle: &[Idle],
    days_limit: u64,
) -> Result<(), JobError> {
    let repo = env.game(game).and_then(|g| g.netkan_repo.clone());
    let (Some(repo), true) = (repo, env.forge.has_token()) else {
        ctx.notice(format!(
            "branch {BRANCH} pushed; no pull request: set games.{game}.netkan_repo and hosts.github_token to have one opened"
        ));
        return Ok(());
    };
    let body = pr_body(days_limit, idle);
    let pr = PullRequest {
        repo: &repo,
        branch: BRANCH,
        title: TITLE,
        body: &body,
        labels: &LABELS,
    };
    match env.forge.open_pull_request(&pr).await {
        Ok(Opened::Created { number, url }) => {
            ctx.notice(format!(
                "pull request #{number} proposes freezing {} mods: {url}",
                idle.len()
            ));
            Ok(())
        }
        Ok(Opened::Commented { number, url }) => {
            ctx.notice(format!(
                "a pull request for {BRANCH} was already open; commented on #{number}: {url}"
            ));
            Ok(())
        }
        Err(e) if e.is_transient() => Err(JobError::Retry(anyhow::anyhow!(
            "Pull request for {BRANCH} failed: {e}"
        ))),
        Err(e) => Err(JobError::Permanent(anyhow::anyhow!(
            "Pull request for {BRANCH} failed: {e}"
        ))),
    }
}

/// `mark_frozen_mods`: every mod with a status that is not frozen and has no `.netkan` on
/// the primary branch any more is marked frozen.
async fn mark_frozen(
    ctx: &JobContext,
    store: &StatusStore,
    game: &Game,
    active: &[String],
    statuses: impl Iterator<Item = &ModStatus>,
) -> JobResult {
    let active: BTreeSet<&str> = active.iter().map(String::as_str).collect();
    let mut to_mark: Vec<&str> = statuses
        .filter(|s| !s.frozen && !active.contains(s.identifier.as_str()))
        .map(|s| s.identifier.as_str())
        .collect();
    to_mark.sort_unstable();
    let mut conn = ctx.redis().get().await?;
    for id in &to_mark {
        ctx.info(format!("Marking frozen: {id}"));
        store.set_frozen(&mut *conn, game, id, true).await?;
    }
    ctx.info(format!("{} mods marked frozen", to_mark.len()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn status(
        id: &str,
        release: Option<DateTime<Utc>>,
        indexed: Option<DateTime<Utc>>,
    ) -> ModStatus {
        ModStatus {
            identifier: id.into(),
            release_date: release,
            last_indexed: indexed,
            ..ModStatus::default()
        }
    }

    #[test]
    fn the_reference_window_finds_freshly_idle_mods_only() {
        let now = Utc::now();
        let ids: Vec<String> = [
            "Astrogator",
            "SmartTank",
            "Ringworld",
            "NoStatus",
            "Indexed",
        ]
        .map(String::from)
        .into();
        let statuses: HashMap<String, ModStatus> = [
            status("Astrogator", Some(now - Duration::days(1001)), None),
            status("SmartTank", Some(now - Duration::days(1050)), None),
            status("Ringworld", Some(now), None),
            // No release date: the last indexing counts (the fallback the reference lacked).
            status("Indexed", None, Some(now - Duration::days(1010))),
        ]
        .into_iter()
        .map(|s| (s.identifier.clone(), s))
        .collect();
        let idle = find_idle(&ids, &statuses, now, 1000, 21);
        let names: Vec<&str> = idle.iter().map(|m| m.identifier.as_str()).collect();
        // Oldest first.
        assert_eq!(names, ["Indexed", "Astrogator"]);
        assert_eq!(idle[1].when, now - Duration::days(1001));
    }

    #[test]
    fn the_pull_request_body_matches_the_reference() {
        let at = |y| Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).unwrap();
        let res = |v: Value| v.as_object().unwrap().clone();
        let idle = vec![
            Idle {
                identifier: "Astrogator".into(),
                when: at(2010),
                resources: res(
                    json!({"homepage": "https://forum.kerbalspaceprogram.com/index.php?/topic/155998-*"}),
                ),
            },
            Idle {
                identifier: "SmartTank".into(),
                when: at(2015),
                resources: res(json!({"repository": "https://github.com/HebaruSan/SmartTank"})),
            },
            Idle {
                identifier: "Ringworld".into(),
                when: at(2020),
                resources: res(
                    json!({"bugtracker": "https://github.com/HebaruSan/Ringworld/issues"}),
                ),
            },
        ];
        assert_eq!(
            pr_body(69, &idle),
            "The attached mods have not updated in 69 or more days. Freeze them to save the bot some CPU cycles.\n\nMod | Last Update\n:-- | :--\n**Astrogator**<br>[homepage](https://forum.kerbalspaceprogram.com/index.php?/topic/155998-*) | 2010-01-01 00:00 UTC\n**SmartTank**<br>[repository](https://github.com/HebaruSan/SmartTank) | 2015-01-01 00:00 UTC\n**Ringworld**<br>[bugtracker](https://github.com/HebaruSan/Ringworld/issues) | 2020-01-01 00:00 UTC"
        );
        let two = res(json!({"repository": "https://r", "homepage": "https://h"}));
        assert_eq!(
            mod_cell("X", &two),
            r"**X**<br>[homepage](https://h) \| [repository](https://r)"
        );
        assert_eq!(mod_cell("Y", &Map::new()), "**Y**");
    }
}
