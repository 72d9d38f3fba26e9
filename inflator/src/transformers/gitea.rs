//! `$kref: #/ckan/gitea/<host>/<owner>/<repo>` (§5 #6, §9.4, `GiteaTransformer.cs`), for
//! Gitea and Forgejo hosts.
//!
//! Deviation: with no releases, C# returns nothing at all; here it is the warning "No
//! releases found for …" and the metadata passes through, as every other host does.

use netkan_common::ckan::{Kref, Object};

use crate::InflateError;
use crate::context::Context;
use crate::hosts::gitea::GiteaApi;
use crate::hosts::{kref_of, object, release_date, remove_kref, skip_take, uri_text};
use crate::json::{safe_add, safe_merge};

/// Inflates a Gitea repository's releases.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    let Some(Kref::Gitea {
        host,
        owner,
        repository,
    }) = kref_of(&metadata, "gitea")?
    else {
        return Ok(vec![metadata]);
    };
    let where_ = format!("{host}/{owner}/{repository}");
    cx.info(format!(
        "Executing Gitea transformation with #/ckan/gitea/{where_}"
    ));
    let api = GiteaApi::new(&cx.services.http);
    let repo = api
        .repo(&host, &owner, &repository)
        .await?
        .ok_or_else(|| InflateError::metadata("Failed to get Gitea repo info!"))?;
    let releases = skip_take(
        api.releases(&host, &owner, &repository).await?,
        cx.opts.skip_releases,
        cx.opts.releases,
    );
    if releases.is_empty() {
        cx.warn(format!("No releases found for {where_}"));
        return Ok(vec![metadata]);
    }
    let mut out = Vec::with_capacity(releases.len());
    for release in &releases {
        let mut json = metadata.clone();
        remove_kref(&mut json);
        safe_add(&mut json, "abstract", repo.description.clone());
        safe_add(&mut json, "name", repo.name.clone());
        safe_add(
            &mut json,
            "author",
            repo.owner.as_ref().and_then(|o| o.login.clone()),
        );
        safe_add(&mut json, "version", release.tag_name.clone());
        safe_merge(
            &mut json,
            "x_netkan_version_pieces",
            &object([("tag", release.tag_name.clone())]),
        );
        safe_merge(&mut json, "resources", &repo.resources());
        if release.prerelease {
            safe_add(&mut json, "release_status", "testing");
        }
        match release.zip_asset() {
            Some(asset) if asset.browser_download_url.is_some() => {
                safe_add(
                    &mut json,
                    "download",
                    uri_text(asset.browser_download_url.as_deref()),
                );
                safe_add(
                    &mut json,
                    "release_date",
                    asset.created_at.map(release_date),
                );
            }
            _ => cx.info("No release assets found"),
        }
        out.push(json);
    }
    Ok(out)
}
