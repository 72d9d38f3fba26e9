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
/// A file [`WorkingClone::read_file`] refused for its size.
#[derive(Debug, thiserror::Error)]
#[error("{path} is {size} bytes, more than the {max} allowed")]
pub struct TooLarge {
    /// The file.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// The limit it passed.
    pub max: u64,
}

pub struct WorkingClone {
    repo: Repository,
    /// Held while the clone is in use ([`lock_dir`]): the jobs of one process, and processes
    /// sharing a data directory, take turns on a clone, since concurrent fetches into one
    /// repository fail on git's lock files.
    _lock: Option<std::fs::File>,
}

impl WorkingClone {
    /// Opens the clone at `dir`, cloning `remote` there first if it does not exist.
    pub fn open_or_clone(remote: &str, dir: &Path) -> anyhow::Result<Self> {
        let lock = lock_dir(dir)
            .with_context(|| format!("locking the working clone {}", dir.display()))?;
        warn_removed(clear_stale_locks(dir)?);
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
        Ok(Self {
            repo,
            _lock: Some(lock),
        })
    }

    /// Fetches every branch of `origin`; returns the remote's default branch
    /// (`refs/heads/main`).
    pub fn fetch(&self) -> anyhow::Result<String> {
        let mut remote = self
            .repo
            .find_remote("origin")
            .context("the working clone has no origin")?;
        let url = redacted_url(remote.url().unwrap_or("?"));
        if let Some(why) = remote.url().and_then(missing_local_repository) {
            anyhow::bail!("{why}");
        }
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

    /// True if the commit is in the clone (a push's commit may not be served yet).
    pub fn has_commit(&self, commit: Oid) -> bool {
        self.repo.find_commit(commit).is_ok()
    }

    /// The files changed by a push from `old` to `new` (`old` all zeros for a new branch; for a
    /// force push, the changes since the merge base), limited to paths under `prefix` (every
    /// path when it is empty).
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
        if !prefix.is_empty() {
            opts.pathspec(prefix);
        }
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

    /// A regular file's text at a commit; `None` if absent. Refused, with the reason naming
    /// the file: a symbolic link (its text is a path, not the file's contents), a file over
    /// `max_bytes` (`worker.max_netkan_bytes` for the push worker), text that is not UTF-8.
    pub fn read_file(
        &self,
        commit: Oid,
        path: &str,
        max_bytes: u64,
    ) -> anyhow::Result<Option<String>> {
        let tree = self.repo.find_commit(commit)?.tree()?;
        let Ok(entry) = tree.get_path(Path::new(path)) else {
            return Ok(None);
        };
        let blob = self.repo.find_blob(entry.id())?;
        if entry.filemode() == 0o120000 {
            let target: String = String::from_utf8_lossy(blob.content())
                .chars()
                .take(200)
                .collect();
            bail!("{path} is a symbolic link (to {target:?}), not a file");
        }
        if blob.size() as u64 > max_bytes {
            return Err(TooLarge {
                path: path.to_owned(),
                size: blob.size() as u64,
                max: max_bytes,
            }
            .into());
        }
        match std::str::from_utf8(blob.content()) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => bail!("{path} is not valid UTF-8"),
        }
    }

    /// A file's text at a commit, following symbolic links inside the tree (as a checkout
    /// would); `None` if absent or a link leads nowhere.
    pub fn read_text(&self, commit: Oid, path: &str) -> anyhow::Result<Option<String>> {
        let tree = self.repo.find_commit(commit)?.tree()?;
        let mut path = path.to_owned();
        // A few hops at most: a link loop is not followed forever.
        for _ in 0..8 {
            let Ok(entry) = tree.get_path(Path::new(&path)) else {
                return Ok(None);
            };
            let blob = self.repo.find_blob(entry.id())?;
            let text = std::str::from_utf8(blob.content())
                .with_context(|| format!("{path} is not valid UTF-8"))?;
            if entry.filemode() != 0o120000 {
                return Ok(Some(text.to_owned()));
            }
            let base = Path::new(&path).parent().unwrap_or(Path::new(""));
            let mut parts: Vec<String> = Vec::new();
            for c in base.join(text).components() {
                match c {
                    std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
                    std::path::Component::ParentDir => {
                        parts.pop();
                    }
                    _ => {}
                }
            }
            path = parts.join("/");
        }
        Ok(None)
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

/// Why `remote` cannot be used, if it is a local path (not `scheme://…` nor `host:path`)
/// that does not exist. libgit2 reports such a remote as an "unsupported URL protocol",
/// which sends people looking at the URL instead of at the missing directory.
fn missing_local_repository(remote: &str) -> Option<String> {
    let before_slash = remote.split('/').next().unwrap_or("");
    let is_url = remote.contains("://") || (before_slash.contains(':') && !remote.starts_with('/'));
    (!is_url && !Path::new(remote).exists())
        .then(|| format!("no repository at {remote}: the directory does not exist"))
}

/// Locks `dir` (a working clone) for as long as the returned file is open, waiting for
/// whoever holds it: a `<dir>.lock` file beside it, locked with `flock`, so that jobs of one
/// process (each opens its own file) and processes sharing the data directory take turns.
///
/// # Errors
/// If the lock file cannot be created or locked.
pub fn lock_dir(dir: &Path) -> std::io::Result<std::fs::File> {
    let mut name = dir.as_os_str().to_owned();
    name.push(".lock");
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(PathBuf::from(name))?;
    file.lock()?;
    Ok(file)
}

/// Removes git's lock files (`HEAD.lock`, `index.lock`, `refs/heads/main.lock`, ...) left in
/// the repository at `git_dir` by a process killed in the middle of a git operation: libgit2
/// refuses to touch a ref or an index whose lock file exists, so one SIGKILL would fail
/// every later job on the clone. Only call it while holding the clone's own lock
/// ([`lock_dir`], or an indexer's clone slot): then no one else can be using the repository
/// and every lock file in it is stale.
///
/// # Errors
/// If a directory cannot be read or a lock file cannot be removed.
pub fn clear_stale_locks(git_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let locks = lock_files(git_dir)?;
    for lock in &locks {
        std::fs::remove_file(lock)?;
    }
    Ok(locks)
}

/// Git's lock files in the repository at `git_dir` (outside `objects/`, which has none).
fn lock_files(git_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut dirs = vec![git_dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                if path != git_dir.join("objects") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "lock") {
                found.push(path);
            }
        }
    }
    Ok(found)
}

