//! `$kref: #/ckan/sourceforge/<project>` (§5 #7, §9.6).

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
