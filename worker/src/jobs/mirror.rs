//! `mirror`: the mirrorer (NetKAN-Infra `mirrorer.py`). A job's body is the CKAN-meta path of
//! one `.ckan` (`DogeCoinFlag/DogeCoinFlag-v1.0.2.ckan`); the handler reads it from a
//! read-only checkout of the game's CKAN-meta, decides whether it may be mirrored (a package,
//! an archive type the mirror knows, a redistributable licence), and if it is not there yet,
//! puts the download (through the shared download cache, checked against its SHA-256) and
//! the repository's source archive into the target's item.
//!
//! Outcomes: mirrored, already mirrored, or not mirrorable succeed, with a NOTICE as the
//! last line; archive.org overloaded returns `JobError::RetryAfter` (the job runs again
//! `mirror.overload_wait_secs` later without using an attempt); a failed overload check,
//! download or upload returns `JobError::Retry` (the runner backs off, then dead-letters
//! with the reason); a body that is not a CKAN-meta path fails at once. Re-running a job is harmless: an item that already holds a
//! file with the module's SHA-1 is left alone.
//!
//! - [`item`]: the gate, names and item metadata (pure).
//! - [`target`]: archive.org (IA-S3 and the metadata API) and the local directory target.

pub mod item;
pub mod target;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use netkan_common::ckan::{Module, parse_ckan};
use netkan_common::config::{GameSettings, MirrorSettings, MirrorTarget, Settings};
use netkan_inflator::cache::{CachedFile, DownloadCache};
use netkan_inflator::http::HttpClient;

use crate::context::{JobContext, JobError, JobResult, Registry};
use crate::git::clone_dir;
use item::MirrorPlan;
use target::{ArchiveOrg, Directory, Target, Upload};

/// The role name.
pub const ROLE: &str = "mirror";
/// The job kind (web's `/gh/mirror` and the indexer enqueue it on `mirroring`).
pub const KIND: &str = "mirror";

/// What the mirrorer needs, built once per worker process.
pub struct MirrorEnv {
    /// Checkouts live under `<data_dir>/work`.
    pub data_dir: PathBuf,
    /// Repositories per game.
    pub games: BTreeMap<String, GameSettings>,
    /// The `[mirror]` settings.
    pub settings: MirrorSettings,
    /// Where files go; `None` when `mirror.target = "none"`.
    pub target: Option<Target>,
    /// The process's HTTP client.
    pub http: HttpClient,
    /// The download cache shared with the inflator.
    pub cache: DownloadCache,
    /// One checkout of CKAN-meta per game is shared by the mirror jobs of a machine; they
    /// take turns updating and reading it (this lock in a process, a lock file between
    /// processes).
    checkout: tokio::sync::Mutex<()>,
}

impl MirrorEnv {
    /// The environment these settings describe.
    pub fn new(all: &Settings, http: HttpClient) -> Self {
        let target = match all.mirror.target {
            MirrorTarget::None => None,
            MirrorTarget::Directory => Some(Target::Directory(Directory::new(all.mirror_dir()))),
            MirrorTarget::ArchiveOrg => Some(Target::ArchiveOrg(ArchiveOrg::new(
                http.client().clone(),
                &all.mirror.s3_endpoint,
                &all.hosts.archive_org,
                all.mirror.access_key.clone(),
                all.mirror.secret_key.clone(),
                std::time::Duration::from_secs(all.hosts.timeout_secs),
                std::time::Duration::from_secs(all.hosts.download_timeout_secs),
            ))),
        };
        Self {
            data_dir: all.data_dir.clone(),
            games: all.games.clone(),
            settings: all.mirror.clone(),
            target,
            http,
            cache: DownloadCache::new(all.cache_dir(), all.cache.max_bytes),
            checkout: tokio::sync::Mutex::new(()),
        }
    }
}

/// Registers the `mirror` kind.
pub fn register(registry: &mut Registry, env: Arc<MirrorEnv>) {
    registry.register(KIND, move |ctx| run(ctx, env.clone()));
}

/// Checks that a job body names a `.ckan` inside CKAN-meta: relative, no `..`, no `\`.
fn check_path(body: &str) -> Result<&str, JobError> {
    let path = body.trim();
    let bad = |why: &str| {
        JobError::permanent(format!(
            "the job body {:?} is not a CKAN-meta path of a .ckan: {why}",
            path.chars().take(200).collect::<String>()
        ))
    };
    if path.is_empty() {
        return Err(bad("empty"));
    }
    if !path.ends_with(".ckan") {
        return Err(bad("not a .ckan file"));
    }
    if path.contains('\\') || path.contains('\0') {
        return Err(bad("contains \\ or NUL"));
    }
    if !Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(bad("not a plain relative path"));
    }
    Ok(path)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("blocking task panicked")?
}