/// Says which stale lock files [`clear_stale_locks`] removed.
pub fn warn_removed(removed: Vec<PathBuf>) {
    for path in removed {
        tracing::warn!(path = %path.display(), "removed a stale git lock file (a process was killed mid-operation)");
    }
}

/// A checked-out working tree of `remote`'s default branch at `dir`, brought up to date (for
/// reading files, such as CKAN-meta's `.ckan` files); cloned on first use. The caller holds
/// [`lock_dir`] of `dir` until it has read what it needs.
pub fn checkout(remote: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    warn_removed(clear_stale_locks(&dir.join(".git"))?);
    let repo = if dir.join(".git").exists() {
        Repository::open(dir).with_context(|| format!("opening {}", dir.display()))?
    } else {
        if let Some(why) = missing_local_repository(remote) {
            anyhow::bail!("{why}");
        }
        std::fs::create_dir_all(dir)?;
        Repository::clone(remote, dir)
            .with_context(|| format!("cloning {} into {}", redacted_url(remote), dir.display()))?
    };
    let clone = WorkingClone { repo, _lock: None };
    let branch = clone.fetch()?;
    let head = clone.branch_head(&branch)?;
    let target = clone.repo.find_object(head, None)?;
    clone.repo.reset(&target, git2::ResetType::Hard, None)?;
    Ok(dir.to_owned())
}

// ---------------------------------------------------------------------------------------
// Writing: working trees that commit, pull and push (the indexer, the adder, the freezer).
// ---------------------------------------------------------------------------------------

/// A failed git operation on a working tree: the remote refused the push, could not be
/// reached, or something went wrong locally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitError {
    /// The remote could not be reached (network, a path that is not a repository, auth).
    #[error("cannot reach {url}: {message}")]
    Unreachable {
        /// The remote, passwords removed.
        url: String,
        /// What git said.
        message: String,
    },
    /// The remote refused the push (not a fast-forward: it moved meanwhile; or a hook said no).
    #[error("{url} rejected the push of {branch}: {message}")]
    Rejected {
        /// The remote, passwords removed.
        url: String,
        /// The branch pushed.
        branch: String,
        /// What the remote said.
        message: String,
    },
    /// A path that would leave the working tree (`..`, absolute) or is not valid UTF-8.
    #[error("{0:?} is not a relative path inside the repository")]
    BadPath(String),
    /// Any other git failure.
    #[error("{context}: {source}")]
    Git {
        /// What was being done.
        context: String,
        /// libgit2's error.
        #[source]
        source: git2::Error,
    },
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl GitError {
    /// True if trying again later may work (the remote is down or moved meanwhile).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GitError::Unreachable { .. } | GitError::Rejected { .. }
        )
    }
}

/// Adds what was being done to a libgit2 or I/O error.
trait GitContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, GitError>;
}

impl<T> GitContext<T> for Result<T, git2::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, GitError> {
        self.map_err(|source| GitError::Git {
            context: what(),
            source,
        })
    }
}

impl<T> GitContext<T> for Result<T, std::io::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, GitError> {
        self.map_err(|source| GitError::Io {
            context: what(),
            source,
        })
    }
}

/// True for libgit2 errors that mean "the remote is not there" rather than "it said no".
fn is_unreachable(e: &git2::Error) -> bool {
    use git2::ErrorClass as C;
    matches!(
        e.class(),
        C::Net | C::Http | C::Ssh | C::Ssl | C::Os | C::Callback
    ) || e.message().contains("could not find repository")
        || e.message().contains("failed to resolve path")
}

/// Who a commit is by: a name and an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `user.name`.
    pub name: String,
    /// `user.email`.
    pub email: String,
}

impl Identity {
    /// An identity.
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            email: email.into(),
        }
    }

    fn signature(&self) -> Result<git2::Signature<'static>, GitError> {
        git2::Signature::now(&self.name, &self.email)
            .ctx(|| format!("the git identity {} <{}>", self.name, self.email))
    }
}

impl From<&netkan_common::config::GitSettings> for Identity {
    fn from(g: &netkan_common::config::GitSettings) -> Self {
        Self::new(g.user_name.clone(), g.user_email.clone())
    }
}

/// The trailer that ties a commit to the job that made it, so a replayed job can tell its
/// own earlier commit from anyone else's.
pub fn job_trailer(id: &netkan_common::JobId) -> String {
    format!("Job-Id: {id}")
}

/// `subject`, a blank line and the `Job-Id` trailer.
pub fn message_with_job(subject: &str, id: &netkan_common::JobId) -> String {
    format!("{subject}\n\n{}\n", job_trailer(id))
}

/// Which side wins where a merge conflicts (`git pull -X ours` / `-X theirs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Favor {
    /// Our side: what this working tree committed.
    Ours,
    /// The remote's side.
    Theirs,
}

