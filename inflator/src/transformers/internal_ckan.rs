//! A `.ckan` inside the download fills the gaps (§5 #11, `InternalCkanTransformer`): every
//! property but `$kref` is added where the metadata has none (so the `.netkan` and the host
//! win), the game versions are normalized, and `resources` are merged key by key.

use netkan_common::ckan::Object;
use netkan_common::ckan::game_version::set_json_compatibility;
use serde_json::Value;

use crate::InflateError;
use crate::archive::{self, contents};
use crate::context::Context;
use crate::json::{safe_add, safe_merge};

/// Adds what the archive's own `.ckan` files say.
///
/// # Errors
/// The download's, the stanzas' or a `.ckan` file's error.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    if archive::first_download(&metadata)?.is_none() {
        return Ok(vec![metadata]);
    }
    // CKAN runs before the AVC step, which sets `version` for some hosts: a stand-in lets
    // the module be read.
    let Some(docs) = archive::inspect(cx, &metadata, Some("1"), |files| {
        contents::internal_ckans(files)
    })
    .await?
    else {
        return Ok(vec![metadata]);
    };
    let docs = docs?;
    if docs.is_empty() {
        return Ok(vec![metadata]);
    }
    let kref = metadata
        .get("$kref")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut json = metadata;
    for internal in docs {
        cx.info(format!(
            "Executing internal CKAN transformation with {kref}"
        ));
        for (name, value) in &internal {
            // The file is already here: too late for it to say where it lives.
            if name == "$kref" {
                continue;
            }
            safe_add(&mut json, name, value.clone());
        }
        set_json_compatibility(&mut json, None, None, None);
        if let Some(Value::Object(resources)) = internal.get("resources") {
            safe_merge(&mut json, "resources", resources);
        }
    }
    Ok(vec![json])
}
