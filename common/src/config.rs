//! Configuration: defaults in code, then a TOML file (`--config PATH` or `NETKAN_CONFIG`),
//! then environment variables (`NETKAN__SECTION__KEY=value`, and `REDIS_URL`); validated at
//! start-up with errors that name the key. Secrets are redacted in `Debug`.
//!
//! The environment overlay is written by hand (about forty lines) rather than with the
//! `config` crate: it needs only "split on `__`, parse the value as TOML or keep it as a
//! string", and doing it here keeps TOML's own error messages, which name file lines.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::keys::Keys;
use crate::queue::{JobQueue, JobSettings};

mod housekeeping;
pub use housekeeping::*;

/// A configuration problem, naming the file, key or variable at fault.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("config file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// TOML's message, with line and key.
        message: String,
    },
    /// An environment variable could not be applied.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// The values are individually fine but not together.
    #[error("invalid setting {0}")]
    Invalid(String),
}

/// A secret string: shown as `***` by `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True if no secret is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Every setting of every netkan process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where state lives when nothing else is configured (embedded Redis data, repositories,
    /// download cache, hook spool).
    pub data_dir: PathBuf,
    /// The Redis connection.
    pub redis: RedisSettings,
    /// The job protocol.
    pub jobs: JobSettings,
    /// The worker processes.
    pub worker: WorkerSettings,
    /// The web front end.
    pub web: WebSettings,
    /// The git post-receive hook.
    pub hooks: HookSettings,
    /// Per game (`ksp`, `ksp2`): its repositories.
    pub games: BTreeMap<String, GameSettings>,
    /// The process's own log (not job logs).
    pub log: LogSettings,
    /// The outside hosts the workers talk to (GitHub, SpaceDock, archive.org, ...).
    pub hosts: HostSettings,
    /// The download cache shared by every worker on a machine.
    pub cache: CacheSettings,
    /// Where the mirrorer keeps copies of redistributable downloads.
    pub mirror: MirrorSettings,
    /// The identity of the bot's git commits.
    pub git: GitSettings,
    /// The indexer (role `index`).
    pub indexer: IndexerSettings,
    /// Where notices about new inflation errors and warnings are sent.
    pub notify: NotifySettings,
    /// The scheduler's periodic inflation passes (role `schedule`).
    pub scheduler: SchedulerSettings,
    /// The periodic housekeeping jobs (role `housekeeping`).
    pub housekeeping: HousekeepingSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            redis: RedisSettings::default(),
            jobs: JobSettings::default(),
            worker: WorkerSettings::default(),
            web: WebSettings::default(),
            hooks: HookSettings::default(),
            games: BTreeMap::from([("ksp".to_owned(), GameSettings::default())]),
            log: LogSettings::default(),
            hosts: HostSettings::default(),
            cache: CacheSettings::default(),
            mirror: MirrorSettings::default(),
            git: GitSettings::default(),
            indexer: IndexerSettings::default(),
            notify: NotifySettings::default(),
            scheduler: SchedulerSettings::default(),
            housekeeping: HousekeepingSettings::default(),
        }
    }
}

/// The Redis connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://[:password@]host:port[/db]` or `rediss://` for TLS. When unset, `netkan up`
    /// starts its own `redis-server` under `data_dir/redis`.
    pub url: Option<Secret>,
    /// The prefix of every key.
    pub prefix: String,
    /// The `redis-server` binary for the embedded server.
    pub server_bin: String,
    /// Port of the embedded server (not 6379, so it can live beside a system Redis).
    pub embedded_port: u16,
    /// Connections in each process's pool.
    pub pool_size: usize,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: None,
            prefix: "netkan:".into(),
            server_bin: "redis-server".into(),
            embedded_port: 6389,
            pool_size: 16,
        }
    }
}

/// Which roles a worker process serves and how many jobs each runs at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Roles to serve; empty means every role this build knows.
    pub roles: Vec<String>,
    /// Jobs run at once, per role; roles not listed use `default_concurrency`.
    pub concurrency: BTreeMap<String, usize>,
    /// Jobs run at once by a role not listed in `concurrency`.
    pub default_concurrency: usize,
    /// Most jobs claimed in one round trip.
    pub claim_batch: usize,
    /// On SIGTERM, how long running jobs may take to finish before they are handed back.
    pub shutdown_timeout_secs: u64,
    /// Largest `.netkan` (or `.frozen`) file the push worker reads; a larger one is refused
    /// with its size and this key named (the largest real `.netkan` is a few KB).
    pub max_netkan_bytes: u64,
    /// Attempts a push job makes to find its commit (`after`) in NetKAN, fetching each
    /// time, before it fails saying so. GitHub can deliver a push a moment before the commit
    /// is served, so a miss is retried (with the job's backoff, `jobs.backoff_base_ms`
    /// doubling), but only a few times: a commit still missing then is not coming. At most
    /// `jobs.max_attempts` are used.
    pub missing_commit_attempts: u32,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            roles: Vec::new(),
            concurrency: BTreeMap::new(),
            default_concurrency: 4,
            claim_batch: 100,
            shutdown_timeout_secs: 30,
            max_netkan_bytes: 1024 * 1024,
            missing_commit_attempts: 3,
        }
    }
}

