//! The files of `deploy/` name what exists and run: every worker role has its systemd unit
//! instance and compose service, the commands are this build's binaries, the example
//! configuration's ports agree with the nginx file, every unit is hardened alike, a real
//! nginx with the shipped file proxies a live log stream and a webhook, and a push while
//! Redis is down through the installed layout spools where the drain looks.
//! (`scripts/check-deploy.sh` runs `nginx -t` and `systemd-analyze verify` on the files.)
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use netkan_common::testing::{TestRedis, eventually};
use netkan_common::{JobQueue, JobSettings, Keys, Level, NewJob, QueueName};

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

#[test]
fn the_config_example_names_every_role_roles_defaults_to() {
    let example = deploy("config.example.toml");
    let line = example
        .lines()
        .find(|l| l.starts_with("roles = "))
        .expect("the example shows worker.roles");
    for role in ROLES {
        assert!(
            line.contains(role),
            "worker.roles' comment misses the role {role}: {line}"
        );
    }
}

/// `Key=value` lines of a unit file's `[Service]` section.
fn service_section(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .skip_while(|l| l.trim() != "[Service]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn every_systemd_service_is_hardened_alike_and_stops_netkan_before_its_children() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/systemd");
    let mut services = 0;
    let shutdown = netkan_common::config::Settings::default()
        .worker
        .shutdown_timeout_secs;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "service") {
            continue;
        }
        services += 1;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let keys = service_section(&std::fs::read_to_string(&path).unwrap());
        let get = |key: &str| {
            keys.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{name} has no {key}="))
        };
        // SIGTERM to netkan alone; the whole group would stop `netkan up`'s Redis first.
        assert_eq!(get("KillMode"), "mixed", "{name}");
        assert_eq!(get("NoNewPrivileges"), "yes", "{name}");
        assert_eq!(get("ProtectSystem"), "strict", "{name}");
        assert_eq!(get("PrivateTmp"), "yes", "{name}");
        assert_eq!(get("StateDirectory"), "netkan", "{name}");
        assert_eq!(get("CacheDirectory"), "netkan", "{name}");
        // One working directory: relative paths of netkan.toml (the spool) mean one place.
        assert_eq!(get("WorkingDirectory"), "/var/lib/netkan", "{name}");
        let writable: Vec<&str> = get("ReadWritePaths").split_whitespace().collect();
        assert!(
            writable.contains(&"/var/lib/netkan") && writable.contains(&"/var/cache/netkan"),
            "{name}: {writable:?}"
        );
        assert_eq!(get("User"), "netkan", "{name}");
        if name == "netkan-up.service" || name == "netkan-worker@.service" {
            let stop: u64 = get("TimeoutStopSec").parse().unwrap();
            assert!(
                stop > shutdown,
                "{name}: TimeoutStopSec={stop} leaves no time after worker.shutdown_timeout_secs = {shutdown}"
            );
        }
    }
    assert_eq!(
        services, 4,
        "netkan-up, netkan-web, netkan-worker@, netkan-hook-drain"
    );
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Operator")
        .env("GIT_AUTHOR_EMAIL", "op@example.com")
        .env("GIT_COMMITTER_NAME", "Operator")
        .env("GIT_COMMITTER_EMAIL", "op@example.com")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "git {args:?}: {text}");
    text
}

