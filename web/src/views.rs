//! The askama templates' structs (`templates/`) and the formatting they share. Templates
//! escape every value; the structs hold text already formatted, so templates stay plain.

use actix_web::HttpResponse;
use actix_web::http::header;
use askama::Template;
use chrono::{DateTime, Utc};
use netkan_common::queue::{DeadEntry, InFlight, QueueStats, WorkerInfo};
use netkan_common::{JobRecord, Level, LogLine};

use crate::error::WebError;
use crate::live::iso;

/// The Content-Security-Policy of every page: our own scripts and styles only, so even an
/// escaping mistake could not run a script.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Renders a page with the headers every page carries.
pub(crate) fn html(
    status: actix_web::http::StatusCode,
    page: &impl Template,
) -> Result<HttpResponse, WebError> {
    let body = page.render()?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header(("x-robots-tag", "noindex"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// `error.html`.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage<'a> {
    pub(crate) status: u16,
    pub(crate) reason: &'a str,
    pub(crate) message: &'a str,
    pub(crate) request_id: &'a str,
}

/// A job's facts as its page shows them.
pub(crate) struct JobView {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) queue: String,
    pub(crate) lane: &'static str,
    pub(crate) game: String,
    pub(crate) state: &'static str,
    pub(crate) created: String,
    pub(crate) started: String,
    pub(crate) finished: String,
    pub(crate) duration: String,
    pub(crate) attempts: u32,
    pub(crate) worker: String,
    pub(crate) last_error: Option<String>,
    pub(crate) parent: Option<String>,
    pub(crate) is_finished: bool,
}

impl JobView {
    pub(crate) fn new(job: &JobRecord) -> Self {
        let is_finished = job.state.is_finished();
        let finished = job.finished.filter(|_| is_finished);
        let duration = match (job.started, finished) {
            (Some(s), Some(f)) => duration((f - s).num_milliseconds()),
            (Some(s), None) if job.state == netkan_common::JobState::Running => {
                format!("{} so far", duration((Utc::now() - s).num_milliseconds()))
            }
            _ => "—".into(),
        };
        Self {
            id: job.id.to_string(),
            kind: job.kind.clone(),
            queue: job.queue.to_string(),
            lane: job.lane.as_str(),
            game: job.game.to_string(),
            state: job.state.as_str(),
            created: datetime(job.created),
            started: job.started.map_or_else(|| "—".into(), datetime),
            finished: finished.map_or_else(|| "—".into(), datetime),
            duration,
            attempts: job.attempts,
            worker: job.worker.clone().unwrap_or_default(),
            last_error: job.last_error.clone(),
            parent: job.parent.map(|p| p.to_string()),
            is_finished,
        }
    }
}

/// A log line as the page shows it.
pub(crate) struct LineView {
    pub(crate) cursor: u64,
    /// `2024-01-15T10:30:02.123Z`.
    pub(crate) iso: String,
    pub(crate) level: &'static str,
    pub(crate) message: String,
}

impl LineView {
    /// `10:30:02.123`, the time of day shown in front of the line.
    pub(crate) fn time(&self) -> &str {
        self.iso.get(11..23).unwrap_or(&self.iso)
    }
}

impl From<LogLine> for LineView {
    fn from(l: LogLine) -> Self {
        Self {
            cursor: l.cursor,
            iso: iso(l.timestamp),
            level: l.level.as_str(),
            message: visible_controls(&l.message),
        }
    }
}

/// Text as a page shows it: control characters as pictures (see
/// [`netkan_common::log::visible_controls`]). HTML is escaped by the templates; this is about
/// what the text looks like. `logs.js` does the same for lines that arrive live.
pub(crate) fn visible_controls(text: &str) -> String {
    netkan_common::log::visible_controls(text)
}

/// A child (or any related job) in a list.
pub(crate) struct ChildView {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) state: String,
}

