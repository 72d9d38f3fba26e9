//! The status store: per mod and game, what the pipeline last did with it (NetKAN-Infra's
//! DynamoDB table `MultiKANStatus`, reference §4), in Redis.
//!
//! One hash per mod and game (`Keys::status`) holds the fields of §4 under their names;
//! times are stored already in the `status.json` spelling (Python's `isoformat()` of a UTC
//! time), booleans as `true`/`false`, `resources` as JSON; an absent field is null. A set per
//! game (`Keys::status_index`) lists the identifiers, for exports. Every change of one mod is
//! one MULTI, so a reader never sees half an update.
//!
//! Writers: the indexer ([`StatusStore::record_inflation`]), freezing ([`StatusStore::set_frozen`]),
//! [`StatusStore::restore`]. Readers: the web's `/status`, `netkan status`, the exports.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use redis::aio::ConnectionLike;
use serde_json::{Map, Value, json};

use crate::error::QueueError;
use crate::job::Game;
use crate::keys::Keys;

/// What the store knows about one mod in one game.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModStatus {
    /// The identifier.
    pub identifier: String,
    /// The game.
    pub game: Game,
    /// The last inflation's error; cleared by a success.
    pub last_error: Option<String>,
    /// The last inflation's warnings (`\r\n`-joined); cleared when there are none.
    pub last_warnings: Option<String>,
    /// Legacy: written by older systems only, kept through dumps and restores.
    pub last_checked: Option<DateTime<Utc>>,
    /// When the indexer last committed a `.ckan` of it.
    pub last_indexed: Option<DateTime<Utc>>,
    /// `CheckTime` of the last inflation result.
    pub last_inflated: Option<DateTime<Utc>>,
    /// Modification time of its download in the cache.
    pub last_downloaded: Option<DateTime<Utc>>,
    /// The `.ckan`'s `release_date`.
    pub release_date: Option<DateTime<Utc>>,
    /// Whether the last inflation succeeded; `None` before any.
    pub success: Option<bool>,
    /// Frozen (no longer inflated); any inflation unfreezes.
    pub frozen: bool,
    /// The `.ckan`'s `resources` (homepage, repository, bugtracker, metanetkan, ...).
    pub resources: Map<String, Value>,
}

/// One inflation result, as the indexer records it (reference §1.4 `status_attrs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inflation {
    /// The result's `Success`.
    pub success: bool,
    /// `ErrorMessage`; `None` (or empty) clears the stored one.
    pub error: Option<String>,
    /// `WarningMessages`; `None` (or empty) clears the stored ones.
    pub warnings: Option<String>,
    /// `CheckTime`.
    pub inflated: DateTime<Utc>,
    /// Now, when this result was committed; `None` leaves `last_indexed` as it is.
    pub indexed: Option<DateTime<Utc>>,
    /// The `.ckan`'s `release_date`; `None` leaves the stored one.
    pub release_date: Option<DateTime<Utc>>,
    /// The `.ckan`'s `resources`; `None` leaves the stored ones.
    pub resources: Option<Map<String, Value>>,
    /// The cached download's modification time; `None` leaves the stored one.
    pub downloaded: Option<DateTime<Utc>>,
}

/// What recording an inflation found, for notices to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The mod had a status before.
    pub existed: bool,
    /// A failure whose error differs from the stored one (the reference's
    /// `New inflation error for ...`). Never for a mod seen for the first time.
    pub new_error: bool,
    /// Otherwise, warnings that differ from the stored ones.
    pub new_warnings: bool,
}

