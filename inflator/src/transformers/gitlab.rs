//! `$kref: #/ckan/gitlab/<owner>/<repo>` (§5 #5, §9.3, `GitlabTransformer.cs`). GitLab
//! only offers source archives, so `x_netkan_gitlab.use_source_archive` must be true.
//! `Releases` "all" still means one release here, as in C#.

use netkan_common::ckan::{Kref, Object};

use crate::InflateError;
use crate::context::Context;
use crate::hosts::gitlab::{GitlabApi, GitlabProject, GitlabRelease};
use crate::hosts::{kref_of, object, release_date, remove_kref, skip_take};
use crate::json::{safe_add, safe_merge};
use crate::metadata;

/// Inflates a GitLab project's releases.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    let Some(Kref::GitLab { account, project }) = kref_of(&metadata, "gitlab")? else {
        return Ok(vec![metadata]);
    };
    let kref = format!("#/ckan/gitlab/{account}/{project}");
    cx.info(format!("Executing GitLab transformation with {kref}"));
    let api = GitlabApi::new(&cx.services.http);
    let info = api
        .project(&account, &project)
        .await?
        .ok_or_else(|| InflateError::metadata("Failed to retrieve project info from GitLab!"))?;
    let releases = skip_take(
        api.releases(&account, &project).await?,
        cx.opts.skip_releases,
        Some(cx.opts.releases.unwrap_or(1)),
    );
    if releases.is_empty() {
        cx.warn(format!("No releases found for {kref}"));
        return Ok(vec![metadata]);
    }
    let use_source_archive = metadata::options(&metadata)?.gitlab.use_source_archive;
    releases
        .iter()
        .map(|r| transform_one(metadata.clone(), &info, r, use_source_archive))
        .collect()
}

fn transform_one(
    mut json: Object,
    project: &GitlabProject,
    release: &GitlabRelease,
    use_source_archive: bool,
) -> Result<Object, InflateError> {
    if !use_source_archive {
        return Err(InflateError::metadata(
            "'x_netkan_gitlab.use_source_archive' missing or false; GitLab ONLY supports source archives!",
        ));
    }
    safe_add(&mut json, "name", project.name.clone());
    safe_add(&mut json, "abstract", project.description.clone());
    safe_add(
        &mut json,
        "author",
        release.author.as_ref().and_then(|a| a.name.clone()),
    );
    safe_add(&mut json, "version", release.tag_name.clone());
    let web = project.web_url.clone();
    safe_merge(
        &mut json,
        "resources",
        &object([
            ("repository", web.clone()),
            (
                "bugtracker",
                web.filter(|_| project.issues_enabled)
                    .map(|w| format!("{w}/-/issues")),
            ),
            ("manual", project.readme_url.clone()),
        ]),
    );
    safe_add(
        &mut json,
        "download",
        release.zip_source().map(str::to_owned),
    );
    safe_add(
        &mut json,
        "release_date",
        release.released_at.map(release_date),
    );
    remove_kref(&mut json);
    Ok(json)
}
