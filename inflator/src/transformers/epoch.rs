//! `x_netkan_epoch` and auto-epoching against the highest indexed version (§5 #17).
//!
//! (a) A non-zero `x_netkan_epoch` N makes the version `N:<version>`. (b) Unless
//! `x_netkan_allow_out_of_order`, the epoch is raised until the version is at least the
//! highest already indexed (`HighestVersion`, or for a prerelease the higher of it and
//! `HighestVersionPrerelease`). A release that lands between two epochs is out of order: on a
//! host whose release order cannot be trusted (GitHub) that is an error, elsewhere the
//! inflation is staged.

use netkan_common::ckan::{ModuleVersion, Object, auto_epoch};
use serde_json::Value;

use crate::InflateError;
use crate::context::Context;
use crate::metadata;

/// Applies the epoch rules.
pub async fn transform(
    mut metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    let opts = metadata::options(&metadata)?;
    let mut version = metadata::version(&metadata)?;
    if let Some(epoch) = opts.epoch.filter(|e| *e != 0) {
        cx.info(format!("Executing epoch transformation: epoch {epoch}"));
        // `$"{Epoch}:{Version}"`: a missing version prints as nothing.
        let text = version.as_ref().map_or("", ModuleVersion::as_str);
        let with_epoch = ModuleVersion::parse(&format!("{epoch}:{text}"))?;
        metadata.insert(
            "version".to_owned(),
            Value::String(with_epoch.as_str().to_owned()),
        );
        version = Some(with_epoch);
    }
    if opts.allow_out_of_order {
        cx.debug("Out of order versions enabled in netkan, skipping OOO check");
        return Ok(vec![metadata]);
    }
    let Some(start) = version else {
        return Ok(vec![metadata]);
    };
    let highest = if metadata::is_prerelease(&metadata) {
        [
            cx.opts.highest_version_prerelease.as_ref(),
            cx.opts.highest_version.as_ref(),
        ]
        .into_iter()
        .flatten()
        .max()
        .cloned()
    } else {
        cx.opts.highest_version.clone()
    };
    if let Some(highest) = highest {
        let result = auto_epoch(&start, &highest);
        if result.version.as_str() != start.as_str() {
            cx.debug(format!(
                "Auto-epoching out of order version: {start} < {highest}, now {}",
                result.version
            ));
        }
        if result.out_of_order {
            let detail = format!("{start} < {highest} < {}", result.version);
            if cx.opts.flaky_api {
                return Err(InflateError::metadata(format!(
                    "Out-of-order version found on unreliable host: {detail}"
                )));
            }
            cx.opts.staged = true;
            cx.opts
                .staging_reasons
                .push(format!("Auto-epoching out of order version: {detail}"));
        }
        metadata.insert(
            "version".to_owned(),
            Value::String(result.version.as_str().to_owned()),
        );
    }
    Ok(vec![metadata])
}

#[cfg(test)]
mod tests {
    use netkan_common::ckan::ModuleVersion;
    use serde_json::json;

    use crate::pipeline::Step;
    use crate::testing_support::{Harness, obj, run_step};

    fn v(s: &str) -> ModuleVersion {
        ModuleVersion::parse(s).expect("valid version")
    }

    #[tokio::test]
    async fn epochs_are_applied_and_zero_is_implicit() {
        for (input, expected) in [
            (json!({"spec_version": 1, "version": "1.01"}), "1.01"),
            (
                json!({"spec_version": 1, "version": "1.01", "x_netkan_epoch": "0"}),
                "1.01",
            ),
            (
                json!({"spec_version": 1, "version": "1.01", "x_netkan_epoch": "1"}),
                "1:1.01",
            ),
            (
                json!({"spec_version": 1, "version": "v1.01", "x_netkan_epoch": "9"}),
                "9:v1.01",
            ),
            (
                json!({"spec_version": 1, "version": "v1.01", "x_netkan_epoch": 9}),
                "9:v1.01",
            ),
        ] {
            let out = run_step(Step::Epoch, obj(input.clone())).await.expect("ok");
            assert_eq!(out[0]["version"], expected, "{input}");
        }
    }

