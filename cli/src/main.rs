//! `netkan`: the operator command.

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
enum Command {}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {}
}
