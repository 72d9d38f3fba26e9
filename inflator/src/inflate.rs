//! The entry point (`Inflator.Inflate` and the queue handler around it, §1, §6, §11): one
//! `.netkan` text in, its `.ckan` files (or the error) out, with what the outbound message
//! needs (staged, staging reasons, warnings, check time).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use netkan_common::Game;
use netkan_common::ckan::names::ckan_file_name;
use netkan_common::ckan::write::{canonical_sort, to_ckan_string};
use netkan_common::ckan::{ModuleVersion, Object, mix_documents, parse_netkan};
use netkan_common::config::Settings;
use netkan_common::log::Level;
use serde_json::Value;

use crate::InflateError;
use crate::context::{Context, GameInfo, InflationLog, Services, TransformOptions};
use crate::metadata;
use crate::pipeline::{group_by_version, merge_group, run_document, set_spec_version};
use crate::validate::{validate_ckan, validate_input};

/// One inflation to do: the queue message's body and attributes, or the command line's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InflateRequest {
    /// The `.netkan` text (YAML or JSON, one or more documents).
    pub netkan: String,
    /// The game.
    pub game: Game,
    /// The identifier the file is named after; none in queue mode, where it is the first
    /// document's own (`<identifier>.netkan`).
    pub file_identifier: Option<String>,
    /// How many releases to inflate (`Releases`); none means all. The queue's default is 1.
    pub releases: Option<usize>,
    /// Releases to skip first (`--skip-releases`).
    pub skip_releases: usize,
    /// `HighestVersion`: the highest stable version already indexed.
    pub highest_version: Option<String>,
    /// `HighestVersionPrerelease`.
    pub highest_version_prerelease: Option<String>,
}

impl InflateRequest {
    /// A request with the queue's defaults: one release, no highest versions.
    pub fn new(netkan: impl Into<String>, game: Game) -> InflateRequest {
        InflateRequest {
            netkan: netkan.into(),
            game,
            file_identifier: None,
            releases: Some(1),
            skip_releases: 0,
            highest_version: None,
            highest_version_prerelease: None,
        }
    }
}

/// Reads a `Releases` value: a positive number, or `all`.
///
/// # Errors
/// A message naming the value.
pub fn parse_releases(text: &str) -> Result<Option<usize>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    match t.parse::<usize>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(format!(
            "Releases {text:?} is not a positive number or \"all\""
        )),
    }
}

/// One `.ckan` an inflation produced.
#[derive(Debug, Clone, PartialEq)]
pub struct InflatedModule {
    /// The metadata, in canonical order.
    pub json: Object,
    /// The byte-exact `.ckan` text, ending in `\n`.
    pub text: String,
    /// `<identifier>-<version with ':' → '-'>.ckan`.
    pub file_name: String,
}

impl InflatedModule {
    /// The version text.
    pub fn version(&self) -> String {
        metadata::version_text(&self.json).unwrap_or_default()
    }
}

/// What came of one inflation.
#[derive(Debug)]
pub struct Inflation {
    /// The first document's identifier (`ModIdentifier`); empty if the text did not parse.
    pub identifier: String,
    /// The modules, prereleases first, or why there are none.
    pub outcome: Result<Vec<InflatedModule>, InflateError>,
    /// The result must go through review (`Staged`).
    pub staged: bool,
    /// Why (`StagingReason`, joined by blank lines).
    pub staging_reasons: Vec<String>,
    /// The warnings, each once, in the order they first came.
    pub warnings: Vec<String>,
    /// When it finished (`CheckTime`).
    pub check_time: DateTime<Utc>,
}