impl WorkerSettings {
    /// Jobs run at once by `role`.
    pub fn concurrency_of(&self, role: &str) -> usize {
        self.concurrency
            .get(role)
            .copied()
            .unwrap_or(self.default_concurrency)
    }
}

/// The web front end: webhooks, job pages and API, status, dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSettings {
    /// Address to listen on.
    pub bind: String,
    /// The public URL of the web front end, used in links printed to pushers.
    pub base_url: String,
    /// Largest request body accepted; larger ones get 413.
    pub max_body_bytes: usize,
    /// Secret of the GitHub webhooks (`X-Hub-Signature-256` / `X-Hub-Signature`).
    pub github_secret: Secret,
    /// How long a GitHub webhook payload is remembered, so that a replay of it is refused
    /// (409); 0 turns the check off. GitHub lets a delivery be redelivered for 3 days.
    pub github_replay_window_secs: u64,
    /// If set, the non-GitHub webhook routes require it (header `X-Netkan-Token` or `?token=`).
    pub webhook_token: Secret,
    /// If not empty, the non-GitHub webhook routes accept only these client addresses.
    pub allowed_addresses: Vec<String>,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client:
    /// behind nginx, `allowed_addresses` then applies to the real client.
    pub trusted_proxies: Vec<String>,
    /// Token for operator actions on the dashboard (retry, delete, enqueue).
    pub admin_token: Secret,
    /// HTTP worker threads; 0 means one per CPU.
    pub workers: usize,
    /// If set, `/files/<name>` serves the files of this directory (downloads a self-hosted
    /// NetKAN names by URL; `netkan up` puts its example mod's archive there).
    pub files_dir: Option<PathBuf>,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            base_url: "http://127.0.0.1:8080".into(),
            max_body_bytes: 1024 * 1024,
            github_secret: Secret::default(),
            github_replay_window_secs: 7 * 24 * 3600,
            webhook_token: Secret::default(),
            allowed_addresses: Vec::new(),
            trusted_proxies: Vec::new(),
            admin_token: Secret::default(),
            workers: 0,
            files_dir: None,
        }
    }
}

/// A game's repositories: each a bare repository path or a URL (with credentials, if any,
/// treated as secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct GameSettings {
    /// The NetKAN repository (`.netkan` files under `NetKAN/`).
    pub netkan: Option<Secret>,
    /// The CKAN-meta repository (`<identifier>/<identifier>-<version>.ckan`).
    pub ckanmeta: Option<Secret>,
    /// CKAN-meta on the forge (`KSP-CKAN/CKAN-meta`), where the indexer opens pull requests
    /// for staged metadata; unset: staged branches are pushed and the log says where.
    pub ckanmeta_repo: Option<String>,
    /// NetKAN on the forge (`KSP-CKAN/NetKAN`), for pull requests against it (the adder).
    pub netkan_repo: Option<String>,
    /// NetKAN's primary branch: `/gh/inflate` ignores pushes to other branches, and the push
    /// worker reads requested files from it. Unset: see [`GameSettings::netkan_primary_branch`].
    pub netkan_branch: Option<String>,
    /// CKAN-meta's primary branch: `/gh/mirror` ignores pushes to other branches. Unset: see
    /// [`GameSettings::ckanmeta_primary_branch`].
    pub ckanmeta_branch: Option<String>,
}

/// The branch assumed for a repository that is a URL and has no branch configured: what
/// KSP-CKAN's KSP repositories use (its KSP2 ones use `main`, so they need the setting).
pub const DEFAULT_BRANCH: &str = "master";

impl GameSettings {
    /// NetKAN's primary branch: `netkan_branch` if set, else the branch the repository's
    /// `HEAD` names when `netkan` is a local path (as the reference took `origin/HEAD`), else
    /// [`DEFAULT_BRANCH`].
    pub fn netkan_primary_branch(&self) -> String {
        primary_branch(self.netkan_branch.as_deref(), self.netkan.as_ref())
    }

    /// CKAN-meta's primary branch, chosen as [`GameSettings::netkan_primary_branch`] is.
    pub fn ckanmeta_primary_branch(&self) -> String {
        primary_branch(self.ckanmeta_branch.as_deref(), self.ckanmeta.as_ref())
    }
}

fn primary_branch(configured: Option<&str>, repo: Option<&Secret>) -> String {
    configured
        .map(str::to_owned)
        .or_else(|| repo.and_then(|r| local_head_branch(r.expose())))
        .unwrap_or_else(|| DEFAULT_BRANCH.to_owned())
}

/// The branch `HEAD` names in the repository at `location` when that is a local path (bare,
/// or a work tree's `.git`); `None` for a URL, a missing repository or a detached `HEAD`.
/// Read from the file, not through git: this crate does not link libgit2, and a symbolic
/// `HEAD` is one line (`ref: refs/heads/<branch>`).
pub fn local_head_branch(location: &str) -> Option<String> {
    let path = match location.strip_prefix("file://") {
        Some(p) => p,
        // `https://…`, `ssh://…` and scp-like `git@host:path` are remotes.
        None if location.contains("://") || is_scp_like(location) => return None,
        None => location,
    };
    let dir = Path::new(path);
    let head = std::fs::read_to_string(dir.join("HEAD"))
        .or_else(|_| std::fs::read_to_string(dir.join(".git").join("HEAD")))
        .ok()?;
    let branch = head.trim().strip_prefix("ref: refs/heads/")?;
    (!branch.is_empty()).then(|| branch.to_owned())
}

