//! `$kref: #/ckan/ksp-avc/<url>`: a remote `.version` file as the source (§5 #10,
//! `AvcKrefTransformer`): `name` and `download` where absent, `resources.repository` from its
//! `GITHUB` owner and repository, then the `.version` rules of [`apply_versions`].

use netkan_common::ckan::{Kref, Module, Object};
use serde_json::Value;

use crate::InflateError;
use crate::archive::avc::AvcVersion;
use crate::context::Context;
use crate::json::{safe_add, safe_merge};
use crate::transformers::avc::apply_versions;

/// Applies a `ksp-avc` `$kref`.
///
/// # Errors
/// The fetch's error, or the remote file does not parse.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    let Some(Kref::KspAvc { url }) = Module::new(&metadata).kref()? else {
        return Ok(vec![metadata]);
    };
    cx.info(format!(
        "Executing KSP-AVC $kref transformation with #/ckan/ksp-avc/{url}"
    ));
    let text = cx.services.http.fetch_text(&url).await?;
    let Some(remote) = AvcVersion::parse(&text)
        .map_err(|e| InflateError::metadata(format!("Error parsing version file {url}: {e}")))?
    else {
        return Ok(vec![metadata]);
    };
    let mut json = metadata;
    safe_add(&mut json, "name", remote.name.clone().map(Value::String));
    json.shift_remove("$kref");
    safe_add(
        &mut json,
        "download",
        remote.download.clone().map(Value::String),
    );
    if let Some(github) = &remote.github
        && let (Some(user), Some(repo)) = (&github.username, &github.repository)
    {
        let mut resources = Object::new();
        resources.insert(
            "repository".to_owned(),
            Value::String(format!("https://github.com/{user}/{repo}")),
        );
        safe_merge(&mut json, "resources", &resources);
    }
    apply_versions(&mut json, &remote);
    Ok(vec![json])
}
