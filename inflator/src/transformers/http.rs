//! `$kref: #/ckan/http/<url>`: the redirect-resolved download (§5 #8,
//! `HttpTransformer.cs`). The one host step that *overwrites* `download`; it sets no version
//! and no release date.
//!
//! Deviation: the current C# `ResolveRedirect` returns the URL reached after six redirects
//! even if it redirects further, so its "exceeded" error never fires; here a URL still
//! redirecting after six hops is that error, since it is not a download.

use netkan_common::ckan::names::csharp_uri_to_string;
use netkan_common::ckan::{Object, RemoteRef};
use serde_json::Value;

use crate::InflateError;
use crate::context::Context;
use crate::hosts::{is_well_formed_absolute, remove_kref};

/// Redirects followed (`Net.ResolveRedirect`'s default).
const MAX_REDIRECTS: usize = 6;

/// Resolves the kref's URL into `download`.
pub async fn transform(
    mut metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    let Some(remote) = metadata
        .get("$kref")
        .and_then(Value::as_str)
        .and_then(RemoteRef::parse)
        .filter(|r| r.source == "http")
    else {
        return Ok(vec![metadata]);
    };
    let id = remote.id.unwrap_or_default();
    cx.info(format!(
        "Executing HTTP transformation with #/ckan/http/{id}"
    ));
    if !is_well_formed_absolute(&id) {
        return Err(InflateError::metadata(format!(
            "Invalid URL in HTTP $kref: {id}"
        )));
    }
    let resolved = cx
        .services
        .http
        .resolve_redirects(&id, MAX_REDIRECTS)
        .await?
        .ok_or_else(|| {
            InflateError::metadata(
                "Could not resolve HTTP $kref URL, exceeded number of redirects.",
            )
        })?;
    cx.info(format!("URL {id} resolved to {resolved}"));
    remove_kref(&mut metadata);
    metadata.insert(
        "download".to_owned(),
        Value::String(csharp_uri_to_string(&resolved)),
    );
    Ok(vec![metadata])
}
