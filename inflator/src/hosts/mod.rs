//! API clients of the hosts a `$kref` can name (§9): what each reads and how it fails.
//! Each client reads only the fields the C# inflator reads (`Netkan/Sources/*`), with
//! `#[serde(default)]` wherever the C# model tolerates a missing field, so a host adding
//! or dropping an unrelated field changes nothing.
//!
//! All requests go through [`crate::http::HttpClient`] with canonical URLs; routing to
//! configured base URLs and the fixture upstream of tests happens there.

pub mod gitea;
pub mod github;
pub mod gitlab;
pub mod jenkins;
pub mod sourceforge;
pub mod spacedock;

use chrono::{DateTime, Utc};
use netkan_common::ckan::write::format_release_date;
use netkan_common::ckan::{Kref, Module, Object, RemoteRef};
use reqwest::Url;
use serde::{Deserialize, Deserializer};

/// The metadata's `$kref` if it names `source` (`metadata.Kref?.Source == ...`), parsed
/// with that kind's id rules; `None` for any other kref or none. A kref of another kind is
/// not parsed here, so a malformed one is reported by the validators, not by every step.
///
/// # Errors
/// `Metadata` when the kref names `source` but its id does not parse.
pub fn kref_of(json: &Object, source: &str) -> Result<Option<Kref>, crate::InflateError> {
    let Some(text) = json.get("$kref").and_then(serde_json::Value::as_str) else {
        return Ok(None);
    };
    if RemoteRef::parse(text).is_none_or(|r| r.source != source) {
        return Ok(None);
    }
    Ok(Module::new(json).kref()?)
}

/// `Net.NormalizeUri` (`Core/Net/Net.cs`): spaces become `+`, the characters .NET would not
/// escape by itself (`" < > ^ ` { | } [ ]`) are percent-escaped, `http://` is prepended
/// when there is no http(s) scheme, and the result must be a well-formed absolute URI, or
/// there is none (the resource is then left out).
pub fn normalize_uri(uri: &str) -> Option<String> {
    let mut escaped = String::with_capacity(uri.len());
    for c in uri.chars() {
        match c {
            ' ' => escaped.push('+'),
            '"' | '<' | '>' | '^' | '`' | '{' | '|' | '}' | '[' | ']' => {
                escaped.push_str(&format!("%{:02X}", c as u32));
            }
            c => escaped.push(c),
        }
    }
    let lower = escaped.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        escaped.insert_str(0, "http://");
    }
    is_well_formed_absolute(&escaped).then_some(escaped)
}

/// An approximation of `Uri.IsWellFormedUriString(s, UriKind.Absolute)` for http(s) URLs:
/// it parses, has a host, and holds no character a well-formed URI may not contain
/// unescaped (white space, controls, `\`, non-ASCII is allowed as IRI).
pub fn is_well_formed_absolute(s: &str) -> bool {
    if s.chars().any(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '\\' | '"' | '<' | '>' | '^' | '`' | '{' | '|' | '}')
    }) {
        return false;
    }
    Url::parse(s).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()))
}

/// `Net.GetRawUri`: a GitHub file page (`github.com/<user>/<project>/(blob|tree)/<branch>/<path>`)
/// becomes its `raw.githubusercontent.com` URL; `/raw/` URLs and anything else stay as they
/// are.
pub fn raw_uri(url: &str) -> String {
    let Ok(parsed) = Url::parse(url) else {
        return url.to_owned();
    };
    if !parsed
        .host_str()
        .is_some_and(|h| h.eq_ignore_ascii_case("github.com"))
    {
        return url.to_owned();
    }
    let segments: Vec<&str> = parsed.path().trim_start_matches('/').split('/').collect();
    // .NET's `Segments` counts the leading "/": index 3 there is index 2 here, and "at
    // least six segments" is at least five path components.
    let kind = segments.get(2).map(|s| s.to_ascii_lowercase());
    if segments.len() < 5 || !matches!(kind.as_deref(), Some("blob" | "tree")) {
        return url.to_owned();
    }
    let mut rest: Vec<&str> = segments.clone();
    rest.remove(2);
    let mut raw = parsed.clone();
    if raw.set_host(Some("raw.githubusercontent.com")).is_err() {
        return url.to_owned();
    }
    raw.set_path(&rest.join("/"));
    raw.to_string()
}

/// A host's date-time, parsed wherever one is read (`DateTime?` properties in the C#
/// models): RFC 3339 with any offset. Unparseable text is an absent date, as it cannot be
/// written as a `release_date` anyway.
pub fn deserialize_date<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    Ok(text.and_then(|t| parse_date(&t)))
}

/// RFC 3339 text as a UTC time.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A date as `release_date` text (Newtonsoft's UTC format, §12).
pub fn release_date(at: DateTime<Utc>) -> String {
    format_release_date(at)
}

