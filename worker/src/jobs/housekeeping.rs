//! Role `housekeeping`: the periodic jobs of the reference's daily and weekly scheduled tasks
//! (§0), each a job on the `housekeeping` queue with its own UUID and log:
//! `download-count` and `auto-freeze` (per game), `ticket-close` and `clean-cache`.
//!
//! Each is a periodic job ([`crate::periodic`]): its schedule is `[housekeeping.<kind>]`;
//! per-game kinds have one periodic entry per game that has the repository they need
//! (`download-count-ksp`), so each game's run has its own job and log. While a run goes it
//! holds the lock `housekeeping:<kind>[:<game>]`, so one instance runs at a time across
//! every worker, whether the ticker or an operator enqueued it.
//!
//! This module holds what they share: their environment from the settings, the job builder
//! (used by the ticker and by `netkan housekeeping run`), the lock, working clones locked per
//! process, and pushing a game's primary branch.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;

use std::future::Future;

use anyhow::Context;
use netkan_common::config::{
    GameSettings, HostSettings, HousekeepingSettings, ScheduleSpec, Secret, Settings,
    parse_time_of_day,
};
use netkan_common::{Game, Lane, NewJob, QueueName};

use crate::context::{JobContext, JobError, JobResult};
use crate::forge::Forge;
use crate::git::{Favor, GitError, Identity, WorkTree};
use crate::notify::Notifier;
use crate::periodic::{Exclusive, Period, Periodic};

use super::{auto_freeze, clean_cache, download_count, ticket_close};

/// The role name.
pub const ROLE: &str = "housekeeping";

/// Every housekeeping kind, and whether it runs once per game (else once).
pub const KINDS: &[(&str, bool)] = &[
    (download_count::KIND, true),
    (auto_freeze::KIND, true),
    (ticket_close::KIND, false),
    (clean_cache::KIND, false),
];

/// The queue the role serves.
pub fn queue() -> QueueName {
    QueueName::housekeeping()
}

/// A housekeeping job of `kind` for `game`, on the housekeeping queue.
///
/// # Errors
/// If `kind` is not a housekeeping kind; the message lists them.
pub fn new_job(kind: &str, game: Game, lane: Lane) -> Result<NewJob, String> {
    if !KINDS.iter().any(|(k, _)| *k == kind) {
        let known: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
        return Err(format!(
            "{kind:?} is not a housekeeping job; known: {}",
            known.join(", ")
        ));
    }
    Ok(NewJob::new(kind, queue()).with_game(game).with_lane(lane))
}

