//! `$kref: #/ckan/spacedock/<id>` (§5 #3, §9.2).

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
