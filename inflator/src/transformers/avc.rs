//! `$vref: #/ckan/ksp-avc`: the `.version` file inside the download, and its remote copy
//! (§5 #13, `AvcTransformer`).
//!
//! First the `VrefValidator` warnings (for every module, whatever its `$vref`). Then, for a
//! `ksp-avc` `$vref`: the `.version` file is found (§8.3) and read (§8.2); its remote copy is
//! `resources.remote-avc` if set, else its `URL` after `GetRawUri` (stored as
//! `resources.remote-avc`). The remote copy replaces the local one when both give the same
//! `VERSION`. Remote trouble is only a warning, except a rate limit, which fails the inflation
//! (so the metadata is not degraded by a throttled fetch). Last, [`apply_versions`].

use netkan_common::ckan::game_version::set_json_compatibility;
use netkan_common::ckan::kref::is_absolute_uri;
use netkan_common::ckan::schema::dotnet_absolute_uri;
use netkan_common::ckan::{Module, Object, Vref};
use serde_json::Value;

use crate::InflateError;
use crate::archive::avc::{AvcError, AvcVersion, ReadAvcError, find_internal_avc, read_avc};
use crate::archive::{self};
use crate::context::Context;
use crate::json::{safe_add, safe_merge};
use crate::validate::installs;

/// Hosts known to serve no `.version` files (their "URL" is a forum thread).
const BAD_HOSTS: &[&str] = &["forum.kerbalspaceprogram.com"];

/// Applies a `ksp-avc` `$vref`.
///
/// # Errors
/// The `VrefValidator`'s and the download's errors; "Too many .version files located: …",
/// "Invalid $vref path/regexp …", "Error parsing version file …"; a rate-limited remote fetch.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    installs::vref(&metadata, cx).await?;
    let Some(Vref::KspAvc { path }) = Module::new(&metadata).vref()? else {
        return Ok(vec![metadata]);
    };
    cx.info(format!(
        "Executing internal AVC transformation with #/ckan/ksp-avc{}",
        path.as_deref().map(|p| format!("/{p}")).unwrap_or_default()
    ));
    let found = archive::inspect(cx, &metadata, Some("0"), move |files| {
        let archive = files.archive();
        let found = find_internal_avc(files, archive, path.as_deref())?;
        Ok::<_, InflateError>(match found {
            None => None,
            Some(found) => match read_avc(archive, &found) {
                Ok(avc) => avc.map(|a| (found.name, a)),
                Err(ReadAvcError::Archive(m)) => return Err(InflateError::Host(m)),
                Err(ReadAvcError::Parse(AvcError::Syntax(m) | AvcError::Serialization(m))) => {
                    return Err(InflateError::metadata(format!(
                        "Error parsing version file {}: {m}",
                        found.name
                    )));
                }
                Err(ReadAvcError::Parse(AvcError::Conversion(m))) => {
                    return Err(InflateError::metadata(format!(
                        "Error reading version file {}: {m}",
                        found.name
                    )));
                }
            },
        })
    })
    .await?
    .transpose()?
    .flatten();
    let Some((name, mut avc)) = found else {
        return Ok(vec![metadata]);
    };
    cx.info(format!("Found internal AVC version file {name}"));
    let mut json = metadata;
    let existing = Module::new(&json)
        .resource("remote-avc")?
        .map(str::to_owned);
    let remote = match existing {
        Some(url) if dotnet_absolute_uri(&url) => Some(url),
        Some(url) => {
            return Err(InflateError::metadata(format!(
                "Invalid URI in resources.remote-avc: {url}"
            )));
        }
        None => remote_avc_uri(&avc, cx),
    };
    if let (Some(remote), Some(local_version)) = (remote, avc.version.clone()) {
        let mut resource = Object::new();
        resource.insert("remote-avc".to_owned(), Value::String(remote.clone()));
        safe_merge(&mut json, "resources", &resource);
        let host = reqwest::Url::parse(&remote)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        if BAD_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
            cx.warn(format!("AVC host does not contain version files: {host}"));
        } else {
            match cx.services.http.fetch_text(&remote).await {
                Ok(text) => match AvcVersion::parse(&text) {
                    Ok(Some(remote_avc))
                        if remote_avc
                            .version
                            .as_ref()
                            .is_some_and(|v| v.compare(&local_version).is_eq()) =>
                    {
                        cx.info(
                            "Remote AVC version file describes same version as local AVC version file, using it preferentially.",
                        );
                        avc = remote_avc;
                    }
                    Ok(_) => {}
                    Err(AvcError::Syntax(m)) => {
                        cx.warn(format!("Error parsing remote version file {remote}: {m}"));
                    }
                    Err(e) => {
                        cx.warn(format!("Error fetching remote version file {remote}: {e}"));
                    }
                },
                // A throttled fetch would quietly degrade the metadata: fail instead.
                Err(e @ InflateError::RateLimited { .. }) => return Err(e),
                Err(e) => cx.warn(format!("Error fetching remote version file {remote}: {e}")),
            }
        }
    }
    apply_versions(&mut json, &avc);
    Ok(vec![json])
}

/// `GetRemoteAvcUri`: the file's `URL` if it is a well-formed absolute URI, after `GetRawUri`.
fn remote_avc_uri(avc: &AvcVersion, cx: &mut Context<'_>) -> Option<String> {
    let url = avc.url.as_deref()?;
    if !is_absolute_uri(url) {
        cx.warn(format!("Version file URL property is invalid: {url}"));
        return None;
    }
    cx.info(format!("Remote AVC version file at: {url}"));
    Some(crate::hosts::raw_uri(url))
}

/// `AvcTransformer.ApplyVersions`: the game versions are merged (widened) with the file's, and
/// `version` is added from `VERSION` where absent, or replaced when the `.netkan` says
/// `x_netkan_trust_version_file`.
pub fn apply_versions(json: &mut Object, avc: &AvcVersion) {
    set_json_compatibility(
        json,
        avc.ksp_version,
        avc.ksp_version_min,
        avc.ksp_version_max,
    );
    if let Some(version) = &avc.version {
        // .version files are often stale; the host's version wins unless the author vouches
        // for the file.
        let trust = match json.get("x_netkan_trust_version_file") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        if trust {
            json.shift_remove("version");
        }
        safe_add(json, "version", version.as_str());
    }
}
