//! Download counts from the hosts mods are downloaded from (NetKAN-Infra
//! `download_counter.py`, reference §1.7): GitHub release assets through GraphQL (with up to
//! three fork parents), SpaceDock's batch API, archive.org's views API and SourceForge's
//! download statistics.
//!
//! Each host is asked in batches as the reference asks it. A host that fails affects only the
//! mods counted there: the caller learns which ones ([`Tally::failed`]) and keeps their
//! previous counts. Base URLs come from `[hosts]` (`github_api`, `spacedock`,
//! `archive_org_views`, `sourceforge`), so tests point them at local servers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use netkan_common::ckan::Module;
use netkan_common::ckan::module::Kind;
use netkan_common::ckan::names::{
    REDISTRIBUTABLE_LICENSES, content_type_extension, mirror_download, mirror_filename, mirror_item,
};
use netkan_common::config::{HostSettings, Secret};
use netkan_common::python_json;
use serde_json::Value;

use crate::context::JobContext;

/// Repositories per GraphQL query (PR #316 of the reference).
pub const GITHUB_BATCH: usize = 10;
/// Items per archive.org views request ("it let me get away with 35 in testing").
pub const ARCHIVE_BATCH: usize = 30;
/// Requests tried per GraphQL query when GitHub throttles.
pub const GITHUB_ATTEMPTS: u32 = 5;

/// The reference's `downloads_query.graphql`; `$module_queries` is replaced by one line per
/// repository.
const GRAPHQL_TEMPLATE: &str = r#"query {
$module_queries
}
fragment getDownloads on Repository {
    # Check 3 parent repos, GraphQL purposely discourages unbounded recursion
    parent {
        parent {
            parent {
                ...downloadsFromRelease
            }
            ...downloadsFromRelease
        }
        ...downloadsFromRelease
    }
    ...downloadsFromRelease
}
fragment downloadsFromRelease on Repository {
    releases(last: 100) { nodes {
        releaseAssets(first: 10) { nodes {
            downloadCount
        } }
    } }
}"#;

/// Where a module's downloads can be counted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// Release assets of `github.com/<owner>/<repo>` (and its fork parents).
    GitHub {
        /// The owner.
        owner: String,
        /// The repository.
        repo: String,
    },
    /// `spacedock.info/mod/<id>`.
    SpaceDock(u64),
    /// The archive.org item (the mirror of the module, or its download there).
    ArchiveOrg(String),
    /// `<x>.sourceforge.net/project/<project>`.
    SourceForge(String),
}

/// The sources of one module's downloads: each URL of `download`, plus its archive.org
/// mirror when it is redistributable, by host. URLs of other hosts count nowhere. A URL that
/// names a host but not a mod on it (`spacedock.info/about`) is returned in the second list.
pub fn sources(module: &Module<'_>) -> (BTreeSet<Source>, Vec<String>) {
    let mut found = BTreeSet::new();
    let mut unparsed = Vec::new();
    let mut urls: Vec<String> = module
        .downloads()
        .unwrap_or_default()
        .into_iter()
        .map(str::to_owned)
        .collect();
    if let Some(mirror) = mirror_url(module) {
        urls.push(mirror);
    }
    for url in urls {
        let Some((host, path)) = host_and_path(&url) else {
            continue;
        };
        let first = |prefix: &str| -> Option<String> {
            let rest = path.strip_prefix(prefix)?;
            let seg = rest.split('/').next().filter(|s| !s.is_empty())?;
            Some(seg.to_owned())
        };
        let source = match host {
            "github.com" => {
                let mut segs = path.strip_prefix('/').unwrap_or("").split('/');
                match (segs.next(), segs.next()) {
                    (Some(o), Some(r)) if !o.is_empty() && !r.is_empty() => Some(Source::GitHub {
                        owner: o.to_owned(),
                        repo: r.to_owned(),
                    }),
                    _ => continue, // the reference ignores these silently
                }
            }
            "spacedock.info" => first("/mod/")
                .and_then(|id| id.parse().ok())
                .map(Source::SpaceDock),
            "archive.org" => {
                identifier_version(module).map(|(id, v)| Source::ArchiveOrg(mirror_item(id, v)))
            }
            h if h.ends_with(".sourceforge.net") => first("/project/").map(Source::SourceForge),
            _ => continue,
        };
        match source {
            Some(s) => {
                found.insert(s);
            }
            None => unparsed.push(url),
        }
    }
    (found, unparsed)
}

