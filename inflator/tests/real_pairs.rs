//! Acceptance (issue 5): real `.netkan` → `.ckan` pairs from `shared/ckan-real`, inflated
//! against the fixture upstream, give the real `.ckan`.
//!
//! For each pair, the hosts' answers are built from the real `.ckan` (name, abstract,
//! author, license, version, release date, resources, game versions, download URL) the way
//! each host would have said them, and the download is an archive generated to fit the
//! install stanzas (with a `.version` file when the netkan has `$vref: #/ckan/ksp-avc`, and
//! localization files when the `.ckan` lists locales). Inflating the real `.netkan` (through
//! `Inflator::inflate`, with the `HighestVersion`s the push worker would send, read from
//! the real CKAN-meta tree) must then give the real `.ckan` byte for byte, except
//! `download_size`, `download_hash` and `install_size`, which describe the generated archive.
//!
//! Set `CKAN_REAL_DIR` to point at another copy of `ckan-real/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use netkan_common::Game;
use netkan_common::ckan::write::to_ckan_string;
use netkan_common::ckan::{Kref, Module, Object, mix_documents, parse_ckan, parse_netkan};
use netkan_inflator::cache::DownloadCache;
use netkan_inflator::context::NoLog;
use netkan_inflator::testing::archive::{ZipBuilder, localization_cfg};
use netkan_inflator::testing::fixtures::{serve_text, stanza_entries};
use netkan_inflator::testing::upstream::{Reply, Upstream};
use netkan_inflator::{InflateRequest, Inflator, Services};
use serde_json::{Value, json};

/// The pairs this test inflates, with every kref kind of `index.json` among them.
/// The others are listed in [`EXCLUDED`] with the reason.
const PAIRS: &[&str] = &[
    // spacedock
    "ABCORS",
    "FieldTrainingLaboratory",
    "100special",
    "HeathAndHemith",
    "Opic",
    "AATI-Flags",
    "JX2Antenna",
    "AircraftCarrierAccessories",
    "KerbalAircraftExpansion",
    "HyperDriveMod",
    "SlimNavballCursor-StocksizeDotonly",
    "PlanetFallEffects",
    "FuelWings",
    // github
    "APotato",
    "Lazarus-Content",
    "RSSOrigin-TopoRevampConfigs",
    "KSPBurst",
    "BetterRocketDesigns",
    "KSPArchipelago",
    "RecolorCollection-NearFutureAeronautics",
    "BurstPQS",
    "HotReloadKSP",
    "RadioFreeKerbin",
    "B9PartSwitch",
    "ROEngines",
    "1ThousandSpecialPlanetPack-Textures",
    "PatchedConicFixes",
    "CommNetAntennasConsumptor",
    "WildBlueTools",
    "AIES-DeimosRast",
    // github + spacedock
    "4kSPExpanded",
    "DebugStifle",
    "KerbalConstructionTime",
    "Parallax-OuterPlanetsMod",
    "SimpleRepaint",
    "BonVoyage",
    "KeepItStraight",
    // metanetkan
    "NearFutureAeronautics",
    "CryoEngines-NFAero",
    // jenkins
    "CustomBarnKit-RO",
    "DebugStuff",
    "MechJeb2",
    "ModuleManager",
    "AmazingCurveEditor",
    // http
    "Graphotron",
    "HyperEdit",
    // gitea + spacedock
    "ConformalDecals",
    "MusicSwitcher",
    // more
    "KeridianDynamicsVesselAssembly",
    "Kopernicus",
    "BluedogDB-CommunityCategoryKit",
    "NehemiahEngineeringOrbitalScience",
    "MK12PodIVAReplacementbyASET",
    "AlternisKerbolRekerjiggered",
    "StarilexMk1NeedleIVA",
    "CustomBulkheadProfiles",
    // no kref
    "DDSLoader",
    "PartOverhauls",
    "RocketdyneF-1",
];

/// Archive entries made by hand, for stanzas a folder name cannot satisfy (`find_regexp`).
const HAND_MADE: &[(&str, &[&str])] = &[
    ("ModuleManager", &["GameData/ModuleManager.4.2.3.dll"]),
    (
        "AlternisKerbolRekerjiggered",
        &["GameData/AlternisKerbol/readme.txt"],
    ),
];