async fn run(ctx: JobContext, env: Arc<MirrorEnv>) -> JobResult {
    let path = check_path(&ctx.job().body)?.to_owned();
    let game = ctx.job().game.clone();
    let Some(target) = &env.target else {
        ctx.notice(format!("not mirrored: mirror.target is \"none\" ({path})"));
        return Ok(());
    };
    let remote = env
        .games
        .get(game.as_str())
        .and_then(|g| g.ckanmeta.as_ref())
        .map(|s| s.expose().to_owned())
        .ok_or_else(|| {
            JobError::permanent(format!(
                "no CKAN-meta repository is configured for game {game} (games.{game}.ckanmeta)"
            ))
        })?;
    let collection = match (target, env.settings.collections.get(game.as_str())) {
        (_, Some(c)) => c.clone(),
        (Target::Directory(_), None) => game.to_string(),
        (Target::ArchiveOrg(_), None) => {
            ctx.notice(format!(
                "not mirrored: no archive.org collection for game {game} (mirror.collections.{game})"
            ));
            return Ok(());
        }
    };

    let text = {
        let _turn = env.checkout.lock().await;
        let dir = clone_dir(&env.data_dir, game.as_str(), "CKAN-meta-mirror");
        let rel = path.clone();
        blocking(move || {
            let _lock = super::lock_working_dir(&dir)
                .with_context(|| format!("locking {}", dir.display()))?;
            let root = crate::git::checkout(&remote, &dir)?;
            match std::fs::read_to_string(root.join(&rel)) {
                Ok(t) => Ok(Some(t)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).with_context(|| format!("reading {rel} from CKAN-meta")),
            }
        })
        .await?
    };
    // Retried rather than failed: the indexer's push of this file may not be visible yet.
    let text = text.ok_or_else(|| {
        JobError::Retry(anyhow!(
            "CKAN-meta has no file {path} on its default branch"
        ))
    })?;
    let json = parse_ckan(&text)
        .map_err(|e| JobError::permanent(format!("{path} is not a valid .ckan: {e}")))?;
    let module = Module::new(&json);
    let plan = match item::plan(&module, &collection) {
        Ok(Ok(plan)) => plan,
        Ok(Err(why)) => {
            ctx.notice(format!("not mirrorable: {why}"));
            return Ok(());
        }
        Err(e) => return Err(JobError::permanent(format!("{path}: {e}"))),
    };
    let place = target.describe(&plan.item);
    ctx.info(format!("{path}: {} → {place}", plan.filename));

    let stored = target.files(&plan.item).await?;
    if let Some(sha1) = &plan.sha1
        && let Some(name) = holder(stored.as_deref(), sha1)
    {
        ctx.notice(format!("already mirrored: {place} holds {name}"));
        return Ok(());
    }

    match target.overloaded(&plan.item).await {
        Ok(false) => {}
        Ok(true) => {
            // The archive's own back-off, not a failure of this job: no attempt is used.
            ctx.notice("waiting: archive.org is overloaded");
            return Err(JobError::RetryAfter {
                error: anyhow!("archive.org is overloaded; the mirror will try again later"),
                delay: std::time::Duration::from_secs(env.settings.overload_wait_secs),
            });
        }
        Err(e) => {
            return Err(JobError::Retry(e.context(
                "archive.org may be overloaded; the mirror will try again later",
            )));
        }
    }

    let file = download(&ctx, &env, &plan, &json).await?;
    if plan.sha1.is_none()
        && let Some(name) = holder(stored.as_deref(), &file.sha1)
    {
        ctx.notice(format!("already mirrored: {place} holds {name}"));
        return Ok(());
    }

    ctx.info(format!("uploading {} ({} bytes)", plan.filename, file.size));
    target
        .upload(Upload {
            item: &plan.item,
            file_name: &plan.filename,
            path: &file.path,
            content_type: &plan.content_type,
            size: file.size,
            sha1: &file.sha1,
            metadata: &plan.metadata,
        })
        .await
        .map_err(|e| JobError::Retry(e.context(format!("upload of {} failed", plan.item))))?;

    if env.settings.source_archives
        && let Some(repository) = &plan.repository
    {
        match archive_source(&ctx, &env, target, &plan, repository).await {
            Ok(Some(name)) => ctx.info(format!("source archive stored as {name}")),
            Ok(None) => {}
            // The mod itself is safe; a missing source zip is not worth another upload.
            Err(e) => ctx.warn(format!("source archive of {repository} not stored: {e:#}")),
        }
    }
    ctx.notice(format!("mirrored {} to {place}", plan.item));
    Ok(())
}