/// The period of a schedule; `None` if it has none usable (validation rejects that).
pub fn period(s: &ScheduleSpec<'_>) -> Option<Period> {
    if s.every_secs > 0 {
        Some(Period::Every(
            i64::try_from(s.every_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
        ))
    } else {
        parse_time_of_day(s.at).map(Period::DailyAt)
    }
}

/// The enabled housekeeping jobs of `settings`: per-game kinds for each game with the
/// repository they need, the others once (for the default game); the ticket closer only with
/// repositories and a GitHub token.
pub fn periodic_jobs(settings: &Settings) -> Vec<Periodic> {
    let h = &settings.housekeeping;
    let schedules = [
        (download_count::KIND, h.download_count.schedule()),
        (auto_freeze::KIND, h.auto_freeze.schedule()),
        (ticket_close::KIND, h.ticket_close.schedule()),
        (clean_cache::KIND, h.clean_cache.schedule()),
    ];
    let mut out = Vec::new();
    for (kind, schedule) in schedules {
        let Some(period) = period(&schedule).filter(|_| schedule.enabled) else {
            continue;
        };
        let closer_configured =
            !h.ticket_close.repositories.is_empty() && !settings.hosts.github_token.is_empty();
        if kind == ticket_close::KIND && !closer_configured {
            // Scheduled only when it has something to do; by hand it says what is missing.
            continue;
        }
        let games: Vec<Option<Game>> = if per_game(kind) {
            settings
                .games
                .iter()
                .filter(|(_, g)| {
                    if kind == download_count::KIND {
                        g.ckanmeta.is_some()
                    } else {
                        g.netkan.is_some()
                    }
                })
                .filter_map(|(name, _)| Game::new(name).ok())
                .map(Some)
                .collect()
        } else {
            vec![None]
        };
        for game in games {
            let name = match &game {
                Some(g) => format!("{kind}-{g}"),
                None => kind.to_owned(),
            };
            let job =
                new_job(kind, game.unwrap_or_default(), Lane::Low).expect("a housekeeping kind");
            out.push(Periodic { name, period, job });
        }
    }
    out
}

/// True for the kinds that run once per game.
pub fn per_game(kind: &str) -> bool {
    KINDS.iter().any(|(k, g)| *k == kind && *g)
}

/// Runs `work` holding the lock of the job's kind (and game, for per-game kinds): if another
/// run holds it, logs which and succeeds without doing anything.
pub(crate) async fn exclusively<Fut>(ctx: &JobContext, work: Fut) -> JobResult
where
    Fut: Future<Output = JobResult>,
{
    let kind = &ctx.job().kind;
    let name = if per_game(kind) {
        format!("housekeeping:{kind}:{}", ctx.job().game)
    } else {
        format!("housekeeping:{kind}")
    };
    let lock = match Exclusive::acquire(ctx, &name).await? {
        Ok(lock) => lock,
        Err(holder) => {
            ctx.notice(format!(
                "skipped: another {kind} run holds {name} (job {holder})"
            ));
            return Ok(());
        }
    };
    let result = work.await;
    if let Err(e) = lock.release().await {
        // It expires by itself shortly.
        ctx.warn(format!("could not release {name}: {e:#}"));
    }
    result
}

/// What the housekeeping jobs need from the settings.
pub struct HousekeepingEnv {
    /// Working clones live under `<data_dir>/work/<game>/`.
    pub data_dir: PathBuf,
    /// Repositories per game.
    pub games: BTreeMap<String, GameSettings>,
    /// The jobs' parameters.
    pub settings: HousekeepingSettings,
    /// Base URLs and the GitHub token.
    pub hosts: HostSettings,
    /// The bot's commit identity.
    pub identity: Identity,
    /// The process's HTTP client.
    pub http: reqwest::Client,
    /// Pull requests and issues.
    pub forge: Forge,
    /// Notices (download summaries).
    pub notifier: Notifier,
    /// `web.base_url`, for log links.
    pub base_url: String,
    /// The download cache directory and its cap.
    pub cache_dir: PathBuf,
    /// `cache.max_bytes`.
    pub cache_max_bytes: u64,
}

impl HousekeepingEnv {
    /// The environment of `settings`, over the process's `http` client.
    pub fn new(all: &Settings, http: reqwest::Client) -> Self {
        Self {
            data_dir: all.data_dir.clone(),
            games: all.games.clone(),
            settings: all.housekeeping.clone(),
            hosts: all.hosts.clone(),
            identity: Identity::from(&all.git),
            forge: Forge::new(http.clone(), &all.hosts),
            notifier: Notifier::new(http.clone(), all.notify.webhook_url.clone()),
            http,
            base_url: all.web.base_url.trim_end_matches('/').to_owned(),
            cache_dir: all.cache_dir(),
            cache_max_bytes: all.cache.max_bytes,
        }
    }

    /// A game's settings, if it has any.
    pub fn game(&self, game: &Game) -> Option<&GameSettings> {
        self.games.get(game.as_str())
    }

    /// A game's repository (`which` picks it from the game's settings), or, if it has none,
    /// a NOTICE naming the setting `key` and why nothing is done.
    pub(crate) fn repository(
        &self,
        ctx: &JobContext,
        which: impl FnOnce(&GameSettings) -> Option<&Secret>,
        key: &str,
        nothing: &str,
    ) -> Option<String> {
        let game = &ctx.job().game;
        let found = self
            .game(game)
            .and_then(which)
            .map(|s| s.expose().to_owned());
        if found.is_none() {
            ctx.notice(format!(
                "no repository is configured for {game} (games.{game}.{key}): {nothing}"
            ));
        }
        found
    }

    /// The log page of a job.
    pub fn log_url(&self, ctx: &JobContext) -> String {
        format!("{}/logs/{}", self.base_url, ctx.id())
    }
}

/// A working clone directory this process holds exclusively while the guard lives (an
/// advisory lock on `<dir>.lock`), so two workers on one machine never share it.
pub(crate) struct LockedDir {
    /// The directory.
    pub dir: PathBuf,
    _lock: File,
}

/// Locks `<data_dir>/work/<game>/<name>`; a retryable error if another process holds it.
pub(crate) fn lock_work_dir(
    data_dir: &std::path::Path,
    game: &Game,
    name: &str,
) -> Result<LockedDir, JobError> {
    let base = data_dir.join("work").join(game.as_str());
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let lock_path = base.join(format!("{name}.lock"));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    if file.try_lock().is_err() {
        return Err(JobError::Retry(anyhow::anyhow!(
            "{} is in use by another process",
            base.join(name).display()
        )));
    }
    Ok(LockedDir {
        dir: base.join(name),
        _lock: file,
    })
}

/// Runs blocking git work off the async threads; git failures are worth retrying.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, JobError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(JobError::Retry(anyhow::Error::new(e))),
        Err(e) => Err(JobError::Retry(anyhow::anyhow!("git task panicked: {e}"))),
    }
}

