//! The whole inflation of netkans that need no host and no download (`kind: dlc`): the steps
//! in order, injected overrides, multi-document mixing and merging, spec version, sort,
//! staging, auto-epoching, the `Releases` limit, warnings and errors, through the public
//! `Inflator` API.

use std::sync::Mutex;

use netkan_common::Game;
use netkan_common::config::HostSettings;
use netkan_common::log::Level;
use netkan_inflator::cache::DownloadCache;
use netkan_inflator::http::HttpClient;
use netkan_inflator::{InflateRequest, Inflation, InflationLog, Inflator, Services};

#[derive(Default)]
struct Lines(Mutex<Vec<(Level, String)>>);

impl InflationLog for Lines {
    fn line(&self, level: Level, message: &str) {
        self.0
            .lock()
            .expect("unpoisoned")
            .push((level, message.to_owned()));
    }
}

fn inflator(cache: &tempfile::TempDir) -> Inflator {
    Inflator::with_services(Services {
        http: HttpClient::new(&HostSettings::default()).expect("client"),
        cache: DownloadCache::new(cache.path(), 0),
    })
}

async fn inflate_with(req: InflateRequest) -> (Inflation, Vec<(Level, String)>) {
    let cache = tempfile::tempdir().expect("tempdir");
    let lines = Lines::default();
    let out = inflator(&cache).inflate(&req, &lines).await;
    (out, lines.0.into_inner().expect("unpoisoned"))
}

async fn inflate(netkan: &str) -> Inflation {
    inflate_with(InflateRequest::new(netkan, Game::ksp()))
        .await
        .0
}

const DLC: &str = r#"
identifier: BreakingGround-DLC
name: Breaking Ground
abstract: Breaking Ground expansion
author: SQUAD
version: 1.7.1
kind: dlc
license: restricted
ksp_version_min: 1.7.1
spec_version: v1.4
x_netkan_optimus_prime: true
resources:
  store: https://store.privatedivision.com/game/kerbal-space-program-breaking-ground-official
  homepage: https://www.kerbalspaceprogram.com
tags:
  - dlc
"#;

#[tokio::test]
async fn a_dlc_netkan_inflates_to_a_byte_exact_ckan() {
    let (inflation, lines) = inflate_with(InflateRequest::new(DLC, Game::ksp())).await;
    assert_eq!(
        inflation.check_time_text().len(),
        "2026-01-01T00:00:00".len()
    );
    let modules = inflation.outcome.expect("inflates");
    assert_eq!(inflation.identifier, "BreakingGround-DLC");
    assert_eq!(modules.len(), 1);
    assert_eq!(modules[0].file_name, "BreakingGround-DLC-1.7.1.ckan");
    assert_eq!(
        modules[0].text,
        r#"{
    "spec_version": "v1.28",
    "identifier": "BreakingGround-DLC",
    "name": "Breaking Ground",
    "abstract": "Breaking Ground expansion",
    "author": "SQUAD",
    "version": "1.7.1",
    "ksp_version_min": "1.7.1",
    "license": "restricted",
    "resources": {
        "homepage": "https://www.kerbalspaceprogram.com",
        "store": "https://store.privatedivision.com/game/kerbal-space-program-breaking-ground-official"
    },
    "tags": [
        "dlc"
    ],
    "kind": "dlc",
    "x_generated_by": "netkan"
}
"#
    );
    assert!(!inflation.staged);
    assert!(inflation.warnings.is_empty(), "{:?}", inflation.warnings);
    assert!(lines.contains(&(Level::Info, "Autobots roll out!".to_owned())));
    assert!(lines.contains(&(Level::Info, "Inflating BreakingGround-DLC".to_owned())));
}

