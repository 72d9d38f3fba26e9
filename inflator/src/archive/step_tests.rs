//! The archive steps and validators end to end: the download is served by the fixture
//! upstream and fetched through the real cache, remote `.version` and `swinfo.json` files
//! too. Cases from CKAN's `AvcTransformerTests`, `AvcKrefTransformerTests`,
//! `InternalCkanTransformerTests`, `SpaceWarpInfoTransformerTests`,
//! `LocalizationsTransformerTests`, `DownloadAttributeTransformerTests`,
//! `InstallSizeTransformerTests`, `InstallsFilesValidatorTests`, `VrefValidatorTests`,
//! `PluginsValidatorTests` and `SpaceWarpInfoValidatorTests`.

use std::time::Duration;

use netkan_common::Game;
use netkan_common::ckan::Object;
use serde_json::{Value, json};

use crate::InflateError;
use crate::cache::DownloadCache;
use crate::context::{Context, GameInfo, Services, TransformOptions};
use crate::pipeline::Step;
use crate::testing::archive::{ZipBuilder, avc_file};
use crate::testing::upstream::{Reply, Upstream};
use crate::testing_support::{Recorder, obj};
use crate::transformers::avc::apply_versions;
use crate::validate::installs;

const DOWNLOAD: &str = "https://awesomemod.example/AwesomeMod.zip";

struct World {
    up: Upstream,
    services: Services,
    game: GameInfo,
    log: Recorder,
    _cache: tempfile::TempDir,
}

impl World {
    async fn new() -> World {
        World::for_game(GameInfo::ksp()).await
    }

    async fn for_game(game: GameInfo) -> World {
        let up = Upstream::start().await;
        let cache = tempfile::tempdir().expect("cache dir");
        World {
            services: Services {
                http: up.client(),
                cache: DownloadCache::new(cache.path(), 0),
            },
            up,
            game,
            log: Recorder::default(),
            _cache: cache,
        }
    }

    fn serve(&self, zip: &ZipBuilder) -> &Self {
        self.up.file(DOWNLOAD, zip.build());
        self
    }

    fn cx(&self) -> Context<'_> {
        Context::new(
            TransformOptions::default(),
            &self.services,
            &self.game,
            &self.log,
        )
    }

    /// One step; its output (one object) and the warnings.
    async fn step(&self, step: Step, json: Value) -> Result<(Object, Vec<String>), InflateError> {
        let mut cx = self.cx();
        let mut out = step.run(obj(json), &mut cx).await?;
        assert_eq!(out.len(), 1, "archive steps never fan out");
        Ok((out.remove(0), cx.warnings().to_vec()))
    }

    async fn ok(&self, step: Step, json: Value) -> (Object, Vec<String>) {
        self.step(step, json).await.expect("the step succeeds")
    }
}