/// `user@host:path`, git's scp-like remote syntax (a colon before any slash).
fn is_scp_like(location: &str) -> bool {
    match (location.find(':'), location.find('/')) {
        (Some(colon), Some(slash)) => colon < slash,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Checks a configured branch name; the error names `key`.
fn validate_branch(key: &str, branch: &str) -> Result<(), String> {
    let bad = branch.is_empty()
        || branch.starts_with('-')
        || branch.starts_with("refs/")
        || branch.contains("..")
        || branch
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c));
    if bad {
        let shown: String = branch.chars().take(100).collect();
        return Err(format!(
            "{key} = {shown:?} is not a branch name (write `main`, not `refs/heads/main`)"
        ));
    }
    Ok(())
}

/// Keys that were removed, and what replaces them: a file or variable that still sets one
/// is refused with this text rather than an "unknown field" naming every key but the new one.
const REMOVED_KEYS: [(&str, &str); 2] = [
    (
        "web.netkan_branch",
        "web.netkan_branch was removed: the branch is per game now, `netkan_branch` in each [games.<id>] table (games.<id>.netkan_branch, or NETKAN__GAMES__<ID>__NETKAN_BRANCH); unset, it is the NetKAN repository's HEAD when that is a local path, else master",
    ),
    (
        "web.ckanmeta_branch",
        "web.ckanmeta_branch was removed: the branch is per game now, `ckanmeta_branch` in each [games.<id>] table (games.<id>.ckanmeta_branch, or NETKAN__GAMES__<ID>__CKANMETA_BRANCH); unset, it is the CKAN-meta repository's HEAD when that is a local path, else master",
    ),
];

/// The explanation of a removed key set in `table`, if any.
fn removed_key_in(table: &toml::Table) -> Option<&'static str> {
    REMOVED_KEYS.iter().find_map(|(key, why)| {
        let (section, name) = key.split_once('.')?;
        table
            .get(section)
            .and_then(toml::Value::as_table)
            .is_some_and(|t| t.contains_key(name))
            .then_some(*why)
    })
}

/// The git post-receive hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HookSettings {
    /// Longest a push waits on Redis (connect and enqueue) before the job is spooled.
    pub timeout_ms: u64,
    /// Where jobs wait when Redis cannot take them; default `<data_dir>/spool`.
    pub spool_dir: Option<PathBuf>,
    /// Stream the push job's NOTICE-and-above lines to the pusher until it ends.
    pub follow: bool,
    /// Longest `follow` keeps the push open.
    pub follow_timeout_secs: u64,
    /// If not empty, the only repositories (absolute paths) the hook accepts pushes to.
    pub repositories: Vec<PathBuf>,
}

impl Default for HookSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 2000,
            spool_dir: None,
            follow: false,
            follow_timeout_secs: 120,
            repositories: Vec::new(),
        }
    }
}

/// The process's own log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `netkan_worker=debug,info`; `RUST_LOG` wins.
    pub filter: String,
    /// `pretty` (human) or `json`.
    pub format: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: "pretty".into(),
        }
    }
}

/// The outside hosts the workers talk to. Every base URL can point elsewhere (a mirror, a
/// local test server); `rewrite` redirects any other URL prefix, for hosts named inside
/// `.netkan` files (Jenkins servers, Gitea instances, remote `.version` files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostSettings {
    /// The GitHub REST API.
    pub github_api: String,
    /// GitHub's web site (wiki probes, source archives).
    pub github: String,
    /// A GitHub token: raises the API rate limit, and lets the indexer and the adder open
    /// pull requests. Empty: anonymous, and no pull requests.
    pub github_token: Secret,
    /// The GitLab API (`/api/v4`).
    pub gitlab_api: String,
    /// A GitLab token; empty for anonymous access.
    pub gitlab_token: Secret,
    /// SpaceDock (its API is under `/api`).
    pub spacedock: String,
    /// SourceForge.
    pub sourceforge: String,
    /// archive.org downloads and metadata (`/download`, `/metadata`).
    pub archive_org: String,
    /// archive.org's views API (`/views/v1/short/...`), on a host of its own.
    pub archive_org_views: String,
    /// URL prefix → replacement, applied to every outgoing request after the base URLs
    /// above; the longest matching prefix wins. The metadata keeps the original URLs.
    pub rewrite: BTreeMap<String, String>,
    /// `User-Agent` of every request.
    pub user_agent: String,
    /// Time limit of an API call (connect and whole response).
    pub timeout_secs: u64,
    /// Time limit of a download.
    pub download_timeout_secs: u64,
    /// Largest download accepted; a larger one fails the inflation with a clear error.
    pub max_download_bytes: u64,
}

