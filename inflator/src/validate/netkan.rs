//! `NetkanValidator` (`Netkan/Validators/NetkanValidator.cs`): run on each input document
//! (with `MatchingIdentifiers` against the file name) and again on each output of the steps.

use netkan_common::ckan::module::is_valid_identifier;
use netkan_common::ckan::{Kref, Object, RemoteRef};
use serde_json::Value;

use crate::InflateError;
use crate::metadata;

fn fail(message: impl Into<String>) -> Result<(), InflateError> {
    Err(InflateError::metadata(message))
}

/// The identifier as `Metadata.Identifier` reads it: a string, or empty.
fn identifier(json: &Object) -> Result<String, InflateError> {
    match json.get("identifier") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(v) => metadata::cs_string(v).ok_or_else(|| {
            InflateError::metadata(format!("identifier must be a string, found {v}"))
        }),
    }
}

/// `NetkanValidator.Validate`: HasIdentifier, Kref, AlphaNumericIdentifier,
/// KrefDownloadMutex, DownloadVersion, Override; then the typed read of the options that
/// `new Metadata(json)` does.
///
/// # Errors
/// The first rule that fails, with CKAN's message.
pub fn validate_netkan(json: &Object) -> Result<(), InflateError> {
    let id = identifier(json)?;
    if id.trim().is_empty() {
        return fail("Metadata must have an identifier property");
    }
    if let Some(kref) = json.get("$kref").filter(|v| !v.is_null()) {
        let text = metadata::cs_string(kref).unwrap_or_else(|| kref.to_string());
        let known =
            RemoteRef::parse(&text).is_some_and(|r| Kref::SOURCES.contains(&r.source.as_str()));
        if !known {
            return fail(format!("Invalid $kref: {text}"));
        }
    }
    if !is_valid_identifier(&id) {
        return fail(
            "CKAN identifiers must consist only of letters, numbers, and dashes, and must start with a letter or number.",
        );
    }
    let has = |k: &str| json.contains_key(k);
    if has("download") && has("$kref") {
        return fail(format!(
            "{id} has a $kref and a download field, this is likely incorrect"
        ));
    }
    let dlc = json.get("kind").and_then(Value::as_str) == Some("dlc");
    if !dlc && !has("download") && !has("$kref") {
        return fail(format!(
            "{id} has no $kref field, this is required when no download url is specified"
        ));
    }
    if has("download") && !has("version") && !has("$vref") {
        return fail(format!(
            "{id} expects a version when a download url is provided"
        ));
    }
    if let Some(overrides) = json.get("x_netkan_override") {
        let Value::Array(stanzas) = overrides else {
            return fail("Netkan overrides require an array");
        };
        for stanza in stanzas {
            let Value::Object(stanza) = stanza else {
                return fail(format!("Netkan overrides must be objects, found {stanza}"));
            };
            if !stanza.contains_key("version") {
                return fail("Netkan overrides require a version");
            }
            if !stanza.contains_key("delete") && !stanza.contains_key("override") {
                return fail("Netkan overrides require a delete or override section");
            }
        }
    }
    metadata::options(json)?;
    Ok(())
}

/// `NetkanValidator.ValidateNetkan`: [`validate_netkan`], then `MatchingIdentifiers` against
/// the identifier the file is named after.
///
/// # Errors
/// As [`validate_netkan`], or "Error: Have metadata for X, but wanted Y".
pub fn validate_input(json: &Object, file_identifier: &str) -> Result<(), InflateError> {
    validate_netkan(json)?;
    matching_identifiers(json, file_identifier)
}

/// `MatchingIdentifiersValidator`.
///
/// # Errors
/// "Error: Have metadata for X, but wanted Y".
pub fn matching_identifiers(json: &Object, wanted: &str) -> Result<(), InflateError> {
    let id = identifier(json)?;
    if id != wanted {
        return fail(format!(
            "Error: Have metadata for {id}, but wanted {wanted}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing_support::obj;

    fn check(v: Value) -> Result<(), String> {
        validate_netkan(&obj(v)).map_err(|e| e.to_string())
    }

    #[test]
    fn a_plain_netkan_passes() {
        check(json!({"identifier": "AwesomeMod", "$kref": "#/ckan/spacedock/1"})).expect("valid");
        check(json!({"identifier": "AwesomeMod", "download": "https://x/a.zip", "version": "1"}))
            .expect("valid");
        check(json!({"identifier": "AwesomeMod", "download": "https://x/a.zip", "$vref": "#/ckan/ksp-avc"}))
            .expect("valid");
        check(json!({"identifier": "Dlc", "kind": "dlc"})).expect("a dlc needs no download");
    }

    #[test]
    fn identifiers_must_exist_and_be_alphanumeric() {
        assert_eq!(
            check(json!({"$kref": "#/ckan/spacedock/1"})),
            Err("Metadata must have an identifier property".into())
        );
        assert_eq!(
            check(json!({"identifier": " ", "$kref": "#/ckan/spacedock/1"})),
            Err("Metadata must have an identifier property".into())
        );
        let err = check(json!({"identifier": "Awesome_Mod", "$kref": "#/ckan/spacedock/1"}))
            .expect_err("bad");
        assert!(
            err.starts_with("CKAN identifiers must consist only of letters"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_kref_source_is_refused() {
        assert_eq!(
            check(json!({"identifier": "A1", "$kref": "#/ckan/techman/1"})),
            Err("Invalid $kref: #/ckan/techman/1".into())
        );
    }

    #[test]
    fn kref_and_download_are_exclusive_and_one_is_needed() {
        assert_eq!(
            check(
                json!({"identifier": "A1", "$kref": "#/ckan/spacedock/1", "download": "https://x"})
            ),
            Err("A1 has a $kref and a download field, this is likely incorrect".into())
        );
        assert_eq!(
            check(json!({"identifier": "A1"})),
            Err("A1 has no $kref field, this is required when no download url is specified".into())
        );
        assert_eq!(
            check(json!({"identifier": "A1", "download": "https://x"})),
            Err("A1 expects a version when a download url is provided".into())
        );
    }

    #[test]
    fn overrides_must_be_well_formed() {
        let base = |o: Value| json!({"identifier": "A1", "$kref": "#/ckan/spacedock/1", "x_netkan_override": o});
        assert_eq!(
            check(base(json!({"version": "1"}))),
            Err("Netkan overrides require an array".into())
        );
        assert_eq!(
            check(base(json!([{"override": {}}]))),
            Err("Netkan overrides require a version".into())
        );
        assert_eq!(
            check(base(json!([{"version": "1"}]))),
            Err("Netkan overrides require a delete or override section".into())
        );
        check(base(json!([{"version": "1", "delete": "a"}]))).expect("valid");
    }

    #[test]
    fn the_file_name_must_match_the_identifier() {
        let j = obj(json!({"identifier": "A1", "$kref": "#/ckan/spacedock/1"}));
        validate_input(&j, "A1").expect("matches");
        assert_eq!(
            validate_input(&j, "B1").map_err(|e| e.to_string()),
            Err("Error: Have metadata for A1, but wanted B1".into())
        );
    }
}