/// What a pull did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pulled {
    /// The remote has no such branch (yet).
    NoRemoteBranch,
    /// Nothing new on the remote.
    UpToDate,
    /// Our branch moved forward to the remote's.
    FastForward,
    /// Both had new commits: a merge commit joins them.
    Merged(Oid),
    /// Both had new commits, but ours change nothing the remote does not already have (the
    /// same file written by another indexer): our branch was reset to the remote's, so no
    /// duplicate commit is pushed.
    AlreadyUpstream,
    /// Both had new commits: ours were replayed on top of the remote's
    /// ([`WorkTree::pull_replaying`]); the new tip.
    Replayed(Oid),
}

/// A checked-out working clone that commits, pulls and pushes (git2, blocking: call from
/// `spawn_blocking`; one per job, never shared between threads at once).
///
/// Semantics follow NetKAN-Infra's `repos.py`: the primary branch is the one `origin/HEAD`
/// names; `pull` is a merge (never a rebase) where conflicts go to one side, as `git pull
/// -X ours`; [`WorkTree::on_branch`] is `change_branch`.
pub struct WorkTree {
    repo: Repository,
    /// The remote as configured (may carry credentials: never put in a message).
    remote: String,
    /// The remote with passwords removed, for messages.
    url: String,
    primary: String,
}

impl WorkTree {
    /// Opens the working clone at `dir`, cloning `remote` (a path or URL) there first if
    /// needed (a directory left half-cloned by a crash is cloned again). A fresh clone is
    /// fetched; an existing one is not (call [`WorkTree::fetch`] or [`WorkTree::pull`]): it
    /// knows its primary branch from its own `origin/HEAD`.
    pub fn open_or_clone(remote: &str, dir: &Path) -> Result<Self, GitError> {
        let url = redacted_url(remote);
        let repo = match Repository::open(dir) {
            Ok(repo) if !repo.is_bare() => follow_remote(repo, remote, &url, dir)?,
            _ => {
                if let Some(message) = missing_local_repository(remote) {
                    return Err(GitError::Unreachable { url, message });
                }
                clear_dir(dir, false)?;
                Repository::clone(remote, dir).map_err(|e| {
                    if is_unreachable(&e) {
                        GitError::Unreachable {
                            url: url.clone(),
                            message: e.message().to_owned(),
                        }
                    } else {
                        GitError::Git {
                            context: format!("cloning {url} into {}", dir.display()),
                            source: e,
                        }
                    }
                })?
            }
        };
        let tree = Self::with_primary(repo, remote, url)?;
        if tree.repo.head().is_err() {
            // A clone of an empty remote: its first commit goes on the remote's HEAD branch.
            let head = format!("refs/heads/{}", tree.primary);
            tree.repo
                .set_head(&head)
                .ctx(|| format!("pointing HEAD at {head}"))?;
        }
        Ok(tree)
    }

    /// Opens the bare clone at `dir`, creating it (and fetching) first if needed: no working
    /// tree and no index, for roles that commit with [`WorkTree::commit_files`] only. On a
    /// large repository (CKAN-meta: 30,000 files) that saves the checkout, and each commit
    /// rewrites only the trees on its path instead of a 3 MB index. The primary branch is
    /// checked out (HEAD) as a local branch.
    pub fn open_or_clone_bare(remote: &str, dir: &Path) -> Result<Self, GitError> {
        let url = redacted_url(remote);
        let repo = match Repository::open_bare(dir) {
            Ok(repo) if repo.is_bare() => follow_remote(repo, remote, &url, dir)?,
            _ => {
                if let Some(message) = missing_local_repository(remote) {
                    return Err(GitError::Unreachable { url, message });
                }
                clear_dir(dir, true)?;
                let repo =
                    Repository::init_bare(dir).ctx(|| format!("creating {}", dir.display()))?;
                repo.remote_with_fetch("origin", remote, "+refs/heads/*:refs/remotes/origin/*")
                    .ctx(|| "adding the remote".into())?;
                repo
            }
        };
        let tree = Self::with_primary(repo, remote, url)?;
        let primary = tree.primary.clone();
        if tree.current_branch().as_deref() != Some(primary.as_str()) {
            tree.switch(&primary)?;
        }
        Ok(tree)
    }

    /// The primary branch from the clone's own `origin/HEAD`, or from a fetch if it has none.
    fn with_primary(repo: Repository, remote: &str, url: String) -> Result<Self, GitError> {
        let known = repo
            .find_reference("refs/remotes/origin/HEAD")
            .ok()
            .and_then(|r| r.symbolic_target().map(str::to_owned))
            .and_then(|t| t.strip_prefix("refs/remotes/origin/").map(str::to_owned));
        let mut tree = Self {
            repo,
            remote: remote.to_owned(),
            url,
            primary: known.clone().unwrap_or_default(),
        };
        if known.is_none() {
            tree.fetch()?;
        }
        Ok(tree)
    }

    /// Commits `files` (path → new contents, or `None` to delete) on `branch` straight into
    /// the object database, by `author`, committed by `committer`: no index, no working tree
    /// (the way to commit in a bare clone). Only the trees on the changed paths are
    /// rewritten. `None` when that changes nothing.
    pub fn commit_files(
        &self,
        branch: &str,
        files: &[(&str, Option<&[u8]>)],
        message: &str,
        author: &Identity,
        committer: &Identity,
    ) -> Result<Option<Oid>, GitError> {
        let parent = match self.branch_tip(branch) {
            Some(oid) => Some(
                self.repo
                    .find_commit(oid)
                    .ctx(|| format!("reading the tip of {branch}"))?,
            ),
            None => None,
        };
        let base = parent.as_ref().map(git2::Commit::tree_id);
        let mut root = base;
        for (path, bytes) in files {
            let parts: Vec<&str> = checked_path(path)?
                .components()
                .map(|c| c.as_os_str().to_str())
                .collect::<Option<_>>()
                .ok_or_else(|| GitError::BadPath((*path).to_owned()))?;
            let blob = match bytes {
                Some(b) => Some(self.repo.blob(b).ctx(|| format!("storing {path}"))?),
                None => None,
            };
            root = self.replace_in_tree(root, &parts, blob)?;
        }
        let root = match root {
            Some(t) => t,
            None => self
                .repo
                .treebuilder(None)
                .and_then(|b| b.write())
                .ctx(|| "writing an empty tree".into())?,
        };
        if base == Some(root) {
            return Ok(None);
        }
        let tree = self
            .repo
            .find_tree(root)
            .ctx(|| "reading the new tree".into())?;
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let oid = self
            .repo
            .commit(
                Some(&format!("refs/heads/{branch}")),
                &author.signature()?,
                &committer.signature()?,
                message,
                &tree,
                &parents,
            )
            .ctx(|| format!("committing on {branch}"))?;
        Ok(Some(oid))
    }

