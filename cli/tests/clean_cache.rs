//! `netkan clean-cache` as an operator runs it: old downloads and their sidecars go, new ones
//! stay, and the command says what it removed.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

fn write_aged(path: &Path, bytes: usize, days: u64) {
    std::fs::write(path, vec![b'x'; bytes]).expect("write");
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(SystemTime::now() - Duration::from_secs(days * 86_400)))
        .expect("age");
}

fn clean(dir: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_netkan"))
        .args(["clean-cache", "--days", "30", "--dir"])
        .arg(dir)
        .args(extra)
        .env_remove("NETKAN_CONFIG")
        .output()
        .expect("netkan runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn clean_cache_removes_old_downloads_and_reports_the_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join("3C69B375-AwesomeMod-1.0.0.zip");
    write_aged(&old, 1000, 45);
    write_aged(
        &dir.path().join("3C69B375-AwesomeMod-1.0.0.zip.sha256"),
        64,
        45,
    );
    let new = dir.path().join("0000ABCD-Other-2.0.zip");
    write_aged(&new, 500, 2);

    let text = clean(dir.path(), &[]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            format!("removed {} (1000 bytes)", old.display()),
            format!("removed {}.sha256 (64 bytes)", old.display()),
            format!("freed 1064 bytes (2 files) in {}", dir.path().display()),
        ]
    );
    assert!(!old.exists());
    assert!(new.exists());

    write_aged(&old, 10, 31);
    let json: serde_json::Value =
        serde_json::from_str(&clean(dir.path(), &["--json"])).expect("json");
    assert_eq!(json["bytes_freed"], 10);
    assert_eq!(json["removed"][0]["path"], old.display().to_string());
    assert_eq!(json["removed"].as_array().map(Vec::len), Some(1));
}