/// Pairs whose download ships its own `.ckan` (the `internal_ckan` step): the archive gets
/// one with what the `.ckan` has and the netkan does not.
const INTERNAL_CKAN: &[&str] = &["BurstPQS", "RadioFreeKerbin"];

/// The properties an internal `.ckan` may bring.
const INTERNAL_KEYS: &[&str] = &[
    "description",
    "release_status",
    "resources",
    "tags",
    "provides",
    "depends",
    "recommends",
    "suggests",
    "supports",
    "conflicts",
    "install",
    "replaced_by",
];

/// Pairs not inflated, and why.
const EXCLUDED: &[(&str, &str)] = &[
    (
        "NearFutureSpacecraft",
        "the stored metanetkan target is older than the one the bot read: its author and \
         recommends differ from the .ckan's",
    ),
    ("B9", "its metanetkan target is not among the stored ones"),
    (
        "B9-props",
        "the stored metanetkan target is older than the one the bot read: its asset_match \
         (B9_Aerospace_(\\d-?)*\\.zip) does not match the release's B9_Aerospace_v6.6.0.zip",
    ),
    (
        "RP-1-ExpressInstall",
        "the stored metanetkan target is older than the one the bot read: it lacks the \
         KerbalFoundriesContinued relationship",
    ),
    (
        "EarlyBird",
        "frozen: written by an older inflator (spec_version v1.4 with no v1.4 feature, which \
         the current spec analyzer makes 1), then its download edited by hand",
    ),
    (
        "AIESAerospace-Unofficial",
        "the .ckan was edited by hand (version 1.6.1-patched, no install_size)",
    ),
];

fn real_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os("CKAN_REAL_DIR").map_or_else(
        || {
            ["../../shared/ckan-real", "../../../shared/ckan-real"]
                .iter()
                .map(|p| here.join(p))
                .find(|p| p.is_dir())
                .expect("shared/ckan-real beside the checkout, or CKAN_REAL_DIR")
        },
        PathBuf::from,
    )
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| text(Some(x))).collect(),
        _ => Vec::new(),
    }
}

/// One real pair, read from `ckan-real`.
struct Pair {
    id: String,
    netkan: String,
    ckan_text: String,
    ckan: Object,
    /// The mixed documents, metanetkans replaced by their targets (outer values winning).
    docs: Vec<Object>,
    /// `(url, text)` of each metanetkan target.
    targets: Vec<(String, String)>,
}

impl Pair {
    fn load(root: &Path, id: &str) -> Pair {
        let index: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("index.json")).expect("index.json"),
        )
        .expect("index.json is JSON");
        let entry = index["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .find(|e| e["identifier"] == id)
            .unwrap_or_else(|| panic!("{id} is not in index.json"));
        let netkan = std::fs::read_to_string(root.join(entry["netkan"].as_str().expect("path")))
            .expect("netkan");
        let ckan_text = std::fs::read_to_string(root.join(entry["ckan"].as_str().expect("path")))
            .expect("ckan");
        let ckan = parse_ckan(&ckan_text).expect("the real ckan parses");
        let mut docs = Vec::new();
        let mut targets = Vec::new();
        for doc in mix_documents(&parse_netkan(&netkan).expect("the real netkan parses")) {
            match Module::new(&doc).kref().expect("a valid kref") {
                Some(Kref::Netkan { url }) => {
                    let file = url.rsplit('/').next().expect("a file name");
                    let target =
                        std::fs::read_to_string(root.join("metanetkan-targets").join(file))
                            .unwrap_or_else(|e| panic!("{id}: target {file}: {e}"));
                    for t in parse_netkan(&target).expect("the target parses") {
                        let mut eff = t.clone();
                        for (k, v) in &doc {
                            if k == "$kref" {
                                continue;
                            }
                            match (eff.get_mut(k), v) {
                                (Some(Value::Object(inner)), Value::Object(outer)) => {
                                    for (ik, iv) in outer {
                                        inner.insert(ik.clone(), iv.clone());
                                    }
                                }
                                _ => {
                                    eff.insert(k.clone(), v.clone());
                                }
                            }
                        }
                        docs.push(eff);
                    }
                    targets.push((url, target));
                }
                _ => docs.push(doc),
            }
        }
        Pair {
            id: id.to_owned(),
            netkan,
            ckan_text,
            ckan,
            docs,
            targets,
        }
    }

    fn ckan_str(&self, key: &str) -> Option<String> {
        text(self.ckan.get(key))
    }

    fn resource(&self, key: &str) -> Option<String> {
        self.ckan
            .get("resources")
            .and_then(|r| r.get(key))
            .and_then(|v| text(Some(v)))
    }

    fn downloads(&self) -> Vec<String> {
        list(self.ckan.get("download"))
    }

    fn release_date(&self) -> Option<String> {
        self.ckan_str("release_date")
    }

    fn is_prerelease(&self) -> bool {
        matches!(
            self.ckan_str("release_status").as_deref(),
            Some("testing" | "development")
        )
    }

    /// The download a document's host gave: the one on its site, else the first.
    fn download_for(&self, site: impl Fn(&str) -> bool) -> String {
        let all = self.downloads();
        all.iter()
            .find(|d| site(d))
            .or(all.first())
            .cloned()
            .unwrap_or_else(|| panic!("{}: the ckan has no download", self.id))
    }
}

