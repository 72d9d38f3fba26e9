//! `netkan jobs follow <uuid>`: prints a job's log lines as they are written, read from the
//! web front end's API (`/api/v1/jobs/<uuid>?after=<cursor>`), until the job finishes; then
//! waits for everything the job caused (the API's `tree`), prints the verdict and each failed
//! job as `<Identifier>: <reason>`. The caller exits 0 if the whole tree succeeded and 1 if
//! anything in it failed or died.
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
use netkan_common::queue::{TreeState, TreeSummary};
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
    /// Absent from a web front end older than the roll-up: the job's own outcome decides.
    #[serde(default)]
    tree: Option<TreeSummary>,
}

#[derive(Deserialize)]
struct Line {
    cursor: u64,
    timestamp: String,
    level: String,
    message: String,
}

/// Follows job `id` on the web front end at `base_url`; true if it and everything it caused
/// succeeded.
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
    // Once the job itself has finished and its last line was printed, only its tree is read.
    let mut own_done = false;
    loop {
        let limit = if own_done { 0 } else { PAGE };
        let mut url = format!("{base}/api/v1/jobs/{id}?limit={limit}");
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
                    match &job.tree {
                        None => return Ok(finish(&id, &job)),
                        Some(tree) if tree.is_finished() => {
                            return verdict(&id, &job, tree, out);
                        }
                        Some(tree) => {
                            if !own_done {
                                eprintln!(
                                    "netkan: job {id} {}; waiting for the jobs it caused ({})",
                                    job.state,
                                    tree.verdict()
                                );
                            }
                            own_done = true;
                        }
                    }
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

/// Prints how the tree ended (`netkan: job <id> <state>; with the jobs it caused, <verdict>`,
/// then each failure as `<Identifier>: <reason>`); true if it succeeded.
fn verdict(
    id: &JobId,
    job: &Job,
    tree: &TreeSummary,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    if tree.counts.jobs <= 1 {
        return Ok(finish(id, job));
    }
    writeln!(
        out,
        "netkan: job {id} {}; with the jobs it caused, {}",
        job.state,
        tree.verdict()
    )?;
    for line in tree.failure_lines() {
        writeln!(out, "{}", visible_controls(&line))?;
    }
    out.flush()?;
    Ok(tree.state == TreeState::Succeeded)
}

fn finish(id: &JobId, job: &Job) -> bool {
    match (&job.last_error, job.success) {
        (_, true) => eprintln!("netkan: job {id} {}", job.state),
        (Some(e), false) => eprintln!("netkan: job {id} {}: {e}", job.state),
        (None, false) => eprintln!("netkan: job {id} {}", job.state),
    }
    job.success
}
