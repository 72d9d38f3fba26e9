//! `index`: the indexer (NetKAN-Infra `indexer.py`, reference §1.4). Each job is one
//! inflation result from the `outbound` queue: its body the `.ckan` text (or `{}`), its
//! attributes `ModIdentifier`, `Staged`, `Success`, `CheckTime`, `FileName`, `GameId`,
//! `ErrorMessage`, `WarningMessages`, `StagingReason` (inflator §11).
//!
//! A successful result whose bytes differ (by MD5) from `<identifier>/<file>` in CKAN-meta is
//! stored verbatim and committed (`NetKAN added mod - <stem>` / `NetKAN updated mod -
//! <stem>`, with a `Job-Id` trailer) on the primary branch, then pulled `-X ours` and pushed;
//! a staged one is committed on `add/<stem>` instead, that branch pushed and a pull request
//! opened. Every result updates the mod's status; a new error or new warnings become a
//! NOTICE and a notification. Each commit on the primary branch gets a `mirror` child job.
//!
//! Batching: the jobs of one game share one (bare) clone under a lock, in two steps: commit
//! (fast, local), then publish (pull and push). A job publishes only if its commit is not
//! on the remote yet, and a push carries every commit made so far, so jobs that arrive
//! together (a claim takes up to `worker.concurrency.index` at once) are committed one after
//! the other and pushed once, as the reference pushed once per batch of ten.
//!
//! Idempotence: a replayed job finds its file unchanged and its own commit (by the trailer)
//! in the recent history, so it commits nothing, pushes what is still unpushed, and reports
//! the earlier commit. Commits left unpushed by a killed worker are pushed by the next job of
//! that game in the same clone; a job that finds its bytes already in the clone while the
//! clone has unpushed commits pushes them before it succeeds (the bytes may be one of them).
//! The pull before a push replays our unpushed commits on the remote's branch
//! (`WorkTree::pull_replaying`), dropping each whose files the remote already has: another
//! indexer, whose clone had not seen a commit yet, may have committed the same `.ckan`, and
//! a merge would keep both. Stale git lock files of a killed holder are removed when a
//! process first takes a clone slot (`git::clear_stale_locks`).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use netkan_common::config::{GameSettings, IndexerSettings};
use netkan_common::status::{Inflation, StatusStore, cached_download_time, parse_time};
use netkan_common::{ClaimedJob, Game, NewJob, QueueName};
use serde_json::{Map, Value};

use crate::context::{JobContext, JobError, JobResult, Registry};
use crate::forge::{Forge, Opened, PullRequest};
use crate::git::{GitError, Identity, Pulled, WorkTree, job_trailer, message_with_job};
use crate::notify::{Notice, Notifier};

/// The role name.
pub const ROLE: &str = "index";
/// The kind of the jobs it runs.
pub const KIND: &str = "index";
/// The kind of the mirror jobs it enqueues.
pub const MIRROR_KIND: &str = "mirror";
/// The label of staged pull requests.
pub const STAGED_LABEL: &str = "Needs looking into";
/// Commits of the primary branch searched for a replayed job's own earlier commit.
const OWN_COMMIT_HORIZON: usize = 200;
/// `NETKAN_FAULT=index-after-commit` makes the process abort right after an index commit
/// and before its push: the crash tests use it to kill a real worker at the worst moment.
pub const FAULT_ENV: &str = "NETKAN_FAULT";

