//! The canonical property order (§5 #25, §12): `common::ckan::write::canonical_sort`.

use netkan_common::ckan::Object;
use netkan_common::ckan::write::canonical_sort;

use crate::InflateError;
use crate::context::Context;

/// Sorts the top-level and `resources` keys.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    cx.debug("Executing property sort transformation");
    Ok(vec![canonical_sort(&metadata)])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::pipeline::Step;
    use crate::testing_support::{obj, run_step};

    #[tokio::test]
    async fn properties_come_out_in_canonical_order() {
        let j = obj(
            json!({"x_generated_by": "netkan", "version": "1", "identifier": "A",
            "resources": {"repository": "r", "homepage": "h"}, "spec_version": 1}),
        );
        let out = run_step(Step::PropertySort, j).await.expect("ok");
        let keys: Vec<&str> = out[0].keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "spec_version",
                "identifier",
                "version",
                "resources",
                "x_generated_by"
            ]
        );
        let res: Vec<&str> = out[0]["resources"]
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(res, ["homepage", "repository"]);
    }
}