    /// `tree` with the entry at `parts` set to `blob` (or removed); `None` for a tree left
    /// empty (git has no empty directories).
    fn replace_in_tree(
        &self,
        tree: Option<Oid>,
        parts: &[&str],
        blob: Option<Oid>,
    ) -> Result<Option<Oid>, GitError> {
        let Some((name, rest)) = parts.split_first() else {
            return Ok(tree);
        };
        let existing = match tree {
            Some(t) => Some(self.repo.find_tree(t).ctx(|| "reading a tree".into())?),
            None => None,
        };
        let mut builder = self
            .repo
            .treebuilder(existing.as_ref())
            .ctx(|| "building a tree".into())?;
        let child = if rest.is_empty() {
            blob.map(|b| (b, 0o100_644))
        } else {
            let sub = existing
                .as_ref()
                .and_then(|t| t.get_name(name))
                .filter(|e| e.kind() == Some(git2::ObjectType::Tree))
                .map(|e| e.id());
            self.replace_in_tree(sub, rest, blob)?
                .map(|t| (t, 0o040_000))
        };
        match child {
            Some((oid, mode)) => {
                builder
                    .insert(name, oid, mode)
                    .ctx(|| format!("adding {name} to a tree"))?;
            }
            None => {
                if builder.get(name).ok().flatten().is_some() {
                    builder
                        .remove(name)
                        .ctx(|| format!("removing {name} from a tree"))?;
                }
            }
        }
        if builder.is_empty() {
            return Ok(None);
        }
        Ok(Some(builder.write().ctx(|| "writing a tree".into())?))
    }

    /// True for a bare clone ([`WorkTree::open_or_clone_bare`]).
    pub fn is_bare(&self) -> bool {
        self.repo.is_bare()
    }

    /// The working tree's directory (a bare clone's own directory).
    pub fn dir(&self) -> &Path {
        self.repo.workdir().unwrap_or_else(|| self.repo.path())
    }

    /// The remote, passwords removed (for log lines).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The primary branch (`master`, `main`): the one `origin/HEAD` names.
    pub fn primary(&self) -> &str {
        &self.primary
    }

    /// Fetches every branch of `origin` (pruning deleted ones) and learns the primary branch.
    pub fn fetch(&mut self) -> Result<(), GitError> {
        let mut remote = self
            .repo
            .find_remote("origin")
            .ctx(|| "the working clone has no origin".into())?;
        let advertised = {
            let conn = remote
                .connect_auth(git2::Direction::Fetch, None, None)
                .map_err(|e| GitError::Unreachable {
                    url: self.url.clone(),
                    message: e.message().to_owned(),
                })?;
            conn.default_branch()
                .ok()
                .and_then(|b| b.as_str().map(str::to_owned))
        };
        let mut opts = FetchOptions::new();
        opts.prune(git2::FetchPrune::On);
        remote
            .fetch(
                &["+refs/heads/*:refs/remotes/origin/*"],
                Some(&mut opts),
                None,
            )
            .map_err(|e| {
                if is_unreachable(&e) {
                    GitError::Unreachable {
                        url: self.url.clone(),
                        message: e.message().to_owned(),
                    }
                } else {
                    GitError::Git {
                        context: format!("fetching {}", self.url),
                        source: e,
                    }
                }
            })?;
        // An empty remote advertises no HEAD; a local one can still be asked directly.
        let head = advertised
            .or_else(|| local_remote_head(&self.remote))
            .or_else(|| {
                self.repo
                    .find_reference("refs/remotes/origin/HEAD")
                    .ok()
                    .and_then(|r| r.symbolic_target().map(str::to_owned))
                    .map(|t| t.replace("refs/remotes/origin/", "refs/heads/"))
            })
            .unwrap_or_else(|| "refs/heads/master".into());
        let branch = head.trim_start_matches("refs/heads/").to_owned();
        let tracking = format!("refs/remotes/origin/{branch}");
        if self.repo.find_reference(&tracking).is_ok() {
            self.repo
                .reference_symbolic("refs/remotes/origin/HEAD", &tracking, true, "origin HEAD")
                .ctx(|| "recording origin/HEAD".into())?;
        }
        self.primary = branch;
        Ok(())
    }

    /// The branch checked out, if HEAD is on one (also when it has no commit yet).
    pub fn current_branch(&self) -> Option<String> {
        let head = self.repo.find_reference("HEAD").ok()?;
        head.symbolic_target()
            .and_then(|t| t.strip_prefix("refs/heads/"))
            .map(str::to_owned)
    }