/// The version before the epoch (version text only).
fn without_epoch(version: &str) -> &str {
    let digits = version.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && version.as_bytes().get(digits) == Some(&b':') {
        &version[digits + 1..]
    } else {
        version
    }
}

/// What the host must have called the version so that the netkan's version edit and
/// `x_netkan_force_v` turn it into the `.ckan`'s (epochs come from the netkan and from the
/// highest indexed version).
fn host_version(pair: &Pair, doc: &Object) -> String {
    let ckan_version = pair.ckan_str("version").expect("a version");
    let rest = without_epoch(&ckan_version).to_owned();
    if let Some(edit) = doc.get("x_netkan_version_edit") {
        let (find, replace) = match edit {
            Value::String(f) => (f.clone(), "${version}".to_owned()),
            Value::Object(o) => (
                text(o.get("find")).unwrap_or_default(),
                text(o.get("replace")).unwrap_or_else(|| "${version}".to_owned()),
            ),
            _ => panic!("{}: odd version edit", pair.id),
        };
        if let Some(prefix) = replace.strip_suffix("${version}")
            && replace != "${version}"
        {
            return rest
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{}: {rest} lacks {prefix}", pair.id))
                .to_owned();
        }
        if find.starts_with("^[vV]?") || find.starts_with("^v?") {
            // The tag had the `v` the edit removes.
            return format!("v{rest}");
        }
        return rest;
    }
    if doc.get("x_netkan_force_v") == Some(&Value::Bool(true))
        && let Some(bare) = rest.strip_prefix('v')
    {
        // The host's version lacked the `v` the netkan forces.
        return bare.to_owned();
    }
    rest
}

fn date(pair: &Pair) -> Option<DateTime<Utc>> {
    pair.release_date().map(|d| {
        DateTime::parse_from_rfc3339(&d)
            .expect("release_date is a date")
            .with_timezone(&Utc)
    })
}

/// The archive: a file in every folder the install stanzas (or the default one) install,
/// the `.version` file for a ksp-avc `$vref`, localization `.cfg` files.
fn archive(pair: &Pair, doc: &Object, version: &str) -> (Vec<u8>, Option<String>) {
    let (entries, by_hand) = stanza_entries(&pair.id, pair.ckan.get("install"));
    let mut zip = ZipBuilder::new();
    let mut all = entries;
    if !by_hand.is_empty() {
        let (_, files) = HAND_MADE
            .iter()
            .find(|(id, _)| *id == pair.id)
            .unwrap_or_else(|| panic!("{}: a find_regexp stanza needs HAND_MADE entries", pair.id));
        all.extend(files.iter().map(|f| (*f).to_owned()));
    }
    for (i, path) in all.iter().enumerate() {
        zip = zip.file(path, format!("{} {i}", pair.id));
    }
    let first_dir = all
        .first()
        .and_then(|p| p.rsplit_once('/'))
        .map(|(d, _)| d.to_owned());
    let dir = first_dir.expect("at least one stanza");
    let mut avc_text = None;
    if let Some(vref) = text(doc.get("$vref"))
        && vref.starts_with("#/ckan/ksp-avc")
    {
        // A path from the archive's root is taken as it is; anything else goes in the
        // first installed folder (the real ones are names or regexes that match there).
        let path = match vref.strip_prefix("#/ckan/ksp-avc/") {
            None => format!("{dir}/{}.version", pair.id),
            Some(p) if p.starts_with("GameData/") => p.to_owned(),
            Some(p) => format!("{dir}/{p}"),
        };
        let avc = avc_json(pair, doc, version);
        let body = serde_json::to_string_pretty(&avc).expect("json");
        zip = zip.file(&path, &body);
        avc_text = Some(body);
    }
    if INTERNAL_CKAN.contains(&pair.id.as_str()) {
        let mut internal = Object::new();
        internal.insert("identifier".into(), Value::String(pair.id.clone()));
        for key in INTERNAL_KEYS {
            if let Some(v) = pair.ckan.get(*key)
                && !doc.contains_key(*key)
            {
                internal.insert((*key).to_owned(), v.clone());
            }
        }
        zip = zip.file(
            &format!("{dir}/{}.ckan", pair.id),
            to_ckan_string(&internal),
        );
    }
    let locales = list(pair.ckan.get("localizations"));
    if !locales.is_empty() && !doc.contains_key("localizations") {
        let names: Vec<&str> = locales.iter().map(String::as_str).collect();
        zip = zip.file(
            &format!("{dir}/Localization/all.cfg"),
            localization_cfg(&names),
        );
    }
    (zip.build(), avc_text)
}

