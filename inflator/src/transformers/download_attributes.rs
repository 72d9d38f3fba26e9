//! `download_size`, `download_hash` and `download_content_type` of the download (§5 #19,
//! `DownloadAttributeTransformer`): size and hashes overwrite, `sha1` only while the module
//! needs no spec above v1.34 (older clients insist on it), the content type is added only
//! where absent, sniffed as CKAN's `FileIdentifier` does.

use netkan_common::ckan::spec_version::minimum_spec_version;
use netkan_common::ckan::{Object, SpecVersion};
use serde_json::Value;

use crate::InflateError;
use crate::archive::{self, sniff};
use crate::context::Context;
use crate::json::safe_add;

/// Sets the download's size, hashes and content type.
///
/// # Errors
/// The download's error, or the file cannot be read.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    let Some(file) = archive::download(cx, &metadata).await? else {
        return Ok(vec![metadata]);
    };
    let mut json = metadata;
    json.insert("download_size".to_owned(), Value::from(file.size));
    let mut hashes = Object::new();
    if minimum_spec_version(&json) <= SpecVersion::new(1, 34) {
        hashes.insert("sha1".to_owned(), Value::String(file.sha1.clone()));
    }
    hashes.insert("sha256".to_owned(), Value::String(file.sha256.clone()));
    json.insert("download_hash".to_owned(), Value::Object(hashes));
    let path = file.path.clone();
    let kind = archive::blocking(move || sniff::identify(&path))
        .await?
        .map_err(|e| InflateError::Local(format!("cannot read {}: {e}", file.path.display())))?;
    safe_add(&mut json, "download_content_type", kind.mime_type());
    Ok(vec![json])
}
