//! What the mirrorer makes of one `.ckan` (NetKAN-Infra `mirrorer.py` `CkanMirror` and
//! `metadata.py` `Ckan`): whether it may be mirrored, the archive.org item and file names,
//! the item metadata, the upload headers and the source-archive URL.
//!
//! Pure functions of the module's JSON: no I/O, so every name and metadata value is checked
//! by unit tests against the reference's test vectors.

use netkan_common::ckan::module::Kind;
use netkan_common::ckan::names::{
    REDISTRIBUTABLE_LICENSES, content_type_extension, mirror_filename, mirror_item,
    mirror_source_filename, mirror_version,
};
use netkan_common::ckan::{CkanError, Module};

/// `LICENSE_URLS` of `mirrorer.py`: the licences archive.org's `licenseurl` can name. Some
/// redistributable licences (BSD-4-clause, GFDL-1.0, GFDL-NIV-*, WTFPL, public-domain,
/// open-source, unrestricted) have none, as in the reference.
const LICENSE_URLS: [(&str, &str); 74] = [
    ("Apache", "http://www.apache.org/licenses/LICENSE-1.0"),
    ("Apache-1.0", "http://www.apache.org/licenses/LICENSE-1.0"),
    ("Apache-2.0", "http://www.apache.org/licenses/LICENSE-2.0"),
    (
        "Artistic",
        "https://directory.fsf.org/wiki/License:Artistic-1.0",
    ),
    (
        "Artistic-1.0",
        "https://directory.fsf.org/wiki/License:Artistic-1.0",
    ),
    (
        "Artistic-2.0",
        "https://directory.fsf.org/wiki/License:Artistic-2.0",
    ),
    (
        "BSD-2-clause",
        "https://opensource.org/licenses/BSD-2-Clause",
    ),
    (
        "BSD-3-clause",
        "https://opensource.org/licenses/BSD-3-Clause",
    ),
    ("ISC", "https://opensource.org/licenses/ISC"),
    ("CC-BY", "https://creativecommons.org/licenses/by/1.0/"),
    ("CC-BY-1.0", "https://creativecommons.org/licenses/by/1.0/"),
    ("CC-BY-2.0", "https://creativecommons.org/licenses/by/2.0/"),
    ("CC-BY-2.5", "https://creativecommons.org/licenses/by/2.5/"),
    ("CC-BY-3.0", "https://creativecommons.org/licenses/by/3.0/"),
    ("CC-BY-4.0", "https://creativecommons.org/licenses/by/4.0/"),
    (
        "CC-BY-SA",
        "https://creativecommons.org/licenses/by-sa/1.0/",
    ),
    (
        "CC-BY-SA-1.0",
        "https://creativecommons.org/licenses/by-sa/1.0/",
    ),
    (
        "CC-BY-SA-2.0",
        "https://creativecommons.org/licenses/by-sa/2.0/",
    ),
    (
        "CC-BY-SA-2.5",
        "https://creativecommons.org/licenses/by-sa/2.5/",
    ),
    (
        "CC-BY-SA-3.0",
        "https://creativecommons.org/licenses/by-sa/3.0/",
    ),
    (
        "CC-BY-SA-4.0",
        "https://creativecommons.org/licenses/by-sa/4.0/",
    ),
    (
        "CC-BY-NC",
        "https://creativecommons.org/licenses/by-nc/1.0/",
    ),
    (
        "CC-BY-NC-1.0",
        "https://creativecommons.org/licenses/by-nc/1.0/",
    ),
    (
        "CC-BY-NC-2.0",
        "https://creativecommons.org/licenses/by-nc/2.0/",
    ),
    (
        "CC-BY-NC-2.5",
        "https://creativecommons.org/licenses/by-nc/2.5/",
    ),
    (
        "CC-BY-NC-3.0",
        "https://creativecommons.org/licenses/by-nc/3.0/",
    ),
    (
        "CC-BY-NC-4.0",
        "https://creativecommons.org/licenses/by-nc/4.0/",
    ),
    (
        "CC-BY-NC-SA",
        "http://creativecommons.org/licenses/by-nc-sa/1.0/",
    ),
    (
        "CC-BY-NC-SA-1.0",
        "http://creativecommons.org/licenses/by-nc-sa/1.0",
    ),
    (
        "CC-BY-NC-SA-2.0",
        "http://creativecommons.org/licenses/by-nc-sa/2.0",
    ),
    (
        "CC-BY-NC-SA-2.5",
        "http://creativecommons.org/licenses/by-nc-sa/2.5",
    ),
    (
        "CC-BY-NC-SA-3.0",
        "http://creativecommons.org/licenses/by-nc-sa/3.0",
    ),
    (
        "CC-BY-NC-SA-4.0",
        "http://creativecommons.org/licenses/by-nc-sa/4.0",
    ),
    (
        "CC-BY-NC-ND",
        "https://creativecommons.org/licenses/by-nd-nc/1.0/",
    ),
    (
        "CC-BY-NC-ND-1.0",
        "https://creativecommons.org/licenses/by-nd-nc/1.0/",
    ),
    (
        "CC-BY-NC-ND-2.0",
        "https://creativecommons.org/licenses/by-nd-nc/2.0/",
    ),
    (
        "CC-BY-NC-ND-2.5",
        "https://creativecommons.org/licenses/by-nd-nc/2.5/",
    ),
    (
        "CC-BY-NC-ND-3.0",
        "https://creativecommons.org/licenses/by-nd-nc/3.0/",
    ),
    (
        "CC-BY-NC-ND-4.0",
        "https://creativecommons.org/licenses/by-nd-nc/4.0/",
    ),
    (
        "CC-BY-ND",
        "https://creativecommons.org/licenses/by-nd/1.0/",
    ),
    (
        "CC-BY-ND-1.0",
        "https://creativecommons.org/licenses/by-nd/1.0/",
    ),
    (
        "CC-BY-ND-2.0",
        "https://creativecommons.org/licenses/by-nd/2.0/",
    ),
    (
        "CC-BY-ND-2.5",
        "https://creativecommons.org/licenses/by-nd/2.5/",
    ),
    (
        "CC-BY-ND-3.0",
        "https://creativecommons.org/licenses/by-nd/3.0/",
    ),
    (
        "CC-BY-ND-4.0",
        "https://creativecommons.org/licenses/by-nd/4.0/",
    ),
    ("CC0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    ("CDDL", "https://opensource.org/licenses/CDDL-1.0"),
    ("CPL", "https://opensource.org/licenses/cpl1.0.php"),
    ("EFL-1.0", "https://opensource.org/licenses/ver1_eiffel"),
    ("EFL-2.0", "https://opensource.org/licenses/EFL-2.0"),
    ("Expat", "https://opensource.org/licenses/MIT"),
    ("MIT", "https://opensource.org/licenses/MIT"),
    (
        "GPL-1.0",
        "http://www.gnu.org/licenses/old-licenses/gpl-1.0.en.html",
    ),
    (
        "GPL-2.0",
        "http://www.gnu.org/licenses/old-licenses/gpl-2.0.en.html",
    ),
    ("GPL-3.0", "http://www.gnu.org/licenses/gpl-3.0.en.html"),
    (
        "LGPL-2.0",
        "https://www.gnu.org/licenses/old-licenses/lgpl-2.0.html",
    ),
    (
        "LGPL-2.1",
        "https://www.gnu.org/licenses/old-licenses/lgpl-2.1.html",
    ),
    ("LGPL-3.0", "http://www.gnu.org/licenses/lgpl-3.0.en.html"),
    (
        "GFDL-1.1",
        "http://www.gnu.org/licenses/old-licenses/fdl-1.1.en.html",
    ),
    (
        "GFDL-1.2",
        "http://www.gnu.org/licenses/old-licenses/fdl-1.2.html",
    ),
    ("GFDL-1.3", "http://www.gnu.org/licenses/fdl-1.3.en.html"),
    ("LPPL-1.0", "https://latex-project.org/lppl/lppl-1-0.html"),
    ("LPPL-1.1", "https://latex-project.org/lppl/lppl-1-1.html"),
    ("LPPL-1.2", "https://latex-project.org/lppl/lppl-1-2.html"),
    ("LPPL-1.3c", "https://latex-project.org/lppl/lppl-1-3c.html"),
    ("MPL-1.1", "https://www.mozilla.org/en-US/MPL/1.1/"),
    ("MPL-2.0", "https://www.mozilla.org/en-US/MPL/2.0/"),
    ("Perl", "http://dev.perl.org/licenses/"),
    (
        "Python-2.0",
        "https://www.python.org/download/releases/2.0/license/",
    ),
    ("QPL-1.0", "https://opensource.org/licenses/QPL-1.0"),
    ("W3C", "https://www.w3.org/copyright/software-license-2023/"),
    ("Zlib", "http://www.zlib.net/zlib_license.html"),
    ("Zope", "http://old.zope.org/Resources/License.1"),
    ("Unlicense", "https://unlicense.org/UNLICENSE"),
];

/// archive.org's `subject` of every item.
const SUBJECT: &str = "ksp; kerbal space program; mod";
/// archive.org's `mediatype` of every item.
const MEDIATYPE: &str = "software";

/// Why a module is not mirrored; the job succeeds and says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotMirrorable {
    /// `kind` is `metapackage` or `dlc`: there is nothing to download.
    Kind(&'static str),
    /// `download_content_type` is missing or not an archive type the mirror knows.
    ContentType(Option<String>),
    /// None of the licences lets archive.org keep a copy.
    Licence(Vec<String>),
    /// No `download`.
    NoDownload,
    /// No `version`.
    NoVersion,
    /// No `download_hash` (the file name is built from it).
    NoHash,
}

impl std::fmt::Display for NotMirrorable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotMirrorable::Kind(kind) => write!(f, "kind {kind} has no download"),
            NotMirrorable::ContentType(None) => f.write_str("no download_content_type"),
            NotMirrorable::ContentType(Some(t)) => {
                write!(
                    f,
                    "download_content_type {t} is not an archive type the mirror knows"
                )
            }
            NotMirrorable::Licence(ls) if ls.is_empty() => f.write_str("no licence"),
            NotMirrorable::Licence(ls) => {
                let s = if ls.len() == 1 { "" } else { "s" };
                write!(f, "{} licence{s}", ls.join(", "))
            }
            NotMirrorable::NoDownload => f.write_str("no download URL"),
            NotMirrorable::NoVersion => f.write_str("no version"),
            NotMirrorable::NoHash => f.write_str("no download_hash"),
        }
    }
}

