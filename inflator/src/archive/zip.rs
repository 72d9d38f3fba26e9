//! Reading a download as a zip archive, defensively: the listing CKAN's installer sees
//! (SharpZipLib's `ZipFile` enumeration: every central-directory entry in order, duplicates
//! included), and bounded reads of single entries.
//!
//! Limits, because a download is untrusted input: the number of entries, the total declared
//! uncompressed size (an overlapping-entry bomb declares terabytes), the size of one entry we
//! read, and the compression ratio (no honest deflate stream inflates more than about 1032:1,
//! so a higher declared ratio is a forged header). A read stops at the entry's declared size:
//! a stream that inflates past it is refused, whatever its header says.
//!
//! Entries are never extracted to disk, so a name with `..` or a leading `/` is not a danger
//! here; it is kept as it is and the install-stanza code treats it as CKAN does (an escaping
//! destination is an error there). Two kinds of entry are refused only when something selects
//! or reads them: symbolic links (CKAN would install the link text as a file) and names that are
//! not valid UTF-8 (CKAN would install a name full of U+FFFD).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use zip::ZipArchive;

/// What a download may hold before we refuse to look inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Entries in the central directory.
    pub max_entries: usize,
    /// Sum of the declared uncompressed sizes (the largest real `install_size` in CKAN-meta is
    /// about 5 GB).
    pub max_total_bytes: u64,
    /// Uncompressed size of one entry we read into memory (a `.version`, `.ckan`, `.cfg`,
    /// `swinfo.json`).
    pub max_read_bytes: u64,
    /// Declared uncompressed : compressed ratio above which an entry larger than
    /// [`Limits::RATIO_FLOOR`] bytes is taken for a forged header.
    pub max_ratio: u64,
}

impl Limits {
    /// Entries smaller than this are not ratio-checked (a 0-byte file has no meaningful ratio).
    pub const RATIO_FLOOR: u64 = 1 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 200_000,
            max_total_bytes: 64 << 30,
            max_read_bytes: 64 << 20,
            max_ratio: 1100,
        }
    }
}

/// Why an archive could not be read. Every message names the archive (its URL, or its path).
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Not a zip, or a damaged one.
    #[error("{archive} is not a valid ZIP file: {reason}")]
    Invalid { archive: String, reason: String },
    /// Over one of the [`Limits`].
    #[error("{archive}: {reason}")]
    TooLarge { archive: String, reason: String },
    /// An entry that the inflator must not use (symbolic link, invalid name, encrypted,
    /// unsupported compression, inflates past its declared size).
    #[error("{archive}: entry `{entry}` {reason}")]
    BadEntry {
        archive: String,
        entry: String,
        reason: String,
    },
    /// The file could not be read.
    #[error("cannot read {archive}: {source}")]
    Io {
        archive: String,
        #[source]
        source: std::io::Error,
    },
}

/// One entry of the central directory, as SharpZipLib's `ZipEntry` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The stored name, decoded as UTF-8 (invalid bytes become U+FFFD, as .NET decodes them);
    /// backslashes are kept: CKAN replaces them where it matches.
    pub name: String,
    /// Declared uncompressed size.
    pub size: u64,
    /// Compressed size.
    pub compressed_size: u64,
    /// `ZipEntry.IsDirectory`: the name ends with `/` or `\`, or the MS-DOS directory attribute.
    pub is_dir: bool,
    /// A Unix symbolic link (mode `S_IFLNK`).
    pub is_symlink: bool,
    /// The stored name was not valid UTF-8.
    pub bad_name: bool,
    /// Index in the zip crate's (de-duplicated) listing.
    zip_index: usize,
}

impl Entry {
    /// An entry of a listing not read from a zip (checks over metadata alone, tests): a
    /// directory when the name ends with `/`, else a file. Reading it through an [`Archive`]
    /// finds nothing.
    pub fn synthetic(name: &str, size: u64) -> Entry {
        Entry {
            name: name.to_owned(),
            size,
            compressed_size: size,
            is_dir: name.ends_with('/'),
            is_symlink: false,
            bad_name: false,
            zip_index: usize::MAX,
        }
    }

