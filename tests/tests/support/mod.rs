//! The fault harness: a whole pipeline on one machine, made of the real parts, that a test
//! can hurt and then count.
//!
//! - [`Pipeline`]: a `redis-server` child under the test's control (append-only,
//!   `appendfsync always`, so an acknowledged write survives SIGKILL), bare NetKAN and
//!   CKAN-meta repositories with the post-receive hook installed, the inflator's fixture
//!   upstream serving one small generated archive per mod (`http` krefs), a directory mirror
//!   target, and `netkan-worker run` processes ([`Workers`]) that the test kills, stops and
//!   restarts by process id.
//! - [`Tally`]: what happened, counted from Redis (the job trees under the push jobs, the
//!   dead-letter lists) and from git (the `.ckan` files and commits of CKAN-meta); its
//!   one-line report is what `docs/RELIABILITY.md` records.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)] // Test helpers fail loudly by design.

pub mod count;
pub mod load;
pub mod workers;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netkan_common::config::{GameSettings, MirrorTarget, Secret, Settings};
use netkan_common::redis_server::{RedisServer, RedisServerOptions};
use netkan_common::{JobId, JobQueue};
use netkan_inflator::testing::archive::ZipBuilder;
use netkan_inflator::testing::upstream::Upstream;

pub use count::{Bounds, Tally};
pub use workers::{Signal, Workers};

/// Fault scenarios measure recovery times and run several processes each: one at a time, so
/// they neither disturb each other's figures nor overload a 2-core CI machine.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How many inflations a scenario sends: `NETKAN_FAULT_SCALE`, else `default`.
pub fn scale(default: usize) -> usize {
    std::env::var("NETKAN_FAULT_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A binary of the workspace, built by `cargo test --workspace` beside this test's binary.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (or build it first: `cargo build -p netkan-worker -p netkan-hooks`)",
        bin.display()
    );
    bin
}

/// Runs `git` in `dir`; panics with its output on failure; returns stdout and stderr.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Pusher")
        .env("GIT_AUTHOR_EMAIL", "pusher@example.com")
        .env("GIT_COMMITTER_NAME", "Pusher")
        .env("GIT_COMMITTER_EMAIL", "pusher@example.com")
        .output()
        .expect("git is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "git {args:?} failed: {text}");
    text
}

/// The identifier of generated mod `i`.
pub fn mod_name(i: usize) -> String {
    format!("FaultMod{i:05}")
}

/// The canonical download URL of generated mod `i` (served by the fixture upstream).
pub fn download_url(i: usize) -> String {
    format!("https://mods.example/{}-1.0.zip", mod_name(i))
}

/// The `.netkan` of generated mod `i`: an `http` kref, a redistributable licence (so it is
/// mirrored), everything else given.
pub fn netkan_text(i: usize) -> String {
    let name = mod_name(i);
    format!(
        "spec_version: v1.4\nidentifier: {name}\nname: Fault Mod {i}\nabstract: A generated mod of the fault scenarios\nauthor: netkan\nlicense: MIT\nversion: '1.0'\nksp_version: any\n$kref: '#/ckan/http/{}'\n",
        download_url(i)
    )
}

/// How a pipeline is built.
#[derive(Debug, Clone)]
pub struct Options {
    /// Generated mods the upstream serves (`FaultMod00000`...).
    pub mods: usize,
    /// `jobs.lease_ms`.
    pub lease_ms: u64,
    /// `jobs.max_attempts`.
    pub max_attempts: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            mods: 10,
            lease_ms: 2_000,
            max_attempts: 5,
        }
    }
}

/// One push as the hook answered it.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The push job's id.
    pub id: JobId,
    /// Whether the hook spooled it (Redis could not take it in time).
    pub spooled: bool,
    /// How long `git push` took.
    pub took: Duration,
    /// The mods it added.
    pub mods: Vec<usize>,
}