/// What the indexer needs from the settings, and its per-game working clones.
pub struct IndexEnv {
    /// Working clones live under `<data_dir>/work/<game>/`.
    pub data_dir: PathBuf,
    /// Repositories per game.
    pub games: BTreeMap<String, GameSettings>,
    /// The indexer's settings.
    pub settings: IndexerSettings,
    /// The bot's commit identity.
    pub identity: Identity,
    /// The download cache (for `last_downloaded`).
    pub cache_dir: PathBuf,
    /// For pull requests of staged results; `None` or no token: branches only.
    pub forge: Option<Forge>,
    /// Notices of new errors and warnings.
    pub notifier: Notifier,
    /// `web.base_url`, for log links in notices.
    pub base_url: String,
    /// Abort after committing (crash tests; see [`FAULT_ENV`]).
    pub abort_after_commit: bool,
    clones: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl IndexEnv {
    /// The indexer's environment.
    #[allow(clippy::too_many_arguments)] // Each is one setting; a builder would add nothing.
    pub fn new(
        data_dir: PathBuf,
        games: BTreeMap<String, GameSettings>,
        settings: IndexerSettings,
        identity: Identity,
        cache_dir: PathBuf,
        forge: Option<Forge>,
        notifier: Notifier,
        base_url: String,
    ) -> Self {
        Self {
            data_dir,
            games,
            settings,
            identity,
            cache_dir,
            forge,
            notifier,
            base_url: base_url.trim_end_matches('/').to_owned(),
            abort_after_commit: std::env::var(FAULT_ENV).is_ok_and(|v| v == "index-after-commit"),
            clones: Mutex::default(),
        }
    }

    fn ckanmeta(&self, game: &Game) -> Result<String, JobError> {
        super::remote(&self.games, game, super::Repo::CkanMeta).ok_or_else(|| {
            JobError::permanent(format!(
                "no CKAN-meta repository is configured for game {game} (games.{game}.ckanmeta)"
            ))
        })
    }

    fn forge_repo(&self, game: &Game) -> Option<String> {
        self.games
            .get(game.as_str())
            .and_then(|g| g.ckanmeta_repo.clone())
    }

    /// This process's working clone of a game's CKAN-meta: the first of
    /// `indexer.clone_slots` directories whose lock file it can lock, held for the life of
    /// the process, so that a restarted process finds (and pushes) what it left behind.
    fn slot(&self, game: &Game) -> Result<Arc<tokio::sync::Mutex<Slot>>, JobError> {
        let mut clones = self
            .clones
            .lock()
            .expect("clone map lock is never poisoned");
        if let Some(s) = clones.get(game.as_str()) {
            return Ok(s.clone());
        }
        let base = self.data_dir.join("work").join(game.as_str());
        std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
        for n in 0..self.settings.clone_slots {
            let dir = base.join(format!("CKAN-meta-index-{n}"));
            let lock_path = base.join(format!("CKAN-meta-index-{n}.lock"));
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .with_context(|| format!("opening {}", lock_path.display()))?;
            if file.try_lock().is_ok() {
                let slot = Arc::new(tokio::sync::Mutex::new(Slot {
                    dir,
                    _lock: file,
                    checked: false,
                }));
                clones.insert(game.as_str().to_owned(), slot.clone());
                return Ok(slot);
            }
        }
        Err(JobError::Retry(anyhow::anyhow!(
            "all {} working clones of {game}'s CKAN-meta under {} are locked by other indexer processes (indexer.clone_slots)",
            self.settings.clone_slots,
            base.display()
        )))
    }
}

/// One working clone, owned by this process.
struct Slot {
    dir: PathBuf,
    /// Held open: the lock lasts as long as the process.
    _lock: File,
    /// Reset and checked out on the primary branch since this process took it.
    checked: bool,
}

/// Registers the handler.
pub fn register(registry: &mut Registry, env: Arc<IndexEnv>) {
    registry.register(KIND, move |ctx| run(ctx, env.clone()));
}

/// An inflation result, from a job on the outbound queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// `ModIdentifier`.
    pub identifier: String,
    /// `GameId`, lower-cased.
    pub game: Game,
    /// `Success`.
    pub success: bool,
    /// `Staged`.
    pub staged: bool,
    /// `CheckTime`.
    pub check_time: DateTime<Utc>,
    /// `FileName`'s base name (`DogeCoinFlag-v1.02.ckan`); absent on failures.
    pub file_name: Option<String>,
    /// `ErrorMessage`.
    pub error: Option<String>,
    /// `WarningMessages`.
    pub warnings: Option<String>,
    /// `StagingReason`.
    pub staging_reason: Option<String>,
}

