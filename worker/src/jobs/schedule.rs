//! `schedule`: the scheduler (NetKAN-Infra `scheduler.py`, reference §1.2), a periodic job.
//! Per game with a NetKAN repository, unless more than `MaxQueued` scheduled (low-lane)
//! inflations already wait in `inbound.<game>`, or (with a GitHub token) fewer than
//! `MinGithubRemaining` API calls are left, it enqueues a low-lane `inflate` job for every
//! active `.netkan` of its group:
//! `webhooks` = SpaceDock `$kref` and no `$vref` (SpaceDock tells `/sd/inflate` about every
//! upload, so a daily safety pass is enough), `nonhooks` = the others, `all` = both.
//! `.frozen` files are never scheduled. Why a game was skipped is logged (WARN) and sent as
//! a notice, as the reference posted it to Discord.
//!
//! Its attributes (`Group`, `MaxQueued`, `MinGithubRemaining`) come from the pass's settings
//! when the ticker enqueues it; an operator may enqueue one with others.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use netkan_common::ckan::{Module, parse_netkan};
use netkan_common::config::{GameSettings, SchedulePass, Settings};
use netkan_common::{Game, Lane, NewJob, QueueName};

use crate::context::{JobContext, JobError, JobResult, Registry};
use crate::forge::Forge;
use crate::git::{WorkingClone, clone_dir};
use crate::jobs::inflation::{add_highest_versions, inflate_job};
use crate::notify::{Notice, Notifier};
use crate::periodic::{Exclusive, Period, Periodic};

/// The role name.
pub const ROLE: &str = "schedule";
/// The job kind.
pub const KIND: &str = "schedule";
/// The queue the role serves.
pub const QUEUE: &str = "schedule";
/// Inflation jobs enqueued per round trip.
const ENQUEUE_CHUNK: usize = 500;

/// Which `.netkan` files a pass schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Not kept up to date by SpaceDock's webhook.
    Nonhooks,
    /// SpaceDock `$kref` without `$vref`: SpaceDock's webhook announces their releases.
    Webhooks,
    /// Every active `.netkan`.
    All,
}

impl Group {
    /// Parses `nonhooks`, `webhooks` or `all`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "nonhooks" => Some(Group::Nonhooks),
            "webhooks" => Some(Group::Webhooks),
            "all" => Some(Group::All),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Nonhooks => "nonhooks",
            Group::Webhooks => "webhooks",
            Group::All => "all",
        }
    }

    /// Whether a `.netkan` whose hook-only status is `hook_only` belongs to the group.
    pub fn takes(self, hook_only: bool) -> bool {
        match self {
            Group::Nonhooks => !hook_only,
            Group::Webhooks => hook_only,
            Group::All => true,
        }
    }
}

/// What the scheduler needs to know of one `.netkan`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetkanInfo {
    /// SpaceDock `$kref` and no `$vref` in the first document (`hook_only`).
    pub hook_only: bool,
    /// `x_netkan_allow_out_of_order`: no highest versions are sent.
    pub out_of_order: bool,
}

/// Reads the first document of a `.netkan` as the reference's `Netkan` does: the source of
/// `$kref` is whatever `#/ckan/<source>/...` names (an unknown one is still scheduled, and
/// the inflator's error then shows in the mod's status).
pub fn netkan_info(text: &str) -> Result<NetkanInfo, String> {
    let docs = parse_netkan(text).map_err(|e| e.to_string())?;
    let first = docs.first().ok_or("no document")?;
    let kref_source = first
        .get("$kref")
        .and_then(|k| k.as_str())
        .and_then(|k| k.strip_prefix("#/ckan/"))
        .and_then(|rest| rest.split_once('/'))
        .map(|(source, _)| source);
    Ok(NetkanInfo {
        hook_only: !first.contains_key("$vref") && kref_source == Some("spacedock"),
        out_of_order: Module::new(first)
            .netkan_options()
            .map(|o| o.allow_out_of_order)
            .unwrap_or(false),
    })
}

/// What the scheduler needs from the settings.
pub struct ScheduleEnv {
    /// Working clones under `<data_dir>/work`.
    pub data_dir: PathBuf,
    /// Repositories per game.
    pub games: BTreeMap<String, GameSettings>,
    /// The rate-limit gate (only with a token).
    pub forge: Forge,
    /// Where skip notices go.
    pub notifier: Notifier,
    /// `web.base_url`, for log links in notices.
    pub base_url: String,
}

/// Registers the handler.
pub fn register(registry: &mut Registry, env: Arc<ScheduleEnv>) {
    registry.register(KIND, move |ctx| run(ctx, env.clone()));
}

