//! SourceForge (`Netkan/Sources/SourceForge/*`, §9.6): the project's RSS feed at
//! `https://sourceforge.net/projects/<name>/rss`; items whose title ends in `.zip` are the
//! versions. Read with quick-xml rather than by hand: feeds carry CDATA titles, entities
//! and namespaced elements (`media:content`), which a hand parser would get wrong.

use chrono::{DateTime, Utc};
use quick_xml::events::Event;

use crate::InflateError;
use crate::http::{HttpClient, SOURCEFORGE};

/// A project's feed (`SourceForgeMod`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceForgeMod {
    /// `channel.title`.
    pub title: String,
    /// `channel.description`.
    pub description: String,
    /// `https://sourceforge.net/projects/<name>/`.
    pub homepage: String,
    /// `https://sourceforge.net/p/<name>/code/`.
    pub repository: String,
    /// `https://sourceforge.net/p/<name>/bugs/`.
    pub bugtracker: String,
    /// The `.zip` items, in feed order (newest first).
    pub versions: Vec<SourceForgeVersion>,
}

/// One `.zip` item (`SourceForgeVersion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceForgeVersion {
    /// The title without leading `/`.
    pub title: String,
    /// The item's one `link`.
    pub link: String,
    /// `pubDate`.
    pub timestamp: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct Item {
    title: String,
    links: Vec<String>,
    pub_date: Option<String>,
}

/// Parses a feed for project `name`.
///
/// # Errors
/// `Host` when the text is not RSS, or a `.zip` item has no link or several
/// (`item.Links.Single()`).
pub fn parse_feed(name: &str, xml: &str) -> Result<SourceForgeMod, InflateError> {
    let bad = |why: String| InflateError::Host(format!("the SourceForge feed of {name} {why}"));
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let (mut title, mut description) = (None, None);
    let mut item: Option<Item> = None;
    let mut items = Vec::new();
    let mut saw_channel = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| bad(format!("is not valid XML: {e}")))?;
        match event {
            Event::Start(start) => {
                let local = start.local_name().as_ref().to_owned();
                if local == "channel" {
                    saw_channel = true;
                }
                if local == "item" && path.last().is_some_and(|p| p == "channel") {
                    item = Some(Item::default());
                }
                path.push(local);
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(c) => text.push_str(&c.xml10_content()),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                _ => match quick_xml::escape::resolve_predefined_entity(&r) {
                    Some(s) => text.push_str(s),
                    None => {
                        text.push('&');
                        text.push_str(&r);
                        text.push(';');
                    }
                },
            },
            Event::End(_) => {
                let here: Vec<&str> = path.iter().map(String::as_str).collect();
                let value = text.trim().to_owned();
                match here.as_slice() {
                    [.., "channel", "title"] => title = Some(value),
                    [.., "channel", "description"] => description = Some(value),
                    [.., "channel", "item", "title"] => {
                        if let Some(i) = item.as_mut() {
                            i.title = value;
                        }
                    }
                    [.., "channel", "item", "link"] => {
                        if let Some(i) = item.as_mut() {
                            i.links.push(value);
                        }
                    }
                    [.., "channel", "item", "pubDate"] => {
                        if let Some(i) = item.as_mut() {
                            i.pub_date = Some(value);
                        }
                    }
                    [.., "channel", "item"] => items.extend(item.take()),
                    _ => {}
                }
                path.pop();
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_channel {
        return Err(bad("has no channel".into()));
    }
    let versions = items
        .into_iter()
        .filter(|i| i.title.to_ascii_lowercase().ends_with(".zip"))
        .map(|i| {
            let [link] = <[String; 1]>::try_from(i.links).map_err(|links| {
                bad(format!(
                    "item {} has {} links, not one",
                    i.title,
                    links.len()
                ))
            })?;
            Ok(SourceForgeVersion {
                title: i.title.trim_start_matches('/').to_owned(),
                link,
                timestamp: i.pub_date.as_deref().and_then(parse_pub_date),
            })
        })
        .collect::<Result<Vec<_>, InflateError>>()?;
    Ok(SourceForgeMod {
        title: title.unwrap_or_default(),
        description: description.unwrap_or_default(),
        homepage: format!("{SOURCEFORGE}/projects/{name}/"),
        repository: format!("{SOURCEFORGE}/p/{name}/code/"),
        bugtracker: format!("{SOURCEFORGE}/p/{name}/bugs/"),
        versions,
    })
}

/// RSS dates are RFC 822 (`Thu, 04 Mar 2021 05:06:07 UT`).
fn parse_pub_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// The SourceForge feed reader.
#[derive(Clone, Copy)]
pub struct SourceForgeApi<'a> {
    http: &'a HttpClient,
}

