//! One `netkan up` per data directory: an advisory lock on `<data_dir>/netkan-up.lock` held
//! for the life of the process, naming its pid and addresses.
//!
//! The data directory holds state only one instance may own: the embedded Redis's files, the
//! hook's `hook.toml` and the hooks of the local repositories. A second instance on the same
//! directory would reuse that Redis, start a second set of workers and point the hooks at
//! its own port; it is refused instead, with the first one named. The lock is the kernel's
//! (`flock`), so it is released when its holder dies, however it dies: a stale file never
//! blocks a restart.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "netkan-up.lock";

/// Why the lock could not be taken.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "the data directory {dir} is in use by another netkan up ({holder}); stop it first, or give this one another --data-dir"
    )]
    Held {
        /// The data directory.
        dir: PathBuf,
        /// What the holder wrote about itself.
        holder: Holder,
    },
    /// The lock file could not be opened or written.
    #[error("lock file {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What the running instance says about itself in the lock file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    /// Its process id.
    pub pid: Option<u32>,
    /// Its web front end (`http://127.0.0.1:8080`).
    pub web: Option<String>,
    /// Its Redis, passwords redacted.
    pub redis: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "pid {pid}")?,
            None => write!(f, "pid not yet written")?,
        }
        if let Some(web) = &self.web {
            write!(f, ", web {web}")?;
        }
        if let Some(redis) = &self.redis {
            write!(f, ", redis {redis}")?;
        }
        Ok(())
    }
}

impl Holder {
    fn parse(text: &str) -> Self {
        let mut holder = Self::default();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("pid", v)) => holder.pid = v.trim().parse().ok(),
                Some(("web", v)) => holder.web = Some(v.trim().to_owned()),
                Some(("redis", v)) => holder.redis = Some(v.trim().to_owned()),
                _ => {}
            }
        }
        holder
    }

    fn render(&self) -> String {
        let mut text = String::new();
        if let Some(pid) = self.pid {
            text.push_str(&format!("pid={pid}\n"));
        }
        if let Some(web) = &self.web {
            text.push_str(&format!("web={web}\n"));
        }
        if let Some(redis) = &self.redis {
            text.push_str(&format!("redis={redis}\n"));
        }
        text
    }
}

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct InstanceLock {
    file: File,
    path: PathBuf,
    holder: Holder,
}

impl InstanceLock {
    /// Takes the lock on `data_dir` (which must exist) for this process, or names the holder.
    pub fn acquire(data_dir: &Path) -> Result<Self, LockError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        // Not truncated on open: the holder's description must survive a refused opener.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                // Unreadable text still refuses: the lock, not its content, decides.
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Held {
                    dir: data_dir.to_owned(),
                    holder: Holder::parse(&text),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let mut lock = Self {
            file,
            path,
            holder: Holder {
                pid: Some(std::process::id()),
                ..Holder::default()
            },
        };
        lock.write()?;
        Ok(lock)
    }

    /// Records the addresses it serves, for whoever is refused next.
    pub fn describe(&mut self, web: &str, redis: &str) -> Result<(), LockError> {
        self.holder.web = Some(web.to_owned());
        self.holder.redis = Some(crate::log::redact_url_passwords(redis));
        self.write()
    }

    fn write(&mut self) -> Result<(), LockError> {
        let text = self.holder.render();
        let result = (|| {
            self.file.set_len(0)?;
            self.file.rewind()?;
            self.file.write_all(text.as_bytes())?;
            self.file.flush()
        })();
        result.map_err(|source| LockError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// The instance holding `data_dir`'s lock, if one other than this process does.
///
/// Used before touching what a running `netkan up` owns (the hooks of its repositories).
pub fn running_elsewhere(data_dir: &Path) -> Option<Holder> {
    let path = data_dir.join(LOCK_FILE);
    let mut file = File::open(&path).ok()?;
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    let holder = Holder::parse(&text);
    if holder.pid == Some(std::process::id()) {
        return None;
    }
    // Taking the lock succeeds only if nobody holds it; it is dropped again at once.
    match file.try_lock() {
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(holder),
        Err(TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_names_the_first_holder() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = InstanceLock::acquire(dir.path()).unwrap();
        first
            .describe("http://127.0.0.1:8080", "redis://:hunter2@127.0.0.1:6389/")
            .unwrap();
        let err = InstanceLock::acquire(dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("web http://127.0.0.1:8080"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        drop(first);
        InstanceLock::acquire(dir.path()).expect("free again once dropped");
    }

    #[test]
    fn the_holders_own_process_is_not_running_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let _lock = InstanceLock::acquire(dir.path()).unwrap();
        assert_eq!(running_elsewhere(dir.path()), None);
        assert_eq!(running_elsewhere(&dir.path().join("missing")), None);
    }
}