impl Default for HostSettings {
    fn default() -> Self {
        Self {
            github_api: "https://api.github.com".into(),
            github: "https://github.com".into(),
            github_token: Secret::default(),
            gitlab_api: "https://gitlab.com/api/v4".into(),
            gitlab_token: Secret::default(),
            spacedock: "https://spacedock.info".into(),
            sourceforge: "https://sourceforge.net".into(),
            archive_org: "https://archive.org".into(),
            archive_org_views: "https://be-api.us.archive.org".into(),
            rewrite: BTreeMap::new(),
            user_agent: concat!(
                "netkan/",
                env!("CARGO_PKG_VERSION"),
                " (CKAN NetKAN bot; +https://github.com/KSP-CKAN/NetKAN)"
            )
            .into(),
            timeout_secs: 30,
            download_timeout_secs: 600,
            max_download_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

impl HostSettings {
    fn validate(&self) -> Result<(), String> {
        let bases = [
            ("github_api", &self.github_api),
            ("github", &self.github),
            ("gitlab_api", &self.gitlab_api),
            ("spacedock", &self.spacedock),
            ("sourceforge", &self.sourceforge),
            ("archive_org", &self.archive_org),
            ("archive_org_views", &self.archive_org_views),
        ];
        for (key, url) in bases {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "hosts.{key} must be an http:// or https:// URL, not {url:?}"
                ));
            }
        }
        for (from, to) in &self.rewrite {
            if from.is_empty() || to.is_empty() {
                return Err("hosts.rewrite: prefixes and replacements must not be empty".into());
            }
        }
        if self.timeout_secs == 0 || self.download_timeout_secs == 0 {
            return Err(
                "hosts.timeout_secs and hosts.download_timeout_secs must be at least 1".into(),
            );
        }
        if self.max_download_bytes == 0 {
            return Err("hosts.max_download_bytes must be at least 1".into());
        }
        Ok(())
    }
}

/// The download cache: files named as NetKAN names them, shared by the inflator, the indexer
/// and the mirrorer of one machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// Where cached downloads live; default `<data_dir>/cache`.
    pub dir: Option<PathBuf>,
    /// Largest total size; the least recently used files are removed past it. 0: no cap.
    pub max_bytes: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            dir: None,
            max_bytes: 20 * 1024 * 1024 * 1024,
        }
    }
}

/// Where the mirrorer puts copies of redistributable downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MirrorTarget {
    /// archive.org, through its S3-like API (needs `access_key` and `secret_key`).
    #[serde(rename = "archive.org")]
    ArchiveOrg,
    /// A local directory laid out like archive.org items: `<directory>/<item>/<file>`.
    #[serde(rename = "directory")]
    Directory,
    /// Nowhere: mirror jobs succeed without doing anything.
    #[default]
    #[serde(rename = "none")]
    None,
}

/// The mirrorer (`mirror` jobs on `mirroring`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MirrorSettings {
    /// `archive.org`, `directory` or `none`.
    pub target: MirrorTarget,
    /// archive.org's S3-like endpoint (uploads and the overload check).
    pub s3_endpoint: String,
    /// archive.org S3 access key (<https://archive.org/account/s3.php>).
    pub access_key: Secret,
    /// archive.org S3 secret key.
    pub secret_key: Secret,
    /// The archive.org collection of each game's items; a game without one is not mirrored
    /// to archive.org.
    pub collections: BTreeMap<String, String>,
    /// The `directory` target's root; default `<data_dir>/mirror`.
    pub directory: Option<PathBuf>,
    /// Also archive the source of mods whose `resources.repository` is on GitHub, GitLab,
    /// Bitbucket or git.srv.hoerberg.de.
    pub source_archives: bool,
    /// While archive.org says it is overloaded, a mirror job waits this long before it runs
    /// again (not counted as an attempt).
    pub overload_wait_secs: u64,
}

impl Default for MirrorSettings {
    fn default() -> Self {
        Self {
            target: MirrorTarget::None,
            s3_endpoint: "https://s3.us.archive.org".into(),
            access_key: Secret::default(),
            secret_key: Secret::default(),
            collections: BTreeMap::from([("ksp".to_owned(), "kspckanmods".to_owned())]),
            directory: None,
            source_archives: true,
            overload_wait_secs: 60,
        }
    }
}

impl MirrorSettings {
    fn validate(&self) -> Result<(), String> {
        if !(self.s3_endpoint.starts_with("http://") || self.s3_endpoint.starts_with("https://")) {
            return Err(format!(
                "mirror.s3_endpoint must be an http:// or https:// URL, not {:?}",
                self.s3_endpoint
            ));
        }
        if self.target == MirrorTarget::ArchiveOrg
            && (self.access_key.is_empty() || self.secret_key.is_empty())
        {
            return Err(
                "mirror.target = \"archive.org\" needs mirror.access_key and mirror.secret_key"
                    .into(),
            );
        }
        if self.overload_wait_secs == 0 {
            return Err("mirror.overload_wait_secs must be at least 1".into());
        }
        for (game, collection) in &self.collections {
            crate::job::Game::new(game).map_err(|e| format!("mirror.collections.{game}: {e}"))?;
            if collection.is_empty() {
                return Err(format!("mirror.collections.{game} must not be empty"));
            }
        }
        Ok(())
    }
}

/// The identity of the commits the bot makes (NetKAN-Infra's `netkan/.gitconfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GitSettings {
    /// `user.name`.
    pub user_name: String,
    /// `user.email`.
    pub user_email: String,
}