/// Everything the mirrorer needs to know about one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorPlan {
    /// The `.ckan`'s identifier.
    pub identifier: String,
    /// The archive.org item (bucket): `mirror_item`.
    pub item: String,
    /// The download's file name in the item: `mirror_filename`.
    pub filename: String,
    /// The source archive's file name in the item: `mirror_source_filename`.
    pub source_filename: String,
    /// The URL the download is fetched from (`download`, the first if a list).
    pub download_url: String,
    /// `download_content_type`.
    pub content_type: String,
    /// `download_size`, if the metadata has it.
    pub size: Option<u64>,
    /// `download_hash.sha1`, if present.
    pub sha1: Option<String>,
    /// `download_hash.sha256`, if present.
    pub sha256: Option<String>,
    /// `resources.repository`, if present.
    pub repository: Option<String>,
    /// The item's metadata.
    pub metadata: ItemMetadata,
}

/// The metadata of an archive.org item (`CkanMirror.item_metadata`), in the reference's key
/// order. Lists become numbered headers (`x-archive-meta00-creator`, `...01-creator`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemMetadata {
    /// `(key, values)`; a single value is a one-element list.
    pub fields: Vec<(&'static str, MetaValue)>,
}

/// One metadata value: a string, or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaValue {
    /// One string.
    One(String),
    /// A list (`creator`, `licenseurl`).
    Many(Vec<String>),
}

