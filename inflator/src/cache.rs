//! The download cache shared by every worker of a machine (§8.4, and NetKAN-Infra's
//! `~/ckan_cache`): files named `<sha1(url)[..8]>-<identifier>-<version>.<ext>`
//! (`netkan_common::ckan::names`), verified by SHA-256 when the metadata knows it.
//!
//! Layout of the directory:
//! - `<PREFIX>-<identifier>-<version>.<ext>`: a download; `PREFIX` is the upper-case first 8
//!   hex digits of the SHA-1 of the download URL as .NET prints it, and a lookup goes by that
//!   prefix alone (the rest of the name is for people, the mirrorer and `last_downloaded`).
//! - `<file>.sha1`, `<file>.sha256`: the file's hashes in upper-case hex (the C# client's
//!   sidecars), so a hit does not re-read a large file.
//! - `.partial/`: downloads in progress, renamed into place when complete, so a reader
//!   never sees half a file.
//! - `.locks/<PREFIX>.lock`: one lock file per URL prefix; whoever holds it (an advisory
//!   `flock`) may check, download or replace that entry. Processes on one machine therefore
//!   download a URL once between them; tasks in one process also wait on an in-process lock
//!   first, so they do not tie up blocking threads.
//!
//! "Least recently used" is the access time, which a hit sets explicitly (so a `noatime`
//! mount does not matter); "age" for [`DownloadCache::clean`] is the modification time,
//! i.e. when the file was downloaded, as NetKAN-Infra's `clean-cache` reads it.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use netkan_common::ckan::{Module, Object, names};
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::InflateError;
use crate::http::{HttpClient, upper_hex};

const PARTIAL_DIR: &str = ".partial";
const LOCK_DIR: &str = ".locks";
const SIDECARS: [&str; 2] = ["sha1", "sha256"];

/// The cache directory and its limits, cheap to clone.
#[derive(Debug, Clone)]
pub struct DownloadCache {
    dir: PathBuf,
    max_bytes: u64,
    /// One async lock per URL prefix being fetched in this process.
    inflight: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl DownloadCache {
    /// A cache in `dir`, kept under `max_bytes` in total (0: no cap).
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        Self {
            dir: dir.into(),
            max_bytes,
            inflight: Arc::default(),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The size cap in bytes (0: none).
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }
}

/// A download, in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-1, upper-case hex.
    pub sha1: String,
    /// SHA-256, upper-case hex.
    pub sha256: String,
    /// Whether this call downloaded it (rather than finding it in the cache).
    pub fresh: bool,
}

/// What [`DownloadCache::clean`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanReport {
    /// Every file removed, with its size.
    pub removed: Vec<RemovedFile>,
    /// The sum of their sizes.
    pub bytes_freed: u64,
}

/// One file [`DownloadCache::clean`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovedFile {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

impl DownloadCache {
    /// The file at `url`, for `module` (which names the cache file: identifier, version,
    /// content type): from the cache when there (and its SHA-256 matches
    /// `download_hash.sha256` when the module has one), else downloaded into it.
    ///
    /// If the download fails and the module is redistributable with a known SHA-1, the
    /// archive.org copy is tried (`Metadata.FallbackDownload`); it is cached under `url`'s
    /// name, as the C# inflator does.
    ///
    /// # Errors
    /// `Host` for an answer that is not the file (4xx, over `hosts.max_download_bytes`),
    /// `Transient` for network trouble and 5xx, `Local` when the cache cannot be written.
    pub async fn fetch(
        &self,
        http: &HttpClient,
        url: &str,
        module: &Object,
    ) -> Result<CachedFile, InflateError> {
        match self.fetch_as(http, url, url, module).await {
            Ok(file) => Ok(file),
            // A local problem is not the host's fault: archive.org cannot help.
            Err(e @ InflateError::Local(_)) => Err(e),
            Err(e) => {
                let Some(fallback) = fallback_download(module) else {
                    return Err(e);
                };
                tracing::info!(url, fallback = %fallback, error = %e, "trying the archive.org copy");
                self.fetch_as(http, &fallback, url, module)
                    .await
                    .map_err(|e2| {
                        with_context(
                            e,
                            &format!(" (the archive.org copy {fallback} failed too: {e2})"),
                        )
                    })
            }
        }
    }

