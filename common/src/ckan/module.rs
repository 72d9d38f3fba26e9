//! Typed views over a parsed `.netkan` / `.ckan` object (`Netkan/Model/Metadata.cs` and the
//! Python `Ckan` model): each accessor reads one property, applies CKAN's default and says
//! which JSON path is wrong when the value has the wrong shape.

use serde_json::Value;

use super::{CkanError, GameVersion, Kref, ModuleVersion, Object, SpecVersion, Vref};

/// `^[A-Za-z0-9][A-Za-z0-9-]+$` (CKAN.schema `identifier`, `AlphaNumericIdentifierValidator`):
/// at least two characters.
pub fn is_valid_identifier(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 2
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// `JObject.Merge` with `MergeArrayHandling.Replace` and `MergeNullValueHandling.Merge`: a
/// property missing from `target` is added, two objects merge recursively, anything else
/// (arrays included, and null) replaces the target's value.
pub fn merge_json(target: &mut Object, source: &Object) {
    for (key, value) in source {
        match (target.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => {
                merge_json(existing, incoming);
            }
            (Some(existing), _) => *existing = value.clone(),
            (None, _) => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Whether a property belongs to one host section of a multi-document netkan: `$kref` and
/// every `x_netkan*` property.
fn is_host_property(key: &str) -> bool {
    key == "$kref" || key.starts_with("x_netkan")
}

fn strip_host_properties(map: &Object) -> Object {
    map.iter()
        .filter(|(k, _)| !is_host_property(k))
        .map(|(k, v)| (k.clone(), strip_value(v)))
        .collect()
}

fn strip_value(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(strip_host_properties(map)),
        Value::Array(items) => Value::Array(items.iter().map(strip_value).collect()),
        other => other.clone(),
    }
}

/// The inflator's multi-document mixing (`Inflator.Inflate`): each document, merged in order
/// with every document stripped of its host properties, so shared fields written once (tags,
/// install, depends, `$vref`) apply to every host section and the later document wins. A
/// single document is returned as it is.
pub fn mix_documents(docs: &[Object]) -> Vec<Object> {
    if docs.len() < 2 {
        return docs.to_vec();
    }
    let stripped: Vec<Object> = docs.iter().map(strip_host_properties).collect();
    docs.iter()
        .map(|doc| {
            let mut mixed = doc.clone();
            for other in &stripped {
                merge_json(&mut mixed, other);
            }
            mixed
        })
        .collect()
}

/// `release_status`; absent means stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseStatus {
    Stable,
    Testing,
    Development,
}

impl ReleaseStatus {
    pub fn is_prerelease(self) -> bool {
        self != ReleaseStatus::Stable
    }
}

/// `kind`; absent means package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Package,
    Metapackage,
    Dlc,
}

/// A read-only typed view of one module document.
#[derive(Debug, Clone, Copy)]
pub struct Module<'a> {
    json: &'a Object,
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn expected(path: &str, what: &str, got: &Value) -> CkanError {
    CkanError::field(path, format!("expected {what}, found {}", type_name(got)))
}

/// A string, or a list of strings (`author`, `license`, `download`, install filters).
fn one_or_many<'v>(value: &'v Value, path: &str) -> Result<Vec<&'v str>, CkanError> {
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .ok_or_else(|| expected(&format!("{path}[{i}]"), "a string", item))
            })
            .collect(),
        other => Err(expected(path, "a string or a list of strings", other)),
    }
}