/// `logs/show.html`.
#[derive(Template)]
#[template(path = "logs/show.html")]
pub(crate) struct LogPage {
    /// The run view: the verdict of the job's tree and every job in it.
    pub(crate) run: crate::routes::run::RunSection,
    pub(crate) job: JobView,
    pub(crate) lines: Vec<LineView>,
    pub(crate) children: Vec<ChildView>,
    pub(crate) more_children: usize,
    pub(crate) levels: Vec<(&'static str, bool)>,
    pub(crate) level: &'static str,
    /// The cursor the live stream starts after (empty: from the first line).
    pub(crate) after: String,
    pub(crate) body: Option<String>,
    pub(crate) attributes: Vec<(String, String)>,
}

impl LogPage {
    /// The level choices with `level` selected.
    pub(crate) fn level_options(level: Level) -> Vec<(&'static str, bool)> {
        Level::ALL
            .into_iter()
            .map(|l| (l.as_str(), l == level))
            .collect()
    }
}

/// One queue's row on the dashboard.
pub(crate) struct QueueRow {
    pub(crate) stats: QueueStats,
    pub(crate) done_5m: usize,
    pub(crate) done_1h: usize,
}

/// An in-flight job on the dashboard.
pub(crate) struct InFlightRow {
    pub(crate) queue: String,
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) worker: String,
    pub(crate) age: String,
    pub(crate) lease_left: String,
    pub(crate) attempt: u32,
}

impl InFlightRow {
    pub(crate) fn new(queue: &str, f: InFlight) -> Self {
        let now = Utc::now();
        Self {
            queue: queue.to_owned(),
            id: f.id.to_string(),
            kind: f.kind,
            worker: f.worker,
            age: age(f.started, now),
            lease_left: duration((f.lease_until - now).num_milliseconds().max(0)),
            attempt: f.attempt,
        }
    }
}

/// A dead job on the dashboard.
pub(crate) struct DeadRow {
    pub(crate) queue: String,
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) error: String,
    pub(crate) died: String,
    pub(crate) attempts: u32,
}

impl DeadRow {
    pub(crate) fn new(queue: &str, d: DeadEntry) -> Self {
        Self {
            queue: queue.to_owned(),
            id: d.id.to_string(),
            kind: d.kind,
            error: d.error,
            died: format!("{} ago", age(d.died, Utc::now())),
            attempts: d.attempts,
        }
    }
}

/// A worker on the dashboard.
pub(crate) struct WorkerRow {
    pub(crate) id: String,
    pub(crate) host: String,
    pub(crate) pid: u32,
    pub(crate) roles: String,
    pub(crate) running: usize,
    pub(crate) concurrency: usize,
    pub(crate) up: String,
    pub(crate) heartbeat: String,
    pub(crate) stale: bool,
}

impl From<WorkerInfo> for WorkerRow {
    fn from(w: WorkerInfo) -> Self {
        let now = Utc::now();
        Self {
            stale: (now - w.heartbeat).num_seconds() > 30,
            id: w.id,
            host: w.host,
            pid: w.pid,
            roles: w.roles.join(", "),
            running: w.running,
            concurrency: w.concurrency,
            up: age(w.started, now),
            heartbeat: format!("{} ago", age(w.heartbeat, now)),
        }
    }
}

/// Finished-job counters of one queue and kind.
pub(crate) struct CounterRow {
    pub(crate) queue: String,
    pub(crate) kind: String,
    pub(crate) succeeded: i64,
    pub(crate) failed: i64,
    pub(crate) dead: i64,
    pub(crate) retried: i64,
    pub(crate) mean: String,
}

/// `queues/index.html`.
#[derive(Template)]
#[template(path = "queues/index.html")]
pub(crate) struct QueuesPage {
    pub(crate) queues: Vec<QueueRow>,
    pub(crate) in_flight: Vec<InFlightRow>,
    pub(crate) dead: Vec<DeadRow>,
    pub(crate) workers: Vec<WorkerRow>,
    pub(crate) counters: Vec<CounterRow>,
    pub(crate) message: Option<String>,
    pub(crate) actions_enabled: bool,
    pub(crate) scanned_cap: bool,
}

/// `2024-01-15 10:30:02 UTC`.
pub(crate) fn datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// How long ago `t` was, coarsely: `42s`, `3m07s`, `2h05m`, `3d04h`.
pub(crate) fn age(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    duration((now - t).num_milliseconds().max(0))
}

/// A duration in milliseconds, coarsely: `850ms`, `42s`, `3m07s`, `2h05m`, `3d04h`.
pub(crate) fn duration(ms: i64) -> String {
    let s = ms / 1000;
    match ms {
        ..1000 => format!("{}ms", ms.max(0)),
        1000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{:02}s", s / 60, s % 60),
        3_600_000..86_400_000 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(4200), "4.2s");
        assert_eq!(duration(187_000), "3m07s");
        assert_eq!(duration(7_500_000), "2h05m");
        assert_eq!(duration(273_600_000), "3d04h");
    }
}
