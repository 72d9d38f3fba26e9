//! Working clones of git repositories (git2, blocking: call from `spawn_blocking`, one
//! `Repository` per job): clone on first use, fetch afterwards, the files changed between two
//! commits, and file contents at a commit.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use git2::{Delta, DiffOptions, FetchOptions, Oid, Repository};

/// How a file changed between two commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// New file.
    Added(String),
    /// Changed content.
    Modified(String),
    /// Removed.
    Deleted(String),
    /// Moved (with or without changes): from, to.
    Renamed(String, String),
}

/// A working clone of a remote (a bare repository path or a URL).
pub struct WorkingClone {
    repo: Repository,
}

impl WorkingClone {
    /// Opens the clone at `dir`, cloning `remote` there first if it does not exist.
    pub fn open_or_clone(remote: &str, dir: &Path) -> anyhow::Result<Self> {
        let repo = if dir.join(".git").exists() || dir.join("HEAD").exists() {
            Repository::open(dir)
                .with_context(|| format!("opening the working clone {}", dir.display()))?
        } else {
            std::fs::create_dir_all(dir)?;
            // A bare mirror of the remote's branches: the push worker reads trees, never checks out.
            let repo = Repository::init_bare(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
            repo.remote_with_fetch("origin", remote, "+refs/heads/*:refs/remotes/origin/*")
                .context("adding the remote")?;
            repo
        };
        Ok(Self { repo })
    }

    /// Fetches every branch of `origin`; returns the remote's default branch
    /// (`refs/heads/main`).
    pub fn fetch(&self) -> anyhow::Result<String> {
        let mut remote = self
            .repo
            .find_remote("origin")
            .context("the working clone has no origin")?;
        let url = redacted_url(remote.url().unwrap_or("?"));
        let default = {
            let conn = remote
                .connect_auth(git2::Direction::Fetch, None, None)
                .with_context(|| format!("connecting to {url}"))?;
            conn.default_branch()
                .ok()
                .and_then(|b| b.as_str().map(str::to_owned))
                .unwrap_or_else(|| "refs/heads/master".into())
        };
        let mut opts = FetchOptions::new();
        opts.prune(git2::FetchPrune::On);
        remote
            .fetch(
                &["+refs/heads/*:refs/remotes/origin/*"],
                Some(&mut opts),
                None,
            )
            .with_context(|| format!("fetching {url}"))?;
        Ok(default)
    }

    /// The commit a remote branch points to (`main` → `refs/remotes/origin/main`).
    pub fn branch_head(&self, branch: &str) -> anyhow::Result<Oid> {
        let name = format!(
            "refs/remotes/origin/{}",
            branch.trim_start_matches("refs/heads/")
        );
        self.repo
            .refname_to_id(&name)
            .with_context(|| format!("no branch {branch} in the remote"))
    }

    /// The files changed by a push from `old` to `new` (`old` all zeros for a new branch; for a
    /// force push, the changes since the merge base), limited to paths under `prefix`.
    pub fn changed_files(&self, old: &str, new: &str, prefix: &str) -> anyhow::Result<Vec<Change>> {
        let new_oid = Oid::from_str(new).context("bad new commit id")?;
        let new_tree = self
            .repo
            .find_commit(new_oid)
            .with_context(|| format!("commit {new} is not in the repository (fetch first)"))?
            .tree()?;
        let zero = old.bytes().all(|b| b == b'0');
        let base_tree = if zero {
            None
        } else {
            let old_oid = Oid::from_str(old).context("bad old commit id")?;
            let base = match self.repo.find_commit(old_oid) {
                // A force push rewrote history: compare with what both share.
                Ok(_)
                    if !self.repo.graph_descendant_of(new_oid, old_oid)? && old_oid != new_oid =>
                {
                    self.repo.merge_base(old_oid, new_oid).ok()
                }
                Ok(_) => Some(old_oid),
                Err(_) => None,
            };
            match base {
                Some(b) => Some(self.repo.find_commit(b)?.tree()?),
                None => None,
            }
        };
        let mut opts = DiffOptions::new();
        opts.pathspec(prefix);
        let mut diff =
            self.repo
                .diff_tree_to_tree(base_tree.as_ref(), Some(&new_tree), Some(&mut opts))?;
        diff.find_similar(None)?;
        let path = |f: git2::DiffFile<'_>| {
            f.path()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        for d in diff.deltas() {
            out.push(match d.status() {
                Delta::Added | Delta::Copied => Change::Added(path(d.new_file())),
                Delta::Modified | Delta::Typechange => Change::Modified(path(d.new_file())),
                Delta::Deleted => Change::Deleted(path(d.old_file())),
                Delta::Renamed => Change::Renamed(path(d.old_file()), path(d.new_file())),
                _ => continue,
            });
        }
        Ok(out)
    }

    /// A file's text at a commit; `None` if absent.
    pub fn read_file(&self, commit: Oid, path: &str) -> anyhow::Result<Option<String>> {
        let tree = self.repo.find_commit(commit)?.tree()?;
        let Ok(entry) = tree.get_path(Path::new(path)) else {
            return Ok(None);
        };
        let blob = self.repo.find_blob(entry.id())?;
        match std::str::from_utf8(blob.content()) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => bail!("{path} is not valid UTF-8"),
        }
    }

    /// The names of the files directly under `dir` at a commit.
    pub fn list_dir(&self, commit: Oid, dir: &str) -> anyhow::Result<Vec<String>> {
        let tree = self.repo.find_commit(commit)?.tree()?;
        let Ok(entry) = tree.get_path(Path::new(dir)) else {
            return Ok(Vec::new());
        };
        let sub = self.repo.find_tree(entry.id())?;
        Ok(sub
            .iter()
            .filter_map(|e| e.name().map(str::to_owned))
            .collect())
    }
}

/// The directory of a game's working clone of a repository under the data directory.
pub fn clone_dir(data_dir: &Path, game: &str, name: &str) -> PathBuf {
    data_dir.join("work").join(game).join(name)
}

fn redacted_url(url: &str) -> String {
    netkan_common::log::redact_url_passwords(url)
}

/// A checked-out working tree of `remote`'s default branch at `dir`, brought up to date (for
/// reading files, such as CKAN-meta's `.ckan` files); cloned on first use.
pub fn checkout(remote: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    let repo = if dir.join(".git").exists() {
        Repository::open(dir).with_context(|| format!("opening {}", dir.display()))?
    } else {
        std::fs::create_dir_all(dir)?;
        Repository::clone(remote, dir)
            .with_context(|| format!("cloning {} into {}", redacted_url(remote), dir.display()))?
    };
    let clone = WorkingClone { repo };
    let branch = clone.fetch()?;
    let head = clone.branch_head(&branch)?;
    let target = clone.repo.find_object(head, None)?;
    clone.repo.reset(&target, git2::ResetType::Hard, None)?;
    Ok(dir.to_owned())
}