impl<'a> Module<'a> {
    pub fn new(json: &'a Object) -> Module<'a> {
        Module { json }
    }

    pub fn json(&self) -> &'a Object {
        self.json
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.json.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<Option<&'a str>, CkanError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(expected(&format!("$.{key}"), "a string", other)),
        }
    }

    fn bool(&self, key: &str) -> Result<bool, CkanError> {
        bool_at(self.get(key), &format!("$.{key}"))
    }

    /// `identifier`: required, and must match the spec's pattern.
    pub fn identifier(&self) -> Result<&'a str, CkanError> {
        let id = self
            .string("identifier")?
            .ok_or_else(|| CkanError::field("$.identifier", "missing"))?;
        if !is_valid_identifier(id) {
            return Err(CkanError::field(
                "$.identifier",
                format!("`{id}` does not match ^[A-Za-z0-9][A-Za-z0-9-]+$"),
            ));
        }
        Ok(id)
    }

    pub fn name(&self) -> Result<Option<&'a str>, CkanError> {
        self.string("name")
    }

    pub fn abstract_text(&self) -> Result<Option<&'a str>, CkanError> {
        self.string("abstract")
    }

    pub fn kref(&self) -> Result<Option<Kref>, CkanError> {
        self.string("$kref")?.map(Kref::parse).transpose()
    }

    pub fn vref(&self) -> Result<Option<Vref>, CkanError> {
        self.string("$vref")?.map(Vref::parse).transpose()
    }

    /// `spec_version`: the integer 1 or `"vX.Y"`.
    pub fn spec_version(&self) -> Result<Option<SpecVersion>, CkanError> {
        self.get("spec_version")
            .map(|v| {
                SpecVersion::from_value(v)
                    .ok_or_else(|| CkanError::field("$.spec_version", "expected 1 or \"vX.Y\""))
            })
            .transpose()
    }

    /// `version`. YAML typing can make it an integer (`version: 1`); `(string)token` reads that
    /// as its text, so it is accepted here too.
    pub fn version(&self) -> Result<Option<ModuleVersion>, CkanError> {
        match self.get("version") {
            None => Ok(None),
            Some(Value::String(s)) => ModuleVersion::parse(s).map(Some),
            Some(Value::Number(n)) => ModuleVersion::parse(&n.to_string()).map(Some),
            Some(other) => Err(expected("$.version", "a string", other)),
        }
    }

    pub fn authors(&self) -> Result<Vec<&'a str>, CkanError> {
        self.get("author")
            .map_or(Ok(Vec::new()), |v| one_or_many(v, "$.author"))
    }

    /// `license`: one string or a list (v1.8).
    pub fn licenses(&self) -> Result<Vec<&'a str>, CkanError> {
        self.get("license")
            .map_or(Ok(Vec::new()), |v| one_or_many(v, "$.license"))
    }

    /// `download`: one URL or a list (v1.34); the first is the one the inflator fetches.
    pub fn downloads(&self) -> Result<Vec<&'a str>, CkanError> {
        self.get("download")
            .map_or(Ok(Vec::new()), |v| one_or_many(v, "$.download"))
    }

    pub fn release_status(&self) -> Result<ReleaseStatus, CkanError> {
        match self.string("release_status")? {
            None | Some("stable") => Ok(ReleaseStatus::Stable),
            Some("testing") => Ok(ReleaseStatus::Testing),
            Some("development") => Ok(ReleaseStatus::Development),
            Some(other) => Err(CkanError::field(
                "$.release_status",
                format!("`{other}` is not stable, testing or development"),
            )),
        }
    }

    /// NetKAN-Infra's prerelease test: `release_status` is `testing` or `development`.
    pub fn is_prerelease(&self) -> bool {
        matches!(
            self.get("release_status").and_then(Value::as_str),
            Some("testing" | "development")
        )
    }

    pub fn kind(&self) -> Result<Kind, CkanError> {
        match self.string("kind")? {
            None | Some("package") => Ok(Kind::Package),
            Some("metapackage") => Ok(Kind::Metapackage),
            Some("dlc") => Ok(Kind::Dlc),
            Some(other) => Err(CkanError::field(
                "$.kind",
                format!("`{other}` is not package, metapackage or dlc"),
            )),
        }
    }

    pub fn resources(&self) -> Result<Option<&'a Object>, CkanError> {
        match self.get("resources") {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(other) => Err(expected("$.resources", "an object", other)),
        }
    }

    /// One resource URL, e.g. `homepage` or `repository`.
    pub fn resource(&self, name: &str) -> Result<Option<&'a str>, CkanError> {
        let Some(resources) = self.resources()? else {
            return Ok(None);
        };
        match resources.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(expected(&format!("$.resources.{name}"), "a string", other)),
        }
    }

    pub fn release_date(&self) -> Result<Option<&'a str>, CkanError> {
        self.string("release_date")
    }

    pub fn download_content_type(&self) -> Result<Option<&'a str>, CkanError> {
        self.string("download_content_type")
    }

    pub fn download_size(&self) -> Result<Option<u64>, CkanError> {
        match self.get("download_size") {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| expected("$.download_size", "a non-negative integer", v)),
        }
    }

    /// `download_hash.sha1` and `download_hash.sha256`.
    pub fn download_hash(&self) -> Result<(Option<&'a str>, Option<&'a str>), CkanError> {
        let Some(value) = self.get("download_hash") else {
            return Ok((None, None));
        };
        let Value::Object(hashes) = value else {
            return Err(expected("$.download_hash", "an object", value));
        };
        let field = |name: &str| match hashes.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(expected(
                &format!("$.download_hash.{name}"),
                "a string",
                other,
            )),
        };
        Ok((field("sha1")?, field("sha256")?))
    }

    /// `ksp_version`, `ksp_version_min`, `ksp_version_max` as game versions.
    pub fn game_versions(&self) -> Result<GameVersions, CkanError> {
        let read = |key: &str| {
            self.get(key)
                .map(|v| {
                    GameVersion::from_value(v)
                        .ok_or_else(|| CkanError::field(format!("$.{key}"), "not a game version"))
                })
                .transpose()
        };
        Ok(GameVersions {
            ksp_version: read("ksp_version")?,
            min: read("ksp_version_min")?,
            max: read("ksp_version_max")?,
        })
    }

    /// Every `x_netkan_*` option, with the inflator's defaults.
    pub fn netkan_options(&self) -> Result<NetkanOptions, CkanError> {
        Ok(NetkanOptions {
            epoch: self.epoch()?,
            allow_out_of_order: self.bool("x_netkan_allow_out_of_order")?,
            version_edit: self.version_edit()?,
            force_v: self.bool("x_netkan_force_v")?,
            trust_version_file: self.bool("x_netkan_trust_version_file")?,
            overrides: self.overrides()?,
            staging: self.bool("x_netkan_staging")?,
            staging_reason: self.string("x_netkan_staging_reason")?.map(str::to_owned),
            github: self.github_options()?,
            gitlab: self.gitlab_options()?,
            jenkins: self.jenkins_options()?,
            license_ok: self.bool("x_netkan_license_ok")?,
            optimus_prime: self.bool("x_netkan_optimus_prime")?,
            version_pieces: match self.get("x_netkan_version_pieces") {
                None => Object::new(),
                Some(Value::Object(o)) => o.clone(),
                Some(other) => {
                    return Err(expected("$.x_netkan_version_pieces", "an object", other));
                }
            },
        })
    }

    /// `x_netkan_epoch`: a uint, as an integer or numeric string; `a`, `-1` and `5.5` are errors.
    fn epoch(&self) -> Result<Option<u32>, CkanError> {
        let Some(value) = self.get("x_netkan_epoch") else {
            return Ok(None);
        };
        let text = match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            other => return Err(expected("$.x_netkan_epoch", "an unsigned integer", other)),
        };
        super::parse::parse_dotnet_int(&text)
            .and_then(|i| u32::try_from(i).ok())
            .map(Some)
            .ok_or_else(|| {
                CkanError::field(
                    "$.x_netkan_epoch",
                    format!("`{text}` is not an unsigned integer"),
                )
            })
    }

    fn version_edit(&self) -> Result<Option<VersionEdit>, CkanError> {
        const PATH: &str = "$.x_netkan_version_edit";
        match self.get("x_netkan_version_edit") {
            None => Ok(None),
            Some(Value::String(find)) => Ok(Some(VersionEdit {
                find: find.clone(),
                replace: VersionEdit::DEFAULT_REPLACE.to_owned(),
                strict: true,
            })),
            Some(Value::Object(o)) => {
                let find = match o.get("find") {
                    Some(Value::String(s)) => s.clone(),
                    _ => {
                        return Err(CkanError::field(
                            format!("{PATH}.find"),
                            "missing or not a string",
                        ));
                    }
                };
                let replace = match o.get("replace") {
                    None | Some(Value::Null) => VersionEdit::DEFAULT_REPLACE.to_owned(),
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => {
                        return Err(expected(&format!("{PATH}.replace"), "a string", other));
                    }
                };
                let strict = match o.get("strict") {
                    None | Some(Value::Null) => true,
                    v => bool_at(v, &format!("{PATH}.strict"))?,
                };
                Ok(Some(VersionEdit {
                    find,
                    replace,
                    strict,
                }))
            }
            Some(other) => Err(CkanError::field(
                PATH,
                format!("unrecognized `x_netkan_version_edit` value: {other}"),
            )),
        }
    }

    /// `x_netkan_override` (OverrideValidator: an array of stanzas, each with `version` and
    /// `override` or `delete`; `version` and `delete` may be one string or a list).
    fn overrides(&self) -> Result<Vec<Override>, CkanError> {
        let Some(value) = self.get("x_netkan_override") else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = value else {
            return Err(expected("$.x_netkan_override", "an array", value));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let path = format!("$.x_netkan_override[{i}]");
                let Value::Object(stanza) = item else {
                    return Err(expected(&path, "an object", item));
                };
                let version = match stanza.get("version") {
                    None | Some(Value::Null) => {
                        return Err(CkanError::field(
                            format!("{path}.version"),
                            "can't find version in override stanza",
                        ));
                    }
                    Some(v) => one_or_many(v, &format!("{path}.version"))?
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                };
                let step = |key: &str| match stanza.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(other) => Err(expected(&format!("{path}.{key}"), "a string", other)),
                };
                let override_ = match stanza.get("override") {
                    None | Some(Value::Null) => None,
                    Some(Value::Object(o)) => Some(o.clone()),
                    Some(other) => {
                        return Err(expected(&format!("{path}.override"), "an object", other));
                    }
                };
                let delete: Vec<String> = match stanza.get("delete") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(v) => one_or_many(v, &format!("{path}.delete"))?
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                };
                if override_.is_none() && delete.is_empty() && !stanza.contains_key("delete") {
                    return Err(CkanError::field(
                        path,
                        "an override stanza needs `override` or `delete`",
                    ));
                }
                Ok(Override {
                    version,
                    before: step("before")?,
                    after: step("after")?,
                    override_,
                    delete,
                })
            })
            .collect()
    }

    fn options_object(&self, key: &str) -> Result<Option<&'a Object>, CkanError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(other) => Err(expected(&format!("$.{key}"), "an object", other)),
        }
    }

    fn github_options(&self) -> Result<GithubOptions, CkanError> {
        let Some(o) = self.options_object("x_netkan_github")? else {
            return Ok(GithubOptions::default());
        };
        Ok(GithubOptions {
            use_source_archive: bool_at(
                o.get("use_source_archive"),
                "$.x_netkan_github.use_source_archive",
            )?,
            prereleases: match o.get("prereleases") {
                None | Some(Value::Null) => None,
                v => Some(bool_at(v, "$.x_netkan_github.prereleases")?),
            },
        })
    }

    fn gitlab_options(&self) -> Result<GitlabOptions, CkanError> {
        let Some(o) = self.options_object("x_netkan_gitlab")? else {
            return Ok(GitlabOptions::default());
        };
        Ok(GitlabOptions {
            use_source_archive: bool_at(
                o.get("use_source_archive"),
                "$.x_netkan_gitlab.use_source_archive",
            )?,
        })
    }

    fn jenkins_options(&self) -> Result<JenkinsOptions, CkanError> {
        let Some(o) = self.options_object("x_netkan_jenkins")? else {
            return Ok(JenkinsOptions::default());
        };
        let build = match o.get("build") {
            None | Some(Value::Null) => JenkinsBuild::Stable,
            Some(Value::String(s)) => JenkinsBuild::parse(s).ok_or_else(|| {
                CkanError::field(
                    "$.x_netkan_jenkins.build",
                    format!("unknown build type `{s}`"),
                )
            })?,
            Some(other) => return Err(expected("$.x_netkan_jenkins.build", "a string", other)),
        };
        let asset_match = match o.get("asset_match") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(expected(
                    "$.x_netkan_jenkins.asset_match",
                    "a string",
                    other,
                ));
            }
        };
        Ok(JenkinsOptions {
            build,
            asset_match,
            use_filename_version: bool_at(
                o.get("use_filename_version"),
                "$.x_netkan_jenkins.use_filename_version",
            )?,
        })
    }
}

