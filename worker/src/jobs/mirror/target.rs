//! Where mirrored files go: archive.org through its S3-like API (IA-S3), or a local directory
//! laid out the same way for self-hosters.
//!
//! IA-S3 conventions, as the `internetarchive` Python library (which NetKAN-Infra uses)
//! applies them: `PUT <s3>/<item>/<file>` with `authorization: LOW <access>:<secret>`;
//! `x-archive-auto-make-bucket: 1` (and the `x-amz-` spelling NetKAN-Infra adds) creates the
//! item on its first file; item metadata rides on the upload as `x-archive-metaNN-<key>`
//! headers, one per value of a list (`meta00`, `meta01`, ...), `_` in keys spelled `--`, and a
//! value with whitespace or non-ASCII text sent as `uri(<percent-encoded>)`. Whether
//! archive.org is overloaded is `GET <s3>/?check_limit=1&accesskey=<access>&bucket=<item>`,
//! answering `{"over_limit": 0}` when uploads are welcome. An item's files (with their
//! SHA-1) come from the metadata API, `GET <archive.org>/metadata/<item>` (`{}` for no item).
//!
//! Secrets: the keys go only into request headers and the overload query; request errors
//! are reported without their URL, and the job log redacts both keys anyway.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use netkan_common::config::Secret;
use serde::Deserialize;

use super::item::ItemMetadata;

/// A file already in an item.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct StoredFile {
    /// Its name in the item.
    pub name: String,
    /// Its SHA-1 (hex, any case), when the archive knows it.
    #[serde(default)]
    pub sha1: Option<String>,
}

/// One file to put into an item.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// The item (bucket).
    pub item: &'a str,
    /// The file's name in the item.
    pub file_name: &'a str,
    /// The local file.
    pub path: &'a Path,
    /// Its `Content-Type`.
    pub content_type: &'a str,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-1, upper-case hex (the directory target records it).
    pub sha1: &'a str,
    /// The item's metadata (archive.org applies it when the upload creates the item).
    pub metadata: &'a ItemMetadata,
}

/// A mirror target.
pub enum Target {
    /// archive.org.
    ArchiveOrg(ArchiveOrg),
    /// A local directory.
    Directory(Directory),
}

impl Target {
    /// How a log line names an item of this target.
    pub fn describe(&self, item: &str) -> String {
        match self {
            Target::ArchiveOrg(_) => format!("archive.org item {item}"),
            Target::Directory(d) => format!("directory item {}", d.root.join(item).display()),
        }
    }

    /// Whether uploads should wait (archive.org's `s3_is_overloaded`); never for a directory.
    ///
    /// # Errors
    /// If archive.org cannot be asked; the caller treats that as overloaded, as the
    /// reference does.
    pub async fn overloaded(&self, item: &str) -> anyhow::Result<bool> {
        match self {
            Target::ArchiveOrg(a) => a.overloaded(item).await,
            Target::Directory(_) => Ok(false),
        }
    }

    /// The files of `item`, or `None` if there is no such item.
    ///
    /// # Errors
    /// If the archive cannot be read.
    pub async fn files(&self, item: &str) -> anyhow::Result<Option<Vec<StoredFile>>> {
        match self {
            Target::ArchiveOrg(a) => a.files(item).await,
            Target::Directory(d) => {
                let d = d.clone();
                let item = item.to_owned();
                tokio::task::spawn_blocking(move || d.files(&item))
                    .await
                    .context("directory task panicked")?
            }
        }
    }

    /// Stores one file in its item, creating the item with its metadata if needed.
    ///
    /// # Errors
    /// If the upload fails or is refused; the message says why.
    pub async fn upload(&self, upload: Upload<'_>) -> anyhow::Result<()> {
        match self {
            Target::ArchiveOrg(a) => a.upload(upload).await,
            Target::Directory(d) => {
                let d = d.clone();
                let owned = OwnedUpload::from(upload);
                tokio::task::spawn_blocking(move || d.store(&owned))
                    .await
                    .context("directory task panicked")?
            }
        }
    }
}