    /// Whether anything may use this entry: a reason to refuse it, if not.
    pub fn refusal(&self) -> Option<&'static str> {
        if self.is_symlink {
            Some("is a symbolic link; CKAN would install the link text as a file, so it is refused")
        } else if self.bad_name {
            Some("has a name that is not valid UTF-8")
        } else {
            None
        }
    }
}

/// An opened zip archive: its listing, and the entries read so far.
pub struct Archive {
    label: String,
    path: PathBuf,
    entries: Vec<Entry>,
    limits: Limits,
    zip: Mutex<ZipArchive<File>>,
    read_cache: Mutex<HashMap<usize, Arc<Vec<u8>>>>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("label", &self.label)
            .field("path", &self.path)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Archive {
    /// Opens `path` (named `label`, usually its download URL, in errors) with the default
    /// limits.
    ///
    /// # Errors
    /// [`ArchiveError::Invalid`] for anything that is not a readable zip, `TooLarge` over a
    /// limit, `Io` if the file cannot be read.
    pub fn open(path: impl AsRef<Path>, label: impl Into<String>) -> Result<Self, ArchiveError> {
        Self::open_with(path, label, Limits::default())
    }

    /// [`Archive::open`] with other limits.
    ///
    /// # Errors
    /// As [`Archive::open`].
    pub fn open_with(
        path: impl AsRef<Path>,
        label: impl Into<String>,
        limits: Limits,
    ) -> Result<Self, ArchiveError> {
        let label = label.into();
        let path = path.as_ref().to_owned();
        let file = File::open(&path).map_err(|source| ArchiveError::Io {
            archive: label.clone(),
            source,
        })?;
        let zip = ZipArchive::new(file).map_err(|e| ArchiveError::Invalid {
            archive: label.clone(),
            reason: zip_reason(&e),
        })?;
        let mut archive = Self {
            entries: Vec::new(),
            label,
            path,
            limits,
            zip: Mutex::new(zip),
            read_cache: Mutex::new(HashMap::new()),
        };
        archive.entries = archive.list()?;
        Ok(archive)
    }

    fn list(&self) -> Result<Vec<Entry>, ArchiveError> {
        let zip = self.lock_zip();
        if zip.len() > self.limits.max_entries {
            return Err(self.too_large(format!(
                "{} entries, more than the {} allowed",
                zip.len(),
                self.limits.max_entries
            )));
        }
        let mut unique = Vec::with_capacity(zip.len());
        let mut total: u64 = 0;
        for index in 0..zip.len() {
            let e = zip.by_index_data(index).map_err(|e| self.invalid(&e))?;
            let raw = e.name_raw();
            let (name, bad_name) = match std::str::from_utf8(raw) {
                Ok(s) => (s.to_owned(), false),
                Err(_) => (String::from_utf8_lossy(raw).into_owned(), true),
            };
            let dos_dir = e.system() == zip::System::Dos && e.external_attributes() & 0x10 != 0;
            total = total.saturating_add(e.size());
            unique.push(Entry {
                is_dir: name.ends_with('/') || name.ends_with('\\') || dos_dir,
                is_symlink: e.is_symlink(),
                size: e.size(),
                compressed_size: e.compressed_size(),
                name,
                bad_name,
                zip_index: index,
            });
        }
        let entries = if zip.has_duplicate_names() {
            // The zip crate keeps one entry per name; SharpZipLib lists every copy, and CKAN's
            // duplicate-destination check depends on that. Recover the full order from the
            // central directory itself; each copy shares the kept entry's metadata.
            let names = central_directory_names(
                &self.path,
                zip.central_directory_start(),
                self.limits.max_entries,
            )
            .map_err(|source| ArchiveError::Io {
                archive: self.label.clone(),
                source,
            })?;
            let by_raw: HashMap<Vec<u8>, usize> = (0..zip.len())
                .filter_map(|i| {
                    zip.by_index_data(i)
                        .ok()
                        .map(|e| (e.name_raw().to_vec(), i))
                })
                .collect();
            let mut all = Vec::with_capacity(names.len());
            total = 0;
            for raw in names {
                if let Some(&i) = by_raw.get(&raw) {
                    total = total.saturating_add(unique[i].size);
                    all.push(unique[i].clone());
                }
            }
            all
        } else {
            unique
        };
        if total > self.limits.max_total_bytes {
            return Err(self.too_large(format!(
                "declares {total} bytes uncompressed, more than the {} allowed (zip bomb?)",
                self.limits.max_total_bytes
            )));
        }
        Ok(entries)
    }

    /// Every entry, in central-directory order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The name errors give this archive.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The contents of entry `index` (an index into [`Archive::entries`]); a directory reads as
    /// empty. Remembered, so a file several steps look at is inflated once.
    ///
    /// # Errors
    /// `BadEntry` for a refused entry ([`Entry::refusal`]), an encrypted or unsupported one, or
    /// one that inflates past its declared size; `TooLarge` over the read limits; `Invalid`
    /// for a damaged stream (CRC mismatch).
    pub fn read(&self, index: usize) -> Result<Arc<Vec<u8>>, ArchiveError> {
        let entry = self
            .entries
            .get(index)
            .ok_or_else(|| ArchiveError::BadEntry {
                archive: self.label.clone(),
                entry: format!("#{index}"),
                reason: "does not exist".to_owned(),
            })?;
        if let Some(reason) = entry.refusal() {
            return Err(self.bad_entry(entry, reason));
        }
        if entry.is_dir {
            return Ok(Arc::new(Vec::new()));
        }
        if let Some(hit) = self.lock_cache().get(&entry.zip_index) {
            return Ok(hit.clone());
        }
        if entry.size > self.limits.max_read_bytes {
            return Err(self.bad_entry(
                entry,
                &format!(
                    "is {} bytes, more than the {} the inflator reads",
                    entry.size, self.limits.max_read_bytes
                ),
            ));
        }
        let bytes = Arc::new(self.inflate(entry, self.limits.max_read_bytes)?);
        self.lock_cache().insert(entry.zip_index, bytes.clone());
        Ok(bytes)
    }

    /// Decompresses every entry and checks its CRC, as SharpZipLib's `TestArchive` does for
    /// the download cache's `ZipValid`, without keeping anything.
    ///
    /// # Errors
    /// As [`Archive::read`], for the first bad entry.
    pub fn test(&self) -> Result<(), ArchiveError> {
        for entry in self.entries.iter().filter(|e| !e.is_dir) {
            let mut zip = self.lock_zip();
            let mut file = zip
                .by_index(entry.zip_index)
                .map_err(|e| self.entry_error(entry, &e))?;
            self.check_ratio(entry)?;
            let mut sink = std::io::sink();
            let copied = std::io::copy(&mut (&mut file).take(entry.size + 1), &mut sink)
                .map_err(|e| self.stream_error(entry, &e))?;
            if copied > entry.size {
                return Err(self.bad_entry(entry, "inflates past its declared size"));
            }
        }
        Ok(())
    }

    fn inflate(&self, entry: &Entry, limit: u64) -> Result<Vec<u8>, ArchiveError> {
        self.check_ratio(entry)?;
        let mut zip = self.lock_zip();
        let file = zip
            .by_index(entry.zip_index)
            .map_err(|e| self.entry_error(entry, &e))?;
        let capacity = usize::try_from(entry.size.min(limit)).unwrap_or(0);
        let mut out = Vec::with_capacity(capacity);
        // One byte more than declared tells a lying header from an honest one.
        file.take(entry.size.min(limit) + 1)
            .read_to_end(&mut out)
            .map_err(|e| self.stream_error(entry, &e))?;
        if out.len() as u64 > entry.size {
            return Err(self.bad_entry(entry, "inflates past its declared size"));
        }
        Ok(out)
    }

    fn check_ratio(&self, entry: &Entry) -> Result<(), ArchiveError> {
        if entry.size > Limits::RATIO_FLOOR
            && entry.size / entry.compressed_size.max(1) > self.limits.max_ratio
        {
            return Err(self.bad_entry(
                entry,
                &format!(
                    "declares {} bytes from {} compressed, a ratio no honest entry has (zip bomb?)",
                    entry.size, entry.compressed_size
                ),
            ));
        }
        Ok(())
    }

    fn lock_zip(&self) -> std::sync::MutexGuard<'_, ZipArchive<File>> {
        // A panic while holding the lock leaves the reader at some offset; every use seeks
        // afresh, so the state is still good.
        self.zip
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Arc<Vec<u8>>>> {
        self.read_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn invalid(&self, e: &zip::result::ZipError) -> ArchiveError {
        ArchiveError::Invalid {
            archive: self.label.clone(),
            reason: zip_reason(e),
        }
    }

    fn too_large(&self, reason: String) -> ArchiveError {
        ArchiveError::TooLarge {
            archive: self.label.clone(),
            reason,
        }
    }

    fn bad_entry(&self, entry: &Entry, reason: &str) -> ArchiveError {
        ArchiveError::BadEntry {
            archive: self.label.clone(),
            entry: entry.name.clone(),
            reason: reason.to_owned(),
        }
    }

    fn entry_error(&self, entry: &Entry, e: &zip::result::ZipError) -> ArchiveError {
        match e {
            zip::result::ZipError::UnsupportedArchive(what) => {
                self.bad_entry(entry, &format!("cannot be read: {what}"))
            }
            other => ArchiveError::Invalid {
                archive: self.label.clone(),
                reason: format!("entry `{}`: {}", entry.name, zip_reason(other)),
            },
        }
    }

    fn stream_error(&self, entry: &Entry, e: &std::io::Error) -> ArchiveError {
        // The zip crate notices a lying size itself when the stream ends past it.
        if e.to_string().contains("larger than its declared") {
            return self.bad_entry(entry, "inflates past its declared size");
        }
        ArchiveError::Invalid {
            archive: self.label.clone(),
            reason: format!("entry `{}`: {e}", entry.name),
        }
    }
}

fn zip_reason(e: &zip::result::ZipError) -> String {
    match e {
        zip::result::ZipError::InvalidArchive(why) => why.to_string(),
        other => other.to_string(),
    }
}

/// The raw names of the central directory in order, duplicates included.
fn central_directory_names(
    path: &Path,
    start: u64,
    max_entries: usize,
) -> std::io::Result<Vec<Vec<u8>>> {
    const SIGNATURE: u32 = 0x0201_4b50;
    let mut reader = std::io::BufReader::new(File::open(path)?);
    reader.seek(SeekFrom::Start(start))?;
    let mut names = Vec::new();
    let mut fixed = [0u8; 46];
    while names.len() <= max_entries {
        if reader.read_exact(&mut fixed).is_err()
            || u32::from_le_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]) != SIGNATURE
        {
            break;
        }
        let name_len = u16::from_le_bytes([fixed[28], fixed[29]]);
        let extra_len = u16::from_le_bytes([fixed[30], fixed[31]]);
        let comment_len = u16::from_le_bytes([fixed[32], fixed[33]]);
        let mut name = vec![0u8; usize::from(name_len)];
        reader.read_exact(&mut name)?;
        reader.seek(SeekFrom::Current(
            i64::from(extra_len) + i64::from(comment_len),
        ))?;
        names.push(name);
    }
    Ok(names)
}
