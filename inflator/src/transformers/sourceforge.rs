//! `$kref: #/ckan/sourceforge/<project>` (§5 #7, §9.6, `SourceForgeTransformer.cs`). No
//! version comes from SourceForge, so such netkans need a `$vref`. `Releases` "all" still
//! means one release here, as in C#.
//!
//! The download is the item's link after one redirect (asked as `Wget`: SourceForge does
//! not redirect browser-like user agents), pinned to the `master` mirror so the URL does
//! not wander between mirrors from one inflation to the next, then resolved once more.

use netkan_common::ckan::{Kref, Object};
use reqwest::Url;

use crate::InflateError;
use crate::context::Context;
use crate::hosts::sourceforge::SourceForgeApi;
use crate::hosts::{kref_of, object, release_date, remove_kref, skip_take};
use crate::http::HttpClient;
use crate::json::{safe_add, safe_merge};

const USER_AGENT: &str = "Wget";
const MIRROR: &str = "master";

/// Inflates a SourceForge project's `.zip` files.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    let Some(Kref::SourceForge { name }) = kref_of(&metadata, "sourceforge")? else {
        return Ok(vec![metadata]);
    };
    let kref = format!("#/ckan/sourceforge/{name}");
    cx.info(format!("Executing SourceForge transformation with {kref}"));
    let http = &cx.services.http;
    let project = SourceForgeApi::new(http).project(&name).await?;
    let versions = skip_take(
        project.versions.iter(),
        cx.opts.skip_releases,
        Some(cx.opts.releases.unwrap_or(1)),
    );
    if versions.is_empty() {
        cx.warn(format!("No releases found for {kref}"));
        return Ok(vec![metadata]);
    }
    let mut out = Vec::with_capacity(versions.len());
    for version in versions {
        let mut json = metadata.clone();
        safe_add(&mut json, "name", project.title.clone());
        safe_merge(
            &mut json,
            "resources",
            &object([
                ("homepage", Some(project.homepage.clone())),
                ("repository", Some(project.repository.clone())),
                ("bugtracker", Some(project.bugtracker.clone())),
            ]),
        );
        let first = one_hop(http, &version.link).await?;
        let pinned = with_query(&first, "use_mirror", MIRROR);
        safe_add(&mut json, "download", one_hop(http, &pinned).await?);
        safe_add(
            &mut json,
            "release_date",
            version.timestamp.map(release_date),
        );
        remove_kref(&mut json);
        out.push(json);
    }
    Ok(out)
}

/// `Net.ResolveRedirect(url, "Wget", 1)`: where one redirect leads, or `url` itself.
async fn one_hop(http: &HttpClient, url: &str) -> Result<String, InflateError> {
    Ok(http
        .redirect_target(url, Some(USER_AGENT))
        .await?
        .unwrap_or_else(|| url.to_owned()))
}

/// `url` with the query parameter `key` set to `value` (replaced where it is, else
/// appended).
fn with_query(url: &str, key: &str, value: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        return url.to_owned();
    };
    let mut pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    match pairs.iter_mut().find(|(k, _)| k == key) {
        Some(pair) => pair.1 = value.to_owned(),
        None => pairs.push((key.to_owned(), value.to_owned())),
    }
    pairs.dedup_by(|a, b| a.0 == key && b.0 == key);
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::with_query;

    #[test]
    fn the_mirror_is_set_in_the_query() {
        assert_eq!(
            with_query(
                "https://downloads.sourceforge.net/project/p/f.zip?r=&ts=1&use_mirror=kent",
                "use_mirror",
                "master"
            ),
            "https://downloads.sourceforge.net/project/p/f.zip?r=&ts=1&use_mirror=master"
        );
        assert_eq!(
            with_query(
                "https://downloads.sourceforge.net/project/p/f.zip",
                "use_mirror",
                "master"
            ),
            "https://downloads.sourceforge.net/project/p/f.zip?use_mirror=master"
        );
    }
}
