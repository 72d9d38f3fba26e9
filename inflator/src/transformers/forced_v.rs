//! `x_netkan_force_v` (§5 #16): a version that does not start with `v` gets one (a leading
//! `V` becomes `v`). Nothing ever strips a `v`.

use netkan_common::ckan::Object;
use serde_json::Value;

use crate::InflateError;
use crate::context::Context;
use crate::metadata;

/// Prepends the `v` if the metadata asks for it.
pub async fn transform(
    mut metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    if !metadata::options(&metadata)?.force_v {
        return Ok(vec![metadata]);
    }
    if let Some(version) = metadata::version_text(&metadata)
        && !version.starts_with('v')
    {
        cx.info(format!("Force-adding 'v' to start of {version}"));
        let rest = version.strip_prefix('V').unwrap_or(&version);
        metadata.insert("version".to_owned(), Value::String(format!("v{rest}")));
    }
    Ok(vec![metadata])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::pipeline::Step;
    use crate::testing_support::{obj, run_step};

    async fn version_after(input: serde_json::Value) -> serde_json::Value {
        run_step(Step::ForcedV, obj(input)).await.expect("ok")[0]["version"].clone()
    }

    #[tokio::test]
    async fn a_v_is_added_only_when_asked_and_missing() {
        assert_eq!(
            version_after(json!({"version": "1.2", "x_netkan_force_v": true})).await,
            "v1.2"
        );
        assert_eq!(
            version_after(json!({"version": "v1.2", "x_netkan_force_v": true})).await,
            "v1.2"
        );
        assert_eq!(
            version_after(json!({"version": "V1.2", "x_netkan_force_v": true})).await,
            "v1.2"
        );
        assert_eq!(
            version_after(json!({"version": "1.2", "x_netkan_force_v": false})).await,
            "1.2"
        );
        assert_eq!(version_after(json!({"version": "1.2"})).await, "1.2");
    }
}
