//! A table of the module's links appended to the staging reasons (§5 #21).

use netkan_common::ckan::Object;

use crate::InflateError;
use crate::context::Context;

/// Not built yet (the pipeline work): passes the metadata through.
pub async fn transform(
    metadata: Object,
    _cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    Ok(vec![metadata])
}
