//! `netkan-worker`: runs worker roles against a configured Redis, or the job-core benchmark.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use netkan_common::config::Settings;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "netkan-worker", version, about = "netkan job worker")]
struct Cli {
    /// TOML configuration file (also NETKAN_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve roles until SIGTERM or Ctrl-C.
    Run {
        /// Roles to serve, optionally with a concurrency: `noop=100`. Default: from config.
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Measure the job core on a private redis-server.
    Bench(netkan_worker::bench::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load(cli.config.as_deref())?;
    netkan_common::telemetry::init(&settings.log);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match cli.command {
        Command::Run { roles } => {
            for r in roles {
                let (name, conc) =
                    match r.split_once('=') {
                        Some((n, c)) => (
                            n.to_owned(),
                            Some(c.parse::<usize>().with_context(|| {
                                format!("--role {r}: concurrency is not a number")
                            })?),
                        ),
                        None => (r.clone(), None),
                    };
                if let Some(c) = conc {
                    settings.worker.concurrency.insert(name.clone(), c);
                }
                settings.worker.roles.push(name);
            }
            settings.validate()?;
            let url = settings
                .redis
                .url
                .clone()
                .context("no Redis configured: set REDIS_URL (or redis.url), or use `netkan up`, which starts its own")?;
            runtime.block_on(async {
                let shutdown = CancellationToken::new();
                tokio::spawn(netkan_worker::shutdown_on_signals(shutdown.clone()));
                netkan_worker::run(&settings, url.expose(), shutdown).await?;
                Ok(())
            })
        }
        Command::Bench(args) => runtime.block_on(netkan_worker::bench::run(args, &settings)),
    }
}