    /// Checks out `branch`: the local one if it exists, else a new one from
    /// `origin/<branch>`, else a new one from HEAD (or an unborn one in an empty clone).
    /// Uncommitted changes are discarded: the working tree belongs to the bot.
    pub fn switch(&self, branch: &str) -> Result<(), GitError> {
        let local = format!("refs/heads/{branch}");
        if self.repo.find_reference(&local).is_err() {
            let start = self
                .repo
                .refname_to_id(&format!("refs/remotes/origin/{branch}"))
                .ok()
                .or_else(|| self.repo.head().ok().and_then(|h| h.target()));
            if let Some(oid) = start {
                self.repo
                    .reference(&local, oid, false, "branch: created")
                    .ctx(|| format!("creating branch {branch}"))?;
            }
        }
        self.repo
            .set_head(&local)
            .ctx(|| format!("switching to {branch}"))?;
        if self.repo.head().is_ok() {
            self.reset_to_head()?;
        }
        Ok(())
    }

    /// Makes the working tree and index exactly HEAD's commit, removing untracked files (what
    /// a crash between writing and committing left behind).
    pub fn reset_to_head(&self) -> Result<(), GitError> {
        if self.repo.is_bare() {
            return Ok(()); // no working tree to reset
        }
        let Ok(head) = self.repo.head() else {
            return Ok(()); // no commit yet: nothing to reset to
        };
        let commit = head.peel_to_commit().ctx(|| "reading HEAD".into())?;
        self.repo
            .reset(commit.as_object(), git2::ResetType::Hard, None)
            .ctx(|| "resetting the working tree".into())?;
        let mut co = git2::build::CheckoutBuilder::new();
        co.force().remove_untracked(true);
        self.repo
            .checkout_head(Some(&mut co))
            .ctx(|| "cleaning the working tree".into())
    }

    /// The file at `path` in HEAD's commit (not the working tree); `None` if absent.
    pub fn committed_file(&self, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let rel = checked_path(path)?;
        let Ok(head) = self.repo.head() else {
            return Ok(None);
        };
        let tree = head.peel_to_tree().ctx(|| "reading HEAD's tree".into())?;
        let Ok(entry) = tree.get_path(rel) else {
            return Ok(None);
        };
        let blob = self
            .repo
            .find_blob(entry.id())
            .ctx(|| format!("reading {path}"))?;
        Ok(Some(blob.content().to_vec()))
    }