fn module(extra: Value) -> Value {
    let mut base = json!({
        "spec_version": 1,
        "identifier": "AwesomeMod",
        "author": "Phenomenal Author",
        "download": DOWNLOAD,
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

fn avc_zip(avc: &str) -> ZipBuilder {
    ZipBuilder::new()
        .file("AwesomeMod/AwesomeMod.version", avc)
        .file("AwesomeMod/Plugins/AwesomeMod.dll", "dll")
}

#[tokio::test]
async fn avc_adds_the_version_and_game_version_of_the_file() {
    let w = World::new().await;
    w.serve(&avc_zip(&avc_file("1.0.0", Some("1.0.4"))));
    let (out, warnings) = w
        .ok(Step::Avc, module(json!({"$vref": "#/ckan/ksp-avc"})))
        .await;
    assert_eq!(out["version"], "1.0.0");
    assert_eq!(out["ksp_version"], "1.0.4");
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[tokio::test]
async fn avc_prefers_a_min_max_range_over_ksp_version() {
    let w = World::new().await;
    w.serve(&avc_zip(
        r#"{"KSP_VERSION": "1.0.4", "KSP_VERSION_MIN": "0.90", "KSP_VERSION_MAX": "1.0.3"}"#,
    ));
    let (out, _) = w
        .ok(Step::Avc, module(json!({"$vref": "#/ckan/ksp-avc"})))
        .await;
    assert_eq!(out["ksp_version_min"], "0.90");
    assert_eq!(out["ksp_version_max"], "1.0.3");
    assert!(!out.contains_key("ksp_version"));
    assert!(!out.contains_key("version"), "no VERSION, no version");
}

#[test]
fn the_compatibility_merge_table_of_avc_transformer_tests_holds() {
    use crate::archive::avc::AvcVersion;
    use netkan_common::ckan::GameVersion;
    let g = |s: Option<&str>| s.map(|s| GameVersion::parse(s).expect("valid game version"));
    type Row<'a> = [Option<&'a str>; 9];
    let rows: [Row<'_>; 15] = [
        [
            Some("1.0.4"),
            None,
            None,
            Some("1.0.4"),
            None,
            None,
            Some("1.0.4"),
            None,
            None,
        ],
        [
            None,
            Some("1.0.4"),
            Some("1.0.4"),
            None,
            Some("1.0.4"),
            Some("1.0.4"),
            Some("1.0.4"),
            None,
            None,
        ],
        [
            Some("1.0.4"),
            None,
            None,
            None,
            Some("1.0.4"),
            Some("1.0.4"),
            Some("1.0.4"),
            None,
            None,
        ],
        [
            None,
            Some("1.0.2"),
            Some("1.0.4"),
            None,
            Some("1.0.2"),
            Some("1.0.4"),
            None,
            Some("1.0.2"),
            Some("1.0.4"),
        ],
        [
            Some("1.0.4"),
            None,
            None,
            None,
            Some("1.0.0"),
            Some("1.0.2"),
            None,
            Some("1.0.0"),
            Some("1.0.4"),
        ],
        [
            Some("1.0.4"),
            None,
            None,
            Some("0.90"),
            None,
            None,
            None,
            Some("0.90"),
            Some("1.0.4"),
        ],
        [
            None,
            Some("1.0.4"),
            Some("1.0.4"),
            Some("1.0.0"),
            None,
            None,
            None,
            Some("1.0.0"),
            Some("1.0.4"),
        ],
        [
            None,
            Some("1.0.0"),
            Some("1.0.4"),
            Some("1.0.2"),
            None,
            None,
            None,
            Some("1.0.0"),
            Some("1.0.4"),
        ],
        [
            None,
            None,
            None,
            Some("1.0.2"),
            None,
            None,
            Some("1.0.2"),
            None,
            None,
        ],
        [
            Some("1.0.2"),
            None,
            None,
            None,
            None,
            None,
            Some("1.0.2"),
            None,
            None,
        ],
        [None, None, None, None, None, None, None, None, None],
        [
            None,
            Some("1.0.0"),
            Some("1.0.1"),
            Some("1.0.2"),
            Some("1.0.3"),
            Some("1.0.4"),
            None,
            Some("1.0.0"),
            Some("1.0.4"),
        ],
        [
            None,
            None,
            None,
            Some("1.5.1"),
            Some("1.5.1"),
            None,
            None,
            Some("1.5.1"),
            None,
        ],
        [
            None,
            None,
            None,
            Some("1.5.1"),
            None,
            Some("1.5.1"),
            None,
            None,
            Some("1.5.1"),
        ],
        [
            Some("any"),
            None,
            None,
            None,
            None,
            None,
            Some("any"),
            None,
            None,
        ],
    ];
    for row in rows {
        let mut json = obj(module(json!({"$vref": "#/ckan/ksp-avc"})));
        for (key, value) in ["ksp_version", "ksp_version_min", "ksp_version_max"]
            .iter()
            .zip(&row[..3])
        {
            if let Some(v) = value {
                json.insert((*key).to_owned(), json!(v));
            }
        }
        let avc = AvcVersion {
            ksp_version: g(row[3]),
            ksp_version_min: g(row[4]),
            ksp_version_max: g(row[5]),
            ..AvcVersion::default()
        };
        apply_versions(&mut json, &avc);
        let got = ["ksp_version", "ksp_version_min", "ksp_version_max"]
            .map(|k| json.get(k).and_then(Value::as_str).map(str::to_owned));
        let want = [row[6], row[7], row[8]].map(|v| v.map(str::to_owned));
        assert_eq!(got, want, "row {row:?}");
    }
}

#[tokio::test]
async fn avc_keeps_the_hosts_version_unless_told_to_trust_the_file() {
    let w = World::new().await;
    w.serve(&avc_zip(&avc_file("1.2.3", None)));
    let (kept, _) = w
        .ok(
            Step::Avc,
            module(json!({"$vref": "#/ckan/ksp-avc", "version": "9001"})),
        )
        .await;
    assert_eq!(kept["version"], "9001");
    let (trusted, _) = w
        .ok(
            Step::Avc,
            module(json!({"$vref": "#/ckan/ksp-avc", "version": "9001", "x_netkan_trust_version_file": true})),
        )
        .await;
    assert_eq!(trusted["version"], "1.2.3");
}

#[tokio::test]
async fn a_remote_version_file_with_the_same_version_is_preferred() {
    let w = World::new().await;
    let remote_url = "https://raw.githubusercontent.com/u/p/master/AwesomeMod.version";
    let local = r#"{"VERSION": "1.0.0", "KSP_VERSION": "1.8.1",
        "URL": "https://github.com/u/p/blob/master/AwesomeMod.version"}"#;
    w.serve(&avc_zip(local));
    w.up.on(
        "https://api.github.com/repos/u/p/contents/AwesomeMod.version?ref=master",
        Reply::text(
            r#"{"VERSION": "1.0.0", "KSP_VERSION_MIN": "1.8.0", "KSP_VERSION_MAX": "1.12.99"}"#,
        ),
    );
    let (out, warnings) = w
        .ok(Step::Avc, module(json!({"$vref": "#/ckan/ksp-avc"})))
        .await;
    assert_eq!(out["resources"]["remote-avc"], remote_url);
    assert_eq!(out["ksp_version_min"], "1.8.0");
    assert_eq!(out["ksp_version_max"], "1.12.99");
    assert!(warnings.is_empty(), "{warnings:?}");
    // A remote file describing another version is ignored.
    let w2 = World::new().await;
    w2.serve(&avc_zip(local));
    w2.up.on(
        "https://api.github.com/repos/u/p/contents/AwesomeMod.version?ref=master",
        Reply::text(r#"{"VERSION": "2.0.0", "KSP_VERSION": "1.12.5"}"#),
    );
    let (out, _) = w2
        .ok(Step::Avc, module(json!({"$vref": "#/ckan/ksp-avc"})))
        .await;
    assert_eq!(out["ksp_version"], "1.8.1");
}

#[tokio::test]
async fn remote_version_file_trouble_is_a_warning_but_a_rate_limit_fails() {
    let local =
        |url: &str| format!(r#"{{"VERSION": "1.0.0", "KSP_VERSION": "1.8.1", "URL": "{url}"}}"#);
    let w = World::new().await;
    w.serve(&avc_zip(&local("https://example.org/missing.version")));
    let (out, warnings) = w
        .ok(Step::Avc, module(json!({"$vref": "#/ckan/ksp-avc"})))
        .await;
    assert_eq!(out["ksp_version"], "1.8.1");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(
            "Error fetching remote version file https://example.org/missing.version: "
        ),
        "{warnings:?}"
    );
    let w = World::new().await;
    w.serve(&avc_zip(&local("https://example.org/broken.version")));
    w.up.on(
        "https://example.org/broken.version",
        Reply::text("{ not json"),
    );
    let (_, warnings) = w
        .ok(Step::Avc, module(json!({"$vref": "#/ckan/ksp-avc"})))
        .await;
    assert!(
        warnings[0]
            .starts_with("Error parsing remote version file https://example.org/broken.version: "),
        "{warnings:?}"
    );
    let w = World::new().await;
    w.serve(&avc_zip(&local(
        "https://forum.kerbalspaceprogram.com/topic/1",
    )));
    let (_, warnings) = w
        .ok(Step::Avc, module(json!({"$vref": "#/ckan/ksp-avc"})))
        .await;
    assert_eq!(
        warnings,
        ["AVC host does not contain version files: forum.kerbalspaceprogram.com"]
    );
    let w = World::new().await;
    w.serve(&avc_zip(&local("not a url")));
    let (out, warnings) = w
        .ok(Step::Avc, module(json!({"$vref": "#/ckan/ksp-avc"})))
        .await;
    assert_eq!(
        warnings,
        ["Version file URL property is invalid: not a url"]
    );
    assert!(!out.contains_key("resources"));
    let w = World::new().await;
    w.serve(&avc_zip(&local(
        "https://github.com/u/p/blob/master/AwesomeMod.version",
    )));
    w.up.on(
        "https://api.github.com/repos/u/p/contents/AwesomeMod.version?ref=master",
        Reply::github_rate_limited(Duration::from_secs(60)),
    );
    let err = w
        .step(Step::Avc, module(json!({"$vref": "#/ckan/ksp-avc"})))
        .await
        .expect_err("a rate limit fails the step");
    assert!(matches!(err, InflateError::RateLimited { .. }), "{err}");
}

#[tokio::test]
async fn version_file_errors_name_the_file() {
    let w = World::new().await;
    w.serve(&avc_zip(r#"{"VERSION": {"MAJOR": 08}}"#));
    let err = w
        .step(Step::Avc, module(json!({"$vref": "#/ckan/ksp-avc"})))
        .await
        .expect_err("invalid octal");
    assert!(
        err.to_string().starts_with("Error parsing version file AwesomeMod/AwesomeMod.version: Input string '08' is not a valid number."),
        "{err}"
    );
    let w = World::new().await;
    w.serve(
        &avc_zip(&avc_file("1.0", None)).file("AwesomeMod/Other.version", avc_file("2.0", None)),
    );
    let err = w
        .step(Step::Avc, module(json!({"$vref": "#/ckan/ksp-avc"})))
        .await
        .expect_err("two files");
    assert_eq!(
        err.to_string(),
        "Too many .version files located: AwesomeMod/AwesomeMod.version, AwesomeMod/Other.version"
    );
    let (out, _) = w
        .ok(
            Step::Avc,
            module(json!({"$vref": "#/ckan/ksp-avc/Other\\.version$"})),
        )
        .await;
    assert_eq!(out["version"], "2.0.0");
}

#[tokio::test]
async fn vref_warnings_follow_the_version_file_and_swinfo_presence() {
    for (with_vref, with_avc, expected) in [
        (false, false, None),
        (
            false,
            true,
            Some(
                "$vref is not ksp-avc, version file present: DogeCoinFlag-1.01/GameData/DogeCoinFlag/ksp-avc.version",
            ),
        ),
        (true, false, Some("$vref is ksp-avc, version file missing")),
        (true, true, None),
    ] {
        let mut zip = ZipBuilder::new()
            .dir("DogeCoinFlag-1.01/GameData/DogeCoinFlag/")
            .file(
                "DogeCoinFlag-1.01/GameData/DogeCoinFlag/Flags/dogecoin.png",
                "png",
            );
        if with_avc {
            zip = zip.file(
                "DogeCoinFlag-1.01/GameData/DogeCoinFlag/ksp-avc.version",
                avc_file("1.1.0", None),
            );
        }
        let w = World::new().await;
        w.serve(&zip);
        let mut json = json!({"identifier": "TestMod", "version": "1.0", "download": DOWNLOAD,
            "install": [{"find": "DogeCoinFlag", "install_to": "GameData"}]});
        if with_vref {
            json["$vref"] = json!("#/ckan/ksp-avc");
        }
        let mut cx = w.cx();
        installs::vref(&obj(json), &mut cx)
            .await
            .expect("warnings only");
        assert_eq!(
            cx.warnings(),
            expected.as_slice(),
            "vref={with_vref} avc={with_avc}"
        );
    }
    for (with_vref, with_swinfo, expected) in [
        (false, false, None),
        (
            false,
            true,
            Some("$vref is not space-warp, swinfo.json file present"),
        ),
        (
            true,
            false,
            Some("$vref is space-warp, swinfo.json file missing"),
        ),
        (true, true, None),
    ] {
        let mut zip = ZipBuilder::new().file("BurnController/BurnController.dll", "dll");
        if with_swinfo {
            zip = zip.file("BurnController/swinfo.json", r#"{"version": "0.8.1"}"#);
        }
        let w = World::for_game(GameInfo::builtin(&Game::new("ksp2").expect("game id"))).await;
        w.serve(&zip);
        let mut json = json!({"identifier": "TestMod", "version": "1.0", "download": DOWNLOAD,
            "install": [{"find": "BurnController", "install_to": "BepInEx/plugins"}]});
        if with_vref {
            json["$vref"] = json!("#/ckan/space-warp");
        }
        let mut cx = w.cx();
        installs::vref(&obj(json), &mut cx)
            .await
            .expect("warnings only");
        assert_eq!(
            cx.warnings(),
            expected.as_slice(),
            "vref={with_vref} swinfo={with_swinfo}"
        );
    }
}

#[tokio::test]
async fn avc_kref_reads_a_remote_version_file() {
    let w = World::new().await;
    w.up.on(
        "https://mysite.org/AwesomeMod.version",
        Reply::text(
            r#"{
                "NAME":     "AwesomeMod",
                "URL":      "https://mysite.org/AwesomeMod.version",
                "DOWNLOAD": "https://mysite.org/AwesomeMod.zip",
                "GITHUB":   { "USERNAME": "AwesomeModder", "REPOSITORY": "AwesomeMod" },
                "VERSION":  { "MAJOR": 1, "MINOR": 0, "PATCH": 0 },
                "KSP_VERSION": { "MAJOR": 1, "MINOR": 4, "PATCH": 1 }
            }"#,
        ),
    );
    let (out, _) = w
        .ok(
            Step::AvcKref,
            json!({"spec_version": 1, "identifier": "AwesomeMod",
                   "$kref": "#/ckan/ksp-avc/https://mysite.org/AwesomeMod.version"}),
        )
        .await;
    assert_eq!(out["name"], "AwesomeMod");
    assert_eq!(out["version"], "1.0.0");
    assert_eq!(out["ksp_version"], "1.4.1");
    assert_eq!(out["download"], "https://mysite.org/AwesomeMod.zip");
    assert_eq!(
        out["resources"]["repository"],
        "https://github.com/AwesomeModder/AwesomeMod"
    );
    assert!(!out.contains_key("$kref"));
}

#[tokio::test]
async fn internal_ckans_fill_gaps_without_overriding_or_copying_the_kref() {
    let w = World::new().await;
    w.serve(&ZipBuilder::new().file("AwesomeMod/AwesomeMod.dll", "dll").file(
        "AwesomeMod/internal.ckan",
        "spec_version: 1\nfoo: bar\n$kref: '#/ckan/github/ThisShould/BeIgnored'\nksp_version_min: '1.8'\nksp_version_max: '1.8'\nresources:\n  homepage: https://h.example\n",
    ));
    let base = json!({"spec_version": 1, "identifier": "AwesomeMod", "author": "A", "version": "1.0",
        "download": DOWNLOAD, "resources": {"repository": "https://r.example"}});
    let (added, _) = w.ok(Step::InternalCkan, base.clone()).await;
    assert_eq!(added["foo"], "bar");
    assert!(!added.contains_key("$kref"));
    // Equal bounds are normalized to ksp_version.
    assert_eq!(added["ksp_version"], "1.8");
    assert_eq!(added["resources"]["homepage"], "https://h.example");
    assert_eq!(added["resources"]["repository"], "https://r.example");
    let mut existing = base.clone();
    existing["foo"] = json!("baz");
    let (kept, _) = w.ok(Step::InternalCkan, existing).await;
    assert_eq!(kept["foo"], "baz");
    let w2 = World::new().await;
    w2.serve(&ZipBuilder::new().file("AwesomeMod/AwesomeMod.dll", "dll"));
    let (same, _) = w2.ok(Step::InternalCkan, base.clone()).await;
    assert_eq!(Value::Object(same), base);
}

#[tokio::test]
async fn space_warp_info_fills_name_author_abstract_version_and_compatibility() {
    let w = World::for_game(GameInfo::builtin(&Game::new("ksp2").expect("game id"))).await;
    let local = r#"{
        "name": "Mod with swinfo", "author": "Mod author",
        "description": "A mod that contains a swinfo.json and gets many properties from it",
        "version": "1.0.0", "version_check": "https://modwithswinfo.com/swinfo.json",
        "ksp2_version": {"min": "0.1.0.0", "max": "0.2.*"}
    }"#;
    w.serve(&ZipBuilder::new().file("SWInfoMod/swinfo.json", local));
    w.up.on(
        "https://modwithswinfo.com/swinfo.json",
        Reply::text(
            r#"{"name": "Mod with swinfo", "author": "Mod author", "description": "Online copy of the info",
                "version": "1.0.0", "version_check": "https://modwithswinfo.com/swinfo.json",
                "ksp2_version": {"min": "0.1.0.0", "max": "0.2.0"}}"#,
        ),
    );
    let (out, _) = w
        .ok(
            Step::SpaceWarpInfo,
            json!({"identifier": "SWInfoMod", "$vref": "#/ckan/space-warp", "download": DOWNLOAD}),
        )
        .await;
    assert_eq!(out["name"], "Mod with swinfo");
    assert_eq!(out["author"], "Mod author");
    assert_eq!(out["abstract"], "Online copy of the info");
    assert_eq!(out["version"], "1.0.0");
    assert_eq!(
        out["resources"]["remote-swinfo"],
        "https://modwithswinfo.com/swinfo.json"
    );
    assert_eq!(out["ksp_version_min"], "0.1.0");
    assert_eq!(out["ksp_version_max"], "0.2.0");
}

#[tokio::test]
async fn swinfo_dependencies_missing_from_the_module_are_warned_about() {
    let w = World::new().await;
    w.serve(&ZipBuilder::new().file(
        "TestMod/swinfo.json",
        r#"{"name": "Mod with swinfo", "version": "1.0.0", "dependencies": [
            { "id": "Missing1" }, { "id": "Present1" },
            { "id": "With.Name.Space.Prefix.Missing2" }, { "id": "With.Name.Space.Prefix.Present2" },
            { "id": "missing3" }, { "id": "present3" }]}"#,
    ));
    let json = obj(
        json!({"identifier": "TestMod", "version": "1.0", "download": DOWNLOAD,
        "depends": [{"name": "Present1"}, {"name": "Present2"}, {"name": "Present3"}]}),
    );
    let mut cx = w.cx();
    installs::space_warp_info(&json, &mut cx)
        .await
        .expect("warnings only");
    assert_eq!(
        cx.warnings(),
        [
            "Dependencies from swinfo.json missing from module: Missing1, With.Name.Space.Prefix.Missing2, missing3"
        ]
    );
}

#[tokio::test]
async fn localizations_are_found_in_cfg_files() {
    let w = World::new().await;
    w.serve(&ZipBuilder::new().file(
        "LocalizedMod/lang.cfg",
        "Localization\n{\n    en-us\n    {\n        key = val\n    }\n\n    es-es\n    {\n        key = val\n    }\n}\n\nLocalization\n{\n    de-de\n    {\n        key = val\n    }\n}\n",
    ));
    let (out, _) = w
        .ok(
            Step::Localizations,
            json!({"identifier": "LocalizedMod", "version": "1.0", "download": DOWNLOAD}),
        )
        .await;
    assert_eq!(out["localizations"], json!(["de-de", "en-us", "es-es"]));
    let (kept, _) = w
        .ok(
            Step::Localizations,
            json!({"identifier": "LocalizedMod", "version": "1.0", "download": DOWNLOAD, "localizations": ["fr"]}),
        )
        .await;
    assert_eq!(kept["localizations"], json!(["fr"]));
}

#[tokio::test]
async fn download_attributes_are_added_and_nothing_happens_without_a_download() {
    let w = World::new().await;
    let zip = ZipBuilder::new().file("AwesomeMod/a.cfg", "x");
    w.serve(&zip);
    let bytes = zip.build();
    let facts = {
        let f = zip.temp_file();
        crate::archive::sniff::file_facts(f.path()).expect("facts")
    };
    let (out, _) = w.ok(Step::DownloadAttributes, module(json!({}))).await;
    assert_eq!(out["download_size"], bytes.len());
    assert_eq!(out["download_hash"]["sha1"], facts.sha1.as_str());
    assert_eq!(out["download_hash"]["sha256"], facts.sha256.as_str());
    assert_eq!(out["download_content_type"], "application/zip");
    // A module that needs v1.36 (a prerelease) gets no SHA-1.
    let (pre, _) = w
        .ok(
            Step::DownloadAttributes,
            module(json!({"release_status": "testing"})),
        )
        .await;
    assert_eq!(pre["download_hash"], json!({"sha256": facts.sha256}));
    let bare = json!({"spec_version": 1, "identifier": "AwesomeMod"});
    let (same, _) = w.ok(Step::DownloadAttributes, bare.clone()).await;
    assert_eq!(Value::Object(same), bare);
}

#[tokio::test]
async fn install_size_sums_the_installed_files_and_one_download_serves_every_step() {
    let w = World::new().await;
    w.serve(
        &ZipBuilder::new()
            .dir("DogeCoinFlag-1.01/GameData/DogeCoinFlag/")
            .file(
                "DogeCoinFlag-1.01/GameData/DogeCoinFlag/Flags/dogecoin.png",
                vec![1u8; 52043],
            )
            .file("DogeCoinFlag-1.01/README.md", "readme"),
    );
    let json = obj(
        json!({"spec_version": 1, "identifier": "DogeCoinFlag", "version": "1.01",
        "author": "pjf", "download": DOWNLOAD, "license": "CC-BY"}),
    );
    let mut cx = w.cx();
    let mut current = json;
    for step in [
        Step::InternalCkan,
        Step::Avc,
        Step::Localizations,
        Step::DownloadAttributes,
        Step::InstallSize,
    ] {
        current = step.run(current, &mut cx).await.expect("step").remove(0);
    }
    assert_eq!(current["install_size"], 52043);
    installs::installs_files(&current, &mut cx)
        .await
        .expect("installs files");
    assert_eq!(
        w.up.count(DOWNLOAD),
        1,
        "fetched once for the whole inflation"
    );
}

#[tokio::test]
async fn installs_files_refuses_no_files_nested_game_data_and_duplicates() {
    let w = World::new().await;
    w.serve(
        &ZipBuilder::new()
            .dir("DogeCoinFlag-1.01/GameData/DogeCoinFlag/")
            .file(
                "DogeCoinFlag-1.01/GameData/DogeCoinFlag/Flags/dogecoin.png",
                "png",
            ),
    );
    let run = |install: Value| {
        let json = obj(
            json!({"identifier": "DumbCoinFlag", "version": "1.0", "download": DOWNLOAD, "install": install}),
        );
        let w = &w;
        async move {
            let mut cx = w.cx();
            let r = installs::installs_files(&json, &mut cx).await;
            (r, cx.warnings().to_vec())
        }
    };
    let (r, _) = run(json!([{"file": "DOES_NOT_EXIST", "install_to": "GameData"}])).await;
    assert_eq!(
        r.expect_err("no files").to_string(),
        "Module contains no files matching: file=\"DOES_NOT_EXIST\""
    );
    let (r, _) =
        run(json!([{"find": "DogeCoinFlag", "install_to": "GameData/DogeCoinFlag/GameData"}]))
            .await;
    assert_eq!(
        r.expect_err("nested").to_string(),
        "GameData directory found within GameData:\nGameData/DogeCoinFlag/GameData/DogeCoinFlag/Flags/dogecoin.png"
    );
    let (r, _) = run(json!([{"find": "DogeCoinFlag", "install_to": "GameData"},
                            {"find": "DogeCoinFlag", "install_to": "GameData"}]))
    .await;
    assert_eq!(
        r.expect_err("duplicates").to_string(),
        "Multiple files attempted to install to:\nGameData/DogeCoinFlag/Flags/dogecoin.png"
    );
    let (r, warnings) = run(json!([{"find": "DogeCoinFlag", "install_to": "GameData",
                                    "include_only": ["dogecoin.png", "nothing.txt"]}]))
    .await;
    r.expect("fine");
    assert_eq!(warnings, ["No matches for include_only: nothing.txt"]);
}

#[tokio::test]
async fn plugins_harmony_crafts_and_module_manager_are_checked() {
    let w = World::new().await;
    w.serve(
        &ZipBuilder::new()
            .file("DogeCoinPlugin/Plugins/DogeCoinPlugin.dll", "dll")
            .file("DogeCoinPlugin/Plugins/0Harmony.dll", "dll")
            .file("DogeCoinPlugin/Ships/VAB/Doge.craft", "craft")
            .file("DogeCoinPlugin/patch.cfg", "@PART[*]:NEEDS[Doge] { }\n"),
    );
    let json = obj(
        json!({"identifier": "NotDogeCoinPlugin", "version": "1.0", "download": DOWNLOAD,
        "install": [{"find": "DogeCoinPlugin", "install_to": "GameData"}]}),
    );
    let mut cx = w.cx();
    installs::plugins(&json, &mut cx)
        .await
        .expect("warnings only");
    installs::crafts_in_ships(&json, &mut cx)
        .await
        .expect("warnings only");
    installs::module_manager_depends(&json, &mut cx)
        .await
        .expect("warnings only");
    assert_eq!(
        cx.warnings(),
        [
            "No plugin matching the identifier, manual installations won't be detected: GameData/DogeCoinPlugin/Plugins/0Harmony.dll, GameData/DogeCoinPlugin/Plugins/DogeCoinPlugin.dll",
            "Unbounded future compatibility for module with a plugin, consider setting $vref or ksp_version or ksp_version_max",
            "Craft files installed outside Ships folder: GameData/DogeCoinPlugin/Ships/VAB/Doge.craft",
            "ModuleManager syntax used without ModuleManager dependency: DogeCoinPlugin/patch.cfg",
        ]
    );
    let err = installs::harmony(&json, &mut cx)
        .await
        .expect_err("harmony");
    assert_eq!(
        err.to_string(),
        "Harmony DLL found at DogeCoinPlugin/Plugins/0Harmony.dll, but Harmony1 is not in the provides list"
    );
    let mut provides = json.clone();
    provides.insert("provides".into(), json!(["Harmony1"]));
    installs::harmony(&provides, &mut cx)
        .await
        .expect("provided");
}