fn bool_at(value: Option<&Value>, path: &str) -> Result<bool, CkanError> {
    match value {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(expected(path, "a bool", other)),
    }
}

/// The game-version properties of a module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GameVersions {
    pub ksp_version: Option<GameVersion>,
    pub min: Option<GameVersion>,
    pub max: Option<GameVersion>,
}

/// Every `x_netkan_*` option of one netkan document (reference §7).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetkanOptions {
    /// `x_netkan_epoch`.
    pub epoch: Option<u32>,
    /// `x_netkan_allow_out_of_order`: no auto-epoching, and no HighestVersion is sent.
    pub allow_out_of_order: bool,
    pub version_edit: Option<VersionEdit>,
    /// `x_netkan_force_v`.
    pub force_v: bool,
    /// `x_netkan_trust_version_file`.
    pub trust_version_file: bool,
    pub overrides: Vec<Override>,
    /// `x_netkan_staging`.
    pub staging: bool,
    pub staging_reason: Option<String>,
    pub github: GithubOptions,
    pub gitlab: GitlabOptions,
    pub jenkins: JenkinsOptions,
    /// `x_netkan_license_ok` (read, but without effect in the current inflator).
    pub license_ok: bool,
    /// `x_netkan_optimus_prime` (only logs).
    pub optimus_prime: bool,
    /// `x_netkan_version_pieces` (set by transformers: `{tag: ...}` for `${tag}`).
    pub version_pieces: Object,
}