    /// Writes `bytes` to `path` in the working tree (directories created), byte for byte.
    pub fn write_file(&self, path: &str, bytes: &[u8]) -> Result<(), GitError> {
        let full = self.dir().join(checked_path(path)?);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&full, bytes).ctx(|| format!("writing {}", full.display()))
    }

    /// Stages `paths` (a missing file is staged as deleted) and commits them on the current
    /// branch with `message`, by `author`, committed by `committer`. `None` when that
    /// changes nothing (no empty commits).
    pub fn commit(
        &self,
        paths: &[&str],
        message: &str,
        author: &Identity,
        committer: &Identity,
    ) -> Result<Option<Oid>, GitError> {
        let mut index = self.repo.index().ctx(|| "opening the index".into())?;
        for path in paths {
            let rel = checked_path(path)?;
            if self.dir().join(rel).exists() {
                index.add_path(rel).ctx(|| format!("staging {path}"))?;
            } else {
                index
                    .remove_path(rel)
                    .ctx(|| format!("staging the removal of {path}"))?;
            }
        }
        // Trees first: writing them fills the index's tree cache, and writing the index
        // afterwards keeps that cache on disk, so the next commit re-hashes only the one
        // directory it touches instead of all 3,800 of CKAN-meta.
        let tree_id = index.write_tree().ctx(|| "writing the tree".into())?;
        index.write().ctx(|| "writing the index".into())?;
        let parent = match self.repo.head() {
            Ok(h) => Some(h.peel_to_commit().ctx(|| "reading HEAD".into())?),
            Err(_) => None,
        };
        if parent.as_ref().is_some_and(|p| p.tree_id() == tree_id) {
            return Ok(None);
        }
        let tree = self
            .repo
            .find_tree(tree_id)
            .ctx(|| "reading the new tree".into())?;
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let oid = self
            .repo
            .commit(
                Some("HEAD"),
                &author.signature()?,
                &committer.signature()?,
                message,
                &tree,
                &parents,
            )
            .ctx(|| "committing".into())?;
        Ok(Some(oid))
    }

    /// The commit a local branch points to; `None` if it has none.
    pub fn branch_tip(&self, branch: &str) -> Option<Oid> {
        self.repo
            .refname_to_id(&format!("refs/heads/{branch}"))
            .ok()
    }

    /// The commit `origin/<branch>` pointed to at the last fetch or push.
    pub fn remote_tip(&self, branch: &str) -> Option<Oid> {
        self.repo
            .refname_to_id(&format!("refs/remotes/origin/{branch}"))
            .ok()
    }

    /// Commits on the local `branch` that `origin/<branch>` does not have, newest first.
    pub fn unpushed(&self, branch: &str) -> Result<Vec<Oid>, GitError> {
        let Some(tip) = self.branch_tip(branch) else {
            return Ok(Vec::new());
        };
        let mut walk = self.repo.revwalk().ctx(|| "walking history".into())?;
        walk.push(tip).ctx(|| "walking history".into())?;
        if let Some(remote) = self.remote_tip(branch) {
            walk.hide(remote).ctx(|| "walking history".into())?;
        }
        walk.map(|r| r.ctx(|| "walking history".into())).collect()
    }

    /// True if `origin/<branch>` contains `commit` (as of the last fetch or push).
    pub fn is_pushed(&self, commit: Oid, branch: &str) -> bool {
        self.remote_tip(branch).is_some_and(|r| {
            r == commit || self.repo.graph_descendant_of(r, commit).unwrap_or(false)
        })
    }

    /// The newest of the last `limit` commits of `branch` whose message has `line` on a line
    /// of its own (a `Job-Id` trailer).
    pub fn find_commit_with_line(
        &self,
        branch: &str,
        line: &str,
        limit: usize,
    ) -> Result<Option<Oid>, GitError> {
        let Some(tip) = self.branch_tip(branch) else {
            return Ok(None);
        };
        let mut walk = self.repo.revwalk().ctx(|| "walking history".into())?;
        walk.push(tip).ctx(|| "walking history".into())?;
        for oid in walk.take(limit) {
            let oid = oid.ctx(|| "walking history".into())?;
            let commit = self
                .repo
                .find_commit(oid)
                .ctx(|| "reading a commit".into())?;
            if commit
                .message()
                .is_some_and(|m| m.lines().any(|l| l == line))
            {
                return Ok(Some(oid));
            }
        }
        Ok(None)
    }

    /// The first line of a commit's message.
    pub fn summary(&self, commit: Oid) -> Option<String> {
        let c = self.repo.find_commit(commit).ok()?;
        c.summary().map(str::to_owned)
    }

    /// `git pull origin <branch> -X ours|theirs` on the checked-out `branch`: fetch it, then
    /// fast-forward, or merge with conflicts going to `favor`'s side.
    ///
    /// libgit2 merges with a file favour exactly as git's `-X` strategy option does for
    /// content conflicts. Conflicts git's `-X` leaves for a person (modified on one side,
    /// deleted on the other) also go to `favor`'s side here: nobody is there to resolve them.
    pub fn pull(
        &mut self,
        branch: &str,
        favor: Favor,
        committer: &Identity,
    ) -> Result<Pulled, GitError> {
        self.fetch_branch(branch)?;
        self.merge_remote(branch, favor, committer)
    }

    /// The indexer's pull: fetches `branch`, then replays our commits that the remote lacks
    /// on top of the remote's, file by file (our version of a file wins, as with `-X ours`),
    /// dropping each commit whose files the remote already has. A merge would keep such a
    /// commit: when another indexer, whose clone had not seen a first commit of a `.ckan`
    /// yet, committed the same file (a job run again after its worker was killed), CKAN-meta
    /// would get the same `.ckan` in two commits. Merge commits of earlier pulls are not
    /// replayed (what they brought is the remote's). Fast-forwards and up-to-date branches
    /// are as with [`WorkTree::pull`].
    pub fn pull_replaying(
        &mut self,
        branch: &str,
        committer: &Identity,
    ) -> Result<Pulled, GitError> {
        self.fetch_branch(branch)?;
        let (Some(theirs), Some(ours)) = (self.remote_tip(branch), self.branch_tip(branch)) else {
            return self.merge_remote(branch, Favor::Ours, committer);
        };
        let descends = |a: Oid, b: Oid| self.repo.graph_descendant_of(a, b).unwrap_or(false);
        if ours == theirs || descends(ours, theirs) || descends(theirs, ours) {
            return self.merge_remote(branch, Favor::Ours, committer);
        }
        let mut walk = self.repo.revwalk().ctx(|| "walking history".into())?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
            .ctx(|| "walking history".into())?;
        walk.push(ours).ctx(|| "walking history".into())?;
        walk.hide(theirs).ctx(|| "walking history".into())?;
        let ours_oldest_first: Vec<Oid> = walk
            .map(|r| r.ctx(|| "walking history".into()))
            .collect::<Result<_, _>>()?;
        let committer_sig = committer.signature()?;
        let mut tip = theirs;
        let mut replayed = 0;
        for oid in ours_oldest_first {
            let commit = self
                .repo
                .find_commit(oid)
                .ctx(|| format!("reading {oid}"))?;
            if commit.parent_count() != 1 {
                continue;
            }
            let parent_tree = commit
                .parent(0)
                .and_then(|p| p.tree())
                .ctx(|| format!("reading the parent of {oid}"))?;
            let tree = commit.tree().ctx(|| format!("reading {oid}"))?;
            let diff = self
                .repo
                .diff_tree_to_tree(Some(&parent_tree), Some(&tree), None)
                .ctx(|| format!("diffing {oid}"))?;
            let base = self
                .repo
                .find_commit(tip)
                .ctx(|| "reading the replayed tip".into())?;
            let mut root = Some(base.tree_id());
            for delta in diff.deltas() {
                let file = if delta.status() == Delta::Deleted {
                    delta.old_file()
                } else {
                    delta.new_file()
                };
                let path = file.path().and_then(|p| p.to_str()).unwrap_or_default();
                let parts: Vec<&str> = checked_path(path)?
                    .components()
                    .map(|c| c.as_os_str().to_str())
                    .collect::<Option<_>>()
                    .ok_or_else(|| GitError::BadPath(path.to_owned()))?;
                let blob = (delta.status() != Delta::Deleted).then(|| file.id());
                root = self.replace_in_tree(root, &parts, blob)?;
            }
            let root = match root {
                Some(t) => t,
                None => self
                    .repo
                    .treebuilder(None)
                    .and_then(|b| b.write())
                    .ctx(|| "writing an empty tree".into())?,
            };
            if root == base.tree_id() {
                continue; // the remote has these files already
            }
            let new_tree = self
                .repo
                .find_tree(root)
                .ctx(|| "reading the replayed tree".into())?;
            let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
            tip = self
                .repo
                .commit(
                    None,
                    &commit.author(),
                    &committer_sig,
                    &message,
                    &new_tree,
                    &[&base],
                )
                .ctx(|| format!("replaying {oid}"))?;
            replayed += 1;
        }
        let local = format!("refs/heads/{branch}");
        self.repo
            .reference(&local, tip, true, "pull: replayed onto origin")
            .ctx(|| format!("moving {branch} onto origin/{branch}"))?;
        if self.current_branch().as_deref() == Some(branch) {
            self.reset_to_head()?;
        }
        Ok(if replayed == 0 {
            Pulled::AlreadyUpstream
        } else {
            Pulled::Replayed(tip)
        })
    }

    fn fetch_branch(&self, branch: &str) -> Result<(), GitError> {
        let mut remote = self
            .repo
            .find_remote("origin")
            .ctx(|| "the working clone has no origin".into())?;
        let spec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
        remote.fetch(&[&spec], None, None).map_err(|e| {
            if is_unreachable(&e) {
                GitError::Unreachable {
                    url: self.url.clone(),
                    message: e.message().to_owned(),
                }
            } else {
                GitError::Git {
                    context: format!("fetching {branch} from {}", self.url),
                    source: e,
                }
            }
        })
    }

    fn merge_remote(
        &self,
        branch: &str,
        favor: Favor,
        committer: &Identity,
    ) -> Result<Pulled, GitError> {
        let Some(theirs) = self.remote_tip(branch) else {
            return Ok(Pulled::NoRemoteBranch);
        };
        let local = format!("refs/heads/{branch}");
        let Some(ours) = self.branch_tip(branch) else {
            // Nothing committed here yet: take the remote's branch as it is.
            self.repo
                .reference(&local, theirs, true, "pull: fast-forward")
                .ctx(|| format!("creating {branch}"))?;
            self.reset_to_head()?;
            return Ok(Pulled::FastForward);
        };
        let descends = |a: Oid, b: Oid| self.repo.graph_descendant_of(a, b).unwrap_or(false);
        if ours == theirs || descends(ours, theirs) {
            return Ok(Pulled::UpToDate);
        }
        if descends(theirs, ours) {
            self.repo
                .reference(&local, theirs, true, "pull: fast-forward")
                .ctx(|| format!("fast-forwarding {branch}"))?;
            self.reset_to_head()?;
            return Ok(Pulled::FastForward);
        }
        let our_commit = self
            .repo
            .find_commit(ours)
            .ctx(|| "reading our tip".into())?;
        let their_commit = self
            .repo
            .find_commit(theirs)
            .ctx(|| "reading the remote's tip".into())?;
        let mut opts = git2::MergeOptions::new();
        opts.file_favor(match favor {
            Favor::Ours => git2::FileFavor::Ours,
            Favor::Theirs => git2::FileFavor::Theirs,
        });
        let mut index = self
            .repo
            .merge_commits(&our_commit, &their_commit, Some(&opts))
            .ctx(|| format!("merging origin/{branch}"))?;
        if index.has_conflicts() {
            resolve_conflicts(&mut index, favor)?;
        }
        let tree_id = index
            .write_tree_to(&self.repo)
            .ctx(|| "writing the merged tree".into())?;
        if tree_id == their_commit.tree_id() {
            self.repo
                .reference(&local, theirs, true, "pull: already upstream")
                .ctx(|| format!("resetting {branch} to origin/{branch}"))?;
            self.reset_to_head()?;
            return Ok(Pulled::AlreadyUpstream);
        }
        let tree = self
            .repo
            .find_tree(tree_id)
            .ctx(|| "reading the merged tree".into())?;
        let sig = committer.signature()?;
        let message = format!("Merge branch '{branch}' of {}", self.url);
        let merge = self
            .repo
            .commit(
                None,
                &sig,
                &sig,
                &message,
                &tree,
                &[&our_commit, &their_commit],
            )
            .ctx(|| "committing the merge".into())?;
        self.repo
            .reference(&local, merge, true, "pull: merge")
            .ctx(|| format!("moving {branch} to the merge"))?;
        if self.current_branch().as_deref() == Some(branch) {
            self.reset_to_head()?;
        }
        Ok(Pulled::Merged(merge))
    }

    /// `git push origin <branch>:<branch>`, never forced. A refusal (the remote moved
    /// meanwhile, a hook said no) is [`GitError::Rejected`]; a remote that cannot be reached
    /// is [`GitError::Unreachable`].
    pub fn push(&self, branch: &str) -> Result<(), GitError> {
        let Some(tip) = self.branch_tip(branch) else {
            return Ok(()); // nothing committed: nothing to push
        };
        let mut remote = self
            .repo
            .find_remote("origin")
            .ctx(|| "the working clone has no origin".into())?;
        let refused = std::cell::RefCell::new(None::<String>);
        let mut callbacks = git2::RemoteCallbacks::new();
        callbacks.push_update_reference(|name, status| {
            if let Some(msg) = status {
                *refused.borrow_mut() = Some(format!("{name}: {msg}"));
            }
            Ok(())
        });
        let mut opts = git2::PushOptions::new();
        opts.remote_callbacks(callbacks);
        let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
        let turn = local_remote_turn(&self.remote);
        let pushed = remote.push(&[&spec], Some(&mut opts));
        drop(turn);
        drop(opts);
        let rejected = |message: String| GitError::Rejected {
            url: self.url.clone(),
            branch: branch.to_owned(),
            message,
        };
        match pushed {
            Err(e) if e.code() == git2::ErrorCode::NotFastForward => {
                return Err(rejected(e.message().to_owned()));
            }
            Err(e) if is_unreachable(&e) => {
                return Err(GitError::Unreachable {
                    url: self.url.clone(),
                    message: e.message().to_owned(),
                });
            }
            Err(e) => return Err(rejected(e.message().to_owned())),
            Ok(()) => {}
        }
        if let Some(msg) = refused.into_inner() {
            return Err(rejected(msg));
        }
        self.repo
            .reference(&format!("refs/remotes/origin/{branch}"), tip, true, "push")
            .ctx(|| format!("recording origin/{branch}"))?;
        Ok(())
    }

    /// `change_branch` of NetKAN-Infra: fetches `branch` from origin and checks it out (the
    /// remote's if it exists, else a new one from the current commit, or the local one),
    /// runs `work`, then, whatever `work` returned, pulls the remote branch `-X ours`
    /// (failures ignored), pushes the branch and checks the previous branch out again.
    ///
    /// Returns `work`'s error first, then the push's.
    pub fn on_branch<R>(
        &mut self,
        branch: &str,
        committer: &Identity,
        work: impl FnOnce(&mut Self) -> Result<R, GitError>,
    ) -> Result<R, GitError> {
        let previous = self
            .current_branch()
            .unwrap_or_else(|| self.primary.clone());
        // A branch the remote lacks is not an error: it is created here.
        let _ = self.fetch_branch(branch);
        self.switch(branch)?;
        let result = work(self);
        let _ = self.merge_remote(branch, Favor::Ours, committer);
        let pushed = self.push(branch);
        let back = self.switch(&previous);
        let value = result?;
        pushed?;
        back?;
        Ok(value)
    }
}