    /// Downloads `url` into the entry of `primary` (they differ for the fallback).
    async fn fetch_as(
        &self,
        http: &HttpClient,
        url: &str,
        primary: &str,
        module: &Object,
    ) -> Result<CachedFile, InflateError> {
        let prefix = names::cache_prefix(primary);
        let slot = InflightSlot::take(&self.inflight, &prefix);
        let _in_process = slot.lock.lock().await;
        self.ensure_dirs()?;
        let _lock = lock_entry(self.dir.join(LOCK_DIR).join(format!("{prefix}.lock"))).await?;

        let view = Module::new(module);
        let (want_sha1, want_sha256) = view.download_hash().unwrap_or((None, None));
        let released = view
            .release_date()
            .ok()
            .flatten()
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
            .map(SystemTime::from);
        if let Some(found) = self.lookup(&prefix, released, want_sha256).await? {
            return Ok(found);
        }

        let partial = tempfile::Builder::new()
            .prefix(&format!("{prefix}-"))
            .tempfile_in(self.dir.join(PARTIAL_DIR))
            .map_err(|e| disk_error(&format!("creating a file in {}", self.dir.display()), &e))?;
        let info = http.download_to(url, partial.path()).await?;
        for (what, want, got) in [
            ("SHA-1", want_sha1, &info.sha1),
            ("SHA-256", want_sha256, &info.sha256),
        ] {
            if let Some(want) = want
                && !want.eq_ignore_ascii_case(got)
            {
                return Err(InflateError::Host(format!(
                    "{url}: the download's {what} is {got}, but the metadata says {want}"
                )));
            }
        }
        let ext = {
            let path = partial.path().to_owned();
            let owned = url.to_owned();
            tokio::task::spawn_blocking(move || sniff_and_validate(&path, &owned))
                .await
                .map_err(|e| {
                    InflateError::Local(format!("checking the download of {url}: {e}"))
                })??
        };
        let name = cache_name(primary, &view, ext);
        let dest = self.dir.join(&name);
        partial
            .persist(&dest)
            .map_err(|e| disk_error(&format!("storing {}", dest.display()), &e.error))?;
        remove_sidecars(&dest);
        write_sidecar(&dest, "sha1", &info.sha1)?;
        write_sidecar(&dest, "sha256", &info.sha256)?;
        if self.max_bytes > 0 {
            let dir = self.dir.clone();
            let (keep, max) = (dest.clone(), self.max_bytes);
            // Eviction failures only mean the cap is exceeded for a while.
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || evict(&dir, max, &keep)).await {
                tracing::warn!(error = %e, "download cache eviction failed");
            }
        }
        tracing::debug!(url, file = %dest.display(), size = info.size, "downloaded into the cache");
        Ok(CachedFile {
            path: dest,
            size: info.size,
            sha1: info.sha1,
            sha256: info.sha256,
            fresh: true,
        })
    }

    /// The cached entry for `prefix`, if there is a good one. A file older than the
    /// release (`NetFileCache.GetCachedFilename`'s remote timestamp check) or whose SHA-256
    /// is not the one expected is removed.
    async fn lookup(
        &self,
        prefix: &str,
        released: Option<SystemTime>,
        want_sha256: Option<&str>,
    ) -> Result<Option<CachedFile>, InflateError> {
        let dir = self.dir.clone();
        let prefix = prefix.to_owned();
        let want = want_sha256.map(str::to_owned);
        tokio::task::spawn_blocking(move || -> Result<Option<CachedFile>, InflateError> {
            let Some(path) = find_entry(&dir, &prefix)? else {
                return Ok(None);
            };
            let meta = fs::metadata(&path).map_err(|e| read_error(&path, &e))?;
            let modified = meta.modified().map_err(|e| read_error(&path, &e))?;
            if released.is_some_and(|r| r >= modified) {
                tracing::debug!(file = %path.display(), "cached file older than the release, replacing it");
                remove_entry(&path);
                return Ok(None);
            }
            let (sha1, sha256) = hashes(&path)?;
            if let Some(want) = want
                && !want.eq_ignore_ascii_case(&sha256)
            {
                tracing::info!(file = %path.display(), want, got = sha256, "cached file has the wrong SHA-256, downloading it again");
                remove_entry(&path);
                return Ok(None);
            }
            touch_accessed(&path);
            Ok(Some(CachedFile {
                path,
                size: meta.len(),
                sha1,
                sha256,
                fresh: false,
            }))
        })
        .await
        .map_err(|e| InflateError::Local(format!("reading the download cache: {e}")))?
    }

    fn ensure_dirs(&self) -> Result<(), InflateError> {
        for sub in [PARTIAL_DIR, LOCK_DIR] {
            let d = self.dir.join(sub);
            fs::create_dir_all(&d)
                .map_err(|e| disk_error(&format!("creating {}", d.display()), &e))?;
        }
        Ok(())
    }

    /// Removes a file this cache stored, with its hash sidecars (an inflation that fails
    /// purges what it downloaded, §1).
    pub fn remove(&self, path: &Path) {
        remove_entry(path);
    }

    /// Removes every file in the cache modified more than `days` days ago (downloads,
    /// sidecars, abandoned partial downloads, unused lock files), as NetKAN-Infra's
    /// `clean-cache --days N` does.
    ///
    /// # Errors
    /// `Local` when the directory cannot be read; files that cannot be removed are skipped.
    pub fn clean(&self, days: u64) -> Result<CleanReport, InflateError> {
        let cutoff = SystemTime::now()
            .checked_sub(Duration::from_secs(days.saturating_mul(86_400)))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut report = CleanReport::default();
        if !self.dir.exists() {
            return Ok(report);
        }
        let mut old = |dir: &Path| -> Result<(), InflateError> {
            let Ok(entries) = fs::read_dir(dir) else {
                return Ok(());
            };
            for entry in entries {
                let entry = entry.map_err(|e| read_error(dir, &e))?;
                let Ok(meta) = entry.metadata() else { continue };
                if !meta.is_file() || meta.modified().map_or(true, |m| m >= cutoff) {
                    continue;
                }
                let path = entry.path();
                if dir.ends_with(LOCK_DIR) && !lock_is_free(&path) {
                    continue;
                }
                if fs::remove_file(&path).is_ok() {
                    report.bytes_freed += meta.len();
                    report.removed.push(RemovedFile {
                        path,
                        bytes: meta.len(),
                    });
                }
            }
            Ok(())
        };
        fs::read_dir(&self.dir).map_err(|e| read_error(&self.dir, &e))?;
        old(&self.dir)?;
        old(&self.dir.join(PARTIAL_DIR))?;
        old(&self.dir.join(LOCK_DIR))?;
        report.removed.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(report)
    }
}

