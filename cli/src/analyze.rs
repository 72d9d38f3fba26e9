//! `netkan analyze-mod <ident> <url>`: downloads a mod's zip and prints the `.netkan`
//! properties the adder would guess for it (NetKAN-Infra's `analyze-mod`): `identifier:`
//! then `$vref`, `tags`, `depends` and `install`, as YAML in the NetKAN layout, or as JSON
//! with `--json`. Needs no Redis; the download goes through the configured hosts settings.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use netkan_common::config::Settings;
use netkan_worker::analyzer;
use serde_json::{Map, Value};

#[derive(Args)]
pub(crate) struct AnalyzeArgs {
    /// The mod's identifier (the folder the install stanza looks for).
    ident: String,
    /// Where its zip can be downloaded.
    url: String,
    /// The game (decides the mod root: GameData, or BepInEx/plugins for ksp2).
    #[arg(long, default_value = "ksp")]
    game: String,
    /// Print JSON instead of YAML.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(settings: &Settings, args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let game = netkan_common::Game::new(&args.game).context("--game")?;
    let http = netkan_inflator::http::HttpClient::new(&settings.hosts)?;
    let analysis = analyzer::analyze_url(
        &http,
        &args.ident,
        analyzer::mod_root(game.as_str()),
        &args.url,
    )
    .await
    .with_context(|| format!("analyzing {}", args.url))?;
    let mut out = Map::new();
    out.insert("identifier".into(), Value::String(args.ident.clone()));
    out.extend(analysis.netkan_properties());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&Value::Object(out))?);
    } else {
        print!("{}", netkan_worker::netkan_yaml::document(&out));
    }
    Ok(ExitCode::SUCCESS)
}