/// `null` for a missing or null string, like Newtonsoft's `string?` properties; a number
/// (YAML or a host typing a version as a number) is read as its text.
pub fn deserialize_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value: Option<serde_json::Value> = Option::deserialize(d)?;
    Ok(match value {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(serde_json::Value::Bool(b)) => Some(if b { "True" } else { "False" }.to_owned()),
        _ => None,
    })
}

/// A bool that may be `null` (false), as Newtonsoft reads a `bool` with a default.
pub fn deserialize_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

/// `Uri.ToString()` of a URL a host's API gave, as the C# inflator writes downloads: .NET
/// unescapes `%20`, `%3A`, `%27`, `%28` and `%29` and keeps the rest as written (`%2C`).
pub fn uri_text(url: Option<&str>) -> Option<String> {
    url.map(netkan_common::ckan::names::csharp_uri_to_string)
}

/// `ToJValueOrJArray`: names without repeats; none is nothing, one is a string, more are
/// an array.
pub fn one_or_many(names: impl IntoIterator<Item = String>) -> Option<serde_json::Value> {
    let mut distinct: Vec<String> = Vec::new();
    for n in names {
        if !distinct.contains(&n) {
            distinct.push(n);
        }
    }
    match distinct.len() {
        0 => None,
        1 => distinct.pop().map(serde_json::Value::String),
        _ => Some(serde_json::Value::Array(
            distinct
                .into_iter()
                .map(serde_json::Value::String)
                .collect(),
        )),
    }
}

/// Removes `$kref`, keeping the order of the other properties (`JObject.Remove`).
pub fn remove_kref(json: &mut Object) {
    json.shift_remove("$kref");
}

/// A JSON object from pairs; `None` values become null, which `safe_merge` skips.
pub fn object<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<String>)>) -> Object {
    pairs
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_owned(),
                v.map_or(serde_json::Value::Null, serde_json::Value::String),
            )
        })
        .collect()
}

/// The releases a host transformer inflates: `SkipReleases` then `Releases` (`None`: all).
pub fn skip_take<T>(
    items: impl IntoIterator<Item = T>,
    skip: usize,
    take: Option<usize>,
) -> Vec<T> {
    let iter = items.into_iter().skip(skip);
    match take {
        Some(n) => iter.take(n).collect(),
        None => iter.collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_uri_escapes_what_dotnet_would_not() {
        assert_eq!(
            normalize_uri("https://forum.example/index.php?/topic/1-a b [x]|y").as_deref(),
            Some("https://forum.example/index.php?/topic/1-a+b+%5Bx%5D%7Cy")
        );
        assert_eq!(
            normalize_uri("forum.kerbalspaceprogram.com/topic/1").as_deref(),
            Some("http://forum.kerbalspaceprogram.com/topic/1")
        );
        assert_eq!(
            normalize_uri("HTTPS://a.example/x").as_deref(),
            Some("HTTPS://a.example/x")
        );
        assert_eq!(normalize_uri(""), None);
        assert_eq!(normalize_uri("http://"), None);
        // Parentheses and existing escapes stay as written.
        assert_eq!(
            normalize_uri("https://a.example/(x)%2C").as_deref(),
            Some("https://a.example/(x)%2C")
        );
    }

    #[test]
    fn raw_uri_rewrites_only_github_file_pages() {
        assert_eq!(
            raw_uri("https://github.com/u/p/blob/master/dir/X.version"),
            "https://raw.githubusercontent.com/u/p/master/dir/X.version"
        );
        assert_eq!(
            raw_uri("https://github.com/u/p/tree/main/X.netkan"),
            "https://raw.githubusercontent.com/u/p/main/X.netkan"
        );
        for same in [
            "https://github.com/u/p/raw/master/X.version",
            "https://github.com/u/p/releases/latest/download/X.version",
            "https://github.com/u/p/blob/master",
            "https://example.com/u/p/blob/master/x",
        ] {
            assert_eq!(raw_uri(same), same);
        }
    }

    #[test]
    fn dates_are_read_in_any_offset_and_written_in_utc() {
        let d = parse_date("2017-07-05T16:13:04.912024+00:00").expect("date");
        assert_eq!(release_date(d), "2017-07-05T16:13:04.912024Z");
        let d = parse_date("2021-03-04T05:06:07+01:00").expect("date");
        assert_eq!(release_date(d), "2021-03-04T04:06:07Z");
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn skip_take_takes_all_without_a_limit() {
        assert_eq!(skip_take(1..=5, 1, Some(2)), vec![2, 3]);
        assert_eq!(skip_take(1..=5, 3, None), vec![4, 5]);
        assert_eq!(skip_take(1..=2, 5, Some(1)), Vec::<i32>::new());
    }
}
