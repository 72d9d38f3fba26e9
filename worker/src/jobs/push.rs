//! `push`, `inflate-request`, `spacedock-event`: the push worker. Keeps a working clone of
//! each game's NetKAN repository and turns requests into inflation jobs (children of the
//! request): the `.netkan` files a push added or changed, the identifiers asked for, or the
//! mods a SpaceDock event is about. Every decision goes to the job's log; the last line is a
//! NOTICE summary. An invalid file is named with its problem, the others still go ahead, and
//! the job then ends `failed`.
//!
//! Which files a push changed: the lists a GitHub delivery carries (`added` and `modified`
//! of its commits, as the reference read them), else the diff `old..new` in the clone (the
//! hook's pushes). A `.netkan` or `.frozen` named outside `NetKAN/` stands for
//! `NetKAN/<its stem>` (the reference took the stem of any such path).
//!
//! Failures are sorted: a request that can never succeed (a body that is not a request, a
//! malformed commit id, nothing to resolve, no repository configured, an invalid file) ends
//! `failed` at once with the reason; the remote unreachable or a local git failure is
//! retried; a pushed commit not in the clone after a fetch is retried only
//! `worker.missing_commit_attempts` times (GitHub can deliver a push a moment before the
//! commit is served), then the job fails saying so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use netkan_common::ckan::module::is_valid_identifier;
use netkan_common::ckan::{Kref, Module, parse_netkan};
use netkan_common::config::GameSettings;
use netkan_common::requests::{self, ChangedFiles, InflateRequest, PushRequest, SpacedockEvent};
use netkan_common::{Game, Lane};

use crate::context::{JobContext, JobError, JobResult, Registry};
use crate::git::{Change, WorkingClone, clone_dir};
use crate::jobs::inflation::{add_highest_versions, inflate_job};

/// The role name.
pub const ROLE: &str = "push";
/// Where `.netkan` files live in the NetKAN repository.
const NETKAN_DIR: &str = "NetKAN";

/// What the push worker needs from the settings.
#[derive(Debug, Clone)]
pub struct PushEnv {
    /// Working clones live under `<data_dir>/work`.
    pub data_dir: PathBuf,
    /// Repositories per game.
    pub games: BTreeMap<String, GameSettings>,
    /// Largest `.netkan` read (`worker.max_netkan_bytes`).
    pub max_netkan_bytes: u64,
    /// Attempts at finding a pushed commit before the push fails
    /// (`worker.missing_commit_attempts`, at most `jobs.max_attempts`).
    pub missing_commit_attempts: u32,
}

/// A file that could not be read, as the push job's log says it.
fn unreadable(e: &anyhow::Error) -> String {
    match e.downcast_ref::<crate::git::TooLarge>() {
        Some(too_large) => format!("{too_large} (worker.max_netkan_bytes)"),
        None => format!("{e:#}"),
    }
}

impl PushEnv {
    fn netkan_remote(&self, game: &Game) -> Result<String, JobError> {
        super::remote(&self.games, game, super::Repo::Netkan).ok_or_else(|| {
            JobError::permanent(format!(
                "no NetKAN repository is configured for game {game} (games.{game}.netkan)"
            ))
        })
    }

    fn ckanmeta_remote(&self, game: &Game) -> Option<String> {
        super::remote(&self.games, game, super::Repo::CkanMeta)
    }

    /// The branch requests by name read from: `games.<id>.netkan_branch` if set, else the
    /// remote's default branch (`default`, as the reference took `origin/HEAD`).
    fn read_branch(&self, game: &Game, default: String) -> (String, bool) {
        match self
            .games
            .get(game.as_str())
            .and_then(|g| g.netkan_branch.clone())
        {
            Some(b) => (b, true),
            None => (default, false),
        }
    }
}

/// Registers the handlers of the push role.
pub fn register(registry: &mut Registry, env: Arc<PushEnv>) {
    let e = env.clone();
    registry.register(requests::PUSH, move |ctx| run_push(ctx, e.clone()));
    let e = env.clone();
    registry.register(requests::INFLATE_REQUEST, move |ctx| {
        run_inflate_request(ctx, e.clone())
    });
    registry.register(requests::SPACEDOCK_EVENT, move |ctx| {
        run_spacedock_event(ctx, env.clone())
    });
}

