//! Tests of archive reading and install-stanza selection, modelled on CKAN's
//! `ModuleInstallDescriptorTests`, `ModuleInstallerTests` and `ModuleServiceTests`, plus the
//! hostile archives.

use serde_json::{Value, json};

use super::avc::{FindAvcError, find_internal_avc, read_avc};
use super::contents;
use super::install::{InstallErrorKind, InstallFileSet, InstallPlan, KSP, KSP2, Stanza};
use super::zip::{Archive, ArchiveError, Limits};
use crate::testing::archive::{ZipBuilder, avc_file, localization_cfg};

fn obj(v: Value) -> netkan_common::ckan::Object {
    match v {
        Value::Object(o) => o,
        other => panic!("not an object: {other}"),
    }
}

fn open(b: &ZipBuilder) -> (tempfile::NamedTempFile, Archive) {
    let f = b.temp_file();
    let a = Archive::open(f.path(), "https://example.com/Mod.zip").expect("a valid test zip");
    (f, a)
}

/// The DogeCoinFlag layout of CKAN's test data, rebuilt.
fn doge() -> ZipBuilder {
    ZipBuilder::new()
        .dir("DogeCoinFlag-1.01/")
        .dir("DogeCoinFlag-1.01/GameData/")
        .dir("DogeCoinFlag-1.01/GameData/DogeCoinFlag/")
        .dir("DogeCoinFlag-1.01/GameData/DogeCoinFlag/Flags/")
        .file(
            "DogeCoinFlag-1.01/GameData/DogeCoinFlag/Flags/dogecoin.png",
            vec![7u8; 52043],
        )
        .file("DogeCoinFlag-1.01/README.md", "# Doge")
        .file(
            "DogeCoinFlag-1.01/DogeCoinFlag.ckan",
            "identifier: DogeCoinFlag\nfoo: bar\n",
        )
}

fn doge_extras() -> ZipBuilder {
    doge()
        .file(
            "DogeCoinFlag-1.01/GameData/DogeCoinFlag/README.md",
            "readme",
        )
        .file(
            "DogeCoinFlag-1.01/GameData/DogeCoinFlag/Flags/README.md",
            "readme",
        )
        .file(
            "DogeCoinFlag-1.01/GameData/DogeCoinFlag/notes.txt.bak",
            "notes",
        )
}

fn plan(module: Value) -> InstallPlan {
    InstallPlan::of(&obj(module), &KSP, None).expect("a valid module")
}

fn destinations(plan: &InstallPlan, archive: &Archive) -> Vec<String> {
    plan.files(archive)
        .expect("files to install")
        .into_iter()
        .map(|f| f.destination)
        .collect()
}

fn sources(plan: &InstallPlan, archive: &Archive) -> Vec<String> {
    plan.files(archive)
        .expect("files to install")
        .into_iter()
        .map(|f| archive.entries()[f.entry].name.clone())
        .collect()
}

fn stanza(v: Value) -> Stanza {
    Stanza::from_json(&obj(v)).expect("a valid stanza")
}