impl MetaValue {
    /// The values, one or many.
    pub fn values(&self) -> Vec<&str> {
        match self {
            MetaValue::One(s) => vec![s.as_str()],
            MetaValue::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }

    /// As JSON: a string or an array of strings.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            MetaValue::One(s) => serde_json::Value::String(s.clone()),
            MetaValue::Many(v) => {
                serde_json::Value::Array(v.iter().cloned().map(serde_json::Value::String).collect())
            }
        }
    }
}

impl ItemMetadata {
    /// As a JSON object in key order (what the directory target writes).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_json()))
                .collect(),
        )
    }

    /// One field's value.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// `license_urls()`: the known URLs of the module's licences, in licence order.
pub fn license_urls(licenses: &[&str]) -> Vec<&'static str> {
    licenses
        .iter()
        .filter_map(|l| LICENSE_URLS.iter().find(|(k, _)| k == l).map(|(_, u)| *u))
        .collect()
}

/// `mirror_description_template.jinja2`: `<abstract><br>`, then the homepage and repository
/// links when present, then the licences.
pub fn description(module: &Module<'_>) -> Result<String, CkanError> {
    let mut out = String::new();
    out.push_str(module.abstract_text()?.unwrap_or_default());
    out.push_str("<br>");
    for (resource, label) in [("homepage", "Homepage"), ("repository", "Repository")] {
        if let Some(url) = module.resource(resource)?.filter(|u| !u.is_empty()) {
            out.push_str(&format!("<br>{label}: <a href=\"{url}\">{url}</a>"));
        }
    }
    let licenses = module.licenses()?;
    if !licenses.is_empty() {
        out.push_str("<br>License(s): ");
        out.push_str(&licenses.join(" "));
    }
    Ok(out)
}

