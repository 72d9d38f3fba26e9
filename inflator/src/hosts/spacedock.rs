//! SpaceDock (`Netkan/Sources/Spacedock/*`, §9.2): `GET https://spacedock.info/api/mod/{id}`,
//! error bodies, the default version first, relative download paths, page URLs.

use chrono::{DateTime, Utc};
use netkan_common::ckan::names::csharp_uri_to_string;
use netkan_common::ckan::{GameVersion, Object};
use serde::Deserialize;
use serde_json::Value;

use super::{deserialize_date, deserialize_text, normalize_uri};
use crate::InflateError;
use crate::http::{HttpClient, RequestOptions, SPACEDOCK};

/// A mod (`SpacedockMod`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SpacedockMod {
    pub id: i64,
    pub license: Option<String>,
    pub name: Option<String>,
    pub short_description: Option<String>,
    pub author: Option<String>,
    pub versions: Option<Vec<SpacedockVersion>>,
    pub website: Option<String>,
    pub source_code: Option<String>,
    pub default_version_id: i64,
    pub shared_authors: Option<Vec<SpacedockUser>>,
    pub background: Option<String>,
}

/// A co-author.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SpacedockUser {
    pub username: Option<String>,
}

/// A version of a mod (`SpacedockVersion`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SpacedockVersion {
    pub id: i64,
    #[serde(deserialize_with = "deserialize_text")]
    pub friendly_version: Option<String>,
    #[serde(deserialize_with = "deserialize_text")]
    pub game_version: Option<String>,
    #[serde(deserialize_with = "deserialize_date")]
    pub created: Option<DateTime<Utc>>,
    pub download_path: Option<String>,
    pub changelog: Option<String>,
}

/// `{"error": true, "reason": ...}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SpacedockError {
    error: bool,
    #[serde(deserialize_with = "deserialize_text")]
    reason: Option<String>,
}

impl SpacedockMod {
    /// The versions, the default one (`default_version_id`) first, then in the API's order
    /// (newest first); GH #214 in CKAN.
    pub fn all(&self) -> Vec<&SpacedockVersion> {
        let versions = self.versions.as_deref().unwrap_or_default();
        let (default, rest): (Vec<_>, Vec<_>) = versions
            .iter()
            .partition(|v| v.id == self.default_version_id);
        default.into_iter().chain(rest).collect()
    }

    /// `https://spacedock.info/mod/{id}/{name}` with spaces as `%20` and nothing else
    /// escaped (`GetPageUrl`).
    pub fn page_url(&self) -> String {
        match &self.name {
            Some(name) => format!("{SPACEDOCK}/mod/{}/{}", self.id, name.replace(' ', "%20")),
            None => format!("{SPACEDOCK}/mod/{}", self.id),
        }
    }

    /// The resources a mod gives (`SpacedockMod.Resources`); null where there are none.
    pub fn resources(&self) -> Object {
        let normalized =
            |s: Option<&str>| normalize_uri(s.unwrap_or("")).map_or(Value::Null, Value::String);
        // `background` is a .NET Uri that is printed with ToString(), which unescapes a few
        // sequences (`%20` → space, then NormalizeUri makes that `+`).
        let background = self.background.as_deref().map(csharp_uri_to_string);
        let mut o = Object::new();
        o.insert("spacedock".into(), Value::String(self.page_url()));
        o.insert("homepage".into(), normalized(self.website.as_deref()));
        o.insert("repository".into(), normalized(self.source_code.as_deref()));
        o.insert("x_screenshot".into(), normalized(background.as_deref()));
        o
    }

    /// SpaceDock's license names mapped to CKAN's.
    pub fn ckan_license(&self) -> Option<String> {
        let license = self.license.as_deref()?;
        Some(
            match license {
                "GPLv2" => "GPL-2.0",
                "GPLv3" => "GPL-3.0",
                "Other" => "unknown",
                "ARR" | "All Rights Reserved" | "All rights reserved" => "restricted",
                other => return Some(other.trim().replace(' ', "-")),
            }
            .to_owned(),
        )
    }

    /// The author and the shared authors' user names, without repeats.
    pub fn authors(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let names = std::iter::once(self.author.clone()).chain(
            self.shared_authors
                .iter()
                .flatten()
                .map(|u| u.username.clone()),
        );
        for name in names.flatten() {
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }
}

impl SpacedockVersion {
    /// The absolute download URL: `https://spacedock.info/` + the path with spaces as `%20`
    /// (`JsonConvertFromRelativeSdUri`: escaping is otherwise SpaceDock's).
    pub fn download_url(&self) -> Option<String> {
        self.download_path.as_deref().map(|p| {
            format!(
                "{SPACEDOCK}/{}",
                p.replace(' ', "%20").trim_start_matches('/')
            )
        })
    }

    /// The game version, a two-part `X.Y` read as `X.Y.0` (SpaceDock trims `.0`, GH #1156),
    /// without its build part.
    ///
    /// # Errors
    /// `Host` when SpaceDock's text is not a game version.
    pub fn game_version(&self) -> Result<Option<GameVersion>, InflateError> {
        let Some(text) = self.game_version.as_deref() else {
            return Ok(None);
        };
        let two_parts = {
            let mut parts = text.split('.');
            matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None)
                if !a.is_empty() && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit()))
        };
        let expanded = if two_parts {
            format!("{text}.0")
        } else {
            text.to_owned()
        };
        GameVersion::parse(&expanded)
            .map(|g| Some(g.without_build()))
            .ok_or_else(|| {
                InflateError::Host(format!(
                    "SpaceDock version {} has game_version {text:?}, which is not a game version",
                    self.id
                ))
            })
    }
}

