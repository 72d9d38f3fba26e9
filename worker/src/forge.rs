//! The forge (GitHub REST) as the bot needs it: open a pull request with labels, or, when
//! one is already open for that branch, comment on it instead (NetKAN-Infra `github_pr.py`);
//! and read the core rate limit (the scheduler's gate).
//!
//! Base URL and token come from `[hosts]` (`github_api`, `github_token`), so tests and
//! GitHub Enterprise point it elsewhere. The token goes in a header only, never in a URL or
//! a message. Every process shares one `reqwest::Client` ([`http_client`]).

use std::time::Duration;

use netkan_common::config::{HostSettings, Secret};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

/// A failed call to the forge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForgeError {
    /// No token is configured; the forge cannot be written to.
    #[error("no GitHub token is configured (hosts.github_token)")]
    NoToken,
    /// The forge answered with an error status.
    #[error("{method} {path}: HTTP {status}: {message}")]
    Status {
        /// The method.
        method: String,
        /// The API path (no host, no token).
        path: String,
        /// The status code.
        status: u16,
        /// GitHub's `message`, with each `errors[].message` after ` - `.
        message: String,
    },
    /// The forge could not be reached or did not answer in time.
    #[error("{method} {path}: {message}")]
    Network {
        /// The method.
        method: String,
        /// The API path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The answer was not the JSON expected.
    #[error("{method} {path}: unexpected answer: {message}")]
    Decode {
        /// The method.
        method: String,
        /// The API path.
        path: String,
        /// What was wrong with it.
        message: String,
    },
}

impl ForgeError {
    /// True if trying again later may work (network trouble, 5xx, rate limiting).
    pub fn is_transient(&self) -> bool {
        match self {
            ForgeError::Network { .. } => true,
            ForgeError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 403,
            ForgeError::NoToken | ForgeError::Decode { .. } => false,
        }
    }
}

/// The process's HTTP client for API calls: `hosts.user_agent`, `hosts.timeout_secs`.
///
/// # Errors
/// If the TLS backend cannot be set up.
pub fn http_client(hosts: &HostSettings) -> anyhow::Result<reqwest::Client> {
    let t = Duration::from_secs(hosts.timeout_secs);
    Ok(reqwest::Client::builder()
        .user_agent(hosts.user_agent.clone())
        .connect_timeout(t)
        .timeout(t)
        .build()?)
}

/// A pull request to open.
#[derive(Debug, Clone)]
pub struct PullRequest<'a> {
    /// `owner/name` of the repository.
    pub repo: &'a str,
    /// The branch with the changes (in the same repository).
    pub branch: &'a str,
    /// Title.
    pub title: &'a str,
    /// Body (Markdown); also the comment when a pull request for the branch is already open.
    pub body: &'a str,
    /// Labels to set on a new pull request.
    pub labels: &'a [&'a str],
}

/// What [`Forge::open_pull_request`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A new pull request.
    Created {
        /// Its number.
        number: u64,
        /// Its page.
        url: String,
    },
    /// One was already open for the branch: the body was posted on it as a comment.
    Commented {
        /// Its number.
        number: u64,
        /// Its page.
        url: String,
    },
}

impl Opened {
    /// The pull request's number.
    pub fn number(&self) -> u64 {
        match self {
            Opened::Created { number, .. } | Opened::Commented { number, .. } => *number,
        }
    }
}

/// GitHub's core rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct RateLimit {
    /// Calls per hour.
    pub limit: u64,
    /// Calls left in this hour.
    pub remaining: u64,
    /// When it resets (Unix seconds).
    pub reset: u64,
}

#[derive(Deserialize)]
struct PullAnswer {
    number: u64,
    html_url: String,
}

/// A GitHub REST client for one API base and token.
#[derive(Clone)]
pub struct Forge {
    http: reqwest::Client,
    api: String,
    token: Secret,
}

impl std::fmt::Debug for Forge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forge")
            .field("api", &self.api)
            .field("token", &self.token)
            .finish()
    }
}

impl Forge {
    /// A client of `hosts.github_api` with `hosts.github_token`, over the shared `http`.
    pub fn new(http: reqwest::Client, hosts: &HostSettings) -> Self {
        Self {
            http,
            api: hosts.github_api.trim_end_matches('/').to_owned(),
            token: hosts.github_token.clone(),
        }
    }

    /// True if a token is configured (pull requests possible, higher rate limit).
    pub fn has_token(&self) -> bool {
        !self.token.is_empty()
    }

    /// One REST call: `path` under the API base, with GitHub's headers and the token; the
    /// answer's JSON (`null` for an empty body), or the error with GitHub's message.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ForgeError> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.api))
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28");
        if !self.token.is_empty() {
            req = req.bearer_auth(self.token.expose());
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let network = |e: reqwest::Error| ForgeError::Network {
            method: method.to_string(),
            path: path.to_owned(),
            // Without the URL: it is ours, and it is in `path` already.
            message: e.without_url().to_string(),
        };
        let resp = req.send().await.map_err(network)?;
        let status = resp.status();
        let text = resp.text().await.map_err(network)?;
        let parsed = if text.trim().is_empty() {
            Ok(Value::Null)
        } else {
            serde_json::from_str::<Value>(&text)
        };
        if !status.is_success() {
            // A proxy's HTML error page is still the status it came with (a 502 is worth
            // retrying), not an undecodable answer.
            return Err(ForgeError::Status {
                method: method.to_string(),
                path: path.to_owned(),
                status: status.as_u16(),
                message: error_message(&parsed.unwrap_or(Value::Null)),
            });
        }
        parsed.map_err(|e| ForgeError::Decode {
            method: method.to_string(),
            path: path.to_owned(),
            message: format!("{e} (HTTP {status})"),
        })
    }

