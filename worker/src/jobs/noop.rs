//! `noop`: logs one line and succeeds. Used by tests and the benchmark.
//!
//! Attributes let tests steer it from another process: `sleep_ms` holds the job for that
//! long (cancellably), and `fail` = `retry`, `permanent` or `panic` makes it fail that way.

use std::time::Duration;

use anyhow::anyhow;

use crate::context::{JobContext, JobError, JobResult, Registry};

/// The role name.
pub const ROLE: &str = "noop";
/// The queue it serves.
pub const QUEUE: &str = "noop";
/// The job kind.
pub const KIND: &str = "noop";

/// Registers the handler.
pub fn register(registry: &mut Registry) {
    registry.register(KIND, run);
}

async fn run(ctx: JobContext) -> JobResult {
    let attrs = &ctx.job().attributes;
    if let Some(ms) = attrs.get("sleep_ms") {
        let ms: u64 = ms.parse().map_err(|_| {
            JobError::permanent(format!("attribute sleep_ms is not a number: {ms:?}"))
        })?;
        ctx.info(format!("sleeping {ms} ms"));
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    match attrs.get("fail").map(String::as_str) {
        Some("retry") => return Err(JobError::Retry(anyhow!("asked to fail (retry)"))),
        Some("permanent") => return Err(JobError::permanent("asked to fail (permanent)")),
        Some("panic") => panic!("asked to panic"),
        _ => {}
    }
    ctx.info(format!("noop job {} ran", ctx.id()));
    Ok(())
}