#[tokio::test]
async fn a_push_while_redis_is_down_spools_to_the_absolute_directory_the_drain_empties() {
    // The systemd layout under a temporary root: /etc/netkan/netkan.toml (data_dir left at
    // its relative default), the units' working directory /var/lib/netkan, a bare NetKAN
    // repository elsewhere. Redis's port has nothing on it yet.
    let root = tempfile::tempdir().unwrap();
    let root = root.path().canonicalize().unwrap();
    let state = root.join("var/lib/netkan");
    let etc = root.join("etc/netkan");
    let repo = root.join("srv/git/NetKAN.git");
    for d in [&state, &etc, repo.parent().unwrap()] {
        std::fs::create_dir_all(d).unwrap();
    }
    let unit = deploy("systemd/netkan-hook-drain.service");
    assert!(unit.contains("WorkingDirectory=/var/lib/netkan"), "{unit}");
    let port = netkan_common::redis_server::free_port();
    let config = etc.join("netkan.toml");
    std::fs::write(
        &config,
        format!("[redis]\nurl = \"redis://127.0.0.1:{port}/\"\n[hooks]\ntimeout_ms = 500\n"),
    )
    .unwrap();
    git(
        &root,
        &["init", "--bare", "-q", "-b", "main", repo.to_str().unwrap()],
    );
    let netkan = |args: &[&str], cwd: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_netkan"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .current_dir(cwd)
            .env_remove("REDIS_URL")
            .env_remove("NETKAN_CONFIG")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "netkan {args:?}: {text}");
        text
    };
    // Installed as the operator would, from the units' working directory.
    let spool = state.join("data/spool");
    let out = netkan(&["hook", "install", repo.to_str().unwrap()], &state);
    assert!(
        out.contains(&format!("spools to {}", spool.display())),
        "{out}"
    );
    let script = std::fs::read_to_string(repo.join("hooks/post-receive")).unwrap();
    assert!(
        script.contains(&format!("--spool-dir '{}'", spool.display())),
        "{script}"
    );
    // Every path baked into the hook is absolute.
    let quoted: Vec<&str> = script.split('\'').skip(1).step_by(2).collect();
    let paths: Vec<&&str> = quoted
        .iter()
        .filter(|w| w.contains('/') && !w.contains("://"))
        .collect();
    assert!(paths.len() >= 3, "{script}");
    for p in paths {
        assert!(Path::new(p).is_absolute(), "{p} in {script}");
    }

    // A push while Redis is down: git runs the hook inside the bare repository.
    let clone = root.join("clone");
    git(
        &root,
        &[
            "clone",
            "-q",
            repo.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    git(&clone, &["checkout", "-q", "-b", "main"]);
    std::fs::create_dir_all(clone.join("NetKAN")).unwrap();
    std::fs::write(
        clone.join("NetKAN/Astrogator.netkan"),
        "identifier: Astrogator\n$kref: '#/ckan/spacedock/1'\n",
    )
    .unwrap();
    git(&clone, &["add", "-A"]);
    git(&clone, &["commit", "-q", "-m", "add Astrogator"]);
    let out = git(&clone, &["push", "origin", "main"]);
    let id: netkan_common::JobId = out
        .lines()
        .find(|l| l.contains("push spooled as"))
        .and_then(|l| l.split_whitespace().find_map(|w| w.parse().ok()))
        .unwrap_or_else(|| panic!("not spooled: {out}"));
    let spooled: Vec<_> = std::fs::read_dir(&spool)
        .unwrap_or_else(|e| panic!("{}: {e}; push said {out}", spool.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(spooled.len(), 1, "{spooled:?}");
    assert!(spooled[0].contains(&id.to_string()), "{spooled:?}");
    assert!(!repo.join("data").exists(), "spooled inside the repository");

    // Redis is back; the drain unit's command, in its working directory, queues the job.
    let redis = netkan_common::redis_server::RedisServer::start(
        &netkan_common::redis_server::RedisServerOptions {
            bin: std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into()),
            dir: root.join("redis"),
            port,
            persistent: false,
        },
    )
    .unwrap();
    let out = netkan(&["hook", "drain"], &state);
    assert!(
        out.contains(&format!(
            "1 spooled job(s) enqueued from {}",
            spool.display()
        )),
        "{out}"
    );
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    let rec = jq.job(&mut conn, &id).await.unwrap().expect("the push job");
    assert_eq!(rec.kind, "push");
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
}

/// nginx started by a test, stopped (master and workers) when dropped.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn nginx_with_the_shipped_file_proxies_a_live_log_stream_and_a_webhook() {
    let redis = TestRedis::start();
    let web_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let web_addr = web_listener.local_addr().unwrap();
    let settings = netkan_common::config::Settings::default();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let web = tokio::spawn({
        let (settings, url, shutdown) = (settings.clone(), redis.url(), shutdown.clone());
        async move { netkan_web::run(&settings, &url, web_listener, shutdown).await }
    });

    // The shipped file, changed only where a test must: loopback ports instead of 80 and 443,
    // the web front end's port, a throwaway certificate.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let openssl = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=netkan.example.org"])
        .args(["-addext", "subjectAltName=DNS:netkan.example.org"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(d.join("privkey.pem"))
        .arg("-out")
        .arg(d.join("fullchain.pem"))
        .output()
        .expect("openssl is installed (scripts/test.sh installs it)");
    assert!(openssl.status.success(), "{openssl:?}");
    let (http_port, https_port) = (
        netkan_common::redis_server::free_port(),
        netkan_common::redis_server::free_port(),
    );
    let mut conf = deploy("nginx/netkan.conf");
    let replacements = [
        ("listen 80;", format!("listen 127.0.0.1:{http_port};")),
        ("listen [::]:80;", String::new()),
        (
            "listen 443 ssl http2;",
            format!("listen 127.0.0.1:{https_port} ssl http2;"),
        ),
        ("listen [::]:443 ssl http2;", String::new()),
        (
            "/etc/letsencrypt/live/netkan.example.org/",
            format!("{}/", d.display()),
        ),
        ("http://127.0.0.1:8080;", format!("http://{web_addr};")),
    ];
    for (from, to) in replacements {
        assert!(conf.contains(from), "the nginx file has no {from:?}");
        conf = conf.replace(from, &to);
    }
    std::fs::write(d.join("netkan.conf"), conf).unwrap();
    std::fs::create_dir_all(d.join("logs")).unwrap();
    std::fs::write(
        d.join("nginx.conf"),
        format!(
            "pid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\nevents {{}}\nhttp {{\n    include /etc/nginx/mime.types;\n    access_log off;\n    include {d}/netkan.conf;\n}}\n",
            d = d.display()
        ),
    )
    .unwrap();
    let nginx_bin = std::env::var("NGINX_BIN").unwrap_or_else(|_| "/usr/sbin/nginx".into());
    let nginx = Command::new(&nginx_bin)
        .arg("-p")
        .arg(d)
        .arg("-c")
        .arg(d.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {nginx_bin} ({e}): apt-get install -y nginx, or set NGINX_BIN")
        });
    let _nginx = Nginx(nginx);
    let https = std::net::SocketAddr::from(([127, 0, 0, 1], https_port));
    eventually(Duration::from_secs(10), "nginx to listen", || async move {
        std::net::TcpStream::connect(https).ok().map(|_| ())
    })
    .await;
    let cert = std::fs::read(d.join("fullchain.pem")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .resolve("netkan.example.org", https)
        .build()
        .unwrap();
    let base = format!("https://netkan.example.org:{https_port}");
    // A proxy that passes a client's X-Request-Id on has not set its own: nginx's
    // `proxy_set_header X-Request-Id $request_id` replaces this one in every location.
    let forged = "chosen-by-the-client";
    let nginx_request_id = |res: &reqwest::Response| {
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(id, forged, "the location does not set nginx's request id");
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
    };

    // A webhook through nginx enqueues its job.
    let res = client
        .post(format!("{base}/inflate"))
        .header("x-request-id", forged)
        .body(r#"{"identifiers": ["Astrogator"]}"#)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{res:?}");
    nginx_request_id(&res);
    let job_id: netkan_common::JobId = res.headers()["x-netkan-job-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut conn = redis.conn().await;
    let jq = JobQueue::new(Keys::default(), JobSettings::default());
    assert!(jq.job(&mut conn, &job_id).await.unwrap().is_some());

    // A live log stream through nginx: a line written after the stream opened arrives.
    let job = NewJob::new("noop", QueueName::new("noop").unwrap());
    jq.enqueue(&mut conn, std::slice::from_ref(&job))
        .await
        .unwrap();
    let mut res = client
        .get(format!("{base}/logs/{}/events", job.id))
        .header("x-request-id", forged)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{res:?}");
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    nginx_request_id(&res);
    let mut seen = String::new();
    for (n, line) in ["first line through nginx", "second line, live"]
        .into_iter()
        .enumerate()
    {
        jq.append_log(&mut conn, &job.id, &[(Level::Notice, line.to_owned())])
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), async {
            while !seen.contains(line) {
                let chunk = res.chunk().await.unwrap().expect("the stream stays open");
                seen.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("line {n} did not arrive through nginx: {seen}"));
    }
    drop(res);
    shutdown.cancel();
    web.await.unwrap().unwrap();
}