impl<'a> SourceForgeApi<'a> {
    /// The API over `http`.
    pub fn new(http: &'a HttpClient) -> Self {
        Self { http }
    }

    /// The project's feed.
    ///
    /// # Errors
    /// As [`HttpClient::get_text`] and [`parse_feed`].
    pub async fn project(&self, name: &str) -> Result<SourceForgeMod, InflateError> {
        let xml = self
            .http
            .get_text(&format!("{SOURCEFORGE}/projects/{name}/rss"))
            .await?;
        parse_feed(name, &xml)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:media="http://video.search.yahoo.com/mrss/" version="2.0">
  <channel>
    <title>KSP Mod &amp; Friends</title>
    <link>https://sourceforge.net</link>
    <description><![CDATA[Files from KSP Mod]]></description>
    <item>
      <title><![CDATA[/KSPMod-1.1.zip]]></title>
      <link>https://sourceforge.net/projects/kspmod/files/KSPMod-1.1.zip/download</link>
      <pubDate>Thu, 04 Mar 2021 05:06:07 UT</pubDate>
      <media:content type="application/zip" url="https://sourceforge.net/x" filesize="1"><media:title>zip</media:title></media:content>
    </item>
    <item>
      <title><![CDATA[/README.txt]]></title>
      <link>https://sourceforge.net/projects/kspmod/files/README.txt/download</link>
      <pubDate>Wed, 03 Mar 2021 05:06:07 UT</pubDate>
    </item>
    <item>
      <title>/KSPMod-1.0.ZIP</title>
      <link>https://sourceforge.net/projects/kspmod/files/KSPMod-1.0.ZIP/download</link>
      <pubDate>Mon, 01 Feb 2021 10:00:00 +0100</pubDate>
    </item>
  </channel>
</rss>"#;

    #[test]
    fn a_feed_gives_title_links_and_zip_versions() {
        let m = parse_feed("kspmod", FEED).expect("feed");
        assert_eq!(m.title, "KSP Mod & Friends");
        assert_eq!(m.description, "Files from KSP Mod");
        assert_eq!(m.homepage, "https://sourceforge.net/projects/kspmod/");
        assert_eq!(m.repository, "https://sourceforge.net/p/kspmod/code/");
        assert_eq!(m.bugtracker, "https://sourceforge.net/p/kspmod/bugs/");
        let titles: Vec<&str> = m.versions.iter().map(|v| v.title.as_str()).collect();
        assert_eq!(titles, vec!["KSPMod-1.1.zip", "KSPMod-1.0.ZIP"]);
        assert_eq!(
            m.versions[0].link,
            "https://sourceforge.net/projects/kspmod/files/KSPMod-1.1.zip/download"
        );
        assert_eq!(
            m.versions[0].timestamp.map(|t| t.to_rfc3339()),
            Some("2021-03-04T05:06:07+00:00".to_owned())
        );
        assert_eq!(
            m.versions[1].timestamp.map(|t| t.to_rfc3339()),
            Some("2021-02-01T09:00:00+00:00".to_owned())
        );
    }

    #[test]
    fn an_item_without_one_link_is_refused() {
        let xml = "<rss><channel><title>t</title><item><title>a.zip</title></item></channel></rss>";
        let err = parse_feed("p", xml).expect_err("no link");
        assert_eq!(
            err.to_string(),
            "the SourceForge feed of p item a.zip has 0 links, not one"
        );
        assert!(parse_feed("p", "<html><body>nope</body></html>").is_err());
        assert!(parse_feed("p", "<rss><channel><title>x</rss>").is_err());
    }
}
