//! `netkan status`: the status store from the command line: a mod's status, the
//! `status.json` export of a game (what `/status/netkan.json` serves), and the dump and
//! restore of every game (the reference's `dump-status` / `restore-status`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use netkan_common::Game;
use netkan_common::config::Settings;
use netkan_common::status::{StatusStore, isoformat};
use redis::aio::MultiplexedConnection;

/// `netkan status ...`
#[derive(Subcommand)]
pub(crate) enum StatusCommand {
    /// A mod's status.
    Show {
        /// The identifier.
        identifier: String,
        /// The game.
        #[arg(long, default_value = "ksp")]
        game: String,
    },
    /// `status.json` of a game: every mod's status keyed by identifier.
    Export {
        /// The game.
        #[arg(long, default_value = "ksp")]
        game: String,
        /// Write it here (atomically) instead of to standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Every configured game's `status.json` in one object (`{"ksp": {...}, "ksp2": {...}}`).
    Dump {
        /// Write it here (atomically) instead of to standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Replaces the status of every mod in a dump (also the reference's dumps, with
    /// `no_game_id`).
    Restore {
        /// The dump.
        file: PathBuf,
    },
}

/// Runs a `netkan status` command.
pub(crate) async fn run(
    settings: &Settings,
    conn: &mut MultiplexedConnection,
    cmd: StatusCommand,
    json: bool,
) -> anyhow::Result<()> {
    let store = StatusStore::new(settings.job_queue().keys().clone());
    match cmd {
        StatusCommand::Show { identifier, game } => {
            let game = Game::new(&game)?;
            let Some(s) = store.get(conn, &game, &identifier).await? else {
                anyhow::bail!("no status for {identifier} in {game}");
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&s.to_json())?);
                return Ok(());
            }
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or_else(|| "—".to_owned(), |t| isoformat(&t))
            };
            println!("{identifier} ({game})");
            let success = s.success.map_or("—".to_owned(), |b| b.to_string());
            for (k, v) in [
                ("success", success),
                ("frozen", s.frozen.to_string()),
                ("last_inflated", time(s.last_inflated)),
                ("last_indexed", time(s.last_indexed)),
                ("last_downloaded", time(s.last_downloaded)),
                ("release_date", time(s.release_date)),
                ("last_checked", time(s.last_checked)),
            ] {
                println!("  {k:<16} {v}");
            }
            for (k, v) in [
                ("last_error", &s.last_error),
                ("last_warnings", &s.last_warnings),
            ] {
                if let Some(v) = v {
                    println!("  {k:<16} {}", v.replace("\r\n", "\n                   "));
                }
            }
            for (k, v) in &s.resources {
                println!(
                    "  {:<16} {}",
                    format!("resources.{k}"),
                    v.as_str().unwrap_or(&v.to_string())
                );
            }
        }
        StatusCommand::Export { game, out } => {
            let game = Game::new(&game)?;
            let v = serde_json::Value::Object(store.export(conn, &game).await?);
            emit(&v, out.as_deref())?;
        }
        StatusCommand::Dump { out } => {
            let games: Vec<Game> = settings
                .games
                .keys()
                .map(Game::new)
                .collect::<Result<_, _>>()?;
            let v = serde_json::Value::Object(store.dump(conn, &games).await?);
            emit(&v, out.as_deref())?;
        }
        StatusCommand::Restore { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let n = store
                .restore(conn, &v)
                .await
                .with_context(|| format!("restoring {}", file.display()))?;
            println!("restored the status of {n} mods from {}", file.display());
        }
    }
    Ok(())
}

/// Writes JSON to `out` (through a temporary file renamed into place) or standard output.
fn emit(v: &serde_json::Value, out: Option<&Path>) -> anyhow::Result<()> {
    let text = serde_json::to_string(v)?;
    match out {
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.write_all(b"\n")?;
        }
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("writing into {}", dir.display()))?;
            tmp.write_all(text.as_bytes())?;
            tmp.persist(path)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}