#[test]
fn output_names_strip_the_leading_path_and_reserved_prefixes() {
    for (file, output, install_dir, as_name, expected) in [
        (
            "GameData/kOS",
            "GameData/kOS/Plugins/kOS.dll",
            "GameData",
            None,
            "GameData/kOS/Plugins/kOS.dll",
        ),
        (
            "kOS-1.1/GameData/kOS",
            "kOS-1.1/GameData/kOS/Plugins/kOS.dll",
            "GameData",
            None,
            "GameData/kOS/Plugins/kOS.dll",
        ),
        (
            "ModuleManager.2.5.1.dll",
            "ModuleManager.2.5.1.dll",
            "GameData",
            None,
            "GameData/ModuleManager.2.5.1.dll",
        ),
        (
            "Ships",
            "Ships/SPH/FAR Firehound.craft",
            "SomeDir/Ships",
            None,
            "SomeDir/Ships/SPH/FAR Firehound.craft",
        ),
        (
            "GameData/kOS",
            "GameData/kOS/Plugins/kOS.dll",
            "GameData",
            Some("kOS-Renamed"),
            "GameData/kOS-Renamed/Plugins/kOS.dll",
        ),
        (
            "kOS-1.1/GameData/kOS",
            "kOS-1.1/GameData/kOS/Plugins/kOS.dll",
            "GameData",
            Some("kOS-Renamed"),
            "GameData/kOS-Renamed/Plugins/kOS.dll",
        ),
        (
            "ModuleManager.2.5.1.dll",
            "ModuleManager.2.5.1.dll",
            "GameData",
            Some("ModuleManager-Renamed.dll"),
            "GameData/ModuleManager-Renamed.dll",
        ),
        (
            "GameData",
            "GameData/kOS/Plugins/kOS.dll",
            "GameData",
            Some("GameData-Renamed"),
            "GameData/GameData-Renamed/kOS/Plugins/kOS.dll",
        ),
        (
            "Ships",
            "Ships/SPH/FAR Firehound.craft",
            "SomeDir/Ships",
            Some("Ships-Renamed"),
            "SomeDir/Ships/Ships-Renamed/SPH/FAR Firehound.craft",
        ),
    ] {
        let mut s = json!({"file": file});
        if let Some(a) = as_name {
            s["as"] = json!(a);
        }
        let got = stanza(s)
            .transform_output_name(&KSP, output, install_dir)
            .expect("a destination");
        assert_eq!(got, expected, "file={file} as={as_name:?}");
    }
    for (file, output, as_name) in [
        (
            "GameData/kOS",
            "GameData/kOS/Plugins/kOS.dll",
            "kOS/Renamed",
        ),
        (
            "kOS-1.1/GameData/kOS",
            "kOS-1.1/GameData/kOS/Plugins/kOS.dll",
            "kOS/Renamed",
        ),
        (
            "ModuleManager.2.5.1.dll",
            "ModuleManager.2.5.1.dll",
            "Renamed/ModuleManager.dll",
        ),
    ] {
        let err = stanza(json!({"file": file, "as": as_name}))
            .transform_output_name(&KSP, output, "GameData")
            .expect_err("`as` with a separator");
        assert_eq!(err.message, "`as` may not include path separators");
    }
}

#[test]
fn the_default_stanza_finds_the_identifier_in_the_primary_mod_directory() {
    let s = Stanza::default_for(&KSP, "DogecoinFlag").expect("default stanza");
    assert_eq!(s.find.as_deref(), Some("DogecoinFlag"));
    assert_eq!(s.install_to, "GameData");
    let s2 = Stanza::default_for(&KSP2, "Mod").expect("default stanza");
    assert_eq!(s2.install_to, "GameData/Mods");
    // Wrong case still matches: the pattern ignores case.
    let (_f, a) = open(&doge());
    let p = plan(json!({"identifier": "DOGECOINFLAG", "version": "1"}));
    assert!(destinations(&p, &a).contains(&"GameData/DogeCoinFlag/Flags/dogecoin.png".to_owned()));
    let p2 = InstallPlan::of(
        &obj(json!({"identifier": "DogeCoinFlag"})),
        &KSP2,
        Some("1"),
    )
    .expect("plan");
    assert!(
        destinations(&p2, &a).contains(&"GameData/Mods/DogeCoinFlag/Flags/dogecoin.png".to_owned())
    );
}

#[test]
fn find_and_file_stanzas_install_the_flag() {
    let (_f, a) = open(&doge());
    for s in [
        json!({"file": "DogeCoinFlag-1.01/GameData/DogeCoinFlag", "install_to": "GameData"}),
        json!({"find": "DogeCoinFlag", "install_to": "GameData"}),
        json!({"find_regexp": "/dogecoinflag(/|$)", "install_to": "GameData"}),
    ] {
        let p = plan(json!({"identifier": "DogeCoinFlag", "version": "1.01", "install": [s]}));
        let dest = destinations(&p, &a);
        assert!(
            dest.contains(&"GameData/DogeCoinFlag/Flags/dogecoin.png".to_owned()),
            "{dest:?}"
        );
        assert!(
            sources(&p, &a)
                .contains(&"DogeCoinFlag-1.01/GameData/DogeCoinFlag/Flags/dogecoin.png".to_owned())
        );
    }
}