/// `item_metadata`: title, description, creator, collection, subject, mediatype and (only when
/// some licence has one) licenseurl.
pub fn item_metadata(module: &Module<'_>, collection: &str) -> Result<ItemMetadata, CkanError> {
    let identifier = module.identifier()?;
    let version = module.version()?.ok_or_else(|| CkanError::Field {
        path: "$.version".into(),
        message: "missing".into(),
    })?;
    // A .ckan always has a name; without one the identifier stands in (the reference would crash).
    let name = module.name()?.unwrap_or(identifier);
    let title = format!("{name} - {}", mirror_version(version.as_str(), true));
    let licenses = module.licenses()?;
    let urls = license_urls(&licenses);
    let mut fields = vec![
        ("title", MetaValue::One(title)),
        ("description", MetaValue::One(description(module)?)),
        (
            "creator",
            MetaValue::Many(module.authors()?.into_iter().map(str::to_owned).collect()),
        ),
        ("collection", MetaValue::One(collection.to_owned())),
        ("subject", MetaValue::One(SUBJECT.to_owned())),
        ("mediatype", MetaValue::One(MEDIATYPE.to_owned())),
    ];
    if !urls.is_empty() {
        fields.push((
            "licenseurl",
            MetaValue::Many(urls.into_iter().map(str::to_owned).collect()),
        ));
    }
    Ok(ItemMetadata { fields })
}

/// `download_headers`: the upload's `Content-Type`, `Content-Length` and
/// `x-amz-auto-make-bucket`.
pub fn download_headers(content_type: &str, size: u64) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", content_type.to_owned()),
        ("Content-Length", size.to_string()),
        ("x-amz-auto-make-bucket", "1".to_owned()),
    ]
}

/// The hosts whose repositories have a downloadable source archive.
const SOURCE_HOSTS: [&str; 4] = [
    "github.com",
    "bitbucket.org",
    "gitlab.com",
    "git.srv.hoerberg.de",
];

