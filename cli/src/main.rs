//! `netkan`: the operator command. `netkan up` runs the whole system on one machine; the
//! other subcommands inspect and repair it.

mod up;

use std::path::PathBuf;

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load(cli.config.as_deref())?;
    netkan_common::telemetry::init(&settings.log);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match cli.command {
        Command::Up { data_dir } => {
            if let Some(d) = data_dir {
                settings.data_dir = d;
            }
            runtime.block_on(async {
                let shutdown = CancellationToken::new();
                tokio::spawn(netkan_worker::shutdown_on_signals(shutdown.clone()));
                up::run(settings, shutdown).await
            })
        }
    }
}