/// `x_netkan_version_edit`: a string is `find` alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionEdit {
    /// A .NET regex.
    pub find: String,
    /// A .NET replacement (`${version}` by default).
    pub replace: String,
    /// No match is an error when strict.
    pub strict: bool,
}

impl VersionEdit {
    pub const DEFAULT_REPLACE: &'static str = "${version}";
}

/// One `x_netkan_override` stanza.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Constraints `[op]version`, all of which must hold.
    pub version: Vec<String>,
    /// The inflation step to run before (`$all`, `$none` or a step name).
    pub before: Option<String>,
    pub after: Option<String>,
    pub override_: Option<Object>,
    pub delete: Vec<String>,
}

/// `x_netkan_github`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GithubOptions {
    pub use_source_archive: bool,
    /// true: only prereleases; false: skip them; none: both.
    pub prereleases: Option<bool>,
}

/// `x_netkan_gitlab`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitlabOptions {
    /// Must be true: GitLab only supports source archives.
    pub use_source_archive: bool,
}

/// `x_netkan_jenkins`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JenkinsOptions {
    pub build: JenkinsBuild,
    /// A custom artifact regex; none means the default `\.zip$`, case-insensitive.
    pub asset_match: Option<String>,
    pub use_filename_version: bool,
}

impl JenkinsOptions {
    pub const DEFAULT_ASSET_MATCH: &'static str = r"\.zip$";
}