#[test]
fn install_to_spellings_all_reach_the_same_subfolder() {
    let (_f, a) = open(&doge());
    for path in [
        "GameData/SuchTest",
        "GameData/SuchTest/",
        "GameData\\SuchTest",
        "GameData\\SuchTest\\",
        "GameData\\SuchTest/",
        "GameData/SuchTest\\",
    ] {
        let p = plan(
            json!({"identifier": "DogeCoinFlag", "version": "1", "install": [
            {"file": "DogeCoinFlag-1.01/GameData/DogeCoinFlag", "install_to": path}]}),
        );
        assert!(
            destinations(&p, &a)
                .contains(&"GameData/SuchTest/DogeCoinFlag/Flags/dogecoin.png".to_owned()),
            "install_to {path}"
        );
    }
}

#[test]
fn bad_install_locations_are_refused() {
    let (_f, a) = open(&doge());
    for location in [
        "GameDataIsTheBestData",
        "Shups",
        "GameData/../../../../etc/pwned",
        "Ships/Foo",
        "GameRoot/saves",
        "GameRoot/CKAN",
        "GameData/..",
        "GameData\\..\\..\\etc\\pwned",
        "GameData\\..",
    ] {
        let p = plan(
            json!({"identifier": "DogeCoinFlag", "version": "1", "install": [
            {"file": "DogeCoinFlag-1.01/GameData/DogeCoinFlag", "install_to": location}]}),
        );
        let err = p.files(&a).expect_err("a bad location");
        assert_eq!(
            err.kind,
            InstallErrorKind::BadInstallLocation,
            "{location}: {err}"
        );
    }
}

#[test]
fn ships_scenarios_and_missions_are_allowed_targets() {
    let ships = ZipBuilder::new()
        .dir("ExampleShips/")
        .file("ExampleShips/AwesomeShip.craft", "");
    let (_f, a) = open(&ships);
    for dir in [
        "Ships",
        "Ships/VAB",
        "Ships/SPH",
        "Ships/@thumbs",
        "Ships/@thumbs/VAB",
        "Ships/@thumbs/SPH",
        "Ships/Script",
    ] {
        let p = plan(
            json!({"identifier": "AwesomeMod", "version": "1.0.0", "install": [
            {"file": "ExampleShips/AwesomeShip.craft", "install_to": dir}]}),
        );
        assert_eq!(destinations(&p, &a), [format!("{dir}/AwesomeShip.craft")]);
    }
    let scenarios = ZipBuilder::new()
        .dir("saves/")
        .dir("saves/scenarios/")
        .dir("saves/scenarios/AwesomeRace/")
        .file("saves/scenarios/AwesomeRace.sfs", "")
        .file("saves/scenarios/AwesomeRace/persistent.sfs", "");
    let (_g, b) = open(&scenarios);
    let p = plan(
        json!({"identifier": "AwesomeMod", "version": "1.0.0", "install": [
        {"file": "saves/scenarios/AwesomeRace.sfs", "install_to": "Scenarios"},
        {"file": "saves/scenarios/AwesomeRace", "install_to": "Scenarios"}]}),
    );
    let files = p.files(&b).expect("files");
    let mut dest: Vec<_> = files.iter().map(|f| f.destination.clone()).collect();
    dest.sort();
    assert_eq!(
        dest,
        [
            "saves/scenarios/AwesomeRace",
            "saves/scenarios/AwesomeRace.sfs",
            "saves/scenarios/AwesomeRace/persistent.sfs"
        ]
    );
    assert!(files.iter().all(|f| f.makedir));
    let missions = ZipBuilder::new().file("Missions/AwesomeMission/persistent.mission", "m");
    let (_h, c) = open(&missions);
    let p = plan(json!({"identifier": "M", "version": "1", "install": [
        {"find": "AwesomeMission", "install_to": "Missions"}]}));
    assert_eq!(
        destinations(&p, &c),
        ["Missions/AwesomeMission/persistent.mission"]
    );
}