fn identifier_version<'a>(module: &Module<'a>) -> Option<(&'a str, &'a str)> {
    let id = module.json().get("identifier")?.as_str()?;
    let version = module.json().get("version")?.as_str()?;
    Some((id, version))
}

/// `mirror_download()` of a redistributable module: its archive.org copy, named from its
/// hash and content type; none without them.
fn mirror_url(module: &Module<'_>) -> Option<String> {
    let redistributable = module
        .licenses()
        .is_ok_and(|ls| ls.iter().any(|l| REDISTRIBUTABLE_LICENSES.contains(l)));
    if !redistributable {
        return None;
    }
    let (id, version) = identifier_version(module)?;
    let (sha1, sha256) = module.download_hash().ok()?;
    let content_type = module.download_content_type().ok()??;
    content_type_extension(content_type)?;
    let file = mirror_filename(id, version, sha1, sha256, content_type)?;
    Some(mirror_download(id, version, &file))
}

/// The host (lower-cased, without user or port) and the path of an http(s) URL.
fn host_and_path(url: &str) -> Option<(&str, &str)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next().unwrap_or(host);
    let path_end = rest[end..].find(['?', '#']).map_or(rest.len(), |i| end + i);
    Some((host, &rest[end..path_end]))
}

/// True for modules the counter skips (`kind: dlc`).
pub fn is_dlc(module: &Module<'_>) -> bool {
    matches!(module.kind(), Ok(Kind::Dlc))
}

/// A host told us to wait, for longer than is worth waiting inside the job.
#[derive(Debug, thiserror::Error)]
#[error("{host} asked to wait {}s before trying again", .wait.as_secs())]
pub struct Throttled {
    /// The host.
    pub host: &'static str,
    /// How long.
    pub wait: Duration,
}

/// The counts gathered from every host, and the mods some host failed to count.
#[derive(Debug, Default)]
pub struct Tally {
    /// Identifier → downloads, summed over its sources.
    pub counts: BTreeMap<String, u64>,
    /// Identifiers at least one of whose sources failed.
    pub failed: BTreeSet<String>,
}

impl Tally {
    fn add(&mut self, identifier: &str, n: u64) {
        *self.counts.entry(identifier.to_owned()).or_insert(0) += n;
    }
}

/// What to count: per identifier, its sources.
pub type Wanted = BTreeMap<String, BTreeSet<Source>>;

/// Asks the hosts.
pub struct Counter<'a> {
    http: &'a reqwest::Client,
    github_api: String,
    token: Secret,
    spacedock: String,
    archive_views: String,
    sourceforge: String,
    max_inline_wait: Duration,
    ctx: &'a JobContext,
}

/// The result of one GitHub repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RepoCount {
    /// Its release downloads (and its parents').
    Counted(u64),
    /// GitHub has no such repository: it counts nothing.
    Missing,
    /// The query failed.
    Failed,
}

impl<'a> Counter<'a> {
    /// A counter over the shared `http` client, logging to `ctx`.
    pub fn new(
        http: &'a reqwest::Client,
        hosts: &HostSettings,
        max_inline_wait: Duration,
        ctx: &'a JobContext,
    ) -> Self {
        let base = |s: &str| s.trim_end_matches('/').to_owned();
        Self {
            http,
            github_api: base(&hosts.github_api),
            token: hosts.github_token.clone(),
            spacedock: base(&hosts.spacedock),
            archive_views: base(&hosts.archive_org_views),
            sourceforge: base(&hosts.sourceforge),
            max_inline_wait,
            ctx,
        }
    }

