//! `$kref: #/ckan/ksp-avc/<url>`: a remote `.version` file as the source (§5 #10).

use netkan_common::ckan::Object;

use crate::InflateError;
use crate::context::Context;

/// Not built yet (the hosts work): passes the metadata through.
pub async fn transform(
    metadata: Object,
    _cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    Ok(vec![metadata])
}