impl Default for GitSettings {
    fn default() -> Self {
        Self {
            user_name: "NetKAN inflator Robot".into(),
            user_email: "netkan-bot@ksp-ckan.space".into(),
        }
    }
}

/// The indexer: inflation results into CKAN-meta.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexerSettings {
    /// Pushes tried per batch when the remote moved meanwhile (each after a pull `-X ours`)
    /// before the job is retried later.
    pub push_attempts: u32,
    /// Working clones of CKAN-meta per game on one machine: each indexer process locks one,
    /// so this many processes can share a data directory.
    pub clone_slots: u32,
}

impl Default for IndexerSettings {
    fn default() -> Self {
        Self {
            push_attempts: 3,
            clone_slots: 4,
        }
    }
}

/// Notices for people: new inflation errors and warnings (the reference's Discord sink).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// If set, each notice is POSTed there as JSON (`{"content": ..., "text": ..., ...}`,
    /// which Discord and Slack webhooks accept). A secret: such URLs carry a token.
    pub webhook_url: Secret,
}

/// One periodic inflation pass of the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulePass {
    /// Whether the pass runs at all.
    pub enabled: bool,
    /// Runs every this many seconds (periods aligned on the Unix epoch); 0: daily at `at`.
    pub every_secs: u64,
    /// `HH:MM` (UTC): the daily run time when `every_secs` is 0.
    pub at: String,
    /// `nonhooks` (mods SpaceDock does not notify about), `webhooks` (the rest) or `all`.
    pub group: String,
    /// The pass is skipped for a game while more than this many scheduled (low-lane)
    /// inflations wait in its inbound queue.
    pub max_queued: u64,
    /// With a GitHub token configured, the pass is skipped while fewer API calls than this
    /// remain in the core rate limit.
    pub min_github_remaining: u64,
}

impl SchedulePass {
    fn validate(&self, key: &str) -> Result<(), String> {
        if !matches!(self.group.as_str(), "nonhooks" | "webhooks" | "all") {
            return Err(format!(
                "{key}.group must be nonhooks, webhooks or all, not {:?}",
                self.group
            ));
        }
        if self.every_secs == 0 && parse_time_of_day(&self.at).is_none() {
            return Err(format!(
                "{key}.at must be a UTC time HH:MM when {key}.every_secs is 0, not {:?}",
                self.at
            ));
        }
        Ok(())
    }
}

/// `HH:MM` as seconds after midnight.
pub fn parse_time_of_day(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && text.len() == 5).then_some(h * 3600 + m * 60)
}

/// The scheduler: the main pass (every 30 minutes, mods SpaceDock does not notify about) and
/// the daily pass over the others, as the reference's two scheduled tasks.
///
/// Each pass's keys default to that pass's own defaults (so `[scheduler.webhooks_pass]`
/// with only `at` keeps `group = "webhooks"`), hence the hand-written `Deserialize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerSettings {
    /// The main pass.
    pub pass: SchedulePass,
    /// The daily safety pass over the mods that webhooks keep up to date.
    pub webhooks_pass: SchedulePass,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            pass: SchedulePass {
                enabled: true,
                every_secs: 1800,
                at: String::new(),
                group: "nonhooks".into(),
                max_queued: 20,
                min_github_remaining: 1500,
            },
            webhooks_pass: SchedulePass {
                enabled: true,
                every_secs: 0,
                at: "04:00".into(),
                group: "webhooks".into(),
                max_queued: 2000,
                min_github_remaining: 1500,
            },
        }
    }
}

impl<'de> Deserialize<'de> for SchedulerSettings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            pass: PassKeys,
            #[serde(default)]
            webhooks_pass: PassKeys,
        }
        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct PassKeys {
            enabled: Option<bool>,
            every_secs: Option<u64>,
            at: Option<String>,
            group: Option<String>,
            max_queued: Option<u64>,
            min_github_remaining: Option<u64>,
        }
        fn apply(keys: PassKeys, mut pass: SchedulePass) -> SchedulePass {
            pass.enabled = keys.enabled.unwrap_or(pass.enabled);
            pass.every_secs = keys.every_secs.unwrap_or(pass.every_secs);
            pass.at = keys.at.unwrap_or(pass.at);
            pass.group = keys.group.unwrap_or(pass.group);
            pass.max_queued = keys.max_queued.unwrap_or(pass.max_queued);
            pass.min_github_remaining = keys
                .min_github_remaining
                .unwrap_or(pass.min_github_remaining);
            pass
        }
        let raw = Raw::deserialize(d)?;
        let defaults = SchedulerSettings::default();
        Ok(SchedulerSettings {
            pass: apply(raw.pass, defaults.pass),
            webhooks_pass: apply(raw.webhooks_pass, defaults.webhooks_pass),
        })
    }
}

/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "NETKAN_CONFIG";
/// The prefix of environment overrides: `NETKAN__JOBS__LEASE_MS=3000`.
pub const ENV_PREFIX: &str = "NETKAN__";