/// A `.netkan` (or `.frozen`) file to act on.
struct Candidate {
    path: String,
    text: Result<String, String>,
}

/// Why resolving a request against the clone stopped.
enum Stop {
    /// Worth another try (the remote unreachable, a local git failure).
    Transient(anyhow::Error),
    /// Never going to work: the reason.
    Permanent(String),
    /// The pushed commit or branch is not in the clone after a fetch: it may still arrive.
    NotYet(String),
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Self {
        Stop::Transient(e)
    }
}

impl From<git2::Error> for Stop {
    fn from(e: git2::Error) -> Self {
        Stop::Transient(e.into())
    }
}

impl PushEnv {
    /// The job's error for `stop` on attempt `attempt`.
    fn job_error(&self, stop: Stop, attempt: u32) -> JobError {
        match stop {
            Stop::Transient(e) => JobError::Retry(e),
            Stop::Permanent(why) => JobError::permanent(why),
            Stop::NotYet(what) if attempt < self.missing_commit_attempts => {
                JobError::Retry(anyhow::anyhow!(
                    "{what} after a fetch (attempt {attempt} of {}: GitHub can deliver a push just before its commit is served; looking again)",
                    self.missing_commit_attempts
                ))
            }
            Stop::NotYet(what) => JobError::permanent(format!(
                "{what} after {} fetches (worker.missing_commit_attempts): the push was not made to this repository, or was overwritten since",
                self.missing_commit_attempts
            )),
        }
    }
}

async fn blocking_stop<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Stop> + Send + 'static,
) -> Result<T, Stop> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(Stop::Transient(anyhow::anyhow!("git task panicked: {e}"))),
    }
}

/// A commit id of a request: `None` when absent (empty, or all zeros: a new branch).
fn commit_id(what: &str, id: &str) -> Result<Option<git2::Oid>, JobError> {
    if id.is_empty() || id.bytes().all(|b| b == b'0') {
        return Ok(None);
    }
    if id.len() != 40 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        let shown: String = id.chars().take(50).collect();
        return Err(JobError::permanent(format!(
            "the push's {what} commit {shown:?} is not a commit id (40 hexadecimal digits)"
        )));
    }
    git2::Oid::from_str(id)
        .map(Some)
        .map_err(|e| JobError::permanent(format!("the push's {what} commit {id}: {e}")))
}

/// What a push changed, before the files are read.
struct Pushed {
    /// Paths added or modified, in order, each once.
    changed: Vec<String>,
    /// Paths removed.
    removed: Vec<String>,
    /// Lines for the log (removals, renames).
    notes: Vec<String>,
}

impl Pushed {
    fn from_lists(files: &ChangedFiles) -> Self {
        let mut changed: Vec<String> = Vec::new();
        for f in files.added.iter().chain(&files.modified) {
            if !changed.contains(f) {
                changed.push(f.clone());
            }
        }
        Pushed {
            changed,
            removed: files.removed.clone(),
            notes: Vec::new(),
        }
    }

    fn from_diff(changes: Vec<Change>) -> Self {
        let mut pushed = Pushed {
            changed: Vec::new(),
            removed: Vec::new(),
            notes: Vec::new(),
        };
        for c in changes {
            match c {
                Change::Added(p) | Change::Modified(p) => pushed.changed.push(p),
                Change::Renamed(from, to) => {
                    if is_metadata(&from) || is_metadata(&to) {
                        pushed.notes.push(format!("{from} renamed to {to}"));
                    }
                    pushed.changed.push(to);
                }
                Change::Deleted(p) => {
                    if is_metadata(&p) {
                        pushed.notes.push(format!("{p} removed"));
                    }
                    pushed.removed.push(p);
                }
            }
        }
        pushed
    }
}

/// A `.netkan` or `.frozen` path.
fn is_metadata(path: &str) -> bool {
    path.ends_with(".netkan") || path.ends_with(".frozen")
}

