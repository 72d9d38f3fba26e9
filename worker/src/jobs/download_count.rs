//! `download-count`: the download counter of a game (NetKAN-Infra `download_counter.py`,
//! reference §1.7).
//!
//! For the latest non-prerelease module of every identifier in CKAN-meta (DLC skipped), the
//! downloads of each of its sources are summed ([`crate::downloads`]); the result is written
//! to `download_counts.json` at the root of CKAN-meta exactly as Python's
//! `json.dumps(counts, sort_keys=True, indent=4)` writes it, and committed as `NetKAN
//! updating download counts` (with the job's `Job-Id` trailer) and pushed only when it
//! changed. The top five all-time and since the previous file are logged as NOTICE lines and
//! sent as a notice.
//!
//! The game's clone of CKAN-meta is bare (`<data_dir>/work/<game>/CKAN-meta-counts`): the
//! `.ckan` files are read from the object database and the file is committed straight into
//! it, so the 30,000-file tree is never checked out.
//!
//! Failure isolation: a host that fails costs only the mods counted there, and those keep
//! their previous count (the larger of the old count and what the other hosts gave) rather
//! than losing it. A long GitHub rate-limit wait ends the attempt with
//! [`JobError::RetryAfter`]; shorter ones are waited out in the job.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use netkan_common::Game;
use netkan_common::ckan::module::is_valid_identifier;
use netkan_common::ckan::{Module, ModuleVersion, Object, parse_ckan};

use crate::context::{JobContext, JobError, JobResult, Registry};
use crate::downloads::{self, Counter, Tally, Wanted, python_json_dumps, top_table};
use crate::git::{GitError, message_with_job};
use crate::notify::Notice;

use super::housekeeping::{
    HousekeepingEnv, blocking, exclusively, lock_work_dir, open_primary_bare, push_primary,
};

/// The job kind.
pub const KIND: &str = "download-count";
/// The file, at the root of CKAN-meta.
pub const FILE: &str = "download_counts.json";
/// The commit message's subject.
pub const SUBJECT: &str = "NetKAN updating download counts";
/// How many mods the summaries list.
const TOP: usize = 5;
/// Pushes tried when CKAN-meta moved meanwhile.
const PUSH_ATTEMPTS: u32 = 3;

/// Registers the handler.
pub fn register(registry: &mut Registry, env: Arc<HousekeepingEnv>) {
    registry.register(KIND, move |ctx| {
        let env = env.clone();
        async move { exclusively(&ctx.clone(), run(ctx, env)).await }
    });
}

/// What a scan of CKAN-meta found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Identifiers with a latest non-prerelease module.
    pub modules: usize,
    /// DLC, skipped.
    pub dlc: usize,
    /// Per identifier, where its downloads can be counted.
    pub wanted: Wanted,
    /// `identifier: url` for URLs naming a host but no mod on it.
    pub unparsed: Vec<String>,
    /// Files that could not be read.
    pub errors: Vec<String>,
}

/// Reads the latest non-prerelease module of every identifier in the commit HEAD of the
/// (bare) clone at `dir`, straight from the object database (CKAN-meta's `identifiers()`:
/// top-level directories named like an identifier holding a `.ckan`; and
/// `highest_version_module`: equal versions keep the first file in name order), and where
/// its downloads are counted.
pub fn scan(dir: &Path) -> Result<Scan, git2::Error> {
    let repo = git2::Repository::open(dir)?;
    let root = repo.head()?.peel_to_tree()?;
    let mut out = Scan::default();
    for entry in root.iter() {
        let Some(name) = entry.name().filter(|n| is_valid_identifier(n)) else {
            continue;
        };
        if entry.kind() != Some(git2::ObjectType::Tree) {
            continue;
        }
        let sub = repo.find_tree(entry.id())?;
        let mut files: Vec<(String, git2::Oid)> = sub
            .iter()
            .filter(|f| f.kind() == Some(git2::ObjectType::Blob) && f.filemode() != LINK_MODE)
            .filter_map(|f| {
                let file = f.name()?;
                file.ends_with(".ckan")
                    .then(|| (format!("{name}/{file}"), f.id()))
            })
            .collect();
        files.sort();
        let mut read = Vec::with_capacity(files.len());
        for (path, oid) in files {
            let blob = repo.find_blob(oid)?;
            let text = std::str::from_utf8(blob.content())
                .map(str::to_owned)
                .map_err(|_| "not valid UTF-8".to_owned());
            read.push((path, text));
        }
        pick_latest(&mut out, name, read);
    }
    Ok(out)
}