/// Opens (cloning on first use) the working clone at `dir` on its primary branch, brought
/// up to date with `git pull -X ours` (so a commit a failed push left behind is kept).
pub(crate) fn open_primary(
    remote: &str,
    dir: &std::path::Path,
    identity: &Identity,
) -> Result<WorkTree, GitError> {
    let mut tree = WorkTree::open_or_clone(remote, dir)?;
    tree.fetch()?;
    let primary = tree.primary().to_owned();
    tree.switch(&primary)?;
    tree.reset_to_head()?;
    tree.pull(&primary, Favor::Ours, identity)?;
    Ok(tree)
}

/// [`open_primary`] for a bare clone ([`WorkTree::open_or_clone_bare`]): no checkout.
pub(crate) fn open_primary_bare(
    remote: &str,
    dir: &std::path::Path,
    identity: &Identity,
) -> Result<WorkTree, GitError> {
    let mut tree = WorkTree::open_or_clone_bare(remote, dir)?;
    tree.fetch()?;
    let primary = tree.primary().to_owned();
    tree.pull(&primary, Favor::Ours, identity)?;
    Ok(tree)
}

/// Pushes the primary branch, pulling `-X ours` and trying again when the remote moved
/// meanwhile (up to `attempts` pushes). Returns how many commits were pushed.
pub(crate) fn push_primary(
    ctx: &JobContext,
    tree: &mut WorkTree,
    identity: &Identity,
    attempts: u32,
) -> Result<usize, GitError> {
    let primary = tree.primary().to_owned();
    let mut attempt = 1;
    loop {
        tree.pull(&primary, Favor::Ours, identity)?;
        let unpushed = tree.unpushed(&primary)?.len();
        if unpushed == 0 {
            return Ok(0);
        }
        match tree.push(&primary) {
            Ok(()) => {
                ctx.info(format!(
                    "pushed {unpushed} commits to {primary} of {}",
                    tree.url()
                ));
                return Ok(unpushed);
            }
            Err(e @ GitError::Rejected { .. }) if attempt < attempts => {
                ctx.warn(format!(
                    "push attempt {attempt} of {attempts}: {e}; pulling again"
                ));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &Settings) -> Vec<String> {
        periodic_jobs(s).into_iter().map(|p| p.name).collect()
    }

    #[test]
    fn each_game_with_the_repository_gets_its_own_periodic_entry() {
        let mut s = Settings::default();
        assert_eq!(names(&s), ["clean-cache"]);
        let repo = |p: &str| Some(Secret::new(p));
        s.games.insert(
            "ksp".into(),
            GameSettings {
                ckanmeta: repo("/srv/CKAN-meta.git"),
                netkan: repo("/srv/NetKAN.git"),
                ..GameSettings::default()
            },
        );
        s.games.insert(
            "ksp2".into(),
            GameSettings {
                netkan: repo("/srv/KSP2-NetKAN.git"),
                ..GameSettings::default()
            },
        );
        s.housekeeping.ticket_close.repositories = vec!["KSP-CKAN/CKAN".into()];
        // No token: the ticket closer is not scheduled.
        assert_eq!(
            names(&s),
            [
                "download-count-ksp",
                "auto-freeze-ksp",
                "auto-freeze-ksp2",
                "clean-cache"
            ]
        );
        s.hosts.github_token = Secret::new("t");
        s.housekeeping.clean_cache.enabled = false;
        assert_eq!(
            names(&s),
            [
                "download-count-ksp",
                "auto-freeze-ksp",
                "auto-freeze-ksp2",
                "ticket-close"
            ]
        );
        let jobs = periodic_jobs(&s);
        assert_eq!(jobs[2].job.game.as_str(), "ksp2");
        assert_eq!(jobs[2].job.lane, Lane::Low);
        assert_eq!(jobs[1].period, Period::Every(7 * 86_400_000));
        assert_eq!(jobs[0].period, Period::DailyAt(3 * 3600));
    }
}