fn spacedock(up: &Upstream, pair: &Pair, doc: &Object, id: i32, version: &str, has_vref: bool) {
    let download = pair.download_for(|d| d.starts_with("https://spacedock.info/"));
    let page = pair.resource("spacedock").unwrap_or_default();
    let name = page
        .rsplit_once(&format!("/mod/{id}/"))
        .map(|(_, n)| n.replace("%20", " "))
        .or_else(|| pair.ckan_str("name"));
    let authors = list(pair.ckan.get("author"));
    let game_version = if doc.contains_key("ksp_version")
        || doc.contains_key("ksp_version_min")
        || doc.contains_key("ksp_version_max")
        || has_vref
    {
        Value::Null
    } else {
        // Overrides may widen what SpaceDock said; its value is the top of the range.
        pair.ckan_str("ksp_version")
            .or_else(|| pair.ckan_str("ksp_version_max"))
            .or_else(|| pair.ckan_str("ksp_version_min"))
            .map_or(Value::Null, Value::String)
    };
    up.spacedock_mod(
        i64::from(id),
        json!({
            "id": id,
            "name": name,
            "short_description": pair.ckan_str("abstract"),
            "author": authors.first(),
            "shared_authors": authors.iter().skip(1).map(|a| json!({"username": a})).collect::<Vec<_>>(),
            "license": pair.ckan_str("license"),
            "website": pair.resource("homepage"),
            "source_code": pair.resource("repository"),
            "background": pair.resource("x_screenshot"),
            "default_version_id": 1,
            "versions": [{
                "id": 1,
                "friendly_version": version,
                "game_version": game_version,
                "created": pair.release_date(),
                "download_path": download.strip_prefix("https://spacedock.info"),
            }],
        }),
    );
    if let Some(repo) = pair.resource("repository")
        && let Some(rest) = repo.strip_prefix("https://github.com/")
    {
        let mut parts = rest.split('/');
        if let (Some(owner), Some(name)) = (parts.next(), parts.next()) {
            github_repo(up, pair, owner, name);
        }
    }
}

fn github_repo(up: &Upstream, pair: &Pair, owner: &str, project: &str) {
    let html = pair
        .resource("repository")
        .filter(|r| r.eq_ignore_ascii_case(&format!("https://github.com/{owner}/{project}")))
        .unwrap_or_else(|| format!("https://github.com/{owner}/{project}"));
    let has =
        |key: &str, tail: &str| pair.resource(key).as_deref() == Some(&format!("{html}/{tail}"));
    let authors = list(pair.ckan.get("author"));
    let license = match pair.ckan.get("license") {
        Some(Value::String(l)) => json!({"spdx_id": l}),
        _ => Value::Null,
    };
    up.github_repo(
        owner,
        project,
        json!({
            "html_url": html,
            "description": pair.ckan_str("abstract"),
            "homepage": pair.resource("homepage"),
            "license": license,
            "owner": {"login": owner, "type": "Organization"},
            "has_issues": has("bugtracker", "issues"),
            "has_discussions": has("discussions", "discussions"),
            "has_wiki": has("manual", "wiki"),
        }),
    );
    let members: Vec<&str> = authors.iter().map(String::as_str).collect();
    up.github_org_members(owner, &members);
    up.github_wiki(owner, project, has("manual", "wiki"));
}

