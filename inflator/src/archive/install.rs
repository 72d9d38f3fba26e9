//! Which files of an archive a module installs, and where: a port of CKAN's
//! `ModuleInstallDescriptor` (`FindInstallableFiles`, `IsWanted`, `TransformOutputName`,
//! `DeSerialisationFixes`) and `ModuleInstaller.FindInstallableFiles`, with the games'
//! directory rules (`KerbalSpaceProgram.cs`, `KerbalSpaceProgram2.cs`).
//!
//! The quirks kept on purpose, because the inflator's output depends on them:
//! - `find` counts only matches that start at the smallest match index over *all* entries
//!   (the "topmost" folder); `file` is anchored at the start; `find_regexp` is used as given.
//!   All three match case-insensitively; `filter_regexp` and `include_only_regexp` do not.
//! - `find_matches_files` is read and ignored: current CKAN gives it no effect (the pattern
//!   matches files and folders alike).
//! - Directory entries are selected too (their destination has no trailing `/`); callers that
//!   want files skip them, as CKAN's callers do.
//! - The destination strips the path before the matched element, then `as` renames the first
//!   element, or else a reserved prefix (`GameData/`, `Ships/`, `Missions/` for KSP) is dropped.
//! - Paths are `/`-separated; a `\` in a name or `install_to` is read as `/`.

use std::borrow::Cow;

use fancy_regex::Regex;
use netkan_common::Game;
use netkan_common::ckan::Object;
use serde_json::Value;

use super::zip::{Archive, ArchiveError, Entry};

/// The directory rules of one game (`IGame`).
#[derive(Debug, PartialEq, Eq)]
pub struct GameLayout {
    /// `IGame.ShortName`: `KSP`, `KSP2`.
    pub short_name: &'static str,
    /// `PrimaryModDirectoryRelative`: where the default stanza installs.
    pub primary_mod_dir: &'static str,
    /// `AlternateModDirectoriesRelative`.
    pub alternate_mod_dirs: &'static [&'static str],
    /// `ReservedPaths`: a first path element dropped from destinations.
    pub reserved_paths: &'static [&'static str],
    /// `CreateableInstallTos`.
    pub createable_install_tos: &'static [&'static str],
    /// `CreateableDirs`.
    pub createable_dirs: &'static [&'static str],
    /// `AllowInstallationIn`: the other `install_to` values and where they point.
    allowed: &'static [(&'static str, &'static str)],
}

/// Kerbal Space Program.
pub static KSP: GameLayout = GameLayout {
    short_name: "KSP",
    primary_mod_dir: "GameData",
    alternate_mod_dirs: &[],
    reserved_paths: &["GameData", "Ships", "Missions"],
    createable_install_tos: &["GameData", "Tutorial", "Scenarios", "Missions"],
    createable_dirs: &["Ships/Script"],
    allowed: &[
        ("Tutorial", "saves/training"),
        ("Scenarios", "saves/scenarios"),
        ("Missions", "Missions"),
        ("Ships", "Ships"),
        ("Ships/VAB", "Ships/VAB"),
        ("Ships/SPH", "Ships/SPH"),
        ("Ships/@thumbs", "Ships/@thumbs"),
        ("Ships/@thumbs/VAB", "Ships/@thumbs/VAB"),
        ("Ships/@thumbs/SPH", "Ships/@thumbs/SPH"),
        ("Ships/Script", "Ships/Script"),
    ],
};

/// Kerbal Space Program 2 (mods go to `GameData/Mods`; `BepInEx/plugins` is allowed).
pub static KSP2: GameLayout = GameLayout {
    short_name: "KSP2",
    primary_mod_dir: "GameData/Mods",
    alternate_mod_dirs: &["BepInEx/plugins"],
    reserved_paths: &[],
    createable_install_tos: &[],
    createable_dirs: &["GameData", "GameData/Mods", "BepInEx", "BepInEx/plugins"],
    allowed: &[
        ("BepInEx", "BepInEx"),
        ("BepInEx/plugins", "BepInEx/plugins"),
    ],
};