/// For a remote that is a path on this machine, an exclusive lock on its directory, held
/// while pushing to it. libgit2's local transport moves the remote's ref by force, without
/// checking that it still points where it did when the push started (its fast-forward check
/// is made against the refs advertised at connect time): two clones pushing at once, such
/// as two indexer processes, would silently drop one's commits. Pushers through libgit2 on
/// this machine take turns instead, so the check is made against the current ref. `None`
/// for network remotes (the server checks) and for paths that cannot be opened (the push
/// then fails on its own).
fn local_remote_turn(remote: &str) -> Option<std::fs::File> {
    let path = remote.strip_prefix("file://").unwrap_or(remote);
    if path.contains("://") {
        return None;
    }
    let dir = std::fs::File::open(path).ok()?;
    dir.lock().ok()?;
    // A pusher killed mid-push leaves the remote's ref locked for good (the local transport
    // writes the remote's lock files itself). No pusher of ours can hold one now; git's own
    // commands hold a ref lock for milliseconds, so one older than that is stale.
    let stale_after = std::time::Duration::from_secs(2);
    for lock in lock_files(Path::new(path)).unwrap_or_default() {
        let old = std::fs::metadata(&lock)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > stale_after);
        if old && std::fs::remove_file(&lock).is_ok() {
            tracing::warn!(path = %lock.display(), "removed a stale lock file of the remote (a pusher was killed mid-push)");
        }
    }
    Some(dir)
}

