//! Runs the real `netkan ckan check` binary on a small tree and checks its output contract.

use std::path::Path;
use std::process::{Command, Output};

const VALID: &str = r#"{
    "spec_version": 1,
    "identifier": "AwesomeMod",
    "name": "Awesome Mod",
    "abstract": "A great mod",
    "author": "me",
    "version": "1.0.0",
    "license": "MIT",
    "download": "https://example.com/AwesomeMod-1.0.0.zip",
    "x_generated_by": "netkan"
}
"#;

/// Parses, but breaks the schema: a license that is not in the list, and no `abstract`.
const INVALID: &str = r#"{
    "spec_version": 1,
    "identifier": "BadMod",
    "name": "Bad Mod",
    "author": "me",
    "version": "1.0",
    "license": "Proprietary-ish",
    "download": "https://example.com/BadMod-1.0.zip"
}"#;

const UNPARSABLE: &str = "{\n    \"identifier\": \"Broken\",\n    \"version\": [1, 2\n";

const NETKAN: &str = "identifier: NiceMod\n$kref: '#/ckan/spacedock/777'\nlicense: MIT\n";

fn write(dir: &Path, rel: &str, body: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, body).expect("write fixture");
}

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netkan"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs netkan")
}

fn lines(output: &Output) -> Vec<String> {
    String::from_utf8(output.stdout.clone())
        .expect("utf-8 output")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn check_reports_problems_and_fails_on_unparsable_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), "meta/AwesomeMod/AwesomeMod-1.0.0.ckan", VALID);
    write(tmp.path(), "meta/BadMod/BadMod-1.0.ckan", INVALID);
    write(tmp.path(), "meta/Broken/Broken-1.ckan", UNPARSABLE);
    write(tmp.path(), "NetKAN/NiceMod.netkan", NETKAN);
    write(tmp.path(), "meta/README.md", "not metadata, skipped");
    // Valid, but hand-formatted: it counts as valid and as a round-trip difference.
    let hand = VALID
        .replace("AwesomeMod", "HandMod")
        .replace("\"name\": ", "\"name\" : ");
    write(tmp.path(), "meta/HandMod/HandMod-1.0.0.ckan", &hand);

    let output = run(
        &["ckan", "check", "--roundtrip", "meta", "NetKAN"],
        tmp.path(),
    );
    let lines = lines(&output);
    assert_eq!(output.status.code(), Some(1), "{lines:#?}");

    let summary = lines.last().expect("a summary line");
    assert_eq!(
        summary,
        "checked 5 files: 3 valid, 2 invalid, 1 identical after roundtrip, 2 differ"
    );
    let problems = &lines[..lines.len() - 1];
    assert!(
        problems
            .iter()
            .all(|l| l.starts_with("meta/BadMod/BadMod-1.0.ckan: ")
                || l.starts_with("meta/Broken/Broken-1.ckan: ")
                || l.starts_with("meta/HandMod/HandMod-1.0.0.ckan: differs after roundtrip: ")),
        "{problems:#?}"
    );
    assert!(
        problems.contains(&"meta/BadMod/BadMod-1.0.ckan: at $.license: \"Proprietary-ish\" is not valid under any of the schemas listed in the 'anyOf' keyword".to_owned()),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|l| l
            .starts_with("meta/BadMod/BadMod-1.0.ckan: at $: \"abstract\" is a required property")),
        "{problems:#?}"
    );
    assert!(
        problems.contains(
            &"meta/BadMod/BadMod-1.0.ckan: differs after roundtrip: no final newline (first difference at line 10)"
                .to_owned()
        ),
        "{problems:#?}"
    );
    assert!(
        problems.contains(
            &"meta/HandMod/HandMod-1.0.0.ckan: differs after roundtrip: space before colon (first difference at line 4)"
                .to_owned()
        ),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|l| l.starts_with("meta/Broken/Broken-1.ckan: yaml syntax error at line")),
        "{problems:#?}"
    );
}

#[test]
fn check_exits_zero_when_everything_parses() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), "meta/AwesomeMod/AwesomeMod-1.0.0.ckan", VALID);
    write(tmp.path(), "meta/BadMod/BadMod-1.0.ckan", INVALID);

    let output = run(&["ckan", "check", "--canonical", "meta"], tmp.path());
    let lines = lines(&output);
    assert_eq!(output.status.code(), Some(0), "{lines:#?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("checked 2 files: 1 valid, 1 invalid, 0 identical after roundtrip, 0 differ")
    );
    assert!(lines.contains(&"in canonical order: 2 of 2 .ckan files".to_owned()));

    let output = run(&["ckan", "check", "--json", "meta/AwesomeMod"], tmp.path());
    let summary: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one json summary");
    assert_eq!(summary["checked"], 1);
    assert_eq!(summary["valid"], 1);
}

#[test]
fn check_names_a_missing_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let output = run(&["ckan", "check", "nope"], tmp.path());
    assert_ne!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope"));
}
