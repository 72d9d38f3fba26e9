//! A private `redis-server` child process: the embedded default of `netkan up` when no Redis
//! is configured, and the per-test server of the test harness.
//!
//! The child runs in a process group of its own. A terminal's Ctrl-C, or `kill -INT -<pgid>`,
//! signals the whole foreground group: were Redis in its parent's group it would stop at
//! once, while the parent's workers still need it to hand their jobs back. Its parent stops
//! it last, with `SHUTDOWN` (see `stop`).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

/// Why a private Redis could not be started.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RedisServerError {
    /// The binary is not installed.
    #[error(
        "cannot run {bin:?}: {source}. Install Redis (Debian: `apt-get install -y redis-server`) or set REDIS_SERVER_BIN / redis.server_bin"
    )]
    Missing {
        /// The binary tried.
        bin: String,
        /// The spawn error.
        source: std::io::Error,
    },
    /// It started but did not answer in time, or exited.
    #[error("redis-server on port {port} did not become ready: {reason}; log tail:\n{log_tail}")]
    NotReady {
        /// Its port.
        port: u16,
        /// Whether the process exited (a port taken by another process, a bad option).
        exited: bool,
        /// What went wrong.
        reason: String,
        /// The end of its log file.
        log_tail: String,
    },
    /// Preparing its directory failed.
    #[error("redis-server data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// How to start the child.
#[derive(Debug, Clone)]
pub struct RedisServerOptions {
    /// The binary (`redis-server`).
    pub bin: String,
    /// Its working and data directory.
    pub dir: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Append-only persistence with `appendfsync everysec` (the embedded default) or none
    /// (tests).
    pub persistent: bool,
}

/// A running `redis-server` child, stopped when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts the server and waits until it answers `PING` (up to 10 s).
    pub fn start(opts: &RedisServerOptions) -> Result<Self, RedisServerError> {
        std::fs::create_dir_all(&opts.dir).map_err(|source| RedisServerError::Dir {
            path: opts.dir.clone(),
            source,
        })?;
        if opts.port != 0 {
            return Self::start_on(opts, opts.port);
        }
        let mut last_err = None;
        // A port picked free can be taken by someone else before the server binds it; then
        // our own server exits with a bind error (readiness below only counts an answer from
        // our own process), and only then is another port tried.
        for _ in 0..5 {
            match Self::start_on(opts, free_port()) {
                Ok(s) => return Ok(s),
                Err(e @ RedisServerError::NotReady { exited: true, .. }) => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.expect("the loop ran at least once"))
    }

    fn start_on(opts: &RedisServerOptions, port: u16) -> Result<Self, RedisServerError> {
        let log = opts.dir.join("redis.log");
        let mut cmd = Command::new(&opts.bin);
        cmd.arg("--port")
            .arg(port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(&opts.dir)
            .arg("--logfile")
            .arg(&log)
            .arg("--daemonize")
            .arg("no")
            .arg("--save")
            .arg("")
            .arg("--protected-mode")
            .arg("yes")
            // Queue keys must never be evicted: Redis refuses writes when full instead.
            .arg("--maxmemory-policy")
            .arg("noeviction")
            // Job records hold bodies of a few KB (a .netkan, a .ckan); allowing such values
            // in the compact listpack encoding roughly halves a finished job's memory. The same
            // line is in deploy/redis.conf for a Redis run by the operator.
            .arg("--hash-max-listpack-value")
            .arg("8192");
        if opts.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "everysec"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let child = cmd.spawn().map_err(|source| RedisServerError::Missing {
            bin: opts.bin.clone(),
            source,
        })?;
        let mut server = Self {
            child: Some(child),
            port,
            dir: opts.dir.clone(),
        };
        let pid = server.pid().expect("the child was just spawned");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Ready only when the process answering on the port is this child: a port
            // another test's server holds answers too.
            if server_pid(port) == Some(pid) {
                return Ok(server);
            }
            if let Some(child) = server.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                server.child = None;
                return Err(server.not_ready(true, format!("exited with {status}")));
            }
            if Instant::now() > deadline {
                return Err(
                    server.not_ready(false, "no answer from its own process within 10 s".into())
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn not_ready(&self, exited: bool, reason: String) -> RedisServerError {
        RedisServerError::NotReady {
            port: self.port,
            exited,
            reason,
            log_tail: log_tail(&self.dir.join("redis.log")),
        }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Its data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The child's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops it: `SHUTDOWN` (so persistent data is flushed), then a kill if it lingers.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = send_raw(self.port, b"SHUTDOWN\r\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Kills it with SIGKILL, as a crash would (for fault tests).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory after `stop` or `kill`.
    pub fn restart(&mut self, opts: &RedisServerOptions) -> Result<(), RedisServerError> {
        self.stop();
        let again = Self::start_on(opts, self.port)?;
        *self = again;
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Shuts down a `redis-server` this process did not start (one left running by a killed
/// parent and adopted), saving its data, and waits up to 5 s for its port to close.
/// Returns whether it stopped.
pub fn shutdown_port(port: u16) -> bool {
    let _ = send_raw(port, b"SHUTDOWN\r\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !ping(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Whether a server on `port` answers `PING`.
fn ping(port: u16) -> bool {
    matches!(send_raw(port, b"PING\r\n"), Ok(reply) if reply.starts_with("+PONG"))
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// The process id of the `redis-server` answering on `port` (`INFO server`), if one answers
/// without a password.
fn server_pid(port: u16) -> Option<u32> {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    stream.write_all(b"INFO server\r\n").ok()?;
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    reader.read_line(&mut head).ok()?;
    // A bulk string: `$<len>\r\n<len bytes>\r\n`.
    let len: usize = head.trim_end().strip_prefix('$')?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Sends `command` (RESP inline commands) and returns the first reply line.
pub(crate) fn send_raw(port: u16, command: &[u8]) -> std::io::Result<String> {
    use std::io::Write;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    stream.write_all(command)?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line)
}

fn log_tail(path: &Path) -> String {
    std::fs::read_to_string(path)
        .map(|s| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(15)..].join("\n")
        })
        .unwrap_or_else(|e| format!("(no log: {e})"))
}