/// Where the file a pushed path stands for lives: `NetKAN/<stem>.<ext>`, and whether the
/// path was elsewhere. `Err` when a path elsewhere has a stem that is no identifier.
fn netkan_path(path: &str) -> Result<(String, bool), String> {
    let ext = if path.ends_with(".frozen") {
        "frozen"
    } else {
        "netkan"
    };
    let id = stem(path);
    let canonical = format!("{NETKAN_DIR}/{id}.{ext}");
    if canonical == path {
        return Ok((canonical, false));
    }
    if !is_valid_identifier(id) {
        return Err(format!(
            "{path}: outside {NETKAN_DIR}/, and {id:?} is not an identifier; ignored"
        ));
    }
    Ok((canonical, true))
}

/// The files a push job acts on, read from the clone, and lines for its log.
struct Resolved {
    files: Vec<Candidate>,
    notes: Vec<String>,
    warnings: Vec<String>,
}

async fn run_push(ctx: JobContext, env: Arc<PushEnv>) -> JobResult {
    let req: PushRequest = serde_json::from_str(&ctx.job().body)
        .map_err(|e| JobError::permanent(format!("the job body is not a push request: {e}")))?;
    let game = ctx.job().game.clone();
    let remote = env.netkan_remote(&game)?;
    if req.source == "hook" && !same_repository(&req.repo, &remote) {
        return Err(JobError::permanent(format!(
            "the push went to {}, which is not the NetKAN repository configured for {game}",
            req.repo
        )));
    }
    // Both ids must be well formed if given (`old` is only diffed from `req.old`, where all
    // zeros means a new branch, diffed against nothing).
    commit_id("old", &req.old)?;
    let new = commit_id("new", &req.new)?;
    // What can be resolved: the sender's lists at `new` (or, without it, at the pushed
    // branch's head, as the reference read its pulled clone), else the diff old..new.
    if req.files.is_some() {
        if new.is_none() && !req.r#ref.starts_with("refs/heads/") {
            return Err(JobError::permanent(format!(
                "the push names neither its commit nor a branch (ref {:?}): nothing to read its files from",
                req.r#ref
            )));
        }
    } else if new.is_none() || req.old.is_empty() {
        return Err(JobError::permanent(
            "the push lists no files and does not name both the commit before and after it: nothing to resolve",
        ));
    }
    ctx.info(format!(
        "push by {} to {}: {} -> {}{}",
        if req.pusher.is_empty() {
            "(unnamed)"
        } else {
            &req.pusher
        },
        req.r#ref,
        short(&req.old),
        short(&req.new),
        if req.files.is_some() {
            " (files as the sender listed them)"
        } else {
            ""
        }
    ));
    let dir = clone_dir(&env.data_dir, game.as_str(), "NetKAN");
    let max_bytes = env.max_netkan_bytes;
    let git_ref = req.r#ref.clone();
    let files = req.files.clone();
    let old_id = req.old.clone();
    let resolved = blocking_stop(move || {
        let clone = WorkingClone::open_or_clone(&remote, &dir)?;
        clone.fetch()?;
        let at = match new {
            Some(oid) if clone.has_commit(oid) => oid,
            Some(oid) => return Err(Stop::NotYet(format!("commit {oid} is not in NetKAN"))),
            None => clone
                .branch_head(&git_ref)
                .map_err(|_| Stop::NotYet(format!("branch {git_ref} is not in NetKAN")))?,
        };
        let pushed = match &files {
            Some(lists) => Pushed::from_lists(lists),
            None => Pushed::from_diff(clone.changed_files(&old_id, &at.to_string(), "")?),
        };
        let mut out = Resolved {
            files: Vec::new(),
            notes: pushed.notes,
            warnings: Vec::new(),
        };
        let mut seen: Vec<String> = Vec::new();
        for path in pushed.changed.iter().filter(|p| is_metadata(p)) {
            let (file, outside) = match netkan_path(path) {
                Ok(p) => p,
                Err(why) => {
                    out.warnings.push(why);
                    continue;
                }
            };
            if seen.contains(&file) {
                continue;
            }
            seen.push(file.clone());
            if outside {
                out.notes.push(format!(
                    "{path} is outside {NETKAN_DIR}/: {file} is taken for it"
                ));
            }
            if file.ends_with(".frozen") {
                // Frozen by name, as the reference marked them: the text is not read.
                out.files.push(Candidate {
                    path: file,
                    text: Ok(String::new()),
                });
                continue;
            }
            match clone.read_file(at, &file, max_bytes) {
                Ok(Some(text)) => out.files.push(Candidate {
                    path: file,
                    text: Ok(text),
                }),
                Ok(None) if pushed.removed.contains(&file) => out.notes.push(format!(
                    "{file} was removed later in the push; nothing to inflate"
                )),
                Ok(None) => out.warnings.push(format!(
                    "{file} is not in {}: nothing to inflate",
                    short(&at.to_string())
                )),
                Err(e) => out.files.push(Candidate {
                    path: file,
                    text: Err(unreadable(&e)),
                }),
            }
        }
        Ok(out)
    })
    .await
    .map_err(|stop| env.job_error(stop, ctx.job().attempt))?;
    for note in &resolved.notes {
        ctx.info(note);
    }
    for warning in &resolved.warnings {
        ctx.warn(warning);
    }
    if resolved.files.is_empty() {
        ctx.notice("no .netkan or .frozen files changed; nothing to inflate");
        return Ok(());
    }
    act_on(&ctx, &env, &game, resolved.files).await
}

