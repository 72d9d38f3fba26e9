//! `x_netkan_override` stanzas (§5 #18). This module is the explicit default step, which
//! takes stanzas without `before` or without `after`; the pipeline also injects the same
//! logic before the first step, between every pair of steps and after the last, each time
//! with the step names it answers to ([`apply`]).
//!
//! A stanza applies when all its `version` constraints (`[op]version`, op one of
//! `= < > <= >=` or none for `=`) hold for the current version, epoch included. Its
//! `override` then replaces whole properties, except that game versions are merged with
//! `SetJsonCompatibility`; then its `delete` keys are removed. Later stanzas see what earlier
//! ones did.

use std::cmp::Ordering;

use netkan_common::ckan::game_version::set_json_compatibility;
use netkan_common::ckan::module::Override;
use netkan_common::ckan::{GameVersion, ModuleVersion, Object};
use serde_json::Value;

use crate::InflateError;
use crate::context::Context;
use crate::metadata;

const GAME_VERSION_PROPERTIES: [&str; 3] = ["ksp_version", "ksp_version_min", "ksp_version_max"];

/// The default override step: stanzas that lack `before` or lack `after`.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    apply(metadata, cx, &[None], &[None])
}

/// Runs the stanzas whose `before` is in `before` or whose `after` is in `after` (`None`
/// stands for a missing `before` / `after`).
///
/// # Errors
/// A constraint with an unknown comparator, a version that cannot be read, an override
/// game version that is not one.
pub fn apply(
    mut metadata: Object,
    cx: &mut Context<'_>,
    before: &[Option<&str>],
    after: &[Option<&str>],
) -> Result<Vec<Object>, InflateError> {
    if !metadata.contains_key("x_netkan_override") {
        return Ok(vec![metadata]);
    }
    let stanzas = metadata::options(&metadata)?.overrides;
    if stanzas.is_empty() {
        return Ok(vec![metadata]);
    }
    for stanza in &stanzas {
        if !before.contains(&stanza.before.as_deref()) && !after.contains(&stanza.after.as_deref())
        {
            continue;
        }
        let Some(version) = metadata::version(&metadata)? else {
            continue;
        };
        if !constraints_apply(&stanza.version, &version)? {
            continue;
        }
        cx.info(format!(
            "Processing override for version {version}: {}",
            describe(stanza)
        ));
        apply_stanza(&mut metadata, stanza)?;
    }
    Ok(vec![metadata])
}

fn describe(stanza: &Override) -> String {
    let mut parts = vec![format!("version {}", stanza.version.join(", "))];
    if let Some(b) = &stanza.before {
        parts.push(format!("before {b}"));
    }
    if let Some(a) = &stanza.after {
        parts.push(format!("after {a}"));
    }
    parts.join(", ")
}

fn apply_stanza(json: &mut Object, stanza: &Override) -> Result<(), InflateError> {
    if let Some(props) = &stanza.override_ {
        if GAME_VERSION_PROPERTIES
            .iter()
            .any(|p| props.contains_key(*p))
        {
            let read = |name: &str| -> Result<Option<GameVersion>, InflateError> {
                match props.get(name) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => metadata::cs_string(v)
                        .and_then(|t| GameVersion::parse(&t))
                        .map(Some)
                        .ok_or_else(|| {
                            InflateError::metadata(format!(
                                "x_netkan_override: {name} {v} is not a game version"
                            ))
                        }),
                }
            };
            set_json_compatibility(
                json,
                read("ksp_version")?,
                read("ksp_version_min")?,
                read("ksp_version_max")?,
            );
        }
        for (name, value) in props {
            if !GAME_VERSION_PROPERTIES.contains(&name.as_str()) {
                json.insert(name.clone(), value.clone());
            }
        }
    }
    for key in &stanza.delete {
        json.shift_remove(key);
    }
    Ok(())
}

