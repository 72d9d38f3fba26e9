//! The one HTTP client of a process: a `User-Agent` naming the project, timeouts, the
//! configured base URLs and rewrites (`hosts.*` in the settings), a size limit on downloads,
//! and the classification of failures into [`InflateError`]s (a throttled host is
//! `RateLimited`, a 5xx or network failure `Transient`, a 4xx `Host`).

use netkan_common::config::HostSettings;

use crate::InflateError;

/// The HTTP client, cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    settings: HostSettings,
}

impl HttpClient {
    /// A client for these host settings.
    ///
    /// # Errors
    /// If the TLS backend cannot be set up.
    pub fn new(settings: &HostSettings) -> Result<Self, InflateError> {
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .connect_timeout(std::time::Duration::from_secs(settings.timeout_secs))
            .build()
            .map_err(|e| InflateError::Local(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            settings: settings.clone(),
        })
    }

    /// The underlying client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The host settings (base URLs, tokens, limits).
    pub fn settings(&self) -> &HostSettings {
        &self.settings
    }
}