/// The pipeline of one scenario; everything is removed when dropped.
pub struct Pipeline {
    pub root: PathBuf,
    pub settings: Settings,
    pub netkan: PathBuf,
    pub ckanmeta: PathBuf,
    /// The pusher's clone of NetKAN.
    pub clone: PathBuf,
    pub upstream: Arc<Upstream>,
    redis: Mutex<RedisServer>,
    redis_opts: RedisServerOptions,
    redis_url: String,
    _dir: tempfile::TempDir,
}

impl Pipeline {
    /// Builds everything but the workers.
    pub async fn new(opts: &Options) -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let redis_opts = RedisServerOptions {
            bin: std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into()),
            dir: root.join("redis"),
            port: 0,
            persistent: true,
        };
        let redis = RedisServer::start(&redis_opts).unwrap_or_else(|e| panic!("{e}"));
        let redis_opts = RedisServerOptions {
            port: redis.port(),
            ..redis_opts
        };
        fsync_always(redis.port()).await;

        let upstream = Upstream::start().await;
        for i in 0..opts.mods {
            let name = mod_name(i);
            let zip = ZipBuilder::new()
                .file(
                    &format!("GameData/{name}/{name}.cfg"),
                    format!("// {name}: generated by the fault scenarios\n"),
                )
                .build();
            upstream.file(&download_url(i), zip);
        }

        let netkan = root.join("NetKAN.git");
        git(&root, &["init", "--bare", "-q", "-b", "main", "NetKAN.git"]);
        let meta_src = root.join("meta-src");
        git(&root, &["init", "-q", "-b", "main", "meta-src"]);
        std::fs::write(meta_src.join("README.md"), "# CKAN-meta\n").unwrap();
        git(&meta_src, &["add", "-A"]);
        git(&meta_src, &["commit", "-q", "-m", "Start CKAN-meta"]);
        let ckanmeta = root.join("CKAN-meta.git");
        git(
            &root,
            &["clone", "-q", "--bare", "meta-src", "CKAN-meta.git"],
        );
        std::fs::remove_dir_all(&meta_src).unwrap();

        let mut settings = Settings {
            data_dir: root.join("data"),
            ..Settings::default()
        };
        settings.redis.url = Some(Secret::new(redis.url()));
        settings.redis.pool_size = 4;
        settings.jobs.lease_ms = opts.lease_ms;
        settings.jobs.maintenance_interval_ms = 200;
        settings.jobs.backoff_base_ms = 200;
        settings.jobs.backoff_max_ms = 2_000;
        settings.jobs.max_attempts = opts.max_attempts;
        settings.worker.shutdown_timeout_secs = 10;
        settings.web.base_url = "http://netkan.test".into();
        settings.hosts = upstream.settings();
        settings.mirror.target = MirrorTarget::Directory;
        settings.mirror.directory = Some(root.join("mirror"));
        settings.games.insert(
            "ksp".into(),
            GameSettings {
                netkan: Some(Secret::new(netkan.display().to_string())),
                ckanmeta: Some(Secret::new(ckanmeta.display().to_string())),
                ..GameSettings::default()
            },
        );

        // The hook runs in git's environment: it reads where Redis is from its own file.
        let hook_config = root.join("hook.toml");
        std::fs::write(
            &hook_config,
            format!(
                "data_dir = {:?}\n[redis]\nurl = {:?}\n[web]\nbase_url = \"http://netkan.test\"\n",
                settings.data_dir.display().to_string(),
                redis.url(),
            ),
        )
        .unwrap();
        netkan_hooks::install::install(
            &netkan,
            &netkan_hooks::install::InstallOptions {
                binary: workspace_binary("netkan-hook"),
                before: Vec::new(),
                game: "ksp".into(),
                base_url: Some("http://netkan.test".into()),
                config: Some(hook_config),
                spool_dir: Some(settings.spool_dir()),
            },
        )
        .unwrap();

        let clone = root.join("clone");
        git(&root, &["clone", "-q", "NetKAN.git", "clone"]);
        git(&clone, &["checkout", "-q", "-b", "main"]);
        Pipeline {
            root,
            settings,
            netkan,
            ckanmeta,
            clone,
            upstream: Arc::new(upstream),
            redis_url: redis.url(),
            redis: Mutex::new(redis),
            redis_opts,
            _dir: dir,
        }
    }

    pub fn jq(&self) -> JobQueue {
        self.settings.job_queue()
    }

    pub fn redis_url(&self) -> String {
        self.redis_url.clone()
    }

    /// `settings` serving `roles` (e.g. `["push", "inflate", "index", "mirror"]`).
    pub fn worker_settings(&self, roles: &[&str]) -> Settings {
        let mut s = self.settings.clone();
        s.worker.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        s
    }

    /// A fresh connection; `None` while Redis does not answer.
    pub async fn try_conn(&self) -> Option<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(self.redis_url.as_str()).ok()?;
        let mut conn = tokio::time::timeout(
            Duration::from_secs(2),
            client.get_multiplexed_async_connection(),
        )
        .await
        .ok()?
        .ok()?;
        // A stopped server accepts connections (the kernel does) but answers nothing.
        let pong: Option<String> = tokio::time::timeout(
            Duration::from_secs(2),
            redis::cmd("PING").query_async(&mut conn),
        )
        .await
        .ok()?
        .ok();
        pong.map(|_| conn)
    }

    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        self.try_conn().await.expect("redis answers")
    }

    pub fn redis_pid(&self) -> u32 {
        self.redis
            .lock()
            .unwrap()
            .pid()
            .expect("redis-server is running")
    }

    /// SIGKILL to `redis-server`, as a crash would.
    pub fn kill_redis(&self) {
        self.redis.lock().unwrap().kill();
    }

    /// Starts `redis-server` again on the same port and data (the append-only file).
    pub async fn restart_redis(&self) {
        tokio::task::block_in_place(|| {
            self.redis
                .lock()
                .unwrap()
                .restart(&self.redis_opts)
                .unwrap_or_else(|e| panic!("{e}"));
        });
        fsync_always(self.redis_opts.port).await;
    }

    /// Commits `.netkan` files for `mods` and pushes them through the hook.
    pub async fn push(&self, mods: Vec<usize>) -> Pushed {
        let clone = self.clone.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(clone.join("NetKAN")).unwrap();
            for &i in &mods {
                std::fs::write(
                    clone.join(format!("NetKAN/{}.netkan", mod_name(i))),
                    netkan_text(i),
                )
                .unwrap();
            }
            git(&clone, &["add", "-A"]);
            git(
                &clone,
                &["commit", "-q", "-m", &format!("{} mods", mods.len())],
            );
            let started = Instant::now();
            let out = git(&clone, &["push", "-q", "origin", "main"]);
            let took = started.elapsed();
            let (spooled, line) = match out.lines().find(|l| l.contains("push queued as")) {
                Some(l) => (false, l),
                None => (
                    true,
                    out.lines()
                        .find(|l| l.contains("push spooled as"))
                        .unwrap_or_else(|| panic!("no job id in {out}")),
                ),
            };
            let id = line
                .split_whitespace()
                .find_map(|w| w.parse().ok())
                .unwrap();
            Pushed {
                id,
                spooled,
                took,
                mods,
            }
        })
        .await
        .unwrap()
    }

    /// Pushes mods `0..n` in `pushes` pushes of about equal size.
    pub async fn push_all(&self, n: usize, pushes: usize) -> Vec<Pushed> {
        self.push_all_from(0, n, pushes).await
    }

    /// Pushes mods `from..to` in `pushes` pushes of about equal size.
    pub async fn push_all_from(&self, from: usize, to: usize, pushes: usize) -> Vec<Pushed> {
        let per = (to - from).div_ceil(pushes.max(1)).max(1);
        let mut out = Vec::new();
        let all: Vec<usize> = (from..to).collect();
        for chunk in all.chunks(per) {
            out.push(self.push(chunk.to_vec()).await);
        }
        out
    }

    /// Waits until nothing is waiting, running or due for a retry in any queue, twice in a
    /// row half a second apart, and every push job is finished; panics after `within`.
    pub async fn settle(&self, pushes: &[Pushed], within: Duration) {
        let deadline = Instant::now() + within;
        let mut quiet = 0;
        while quiet < 2 {
            assert!(
                Instant::now() < deadline,
                "the pipeline did not settle within {within:?}: {:?}",
                self.stats_line().await
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            let Some(mut conn) = self.try_conn().await else {
                quiet = 0;
                continue;
            };
            let jq = self.jq();
            let Ok(stats) = jq.stats(&mut conn).await else {
                quiet = 0;
                continue;
            };
            let busy: u64 = stats
                .iter()
                .map(|s| s.waiting() + s.retrying + s.in_flight)
                .sum();
            let mut pushes_done = true;
            for p in pushes {
                match jq.job(&mut conn, &p.id).await {
                    Ok(Some(r)) if r.state.is_finished() => {}
                    _ => pushes_done = false,
                }
            }
            if busy == 0 && pushes_done {
                quiet += 1;
            } else {
                quiet = 0;
            }
        }
    }

    /// Queue depths, for messages.
    pub async fn stats_line(&self) -> String {
        let Some(mut conn) = self.try_conn().await else {
            return "redis does not answer".into();
        };
        match self.jq().stats(&mut conn).await {
            Ok(stats) => stats
                .iter()
                .map(|s| {
                    format!(
                        "{}: {} waiting, {} retrying, {} in flight, {} dead",
                        s.queue,
                        s.waiting(),
                        s.retrying,
                        s.in_flight,
                        s.dead
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            Err(e) => format!("stats: {e}"),
        }
    }

    /// The `.ckan` files at the tip of CKAN-meta.
    pub fn indexed(&self) -> Vec<String> {
        git(&self.ckanmeta, &["ls-tree", "-r", "--name-only", "main"])
            .lines()
            .filter(|l| l.ends_with(".ckan"))
            .map(str::to_owned)
            .collect()
    }

    /// Files in the mirror directory (`<item>/<file>`), archives only.
    pub fn mirrored(&self) -> Vec<String> {
        let mut out = Vec::new();
        let Ok(items) = std::fs::read_dir(self.root.join("mirror")) else {
            return out;
        };
        for item in items.flatten() {
            if let Ok(files) = std::fs::read_dir(item.path()) {
                for f in files.flatten() {
                    let name = f.file_name().to_string_lossy().into_owned();
                    if name.ends_with(".zip") {
                        out.push(format!("{}/{name}", item.file_name().to_string_lossy()));
                    }
                }
            }
        }
        out
    }
}

/// `appendfsync always`: every write is on disk before Redis answers it, so an
/// acknowledged enqueue survives a SIGKILL of the server.
async fn fsync_always(port: u16) {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendfsync")
        .arg("always")
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// Seconds with one decimal, for reports.
pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

impl Pipeline {
    /// SIGTERM to `redis-server` (it writes its append-only file and exits), and waits for
    /// it to exit.
    pub fn term_redis(&self) -> Duration {
        let started = Instant::now();
        let mut redis = self.redis.lock().unwrap();
        workers::signal(redis.pid().expect("redis-server is running"), Signal::Term);
        while std::net::TcpStream::connect(("127.0.0.1", self.redis_opts.port)).is_ok()
            && started.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Reaps the exited child.
        redis.kill();
        started.elapsed()
    }
}

/// The HTTP status of `GET path` on `127.0.0.1:port`, `None` without an answer in 2 s.
pub async fn http_status(port: u16, path: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .ok()?;
        let mut head = vec![0u8; 12];
        s.read_exact(&mut head).await.ok()?;
        String::from_utf8_lossy(&head[9..12]).parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()?
}

/// Polls `check` every 50 ms until it is true; the time it took, or `None` after `within`.
pub async fn time_until<F, Fut>(within: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < within {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}