/// archive.org's S3-like API and metadata API.
pub struct ArchiveOrg {
    client: reqwest::Client,
    s3_endpoint: String,
    archive_org: String,
    access_key: Secret,
    secret_key: Secret,
    api_timeout: Duration,
    upload_timeout: Duration,
}

impl ArchiveOrg {
    /// A client of the IA-S3 endpoint `s3_endpoint` and the metadata API under `archive_org`.
    pub fn new(
        client: reqwest::Client,
        s3_endpoint: &str,
        archive_org: &str,
        access_key: Secret,
        secret_key: Secret,
        api_timeout: Duration,
        upload_timeout: Duration,
    ) -> Self {
        Self {
            client,
            s3_endpoint: s3_endpoint.trim_end_matches('/').to_owned(),
            archive_org: archive_org.trim_end_matches('/').to_owned(),
            access_key,
            secret_key,
            api_timeout,
            upload_timeout,
        }
    }

    fn authorization(&self) -> String {
        format!(
            "LOW {}:{}",
            self.access_key.expose(),
            self.secret_key.expose()
        )
    }

    async fn overloaded(&self, item: &str) -> anyhow::Result<bool> {
        #[derive(Deserialize)]
        struct Limit {
            over_limit: Option<i64>,
        }
        let response = self
            .client
            .get(format!(
                "{}/?check_limit=1&accesskey={}&bucket={}",
                self.s3_endpoint,
                py_quote(self.access_key.expose()),
                py_quote(item)
            ))
            .timeout(self.api_timeout)
            .send()
            .await
            .map_err(|e| anyhow!("archive.org overload check failed: {}", e.without_url()))?;
        let status = response.status();
        let limit: Limit = response.json().await.map_err(|e| {
            anyhow!(
                "archive.org overload check answered {status} without JSON: {}",
                e.without_url()
            )
        })?;
        // Anything but an explicit 0 counts as overloaded, as in the library.
        Ok(limit.over_limit != Some(0))
    }

    async fn files(&self, item: &str) -> anyhow::Result<Option<Vec<StoredFile>>> {
        #[derive(Deserialize)]
        struct ItemInfo {
            #[serde(default)]
            files: Vec<StoredFile>,
            #[serde(default)]
            metadata: Option<serde_json::Value>,
            #[serde(default)]
            created: Option<serde_json::Value>,
        }
        let url = format!("{}/metadata/{}", self.archive_org, py_quote(item));
        let response = self
            .client
            .get(&url)
            .header("authorization", self.authorization())
            .timeout(self.api_timeout)
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "reading archive.org metadata of {item}: {}",
                    e.without_url()
                )
            })?;
        let status = response.status();
        if !status.is_success() {
            bail!("archive.org metadata API answered {status} for {item}");
        }
        let body: serde_json::Value = response.json().await.map_err(|e| {
            anyhow!(
                "archive.org metadata of {item} is not JSON: {}",
                e.without_url()
            )
        })?;
        // The API answers `{}` for an item that does not exist.
        if body.as_object().is_none_or(serde_json::Map::is_empty) {
            return Ok(None);
        }
        let info: ItemInfo = serde_json::from_value(body)
            .with_context(|| format!("archive.org metadata of {item} has an unexpected shape"))?;
        if info.files.is_empty() && info.metadata.is_none() && info.created.is_none() {
            return Ok(None);
        }
        Ok(Some(info.files))
    }

    async fn upload(&self, upload: Upload<'_>) -> anyhow::Result<()> {
        let url = format!(
            "{}/{}/{}",
            self.s3_endpoint,
            py_quote(upload.item),
            py_quote(upload.file_name)
        );
        let file = tokio::fs::File::open(upload.path)
            .await
            .with_context(|| format!("opening {}", upload.path.display()))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        let mut request = self
            .client
            .put(&url)
            .header("authorization", self.authorization())
            .header("x-archive-auto-make-bucket", "1")
            .header("x-archive-queue-derive", "1")
            .header("x-archive-size-hint", upload.size.to_string())
            .timeout(self.upload_timeout);
        // Content-Length is set explicitly: IA-S3 refuses chunked uploads.
        for (name, value) in super::item::download_headers(upload.content_type, upload.size) {
            request = request.header(name, value);
        }
        for (name, value) in metadata_headers(upload.metadata) {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await.map_err(|e| {
            anyhow!(
                "upload of {} to archive.org item {} failed: {}",
                upload.file_name,
                upload.item,
                e.without_url()
            )
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        let excerpt: String = text.chars().take(300).collect();
        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            bail!(
                "archive.org is overloaded (503) for {} in item {}: {excerpt}",
                upload.file_name,
                upload.item
            );
        }
        bail!(
            "archive.org refused {} for item {} ({status}): {excerpt}",
            upload.file_name,
            upload.item
        )
    }
}

/// The `x-archive-metaNN-<key>` headers of an item's metadata: one per non-empty value,
/// numbered from `00` within each key; `_` in a key becomes `--` (HTTP header names cannot
/// carry `_` through IA-S3); values with whitespace or non-ASCII characters are sent as
/// `uri(<percent-encoded UTF-8>)`.
pub fn metadata_headers(metadata: &ItemMetadata) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, value) in &metadata.fields {
        let values = value.values();
        for (index, v) in values.iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            let name = format!("x-archive-meta{index:02}-{key}").replace('_', "--");
            let needs_quote = !v.is_ascii() || v.chars().any(char::is_whitespace);
            let text = if needs_quote {
                format!("uri({})", py_quote(v))
            } else {
                (*v).to_owned()
            };
            out.push((name, text));
        }
    }
    out
}

