//! `netkan-hook`: install the post-receive hook, or run it (git runs it with the push on stdin).

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use netkan_common::Game;
use netkan_common::config::Settings;

#[derive(Parser)]
#[command(
    name = "netkan-hook",
    version,
    about = "netkan's git post-receive hook"
)]
struct Cli {
    /// TOML configuration file (also NETKAN_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Install {
            repo,
            game,
            base_url,
        } => {
            let game = Game::new(&game)?;
            let binary = std::env::current_exe().context("locating netkan-hook")?;
            let config = cli.config.map(|c| c.canonicalize().unwrap_or(c));
            let outcome = netkan_hooks::install::install(
                &repo,
                &netkan_hooks::install::InstallOptions {
                    binary,
                    game: game.to_string(),
                    base_url: base_url.or_else(|| Some(settings.web.base_url.clone())),
                    config,
                },
            )?;
            println!(
                "post-receive hook installed in {} ({outcome:?})",
                repo.display()
            );
            Ok(())
        }
        Command::PostReceive {
            game,
            base_url,
            follow,
        } => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .context("reading git's input")?;
            let repo = std::env::var_os("GIT_DIR")
                .map(PathBuf::from)
                .map_or_else(std::env::current_dir, Ok)
                .context("locating the repository")?;
            let run = netkan_hooks::HookRun {
                repo,
                game: Game::new(&game)?,
                base_url: base_url.unwrap_or_else(|| settings.web.base_url.clone()),
                pusher: netkan_hooks::pusher_from_env(),
                follow: follow || settings.hooks.follow,
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let mut out = std::io::stdout();
            if let Err(e) = runtime.block_on(netkan_hooks::post_receive(
                &settings, &run, &input, &mut out,
            )) {
                // A hook error must never look like a failed push: report and exit 0.
                println!("netkan: hook error: {e:#}");
            }
            Ok(())
        }
    }
}