#[test]
fn filters_and_include_only_select_as_ckan_does() {
    let (_f, a) = open(&doge_extras());
    let filtered = plan(
        json!({"identifier": "DogeCoinFlag", "version": "1", "install": [
        {"find": "DogeCoinFlag", "install_to": "GameData", "filter": "readme.MD", "filter_regexp": "\\.bak$"}]}),
    );
    let got = sources(&filtered, &a);
    assert!(got.contains(&"DogeCoinFlag-1.01/GameData/DogeCoinFlag/Flags/dogecoin.png".to_owned()));
    assert!(
        !got.iter()
            .any(|s| s.ends_with("README.md") || s.ends_with(".bak")),
        "{got:?}"
    );
    let included = plan(
        json!({"identifier": "DogeCoinFlag", "version": "1", "install": [
        {"find": "DogeCoinFlag", "install_to": "GameData", "include_only": "dogecoin.png", "include_only_regexp": "\\.bak$"}]}),
    );
    let got = sources(&included, &a);
    assert_eq!(
        got,
        [
            "DogeCoinFlag-1.01/GameData/DogeCoinFlag/Flags/dogecoin.png",
            "DogeCoinFlag-1.01/GameData/DogeCoinFlag/notes.txt.bak"
        ]
    );
    // filter_regexp is case-sensitive, unlike the find pattern.
    let case = plan(
        json!({"identifier": "DogeCoinFlag", "version": "1", "install": [
        {"find": "DogeCoinFlag", "install_to": "GameData", "filter_regexp": "\\.BAK$"}]}),
    );
    assert!(sources(&case, &a).iter().any(|s| s.ends_with(".bak")));
}

#[test]
fn find_only_counts_the_topmost_match() {
    let zip = ZipBuilder::new()
        .file("Docs/MyMod/readme.txt", "r")
        .file("GameData/MyMod/MyMod.cfg", "c");
    let (_f, a) = open(&zip);
    let p = plan(json!({"identifier": "MyMod", "version": "1"}));
    assert_eq!(sources(&p, &a), ["Docs/MyMod/readme.txt"]);
    // A nested folder of the same name comes along with its topmost parent.
    let nested = ZipBuilder::new()
        .file("MyMod-1.0/GameData/MyMod/a.cfg", "a")
        .file("MyMod-1.0/GameData/MyMod/Extras/MyMod/b.cfg", "b");
    let (_g, b) = open(&nested);
    assert_eq!(
        destinations(&p, &b),
        ["GameData/MyMod/a.cfg", "GameData/MyMod/Extras/MyMod/b.cfg"]
    );
}

#[test]
fn a_stanza_that_matches_nothing_names_the_module_and_the_match() {
    let (_f, a) = open(&doge());
    let p = plan(
        json!({"identifier": "DogeCoinFlag", "version": "1.01", "install": [
        {"file": "DOES_NOT_EXIST", "install_to": "GameData"}]}),
    );
    let err = p.files(&a).expect_err("nothing matches");
    assert_eq!(err.kind, InstallErrorKind::BadMetadata);
    assert_eq!(
        err.message,
        "Bad metadata detected for module DogeCoinFlag 1.01: No files found matching file=\"DOES_NOT_EXIST\" to install!"
    );
    assert_eq!(p.describe(), "file=\"DOES_NOT_EXIST\"");
}

#[test]
fn malformed_stanzas_get_ckans_messages() {
    for (s, message) in [
        (
            json!({"install_to": "GameData"}),
            "Install stanzas require either a file, find, or find_regexp directive",
        ),
        (
            json!({"file": "a", "find": "b"}),
            "Install stanzas must only include one of file, find, or find_regexp directive",
        ),
        (
            json!({"find": "a", "filter": "x", "include_only": "y"}),
            "Install stanzas can only contain filter or include_only directives, not both",
        ),
        (
            json!({"find": "a", "install_to": null}),
            "Install stanzas must have an install_to",
        ),
    ] {
        let err = Stanza::from_json(&obj(s)).expect_err("malformed");
        assert_eq!(err.message, message);
    }
    // A missing install_to means GameData, as the client's default does.
    assert_eq!(stanza(json!({"find": "a"})).install_to, "GameData");
    assert!(
        Stanza::from_json(&obj(json!({"find_regexp": "(", "install_to": "GameData"}))).is_err()
    );
}

#[test]
fn a_zip_slip_entry_is_an_invalid_installation_path() {
    let zip = ZipBuilder::new()
        .dir("AwesomeMod/")
        .file("AwesomeMod/../../../outside.txt", "");
    let (_f, a) = open(&zip);
    let err = plan(json!({"identifier": "AwesomeMod", "version": "1.0.0"}))
        .files(&a)
        .expect_err("zip slip");
    assert_eq!(err.kind, InstallErrorKind::BadInstallLocation);
    assert_eq!(
        err.message,
        "Invalid installation path: AwesomeMod/../../../outside.txt"
    );
}

