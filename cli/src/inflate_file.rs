//! `netkan inflate-file`: one inflation on this machine, with the same [`Inflator`] the
//! workers use (hosts, rewrites and cache from the configuration), no Redis. The log goes to
//! standard error as it happens; each `.ckan` goes to standard output (or into `--out`).
//! Exit status: 0 inflated, 1 the inflation failed, 2 bad usage.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use netkan_common::Game;
use netkan_common::config::Settings;
use netkan_common::log::Level;
use netkan_inflator::{InflateRequest, Inflation, InflationLog, Inflator, parse_releases};
use serde_json::json;

/// Options of `netkan inflate-file`.
#[derive(Args)]
pub(crate) struct InflateFileArgs {
    /// The `.netkan` file; its name (without extension) must be the identifier.
    file: PathBuf,
    /// Write each `.ckan` into this directory instead of printing it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The game (`ksp`, `ksp2`).
    #[arg(long, default_value = "ksp")]
    game: String,
    /// The highest version already indexed (auto-epoching).
    #[arg(long)]
    highest_version: Option<String>,
    /// The highest prerelease version already indexed.
    #[arg(long)]
    highest_version_prerelease: Option<String>,
    /// How many releases to inflate: a number or `all`.
    #[arg(long, default_value = "1")]
    releases: String,
    /// Releases to skip first.
    #[arg(long, default_value_t = 0)]
    skip_releases: usize,
    /// Print the outcome as one JSON object (the modules, staging, warnings, error).
    #[arg(long)]
    json: bool,
    /// Show DEBUG lines too.
    #[arg(long, short)]
    verbose: bool,
}

/// Log lines to standard error, `LEVEL message`.
struct Stderr {
    verbose: bool,
}

impl InflationLog for Stderr {
    fn line(&self, level: Level, message: &str) {
        if level == Level::Debug && !self.verbose {
            return;
        }
        let mut err = std::io::stderr().lock();
        // A closed standard error must not stop the inflation.
        let _ = writeln!(err, "{:<6} {message}", level.as_str());
    }
}

fn usage(message: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    eprintln!("netkan inflate-file: {message}");
    Ok(ExitCode::from(2))
}

/// Runs the command.
///
/// # Errors
/// Only for output that cannot be written; a failed inflation is exit status 1.
pub(crate) async fn run(args: InflateFileArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let game = match Game::new(&args.game) {
        Ok(g) => g,
        Err(e) => return usage(format!("--game: {e}")),
    };
    let releases = match parse_releases(&args.releases) {
        Ok(r) => r,
        Err(e) => return usage(format!("--releases: {e}")),
    };
    let text = match std::fs::read_to_string(&args.file) {
        Ok(t) => t,
        Err(e) => return usage(format!("cannot read {}: {e}", args.file.display())),
    };
    let Some(stem) = args.file.file_stem().and_then(|s| s.to_str()) else {
        return usage(format!("{} has no file name", args.file.display()));
    };
    if let Some(dir) = &args.out
        && !dir.is_dir()
    {
        return usage(format!("--out {} is not a directory", dir.display()));
    }
    let inflator = match Inflator::new(settings) {
        Ok(i) => i,
        Err(e) => return usage(format!("configuration: {e}")),
    };
    let mut req = InflateRequest::new(text, game);
    req.file_identifier = Some(stem.to_owned());
    req.releases = releases;
    req.skip_releases = args.skip_releases;
    req.highest_version = args.highest_version;
    req.highest_version_prerelease = args.highest_version_prerelease;
    let inflation = inflator
        .inflate(
            &req,
            &Stderr {
                verbose: args.verbose,
            },
        )
        .await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&as_json(&inflation))?);
    }
    let modules = match &inflation.outcome {
        Ok(m) => m,
        Err(e) => {
            eprintln!("failed: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    for m in modules {
        match &args.out {
            Some(dir) => {
                let path = dir.join(&m.file_name);
                std::fs::write(&path, &m.text)?;
                eprintln!("wrote {}", path.display());
            }
            None if !args.json => print!("{}", m.text),
            None => {}
        }
    }
    if inflation.staged {
        eprintln!("staged:\n{}", inflation.staging_reasons.join("\n\n"));
    }
    let versions: Vec<String> = modules.iter().map(|m| m.version()).collect();
    eprintln!("inflated {} {}", inflation.identifier, versions.join(", "));
    Ok(ExitCode::SUCCESS)
}

fn as_json(inflation: &Inflation) -> serde_json::Value {
    let (modules, error) = match &inflation.outcome {
        Ok(m) => (
            m.iter()
                .map(|m| json!({"file_name": m.file_name, "ckan": m.json}))
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    json!({
        "identifier": inflation.identifier,
        "success": error.is_none(),
        "error": error,
        "staged": inflation.staged,
        "staging_reasons": inflation.staging_reasons,
        "warnings": inflation.warnings,
        "check_time": inflation.check_time_text(),
        "modules": modules,
    })
}