/// A `restore` input that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// Not the dump format.
    #[error("not a status dump: {0}")]
    Format(String),
    /// A field with a value of the wrong kind.
    #[error("status of {identifier}: {field}: {message}")]
    Field {
        /// The mod.
        identifier: String,
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Redis failed.
    #[error(transparent)]
    Redis(#[from] QueueError),
}

impl From<redis::RedisError> for StatusError {
    fn from(e: redis::RedisError) -> Self {
        StatusError::Redis(QueueError::from(e))
    }
}

/// Python's `datetime.isoformat()` of a UTC time: `2023-04-11T13:40:16.261429+00:00`, or
/// without the fraction when the microseconds are 0.
pub fn isoformat(t: &DateTime<Utc>) -> String {
    let micros = t.timestamp_subsec_micros();
    let base = t.format("%Y-%m-%dT%H:%M:%S");
    if micros == 0 {
        format!("{base}+00:00")
    } else {
        format!("{base}.{micros:06}+00:00")
    }
}

/// Reads a time as the reference's `dateutil.parse` mostly meets them: RFC 3339 with any
/// offset or `Z`, a naive `yyyy-MM-ddTHH:mm:ss[.f]` (taken as UTC, as `CheckTime` is), or a
/// date alone (midnight UTC). Precision is cut to microseconds, as Python keeps it.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let t = if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        t.with_timezone(&Utc)
    } else if let Some(n) = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    {
        n.and_utc()
    } else {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
            .and_utc()
    };
    let nanos = t.timestamp_subsec_nanos();
    t.checked_sub_signed(chrono::Duration::nanoseconds(i64::from(nanos % 1000)))
}

/// When the download of a `.ckan` was last fetched into the cache: the modification time of
/// its cache file (`<cache prefix>-<identifier>-<version>.<ext>`, or, as NetKAN-Infra globs,
/// any file starting with the cache prefix of its first download URL). `None` if none.
pub fn cached_download_time(cache_dir: &Path, ckan: &Map<String, Value>) -> Option<DateTime<Utc>> {
    let module = crate::ckan::Module::new(ckan);
    let mtime = |p: &Path| -> Option<DateTime<Utc>> {
        let modified = std::fs::metadata(p).ok()?.modified().ok()?;
        Some(DateTime::<Utc>::from(modified))
    };
    if let Some(name) = crate::ckan::names::cache_file_name(&module)
        && let Some(t) = mtime(&cache_dir.join(name))
    {
        return Some(t);
    }
    let url = *module.downloads().ok()?.first()?;
    let prefix = format!("{}-", crate::ckan::names::cache_prefix(url));
    std::fs::read_dir(cache_dir)
        .ok()?
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(&prefix) && !name.ends_with(".sha1") && !name.ends_with(".sha256")
        })
        .find_map(|e| mtime(&e.path()))
}

/// The status store under one key prefix.
#[derive(Debug, Clone)]
pub struct StatusStore {
    keys: Keys,
}

/// Mods read per pipelined round trip in exports.
const READ_CHUNK: usize = 500;

impl StatusStore {
    /// The store under `keys`.
    pub fn new(keys: Keys) -> Self {
        Self { keys }
    }

    /// Records an inflation result (one MULTI): success, error and warnings (cleared when
    /// absent), `last_inflated`, `frozen = false`, and `last_indexed`, `release_date`,
    /// `resources`, `last_downloaded` when given. Says whether the error or the warnings are
    /// new, by the reference's rules.
    pub async fn record_inflation<C: ConnectionLike>(
        &self,
        conn: &mut C,
        game: &Game,
        identifier: &str,
        inf: &Inflation,
    ) -> Result<Recorded, QueueError> {
        let key = self.keys.status(game, identifier);
        let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        let (error, warnings) = (nonempty(&inf.error), nonempty(&inf.warnings));
        let mut set: Vec<(&str, String)> = vec![
            ("success", inf.success.to_string()),
            ("last_inflated", isoformat(&inf.inflated)),
            ("frozen", "false".into()),
        ];
        let mut del: Vec<&str> = Vec::new();
        match &error {
            Some(e) => set.push(("last_error", e.clone())),
            None => del.push("last_error"),
        }
        match &warnings {
            Some(w) => set.push(("last_warnings", w.clone())),
            None => del.push("last_warnings"),
        }
        if let Some(t) = &inf.indexed {
            set.push(("last_indexed", isoformat(t)));
        }
        if let Some(t) = &inf.release_date {
            set.push(("release_date", isoformat(t)));
        }
        if let Some(t) = &inf.downloaded {
            set.push(("last_downloaded", isoformat(t)));
        }
        if let Some(r) = &inf.resources {
            set.push(("resources", Value::Object(r.clone()).to_string()));
        }
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("EXISTS")
            .arg(&key)
            .cmd("HMGET")
            .arg(&key)
            .arg("last_error")
            .arg("last_warnings")
            .cmd("HSET")
            .arg(&key)
            .arg(&set)
            .ignore();
        if !del.is_empty() {
            pipe.cmd("HDEL").arg(&key).arg(&del).ignore();
        }
        pipe.cmd("SADD")
            .arg(self.keys.status_index(game))
            .arg(identifier)
            .ignore();
        let (existed, old): (bool, (Option<String>, Option<String>)) =
            pipe.query_async(conn).await?;
        let new_error = existed && !inf.success && old.0 != error;
        let new_warnings = existed && !new_error && warnings.is_some() && old.1 != warnings;
        Ok(Recorded {
            existed,
            new_error,
            new_warnings,
        })
    }

