//! `netkan jobs follow <uuid>`: prints a job's log lines as they are written, read from the
//! web front end's API (`/api/v1/jobs/<uuid>?after=<cursor>`), until the job finishes; then
//! says how it ended. The caller exits 0 if it succeeded and 1 if it failed or died.
//!
//! It polls every 250 ms with a cursor, so no line is printed twice or skipped. Network
//! errors and 5xx answers are retried with backoff (the web may be restarting), any 2xx is
//! success, and a job the web does not know yet is waited for a little (a spooled hook job
//! appears once Redis is back).

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use netkan_common::JobId;
use netkan_common::log::visible_controls;
use serde::Deserialize;

/// Time between polls of a running job.
const POLL: Duration = Duration::from_millis(250);
/// Lines asked for per request; a full page is followed at once by the next.
const PAGE: usize = 1000;
/// Longest wait between retries after errors.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long an unknown job is waited for before giving up.
const UNKNOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Job {
    state: String,
    finished_at: Option<String>,
    success: bool,
    last_error: Option<String>,
    #[serde(default)]
    logs: Vec<Line>,
}

#[derive(Deserialize)]
struct Line {
    cursor: u64,
    timestamp: String,
    level: String,
    message: String,
}

/// Follows job `id` on the web front end at `base_url`; true if it succeeded.
pub(crate) async fn run(base_url: &str, id: &str, out: &mut impl Write) -> anyhow::Result<bool> {
    let id: JobId = id.parse()?;
    let base = base_url.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .user_agent(concat!(
            "netkan/",
            env!("CARGO_PKG_VERSION"),
            " (jobs follow)"
        ))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let mut after: Option<u64> = None;
    let mut backoff = POLL;
    let started = Instant::now();
    loop {
        let mut url = format!("{base}/api/v1/jobs/{id}?limit={PAGE}");
        if let Some(a) = after {
            url.push_str(&format!("&after={a}"));
        }
        let problem = match client.get(&url).send().await {
            Err(e) => format!("cannot reach {base}: {e}"),
            Ok(res) if res.status().is_success() => {
                let job: Job = match res.json().await {
                    Ok(job) => job,
                    Err(e) => bail!("unexpected answer from {url}: {e}"),
                };
                backoff = POLL;
                let full = job.logs.len() == PAGE;
                for line in &job.logs {
                    writeln!(
                        out,
                        "{} {} {}",
                        line.timestamp,
                        line.level,
                        visible_controls(&line.message)
                    )?;
                    after = Some(line.cursor);
                }
                out.flush()?;
                if job.finished_at.is_some() && !full {
                    return Ok(finish(&id, &job));
                }
                if !full {
                    tokio::time::sleep(POLL).await;
                }
                continue;
            }
            Ok(res) if res.status() == reqwest::StatusCode::NOT_FOUND => {
                if started.elapsed() > UNKNOWN_GRACE {
                    bail!("no job {id} at {base} (unknown, or its record has expired)");
                }
                tokio::time::sleep(POLL).await;
                continue;
            }
            Ok(res) if res.status().is_server_error() || res.status().as_u16() == 429 => {
                format!("{base} answered {}", res.status())
            }
            Ok(res) => {
                let status = res.status();
                let body = res.text().await.unwrap_or_default();
                bail!("{url} answered {status}: {body}");
            }
        };
        eprintln!(
            "netkan: {problem}; retrying in {:.1}s",
            backoff.as_secs_f64()
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn finish(id: &JobId, job: &Job) -> bool {
    match (&job.last_error, job.success) {
        (_, true) => eprintln!("netkan: job {id} {}", job.state),
        (Some(e), false) => eprintln!("netkan: job {id} {}: {e}", job.state),
        (None, false) => eprintln!("netkan: job {id} {}", job.state),
    }
    job.success
}
