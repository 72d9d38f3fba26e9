//! [`SpecVersion`] (`spec_version`: the integer `1` or `"vX.Y"`) and the minimum spec version a
//! module needs, a port of `Core/Types/SpecVersionAnalyzer.cs`.

use std::fmt;

use serde_json::Value;

use super::Object;

/// A CKAN spec version `vMAJOR.MINOR`; v1.0 is written as the integer `1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpecVersion {
    pub major: u32,
    pub minor: u32,
}

impl SpecVersion {
    pub const V1_0: SpecVersion = SpecVersion::new(1, 0);

    pub const fn new(major: u32, minor: u32) -> SpecVersion {
        SpecVersion { major, minor }
    }

    /// Reads `spec_version` as the schema allows it: the integer 1 or `^v[0-9]+\.[0-9]+$`.
    pub fn from_value(value: &Value) -> Option<SpecVersion> {
        match value {
            Value::Number(n) if n.as_u64() == Some(1) => Some(SpecVersion::V1_0),
            Value::String(s) => SpecVersion::parse(s),
            _ => None,
        }
    }

    /// Parses `vX.Y`.
    pub fn parse(text: &str) -> Option<SpecVersion> {
        let (major, minor) = text.strip_prefix('v')?.split_once('.')?;
        let number = |s: &str| {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                s.parse::<u32>().ok()
            }
        };
        Some(SpecVersion::new(number(major)?, number(minor)?))
    }

    /// `VersionExtensions.ToSpecVersionJson`: v1.0 is the integer 1, anything else `"vX.Y"`.
    pub fn to_value(self) -> Value {
        if self == SpecVersion::V1_0 {
            Value::from(1)
        } else {
            Value::String(self.to_string())
        }
    }
}

impl fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)
    }
}

const RELATIONSHIPS: [&str; 5] = ["depends", "recommends", "suggests", "conflicts", "supports"];