fn github(up: &Upstream, pair: &Pair, doc: &Object, account: &str, project: &str, version: &str) {
    github_repo(up, pair, account, project);
    let download = pair.download_for(|d| d.contains("github.com"));
    let use_source = doc
        .get("x_netkan_github")
        .and_then(|g| g.get("use_source_archive"))
        == Some(&Value::Bool(true));
    let asset_name = download.rsplit('/').next().expect("a file name");
    let assets = if use_source {
        json!([])
    } else {
        json!([{"name": asset_name, "browser_download_url": download,
                "updated_at": pair.release_date(), "uploader": {"login": "bot", "type": "Bot"}}])
    };
    up.github_releases(
        account,
        project,
        vec![json!({
            "tag_name": version,
            "prerelease": pair.is_prerelease(),
            "published_at": pair.release_date(),
            "author": {"login": "release-bot", "type": "Bot"},
            "zipball_url": download,
            "assets": assets,
        })],
    );
}

fn gitea(up: &Upstream, pair: &Pair, host: &str, owner: &str, repo: &str, version: &str) {
    let download = pair.download_for(|d| !d.starts_with("https://spacedock.info/"));
    let html = format!("https://{host}/{owner}/{repo}");
    let has =
        |key: &str, tail: &str| pair.resource(key).as_deref() == Some(&format!("{html}/{tail}"));
    up.gitea_repo(
        host,
        owner,
        repo,
        json!({
            "name": pair.ckan_str("name"),
            "full_name": format!("{owner}/{repo}"),
            "html_url": html,
            "description": pair.ckan_str("abstract"),
            "website": pair.resource("homepage"),
            "owner": {"login": list(pair.ckan.get("author")).first()},
            "has_issues": has("bugtracker", "issues"),
            "has_wiki": has("manual", "wiki"),
            "archived": false,
        }),
        json!([{
            "tag_name": version,
            "prerelease": pair.is_prerelease(),
            "published_at": pair.release_date(),
            "author": {"login": owner},
            "assets": [{"name": download.rsplit('/').next(), "browser_download_url": download,
                        "created_at": pair.release_date()}],
        }]),
    );
}

fn gitlab(up: &Upstream, pair: &Pair, owner: &str, project: &str, version: &str) {
    let web = format!("https://gitlab.com/{owner}/{project}");
    up.gitlab_project(
        owner,
        project,
        json!({
            "name": pair.ckan_str("name"),
            "description": pair.ckan_str("abstract"),
            "web_url": web,
            "issues_enabled": pair.resource("bugtracker").is_some(),
            "readme_url": pair.resource("manual"),
        }),
        json!([{
            "tag_name": version,
            "author": {"name": list(pair.ckan.get("author")).first()},
            "released_at": pair.release_date(),
            "assets": {"sources": [{"format": "zip", "url": pair.download_for(|_| true)}]},
        }]),
    );
}

/// A `.version` file saying what the `.ckan` says; for a ksp-avc `$kref` also where the
/// download is, and the GitHub repository.
fn avc_json(pair: &Pair, doc: &Object, version: &str) -> Value {
    let mut avc = json!({"NAME": pair.ckan_str("name").unwrap_or_else(|| pair.id.clone()), "VERSION": version});
    for (key, field) in [
        ("ksp_version", "KSP_VERSION"),
        ("ksp_version_min", "KSP_VERSION_MIN"),
        ("ksp_version_max", "KSP_VERSION_MAX"),
    ] {
        if let Some(v) = pair.ckan_str(key) {
            avc[field] = Value::String(v);
        }
    }
    if let Some(remote) = pair.resource("remote-avc") {
        avc["URL"] = Value::String(remote);
    }
    if matches!(Module::new(doc).kref(), Ok(Some(Kref::KspAvc { .. }))) {
        avc["DOWNLOAD"] = Value::String(pair.download_for(|_| true));
        if let Some(rest) = pair
            .resource("repository")
            .and_then(|r| r.strip_prefix("https://github.com/").map(str::to_owned))
            && let Some((user, repo)) = rest.split_once('/')
        {
            avc["GITHUB"] = json!({"USERNAME": user, "REPOSITORY": repo});
        }
    }
    avc
}

