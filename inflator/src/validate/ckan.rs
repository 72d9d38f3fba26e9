//! `CkanValidator` (`Netkan/Validators/CkanValidator.cs`) on every final `.ckan`, in CKAN's
//! order: IsCkanModule, DownloadArray, Tags (warning), Licenses, Relationships,
//! VersionStrict, ReplacedBy, Install, InstallsFiles, MatchesKnownGameVersions,
//! ObeysCKANSchema, Kind, then the archive-based Harmony, ModuleManagerDepends, Plugins,
//! CraftsInShips and SpaceWarpInfo checks, and last the identifier of the netkan.
//!
//! The spec-version gates compare with the module's own `spec_version`; since the inflator
//! has just set it to the minimum the module needs, they only fire for hand-set values.

use netkan_common::ckan::module::is_valid_identifier;
use netkan_common::ckan::schema::known_licenses;
use netkan_common::ckan::{Module, Object, SchemaKind, Schemas, SpecVersion};
use serde_json::Value;

use super::installs;
use super::netkan::matching_identifiers;
use crate::InflateError;
use crate::context::Context;
use crate::game::{compatible_with_any, module_min_max};
use crate::metadata::cs_string;

fn fail<T>(message: impl Into<String>) -> Result<T, InflateError> {
    Err(InflateError::metadata(message))
}

/// The spec gates: whether the module declares a spec below `vMAJOR.MINOR`.
struct Spec(Option<SpecVersion>);

impl Spec {
    fn below(&self, major: u32, minor: u32) -> bool {
        self.0.is_some_and(|s| s < SpecVersion::new(major, minor))
    }
}

/// Every post-validation of one `.ckan`.
///
/// # Errors
/// The first validator that fails, with CKAN's message.
pub async fn validate_ckan(
    json: &Object,
    netkan_identifier: &str,
    cx: &mut Context<'_>,
) -> Result<(), InflateError> {
    is_ckan_module(json)?;
    let spec = Spec(Module::new(json).spec_version()?);
    if spec.below(1, 34) && matches!(json.get("download"), Some(Value::Array(_))) {
        return fail("spec_version v1.34+ required for download as array");
    }
    tags(json, cx);
    licenses(json, &spec)?;
    relationships(json, &spec)?;
    if spec.below(1, 16) && json.contains_key("ksp_version_strict") {
        return fail("spec_version v1.16+ required for 'ksp_version_strict'");
    }
    if spec.below(1, 26) && json.contains_key("replaced_by") {
        return fail("spec_version v1.26+ required for 'replaced_by'");
    }
    install(json, &spec)?;
    installs::installs_files(json, cx).await?;
    known_game_versions(json, cx)?;
    obeys_schema(json)?;
    kind(json, &spec)?;
    installs::harmony(json, cx).await?;
    installs::module_manager_depends(json, cx).await?;
    installs::plugins(json, cx).await?;
    installs::crafts_in_ships(json, cx).await?;
    installs::space_warp_info(json, cx).await?;
    matching_identifiers(json, netkan_identifier)
}

/// `IsCkanModuleValidator` (`CkanModule.FromJson` and `CheckHealth`): the properties a client
/// needs, with the types it reads them as.
fn is_ckan_module(json: &Object) -> Result<(), InflateError> {
    let module = Module::new(json);
    let id = json
        .get("identifier")
        .and_then(cs_string)
        .unwrap_or_default();
    let missing = |field: &str| fail(format!("{id} missing required field {field}"));
    let present = |k: &str| json.get(k).is_some_and(|v| !v.is_null());
    let Some(spec) = module.spec_version()? else {
        return missing("spec_version");
    };
    if !present("identifier") {
        return missing("identifier");
    }
    module.identifier()?;
    if !present("name") {
        return missing("name");
    }
    module.name()?;
    module.abstract_text()?;
    if !present("version") {
        return missing("version");
    }
    module.version()?;
    if !present("author") && spec >= SpecVersion::new(1, 28) {
        return missing("author");
    }
    module.authors()?;
    module.licenses()?;
    let kind = module.kind()?;
    if kind == netkan_common::ckan::module::Kind::Package && !present("download") {
        return missing("download");
    }
    module.downloads()?;
    module.release_status()?;
    module.resources()?;
    module.download_size()?;
    module.download_hash()?;
    module.game_versions()?;
    if present("ksp_version") && (present("ksp_version_min") || present("ksp_version_max")) {
        return fail("ksp_version mixed with ksp_version_(min|max)");
    }
    Ok(())
}

