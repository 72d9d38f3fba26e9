//! `$kref: #/ckan/github/<owner>/<repo>[/asset_match/<re>|/version_from_asset/<re>]`
//! (§5 #4, §9.1, `GithubTransformer.cs`).
//!
//! Marks the API as flaky (out-of-order versions are then errors, §5 #17). Releases are read
//! lazily, filtered (prerelease option; some asset matching, unless source archives are
//! used), then `SkipReleases`/`Releases` apply. One output per release, or per matching
//! asset with `version_from_asset`. Nothing found is a warning, and the metadata passes
//! through unchanged.

use fancy_regex::Regex;
use netkan_common::ckan::{Kref, Object};

use crate::InflateError;
use crate::context::Context;
use crate::hosts::github::{GithubApi, GithubAsset, GithubRelease, GithubRepo, UserKind};
use crate::hosts::{kref_of, object, one_or_many, release_date, remove_kref, uri_text};
use crate::json::{safe_add, safe_merge};
use crate::metadata;

/// `Constants.DefaultAssetMatchPattern`: `\.zip$`, case-insensitive.
const DEFAULT_ASSET_MATCH: &str = r"(?i)\.zip$";

/// The content type GitHub requires for source archives (it answers JSON otherwise).
const SOURCE_ARCHIVE_TYPE: &str = "application/vnd.github+json";

/// The parsed `$kref` (`GithubRef`).
struct GithubRef {
    account: String,
    project: String,
    /// The asset filter as written (for the warning), or none for the default.
    asset_match_text: Option<String>,
    asset_match: Regex,
    version_from_asset: Option<(String, Regex)>,
    use_source_archive: bool,
}

impl GithubRef {
    fn repository(&self) -> String {
        format!("{}/{}", self.account, self.project)
    }

    /// `FilterMatches`: the asset's name matches `version_from_asset` if there is one, else
    /// `asset_match`.
    fn filter_matches(&self, asset: &GithubAsset) -> Result<bool, InflateError> {
        let Some(name) = asset.name.as_deref() else {
            return Ok(false);
        };
        let re = self
            .version_from_asset
            .as_ref()
            .map_or(&self.asset_match, |(_, re)| re);
        re.is_match(name).map_err(|e| regex_failed(name, &e))
    }
}

fn regex_failed(name: &str, e: &fancy_regex::Error) -> InflateError {
    InflateError::metadata(format!("the $kref regex failed on asset {name}: {e}"))
}

fn compile(what: &str, pattern: &str) -> Result<Regex, InflateError> {
    Regex::new(pattern).map_err(|e| {
        InflateError::metadata(format!("Invalid {what} regex {pattern:?} in $kref: {e}"))
    })
}

/// Inflates a GitHub repository's releases.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    let Some(Kref::GitHub {
        account,
        project,
        asset_match,
        version_from_asset,
    }) = kref_of(&metadata, "github")?
    else {
        return Ok(vec![metadata]);
    };
    // Tell later steps that this host's API is unreliable.
    cx.opts.flaky_api = true;
    cx.info(format!(
        "Executing GitHub transformation with {}",
        kref_text(&metadata)
    ));
    let conf = metadata::options(&metadata)?.github;
    let gh = GithubRef {
        asset_match: compile(
            "asset_match",
            asset_match.as_deref().unwrap_or(DEFAULT_ASSET_MATCH),
        )?,
        asset_match_text: asset_match,
        version_from_asset: version_from_asset
            .map(|p| compile("version_from_asset", &p).map(|re| (p, re)))
            .transpose()?,
        use_source_archive: conf.use_source_archive,
        account,
        project,
    };
    let http = &cx.services.http;
    let api = GithubApi::new(http);
    let repo = api
        .repo(&gh.account, &gh.project)
        .await?
        .ok_or_else(|| InflateError::metadata("Failed to get GitHub repo info!"))?;
    if repo.archived {
        cx.warn("Repo is archived, consider freezing");
    }

    let identifier = metadata
        .get("identifier")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let mut releases = api.releases(&gh.account, &gh.project);
    let (mut skipped, mut taken) = (0, 0);
    let mut out = Vec::new();
    while cx.opts.releases.is_none_or(|n| taken < n) {
        let Some(release) = releases.next().await? else {
            break;
        };
        let kind_ok = conf.prereleases.is_none_or(|p| p == release.prerelease);
        let has_asset = gh.use_source_archive
            || release.assets.iter().flatten().try_fold(false, |any, a| {
                Ok::<_, InflateError>(any || gh.filter_matches(a)?)
            })?;
        if !(kind_ok && has_asset) {
            continue;
        }
        if skipped < cx.opts.skip_releases {
            skipped += 1;
            continue;
        }
        taken += 1;
        for (asset, version) in release_assets(cx, &gh, &identifier, &release)? {
            let json = transform_one(
                &api,
                metadata.clone(),
                &gh,
                &repo,
                &release,
                &asset,
                version,
            )
            .await?;
            out.push(json);
        }
    }
    if out.is_empty() {
        let repository = gh.repository();
        cx.warn(match (&gh.asset_match_text, &gh.version_from_asset) {
            (Some(filter), _) => {
                format!("No releases found for {repository} with asset_match {filter}")
            }
            (None, Some((pattern, _))) => {
                format!("No releases found for {repository} with version_from_asset {pattern}")
            }
            (None, None) => format!("No releases found for {repository}"),
        });
        return Ok(vec![metadata]);
    }
    Ok(out)
}