impl GameLayout {
    /// The layout of a game id.
    ///
    /// # Errors
    /// For a game CKAN does not know.
    pub fn of(game: &Game) -> Result<&'static GameLayout, InstallError> {
        match game.as_str() {
            "ksp" => Ok(&KSP),
            "ksp2" => Ok(&KSP2),
            other => Err(InstallError::new(
                InstallErrorKind::Other,
                format!("unknown game `{other}`: no install rules for it"),
            )),
        }
    }

    /// The primary mod directory, then the alternate ones.
    pub fn mod_dirs(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.primary_mod_dir).chain(self.alternate_mod_dirs.iter().copied())
    }
}

/// Which CKAN exception an install failure corresponds to: callers that port a C# `catch`
/// need to tell them apart (`VrefValidator` ignores `BadMetadataKraken` only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallErrorKind {
    /// `BadMetadataKraken`: a stanza that matches nothing, or is malformed.
    BadMetadata,
    /// `BadInstallLocationKraken`: an `install_to` or destination outside the allowed places.
    BadInstallLocation,
    /// Anything else: an invalid regex, an entry the archive layer refuses, an unknown game.
    Other,
}

/// An install-stanza failure, with CKAN's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InstallError {
    pub kind: InstallErrorKind,
    pub message: String,
}

