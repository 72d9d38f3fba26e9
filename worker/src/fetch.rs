//! Downloads into a local file with the process's HTTP client: bounded by
//! `hosts.max_download_bytes` and `hosts.download_timeout_secs`, hashed on the way.

use std::path::Path;

use anyhow::{Context, anyhow};
use netkan_inflator::http::HttpClient;

/// Streams `url` into `path`; returns its size and upper-case SHA-1.
///
/// # Errors
/// On a network failure, a non-2xx answer, a body over the size limit, or a local write error.
pub async fn to_file(http: &HttpClient, url: &str, path: &Path) -> anyhow::Result<(u64, String)> {
    use sha1::Digest;
    use tokio::io::AsyncWriteExt;
    let settings = http.settings();
    let limit = settings.max_download_bytes;
    let mut response = http
        .client()
        .get(url)
        .timeout(std::time::Duration::from_secs(
            settings.download_timeout_secs,
        ))
        .send()
        .await
        .map_err(|e| anyhow!("downloading {url}: {}", e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        anyhow::bail!("{url} answered {status}");
    }
    let mut file = tokio::fs::File::create(path)
        .await
        .with_context(|| format!("creating {}", path.display()))?;
    let mut hasher = sha1::Sha1::new();
    let mut size = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| anyhow!("downloading {url}: {}", e.without_url()))?
    {
        size += chunk.len() as u64;
        if size > limit {
            anyhow::bail!("{url} is larger than hosts.max_download_bytes ({limit})");
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    let sha1 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    Ok((size, sha1))
}
