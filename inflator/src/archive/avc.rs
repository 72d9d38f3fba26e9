//! KSP-AVC `.version` files: reading one as CKAN does (`AvcVersion`, `JsonAvcToVersion`,
//! `JsonAvcToGameVersion`, deserialized by Newtonsoft), and finding the one in a download
//! (`ModuleService.FindInternalAvc`).
//!
//! Top-level properties match case-insensitively (an exact match first), as the serializer
//! matches them; `MAJOR`/`MINOR`/`PATCH`/`BUILD` inside a version object are looked up exactly,
//! as `JObject` lookups are. Which of Newtonsoft's exception types a failure would be matters to
//! the callers (`AvcTransformer` and `VrefValidator` catch some and not others), so
//! [`AvcError`] keeps the distinction.

use netkan_common::ckan::{GameVersion, ModuleVersion};

use super::install::{InstallError, InstallFileSet, dotnet_regex, ends_with_ignore_case, is_match};
use super::lenient_json::{self, JValue, member};
use super::zip::Archive;

/// Why a `.version` text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvcError {
    /// `JsonReaderException`: a syntax error (including an invalid octal literal).
    #[error("{0}")]
    Syntax(String),
    /// `JsonSerializationException`: valid JSON of the wrong shape.
    #[error("{0}")]
    Serialization(String),
    /// Not a `JsonException` at all (`InvalidCastException` from the converters,
    /// `FormatException` from `GameVersion.Parse`): CKAN's handlers let these through.
    #[error("{0}")]
    Conversion(String),
}

/// `GITHUB` of a `.version` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AvcGithub {
    pub username: Option<String>,
    pub repository: Option<String>,
}

/// What CKAN reads from a `.version` file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AvcVersion {
    pub name: Option<String>,
    pub url: Option<String>,
    pub download: Option<String>,
    pub github: Option<AvcGithub>,
    pub version: Option<ModuleVersion>,
    pub ksp_version: Option<GameVersion>,
    pub ksp_version_min: Option<GameVersion>,
    pub ksp_version_max: Option<GameVersion>,
}

/// A `string` field: scalars convert, containers are a serialization error.
fn string_field(value: Option<&JValue>, name: &str) -> Result<Option<String>, AvcError> {
    match value {
        None => Ok(None),
        Some(v @ (JValue::Array(_) | JValue::Object(_))) => Err(AvcError::Serialization(format!(
            "Unexpected character encountered while parsing value: {}. Path '{name}'.",
            if matches!(v, JValue::Array(_)) {
                '['
            } else {
                '{'
            }
        ))),
        Some(v) => Ok(v.scalar_text()),
    }
}

/// `token.Value<string>(key)` on a version object.
fn component(object: &JValue, key: &str) -> Result<Option<String>, AvcError> {
    match object.get_exact(key) {
        None => Ok(None),
        Some(v @ (JValue::Array(_) | JValue::Object(_))) => Err(AvcError::Conversion(format!(
            "Cannot cast {} to JValue.",
            if matches!(v, JValue::Array(_)) {
                "Newtonsoft.Json.Linq.JArray"
            } else {
                "Newtonsoft.Json.Linq.JObject"
            }
        ))),
        Some(v) => Ok(v.scalar_text()),
    }
}

fn not_object_or_string() -> AvcError {
    AvcError::Conversion("Trying to convert non-JSON object to Version object".to_owned())
}

/// `JsonAvcToVersion`: `MAJOR.MINOR.PATCH[.BUILD]`, missing parts `0`, BUILD only if not blank.
fn module_version(value: &JValue) -> Result<ModuleVersion, AvcError> {
    let (mut major, mut minor, mut patch) = ("0".to_owned(), "0".to_owned(), "0".to_owned());
    let build: Option<String>;
    match value {
        JValue::String(s) => {
            let mut parts = s.split('.');
            if let Some(p) = parts.next() {
                major = p.to_owned();
            }
            if let Some(p) = parts.next() {
                minor = p.to_owned();
            }
            if let Some(p) = parts.next() {
                patch = p.to_owned();
            }
            build = parts.next().map(str::to_owned);
        }
        JValue::Object(_) => {
            major = component(value, "MAJOR")?.unwrap_or(major);
            minor = component(value, "MINOR")?.unwrap_or(minor);
            patch = component(value, "PATCH")?.unwrap_or(patch);
            build = component(value, "BUILD")?;
        }
        _ => return Err(not_object_or_string()),
    }
    let mut text = format!("{major}.{minor}.{patch}");
    if let Some(b) = build.filter(|b| !b.trim().is_empty()) {
        text.push('.');
        text.push_str(&b);
    }
    ModuleVersion::parse(&text).map_err(|e| AvcError::Conversion(e.to_string()))
}

