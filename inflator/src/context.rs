//! What every step of an inflation works with: the options shared by all documents of one
//! inflation (`TransformOptions` in `Netkan/Transformers/ITransformer.cs`), the services
//! (HTTP, download cache), the game, the log and the warnings collected for
//! `WarningMessages`.

use std::path::PathBuf;

use netkan_common::ckan::{Module, ModuleVersion, Object};
use netkan_common::config::Settings;
use netkan_common::log::Level;

use crate::InflateError;
use crate::archive::Memo;
use crate::cache::{CachedFile, DownloadCache};
use crate::http::HttpClient;

pub use crate::game::GameInfo;

/// Where an inflation's log lines go as they happen (the job log, or standard output for
/// `netkan inflate-file`).
pub trait InflationLog: Send + Sync {
    /// One line; `message` is one line of text, without the level.
    fn line(&self, level: Level, message: &str);
}

/// A log that keeps nothing (tests, benchmarks).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoLog;

impl InflationLog for NoLog {
    fn line(&self, _: Level, _: &str) {}
}

/// The options one inflation shares between its documents and steps; steps may change them
/// (GitHub marks the API flaky, staging and auto-epoching add reasons).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransformOptions {
    /// How many releases to inflate; `None` means all. The queue default is 1.
    pub releases: Option<usize>,
    /// Releases to skip before taking `releases`.
    pub skip_releases: usize,
    /// The highest non-prerelease version already indexed.
    pub highest_version: Option<ModuleVersion>,
    /// The highest prerelease version already indexed.
    pub highest_version_prerelease: Option<ModuleVersion>,
    /// The result must go through a pull request rather than straight to the primary branch.
    pub staged: bool,
    /// Why it is staged, in the order the reasons arose.
    pub staging_reasons: Vec<String>,
    /// Set by hosts whose API may return releases out of order (GitHub): an out-of-order
    /// version is then an error rather than a reason to stage.
    pub flaky_api: bool,
}

/// The long-lived services every inflation uses; built once per process.
#[derive(Clone)]
pub struct Services {
    /// The one HTTP client.
    pub http: HttpClient,
    /// The download cache.
    pub cache: DownloadCache,
}

impl Services {
    /// The services the settings describe: the HTTP client for `hosts.*`, the cache in
    /// `cache.dir` (default `<data_dir>/cache`).
    ///
    /// # Errors
    /// If the HTTP client cannot be built.
    pub fn from_settings(settings: &Settings) -> Result<Self, InflateError> {
        Ok(Self::with_http(settings, HttpClient::new(&settings.hosts)?))
    }

    /// The services the settings describe, over a client the process already has (a worker
    /// shares one between its roles).
    pub fn with_http(settings: &Settings, http: HttpClient) -> Self {
        Self {
            http,
            cache: DownloadCache::new(settings.cache_dir(), settings.cache.max_bytes),
        }
    }
}

/// What a step gets: the options, the services, the game, and the log.
pub struct Context<'a> {
    /// The options of this inflation (shared by all its documents).
    pub opts: TransformOptions,
    /// HTTP and the cache.
    pub services: &'a Services,
    /// The game.
    pub game: &'a GameInfo,
    log: &'a dyn InflationLog,
    warnings: Vec<String>,
    /// Files this attempt put into the cache; purged if the inflation fails (§1).
    pub downloaded: Vec<PathBuf>,
    /// What this inflation has already read of its downloads.
    pub archives: Memo,
}

impl<'a> Context<'a> {
    /// A context for one inflation.
    pub fn new(
        opts: TransformOptions,
        services: &'a Services,
        game: &'a GameInfo,
        log: &'a dyn InflationLog,
    ) -> Self {
        Self {
            opts,
            services,
            game,
            log,
            warnings: Vec::new(),
            downloaded: Vec::new(),
            archives: Memo::default(),
        }
    }

    /// A DEBUG line.
    pub fn debug(&self, message: impl AsRef<str>) {
        self.log.line(Level::Debug, message.as_ref());
    }

    /// An INFO line.
    pub fn info(&self, message: impl AsRef<str>) {
        self.log.line(Level::Info, message.as_ref());
    }

    /// A warning: logged at once, and kept (once) for `WarningMessages`.
    pub fn warn(&mut self, message: impl Into<String>) {
        let message = message.into();
        self.log.line(Level::Warn, &message);
        if !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }

    /// The module's first download (`download[0]`), from the cache or fetched into it;
    /// `None` when the module has no download. Files fetched are remembered in
    /// [`Context::downloaded`].
    ///
    /// # Errors
    /// As [`DownloadCache::fetch`]; a module whose `download` is malformed is `Metadata`.
    pub async fn download(&mut self, module: &Object) -> Result<Option<CachedFile>, InflateError> {
        let Some(url) = Module::new(module)
            .downloads()?
            .first()
            .map(|u| (*u).to_owned())
        else {
            return Ok(None);
        };
        let file = self
            .services
            .cache
            .fetch(&self.services.http, &url, module)
            .await?;
        if file.fresh {
            self.downloaded.push(file.path.clone());
        }
        Ok(Some(file))
    }

    /// The warnings so far, de-duplicated, in the order they were first given.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}