impl InstallError {
    fn new(kind: InstallErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    fn bad_metadata(message: impl Into<String>) -> Self {
        Self::new(InstallErrorKind::BadMetadata, message)
    }

    fn bad_location(message: impl Into<String>) -> Self {
        Self::new(InstallErrorKind::BadInstallLocation, message)
    }
}

impl From<ArchiveError> for InstallError {
    fn from(e: ArchiveError) -> Self {
        Self::new(InstallErrorKind::Other, e.to_string())
    }
}

/// `CKANPathUtils.NormalizePath`: `\` → `/`, trailing `/` removed (unless the path is one
/// character long).
pub fn normalize_path(path: &str) -> String {
    let replaced = path.replace('\\', "/");
    if replaced.chars().count() < 2 {
        replaced
    } else {
        replaced.trim_end_matches('/').to_owned()
    }
}

/// `Path.GetDirectoryName` on Unix: everything before the last `/` (trailing separators of
/// that part dropped, repeated ones collapsed); `None` for an empty path or the root.
pub fn directory_name(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let bytes = path.as_bytes();
    let root = usize::from(bytes[0] == b'/');
    if bytes.len() <= root {
        return None;
    }
    let mut end = bytes.len();
    loop {
        end -= 1;
        if end <= root || bytes[end] == b'/' {
            break;
        }
    }
    while end > root && bytes[end - 1] == b'/' {
        end -= 1;
    }
    let mut out = String::with_capacity(end);
    for c in path[..end].chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    Some(out)
}

/// `Path.Combine(a, b)` on Unix.
fn path_combine(a: &str, b: &str) -> String {
    if b.is_empty() {
        a.to_owned()
    } else if a.is_empty() || b.starts_with('/') {
        b.to_owned()
    } else if a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

fn any_equals_or_starts_with(haystack: &[&str], needle: &str) -> bool {
    haystack
        .iter()
        .any(|dir| needle == *dir || needle.starts_with(&format!("{dir}/")))
}

/// Compiles a pattern as .NET would run it (look-around and back-references included).
///
/// # Errors
/// `Other`, naming the property and pattern.
pub fn dotnet_regex(pattern: &str, ignore_case: bool, what: &str) -> Result<Regex, InstallError> {
    let source: Cow<'_, str> = if ignore_case {
        Cow::Owned(format!("(?i){pattern}"))
    } else {
        Cow::Borrowed(pattern)
    };
    Regex::new(&source).map_err(|e| {
        InstallError::new(
            InstallErrorKind::Other,
            format!("invalid {what} `{pattern}`: {e}"),
        )
    })
}

fn regex_error(e: &fancy_regex::Error) -> InstallError {
    InstallError::new(
        InstallErrorKind::Other,
        format!("regular expression failed: {e}"),
    )
}

/// Whether `re` matches anywhere in `text`.
///
/// # Errors
/// When the backtracking engine gives up (a pathological pattern).
pub fn is_match(re: &Regex, text: &str) -> Result<bool, InstallError> {
    re.is_match(text).map_err(|e| regex_error(&e))
}

/// One install stanza, as `ModuleInstallDescriptor` holds it after deserialisation.
#[derive(Debug, Clone)]
pub struct Stanza {
    pub file: Option<String>,
    pub find: Option<String>,
    pub find_regexp: Option<String>,
    /// Read, and without effect (see the module docs).
    pub find_matches_files: bool,
    /// Normalized (`normalize_path`).
    pub install_to: String,
    pub as_name: Option<String>,
    pub filter: Option<Vec<String>>,
    pub filter_regexp: Option<Vec<String>>,
    pub include_only: Option<Vec<String>>,
    pub include_only_regexp: Option<Vec<String>>,
    pattern: Regex,
    filter_res: Vec<Regex>,
    include_res: Vec<Regex>,
}

/// `(string)token` of a stanza property: strings, and numbers or bools as their text, as
/// Newtonsoft converts them into a `string` field.
fn text_value(key: &str, value: &Value) -> Result<Option<String>, InstallError> {
    match value {
        Value::Array(_) | Value::Object(_) => Err(InstallError::bad_metadata(format!(
            "JSON deserialisation error: install stanza property `{key}` must be a string"
        ))),
        other => Ok(crate::metadata::cs_string(other)),
    }
}

/// `JsonSingleOrArrayConverter<string>`: one string or a list of them.
fn text_list(key: &str, value: &Value) -> Result<Option<Vec<String>>, InstallError> {
    match value {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                text_value(key, item)?.ok_or_else(|| {
                    InstallError::bad_metadata(format!(
                        "JSON deserialisation error: install stanza property `{key}` has a null item"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Ok(text_value(key, other)?.map(|s| vec![s])),
    }
}

impl Stanza {
    /// Reads one stanza of a module's `install` list with CKAN's checks, in CKAN's order.
    ///
    /// # Errors
    /// CKAN's messages: "Install stanzas must have an install_to", "... require either a file,
    /// find, or find_regexp directive", "... must only include one of ...", "... can only
    /// contain filter or include_only directives, not both"; an invalid regex.
    pub fn from_json(stanza: &Object) -> Result<Stanza, InstallError> {
        let text = |key: &str| stanza.get(key).map_or(Ok(None), |v| text_value(key, v));
        let list = |key: &str| stanza.get(key).map_or(Ok(None), |v| text_list(key, v));
        let install_to = match stanza.get("install_to") {
            // [DefaultValue("GameData")] with IgnoreAndPopulate: missing means GameData.
            None => Some("GameData".to_owned()),
            Some(v) => text_value("install_to", v)?,
        };
        let Some(install_to) = install_to else {
            return Err(InstallError::bad_metadata(
                "Install stanzas must have an install_to",
            ));
        };
        let file = text("file")?;
        let find = text("find")?;
        let find_regexp = text("find_regexp")?;
        match [&file, &find, &find_regexp]
            .iter()
            .filter(|v| v.is_some())
            .count()
        {
            0 => {
                return Err(InstallError::bad_metadata(
                    "Install stanzas require either a file, find, or find_regexp directive",
                ));
            }
            1 => {}
            _ => {
                return Err(InstallError::bad_metadata(
                    "Install stanzas must only include one of file, find, or find_regexp directive",
                ));
            }
        }
        let filter = list("filter")?;
        let filter_regexp = list("filter_regexp")?;
        let include_only = list("include_only")?;
        let include_only_regexp = list("include_only_regexp")?;
        if (filter.is_some() || filter_regexp.is_some())
            && (include_only.is_some() || include_only_regexp.is_some())
        {
            return Err(InstallError::bad_metadata(
                "Install stanzas can only contain filter or include_only directives, not both",
            ));
        }
        let find_matches_files = match stanza.get("find_matches_files") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(InstallError::bad_metadata(
                    "JSON deserialisation error: install stanza property `find_matches_files` must be a bool",
                ));
            }
        };
        let pattern = match (&file, &find, &find_regexp) {
            (Some(f), _, _) => dotnet_regex(
                &format!("^{}(/|$)", fancy_regex::escape(&normalize_path(f))),
                true,
                "file",
            )?,
            (_, Some(f), _) => dotnet_regex(
                &format!("(?:^|/){}(/|$)", fancy_regex::escape(&normalize_path(f))),
                true,
                "find",
            )?,
            (_, _, Some(f)) => dotnet_regex(f, true, "find_regexp")?,
            _ => unreachable!("exactly one of file, find and find_regexp is set"),
        };
        let compile_all = |list: &Option<Vec<String>>, what: &str| {
            list.iter()
                .flatten()
                .map(|p| dotnet_regex(p, false, what))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Stanza {
            filter_res: compile_all(&filter_regexp, "filter_regexp")?,
            include_res: compile_all(&include_only_regexp, "include_only_regexp")?,
            file,
            find,
            find_regexp,
            find_matches_files,
            install_to: normalize_path(&install_to),
            as_name: text("as")?,
            filter,
            filter_regexp,
            include_only,
            include_only_regexp,
            pattern,
        })
    }

    /// `DefaultInstallStanza`: `{find: <identifier>, install_to: <primary mod directory>}`.
    ///
    /// # Errors
    /// Never for a valid identifier; an identifier is escaped, so any text compiles.
    pub fn default_for(game: &GameLayout, identifier: &str) -> Result<Stanza, InstallError> {
        let mut obj = Object::new();
        obj.insert("find".into(), Value::String(identifier.to_owned()));
        obj.insert(
            "install_to".into(),
            Value::String(game.primary_mod_dir.to_owned()),
        );
        Stanza::from_json(&obj)
    }

    /// `DescribeMatch`: `file="…"`, `find="…"` or `find_regexp="…"`.
    pub fn describe_match(&self) -> String {
        match (&self.file, &self.find, &self.find_regexp) {
            (Some(f), _, _) if !f.is_empty() => format!("file=\"{f}\""),
            (_, Some(f), _) if !f.is_empty() => format!("find=\"{f}\""),
            (_, _, Some(f)) if !f.is_empty() => format!("find_regexp=\"{f}\""),
            _ => String::new(),
        }
    }

    /// `IsWanted`.
    fn is_wanted(&self, path: &str, match_where: Option<usize>) -> Result<bool, InstallError> {
        let normalised = path.replace('\\', "/");
        let Some(found) = self
            .pattern
            .find(&normalised)
            .map_err(|e| regex_error(&e))?
        else {
            return Ok(false);
        };
        if match_where.is_some_and(|w| found.start() != w) {
            // Matches too late in the path: not the topmost folder.
            return Ok(false);
        }
        let lower = normalised.to_lowercase();
        let segments: Vec<&str> = lower.split('/').collect();
        let in_segments = |texts: &Option<Vec<String>>| {
            texts
                .iter()
                .flatten()
                .any(|t| segments.contains(&t.to_lowercase().as_str()))
        };
        if in_segments(&self.filter) {
            return Ok(false);
        }
        for re in &self.filter_res {
            if is_match(re, &normalised)? {
                return Ok(false);
            }
        }
        if in_segments(&self.include_only) {
            return Ok(true);
        }
        for re in &self.include_res {
            if is_match(re, &normalised)? {
                return Ok(true);
            }
        }
        Ok(self.include_only.is_none() && self.include_only_regexp.is_none())
    }

    /// `ShortestMatchingPrefix`.
    fn shortest_matching_prefix(&self, full_path: &str) -> Result<String, InstallError> {
        let mut shortest = full_path.to_owned();
        let normalised = full_path.replace('\\', "/");
        let mut path = Some(
            normalised
                .strip_suffix('/')
                .unwrap_or(&normalised)
                .to_owned(),
        );
        while let Some(p) = path.filter(|p| !p.is_empty()) {
            if !is_match(&self.pattern, &p)? {
                break;
            }
            path = directory_name(&p);
            shortest = p;
        }
        Ok(shortest)
    }

    /// `TransformOutputName`: the destination of a selected entry.
    ///
    /// # Errors
    /// `BadMetadata` when the entry does not start with the stanza's leading path or `as`
    /// holds a separator; `BadInstallLocation` for a destination with `..` in it.
    pub fn transform_output_name(
        &self,
        game: &GameLayout,
        output_name: &str,
        install_dir: &str,
    ) -> Result<String, InstallError> {
        let mut output = output_name.to_owned();
        let leading = directory_name(&self.shortest_matching_prefix(output_name)?)
            .map(|d| d.replace('\\', "/"));
        if let Some(leading) = leading.filter(|l| !l.is_empty()) {
            let prefix = format!("{leading}/");
            let Some(rest) = output.strip_prefix(&prefix) else {
                return Err(InstallError::bad_metadata(format!(
                    "Output file name ({output}) not matching leading path of stanza ({leading})"
                )));
            };
            output = rest.to_owned();
        }
        if let Some(name) = self.as_name.as_deref().filter(|a| !a.trim().is_empty()) {
            if name.contains('/') || name.contains('\\') {
                return Err(InstallError::bad_metadata(
                    "`as` may not include path separators",
                ));
            }
            output = match output.find('/') {
                Some(pos) => format!("{name}{}", &output[pos..]),
                None => name.to_owned(),
            };
        } else if let Some(prefix) = game.reserved_paths.iter().find(|prefix| {
            output
                .get(..prefix.len() + 1)
                .is_some_and(|head| head.eq_ignore_ascii_case(&format!("{prefix}/")))
        }) {
            output = output[prefix.len() + 1..].to_owned();
        }
        if output.contains("/../") || output.ends_with("/..") {
            return Err(InstallError::bad_location(format!(
                "Invalid installation path: {output}"
            )));
        }
        Ok(normalize_path(&path_combine(install_dir, &output)))
    }

    /// Where `install_to` points, relative to the game root.
    fn install_dir(&self, game: &GameLayout) -> Result<String, InstallError> {
        let install_to = normalize_path(&self.install_to);
        let updir = install_to
            .match_indices("/..")
            .any(|(i, _)| matches!(install_to.as_bytes().get(i + 3), None | Some(b'/')));
        if updir {
            return Err(InstallError::bad_location(format!(
                "Invalid installation path: {install_to}"
            )));
        }
        let primary = game.primary_mod_dir;
        if install_to == primary || install_to.starts_with(&format!("{primary}/")) {
            let sub = &install_to[primary.len()..];
            let sub = sub.strip_prefix('/').unwrap_or(sub);
            return Ok(normalize_path(&format!("{primary}/{sub}")));
        }
        if install_to == "GameRoot" {
            return Ok(String::new());
        }
        game.allowed
            .iter()
            .find(|(name, _)| *name == install_to)
            .map(|(_, path)| (*path).to_owned())
            .ok_or_else(|| InstallError::bad_location(format!("Unknown install_to: {install_to}")))
    }

    /// `FindInstallableFiles` of this stanza over `entries`; `module` is the module's
    /// `identifier version`, for the "no files found" message.
    ///
    /// # Errors
    /// As [`Stanza::transform_output_name`]; `BadInstallLocation` for an unknown or escaping
    /// `install_to`; `BadMetadata` "No files found matching … to install!" when nothing
    /// matches; `Other` for a selected entry the archive layer refuses.
    pub fn find_installable_files(
        &self,
        module: &str,
        entries: &[Entry],
        game: &GameLayout,
    ) -> Result<Vec<InstallableFile>, InstallError> {
        let install_to = normalize_path(&self.install_to);
        let install_dir = self.install_dir(game)?;
        // `find` is meant to match the topmost folder: only matches at the smallest index
        // over every entry count.
        let shortest_match = if self.find.is_some() {
            let mut min: Option<usize> = None;
            for entry in entries {
                if let Some(m) = self
                    .pattern
                    .find(&entry.name.replace('\\', "/"))
                    .map_err(|e| regex_error(&e))?
                {
                    min = Some(min.map_or(m.start(), |x| x.min(m.start())));
                }
            }
            min
        } else {
            None
        };
        let allow_dirs = any_equals_or_starts_with(game.createable_install_tos, &install_to);
        let mut files = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let name = entry.name.replace('\\', "/");
            if !self.is_wanted(&name, shortest_match)? {
                continue;
            }
            if let Some(reason) = entry.refusal() {
                return Err(InstallError::new(
                    InstallErrorKind::Other,
                    format!("archive entry `{}` {reason}", entry.name),
                ));
            }
            let destination = self.transform_output_name(game, &name, &install_dir)?;
            files.push(InstallableFile {
                makedir: allow_dirs
                    || any_equals_or_starts_with(game.createable_dirs, &destination),
                entry: index,
                is_dir: entry.is_dir,
                destination,
            });
        }
        if files.is_empty() {
            return Err(InstallError::bad_metadata(format!(
                "Bad metadata detected for module {module}: No files found matching {} to install!",
                self.describe_match()
            )));
        }
        Ok(files)
    }
}

/// One entry a module installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallableFile {
    /// Index into [`Archive::entries`].
    pub entry: usize,
    /// Whether the entry is a directory.
    pub is_dir: bool,
    /// Where it goes, relative to the game root.
    pub destination: String,
    /// Whether CKAN may create the destination's folders.
    pub makedir: bool,
}

/// A module's install stanzas (`CkanModule.GetInstallStanzas`), ready to run over archives.
#[derive(Debug, Clone)]
pub struct InstallPlan {
    /// The stanzas, or the default one.
    pub stanzas: Vec<Stanza>,
    /// Whether the module has an `install` property at all (even an empty list): some
    /// lookups search only installed files then (`module.install != null`).
    pub explicit: bool,
    /// `identifier version`, as `CkanModule.ToString()` names the module in errors.
    pub module: String,
    /// The game's rules.
    pub game: &'static GameLayout,
}

impl InstallPlan {
    /// The plan of a module's JSON. `version` stands in for a missing `version` (CKAN's
    /// transformers add a dummy one before `CkanModule.FromJson`).
    ///
    /// # Errors
    /// A missing identifier, or any stanza error of [`Stanza::from_json`].
    pub fn of(
        module: &Object,
        game: &'static GameLayout,
        version: Option<&str>,
    ) -> Result<InstallPlan, InstallError> {
        let identifier = match module.get("identifier") {
            Some(Value::String(s)) => s.as_str(),
            _ => {
                return Err(InstallError::bad_metadata(
                    " missing required field identifier",
                ));
            }
        };
        let own_version = match module.get("version") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let version = own_version.or_else(|| version.map(str::to_owned));
        let label = match version {
            Some(v) => format!("{identifier} {v}"),
            None => identifier.to_owned(),
        };
        let (stanzas, explicit) = match module.get("install") {
            None | Some(Value::Null) => (Vec::new(), false),
            Some(Value::Array(items)) => (
                items
                    .iter()
                    .map(|item| match item {
                        Value::Object(o) => Stanza::from_json(o),
                        _ => Err(InstallError::bad_metadata(
                            "JSON deserialisation error: an install stanza must be an object",
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                true,
            ),
            Some(_) => {
                return Err(InstallError::bad_metadata(
                    "JSON deserialisation error: `install` must be a list of stanzas",
                ));
            }
        };
        let stanzas = if stanzas.is_empty() {
            vec![Stanza::default_for(game, identifier)?]
        } else {
            stanzas
        };
        Ok(InstallPlan {
            stanzas,
            explicit,
            module: label,
            game,
        })
    }

    /// `ModuleInstaller.FindInstallableFiles`: every stanza's files, in stanza order.
    ///
    /// # Errors
    /// The first stanza error.
    pub fn files(&self, archive: &Archive) -> Result<Vec<InstallableFile>, InstallError> {
        self.files_in(archive.entries())
    }

    /// [`InstallPlan::files`] over a listing.
    ///
    /// # Errors
    /// The first stanza error.
    pub fn files_in(&self, entries: &[Entry]) -> Result<Vec<InstallableFile>, InstallError> {
        let mut all = Vec::new();
        for stanza in &self.stanzas {
            all.extend(stanza.find_installable_files(&self.module, entries, self.game)?);
        }
        Ok(all)
    }

    /// `DescribeInstallStanzas`: every stanza's `DescribeMatch`, comma-separated.
    pub fn describe(&self) -> String {
        self.stanzas
            .iter()
            .map(Stanza::describe_match)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The installed files whose destination ends with `suffix` (ASCII, compared ignoring case),
/// as `ModuleService.GetFilesBySuffix` selects `.cfg`, `.dll`, `.craft`, `.ckan` files.
pub fn with_suffix<'a>(
    files: &'a [InstallableFile],
    suffix: &'a str,
) -> impl Iterator<Item = &'a InstallableFile> + 'a {
    files
        .iter()
        .filter(move |f| ends_with_ignore_case(&f.destination, suffix))
}

/// `EndsWith(suffix, InvariantCultureIgnoreCase)` for an ASCII suffix.
pub fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.is_char_boundary(text.len() - suffix.len())
        && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// A plan's installable files in one archive, computed once however many lookups need them
/// (CKAN recomputes them per lookup, with the same result or the same error each time).
#[derive(Debug)]
pub struct InstallFileSet<'a> {
    plan: &'a InstallPlan,
    archive: &'a Archive,
    files: std::sync::OnceLock<Result<Vec<InstallableFile>, InstallError>>,
}

impl<'a> InstallFileSet<'a> {
    /// The files `plan` installs from `archive`, not computed yet.
    pub fn new(plan: &'a InstallPlan, archive: &'a Archive) -> Self {
        Self {
            plan,
            archive,
            files: std::sync::OnceLock::new(),
        }
    }

    /// The plan.
    pub fn plan(&self) -> &'a InstallPlan {
        self.plan
    }

    /// The archive.
    pub fn archive(&self) -> &'a Archive {
        self.archive
    }

    /// Every installable entry, directories included.
    ///
    /// # Errors
    /// The stanzas' first error.
    pub fn files(&self) -> Result<&[InstallableFile], InstallError> {
        self.files
            .get_or_init(|| self.plan.files(self.archive))
            .as_deref()
            .map_err(Clone::clone)
    }

    /// The installable entries that are not directories (`ModuleService.FileSources`).
    ///
    /// # Errors
    /// The stanzas' first error.
    pub fn non_dirs(&self) -> Result<impl Iterator<Item = &InstallableFile>, InstallError> {
        Ok(self.files()?.iter().filter(|f| !f.is_dir))
    }

    /// The installable entries whose destination ends with `suffix`, ignoring case.
    ///
    /// # Errors
    /// The stanzas' first error.
    pub fn by_suffix(
        &self,
        suffix: &'static str,
    ) -> Result<impl Iterator<Item = &InstallableFile>, InstallError> {
        Ok(with_suffix(self.files()?, suffix))
    }
}