/// `int.TryParse(s, out i) && i == -1`: the AVC wildcard.
fn is_wildcard(part: &str) -> bool {
    part.trim_matches(|c: char| matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' '))
        .strip_prefix('-')
        .is_some_and(|d| d.trim_start_matches('0') == "1")
}

/// `JsonAvcToGameVersion`: a missing or -1 MAJOR is `any`, a missing or -1 MINOR gives
/// `MAJOR`, a missing or -1 PATCH gives `MAJOR.MINOR`; the build is dropped.
fn game_version(value: &JValue) -> Result<GameVersion, AvcError> {
    let (major, minor, patch) = match value {
        JValue::String(s) => {
            let mut parts = s.split('.').map(str::to_owned);
            (parts.next(), parts.next(), parts.next())
        }
        JValue::Object(_) => (
            component(value, "MAJOR")?,
            component(value, "MINOR")?,
            component(value, "PATCH")?,
        ),
        _ => return Err(not_object_or_string()),
    };
    let text = match (major, minor, patch) {
        (None, _, _) => return Ok(GameVersion::ANY),
        (Some(m), _, _) if is_wildcard(&m) => return Ok(GameVersion::ANY),
        (Some(m), None, _) => m,
        (Some(m), Some(n), _) if is_wildcard(&n) => m,
        (Some(m), Some(n), None) => format!("{m}.{n}"),
        (Some(m), Some(n), Some(p)) if is_wildcard(&p) => format!("{m}.{n}"),
        (Some(m), Some(n), Some(p)) => format!("{m}.{n}.{p}"),
    };
    GameVersion::parse(&text).ok_or_else(|| {
        AvcError::Conversion(format!(
            "Input string '{text}' was not in a correct format."
        ))
    })
}

/// A converted field: `null` JSON goes through the converter too, which refuses it.
fn converted<T>(
    value: Option<&JValue>,
    convert: impl Fn(&JValue) -> Result<T, AvcError>,
) -> Result<Option<T>, AvcError> {
    value.map(convert).transpose()
}

impl AvcVersion {
    /// `JsonConvert.DeserializeObject<AvcVersion>(text)`; `Ok(None)` for a text with no value
    /// or a literal `null`.
    ///
    /// # Errors
    /// See [`AvcError`].
    pub fn parse(text: &str) -> Result<Option<AvcVersion>, AvcError> {
        let parsed = lenient_json::parse(text).map_err(|e| AvcError::Syntax(e.0))?;
        let props = match parsed.value {
            None | Some(JValue::Null | JValue::Undefined) => return Ok(None),
            Some(JValue::Object(props)) => props,
            Some(JValue::Array(_)) => {
                return Err(AvcError::Serialization(
                    "Cannot deserialize the current JSON array (e.g. [1,2,3]) into type 'CKAN.Avc.AvcVersion' because the type requires a JSON object (e.g. {\"name\":\"value\"}) to deserialize correctly.".to_owned(),
                ));
            }
            Some(other) => {
                return Err(AvcError::Serialization(format!(
                    "Error converting value {} to type 'CKAN.Avc.AvcVersion'.",
                    other.scalar_text().unwrap_or_default()
                )));
            }
        };
        let github = match member(&props, "GITHUB") {
            None | Some(JValue::Null | JValue::Undefined) => None,
            Some(JValue::Object(inner)) => Some(AvcGithub {
                username: string_field(member(inner, "USERNAME"), "GITHUB.USERNAME")?,
                repository: string_field(member(inner, "REPOSITORY"), "GITHUB.REPOSITORY")?,
            }),
            Some(other) => {
                return Err(AvcError::Serialization(format!(
                    "Error converting value {} to type 'CKAN.Avc.AvcVersionGithubRef'. Path 'GITHUB'.",
                    other
                        .scalar_text()
                        .unwrap_or_else(|| other.type_name().to_owned())
                )));
            }
        };
        let avc = AvcVersion {
            name: string_field(member(&props, "NAME"), "NAME")?,
            url: string_field(member(&props, "URL"), "URL")?,
            download: string_field(member(&props, "DOWNLOAD"), "DOWNLOAD")?,
            github,
            version: converted(member(&props, "VERSION"), module_version)?,
            ksp_version: converted(member(&props, "KSP_VERSION"), game_version)?,
            ksp_version_min: converted(member(&props, "KSP_VERSION_MIN"), game_version)?,
            ksp_version_max: converted(member(&props, "KSP_VERSION_MAX"), game_version)?,
        };
        if parsed.trailing {
            return Err(AvcError::Serialization(
                "Additional text found in JSON string after finishing deserializing object."
                    .to_owned(),
            ));
        }
        Ok(Some(avc))
    }
}