#[test]
fn absolute_and_backslash_names_are_read_as_ckan_reads_them() {
    let zip = ZipBuilder::new()
        .file("MyMod\\Plugins\\MyMod.dll", "dll")
        .file("/MyMod/abs.cfg", "x");
    let (_f, a) = open(&zip);
    let p = plan(json!({"identifier": "MyMod", "version": "1", "install": [
        {"file": "MyMod/Plugins", "install_to": "GameData"}]}));
    assert_eq!(destinations(&p, &a), ["GameData/Plugins/MyMod.dll"]);
    // A leading `/` leaves the leading path unmatched, as it does in CKAN.
    let abs = plan(json!({"identifier": "MyMod", "version": "1"}));
    let err = abs.files(&a).expect_err("absolute entry");
    assert!(err.message.contains("not matching leading path"), "{err}");
}

#[test]
fn symbolic_links_and_invalid_names_are_refused_when_selected() {
    let zip = ZipBuilder::new()
        .file("MyMod/a.cfg", "a")
        .symlink("Other/link", "/etc/passwd")
        .raw_name(b"Bad\xFF/x.cfg", true, "x");
    let (_f, a) = open(&zip);
    assert!(a.entries()[1].is_symlink);
    assert!(a.entries()[2].bad_name);
    assert_eq!(a.entries()[2].name, "Bad\u{fffd}/x.cfg");
    let fine = plan(json!({"identifier": "MyMod", "version": "1"}));
    assert_eq!(destinations(&fine, &a), ["GameData/MyMod/a.cfg"]);
    let link = plan(json!({"identifier": "Other", "version": "1"}));
    let err = link.files(&a).expect_err("a symlink");
    assert!(
        err.message.contains("`Other/link` is a symbolic link"),
        "{err}"
    );
    let bad = plan(json!({"identifier": "M", "version": "1", "install": [
        {"find_regexp": "^Bad", "install_to": "GameData"}]}));
    assert!(
        bad.files(&a)
            .expect_err("invalid name")
            .message
            .contains("not valid UTF-8")
    );
    assert!(matches!(a.read(1), Err(ArchiveError::BadEntry { .. })));
}

#[test]
fn dos_directory_attributes_mark_directories() {
    let zip = ZipBuilder::new().dos_dir("MyMod").file("MyMod/a.cfg", "a");
    let (_f, a) = open(&zip);
    assert!(a.entries()[0].is_dir);
    let p = plan(json!({"identifier": "MyMod", "version": "1"}));
    let set = InstallFileSet::new(&p, &a);
    assert_eq!(set.non_dirs().expect("files").count(), 1);
}

#[test]
fn zip_bombs_are_refused_with_the_archive_named() {
    // Declared sizes far beyond the total limit.
    let bomb = ZipBuilder::new()
        .lying_size("a.bin", "x", u64::from(u32::MAX))
        .lying_size("b.bin", "x", u64::from(u32::MAX));
    let f = bomb.temp_file();
    let limits = Limits {
        max_total_bytes: 1 << 30,
        ..Limits::default()
    };
    let err =
        Archive::open_with(f.path(), "https://example.com/bomb.zip", limits).expect_err("a bomb");
    assert!(matches!(err, ArchiveError::TooLarge { .. }));
    assert!(
        err.to_string()
            .starts_with("https://example.com/bomb.zip: declares"),
        "{err}"
    );
    // A header that declares less than the stream holds.
    let liar = ZipBuilder::new().lying_size("a.txt", "0123456789", 3);
    let (_g, a) = open(&liar);
    let err = a.read(0).expect_err("inflates past its size");
    assert!(
        err.to_string().contains("inflates past its declared size"),
        "{err}"
    );
    // A ratio no deflate stream reaches.
    let ratio = ZipBuilder::new().lying_size("a.txt", "x", 64 << 20);
    let (_h, b) = open(&ratio);
    assert!(
        b.read(0)
            .expect_err("ratio")
            .to_string()
            .contains("zip bomb")
    );
    // Honest zeros are fine, but not past the read limit.
    let zeros = ZipBuilder::new().zeros("z.bin", 2 << 20);
    let f = zeros.temp_file();
    let small = Limits {
        max_read_bytes: 1 << 20,
        ..Limits::default()
    };
    let c = Archive::open_with(f.path(), "z", small).expect("opens");
    assert!(
        c.read(0)
            .expect_err("too big")
            .to_string()
            .contains("more than the")
    );
    let d = Archive::open(f.path(), "z").expect("opens");
    assert_eq!(d.read(0).expect("reads").len(), 2 << 20);
    d.test().expect("CRCs match");
    // Too many entries.
    let many = ZipBuilder::new().file("a", "").file("b", "").file("c", "");
    let f = many.temp_file();
    let few = Limits {
        max_entries: 2,
        ..Limits::default()
    };
    assert!(matches!(
        Archive::open_with(f.path(), "m", few),
        Err(ArchiveError::TooLarge { .. })
    ));
}