    /// Marks a mod frozen or not (one MULTI), creating its status if it has none.
    pub async fn set_frozen<C: ConnectionLike>(
        &self,
        conn: &mut C,
        game: &Game,
        identifier: &str,
        frozen: bool,
    ) -> Result<(), QueueError> {
        let () = redis::pipe()
            .atomic()
            .cmd("HSET")
            .arg(self.keys.status(game, identifier))
            .arg("frozen")
            .arg(frozen.to_string())
            .ignore()
            .cmd("SADD")
            .arg(self.keys.status_index(game))
            .arg(identifier)
            .ignore()
            .query_async(conn)
            .await?;
        Ok(())
    }

    /// One mod's status; `None` if it has none.
    pub async fn get<C: ConnectionLike>(
        &self,
        conn: &mut C,
        game: &Game,
        identifier: &str,
    ) -> Result<Option<ModStatus>, QueueError> {
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.keys.status(game, identifier))
            .query_async(conn)
            .await?;
        Ok((!fields.is_empty()).then(|| from_hash(identifier, game, &fields)))
    }

    /// Every mod's status in a game, sorted by identifier.
    pub async fn all<C: ConnectionLike>(
        &self,
        conn: &mut C,
        game: &Game,
    ) -> Result<Vec<ModStatus>, QueueError> {
        let mut ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.status_index(game))
            .query_async(conn)
            .await?;
        ids.sort();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(READ_CHUNK) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.cmd("HGETALL").arg(self.keys.status(game, id));
            }
            let hashes: Vec<HashMap<String, String>> = pipe.query_async(conn).await?;
            for (id, fields) in chunk.iter().zip(hashes) {
                // An index entry whose hash is gone (deleted by hand) is skipped.
                if !fields.is_empty() {
                    out.push(from_hash(id, game, &fields));
                }
            }
        }
        Ok(out)
    }

    /// `status.json` of a game (reference §4): an object keyed by identifier.
    pub async fn export<C: ConnectionLike>(
        &self,
        conn: &mut C,
        game: &Game,
    ) -> Result<Map<String, Value>, QueueError> {
        Ok(self
            .all(conn, game)
            .await?
            .iter()
            .map(|s| (s.identifier.clone(), s.to_json()))
            .collect())
    }

    /// `dump-status`: `{"<game>": <status.json of that game>, ...}` for `games`.
    pub async fn dump<C: ConnectionLike>(
        &self,
        conn: &mut C,
        games: &[Game],
    ) -> Result<Map<String, Value>, QueueError> {
        let mut out = Map::new();
        for g in games {
            out.insert(g.to_string(), Value::Object(self.export(conn, g).await?));
        }
        Ok(out)
    }

    /// `restore-status`: reads a dump (`{"<game>" | "no_game_id": {"<id>": {...}}}`),
    /// normalises each entry as the reference does (times parsed, `success = !failed`, no
    /// `game_id` → `ksp`) and replaces each mod's status with it, 200 mods per MULTI.
    /// Returns how many mods were written.
    pub async fn restore<C: ConnectionLike>(
        &self,
        conn: &mut C,
        dump: &Value,
    ) -> Result<usize, StatusError> {
        let games = dump
            .as_object()
            .ok_or_else(|| StatusError::Format("the top level is not an object".into()))?;
        let mut items = Vec::new();
        for (section, mods) in games {
            let mods = mods.as_object().ok_or_else(|| {
                StatusError::Format(format!("{section:?} does not hold an object of mods"))
            })?;
            for (id, item) in mods {
                items.push(normalise(section, id, item)?);
            }
        }
        for chunk in items.chunks(200) {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for s in chunk {
                let key = self.keys.status(&s.game, &s.identifier);
                pipe.cmd("DEL").arg(&key).ignore();
                pipe.cmd("HSET").arg(&key).arg(s.to_hash()).ignore();
                pipe.cmd("SADD")
                    .arg(self.keys.status_index(&s.game))
                    .arg(&s.identifier)
                    .ignore();
            }
            let () = pipe.query_async(conn).await?;
        }
        Ok(items.len())
    }
}

