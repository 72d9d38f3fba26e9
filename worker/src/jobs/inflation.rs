//! Building `inflate` jobs, shared by the push worker (high lane) and the scheduler (low
//! lane): the body is the `.netkan` text, the attributes `GameId` and, unless the netkan
//! asks to be inflated out of order, `HighestVersion` / `HighestVersionPrerelease` read from
//! a read-only checkout of the game's CKAN-meta (reference §2.1); the de-duplication key
//! `<game>/<identifier>` coalesces identical waiting requests.

use std::collections::BTreeMap;
use std::path::Path;

use netkan_common::{Game, Lane, NewJob, QueueName};

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