fn jenkins(up: &Upstream, pair: &Pair, job: &str) {
    let download = pair.download_for(|_| true);
    let (build, relative) = download
        .split_once("artifact/")
        .unwrap_or_else(|| panic!("{}: {download} is not a Jenkins artifact", pair.id));
    let file = relative.rsplit('/').next().expect("a file name");
    let job = if job.ends_with('/') {
        job.to_owned()
    } else {
        format!("{job}/")
    };
    up.jenkins_job(
        &job,
        vec![json!({
            "number": 1,
            "url": build,
            "result": "SUCCESS",
            "timestamp": date(pair).map(|d| d.timestamp_millis()),
            "artifacts": [{"fileName": file, "relativePath": relative}],
        })],
    );
}

/// Serves everything one pair's inflation will ask for.
fn serve(up: &Upstream, pair: &Pair) {
    for (url, target) in &pair.targets {
        serve_text(up, url, target);
    }
    let mut zip = None;
    for doc in &pair.docs {
        let kref = Module::new(doc).kref().expect("a valid kref");
        let trust = doc.get("x_netkan_trust_version_file") == Some(&Value::Bool(true));
        let version = host_version(pair, doc);
        // With trust_version_file the host's version must lose to the file's.
        let offered = if trust {
            "0.0.1-from-host".to_owned()
        } else {
            version.clone()
        };
        let has_vref = text(doc.get("$vref")).is_some();
        let (bytes, avc) = zip
            .get_or_insert_with(|| archive(pair, doc, &version))
            .clone();
        let download = match &kref {
            None => text(doc.get("download")).expect("a download"),
            Some(Kref::SpaceDock { id }) => {
                spacedock(up, pair, doc, *id, &offered, has_vref);
                pair.download_for(|d| d.starts_with("https://spacedock.info/"))
            }
            Some(Kref::GitHub {
                account, project, ..
            }) => {
                github(up, pair, doc, account, project, &offered);
                pair.download_for(|d| d.contains("github.com"))
            }
            Some(Kref::Gitea {
                host,
                owner,
                repository,
            }) => {
                gitea(up, pair, host, owner, repository, &offered);
                pair.download_for(|d| !d.starts_with("https://spacedock.info/"))
            }
            Some(Kref::Jenkins { url }) => {
                jenkins(up, pair, url);
                pair.download_for(|_| true)
            }
            Some(Kref::Http { url }) => {
                let download = pair.download_for(|_| true);
                // A fragment is never sent.
                let sent = url.split('#').next().unwrap_or(url);
                if sent != download {
                    up.on(sent, Reply::redirect(&download));
                }
                download
            }
            Some(Kref::GitLab { account, project }) => {
                gitlab(up, pair, account, project, &offered);
                pair.download_for(|_| true)
            }
            Some(Kref::KspAvc { url }) => {
                let avc = avc_json(pair, doc, &version);
                up.file(url, serde_json::to_string_pretty(&avc).expect("json"));
                pair.download_for(|_| true)
            }
            Some(other) => panic!("{}: no fixture for {} krefs", pair.id, other.source()),
        };
        up.file(&download, bytes);
        // The remote copy of the `.version` file, where the archive's says it is.
        if let (Some(url), Some(avc)) = (pair.resource("remote-avc"), avc) {
            up.file(&url, avc);
        }
    }
}

/// What the push worker would send: the highest versions in the real CKAN-meta tree.
fn highest(corpus: &Path, pair: &Pair) -> (Option<String>, Option<String>) {
    let out_of_order = pair
        .docs
        .iter()
        .any(|d| d.get("x_netkan_allow_out_of_order") == Some(&Value::Bool(true)));
    if out_of_order {
        return (None, None);
    }
    let mut errors = Vec::new();
    let h = netkan_common::ckan::meta_tree::highest_in_dir(&corpus.join(&pair.id), &mut errors);
    (
        h.stable.map(|v| v.to_string()),
        h.prerelease.map(|v| v.to_string()),
    )
}

/// `REAL_PAIRS_LOG=<identifier>` prints that pair's inflation log, to see why it differs.
struct StderrLog;

impl netkan_inflator::InflationLog for StderrLog {
    fn line(&self, level: netkan_common::log::Level, message: &str) {
        eprintln!("{} {message}", level.as_str());
    }
}

/// The `.ckan` text without the three properties that describe the download's bytes.
fn comparable(json: &Object) -> String {
    let mut j = json.clone();
    for k in ["download_size", "download_hash", "install_size"] {
        j.shift_remove(k);
    }
    to_ckan_string(&j)
}