fn from_hash(identifier: &str, game: &Game, f: &HashMap<String, String>) -> ModStatus {
    let time = |k: &str| f.get(k).and_then(|v| parse_time(v));
    ModStatus {
        identifier: identifier.to_owned(),
        game: game.clone(),
        last_error: f.get("last_error").cloned(),
        last_warnings: f.get("last_warnings").cloned(),
        last_checked: time("last_checked"),
        last_indexed: time("last_indexed"),
        last_inflated: time("last_inflated"),
        last_downloaded: time("last_downloaded"),
        release_date: time("release_date"),
        success: f.get("success").map(|v| v == "true"),
        frozen: f.get("frozen").is_some_and(|v| v == "true"),
        resources: f
            .get("resources")
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default(),
    }
}

impl ModStatus {
    /// The time fields in `status.json` order, with their values.
    fn time_fields(&self) -> [(&'static str, Option<&DateTime<Utc>>); 5] {
        [
            ("last_checked", self.last_checked.as_ref()),
            ("last_indexed", self.last_indexed.as_ref()),
            ("last_inflated", self.last_inflated.as_ref()),
            ("last_downloaded", self.last_downloaded.as_ref()),
            ("release_date", self.release_date.as_ref()),
        ]
    }

    /// The value of this mod in `status.json`: every attribute but the identifier, times in
    /// `isoformat()`, nulls kept, and `failed` (= not `success`) in place of `success`.
    /// A mod never inflated (only frozen, say) is `"failed": false`.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("game_id".into(), json!(self.game.as_str()));
        o.insert("last_error".into(), json!(self.last_error));
        o.insert("last_warnings".into(), json!(self.last_warnings));
        for (name, t) in self.time_fields() {
            o.insert(name.into(), json!(t.map(isoformat)));
        }
        o.insert("frozen".into(), json!(self.frozen));
        o.insert("resources".into(), Value::Object(self.resources.clone()));
        o.insert("failed".into(), json!(self.success == Some(false)));
        Value::Object(o)
    }