/// `(string?)token` on a scalar: the text CKAN compares against. Containers and null give none.
/// (The inflator reads properties the same way.)
pub fn cs_string(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(true) => Some("True".to_owned()),
        Value::Bool(false) => Some("False".to_owned()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// `HasLicense`. For an array CKAN calls `JArray.Contains(name)`, which compares token
/// *references* (`IndexOfReference`), so a license array never matches: only a single license
/// string can raise the spec version for MPL-2.0, Unlicense or WTFPL.
fn has_license(json: &Object, name: &str) -> bool {
    match json.get("license") {
        Some(Value::Array(_)) => false,
        other => cs_string(other).as_deref() == Some(name),
    }
}

fn stanzas(json: &Object) -> impl Iterator<Item = &Object> {
    json.get("install")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

fn any_stanza(json: &Object, pred: impl Fn(&Object) -> bool) -> bool {
    stanzas(json).any(pred)
}

fn relationships(json: &Object) -> impl Iterator<Item = &Object> {
    RELATIONSHIPS
        .iter()
        .filter_map(|p| json.get(*p).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_object)
}

fn install_to(stanza: &Object) -> Option<String> {
    cs_string(stanza.get("install_to"))
}

/// `SpecVersionAnalyzer.MinimumSpecVersion`: the first rule that matches wins; the rules are in
/// descending spec order.
pub fn minimum_spec_version(json: &Object) -> SpecVersion {
    let v = SpecVersion::new;
    let kind = cs_string(json.get("kind"));
    let last_segment_is_script =
        |s: Option<String>| s.is_some_and(|s| s.split('/').next_back() == Some("Script"));

    if cs_string(json.get("release_status")).is_some_and(|s| s != "stable") {
        return v(1, 36);
    }
    if let Some(Value::Object(hashes)) = json.get("download_hash")
        && (!hashes.contains_key("sha256") || !hashes.contains_key("sha1"))
    {
        return v(1, 35);
    }
    if matches!(json.get("download"), Some(Value::Array(_))) {
        return v(1, 34);
    }
    if relationships(json).any(|r| r.contains_key("any_of") && r.contains_key("choice_help_text")) {
        return v(1, 31);
    }
    if has_license(json, "MPL-2.0") {
        return v(1, 30);
    }
    if any_stanza(json, |s| {
        install_to(s).is_some_and(|t| t.starts_with("Ships/Script"))
            || (install_to(s).as_deref() == Some("Ships")
                && (last_segment_is_script(cs_string(s.get("find")))
                    || last_segment_is_script(cs_string(s.get("file")))
                    || cs_string(s.get("as")).is_some_and(|a| a.ends_with("Script"))))
    }) {
        return v(1, 29);
    }
    if kind.as_deref() == Some("dlc") {
        return v(1, 28);
    }
    if json.contains_key("replaced_by") {
        return v(1, 26);
    }
    if relationships(json).any(|r| r.contains_key("any_of")) {
        return v(1, 26);
    }
    if any_stanza(json, |s| install_to(s).as_deref() == Some("Missions")) {
        return v(1, 25);
    }
    if any_stanza(json, |s| {
        s.contains_key("include_only") || s.contains_key("include_only_regexp")
    }) {
        return v(1, 24);
    }
    if has_license(json, "Unlicense") {
        return v(1, 18);
    }
    if any_stanza(json, |s| s.contains_key("as")) {
        return v(1, 18);
    }
    if json.contains_key("ksp_version_strict") {
        return v(1, 16);
    }
    if any_stanza(json, |s| {
        install_to(s)
            .unwrap_or_default()
            .starts_with("Ships/@thumbs")
    }) {
        return v(1, 16);
    }
    if any_stanza(json, |s| s.contains_key("find_matches_files")) {
        return v(1, 16);
    }
    if any_stanza(json, |s| install_to(s).as_deref() == Some("Scenarios")) {
        return v(1, 14);
    }
    if any_stanza(json, |s| {
        install_to(s).unwrap_or_default().starts_with("Ships/")
    }) {
        return v(1, 12);
    }
    if any_stanza(json, |s| {
        s.contains_key("find_regexp") || s.contains_key("filter_regexp")
    }) {
        return v(1, 10);
    }
    if matches!(json.get("license"), Some(Value::Array(_))) {
        return v(1, 8);
    }
    if kind.as_deref() == Some("metapackage") {
        return v(1, 6);
    }
    if any_stanza(json, |s| s.contains_key("find")) {
        return v(1, 4);
    }
    if has_license(json, "WTFPL") {
        return v(1, 2);
    }
    if json.contains_key("supports") {
        return v(1, 2);
    }
    if any_stanza(json, |s| {
        install_to(s).unwrap_or_default().starts_with("GameData/")
    }) {
        return v(1, 2);
    }
    SpecVersion::V1_0
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn min(value: Value) -> String {
        let Value::Object(obj) = value else {
            panic!("test input must be an object");
        };
        minimum_spec_version(&obj).to_string()
    }

    #[test]
    fn parse_and_serialize() {
        assert_eq!(SpecVersion::from_value(&json!(1)), Some(SpecVersion::V1_0));
        assert_eq!(
            SpecVersion::from_value(&json!("v1.34")),
            Some(SpecVersion::new(1, 34))
        );
        assert_eq!(SpecVersion::from_value(&json!("1.34")), None);
        assert_eq!(SpecVersion::from_value(&json!(2)), None);
        assert_eq!(SpecVersion::V1_0.to_value(), json!(1));
        assert_eq!(SpecVersion::new(1, 4).to_value(), json!("v1.4"));
        assert!(SpecVersion::new(1, 10) > SpecVersion::new(1, 4));
    }

    #[test]
    fn rules_in_order() {
        assert_eq!(min(json!({})), "v1.0");
        assert_eq!(min(json!({"release_status": "testing"})), "v1.36");
        assert_eq!(min(json!({"release_status": "stable"})), "v1.0");
        assert_eq!(min(json!({"download_hash": {"sha256": "A"}})), "v1.35");
        assert_eq!(
            min(json!({"download_hash": {"sha1": "A", "sha256": "B"}})),
            "v1.0"
        );
        assert_eq!(min(json!({"download": ["a", "b"]})), "v1.34");
        assert_eq!(
            min(json!({"depends": [{"any_of": [], "choice_help_text": "x"}]})),
            "v1.31"
        );
        assert_eq!(min(json!({"license": "MPL-2.0"})), "v1.30");
        assert_eq!(
            min(json!({"install": [{"install_to": "Ships/Script"}]})),
            "v1.29"
        );
        assert_eq!(
            min(json!({"install": [{"find": "a/Script", "install_to": "Ships"}]})),
            "v1.29"
        );
        assert_eq!(
            min(json!({"install": [{"file": "x", "as": "MyScript", "install_to": "Ships"}]})),
            "v1.29"
        );
        assert_eq!(min(json!({"kind": "dlc"})), "v1.28");
        assert_eq!(min(json!({"replaced_by": {"name": "X"}})), "v1.26");
        assert_eq!(min(json!({"conflicts": [{"any_of": []}]})), "v1.26");
        assert_eq!(
            min(json!({"install": [{"install_to": "Missions"}]})),
            "v1.25"
        );
        assert_eq!(
            min(json!({"install": [{"install_to": "GameData", "include_only": "x"}]})),
            "v1.24"
        );
        assert_eq!(min(json!({"license": "Unlicense"})), "v1.18");
        assert_eq!(
            min(json!({"install": [{"install_to": "GameData", "as": "x"}]})),
            "v1.18"
        );
        assert_eq!(min(json!({"ksp_version_strict": false})), "v1.16");
        assert_eq!(
            min(json!({"install": [{"install_to": "Ships/@thumbs/VAB"}]})),
            "v1.16"
        );
        assert_eq!(
            min(json!({"install": [{"install_to": "GameData", "find_matches_files": true}]})),
            "v1.16"
        );
        assert_eq!(
            min(json!({"install": [{"install_to": "Scenarios"}]})),
            "v1.14"
        );
        assert_eq!(
            min(json!({"install": [{"install_to": "Ships/VAB"}]})),
            "v1.12"
        );
        assert_eq!(
            min(json!({"install": [{"install_to": "GameData", "find_regexp": "x"}]})),
            "v1.10"
        );
        assert_eq!(min(json!({"license": ["MIT", "GPL-3.0"]})), "v1.8");
        assert_eq!(min(json!({"kind": "metapackage"})), "v1.6");
        assert_eq!(
            min(json!({"install": [{"install_to": "GameData", "find": "x"}]})),
            "v1.4"
        );
        assert_eq!(min(json!({"license": "WTFPL"})), "v1.2");
        assert_eq!(min(json!({"supports": []})), "v1.2");
        assert_eq!(
            min(json!({"install": [{"install_to": "GameData/X", "file": "x"}]})),
            "v1.2"
        );
    }

    #[test]
    fn license_arrays_never_match_by_name() {
        // JArray.Contains compares references: MPL-2.0 in an array only counts as an array.
        assert_eq!(min(json!({"license": ["MPL-2.0"]})), "v1.8");
        assert_eq!(min(json!({"license": ["Unlicense", "MIT"]})), "v1.8");
    }
}