/// The SpaceDock API.
#[derive(Clone, Copy)]
pub struct SpacedockApi<'a> {
    http: &'a HttpClient,
}

impl<'a> SpacedockApi<'a> {
    /// The API over `http`.
    pub fn new(http: &'a HttpClient) -> Self {
        Self { http }
    }

    /// The mod `id`. SpaceDock answers errors with a JSON body, also on non-200 answers
    /// (`GetMod`).
    ///
    /// # Errors
    /// `Host` "Could not get the mod from SpaceDock, reason: …" for an error body
    /// (`Transient` when SpaceDock said 5xx), the status error for an error answer without
    /// one, `Host` for a body that is not a mod.
    pub async fn get_mod(&self, id: i64) -> Result<SpacedockMod, InflateError> {
        let url = format!("{SPACEDOCK}/api/mod/{id}");
        let reply = self.http.get_reply(&url, RequestOptions::default()).await?;
        let error: Option<SpacedockError> = serde_json::from_str(&reply.body).ok();
        if let Some(SpacedockError {
            error: true,
            reason,
        }) = error
        {
            let message = format!(
                "Could not get the mod from SpaceDock, reason: {}",
                reason.unwrap_or_default()
            );
            return Err(if reply.status.is_server_error() {
                InflateError::Transient(message)
            } else {
                InflateError::Host(message)
            });
        }
        let body = reply.into_success()?;
        crate::http::parse_json(&url, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sd(v: Value) -> SpacedockMod {
        serde_json::from_value(v).expect("a mod")
    }

    #[test]
    fn the_default_version_comes_first_then_the_api_order() {
        let m = sd(json!({"default_version_id": 2, "versions": [
            {"id": 3, "friendly_version": "3"}, {"id": 2, "friendly_version": "2"}, {"id": 1, "friendly_version": "1"}
        ]}));
        let order: Vec<i64> = m.all().iter().map(|v| v.id).collect();
        assert_eq!(order, vec![2, 3, 1]);
    }

    #[test]
    fn page_and_download_urls_escape_only_spaces() {
        let m = sd(json!({"id": 2377, "name": "Simple Hyperdrive! (HYPE) by Exodus_Solis"}));
        assert_eq!(
            m.page_url(),
            "https://spacedock.info/mod/2377/Simple%20Hyperdrive!%20(HYPE)%20by%20Exodus_Solis"
        );
        let v: SpacedockVersion = serde_json::from_value(json!({
            "download_path": "/mod/20/Unmanned Before%20Manned/download/1.3.0.2"
        }))
        .expect("version");
        assert_eq!(
            v.download_url().as_deref(),
            Some("https://spacedock.info/mod/20/Unmanned%20Before%20Manned/download/1.3.0.2")
        );
    }

    #[test]
    fn two_piece_game_versions_gain_a_zero() {
        let gv = |t: &str| {
            let v: SpacedockVersion =
                serde_json::from_value(json!({"game_version": t})).expect("version");
            v.game_version().expect("parses").map(|g| g.to_string())
        };
        assert_eq!(gv("1.12").as_deref(), Some("1.12.0"));
        assert_eq!(gv("1.3.0").as_deref(), Some("1.3.0"));
        assert_eq!(gv("1.12.5.3190").as_deref(), Some("1.12.5"));
        let bad: SpacedockVersion =
            serde_json::from_value(json!({"id": 9, "game_version": "soon"})).expect("v");
        assert!(bad.game_version().is_err());
    }

    #[test]
    fn licenses_map_to_ckan_names() {
        let lic = |l: &str| sd(json!({"license": l})).ckan_license();
        assert_eq!(lic("GPLv2").as_deref(), Some("GPL-2.0"));
        assert_eq!(lic("GPLv3").as_deref(), Some("GPL-3.0"));
        assert_eq!(lic("Other").as_deref(), Some("unknown"));
        assert_eq!(lic("ARR").as_deref(), Some("restricted"));
        assert_eq!(lic("All Rights Reserved").as_deref(), Some("restricted"));
        assert_eq!(lic("All rights reserved").as_deref(), Some("restricted"));
        assert_eq!(lic(" CC BY 4.0 ").as_deref(), Some("CC-BY-4.0"));
        assert_eq!(lic("MIT").as_deref(), Some("MIT"));
    }

    #[test]
    fn resources_are_normalized_and_the_screenshot_is_unescaped_first() {
        let m = sd(json!({
            "id": 1, "name": "A B", "website": "forum.example/topic/1 x", "source_code": "",
            "background": "https://spacedock.info/content/A%20B/shot.png"
        }));
        let r = m.resources();
        assert_eq!(r["spacedock"], "https://spacedock.info/mod/1/A%20B");
        assert_eq!(r["homepage"], "http://forum.example/topic/1+x");
        assert!(r["repository"].is_null());
        assert_eq!(
            r["x_screenshot"],
            "https://spacedock.info/content/A+B/shot.png"
        );
    }

    #[test]
    fn authors_include_shared_authors_once() {
        let m = sd(
            json!({"author": "a", "shared_authors": [{"username": "b"}, {"username": "a"}, {"username": null}]}),
        );
        assert_eq!(m.authors(), vec!["a", "b"]);
    }
}
