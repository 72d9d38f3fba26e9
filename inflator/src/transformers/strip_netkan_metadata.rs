//! Removes `x_netkan_*`, `$kref` and `$vref` at every depth (§5 #24): in nested objects and
//! in objects that are elements of arrays (`JObjectExtensions.StripProperties`).

use netkan_common::ckan::Object;
use serde_json::Value;

use crate::InflateError;
use crate::context::Context;

fn is_netkan_property(key: &str) -> bool {
    key.starts_with("x_netkan") || key == "$kref" || key == "$vref"
}

/// `StripProperties(IsNetkanProperty)`: an array's own elements are visited, arrays inside
/// arrays are not.
fn strip(json: &mut Object) {
    json.retain(|k, _| !is_netkan_property(k));
    for value in json.values_mut() {
        match value {
            Value::Object(inner) => strip(inner),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        strip(inner);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Strips what only the inflator needs.
pub async fn transform(
    mut metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    cx.debug("Executing strip Netkan metadata transformation");
    strip(&mut metadata);
    Ok(vec![metadata])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::pipeline::Step;
    use crate::testing_support::{obj, run_step};

    #[tokio::test]
    async fn netkan_properties_go_at_every_depth() {
        let j = obj(json!({
            "identifier": "A", "$kref": "#/ckan/github/a/b", "$vref": "#/ckan/ksp-avc",
            "x_netkan_epoch": 1, "x_netkanfoo": 2, "x_other": 3,
            "resources": {"x_netkan_a": 1, "homepage": "h"},
            "install": [{"find": "A", "x_netkan_b": 2}, [{"x_netkan_c": 3}]],
        }));
        let out = run_step(Step::StripNetkanMetadata, j).await.expect("ok");
        assert_eq!(
            serde_json::Value::Object(out[0].clone()),
            json!({"identifier": "A", "x_other": 3, "resources": {"homepage": "h"},
                   "install": [{"find": "A"}, [{"x_netkan_c": 3}]]})
        );
    }
}
