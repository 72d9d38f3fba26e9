//! The job kinds this worker runs, grouped into roles (a role serves one or more queues).

pub mod add;
pub mod auto_freeze;
pub mod clean_cache;
pub mod download_count;
pub mod housekeeping;
pub mod index;
pub mod inflate;
pub mod inflation;
pub mod mirror;
pub mod noop;
pub mod push;
pub mod schedule;
pub mod ticket_close;

use std::sync::Arc;

use netkan_common::config::Settings;
use netkan_common::{Game, QueueName};

use crate::context::Registry;
use crate::runner::Role;

/// Every role this build knows.
pub const ROLES: &[&str] = &[
    noop::ROLE,
    push::ROLE,
    inflate::ROLE,
    index::ROLE,
    schedule::ROLE,
    mirror::ROLE,
    add::ROLE,
    housekeeping::ROLE,
];

/// Builds the roles named in the settings (all known roles when none are named).
///
/// # Errors
/// If a role name is unknown; the message lists the known ones.
pub fn roles(all: &Settings) -> anyhow::Result<Vec<Role>> {
    let settings = &all.worker;
    // One HTTP client for the process (the forge, notices).
    let http = crate::forge::http_client(&all.hosts)?;
    let names: Vec<String> = if settings.roles.is_empty() {
        ROLES.iter().map(|s| (*s).to_owned()).collect()
    } else {
        settings.roles.clone()
    };
    // The hosts client (routing, size limits, the text memo), shared by the inflator, the
    // mirrorer and the adder; built only if a role needs it.
    let mut hosts_http: Option<netkan_inflator::http::HttpClient> = None;
    let mut shared_hosts_http = || -> anyhow::Result<netkan_inflator::http::HttpClient> {
        if let Some(h) = &hosts_http {
            return Ok(h.clone());
        }
        let h = netkan_inflator::http::HttpClient::new(&all.hosts)?;
        hosts_http = Some(h.clone());
        Ok(h)
    };
    names
        .iter()
        .map(|name| {
            let mut registry = Registry::new();
            let queues = match name.as_str() {
                noop::ROLE => {
                    noop::register(&mut registry);
                    vec![QueueName::new(noop::QUEUE)?]
                }
                inflate::ROLE => {
                    let inflator = netkan_inflator::Inflator::with_services(
                        netkan_inflator::Services::with_http(all, shared_hosts_http()?),
                    );
                    let env = inflate::InflateEnv::new(inflator, all.data_dir.clone());
                    inflate::register(&mut registry, Arc::new(env));
                    let games = all
                        .games
                        .keys()
                        .map(Game::new)
                        .collect::<Result<Vec<Game>, _>>()?;
                    inflate::queues(games)
                }
                push::ROLE => {
                    let env = push::PushEnv {
                        data_dir: all.data_dir.clone(),
                        games: all.games.clone(),
                        max_netkan_bytes: all.worker.max_netkan_bytes,
                        missing_commit_attempts: all
                            .worker
                            .missing_commit_attempts
                            .min(all.jobs.max_attempts),
                    };
                    push::register(&mut registry, Arc::new(env));
                    vec![QueueName::push()]
                }
                mirror::ROLE => {
                    let env = mirror::MirrorEnv::new(all, shared_hosts_http()?);
                    mirror::register(&mut registry, Arc::new(env));
                    vec![QueueName::mirroring()]
                }
                add::ROLE => {
                    let forge = crate::forge::Forge::new(http.clone(), &all.hosts);
                    let env = add::AddEnv::new(all, shared_hosts_http()?, Some(forge));
                    add::register(&mut registry, Arc::new(env));
                    vec![QueueName::adding()]
                }
                index::ROLE => {
                    let env = index::IndexEnv::new(
                        all.data_dir.clone(),
                        all.games.clone(),
                        all.indexer.clone(),
                        crate::git::Identity::from(&all.git),
                        all.cache_dir(),
                        Some(crate::forge::Forge::new(http.clone(), &all.hosts)),
                        crate::notify::Notifier::new(http.clone(), all.notify.webhook_url.clone()),
                        all.web.base_url.clone(),
                    );
                    index::register(&mut registry, Arc::new(env));
                    vec![QueueName::outbound()]
                }
                housekeeping::ROLE => {
                    let env = Arc::new(housekeeping::HousekeepingEnv::new(all, http.clone()));
                    download_count::register(&mut registry, env.clone());
                    auto_freeze::register(&mut registry, env.clone());
                    ticket_close::register(&mut registry, env.clone());
                    clean_cache::register(&mut registry, env);
                    vec![housekeeping::queue()]
                }
                schedule::ROLE => {
                    let env = schedule::ScheduleEnv {
                        data_dir: all.data_dir.clone(),
                        games: all.games.clone(),
                        forge: crate::forge::Forge::new(http.clone(), &all.hosts),
                        notifier: crate::notify::Notifier::new(
                            http.clone(),
                            all.notify.webhook_url.clone(),
                        ),
                        base_url: all.web.base_url.clone(),
                    };
                    schedule::register(&mut registry, Arc::new(env));
                    vec![QueueName::new(schedule::QUEUE)?]
                }
                other => anyhow::bail!(
                    "worker.roles: unknown role {other:?}; known roles: {}",
                    ROLES.join(", ")
                ),
            };
            Ok(Role {
                name: name.clone(),
                queues,
                concurrency: settings.concurrency_of(name),
                registry,
            })
        })
        .collect()
}

pub(crate) use crate::git::lock_dir as lock_working_dir;

/// The periodic jobs of the roles served (their tickers run in every such process).
pub fn periodic(all: &Settings, roles: &[Role]) -> Vec<crate::periodic::Periodic> {
    let mut out = Vec::new();
    if roles.iter().any(|r| r.name == schedule::ROLE) {
        out.extend(schedule::periodic_jobs(all));
    }
    if roles.iter().any(|r| r.name == housekeeping::ROLE) {
        out.extend(housekeeping::periodic_jobs(all));
    }
    out
}

/// One of a game's repositories.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Repo {
    /// `games.<game>.netkan`.
    Netkan,
    /// `games.<game>.ckanmeta`.
    CkanMeta,
}

/// The configured path or URL of a game's repository.
pub(crate) fn remote(
    games: &std::collections::BTreeMap<String, netkan_common::config::GameSettings>,
    game: &netkan_common::Game,
    repo: Repo,
) -> Option<String> {
    let g = games.get(game.as_str())?;
    match repo {
        Repo::Netkan => g.netkan.as_ref(),
        Repo::CkanMeta => g.ckanmeta.as_ref(),
    }
    .map(|s| s.expose().to_owned())
}