impl Outbound {
    /// Reads a job's attributes as the reference's `CkanMessage` does: `true`/`false` in any
    /// case, `FileName` reduced to its base name, `GameId` lower-cased (the job's game if
    /// absent). A bad attribute is named.
    pub fn from_job(job: &ClaimedJob) -> Result<Self, String> {
        let a = &job.attributes;
        let get = |k: &str| a.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let flag = |k: &str| -> Result<bool, String> {
            match get(k) {
                None => Ok(false),
                Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
                Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
                Some(v) => Err(format!("attribute {k} is {v:?}, not True or False")),
            }
        };
        let identifier = get("ModIdentifier").ok_or("attribute ModIdentifier is missing")?;
        if !netkan_common::ckan::module::is_valid_identifier(identifier) {
            return Err(format!(
                "attribute ModIdentifier {identifier:?} is not a valid identifier"
            ));
        }
        let game = match get("GameId") {
            Some(g) => Game::new(g).map_err(|e| format!("attribute GameId: {e}"))?,
            None => job.game.clone(),
        };
        let check = get("CheckTime").ok_or("attribute CheckTime is missing")?;
        let check_time = parse_time(check)
            .ok_or_else(|| format!("attribute CheckTime {check:?} is not yyyy-MM-ddTHH:mm:ss"))?;
        let success = flag("Success")?;
        let file_name = match get("FileName") {
            None => None,
            Some(f) => {
                let base = f.rsplit(['/', '\\']).next().unwrap_or(f);
                if !base.ends_with(".ckan") || base == ".ckan" || base.starts_with('.') {
                    return Err(format!(
                        "attribute FileName {f:?} does not name a .ckan file"
                    ));
                }
                Some(base.to_owned())
            }
        };
        if success && file_name.is_none() {
            return Err("attribute FileName is missing from a successful result".into());
        }
        Ok(Self {
            identifier: identifier.to_owned(),
            game,
            success,
            staged: flag("Staged")?,
            check_time,
            file_name,
            error: get("ErrorMessage").map(str::to_owned),
            warnings: get("WarningMessages").map(str::to_owned),
            staging_reason: get("StagingReason").map(str::to_owned),
        })
    }

    /// `<identifier>/<file>` in CKAN-meta.
    pub fn path(&self) -> Option<String> {
        self.file_name
            .as_ref()
            .map(|f| format!("{}/{f}", self.identifier))
    }

    /// The file's stem (`DogeCoinFlag-v1.02`), the reference's `mod_version`.
    pub fn stem(&self) -> Option<&str> {
        self.file_name
            .as_deref()
            .map(|f| f.strip_suffix(".ckan").unwrap_or(f))
    }

    /// `add/<stem>` with spaces removed.
    pub fn staging_branch(&self) -> Option<String> {
        self.stem().map(|s| format!("add/{}", s.replace(' ', "")))
    }
}

/// Lower-case hex MD5.
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the commit step did.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Same bytes as in CKAN-meta already.
    Unchanged,
    /// Committed now on the primary branch `branch`.
    Committed { oid: git2::Oid, branch: String },
    /// Committed on the primary branch `branch` by an earlier attempt of this job.
    CommittedBefore { oid: git2::Oid, branch: String },
    /// Same bytes as in the clone's primary branch `branch`, but the clone has commits the
    /// remote lacks (one of them may be what wrote these bytes: a job killed before its
    /// push, or one whose push failed): they are pushed before the job reports success.
    UnchangedUnpushed { oid: git2::Oid, branch: String },
    /// Committed on the staging branch and pushed (now or by an earlier attempt); `None`:
    /// the branch already had these bytes.
    Staged {
        branch: String,
        oid: Option<git2::Oid>,
    },
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, JobError> {
    // Every git failure is worth a retry: the remote may be back, and a clone that no
    // longer opens is made again by the next attempt.
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(JobError::Retry(e.into())),
        Err(e) => Err(JobError::Retry(anyhow::anyhow!("git task panicked: {e}"))),
    }
}

