//! A real browser on `/logs/<uuid>`: headless Chromium (Debian's `chromium`) driven through
//! `chromedriver` (`chromium-driver`) with fantoccini. Lines a worker appends appear on the
//! page without a reload, a line holding markup stays text, and the page notices the end.
//! The run view follows a push tree live and lists a 1,000-job tree. The status page searches
//! and sorts 4,000 mods. Screenshots are saved as `target/logs-page.png`,
//! `target/queues-page.png`, `target/status-page.png`, and `target/run-running.png`,
//! `run-failed.png`, `run-succeeded.png`, `run-1000.png`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use netkan_common::Level;
use netkan_common::queue::Outcome;
use netkan_common::testing::eventually;
use serde_json::{Value, json};

use crate::{Worker, noop_job, spawn_app};

/// `chromedriver`, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let child = Command::new(&bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {bin}: {e}. Install Debian's chromium and chromium-driver \
                 (apt-get install chromium chromium-driver; scripts/test.sh does it)"
            )
        });
    Driver {
        child,
        port,
        _profile: tempfile::tempdir().unwrap(),
    }
}

async fn connect(driver: &Driver) -> fantoccini::Client {
    let chrome = std::env::var("CHROME_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let profile = driver._profile.path().display().to_string();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chrome,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", format!("--user-data-dir={profile}"), "--window-size=1200,900"
            ]
        }),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    // chromedriver takes a moment to listen.
    eventually(
        Duration::from_secs(20),
        "chromedriver to accept a session",
        || {
            let caps = caps.clone();
            let url = url.clone();
            async move {
                fantoccini::ClientBuilder::rustls()
                    .ok()?
                    .capabilities(caps)
                    .connect(&url)
                    .await
                    .ok()
            }
        },
    )
    .await
}

async fn eval(client: &fantoccini::Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

fn screenshot_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join(name)
}