/// `TagsValidator`: a warning only.
fn tags(json: &Object, cx: &mut Context<'_>) {
    let has_tags = matches!(json.get("tags"), Some(Value::Array(t)) if !t.is_empty());
    if !has_tags {
        cx.warn("Tags not found, see https://github.com/KSP-CKAN/CKAN/wiki/Suggested-Tags");
    }
}

/// `LicensesValidator`. `x_netkan_license_ok` would skip the list check, but it is stripped
/// before this runs, so (as in CKAN) it never does.
fn licenses(json: &Object, spec: &Spec) -> Result<(), InflateError> {
    let licenses: Option<Vec<&Value>> = match json.get("license") {
        Some(Value::Array(items)) => Some(items.iter().collect()),
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null)) => {
            Some(vec![v])
        }
        _ => None,
    };
    if let Some(list) = &licenses {
        if spec.below(1, 8) && matches!(json.get("license"), Some(Value::Array(_))) {
            return fail("spec_version v1.8+ required for license as array");
        }
        for lic in list {
            let text = cs_string(lic);
            for (name, major, minor) in [("WTFPL", 1, 2), ("Unlicense", 1, 18), ("MPL-2.0", 1, 30)]
            {
                if spec.below(major, minor) && text.as_deref() == Some(name) {
                    return fail(format!(
                        "spec_version v{major}.{minor}+ required for license '{name}'"
                    ));
                }
            }
        }
    }
    let kref = json
        .get("$kref")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kref.starts_with("#/ckan/netkan/") {
        return Ok(());
    }
    // The reference says "License should match spec" when there is no license at all, which
    // reads as if a license were given and wrong; this names what is missing.
    const NO_LICENSE: &str = "No license: the .netkan needs a \"license\" the CKAN spec knows (such as \"MIT\", \"restricted\" or \"unknown\")";
    match licenses {
        None => fail(NO_LICENSE),
        Some(list) if list.is_empty() => fail(NO_LICENSE),
        Some(list) => {
            for lic in list {
                let text = crate::metadata::token_text(Some(lic));
                if !known_licenses().contains(&text) {
                    return fail(format!("License {text} should match spec"));
                }
            }
            Ok(())
        }
    }
}

/// `JTokenType` names, as the relationship messages print them.
fn token_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_f64() => "Float",
        Value::Number(_) => "Integer",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
    }
}

/// `RelationshipsValidator`.
fn relationships(json: &Object, spec: &Spec) -> Result<(), InflateError> {
    for rel_name in ["depends", "recommends", "suggests", "conflicts", "supports"] {
        let Some(value) = json.get(rel_name) else {
            continue;
        };
        if spec.below(1, 2) && rel_name == "supports" {
            return fail("spec_version v1.2+ required for 'supports'");
        }
        let elements: Vec<(String, Value)> = match value {
            Value::Array(items) => items.iter().map(|i| (String::new(), i.clone())).collect(),
            // `Children()` of an object are its properties, which are not objects.
            Value::Object(props) => props.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        };
        for (prop, element) in elements {
            let Value::Object(rel) = &element else {
                return fail(format!(
                    "{rel_name} elements should be Object, found {}: {}",
                    token_type(&element),
                    serde_json::to_string(&element).unwrap_or_default()
                ));
            };
            if !prop.is_empty() {
                return fail(format!(
                    "{rel_name} elements should be Object, found Property: \"{prop}\":{}",
                    serde_json::to_string(&element).unwrap_or_default()
                ));
            }
            if let Some(any_of) = rel.get("any_of") {
                if spec.below(1, 26) {
                    return fail("spec_version v1.26+ required for 'any_of'");
                }
                for forbidden in ["name", "version", "min_version", "max_version"] {
                    if rel.contains_key(forbidden) {
                        return fail(format!(
                            "{forbidden} is not valid in the same relationship as 'any_of'"
                        ));
                    }
                }
                if rel.contains_key("choice_help_text") && spec.below(1, 31) {
                    return fail(
                        "spec_version v1.31+ required for choice_help_text in same relationship as 'any_of'",
                    );
                }
                for option in any_of.as_array().into_iter().flatten() {
                    let Value::Object(opt) = option else {
                        return fail(format!(
                            "{rel_name} 'any_of' elements should be Object, found {}: {}",
                            token_type(option),
                            serde_json::to_string(option).unwrap_or_default()
                        ));
                    };
                    if let Some(name) = opt.get("name").and_then(cs_string)
                        && !is_valid_identifier(&name)
                    {
                        return fail(format!(
                            "{name} in {rel_name} 'any_of' is not a valid CKAN identifier"
                        ));
                    }
                }
            } else {
                if let Some(name) = rel.get("name").and_then(cs_string)
                    && !is_valid_identifier(&name)
                {
                    return fail(format!(
                        "{name} in {rel_name} is not a valid CKAN identifier"
                    ));
                }
                if rel.contains_key("version_min") {
                    return fail(
                        "'version_min' found in relationship, the correct form is 'min_version'",
                    );
                }
                if rel.contains_key("version_max") {
                    return fail(
                        "'version_max' found in relationship, the correct form is 'max_version'",
                    );
                }
            }
        }
    }
    Ok(())
}

