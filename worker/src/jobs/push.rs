//! `push`, `inflate-request`, `spacedock-event`: the push worker. Keeps a working clone of
//! each game's NetKAN repository and turns requests into inflation jobs (children of the
//! request): the `.netkan` files a push added or changed, the identifiers asked for, or the
//! mods a SpaceDock event is about. Every decision goes to the job's log; the last line is a
//! NOTICE summary. An invalid file is named with its problem, the others still go ahead, and
//! the job then ends `failed`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use netkan_common::ckan::{Kref, Module, parse_netkan};
use netkan_common::config::GameSettings;
use netkan_common::requests::{self, InflateRequest, PushRequest, SpacedockEvent};
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

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("git task panicked")?
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
    ctx.info(format!(
        "push by {} to {}: {} -> {}",
        req.pusher,
        req.r#ref,
        short(&req.old),
        short(&req.new)
    ));
    let dir = clone_dir(&env.data_dir, game.as_str(), "NetKAN");
    let (old, new) = (req.old.clone(), req.new.clone());
    let max_bytes = env.max_netkan_bytes;
    let (changes, files) = blocking(move || {
        let clone = WorkingClone::open_or_clone(&remote, &dir)?;
        clone.fetch()?;
        let changes = clone.changed_files(&old, &new, NETKAN_DIR)?;
        let commit = git2::Oid::from_str(&new)?;
        let mut files = Vec::new();
        for c in &changes {
            let path = match c {
                Change::Added(p) | Change::Modified(p) | Change::Renamed(_, p) => p,
                Change::Deleted(_) => continue,
            };
            if path.ends_with(".netkan") || path.ends_with(".frozen") {
                let text = clone
                    .read_file(commit, path, max_bytes)
                    .map_err(|e| unreadable(&e))
                    .and_then(|t| t.ok_or_else(|| "missing from the pushed commit".to_owned()));
                files.push(Candidate {
                    path: path.clone(),
                    text,
                });
            }
        }
        Ok((changes, files))
    })
    .await?;
    for c in &changes {
        match c {
            Change::Deleted(p) => ctx.info(format!("{p} removed")),
            Change::Renamed(from, to) => ctx.info(format!("{from} renamed to {to}")),
            _ => {}
        }
    }
    if files.is_empty() {
        ctx.notice("no .netkan or .frozen files changed; nothing to inflate");
        return Ok(());
    }
    act_on(&ctx, &env, &game, files).await
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
    let ids = req.identifiers.clone();
    let max_bytes = env.max_netkan_bytes;
    let files = blocking(move || {
        let clone = WorkingClone::open_or_clone(&remote, &dir)?;
        let branch = clone.fetch()?;
        let head = clone.branch_head(&branch)?;
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
    .await?;
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
    let files = blocking(move || {
        let clone = WorkingClone::open_or_clone(&remote, &dir)?;
        let branch = clone.fetch()?;
        let head = clone.branch_head(&branch)?;
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
    .await?;
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
            frozen.push(id);
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