    #[tokio::test]
    async fn invalid_epochs_are_errors() {
        for bad in ["a", "-1", "5.5"] {
            let j = obj(json!({"spec_version": 1, "version": "1.01", "x_netkan_epoch": bad}));
            assert!(run_step(Step::Epoch, j).await.is_err(), "{bad}");
        }
        for good in ["1", "3"] {
            let j = obj(json!({"spec_version": 1, "version": "1.01", "x_netkan_epoch": good}));
            assert!(run_step(Step::Epoch, j).await.is_ok(), "{good}");
        }
    }

    #[tokio::test]
    async fn the_highest_versions_raise_the_epoch_as_ckans_tests_expect() {
        // version, HighestVersion, HighestVersionPrerelease, prerelease, expected, staged
        let cases = [
            ("1.1", None, None, false, "1.1", false),
            ("1.1", None, None, true, "1.1", false),
            ("1.1", Some("1.1"), None, false, "1.1", false),
            ("1.1", Some("1.2"), None, false, "1:1.1", true),
            ("1.1", Some("5:1.1"), None, false, "5:1.1", false),
            ("1.1", Some("5:1.2"), None, false, "6:1.1", true),
            ("0.7", Some("0.65"), None, false, "1:0.7", true),
            ("2.5", Some("v2.4"), None, false, "1:2.5", true),
            ("2.5", Some("V2.4"), None, false, "1:2.5", true),
            ("v2.5", Some("vV2.4"), None, false, "1:v2.5", true),
            ("1.0", Some("1.0"), Some("2.0"), false, "1.0", false),
            ("1.0", None, Some("1.0"), true, "1.0", false),
            ("2.0", Some("1.0"), Some("2.0"), false, "2.0", false),
            ("2.0", Some("1.0"), Some("3.0"), true, "1:2.0", true),
            ("1.5", Some("2.0"), Some("1.0"), true, "1:1.5", true),
        ];
        for (version, high, high_pre, pre, expected, staged) in cases {
            let mut h = Harness::new();
            h.opts.highest_version = high.map(v);
            h.opts.highest_version_prerelease = high_pre.map(v);
            let j = obj(
                json!({"spec_version": "v1.4", "identifier": "AwesomeMod", "version": version,
                               "release_status": if pre { "testing" } else { "stable" }}),
            );
            let out = h.run(Step::Epoch, j).await.expect("ok");
            let case = format!("{version} {high:?} {high_pre:?} {pre}");
            assert_eq!(out[0]["version"], expected, "{case}");
            assert_eq!(h.opts.staged, staged, "{case}");
            if staged {
                assert!(
                    h.opts.staging_reasons[0].starts_with("Auto-epoching out of order version: ")
                );
            }
        }
    }

    #[tokio::test]
    async fn an_out_of_order_version_on_a_flaky_host_is_an_error() {
        // highest, version, epoch, throws
        let cases = [
            ("v1.0.7", "1.0.8", None, true),
            ("v1.0.7", "1.0.8", Some(1), false),
            ("v.1.0.7", "1.0.8", None, true),
            ("v.1.0.7", "1.0.8", Some(1), false),
            ("1:v.1.0.7", "1.0.8", Some(1), true),
            ("1:v.1.0.7", "1.0.8", Some(2), false),
        ];
        for (highest, version, epoch, throws) in cases {
            let mut h = Harness::new();
            h.opts.highest_version = Some(v(highest));
            h.opts.flaky_api = true;
            let mut j = obj(json!({"version": version}));
            if let Some(e) = epoch {
                j.insert("x_netkan_epoch".into(), json!(e));
            }
            let with_epoch = epoch.map_or(version.to_owned(), |e| format!("{e}:{version}"));
            let with_next =
                epoch.map_or(format!("1:{version}"), |e| format!("{}:{version}", e + 1));
            let result = h.run(Step::Epoch, j).await;
            if throws {
                assert_eq!(
                    result.expect_err("out of order").to_string(),
                    format!(
                        "Out-of-order version found on unreliable host: {with_epoch} < {highest} < {with_next}"
                    )
                );
            } else {
                assert_eq!(result.expect("in order")[0]["version"], with_epoch.as_str());
            }
        }
    }

    #[tokio::test]
    async fn allow_out_of_order_skips_auto_epoching() {
        let mut h = Harness::new();
        h.opts.highest_version = Some(v("2.0"));
        let j = obj(json!({"version": "1.0", "x_netkan_allow_out_of_order": true}));
        assert_eq!(
            h.run(Step::Epoch, j).await.expect("ok")[0]["version"],
            "1.0"
        );
        assert!(!h.opts.staged);
    }
}
