//! The `mirror` role end to end: a real redis-server, a bare CKAN-meta repository, the
//! worker in-process, and one local server playing archive.org (IA-S3 uploads, the overload
//! check, the metadata API), GitHub's API and the mod's download host.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use netkan_common::JobState;
use netkan_common::QueueName;
use netkan_common::config::{MirrorTarget, Secret, Settings};
use netkan_common::testing::TestRedis;
use support::{FakeServer, Recorded, Reply, Worker, bare_repo, job, sha1_hex, sha256_hex, zip_of};

const ACCESS: &str = "ia-access-key";
const SECRET: &str = "ia-secret-key";
const PATH: &str = "AwesomeMod/AwesomeMod-1.0.0.ckan";

/// What the fake archive.org holds and how it behaves.
#[derive(Default)]
struct Archive {
    /// item → (file name, sha1 lower-case)
    items: Mutex<BTreeMap<String, Vec<(String, String)>>>,
    overloaded: AtomicBool,
    /// The overload check answers garbage.
    broken_check: AtomicBool,
    /// PUTs to refuse with 500 before accepting again (`usize::MAX`: all).
    refuse_puts: AtomicUsize,
    /// The mod's download.
    download: Mutex<Vec<u8>>,
}

fn answer(archive: &Archive, r: &Recorded) -> Reply {
    let path = r.path.as_str();
    if let Some(item) = path.strip_prefix("/metadata/") {
        let items = archive.items.lock().unwrap();
        return match items.get(item) {
            None => Reply::json(serde_json::json!({})),
            Some(files) => Reply::json(serde_json::json!({
                "created": 1_700_000_000,
                "metadata": {"identifier": item},
                "files": files.iter().map(|(n, s)| serde_json::json!({"name": n, "sha1": s})).collect::<Vec<_>>(),
            })),
        };
    }
    if path == "/s3/" && r.method == "GET" {
        if archive.broken_check.load(Ordering::SeqCst) {
            return Reply::status(502, "<html>Bad Gateway</html>");
        }
        let over = archive.overloaded.load(Ordering::SeqCst);
        return Reply::json(serde_json::json!({"over_limit": i32::from(over)}));
    }
    if let Some(rest) = path.strip_prefix("/s3/")
        && r.method == "PUT"
    {
        let refuse = archive.refuse_puts.load(Ordering::SeqCst);
        if refuse > 0 {
            if refuse != usize::MAX {
                archive.refuse_puts.store(refuse - 1, Ordering::SeqCst);
            }
            return Reply::status(500, "InternalError: the archive is having a bad day");
        }
        let (item, file) = rest.split_once('/').unwrap();
        archive
            .items
            .lock()
            .unwrap()
            .entry(item.to_owned())
            .or_default()
            .push((file.to_owned(), sha1_hex(&r.body).to_lowercase()));
        return Reply::status(200, "");
    }
    if path == "/downloads/awesome.zip" {
        return Reply::bytes(archive.download.lock().unwrap().clone());
    }
    if path == "/api/repos/HebaruSan/Astrogator" {
        return Reply::json(
            serde_json::json!({"full_name": "HebaruSan/Astrogator", "default_branch": "primary"}),
        );
    }
    if path == "/gh/HebaruSan/Astrogator/archive/primary.zip" {
        return Reply::bytes(zip_of(&[("Astrogator-primary/README.md", b"source")]));
    }
    Reply::status(404, "not found")
}

fn the_zip() -> Vec<u8> {
    zip_of(&[
        ("GameData/AwesomeMod/AwesomeMod.dll", b"MZ not really a dll"),
        ("GameData/AwesomeMod/Parts/part.cfg", b"PART\n{\n}\n"),
    ])
}

/// The AwesomeMod fixture of the reference's tests, downloadable from the fake host.
fn ckan(base: &str, zip: &[u8], licence: &str, repository: Option<&str>) -> String {
    let resources = repository
        .map(|r| format!(r#", "resources": {{"repository": "{r}"}}"#))
        .unwrap_or_default();
    format!(
        r#"{{
    "spec_version": "v1.4",
    "identifier": "AwesomeMod",
    "name": "Awesome Mod",
    "abstract": "A great mod",
    "version": "1.0.0",
    "author": ["techman83", "DasSkelett", "politas"],
    "license": {licence},
    "download": "{base}/downloads/awesome.zip",
    "download_size": {size},
    "download_content_type": "application/zip",
    "download_hash": {{
        "sha1": "{sha1}",
        "sha256": "{sha256}"
    }}{resources}
}}
"#,
        size = zip.len(),
        sha1 = sha1_hex(zip),
        sha256 = sha256_hex(zip),
    )
}