    /// Counts every wanted source, host by host (GitHub first: a long throttle there ends the
    /// attempt before the other hosts are asked).
    ///
    /// # Errors
    /// [`Throttled`] when GitHub asks for a wait longer than `max_inline_wait`.
    pub async fn count(&self, wanted: &Wanted, today: DateTime<Utc>) -> Result<Tally, Throttled> {
        let mut tally = Tally::default();
        self.github(wanted, &mut tally).await?;
        self.spacedock(wanted, &mut tally).await;
        self.archive_org(wanted, &mut tally).await;
        self.sourceforge(wanted, &mut tally, today).await;
        Ok(tally)
    }

    async fn github(&self, wanted: &Wanted, tally: &mut Tally) -> Result<(), Throttled> {
        // Each repository once, named after the first mod that wants it.
        let mut repos: Vec<(String, (String, String))> = Vec::new();
        let mut seen = BTreeSet::new();
        for (id, sources) in wanted {
            for s in sources {
                if let Source::GitHub { owner, repo } = s
                    && seen.insert((owner.clone(), repo.clone()))
                {
                    repos.push((id.clone(), (owner.clone(), repo.clone())));
                }
            }
        }
        if repos.is_empty() {
            return Ok(());
        }
        let mut results: HashMap<(String, String), RepoCount> = HashMap::new();
        if self.token.is_empty() {
            self.ctx.warn(format!(
                "no GitHub token (hosts.github_token): {} GitHub repositories not counted",
                repos.len()
            ));
        } else {
            self.ctx.info(format!(
                "asking GitHub about {} repositories, {GITHUB_BATCH} per query",
                repos.len()
            ));
            for batch in repos.chunks(GITHUB_BATCH) {
                let answer = self.graphql(&graphql_query(batch)).await?;
                let counted = match answer {
                    Some(v) => read_graphql(self.ctx, batch, &v),
                    None => batch
                        .iter()
                        .map(|(_, r)| (r.clone(), RepoCount::Failed))
                        .collect(),
                };
                results.extend(counted);
            }
        }
        for (id, sources) in wanted {
            for s in sources {
                if let Source::GitHub { owner, repo } = s {
                    match results
                        .get(&(owner.clone(), repo.clone()))
                        .copied()
                        .unwrap_or(RepoCount::Failed)
                    {
                        RepoCount::Counted(n) => tally.add(id, n),
                        RepoCount::Missing => {}
                        RepoCount::Failed => {
                            tally.failed.insert(id.clone());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// One GraphQL request with the reference's throttling rules: up to
    /// [`GITHUB_ATTEMPTS`] tries, each throttled one waiting the host's interval times
    /// `2^attempt`. `None` if it failed (logged).
    async fn graphql(&self, query: &str) -> Result<Option<Value>, Throttled> {
        let url = format!("{}/graphql", self.github_api);
        for attempt in 0..GITHUB_ATTEMPTS {
            let sent = self
                .http
                .post(&url)
                .header("authorization", format!("bearer {}", self.token.expose()))
                .json(&serde_json::json!({ "query": query }))
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    self.ctx.error(format!(
                        "GitHub GraphQL request failed: {}",
                        e.without_url()
                    ));
                    return Ok(None);
                }
            };
            let interval = retry_interval(resp.status().as_u16(), resp.headers(), Utc::now());
            if let Some(interval) = interval {
                let wait = interval.saturating_mul(1 << attempt);
                if attempt + 1 == GITHUB_ATTEMPTS {
                    break;
                }
                if wait > self.max_inline_wait {
                    return Err(Throttled {
                        host: "GitHub",
                        wait,
                    });
                }
                self.ctx.warn(format!(
                    "GitHub throttled the download counter (HTTP {}); waiting {} ms before try {} of {GITHUB_ATTEMPTS}",
                    resp.status().as_u16(),
                    wait.as_millis(),
                    attempt + 2
                ));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.ctx.cancelled().cancelled() => return Ok(None),
                }
                continue;
            }
            let status = resp.status();
            return Ok(match resp.json::<Value>().await {
                Ok(v) if status.is_success() || v.get("data").is_some() => Some(v),
                Ok(_) | Err(_) => {
                    self.ctx.error(format!(
                        "GitHub GraphQL answered HTTP {} without data",
                        status.as_u16()
                    ));
                    None
                }
            });
        }
        self.ctx
            .error("GitHub download count query ran out of retries");
        Ok(None)
    }

    async fn spacedock(&self, wanted: &Wanted, tally: &mut Tally) {
        let mut ids = BTreeSet::new();
        for sources in wanted.values() {
            for s in sources {
                if let Source::SpaceDock(id) = s {
                    ids.insert(*id);
                }
            }
        }
        if ids.is_empty() {
            return;
        }
        self.ctx.info(format!(
            "asking SpaceDock about {} mods in one request",
            ids.len()
        ));
        let body: Vec<String> = ids.iter().map(|id| format!("mod_id={id}")).collect();
        let url = format!("{}/api/download_counts", self.spacedock);
        let answer = async {
            let resp = self
                .http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.join("&"))
                .send()
                .await
                .map_err(|e| e.without_url().to_string())?;
            let status = resp.status();
            if !status.is_success() {
                return Err(format!("HTTP {}", status.as_u16()));
            }
            resp.json::<Value>()
                .await
                .map_err(|e| format!("not JSON: {}", e.without_url()))
        }
        .await;
        let counts: HashMap<u64, u64> = match answer {
            Ok(v) => v
                .get("download_counts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| Some((e.get("id")?.as_u64()?, e.get("downloads")?.as_u64()?)))
                .collect(),
            Err(e) => {
                self.ctx.error(format!(
                    "SpaceDock download counts failed: {e}; its mods keep their previous counts"
                ));
                for (id, sources) in wanted {
                    if sources.iter().any(|s| matches!(s, Source::SpaceDock(_))) {
                        tally.failed.insert(id.clone());
                    }
                }
                return;
            }
        };
        for (id, sources) in wanted {
            for s in sources {
                if let Source::SpaceDock(sd) = s {
                    // The reference adds only non-zero counts.
                    if let Some(&n) = counts.get(sd).filter(|n| **n > 0) {
                        tally.add(id, n);
                    }
                }
            }
        }
    }

    async fn archive_org(&self, wanted: &Wanted, tally: &mut Tally) {
        let items: Vec<(&String, &String)> = wanted
            .iter()
            .flat_map(|(id, sources)| {
                sources.iter().filter_map(move |s| match s {
                    Source::ArchiveOrg(item) => Some((id, item)),
                    _ => None,
                })
            })
            .collect();
        if items.is_empty() {
            return;
        }
        self.ctx.info(format!(
            "asking archive.org about {} items, {ARCHIVE_BATCH} per request",
            items.len()
        ));
        let mut down = false;
        for chunk in items.chunks(ARCHIVE_BATCH) {
            if down {
                tally
                    .failed
                    .extend(chunk.iter().map(|(id, _)| (*id).clone()));
                continue;
            }
            let names: Vec<&str> = chunk.iter().map(|(_, item)| item.as_str()).collect();
            let url = format!("{}/views/v1/short/{}", self.archive_views, names.join(","));
            let answer = async {
                let resp = self.http.get(&url).send().await?;
                resp.error_for_status()?.json::<Value>().await
            }
            .await;
            match answer {
                Ok(v) => {
                    for (id, item) in chunk {
                        match v
                            .pointer(&format!("/{item}/all_time"))
                            .and_then(Value::as_u64)
                        {
                            Some(n) => tally.add(id, n),
                            None => self.ctx.warn(format!(
                                "archive.org id not found in the views result: {item}"
                            )),
                        }
                    }
                }
                Err(e) => {
                    // A host that cannot be reached is down: stop asking it (PRs #345/#347).
                    down = e.is_connect();
                    self.ctx.error(format!(
                        "archive.org views failed: {}{}",
                        e.without_url(),
                        if down {
                            "; archive.org counting is off for the rest of this run"
                        } else {
                            ""
                        }
                    ));
                    tally
                        .failed
                        .extend(chunk.iter().map(|(id, _)| (*id).clone()));
                }
            }
        }
    }

    async fn sourceforge(&self, wanted: &Wanted, tally: &mut Tally, today: DateTime<Utc>) {
        let mut asked: HashMap<String, Option<u64>> = HashMap::new();
        for (id, sources) in wanted {
            for s in sources {
                let Source::SourceForge(project) = s else {
                    continue;
                };
                if !asked.contains_key(project) {
                    let url = format!(
                        "{}/projects/{project}/files/stats/json?start_date=2010-01-01&end_date={}&os_by_country=false&period=monthly",
                        self.sourceforge,
                        today.format("%Y-%m-%d")
                    );
                    let answer = async {
                        let resp = self.http.get(&url).send().await?;
                        resp.error_for_status()?.json::<Value>().await
                    }
                    .await;
                    let total = match answer {
                        Ok(v) => v.get("total").and_then(Value::as_u64),
                        Err(e) => {
                            self.ctx.error(format!(
                                "SourceForge stats of {project} failed: {}",
                                e.without_url()
                            ));
                            None
                        }
                    };
                    asked.insert(project.clone(), total);
                }
                match asked.get(project).copied().flatten() {
                    Some(n) => tally.add(id, n),
                    None => {
                        tally.failed.insert(id.clone());
                    }
                }
            }
        }
    }
}

/// `x<identifier with - → _>`: identifiers may start with a digit and hold `-`, GraphQL
/// names may not (and identifiers hold no `_`, so this is reversible).
pub fn graphql_alias(identifier: &str) -> String {
    format!("x{}", identifier.replace('-', "_"))
}

/// The GraphQL query for a batch of (first identifier, (owner, repo)).
pub fn graphql_query(batch: &[(String, (String, String))]) -> String {
    let lines: Vec<String> = batch
        .iter()
        .map(|(id, (owner, repo))| {
            format!(
                "{}: repository(owner: \"{}\", name: \"{}\") {{ ...getDownloads }}",
                graphql_alias(id),
                graphql_escape(owner),
                graphql_escape(repo)
            )
        })
        .collect();
    GRAPHQL_TEMPLATE.replace("$module_queries", &lines.join("\n"))
}

/// A URL path segment inside a GraphQL string (GitHub names hold neither, but a URL might).
fn graphql_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Reads one GraphQL answer: per repository of the batch, its count, or missing when GitHub
/// answered null for it. GraphQL `errors` are logged grouped, with counts.
fn read_graphql(
    ctx: &JobContext,
    batch: &[(String, (String, String))],
    answer: &Value,
) -> Vec<((String, String), RepoCount)> {
    if let Some(errors) = answer.get("errors").and_then(Value::as_array) {
        let mut grouped: BTreeMap<&str, usize> = BTreeMap::new();
        for e in errors {
            *grouped
                .entry(e.get("message").and_then(Value::as_str).unwrap_or("?"))
                .or_default() += 1;
        }
        let text: Vec<String> = grouped.iter().map(|(m, n)| format!("{m} (x{n})")).collect();
        ctx.warn(format!(
            "errors in the GraphQL answer: {}",
            if text.is_empty() {
                "empty errors list".to_owned()
            } else {
                text.join(", ")
            }
        ));
    }
    let data = answer.get("data");
    batch
        .iter()
        .map(|(id, repo)| {
            let result = match data {
                // No data at all: the whole query failed.
                None | Some(Value::Null) => RepoCount::Failed,
                Some(d) => match d.get(graphql_alias(id)) {
                    None | Some(Value::Null) => RepoCount::Missing,
                    Some(r) => sum_releases(r).map_or(RepoCount::Missing, RepoCount::Counted),
                },
            };
            (repo.clone(), result)
        })
        .collect()
}

/// The downloads of a repository's release assets, plus its parents'; `None` if the answer
/// does not have the shape asked for.
pub fn sum_releases(repo: &Value) -> Option<u64> {
    let mut total = 0u64;
    if let Some(parent) = repo.get("parent").filter(|p| !p.is_null()) {
        total += sum_releases(parent)?;
    }
    for release in repo.pointer("/releases/nodes")?.as_array()? {
        for asset in release.pointer("/releaseAssets/nodes")?.as_array()? {
            total += asset.get("downloadCount")?.as_u64()?;
        }
    }
    Some(total)
}

/// How long GitHub asks to wait before trying again (the reference's `_retry_interval`):
/// `Retry-After` seconds; else, with `X-RateLimit-Remaining: 0`, until `X-RateLimit-Reset`;
/// else one minute on a 403; else not throttled.
pub fn retry_interval(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    if let Some(secs) = header("retry-after") {
        return Some(Duration::from_secs_f64(secs.max(0.0)));
    }
    if let (Some(remaining), Some(reset)) =
        (header("x-ratelimit-remaining"), header("x-ratelimit-reset"))
        && remaining == 0.0
    {
        let now = now.timestamp_millis() as f64 / 1000.0;
        return Some(Duration::from_secs_f64((reset - now).max(0.0)));
    }
    (status == 403).then_some(Duration::from_secs(60))
}

/// `json.dumps(counts, sort_keys=True, indent=4)` of Python, byte for byte: `{}` when empty,
/// else one `"key": value` per line indented by four spaces, `,` ending all but the last, no
/// trailing newline; keys ASCII-escaped as Python's `ensure_ascii` does.
pub fn python_json_dumps(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "{}".into();
    }
    // BTreeMap's order is byte order, which for UTF-8 is Python's code point order.
    let lines: Vec<String> = counts
        .iter()
        .map(|(k, v)| format!("    {}: {v}", python_json::string(k)))
        .collect();
    format!("{{\n{}\n}}", lines.join(",\n"))
}

/// The reference's summary table: the `n` largest counts above zero, `{count:8}  {id}` per
/// line (ties: identifier order).
pub fn top_table(counts: &BTreeMap<String, i64>, n: usize) -> Vec<String> {
    let mut all: Vec<(&String, i64)> = counts.iter().map(|(k, v)| (k, *v)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    all.into_iter()
        .take(n)
        .filter(|(_, c)| *c > 0)
        .map(|(id, c)| format!("    {c:8}  {id}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use netkan_common::ckan::parse_ckan;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn srcs(json: &str) -> (BTreeSet<Source>, Vec<String>) {
        let obj = parse_ckan(json).unwrap();
        sources(&Module::new(&obj))
    }

    #[test]
    fn downloads_are_sorted_by_host() {
        let (s, bad) = srcs(
            r#"{"identifier": "A", "version": "1:1.0 beta", "license": "MIT",
                "download": ["https://github.com/o/r/releases/download/v1/a.zip",
                             "https://spacedock.info/mod/777/A/download/1.0",
                             "https://spacedock.info/about",
                             "https://downloads.sourceforge.net/project/aproj/a.zip?r=1",
                             "https://example.com/a.zip"],
                "download_hash": {"sha1": "DF564E21ABCDEF", "sha256": "00"},
                "download_content_type": "application/zip"}"#,
        );
        let want: BTreeSet<Source> = [
            Source::GitHub {
                owner: "o".into(),
                repo: "r".into(),
            },
            Source::SpaceDock(777),
            Source::ArchiveOrg("A-1-1.0_beta".into()),
            Source::SourceForge("aproj".into()),
        ]
        .into();
        assert_eq!(s, want);
        assert_eq!(bad, vec!["https://spacedock.info/about".to_owned()]);
        // Not redistributable, no archive.org URL: no archive.org source.
        let (s, _) = srcs(
            r#"{"identifier": "B", "version": "1", "license": "restricted",
                "download": "https://github.com/o/r/archive/master.zip",
                "download_hash": {"sha1": "DF564E21"}, "download_content_type": "application/zip"}"#,
        );
        assert_eq!(s.len(), 1);
        let (s, _) = srcs(
            r#"{"identifier": "C", "version": "2", "license": "restricted",
                "download": "https://archive.org/download/C-2/x.zip"}"#,
        );
        assert_eq!(s, [Source::ArchiveOrg("C-2".into())].into());
    }

    #[test]
    fn the_graphql_query_names_each_repository_after_its_first_mod() {
        let q = graphql_query(&[
            ("1-Mod".into(), ("own".into(), "repo".into())),
            ("Other".into(), ("x".into(), "y".into())),
        ]);
        assert!(q.starts_with(
            "query {\nx1_Mod: repository(owner: \"own\", name: \"repo\") { ...getDownloads }\nxOther: repository(owner: \"x\", name: \"y\") { ...getDownloads }\n}\nfragment getDownloads on Repository {\n"
        ), "{q}");
        assert!(q.ends_with("            downloadCount\n        } }\n    } }\n}"));
        assert_eq!(q.matches("parent {").count(), 3);
    }

    #[test]
    fn fork_parents_add_their_downloads() {
        let v: Value = serde_json::from_str(
            r#"{"parent": {"parent": null, "releases": {"nodes": [{"releaseAssets": {"nodes": [{"downloadCount": 5}]}}]}},
                "releases": {"nodes": [{"releaseAssets": {"nodes": [{"downloadCount": 1}, {"downloadCount": 2}]}},
                                       {"releaseAssets": {"nodes": []}}]}}"#,
        )
        .unwrap();
        assert_eq!(sum_releases(&v), Some(8));
        assert_eq!(sum_releases(&serde_json::json!({"releases": null})), None);
    }

