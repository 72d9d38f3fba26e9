//! Test harness (feature `test-support`): a private `redis-server` per test on a free
//! loopback port, so tests run in parallel and never share state; polling helpers; and
//! [`mutation`], the stable stand-in for the cargo-fuzz targets.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::redis_server::{RedisServer, RedisServerOptions};

pub mod mutation;

/// A private Redis for one test, stopped when dropped.
pub struct TestRedis {
    server: RedisServer,
    opts: RedisServerOptions,
    /// `requirepass`, when started with one.
    password: Option<String>,
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
            password: None,
            _dir: dir,
        }
    }

    /// Starts one that requires `password` (`requirepass`); [`TestRedis::url`] and
    /// [`TestRedis::conn`] carry it. Password characters are limited to what a URL keeps as
    /// it is (letters, digits, `-`, `_`, `.`).
    ///
    /// # Panics
    /// If it cannot start, or the password has other characters.
    pub fn start_with_password(password: &str) -> Self {
        assert!(
            !password.is_empty()
                && password
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
            "TestRedis: a password of letters, digits, '-', '_' and '.'"
        );
        let mut redis = Self::start_with(false);
        redis.password = Some(password.to_owned());
        redis.require_password();
        redis
    }

    fn require_password(&self) {
        let Some(password) = &self.password else {
            return;
        };
        let reply = crate::redis_server::send_raw(
            self.port(),
            format!("CONFIG SET requirepass {password}\r\n").as_bytes(),
        );
        assert!(
            matches!(&reply, Ok(r) if r.starts_with("+OK")),
            "TestRedis: setting requirepass: {reply:?}"
        );
    }

    /// Lifts the password so the server's own shutdown (which does not authenticate) works.
    fn lift_password(&self) {
        if let Some(password) = &self.password {
            let _ = crate::redis_server::send_raw(
                self.port(),
                format!("AUTH {password}\r\nCONFIG SET requirepass \"\"\r\n").as_bytes(),
            );
        }
    }

    /// Its URL (with the password, if it has one).
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}/", self.port()),
            None => self.server.url(),
        }
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
        self.lift_password();
        self.server.stop();
    }

    /// Kills the server with SIGKILL.
    pub fn kill(&mut self) {
        self.server.kill();
    }

    /// Starts it again on the same port and directory.
    pub fn restart(&mut self) {
        self.lift_password();
        if let Err(e) = self.server.restart(&self.opts) {
            panic!("TestRedis restart: {e}");
        }
        self.require_password();
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.lift_password();
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