struct World {
    redis: TestRedis,
    _dir: tempfile::TempDir,
    server: FakeServer,
    archive: Arc<Archive>,
    settings: Settings,
    zip: Vec<u8>,
}

impl World {
    async fn new(licence: &str, repository: Option<&str>) -> Self {
        Self::with_ckan(|base, zip| ckan(base, zip, licence, repository)).await
    }

    /// A world whose CKAN-meta holds the `.ckan` `make(download host, zip)` writes.
    async fn with_ckan(make: impl FnOnce(&str, &[u8]) -> String) -> Self {
        let redis = TestRedis::start();
        let dir = tempfile::tempdir().unwrap();
        let archive = Arc::new(Archive::default());
        let zip = the_zip();
        *archive.download.lock().unwrap() = zip.clone();
        let a = archive.clone();
        let server = FakeServer::start(move |r| answer(&a, r)).await;
        let meta = bare_repo(
            dir.path(),
            "CKAN-meta",
            &[(PATH, make(&server.url, &zip).as_bytes())],
        );
        let mut settings = support::settings(dir.path(), &redis, &["mirror"], None, Some(&meta));
        settings.mirror.target = MirrorTarget::ArchiveOrg;
        settings.mirror.s3_endpoint = format!("{}/s3", server.url);
        settings.mirror.access_key = Secret::new(ACCESS);
        settings.mirror.secret_key = Secret::new(SECRET);
        settings.hosts.archive_org = server.url.clone();
        settings.hosts.github_api = format!("{}/api", server.url);
        settings.hosts.github = format!("{}/gh", server.url);
        Self {
            redis,
            _dir: dir,
            server,
            archive,
            settings,
            zip,
        }
    }

    fn puts(&self) -> Vec<Recorded> {
        self.server.matching("PUT", "/s3/")
    }

    fn downloads(&self) -> usize {
        self.server.matching("GET", "/downloads/").len()
    }
}

fn mirror_job(path: &str) -> netkan_common::NewJob {
    job("mirror", QueueName::mirroring(), path)
}

/// No line of the job's log carries either archive.org key.
async fn assert_no_secrets(worker: &Worker, w: &World, id: netkan_common::JobId) {
    for line in worker.log(&w.redis, id).await {
        assert!(
            !line.message.contains(SECRET) && !line.message.contains(ACCESS),
            "secret in log: {}",
            line.message
        );
    }
}

