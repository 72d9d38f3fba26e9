//! GitHub's REST API (`Netkan/Sources/Github/*`, §9.1): repositories (with the wiki probe),
//! releases paged ten at a time and read lazily, organizations' public members, and the
//! contents API for text files on GitHub.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use super::{deserialize_bool, deserialize_date, deserialize_text, normalize_uri};
use crate::InflateError;
use crate::http::{GITHUB, GITHUB_API, HttpClient};
use netkan_common::ckan::Object;

/// `Accept` of the contents API for the raw file (`rawMediaType`).
pub const RAW_ACCEPT: &str = "application/vnd.github.v3.raw";

/// Releases per page (`GetAllReleases`).
const PER_PAGE: u32 = 10;

/// A repository (`GithubRepo`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GithubRepo {
    pub name: Option<String>,
    pub full_name: Option<String>,
    pub html_url: Option<String>,
    pub description: Option<String>,
    pub homepage: Option<String>,
    pub license: Option<GithubLicense>,
    /// The repository this one is a fork of.
    pub parent: Option<GithubParent>,
    pub owner: Option<GithubUser>,
    #[serde(deserialize_with = "deserialize_bool")]
    pub has_issues: bool,
    #[serde(deserialize_with = "deserialize_bool")]
    pub has_discussions: bool,
    /// After [`GithubApi::repo`], whether the wiki really has pages.
    #[serde(deserialize_with = "deserialize_bool")]
    pub has_wiki: bool,
    #[serde(deserialize_with = "deserialize_bool")]
    pub archived: bool,
}

impl GithubRepo {
    /// The resources a repository gives (`GithubRepo.Resources`); absent ones are null, so
    /// `safe_merge` skips them.
    pub fn resources(&self) -> Object {
        let html = self.html_url.clone();
        let under = |on: bool, tail: &str| match (&html, on) {
            (Some(h), true) => Value::String(format!("{h}/{tail}")),
            _ => Value::Null,
        };
        let mut o = Object::new();
        o.insert(
            "repository".into(),
            html.clone().map_or(Value::Null, Value::String),
        );
        o.insert(
            "homepage".into(),
            normalize_uri(self.homepage.as_deref().unwrap_or(""))
                .map_or(Value::Null, Value::String),
        );
        // issues_url ends with {/number}, so the link is built from html_url.
        o.insert("bugtracker".into(), under(self.has_issues, "issues"));
        o.insert(
            "discussions".into(),
            under(self.has_discussions, "discussions"),
        );
        o.insert("manual".into(), under(self.has_wiki, "wiki"));
        o
    }
}

/// `license.spdx_id`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GithubLicense {
    pub spdx_id: Option<String>,
}

/// The fork parent as the repository answer embeds it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GithubParent {
    pub name: Option<String>,
    pub owner: Option<GithubUser>,
}

/// A user, organization or bot.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GithubUser {
    pub login: Option<String>,
    /// `User` (also when absent), `Organization` or `Bot`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// What kind of account a [`GithubUser`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    User,
    Organization,
    /// Bots, and kinds this code does not know: never authors.
    Other,
}

impl GithubUser {
    /// The account kind; a missing `type` means a user (the C# default).
    pub fn kind(&self) -> UserKind {
        match self.kind.as_deref() {
            None | Some("User") => UserKind::User,
            Some("Organization") => UserKind::Organization,
            Some(_) => UserKind::Other,
        }
    }
}

/// A release (`GithubRelease`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GithubRelease {
    pub author: Option<GithubUser>,
    #[serde(deserialize_with = "deserialize_text")]
    pub tag_name: Option<String>,
    pub assets: Option<Vec<GithubAsset>>,
    pub zipball_url: Option<String>,
    #[serde(deserialize_with = "deserialize_date")]
    pub published_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "deserialize_bool")]
    pub prerelease: bool,
}

/// A release asset (`GithubReleaseAsset`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GithubAsset {
    pub name: Option<String>,
    pub browser_download_url: Option<String>,
    #[serde(deserialize_with = "deserialize_date")]
    pub updated_at: Option<DateTime<Utc>>,
    pub uploader: Option<GithubUser>,
}