impl Inflation {
    /// `CheckTime` as the queue contract writes it: `yyyy-MM-ddTHH:mm:ss`, UTC, no zone.
    pub fn check_time_text(&self) -> String {
        self.check_time.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

/// The inflator of one process: the services (HTTP client, download cache) and what it knows
/// of each game. Built once; [`Inflator::inflate`] may run many inflations at once.
pub struct Inflator {
    services: Services,
    games: RwLock<HashMap<Game, Arc<GameInfo>>>,
}

impl Inflator {
    /// The inflator the settings describe (`hosts.*`, `cache.*`).
    ///
    /// # Errors
    /// If the HTTP client cannot be built.
    pub fn new(settings: &Settings) -> Result<Inflator, InflateError> {
        Ok(Inflator::with_services(Services::from_settings(settings)?))
    }

    /// An inflator over these services, with the built-in game data.
    pub fn with_services(services: Services) -> Inflator {
        Inflator {
            services,
            games: RwLock::new(HashMap::new()),
        }
    }

    /// The services.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Replaces what the inflator knows of a game (e.g. the known versions of a fresher
    /// `builds.json`).
    pub fn set_game(&self, info: GameInfo) {
        let mut games = self
            .games
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        games.insert(info.id.clone(), Arc::new(info));
    }

    /// What the inflator knows of a game: what [`Inflator::set_game`] gave, else the built-in
    /// data (read once, then kept).
    pub fn game(&self, id: &Game) -> Arc<GameInfo> {
        if let Some(info) = self
            .games
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
        {
            return info.clone();
        }
        self.games
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(id.clone())
            .or_insert_with(|| Arc::new(GameInfo::builtin(id)))
            .clone()
    }

    /// Inflates one `.netkan`. Lines go to `log` as the steps run; a failure is part of the
    /// result, never a panic. The files this attempt downloaded are removed from the cache
    /// when it fails, so a retry downloads them afresh.
    pub async fn inflate(&self, req: &InflateRequest, log: &dyn InflationLog) -> Inflation {
        let game = self.game(&req.game);
        let docs = match parse_netkan(&req.netkan) {
            Ok(docs) => docs,
            Err(e) => {
                let error = InflateError::metadata(format!("the .netkan does not parse: {e}"));
                log.line(Level::Info, &format!("Inflation failed: {error}"));
                return Inflation {
                    identifier: String::new(),
                    outcome: Err(error),
                    staged: false,
                    staging_reasons: Vec::new(),
                    warnings: Vec::new(),
                    check_time: Utc::now(),
                };
            }
        };
        let first = docs
            .first()
            .expect("parse_netkan returns at least one document");
        let identifier = first
            .get("identifier")
            .and_then(metadata::cs_string)
            .unwrap_or_default();
        let mut opts = TransformOptions {
            releases: req.releases,
            skip_releases: req.skip_releases,
            staged: first.get("x_netkan_staging") == Some(&Value::Bool(true)),
            ..TransformOptions::default()
        };
        if let Some(reason) = first.get("x_netkan_staging_reason").and_then(Value::as_str) {
            opts.staging_reasons.push(reason.to_owned());
        }
        let mut cx = Context::new(opts, &self.services, &game, log);
        cx.info(format!("Inflating {identifier}"));
        let outcome = match highest_versions(req, &mut cx) {
            Ok(()) => inflate_documents(docs, &identifier, req, &mut cx).await,
            Err(e) => Err(e),
        };
        if let Err(error) = &outcome {
            cx.info(format!("Inflation failed: {error}"));
            for path in std::mem::take(&mut cx.downloaded) {
                cx.debug(format!("removing {} from the cache", path.display()));
                // Best effort: a file already gone is no reason to hide the real error.
                self.services.cache.remove(&path);
            }
        }
        Inflation {
            identifier,
            outcome,
            staged: cx.opts.staged,
            staging_reasons: cx.opts.staging_reasons.clone(),
            warnings: cx.warnings().to_vec(),
            check_time: Utc::now(),
        }
    }
}

fn highest_versions(req: &InflateRequest, cx: &mut Context<'_>) -> Result<(), InflateError> {
    let parse = |name: &str, v: &Option<String>| {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                ModuleVersion::parse(s)
                    .map_err(|e| InflateError::metadata(format!("{name} {s:?}: {e}")))
            })
            .transpose()
    };
    cx.opts.highest_version = parse("HighestVersion", &req.highest_version)?;
    cx.opts.highest_version_prerelease =
        parse("HighestVersionPrerelease", &req.highest_version_prerelease)?;
    Ok(())
}

/// `Inflator.Inflate` from the mixing of documents to the post-validation.
async fn inflate_documents(
    docs: Vec<Object>,
    identifier: &str,
    req: &InflateRequest,
    cx: &mut Context<'_>,
) -> Result<Vec<InflatedModule>, InflateError> {
    let docs = mix_documents(&docs);
    let file_identifier = req.file_identifier.as_deref().unwrap_or(identifier);
    for doc in &docs {
        validate_input(doc, file_identifier)?;
    }
    cx.debug("Input successfully passed pre-validation");
    let mut modules = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        if i > 0 {
            cx.debug(format!("document {}", i + 1));
        }
        modules.extend(run_document(doc, cx).await?);
    }
    let mut ckans = Vec::new();
    for group in group_by_version(modules)? {
        let mut merged = merge_group(group)?;
        set_spec_version(&mut merged);
        ckans.push(canonical_sort(&merged));
    }
    // `OrderByDescending(Prerelease)` is a stable sort.
    ckans.sort_by_key(|m| !metadata::is_prerelease(m));
    cx.debug("Finished transformation");
    if let Some(wanted) = cx.opts.releases {
        let stable = ckans.iter().filter(|m| !metadata::is_prerelease(m)).count();
        if stable > wanted {
            let described: Vec<String> = ckans.iter().map(describe_hosting).collect();
            return Err(InflateError::metadata(format!(
                "Generated {} modules but only {wanted} requested: {}",
                ckans.len(),
                described.join("; ")
            )));
        }
        ckans.truncate(wanted);
    }
    for ckan in &ckans {
        validate_ckan(ckan, identifier, cx).await?;
    }
    cx.debug("Output successfully passed post-validation");
    Ok(ckans
        .into_iter()
        .map(|json| {
            let version = metadata::version_text(&json).unwrap_or_default();
            let id = json
                .get("identifier")
                .and_then(metadata::cs_string)
                .unwrap_or_default();
            InflatedModule {
                text: to_ckan_string(&json),
                file_name: ckan_file_name(&id, &version),
                json,
            }
        })
        .collect())
}

/// `DescribeHosting`: `1.2 on github.com, spacedock.info`, `(pre-release)` marked.
fn describe_hosting(json: &Object) -> String {
    let version = metadata::version_text(json).unwrap_or_default();
    let hosts = metadata::hosts(json).join(", ");
    if metadata::is_prerelease(json) {
        format!("{version} (pre-release) on {hosts}")
    } else {
        format!("{version} on {hosts}")
    }
}
