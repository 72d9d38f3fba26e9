//! `netkan up`: everything on one machine. Starts its own `redis-server` (append-only, under
//! the data directory, on a port other than 6379) unless a Redis is configured, then every
//! worker role and the web front end (on `web.bind`); stops cleanly on Ctrl-C or SIGTERM
//! (running jobs finish or are handed back, then Redis is shut down with its data flushed).
//! Holds the data directory's lock (`netkan_common::instance`) while it runs: a second
//! `netkan up` on the same directory is refused, naming this one.

use std::path::Path;

use anyhow::Context;
use netkan_common::config::Settings;
use netkan_common::redis_server::{RedisServer, RedisServerOptions};
use tokio_util::sync::CancellationToken;
use tracing::info;

/// The branch of the repositories `netkan up` creates, unless `games.<id>.netkan_branch` or
/// `ckanmeta_branch` names another.
const NEW_REPOSITORY_BRANCH: &str = "main";

/// Runs until `shutdown`.
pub(crate) async fn run(mut settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    let data_dir = settings
        .data_dir
        .canonicalize()
        .with_context(|| format!("resolving {}", settings.data_dir.display()))?;
    // One instance per data directory, held until everything below has stopped.
    let mut lock = netkan_common::instance::InstanceLock::acquire(&data_dir)?;
    // Bound first: a port in use stops `netkan up` before it starts anything.
    let web_listener = std::net::TcpListener::bind(&settings.web.bind).with_context(|| {
        format!(
            "binding the web front end to web.bind = {}",
            settings.web.bind
        )
    })?;
    // Links (the banner, the hook's log URLs, the example mod's download) follow the port
    // actually bound unless web.base_url was set: changing only web.bind must not leave
    // them pointing at the default port.
    if settings.web.base_url == netkan_common::config::WebSettings::default().base_url {
        let mut bound = web_listener
            .local_addr()
            .context("reading the web front end's address")?;
        if bound.ip().is_unspecified() {
            // Listening everywhere (0.0.0.0): the links name this machine's loopback.
            bound.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        settings.web.base_url = format!("http://{bound}");
    }
    // An embedded Redis left running by a `netkan up` that was killed is adopted (its data is
    // this directory's) and shut down at the end like our own.
    let mut adopted = None;
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
                adopted = Some(port);
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
    lock.describe(&settings.web.base_url, &url)?;
    settings.data_dir = data_dir.clone();
    // Resolved once: the hook (run inside a repository) and the workers drain one directory.
    let spool_dir = std::env::current_dir()
        .context("reading the working directory")?
        .join(settings.spool_dir());
    settings.hooks.spool_dir = Some(spool_dir);
    let created = local_repositories(&mut settings, &url)?;
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
    for (game, netkan) in created {
        let games = &settings.games[&game];
        let branch = games.netkan_primary_branch();
        println!(
            "  {game}:    push .netkan files to the local NetKAN repository (branch {branch}):"
        );
        println!("          git clone {}", netkan.display());
        println!(
            "          it holds NetKAN/{}.netkan: edit it, commit and push to {branch} to see it inflated",
            crate::example::IDENTIFIER
        );
        // A repository made by an earlier run on another branch than the one now configured:
        // the hook inflates pushes to the repository's own branch, the web the configured one.
        let head = netkan_common::config::local_head_branch(&netkan.display().to_string());
        if let Some(head) = head.filter(|h| *h != branch) {
            println!(
                "          warning: its HEAD is {head}, but games.{game}.netkan_branch is {branch}"
            );
        }
    }
    if settings.mirror.target == netkan_common::config::MirrorTarget::Directory {
        println!("  mirror: {}", settings.mirror_dir().display());
    }
    println!(
        "  status: {}/status",
        settings.web.base_url.trim_end_matches('/')
    );
    println!("  stop:   Ctrl-C (running jobs finish, nothing is lost)");
    let web = tokio::spawn({
        let (settings, url, shutdown) = (settings.clone(), url.clone(), shutdown.clone());
        async move { netkan_web::run(&settings, &url, web_listener, shutdown).await }
    });
    let report = netkan_worker::run(&settings, &url, shutdown.clone()).await;
    // The worker returns on shutdown (its jobs finished or handed back, itself deregistered),
    // or on a fatal error: either way the web stops too. Redis goes last, since both use it
    // to the end; it is in a process group of its own, so a Ctrl-C has not reached it.
    shutdown.cancel();
    let web = web.await.context("the web front end panicked")?;
    if let Some(mut server) = server {
        server.stop();
        info!("embedded redis-server stopped");
    }
    if let Some(port) = adopted
        && netkan_common::redis_server::shutdown_port(port)
    {
        info!(port, "adopted redis-server stopped");
    }
    drop(lock);
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

/// For every game without configured repositories, creates local bare NetKAN and CKAN-meta
/// repositories under `<data_dir>/repos/<game>/` (once), installs the post-receive hook into
/// NetKAN, and points the settings at them. Returns the NetKAN repositories it manages.
fn local_repositories(
    settings: &mut Settings,
    redis_url: &str,
) -> anyhow::Result<Vec<(String, std::path::PathBuf)>> {
    let data_dir = settings.data_dir.clone();
    let mut managed = Vec::new();
    let hook_config = data_dir.join("hook.toml");
    let games: Vec<String> = settings.games.keys().cloned().collect();
    for game in games {
        let entry = settings.games.entry(game.clone()).or_default();
        if entry.netkan.is_some() {
            continue;
        }
        let root = data_dir.join("repos").join(&game);
        let netkan = root.join("NetKAN.git");
        let ckanmeta = root.join("CKAN-meta.git");
        // Born on the configured branch, else `main`: the branch the hook, `/gh/inflate`
        // and the workers then take is the one the repository has (read from its HEAD).
        let branches = [entry.netkan_branch.clone(), entry.ckanmeta_branch.clone()];
        for (repo, branch) in [&netkan, &ckanmeta].into_iter().zip(branches) {
            if !repo.join("HEAD").exists() {
                let mut opts = git2::RepositoryInitOptions::new();
                opts.bare(true)
                    .initial_head(branch.as_deref().unwrap_or(NEW_REPOSITORY_BRANCH));
                git2::Repository::init_opts(repo, &opts)
                    .with_context(|| format!("creating {}", repo.display()))?;
                info!(repo = %repo.display(), "created a local bare repository");
            }
        }
        // A first run seeds the example mod, whose archive the web serves from files_dir.
        let files_dir = settings
            .web
            .files_dir
            .get_or_insert_with(|| data_dir.join("files"))
            .clone();
        let netkan_text = crate::example::netkan(&settings.web.base_url);
        let entry = settings.games.entry(game.clone()).or_default();
        let path = format!("NetKAN/{}.netkan", crate::example::IDENTIFIER);
        if crate::example::seed(&netkan, "Add the example mod", &[(&path, netkan_text)])? {
            crate::example::write_archive(&files_dir)?;
            info!(repo = %netkan.display(), "seeded the example mod {path}");
        }
        let readme =
            "# CKAN-meta\n\nThe `.ckan` files netkan indexes, one folder per identifier.\n";
        crate::example::seed(
            &ckanmeta,
            "Start CKAN-meta",
            &[("README.md", readme.into())],
        )?;
        entry.netkan = Some(netkan_common::config::Secret::new(
            netkan.display().to_string(),
        ));
        if entry.ckanmeta.is_none() {
            entry.ckanmeta = Some(netkan_common::config::Secret::new(
                ckanmeta.display().to_string(),
            ));
        }
        managed.push((game, netkan));
    }
    if managed.is_empty() {
        return Ok(managed);
    }
    // A self-contained installation mirrors into a directory rather than nowhere, so the
    // whole chain push → inflate → index → mirror can be watched without an account.
    if settings.mirror.target == netkan_common::config::MirrorTarget::None {
        settings.mirror.target = netkan_common::config::MirrorTarget::Directory;
        info!(dir = %settings.mirror_dir().display(), "mirroring redistributable downloads into a directory");
    }
    // The hook runs in git's environment, not ours: it reads where Redis is from this file.
    let text = format!(
        "# written by `netkan up` for the post-receive hooks of its local repositories\ndata_dir = {:?}\n[redis]\nurl = {:?}\n[web]\nbase_url = {:?}\n",
        data_dir.display().to_string(),
        redis_url,
        settings.web.base_url,
    );
    write_private(&hook_config, &text)?;
    let binary = std::env::current_exe().context("locating netkan")?;
    for (game, netkan) in &managed {
        netkan_hooks::install::install(
            netkan,
            &netkan_hooks::install::InstallOptions {
                binary: binary.clone(),
                before: vec!["hook".into()],
                game: game.clone(),
                base_url: Some(settings.web.base_url.clone()),
                config: Some(hook_config.clone()),
                spool_dir: settings.hooks.spool_dir.clone(),
            },
        )?;
    }
    Ok(managed)
}

/// Writes a file readable only by its owner (it may hold a Redis password).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}
