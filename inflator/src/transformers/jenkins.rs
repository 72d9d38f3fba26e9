//! `$kref: #/ckan/jenkins/<job-url>` (§5 #9, §9.5, `JenkinsTransformer.cs`). Builds whose
//! result fits `x_netkan_jenkins.build`, after `SkipReleases`/`Releases`; each needs
//! exactly one artifact matching `asset_match` (default `\.zip$`, case-insensitive; a
//! custom one is case-sensitive, as Newtonsoft builds the `Regex` without options).

use fancy_regex::Regex;
use netkan_common::ckan::{Kref, Object};

use crate::InflateError;
use crate::context::Context;
use crate::hosts::jenkins::{JenkinsApi, JenkinsBuild};
use crate::hosts::{kref_of, object, release_date, remove_kref};
use crate::json::{safe_add, safe_merge};
use crate::metadata;

const DEFAULT_ASSET_MATCH: &str = r"(?i)\.zip$";

/// Inflates a Jenkins job's builds.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    let Some(Kref::Jenkins { url }) = kref_of(&metadata, "jenkins")? else {
        return Ok(vec![metadata]);
    };
    cx.info(format!(
        "Executing Jenkins transformation with #/ckan/jenkins/{url}"
    ));
    let options = metadata::options(&metadata)?.jenkins;
    let pattern = options
        .asset_match
        .as_deref()
        .unwrap_or(DEFAULT_ASSET_MATCH);
    let asset_match = Regex::new(pattern).map_err(|e| {
        InflateError::metadata(format!(
            "Invalid x_netkan_jenkins.asset_match {pattern:?}: {e}"
        ))
    })?;
    let builds = JenkinsApi::new(&cx.services.http)
        .builds(&url, options.build, cx.opts.skip_releases, cx.opts.releases)
        .await?;
    if builds.is_empty() {
        cx.warn(format!("No releases found for {url}"));
        return Ok(vec![metadata]);
    }
    builds
        .iter()
        .map(|b| {
            transform_one(
                metadata.clone(),
                &url,
                b,
                &asset_match,
                options.use_filename_version,
            )
        })
        .collect()
}

fn transform_one(
    mut json: Object,
    job: &str,
    build: &JenkinsBuild,
    asset_match: &Regex,
    use_filename_version: bool,
) -> Result<Object, InflateError> {
    let mut matching = Vec::new();
    for artifact in build.artifacts.iter().flatten() {
        if let Some(name) = artifact.file_name.as_deref()
            && asset_match.is_match(name).map_err(|e| {
                InflateError::metadata(format!(
                    "x_netkan_jenkins.asset_match failed on {name}: {e}"
                ))
            })?
        {
            matching.push(artifact);
        }
    }
    let artifact = match matching.as_slice() {
        [one] => *one,
        [] => {
            return Err(InflateError::metadata(
                "Could not find any matching artifacts",
            ));
        }
        _ => return Err(InflateError::metadata("Found too many matching artifacts")),
    };
    let download = format!(
        "{}artifact/{}",
        build.url.as_deref().unwrap_or_default(),
        artifact.relative_path.as_deref().unwrap_or_default()
    );
    remove_kref(&mut json);
    safe_add(&mut json, "download", download);
    safe_add(&mut json, "release_date", build.time().map(release_date));
    if use_filename_version {
        safe_add(&mut json, "version", artifact.file_name.clone());
    }
    safe_merge(
        &mut json,
        "resources",
        &object([("ci", Some(job.to_owned()))]),
    );
    Ok(json)
}