/// The GitHub API, over the process's HTTP client.
#[derive(Clone, Copy)]
pub struct GithubApi<'a> {
    http: &'a HttpClient,
}

impl<'a> GithubApi<'a> {
    /// The API over `http`.
    pub fn new(http: &'a HttpClient) -> Self {
        Self { http }
    }

    /// `repos/{owner}/{repo}`, or `None` when GitHub has no such repository (404). A
    /// repository saying `has_wiki` is probed at `https://github.com/{owner}/{repo}/wiki`:
    /// a wiki without pages redirects to the repository (`CheckForWiki`), and one that
    /// answers 4xx counts as none.
    ///
    /// # Errors
    /// As [`HttpClient::get_reply`]; other error statuses and bad JSON are `Host`.
    pub async fn repo(&self, owner: &str, repo: &str) -> Result<Option<GithubRepo>, InflateError> {
        let url = format!("{GITHUB_API}/repos/{owner}/{repo}");
        let Some(mut found) = self.http.get_json_or_404::<GithubRepo>(&url).await? else {
            return Ok(None);
        };
        if found.has_wiki {
            let wiki = format!("{GITHUB}/{owner}/{repo}/wiki");
            found.has_wiki = match self.http.redirect_target(&wiki, None).await {
                Ok(target) => target.is_none(),
                // A wiki page GitHub refuses to show is no manual; C# would fail the whole
                // inflation over it. Throttling and network trouble still fail it.
                Err(InflateError::Host(_)) => false,
                Err(e) => return Err(e),
            };
        }
        Ok(Some(found))
    }

    /// The repository's releases, newest first within each page of ten, fetched a page at
    /// a time as they are read (so inflating one release usually costs one request).
    pub fn releases(&self, owner: &str, repo: &str) -> Releases<'a> {
        Releases {
            http: self.http,
            base: format!("{GITHUB_API}/repos/{owner}/{repo}/releases"),
            page: 0,
            buffer: VecDeque::new(),
            done: false,
        }
    }

    /// `orgs/{org}/public_members`.
    ///
    /// # Errors
    /// As [`HttpClient::get_json`].
    pub async fn org_public_members(&self, org: &str) -> Result<Vec<GithubUser>, InflateError> {
        let members: Option<Vec<GithubUser>> = self
            .http
            .get_json(&format!("{GITHUB_API}/orgs/{org}/public_members"))
            .await?;
        Ok(members.unwrap_or_default())
    }
}

/// A lazy reader of a repository's releases (`GetAllReleases`).
pub struct Releases<'a> {
    http: &'a HttpClient,
    base: String,
    page: u32,
    buffer: VecDeque<GithubRelease>,
    done: bool,
}

impl Releases<'_> {
    /// The next release, fetching the next page when this one is used up; `None` after
    /// the first empty page.
    ///
    /// # Errors
    /// As [`HttpClient::get_json`].
    pub async fn next(&mut self) -> Result<Option<GithubRelease>, InflateError> {
        while self.buffer.is_empty() && !self.done {
            self.page += 1;
            let url = format!("{}?per_page={PER_PAGE}&page={}", self.base, self.page);
            let page: Option<Vec<GithubRelease>> = self.http.get_json(&url).await?;
            let mut page = page.unwrap_or_default();
            if page.is_empty() {
                self.done = true;
            }
            // Insurance against GitHub returning them in the wrong order, within the page
            // only (`OrderByDescending(r => r.PublishedAt)`, stable; no date sorts last).
            page.sort_by_key(|r| std::cmp::Reverse(r.published_at));
            self.buffer.extend(page);
        }
        Ok(self.buffer.pop_front())
    }
}