/// Decodes a text file as .NET's `StreamReader` does: a UTF-8, UTF-16 or UTF-32 byte-order
/// mark picks the encoding (and is dropped), else UTF-8; invalid bytes become U+FFFD.
pub fn decode_text(bytes: &[u8]) -> String {
    fn utf16(bytes: &[u8], be: bool) -> String {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| {
                if be {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    }
    fn utf32(bytes: &[u8], be: bool) -> String {
        bytes
            .chunks_exact(4)
            .map(|c| {
                let v = if be {
                    u32::from_be_bytes([c[0], c[1], c[2], c[3]])
                } else {
                    u32::from_le_bytes([c[0], c[1], c[2], c[3]])
                };
                char::from_u32(v).unwrap_or('\u{fffd}')
            })
            .collect()
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        String::from_utf8_lossy(rest).into_owned()
    } else if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE, 0, 0]) {
        utf32(rest, false)
    } else if let Some(rest) = bytes.strip_prefix(&[0, 0, 0xFE, 0xFF]) {
        utf32(rest, true)
    } else if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        utf16(rest, false)
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        utf16(rest, true)
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// The `.version` file [`find_internal_avc`] chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundAvc {
    /// Index into [`Archive::entries`].
    pub entry: usize,
    /// Its name in the archive.
    pub name: String,
    /// Whether the install stanzas install it (`false`: a fallback found anywhere).
    pub installable: bool,
}

/// Why [`find_internal_avc`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindAvcError {
    /// The install stanzas failed (`FindInstallableFiles` threw).
    #[error(transparent)]
    Install(#[from] InstallError),
    /// A plain `Kraken`: too many files, or a `$vref` path that matches none.
    #[error("{0}")]
    Kraken(String),
}

/// `ModuleService.FindInternalAvc`: the `.version` entries the stanzas install, or if none,
/// every `.version` entry; then the one `$vref` names (its exact name, or an unanchored .NET
/// regex), or the only one.
///
/// # Errors
/// "Invalid $vref path/regexp X, doesn't match any of: …", "Too many .version files located:
/// …" (names sorted), or the stanzas' own error.
pub fn find_internal_avc(
    files: &InstallFileSet<'_>,
    archive: &Archive,
    vref_path: Option<&str>,
) -> Result<Option<FoundAvc>, FindAvcError> {
    let entries = archive.entries();
    let installed: Vec<usize> = files
        .files()?
        .iter()
        .map(|f| f.entry)
        .filter(|&i| ends_with_ignore_case(&entries[i].name, ".version"))
        .collect();
    let (candidates, installable) = if installed.is_empty() {
        let anywhere: Vec<usize> = (0..entries.len())
            .filter(|&i| ends_with_ignore_case(&entries[i].name, ".version"))
            .collect();
        if anywhere.is_empty() {
            return Ok(None);
        }
        (anywhere, false)
    } else {
        (installed, true)
    };
    let found = |entry: usize| {
        Ok(Some(FoundAvc {
            entry,
            name: entries[entry].name.clone(),
            installable,
        }))
    };
    if let Some(path) = vref_path.filter(|p| !p.trim().is_empty()) {
        let re = dotnet_regex(path, false, "$vref path")?;
        for &i in &candidates {
            if entries[i].name == path || is_match(&re, &entries[i].name)? {
                return found(i);
            }
        }
        let names: Vec<&str> = candidates
            .iter()
            .map(|&i| entries[i].name.as_str())
            .collect();
        return Err(FindAvcError::Kraken(format!(
            "Invalid $vref path/regexp {path}, doesn't match any of: {}",
            names.join(", ")
        )));
    }
    if candidates.len() > 1 {
        let mut names: Vec<&str> = candidates
            .iter()
            .map(|&i| entries[i].name.as_str())
            .collect();
        names.sort_by(|a, b| netkan_common::ckan::write::culture_compare(a, b));
        return Err(FindAvcError::Kraken(format!(
            "Too many .version files located: {}",
            names.join(", ")
        )));
    }
    found(candidates[0])
}