/// `Metadata.FallbackDownload`: the archive.org copy of a redistributable module whose SHA-1
/// is known.
pub fn fallback_download(module: &Object) -> Option<String> {
    let view = Module::new(module);
    let identifier = module.get("identifier")?.as_str()?;
    let version = view.version().ok()??;
    let redistributable = view
        .licenses()
        .ok()?
        .iter()
        .any(|l| names::REDISTRIBUTABLE_LICENSES.contains(l));
    let sha1 = view.download_hash().ok()?.0?;
    (redistributable && sha1.len() >= 8)
        .then(|| names::inflator_fallback_download(identifier, version.as_str(), sha1))
}

/// The same error with `more` appended to its message.
fn with_context(e: InflateError, more: &str) -> InflateError {
    match e {
        InflateError::Metadata(m) => InflateError::Metadata(m + more),
        InflateError::Host(m) => InflateError::Host(m + more),
        InflateError::Transient(m) => InflateError::Transient(m + more),
        InflateError::Local(m) => InflateError::Local(m + more),
        InflateError::RateLimited {
            message,
            retry_after,
        } => InflateError::RateLimited {
            message: message + more,
            retry_after,
        },
    }
}

/// The name a download is stored under: NetKAN-Infra's `cache_filename` when the module
/// has a content type, else the same with the extension sniffed from the file, and
/// `netkan-<identifier>` (the C# inflator's name) when the version is not known yet.
fn cache_name(url: &str, module: &Module<'_>, sniffed: &str) -> String {
    if let Some(name) = names::cache_file_name(module)
        && module.downloads().ok().and_then(|d| d.first().copied()) == Some(url)
    {
        return name;
    }
    let ext = module
        .download_content_type()
        .ok()
        .flatten()
        .and_then(names::content_type_extension)
        .unwrap_or(sniffed);
    let identifier = module
        .json()
        .get("identifier")
        .and_then(|v| v.as_str())
        .filter(|i| !i.contains(['/', '\0']))
        .unwrap_or("download");
    let stem = match module.version().ok().flatten() {
        Some(v) => format!("{identifier}-{}", v.as_str().replace([':', '/'], "-")),
        None => format!("netkan-{identifier}"),
    };
    format!("{}-{stem}.{ext}", names::cache_prefix(url))
}