/// The periodic jobs of the role: the two passes of `[scheduler]` that are enabled.
pub fn periodic_jobs(settings: &Settings) -> Vec<Periodic> {
    let queue = QueueName::new(QUEUE).expect("a valid queue name");
    [
        ("schedule-pass", &settings.scheduler.pass),
        ("schedule-webhooks-pass", &settings.scheduler.webhooks_pass),
    ]
    .into_iter()
    .filter(|(_, p)| p.enabled)
    .filter_map(|(name, pass)| {
        Some(Periodic {
            name: name.to_owned(),
            period: Period::of_pass(pass)?,
            job: pass_job(pass, queue.clone()),
        })
    })
    .collect()
}

/// The `schedule` job of a pass.
pub fn pass_job(pass: &SchedulePass, queue: QueueName) -> NewJob {
    NewJob::new(KIND, queue)
        .with_lane(Lane::Low)
        .with_attr("Group", pass.group.clone())
        .with_attr("MaxQueued", pass.max_queued.to_string())
        .with_attr("MinGithubRemaining", pass.min_github_remaining.to_string())
        .with_dedup_key(format!("schedule/{}", pass.group))
}

async fn run(ctx: JobContext, env: Arc<ScheduleEnv>) -> JobResult {
    let attrs = &ctx.job().attributes;
    let group_text = attrs.get("Group").map_or("nonhooks", String::as_str);
    let group = Group::parse(group_text).ok_or_else(|| {
        JobError::permanent(format!(
            "attribute Group is {group_text:?}, not nonhooks, webhooks or all"
        ))
    })?;
    let number = |name: &str, default: u64| -> Result<u64, JobError> {
        match attrs.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                JobError::permanent(format!("attribute {name} is {v:?}, not a number"))
            }),
        }
    };
    let max_queued = number("MaxQueued", 20)?;
    let min_github = number("MinGithubRemaining", 1500)?;
    let lock = match Exclusive::acquire(&ctx, &format!("schedule:{}", group.as_str())).await? {
        Ok(l) => l,
        Err(holder) => {
            ctx.notice(format!(
                "skipped: another {} pass is running (job {holder})",
                group.as_str()
            ));
            return Ok(());
        }
    };
    let games: Vec<Game> = env
        .games
        .iter()
        .filter(|(_, g)| g.netkan.is_some())
        .filter_map(|(name, _)| Game::new(name).ok())
        .collect();
    let mut summaries = Vec::new();
    let mut failed = Vec::new();
    for game in &games {
        match schedule_game(&ctx, &env, game, group, max_queued, min_github).await {
            Ok(s) => summaries.push(s),
            Err(e) => {
                ctx.error(format!("{game}: {e:#}"));
                failed.push(game.to_string());
            }
        }
    }
    lock.release().await?;
    let summary = if games.is_empty() {
        "no game has a NetKAN repository (games.<game>.netkan)".to_owned()
    } else if summaries.is_empty() {
        format!("nothing scheduled: {} failed", failed.join(", "))
    } else {
        summaries.join("; ")
    };
    if failed.is_empty() {
        ctx.notice(summary);
        Ok(())
    } else {
        ctx.notice(&summary);
        Err(JobError::Retry(anyhow::anyhow!(
            "scheduling failed for {}",
            failed.join(", ")
        )))
    }
}