/// The host of an `https://host/...` URL (without port or credentials).
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Some(host.split(':').next().unwrap_or(host))
}

/// Whether `repository` is on github.com; the owner/name pair if so.
pub fn github_repository(repository: &str) -> Option<(&str, &str)> {
    if url_host(repository)? != "github.com" {
        return None;
    }
    let mut parts = repository.split('/').skip(3);
    let owner = parts.next().filter(|s| !s.is_empty())?;
    let name = parts.next().filter(|s| !s.is_empty())?;
    Some((owner, name))
}

/// `source_download(branch)`: the zip of `branch` of the repository, for the hosts that offer
/// one. `prefix` is the first five `/`-separated pieces of the URL
/// (`https://github.com/owner/name`).
pub fn source_download(repository: &str, branch: &str) -> Option<String> {
    let host = url_host(repository)?;
    if !SOURCE_HOSTS.contains(&host) {
        return None;
    }
    let prefix = repository.split('/').take(5).collect::<Vec<_>>().join("/");
    match host {
        "github.com" => Some(format!("{prefix}/archive/{branch}.zip")),
        "bitbucket.org" => Some(format!("{prefix}/get/{branch}.zip")),
        _ => {
            // GitLab and hoerberg's GitLab: the project name is the path's second piece.
            let name = repository.split('/').nth(4).unwrap_or_default();
            Some(format!("{prefix}/-/archive/{branch}/{name}-{branch}.zip"))
        }
    }
}