/// Python's `urllib.parse.quote(s)` (safe `/`): every byte of the UTF-8 text except
/// letters, digits, `_.-~` and `/` as `%XX`.
pub fn py_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A local directory: `<root>/<item>/<file>` and `<root>/<item>/<item>_meta.json`, which
/// holds `{"metadata": {...}, "files": [{"name", "size", "sha1"}]}` in the shape of
/// archive.org's metadata API. Every write is a rename of a complete temporary file, so a
/// reader never sees half a file and storing the same file twice leaves the same result.
#[derive(Debug, Clone)]
pub struct Directory {
    root: PathBuf,
}

/// [`Upload`] with owned fields, for a blocking task.
struct OwnedUpload {
    item: String,
    file_name: String,
    path: PathBuf,
    size: u64,
    sha1: String,
    metadata: serde_json::Value,
}

impl From<Upload<'_>> for OwnedUpload {
    fn from(u: Upload<'_>) -> Self {
        Self {
            item: u.item.to_owned(),
            file_name: u.file_name.to_owned(),
            path: u.path.to_owned(),
            size: u.size,
            sha1: u.sha1.to_owned(),
            metadata: u.metadata.to_json(),
        }
    }
}

#[derive(Debug, Default, serde::Serialize, Deserialize)]
struct DirectoryMeta {
    #[serde(default)]
    metadata: serde_json::Value,
    #[serde(default)]
    files: Vec<DirectoryFile>,
}

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
struct DirectoryFile {
    name: String,
    size: u64,
    sha1: String,
}

/// A name that is safe as one path component.
fn check_component(what: &str, name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.starts_with('.')
        || name.contains(['/', '\\', '\0'])
    {
        bail!("{what} {name:?} cannot be a file name in the mirror directory");
    }
    Ok(())
}