#[tokio::test]
async fn a_restricted_module_is_not_mirrorable_and_nothing_is_uploaded() {
    let w = World::new(r#""restricted""#, None).await;
    let worker = Worker::start(w.settings.clone(), &w.redis);
    let id = worker.run_ok(&w.redis, mirror_job(PATH)).await;
    assert_eq!(
        worker.last_notice(&w.redis, id).await,
        "not mirrorable: restricted licence"
    );
    assert!(w.puts().is_empty());
    assert_eq!(w.downloads(), 0);
}

#[tokio::test]
async fn a_module_its_item_already_holds_is_not_downloaded_or_uploaded_again() {
    let w = World::new(r#"["CC-BY-NC-SA-4.0", "GPL-3.0", "MIT"]"#, None).await;
    w.archive.items.lock().unwrap().insert(
        "AwesomeMod-1.0.0".into(),
        vec![(
            "OLDNAME-AwesomeMod-1.0.0.zip".into(),
            sha1_hex(&w.zip).to_lowercase(),
        )],
    );
    let worker = Worker::start(w.settings.clone(), &w.redis);
    let id = worker.run_ok(&w.redis, mirror_job(PATH)).await;
    assert_eq!(
        worker.last_notice(&w.redis, id).await,
        "already mirrored: archive.org item AwesomeMod-1.0.0 holds OLDNAME-AwesomeMod-1.0.0.zip"
    );
    assert!(w.puts().is_empty());
    assert_eq!(w.downloads(), 0);
}

#[tokio::test]
async fn without_a_sha1_in_the_ckan_the_downloads_sha1_finds_the_mirrored_copy() {
    let w = World::with_ckan(|base, zip| {
        let text = ckan(base, zip, r#""MIT""#, None);
        let sha1_line = format!("\"sha1\": \"{}\",", sha1_hex(zip));
        assert!(text.contains(&sha1_line));
        text.replace(&sha1_line, "")
    })
    .await;
    w.archive.items.lock().unwrap().insert(
        "AwesomeMod-1.0.0".into(),
        vec![(
            "X-AwesomeMod-1.0.0.zip".into(),
            sha1_hex(&w.zip).to_lowercase(),
        )],
    );
    let worker = Worker::start(w.settings.clone(), &w.redis);
    let id = worker.run_ok(&w.redis, mirror_job(PATH)).await;
    assert_eq!(
        worker.last_notice(&w.redis, id).await,
        "already mirrored: archive.org item AwesomeMod-1.0.0 holds X-AwesomeMod-1.0.0.zip"
    );
    assert_eq!(w.downloads(), 1, "downloaded to learn its SHA-1");
    assert!(w.puts().is_empty());
}

#[tokio::test]
async fn an_overloaded_archive_is_retried_later_without_using_attempts_and_nothing_is_uploaded_meanwhile()
 {
    let mut w = World::new(r#""MIT""#, None).await;
    w.settings.mirror.overload_wait_secs = 1;
    w.archive.overloaded.store(true, Ordering::SeqCst);
    let worker = Worker::start(w.settings.clone(), &w.redis);
    let id = worker.enqueue(&w.redis, mirror_job(PATH)).await;
    let waiting = worker
        .wait(&w.redis, id, "the job to wait out the overload", |r| {
            r.retry_at.is_some() && r.last_error.is_some()
        })
        .await;
    assert!(
        waiting
            .last_error
            .as_deref()
            .unwrap()
            .contains("archive.org is overloaded"),
        "{:?}",
        waiting.last_error
    );
    assert_eq!(waiting.state, JobState::Queued);
    assert!(w.puts().is_empty());
    assert_eq!(w.downloads(), 0);
    // More overloaded answers than the job has attempts: none of them counts.
    support::at_least(4, "four overload checks", || {
        w.server.matching("GET", "/s3/").len()
    })
    .await;
    assert!(w.puts().is_empty());

    w.archive.overloaded.store(false, Ordering::SeqCst);
    let record = worker.finished(&w.redis, id).await;
    assert_eq!(record.state, JobState::Succeeded, "{:?}", record.last_error);
    assert_eq!(w.puts().len(), 1);
    let checks = w.server.matching("GET", "/s3/");
    assert!(checks.iter().all(|c| c.query.contains("check_limit=1")
        && c.query.contains(&format!("accesskey={ACCESS}"))
        && c.query.contains("bucket=AwesomeMod-1.0.0")));
    assert_no_secrets(&worker, &w, id).await;
}

#[tokio::test]
async fn an_overload_check_that_fails_is_retried_then_dead_lettered_with_the_reason() {
    let w = World::new(r#""MIT""#, None).await;
    w.archive.broken_check.store(true, Ordering::SeqCst);
    let worker = Worker::start(w.settings.clone(), &w.redis);
    let (_, record) = worker.run(&w.redis, mirror_job(PATH)).await;
    assert_eq!(record.state, JobState::Dead);
    assert_eq!(record.attempts, 3);
    let error = record.last_error.unwrap();
    assert!(error.contains("archive.org may be overloaded"), "{error}");
    assert!(error.contains("without JSON"), "{error}");
    assert!(w.puts().is_empty());
}

#[tokio::test]
async fn with_no_target_configured_a_mirror_job_succeeds_without_doing_anything() {
    let mut w = World::new(r#""MIT""#, None).await;
    w.settings.mirror.target = MirrorTarget::None;
    let worker = Worker::start(w.settings.clone(), &w.redis);
    let (id, record) = worker.run(&w.redis, mirror_job(PATH)).await;
    assert_eq!(record.state, JobState::Succeeded);
    assert!(
        worker
            .last_notice(&w.redis, id)
            .await
            .starts_with("not mirrored: mirror.target is \"none\"")
    );
    assert!(w.server.requests().is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_a_ckan_meta_path_fails_at_once() {
    let w = World::new(r#""MIT""#, None).await;
    let worker = Worker::start(w.settings.clone(), &w.redis);
    let (_, record) = worker
        .run(&w.redis, mirror_job("../../etc/passwd.ckan"))
        .await;
    assert_eq!(record.state, JobState::Failed);
    assert_eq!(record.attempts, 1);
    assert!(record.last_error.unwrap().contains("not a CKAN-meta path"));
}

#[tokio::test]
async fn a_mirrorable_module_is_uploaded_with_the_references_headers_and_metadata() {
    let w = World::new(
        r#"["CC-BY-NC-SA-4.0", "GPL-3.0", "MIT"]"#,
        Some("https://github.com/HebaruSan/Astrogator/releases"),
    )
    .await;
    let worker = Worker::start(w.settings.clone(), &w.redis);
    let id = worker.run_ok(&w.redis, mirror_job(PATH)).await;
    assert_eq!(
        worker.last_notice(&w.redis, id).await,
        "mirrored AwesomeMod-1.0.0 to archive.org item AwesomeMod-1.0.0"
    );
    let puts = w.puts();
    let filename = format!("{}-AwesomeMod-1.0.0.zip", &sha1_hex(&w.zip)[..8]);
    assert_eq!(puts.len(), 2, "the mod and its source archive");
    let main = &puts[0];
    assert_eq!(main.path, format!("/s3/AwesomeMod-1.0.0/{filename}"));
    assert_eq!(main.body, w.zip);
    let expect = [
        ("authorization", format!("LOW {ACCESS}:{SECRET}")),
        ("content-type", "application/zip".to_owned()),
        ("content-length", w.zip.len().to_string()),
        ("x-amz-auto-make-bucket", "1".to_owned()),
        ("x-archive-auto-make-bucket", "1".to_owned()),
        ("x-archive-meta00-title", "uri(Awesome%20Mod%20-%201.0.0)".to_owned()),
        (
            "x-archive-meta00-description",
            "uri(A%20great%20mod%3Cbr%3E%3Cbr%3ERepository%3A%20%3Ca%20href%3D%22https%3A//github.com/HebaruSan/Astrogator/releases%22%3Ehttps%3A//github.com/HebaruSan/Astrogator/releases%3C/a%3E%3Cbr%3ELicense%28s%29%3A%20CC-BY-NC-SA-4.0%20GPL-3.0%20MIT)".to_owned(),
        ),
        ("x-archive-meta00-creator", "techman83".to_owned()),
        ("x-archive-meta01-creator", "DasSkelett".to_owned()),
        ("x-archive-meta02-creator", "politas".to_owned()),
        ("x-archive-meta00-collection", "kspckanmods".to_owned()),
        ("x-archive-meta00-subject", "uri(ksp%3B%20kerbal%20space%20program%3B%20mod)".to_owned()),
        ("x-archive-meta00-mediatype", "software".to_owned()),
        ("x-archive-meta00-licenseurl", "http://creativecommons.org/licenses/by-nc-sa/4.0".to_owned()),
        ("x-archive-meta01-licenseurl", "http://www.gnu.org/licenses/gpl-3.0.en.html".to_owned()),
        ("x-archive-meta02-licenseurl", "https://opensource.org/licenses/MIT".to_owned()),
    ];
    for (name, value) in &expect {
        assert_eq!(main.header(name), Some(value.as_str()), "header {name}");
    }
    assert_eq!(
        main.header("transfer-encoding"),
        None,
        "IA-S3 refuses chunked uploads"
    );
    let source = &puts[1];
    assert_eq!(
        source.path,
        "/s3/AwesomeMod-1.0.0/AwesomeMod-1.0.0.source.zip"
    );
    assert_eq!(source.header("content-type"), Some("application/zip"));
    assert_eq!(
        source.header("content-length"),
        Some(source.body.len().to_string().as_str())
    );
    assert_eq!(source.header("x-amz-auto-make-bucket"), Some("1"));
    assert_no_secrets(&worker, &w, id).await;

    // Delivered again (the indexer and the webhook both asked): nothing more is uploaded.
    let (again, record) = worker.run(&w.redis, mirror_job(PATH)).await;
    assert_eq!(record.state, JobState::Succeeded);
    assert!(
        worker
            .last_notice(&w.redis, again)
            .await
            .starts_with("already mirrored")
    );
    assert_eq!(w.puts().len(), 2);
}

#[tokio::test]
async fn a_failed_upload_is_retried_and_then_dead_lettered_with_the_reason() {
    let w = World::new(r#""MIT""#, None).await;
    w.archive.refuse_puts.store(usize::MAX, Ordering::SeqCst);
    let worker = Worker::start(w.settings.clone(), &w.redis);
    let (_, record) = worker.run(&w.redis, mirror_job(PATH)).await;
    assert_eq!(record.state, JobState::Dead);
    assert_eq!(record.attempts, 3);
    let error = record.last_error.unwrap();
    assert!(
        error.contains("upload of AwesomeMod-1.0.0 failed"),
        "{error}"
    );
    assert!(error.contains("500"), "{error}");
    assert_eq!(w.puts().len(), 3);
    // The download came from the cache after the first attempt.
    assert_eq!(w.downloads(), 1);
}

#[tokio::test]
async fn an_upload_that_fails_once_succeeds_on_the_retry() {
    let w = World::new(r#""MIT""#, None).await;
    w.archive.refuse_puts.store(1, Ordering::SeqCst);
    let worker = Worker::start(w.settings.clone(), &w.redis);
    let (_, record) = worker.run(&w.redis, mirror_job(PATH)).await;
    assert_eq!(record.state, JobState::Succeeded, "{:?}", record.last_error);
    assert_eq!(record.attempts, 2);
    assert_eq!(w.archive.items.lock().unwrap()["AwesomeMod-1.0.0"].len(), 1);
}

#[tokio::test]
async fn a_cached_file_whose_sha256_does_not_match_is_downloaded_again() {
    let w = World::new(r#""MIT""#, None).await;
    // A stale or damaged copy under the name the cache gives this download.
    let cache_dir = w.settings.cache_dir();
    std::fs::create_dir_all(&cache_dir).unwrap();
    let json =
        netkan_common::ckan::parse_ckan(&ckan(&w.server.url, &w.zip, r#""MIT""#, None)).unwrap();
    let name =
        netkan_common::ckan::names::cache_file_name(&netkan_common::ckan::Module::new(&json))
            .unwrap();
    std::fs::write(cache_dir.join(&name), b"not the zip").unwrap();
    let worker = Worker::start(w.settings.clone(), &w.redis);
    worker.run_ok(&w.redis, mirror_job(PATH)).await;
    assert_eq!(w.downloads(), 1);
    assert_eq!(w.puts()[0].body, w.zip);
}

#[tokio::test]
async fn the_directory_target_writes_the_item_and_its_record_and_is_idempotent() {
    let mut w = World::new(r#"["CC-BY-NC-SA-4.0", "GPL-3.0", "MIT"]"#, None).await;
    let root = w._dir.path().join("mirror");
    w.settings.mirror.target = MirrorTarget::Directory;
    w.settings.mirror.directory = Some(root.clone());
    let worker = Worker::start(w.settings.clone(), &w.redis);
    let id = worker.run_ok(&w.redis, mirror_job(PATH)).await;
    let filename = format!("{}-AwesomeMod-1.0.0.zip", &sha1_hex(&w.zip)[..8]);
    let item = root.join("AwesomeMod-1.0.0");
    assert_eq!(std::fs::read(item.join(&filename)).unwrap(), w.zip);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(item.join("AwesomeMod-1.0.0_meta.json")).unwrap())
            .unwrap();
    assert_eq!(meta["metadata"]["title"], "Awesome Mod - 1.0.0");
    assert_eq!(meta["metadata"]["collection"], "kspckanmods");
    assert_eq!(
        meta["metadata"]["creator"],
        serde_json::json!(["techman83", "DasSkelett", "politas"])
    );
    assert_eq!(
        meta["files"],
        serde_json::json!([{"name": filename, "size": w.zip.len(), "sha1": sha1_hex(&w.zip).to_lowercase()}])
    );
    assert_eq!(
        worker.last_notice(&w.redis, id).await,
        format!(
            "mirrored AwesomeMod-1.0.0 to directory item {}",
            item.display()
        )
    );
    assert!(w.puts().is_empty());
    let listing = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = listing(&item);
    assert_eq!(
        before,
        ["AwesomeMod-1.0.0_meta.json".to_owned(), filename.clone()]
    );

    let again = worker.enqueue(&w.redis, mirror_job(PATH)).await;
    assert_eq!(
        worker.finished(&w.redis, again).await.state,
        JobState::Succeeded
    );
    assert!(
        worker
            .last_notice(&w.redis, again)
            .await
            .starts_with("already mirrored")
    );
    assert_eq!(listing(&item), before);
}
