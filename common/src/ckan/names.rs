//! Names derived from a module: `.ckan` file names, download-cache file names (shared by the
//! C# client, the inflator and NetKAN-Infra) and archive.org mirror names
//! (NetKAN-Infra `metadata.py`, `mirrorer.py`).

use sha1::{Digest, Sha1};

use super::Module;

/// `<identifier>-<version with ':' → '-'>.ckan`, the file name in CKAN-meta.
pub fn ckan_file_name(identifier: &str, version: &str) -> String {
    format!("{identifier}-{}.ckan", version.replace(':', "-"))
}

/// `new Uri(url).ToString()` as NetKAN-Infra's `csharp_uri_tostring` reproduces it: .NET
/// unescapes only `%20`, `%3A`, `%27`, `%28` and `%29` (uppercase hex), and leaves everything
/// else (`%2C`, `&`, `#`, `?`) as written.
pub fn csharp_uri_to_string(url: &str) -> String {
    url.replace("%20", " ")
        .replace("%3A", ":")
        .replace("%27", "'")
        .replace("%28", "(")
        .replace("%29", ")")
}

/// The first 8 hex digits, uppercase, of the SHA-1 of the download URL as .NET prints it: the
/// prefix of the file in the download cache.
pub fn cache_prefix(download_url: &str) -> String {
    let digest = Sha1::digest(csharp_uri_to_string(download_url).as_bytes());
    digest[..4].iter().map(|b| format!("{b:02X}")).collect()
}

/// The file extension for a `download_content_type`, as the cache and the mirror use it.
pub fn content_type_extension(content_type: &str) -> Option<&'static str> {
    match content_type {
        "application/x-gzip" => Some("gz"),
        "application/x-tar" => Some("tar"),
        "application/x-compressed-tar" => Some("tar.gz"),
        "application/zip" | "application/vnd.github+json" => Some("zip"),
        _ => None,
    }
}

/// `<cache prefix>-<identifier>-<version with ':' → '-'>.<ext>`, or none when the module lacks
/// a download, an identifier, a version or a known content type.
pub fn cache_file_name(module: &Module<'_>) -> Option<String> {
    let download = *module.downloads().ok()?.first()?;
    let identifier = module.json().get("identifier")?.as_str()?;
    let version = module.version().ok()??;
    let ext = content_type_extension(module.download_content_type().ok()??)?;
    Some(format!(
        "{}-{identifier}-{}.{ext}",
        cache_prefix(download),
        version.as_str().replace(':', "-")
    ))
}

/// `_format_version`: spaces → `_`, `:` → `-`; without the epoch, a leading `N:` is dropped
/// first.
pub fn mirror_version(version: &str, with_epoch: bool) -> String {
    let mut v = version;
    if !with_epoch {
        let digits = v.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && v.as_bytes().get(digits) == Some(&b':') {
            v = &v[digits + 1..];
        }
    }
    v.replace(' ', "_").replace(':', "-")
}

/// archive.org's rules for item and file names: only `[A-Za-z0-9._-]`, starting with a letter
/// or digit, at most 100 characters.
pub fn sanitize_archive_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .collect();
    kept.trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(100)
        .collect()
}

/// The archive.org item (bucket) of a module: sanitized `<identifier>-<version>`.
pub fn mirror_item(identifier: &str, version: &str) -> String {
    sanitize_archive_name(&format!("{identifier}-{}", mirror_version(version, true)))
}

/// `<first 8 hex of sha1 (or sha256)>-<identifier>-<version>.<ext>`; none without a hash or a
/// known content type.
pub fn mirror_filename(
    identifier: &str,
    version: &str,
    sha1: Option<&str>,
    sha256: Option<&str>,
    content_type: &str,
) -> Option<String> {
    let hash = sha1.or(sha256)?;
    let prefix: String = hash.chars().take(8).collect();
    let ext = content_type_extension(content_type)?;
    Some(format!(
        "{prefix}-{identifier}-{}.{ext}",
        mirror_version(version, true)
    ))
}

/// `https://archive.org/download/<identifier>-<version>/<mirror filename>`. Deliberately not
/// sanitized: NetKAN-Infra builds it from the raw names, unlike [`mirror_item`].
pub fn mirror_download(identifier: &str, version: &str, filename: &str) -> String {
    format!(
        "https://archive.org/download/{identifier}-{}/{filename}",
        mirror_version(version, true)
    )
}

