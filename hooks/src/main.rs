//! `netkan-hook`: install the post-receive hook, or run it (git runs it with the push on stdin).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use netkan_common::config::Settings;
use netkan_hooks::cli::HookCommand;

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
    command: HookCommand,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    let binary = std::env::current_exe().context("locating netkan-hook")?;
    netkan_hooks::cli::run(cli.command, &settings, cli.config, (binary, Vec::new()))
}