/// The extension of a downloaded file by its first bytes (`FileIdentifier`, as
/// `CachingHttpService` names files), refusing a zip that does not read cleanly
/// (`NetModuleCache.ZipValid`: every entry is read and its CRC checked).
fn sniff_and_validate(path: &Path, url: &str) -> Result<&'static str, InflateError> {
    let mut head = [0u8; 512];
    let mut file = File::open(path).map_err(|e| read_error(path, &e))?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(read_error(path, &e)),
        }
    }
    let head = &head[..n];
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        validate_zip(path).map_err(|reason| {
            InflateError::Host(format!("{url} is not a valid ZIP file: {reason}"))
        })?;
        return Ok("zip");
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok("gz");
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return Ok("tar");
    }
    if !head.is_empty()
        && head
            .iter()
            .all(|b| b.is_ascii() && (*b >= 0x20 || b.is_ascii_whitespace()))
    {
        return Ok("txt");
    }
    Ok("ckan-package")
}

fn validate_zip(path: &Path) -> Result<(), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(io::BufReader::new(file)).map_err(|e| e.to_string())?;
    for i in 0..zip.len() {
        let mut entry = match zip.by_index(i) {
            Ok(entry) => entry,
            // A compression method this build cannot read is not a broken file.
            Err(zip::result::ZipError::UnsupportedArchive(_)) => continue,
            Err(e) => return Err(format!("entry {i}: {e}")),
        };
        let name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("entry {i}"));
        io::copy(&mut entry, &mut io::sink()).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// The file of the entry `prefix` (`<prefix>-...`, not a sidecar), if any.
fn find_entry(dir: &Path, prefix: &str) -> Result<Option<PathBuf>, InflateError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(dir, &e)),
    };
    let start = format!("{prefix}-");
    for entry in entries {
        let entry = entry.map_err(|e| read_error(dir, &e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(&start)
            && !SIDECARS.iter().any(|s| name.ends_with(&format!(".{s}")))
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            return Ok(Some(entry.path()));
        }
    }
    Ok(None)
}

/// The file's SHA-1 and SHA-256, from its sidecars when they are at least as new as the
/// file, else computed (and the sidecars written).
fn hashes(path: &Path) -> Result<(String, String), InflateError> {
    let modified = fs::metadata(path).and_then(|m| m.modified()).ok();
    let read = |ext: &str| {
        let side = sidecar(path, ext);
        let fresh = fs::metadata(&side)
            .and_then(|m| m.modified())
            .ok()
            .zip(modified)
            .is_some_and(|(s, f)| s >= f);
        fresh
            .then(|| fs::read_to_string(&side).ok())
            .flatten()
            .map(|s| s.trim().to_ascii_uppercase())
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    if let (Some(sha1), Some(sha256)) = (read("sha1"), read("sha256")) {
        return Ok((sha1, sha256));
    }
    let mut file = File::open(path).map_err(|e| read_error(path, &e))?;
    let (mut h1, mut h256) = (Sha1::new(), Sha256::new());
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| read_error(path, &e))?;
        if n == 0 {
            break;
        }
        h1.update(&buf[..n]);
        h256.update(&buf[..n]);
    }
    let (sha1, sha256) = (upper_hex(&h1.finalize()), upper_hex(&h256.finalize()));
    // The sidecars only save time later; failing to write them is harmless.
    let _ = write_sidecar(path, "sha1", &sha1);
    let _ = write_sidecar(path, "sha256", &sha256);
    Ok((sha1, sha256))
}

