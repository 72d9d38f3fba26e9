//! `netkan-web`: the web front end alone (`netkan up` also runs it beside the workers).
//! Reads the settings, binds `web.bind` and serves until SIGINT or SIGTERM.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use netkan_common::config::Settings;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "netkan-web",
    version,
    about = "Serve netkan's webhooks, job pages, API and dashboard"
)]
struct Cli {
    /// TOML configuration file (also NETKAN_CONFIG).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    netkan_common::telemetry::init(&settings.log);
    // Without REDIS_URL, the Redis that `netkan up` starts on this machine.
    let url = match &settings.redis.url {
        Some(u) => u.expose().to_owned(),
        None => format!("redis://127.0.0.1:{}/", settings.redis.embedded_port),
    };
    let listener = std::net::TcpListener::bind(&settings.web.bind)
        .with_context(|| format!("binding web.bind = {}", settings.web.bind))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signals(shutdown.clone()));
    netkan_web::run(&settings, &url, listener, shutdown).await
}

async fn cancel_on_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        // Without signal handlers the process still stops when killed.
        _ => std::future::pending().await,
    }
    shutdown.cancel();
}