/// `CKANPathUtils.NormalizePath`: `\` → `/`, trailing `/` dropped (except for one character).
fn normalize_path(path: &str) -> String {
    let p = path.replace('\\', "/");
    if path.chars().count() < 2 {
        p
    } else {
        p.trim_end_matches('/').to_owned()
    }
}

fn last_segment_is_script(value: Option<&Value>) -> bool {
    value
        .and_then(cs_string)
        .is_some_and(|s| s.split('/').next_back() == Some("Script"))
}

/// `InstallValidator`: `install_to` present, spec gates, normalized paths.
fn install(json: &Object, spec: &Spec) -> Result<(), InflateError> {
    let Some(Value::Array(stanzas)) = json.get("install") else {
        return Ok(());
    };
    for stanza in stanzas.iter().filter_map(Value::as_object) {
        let Some(install_to) = stanza
            .get("install_to")
            .and_then(cs_string)
            .filter(|s| !s.is_empty())
        else {
            return fail("install stanza missing `install_to`");
        };
        let has = |k: &str| stanza.contains_key(k);
        let gates = [
            (
                install_to.starts_with("GameData/"),
                1,
                2,
                "spec_version v1.2+ required for GameData with path",
            ),
            (
                install_to == "Scenarios",
                1,
                14,
                "spec_version v1.14+ required to install to Scenarios",
            ),
            (
                install_to == "Missions",
                1,
                25,
                "spec_version v1.25+ required to install to Missions",
            ),
            (
                install_to.starts_with("Ships/Script")
                    || (install_to == "Ships"
                        && (last_segment_is_script(stanza.get("find"))
                            || last_segment_is_script(stanza.get("file"))
                            || stanza
                                .get("as")
                                .and_then(cs_string)
                                .is_some_and(|a| a.ends_with("Script")))),
                1,
                29,
                "spec_version v1.29+ required to install to Ships/Script",
            ),
            (
                install_to.starts_with("Ships/"),
                1,
                12,
                "spec_version v1.12+ required to install to Ships/ with path",
            ),
            (
                install_to.starts_with("Ships/@thumbs"),
                1,
                16,
                "spec_version v1.16+ required to install to Ships/@thumbs with path",
            ),
            (
                has("find"),
                1,
                4,
                "spec_version v1.4+ required for install with 'find'",
            ),
            (
                has("find_regexp"),
                1,
                10,
                "spec_version v1.10+ required for install with 'find_regexp'",
            ),
            (
                has("filter_regexp"),
                1,
                10,
                "spec_version v1.10+ required for install with 'filter_regexp'",
            ),
            (
                has("include_only"),
                1,
                24,
                "spec_version v1.24+ required for install with 'include_only'",
            ),
            (
                has("include_only_regexp"),
                1,
                24,
                "spec_version v1.24+ required for install with 'include_only_regexp'",
            ),
            (
                has("find_matches_files"),
                1,
                16,
                "spec_version v1.16+ required for 'find_matches_files'",
            ),
            (has("as"), 1, 18, "spec_version v1.18+ required for 'as'"),
        ];
        for (hit, major, minor, message) in gates {
            if hit && spec.below(major, minor) {
                return fail(message);
            }
        }
        for prop in ["find", "file", "install_to"] {
            if !stanza.contains_key(prop) {
                continue;
            }
            let Some(val) = stanza
                .get(prop)
                .and_then(cs_string)
                .filter(|s| !s.is_empty())
            else {
                return fail(format!("Install property '{prop}' is null or empty"));
            };
            let norm = normalize_path(&val);
            if val != norm {
                return fail(format!(
                    "Path \"{val}\" in '{prop}' is not normalized, should be \"{norm}\""
                ));
            }
        }
    }
    Ok(())
}

