//! `install_size`: the uncompressed size of what the install stanzas install (§5 #20,
//! `InstallSizeTransformer`), directories and internal `.ckan` files left out; always
//! overwritten.

use netkan_common::ckan::Object;
use serde_json::Value;

use crate::InflateError;
use crate::archive::{self, contents};
use crate::context::Context;

/// Sets `install_size` when the module has a download.
///
/// # Errors
/// The download's or the stanzas' error.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    if archive::first_download(&metadata)?.is_none() {
        return Ok(vec![metadata]);
    }
    let Some(size) = archive::inspect(cx, &metadata, None, contents::install_size).await? else {
        return Ok(vec![metadata]);
    };
    let mut json = metadata;
    json.insert("install_size".to_owned(), Value::from(size?));
    Ok(vec![json])
}