/// The contents API URL for a text file on GitHub (`TryGetGitHubPath`):
/// `github.com/{o}/{r}/(blob|tree|raw)/{branch}/{path}` and
/// `raw.githubusercontent.com/{o}/{r}/[refs/heads/]{branch}/{path}` become
/// `repos/{o}/{r}/contents/{path}?ref={branch}`; anything else is `None`.
pub fn contents_api_url(url: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    let path = parsed.path().strip_prefix('/')?;
    let (owner, repo, branch, file) = match parsed.host_str()? {
        "github.com" => {
            let mut parts = path.splitn(5, '/');
            let (owner, repo, kind, branch, file) = (
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
            );
            if !matches!(kind, "blob" | "tree" | "raw") {
                return None;
            }
            (owner, repo, branch, file)
        }
        "raw.githubusercontent.com" => {
            let mut parts = path.splitn(3, '/');
            let (owner, repo, rest) = (parts.next()?, parts.next()?, parts.next()?);
            // `(refs/heads/)?` is optional and greedy: taken when a branch and a path follow.
            let rest = match rest.strip_prefix("refs/heads/") {
                Some(r)
                    if r.split_once('/')
                        .is_some_and(|(b, p)| !b.is_empty() && !p.is_empty()) =>
                {
                    r
                }
                _ => rest,
            };
            let (branch, file) = rest.split_once('/')?;
            (owner, repo, branch, file)
        }
        _ => return None,
    };
    if [owner, repo, branch, file].iter().any(|s| s.is_empty()) {
        return None;
    }
    Some(format!(
        "{GITHUB_API}/repos/{owner}/{repo}/contents/{file}?ref={branch}"
    ))
}

/// `owner/repo` of a `https://github.com/<owner>/<repo>[...]` URL (SpaceDock's
/// `source_code`), if it is one.
pub fn repo_of_url(url: &str) -> Option<(String, String)> {
    let parsed = Url::parse(url).ok()?;
    if parsed.host_str()? != "github.com" {
        return None;
    }
    let mut parts = parsed.path().strip_prefix('/')?.split('/');
    let owner = parts.next().filter(|s| !s.is_empty())?;
    let repo = parts.next().filter(|s| !s.is_empty())?;
    Some((owner.to_owned(), repo.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_file_urls_go_through_the_contents_api() {
        let api = |p: &str| format!("https://api.github.com/repos/{p}");
        assert_eq!(
            contents_api_url("https://github.com/o/r/raw/master/CKAN/X.netkan"),
            Some(api("o/r/contents/CKAN/X.netkan?ref=master"))
        );
        assert_eq!(
            contents_api_url("https://github.com/o/r/blob/main/X.version"),
            Some(api("o/r/contents/X.version?ref=main"))
        );
        assert_eq!(
            contents_api_url("https://raw.githubusercontent.com/o/r/dev/a/b.version"),
            Some(api("o/r/contents/a/b.version?ref=dev"))
        );
        assert_eq!(
            contents_api_url("https://raw.githubusercontent.com/o/r/refs/heads/main/X.netkan"),
            Some(api("o/r/contents/X.netkan?ref=main"))
        );
        assert_eq!(
            contents_api_url("https://github.com/o/r/releases/download/v1/x.zip"),
            None
        );
        assert_eq!(contents_api_url("https://github.com/o/r/blob/main"), None);
        assert_eq!(contents_api_url("https://example.com/o/r/raw/main/x"), None);
    }

    #[test]
    fn source_code_urls_name_their_repository() {
        assert_eq!(
            repo_of_url("https://github.com/a/b/tree/main"),
            Some(("a".into(), "b".into()))
        );
        assert_eq!(repo_of_url("https://gitlab.com/a/b"), None);
        assert_eq!(repo_of_url("https://github.com/a"), None);
    }

    #[test]
    fn repo_resources_leave_out_what_the_repo_lacks() {
        let repo: GithubRepo = serde_json::from_value(serde_json::json!({
            "html_url": "https://github.com/A/P", "homepage": "", "has_issues": true,
            "has_discussions": null, "has_wiki": false, "owner": {"login": "a"}
        }))
        .expect("repo");
        let r = repo.resources();
        assert_eq!(r["repository"], "https://github.com/A/P");
        assert_eq!(r["bugtracker"], "https://github.com/A/P/issues");
        assert!(r["homepage"].is_null() && r["discussions"].is_null() && r["manual"].is_null());
        assert_eq!(repo.owner.expect("owner").kind(), UserKind::User);
    }
}