/// `MatchesKnownGameVersionsValidator`.
fn known_game_versions(json: &Object, cx: &mut Context<'_>) -> Result<(), InflateError> {
    let compatible =
        compatible_with_any(json, cx.game.known_versions()).unwrap_or_else(|warning| {
            // CKAN's comparator logs this and calls the module incompatible.
            cx.warn(warning);
            false
        });
    if compatible {
        return Ok(());
    }
    let (min, max) = module_min_max(json);
    let id = json
        .get("identifier")
        .and_then(cs_string)
        .unwrap_or_default();
    fail(format!(
        "{id} doesn't match any valid game version: {}",
        cx.game.version_span(min, max)
    ))
}

/// `ObeysCKANSchemaValidator`.
fn obeys_schema(json: &Object) -> Result<(), InflateError> {
    let errors = Schemas::global().validate(SchemaKind::Ckan, &Value::Object(json.clone()));
    if errors.is_empty() {
        return Ok(());
    }
    let msg: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.path, e.message))
        .collect();
    fail(format!("Schema validation failed: {}", msg.join(", ")))
}

/// `KindValidator` (CKAN's message does say `metpackage`).
fn kind(json: &Object, spec: &Spec) -> Result<(), InflateError> {
    match json.get("kind").and_then(Value::as_str) {
        Some("metapackage") if spec.below(1, 6) => {
            fail("spec_version 1.6+ required for kind 'metpackage'")
        }
        Some("dlc") if spec.below(1, 28) => fail("spec_version 1.28+ required for kind 'dlc'"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cache::DownloadCache;
    use crate::context::{Context, Services};
    use crate::testing::archive::ZipBuilder;
    use crate::testing::upstream::Upstream;
    use crate::testing_support::{Harness, obj};

    fn module() -> Value {
        json!({"spec_version": 1, "identifier": "DogeCoinFlag", "name": "Doge Coin Flag",
               "abstract": "Such flag", "author": "pjf", "license": "CC-BY", "version": "1.01",
               "ksp_version": "1.12", "tags": ["flags"],
               "download": "https://example.com/DogeCoinFlag-1.01.zip"})
    }

    /// Validates `v` with its download served by a fixture upstream: a zip holding the
    /// `DogeCoinFlag` folder that the default stanza and the tests' stanzas install.
    async fn check(v: Value) -> (Result<(), String>, Vec<String>) {
        let up = Upstream::start().await;
        up.file(
            "https://example.com/DogeCoinFlag-1.01.zip",
            ZipBuilder::new()
                .file("GameData/DogeCoinFlag/Flags/dogecoin.png", "png")
                .build(),
        );
        let cache = tempfile::tempdir().expect("cache dir");
        let mut h = Harness::new();
        h.services = Services {
            http: up.client(),
            cache: DownloadCache::new(cache.path(), 0),
        };
        let mut cx = Context::new(h.opts.clone(), &h.services, &h.game, &h.log);
        let r = validate_ckan(&obj(v), "DogeCoinFlag", &mut cx)
            .await
            .map_err(|e| e.to_string());
        (r, cx.warnings().to_vec())
    }

    fn with(mut base: Value, key: &str, value: Value) -> Value {
        base[key] = value;
        base
    }

    fn without(mut base: Value, key: &str) -> Value {
        base.as_object_mut().expect("object").shift_remove(key);
        base
    }

    #[tokio::test]
    async fn a_valid_module_passes_without_warnings() {
        assert_eq!(check(module()).await, (Ok(()), vec![]));
    }

    #[tokio::test]
    async fn missing_tags_only_warn() {
        let (r, warnings) = check(without(module(), "tags")).await;
        assert_eq!(r, Ok(()));
        assert_eq!(
            warnings,
            ["Tags not found, see https://github.com/KSP-CKAN/CKAN/wiki/Suggested-Tags"]
        );
    }

    #[tokio::test]
    async fn required_fields_are_named() {
        assert_eq!(
            check(without(module(), "name")).await.0,
            Err("DogeCoinFlag missing required field name".into())
        );
        assert_eq!(
            check(without(module(), "download")).await.0,
            Err("DogeCoinFlag missing required field download".into())
        );
        let meta = with(without(module(), "download"), "kind", json!("metapackage"));
        assert_eq!(
            check(with(meta, "spec_version", json!("v1.6"))).await.0,
            Ok(())
        );
    }

    #[tokio::test]
    async fn licenses_must_be_known_and_spec_gated() {
        assert_eq!(
            check(with(module(), "license", json!("BSD-3-Clause")))
                .await
                .0,
            Err("License BSD-3-Clause should match spec".into())
        );
        assert_eq!(
            check(without(module(), "license")).await.0,
            Err("No license: the .netkan needs a \"license\" the CKAN spec knows (such as \"MIT\", \"restricted\" or \"unknown\")".into())
        );
        assert_eq!(
            check(with(module(), "license", json!(["MIT", "GPL-3.0"])))
                .await
                .0,
            Err("spec_version v1.8+ required for license as array".into())
        );
        assert_eq!(
            check(with(module(), "license", json!("WTFPL"))).await.0,
            Err("spec_version v1.2+ required for license 'WTFPL'".into())
        );
        let ok = with(
            with(module(), "license", json!(["MIT", "GPL-3.0"])),
            "spec_version",
            json!("v1.8"),
        );
        assert_eq!(check(ok).await.0, Ok(()));
    }

    #[tokio::test]
    async fn relationships_are_checked() {
        assert_eq!(
            check(with(module(), "depends", json!([{"name": "Bad_Name"}])))
                .await
                .0,
            Err("Bad_Name in depends is not a valid CKAN identifier".into())
        );
        assert_eq!(
            check(with(module(), "depends", json!(["ModuleManager"])))
                .await
                .0,
            Err("depends elements should be Object, found String: \"ModuleManager\"".into())
        );
        assert_eq!(
            check(with(
                module(),
                "depends",
                json!([{"name": "MM", "version_min": "1"}])
            ))
            .await
            .0,
            Err("'version_min' found in relationship, the correct form is 'min_version'".into())
        );
        assert_eq!(
            check(with(
                module(),
                "depends",
                json!([{"any_of": [{"name": "A1"}]}])
            ))
            .await
            .0,
            Err("spec_version v1.26+ required for 'any_of'".into())
        );
        let ok = with(
            with(
                module(),
                "depends",
                json!([{"any_of": [{"name": "A1"}, {"name": "B1"}]}]),
            ),
            "spec_version",
            json!("v1.26"),
        );
        assert_eq!(check(ok).await.0, Ok(()));
        assert_eq!(
            check(with(module(), "supports", json!([{"name": "A1"}])))
                .await
                .0,
            Err("spec_version v1.2+ required for 'supports'".into())
        );
    }

    #[tokio::test]
    async fn install_stanzas_are_checked() {
        assert_eq!(
            check(with(module(), "install", json!([{"file": "GameData/X"}])))
                .await
                .0,
            Err("install stanza missing `install_to`".into())
        );
        let spec14 = |m| with(m, "spec_version", json!("v1.4"));
        assert_eq!(
            check(spec14(with(
                module(),
                "install",
                json!([{"find": "DogeCoinFlag/", "install_to": "GameData"}])
            )))
            .await
            .0,
            Err(
                "Path \"DogeCoinFlag/\" in 'find' is not normalized, should be \"DogeCoinFlag\""
                    .into()
            )
        );
        assert_eq!(
            check(with(
                module(),
                "install",
                json!([{"find": "DogeCoinFlag", "install_to": "GameData"}])
            ))
            .await
            .0,
            Err("spec_version v1.4+ required for install with 'find'".into())
        );
        assert_eq!(
            check(spec14(with(
                module(),
                "install",
                json!([{"find": "DogeCoinFlag", "install_to": "GameData"}])
            )))
            .await
            .0,
            Ok(())
        );
    }

    #[tokio::test]
    async fn game_versions_must_include_a_known_one() {
        assert_eq!(
            check(with(module(), "ksp_version", json!("2.0"))).await.0,
            Err("DogeCoinFlag doesn't match any valid game version: KSP 2.0".into())
        );
        let m = with(
            without(module(), "ksp_version"),
            "ksp_version_min",
            json!("1.13"),
        );
        assert_eq!(
            check(m).await.0,
            Err("DogeCoinFlag doesn't match any valid game version: KSP 1.13 and later".into())
        );
    }

    #[tokio::test]
    async fn the_schema_is_obeyed() {
        let (r, _) = check(with(module(), "localizations", json!(["en-us", "en-us"]))).await;
        assert!(
            r.expect_err("duplicate locales")
                .starts_with("Schema validation failed: $.localizations")
        );
        let (r, _) = check(with(
            with(module(), "spec_version", json!("v1.4")),
            "install",
            json!([{"find": "DogeCoinFlag", "install_to": "Plugins"}]),
        ))
        .await;
        assert!(r.is_err());
    }

    #[tokio::test]
    async fn the_identifier_must_be_the_netkans() {
        assert_eq!(
            check(with(
                with(
                    with(module(), "identifier", json!("Other")),
                    "install",
                    json!([{"find": "DogeCoinFlag", "install_to": "GameData"}])
                ),
                "spec_version",
                json!("v1.4")
            ))
            .await
            .0,
            Err("Error: Have metadata for Other, but wanted DogeCoinFlag".into())
        );
    }
}