fn sidecar(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Writes a sidecar atomically (temp file + rename), so a reader sees a whole hash or none.
fn write_sidecar(path: &Path, ext: &str, hash: &str) -> Result<(), InflateError> {
    let dest = sidecar(path, ext);
    let dir = path.parent().unwrap_or(Path::new("."));
    let err = |e: &io::Error| disk_error(&format!("writing {}", dest.display()), e);
    let mut tmp = tempfile::Builder::new()
        .prefix(".sidecar-")
        .tempfile_in(dir)
        .map_err(|e| err(&e))?;
    io::Write::write_all(&mut tmp, hash.as_bytes()).map_err(|e| err(&e))?;
    tmp.persist(&dest).map_err(|e| err(&e.error))?;
    Ok(())
}

fn remove_sidecars(path: &Path) {
    for ext in SIDECARS {
        let _ = fs::remove_file(sidecar(path, ext));
    }
}

fn remove_entry(path: &Path) {
    let _ = fs::remove_file(path);
    remove_sidecars(path);
}

/// Marks a file as just used, for the least-recently-used eviction.
fn touch_accessed(path: &Path) {
    if let Ok(f) = File::options().write(true).open(path) {
        let _ = f.set_times(fs::FileTimes::new().set_accessed(SystemTime::now()));
    }
}

/// Removes the least recently used downloads until the total is at most `max` bytes,
/// never `keep` (the file just stored: it is needed now, even if it alone exceeds `max`).
fn evict(dir: &Path, max: u64, keep: &Path) -> io::Result<()> {
    let mut files = Vec::new();
    let mut total = 0u64;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        total += meta.len();
        let name = entry.file_name();
        let is_sidecar = name
            .to_str()
            .is_some_and(|n| SIDECARS.iter().any(|s| n.ends_with(&format!(".{s}"))));
        if !is_sidecar && entry.path() != keep {
            let used = meta.accessed().or_else(|_| meta.modified())?;
            files.push((used, entry.path(), meta.len()));
        }
    }
    files.sort();
    for (_, path, size) in files {
        if total <= max {
            break;
        }
        let sides: u64 = SIDECARS
            .iter()
            .filter_map(|ext| fs::metadata(sidecar(&path, ext)).ok())
            .map(|m| m.len())
            .sum();
        tracing::info!(file = %path.display(), size, "evicting from the download cache");
        remove_entry(&path);
        total = total.saturating_sub(size + sides);
    }
    Ok(())
}

/// Holds the lock file of one cache entry; dropping it releases the lock.
struct EntryLock {
    _file: File,
}

/// Takes the entry's lock file, waiting for another process that holds it. The path is
/// checked to still name the locked file afterwards: `clean` may remove an unused lock
/// file, and a process that had opened it before then would otherwise hold a lock nobody
/// else sees.
async fn lock_entry(path: PathBuf) -> Result<EntryLock, InflateError> {
    tokio::task::spawn_blocking(move || {
        loop {
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| disk_error(&format!("opening the lock {}", path.display()), &e))?;
            file.lock()
                .map_err(|e| disk_error(&format!("locking {}", path.display()), &e))?;
            let same = match (file.metadata(), fs::metadata(&path)) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if same {
                return Ok(EntryLock { _file: file });
            }
        }
    })
    .await
    .map_err(|e| InflateError::Local(format!("waiting for a download cache lock: {e}")))?
}