/// Fetches and returns the branch requests by name read from, and its head commit. A
/// configured branch the remote does not have is a permanent failure naming the setting.
fn read_head(
    clone: &WorkingClone,
    env: &PushEnv,
    game: &Game,
) -> Result<(String, git2::Oid), Stop> {
    let default = clone.fetch()?;
    let (branch, configured) = env.read_branch(game, default);
    match clone.branch_head(&branch) {
        Ok(head) => Ok((branch, head)),
        Err(_) if configured => Err(Stop::Permanent(format!(
            "NetKAN has no branch {branch} (games.{game}.netkan_branch)"
        ))),
        Err(e) => Err(Stop::Transient(e)),
    }
}

async fn run_inflate_request(ctx: JobContext, env: Arc<PushEnv>) -> JobResult {
    let req: InflateRequest = serde_json::from_str(&ctx.job().body)
        .map_err(|e| JobError::permanent(format!("the job body is not an inflate request: {e}")))?;
    if req.identifiers.is_empty() {
        return Err(JobError::permanent("no identifiers to inflate"));
    }
    let game = ctx.job().game.clone();
    let remote = env.netkan_remote(&game)?;
    let dir = clone_dir(&env.data_dir, game.as_str(), "NetKAN");
    let game_of_job = game.clone();
    let ids = req.identifiers.clone();
    let max_bytes = env.max_netkan_bytes;
    let branches = env.clone();
    let files = blocking_stop(move || {
        let clone = WorkingClone::open_or_clone(&remote, &dir)?;
        let (branch, head) = read_head(&clone, &branches, &game_of_job)?;
        let mut files = Vec::new();
        for id in &ids {
            let path = format!("{NETKAN_DIR}/{id}.netkan");
            let text = if netkan_common::ckan::module::is_valid_identifier(id) {
                clone
                    .read_file(head, &path, max_bytes)
                    .map_err(|e| unreadable(&e))
                    .and_then(|t| t.ok_or_else(|| format!("no such file on {branch}")))
            } else {
                Err("not a valid identifier".to_owned())
            };
            files.push(Candidate { path, text });
        }
        Ok(files)
    })
    .await
    .map_err(|stop| env.job_error(stop, ctx.job().attempt))?;
    act_on(&ctx, &env, &game, files).await
}