/// The mirrorer's gate (`can_mirror`) and names. `Ok(Err(_))` is a module that is not
/// mirrored, with the reason; `Err` is a `.ckan` whose fields have the wrong shape.
pub fn plan(
    module: &Module<'_>,
    collection: &str,
) -> Result<Result<MirrorPlan, NotMirrorable>, CkanError> {
    match module.kind()? {
        Kind::Package => {}
        Kind::Metapackage => return Ok(Err(NotMirrorable::Kind("metapackage"))),
        Kind::Dlc => return Ok(Err(NotMirrorable::Kind("dlc"))),
    }
    let content_type = module.download_content_type()?;
    let Some(content_type) = content_type.filter(|t| content_type_extension(t).is_some()) else {
        return Ok(Err(NotMirrorable::ContentType(
            content_type.map(str::to_owned),
        )));
    };
    let licenses = module.licenses()?;
    if !licenses
        .iter()
        .any(|l| REDISTRIBUTABLE_LICENSES.contains(l))
    {
        return Ok(Err(NotMirrorable::Licence(
            licenses.into_iter().map(str::to_owned).collect(),
        )));
    }
    let Some(download_url) = module.downloads()?.first().map(|s| (*s).to_owned()) else {
        return Ok(Err(NotMirrorable::NoDownload));
    };
    let identifier = module.identifier()?;
    let Some(version) = module.version()? else {
        return Ok(Err(NotMirrorable::NoVersion));
    };
    let (sha1, sha256) = module.download_hash()?;
    let Some(filename) = mirror_filename(identifier, version.as_str(), sha1, sha256, content_type)
    else {
        return Ok(Err(NotMirrorable::NoHash));
    };
    Ok(Ok(MirrorPlan {
        identifier: identifier.to_owned(),
        item: mirror_item(identifier, version.as_str()),
        filename,
        source_filename: mirror_source_filename(identifier, version.as_str()),
        download_url,
        content_type: content_type.to_owned(),
        size: module.download_size()?,
        sha1: sha1.map(str::to_owned),
        sha256: sha256.map(str::to_owned),
        repository: module.resource("repository")?.map(str::to_owned),
        metadata: item_metadata(module, collection)?,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use netkan_common::ckan::{Object, parse_ckan};

    use super::*;

    /// NetKAN-Infra `tests/mirrorer.py`'s redistributable AwesomeMod, with a download URL
    /// (the reference's fixture has none and never reaches the gate's later checks).
    const AWESOME: &str = r#"{
        "spec_version": "v1.4",
        "identifier":   "AwesomeMod",
        "name":         "Awesome Mod",
        "abstract":     "A great mod",
        "version":      "1.0.0",
        "ksp_version":  "1.7.3",
        "author":       [ "techman83", "DasSkelett", "politas" ],
        "license":      [ "CC-BY-NC-SA-4.0", "GPL-3.0", "MIT" ],
        "download":     "https://awesomesite.org/awesomemod-1.0.0.zip",
        "download_content_type": "application/zip",
        "download_size": 33333,
        "download_hash": {
            "sha1": "DF564E21929EA07C624F822E5C43B7D0A3B0DBDF"
        }
    }"#;

    fn parse(text: &str) -> Object {
        parse_ckan(text).unwrap()
    }

    fn awesome_plan() -> MirrorPlan {
        let o = parse(AWESOME);
        plan(&Module::new(&o), "kspckanmods").unwrap().unwrap()
    }

    #[test]
    fn a_multi_licence_module_with_one_redistributable_licence_is_mirrored() {
        let o = parse(AWESOME);
        assert!(netkan_common::ckan::names::can_mirror(&Module::new(&o)));
        assert!(plan(&Module::new(&o), "kspckanmods").unwrap().is_ok());
    }

    #[test]
    fn licence_urls_follow_the_licence_order() {
        assert_eq!(
            license_urls(&["CC-BY-NC-SA-4.0", "GPL-3.0", "MIT"]),
            [
                "http://creativecommons.org/licenses/by-nc-sa/4.0",
                "http://www.gnu.org/licenses/gpl-3.0.en.html",
                "https://opensource.org/licenses/MIT",
            ]
        );
        assert!(license_urls(&["WTFPL", "public-domain"]).is_empty());
    }

    #[test]
    fn names_title_description_and_source_file_are_the_references() {
        let p = awesome_plan();
        assert_eq!(p.item, "AwesomeMod-1.0.0");
        assert_eq!(p.filename, "DF564E21-AwesomeMod-1.0.0.zip");
        assert_eq!(p.source_filename, "AwesomeMod-1.0.0.source.zip");
        assert_eq!(
            p.metadata.get("title"),
            Some(&MetaValue::One("Awesome Mod - 1.0.0".into()))
        );
        assert_eq!(
            p.metadata.get("description"),
            Some(&MetaValue::One(
                "A great mod<br><br>License(s): CC-BY-NC-SA-4.0 GPL-3.0 MIT".into()
            ))
        );
    }

    #[test]
    fn item_metadata_and_download_headers_are_exactly_the_references() {
        let p = awesome_plan();
        assert_eq!(
            p.metadata.to_json(),
            serde_json::json!({
                "title":       "Awesome Mod - 1.0.0",
                "description": "A great mod<br><br>License(s): CC-BY-NC-SA-4.0 GPL-3.0 MIT",
                "creator":     ["techman83", "DasSkelett", "politas"],
                "collection":  "kspckanmods",
                "subject":     "ksp; kerbal space program; mod",
                "mediatype":   "software",
                "licenseurl":  [
                    "http://creativecommons.org/licenses/by-nc-sa/4.0",
                    "http://www.gnu.org/licenses/gpl-3.0.en.html",
                    "https://opensource.org/licenses/MIT",
                ],
            })
        );
        let keys: Vec<&str> = p.metadata.fields.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "title",
                "description",
                "creator",
                "collection",
                "subject",
                "mediatype",
                "licenseurl"
            ]
        );
        assert_eq!(
            download_headers(&p.content_type, p.size.unwrap()),
            [
                ("Content-Type", "application/zip".to_owned()),
                ("Content-Length", "33333".to_owned()),
                ("x-amz-auto-make-bucket", "1".to_owned()),
            ]
        );
    }

    #[test]
    fn licenceurl_is_left_out_when_no_licence_has_a_url() {
        let o = parse(&AWESOME.replace(r#"[ "CC-BY-NC-SA-4.0", "GPL-3.0", "MIT" ]"#, r#""WTFPL""#));
        let p = plan(&Module::new(&o), "kspckanmods").unwrap().unwrap();
        assert_eq!(p.metadata.get("licenseurl"), None);
        assert_eq!(p.metadata.fields.len(), 6);
    }

    #[test]
    fn the_description_links_homepage_and_repository() {
        let o = parse(
            r#"{"identifier": "X1", "abstract": "Hi", "license": "MIT",
                "resources": {"homepage": "https://h.example/", "repository": "https://github.com/a/b"}}"#,
        );
        assert_eq!(
            description(&Module::new(&o)).unwrap(),
            "Hi<br><br>Homepage: <a href=\"https://h.example/\">https://h.example/</a>\
             <br>Repository: <a href=\"https://github.com/a/b\">https://github.com/a/b</a>\
             <br>License(s): MIT"
        );
    }

    #[test]
    fn a_restricted_module_is_not_mirrorable() {
        let o = parse(
            r#"{
            "spec_version": "v1.4",
            "identifier":   "AwesomeMod",
            "version":      "1.0.0",
            "ksp_version":  "1.7.3",
            "author":       [ "techman83", "DasSkelett", "politas" ],
            "license":      "restricted",
            "download_content_type": "application/zip"
        }"#,
        );
        let why = plan(&Module::new(&o), "kspckanmods").unwrap().unwrap_err();
        assert_eq!(why, NotMirrorable::Licence(vec!["restricted".into()]));
        assert_eq!(why.to_string(), "restricted licence");
        assert!(!netkan_common::ckan::names::can_mirror(&Module::new(&o)));
    }

    #[test]
    fn metapackages_unknown_types_and_hashless_modules_are_not_mirrorable() {
        let o = parse(&AWESOME.replace(
            r#""spec_version""#,
            r#""kind": "metapackage", "spec_version""#,
        ));
        assert_eq!(
            plan(&Module::new(&o), "c").unwrap().unwrap_err(),
            NotMirrorable::Kind("metapackage")
        );
        let o = parse(&AWESOME.replace("application/zip", "application/x-7z-compressed"));
        assert!(matches!(
            plan(&Module::new(&o), "c").unwrap().unwrap_err(),
            NotMirrorable::ContentType(Some(_))
        ));
        let mut o = parse(AWESOME);
        o.remove("download_hash");
        assert_eq!(
            plan(&Module::new(&o), "c").unwrap().unwrap_err(),
            NotMirrorable::NoHash
        );
    }

    #[test]
    fn source_urls_for_github_gitlab_and_bitbucket() {
        let gh = "https://github.com/HebaruSan/Astrogator/releases";
        assert_eq!(
            source_download(gh, "master").as_deref(),
            Some("https://github.com/HebaruSan/Astrogator/archive/master.zip")
        );
        assert_eq!(
            source_download(gh, "primary").as_deref(),
            Some("https://github.com/HebaruSan/Astrogator/archive/primary.zip")
        );
        assert_eq!(github_repository(gh), Some(("HebaruSan", "Astrogator")));
        assert_eq!(
            source_download("https://gitlab.com/N70/Kerbalism/", "master").as_deref(),
            Some("https://gitlab.com/N70/Kerbalism/-/archive/master/Kerbalism-master.zip")
        );
        assert_eq!(
            source_download(
                "https://bitbucket.org/blowfishpro/b9-aerospace/src",
                "master"
            )
            .as_deref(),
            Some("https://bitbucket.org/blowfishpro/b9-aerospace/get/master.zip")
        );
        assert_eq!(
            source_download("https://git.srv.hoerberg.de/tom300z/4ksp", "main").as_deref(),
            Some("https://git.srv.hoerberg.de/tom300z/4ksp/-/archive/main/4ksp-main.zip")
        );
        assert_eq!(source_download("https://example.com/a/b", "main"), None);
        assert_eq!(github_repository("https://gitlab.com/a/b"), None);
    }
}