/// The kref as written, for log lines.
fn kref_text(metadata: &Object) -> String {
    metadata
        .get("$kref")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The assets of one release to inflate, each with its version: the source archive; every
/// asset `version_from_asset` matches (its `version` group); or the first asset the filter
/// matches, with the tag.
fn release_assets(
    cx: &mut Context<'_>,
    gh: &GithubRef,
    identifier: &str,
    release: &GithubRelease,
) -> Result<Vec<(GithubAsset, String)>, InflateError> {
    let Some(tag) = release.tag_name.clone() else {
        return Ok(Vec::new());
    };
    if gh.use_source_archive {
        let asset = GithubAsset {
            name: Some(tag.clone()),
            browser_download_url: release.zipball_url.clone(),
            updated_at: release.published_at,
            uploader: release.author.clone(),
        };
        return Ok(vec![(asset, tag)]);
    }
    let assets = release.assets.as_deref().unwrap_or_default();
    if let Some((_, re)) = &gh.version_from_asset {
        cx.debug("Found version_from_asset regex, inflating all assets");
        let mut out = Vec::new();
        for asset in assets {
            let name = asset.name.as_deref().unwrap_or_default();
            let Some(caps) = re.captures(name).map_err(|e| regex_failed(name, &e))? else {
                continue;
            };
            let version = caps.name("version").ok_or_else(|| {
                InflateError::metadata("version_from_asset contains no 'version' capturing group")
            })?;
            out.push((asset.clone(), version.as_str().to_owned()));
        }
        return Ok(out);
    }
    let mut matching = Vec::new();
    for asset in assets {
        if gh.filter_matches(asset)? {
            matching.push(asset);
        }
    }
    if matching.len() > 1 {
        cx.warn(format!(
            "Multiple assets found for {identifier} {tag} without `version_from_asset`"
        ));
    }
    Ok(matching
        .first()
        .map(|a| ((*a).clone(), tag))
        .into_iter()
        .collect())
}

async fn transform_one(
    api: &GithubApi<'_>,
    mut json: Object,
    gh: &GithubRef,
    repo: &GithubRepo,
    release: &GithubRelease,
    asset: &GithubAsset,
    version: String,
) -> Result<Object, InflateError> {
    if let Some(description) = repo.description.as_deref().filter(|d| !d.trim().is_empty()) {
        safe_add(&mut json, "abstract", description);
    }
    // GitHub says NOASSERTION when it cannot tell the license.
    if let Some(spdx) = repo
        .license
        .as_ref()
        .and_then(|l| l.spdx_id.as_deref())
        .filter(|id| !id.trim().is_empty() && *id != "NOASSERTION")
    {
        safe_add(&mut json, "license", spdx);
    }
    safe_merge(&mut json, "resources", &repo.resources());
    let Some(tag) = release.tag_name.as_deref() else {
        return Ok(json);
    };
    safe_add(&mut json, "version", version);
    if !json.contains_key("author") {
        safe_add(&mut json, "author", authors(api, repo, release).await?);
    }
    remove_kref(&mut json);
    // `Uri.ToString()` of the API's URL: `%2C` and the like stay as GitHub wrote them.
    safe_add(
        &mut json,
        "download",
        uri_text(asset.browser_download_url.as_deref()),
    );
    if gh.use_source_archive {
        safe_add(&mut json, "download_content_type", SOURCE_ARCHIVE_TYPE);
    }
    safe_add(
        &mut json,
        "release_date",
        asset.updated_at.map(release_date),
    );
    safe_add(&mut json, "name", name_from_repo(&gh.project));
    if release.prerelease {
        safe_add(&mut json, "release_status", "testing");
    }
    safe_merge(
        &mut json,
        "x_netkan_version_pieces",
        &object([("tag", Some(tag.to_owned()))]),
    );
    Ok(json)
}

/// The repository name as a module name: `_`, else `-`, else `.` become spaces; a name with
/// none of them is split before capitals (`ExampleProject` → `Example Project`,
/// `KSPBurst` → `KSP Burst`).
pub fn name_from_repo(project: &str) -> String {
    for sep in ['_', '-', '.'] {
        if project.contains(sep) {
            return project.replace(sep, " ");
        }
    }
    let mut chars: Vec<char> = project.chars().collect();
    let mut i = 1;
    while i + 1 < chars.len() {
        let (prev, here, next) = (chars[i - 1], chars[i], chars[i + 1]);
        if (prev.is_lowercase() && here.is_uppercase())
            || (prev != ' ' && here.is_uppercase() && next.is_lowercase())
        {
            chars.insert(i, ' ');
        }
        i += 1;
    }
    chars.into_iter().collect()
}

/// The authors (`GetAuthors`): the owners along the fork chain from the root repository to
/// this one, then the release's author; users by login, organizations by their public
/// members, bots not at all; without repeats.
async fn authors(
    api: &GithubApi<'_>,
    repo: &GithubRepo,
    release: &GithubRelease,
) -> Result<Option<serde_json::Value>, InflateError> {
    let mut chain = vec![repo.clone()];
    while let Some(parent) = chain.last().and_then(|r| r.parent.clone()) {
        let owner = parent.owner.and_then(|o| o.login).unwrap_or_default();
        let name = parent.name.unwrap_or_default();
        // A parent that cannot be read ends the chain (`DefaultIfThrows`), except when
        // GitHub throttles us: that must not silently change the authors.
        match api.repo(&owner, &name).await {
            Ok(Some(p)) => chain.push(p),
            Ok(None) => break,
            Err(e @ InflateError::RateLimited { .. }) => return Err(e),
            Err(_) => break,
        }
        if chain.len() > 100 {
            break;
        }
    }
    let users = chain
        .iter()
        .rev()
        .filter_map(|r| r.owner.clone())
        .chain(release.author.clone());
    let mut logins = Vec::new();
    for user in users {
        match user.kind() {
            UserKind::User => logins.extend(user.login),
            UserKind::Organization => {
                if let Some(org) = user.login.as_deref() {
                    let members = api.org_public_members(org).await?;
                    logins.extend(members.into_iter().filter_map(|m| m.login));
                }
            }
            UserKind::Other => {}
        }
    }
    Ok(one_or_many(logins))
}

#[cfg(test)]
mod tests {
    use super::name_from_repo;

    #[test]
    fn repository_names_become_module_names() {
        assert_eq!(name_from_repo("ExampleProject"), "Example Project");
        assert_eq!(name_from_repo("KSPBurst"), "KSP Burst");
        assert_eq!(name_from_repo("Kopernicus"), "Kopernicus");
        assert_eq!(name_from_repo("B9PartSwitch"), "B9 Part Switch");
        assert_eq!(
            name_from_repo("KSP-Conformal-Decals"),
            "KSP Conformal Decals"
        );
        assert_eq!(name_from_repo("my_mod-x"), "my mod-x");
        assert_eq!(name_from_repo("Mod.Name"), "Mod Name");
        assert_eq!(name_from_repo("ABCDef"), "ABC Def");
        assert_eq!(name_from_repo("A"), "A");
    }
}