fn corpus_meta() -> PathBuf {
    let root = real_dir();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ckan-real-corpus");
    let meta = dir.join("CKAN-meta");
    if !meta.is_dir() {
        std::fs::create_dir_all(&dir).expect("mkdir");
        let tmp = tempfile::tempdir_in(&dir).expect("tempdir");
        let tar = std::fs::File::open(root.join("corpus/CKAN-meta.tar.gz")).expect("corpus");
        tar::Archive::new(flate2::read::GzDecoder::new(tar))
            .unpack(tmp.path())
            .expect("unpacks");
        // Another test process may have won the race; either copy is the same.
        let _ = std::fs::rename(tmp.path().join("CKAN-meta"), &meta);
    }
    meta
}

async fn inflate_pair(corpus: &Path, pair: &Pair) -> Result<(), String> {
    let up = Upstream::start().await;
    serve(&up, pair);
    let cache = tempfile::tempdir().map_err(|e| e.to_string())?;
    let inflator = Inflator::with_services(Services {
        http: up.client(),
        cache: DownloadCache::new(cache.path(), 0),
    });
    let mut req = InflateRequest::new(pair.netkan.clone(), Game::ksp());
    req.file_identifier = Some(pair.id.clone());
    let (stable, pre) = highest(corpus, pair);
    req.highest_version = stable;
    req.highest_version_prerelease = pre;
    let inflation = if std::env::var("REAL_PAIRS_LOG").is_ok_and(|v| v == pair.id) {
        inflator.inflate(&req, &StderrLog).await
    } else {
        inflator.inflate(&req, &NoLog).await
    };
    let modules = inflation
        .outcome
        .map_err(|e| format!("inflation failed: {e}"))?;
    let [module] = modules.as_slice() else {
        return Err(format!("{} modules, expected 1", modules.len()));
    };
    for k in ["download_size", "download_hash", "install_size"] {
        if pair.ckan.contains_key(k) != module.json.contains_key(k) {
            return Err(format!("{k} present in one and not the other"));
        }
    }
    let (want, got) = (comparable(&pair.ckan), comparable(&module.json));
    if want != got {
        return Err(format!("differs:\n--- real\n{want}--- inflated\n{got}"));
    }
    if module.file_name != pair.ckan_file_name() {
        return Err(format!(
            "file name {} vs {}",
            module.file_name,
            pair.ckan_file_name()
        ));
    }
    Ok(())
}

impl Pair {
    fn ckan_file_name(&self) -> String {
        netkan_common::ckan::names::ckan_file_name(
            &self.id,
            &self.ckan_str("version").unwrap_or_default(),
        )
    }
}

#[tokio::test]
async fn real_netkans_inflate_to_their_real_ckans() {
    let root = real_dir();
    let corpus = corpus_meta();
    let mut failures = Vec::new();
    let mut kinds = BTreeSet::new();
    for id in PAIRS {
        let pair = Pair::load(&root, id);
        assert!(
            pair.ckan_text.ends_with('\n'),
            "{id}: the real ckan ends with a newline"
        );
        for doc in &pair.docs {
            kinds.insert(
                Module::new(doc)
                    .kref()
                    .expect("kref")
                    .map_or("none", |k| k.source()),
            );
        }
        if !pair.targets.is_empty() {
            kinds.insert("netkan");
        }
        if let Err(e) = inflate_pair(&corpus, &pair).await {
            failures.push(format!("{id}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} pairs differ:\n{}",
        failures.len(),
        PAIRS.len(),
        failures.join("\n\n")
    );
    assert!(PAIRS.len() >= 24);
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("index.json")).expect("index.json"),
    )
    .expect("JSON");
    for entry in index["entries"].as_array().expect("entries") {
        let id = entry["identifier"].as_str().expect("identifier");
        assert!(
            PAIRS.contains(&id) || EXCLUDED.iter().any(|(e, _)| *e == id),
            "{id} is neither tested nor excluded with a reason"
        );
    }
    for kind in [
        "spacedock",
        "github",
        "netkan",
        "jenkins",
        "http",
        "gitea",
        "gitlab",
        "ksp-avc",
        "none",
    ] {
        assert!(kinds.contains(kind), "no pair with a {kind} kref");
    }
    for (id, why) in EXCLUDED {
        assert!(
            !PAIRS.contains(id),
            "{id} is both tested and excluded ({why})"
        );
    }
}