/// Settles every conflict of a merge on `favor`'s side (its version, or its deletion).
fn resolve_conflicts(index: &mut git2::Index, favor: Favor) -> Result<(), GitError> {
    let conflicts: Vec<git2::IndexConflict> = index
        .conflicts()
        .ctx(|| "reading merge conflicts".into())?
        .collect::<Result<_, _>>()
        .ctx(|| "reading merge conflicts".into())?;
    // Bits 12-13 of an entry's flags are its merge stage; a resolved entry is stage 0.
    const STAGE_MASK: u16 = 0x3000;
    for c in conflicts {
        let Some(path) = [&c.our, &c.their, &c.ancestor]
            .into_iter()
            .flatten()
            .next()
            .map(|e| e.path.clone())
        else {
            continue;
        };
        let p = Path::new(
            std::str::from_utf8(&path)
                .map_err(|_| GitError::BadPath(String::from_utf8_lossy(&path).into_owned()))?,
        );
        index
            .conflict_remove(p)
            .ctx(|| format!("resolving the conflict on {}", p.display()))?;
        let winner = match favor {
            Favor::Ours => c.our,
            Favor::Theirs => c.their,
        };
        if let Some(mut entry) = winner {
            entry.flags &= !STAGE_MASK;
            index
                .add(&entry)
                .ctx(|| format!("resolving the conflict on {}", p.display()))?;
        }
    }
    Ok(())
}

/// Points `origin` of an existing clone at `remote` if the configured remote moved.
fn follow_remote(
    repo: Repository,
    remote: &str,
    url: &str,
    dir: &Path,
) -> Result<Repository, GitError> {
    let current = repo
        .find_remote("origin")
        .ok()
        .and_then(|r| r.url().map(str::to_owned));
    if current.as_deref() != Some(remote) {
        repo.remote_set_url("origin", remote)
            .ctx(|| format!("pointing {} at {url}", dir.display()))?;
    }
    Ok(repo)
}

/// Removes what a crash left at `dir` (not a repository) and creates its parent (and `dir`
/// itself when `create`).
fn clear_dir(dir: &Path, create: bool) -> Result<(), GitError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .ctx(|| format!("removing the broken clone {}", dir.display()))?;
    }
    let make = if create { Some(dir) } else { dir.parent() };
    if let Some(d) = make {
        std::fs::create_dir_all(d).ctx(|| format!("creating {}", d.display()))?;
    }
    Ok(())
}

/// The default branch of a remote that is a local (bare) repository, read from its HEAD:
/// an empty repository advertises none over the protocol, yet knows it.
fn local_remote_head(remote: &str) -> Option<String> {
    if remote.contains("://") {
        return None;
    }
    let repo = Repository::open_bare(remote).ok()?;
    let head = repo.find_reference("HEAD").ok()?;
    head.symbolic_target().map(str::to_owned)
}

/// A repository-relative path that stays inside the working tree.
fn checked_path(path: &str) -> Result<&Path, GitError> {
    let p = Path::new(path);
    let ok = !path.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if ok {
        Ok(p)
    } else {
        Err(GitError::BadPath(path.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_missing_repository_directory_is_named() {
        let why = missing_local_repository("/nonexistent/NetKAN.git").unwrap();
        assert_eq!(
            why,
            "no repository at /nonexistent/NetKAN.git: the directory does not exist"
        );
        assert_eq!(
            missing_local_repository("https://github.com/KSP-CKAN/NetKAN.git"),
            None
        );
        assert_eq!(
            missing_local_repository("git@github.com:KSP-CKAN/NetKAN.git"),
            None
        );
        assert_eq!(missing_local_repository("/"), None);
    }
}