impl Directory {
    /// A target rooted at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn meta_path(&self, item: &str) -> PathBuf {
        self.root.join(item).join(format!("{item}_meta.json"))
    }

    fn read_meta(&self, item: &str) -> anyhow::Result<Option<DirectoryMeta>> {
        let path = self.meta_path(item);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!("{} is not a mirror item record", path.display())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn files(&self, item: &str) -> anyhow::Result<Option<Vec<StoredFile>>> {
        check_component("item", item)?;
        let Some(meta) = self.read_meta(item)? else {
            return Ok(None);
        };
        let dir = self.root.join(item);
        // A file recorded but since removed by hand no longer counts.
        Ok(Some(
            meta.files
                .into_iter()
                .filter(|f| dir.join(&f.name).is_file())
                .map(|f| StoredFile {
                    name: f.name,
                    sha1: Some(f.sha1),
                })
                .collect(),
        ))
    }

    fn store(&self, upload: &OwnedUpload) -> anyhow::Result<()> {
        check_component("item", &upload.item)?;
        check_component("file", &upload.file_name)?;
        let dir = self.root.join(&upload.item);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = tempfile::NamedTempFile::new_in(&dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        std::fs::copy(&upload.path, tmp.path())
            .with_context(|| format!("copying {} into {}", upload.path.display(), dir.display()))?;
        let target = dir.join(&upload.file_name);
        tmp.persist(&target)
            .with_context(|| format!("writing {}", target.display()))?;

        let mut meta = self.read_meta(&upload.item)?.unwrap_or_default();
        meta.metadata = upload.metadata.clone();
        meta.files.retain(|f| f.name != upload.file_name);
        meta.files.push(DirectoryFile {
            name: upload.file_name.clone(),
            size: upload.size,
            sha1: upload.sha1.to_ascii_lowercase(),
        });
        meta.files.sort_by(|a, b| a.name.cmp(&b.name));
        let mut text =
            serde_json::to_string_pretty(&meta).context("serializing the item record")?;
        text.push('\n');
        let tmp = tempfile::NamedTempFile::new_in(&dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        std::fs::write(tmp.path(), text).context("writing the item record")?;
        let meta_path = self.meta_path(&upload.item);
        tmp.persist(&meta_path)
            .with_context(|| format!("writing {}", meta_path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::item::MetaValue;
    use super::*;

    #[test]
    fn metadata_becomes_numbered_ia_s3_headers() {
        let meta = ItemMetadata {
            fields: vec![
                ("title", MetaValue::One("Awesome Mod - 1.0.0".into())),
                (
                    "creator",
                    MetaValue::Many(vec!["techman83".into(), "Dünn".into(), String::new()]),
                ),
                ("collection", MetaValue::One("kspckanmods".into())),
                ("some_key", MetaValue::One("x".into())),
                (
                    "licenseurl",
                    MetaValue::Many(vec!["https://opensource.org/licenses/MIT".into()]),
                ),
            ],
        };
        assert_eq!(
            metadata_headers(&meta),
            [
                (
                    "x-archive-meta00-title".to_owned(),
                    "uri(Awesome%20Mod%20-%201.0.0)".to_owned()
                ),
                (
                    "x-archive-meta00-creator".to_owned(),
                    "techman83".to_owned()
                ),
                (
                    "x-archive-meta01-creator".to_owned(),
                    "uri(D%C3%BCnn)".to_owned()
                ),
                (
                    "x-archive-meta00-collection".to_owned(),
                    "kspckanmods".to_owned()
                ),
                ("x-archive-meta00-some--key".to_owned(), "x".to_owned()),
                (
                    "x-archive-meta00-licenseurl".to_owned(),
                    "https://opensource.org/licenses/MIT".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn quoting_is_pythons() {
        assert_eq!(py_quote("a b/c~d_e.f-g"), "a%20b/c~d_e.f-g");
        assert_eq!(py_quote("<br>(s): +"), "%3Cbr%3E%28s%29%3A%20%2B");
    }

    #[test]
    fn directory_names_cannot_escape_the_root() {
        assert!(check_component("file", "DF564E21-AwesomeMod-1.0.0.zip").is_ok());
        for bad in ["", "..", ".hidden", "a/b", "a\\b"] {
            assert!(check_component("file", bad).is_err(), "{bad:?}");
        }
    }
}
