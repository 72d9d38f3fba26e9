//! Operator commands over the job protocol: queue depths, in-flight jobs, the dead-letter
//! list (list, retry, delete), one job's record and log, workers. Readable by default,
//! JSON with `--json`.

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;
use netkan_common::config::Settings;
use netkan_common::log::{LogQuery, visible_controls};
use netkan_common::queue::Cancelled;
use netkan_common::{JobId, JobQueue, QueueName};
use redis::aio::MultiplexedConnection;

/// `netkan dead ...`
#[derive(Subcommand)]
pub(crate) enum DeadCommand {
    /// Dead jobs of every queue (or one), most recent first, with the reason.
    List {
        /// Only this queue.
        #[arg(long)]
        queue: Option<String>,
        /// At most this many per queue.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Put dead jobs back in their queue (same id, attempts reset).
    Retry {
        /// Job ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Delete dead jobs with their records and logs.
    Delete {
        /// Job ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

pub(crate) async fn connect(settings: &Settings) -> anyhow::Result<MultiplexedConnection> {
    let url = settings.redis_url();
    let client = redis::Client::open(url.as_str()).context("invalid redis URL")?;
    client
        .get_multiplexed_async_connection()
        .await
        .with_context(|| {
            format!(
                "cannot reach redis at {} (is `netkan up` running, or REDIS_URL set?)",
                netkan_common::log::redact_url_passwords(&url)
            )
        })
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn age(t: chrono::DateTime<Utc>) -> String {
    let s = (Utc::now() - t).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `netkan queues`: depths, in-flight jobs with age and holder, dead counts.
pub(crate) async fn queues(
    jq: &JobQueue,
    conn: &mut MultiplexedConnection,
    json: bool,
) -> anyhow::Result<()> {
    let stats = jq.stats(conn).await?;
    let paused = jq.paused(conn).await?;
    let mut in_flight = Vec::new();
    for s in &stats {
        let q = QueueName::new(s.queue.clone())?;
        in_flight.push((s.queue.clone(), jq.in_flight(conn, &q, 100).await?));
    }
    if json {
        return print_json(
            &serde_json::json!({"queues": stats, "paused": paused, "in_flight": in_flight.iter().map(|(q, f)| serde_json::json!({"queue": q, "jobs": f})).collect::<Vec<_>>()}),
        );
    }
    println!(
        "{:<16} {:>8} {:>8} {:>9} {:>9} {:>6}",
        "queue", "high", "low", "retrying", "in-flight", "dead"
    );
    for s in &stats {
        let state = if paused.contains(&s.queue) {
            "paused"
        } else {
            ""
        };
        println!(
            "{:<16} {:>8} {:>8} {:>9} {:>9} {:>6} {state}",
            s.queue, s.high, s.low, s.retrying, s.in_flight, s.dead
        );
    }
    for (q, jobs) in in_flight {
        for f in jobs {
            println!(
                "  {q}: {} {} attempt {} running {} on {}",
                f.id,
                f.kind,
                f.attempt,
                age(f.started),
                f.worker
            );
        }
    }
    Ok(())
}

/// `netkan queues pause|resume <queue>`.
pub(crate) async fn pause(
    jq: &JobQueue,
    conn: &mut MultiplexedConnection,
    queue: &str,
    pause: bool,
    json: bool,
) -> anyhow::Result<()> {
    let q = QueueName::new(queue)?;
    let changed = if pause {
        jq.pause(conn, &q).await?
    } else {
        jq.resume(conn, &q).await?
    };
    if json {
        return print_json(
            &serde_json::json!({"queue": queue, "paused": pause, "changed": changed}),
        );
    }
    let state = if pause { "paused" } else { "running" };
    if changed {
        println!("{queue}: {state}");
    } else {
        println!("{queue}: {state} already");
    }
    Ok(())
}

/// `netkan jobs cancel <uuid>`.
pub(crate) async fn cancel(
    jq: &JobQueue,
    conn: &mut MultiplexedConnection,
    id: &str,
    json: bool,
) -> anyhow::Result<()> {
    let id: JobId = id.parse()?;
    let done = jq.cancel(conn, &id, "netkan jobs cancel").await?;
    let (state, line) = match done {
        Cancelled::Now => ("cancelled", format!("job {id} cancelled; it will not run")),
        Cancelled::Requested => (
            "cancelling",
            format!("job {id} is running: its worker stops it at its next lease renewal"),
        ),
    };
    if json {
        return print_json(&serde_json::json!({"jobId": id, "state": state}));
    }
    println!("{line}");
    Ok(())
}

/// `netkan dead ...`
pub(crate) async fn dead(
    jq: &JobQueue,
    conn: &mut MultiplexedConnection,
    cmd: DeadCommand,
    json: bool,
) -> anyhow::Result<()> {
    match cmd {
        DeadCommand::List { queue, limit } => {
            let queues = match queue {
                Some(q) => vec![QueueName::new(q)?],
                None => jq.queue_names(conn).await?,
            };
            let mut all = Vec::new();
            for q in queues {
                for d in jq.dead(conn, &q, limit).await? {
                    all.push((q.to_string(), d));
                }
            }
            if json {
                return print_json(
                    &all.iter()
                        .map(|(q, d)| serde_json::json!({"queue": q, "job": d}))
                        .collect::<Vec<_>>(),
                );
            }
            if all.is_empty() {
                println!("no dead jobs");
            }
            for (q, d) in all {
                println!(
                    "{} {q} {} died {} ago after {} attempts: {}",
                    d.id,
                    if d.kind.is_empty() {
                        "(undecodable)"
                    } else {
                        &d.kind
                    },
                    age(d.died),
                    d.attempts,
                    d.error
                );
            }
            Ok(())
        }
        DeadCommand::Retry { ids } => {
            for id in ids {
                let id: JobId = id.parse()?;
                jq.retry_dead(conn, &id).await?;
                println!("{id} queued again");
            }
            Ok(())
        }
        DeadCommand::Delete { ids } => {
            for id in ids {
                let id: JobId = id.parse()?;
                jq.delete_dead(conn, &id).await?;
                println!("{id} deleted");
            }
            Ok(())
        }
    }
}

/// `netkan jobs show <id>`: the record and the whole log.
pub(crate) async fn show_job(
    jq: &JobQueue,
    conn: &mut MultiplexedConnection,
    id: &str,
    json: bool,
) -> anyhow::Result<()> {
    let id: JobId = id.parse()?;
    let rec = jq
        .job(conn, &id)
        .await?
        .with_context(|| format!("no job {id} (unknown, or expired after the retention time)"))?;
    let logs = jq.logs(conn, &id, &LogQuery::default()).await?;
    if json {
        return print_json(&serde_json::json!({"job": rec, "logs": logs}));
    }
    println!("job      {}", rec.id);
    println!(
        "kind     {} (queue {}, lane {}, game {})",
        rec.kind,
        rec.queue,
        rec.lane.as_str(),
        rec.game
    );
    println!("state    {} after {} attempt(s)", rec.state, rec.attempts);
    println!("created  {}", rec.created.to_rfc3339());
    if let Some(t) = rec.started {
        println!("started  {}", t.to_rfc3339());
    }
    if let Some(t) = rec.finished {
        println!("finished {}", t.to_rfc3339());
    }
    if let Some(e) = &rec.last_error {
        println!("error    {e}");
    }
    if let Some(p) = rec.parent {
        println!("parent   {p}");
    }
    for c in &rec.children {
        println!("child    {c}");
    }
    for l in logs {
        println!(
            "{} {:<6} {}",
            l.timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            l.level.as_str(),
            visible_controls(&l.message)
        );
    }
    Ok(())
}

/// `netkan workers`: who is working, and their last heartbeat.
pub(crate) async fn workers(
    jq: &JobQueue,
    conn: &mut MultiplexedConnection,
    json: bool,
) -> anyhow::Result<()> {
    let workers = jq.workers(conn).await?;
    if json {
        return print_json(&workers);
    }
    if workers.is_empty() {
        println!("no workers");
    }
    for w in workers {
        println!(
            "{} pid {} on {}: roles {} (concurrency {}), {} running, up {}, last heartbeat {} ago",
            w.id,
            w.pid,
            w.host,
            w.roles.join(","),
            w.concurrency,
            w.running,
            age(w.started),
            age(w.heartbeat)
        );
    }
    Ok(())
}

/// `netkan inflate <id>...`: one `inflate-request` on the `push` queue (served before the
/// scheduler's passes), resolved by the push worker against the NetKAN repository, as the
/// `/inflate` webhook does. Prints the request's id and log URL; returns the id.
pub(crate) async fn inflate(
    settings: &Settings,
    jq: &JobQueue,
    conn: &mut MultiplexedConnection,
    game: &str,
    identifiers: &[String],
    json: bool,
) -> anyhow::Result<JobId> {
    let game = netkan_common::Game::new(game)?;
    anyhow::ensure!(
        settings.games.contains_key(game.as_str()),
        "unknown game {game}: configured games are {}",
        settings
            .games
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    for id in identifiers {
        anyhow::ensure!(
            netkan_common::ckan::module::is_valid_identifier(id),
            "invalid identifier {id:?}: identifiers match ^[A-Za-z0-9][A-Za-z0-9-]+$"
        );
    }
    let job = netkan_common::requests::inflate_request_job(&game, identifiers);
    let id = *jq
        .enqueue(conn, std::slice::from_ref(&job))
        .await?
        .first()
        .context("enqueue returned no id")?;
    let url = format!("{}/logs/{id}", settings.web.base_url.trim_end_matches('/'));
    if json {
        print_json(&serde_json::json!({ "id": id.to_string(), "log": url }))?;
    } else {
        println!("inflation of {} queued as {id}", identifiers.join(", "));
        println!("log: {url}");
    }
    Ok(id)
}