async fn run(ctx: JobContext, env: Arc<IndexEnv>) -> JobResult {
    let msg = Outbound::from_job(ctx.job()).map_err(JobError::permanent)?;
    let body = ctx.job().body.clone();
    ctx.info(format!(
        "inflation result for {} ({}): success {}, staged {}, checked {}",
        msg.identifier,
        msg.game,
        msg.success,
        msg.staged,
        msg.check_time.format("%Y-%m-%dT%H:%M:%S")
    ));
    let ckan: Option<Map<String, Value>> = if msg.success {
        match serde_json::from_str::<Value>(&body) {
            Ok(Value::Object(o)) => Some(o),
            _ => {
                return Err(JobError::permanent(format!(
                    "the body of a successful result for {} is not a .ckan JSON object",
                    msg.identifier
                )));
            }
        }
    } else {
        None
    };
    let step = if msg.success {
        Some(commit_step(&ctx, &env, &msg, body).await?)
    } else {
        None
    };
    if let Some(
        Step::Committed { oid, .. }
        | Step::CommittedBefore { oid, .. }
        | Step::UnchangedUnpushed { oid, .. },
    ) = &step
    {
        publish(&ctx, &env, &msg, *oid).await?;
    }
    let mut pull_request = None;
    if let Some(Step::Staged {
        branch,
        oid: Some(_),
    }) = &step
    {
        pull_request = open_pull_request(&ctx, &env, &msg, branch).await?;
    }
    let indexed = matches!(
        step,
        Some(
            Step::Committed { .. }
                | Step::CommittedBefore { .. }
                | Step::Staged { oid: Some(_), .. }
        )
    );
    record_status(&ctx, &env, &msg, ckan.as_ref(), indexed).await?;
    // A job run again may have committed and pushed these bytes in an attempt killed before
    // it queued the mirror job, and its own commit may be past the search horizon by now (or
    // its bytes pushed by another job's push): a replay that finds them unchanged queues the
    // mirror job too (de-duplicated, and harmless when the file is mirrored already). So does
    // one that found unpushed commits: the job that wrote these bytes may have died.
    let replayed = ctx.job().attempt > 1;
    let mirror_it = match &step {
        Some(
            Step::Committed { .. } | Step::CommittedBefore { .. } | Step::UnchangedUnpushed { .. },
        ) => true,
        Some(Step::Unchanged) => replayed,
        _ => false,
    };
    if let (true, Some(path)) = (mirror_it, msg.path()) {
        let mirror = NewJob::new(MIRROR_KIND, QueueName::mirroring())
            .with_game(msg.game.clone())
            .with_attr("GameId", msg.game.as_str())
            .with_dedup_key(format!("{}/{path}", msg.game))
            .with_body(path);
        let ids = ctx.enqueue(vec![mirror]).await?;
        for id in ids {
            ctx.info(format!("mirroring queued as {id}"));
        }
    }
    let file = msg.file_name.clone().unwrap_or_default();
    match step {
        None => ctx.notice(format!(
            "recorded failure for {}: {}",
            msg.identifier,
            msg.error.as_deref().unwrap_or("(no error message)")
        )),
        Some(Step::Unchanged) => ctx.notice(format!("unchanged {file}")),
        Some(Step::Committed { oid, branch }) => {
            ctx.notice(format!("committed {file} ({}) to {branch}", short(oid)))
        }
        Some(Step::CommittedBefore { oid, branch }) => ctx.notice(format!(
            "committed {file} ({}) to {branch} (by an earlier attempt of this job)",
            short(oid)
        )),
        Some(Step::UnchangedUnpushed { oid, branch }) => ctx.notice(format!(
            "unchanged {file}; made sure the clone's unpushed commits (up to {}) reached {branch}",
            short(oid)
        )),
        Some(Step::Staged { branch, oid: None }) => {
            ctx.notice(format!("unchanged {file} on {branch}"))
        }
        Some(Step::Staged {
            branch,
            oid: Some(_),
        }) => match pull_request {
            Some(n) => ctx.notice(format!("staged on {branch}, pull request #{n}")),
            None => ctx.notice(format!("staged on {branch}")),
        },
    }
    Ok(())
}

