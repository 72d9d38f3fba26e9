//! `add`: the SpaceDock adder (NetKAN-Infra `spacedock_adder.py`). A job's body is the
//! "add to CKAN" form SpaceDock posted (`/sd/add/<game>`, reference §2.3). The handler
//! derives the identifier from the mod's name, and unless `NetKAN/<ident>.netkan` or
//! `.frozen` already exists, writes a `.netkan` (a GitHub document when the source link is a
//! GitHub repository with a release, then the SpaceDock document, each with what the
//! analyzer guessed from the download), commits it on `add/<ident>` of a working clone of
//! the game's NetKAN repository as the submitter, pushes the branch, and opens a pull
//! request labelled `Mod request` (or, with no forge configured, says where the branch is).
//!
//! Idempotent: a redelivered job writes the same file on the same branch, which makes no
//! second commit, and the forge client comments on the pull request already open.
//! Analysis and GitHub lookups that fail are logged and left out, as in the reference;
//! git, forge and network trouble on the way to the pull request is retried.
//!
//! - [`submission`]: the identifier, the documents and the texts (pure).

pub mod submission;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;
use netkan_common::ckan::module::is_valid_identifier;
use netkan_common::config::{GameSettings, Settings};
use netkan_inflator::InflateError;
use netkan_inflator::http::{GITHUB_API, HttpClient};
use serde_json::{Map, Value};

use crate::analyzer::{self, Analysis};
use crate::context::{JobContext, JobError, JobResult, Registry};
use crate::forge::{Forge, Opened, PullRequest};
use crate::git::{Favor, GitError, Identity, WorkTree, clone_dir};
use submission::{Release, Submission};

/// The role name.
pub const ROLE: &str = "add";
/// The job kind (the web enqueues it on `adding`).
pub const KIND: &str = "add";
/// The label of the pull requests.
const LABEL: &str = "Mod request";

/// What the adder needs, built once per worker process.
pub struct AddEnv {
    /// Working clones live under `<data_dir>/work`.
    pub data_dir: PathBuf,
    /// Repositories per game (`netkan`, and `netkan_repo` on the forge).
    pub games: BTreeMap<String, GameSettings>,
    /// Who commits (the bot); the author is the submitter.
    pub committer: Identity,
    /// Downloads and GitHub reads.
    pub http: HttpClient,
    /// Pull requests; `None` or without a token: branches are only pushed.
    pub forge: Option<Forge>,
    /// The add jobs of a machine take turns with the game's working clone (this lock in a
    /// process, a lock file between processes).
    turn: tokio::sync::Mutex<()>,
}

