//! `GET /healthz` (is Redis reachable) and `GET /metrics` (Prometheus text format 0.0.4).
//!
//! Metrics are read from Redis at each scrape, so every web process reports the same
//! numbers, for the whole system:
//! - `netkan_queue_jobs{queue, status}`: waiting (`high`, `low`, `resuming`), `retrying`,
//!   `in_flight` and `dead` jobs;
//! - `netkan_queue_oldest_waiting_seconds{queue}`: how long the oldest job waiting in any of
//!   the queue's lanes has waited (0 when none waits);
//! - `netkan_jobs_finished_total{queue, kind, outcome}`: attempts ended, by outcome
//!   (`succeeded`, `failed`, `dead`, `retried`);
//! - `netkan_job_duration_seconds{queue, kind}` (`_sum`, `_count`): time spent in attempts;
//! - `netkan_workers`, `netkan_worker_heartbeat_age_seconds{worker}`,
//!   `netkan_worker_running_jobs{worker}`;
//! - `netkan_web_live_streams`: live log streams open on this process.

use std::collections::BTreeMap;
use std::fmt::Write;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::Utc;

use super::jobs::shared;
use crate::error::WebError;
use crate::state::AppState;

/// `GET /healthz`: 200 `ok` when Redis answers a PING, 503 otherwise.
pub(crate) async fn check_health(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let mut conn = state.conn().await?;
    let pong: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .map_err(|e| WebError::Unavailable(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(if pong == "PONG" { "ok" } else { "ok?" }))
}

/// `GET /metrics`.
pub(crate) async fn show_metrics(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let pooled = state.conn().await?;
    let conn = shared(&pooled);
    let (mut c1, mut c2, mut c3) = (conn.clone(), conn.clone(), conn);
    let (stats, counters, workers) = tokio::try_join!(
        state.jq.stats(&mut c1),
        state.jq.counters(&mut c2),
        state.jq.workers(&mut c3),
    )?;
    let queues = stats
        .iter()
        .map(|s| netkan_common::QueueName::new(s.queue.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let oldest = state
        .jq
        .oldest_waiting_secs(&mut shared(&pooled), &queues)
        .await?;
    drop(pooled);
    let mut out = String::with_capacity(4096);
    // Writing to a String cannot fail; the results are ignored below for that reason.
    let _ = writeln!(out, "# HELP netkan_queue_jobs Jobs in a queue, by status.");
    let _ = writeln!(out, "# TYPE netkan_queue_jobs gauge");
    for s in &stats {
        for (status, n) in [
            ("high", s.high),
            ("low", s.low),
            ("resuming", s.resuming),
            ("retrying", s.retrying),
            ("in_flight", s.in_flight),
            ("dead", s.dead),
        ] {
            let _ = writeln!(
                out,
                "netkan_queue_jobs{{queue=\"{}\",status=\"{status}\"}} {n}",
                label(&s.queue)
            );
        }
    }
    let mut finished: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    let mut durations: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (field, value) in &counters {
        if let Some(rest) = field.strip_prefix("finished:") {
            let mut p = rest.rsplitn(2, ':');
            if let (Some(outcome), Some(Some((q, k)))) =
                (p.next(), p.next().map(|qk| qk.split_once(':')))
            {
                finished.insert((q.into(), k.into(), outcome.into()), *value);
            }
        } else if let Some((q, k)) = field
            .strip_prefix("duration_ms:")
            .and_then(|r| r.split_once(':'))
        {
            durations.insert((q.into(), k.into()), *value);
        }
    }
    let _ = writeln!(
        out,
        "# HELP netkan_jobs_finished_total Job attempts ended, by outcome."
    );
    let _ = writeln!(out, "# TYPE netkan_jobs_finished_total counter");
    let mut attempts: BTreeMap<(String, String), i64> = BTreeMap::new();
    for ((q, k, outcome), n) in &finished {
        *attempts.entry((q.clone(), k.clone())).or_default() += n;
        let _ = writeln!(
            out,
            "netkan_jobs_finished_total{{queue=\"{}\",kind=\"{}\",outcome=\"{}\"}} {n}",
            label(q),
            label(k),
            label(outcome)
        );
    }
    let _ = writeln!(
        out,
        "# HELP netkan_queue_oldest_waiting_seconds Time the oldest waiting job of a queue has waited."
    );
    let _ = writeln!(out, "# TYPE netkan_queue_oldest_waiting_seconds gauge");
    for (s, age) in stats.iter().zip(&oldest) {
        let _ = writeln!(
            out,
            "netkan_queue_oldest_waiting_seconds{{queue=\"{}\"}} {age:.3}",
            label(&s.queue)
        );
    }
    let _ = writeln!(
        out,
        "# HELP netkan_job_duration_seconds Time spent in job attempts."
    );
    let _ = writeln!(out, "# TYPE netkan_job_duration_seconds summary");
    for ((q, k), ms) in &durations {
        let count = attempts.get(&(q.clone(), k.clone())).copied().unwrap_or(0);
        let (q, k) = (label(q), label(k));
        let _ = writeln!(
            out,
            "netkan_job_duration_seconds_sum{{queue=\"{q}\",kind=\"{k}\"}} {:.3}",
            *ms as f64 / 1000.0
        );
        let _ = writeln!(
            out,
            "netkan_job_duration_seconds_count{{queue=\"{q}\",kind=\"{k}\"}} {count}"
        );
    }
    let now = Utc::now();
    let _ = writeln!(
        out,
        "# HELP netkan_workers Workers that announced themselves in the last day."
    );
    let _ = writeln!(out, "# TYPE netkan_workers gauge");
    let _ = writeln!(out, "netkan_workers {}", workers.len());
    let _ = writeln!(
        out,
        "# HELP netkan_worker_heartbeat_age_seconds Time since a worker's last heartbeat."
    );
    let _ = writeln!(out, "# TYPE netkan_worker_heartbeat_age_seconds gauge");
    for w in &workers {
        let age = (now - w.heartbeat).num_milliseconds().max(0) as f64 / 1000.0;
        let _ = writeln!(
            out,
            "netkan_worker_heartbeat_age_seconds{{worker=\"{}\"}} {age:.3}",
            label(&w.id)
        );
    }
    let _ = writeln!(
        out,
        "# HELP netkan_worker_running_jobs Jobs a worker holds."
    );
    let _ = writeln!(out, "# TYPE netkan_worker_running_jobs gauge");
    for w in &workers {
        let _ = writeln!(
            out,
            "netkan_worker_running_jobs{{worker=\"{}\"}} {}",
            label(&w.id),
            w.running
        );
    }
    let _ = writeln!(
        out,
        "# HELP netkan_web_live_streams Live log streams open on this web process."
    );
    let _ = writeln!(out, "# TYPE netkan_web_live_streams gauge");
    let _ = writeln!(out, "netkan_web_live_streams {}", state.live.open_streams());
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(out))
}

/// A label value escaped as the text format wants (`\`, `"` and newlines).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
