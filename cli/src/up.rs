//! `netkan up`: everything on one machine. Starts its own `redis-server` (append-only, under
//! the data directory, on a port other than 6379) unless a Redis is configured, then every
//! worker role and the web front end (on `web.bind`); stops cleanly on Ctrl-C or SIGTERM
//! (running jobs finish or are handed back, then Redis is shut down with its data flushed).

use std::path::Path;

use anyhow::Context;
use netkan_common::config::Settings;
use netkan_common::redis_server::{RedisServer, RedisServerOptions};
use tokio_util::sync::CancellationToken;
use tracing::info;

/// Runs until `shutdown`.
pub(crate) async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    let data_dir = settings
        .data_dir
        .canonicalize()
        .with_context(|| format!("resolving {}", settings.data_dir.display()))?;
    // Bound first: a port in use stops `netkan up` before it starts anything.
    let web_listener = std::net::TcpListener::bind(&settings.web.bind).with_context(|| {
        format!(
            "binding the web front end to web.bind = {}",
            settings.web.bind
        )
    })?;
    let (url, server) = match &settings.redis.url {
        Some(url) => (url.expose().to_owned(), None),
        None => {
            let dir = data_dir.join("redis");
            let port = settings.redis.embedded_port;
            if let Some(url) = running_embedded(&dir, port).await {
                info!(
                    port,
                    "reusing the embedded redis-server left running on this data directory"
                );
                (url, None)
            } else {
                let server = RedisServer::start(&RedisServerOptions {
                    bin: std::env::var("REDIS_SERVER_BIN")
                        .unwrap_or_else(|_| settings.redis.server_bin.clone()),
                    dir: dir.clone(),
                    port,
                    persistent: true,
                })
                .with_context(|| format!("starting the embedded redis-server on port {port}"))?;
                info!(port, dir = %dir.display(), "embedded redis-server started (append-only)");
                (server.url(), Some(server))
            }
        }
    };
    println!("netkan is up");
    println!(
        "  redis:  {}",
        netkan_common::log::redact_url_passwords(&url)
    );
    println!("  data:   {}", data_dir.display());
    println!(
        "  web:    {}/queues",
        settings.web.base_url.trim_end_matches('/')
    );
    println!("  stop:   Ctrl-C (running jobs finish, nothing is lost)");
    let web = tokio::spawn({
        let (settings, url, shutdown) = (settings.clone(), url.clone(), shutdown.clone());
        async move { netkan_web::run(&settings, &url, web_listener, shutdown).await }
    });
    let report = netkan_worker::run(&settings, &url, shutdown.clone()).await;
    // The worker returns on shutdown, or on a fatal error: either way the web stops too.
    shutdown.cancel();
    let web = web.await.context("the web front end panicked")?;
    if let Some(mut server) = server {
        server.stop();
        info!("embedded redis-server stopped");
    }
    report?;
    web
}

/// The URL of a `redis-server` already serving `dir` on `port` (left by a killed `netkan up`).
async fn running_embedded(dir: &Path, port: u16) -> Option<String> {
    let url = format!("redis://127.0.0.1:{port}/");
    let client = redis::Client::open(url.as_str()).ok()?;
    let mut conn = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()?;
    let reply: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("dir")
        .query_async(&mut conn)
        .await
        .ok()?;
    let theirs = Path::new(reply.get(1)?).canonicalize().ok()?;
    (theirs == dir.canonicalize().ok()?).then_some(url)
}