    /// A `GET` of `path`, decoded as `T`.
    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ForgeError> {
        let v = self.call(Method::GET, path, None).await?;
        Self::decode(&Method::GET, path, v)
    }

    fn decode<T: serde::de::DeserializeOwned>(
        method: &Method,
        path: &str,
        v: Value,
    ) -> Result<T, ForgeError> {
        serde_json::from_value(v).map_err(|e| ForgeError::Decode {
            method: method.to_string(),
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// The repository's default branch (the base of the bot's pull requests).
    pub async fn default_branch(&self, repo: &str) -> Result<String, ForgeError> {
        let path = format!("/repos/{repo}");
        let v = self.call(Method::GET, &path, None).await?;
        #[derive(Deserialize)]
        struct Repo {
            default_branch: String,
        }
        Ok(Self::decode::<Repo>(&Method::GET, &path, v)?.default_branch)
    }

    /// Opens a pull request of `pr.branch` into the repository's default branch and sets its
    /// labels. If GitHub refuses it (usually: one is already open for the branch), posts
    /// `pr.body` as a comment on each open pull request of `<owner>:<branch>` instead; with
    /// none open, the refusal is the error.
    pub async fn open_pull_request(&self, pr: &PullRequest<'_>) -> Result<Opened, ForgeError> {
        if !self.has_token() {
            return Err(ForgeError::NoToken);
        }
        let base = self.default_branch(pr.repo).await?;
        let path = format!("/repos/{}/pulls", pr.repo);
        let created = self
            .call(
                Method::POST,
                &path,
                Some(json!({"title": pr.title, "head": pr.branch, "base": base, "body": pr.body})),
            )
            .await;
        match created {
            Ok(v) => {
                let a: PullAnswer = Self::decode(&Method::POST, &path, v)?;
                if !pr.labels.is_empty() {
                    self.set_labels(pr.repo, a.number, pr.labels).await?;
                }
                Ok(Opened::Created {
                    number: a.number,
                    url: a.html_url,
                })
            }
            Err(refused @ ForgeError::Status { status: 422, .. }) => {
                let open = self.open_pull_requests(pr.repo, pr.branch).await?;
                let Some(first) = open.first().map(|p| (p.number, p.html_url.clone())) else {
                    return Err(refused);
                };
                for p in &open {
                    self.comment(pr.repo, p.number, pr.body).await?;
                }
                Ok(Opened::Commented {
                    number: first.0,
                    url: first.1,
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn open_pull_requests(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<Vec<PullAnswer>, ForgeError> {
        let owner = repo.split('/').next().unwrap_or(repo);
        let head: String = form_urlencoded(&format!("{owner}:{branch}"));
        let path = format!("/repos/{repo}/pulls?state=open&head={head}");
        let v = self.call(Method::GET, &path, None).await?;
        Self::decode(&Method::GET, &path, v)
    }

    /// Replaces the labels of issue or pull request `number`.
    pub async fn set_labels(
        &self,
        repo: &str,
        number: u64,
        labels: &[&str],
    ) -> Result<(), ForgeError> {
        let path = format!("/repos/{repo}/issues/{number}/labels");
        self.call(Method::PUT, &path, Some(json!({ "labels": labels })))
            .await?;
        Ok(())
    }

    /// Posts a comment on issue or pull request `number`.
    pub async fn comment(&self, repo: &str, number: u64, body: &str) -> Result<(), ForgeError> {
        let path = format!("/repos/{repo}/issues/{number}/comments");
        self.call(Method::POST, &path, Some(json!({ "body": body })))
            .await?;
        Ok(())
    }

    /// The core rate limit (`GET /rate_limit`; the call itself is free).
    pub async fn rate_limit(&self) -> Result<RateLimit, ForgeError> {
        let path = "/rate_limit";
        let v = self.call(Method::GET, path, None).await?;
        let core = v.pointer("/resources/core").cloned().unwrap_or(Value::Null);
        Self::decode(&Method::GET, path, core)
    }
}

/// GitHub's error text: `message`, then ` - ` and each `errors[].message` (or its `code`),
/// as NetKAN-Infra logs a `GithubException`.
fn error_message(v: &Value) -> String {
    let mut parts = vec![
        v.get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message")
            .to_owned(),
    ];
    for e in v
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(m) = e
            .get("message")
            .or_else(|| e.get("code"))
            .and_then(Value::as_str)
        {
            parts.push(m.to_owned());
        }
    }
    parts.join(" - ")
}

/// Percent-encodes a query value (branch names may hold `/`, `+` and other reserved bytes).
fn form_urlencoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_errors_read_like_the_reference_logs_them() {
        let v = json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for KSP-CKAN:add/Foo-1."}]});
        assert_eq!(
            error_message(&v),
            "Validation Failed - A pull request already exists for KSP-CKAN:add/Foo-1."
        );
        assert_eq!(
            form_urlencoded("KSP-CKAN:add/Foo 1+2"),
            "KSP-CKAN:add%2FFoo%201%2B2"
        );
    }
}
