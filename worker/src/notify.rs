//! Notices for people outside the job logs: the reference posted new inflation errors and
//! warnings, and scheduler skips, to Discord. Here each notice is POSTed as JSON to
//! `notify.webhook_url` when one is set: `{"content": ..., "text": ..., "netkan": {...}}`,
//! which Discord (`content`, at most 2,000 characters) and Slack (`text`) webhooks accept.
//! A notice that cannot be delivered is logged and dropped: it never fails a job.

use netkan_common::config::Secret;
use serde_json::json;

/// Discord refuses longer `content`.
const DISCORD_MAX: usize = 2000;

/// What a notice is about, for receivers that sort them.
#[derive(Debug, Clone)]
pub struct Notice<'a> {
    /// `new_error`, `new_warnings`, `scheduler_skipped`, ...
    pub kind: &'a str,
    /// The game.
    pub game: &'a str,
    /// The mod, if the notice is about one.
    pub identifier: Option<&'a str>,
    /// The text for people.
    pub text: &'a str,
    /// The job's log page.
    pub log_url: &'a str,
}

/// Sends notices to the configured webhook, if any.
#[derive(Clone)]
pub struct Notifier {
    http: reqwest::Client,
    url: Secret,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("url", &self.url).finish()
    }
}

impl Notifier {
    /// A notifier posting to `url` (empty: notices go nowhere).
    pub fn new(http: reqwest::Client, url: Secret) -> Self {
        Self { http, url }
    }

    /// True if notices go somewhere.
    pub fn is_enabled(&self) -> bool {
        !self.url.is_empty()
    }

    /// Posts `notice`; `Err` says why it could not be delivered (without the URL, which
    /// holds a token).
    pub async fn send(&self, notice: &Notice<'_>) -> Result<(), String> {
        if !self.is_enabled() {
            return Ok(());
        }
        let content: String = if notice.text.chars().count() > DISCORD_MAX {
            let mut t: String = notice.text.chars().take(DISCORD_MAX - 1).collect();
            t.push('…');
            t
        } else {
            notice.text.to_owned()
        };
        let body = json!({
            "content": content,
            "text": notice.text,
            "netkan": {
                "kind": notice.kind,
                "game": notice.game,
                "identifier": notice.identifier,
                "log": notice.log_url,
            }
        });
        let resp = self
            .http
            .post(self.url.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("the notification webhook failed: {}", e.without_url()))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "the notification webhook answered HTTP {}",
                resp.status().as_u16()
            ))
        }
    }
}