fn short(oid: git2::Oid) -> String {
    oid.to_string()[..7].to_owned()
}

/// Opens the game's clone of CKAN-meta on its primary branch. It is bare: commits are
/// written straight into the object database (`WorkTree::commit_files`), so there is no
/// 30,000-file checkout to keep and no index to rewrite per commit, and nothing a crash
/// could leave half-written.
fn open_clone(remote: &str, dir: &Path, checked: &mut bool) -> Result<WorkTree, GitError> {
    if !*checked {
        // This process holds the slot's lock: lock files a killed holder left are stale.
        let removed = crate::git::clear_stale_locks(dir).map_err(|source| GitError::Io {
            context: format!("removing stale lock files in {}", dir.display()),
            source,
        })?;
        crate::git::warn_removed(removed);
    }
    let tree = WorkTree::open_or_clone_bare(remote, dir)?;
    let primary = tree.primary().to_owned();
    if !*checked || tree.current_branch().as_deref() != Some(primary.as_str()) {
        // A crash inside `on_branch` may have left HEAD on a staging branch.
        tree.switch(&primary)?;
        *checked = true;
    }
    Ok(tree)
}

/// Step one, under the game's lock: compare, write, commit.
async fn commit_step(
    ctx: &JobContext,
    env: &Arc<IndexEnv>,
    msg: &Outbound,
    body: String,
) -> Result<Step, JobError> {
    let remote = env.ckanmeta(&msg.game)?;
    let slot = env.slot(&msg.game)?;
    let mut guard = slot.lock().await;
    let (dir, checked) = (guard.dir.clone(), guard.checked);
    let path = msg.path().expect("successful results have a FileName");
    let stem = msg
        .stem()
        .expect("successful results have a FileName")
        .to_owned();
    let staging = msg
        .staging_branch()
        .expect("successful results have a FileName");
    let (staged, job_id, identity) = (msg.staged, ctx.id(), env.identity.clone());
    let ctx2 = ctx.clone();
    let (step, checked) = blocking(move || {
        let mut checked = checked;
        let mut tree = open_clone(&remote, &dir, &mut checked)?;
        let primary = tree.primary().to_owned();
        let body_md5 = md5_hex(body.as_bytes());
        let changed_on = |tree: &WorkTree, where_: &str| -> Result<bool, GitError> {
            Ok(match tree.committed_file(&path)? {
                None => {
                    ctx2.info(format!("{path} is not in {where_}: a new file"));
                    true
                }
                Some(old) => {
                    let old_md5 = md5_hex(&old);
                    let changed = old_md5 != body_md5;
                    ctx2.info(format!(
                        "md5 of the result {body_md5}, of {path} in {where_} {old_md5}: {}",
                        if changed { "changed" } else { "unchanged" }
                    ));
                    changed
                }
            })
        };
        let trailer = job_trailer(&job_id);
        let commit_here = |tree: &WorkTree, branch: &str| -> Result<Option<git2::Oid>, GitError> {
            let new = tree.committed_file(&path)?.is_none();
            let verb = if new { "added" } else { "updated" };
            let message = message_with_job(&format!("NetKAN {verb} mod - {stem}"), &job_id);
            let files = [(path.as_str(), Some(body.as_bytes()))];
            tree.commit_files(branch, &files, &message, &identity, &identity)
        };
        let changed = changed_on(&tree, &primary)?;
        let step = if !changed {
            match tree.find_commit_with_line(&primary, &trailer, OWN_COMMIT_HORIZON)? {
                Some(oid) => Step::CommittedBefore {
                    oid,
                    branch: primary,
                },
                None => match tree.unpushed(&primary)?.first() {
                    Some(&oid) => Step::UnchangedUnpushed {
                        oid,
                        branch: primary,
                    },
                    None => Step::Unchanged,
                },
            }
        } else if staged {
            ctx2.info(format!("staged result: working on branch {staging}"));
            let branch = staging.clone();
            let oid = tree.on_branch(&staging, &identity, |t| {
                if changed_on(t, &branch)? {
                    commit_here(t, &branch)
                } else {
                    // Pushed by an earlier attempt, or staged identically before.
                    Ok(t.find_commit_with_line(&branch, &trailer, OWN_COMMIT_HORIZON)?)
                }
            })?;
            Step::Staged {
                branch: staging,
                oid,
            }
        } else {
            match commit_here(&tree, &primary)? {
                Some(oid) => {
                    ctx2.info(format!(
                        "committed {} on {primary}: {}",
                        short(oid),
                        tree.summary(oid).unwrap_or_default()
                    ));
                    Step::Committed {
                        oid,
                        branch: primary,
                    }
                }
                None => Step::Unchanged,
            }
        };
        Ok((step, checked))
    })
    .await?;
    guard.checked = checked;
    drop(guard);
    if env.abort_after_commit && matches!(step, Step::Committed { .. }) {
        tracing::error!(
            "{FAULT_ENV}=index-after-commit: aborting after the commit, before the push"
        );
        std::process::abort();
    }
    Ok(step)
}