#[tokio::test]
async fn one_sided_override_stanzas_also_run_at_the_default_step() {
    // With x_netkan_epoch the version is 1.0 until the epoch step and 1:1.0 after it, so a
    // stanza for 1:1.0 can only match at the default point (after epoch).
    let netkan = format!(
        "{DLC}x_netkan_epoch: 1\nx_netkan_override:\n\
         - version: '1:1.7.1'\n  after: staging\n  override:\n    abstract: one-sided\n\
         - version: '1:1.7.1'\n  before: epoch\n  after: $none\n  override:\n    name: two-sided\n\
         - version: '1.7.1'\n  before: epoch\n  after: $none\n  override:\n    author: before epoch\n"
    );
    let modules = inflate(&netkan).await.outcome.expect("inflates");
    let json = &modules[0].json;
    assert_eq!(json["version"], "1:1.7.1");
    assert_eq!(json["abstract"], "one-sided");
    assert_eq!(
        json["name"], "Breaking Ground",
        "a two-sided stanza runs only at its point"
    );
    assert_eq!(json["author"], "before epoch");
    assert_eq!(modules[0].file_name, "BreakingGround-DLC-1-1.7.1.ckan");
    assert!(!json.contains_key("x_netkan_override"));
}

#[tokio::test]
async fn staging_from_the_netkan_carries_its_reason_and_a_link_table() {
    let netkan = format!("{DLC}x_netkan_staging: true\nx_netkan_staging_reason: Check the DLC\n");
    let inflation = inflate(&netkan).await;
    inflation.outcome.expect("inflates");
    assert!(inflation.staged);
    assert_eq!(inflation.staging_reasons[0], "Check the DLC");
    assert!(
        inflation.staging_reasons[1].starts_with("Resource | URL\n:-- | :--\ndownload | \nhomepage | <https://www.kerbalspaceprogram.com>\n"),
        "{:?}",
        inflation.staging_reasons
    );
}

#[tokio::test]
async fn hard_coded_old_game_versions_are_staged() {
    let netkan = DLC.replace("ksp_version_min: 1.7.1", "ksp_version: 1.7.3");
    let inflation = inflate(&netkan).await;
    inflation.outcome.expect("inflates");
    assert!(inflation.staged);
    assert_eq!(
        inflation.staging_reasons[0],
        "Hard-coded game versions not compatible with current release: KSP 1.7.3\r\nPlease check that they match the forum thread."
    );
}

#[tokio::test]
async fn a_lower_version_than_indexed_is_auto_epoched_and_staged() {
    let mut req = InflateRequest::new(DLC, Game::ksp());
    req.highest_version = Some("1.8.0".into());
    let (inflation, _) = inflate_with(req).await;
    let modules = inflation.outcome.expect("inflates");
    assert_eq!(modules[0].version(), "1:1.7.1");
    assert!(inflation.staged);
    assert_eq!(
        inflation.staging_reasons[0],
        "Auto-epoching out of order version: 1.7.1 < 1.8.0 < 1:1.7.1"
    );
}

#[tokio::test]
async fn documents_share_fields_and_each_version_is_one_module() {
    // Host-free fields (tags, name) are shared between the documents; only x_netkan_* ones
    // differ, here an epoch and an override that makes the second document a prerelease.
    let netkan = "identifier: Multi-DLC\nname: Multi\nabstract: a\nauthor: me\nlicense: MIT\n\
                  kind: dlc\nversion: '1.0'\n---\n\
                  identifier: Multi-DLC\ntags:\n  - dlc\nx_netkan_epoch: 1\n\
                  x_netkan_override:\n  - version: '1:1.0'\n    override:\n      release_status: testing\n";
    let mut req = InflateRequest::new(netkan, Game::ksp());
    req.releases = None;
    let (inflation, _) = inflate_with(req.clone()).await;
    let modules = inflation.outcome.expect("inflates");
    let versions: Vec<String> = modules.iter().map(|m| m.version()).collect();
    assert_eq!(versions, ["1:1.0", "1.0"], "prereleases first");
    assert_eq!(modules[1].json["tags"], serde_json::json!(["dlc"]));
    assert_eq!(modules[0].json["name"], "Multi");
    assert_eq!(modules[0].json["spec_version"], "v1.36");
    assert_eq!(modules[1].json["spec_version"], "v1.28");
    assert!(inflation.warnings.is_empty(), "{:?}", inflation.warnings);

    req.releases = Some(1);
    let (inflation, _) = inflate_with(req.clone()).await;
    let modules = inflation
        .outcome
        .expect("one stable release is within the limit");
    let versions: Vec<String> = modules.iter().map(|m| m.version()).collect();
    assert_eq!(versions, ["1:1.0"], "Take(1) after prereleases first");

    req.netkan = netkan.replace("testing", "stable");
    let (inflation, _) = inflate_with(req).await;
    assert_eq!(
        inflation.outcome.expect_err("too many").to_string(),
        "Generated 2 modules but only 1 requested: 1.0 on ; 1:1.0 on "
    );
}

