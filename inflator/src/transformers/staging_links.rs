//! Never changes the JSON: when the inflation is staged for a reason, appends a markdown
//! table of the module's links to the staging reasons, for the pull request (§5 #21).

use netkan_common::ckan::names::csharp_uri_to_string;
use netkan_common::ckan::write::culture_compare;
use netkan_common::ckan::{Module, Object};

use crate::InflateError;
use crate::context::Context;
use crate::metadata::token_text;

/// `Resource | URL`, the downloads on one line, then each resource by name.
fn link_table(json: &Object) -> Result<String, InflateError> {
    let module = Module::new(json);
    let downloads: Vec<String> = module
        .downloads()?
        .iter()
        .map(|d| format!("<{}>", csharp_uri_to_string(d)))
        .collect();
    let mut table = String::from("Resource | URL\n:-- | :--\n");
    table.push_str(&format!("download | {}\n", downloads.join(" ")));
    if let Some(resources) = module.resources()? {
        let mut entries: Vec<(&String, &serde_json::Value)> = resources.iter().collect();
        entries.sort_by(|a, b| culture_compare(a.0, b.0));
        for (name, value) in entries {
            table.push_str(&format!("{name} | <{}>\n", token_text(Some(value))));
        }
    }
    Ok(table)
}

/// Adds the link table to the staging reasons.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    if cx.opts.staged && !cx.opts.staging_reasons.is_empty() {
        let table = link_table(&metadata)?;
        cx.debug(format!("Adding links to staging reason: {table}"));
        cx.opts.staging_reasons.push(table);
    }
    Ok(vec![metadata])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::pipeline::Step;
    use crate::testing_support::{Harness, obj};

    fn module() -> serde_json::Value {
        json!({"download": "https://example.com/a%20b.zip",
               "resources": {"repository": "https://r", "homepage": "https://h", "x_screenshot": "https://s"}})
    }

    #[tokio::test]
    async fn a_staged_inflation_gets_a_table_of_its_links() {
        let mut h = Harness::new();
        h.opts.staged = true;
        h.opts.staging_reasons.push("why".into());
        let input = obj(module());
        assert_eq!(
            h.run(Step::StagingLinks, input.clone()).await.expect("ok"),
            vec![input]
        );
        assert_eq!(h.opts.staging_reasons.len(), 2);
        assert_eq!(
            h.opts.staging_reasons[1],
            "Resource | URL\n:-- | :--\ndownload | <https://example.com/a b.zip>\n\
             homepage | <https://h>\nrepository | <https://r>\nx_screenshot | <https://s>\n"
        );
    }

    #[tokio::test]
    async fn no_table_without_staging_or_without_reasons() {
        let mut h = Harness::new();
        h.run(Step::StagingLinks, obj(module())).await.expect("ok");
        assert!(h.opts.staging_reasons.is_empty());
        h.opts.staged = true;
        h.run(Step::StagingLinks, obj(module())).await.expect("ok");
        assert!(h.opts.staging_reasons.is_empty());
    }
}