/// Reads and parses a found `.version` entry (`ModuleService.GetInternalAvc`).
///
/// # Errors
/// The archive's error reading it; the parse error, as [`AvcError`] (callers turn `Syntax`
/// and `Serialization` into "Error parsing version file <name>: …").
pub fn read_avc(archive: &Archive, found: &FoundAvc) -> Result<Option<AvcVersion>, ReadAvcError> {
    let bytes = archive
        .read(found.entry)
        .map_err(|e| ReadAvcError::Archive(e.to_string()))?;
    AvcVersion::parse(&decode_text(&bytes)).map_err(ReadAvcError::Parse)
}

/// Why [`read_avc`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadAvcError {
    #[error("{0}")]
    Archive(String),
    #[error("{0}")]
    Parse(AvcError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avc(text: &str) -> AvcVersion {
        AvcVersion::parse(text)
            .expect("a valid .version")
            .expect("not empty")
    }

    fn gv(s: &str) -> Option<GameVersion> {
        Some(GameVersion::parse(s).expect("valid game version"))
    }

    const FULL: &str = r#"{
        "NAME":"KSP-AVC",
        "URL":"http://ksp-avc.cybutek.net/version.php?id=2",
        "DOWNLOAD":"http://kerbal.curseforge.com/ksp-mods/220462-ksp-avc-add-on-version-checker",
        "GITHUB": { "USERNAME":"YourGitHubUserName", "REPOSITORY":"YourGitHubRepository", "ALLOW_PRE_RELEASE":false },
        "VERSION": { "MAJOR":1, "MINOR":1, "PATCH":0, "BUILD":0 },
        "KSP_VERSION": { "MAJOR":0, "MINOR":24, "PATCH":2 },
        "KSP_VERSION_MIN": { "MAJOR":0, "MINOR":24, "PATCH":0 },
        "KSP_VERSION_MAX": { "MAJOR":0, "MINOR":24, "PATCH":2 }
    } "#;

    #[test]
    fn a_full_version_file_is_read() {
        let a = avc(FULL);
        assert_eq!(a.name.as_deref(), Some("KSP-AVC"));
        assert_eq!(
            a.version.as_ref().map(ModuleVersion::as_str),
            Some("1.1.0.0")
        );
        assert_eq!(a.ksp_version, gv("0.24.2"));
        assert_eq!(a.ksp_version_min, gv("0.24.0"));
        assert_eq!(a.ksp_version_max, gv("0.24.2"));
        assert_eq!(
            a.github,
            Some(AvcGithub {
                username: Some("YourGitHubUserName".into()),
                repository: Some("YourGitHubRepository".into())
            })
        );
    }

    #[test]
    fn one_line_versions_are_padded() {
        let a = avc(
            r#"{"NAME":"KSP-AVC","VERSION": "0.9.21","KSP_VERSION":{"MAJOR":0,"MINOR":24,"PATCH":2},
               "KSP_VERSION_MIN": "0.24.0","KSP_VERSION_MAX": "1.0.0"}"#,
        );
        assert_eq!(
            a.version.as_ref().map(ModuleVersion::as_str),
            Some("0.9.21")
        );
        assert_eq!(a.ksp_version, gv("0.24.2"));
        assert_eq!(a.ksp_version_min, gv("0.24.0"));
        assert_eq!(a.ksp_version_max, gv("1.0.0"));
        let short = avc(r#"{"VERSION": "1.2"}"#);
        assert_eq!(
            short.version.as_ref().map(ModuleVersion::as_str),
            Some("1.2.0")
        );
        let long = avc(r#"{"VERSION": "1.2.3.4.5"}"#);
        assert_eq!(
            long.version.as_ref().map(ModuleVersion::as_str),
            Some("1.2.3.4")
        );
    }

    #[test]
    fn wildcards_and_missing_parts_widen_the_game_version() {
        let ksp = |obj: &str| {
            avc(&format!("{{\"KSP_VERSION\": {obj}}}"))
                .ksp_version
                .expect("a game version")
        };
        assert!(ksp(r#"{"MAJOR":-1, "MINOR":-1, "PATCH":-1}"#).is_any());
        assert_eq!(
            ksp(r#"{"MAJOR":1, "MINOR":-1, "PATCH":-1}"#).to_string(),
            "1"
        );
        assert_eq!(
            ksp(r#"{"MAJOR":1, "MINOR":5, "PATCH":-1}"#).to_string(),
            "1.5"
        );
        assert!(ksp("{}").is_any());
        assert_eq!(ksp(r#"{"MAJOR":1}"#).to_string(), "1");
        assert_eq!(ksp(r#"{"MAJOR":1, "MINOR":5}"#).to_string(), "1.5");
        assert_eq!(ksp(r#""1.12.5.3""#).to_string(), "1.12.5");
        assert!(matches!(
            AvcVersion::parse(r#"{"KSP_VERSION": "1.x"}"#),
            Err(AvcError::Conversion(_))
        ));
    }

    #[test]
    fn octal_literals_are_octal_invalid_ones_fail_and_quoted_ones_stay_literal() {
        let version = |major: &str, minor: &str, patch: &str| {
            AvcVersion::parse(&format!(
                "{{\"VERSION\": {{\"MAJOR\": {major}, \"MINOR\": {minor}, \"PATCH\": {patch}}}}}"
            ))
        };
        for (maj, min, pat, expect) in [
            ("02024", "7", "13", "1044.7.13"),
            ("2024", "07", "13", "2024.7.13"),
            ("2024", "7", "013", "2024.7.11"),
        ] {
            let got = version(maj, min, pat).expect("valid octal").expect("value");
            assert_eq!(
                got.version.as_ref().map(ModuleVersion::as_str),
                Some(expect)
            );
        }
        for (maj, min, pat) in [
            ("02028", "10", "9"),
            ("2024", "080", "9"),
            ("2024", "10", "08"),
            ("02029", "10", "9"),
            ("2024", "090", "9"),
            ("2024", "10", "09"),
        ] {
            assert!(
                matches!(version(maj, min, pat), Err(AvcError::Syntax(_))),
                "{maj}.{min}.{pat} must be a reader error"
            );
            let quoted = version(
                &format!("\"{maj}\""),
                &format!("\"{min}\""),
                &format!("\"{pat}\""),
            )
            .expect("quoted digits are text")
            .expect("value");
            assert_eq!(
                quoted.version.as_ref().map(ModuleVersion::as_str),
                Some(format!("{maj}.{min}.{pat}").as_str())
            );
        }
    }

    #[test]
    fn names_match_ignoring_case_at_the_top_but_not_inside_versions() {
        let a = avc(r#"{"version": {"major": 3, "MINOR": 4}, "ksp_version": "1.12"}"#);
        assert_eq!(a.version.as_ref().map(ModuleVersion::as_str), Some("0.4.0"));
        assert_eq!(a.ksp_version, gv("1.12"));
        // Later duplicates win.
        let b = avc(r#"{"VERSION": "1.0", "Version": "2.0"}"#);
        assert_eq!(b.version.as_ref().map(ModuleVersion::as_str), Some("2.0.0"));
    }

    #[test]
    fn shapes_newtonsoft_refuses_are_classified() {
        assert!(matches!(
            AvcVersion::parse("[1]"),
            Err(AvcError::Serialization(_))
        ));
        assert!(matches!(
            AvcVersion::parse(r#"{"NAME": {}}"#),
            Err(AvcError::Serialization(_))
        ));
        assert!(matches!(
            AvcVersion::parse(r#"{"VERSION": 1}"#),
            Err(AvcError::Conversion(_))
        ));
        assert!(matches!(
            AvcVersion::parse(r#"{"VERSION": "1"} {"#),
            Err(AvcError::Serialization(_))
        ));
        assert!(matches!(AvcVersion::parse("{"), Err(AvcError::Syntax(_))));
        assert_eq!(AvcVersion::parse(""), Ok(None));
        assert_eq!(AvcVersion::parse("null"), Ok(None));
    }

    #[test]
    fn text_decoding_follows_the_byte_order_mark() {
        assert_eq!(decode_text(b"\xEF\xBB\xBFabc"), "abc");
        assert_eq!(decode_text(&[0xFF, 0xFE, b'a', 0, b'b', 0]), "ab");
        assert_eq!(decode_text(&[0xFE, 0xFF, 0, b'a']), "a");
        assert_eq!(decode_text(b"a\xFFb"), "a\u{fffd}b");
    }
}
