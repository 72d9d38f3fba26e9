//! Gitea and Forgejo (`Netkan/Sources/Gitea/*`, §9.4): a repository and its releases at
//! `https://{host}/api/v1`, the host taken from the `$kref` (tests route it with
//! `hosts.rewrite`).

use chrono::{DateTime, Utc};
use netkan_common::ckan::Object;
use serde::Deserialize;
use serde_json::Value;

use super::{deserialize_bool, deserialize_date, deserialize_text};
use crate::InflateError;
use crate::http::HttpClient;

/// A repository (`GiteaRepo`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GiteaRepo {
    pub name: Option<String>,
    pub full_name: Option<String>,
    pub html_url: Option<String>,
    pub description: Option<String>,
    pub website: Option<String>,
    pub owner: Option<GiteaUser>,
    #[serde(deserialize_with = "deserialize_bool")]
    pub has_issues: bool,
    #[serde(deserialize_with = "deserialize_bool")]
    pub has_wiki: bool,
    #[serde(deserialize_with = "deserialize_bool")]
    pub archived: bool,
}

/// `owner.login`, `author.login`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GiteaUser {
    pub login: Option<String>,
}

/// A release (`GiteaRelease`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GiteaRelease {
    #[serde(deserialize_with = "deserialize_text")]
    pub tag_name: Option<String>,
    #[serde(deserialize_with = "deserialize_bool")]
    pub prerelease: bool,
    #[serde(deserialize_with = "deserialize_date")]
    pub published_at: Option<DateTime<Utc>>,
    pub author: Option<GiteaUser>,
    pub assets: Option<Vec<GiteaAsset>>,
}

/// A release asset.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GiteaAsset {
    pub name: Option<String>,
    pub browser_download_url: Option<String>,
    #[serde(deserialize_with = "deserialize_date")]
    pub created_at: Option<DateTime<Utc>>,
}

impl GiteaRepo {
    /// The resources a repository gives (`GiteaRepo.Resources`): the website verbatim (not
    /// normalized, so an empty one stays empty), issues and wiki links by flag.
    pub fn resources(&self) -> Object {
        let html = self.html_url.clone();
        let under = |on: bool, tail: &str| match (&html, on) {
            (Some(h), true) => Value::String(format!("{h}/{tail}")),
            _ => Value::Null,
        };
        let mut o = Object::new();
        o.insert(
            "homepage".into(),
            self.website.clone().map_or(Value::Null, Value::String),
        );
        o.insert(
            "repository".into(),
            html.clone().map_or(Value::Null, Value::String),
        );
        o.insert("bugtracker".into(), under(self.has_issues, "issues"));
        o.insert("manual".into(), under(self.has_wiki, "wiki"));
        o
    }
}

impl GiteaRelease {
    /// The first asset whose name ends in `.zip` (case-sensitive, as `EndsWith(".zip")`).
    pub fn zip_asset(&self) -> Option<&GiteaAsset> {
        self.assets
            .as_ref()?
            .iter()
            .find(|a| a.name.as_deref().is_some_and(|n| n.ends_with(".zip")))
    }
}

/// The Gitea API of one host.
#[derive(Clone, Copy)]
pub struct GiteaApi<'a> {
    http: &'a HttpClient,
}

impl<'a> GiteaApi<'a> {
    /// The API over `http`.
    pub fn new(http: &'a HttpClient) -> Self {
        Self { http }
    }

    fn base(host: &str, owner: &str, repo: &str) -> String {
        format!("https://{host}/api/v1/repos/{owner}/{repo}")
    }

    /// The repository, or `None` when the host has none (404).
    ///
    /// # Errors
    /// As [`HttpClient::get_reply`]; other error statuses and bad JSON are `Host`.
    pub async fn repo(
        &self,
        host: &str,
        owner: &str,
        repo: &str,
    ) -> Result<Option<GiteaRepo>, InflateError> {
        let url = Self::base(host, owner, repo);
        self.http.get_json_or_404(&url).await
    }

    /// The repository's releases, in the host's order (newest first).
    ///
    /// # Errors
    /// As [`HttpClient::get_json`].
    pub async fn releases(
        &self,
        host: &str,
        owner: &str,
        repo: &str,
    ) -> Result<Vec<GiteaRelease>, InflateError> {
        let all: Option<Vec<GiteaRelease>> = self
            .http
            .get_json(&format!("{}/releases", Self::base(host, owner, repo)))
            .await?;
        Ok(all.unwrap_or_default())
    }
}
