//! The hook's command line, shared by `netkan-hook` and `netkan hook`: `install` writes the
//! hook into a bare repository, `post-receive` is what git runs.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use netkan_common::Game;
use netkan_common::config::Settings;

/// `install` or `post-receive`.
#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Install the hook into a bare repository (idempotent; an existing hook is chained).
    Install {
        /// The bare repository.
        repo: PathBuf,
        /// The repository's game.
        #[arg(long, default_value = "ksp")]
        game: String,
        /// Public URL of the web front end (default: web.base_url).
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Run as git's post-receive hook (reads `<old> <new> <ref>` lines on stdin).
    PostReceive {
        /// The repository's game.
        #[arg(long, default_value = "ksp")]
        game: String,
        /// Public URL of the web front end (default: web.base_url).
        #[arg(long)]
        base_url: Option<String>,
        /// Stream the push job's NOTICE lines until it ends (default: hooks.follow).
        #[arg(long)]
        follow: bool,
        /// Where to spool the job when Redis is down (default: hooks.spool_dir); `install`
        /// writes the absolute directory the workers drain.
        #[arg(long)]
        spool_dir: Option<PathBuf>,
    },
    /// Enqueue the jobs spooled while Redis was unreachable, oldest first, exactly once
    /// (workers do this too, at start and every 10 s; this is for a git host without one).
    Drain,
}

/// Runs a hook command. `invoke` is how the installed script calls this program back: the
/// binary and the words before `post-receive` (`["hook"]` for `netkan hook`).
pub fn run(
    cmd: HookCommand,
    settings: &Settings,
    config: Option<PathBuf>,
    invoke: (PathBuf, Vec<String>),
) -> anyhow::Result<()> {
    match cmd {
        HookCommand::Install {
            repo,
            game,
            base_url,
        } => {
            let game = Game::new(&game)?;
            // Resolved here, once, against the installer's working directory: the hook runs
            // inside the repository, where relative paths would mean something else.
            let cwd = std::env::current_dir().context("reading the working directory")?;
            let config = config.map(|c| c.canonicalize().unwrap_or_else(|_| cwd.join(c)));
            let spool_dir = cwd.join(settings.spool_dir());
            let outcome = crate::install::install(
                &repo,
                &crate::install::InstallOptions {
                    binary: invoke.0,
                    before: invoke.1,
                    game: game.to_string(),
                    base_url: base_url.or_else(|| Some(settings.web.base_url.clone())),
                    config,
                    spool_dir: Some(spool_dir.clone()),
                },
            )?;
            println!(
                "post-receive hook installed in {} ({outcome:?}); it spools to {} when Redis is down",
                repo.display(),
                spool_dir.display()
            );
            Ok(())
        }
        HookCommand::PostReceive {
            game,
            base_url,
            follow,
            spool_dir,
        } => {
            let mut settings = settings.clone();
            if spool_dir.is_some() {
                settings.hooks.spool_dir = spool_dir;
            }
            let settings = &settings;
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .context("reading git's input")?;
            let repo = std::env::var_os("GIT_DIR")
                .map(PathBuf::from)
                .map_or_else(std::env::current_dir, Ok)
                .context("locating the repository")?;
            let run = crate::HookRun {
                repo,
                game: Game::new(&game)?,
                base_url: base_url.unwrap_or_else(|| settings.web.base_url.clone()),
                pusher: crate::pusher_from_env(),
                follow: follow || settings.hooks.follow,
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let mut out = std::io::stdout();
            if let Err(e) = runtime.block_on(crate::post_receive(settings, &run, &input, &mut out))
            {
                // A hook error must never look like a failed push: report and exit 0.
                println!("netkan: hook error: {e:#}");
            }
            Ok(())
        }
        HookCommand::Drain => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(drain(settings))
        }
    }
}

async fn drain(settings: &Settings) -> anyhow::Result<()> {
    // Absolute in what it prints, so an operator sees which directory was drained.
    let dir = std::env::current_dir()
        .context("reading the working directory")?
        .join(settings.spool_dir());
    let url = settings.redis_url();
    let client = redis::Client::open(url.as_str()).context("invalid redis URL")?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .with_context(|| {
            format!(
                "cannot reach redis at {}; the spool in {} stays as it is",
                netkan_common::log::redact_url_passwords(&url),
                dir.display()
            )
        })?;
    let drained = netkan_common::spool::drain(&dir, &settings.job_queue(), &mut conn).await?;
    for id in &drained.enqueued {
        println!("enqueued {id}");
    }
    for (path, problem) in &drained.unreadable {
        eprintln!(
            "left in place, not a spooled job: {} ({problem})",
            path.display()
        );
    }
    println!(
        "{} spooled job(s) enqueued from {}",
        drained.enqueued.len(),
        dir.display()
    );
    Ok(())
}