    fn to_hash(&self) -> Vec<(&'static str, String)> {
        let mut h: Vec<(&'static str, String)> = vec![("frozen", self.frozen.to_string())];
        if let Some(s) = self.success {
            h.push(("success", s.to_string()));
        }
        if let Some(e) = &self.last_error {
            h.push(("last_error", e.clone()));
        }
        if let Some(w) = &self.last_warnings {
            h.push(("last_warnings", w.clone()));
        }
        for (name, t) in self.time_fields() {
            if let Some(t) = t {
                h.push((name, isoformat(t)));
            }
        }
        if !self.resources.is_empty() {
            h.push((
                "resources",
                Value::Object(self.resources.clone()).to_string(),
            ));
        }
        h
    }
}

/// `normalise_item` of the reference's `restore-status`.
fn normalise(section: &str, identifier: &str, item: &Value) -> Result<ModStatus, StatusError> {
    let field_err = |field: &str, message: &str| StatusError::Field {
        identifier: identifier.to_owned(),
        field: field.to_owned(),
        message: message.to_owned(),
    };
    let o = item
        .as_object()
        .ok_or_else(|| field_err("(entry)", "not an object"))?;
    let text = |k: &str| -> Result<Option<String>, StatusError> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(field_err(k, "not a string")),
        }
    };
    let time = |k: &str| -> Result<Option<DateTime<Utc>>, StatusError> {
        match text(k)? {
            None => Ok(None),
            Some(s) => parse_time(&s)
                .map(Some)
                .ok_or_else(|| field_err(k, &format!("{s:?} is not a date and time"))),
        }
    };
    let flag = |k: &str| -> Result<Option<bool>, StatusError> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(field_err(k, "not true or false")),
        }
    };
    let game_text =
        text("game_id")?.or_else(|| (section != "no_game_id").then(|| section.to_owned()));
    let game = match game_text {
        Some(g) => Game::new(&g).map_err(|e| field_err("game_id", &e.to_string()))?,
        None => Game::ksp(),
    };
    let success = match flag("failed")? {
        Some(failed) => Some(!failed),
        None => flag("success")?,
    };
    let resources = match o.get("resources") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(r)) => r.clone(),
        Some(_) => return Err(field_err("resources", "not an object")),
    };
    Ok(ModStatus {
        identifier: o
            .get("ModIdentifier")
            .and_then(Value::as_str)
            .unwrap_or(identifier)
            .to_owned(),
        game,
        last_error: text("last_error")?,
        last_warnings: text("last_warnings")?,
        last_checked: time("last_checked")?,
        last_indexed: time("last_indexed")?,
        last_inflated: time("last_inflated")?,
        last_downloaded: time("last_downloaded")?,
        release_date: time("release_date")?,
        success,
        frozen: flag("frozen")?.unwrap_or(false),
        resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_python_isoformat() {
        let t = parse_time("2023-04-11T13:40:16.261429+00:00").unwrap();
        assert_eq!(isoformat(&t), "2023-04-11T13:40:16.261429+00:00");
        let t = parse_time("2023-04-13T08:10:15").unwrap();
        assert_eq!(isoformat(&t), "2023-04-13T08:10:15+00:00");
        // Newtonsoft's 7 fraction digits and other offsets: cut to microseconds, in UTC.
        let t = parse_time("2019-06-24T21:06:14.1234567+02:00").unwrap();
        assert_eq!(isoformat(&t), "2019-06-24T19:06:14.123456+00:00");
        assert_eq!(
            isoformat(&parse_time("2020-01-02").unwrap()),
            "2020-01-02T00:00:00+00:00"
        );
        assert_eq!(
            isoformat(&parse_time("2020-01-02T03:04:05Z").unwrap()),
            "2020-01-02T03:04:05+00:00"
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn restore_normalises_items_as_the_reference_does() {
        // The status item of the reference's tests/status.py, in dump form.
        let item = json!({
            "ModIdentifier": "AwesomeMod",
            "last_checked": null,
            "last_indexed": "2021-01-01T13:37:00.000001+00:00",
            "last_inflated": "2021-01-02T13:37:00+00:00",
            "failed": false,
            "frozen": false,
            "game_id": null,
            "resources": {"homepage": "https://example.com"}
        });
        let s = normalise("no_game_id", "AwesomeMod", &item).unwrap();
        assert_eq!(s.game, Game::ksp());
        assert_eq!(s.success, Some(true));
        assert_eq!(s.identifier, "AwesomeMod");
        assert_eq!(
            s.last_indexed.map(|t| isoformat(&t)).as_deref(),
            Some("2021-01-01T13:37:00.000001+00:00")
        );
        assert_eq!(s.last_checked, None);
        let e = normalise("ksp", "X", &json!({"last_inflated": "soon"})).unwrap_err();
        assert!(e.to_string().contains("X: last_inflated"), "{e}");
    }

    #[test]
    fn the_export_value_has_every_attribute_in_order() {
        let s = ModStatus {
            identifier: "DogeCoinFlag".into(),
            game: Game::ksp(),
            last_inflated: parse_time("2019-06-24T19:06:14"),
            success: Some(true),
            ..ModStatus::default()
        };
        assert_eq!(
            s.to_json().to_string(),
            r#"{"game_id":"ksp","last_error":null,"last_warnings":null,"last_checked":null,"last_indexed":null,"last_inflated":"2019-06-24T19:06:14+00:00","last_downloaded":null,"release_date":null,"frozen":false,"resources":{},"failed":false}"#
        );
    }
}
