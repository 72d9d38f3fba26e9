//! The mod analyzer (NetKAN-Infra `mod_analyzer.py`): guesses a new mod's `.netkan`
//! properties from its zip: `tags` and `depends` from what its `.cfg` files contain and
//! what its file names say, `$vref` from a `.version` or `swinfo.json` file, and install
//! stanzas (the folder to find under the game's mod root, crafts to put under `Ships/`,
//! junk to filter). Used by the adder and by `netkan analyze-mod`.
//!
//! The zip is opened with the inflator's defensive reader (`netkan_inflator::archive::Archive`:
//! entry count, declared sizes, compression ratio, bounded reads; symbolic links and
//! undecodable names refused), and the text this module reads is capped in total on top.
//! Nothing is extracted. Differences from the reference, each a fix of a crash or of a value that
//! could never be right: `parts` removes `config` only if present (the reference raises when
//! a `.CFG` in capitals gave `parts` but not `config`); a craft without `type = VAB|SPH` gets
//! no stanza (the reference writes `install_to: Ships/`); under a two-level mod root
//! (`BepInEx/plugins`) the folder after it is found and named with the whole root.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fancy_regex::Regex;
use serde_json::{Map, Value, json};

/// Bytes of `.cfg` and `.craft` text read from one archive before it is refused.
const MAX_TOTAL_BYTES: u64 = 256 * 1024 * 1024;

/// Why a download could not be analyzed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// It is not a zip archive.
    #[error("not a zip archive: {0}")]
    NotZip(String),
    /// It has too many entries or expands too far.
    #[error("the archive is too large to analyze: {0}")]
    TooLarge(String),
    /// An entry could not be read.
    #[error("cannot read {entry} in the archive: {message}")]
    Entry {
        /// The entry's name.
        entry: String,
        /// What went wrong.
        message: String,
    },
    /// The download failed.
    #[error("{0}")]
    Download(String),
}

/// What the analyzer found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Analysis {
    /// `$vref`, if a version file was found.
    pub vref: Option<String>,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// Dependencies by name, in aspect order.
    pub depends: Vec<String>,
    /// Install stanzas; empty when the default (`find: <ident>`) would do.
    pub install: Vec<Map<String, Value>>,
}

impl Analysis {
    /// `get_netkan_properties()`: `$vref`, `tags`, `depends` (`[{name}]`) and `install`, each
    /// only when non-empty, in that order.
    pub fn netkan_properties(&self) -> Map<String, Value> {
        let mut props = Map::new();
        if let Some(v) = &self.vref {
            props.insert("$vref".into(), Value::String(v.clone()));
        }
        if !self.tags.is_empty() {
            props.insert("tags".into(), json!(self.tags));
        }
        if !self.depends.is_empty() {
            let deps: Vec<Value> = self.depends.iter().map(|d| json!({ "name": d })).collect();
            props.insert("depends".into(), Value::Array(deps));
        }
        if !self.install.is_empty() {
            let stanzas = self.install.iter().cloned().map(Value::Object).collect();
            props.insert("install".into(), Value::Array(stanzas));
        }
        props
    }
}

/// The folder mods install into for a game (`MOD_ROOTS`).
pub fn mod_root(game: &str) -> &'static str {
    match game {
        "ksp2" => "BepInEx/plugins",
        _ => "GameData",
    }
}

/// One thing a mod may contain, and what it implies.
struct Aspect {
    pattern: &'static str,
    on: Where,
    tags: &'static [&'static str],
    depends: &'static [&'static str],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Where {
    /// Searched in the text of every `.cfg` (multi-line: `^` is any line start).
    Cfg,
    /// Searched in every file's path.
    Filename,
}

