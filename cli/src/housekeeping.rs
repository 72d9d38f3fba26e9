//! `netkan housekeeping run <kind> [--game G]`: enqueues one housekeeping job now (the same
//! job the schedule enqueues, on the high lane) and prints its id and log page. A worker with
//! the `housekeeping` role runs it; if a run of that kind is already going, the new one says
//! so in its log and does nothing.
//!
//! Output contract: `<kind> for <game> queued as <uuid>` then `log: <base_url>/logs/<uuid>`;
//! with `--json`, `{"id", "kind", "game", "log"}`.

use clap::Subcommand;
use netkan_common::config::Settings;
use netkan_common::{Game, Lane};
use netkan_worker::jobs::housekeeping::{KINDS, new_job, per_game};
use redis::aio::MultiplexedConnection;

#[derive(Subcommand)]
pub(crate) enum HousekeepingCommand {
    /// Run one now: download-count, auto-freeze, ticket-close or clean-cache.
    Run {
        /// The job kind.
        kind: String,
        /// The game (for download-count and auto-freeze).
        #[arg(long, default_value = "ksp")]
        game: String,
    },
    /// The housekeeping kinds and their schedules.
    List,
}

pub(crate) async fn run(
    settings: &Settings,
    conn: &mut MultiplexedConnection,
    cmd: HousekeepingCommand,
    json: bool,
) -> anyhow::Result<()> {
    match cmd {
        HousekeepingCommand::Run { kind, game } => {
            let game = Game::new(&game).map_err(|e| anyhow::anyhow!("--game: {e}"))?;
            if per_game(&kind) && !settings.games.contains_key(game.as_str()) {
                anyhow::bail!("--game: {game} is not configured (no [games.{game}] section)");
            }
            let job = new_job(&kind, game.clone(), Lane::High).map_err(anyhow::Error::msg)?;
            let id = job.id;
            settings.job_queue().enqueue(conn, &[job]).await?;
            let log = format!("{}/logs/{id}", settings.web.base_url.trim_end_matches('/'));
            if json {
                println!(
                    "{}",
                    serde_json::json!({"id": id.to_string(), "kind": kind, "game": game.as_str(), "log": log})
                );
            } else {
                println!("{kind} for {game} queued as {id}");
                println!("log: {log}");
            }
        }
        HousekeepingCommand::List => {
            let h = &settings.housekeeping;
            let schedules = [
                h.download_count.schedule(),
                h.auto_freeze.schedule(),
                h.ticket_close.schedule(),
                h.clean_cache.schedule(),
            ];
            for ((kind, per), s) in KINDS.iter().zip(schedules) {
                let when = if !s.enabled {
                    "by hand only".to_owned()
                } else if s.every_secs > 0 {
                    format!("every {} s", s.every_secs)
                } else {
                    format!("daily at {} UTC", s.at)
                };
                let scope = if *per { "per game" } else { "once" };
                println!("{kind:<16} {scope:<9} {when}");
            }
        }
    }
    Ok(())
}
