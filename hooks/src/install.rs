//! Installing the hook into a bare repository as `hooks/post-receive`.
//!
//! The script is a two-line `sh` wrapper that execs `netkan-hook post-receive` with the
//! game, base URL, config path and spool directory baked in, every path absolute (git runs
//! hooks inside the repository, where a relative path would point somewhere else). An existing foreign hook is kept working: it is
//! moved to `post-receive.chained` and run first with the same input. Installing again
//! rewrites netkan's wrapper (idempotent).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Marks a script written by this installer.
const MARKER: &str = "# installed by netkan-hook";

/// What to bake into the script.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The binary to run (`netkan-hook`, or `netkan`).
    pub binary: PathBuf,
    /// Words before `post-receive` (`hook` for `netkan hook post-receive`).
    pub before: Vec<String>,
    /// The game of the repository.
    pub game: String,
    /// The web front end's public URL.
    pub base_url: Option<String>,
    /// A config file for the hook to read.
    pub config: Option<PathBuf>,
    /// Where the hook spools jobs when Redis is down: the directory the workers and
    /// `netkan hook drain` empty.
    pub spool_dir: Option<PathBuf>,
}

/// What installing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// A new hook.
    Fresh,
    /// netkan's hook was already there and has been rewritten.
    Updated,
    /// An existing hook was kept, chained before netkan's.
    Chained,
}

/// Installs the hook into the bare repository `repo`.
///
/// # Errors
/// If `repo` is not a bare repository, a path to bake in is relative, the hook there belongs
/// to a `netkan up` that is running (another process), or files cannot be written.
pub fn install(repo: &Path, opts: &InstallOptions) -> anyhow::Result<Installed> {
    if !repo.join("HEAD").is_file() || !repo.join("objects").is_dir() {
        bail!(
            "{} is not a bare git repository (no HEAD and objects/)",
            repo.display()
        );
    }
    // git runs the hook inside the repository: a relative path would resolve there, not
    // where the installer or the workers meant.
    let paths = [
        ("the hook's binary", Some(&opts.binary)),
        ("the config file", opts.config.as_ref()),
        ("the spool directory", opts.spool_dir.as_ref()),
    ];
    for (what, path) in paths {
        if let Some(path) = path.filter(|p| p.is_relative()) {
            bail!(
                "{what} {} is relative; the hook needs an absolute path",
                path.display()
            );
        }
    }
    let hooks = repo.join("hooks");
    std::fs::create_dir_all(&hooks).with_context(|| format!("creating {}", hooks.display()))?;
    let hook = hooks.join("post-receive");
    let chained = hooks.join("post-receive.chained");
    let mut outcome = Installed::Fresh;
    if hook.exists() {
        let existing = std::fs::read_to_string(&hook).unwrap_or_default();
        if existing.contains(MARKER) {
            if let Some(holder) = owning_instance(&existing) {
                bail!(
                    "{} is managed by a running netkan up ({holder}); stop it first",
                    hook.display()
                );
            }
            outcome = Installed::Updated;
        } else {
            if chained.exists() {
                bail!(
                    "{} exists and is not netkan's, and {} is taken too; merge them by hand",
                    hook.display(),
                    chained.display()
                );
            }
            std::fs::rename(&hook, &chained)
                .with_context(|| format!("moving the existing hook to {}", chained.display()))?;
            outcome = Installed::Chained;
        }
    }
    let mut args = vec![quote(&opts.binary.display().to_string())];
    args.extend(opts.before.iter().map(|w| quote(w)));
    args.extend([
        "post-receive".to_owned(),
        "--game".to_owned(),
        quote(&opts.game),
    ]);
    if let Some(url) = &opts.base_url {
        args.push("--base-url".into());
        args.push(quote(url));
    }
    if let Some(cfg) = &opts.config {
        args.push("--config".into());
        args.push(quote(&cfg.display().to_string()));
    }
    if let Some(dir) = &opts.spool_dir {
        args.push("--spool-dir".into());
        args.push(quote(&dir.display().to_string()));
    }
    let run = args.join(" ");
    let script = if chained.exists() {
        format!(
            "#!/bin/sh\n{MARKER}; the previous hook runs first, as post-receive.chained\ninput=$(cat)\nprintf '%s\\n' \"$input\" | \"$(dirname \"$0\")/post-receive.chained\"\nprintf '%s\\n' \"$input\" | exec {run}\n"
        )
    } else {
        format!("#!/bin/sh\n{MARKER}\nexec {run}\n")
    };
    let tmp = hooks.join(".post-receive.netkan.tmp");
    std::fs::write(&tmp, script).with_context(|| format!("writing {}", tmp.display()))?;
    set_executable(&tmp)?;
    std::fs::rename(&tmp, &hook).with_context(|| format!("installing {}", hook.display()))?;
    Ok(outcome)
}

/// The running `netkan up`, other than this process, whose hook `script` is: `netkan up`
/// writes its hook's config (`hook.toml`) into its data directory, which its lock guards.
fn owning_instance(script: &str) -> Option<netkan_common::instance::Holder> {
    let quoted = script.split(" --config '").nth(1)?;
    let config = quoted.split('\'').next()?;
    let data_dir = Path::new(config).parent()?;
    netkan_common::instance::running_elsewhere(data_dir)
}

/// Single-quotes a word for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn set_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perm = std::fs::metadata(path)?.permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(path, perm)?;
    Ok(())
}
