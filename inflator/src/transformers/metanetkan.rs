//! `$kref: #/ckan/netkan/<url>`: the target `.netkan`'s properties fill the gaps (§5 #2,
//! `MetaNetkanTransformer.cs`).
//!
//! The target is fetched as text (through the GitHub contents API for GitHub file URLs) and
//! parsed as a netkan; each of its documents gives one output. The outer metadata wins:
//! `$kref` is replaced by the target's (or removed), `resources.metanetkan` is the URL, the
//! target's resources and then every other property are only added where missing.
//!
//! As in C#, one object accumulates across the target's documents, so a later document sees
//! what earlier ones added (the real targets have one document).

use netkan_common::ckan::{Kref, Object, RemoteRef, parse_netkan};
use serde_json::Value;

use crate::InflateError;
use crate::context::Context;
use crate::hosts::{kref_of, object};
use crate::json::{safe_add, safe_merge};

/// Expands a metanetkan into its target's documents.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    let Some(Kref::Netkan { url }) = kref_of(&metadata, "netkan")? else {
        return Ok(vec![metadata]);
    };
    cx.info(format!(
        "Executing MetaNetkan transformation with #/ckan/netkan/{url}"
    ));
    let mut json = metadata;
    safe_merge(
        &mut json,
        "resources",
        &object([("metanetkan", Some(url.clone()))]),
    );
    let text = cx.services.http.fetch_text(&url).await?;
    cx.debug(format!("Target netkan: {text}"));
    let targets = parse_netkan(&text).map_err(|e| {
        InflateError::metadata(format!("The metanetkan target {url} is not a netkan: {e}"))
    })?;
    let mut out = Vec::with_capacity(targets.len());
    for target in targets {
        let target_kref = target.get("$kref");
        if target_kref
            .and_then(Value::as_str)
            .and_then(RemoteRef::parse)
            .is_some_and(|r| r.source == "netkan")
        {
            return Err(InflateError::metadata(
                "The target of a metanetkan may not also be a metanetkan.",
            ));
        }
        match target_kref {
            Some(k) => {
                json.insert("$kref".to_owned(), k.clone());
            }
            None => {
                json.shift_remove("$kref");
            }
        }
        if let Some(Value::Object(resources)) = target.get("resources") {
            safe_merge(&mut json, "resources", resources);
        }
        for (key, value) in &target {
            safe_add(&mut json, key, value.clone());
        }
        out.push(json.clone());
    }
    if out.is_empty() {
        return Err(InflateError::metadata(format!(
            "The metanetkan target {url} has no documents"
        )));
    }
    Ok(out)
}