    #[test]
    fn retry_intervals_follow_the_reference() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(retry_interval(200, &h, now), None);
        assert_eq!(retry_interval(403, &h, now), Some(Duration::from_secs(60)));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1700000090"));
        assert_eq!(retry_interval(200, &h, now), Some(Duration::from_secs(90)));
        h.insert("retry-after", HeaderValue::from_static("2.5"));
        assert_eq!(
            retry_interval(403, &h, now),
            Some(Duration::from_millis(2500))
        );
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("12"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1700000090"));
        assert_eq!(retry_interval(200, &h, now), None);
    }

    #[test]
    fn counts_are_written_as_python_json_dumps_writes_them() {
        assert_eq!(python_json_dumps(&BTreeMap::new()), "{}");
        let c: BTreeMap<String, u64> = [("b-2".to_owned(), 0), ("B".into(), 7), ("a".into(), 12)]
            .into_iter()
            .collect();
        // Python: json.dumps({"b-2": 0, "B": 7, "a": 12}, sort_keys=True, indent=4)
        assert_eq!(
            python_json_dumps(&c),
            "{\n    \"B\": 7,\n    \"a\": 12,\n    \"b-2\": 0\n}"
        );
    }

    #[test]
    fn the_top_table_is_right_aligned_and_skips_zeros() {
        let c: BTreeMap<String, i64> = [
            ("A".to_owned(), 5),
            ("B".into(), 123_456),
            ("C".into(), 0),
            ("D".into(), 5),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            top_table(&c, 3),
            vec!["      123456  B", "           5  A", "           5  D"]
        );
        assert_eq!(top_table(&c, 5).len(), 3);
    }

    #[test]
    fn hosts_are_read_from_urls() {
        assert_eq!(
            host_and_path("https://user@github.com:443/o/r?x#y"),
            Some(("github.com", "/o/r"))
        );
        assert_eq!(host_and_path("ftp://x/y"), None);
        assert_eq!(host_and_path("http://a.b"), Some(("a.b", "")));
    }
}