/// `ModAnalyzer.ASPECTS`, in the reference's order (it decides the order of `depends`).
const ASPECTS: &[Aspect] = &[
    Aspect {
        pattern: r"^\s*[@+$\-!%]|^\s*[a-zA-Z0-9_]+:",
        on: Where::Cfg,
        tags: &[],
        depends: &["ModuleManager"],
    },
    Aspect {
        pattern: r"^\s*PART\b",
        on: Where::Cfg,
        tags: &["parts"],
        depends: &[],
    },
    Aspect {
        pattern: r"^\s*INTERNAL\b",
        on: Where::Cfg,
        tags: &["crewed", "first-person"],
        depends: &[],
    },
    Aspect {
        pattern: r"^\s*PROP\b",
        on: Where::Cfg,
        tags: &["first-person"],
        depends: &[],
    },
    Aspect {
        pattern: r"^\s*@TechTree\b",
        on: Where::Cfg,
        tags: &["tech-tree"],
        depends: &[],
    },
    Aspect {
        pattern: r"^\s*@Kopernicus\b",
        on: Where::Cfg,
        tags: &["planet-pack"],
        depends: &["Kopernicus"],
    },
    Aspect {
        pattern: r"^\s*STATIC\b",
        on: Where::Cfg,
        tags: &["buildings"],
        depends: &["KerbalKonstructs"],
    },
    Aspect {
        pattern: r"^\s*TUFX_PROFILE\b",
        on: Where::Cfg,
        tags: &["graphics"],
        depends: &["TUFX"],
    },
    Aspect {
        pattern: r"^\s*CONTRACT_TYPE\b",
        on: Where::Cfg,
        tags: &["career"],
        depends: &["ContractConfigurator"],
    },
    Aspect {
        pattern: r"^\s*@CUSTOMBARNKIT\b",
        on: Where::Cfg,
        tags: &[],
        depends: &["CustomBarnKit"],
    },
    Aspect {
        pattern: r"^\s*name\s*=\s*ModuleB9PartSwitch\b",
        on: Where::Cfg,
        tags: &[],
        depends: &["B9PartSwitch"],
    },
    Aspect {
        pattern: r"^\s*name\s*=\s*ModuleWaterfallFX\b",
        on: Where::Cfg,
        tags: &["graphics"],
        depends: &["Waterfall"],
    },
    Aspect {
        pattern: r"^\s*VertexMitchellNetravaliHeightMap\b",
        on: Where::Cfg,
        tags: &[],
        depends: &["VertexMitchellNetravaliHeightMap"],
    },
    Aspect {
        pattern: r"\.ks$",
        on: Where::Filename,
        tags: &["config", "control"],
        depends: &["kOS"],
    },
    Aspect {
        pattern: r"swinfo\.json$",
        on: Where::Filename,
        tags: &[],
        depends: &["SpaceWarp"],
    },
    Aspect {
        pattern: r"\.dll$",
        on: Where::Filename,
        tags: &["plugin"],
        depends: &[],
    },
    Aspect {
        pattern: r"\.cfg$",
        on: Where::Filename,
        tags: &["config"],
        depends: &[],
    },
    Aspect {
        pattern: r"\.patch$",
        on: Where::Filename,
        tags: &["config"],
        depends: &["PatchManager"],
    },
    Aspect {
        pattern: r"/(Spaces|Props)/",
        on: Where::Filename,
        tags: &["first-person"],
        depends: &[],
    },
];

/// `FILTERS`: path components dropped from installs (compared without regard to case).
const FILTERS: [&str; 5] = ["__MACOSX", ".DS_Store", "Thumbs.db", ".git", ".gitignore"];
/// `FILTER_REGEXPS`: file-name patterns dropped from installs (case-sensitive).
const FILTER_REGEXPS: [&str; 4] = [r"\.mdb$", r"\.pdb$", r"~$", r"\.craft$"];
/// A craft's editor: `VAB` or `SPH` (`None` is a subassembly, which gets no stanza).
const CRAFT_TYPE: &str = r"(?m)^\s*type = (VAB|SPH|None)";

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the analyzer's patterns are valid")
}

fn matches(re: &Regex, text: &str) -> bool {
    // A pattern hitting the backtracking limit counts as no match.
    re.is_match(text).unwrap_or(false)
}

/// A file (not a directory) in the archive.
struct Entry {
    /// Its name as stored.
    name: String,
    /// Its path components, empty and `.` ones dropped.
    parts: Vec<String>,
    /// Its text, for `.cfg` and `.craft` files.
    text: Option<String>,
}

