//! `GET /static/<file>`: the few hand-written files of the pages, compiled into the binary
//! (no build step, nothing to deploy beside it).

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::WebError;

/// Name, content type, contents.
const ASSETS: [(&str, &str, &str); 4] = [
    (
        "netkan.css",
        "text/css; charset=utf-8",
        include_str!("../../static/netkan.css"),
    ),
    (
        "logs.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/logs.js"),
    ),
    (
        "queues.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/queues.js"),
    ),
    (
        "status.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/status.js"),
    ),
];

/// Serves one asset; they change only with the binary, so browsers may keep them an hour.
pub(crate) async fn show_asset(path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == path.as_str())
        .ok_or_else(|| WebError::NotFound("No such file".into()))?;
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(*body))
}
