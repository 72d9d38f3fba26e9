//! GitLab (`Netkan/Sources/Gitlab/*`, §9.3): a project and its releases, at
//! `https://gitlab.com/api/v4/projects/{owner}%2F{repo}`.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{deserialize_bool, deserialize_date, deserialize_text};
use crate::InflateError;
use crate::http::{GITLAB_API, HttpClient};

/// A project (`GitlabProject`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GitlabProject {
    pub name: Option<String>,
    pub description: Option<String>,
    pub web_url: Option<String>,
    #[serde(deserialize_with = "deserialize_bool")]
    pub issues_enabled: bool,
    pub readme_url: Option<String>,
}

/// A release (`GitlabRelease`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GitlabRelease {
    #[serde(deserialize_with = "deserialize_text")]
    pub tag_name: Option<String>,
    pub author: Option<GitlabAuthor>,
    #[serde(deserialize_with = "deserialize_date")]
    pub released_at: Option<DateTime<Utc>>,
    pub assets: Option<GitlabAssets>,
}

/// `author.name`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GitlabAuthor {
    pub name: Option<String>,
}

/// `assets.sources`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GitlabAssets {
    pub sources: Vec<GitlabSource>,
}

/// One source archive.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GitlabSource {
    pub format: Option<String>,
    pub url: Option<String>,
}

impl GitlabRelease {
    /// The first source archive in `zip` format.
    pub fn zip_source(&self) -> Option<&str> {
        self.assets
            .as_ref()?
            .sources
            .iter()
            .find(|s| s.format.as_deref() == Some("zip"))
            .and_then(|s| s.url.as_deref())
    }
}

/// The GitLab API.
#[derive(Clone, Copy)]
pub struct GitlabApi<'a> {
    http: &'a HttpClient,
}

impl<'a> GitlabApi<'a> {
    /// The API over `http`.
    pub fn new(http: &'a HttpClient) -> Self {
        Self { http }
    }

    fn base(owner: &str, project: &str) -> String {
        format!("{GITLAB_API}/projects/{owner}%2F{project}")
    }

    /// The project, or `None` when GitLab has none (404).
    ///
    /// # Errors
    /// As [`HttpClient::get_reply`]; other error statuses and bad JSON are `Host`.
    pub async fn project(
        &self,
        owner: &str,
        project: &str,
    ) -> Result<Option<GitlabProject>, InflateError> {
        let url = Self::base(owner, project);
        self.http.get_json_or_404(&url).await
    }

    /// The project's releases, as GitLab orders them (newest first).
    ///
    /// # Errors
    /// As [`HttpClient::get_json`].
    pub async fn releases(
        &self,
        owner: &str,
        project: &str,
    ) -> Result<Vec<GitlabRelease>, InflateError> {
        let all: Option<Vec<GitlabRelease>> = self
            .http
            .get_json(&format!("{}/releases", Self::base(owner, project)))
            .await?;
        Ok(all.unwrap_or_default())
    }
}