impl Entry {
    fn dirs(&self) -> &[String] {
        &self.parts[..self.parts.len().saturating_sub(1)]
    }
}

/// Python's `bytes.decode('utf-8-sig', errors='ignore')`: no byte order mark, invalid
/// sequences dropped.
fn decode_lenient(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).replace('\u{FFFD}', "")
}

fn read_entries(path: &Path) -> Result<Vec<Entry>, AnalyzeError> {
    use netkan_inflator::archive::{Archive, ArchiveError};
    let label = path.display().to_string();
    let archive = Archive::open(path, label).map_err(|e| match e {
        ArchiveError::TooLarge { .. } => AnalyzeError::TooLarge(e.to_string()),
        ArchiveError::Io { .. } => AnalyzeError::Download(e.to_string()),
        _ => AnalyzeError::NotZip(e.to_string()),
    })?;
    let mut total = 0u64;
    let mut out = Vec::new();
    for (index, entry) in archive.entries().iter().enumerate() {
        if entry.is_dir || entry.refusal().is_some() {
            continue;
        }
        let parts: Vec<String> = entry
            .name
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .map(str::to_owned)
            .collect();
        if parts.is_empty() {
            continue;
        }
        let lower = entry.name.to_lowercase();
        let text = if lower.ends_with(".cfg") || lower.ends_with(".craft") {
            match archive.read(index) {
                Ok(bytes) => {
                    total += bytes.len() as u64;
                    if total > MAX_TOTAL_BYTES {
                        return Err(AnalyzeError::TooLarge(format!(
                            "its text files expand beyond {MAX_TOTAL_BYTES} bytes"
                        )));
                    }
                    Some(decode_lenient(&bytes))
                }
                Err(e) => {
                    return Err(AnalyzeError::Entry {
                        entry: entry.name.clone(),
                        message: e.to_string(),
                    });
                }
            }
        } else {
            None
        };
        out.push(Entry {
            name: entry.name.clone(),
            parts,
            text,
        });
    }
    Ok(out)
}

/// Analyzes the zip at `path` for the mod `ident` of a game whose mods go under `mod_root`.
///
/// # Errors
/// If the file is not a zip, cannot be read, or expands beyond the limits.
pub fn analyze_file(ident: &str, mod_root: &str, path: &Path) -> Result<Analysis, AnalyzeError> {
    let entries = read_entries(path)?;
    let mut tags: BTreeSet<String> = BTreeSet::new();
    let mut depends: Vec<String> = Vec::new();
    for aspect in ASPECTS {
        let re = regex(&format!("(?m){}", aspect.pattern));
        let hit = match aspect.on {
            Where::Cfg => entries.iter().any(|e| {
                e.name.to_lowercase().ends_with(".cfg")
                    && e.text.as_deref().is_some_and(|t| matches(&re, t))
            }),
            Where::Filename => entries.iter().any(|e| matches(&re, &e.name)),
        };
        if hit {
            tags.extend(aspect.tags.iter().map(|t| (*t).to_owned()));
            depends.extend(aspect.depends.iter().map(|d| (*d).to_owned()));
        }
    }
    if tags.contains("parts") {
        tags.remove("config");
    }
    let lower_names: Vec<String> = entries.iter().map(|e| e.name.to_lowercase()).collect();
    let mut vref = None;
    if lower_names.iter().any(|n| n.ends_with(".version")) {
        vref = Some("#/ckan/ksp-avc".to_owned());
    }
    if lower_names.iter().any(|n| n.ends_with("swinfo.json")) {
        vref = Some("#/ckan/space-warp".to_owned());
    }
    Ok(Analysis {
        vref,
        tags: tags.into_iter().collect(),
        depends,
        install: install_stanzas(ident, mod_root, &entries),
    })
}