/// The source archive's file name on archive.org: sanitized `<identifier>-<version>.source.zip`.
pub fn mirror_source_filename(identifier: &str, version: &str) -> String {
    sanitize_archive_name(&format!(
        "{identifier}-{}.source.zip",
        mirror_version(version, true)
    ))
}

/// The inflator's own fallback (`Metadata.FallbackDownload`), tried when `download[0]` fails:
/// `https://archive.org/download/<id>-<ver>/<sha1[0..8]>-<id>-<ver>.zip` with `:` → `-`.
pub fn inflator_fallback_download(identifier: &str, version: &str, sha1: &str) -> String {
    let ver = version.replace(':', "-");
    let prefix: String = sha1.chars().take(8).collect();
    format!("https://archive.org/download/{identifier}-{ver}/{prefix}-{identifier}-{ver}.zip")
}

/// CKAN.schema `redistributable_license`: licenses that let archive.org keep a copy.
pub const REDISTRIBUTABLE_LICENSES: [&str; 84] = [
    "public-domain",
    "Apache",
    "Apache-1.0",
    "Apache-2.0",
    "Artistic",
    "Artistic-1.0",
    "Artistic-2.0",
    "BSD-2-clause",
    "BSD-3-clause",
    "BSD-4-clause",
    "ISC",
    "CC-BY",
    "CC-BY-1.0",
    "CC-BY-2.0",
    "CC-BY-2.5",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "CC-BY-SA",
    "CC-BY-SA-1.0",
    "CC-BY-SA-2.0",
    "CC-BY-SA-2.5",
    "CC-BY-SA-3.0",
    "CC-BY-SA-4.0",
    "CC-BY-NC",
    "CC-BY-NC-1.0",
    "CC-BY-NC-2.0",
    "CC-BY-NC-2.5",
    "CC-BY-NC-3.0",
    "CC-BY-NC-4.0",
    "CC-BY-NC-SA",
    "CC-BY-NC-SA-1.0",
    "CC-BY-NC-SA-2.0",
    "CC-BY-NC-SA-2.5",
    "CC-BY-NC-SA-3.0",
    "CC-BY-NC-SA-4.0",
    "CC-BY-NC-ND",
    "CC-BY-NC-ND-1.0",
    "CC-BY-NC-ND-2.0",
    "CC-BY-NC-ND-2.5",
    "CC-BY-NC-ND-3.0",
    "CC-BY-NC-ND-4.0",
    "CC-BY-ND",
    "CC-BY-ND-1.0",
    "CC-BY-ND-2.0",
    "CC-BY-ND-2.5",
    "CC-BY-ND-3.0",
    "CC-BY-ND-4.0",
    "CC0",
    "CDDL",
    "CPL",
    "EFL-1.0",
    "EFL-2.0",
    "Expat",
    "MIT",
    "GPL-1.0",
    "GPL-2.0",
    "GPL-3.0",
    "LGPL-2.0",
    "LGPL-2.1",
    "LGPL-3.0",
    "GFDL-1.0",
    "GFDL-1.1",
    "GFDL-1.2",
    "GFDL-1.3",
    "GFDL-NIV-1.0",
    "GFDL-NIV-1.1",
    "GFDL-NIV-1.2",
    "GFDL-NIV-1.3",
    "LPPL-1.0",
    "LPPL-1.1",
    "LPPL-1.2",
    "LPPL-1.3c",
    "MPL-1.1",
    "MPL-2.0",
    "Perl",
    "Python-2.0",
    "QPL-1.0",
    "W3C",
    "Zlib",
    "Zope",
    "WTFPL",
    "Unlicense",
    "open-source",
    "unrestricted",
];

