//! Locales found in the installed `.cfg` files (§5 #14, `LocalizationsTransformer`): only when
//! the metadata has no `localizations`; the distinct locales whose `Localization` block holds a
//! value, in culture order.
//!
//! Without a download CKAN's step would fail opening a null path; here it passes the metadata
//! through (no `.netkan` in NetKAN is a package without a download).

use netkan_common::ckan::Object;
use serde_json::Value;

use crate::InflateError;
use crate::archive::{self, contents};
use crate::context::Context;
use crate::json::safe_add;

/// Adds `localizations` from the installed `.cfg` files.
///
/// # Errors
/// The download's, the stanzas' or a file's error.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    if metadata.contains_key("localizations") {
        cx.debug("Localizations property already set, skipping");
        return Ok(vec![metadata]);
    }
    if archive::first_download(&metadata)?.is_none() {
        return Ok(vec![metadata]);
    }
    let Some(locales) = archive::inspect(cx, &metadata, None, contents::localizations).await?
    else {
        return Ok(vec![metadata]);
    };
    let locales = locales?;
    if locales.is_empty() {
        cx.debug("No localizations found");
        return Ok(vec![metadata]);
    }
    let mut json = metadata;
    safe_add(
        &mut json,
        "localizations",
        Value::Array(locales.into_iter().map(Value::String).collect()),
    );
    Ok(vec![json])
}