/// Downloads `url` (with the process's HTTP client, into a temporary file) and analyzes it.
///
/// # Errors
/// If the download fails, or as [`analyze_file`].
pub async fn analyze_url(
    http: &netkan_inflator::http::HttpClient,
    ident: &str,
    mod_root: &str,
    url: &str,
) -> Result<Analysis, AnalyzeError> {
    let dir = tempfile::tempdir()
        .map_err(|e| AnalyzeError::Download(format!("cannot create a temporary directory: {e}")))?;
    let path = dir.path().join("download");
    crate::fetch::to_file(http, url, &path)
        .await
        .map_err(|e| AnalyzeError::Download(e.to_string()))?;
    let (ident, mod_root) = (ident.to_owned(), mod_root.to_owned());
    tokio::task::spawn_blocking(move || analyze_file(&ident, &mod_root, &path))
        .await
        .map_err(|e| AnalyzeError::Download(format!("the analysis panicked: {e}")))?
}

/// `find_folder()`: the folder to `find`, or `""` when a person must decide.
fn find_folder(ident: &str, mod_root: &str, entries: &[Entry]) -> String {
    let root: Vec<String> = mod_root.split('/').map(str::to_lowercase).collect();
    let dir_sets: BTreeSet<&[String]> = entries.iter().map(Entry::dirs).collect();
    // Folder directly under the mod root → `<root as written>/<folder>`.
    let mut after_root: BTreeMap<&str, String> = BTreeMap::new();
    for dirs in &dir_sets {
        let folded: Vec<String> = dirs.iter().map(|d| d.to_lowercase()).collect();
        let found = (0..folded.len()).find(|&i| folded[i..].starts_with(&root));
        if let Some(i) = found
            && i + root.len() < dirs.len()
        {
            let name = dirs[i + root.len()].as_str();
            let written = dirs[i..i + root.len()].join("/");
            after_root.insert(name, format!("{written}/{name}"));
        }
    }
    match after_root.len() {
        // Several folders under the mod root: only one named like the mod is certain.
        n if n > 1 => return after_root.get(ident).cloned().unwrap_or_default(),
        1 => {
            return after_root
                .keys()
                .next()
                .map(|k| (*k).to_owned())
                .unwrap_or_default();
        }
        _ => {}
    }
    if dir_sets.iter().any(|dirs| dirs.iter().any(|d| d == ident)) {
        return ident.to_owned();
    }
    let top: BTreeSet<&str> = dir_sets
        .iter()
        .filter_map(|dirs| dirs.first().map(String::as_str))
        .collect();
    if top.len() == 1 {
        return top.into_iter().next().unwrap_or_default().to_owned();
    }
    String::new()
}

/// A single value, or a list of several (`ModAnalyzer.flatten`).
fn one_or_list(values: Vec<&str>) -> Value {
    if values.len() == 1 {
        Value::String(values[0].to_owned())
    } else {
        json!(values)
    }
}

