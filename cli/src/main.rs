//! `netkan`: the operator command. `netkan up` runs the whole system on one machine; the
//! other subcommands inspect and repair it.

mod analyze;
mod cache;
mod ckan;
mod example;
mod follow;
mod housekeeping;
mod inflate_file;
mod ops;
mod status;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use netkan_common::config::Settings;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "netkan",
    version,
    about = "Run and operate the NetKAN pipeline"
)]
struct Cli {
    /// TOML configuration file (also NETKAN_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything on this machine (starts its own Redis unless REDIS_URL is set).
    Up {
        /// Data directory (default: `data_dir` from the configuration, `./data`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Queue inflations of these identifiers (from the NetKAN repository's default branch).
    Inflate {
        /// Identifiers (file stems under `NetKAN/`).
        #[arg(required = true)]
        identifiers: Vec<String>,
        /// The game.
        #[arg(long, default_value = "ksp")]
        game: String,
        /// Print the request's log as it grows (from the web front end); exit 1 if it fails.
        #[arg(long)]
        follow: bool,
    },
    /// Queue depths, in-flight jobs with age and holder, dead counts; pause or resume a queue.
    Queues {
        #[command(subcommand)]
        action: Option<QueuesCommand>,
    },
    /// The dead-letter list: list, retry, delete.
    #[command(subcommand)]
    Dead(ops::DeadCommand),
    /// Jobs: show one with its log.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Workers and their last heartbeat.
    Workers,
    /// Housekeeping jobs (download counts, freezing, tickets, cache): run one now.
    #[command(subcommand)]
    Housekeeping(housekeeping::HousekeepingCommand),
    /// Mod status: show one, export a game's status.json, dump and restore them all.
    #[command(subcommand)]
    Status(status::StatusCommand),
    /// Inspect CKAN metadata files (.netkan, .frozen, .ckan).
    Ckan(ckan::CkanCommand),
    /// Inflate one .netkan here and print its .ckan files (no Redis; hosts from the config).
    InflateFile(inflate_file::InflateFileArgs),
    /// The git post-receive hook: install it into a bare repository, or run it.
    #[command(subcommand)]
    Hook(netkan_hooks::cli::HookCommand),
    /// Remove downloads older than N days from the download cache.
    CleanCache(cache::CleanCacheArgs),
    /// Download a mod's zip and guess its .netkan properties (tags, depends, install, $vref).
    AnalyzeMod(analyze::AnalyzeArgs),
}

#[derive(Subcommand)]
enum QueuesCommand {
    /// Stop workers claiming from a queue (running jobs finish); kept until resumed.
    Pause {
        /// The queue, such as `inbound.ksp`.
        queue: String,
    },
    /// Let workers claim from a paused queue again, at once.
    Resume {
        /// The queue.
        queue: String,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// A job's record and its whole log.
    Show {
        /// The job id.
        id: String,
    },
    /// Cancel a queued job (it never runs) or a running one (its worker stops it); it ends
    /// `cancelled` and is not retried.
    Cancel {
        /// The job id.
        id: String,
    },
    /// Print a job's log lines as they come, from the web front end; exit 1 if it fails.
    Follow {
        /// The job id.
        id: String,
        /// The web front end (default: `web.base_url`).
        #[arg(long)]
        url: Option<String>,
    },
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    if let Command::Ckan(cmd) = cli.command {
        // Works on files alone: no settings, no Redis.
        return ckan::run(cmd);
    }
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Command::CleanCache(args) = &cli.command {
        return cache::run(args, &settings, cli.json);
    }
    if let Command::Hook(cmd) = cli.command {
        // Short-lived, run by git: no telemetry, its own small runtime.
        let binary = std::env::current_exe().context("locating netkan")?;
        netkan_hooks::cli::run(cmd, &settings, cli.config, (binary, vec!["hook".into()]))?;
        return Ok(ExitCode::SUCCESS);
    }
    netkan_common::telemetry::init(&settings.log);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        if let Command::Up { data_dir } = cli.command {
            if let Some(d) = data_dir {
                settings.data_dir = d;
            }
            let shutdown = CancellationToken::new();
            tokio::spawn(netkan_worker::shutdown_on_signals(shutdown.clone()));
            up::run(settings, shutdown).await?;
            return Ok(ExitCode::SUCCESS);
        }
        if let Command::InflateFile(args) = cli.command {
            return inflate_file::run(args, &settings).await;
        }
        if let Command::Jobs(JobsCommand::Follow { id, url }) = cli.command {
            let url = url.unwrap_or_else(|| settings.web.base_url.clone());
            let succeeded = follow::run(&url, &id, &mut std::io::stdout().lock()).await?;
            return Ok(if succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        if let Command::AnalyzeMod(args) = cli.command {
            return analyze::run(&settings, args).await;
        }
        let jq = settings.job_queue();
        let mut conn = ops::connect(&settings).await?;
        if let Command::Inflate {
            identifiers,
            game,
            follow,
        } = &cli.command
        {
            let id = ops::inflate(&settings, &jq, &mut conn, game, identifiers, cli.json).await?;
            if !*follow {
                return Ok(ExitCode::SUCCESS);
            }
            let succeeded = follow::run(
                &settings.web.base_url,
                &id.to_string(),
                &mut std::io::stdout().lock(),
            )
            .await?;
            return Ok(if succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        match cli.command {
            Command::Queues { action: None } => ops::queues(&jq, &mut conn, cli.json).await?,
            Command::Queues {
                action: Some(QueuesCommand::Pause { queue }),
            } => ops::pause(&jq, &mut conn, &queue, true, cli.json).await?,
            Command::Queues {
                action: Some(QueuesCommand::Resume { queue }),
            } => ops::pause(&jq, &mut conn, &queue, false, cli.json).await?,
            Command::Jobs(JobsCommand::Cancel { id }) => {
                ops::cancel(&jq, &mut conn, &id, cli.json).await?
            }
            Command::Dead(cmd) => ops::dead(&jq, &mut conn, cmd, cli.json).await?,
            Command::Jobs(JobsCommand::Show { id }) => {
                ops::show_job(&jq, &mut conn, &id, cli.json).await?
            }
            Command::Workers => ops::workers(&jq, &mut conn, cli.json).await?,
            Command::Status(cmd) => status::run(&settings, &mut conn, cmd, cli.json).await?,
            Command::Housekeeping(cmd) => {
                housekeeping::run(&settings, &mut conn, cmd, cli.json).await?
            }
            Command::Up { .. }
            | Command::Inflate { .. }
            | Command::Ckan(_)
            | Command::Hook(_)
            | Command::CleanCache(_)
            | Command::AnalyzeMod(_)
            | Command::InflateFile(_)
            | Command::Jobs(JobsCommand::Follow { .. }) => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}