/// Runs the pass for one game; returns its summary.
async fn schedule_game(
    ctx: &JobContext,
    env: &ScheduleEnv,
    game: &Game,
    group: Group,
    max_queued: u64,
    min_github: u64,
) -> anyhow::Result<String> {
    let inbound = QueueName::inbound(game);
    let waiting: u64 = {
        let mut c = ctx.redis().get().await?;
        redis::cmd("XLEN")
            .arg(ctx.queue().keys().lane(&inbound, Lane::Low))
            .query_async(&mut *c)
            .await?
    };
    if waiting > max_queued {
        let why =
            format!("Run skipped for {game}: {waiting} messages in queue exceeds {max_queued}");
        return Ok(skipped(ctx, env, game, why).await);
    }
    if env.forge.has_token() && min_github > 0 {
        match env.forge.rate_limit().await {
            Ok(r) if r.remaining < min_github => {
                let why = format!(
                    "Run skipped for {game}; GitHub API rate limit remaining {} below {min_github}",
                    r.remaining
                );
                return Ok(skipped(ctx, env, game, why).await);
            }
            Ok(r) => ctx.info(format!("GitHub API rate limit remaining {}", r.remaining)),
            Err(e) => {
                let why = format!("Run skipped for {game}: cannot read the GitHub rate limit: {e}");
                return Ok(skipped(ctx, env, game, why).await);
            }
        }
    }
    let remote =
        super::remote(&env.games, game, super::Repo::Netkan).context("no NetKAN repository")?;
    let dir = clone_dir(&env.data_dir, game.as_str(), "NetKAN-schedule");
    let files = tokio::task::spawn_blocking(
        move || -> anyhow::Result<Vec<(String, anyhow::Result<String>)>> {
            let clone = WorkingClone::open_or_clone(&remote, &dir)?;
            let branch = clone.fetch()?;
            let head = clone.branch_head(&branch)?;
            let mut names: Vec<String> = clone
                .list_dir(head, "NetKAN")?
                .into_iter()
                .filter(|n| n.ends_with(".netkan"))
                .collect();
            names.sort_by_key(|n| n.to_lowercase());
            Ok(names
                .into_iter()
                .map(|n| {
                    let text = clone
                        .read_text(head, &format!("NetKAN/{n}"))
                        .and_then(|t| t.context("a link that leads nowhere"));
                    (n, text)
                })
                .collect())
        },
    )
    .await
    .context("git task panicked")??;
    let mut jobs = Vec::new();
    let mut ids = Vec::new();
    let mut wanted = Vec::new();
    let (mut other_group, mut unreadable) = (0usize, 0usize);
    for (name, text) in files {
        let id = name.trim_end_matches(".netkan").to_owned();
        let text = match text {
            Ok(t) => t,
            Err(e) => {
                ctx.warn(format!("NetKAN/{name}: {e:#}; not scheduled"));
                unreadable += 1;
                continue;
            }
        };
        let info = match netkan_info(&text) {
            Ok(i) => i,
            Err(e) => {
                ctx.warn(format!("NetKAN/{name}: {e}; not scheduled"));
                unreadable += 1;
                continue;
            }
        };
        if !group.takes(info.hook_only) {
            other_group += 1;
            continue;
        }
        if !info.out_of_order {
            wanted.push(id.clone());
        }
        jobs.push(inflate_job(game, &id, text, Lane::Low));
        ids.push(id);
    }
    let dir = clone_dir(&env.data_dir, game.as_str(), "CKAN-meta-schedule");
    let remote = super::remote(&env.games, game, super::Repo::CkanMeta);
    add_highest_versions(ctx, remote, dir, &mut jobs, &ids, wanted).await;
    let total = jobs.len();
    for chunk in jobs.chunks(ENQUEUE_CHUNK) {
        ctx.enqueue(chunk.to_vec()).await?;
    }
    ctx.info(format!(
        "{game}: {total} inflations queued (group {}), {other_group} .netkan files in the other group, {unreadable} unreadable",
        group.as_str()
    ));
    Ok(format!("{game}: {total} inflations queued"))
}

async fn skipped(ctx: &JobContext, env: &ScheduleEnv, game: &Game, why: String) -> String {
    ctx.warn(&why);
    let log_url = format!("{}/logs/{}", env.base_url.trim_end_matches('/'), ctx.id());
    let notice = Notice {
        kind: "scheduler_skipped",
        game: game.as_str(),
        identifier: None,
        text: &why,
        log_url: &log_url,
    };
    if let Err(e) = env.notifier.send(&notice).await {
        ctx.warn(&e);
    }
    format!("{game}: skipped")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_only_is_a_spacedock_kref_without_a_vref() {
        let info = |t: &str| netkan_info(t).unwrap();
        // The kinds of the reference's tests/metadata.py.
        assert!(!info("identifier: A\n$kref: '#/ckan/github/pjf/DogeCoinFlag'\n").hook_only);
        assert!(info("identifier: A\n$kref: '#/ckan/spacedock/777'\n").hook_only);
        assert!(!info("identifier: A\n$kref: '#/ckan/curse/666'\n").hook_only);
        assert!(
            !info("identifier: A\n$kref: '#/ckan/netkan/http://example.com/A.netkan'\n").hook_only
        );
        assert!(!info("identifier: A\nversion: '1.0'\n").hook_only);
        assert!(
            !info("identifier: A\n$kref: '#/ckan/spacedock/777'\n$vref: '#/ckan/ksp-avc'\n")
                .hook_only
        );
        assert!(
            info("{\"identifier\": \"A\", \"x_netkan_allow_out_of_order\": true}").out_of_order
        );
        assert!(
            Group::Webhooks.takes(true) && !Group::Nonhooks.takes(true) && Group::All.takes(false)
        );
    }
}