/// `get_install_stanzas()`.
fn install_stanzas(ident: &str, mod_root: &str, entries: &[Entry]) -> Vec<Map<String, Value>> {
    let mut first = Map::new();
    first.insert(
        "find".into(),
        Value::String(find_folder(ident, mod_root, entries)),
    );
    first.insert("install_to".into(), Value::String(mod_root.to_owned()));
    let filters: Vec<&str> = FILTERS
        .iter()
        .copied()
        .filter(|f| {
            let f = f.to_lowercase();
            entries
                .iter()
                .any(|e| e.parts.iter().any(|p| p.to_lowercase() == f))
        })
        .collect();
    let filter_regexps: Vec<&str> = FILTER_REGEXPS
        .iter()
        .copied()
        .filter(|p| {
            let re = regex(p);
            entries.iter().any(|e| matches(&re, &e.name))
        })
        .collect();
    if !filters.is_empty() {
        first.insert("filter".into(), one_or_list(filters));
    }
    if !filter_regexps.is_empty() {
        first.insert("filter_regexp".into(), one_or_list(filter_regexps));
    }
    let craft_type = regex(CRAFT_TYPE);
    let mut stanzas = vec![first];
    for e in entries
        .iter()
        .filter(|e| e.name.to_lowercase().ends_with(".craft"))
    {
        let kind = e
            .text
            .as_deref()
            .and_then(|t| craft_type.captures(t).ok().flatten())
            .and_then(|c| c.get(1).map(|m| m.as_str().to_owned()));
        if let Some(kind) = kind.filter(|k| k != "None") {
            let mut s = Map::new();
            s.insert("file".into(), Value::String(e.parts.join("/")));
            s.insert("install_to".into(), Value::String(format!("Ships/{kind}")));
            stanzas.push(s);
        }
    }
    let is_default = stanzas.len() == 1
        && stanzas[0].len() == 2
        && stanzas[0].get("find").and_then(Value::as_str) == Some(ident);
    if is_default {
        stanzas.clear();
    }
    stanzas
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use netkan_inflator::testing::archive::ZipBuilder;

    use super::*;

    fn zip(files: &[(&str, &str)]) -> tempfile::NamedTempFile {
        files
            .iter()
            .fold(ZipBuilder::new(), |b, (name, text)| {
                if name.ends_with('/') {
                    b.dir(name)
                } else {
                    b.file(name, text)
                }
            })
            .temp_file()
    }

    fn run(ident: &str, files: &[(&str, &str)]) -> Analysis {
        analyze_file(ident, "GameData", zip(files).path()).unwrap()
    }

    #[test]
    fn cfg_contents_give_tags_and_dependencies_in_aspect_order() {
        let a = run(
            "Foo",
            &[
                (
                    "GameData/Foo/Parts/p.cfg",
                    "PART\n{\n  MODULE\n  {\n    name = ModuleB9PartSwitch\n  }\n}\n",
                ),
                (
                    "GameData/Foo/Patches/mm.cfg",
                    "\u{feff}@PART[x]:NEEDS[Y]\n{\n}\n",
                ),
                ("GameData/Foo/planets.cfg", "  @Kopernicus:FOR[Foo]\n{\n}\n"),
                ("GameData/Foo/Foo.dll", "MZ"),
            ],
        );
        assert_eq!(a.tags, ["parts", "planet-pack", "plugin"]);
        assert_eq!(a.depends, ["ModuleManager", "Kopernicus", "B9PartSwitch"]);
        assert!(!a.tags.contains(&"config".to_owned()), "parts drops config");
        assert_eq!(
            a.install,
            Vec::<Map<String, Value>>::new(),
            "the default stanza is dropped"
        );
    }

    #[test]
    fn file_names_give_tags_and_version_files_give_the_vref() {
        let a = run(
            "Foo",
            &[
                ("GameData/Foo/Foo.version", "{}"),
                ("GameData/Foo/boot.ks", "print 1."),
                ("GameData/Foo/Spaces/iva.mu", ""),
                ("GameData/Foo/settings.cfg", "Foo { x = 1 }"),
            ],
        );
        assert_eq!(a.vref.as_deref(), Some("#/ckan/ksp-avc"));
        assert_eq!(a.tags, ["config", "control", "first-person"]);
        assert_eq!(a.depends, ["kOS"]);
        let b = run(
            "Foo",
            &[("Foo/swinfo.json", "{}"), ("Foo/Foo.version", "{}")],
        );
        assert_eq!(
            b.vref.as_deref(),
            Some("#/ckan/space-warp"),
            "swinfo.json wins"
        );
        assert_eq!(b.depends, ["SpaceWarp"]);
    }

    #[test]
    fn the_folder_under_game_data_is_found() {
        // One folder under GameData, whatever the archive's top folder is called.
        let a = run(
            "Foo",
            &[
                ("Foo-1.0/GameData/FooMod/a.dll", ""),
                ("Foo-1.0/README.md", ""),
            ],
        );
        assert_eq!(a.install[0]["find"], "FooMod");
        // Several: the one named like the mod, with the mod root as written.
        let a = run(
            "Foo",
            &[("gamedata/Foo/a.dll", ""), ("gamedata/Bar/b.dll", "")],
        );
        assert_eq!(a.install[0]["find"], "gamedata/Foo");
        // Several, none named like the mod: a person decides.
        let a = run(
            "Foo",
            &[("GameData/Bar/a.dll", ""), ("GameData/Baz/b.dll", "")],
        );
        assert_eq!(a.install[0]["find"], "");
        // No GameData: a folder named like the mod anywhere, else the one top folder.
        let a = run("Foo", &[("x/y/Foo/a.dll", ""), ("z/b.dll", "")]);
        assert_eq!(a.install, Vec::<Map<String, Value>>::new());
        let a = run(
            "Foo",
            &[("Top/a.dll", ""), ("Top/Sub/b.dll", ""), ("loose.txt", "")],
        );
        assert_eq!(a.install[0]["find"], "Top");
        let a = run("Foo", &[("A/a.dll", ""), ("B/b.dll", "")]);
        assert_eq!(a.install[0]["find"], "");
    }

    #[test]
    fn a_two_level_mod_root_is_searched_as_a_whole() {
        let file = zip(&[
            ("BepInEx/plugins/Foo/swinfo.json", "{}"),
            ("BepInEx/plugins/Bar/x.dll", ""),
        ]);
        let a = analyze_file("Foo", "BepInEx/plugins", file.path()).unwrap();
        assert_eq!(a.install[0]["find"], "BepInEx/plugins/Foo");
        assert_eq!(a.install[0]["install_to"], "BepInEx/plugins");
    }

    #[test]
    fn crafts_get_ships_stanzas_and_junk_gets_filters() {
        let a = run(
            "Foo",
            &[
                ("GameData/Foo/", ""),
                ("GameData/Foo/a.dll", ""),
                ("GameData/Foo/a.pdb", ""),
                ("__MACOSX/GameData/._a.dll", ""),
                ("GameData/Foo/thumbs.db", ""),
                ("Ships/VAB/Rocket.craft", "ship = Rocket\ntype = VAB\n"),
                ("Ships/SPH/Plane.craft", "ship = Plane\n  type = SPH\n"),
                ("Subassemblies/Bit.craft", "type = None\n"),
            ],
        );
        let stanzas: Vec<Value> = a.install.into_iter().map(Value::Object).collect();
        assert_eq!(
            Value::Array(stanzas),
            json!([
                {
                    "find": "Foo",
                    "install_to": "GameData",
                    "filter": ["__MACOSX", "Thumbs.db"],
                    "filter_regexp": ["\\.pdb$", "\\.craft$"],
                },
                {"file": "Ships/VAB/Rocket.craft", "install_to": "Ships/VAB"},
                {"file": "Ships/SPH/Plane.craft", "install_to": "Ships/SPH"},
            ])
        );
        let one = run(
            "Foo",
            &[("GameData/Foo/a.dll", ""), ("GameData/Foo/.DS_Store", "")],
        );
        assert_eq!(
            one.install[0]["filter"], ".DS_Store",
            "a single filter is not a list"
        );
    }

    #[test]
    fn properties_are_in_the_references_order() {
        let a = Analysis {
            vref: Some("#/ckan/ksp-avc".into()),
            tags: vec!["parts".into()],
            depends: vec!["ModuleManager".into()],
            install: vec![],
        };
        let keys: Vec<String> = a.netkan_properties().keys().cloned().collect();
        assert_eq!(keys, ["$vref", "tags", "depends"]);
        assert_eq!(
            a.netkan_properties()["depends"],
            json!([{"name": "ModuleManager"}])
        );
        assert!(Analysis::default().netkan_properties().is_empty());
    }

    #[test]
    fn a_download_that_is_not_a_zip_is_refused_with_a_reason() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, b"<html>oops</html>").unwrap();
        let e = analyze_file("Foo", "GameData", file.path()).unwrap_err();
        assert!(matches!(e, AnalyzeError::NotZip(_)), "{e}");
    }

    #[test]
    fn hostile_entries_are_skipped_or_refused() {
        // A symbolic link is not looked at; a .cfg that inflates past its declared size
        // stops the analysis with the entry named.
        let link = ZipBuilder::new()
            .file("GameData/Foo/a.dll", "MZ")
            .symlink("GameData/Foo/evil.cfg", "/etc/passwd")
            .temp_file();
        let a = analyze_file("Foo", "GameData", link.path()).unwrap();
        assert_eq!(a.tags, ["plugin"]);
        let lying = ZipBuilder::new()
            .lying_size("GameData/Foo/bomb.cfg", "PART {}\n".repeat(1000), 10)
            .temp_file();
        let e = analyze_file("Foo", "GameData", lying.path()).unwrap_err();
        assert!(e.to_string().contains("bomb.cfg"), "{e}");
    }
}