#[tokio::test]
async fn documents_of_one_version_without_downloads_merge_into_a_null_download() {
    // CKAN's merge collects every document's download, missing ones as null, and writes a
    // lone null back: two dlc documents of one version fail the schema, as they do in CKAN.
    let netkan = "identifier: Twin\nname: n\nabstract: a\nauthor: me\nlicense: MIT\nkind: dlc\n\
                  version: '1.0'\n---\nidentifier: Twin\n";
    let err = inflate(netkan)
        .await
        .outcome
        .expect_err("null download")
        .to_string();
    assert!(
        err.starts_with("Schema validation failed: $.download"),
        "{err}"
    );
}

#[tokio::test]
async fn a_warning_is_kept_once() {
    let netkan = "identifier: NoTags\nname: n\nabstract: a\nauthor: me\nlicense: MIT\nkind: dlc\n\
                  version: '1.0'\n---\nidentifier: NoTags\nx_netkan_epoch: 1\n";
    let mut req = InflateRequest::new(netkan, Game::ksp());
    req.releases = None;
    let (inflation, lines) = inflate_with(req).await;
    assert_eq!(inflation.outcome.expect("inflates").len(), 2);
    let tag_warning = "Tags not found, see https://github.com/KSP-CKAN/CKAN/wiki/Suggested-Tags";
    assert_eq!(inflation.warnings, [tag_warning]);
    let logged = lines
        .iter()
        .filter(|l| **l == (Level::Warn, tag_warning.to_owned()))
        .count();
    assert_eq!(logged, 2, "logged each time, kept once");
}

#[tokio::test]
async fn bad_input_fails_with_a_clear_error() {
    for (netkan, wanted) in [
        (
            "identifier: [unclosed",
            "the .netkan does not parse: yaml syntax error",
        ),
        (
            "- a list\n",
            "the .netkan does not parse: no mapping document found",
        ),
        (
            "identifier: X1\n$kref: '#/ckan/techman/1'\n",
            "Invalid $kref: #/ckan/techman/1",
        ),
        (
            "identifier: X1\nname: x\n",
            "X1 has no $kref field, this is required when no download url is specified",
        ),
        (
            "identifier: X1\nkind: dlc\nversion: '1'\n---\nidentifier: X2\nkind: dlc\n",
            "Error: Have metadata for X2, but wanted X1",
        ),
    ] {
        let inflation = inflate(netkan).await;
        let err = inflation.outcome.expect_err(netkan).to_string();
        assert!(err.starts_with(wanted), "{netkan:?}: {err}");
        assert!(!err.contains("panicked"));
    }
}

#[tokio::test]
async fn the_file_name_must_match_the_identifier() {
    let mut req = InflateRequest::new(DLC, Game::ksp());
    req.file_identifier = Some("SomethingElse".into());
    let (inflation, _) = inflate_with(req).await;
    assert_eq!(
        inflation.outcome.expect_err("mismatch").to_string(),
        "Error: Have metadata for BreakingGround-DLC, but wanted SomethingElse"
    );
}

#[tokio::test]
async fn a_malformed_highest_version_is_refused() {
    let mut req = InflateRequest::new(DLC, Game::ksp());
    req.highest_version = Some("99999999999:1".into());
    let (inflation, _) = inflate_with(req).await;
    let err = inflation.outcome.expect_err("bad attribute").to_string();
    assert!(err.starts_with("HighestVersion \"99999999999:1\""), "{err}");
}