/// Step two, under the game's lock: unless a push since has carried `oid` (with every other
/// unpushed commit) to the remote, pull `-X ours` and push, again if the remote moved.
async fn publish(
    ctx: &JobContext,
    env: &Arc<IndexEnv>,
    msg: &Outbound,
    oid: git2::Oid,
) -> Result<(), JobError> {
    let remote = env.ckanmeta(&msg.game)?;
    let slot = env.slot(&msg.game)?;
    let mut guard = slot.lock().await;
    let (dir, checked) = (guard.dir.clone(), guard.checked);
    let (attempts, identity) = (env.settings.push_attempts, env.identity.clone());
    let ctx2 = ctx.clone();
    guard.checked = blocking(move || {
        let mut checked = checked;
        let mut tree = open_clone(&remote, &dir, &mut checked)?;
        push_primary(&ctx2, &mut tree, oid, attempts, &identity)?;
        Ok(checked)
    })
    .await?;
    Ok(())
}

fn push_primary(
    ctx: &JobContext,
    tree: &mut WorkTree,
    oid: git2::Oid,
    attempts: u32,
    identity: &Identity,
) -> Result<(), GitError> {
    let primary = tree.primary().to_owned();
    if tree.is_pushed(oid, &primary) && tree.unpushed(&primary)?.is_empty() {
        ctx.info(format!(
            "{} is already on {primary} (pushed with an earlier job of this batch)",
            short(oid)
        ));
        return Ok(());
    }
    for attempt in 1..=attempts {
        let pulled = tree.pull_replaying(&primary, identity)?;
        let unpushed = tree.unpushed(&primary)?.len();
        ctx.info(format!(
            "pulled {primary} (our commits replayed on it, -X ours): {pulled:?}; {unpushed} commits to push"
        ));
        if unpushed == 0 {
            if pulled == Pulled::AlreadyUpstream {
                ctx.info(format!(
                    "{primary} already has these changes (indexed elsewhere); nothing to push"
                ));
            }
            return Ok(());
        }
        match tree.push(&primary) {
            Ok(()) => {
                ctx.info(format!(
                    "pushed {unpushed} commits to {primary} of {}",
                    tree.url()
                ));
                return Ok(());
            }
            Err(e @ GitError::Rejected { .. }) if attempt < attempts => {
                ctx.warn(format!(
                    "push attempt {attempt} of {attempts}: {e}; pulling again"
                ));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Opens (or comments on) the pull request of a staged result; `Some(number)`.
async fn open_pull_request(
    ctx: &JobContext,
    env: &IndexEnv,
    msg: &Outbound,
    branch: &str,
) -> Result<Option<u64>, JobError> {
    let (Some(forge), Some(repo)) = (
        env.forge.as_ref().filter(|f| f.has_token()),
        env.forge_repo(&msg.game),
    ) else {
        let url = env
            .ckanmeta(&msg.game)
            .map(|r| netkan_common::log::redact_url_passwords(&r))
            .unwrap_or_default();
        ctx.warn(format!(
            "branch {branch} pushed to {url}; no pull request: set games.{}.ckanmeta_repo and hosts.github_token to have one opened",
            msg.game
        ));
        return Ok(None);
    };
    let default_body = format!("{} has been staged, please test and merge", msg.identifier);
    let body = msg.staging_reason.clone().unwrap_or(default_body);
    let title = format!("NetKAN inflated: {}", msg.identifier);
    let pr = PullRequest {
        repo: &repo,
        branch,
        title: &title,
        body: &body,
        labels: &[STAGED_LABEL],
    };
    match forge.open_pull_request(&pr).await {
        Ok(Opened::Created { number, url }) => {
            ctx.info(format!("pull request #{number} opened: {url}"));
            Ok(Some(number))
        }
        Ok(Opened::Commented { number, url }) => {
            ctx.info(format!(
                "a pull request for {branch} was already open; commented on #{number}: {url}"
            ));
            Ok(Some(number))
        }
        Err(e) if e.is_transient() => Err(JobError::Retry(anyhow::anyhow!(
            "Pull request for {branch} failed: {e}"
        ))),
        Err(e) => Err(JobError::Permanent(anyhow::anyhow!(
            "Pull request for {branch} failed: {e}"
        ))),
    }
}

/// Updates the mod's status and sends notices for a new error or new warnings.
async fn record_status(
    ctx: &JobContext,
    env: &IndexEnv,
    msg: &Outbound,
    ckan: Option<&Map<String, Value>>,
    indexed: bool,
) -> Result<(), JobError> {
    let release_date = ckan
        .and_then(|c| c.get("release_date"))
        .and_then(Value::as_str)
        .and_then(parse_time);
    let resources = ckan
        .and_then(|c| c.get("resources"))
        .and_then(Value::as_object)
        .filter(|r| !r.is_empty())
        .cloned();
    let downloaded = ckan.and_then(|c| cached_download_time(&env.cache_dir, c));
    let inflation = Inflation {
        success: msg.success,
        error: msg.error.clone(),
        warnings: msg.warnings.clone(),
        inflated: msg.check_time,
        indexed: indexed.then(Utc::now),
        release_date,
        resources,
        downloaded,
    };
    let store = StatusStore::new(ctx.queue().keys().clone());
    let recorded = {
        let mut conn = ctx.redis().get().await?;
        store
            .record_inflation(&mut *conn, &msg.game, &msg.identifier, &inflation)
            .await?
    };
    ctx.info(format!(
        "status of {} updated (success {}{})",
        msg.identifier,
        msg.success,
        if indexed { ", last_indexed now" } else { "" }
    ));
    let notice = if recorded.new_error {
        Some((
            "new_error",
            format!(
                "New inflation error for {}: {}",
                msg.identifier,
                msg.error.as_deref().unwrap_or("")
            ),
        ))
    } else if recorded.new_warnings {
        Some((
            "new_warnings",
            format!(
                "New inflation warnings for {}: {}",
                msg.identifier,
                msg.warnings.as_deref().unwrap_or("")
            ),
        ))
    } else {
        None
    };
    if let Some((kind, text)) = notice {
        ctx.notice(&text);
        let log_url = format!("{}/logs/{}", env.base_url, ctx.id());
        let n = Notice {
            kind,
            game: msg.game.as_str(),
            identifier: Some(&msg.identifier),
            text: &text,
            log_url: &log_url,
        };
        if let Err(e) = env.notifier.send(&n).await {
            ctx.warn(&e);
            tracing::warn!(error = %e, "notice not delivered");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_vectors_of_the_reference() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
