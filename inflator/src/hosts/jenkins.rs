//! Jenkins (`Netkan/Sources/Jenkins/*`, §9.5): `<job>/api/json` lists the builds, and each
//! build's `<url>api/json` says its result, artifacts and time. Builds are read one at a
//! time, only as many as the inflation needs (`GetAllBuilds` is lazy).

use chrono::{DateTime, Utc};
use netkan_common::ckan::module::JenkinsBuild as BuildType;
use serde::Deserialize;
use serde_json::Value;

use crate::InflateError;
use crate::http::HttpClient;

/// A build (`JenkinsBuild`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct JenkinsBuild {
    pub url: Option<String>,
    pub result: Option<String>,
    pub artifacts: Option<Vec<JenkinsArtifact>>,
    /// Milliseconds since 1970-01-01 UTC.
    pub timestamp: Option<i64>,
}

/// A build artifact.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct JenkinsArtifact {
    #[serde(rename = "fileName")]
    pub file_name: Option<String>,
    #[serde(rename = "relativePath")]
    pub relative_path: Option<String>,
}

impl JenkinsBuild {
    /// The build time.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.timestamp?)
    }
}

/// The Jenkins API of one server.
#[derive(Clone, Copy)]
pub struct JenkinsApi<'a> {
    http: &'a HttpClient,
}

impl<'a> JenkinsApi<'a> {
    /// The API over `http`.
    pub fn new(http: &'a HttpClient) -> Self {
        Self { http }
    }

    /// The job's builds whose result fits `build_type`, newest first, after skipping
    /// `skip` of them and stopping at `take` (`None`: all).
    ///
    /// # Errors
    /// As [`HttpClient::get_json`].
    pub async fn builds(
        &self,
        job_url: &str,
        build_type: BuildType,
        skip: usize,
        take: Option<usize>,
    ) -> Result<Vec<JenkinsBuild>, InflateError> {
        let job: Option<Value> = self
            .http
            .get_json(&format!(
                "{}/api/json",
                job_url.strip_suffix('/').unwrap_or(job_url)
            ))
            .await?;
        let entries: Vec<String> = job
            .as_ref()
            .and_then(|j| j.get("builds"))
            .and_then(Value::as_array)
            .map(|builds| {
                builds
                    .iter()
                    .filter_map(|b| b.get("url").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let wanted = build_type.required_result();
        let mut matched = 0;
        let mut out = Vec::new();
        for url in entries {
            if take.is_some_and(|t| out.len() >= t) {
                break;
            }
            let build: Option<JenkinsBuild> = self.http.get_json(&format!("{url}api/json")).await?;
            let Some(build) = build else { continue };
            if wanted.is_some_and(|w| build.result.as_deref() != Some(w)) {
                continue;
            }
            matched += 1;
            if matched > skip {
                out.push(build);
            }
        }
        Ok(out)
    }
}
