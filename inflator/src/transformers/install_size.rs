//! The uncompressed size of what the install stanzas install (§5 #20).

use netkan_common::ckan::Object;

use crate::InflateError;
use crate::context::Context;

/// Not built yet (the archive work): passes the metadata through.
pub async fn transform(
    metadata: Object,
    _cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    Ok(vec![metadata])
}
