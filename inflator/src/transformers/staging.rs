//! Never changes the JSON; stages hard-coded game versions that miss the latest release
//! (§5 #1). Runs on the raw netkan, so only versions the `.netkan` itself names count.

use netkan_common::ckan::{GameVersion, Object};

use crate::InflateError;
use crate::context::Context;
use crate::game::VersionRange;
use crate::metadata::cs_string;

/// `json[primary] ?? json["ksp_version"]`, read with `GameVersion.Parse`; absent or null is
/// `any`.
fn hard_coded(json: &Object, primary: &str) -> Result<GameVersion, InflateError> {
    let Some(token) = json.get(primary).or_else(|| json.get("ksp_version")) else {
        return Ok(GameVersion::ANY);
    };
    match cs_string(token) {
        None if token.is_null() => Ok(GameVersion::ANY),
        Some(text) => GameVersion::parse(&text).ok_or_else(|| {
            InflateError::metadata(format!("{primary}: `{text}` is not a game version"))
        }),
        None => Err(InflateError::metadata(format!(
            "{primary}: expected a game version, found {token}"
        ))),
    }
}

/// Stages the inflation if the netkan's own game versions exclude the latest release.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    if let Some(latest) = cx.game.latest() {
        let min = hard_coded(&metadata, "ksp_version_min")?;
        let max = hard_coded(&metadata, "ksp_version_max")?;
        if !VersionRange::of(latest).intersects(&VersionRange::between(min, max)) {
            let reason = format!(
                "Hard-coded game versions not compatible with current release: {}\r\nPlease check that they match the forum thread.",
                cx.game.version_span(min, max)
            );
            cx.debug(format!("Enabling staging, reason: {reason}"));
            cx.opts.staging_reasons.push(reason);
            cx.opts.staged = true;
        }
    }
    Ok(vec![metadata])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::pipeline::Step;
    use crate::testing_support::{Harness, obj};

    async fn staged(j: serde_json::Value) -> (bool, Vec<String>) {
        let mut h = Harness::new();
        let input = obj(j);
        let out = h.run(Step::Staging, input.clone()).await.expect("ok");
        assert_eq!(out, vec![input], "staging never changes the metadata");
        (h.opts.staged, h.opts.staging_reasons)
    }

    #[tokio::test]
    async fn the_latest_game_version_is_not_staged() {
        assert_eq!(
            staged(json!({"ksp_version": "1.12.5"})).await,
            (false, vec![])
        );
        assert_eq!(
            staged(json!({"ksp_version": "1.12"})).await,
            (false, vec![])
        );
        assert_eq!(
            staged(json!({"ksp_version_min": "1.8"})).await,
            (false, vec![])
        );
        assert_eq!(staged(json!({"ksp_version": "any"})).await, (false, vec![]));
        assert_eq!(staged(json!({})).await, (false, vec![]));
    }

    #[tokio::test]
    async fn an_old_hard_coded_version_is_staged_with_a_reason() {
        let (is_staged, reasons) = staged(json!({"ksp_version": "1.7.3"})).await;
        assert!(is_staged);
        assert_eq!(
            reasons,
            [
                "Hard-coded game versions not compatible with current release: KSP 1.7.3\r\nPlease check that they match the forum thread."
            ]
        );
        let (_, reasons) =
            staged(json!({"ksp_version_min": "1.4", "ksp_version_max": "1.11"})).await;
        assert!(reasons[0].contains("KSP 1.4–1.11"), "{reasons:?}");
        let (_, reasons) = staged(json!({"ksp_version_max": "1.11"})).await;
        assert!(reasons[0].contains("KSP 1.11 and earlier"), "{reasons:?}");
    }

    #[tokio::test]
    async fn an_unreadable_game_version_is_an_error() {
        let mut h = Harness::new();
        let err = h
            .run(Step::Staging, obj(json!({"ksp_version": "1.x"})))
            .await
            .expect_err("bad");
        assert!(
            err.to_string().contains("`1.x` is not a game version"),
            "{err}"
        );
    }
}