/// The mirrorer's `can_mirror`: a plain package with a known archive type and at least one
/// redistributable license.
pub fn can_mirror(module: &Module<'_>) -> bool {
    let package = matches!(module.kind(), Ok(super::module::Kind::Package));
    let known_type = module
        .download_content_type()
        .ok()
        .flatten()
        .and_then(content_type_extension)
        .is_some();
    let redistributable = module
        .licenses()
        .is_ok_and(|ls| ls.iter().any(|l| REDISTRIBUTABLE_LICENSES.contains(l)));
    package && known_type && redistributable
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::ckan::Object;

    fn obj(v: Value) -> Object {
        match v {
            Value::Object(o) => o,
            _ => panic!("test input must be an object"),
        }
    }

    #[test]
    fn ckan_file_names() {
        assert_eq!(
            ckan_file_name("Kopernicus", "2:release-1.12.1-247"),
            "Kopernicus-2-release-1.12.1-247.ckan"
        );
        assert_eq!(ckan_file_name("ABCORS", "0.5.2"), "ABCORS-0.5.2.ckan");
    }

    #[test]
    fn csharp_uri_quirk() {
        assert_eq!(csharp_uri_to_string("a%20b%3Ac%27d%28e%29f"), "a b:c'd(e)f");
        let untouched = " :'()&%26/%2F+%2B?%3F#%23,%2C";
        assert_eq!(csharp_uri_to_string(untouched), untouched);
    }

    #[test]
    fn cache_names_match_netkan_infra() {
        assert_eq!(
            cache_prefix("https://awesomesite.org/awesomemod-1.0.0.zip"),
            "3C69B375"
        );
        let o = obj(json!({
            "identifier": "AwesomeMod", "version": "1.0.0",
            "download": "https://awesomesite.org/awesomemod-1.0.0.zip",
            "download_content_type": "application/zip"
        }));
        assert_eq!(
            cache_file_name(&Module::new(&o)).as_deref(),
            Some("3C69B375-AwesomeMod-1.0.0.zip")
        );
        let o = obj(json!({
            "identifier": "NASA-CountDown", "version": "1.3.9.1",
            "download": ["https://spacedock.info/mod/1462/NASA%20CountDown%20Clock%20Updated/download/1.3.9.1"],
            "download_content_type": "application/zip"
        }));
        assert_eq!(
            cache_file_name(&Module::new(&o)).as_deref(),
            Some("25B8A610-NASA-CountDown-1.3.9.1.zip")
        );
        assert_eq!(cache_file_name(&Module::new(&Object::new())), None);
    }

    #[test]
    fn archive_org_names() {
        assert_eq!(mirror_item("AwesomeMod", "1.0.0"), "AwesomeMod-1.0.0");
        assert_eq!(mirror_item("X", "1:v 2.0"), "X-1-v_2.0");
        assert_eq!(mirror_version("1:v 2.0", false), "v_2.0");
        assert_eq!(
            mirror_filename(
                "AwesomeMod",
                "1.0.0",
                Some("DF564E21AB"),
                None,
                "application/zip"
            )
            .as_deref(),
            Some("DF564E21-AwesomeMod-1.0.0.zip")
        );
        assert_eq!(
            mirror_filename("A", "1", None, None, "application/zip"),
            None
        );
        assert_eq!(
            mirror_download("AwesomeMod", "1.0.0", "DF564E21-AwesomeMod-1.0.0.zip"),
            "https://archive.org/download/AwesomeMod-1.0.0/DF564E21-AwesomeMod-1.0.0.zip"
        );
        assert_eq!(
            mirror_source_filename("AwesomeMod", "1.0.0"),
            "AwesomeMod-1.0.0.source.zip"
        );
        assert_eq!(sanitize_archive_name("-_é[x]+y"), "xy");
        assert_eq!(sanitize_archive_name(&"a".repeat(150)).len(), 100);
        assert_eq!(
            inflator_fallback_download("X", "1:2.0", "ABCDEF0123"),
            "https://archive.org/download/X-1-2.0/ABCDEF01-X-1-2.0.zip"
        );
    }

    #[test]
    fn mirrorability() {
        let o = obj(
            json!({"license": ["CC-BY-NC-SA-4.0", "GPL-3.0", "MIT"], "download_content_type": "application/zip"}),
        );
        assert!(can_mirror(&Module::new(&o)));
        let o = obj(json!({"license": "restricted", "download_content_type": "application/zip"}));
        assert!(!can_mirror(&Module::new(&o)));
        let o = obj(
            json!({"kind": "metapackage", "license": "MIT", "download_content_type": "application/zip"}),
        );
        assert!(!can_mirror(&Module::new(&o)));
    }
}
