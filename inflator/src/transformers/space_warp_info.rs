//! `$vref: #/ckan/space-warp`: `swinfo.json` inside the download (§5 #12,
//! `SpaceWarpInfoTransformer`, `SpaceWarpInfoLoader`): `resources.remote-swinfo` from
//! `version_check`, `name`, `author`, `abstract` and `version` where absent, and the game
//! versions of `ksp2_version` (build parts dropped). The remote copy at `version_check` is
//! used instead when it gives the same `version`.

use netkan_common::ckan::game_version::set_json_compatibility;
use netkan_common::ckan::kref::is_absolute_uri;
use netkan_common::ckan::{GameVersion, Module, Object, Vref};
use serde_json::Value;

use crate::InflateError;
use crate::archive::swinfo::SpaceWarpInfo;
use crate::archive::{self, contents};
use crate::context::Context;
use crate::json::{safe_add, safe_merge};

/// The text of the first `swinfo.json` the install stanzas select (by exact entry name when
/// `path` is given); `None` without a download or without such a file.
///
/// # Errors
/// The download's, the stanzas' or the entry's error.
pub async fn first_swinfo_text(
    cx: &mut Context<'_>,
    module: &Object,
    version: Option<&str>,
    path: Option<String>,
) -> Result<Option<String>, InflateError> {
    let text = archive::inspect(cx, module, version, move |files| {
        let entries = contents::space_warp_info_entries(files, path.as_deref())?;
        entries
            .first()
            .map(|&e| contents::entry_text(files.archive(), e))
            .transpose()
            .map_err(InflateError::from)
    })
    .await?;
    Ok(text.transpose()?.flatten())
}

/// `SpaceWarpInfoLoader.Load`: parses the text, then prefers the copy at `version_check` when
/// it gives the same `version`.
///
/// # Errors
/// "Error fetching remote swinfo <url>: …" for any failure of the remote copy (a rate limit
/// stays a rate limit, so the job waits and retries).
pub async fn load(cx: &mut Context<'_>, text: &str) -> Result<Option<SpaceWarpInfo>, InflateError> {
    let Some(local) = SpaceWarpInfo::parse(text) else {
        return Ok(None);
    };
    let Some(url) = local.version_check.clone().filter(|u| is_absolute_uri(u)) else {
        return Ok(Some(local));
    };
    let remote = match cx.services.http.fetch_text(&url).await {
        Ok(text) => SpaceWarpInfo::parse(&text),
        Err(InflateError::RateLimited {
            message,
            retry_after,
        }) => {
            return Err(InflateError::RateLimited {
                message: format!("Error fetching remote swinfo {url}: {message}"),
                retry_after,
            });
        }
        Err(e) => {
            return Err(InflateError::Host(format!(
                "Error fetching remote swinfo {url}: {e}"
            )));
        }
    };
    Ok(Some(match remote {
        Some(remote) if remote.version == local.version => remote,
        _ => local,
    }))
}

/// Applies a `space-warp` `$vref`.
///
/// # Errors
/// The download's or the stanzas' error; a failed remote `swinfo.json`.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    let Some(Vref::SpaceWarp { path }) = Module::new(&metadata).vref()? else {
        return Ok(vec![metadata]);
    };
    let Some(text) = first_swinfo_text(cx, &metadata, Some("1"), path).await? else {
        return Ok(vec![metadata]);
    };
    let Some(info) = load(cx, &text).await? else {
        return Ok(vec![metadata]);
    };
    cx.info("Found swinfo.json file");
    let mut json = metadata;
    if let Some(url) = info.version_check.as_ref().filter(|u| is_absolute_uri(u)) {
        let mut resource = Object::new();
        resource.insert("remote-swinfo".to_owned(), Value::String(url.clone()));
        safe_merge(&mut json, "resources", &resource);
    }
    safe_add(&mut json, "name", info.name.clone().map(Value::String));
    safe_add(&mut json, "author", info.author.clone().map(Value::String));
    safe_add(
        &mut json,
        "abstract",
        info.description.clone().map(Value::String),
    );
    safe_add(
        &mut json,
        "version",
        info.version.clone().map(Value::String),
    );
    let bound = |v: Option<&String>| {
        v.and_then(|s| GameVersion::parse(s))
            .map(|g| g.without_build())
    };
    let min = bound(info.ksp2_version.as_ref().and_then(|k| k.min.as_ref()));
    let max = bound(info.ksp2_version.as_ref().and_then(|k| k.max.as_ref()));
    if min.is_some() || max.is_some() {
        let show = |g: Option<GameVersion>| g.map(|g| g.to_string()).unwrap_or_default();
        cx.info(format!("Found compatibility: {}–{}", show(min), show(max)));
        set_json_compatibility(&mut json, None, min, max);
    }
    Ok(vec![json])
}