#[test]
fn garbage_and_damaged_archives_are_not_valid_zips() {
    let f = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(f.path(), b"this is not a zip").expect("write");
    let err = Archive::open(f.path(), "https://example.com/x.zip").expect_err("garbage");
    assert!(
        err.to_string()
            .starts_with("https://example.com/x.zip is not a valid ZIP file: "),
        "{err}"
    );
    let mut bytes = ZipBuilder::new().stored("a.txt", "hello world").build();
    // Corrupt the stored data: the CRC no longer matches.
    let at = bytes
        .windows(5)
        .position(|w| w == b"hello")
        .expect("stored data");
    bytes[at] = b'J';
    let g = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(g.path(), &bytes).expect("write");
    let a = Archive::open(g.path(), "crc").expect("the directory is fine");
    assert!(a.read(0).is_err());
    assert!(a.test().is_err());
}

#[test]
fn duplicate_names_are_listed_as_often_as_they_occur() {
    let zip = ZipBuilder::new()
        .file("MyMod/a.cfg", "one")
        .file("MyMod/b.cfg", "b")
        .file("MyMod/a.cfg", "two");
    let (_f, a) = open(&zip);
    let names: Vec<_> = a.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["MyMod/a.cfg", "MyMod/b.cfg", "MyMod/a.cfg"]);
}

#[test]
fn internal_ckans_version_files_and_swinfo_are_found() {
    let (_f, a) = open(&doge());
    // No install property: the whole archive is searched.
    let p = plan(json!({"identifier": "DogeCoinFlag", "version": "1.01"}));
    let set = InstallFileSet::new(&p, &a);
    let docs = contents::internal_ckans(&set).expect("internal ckan");
    assert_eq!(docs[0]["identifier"], "DogeCoinFlag");
    // With an install property, only installed .ckan files count.
    let p2 = plan(
        json!({"identifier": "DogeCoinFlag", "version": "1.01", "install": [
        {"find": "DogeCoinFlag", "install_to": "GameData"}]}),
    );
    assert!(
        contents::internal_ckans(&InstallFileSet::new(&p2, &a))
            .expect("none")
            .is_empty()
    );

    let avc = doge().file(
        "DogeCoinFlag-1.01/GameData/DogeCoinFlag/ksp-avc.version",
        r#"{"VERSION": {"MAJOR":1,"MINOR":1,"PATCH":0,"BUILD":0}, "KSP_VERSION": "0.24.2",
            "KSP_VERSION_MIN": "0.24.0", "KSP_VERSION_MAX": "0.24.2"}"#,
    );
    let (_g, b) = open(&avc);
    let set = InstallFileSet::new(&p, &b);
    let found = find_internal_avc(&set, &b, None)
        .expect("found")
        .expect("a version file");
    assert!(found.installable);
    let version = read_avc(&b, &found).expect("parses").expect("a value");
    assert_eq!(
        version.version.map(|v| v.as_str().to_owned()).as_deref(),
        Some("1.1.0.0")
    );
    assert_eq!(
        version.ksp_version_min.map(|v| v.to_string()).as_deref(),
        Some("0.24.0")
    );

    let sw = ZipBuilder::new()
        .file(
            "BurnController/swinfo.json",
            r#"{"name": "Burn Controller", "version": "0.8.1"}"#,
        )
        .file("BurnController/BurnController.dll", "dll");
    let (_h, c) = open(&sw);
    let p3 = InstallPlan::of(
        &obj(
            json!({"identifier": "BurnController", "version": "1", "install": [
            {"find": "BurnController", "install_to": "BepInEx/plugins"}]}),
        ),
        &KSP2,
        None,
    )
    .expect("plan");
    let set = InstallFileSet::new(&p3, &c);
    assert_eq!(
        contents::space_warp_info_entries(&set, None).expect("found"),
        [0]
    );
    assert_eq!(
        contents::space_warp_info_entries(&set, Some("BurnController/swinfo.json")).expect("found"),
        [0]
    );
}

