//! `$kref: #/ckan/spacedock/<id>` (§5 #3, §9.2, `SpacedockTransformer.cs`).
//!
//! One output per SpaceDock version (the default version first) after `SkipReleases` and
//! `Releases`. Host values are only added where the netkan has none, except that a
//! `source_code` on GitHub replaces `resources.repository` (even the netkan's) with the
//! GitHub repository's resources.

use netkan_common::ckan::{Kref, Object};
use serde_json::Value;

use crate::InflateError;
use crate::context::Context;
use crate::hosts::github::{GithubApi, GithubRepo, repo_of_url};
use crate::hosts::spacedock::{SpacedockApi, SpacedockMod, SpacedockVersion};
use crate::hosts::{kref_of, one_or_many, release_date, remove_kref, skip_take};
use crate::json::{safe_add, safe_add_with, safe_merge};

/// Inflates a SpaceDock mod.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    let Some(Kref::SpaceDock { id }) = kref_of(&metadata, "spacedock")? else {
        return Ok(vec![metadata]);
    };
    cx.info(format!(
        "Executing SpaceDock transformation with #/ckan/spacedock/{id}"
    ));
    let http = &cx.services.http;
    let sd = SpacedockApi::new(http).get_mod(i64::from(id)).await?;
    let versions = skip_take(sd.all(), cx.opts.skip_releases, cx.opts.releases);
    if versions.is_empty() {
        cx.warn(format!(
            "No releases found for {}",
            sd.name.as_deref().unwrap_or_default()
        ));
        return Ok(vec![metadata]);
    }
    let github = github_source(cx, &sd).await?;
    let mut out = Vec::with_capacity(versions.len());
    for version in versions {
        cx.info(format!(
            "Found SpaceDock mod: {} {}",
            sd.name.as_deref().unwrap_or_default(),
            version.friendly_version.as_deref().unwrap_or_default()
        ));
        out.push(transform_one(
            metadata.clone(),
            &sd,
            version,
            github.as_ref(),
        )?);
    }
    if github.as_ref().is_some_and(|r| r.archived) {
        cx.warn("Repo is archived, consider freezing");
    }
    Ok(out)
}

/// The GitHub repository of `source_code`, if it is one GitHub knows. Rate limiting and
/// network trouble fail the inflation (a retry gives full metadata, where giving up would
/// change the resources for a while); any other failure means "not on GitHub", as in C#.
async fn github_source(
    cx: &Context<'_>,
    sd: &SpacedockMod,
) -> Result<Option<GithubRepo>, InflateError> {
    let Some((owner, repo)) = sd.source_code.as_deref().and_then(repo_of_url) else {
        return Ok(None);
    };
    match GithubApi::new(&cx.services.http).repo(&owner, &repo).await {
        Ok(found) => Ok(found),
        Err(e @ (InflateError::RateLimited { .. } | InflateError::Transient(_))) => Err(e),
        Err(e) => {
            cx.debug(format!("source_code {owner}/{repo} not used: {e}"));
            Ok(None)
        }
    }
}

fn transform_one(
    mut json: Object,
    sd: &SpacedockMod,
    version: &SpacedockVersion,
    github: Option<&GithubRepo>,
) -> Result<Object, InflateError> {
    // Only pre-fill game versions if there are none already (CKAN GH #199).
    if !["ksp_version_min", "ksp_version_max", "ksp_version"]
        .iter()
        .any(|k| json.contains_key(*k))
    {
        let game = version.game_version()?;
        json.insert(
            "ksp_version".to_owned(),
            game.map_or(Value::Null, |g| Value::String(g.to_string())),
        );
    }
    safe_add(&mut json, "name", sd.name.clone());
    safe_add(&mut json, "abstract", sd.short_description.clone());
    safe_add(&mut json, "version", version.friendly_version.clone());
    remove_kref(&mut json);
    safe_add(&mut json, "download", version.download_url());
    safe_add(&mut json, "release_date", version.created.map(release_date));
    safe_add_with(&mut json, "author", || one_or_many(sd.authors()));
    safe_add(&mut json, "license", sd.ckan_license());
    safe_merge(&mut json, "resources", &sd.resources());
    if let Some(repo) = github {
        // resources.repository should come from GitHub when it can.
        if let Some(Value::Object(resources)) = json.get_mut("resources") {
            resources.shift_remove("repository");
        }
        safe_merge(&mut json, "resources", &repo.resources());
    }
    Ok(json)
}
