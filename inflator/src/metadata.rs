//! What the steps read from a metadata object the way `Netkan/Model/Metadata.cs` does: the
//! version as text and as a [`ModuleVersion`], the `x_netkan_*` options, the prerelease flag,
//! and the text forms of JSON tokens that error messages quote.

use netkan_common::ckan::{Module, ModuleVersion, NetkanOptions, Object};
use serde_json::Value;

use crate::InflateError;

/// `(string?)token` on a scalar: strings as they are, numbers as their text, bools as C#
/// prints them; null and containers give none.
pub fn cs_string(value: &Value) -> Option<String> {
    netkan_common::ckan::spec_version::cs_string(Some(value))
}

/// `JToken.ToString()` as messages quote it: a string without quotes, null (or nothing) as
/// the empty string, containers as JSON indented by two spaces.
pub fn token_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(v @ (Value::Array(_) | Value::Object(_))) => {
            serde_json::to_string_pretty(v).unwrap_or_default()
        }
        Some(v) => cs_string(v).unwrap_or_default(),
    }
}

/// The `version` property as text (`1` in YAML is an integer; CKAN reads it as `"1"`).
pub fn version_text(json: &Object) -> Option<String> {
    json.get("version").and_then(cs_string)
}

/// The `version` property as a [`ModuleVersion`].
///
/// # Errors
/// `Metadata` when the version cannot be read (a nested value, an epoch that overflows).
pub fn version(json: &Object) -> Result<Option<ModuleVersion>, InflateError> {
    Ok(Module::new(json).version()?)
}

/// Every `x_netkan_*` option. Like `new Metadata(json)`, one malformed option fails every
/// step that reads options; the message for a `x_netkan_version_edit` of the wrong type is
/// CKAN's own.
///
/// # Errors
/// `Metadata` naming the option and what is wrong with it.
pub fn options(json: &Object) -> Result<NetkanOptions, InflateError> {
    if let Some(edit @ Value::Array(_)) = json.get("x_netkan_version_edit") {
        return Err(InflateError::metadata(format!(
            "Unrecognized `x_netkan_version_edit` value: {}",
            token_text(Some(edit))
        )));
    }
    Ok(Module::new(json).netkan_options()?)
}

/// `Metadata.Prerelease`: `release_status` is `testing` or `development`.
pub fn is_prerelease(json: &Object) -> bool {
    Module::new(json).is_prerelease()
}

/// The host of each download URL (`Metadata.Hosts`, `Uri.Host`), for error messages.
pub fn hosts(json: &Object) -> Vec<String> {
    let urls: Vec<&str> = match json.get("download") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    urls.into_iter()
        .map(|u| {
            reqwest::Url::parse(u)
                .ok()
                .and_then(|p| p.host_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Object {
        match v {
            Value::Object(o) => o,
            _ => unreachable!("test objects"),
        }
    }

    #[test]
    fn tokens_print_as_newtonsoft_prints_them() {
        assert_eq!(token_text(Some(&json!("a b"))), "a b");
        assert_eq!(token_text(Some(&json!(12))), "12");
        assert_eq!(token_text(None), "");
        assert_eq!(token_text(Some(&json!(["x"]))), "[\n  \"x\"\n]");
        assert_eq!(cs_string(&json!(true)).as_deref(), Some("True"));
    }

    #[test]
    fn a_version_edit_array_is_refused_with_ckans_message() {
        let err = options(&obj(json!({"x_netkan_version_edit": ["Junk value"]})))
            .expect_err("arrays are refused");
        assert_eq!(
            err.to_string(),
            "Unrecognized `x_netkan_version_edit` value: [\n  \"Junk value\"\n]"
        );
    }

    #[test]
    fn hosts_are_the_download_hosts_in_order() {
        let j = obj(json!({"download": ["https://GitHub.com/a", "https://spacedock.info/b"]}));
        assert_eq!(hosts(&j), ["github.com", "spacedock.info"]);
        assert!(hosts(&obj(json!({}))).is_empty());
    }
}