/// The Jenkins build type to take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum JenkinsBuild {
    Any,
    Completed,
    Failed,
    #[default]
    Stable,
    Successful,
    Unstable,
    Unsuccessful,
}

impl JenkinsBuild {
    pub fn parse(text: &str) -> Option<JenkinsBuild> {
        Some(match text {
            "any" => JenkinsBuild::Any,
            "completed" => JenkinsBuild::Completed,
            "failed" => JenkinsBuild::Failed,
            "stable" => JenkinsBuild::Stable,
            "successful" => JenkinsBuild::Successful,
            "unstable" => JenkinsBuild::Unstable,
            "unsuccessful" => JenkinsBuild::Unsuccessful,
            _ => return None,
        })
    }

    /// The Jenkins `result` a build must have; none means any result.
    pub fn required_result(self) -> Option<&'static str> {
        match self {
            JenkinsBuild::Any => None,
            JenkinsBuild::Completed | JenkinsBuild::Stable | JenkinsBuild::Successful => {
                Some("SUCCESS")
            }
            JenkinsBuild::Failed | JenkinsBuild::Unstable | JenkinsBuild::Unsuccessful => {
                Some("FAILURE")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ckan::parse_netkan;

    fn obj(v: Value) -> Object {
        match v {
            Value::Object(o) => o,
            _ => panic!("test input must be an object"),
        }
    }

    #[test]
    fn identifiers() {
        assert!(is_valid_identifier("DogeCoinFlag"));
        assert!(is_valid_identifier("1ThousandSpecialPlanetPack-Textures"));
        assert!(!is_valid_identifier("A"));
        assert!(!is_valid_identifier("-A"));
        assert!(!is_valid_identifier("A_B"));
        let o = obj(json!({"identifier": "A_B"}));
        let err = Module::new(&o).identifier().expect_err("bad id");
        assert!(
            err.to_string().starts_with("at $.identifier: `A_B`"),
            "{err}"
        );
    }

    #[test]
    fn defaults_and_shapes() {
        let o = obj(json!({
            "identifier": "AwesomeMod", "version": 1, "license": ["MIT", "GPL-3.0"],
            "download": "https://e.com/a.zip", "author": "me",
            "resources": {"homepage": "https://e.com"}
        }));
        let m = Module::new(&o);
        assert_eq!(m.kind().expect("kind"), Kind::Package);
        assert_eq!(m.release_status().expect("status"), ReleaseStatus::Stable);
        assert!(!m.is_prerelease());
        assert_eq!(
            m.version().expect("version").expect("present").as_str(),
            "1"
        );
        assert_eq!(m.licenses().expect("licenses"), ["MIT", "GPL-3.0"]);
        assert_eq!(m.downloads().expect("downloads"), ["https://e.com/a.zip"]);
        assert_eq!(m.authors().expect("authors"), ["me"]);
        assert_eq!(m.resource("homepage").expect("res"), Some("https://e.com"));
        assert_eq!(m.resource("bugtracker").expect("res"), None);
        let o = obj(json!({"kind": "metapackage", "release_status": "testing", "license": 5}));
        let m = Module::new(&o);
        assert_eq!(m.kind().expect("kind"), Kind::Metapackage);
        assert!(m.is_prerelease());
        let err = m.licenses().expect_err("bad license");
        assert_eq!(
            err.to_string(),
            "at $.license: expected a string or a list of strings, found a number"
        );
    }

    #[test]
    fn netkan_options_from_yaml() {
        let docs = parse_netkan(concat!(
            "identifier: X\n$kref: '#/ckan/github/a/b'\nx_netkan_epoch: '2'\n",
            "x_netkan_force_v: true\nx_netkan_version_edit:\n  find: ^v(?<version>.+)$\n  strict: false\n",
            "x_netkan_override:\n  - version: [\">=1.0\", \"<2.0\"]\n    after: avc\n    delete: ksp_version\n",
            "x_netkan_github: {prereleases: false}\nx_netkan_jenkins: {build: any}\n",
        ))
        .expect("parses");
        let m = Module::new(&docs[0]);
        let opts = m.netkan_options().expect("options");
        assert_eq!(opts.epoch, Some(2));
        assert!(opts.force_v);
        assert_eq!(
            opts.version_edit,
            Some(VersionEdit {
                find: "^v(?<version>.+)$".into(),
                replace: "${version}".into(),
                strict: false
            })
        );
        assert_eq!(opts.overrides.len(), 1);
        assert_eq!(opts.overrides[0].version, [">=1.0", "<2.0"]);
        assert_eq!(opts.overrides[0].after.as_deref(), Some("avc"));
        assert_eq!(opts.overrides[0].delete, ["ksp_version"]);
        assert_eq!(opts.github.prereleases, Some(false));
        assert_eq!(opts.jenkins.build, JenkinsBuild::Any);
        assert_eq!(opts.jenkins.build.required_result(), None);
        assert!(matches!(m.kref(), Ok(Some(Kref::GitHub { .. }))));
    }

    #[test]
    fn multi_document_netkans_are_mixed() {
        let docs = parse_netkan(concat!(
            "identifier: X\n$kref: '#/ckan/github/a/b'\nx_netkan_force_v: true\ntags: [a]\n",
            "---\n$kref: '#/ckan/spacedock/1'\n$vref: '#/ckan/ksp-avc'\ntags: [b, c]\n",
            "install: [{find: X, install_to: GameData}]\nresources: {homepage: h, x_netkan_y: 1}\n",
        ))
        .expect("parses");
        let mixed = mix_documents(&docs);
        assert_eq!(
            Value::Object(mixed[0].clone()),
            json!({
                "identifier": "X", "$kref": "#/ckan/github/a/b", "x_netkan_force_v": true,
                "tags": ["b", "c"], "$vref": "#/ckan/ksp-avc",
                "install": [{"find": "X", "install_to": "GameData"}],
                "resources": {"homepage": "h"}
            })
        );
        assert_eq!(
            Value::Object(mixed[1].clone()),
            json!({
                "$kref": "#/ckan/spacedock/1", "$vref": "#/ckan/ksp-avc", "tags": ["b", "c"],
                "install": [{"find": "X", "install_to": "GameData"}],
                "resources": {"homepage": "h", "x_netkan_y": 1}, "identifier": "X"
            })
        );
        assert_eq!(mix_documents(&docs[..1]), docs[..1].to_vec());
    }

    #[test]
    fn merge_replaces_arrays_and_merges_objects() {
        let mut target = obj(json!({"a": [1, 2], "o": {"x": 1, "y": 2}, "s": "t", "n": 1}));
        merge_json(
            &mut target,
            &obj(json!({"a": [3], "o": {"y": 3, "z": 4}, "s": null, "new": true})),
        );
        assert_eq!(
            Value::Object(target),
            json!({"a": [3], "o": {"x": 1, "y": 3, "z": 4}, "s": null, "n": 1, "new": true})
        );
    }

    #[test]
    fn invalid_epochs_are_refused() {
        for bad in [json!("a"), json!("-1"), json!("5.5"), json!(-1)] {
            let o = obj(json!({"x_netkan_epoch": bad}));
            assert!(Module::new(&o).netkan_options().is_err(), "{bad}");
        }
        let o = obj(json!({"x_netkan_version_edit": ["x"]}));
        let err = Module::new(&o).netkan_options().expect_err("array edit");
        assert!(
            err.to_string()
                .contains("unrecognized `x_netkan_version_edit` value"),
            "{err}"
        );
        let o = obj(json!({"x_netkan_override": [{"override": {}}]}));
        let err = Module::new(&o).netkan_options().expect_err("no version");
        assert!(
            err.to_string()
                .contains("can't find version in override stanza")
        );
    }
}