impl AddEnv {
    /// The environment these settings describe.
    pub fn new(all: &Settings, http: HttpClient, forge: Option<Forge>) -> Self {
        Self {
            data_dir: all.data_dir.clone(),
            games: all.games.clone(),
            committer: Identity::from(&all.git),
            http,
            forge,
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

/// Registers the `add` kind.
pub fn register(registry: &mut Registry, env: Arc<AddEnv>) {
    registry.register(KIND, move |ctx| run(ctx, env.clone()));
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, JobError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(JobError::Retry(anyhow::Error::new(e))),
        Err(e) => Err(JobError::Retry(anyhow!("git task panicked: {e}"))),
    }
}

/// Which of the two files already exists, if any.
fn existing(tree: &WorkTree, ident: &str) -> Result<Option<String>, GitError> {
    for ext in ["netkan", "frozen"] {
        let path = format!("NetKAN/{ident}.{ext}");
        if tree.committed_file(&path)?.is_some() {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

async fn run(ctx: JobContext, env: Arc<AddEnv>) -> JobResult {
    let sub = Submission::parse(&ctx.job().body).map_err(JobError::permanent)?;
    let name = sub.field("name");
    let ident = sub.identifier();
    if !is_valid_identifier(&ident) {
        return Err(JobError::permanent(format!(
            "the mod name {name:?} gives the identifier {ident:?}, which CKAN does not accept \
             (^[A-Za-z0-9][A-Za-z0-9-]+$)"
        )));
    }
    let game = ctx.job().game.clone();
    let settings = env.games.get(game.as_str()).cloned().unwrap_or_default();
    let remote = settings
        .netkan
        .as_ref()
        .map(|s| s.expose().to_owned())
        .ok_or_else(|| {
            JobError::permanent(format!(
                "no NetKAN repository is configured for game {game} (games.{game}.netkan)"
            ))
        })?;
    ctx.info(format!(
        "{name} from {} by {}: identifier {ident}",
        sub.field("site_name"),
        sub.field("username")
    ));

    let turn = env.turn.lock().await;
    let dir = clone_dir(&env.data_dir, game.as_str(), "NetKAN-add");
    let committer = env.committer.clone();
    let ident2 = ident.clone();
    let (lock, tree, found) = blocking(move || {
        let lock = super::lock_working_dir(&dir).map_err(|source| GitError::Io {
            context: format!("locking {}", dir.display()),
            source,
        })?;
        let mut tree = WorkTree::open_or_clone(&remote, &dir)?;
        tree.fetch()?;
        let primary = tree.primary().to_owned();
        tree.switch(&primary)?;
        tree.reset_to_head()?;
        tree.pull(&primary, Favor::Theirs, &committer)?;
        let found = existing(&tree, &ident2)?;
        Ok((lock, tree, found))
    })
    .await?;
    if let Some(path) = found {
        ctx.notice(format!("{path} already exists: {name} is not added again"));
        return Ok(());
    }

    let docs = documents(&ctx, &env, &sub, &ident, game.as_str()).await?;
    let text = crate::netkan_yaml::documents(&docs);
    // What is committed must read back as what was meant.
    match netkan_common::ckan::parse_netkan(&text) {
        Ok(back) if back == docs => {}
        other => {
            return Err(JobError::permanent(format!(
                "the .netkan written for {ident} does not read back as written: {other:?}"
            )));
        }
    }
    let path = format!("NetKAN/{ident}.netkan");
    let branch = format!("add/{ident}");
    let author = Identity::new(
        non_empty(sub.field("username"), &env.committer.name),
        non_empty(sub.field("email"), &env.committer.email),
    );
    let message = sub.commit_message();
    let committer = env.committer.clone();
    let (b, p) = (branch.clone(), path.clone());
    let committed = blocking(move || {
        let (_lock, mut tree) = (lock, tree);
        tree.on_branch(&b, &committer.clone(), |t| {
            t.write_file(&p, text.as_bytes())?;
            t.commit(&[p.as_str()], &message, &author, &committer)
        })
    })
    .await?;
    match committed {
        Some(oid) => ctx.info(format!("committed {path} on {branch} as {oid}")),
        None => ctx.info(format!("{branch} already holds this {path}: no new commit")),
    }
    drop(turn);

    let Some((forge, repo)) = env
        .forge
        .as_ref()
        .filter(|f| f.has_token())
        .zip(settings.netkan_repo.as_deref())
    else {
        ctx.notice(format!(
            "{name} is on branch {branch} of {}; no pull request (set games.{game}.netkan_repo and hosts.github_token to have one opened)",
            netkan_common::log::redact_url_passwords(
                settings.netkan.as_ref().map(|s| s.expose()).unwrap_or_default()
            )
        ));
        return Ok(());
    };
    let title = sub.title();
    let body = sub.pr_body();
    let pr = PullRequest {
        repo,
        branch: &branch,
        title: &title,
        body: &body,
        labels: &[LABEL],
    };
    match forge.open_pull_request(&pr).await {
        Ok(Opened::Created { number, url }) => {
            ctx.notice(format!("{title}: pull request #{number} opened: {url}"));
            Ok(())
        }
        Ok(Opened::Commented { number, url }) => {
            ctx.notice(format!(
                "{title}: pull request #{number} was already open; commented: {url}"
            ));
            Ok(())
        }
        Err(e) if e.is_transient() => Err(JobError::Retry(anyhow!(
            "Pull request for {branch} failed: {e}"
        ))),
        Err(e) => Err(JobError::Permanent(anyhow!(
            "Pull request for {branch} failed: {e}"
        ))),
    }
}

fn non_empty(value: String, fallback: &str) -> String {
    if value.trim().is_empty() {
        fallback.to_owned()
    } else {
        value
    }
}

/// The documents of the `.netkan`: the GitHub one (if the source link is a GitHub
/// repository with a release), then the SpaceDock one.
async fn documents(
    ctx: &JobContext,
    env: &AddEnv,
    sub: &Submission,
    ident: &str,
    game: &str,
) -> Result<Vec<Map<String, Value>>, JobError> {
    let root = analyzer::mod_root(game);
    let mut docs = Vec::new();
    if let Some(repo) = sub.github_repository()
        && let Some((full_name, release)) = github_release(ctx, env, &repo).await?
    {
        let analysis = match release.download() {
            Some(url) => analyze(ctx, env, ident, root, url).await,
            None => None,
        };
        docs.push(submission::github_document(
            ident,
            &full_name,
            &release,
            analysis.as_ref(),
        ));
    }
    let url = sub.spacedock_download();
    let analysis = analyze(ctx, env, ident, root, &url).await;
    docs.push(submission::spacedock_document(
        ident,
        sub,
        analysis.as_ref(),
    ));
    Ok(docs)
}

/// The analysis of `url`, or `None` (logged) when it cannot be had: the pull request is
/// still worth opening without it.
async fn analyze(
    ctx: &JobContext,
    env: &AddEnv,
    ident: &str,
    root: &str,
    url: &str,
) -> Option<Analysis> {
    match analyzer::analyze_url(&env.http, ident, root, url).await {
        Ok(a) => {
            ctx.info(format!("analyzed {url}"));
            Some(a)
        }
        Err(e) => {
            ctx.error(format!("failed to analyze {ident} from {url}: {e}"));
            None
        }
    }
}

/// The repository's full name and latest release; `None` (logged) when it has none or
/// cannot be found. Throttling and network trouble are retried instead: the GitHub
/// document would be missing for no reason.
async fn github_release(
    ctx: &JobContext,
    env: &AddEnv,
    repo: &str,
) -> Result<Option<(String, Release)>, JobError> {
    #[derive(serde::Deserialize)]
    struct Repo {
        full_name: String,
    }
    let retry_or_skip =
        |e: InflateError, what: &str| -> Result<Option<(String, Release)>, JobError> {
            if e.is_retryable() {
                Err(JobError::Retry(anyhow!("{what}: {e}")))
            } else {
                ctx.error(format!("{what}: {e}"));
                Ok(None)
            }
        };
    let repo_url = format!("{GITHUB_API}/repos/{repo}");
    let found: Repo = match env.http.get_json_or_404(&repo_url).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            ctx.error(format!(
                "failed to get GitHub repo from SpaceDock source url: {repo} not found"
            ));
            return Ok(None);
        }
        Err(e) => return retry_or_skip(e, &format!("failed to get GitHub repo {repo}")),
    };
    let url = format!("{GITHUB_API}/repos/{}/releases/latest", found.full_name);
    match env.http.get_json_or_404::<Release>(&url).await {
        Ok(Some(release)) => Ok(Some((found.full_name, release))),
        Ok(None) => {
            ctx.warn(format!(
                "No releases found on GitHub for {}, omitting GitHub section",
                found.full_name
            ));
            Ok(None)
        }
        Err(e) => retry_or_skip(
            e,
            &format!("reading the latest release of {}", found.full_name),
        ),
    }
}
