//! `GET /files/<name>`: the files of `web.files_dir`, for downloads a self-hosted NetKAN
//! names by URL (`netkan up` serves its example mod's archive from here, so a newcomer's
//! first inflation needs no outside host). Only plain names inside that one directory are
//! served; there is no listing.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use tokio_util::io::ReaderStream;

use crate::error::WebError;
use crate::state::AppState;

/// Streams one file, or 404.
pub(crate) async fn show_file(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let not_found = || WebError::NotFound("No such file".into());
    let dir = state.web.files_dir.as_ref().ok_or_else(not_found)?;
    let name = path.into_inner();
    if !is_plain_name(&name) {
        return Err(not_found());
    }
    let file = tokio::fs::File::open(dir.join(&name))
        .await
        .map_err(|_| not_found())?;
    let meta = file.metadata().await.map_err(|_| not_found())?;
    if !meta.is_file() {
        return Err(not_found());
    }
    Ok(HttpResponse::Ok()
        .content_type(content_type(&name))
        .insert_header((header::CONTENT_LENGTH, meta.len()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .streaming(ReaderStream::new(file)))
}

/// Letters, digits, `.`, `_`, `-`, not starting with a dot: no way out of the directory,
/// no hidden files.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    match lower.rsplit_once('.').map(|(_, ext)| ext) {
        Some("zip") => "application/zip",
        Some("gz" | "tgz") => "application/gzip",
        Some("tar") => "application/x-tar",
        Some("json" | "version" | "ckan" | "netkan") => "application/json",
        Some("txt" | "cfg" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_served() {
        assert!(is_plain_name("ExampleMod-1.0.zip"));
        for bad in ["", ".hidden", "../x", "a/b", "a\\b", "%2e%2e", "a b"] {
            assert!(!is_plain_name(bad), "{bad}");
        }
        assert_eq!(content_type("X.ZIP"), "application/zip");
    }
}
