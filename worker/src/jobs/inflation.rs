//! Building `inflate` jobs, shared by the push worker (high lane) and the scheduler (low
//! lane): the body is the `.netkan` text, the attributes `GameId` and, unless the netkan
//! asks to be inflated out of order, `HighestVersion` / `HighestVersionPrerelease` read from
//! a read-only checkout of the game's CKAN-meta (reference §2.1); the de-duplication key
//! `<game>/<identifier>` coalesces identical waiting requests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use netkan_common::{Game, Lane, NewJob, QueueName};

use crate::context::JobContext;

/// The kind of inflation jobs.
pub const INFLATE_KIND: &str = "inflate";

/// The inflation of `identifier` (`text` its `.netkan`) on `inbound.<game>`.
pub fn inflate_job(game: &Game, identifier: &str, text: String, lane: Lane) -> NewJob {
    NewJob::new(INFLATE_KIND, QueueName::inbound(game))
        .with_lane(lane)
        .with_game(game.clone())
        .with_attr("GameId", game.as_str())
        .with_dedup_key(format!("{game}/{identifier}"))
        .with_body(text)
}

/// An identifier's highest stable and prerelease versions, as the inflator gets them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Highest {
    /// `HighestVersion`.
    pub stable: Option<String>,
    /// `HighestVersionPrerelease`.
    pub prerelease: Option<String>,
}

/// Highest versions of `ids` in a read-only checkout of CKAN-meta at `dir` (blocking: git).
pub fn highest_versions(
    remote: &str,
    dir: &Path,
    ids: &[String],
) -> anyhow::Result<BTreeMap<String, Highest>> {
    let _lock = crate::git::lock_dir(dir)?;
    let root = crate::git::checkout(remote, dir)?;
    let mut out = BTreeMap::new();
    for id in ids {
        let mut errors = Vec::new();
        let h = netkan_common::ckan::meta_tree::highest_in_dir(&root.join(id), &mut errors);
        out.insert(
            id.clone(),
            Highest {
                stable: h.stable.map(|v| v.to_string()),
                prerelease: h.prerelease.map(|v| v.to_string()),
            },
        );
    }
    Ok(out)
}

/// Sets the highest-version attributes of `job` from `found`.
pub fn apply_highest(job: &mut NewJob, highest: &Highest) {
    if let Some(v) = &highest.stable {
        job.attributes.insert("HighestVersion".into(), v.clone());
    }
    if let Some(v) = &highest.prerelease {
        job.attributes
            .insert("HighestVersionPrerelease".into(), v.clone());
    }
}

/// Sets the highest-version attributes of `jobs` (the inflation of `ids[i]` each) whose
/// identifier is in `wanted`, from a read-only checkout of CKAN-meta (`remote`, at `dir`).
/// Without a CKAN-meta, or when it cannot be read (a WARN in the job's log), the
/// inflations go without them: the inflator then takes any version.
pub async fn add_highest_versions(
    ctx: &JobContext,
    remote: Option<String>,
    dir: PathBuf,
    jobs: &mut [NewJob],
    ids: &[String],
    wanted: Vec<String>,
) {
    let Some(remote) = remote.filter(|_| !wanted.is_empty()) else {
        return;
    };
    let found = tokio::task::spawn_blocking(move || highest_versions(&remote, &dir, &wanted))
        .await
        .unwrap_or_else(|e| Err(anyhow::anyhow!("git task panicked: {e}")));
    match found {
        Ok(found) => {
            for (job, id) in jobs.iter_mut().zip(ids) {
                if let Some(h) = found.get(id) {
                    apply_highest(job, h);
                }
            }
        }
        Err(e) => ctx.warn(format!(
            "could not read highest versions from CKAN-meta ({e:#}); inflating without them"
        )),
    }
}
