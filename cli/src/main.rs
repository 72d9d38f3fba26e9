//! `netkan`: the operator command.

mod ckan;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "netkan",
    version,
    about = "Run and operate the NetKAN pipeline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect CKAN metadata files (.netkan, .frozen, .ckan).
    Ckan(ckan::CkanCommand),
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Ckan(cmd) => ckan::run(cmd),
    }
}