/// A symbolic link's file mode in a git tree.
const LINK_MODE: i32 = 0o120_000;

/// Adds the latest non-prerelease module among the files of identifier directory
/// `dir_name` (path, text) to `out`.
fn pick_latest(out: &mut Scan, dir_name: &str, files: Vec<(String, Result<String, String>)>) {
    if files.is_empty() {
        return;
    }
    let mut best: Option<(ModuleVersion, Object)> = None;
    for (path, text) in files {
        let json = match text.and_then(|t| parse_ckan(&t).map_err(|e| e.to_string())) {
            Ok(j) => j,
            Err(e) => {
                out.errors.push(format!("{path}: {e}"));
                continue;
            }
        };
        let module = Module::new(&json);
        if module.is_prerelease() {
            continue;
        }
        let Ok(Some(version)) = module.version() else {
            out.errors.push(format!("{path}: no usable version"));
            continue;
        };
        if best.as_ref().is_none_or(|(v, _)| version > *v) {
            best = Some((version, json));
        }
    }
    let Some((_, json)) = best else { return };
    let module = Module::new(&json);
    out.modules += 1;
    if downloads::is_dlc(&module) {
        out.dlc += 1;
        return;
    }
    let identifier = module.identifier().unwrap_or(dir_name).to_owned();
    let (sources, unparsed) = downloads::sources(&module);
    out.unparsed
        .extend(unparsed.into_iter().map(|u| format!("{identifier}: {u}")));
    if !sources.is_empty() {
        out.wanted.insert(identifier, sources);
    }
}

/// The counts to write: the new ones, except that a mod some host failed to count keeps the
/// larger of its old count and the new partial one. Returns them and the mods kept so.
pub fn settle(tally: &Tally, old: &BTreeMap<String, u64>) -> (BTreeMap<String, u64>, usize) {
    let mut counts = tally.counts.clone();
    let mut kept = 0;
    for id in &tally.failed {
        if let Some(&before) = old.get(id) {
            let now = counts.entry(id.clone()).or_insert(0);
            if before > *now {
                *now = before;
                kept += 1;
            }
        }
    }
    (counts, kept)
}

/// What the write step did.
struct Written {
    old: Option<BTreeMap<String, u64>>,
    counts: BTreeMap<String, u64>,
    kept: usize,
    commit: Option<git2::Oid>,
}

