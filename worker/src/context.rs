//! What a job handler gets (`JobContext`) and returns (`JobError`), and the registry that
//! maps job kinds to handlers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use netkan_common::log::{Level, Redactor, format_line};
use netkan_common::{ClaimedJob, JobId, JobQueue, NewJob};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::runner::writer::WriteOp;

/// A failed attempt, and whether trying again could help.
#[derive(Debug)]
pub enum JobError {
    /// Worth retrying (network trouble, a host returning 500): retried with backoff, then
    /// dead-lettered. The default for `?` on an `anyhow::Error`.
    Retry(anyhow::Error),
    /// Not worth retrying (bad input): the job ends `failed` at once.
    Permanent(anyhow::Error),
    /// A host throttled the job: it runs again once `delay` has passed, without using up an
    /// attempt (the runner still owns the waiting; the handler never sleeps).
    RetryAfter {
        /// What the host said.
        error: anyhow::Error,
        /// Until the host's limit resets.
        delay: std::time::Duration,
    },
    /// An operator cancelled the job while it ran: it ends `cancelled`, not retried. The
    /// runner reports this when it stops the attempt; handlers need not return it.
    Cancelled,
}

impl<E: Into<anyhow::Error>> From<E> for JobError {
    fn from(e: E) -> Self {
        JobError::Retry(e.into())
    }
}

impl JobError {
    /// A permanent failure with this message.
    pub fn permanent(msg: impl std::fmt::Display) -> Self {
        JobError::Permanent(anyhow::anyhow!("{msg}"))
    }
}

/// The result of a handler.
pub type JobResult = Result<(), JobError>;

type HandlerFn = Arc<dyn Fn(JobContext) -> BoxFuture<'static, JobResult> + Send + Sync>;

/// Job kinds and their handlers.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, HandlerFn>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handler of `kind`; kind names never change once shipped.
    pub fn register<F, Fut>(&mut self, kind: &str, handler: F) -> &mut Self
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        self.handlers
            .insert(kind.to_owned(), Arc::new(move |ctx| Box::pin(handler(ctx))));
        self
    }

    pub(crate) fn get(&self, kind: &str) -> Option<&HandlerFn> {
        self.handlers.get(kind)
    }

    /// The registered kinds.
    pub fn kinds(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }
}

/// Everything a running job may use: its data, its log, Redis, and a cancellation signal.
#[derive(Clone)]
pub struct JobContext {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    job: ClaimedJob,
    queue: JobQueue,
    pool: deadpool_redis::Pool,
    writer: UnboundedSender<WriteOp>,
    redactor: Redactor,
    cancel: CancellationToken,
    /// Lines in the log so far (from earlier attempts too), to enforce the cap.
    lines: AtomicU64,
    dropped: AtomicU64,
}

impl JobContext {
    pub(crate) fn new(
        job: ClaimedJob,
        queue: JobQueue,
        pool: deadpool_redis::Pool,
        writer: UnboundedSender<WriteOp>,
        redactor: Redactor,
        cancel: CancellationToken,
    ) -> Self {
        let lines = AtomicU64::new(job.log_lines);
        Self {
            inner: Arc::new(ContextInner {
                job,
                queue,
                pool,
                writer,
                redactor,
                cancel,
                lines,
                dropped: AtomicU64::new(0),
            }),
        }
    }

    /// The job being run.
    pub fn job(&self) -> &ClaimedJob {
        &self.inner.job
    }

    /// The job's id.
    pub fn id(&self) -> JobId {
        self.inner.job.id
    }

    /// The job protocol (for reads, or enqueueing elsewhere).
    pub fn queue(&self) -> &JobQueue {
        &self.inner.queue
    }

    /// The Redis pool; take a connection only for as long as a command needs it.
    pub fn redis(&self) -> &deadpool_redis::Pool {
        &self.inner.pool
    }

    /// Cancelled when the job's lease is lost or the worker must stop now; long handlers
    /// should watch it.
    pub fn cancelled(&self) -> &CancellationToken {
        &self.inner.cancel
    }

    /// Writes a line to the job's log (redacted, timestamped now). Lines reach Redis within
    /// milliseconds, in order; past the per-job cap they are counted and dropped.
    pub fn log(&self, level: Level, message: impl AsRef<str>) {
        let max = self.inner.queue.settings().log_max_lines;
        // The last two places are kept for the drop notice and the final verdict.
        if self.inner.lines.fetch_add(1, Ordering::Relaxed) + 2 >= max {
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.push_line(level, message.as_ref());
    }

    /// Writes a line regardless of the cap (the runner's final verdict).
    pub(crate) fn log_final(&self, level: Level, message: &str) {
        let dropped = self.inner.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            self.push_line(
                Level::Warn,
                &format!(
                    "{dropped} log lines were dropped (jobs.log_max_lines = {})",
                    self.inner.queue.settings().log_max_lines
                ),
            );
        }
        self.push_line(level, message);
    }

    fn push_line(&self, level: Level, message: &str) {
        let line = format_line(
            chrono::Utc::now(),
            level,
            &self.inner.redactor.redact(message),
        );
        // The writer outlives every job; if it is gone the process is exiting anyway.
        let _ = self.inner.writer.send(WriteOp::Line {
            id: self.inner.job.id,
            token: self.inner.job.token,
            line,
        });
    }

    /// A DEBUG line.
    pub fn debug(&self, message: impl AsRef<str>) {
        self.log(Level::Debug, message)
    }

    /// An INFO line.
    pub fn info(&self, message: impl AsRef<str>) {
        self.log(Level::Info, message)
    }

    /// A NOTICE line: meant for the person who pushed.
    pub fn notice(&self, message: impl AsRef<str>) {
        self.log(Level::Notice, message)
    }

    /// A WARN line.
    pub fn warn(&self, message: impl AsRef<str>) {
        self.log(Level::Warn, message)
    }

    /// An ERROR line.
    pub fn error(&self, message: impl AsRef<str>) {
        self.log(Level::Error, message)
    }

    /// Enqueues jobs caused by this one (their parent is set to it) in one round trip.
    pub async fn enqueue(&self, jobs: Vec<NewJob>) -> anyhow::Result<Vec<JobId>> {
        let jobs: Vec<NewJob> = jobs.into_iter().map(|j| j.with_parent(self.id())).collect();
        let mut conn = self.inner.pool.get().await?;
        Ok(self.inner.queue.enqueue(&mut conn, &jobs).await?)
    }
}
