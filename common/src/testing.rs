//! Test harness (feature `test-support`): a private `redis-server` per test on a free
//! loopback port, so tests run in parallel and never share state; and polling helpers.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::redis_server::{RedisServer, RedisServerOptions};

/// A private Redis for one test, stopped when dropped.
pub struct TestRedis {
    server: RedisServer,
    opts: RedisServerOptions,
    _dir: tempfile::TempDir,
}

impl TestRedis {
    /// Starts one (binary from `REDIS_SERVER_BIN`, else `redis-server` on `PATH`).
    ///
    /// # Panics
    /// If it cannot start, with an install hint: a test needing Redis never skips silently.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Starts one with append-only persistence (for restart tests).
    pub fn start_persistent() -> Self {
        Self::start_with(true)
    }

    fn start_with(persistent: bool) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory for redis-server");
        let opts = RedisServerOptions {
            bin: std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into()),
            dir: dir.path().to_owned(),
            port: 0,
            persistent,
        };
        let server = match RedisServer::start(&opts) {
            Ok(s) => s,
            Err(e) => panic!("TestRedis: {e}"),
        };
        let opts = RedisServerOptions {
            port: server.port(),
            ..opts
        };
        Self {
            server,
            opts,
            _dir: dir,
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// A fresh multiplexed connection.
    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("a valid test URL")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to test redis")
    }

    /// Stops the server (clean shutdown) without dropping the harness.
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Kills the server with SIGKILL.
    pub fn kill(&mut self) {
        self.server.kill();
    }

    /// Starts it again on the same port and directory.
    pub fn restart(&mut self) {
        if let Err(e) = self.server.restart(&self.opts) {
            panic!("TestRedis restart: {e}");
        }
    }
}

/// Polls `check` every 10 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