/// The name of a stored file whose SHA-1 is `sha1` (compared without regard to case).
fn holder<'a>(stored: Option<&'a [target::StoredFile]>, sha1: &str) -> Option<&'a str> {
    stored?
        .iter()
        .find(|f| {
            f.sha1
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(sha1))
        })
        .map(|f| f.name.as_str())
}

/// The download, from the shared cache or fetched into it, checked against every hash the
/// metadata has.
async fn download(
    ctx: &JobContext,
    env: &MirrorEnv,
    plan: &MirrorPlan,
    json: &netkan_common::ckan::Object,
) -> Result<CachedFile, JobError> {
    let file = env
        .cache
        .fetch(&env.http, &plan.download_url, json)
        .await
        .map_err(|e| {
            JobError::Retry(anyhow!(
                "failed to find or download {}: {e}",
                plan.download_url
            ))
        })?;
    ctx.info(if file.fresh {
        format!("downloaded {} ({} bytes)", plan.download_url, file.size)
    } else {
        format!("found {} in the download cache", plan.download_url)
    });
    for (name, want, got) in [
        ("sha256", plan.sha256.as_deref(), &file.sha256),
        ("sha1", plan.sha1.as_deref(), &file.sha1),
    ] {
        if let Some(want) = want
            && !want.eq_ignore_ascii_case(got)
        {
            return Err(JobError::Retry(anyhow!(
                "the download of {} does not match download_hash.{name}: {got} != {want}",
                plan.download_url
            )));
        }
    }
    Ok(file)
}

/// Downloads the repository's source archive and stores it beside the mod; `Ok(None)` when
/// the repository's host has no source archives.
async fn archive_source(
    ctx: &JobContext,
    env: &MirrorEnv,
    target: &Target,
    plan: &MirrorPlan,
    repository: &str,
) -> anyhow::Result<Option<String>> {
    let branch = match item::github_repository(repository) {
        Some((owner, name)) => default_branch(env, owner, name).await?,
        None => "main".to_owned(),
    };
    let Some(url) = item::source_download(repository, &branch) else {
        return Ok(None);
    };
    ctx.info(format!("archiving the source from {url}"));
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let path = dir.path().join("source.zip");
    let got = crate::fetch::to_file(&env.http, &url, &path).await?;
    target
        .upload(Upload {
            item: &plan.item,
            file_name: &plan.source_filename,
            path: &path,
            content_type: "application/zip",
            size: got.size,
            sha1: &got.sha1,
            metadata: &plan.metadata,
        })
        .await?;
    Ok(Some(plan.source_filename.clone()))
}

/// A GitHub repository's default branch (`GET /repos/<owner>/<name>`, routed to
/// `hosts.github_api` with the token).
async fn default_branch(env: &MirrorEnv, owner: &str, name: &str) -> anyhow::Result<String> {
    #[derive(serde::Deserialize)]
    struct Repo {
        default_branch: String,
    }
    let url = format!("{}/repos/{owner}/{name}", netkan_inflator::http::GITHUB_API);
    let repo: Repo = env.http.get_json(&url).await?;
    Ok(repo.default_branch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_bodies_must_be_ckan_meta_paths() {
        assert_eq!(
            check_path("DogeCoinFlag/DogeCoinFlag-v1.0.2.ckan").ok(),
            Some("DogeCoinFlag/DogeCoinFlag-v1.0.2.ckan")
        );
        for bad in [
            "",
            "../etc/x.ckan",
            "/abs/x.ckan",
            "A/B.netkan",
            "A\\B.ckan",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stored_files_match_by_sha1_in_any_case() {
        let files = vec![target::StoredFile {
            name: "DF564E21-AwesomeMod-1.0.0.zip".into(),
            sha1: Some("df564e21929ea07c624f822e5c43b7d0a3b0dbdf".into()),
        }];
        assert_eq!(
            holder(Some(&files), "DF564E21929EA07C624F822E5C43B7D0A3B0DBDF"),
            Some("DF564E21-AwesomeMod-1.0.0.zip")
        );
        assert_eq!(holder(Some(&files), "00"), None);
        assert_eq!(holder(None, "00"), None);
    }
}