#[test]
fn version_files_are_chosen_by_vref_path_or_refused_when_ambiguous() {
    let zip = ZipBuilder::new()
        .file("MyMod/MyMod.version", avc_file("1.0", None))
        .file("MyMod/Other.version", avc_file("2.0", None))
        .file("Extras/Stray.version", avc_file("3.0", None));
    let (_f, a) = open(&zip);
    let p = plan(json!({"identifier": "MyMod", "version": "1"}));
    let set = InstallFileSet::new(&p, &a);
    match find_internal_avc(&set, &a, None) {
        Err(FindAvcError::Kraken(m)) => assert_eq!(
            m,
            "Too many .version files located: MyMod/MyMod.version, MyMod/Other.version"
        ),
        other => panic!("expected too many: {other:?}"),
    }
    let by_regex = find_internal_avc(&set, &a, Some("Other"))
        .expect("found")
        .expect("one");
    assert_eq!(by_regex.name, "MyMod/Other.version");
    match find_internal_avc(&set, &a, Some("Nope")) {
        Err(FindAvcError::Kraken(m)) => assert_eq!(
            m,
            "Invalid $vref path/regexp Nope, doesn't match any of: MyMod/MyMod.version, MyMod/Other.version"
        ),
        other => panic!("expected no match: {other:?}"),
    }
    // Nothing installed: every .version in the archive is a candidate, not installable.
    let q = plan(json!({"identifier": "MyMod", "version": "1", "install": [
        {"file": "MyMod/MyMod.version", "install_to": "GameData", "filter": "MyMod.version"}]}));
    assert!(q.files(&a).is_err());
    let r = plan(json!({"identifier": "X", "version": "1", "install": [
        {"find": "Extras", "install_to": "GameData", "filter_regexp": "version$"},
        {"find": "MyMod", "install_to": "GameData", "filter_regexp": "version$"}]}));
    let rset = InstallFileSet::new(&r, &a);
    assert!(r.files(&a).is_err(), "filtered stanzas match nothing");
    assert!(find_internal_avc(&rset, &a, Some(".")).is_err());
}

#[test]
fn install_size_counts_installed_files_without_directories_or_internal_ckans() {
    let zip = doge().file("DogeCoinFlag-1.01/GameData/DogeCoinFlag/Inner.ckan", "x: 1");
    let (_f, a) = open(&zip);
    let p = plan(
        json!({"identifier": "DogeCoinFlag", "version": "1.01", "install": [
        {"file": "DogeCoinFlag-1.01/GameData/DogeCoinFlag", "install_to": "GameData"}]}),
    );
    assert_eq!(
        contents::install_size(&InstallFileSet::new(&p, &a)).expect("size"),
        52043
    );
}

#[test]
fn localizations_come_from_installed_cfg_files_in_order() {
    let zip = ZipBuilder::new()
        .file(
            "LocalizedMod/lang.cfg",
            "Localization\n{\n    en-us\n    {\n        key = val\n    }\n\n    es-es\n    {\n        key = val\n    }\n}\n\nLocalization\n{\n    de-de\n    {\n        key = val\n    }\n}\n",
        )
        .file("LocalizedMod/more.cfg", localization_cfg(&["fr-fr"]))
        .file("Elsewhere/x.cfg", localization_cfg(&["ru"]));
    let (_f, a) = open(&zip);
    let p = plan(json!({"identifier": "LocalizedMod", "version": "1.0"}));
    assert_eq!(
        contents::localizations(&InstallFileSet::new(&p, &a)).expect("locales"),
        ["de-de", "en-us", "es-es", "fr-fr"]
    );
}