async fn run_spacedock_event(ctx: JobContext, env: Arc<PushEnv>) -> JobResult {
    let ev: SpacedockEvent = serde_json::from_str(&ctx.job().body)
        .map_err(|e| JobError::permanent(format!("the job body is not a SpaceDock event: {e}")))?;
    if ev.mod_id.is_empty() || !ev.mod_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(JobError::permanent(format!(
            "mod_id {:?} is not a number",
            ev.mod_id
        )));
    }
    let game = ctx.job().game.clone();
    let remote = env.netkan_remote(&game)?;
    let dir = clone_dir(&env.data_dir, game.as_str(), "NetKAN");
    let kref = format!("#/ckan/spacedock/{}", ev.mod_id);
    let mod_id = ev.mod_id.clone();
    let max_bytes = env.max_netkan_bytes;
    let branches = env.clone();
    let game_of_job = game.clone();
    let files = blocking_stop(move || {
        let clone = WorkingClone::open_or_clone(&remote, &dir)?;
        let (_, head) = read_head(&clone, &branches, &game_of_job)?;
        let mut files = Vec::new();
        for name in clone.list_dir(head, NETKAN_DIR)? {
            if !name.ends_with(".netkan") {
                continue;
            }
            let path = format!("{NETKAN_DIR}/{name}");
            // Unreadable files are skipped here: they cannot name this mod.
            let Ok(Some(text)) = clone.read_file(head, &path, max_bytes) else {
                continue;
            };
            // A cheap text test first; the parse below confirms the kref.
            if !text.contains(&format!("spacedock/{mod_id}")) {
                continue;
            }
            let matches = parse_netkan(&text).is_ok_and(|docs| {
                docs.iter().any(|d| {
                    matches!(Module::new(d).kref(), Ok(Some(Kref::SpaceDock { id })) if id.to_string() == mod_id)
                })
            });
            if matches {
                files.push(Candidate { path, text: Ok(text) });
            }
        }
        Ok(files)
    })
    .await
    .map_err(|stop| env.job_error(stop, ctx.job().attempt))?;
    let names: Vec<String> = files.iter().map(|f| stem(&f.path).to_owned()).collect();
    if names.is_empty() {
        return Err(JobError::permanent(format!(
            "No such module: no .netkan has $kref {kref}"
        )));
    }
    let what = match ev.event_type.as_str() {
        "delete" => Some("has been deleted"),
        "locked" => Some("has been locked"),
        "unlocked" => Some("has been unlocked again"),
        _ => None,
    };
    if let Some(what) = what {
        ctx.notice(format!(
            "A SpaceDock mod {what}, affected netkans: {}",
            names.join(", ")
        ));
        return Ok(());
    }
    act_on(&ctx, &env, &game, files).await
}

/// Validates the files, queues an inflation for each valid `.netkan`, marks `.frozen` ones
/// frozen, and writes the summary.
async fn act_on(ctx: &JobContext, env: &PushEnv, game: &Game, files: Vec<Candidate>) -> JobResult {
    let mut jobs = Vec::new();
    // The identifier of each job, in the same order.
    let mut names = Vec::new();
    let mut invalid = Vec::new();
    let mut frozen = Vec::new();
    let mut wanted_versions = Vec::new();
    for f in files {
        let id = stem(&f.path).to_owned();
        if f.path.ends_with(".frozen") {
            if is_valid_identifier(&id) {
                frozen.push(id);
            } else {
                ctx.error(format!("{}: {id:?} is not an identifier", f.path));
                invalid.push(id);
            }
            continue;
        }
        let text = match f.text {
            Ok(t) => t,
            Err(e) => {
                ctx.error(format!("{}: {e}", f.path));
                invalid.push(id);
                continue;
            }
        };
        match validate(&id, &text) {
            Ok(out_of_order) => {
                if !out_of_order {
                    wanted_versions.push(id.clone());
                }
                jobs.push(inflate_job(game, &id, text, Lane::High));
                names.push(id);
            }
            Err(problem) => {
                ctx.error(format!("{}: {problem}", f.path));
                invalid.push(id);
            }
        }
    }
    let dir = clone_dir(&env.data_dir, game.as_str(), "CKAN-meta-read");
    let remote = env.ckanmeta_remote(game);
    add_highest_versions(ctx, remote, dir, &mut jobs, &names, wanted_versions).await;
    for id in &frozen {
        mark_frozen(ctx, game, id).await?;
        ctx.notice(format!("{id} is frozen"));
    }
    if !jobs.is_empty() {
        let ids = ctx.enqueue(jobs).await?;
        for (name, id) in names.iter().zip(&ids) {
            ctx.info(format!("inflation of {name} queued as {id}"));
        }
    }
    let summary = summarize(&names);
    if invalid.is_empty() {
        ctx.notice(summary);
        Ok(())
    } else {
        ctx.notice(&summary);
        Err(JobError::permanent(format!(
            "{} invalid: {}; {summary}",
            plural(invalid.len(), "file"),
            invalid.join(", ")
        )))
    }
}

