//! Runs the real `netkan inflate-file` binary on host-free netkans: the `.ckan` on standard
//! output or in `--out`, the log on standard error, `--json`, and the exit statuses
//! (0 inflated, 1 failed, 2 bad usage).

use std::path::Path;
use std::process::{Command, Output};

const DLC: &str = "identifier: BreakingGround-DLC\nname: Breaking Ground\nabstract: Breaking Ground expansion\n\
author: SQUAD\nversion: 1.7.1\nkind: dlc\nlicense: restricted\nksp_version_min: 1.7.1\ntags:\n  - dlc\n";

const CKAN: &str = r#"{
    "spec_version": "v1.28",
    "identifier": "BreakingGround-DLC",
    "name": "Breaking Ground",
    "abstract": "Breaking Ground expansion",
    "author": "SQUAD",
    "version": "1.7.1",
    "ksp_version_min": "1.7.1",
    "license": "restricted",
    "tags": [
        "dlc"
    ],
    "kind": "dlc",
    "x_generated_by": "netkan"
}
"#;

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netkan"))
        .arg("inflate-file")
        .args(args)
        .current_dir(dir)
        .env_remove("NETKAN_CONFIG")
        .output()
        .expect("runs netkan")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("BreakingGround-DLC.netkan"), DLC).expect("write");
    dir
}

#[test]
fn a_netkan_is_printed_as_its_ckan_with_the_log_on_stderr() {
    let dir = setup();
    let out = run(&["BreakingGround-DLC.netkan"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), CKAN);
    let err = text(&out.stderr);
    assert!(err.contains("INFO   Inflating BreakingGround-DLC"), "{err}");
    assert!(err.contains("inflated BreakingGround-DLC 1.7.1"), "{err}");
    assert!(!err.contains("DEBUG"), "no debug lines without -v");
    let verbose = run(&["-v", "BreakingGround-DLC.netkan"], dir.path());
    assert!(text(&verbose.stderr).contains("DEBUG"));
}

#[test]
fn out_writes_each_ckan_into_the_directory() {
    let dir = setup();
    std::fs::create_dir(dir.path().join("out")).expect("mkdir");
    let out = run(&["BreakingGround-DLC.netkan", "--out", "out"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(dir.path().join("out/BreakingGround-DLC-1.7.1.ckan"))
        .expect("written");
    assert_eq!(written, CKAN);
}

#[test]
fn json_gives_the_whole_outcome() {
    let dir = setup();
    let out = run(
        &[
            "BreakingGround-DLC.netkan",
            "--json",
            "--highest-version",
            "1.8",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["success"], true);
    assert_eq!(v["staged"], true, "1.7.1 < 1.8 is auto-epoched and staged");
    assert_eq!(
        v["modules"][0]["file_name"],
        "BreakingGround-DLC-1-1.7.1.ckan"
    );
    assert_eq!(v["modules"][0]["ckan"]["version"], "1:1.7.1");
}

#[test]
fn a_failed_inflation_exits_1_with_the_error() {
    let dir = setup();
    std::fs::write(dir.path().join("Other.netkan"), DLC).expect("write");
    let out = run(&["Other.netkan"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("failed: Error: Have metadata for BreakingGround-DLC, but wanted Other"),
        "{}",
        text(&out.stderr)
    );
    let json = run(&["Other.netkan", "--json"], dir.path());
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(v["success"], false);
    assert!(
        v["error"]
            .as_str()
            .expect("error")
            .starts_with("Error: Have metadata")
    );
}

#[test]
fn bad_usage_exits_2() {
    let dir = setup();
    for args in [
        vec!["Missing.netkan"],
        vec!["BreakingGround-DLC.netkan", "--releases", "none"],
        vec!["BreakingGround-DLC.netkan", "--game", "K S P"],
        vec!["BreakingGround-DLC.netkan", "--out", "nowhere"],
        vec![],
    ] {
        let out = run(&args, dir.path());
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}
