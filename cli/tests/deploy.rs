//! The files of `deploy/` name what exists: every worker role has its systemd unit instance
//! and compose service, the commands are this build's binaries, the example configuration's
//! ports agree with the nginx snippet.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::path::{Path, PathBuf};

use netkan_worker::jobs::ROLES;

fn deploy(file: &str) -> String {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every role but `noop` (a test and benchmark role) is meant to run in production.
fn production_roles() -> Vec<&'static str> {
    ROLES.iter().copied().filter(|r| *r != "noop").collect()
}

#[test]
fn compose_runs_every_role_with_this_builds_binaries() {
    let text = deploy("compose.yaml");
    let docs = netkan_common::ckan::parse::parse_documents(
        &text,
        netkan_common::ckan::parse::Typing::Ckan,
    )
    .unwrap();
    let services = docs[0]["services"].as_object().unwrap();
    let mut roles = Vec::new();
    for (name, service) in services {
        let Some(command) = service.get("command").and_then(|c| c.as_array()) else {
            continue;
        };
        let words: Vec<&str> = command.iter().map(|w| w.as_str().unwrap()).collect();
        if name == "redis" {
            continue;
        }
        assert!(
            ["netkan", "netkan-web", "netkan-worker"].contains(&words[0]),
            "service {name} runs {words:?}"
        );
        if words[0] == "netkan-worker" {
            assert_eq!(&words[1..3], ["run", "--role"], "service {name}");
            assert!(
                ROLES.contains(&words[3]),
                "service {name}: no role {}",
                words[3]
            );
            roles.push(words[3]);
        }
    }
    roles.sort_unstable();
    let mut expected = production_roles();
    expected.sort_unstable();
    assert_eq!(roles, expected, "one compose service per role");
}

#[test]
fn the_systemd_target_starts_the_web_and_a_worker_per_role() {
    let target = deploy("systemd/netkan.target");
    assert!(target.contains("netkan-web.service"));
    for role in production_roles() {
        assert!(
            target.contains(&format!("netkan-worker@{role}.service")),
            "netkan.target does not start the {role} role"
        );
    }
    let unit = deploy("systemd/netkan-worker@.service");
    assert!(unit.contains("run --role %i"), "{unit}");
}

#[test]
fn the_dockerfile_builds_every_binary_and_nginx_proxies_the_default_bind() {
    let docker = deploy("Dockerfile");
    for bin in ["netkan", "netkan-worker", "netkan-web", "netkan-hook"] {
        assert!(
            docker.contains(&format!("target/release/{bin}")),
            "the Dockerfile does not install {bin}"
        );
    }
    let bind = netkan_common::config::Settings::default().web.bind;
    let nginx = deploy("nginx/netkan.conf");
    assert!(
        nginx.contains(&format!("proxy_pass http://{bind};")),
        "nginx does not proxy to web.bind = {bind}"
    );
}