#[tokio::test]
async fn a_browser_sees_live_lines_appear_and_the_job_end() {
    let app = spawn_app().await;
    let driver = start_driver();
    let mut w = Worker::start(
        &app,
        noop_job("inflate")
            .with_body(
                r##"{"identifier": "Astrogator", "$kref": "#/ckan/github/HebaruSan/Astrogator"}"##,
            )
            .with_attr("GameId", "ksp"),
    )
    .await;
    let child = w.child("index", "outbound").await;
    w.log(Level::Info, "Inflating Astrogator").await;
    w.log(Level::Debug, "Using GitHub release v1.0.0").await;
    let id = w.id();
    let client = connect(&driver).await;
    client.goto(&app.url(&format!("/logs/{id}"))).await.unwrap();
    let count = "return document.querySelectorAll('#log li').length";
    assert_eq!(eval(&client, count).await, json!(2));
    eventually(Duration::from_secs(10), "the page to go live", || async {
        (eval(
            &client,
            "return document.getElementById('live').textContent",
        )
        .await
            == json!("● live"))
        .then_some(())
    })
    .await;

    w.log(Level::Notice, "Downloaded Astrogator-v1.0.0.zip (120 KB)")
        .await;
    w.log(
        Level::Warn,
        "<script>window.pwned = true</script> is just text",
    )
    .await;
    w.log(Level::Info, "Wrote Astrogator-v1.0.0.ckan").await;
    eventually(
        Duration::from_secs(10),
        "the new lines on the page",
        || async { (eval(&client, count).await == json!(5)).then_some(()) },
    )
    .await;
    let last = eval(
        &client,
        "return document.querySelector('#log li:last-child .msg').textContent",
    )
    .await;
    assert_eq!(last, json!("Wrote Astrogator-v1.0.0.ckan"));
    let warn = eval(
        &client,
        "return document.querySelector('#log li.l-WARN .msg').textContent",
    )
    .await;
    assert_eq!(
        warn,
        json!("<script>window.pwned = true</script> is just text")
    );
    assert_eq!(
        eval(&client, "return window.pwned === undefined").await,
        json!(true)
    );
    assert_eq!(
        eval(
            &client,
            "return document.getElementById('state').textContent"
        )
        .await,
        json!("running")
    );

    w.log(Level::Error, "Oops, then recovered").await;
    w.finish(Outcome::Succeeded).await;
    eventually(
        Duration::from_secs(10),
        "the page to notice the end",
        || async {
            (eval(
                &client,
                "return document.getElementById('state').textContent",
            )
            .await
                == json!("succeeded"))
            .then_some(())
        },
    )
    .await;
    assert_eq!(eval(&client, count).await, json!(6));
    let notice = eval(
        &client,
        "return document.getElementById('notice').textContent",
    )
    .await;
    assert_eq!(notice, json!("Job finished: succeeded"));
    let finished = eval(
        &client,
        "return document.getElementById('finished').textContent",
    )
    .await;
    assert!(finished.as_str().unwrap().ends_with(" UTC"), "{finished}");
    let children = eval(
        &client,
        "return document.querySelector('#children-body a').getAttribute('href')",
    )
    .await;
    assert_eq!(children, json!(format!("/logs/{child}")));
    // The level filter hides lines without a reload.
    client
        .execute(
            "const s = document.getElementById('level'); s.value = 'WARN'; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .unwrap();
    let visible = "return Array.from(document.querySelectorAll('#log li')).filter(li => li.offsetParent !== null).length";
    assert_eq!(eval(&client, visible).await, json!(2));
    client
        .execute(
            "const s = document.getElementById('level'); s.value = 'DEBUG'; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .unwrap();

    let png = client.screenshot().await.unwrap();
    let path = screenshot_path("logs-page.png");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, png).unwrap();

    // The dashboard renders in a real browser too (a picture for people, no assertion).
    client.goto(&app.url("/queues")).await.unwrap();
    let title = eval(&client, "return document.querySelector('h1').textContent").await;
    assert_eq!(title, json!("Queues"));
    std::fs::write(
        screenshot_path("queues-page.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_browser_searches_and_sorts_four_thousand_mods_on_the_status_page() {
    let app = crate::status::app_with_mods().await;
    // 4,000 more mods, as many as CKAN-meta has identifiers.
    {
        let mut c = app.conn().await;
        let store = netkan_common::status::StatusStore::new(app.jq.keys().clone());
        let t = netkan_common::status::parse_time("2024-01-01T00:00:00").unwrap();
        for i in 0..4000 {
            let inf = netkan_common::status::Inflation {
                success: true,
                error: None,
                warnings: None,
                inflated: t + chrono::Duration::minutes(i),
                indexed: None,
                release_date: None,
                resources: None,
                downloaded: None,
            };
            store
                .record_inflation(
                    &mut c,
                    &netkan_common::Game::ksp(),
                    &format!("Mod{i:04}"),
                    &inf,
                )
                .await
                .unwrap();
        }
    }
    let driver = start_driver();
    let client = connect(&driver).await;
    client.goto(&app.url("/status")).await.unwrap();
    let count = "return document.getElementById('count').textContent";
    eventually(Duration::from_secs(20), "the rows to load", || async {
        (eval(&client, count).await == json!("4003 of 4003 mods")).then_some(())
    })
    .await;
    let rows = "return document.querySelectorAll('#rows tr').length";
    assert_eq!(eval(&client, rows).await, json!(4003));
    // Sorted by identifier at first, case-insensitively.
    let first = "return document.querySelector('#rows tr td').textContent";
    assert_eq!(eval(&client, first).await, json!("Astrogator"));

    // The error is text, the page ran no script from it, a javascript: resource is no link.
    let search = |q: &'static str| {
        format!(
            "const s = document.getElementById('search'); s.value = {q:?}; s.dispatchEvent(new Event('input'));"
        )
    };
    client.execute(&search("pwned"), vec![]).await.unwrap();
    eventually(Duration::from_secs(10), "the search to filter", || async {
        (eval(&client, count).await == json!("1 of 4003 mods")).then_some(())
    })
    .await;
    let error = "return document.querySelector('#rows td.error-message').textContent";
    assert_eq!(eval(&client, error).await, json!(crate::status::EVIL));
    assert_eq!(
        eval(&client, "return window.pwned === undefined").await,
        json!(true)
    );
    client.execute(&search("astro"), vec![]).await.unwrap();
    eventually(Duration::from_secs(10), "the search for astro", || async {
        (eval(&client, first).await == json!("Astrogator")).then_some(())
    })
    .await;
    assert_eq!(eval(&client, count).await, json!("1 of 4003 mods"));
    let links = "return Array.from(document.querySelectorAll('#rows a')).map(a => a.textContent + ' ' + a.getAttribute('href'))";
    assert_eq!(
        eval(&client, links).await,
        json!(["homepage https://example.com/a?b=1&c=2"])
    );

    // Sorting: last inflated, newest first, then oldest first; the game filter.
    client.execute(&search(""), vec![]).await.unwrap();
    eventually(Duration::from_secs(10), "all rows again", || async {
        (eval(&client, count).await == json!("4003 of 4003 mods")).then_some(())
    })
    .await;
    let header = "document.querySelector('#status th[data-col=\"2\"]').click()";
    client.execute(header, vec![]).await.unwrap();
    assert_eq!(eval(&client, first).await, json!("Mod3999"));
    client.execute(header, vec![]).await.unwrap();
    let first_inflated = "return document.querySelector('#rows tr td:nth-child(3)').textContent";
    assert_eq!(
        eval(&client, first_inflated).await,
        json!("2023-04-13 08:10")
    );
    let last = "return document.querySelector('#rows tr:last-child td').textContent";
    assert_eq!(
        eval(&client, last).await,
        json!("Later"),
        "never inflated: last either way"
    );
    client
        .execute(
            "const g = document.getElementById('game'); g.value = 'ksp2'; g.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(eval(&client, count).await, json!("1 of 4003 mods"));
    assert_eq!(eval(&client, first).await, json!("Later"));
    client
        .execute(
            "const g = document.getElementById('game'); g.value = ''; g.dispatchEvent(new Event('change')); document.getElementById('problems').click();",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(eval(&client, count).await, json!("2 of 4003 mods"));

    std::fs::write(
        screenshot_path("status-page.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    client.close().await.unwrap();
}

/// Claims up to `n` jobs waiting in `queue`, lets `each` enqueue their children, and finishes
/// them with the outcome `outcome` gives each; returns their ids.
async fn run_jobs(
    app: &crate::TestApp,
    queue: &str,
    n: usize,
    each: impl Fn(&netkan_common::ClaimedJob) -> (Vec<netkan_common::NewJob>, Outcome),
) -> Vec<netkan_common::JobId> {
    let mut conn = app.conn().await;
    let q = netkan_common::QueueName::new(queue).unwrap();
    let claimed = app
        .jq
        .claim(&mut conn, "test-worker-run", &[q], n, 0)
        .await
        .unwrap()
        .jobs;
    let mut finishes = Vec::new();
    for job in &claimed {
        let (children, outcome) = each(job);
        let children: Vec<_> = children
            .into_iter()
            .map(|c| c.with_parent(job.id))
            .collect();
        app.jq.enqueue(&mut conn, &children).await.unwrap();
        finishes.push(netkan_common::queue::Finish {
            id: job.id,
            queue: job.queue.clone(),
            token: job.token,
            attempt: job.attempt,
            outcome,
        });
    }
    let done = app.jq.finish(&mut conn, &finishes).await.unwrap();
    assert!(done.iter().all(|d| *d));
    claimed.iter().map(|j| j.id).collect()
}

fn inflation(queue: &str, identifier: &str) -> netkan_common::NewJob {
    netkan_common::NewJob::new("inflate", netkan_common::QueueName::new(queue).unwrap())
        .with_dedup_key(format!("ksp/{identifier}"))
}

#[tokio::test]
async fn a_browser_watches_a_push_tree_run_then_fail_and_another_succeed() {
    let app = spawn_app().await;
    let driver = start_driver();
    let client = connect(&driver).await;
    // A push whose two inflations are still queued.
    let mut conn = app.conn().await;
    app.jq
        .enqueue(&mut conn, &[noop_job("push")])
        .await
        .unwrap();
    let push = run_jobs(&app, "noop", 1, |_| {
        (
            vec![inflation("good", "GoodMod"), inflation("bad", "NoLicense")],
            Outcome::Succeeded,
        )
    })
    .await[0];
    client
        .goto(&app.url(&format!("/logs/{push}")))
        .await
        .unwrap();
    let verdict = "return document.getElementById('tree-state').textContent";
    let nodes = "return document.querySelectorAll('#run .run-node').length";
    assert_eq!(eval(&client, verdict).await, json!("running"));
    assert_eq!(eval(&client, nodes).await, json!(2));
    std::fs::write(
        screenshot_path("run-running.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();

    // The good inflation is indexed (a grandchild), the bad one fails: the page follows live.
    run_jobs(&app, "good", 1, |_| {
        (
            vec![
                netkan_common::NewJob::new(
                    "index",
                    netkan_common::QueueName::new("outbound").unwrap(),
                )
                .with_attr("ModIdentifier", "GoodMod"),
            ],
            Outcome::Succeeded,
        )
    })
    .await;
    run_jobs(&app, "outbound", 1, |_| (vec![], Outcome::Succeeded)).await;
    let bad = run_jobs(&app, "bad", 1, |_| {
        (vec![], Outcome::Failed("No license given".into()))
    })
    .await[0];
    eventually(
        Duration::from_secs(10),
        "the verdict to turn failed",
        || async { (eval(&client, verdict).await == json!("failed")).then_some(()) },
    )
    .await;
    assert_eq!(eval(&client, nodes).await, json!(3));
    let depths =
        "return Array.from(document.querySelectorAll('#run .run-node')).map(li => li.className)";
    assert_eq!(
        eval(&client, depths).await,
        json!(["run-node d1", "run-node d2", "run-node d1 failed-chain"]),
        "each job right after its parent; the failure red"
    );
    let failure = "return Array.from(document.querySelectorAll('#run ul.failures li')).map(li => li.textContent)";
    assert_eq!(
        eval(&client, failure).await,
        json!(["NoLicense: No license given failed"])
    );
    let link = "return document.querySelector('#run ul.failures a').getAttribute('href')";
    assert_eq!(eval(&client, link).await, json!(format!("/logs/{bad}")));
    assert_eq!(
        eval(
            &client,
            "return getComputedStyle(document.querySelector('#run .failed-chain > a')).color"
        )
        .await,
        json!("rgb(192, 38, 45)"),
        "the failed job's name is red"
    );
    std::fs::write(
        screenshot_path("run-failed.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();

    // A push of good mods only.
    app.jq
        .enqueue(&mut conn, &[noop_job("push")])
        .await
        .unwrap();
    let push = run_jobs(&app, "noop", 1, |_| {
        (vec![inflation("good", "GoodMod")], Outcome::Succeeded)
    })
    .await[0];
    run_jobs(&app, "good", 1, |_| (vec![], Outcome::Succeeded)).await;
    client
        .goto(&app.url(&format!("/logs/{push}")))
        .await
        .unwrap();
    assert_eq!(eval(&client, verdict).await, json!("succeeded"));
    assert_eq!(
        eval(
            &client,
            "return document.querySelectorAll('#run ul.failures').length"
        )
        .await,
        json!(0)
    );
    std::fs::write(
        screenshot_path("run-succeeded.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_browser_shows_a_thousand_job_tree() {
    let app = spawn_app().await;
    let mut conn = app.conn().await;
    app.jq
        .enqueue(&mut conn, &[noop_job("push")])
        .await
        .unwrap();
    let push = run_jobs(&app, "noop", 1, |_| {
        let children = (0..1000)
            .map(|i| inflation("scheduled", &format!("Mod{i:04}")))
            .collect();
        (children, Outcome::Succeeded)
    })
    .await[0];
    let mut done = 0;
    while done < 1000 {
        done += run_jobs(&app, "scheduled", 200, |j| {
            let n: usize = j.dedup_key.as_deref().unwrap()[7..].parse().unwrap();
            let outcome = if n % 100 == 7 {
                Outcome::Failed(format!("Mod{n:04} is broken"))
            } else {
                Outcome::Succeeded
            };
            (vec![], outcome)
        })
        .await
        .len();
    }
    let driver = start_driver();
    let client = connect(&driver).await;
    let started = std::time::Instant::now();
    client
        .goto(&app.url(&format!("/logs/{push}")))
        .await
        .unwrap();
    // For the record, not a bound: how long the page took to load here.
    eprintln!("a 1,000-job run view loaded in {:?}", started.elapsed());
    assert_eq!(
        eval(
            &client,
            "return document.querySelectorAll('#run .run-node').length"
        )
        .await,
        json!(1000)
    );
    assert_eq!(
        eval(
            &client,
            "return document.querySelectorAll('#run .run-node.failed-chain').length"
        )
        .await,
        json!(10)
    );
    assert_eq!(
        eval(
            &client,
            "return document.getElementById('tree-state').textContent"
        )
        .await,
        json!("failed")
    );
    std::fs::write(
        screenshot_path("run-1000.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    client.close().await.unwrap();
}