async fn run(ctx: JobContext, env: Arc<HousekeepingEnv>) -> JobResult {
    let game = ctx.job().game.clone();
    let Some(remote) = env.repository(
        &ctx,
        |g| g.ckanmeta.as_ref(),
        "ckanmeta",
        "nothing to count",
    ) else {
        return Ok(());
    };
    let work = lock_work_dir(&env.data_dir, &game, "CKAN-meta-counts")?;
    let (dir, identity) = (work.dir.clone(), env.identity.clone());
    let (remote2, ctx2) = (remote.clone(), ctx.clone());
    ctx.info(format!("updating the working clone {}", dir.display()));
    let scanned = blocking(move || {
        let tree = open_primary_bare(&remote2, &dir, &identity)?;
        ctx2.info(format!(
            "reading the latest modules of {} ({})",
            tree.url(),
            tree.primary()
        ));
        scan(tree.dir()).map_err(|source| GitError::Git {
            context: "reading the .ckan files of CKAN-meta".into(),
            source,
        })
    })
    .await?;
    ctx.info(format!(
        "{} identifiers, {} DLC skipped, {} with countable downloads",
        scanned.modules,
        scanned.dlc,
        scanned.wanted.len()
    ));
    for e in scanned.errors.iter().take(20) {
        ctx.warn(format!("unreadable: {e}"));
    }
    if scanned.errors.len() > 20 {
        ctx.warn(format!(
            "... and {} more unreadable files",
            scanned.errors.len() - 20
        ));
    }
    for u in &scanned.unparsed {
        ctx.warn(format!("not a mod URL of its host: {u}"));
    }
    let wait = Duration::from_secs(env.settings.download_count.max_inline_wait_secs);
    let counter = Counter::new(&env.http, &env.hosts, wait, &ctx);
    let tally = counter
        .count(&scanned.wanted, Utc::now())
        .await
        .map_err(|t| JobError::RetryAfter {
            delay: t.wait,
            error: anyhow::Error::new(t),
        })?;
    if ctx.cancelled().is_cancelled() {
        return Err(JobError::Retry(anyhow::anyhow!("cancelled while counting")));
    }
    ctx.info(format!(
        "counted {} mods; {} could not be counted everywhere",
        tally.counts.len(),
        tally.failed.len()
    ));
    let (dir, identity, job) = (work.dir.clone(), env.identity.clone(), ctx.id());
    let ctx2 = ctx.clone();
    let written = blocking(move || {
        let mut tree = open_primary_bare(&remote, &dir, &identity)?;
        let old = match tree.committed_file(FILE)? {
            None => None,
            Some(bytes) => match serde_json::from_slice::<BTreeMap<String, u64>>(&bytes) {
                Ok(m) => Some(m),
                Err(e) => {
                    ctx2.warn(format!("the previous {FILE} is not a map of counts: {e}"));
                    None
                }
            },
        };
        let (counts, kept) = settle(&tally, old.as_ref().unwrap_or(&BTreeMap::new()));
        let text = python_json_dumps(&counts);
        let primary = tree.primary().to_owned();
        let commit = tree.commit_files(
            &primary,
            &[(FILE, Some(text.as_bytes()))],
            &message_with_job(SUBJECT, &job),
            &identity,
            &identity,
        )?;
        // Also pushes what an earlier attempt committed but could not push.
        push_primary(&ctx2, &mut tree, &identity, PUSH_ATTEMPTS)?;
        Ok(Written {
            old,
            counts,
            kept,
            commit,
        })
    })
    .await?;
    drop(work);
    if written.kept > 0 {
        ctx.warn(format!(
            "{} mods kept their previous count because a host failed",
            written.kept
        ));
    }
    summarize(&ctx, &env, &game, &written).await;
    match written.commit {
        Some(oid) => ctx.notice(format!(
            "download counts changed: committed {} ({} mods)",
            &oid.to_string()[..7],
            written.counts.len()
        )),
        None => ctx.notice(format!(
            "download counts match existing data ({} mods)",
            written.counts.len()
        )),
    }
    Ok(())
}

/// Logs the top five all-time and since the previous file (as the reference's summary, which
/// it only writes when a previous file exists), and sends them as one notice.
async fn summarize(ctx: &JobContext, env: &HousekeepingEnv, game: &Game, w: &Written) {
    let Some(old) = &w.old else { return };
    let signed = |m: &BTreeMap<String, u64>| -> BTreeMap<String, i64> {
        m.iter()
            .map(|(k, v)| (k.clone(), i64::try_from(*v).unwrap_or(i64::MAX)))
            .collect()
    };
    let all_time = signed(&w.counts);
    let today: BTreeMap<String, i64> = all_time
        .iter()
        .filter_map(|(id, n)| {
            let before = i64::try_from(*old.get(id)?).unwrap_or(i64::MAX);
            Some((id.clone(), n - before))
        })
        .collect();
    let mut text = Vec::new();
    for (title, table) in [("all-time", &all_time), ("today", &today)] {
        let heading = format!("Top {TOP} downloads for {game} {title}:");
        ctx.notice(&heading);
        text.push(heading);
        for line in top_table(table, TOP) {
            ctx.notice(&line);
            text.push(line);
        }
        text.push(String::new());
    }
    let text = text.join("\n").trim_end().to_owned();
    let log_url = env.log_url(ctx);
    let notice = Notice {
        kind: "download_counts",
        game: game.as_str(),
        identifier: None,
        text: &text,
        log_url: &log_url,
    };
    if let Err(e) = env.notifier.send(&notice).await {
        ctx.warn(&e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_host_keeps_the_previous_count() {
        let mut tally = Tally::default();
        tally.counts.insert("A".into(), 10);
        tally.counts.insert("B".into(), 3);
        tally.failed.insert("B".into());
        tally.failed.insert("C".into());
        tally.failed.insert("D".into());
        let old: BTreeMap<String, u64> = [("A".to_owned(), 100), ("B".into(), 50), ("C".into(), 7)]
            .into_iter()
            .collect();
        let (counts, kept) = settle(&tally, &old);
        // A was counted everywhere: its new count stands even though it is lower.
        assert_eq!(counts.get("A"), Some(&10));
        assert_eq!(counts.get("B"), Some(&50));
        assert_eq!(counts.get("C"), Some(&7));
        assert_eq!(counts.get("D"), None);
        assert_eq!(kept, 2);
    }
}