/// Whether nobody holds the lock file (so `clean` may remove it).
fn lock_is_free(path: &Path) -> bool {
    File::open(path).is_ok_and(|f| f.try_lock().is_ok())
}

/// The in-process lock of one entry, removed from the map by the last user.
struct InflightSlot<'a> {
    map: &'a Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    key: String,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> InflightSlot<'a> {
    fn take(map: &'a Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>, key: &str) -> Self {
        let lock = map
            .lock()
            .map(|mut m| m.entry(key.to_owned()).or_default().clone())
            .unwrap_or_default();
        Self {
            map,
            key: key.to_owned(),
            lock,
        }
    }
}

impl Drop for InflightSlot<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.map.lock()
            // Only the map and this slot hold it: nobody else is waiting.
            && Arc::strong_count(&self.lock) == 2
        {
            m.remove(&self.key);
        }
    }
}

fn read_error(path: &Path, e: &io::Error) -> InflateError {
    InflateError::Local(format!(
        "cannot read the download cache at {}: {e}",
        path.display()
    ))
}

/// A local I/O failure while `doing` something in the cache, with disk-full said plainly.
pub(crate) fn disk_error(doing: &str, e: &io::Error) -> InflateError {
    // ENOSPC and EDQUOT: the message says what to do rather than the errno text alone.
    if matches!(e.raw_os_error(), Some(28 | 122)) || e.kind() == io::ErrorKind::StorageFull {
        InflateError::Local(format!(
            "the download cache is out of disk space ({doing}): {e}; free space or lower cache.max_bytes"
        ))
    } else {
        InflateError::Local(format!("download cache error ({doing}): {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: serde_json::Value) -> Object {
        match v {
            serde_json::Value::Object(o) => o,
            _ => unreachable!(),
        }
    }

    #[test]
    fn full_disks_say_so() {
        let e = disk_error("writing x", &io::Error::from_raw_os_error(28));
        assert!(matches!(e, InflateError::Local(_)));
        assert!(
            e.to_string().contains("out of disk space (writing x)"),
            "{e}"
        );
        let e = disk_error("writing x", &io::Error::from_raw_os_error(13));
        assert!(
            e.to_string()
                .starts_with("download cache error (writing x)"),
            "{e}"
        );
    }

    #[test]
    fn only_redistributable_modules_with_a_sha1_have_a_fallback() {
        let m = obj(json!({
            "identifier": "X", "version": "1:2.0", "license": ["restricted", "MIT"],
            "download_hash": {"sha1": "ABCDEF0123456789"}
        }));
        assert_eq!(
            fallback_download(&m).as_deref(),
            Some("https://archive.org/download/X-1-2.0/ABCDEF01-X-1-2.0.zip")
        );
        let m = obj(
            json!({"identifier": "X", "version": "1", "license": "restricted",
            "download_hash": {"sha1": "ABCDEF0123456789"}}),
        );
        assert_eq!(fallback_download(&m), None);
        let m = obj(json!({"identifier": "X", "version": "1", "license": "MIT"}));
        assert_eq!(fallback_download(&m), None);
    }

    #[test]
    fn names_follow_netkan_infra_and_fall_back_to_the_sniffed_type() {
        let url = "https://awesomesite.org/awesomemod-1.0.0.zip";
        let m = obj(
            json!({"identifier": "AwesomeMod", "version": "1.0.0", "download": url,
            "download_content_type": "application/zip"}),
        );
        assert_eq!(
            cache_name(url, &Module::new(&m), "gz"),
            "3C69B375-AwesomeMod-1.0.0.zip"
        );
        let m = obj(json!({"identifier": "AwesomeMod", "version": "2:1.0", "download": url}));
        assert_eq!(
            cache_name(url, &Module::new(&m), "zip"),
            "3C69B375-AwesomeMod-2-1.0.zip"
        );
        let m = obj(json!({"identifier": "AwesomeMod", "download": url}));
        assert_eq!(
            cache_name(url, &Module::new(&m), "zip"),
            "3C69B375-netkan-AwesomeMod.zip"
        );
    }
}