/// Checks a `.netkan` the way the inflator will need it: it parses, every document's
/// `identifier` matches the file name, and its `$kref` (if any) is one the inflator knows.
/// Returns whether it asks to be inflated out of order (no highest versions then).
pub fn validate(file_id: &str, text: &str) -> Result<bool, String> {
    let docs = parse_netkan(text).map_err(|e| e.to_string())?;
    let first = docs.first().ok_or("no document")?;
    let module = Module::new(first);
    let id = module.identifier().map_err(|e| e.to_string())?;
    if id != file_id {
        return Err(format!(
            "identifier {id:?} does not match the file name {file_id:?}"
        ));
    }
    for (i, doc) in docs.iter().enumerate() {
        let m = Module::new(doc);
        if let Ok(other) = m.identifier()
            && other != file_id
        {
            return Err(format!(
                "document {} has identifier {other:?}, not {file_id:?}",
                i + 1
            ));
        }
        m.kref().map_err(|e| e.to_string())?;
    }
    Ok(module
        .netkan_options()
        .map(|o| o.allow_out_of_order)
        .unwrap_or(false))
}

async fn mark_frozen(ctx: &JobContext, game: &Game, id: &str) -> anyhow::Result<()> {
    let store = netkan_common::status::StatusStore::new(ctx.queue().keys().clone());
    let mut conn = ctx.redis().get().await?;
    store.set_frozen(&mut *conn, game, id, true).await?;
    Ok(())
}

fn summarize(names: &[String]) -> String {
    match names.len() {
        0 => "no inflations queued".into(),
        n if n <= 20 => format!("{} queued: {}", plural(n, "inflation"), names.join(", ")),
        n => format!(
            "{} queued: {} and {} more",
            plural(n, "inflation"),
            names[..20].join(", "),
            n - 20
        ),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

fn short(oid: &str) -> &str {
    &oid[..oid.len().min(10)]
}

/// True if the pushed repository path is the configured remote (both local paths).
fn same_repository(pushed: &str, configured: &str) -> bool {
    if configured.contains("://") {
        // A remote URL: the hook runs on the forge's side, nothing local to compare.
        return true;
    }
    match (
        Path::new(pushed).canonicalize(),
        Path::new(configured).canonicalize(),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netkan_files_are_validated_as_the_inflator_needs_them() {
        assert_eq!(
            validate("Ab", "identifier: Ab\n$kref: '#/ckan/spacedock/1'\n"),
            Ok(false)
        );
        assert_eq!(
            validate(
                "Ab",
                "{\"identifier\": \"Ab\", \"x_netkan_allow_out_of_order\": true}"
            ),
            Ok(true)
        );
        let e = validate("Ab", "identifier: Bc\n").unwrap_err();
        assert!(e.contains("does not match the file name"), "{e}");
        let e = validate("Ab", "identifier: Ab\n$kref: '#/ckan/nowhere/1'\n").unwrap_err();
        assert!(e.contains("kref"), "{e}");
        assert!(validate("Ab", "identifier: [unclosed\n").is_err());
    }

    #[test]
    fn summaries_name_the_mods() {
        assert_eq!(
            summarize(&["A".into(), "B".into(), "C".into()]),
            "3 inflations queued: A, B, C"
        );
        assert_eq!(stem("NetKAN/Foo.netkan"), "Foo");
    }
}