/// Whether every constraint holds (`ConstraintPattern` is `^(?<op>[<>=]*)\s*(?<version>.*)$`;
/// a constraint that does not match it fails).
fn constraints_apply(
    constraints: &[String],
    version: &ModuleVersion,
) -> Result<bool, InflateError> {
    for constraint in constraints {
        let op_len = constraint
            .find(|c: char| !matches!(c, '<' | '>' | '='))
            .unwrap_or(constraint.len());
        let (op, rest) = constraint.split_at(op_len);
        let rest = rest.trim_start();
        // `.` stops at a newline and `$` may match before a final one.
        let rest = rest.strip_suffix('\n').unwrap_or(rest);
        if rest.contains('\n') {
            return Ok(false);
        }
        let wanted = ModuleVersion::parse(rest)?;
        let ord = version.compare(&wanted);
        let passes = match op {
            "" | "=" => ord == Ordering::Equal,
            "<" => ord == Ordering::Less,
            ">" => ord == Ordering::Greater,
            "<=" => ord != Ordering::Greater,
            ">=" => ord != Ordering::Less,
            other => {
                return Err(InflateError::metadata(format!(
                    "Unknown x_netkan_override comparator: {other}"
                )));
            }
        };
        if !passes {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::pipeline::Step;
    use crate::testing_support::{Harness, obj, run_step};

    fn doge(overrides: Value) -> netkan_common::ckan::Object {
        obj(
            json!({"spec_version": 1, "identifier": "DogeCoinFlag", "version": "1.01",
                   "author": "pjf", "abstract": "Such flag. Very currency.",
                   "x_netkan_override": overrides}),
        )
    }

    async fn author_after(overrides: Value) -> Value {
        run_step(Step::VersionedOverride, doge(overrides))
            .await
            .expect("ok")[0]["author"]
            .clone()
    }

    #[tokio::test]
    async fn an_exact_version_overrides_and_another_does_not() {
        assert_eq!(
            author_after(json!([{"version": "1.01", "override": {"author": "doge"}}])).await,
            "doge"
        );
        assert_eq!(
            author_after(json!([{"version": "1.02", "override": {"author": "doge"}}])).await,
            "pjf"
        );
    }

    #[tokio::test]
    async fn ranges_with_and_without_spaces_match_as_ckans_tests_expect() {
        for (label, expected, version) in [
            ("range with spaces", "doge", json!(["> 1.00", "< 1.02"])),
            ("exact with spaces", "doge", json!(["= 1.01"])),
            ("range without spaces", "doge", json!([">1.00", "<1.02"])),
            ("exact without spaces", "doge", json!(["=1.01"])),
            ("inclusive range", "doge", json!([">=1.01", "<2.00"])),
            ("inclusive upper", "doge", json!(["<=1.01"])),
            ("non-matching", "pjf", json!(["< 1.00", "> 1.02"])),
        ] {
            let got =
                author_after(json!([{"version": version, "override": {"author": "doge"}}])).await;
            assert_eq!(got, expected, "{label}");
        }
    }

    #[tokio::test]
    async fn delete_removes_properties() {
        let out = run_step(
            Step::VersionedOverride,
            doge(json!([{"version": "1.01", "delete": ["abstract", "author"]}])),
        )
        .await
        .expect("ok");
        assert!(!out[0].contains_key("abstract") && !out[0].contains_key("author"));
    }

    #[tokio::test]
    async fn later_stanzas_see_earlier_ones() {
        let out = run_step(
            Step::VersionedOverride,
            doge(json!([{"version": "1.01", "override": {"name": "EARLY"}},
                        {"version": "1.01", "override": {"name": "LATE"}}])),
        )
        .await
        .expect("ok");
        assert_eq!(out[0]["name"], "LATE");
    }

    #[tokio::test]
    async fn the_default_step_takes_one_sided_stanzas_but_not_two_sided_ones() {
        assert_eq!(
            author_after(json!([{"version": "1.01", "after": "avc", "override": {"author": "a"}}]))
                .await,
            "a"
        );
        assert_eq!(
            author_after(
                json!([{"version": "1.01", "before": "$all", "after": "$none",
                                 "override": {"author": "a"}}])
            )
            .await,
            "pjf"
        );
    }

    #[tokio::test]
    async fn injected_points_match_by_step_name() {
        let mut h = Harness::new();
        let services = h.services.clone();
        let mut cx = crate::context::Context::new(h.opts.clone(), &services, &h.game, &h.log);
        let j = doge(
            json!([{"version": "1.01", "before": "$all", "override": {"name": "EARLY"}},
                             {"version": "1.01", "after": "$all", "override": {"name": "LATE"}}]),
        );
        let early = super::apply(
            j,
            &mut cx,
            &[Some("staging"), Some("$all")],
            &[Some("$none")],
        )
        .expect("ok");
        assert_eq!(early[0]["name"], "EARLY");
        let late = super::apply(
            early[0].clone(),
            &mut cx,
            &[Some("$none")],
            &[Some("property_sort"), Some("$all")],
        )
        .expect("ok");
        assert_eq!(late[0]["name"], "LATE");
        h.opts = cx.opts;
    }

    #[tokio::test]
    async fn game_versions_in_an_override_are_merged_not_replaced() {
        let j = obj(json!({"version": "1.0", "ksp_version": "1.8",
            "x_netkan_override": [{"version": "1.0", "override": {"ksp_version_max": "1.12", "tags": ["a"]}}]}));
        let out = run_step(Step::VersionedOverride, j).await.expect("ok");
        assert_eq!(
            Value::Object(out[0].clone()),
            json!({"version": "1.0",
                   "x_netkan_override": [{"version": "1.0", "override": {"ksp_version_max": "1.12", "tags": ["a"]}}],
                   "ksp_version_min": "1.8", "ksp_version_max": "1.12", "tags": ["a"]})
        );
    }

    #[tokio::test]
    async fn constraints_compare_with_the_epoch() {
        let j = obj(json!({"version": "1:1.0", "author": "x",
            "x_netkan_override": [{"version": ">0:5.0", "override": {"author": "epoch wins"}}]}));
        assert_eq!(
            run_step(Step::VersionedOverride, j).await.expect("ok")[0]["author"],
            "epoch wins"
        );
    }

    #[tokio::test]
    async fn an_unknown_comparator_is_an_error() {
        let err = run_step(
            Step::VersionedOverride,
            doge(json!([{"version": "=<1.0", "override": {"author": "x"}}])),
        )
        .await
        .expect_err("bad op");
        assert_eq!(err.to_string(), "Unknown x_netkan_override comparator: =<");
    }
}
