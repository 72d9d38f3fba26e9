//! `netkan-worker run` processes of a pipeline, each with its own config file and log, that
//! a scenario signals by process id and restarts.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use netkan_common::config::Settings;

use super::workspace_binary;

/// A signal sent with `kill(1)` (the workspace forbids `unsafe`, so no `libc::kill`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Kill,
    Term,
    Stop,
    Cont,
}

impl Signal {
    fn flag(self) -> &'static str {
        match self {
            Signal::Kill => "-KILL",
            Signal::Term => "-TERM",
            Signal::Stop => "-STOP",
            Signal::Cont => "-CONT",
        }
    }
}

/// Sends `signal` to process `pid`.
pub fn signal(pid: u32, signal: Signal) {
    let status = Command::new("kill")
        .arg(signal.flag())
        .arg(pid.to_string())
        .status()
        .expect("kill(1) runs");
    assert!(status.success(), "kill {} {pid} failed", signal.flag());
}

/// One worker process slot: its settings, and the process while it runs.
pub struct Worker {
    pub name: String,
    pub settings: Settings,
    config: PathBuf,
    log: PathBuf,
    /// Prefix of the command line (`ip netns exec <ns>`), if any.
    wrapper: Vec<String>,
    /// `netkan-worker run`, or `netkan-web`.
    web: bool,
    child: Option<Child>,
    /// Processes started in this slot so far.
    pub starts: usize,
}

impl Worker {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

/// The worker processes of a scenario; every one still running is killed when dropped.
#[derive(Default)]
pub struct Workers {
    pub all: Vec<Worker>,
}

impl Workers {
    /// Adds and starts a worker named `name` with `settings` (its roles, concurrency).
    pub fn add(&mut self, name: &str, settings: Settings) -> usize {
        self.add_wrapped(name, settings, Vec::new())
    }

    /// [`Workers::add`], its command prefixed by `wrapper` (e.g. `ip netns exec ns1`).
    pub fn add_wrapped(&mut self, name: &str, settings: Settings, wrapper: Vec<String>) -> usize {
        let i = self.slot(name, settings, wrapper, false);
        self.start(i);
        i
    }

    /// Adds and starts a `netkan-web` process serving `settings.web.bind`.
    pub fn add_web(&mut self, name: &str, settings: Settings) -> usize {
        let i = self.slot(name, settings, Vec::new(), true);
        self.start(i);
        i
    }

    fn slot(&mut self, name: &str, settings: Settings, wrapper: Vec<String>, web: bool) -> usize {
        let dir = settings.data_dir.parent().unwrap().join("workers");
        std::fs::create_dir_all(&dir).unwrap();
        self.all.push(Worker {
            name: name.to_owned(),
            settings,
            config: dir.join(format!("{name}.toml")),
            log: dir.join(format!("{name}.log")),
            wrapper,
            web,
            child: None,
            starts: 0,
        });
        self.all.len() - 1
    }

    /// Starts worker `i` (again).
    pub fn start(&mut self, i: usize) {
        let w = &mut self.all[i];
        assert!(w.child.is_none(), "worker {} is running", w.name);
        std::fs::write(&w.config, toml::to_string(&w.settings).unwrap()).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&w.log)
            .unwrap();
        let bin = workspace_binary(if w.web { "netkan-web" } else { "netkan-worker" });
        let mut cmd = match w.wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("--config").arg(&w.config);
        if !w.web {
            cmd.arg("run");
        }
        cmd.env_remove("REDIS_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        w.child = Some(cmd.spawn().unwrap());
        w.starts += 1;
    }

    /// Sends `sig` to worker `i`; for SIGKILL, also reaps it.
    pub fn signal(&mut self, i: usize, sig: Signal) {
        let w = &mut self.all[i];
        let pid = w
            .pid()
            .unwrap_or_else(|| panic!("worker {} is not running", w.name));
        signal(pid, sig);
        if sig == Signal::Kill {
            let mut child = w.child.take().unwrap();
            let _ = child.wait();
        }
    }

    /// Waits up to `within` for worker `i` to exit; its exit status, or `None` if it still
    /// runs.
    pub fn wait(&mut self, i: usize, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        let w = &mut self.all[i];
        let child = w.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                w.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Indices of the running workers.
    pub fn running(&self) -> Vec<usize> {
        (0..self.all.len())
            .filter(|&i| self.all[i].running())
            .collect()
    }

    /// The stderr log of worker `i` (for failure messages).
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.all[i].log).unwrap_or_default()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.all {
            if let Some(mut child) = w.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