impl Settings {
    /// Loads settings from defaults, the file (`path`, else `$NETKAN_CONFIG` if set) and the
    /// process environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let from_env = std::env::var_os(CONFIG_ENV).map(PathBuf::from);
        Self::load_from(path.or(from_env.as_deref()), &env)
    }

    /// Loads settings from defaults, an optional file and the given environment.
    pub fn load_from(path: Option<&Path>, env: &[(String, String)]) -> Result<Self, ConfigError> {
        let mut table = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                if let Some(why) = toml::from_str::<toml::Table>(&text)
                    .ok()
                    .as_ref()
                    .and_then(removed_key_in)
                {
                    return Err(ConfigError::File {
                        path: path.to_owned(),
                        message: why.into(),
                    });
                }
                // Deserializing the text itself (not a merged table) keeps TOML's line numbers.
                toml::from_str::<Settings>(&text).map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?;
                toml::from_str::<toml::Table>(&text).map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?
            }
            None => toml::Table::new(),
        };
        for (var, value) in env {
            let keys: Vec<String> = if var == "REDIS_URL" {
                vec!["redis".into(), "url".into()]
            } else if let Some(rest) = var.strip_prefix(ENV_PREFIX) {
                rest.split("__").map(str::to_ascii_lowercase).collect()
            } else {
                continue;
            };
            if keys.iter().any(String::is_empty) {
                return Err(ConfigError::Env {
                    var: var.clone(),
                    message: "empty key segment".into(),
                });
            }
            let dotted = keys.join(".");
            if let Some((_, why)) = REMOVED_KEYS.iter().find(|(k, _)| *k == dotted) {
                return Err(ConfigError::Env {
                    var: var.clone(),
                    message: (*why).into(),
                });
            }
            // A variable naming a game adds to the games in force (the file's, else the
            // default `ksp`) instead of replacing the whole table: setting
            // NETKAN__GAMES__KSP2__NETKAN must not silently drop KSP.
            if keys[0] == "games" && !table.contains_key("games") {
                let defaults: toml::Table = Settings::default()
                    .games
                    .keys()
                    .map(|g| (g.clone(), toml::Value::Table(toml::Table::new())))
                    .collect();
                table.insert("games".into(), toml::Value::Table(defaults));
            }
            set_path(&mut table, &keys, env_value(value)).map_err(|message| ConfigError::Env {
                var: var.clone(),
                message,
            })?;
            // Check each variable on its own so the error names it.
            Settings::deserialize(table.clone()).map_err(|e| ConfigError::Env {
                var: var.clone(),
                message: e.to_string(),
            })?;
        }
        let settings =
            Settings::deserialize(table).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks values that must agree with each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.jobs.validate().map_err(ConfigError::Invalid)?;
        if let Some(url) = &self.redis.url {
            let u = url.expose();
            if !(u.starts_with("redis://")
                || u.starts_with("rediss://")
                || u.starts_with("unix://"))
            {
                return Err(ConfigError::Invalid(
                    "redis.url must start with redis://, rediss:// or unix://".into(),
                ));
            }
        }
        if self.redis.embedded_port == 0 {
            return Err(ConfigError::Invalid(
                "redis.embedded_port must not be 0".into(),
            ));
        }
        if self.redis.pool_size == 0 {
            return Err(ConfigError::Invalid(
                "redis.pool_size must be at least 1".into(),
            ));
        }
        if self.worker.default_concurrency == 0 || self.worker.concurrency.values().any(|&c| c == 0)
        {
            return Err(ConfigError::Invalid(
                "worker.concurrency values must be at least 1".into(),
            ));
        }
        if self.worker.missing_commit_attempts == 0 {
            return Err(ConfigError::Invalid(
                "worker.missing_commit_attempts must be at least 1".into(),
            ));
        }
        if self.worker.claim_batch == 0 || self.worker.claim_batch > crate::queue::MAX_CLAIM {
            return Err(ConfigError::Invalid(format!(
                "worker.claim_batch must be between 1 and {}",
                crate::queue::MAX_CLAIM
            )));
        }
        for (game, settings) in &self.games {
            crate::job::Game::new(game)
                .map_err(|e| ConfigError::Invalid(format!("games.{game}: {e}")))?;
            for (key, branch) in [
                ("netkan_branch", &settings.netkan_branch),
                ("ckanmeta_branch", &settings.ckanmeta_branch),
            ] {
                if let Some(b) = branch {
                    validate_branch(&format!("games.{game}.{key}"), b)
                        .map_err(ConfigError::Invalid)?;
                }
            }
        }
        self.hosts.validate().map_err(ConfigError::Invalid)?;
        self.mirror.validate().map_err(ConfigError::Invalid)?;
        self.housekeeping.validate().map_err(ConfigError::Invalid)?;
        self.scheduler
            .pass
            .validate("scheduler.pass")
            .map_err(ConfigError::Invalid)?;
        self.scheduler
            .webhooks_pass
            .validate("scheduler.webhooks_pass")
            .map_err(ConfigError::Invalid)?;
        if self.indexer.push_attempts == 0 || self.indexer.clone_slots == 0 {
            return Err(ConfigError::Invalid(
                "indexer.push_attempts and indexer.clone_slots must be at least 1".into(),
            ));
        }
        let notify = self.notify.webhook_url.expose();
        if !(notify.is_empty() || notify.starts_with("http://") || notify.starts_with("https://")) {
            return Err(ConfigError::Invalid(
                "notify.webhook_url must be an http:// or https:// URL".into(),
            ));
        }
        if !matches!(self.log.format.as_str(), "pretty" | "json") {
            return Err(ConfigError::Invalid(
                "log.format must be pretty or json".into(),
            ));
        }
        Ok(())
    }

    /// The hook spool directory.
    pub fn spool_dir(&self) -> PathBuf {
        self.hooks
            .spool_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("spool"))
    }

    /// The download cache directory.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("cache"))
    }

    /// The `directory` mirror target's root.
    pub fn mirror_dir(&self) -> PathBuf {
        self.mirror
            .directory
            .clone()
            .unwrap_or_else(|| self.data_dir.join("mirror"))
    }

    /// The Redis URL to use: the configured one, or that of `netkan up`'s own server.
    pub fn redis_url(&self) -> String {
        match &self.redis.url {
            Some(u) => u.expose().to_owned(),
            None => format!("redis://127.0.0.1:{}/", self.redis.embedded_port),
        }
    }

    /// The job protocol these settings describe.
    pub fn job_queue(&self) -> JobQueue {
        JobQueue::new(Keys::new(self.redis.prefix.clone()), self.jobs.clone())
    }

    /// Every secret value configured, for [`crate::log::Redactor`].
    pub fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = [
            &self.web.github_secret,
            &self.web.webhook_token,
            &self.web.admin_token,
            &self.hosts.github_token,
            &self.hosts.gitlab_token,
            &self.mirror.access_key,
            &self.mirror.secret_key,
            &self.notify.webhook_url,
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.expose().to_owned())
        .collect();
        let urls = self
            .games
            .values()
            .flat_map(|g| [&g.netkan, &g.ckanmeta])
            .chain([&self.redis.url]);
        for url in urls.flatten() {
            if let Some(pw) = url_password(url.expose()) {
                out.push(pw);
            }
        }
        out
    }
}

fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    let pw = userinfo.split_once(':')?.1;
    (!pw.is_empty()).then(|| pw.to_owned())
}

fn env_value(raw: &str) -> toml::Value {
    // `5`, `true`, `["push", "index"]` are TOML; anything else (a URL, a path) is a string.
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = keys.split_last().ok_or("no key")?;
    let mut t = table;
    for k in parents {
        let entry = t
            .entry(k.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("{k} is not a section"))?;
    }
    t.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_game_named_by_an_environment_variable_joins_the_games_in_force() {
        let s = Settings::load_from(None, &env(&[("NETKAN__GAMES__KSP2__CKANMETA", "/meta2")]))
            .unwrap();
        assert_eq!(s.games.keys().collect::<Vec<_>>(), ["ksp", "ksp2"]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("netkan.toml");
        // A file's [games] is the whole list: only KSP2 here, plus what the environment adds.
        std::fs::write(&path, "[games.ksp2]\nckanmeta = \"/meta2\"\n").unwrap();
        let s = Settings::load_from(Some(&path), &[]).unwrap();
        assert_eq!(s.games.keys().collect::<Vec<_>>(), ["ksp2"]);
        let s = Settings::load_from(Some(&path), &env(&[("NETKAN__GAMES__KSP__NETKAN", "/n")]))
            .unwrap();
        assert_eq!(s.games.keys().collect::<Vec<_>>(), ["ksp", "ksp2"]);
    }

    #[test]
    fn branches_are_per_game_and_default_to_a_local_repositorys_head() {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("NetKAN.git");
        std::fs::create_dir_all(&bare).unwrap();
        std::fs::write(bare.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join(".git")).unwrap();
        std::fs::write(work.join(".git/HEAD"), "ref: refs/heads/trunk\n").unwrap();
        let path = dir.path().join("netkan.toml");
        std::fs::write(
            &path,
            format!(
                "[games.ksp]\nnetkan = \"https://github.com/KSP-CKAN/NetKAN.git\"\nckanmeta_branch = \"stable\"\n\
                 [games.ksp2]\nnetkan = {:?}\nckanmeta = {:?}\n",
                bare.display().to_string(),
                work.display().to_string()
            ),
        )
        .unwrap();
        let s = Settings::load_from(Some(&path), &[]).unwrap();
        assert_eq!(s.games["ksp"].netkan_primary_branch(), "master");
        assert_eq!(s.games["ksp"].ckanmeta_primary_branch(), "stable");
        assert_eq!(s.games["ksp2"].netkan_primary_branch(), "main");
        assert_eq!(s.games["ksp2"].ckanmeta_primary_branch(), "trunk");
        let s = Settings::load_from(
            Some(&path),
            &env(&[("NETKAN__GAMES__KSP2__NETKAN_BRANCH", "develop")]),
        )
        .unwrap();
        assert_eq!(s.games["ksp2"].netkan_primary_branch(), "develop");
        assert_eq!(
            local_head_branch("git@github.com:KSP-CKAN/NetKAN.git"),
            None
        );
        assert_eq!(
            local_head_branch(&format!("file://{}", bare.display())).as_deref(),
            Some("main")
        );
        let e = Settings::load_from(
            Some(&path),
            &env(&[("NETKAN__GAMES__KSP__NETKAN_BRANCH", "refs/heads/main")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("games.ksp.netkan_branch"), "{e}");
    }

    #[test]
    fn the_removed_web_branch_keys_are_refused_naming_the_per_game_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("netkan.toml");
        std::fs::write(
            &path,
            "[web]\nbind = \"127.0.0.1:1\"\nnetkan_branch = \"main\"\n",
        )
        .unwrap();
        let e = Settings::load_from(Some(&path), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("web.netkan_branch was removed"), "{e}");
        assert!(e.contains("games.<id>.netkan_branch"), "{e}");
        std::fs::write(&path, "[web]\nckanmeta_branch = \"main\"\n").unwrap();
        let e = Settings::load_from(Some(&path), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("games.<id>.ckanmeta_branch"), "{e}");
        let e = Settings::load_from(None, &env(&[("NETKAN__WEB__NETKAN_BRANCH", "main")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("NETKAN__WEB__NETKAN_BRANCH"), "{e}");
        assert!(e.contains("NETKAN__GAMES__<ID>__NETKAN_BRANCH"), "{e}");
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("netkan.toml");
        std::fs::write(&path, "[jobs]\nlease_ms = 4000\nmax_attempts = 3\n").unwrap();
        let s = Settings::load_from(
            Some(&path),
            &env(&[
                ("NETKAN__JOBS__MAX_ATTEMPTS", "7"),
                ("REDIS_URL", "redis://:pw@127.0.0.1:7000/0"),
                ("NETKAN__WORKER__ROLES", "[\"noop\"]"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(s.jobs.lease_ms, 4000);
        assert_eq!(s.jobs.max_attempts, 7);
        assert_eq!(s.worker.roles, vec!["noop".to_string()]);
        assert_eq!(s.secrets(), vec!["pw".to_string()]);
        let debug = format!("{s:?}");
        assert!(!debug.contains("pw@"), "secret leaked into {debug}");
    }

    #[test]
    fn errors_name_the_key_or_variable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[jobs]\nlease_msx = 4000\n").unwrap();
        let e = Settings::load_from(Some(&path), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("lease_msx") && e.contains("bad.toml"), "{e}");

        let e = Settings::load_from(None, &env(&[("NETKAN__JOBS__MAX_ATTEMPTS", "many")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("NETKAN__JOBS__MAX_ATTEMPTS"), "{e}");

        let e = Settings::load_from(None, &env(&[("NETKAN__JOBS__MAX_ATTEMPTS", "0")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("jobs.max_attempts"), "{e}");

        let e = Settings::load_from(None, &env(&[("REDIS_URL", "http://x")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("redis.url"), "{e}");
    }
}

#[cfg(test)]
mod scheduler_tests {
    use super::*;

    #[test]
    fn a_pass_given_in_part_keeps_its_own_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("netkan.toml");
        std::fs::write(&path, "[scheduler.webhooks_pass]\nat = \"05:30\"\n").unwrap();
        let s = Settings::load_from(Some(&path), &[]).unwrap();
        assert_eq!(s.scheduler.webhooks_pass.at, "05:30");
        assert_eq!(s.scheduler.webhooks_pass.group, "webhooks");
        assert_eq!(s.scheduler.webhooks_pass.max_queued, 2000);
        assert_eq!(s.scheduler.pass, SchedulerSettings::default().pass);
    }

    #[test]
    fn bad_scheduler_settings_name_the_key() {
        let env = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
        let e = Settings::load_from(None, &env("NETKAN__SCHEDULER__PASS__GROUP", "some"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("scheduler.pass.group"), "{e}");
        let e = Settings::load_from(None, &env("NETKAN__SCHEDULER__WEBHOOKS_PASS__AT", "25:00"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("scheduler.webhooks_pass.at"), "{e}");
        assert_eq!(parse_time_of_day("04:05"), Some(4 * 3600 + 300));
        assert_eq!(parse_time_of_day("4:05"), None);
    }
}

#[cfg(test)]
mod mirror_tests {
    use super::*;

    #[test]
    fn archive_org_mirroring_needs_both_keys_and_they_stay_secret() {
        let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let e = Settings::load_from(None, &vars(&[("NETKAN__MIRROR__TARGET", "archive.org")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("mirror.access_key"), "{e}");
        let s = Settings::load_from(
            None,
            &vars(&[
                ("NETKAN__MIRROR__TARGET", "archive.org"),
                ("NETKAN__MIRROR__ACCESS_KEY", "ia-access"),
                ("NETKAN__MIRROR__SECRET_KEY", "ia-secret"),
            ]),
        )
        .unwrap();
        assert_eq!(s.mirror.target, MirrorTarget::ArchiveOrg);
        assert!(s.secrets().contains(&"ia-secret".to_owned()));
        assert!(!format!("{s:?}").contains("ia-secret"));
        let e = Settings::load_from(None, &vars(&[("NETKAN__MIRROR__TARGET", "s3")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("NETKAN__MIRROR__TARGET"), "{e}");
        assert_eq!(
            Settings::default().mirror_dir(),
            PathBuf::from("data/mirror")
        );
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    #[test]
    fn the_deploy_example_parses_and_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config.example.toml");
        let s = Settings::load_from(Some(&path), &[]).unwrap();
        assert_eq!(s, Settings::default());
    }
}
