//! The time a `git push` spends in netkan's post-receive hook: median wall time of N pushes to
//! a bare repository with the hook, against N pushes to one without, on a private
//! redis-server. Run with:
//!
//! ```sh
//! cargo build --release -p netkan-hooks && cargo run --release -p netkan-hooks --example push_bench -- 50
//! ```
#![allow(clippy::unwrap_used)] // A benchmark fails loudly.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use netkan_common::redis_server::{RedisServer, RedisServerOptions};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let hook = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("netkan-hook");
    assert!(
        hook.exists(),
        "build it first: cargo build --release -p netkan-hooks"
    );
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(&RedisServerOptions {
        bin: "redis-server".into(),
        dir: dir.path().join("redis"),
        port: 0,
        persistent: false,
    })
    .unwrap();
    let config = dir.path().join("netkan.toml");
    std::fs::write(
        &config,
        format!(
            "[redis]\nurl = \"{}\"\n[hooks]\nspool_dir = \"{}\"\n",
            redis.url(),
            dir.path().join("spool").display()
        ),
    )
    .unwrap();
    let mut clones = Vec::new();
    for with_hook in [false, true] {
        let bare = dir.path().join(format!("repo-{with_hook}.git"));
        git(
            dir.path(),
            &["init", "--bare", "-q", "-b", "main", bare.to_str().unwrap()],
        );
        if with_hook {
            let out = Command::new(&hook)
                .arg("--config")
                .arg(&config)
                .arg("install")
                .arg(&bare)
                .output()
                .unwrap();
            assert!(out.status.success());
        }
        let clone = dir.path().join(format!("clone-{with_hook}"));
        git(
            dir.path(),
            &[
                "clone",
                "-q",
                bare.to_str().unwrap(),
                clone.to_str().unwrap(),
            ],
        );
        git(&clone, &["checkout", "-q", "-b", "main"]);
        clones.push(clone);
    }
    let mut times = [Vec::new(), Vec::new()];
    // Alternate the two repositories so machine noise hits both alike; one warm-up push each.
    for i in 0..=n {
        for (k, clone) in clones.iter().enumerate() {
            std::fs::create_dir_all(clone.join("NetKAN")).unwrap();
            std::fs::write(
                clone.join(format!("NetKAN/Mod{i}.netkan")),
                format!("identifier: Mod{i}\n"),
            )
            .unwrap();
            git(clone, &["add", "-A"]);
            git(clone, &["commit", "-q", "-m", "bench"]);
            let t = Instant::now();
            git(clone, &["push", "-q", "origin", "main"]);
            if i > 0 {
                times[k].push(t.elapsed());
            }
        }
    }
    let [plain, hooked] = times;
    let (p, h) = (median(plain), median(hooked));
    println!("pushes: {n} each");
    println!(
        "median push without hook: {:.1} ms",
        p.as_secs_f64() * 1000.0
    );
    println!(
        "median push with hook:    {:.1} ms",
        h.as_secs_f64() * 1000.0
    );
    println!(
        "added by the hook:        {:.1} ms",
        (h.as_secs_f64() - p.as_secs_f64()) * 1000.0
    );
}
