//! Reading downloads as CKAN does (§8.2, §8.3, §8.5): install-stanza file selection,
//! `install_size`, the `.version` file and its lenient parser, internal `.ckan` files,
//! `swinfo.json`, localizations, content sniffing and hashes.
//!
//! # Map
//! - [`zip`]: [`Archive`], a zip opened defensively (limits, bounded reads, SharpZipLib's
//!   listing), and [`ArchiveError`].
//! - [`sniff`]: the content type of a download (`FileIdentifier`) and its size and hashes.
//! - [`install`]: install stanzas, exactly as CKAN's installer selects files
//!   ([`InstallPlan`], [`GameLayout`]).
//! - [`lenient_json`]: JSON as Newtonsoft reads hand-written files (comments, octal, ...).
//! - [`avc`]: `.version` files: parsing and finding the one in a download.
//! - [`swinfo`]: SpaceWarp's `swinfo.json`.
//! - [`contents`]: internal `.ckan` files, `install_size`, localizations, `swinfo.json` lookup.
//! - [`fuzzing`]: the fuzz entry point of the `.version` and `swinfo.json` readers.
//!
//! The functions below tie these to an inflation: [`download`] and [`open`] fetch a module's
//! download once per inflation (through [`Context::download`]) and open it once, whatever
//! number of steps and validators look inside it; the [`Memo`] in the context remembers both.
//! Opening and reading run on the blocking pool.

pub mod avc;
pub mod contents;
#[doc(hidden)]
pub mod fuzzing;
pub mod install;
pub mod lenient_json;
pub mod sniff;
pub mod swinfo;
pub mod zip;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use netkan_common::ckan::{Module, Object};

pub use self::install::{GameLayout, InstallError, InstallErrorKind, InstallFileSet, InstallPlan};
pub use self::zip::{Archive, ArchiveError, Entry, Limits};
use crate::InflateError;
use crate::cache::CachedFile;
use crate::context::Context;

/// What one inflation has already read of its downloads (each archive is opened once, however
/// many steps look inside it).
#[derive(Debug, Default)]
pub struct Memo {
    downloads: HashMap<String, CachedFile>,
    archives: HashMap<PathBuf, Arc<Archive>>,
}

impl Memo {
    /// Records `file` as the download of `url`, so no step fetches it again. The inflator
    /// does this itself; tests and local runs use it to inflate against files on disk.
    pub fn remember_download(&mut self, url: impl Into<String>, file: CachedFile) {
        self.downloads.insert(url.into(), file);
    }

    /// The download recorded for `url`, if any.
    pub fn download(&self, url: &str) -> Option<&CachedFile> {
        self.downloads.get(url)
    }
}

impl From<ArchiveError> for InflateError {
    fn from(e: ArchiveError) -> Self {
        match e {
            ArchiveError::Io { .. } => InflateError::Local(e.to_string()),
            other => InflateError::Host(other.to_string()),
        }
    }
}

impl From<InstallError> for InflateError {
    fn from(e: InstallError) -> Self {
        InflateError::Metadata(e.message)
    }
}

impl From<contents::ContentError> for InflateError {
    fn from(e: contents::ContentError) -> Self {
        match e {
            contents::ContentError::Archive(m) => InflateError::Host(m),
            other => InflateError::Metadata(other.to_string()),
        }
    }
}

impl From<avc::FindAvcError> for InflateError {
    fn from(e: avc::FindAvcError) -> Self {
        InflateError::Metadata(e.to_string())
    }
}

/// The URL a module's download is fetched from (`download[0]`).
///
/// # Errors
/// `Metadata` for a malformed `download`.
pub fn first_download(module: &Object) -> Result<Option<String>, InflateError> {
    Ok(Module::new(module)
        .downloads()?
        .first()
        .map(|u| (*u).to_owned()))
}

/// The module's download (`download[0]`), fetched once per inflation; `None` without a
/// download.
///
/// # Errors
/// As [`Context::download`].
pub async fn download(
    cx: &mut Context<'_>,
    module: &Object,
) -> Result<Option<CachedFile>, InflateError> {
    let Some(url) = first_download(module)? else {
        return Ok(None);
    };
    if let Some(file) = cx.archives.downloads.get(&url) {
        return Ok(Some(file.clone()));
    }
    let Some(file) = cx.download(module).await? else {
        return Ok(None);
    };
    cx.archives.downloads.insert(url, file.clone());
    Ok(Some(file))
}

/// The module's download opened as a zip, once per inflation; `None` without a download.
///
/// # Errors
/// As [`download`]; `Host` when the download is not a zip CKAN could read, or is over a
/// limit.
pub async fn open(
    cx: &mut Context<'_>,
    module: &Object,
) -> Result<Option<Arc<Archive>>, InflateError> {
    let Some(file) = download(cx, module).await? else {
        return Ok(None);
    };
    if let Some(archive) = cx.archives.archives.get(&file.path) {
        return Ok(Some(archive.clone()));
    }
    let label = first_download(module)?.unwrap_or_else(|| file.path.display().to_string());
    let path = file.path.clone();
    let archive = Arc::new(blocking(move || Archive::open(&path, label)).await??);
    cx.archives.archives.insert(file.path, archive.clone());
    Ok(Some(archive))
}

/// Runs archive work (file I/O, decompression, regex matching over big listings) on the
/// blocking pool.
///
/// # Errors
/// `Local` if the task panicked or was cancelled.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, InflateError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| InflateError::Local(format!("archive work failed: {e}")))
}

/// Opens the module's download and runs `work` over the files its install stanzas select, on
/// the blocking pool; `None` without a download. `version` stands in for a missing `version`.
///
/// # Errors
/// As [`open`] and [`plan`].
pub async fn inspect<T: Send + 'static>(
    cx: &mut Context<'_>,
    module: &Object,
    version: Option<&str>,
    work: impl FnOnce(&InstallFileSet<'_>) -> T + Send + 'static,
) -> Result<Option<T>, InflateError> {
    let plan = plan(cx, module, version)?;
    let Some(archive) = open(cx, module).await? else {
        return Ok(None);
    };
    Ok(Some(
        blocking(move || work(&InstallFileSet::new(&plan, &archive))).await?,
    ))
}

/// The install plan of a module for the context's game; `version` stands in for a missing
/// `version`, as CKAN's steps add a dummy one before reading the module.
///
/// # Errors
/// `Metadata` for an unknown game or a malformed stanza.
pub fn plan(
    cx: &Context<'_>,
    module: &Object,
    version: Option<&str>,
) -> Result<InstallPlan, InflateError> {
    let game = GameLayout::of(&cx.game.id)?;
    Ok(InstallPlan::of(module, game, version)?)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod step_tests;
