//! The game an inflation is for (CKAN's `IGame`): its short name (`KSP`, `KSP2`, the
//! `GameId` of outbound messages), the folder mods install into by default, and the game
//! versions it has had (`builds.json`), with the version-range arithmetic of
//! `Core/Versioning/GameVersionRange.cs` that the staging check and the known-versions
//! validator need.

use std::cmp::Ordering;

use netkan_common::Game;
use netkan_common::ckan::{GameVersion, Object};
use serde_json::Value;

use crate::InflateError;

/// KSP's `builds.json` as of the CKAN-meta snapshot in `shared/ckan-real` (build id → game
/// version); the default list of known versions when the worker has no CKAN-meta checkout.
const KSP_BUILDS_JSON: &str = include_str!("../data/builds.json");

/// The game an inflation is for.
#[derive(Debug, Clone, PartialEq)]
pub struct GameInfo {
    /// `ksp` or `ksp2`.
    pub id: Game,
    short_name: String,
    mod_root: String,
    /// Ascending, without duplicates; build numbers kept (`1.12.5.3190`).
    known_versions: Vec<GameVersion>,
}

impl GameInfo {
    /// The game with the built-in list of known versions: KSP's embedded `builds.json`;
    /// none for other games (their checks against known versions then pass, as CKAN's do
    /// with an empty list).
    pub fn builtin(id: &Game) -> GameInfo {
        let known = if id.as_str() == "ksp" {
            parse_builds_json(KSP_BUILDS_JSON)
                .expect("the embedded builds.json parses (checked by a unit test)")
        } else {
            Vec::new()
        };
        GameInfo::with_versions(id.clone(), known)
    }

    /// KSP with the embedded `builds.json`.
    pub fn ksp() -> GameInfo {
        GameInfo::builtin(&Game::ksp())
    }

    /// The game with the versions of a `builds.json` text (the file at the root of a CKAN-meta
    /// repository: `{"builds": {"<build id>": "<version>", ...}}`).
    ///
    /// # Errors
    /// `Metadata` naming what is wrong with the text.
    pub fn from_builds_json(id: &Game, text: &str) -> Result<GameInfo, InflateError> {
        Ok(GameInfo::with_versions(
            id.clone(),
            parse_builds_json(text)?,
        ))
    }

    /// The game with these known versions.
    pub fn with_versions(id: Game, mut known: Vec<GameVersion>) -> GameInfo {
        known.sort();
        known.dedup();
        let (short_name, mod_root) = match id.as_str() {
            "ksp" => ("KSP".to_owned(), "GameData".to_owned()),
            "ksp2" => ("KSP2".to_owned(), "BepInEx/plugins".to_owned()),
            other => (other.to_ascii_uppercase(), "GameData".to_owned()),
        };
        GameInfo {
            id,
            short_name,
            mod_root,
            known_versions: known,
        }
    }

    /// `IGame.ShortName`: `KSP`, `KSP2`.
    pub fn short_name(&self) -> &str {
        &self.short_name
    }

    /// `PrimaryModDirectoryRelative`: where the default install stanza installs to.
    pub fn mod_root(&self) -> &str {
        &self.mod_root
    }

    /// Every known game version, ascending.
    pub fn known_versions(&self) -> &[GameVersion] {
        &self.known_versions
    }

    /// The newest known game version.
    pub fn latest(&self) -> Option<GameVersion> {
        self.known_versions.last().copied()
    }

    /// `GameVersionRange.VersionSpan`: `KSP 1.12`, `KSP 1.8–1.12`, `KSP 1.8 and later`,
    /// `KSP 1.12 and earlier`, `KSP All versions`.
    pub fn version_span(&self, min: GameVersion, max: GameVersion) -> String {
        let name = &self.short_name;
        if min == max {
            if min.is_any() {
                format!("{name} All versions")
            } else {
                format!("{name} {min}")
            }
        } else if min.is_any() {
            format!("{name} {max} and earlier")
        } else if max.is_any() {
            format!("{name} {min} and later")
        } else {
            format!("{name} {min}–{max}")
        }
    }
}

fn parse_builds_json(text: &str) -> Result<Vec<GameVersion>, InflateError> {
    let bad = |why: String| InflateError::Metadata(format!("builds.json: {why}"));
    let json: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let builds = json
        .get("builds")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no \"builds\" object".to_owned()))?;
    builds
        .iter()
        .map(|(build, v)| {
            v.as_str()
                .and_then(GameVersion::parse)
                .filter(|g| !g.is_any())
                .ok_or_else(|| bad(format!("build {build}: {v} is not a game version")))
        })
        .collect()
}

/// A fully defined version `[major, minor, patch, build]`; `Any` is every part -1, which
/// sorts below everything, as in C#.
type Full = [i64; 4];

const ANY_FULL: Full = [-1; 4];

/// `GameVersionBound`: a fully defined version, inclusive or not; `Any` for unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bound {
    value: Full,
    inclusive: bool,
}

impl Bound {
    const UNBOUNDED: Bound = Bound {
        value: ANY_FULL,
        inclusive: true,
    };

    fn is_unbounded(self) -> bool {
        self == Bound::UNBOUNDED
    }
}

/// `GameVersionRange`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VersionRange {
    lower: Bound,
    upper: Bound,
}

fn part(p: Option<u32>) -> i64 {
    p.map_or(-1, i64::from)
}

impl VersionRange {
    /// `GameVersion.ToVersionRange`: `1.12` is `[1.12.0.0, 1.13.0.0)`, a version with a build
    /// is just itself, `any` is unbounded.
    pub(crate) fn of(v: GameVersion) -> VersionRange {
        let (ma, mi, pa, bu) = (
            part(v.major()),
            part(v.minor()),
            part(v.patch()),
            part(v.build()),
        );
        let incl = |value: Full| Bound {
            value,
            inclusive: true,
        };
        let excl = |value: Full| Bound {
            value,
            inclusive: false,
        };
        let (lower, upper) = if bu >= 0 {
            (incl([ma, mi, pa, bu]), incl([ma, mi, pa, bu]))
        } else if pa >= 0 {
            (incl([ma, mi, pa, 0]), excl([ma, mi, pa + 1, 0]))
        } else if mi >= 0 {
            (incl([ma, mi, 0, 0]), excl([ma, mi + 1, 0, 0]))
        } else if ma >= 0 {
            (incl([ma, 0, 0, 0]), excl([ma + 1, 0, 0, 0]))
        } else {
            (Bound::UNBOUNDED, Bound::UNBOUNDED)
        };
        VersionRange { lower, upper }
    }

    /// `new GameVersionRange(min, max)`: from the lower bound of `min` to the upper bound of
    /// `max`.
    pub(crate) fn between(min: GameVersion, max: GameVersion) -> VersionRange {
        VersionRange {
            lower: VersionRange::of(min).lower,
            upper: VersionRange::of(max).upper,
        }
    }

    /// `IntersectWith`, as a yes/no.
    pub(crate) fn intersects(&self, other: &VersionRange) -> bool {
        let lower = highest(self.lower, other.lower);
        let upper = lowest(self.upper, other.upper);
        !is_empty(lower, upper)
    }
}

/// `GameVersionBound.Lowest`: bounded before unbounded, then by value, exclusive first.
fn lowest(a: Bound, b: Bound) -> Bound {
    let key = |x: &Bound| (x.is_unbounded(), x.value, x.inclusive);
    if key(&b) < key(&a) { b } else { a }
}

/// `GameVersionBound.Highest`: bounded before unbounded, then by value descending,
/// exclusive first.
fn highest(a: Bound, b: Bound) -> Bound {
    let order = |x: &Bound, y: &Bound| {
        x.is_unbounded()
            .cmp(&y.is_unbounded())
            .then_with(|| y.value.cmp(&x.value))
            .then_with(|| x.inclusive.cmp(&y.inclusive))
    };
    if order(&b, &a) == Ordering::Less {
        b
    } else {
        a
    }
}

fn is_empty(lower: Bound, upper: Bound) -> bool {
    upper.value < lower.value
        || (lower.value == upper.value && (!lower.inclusive || !upper.inclusive))
}

/// A module's game versions as CKAN reads them for display: `ksp_version_min ?? ksp_version`
/// and `ksp_version_max ?? ksp_version`, `any` when missing or unreadable.
pub(crate) fn module_min_max(json: &Object) -> (GameVersion, GameVersion) {
    let read = |primary: &str| {
        json.get(primary)
            .filter(|v| !v.is_null())
            .or_else(|| json.get("ksp_version").filter(|v| !v.is_null()))
            .and_then(GameVersion::from_value)
            .unwrap_or(GameVersion::ANY)
    };
    (read("ksp_version_min"), read("ksp_version_max"))
}

/// `StrictGameComparator.SingleVersionsCompatible`, for every known version: whether the
/// module's game versions include at least one of them (an empty list includes everything).
/// `Err` carries the warning CKAN logs when `min > max`.
pub(crate) fn compatible_with_any(json: &Object, known: &[GameVersion]) -> Result<bool, String> {
    if known.is_empty() {
        return Ok(true);
    }
    let get = |k: &str| {
        json.get(k)
            .filter(|v| !v.is_null())
            .and_then(GameVersion::from_value)
    };
    let module_range = match (
        get("ksp_version"),
        get("ksp_version_min"),
        get("ksp_version_max"),
    ) {
        (Some(v), _, _) => VersionRange::of(v),
        (None, None, None) => return Ok(true),
        (None, Some(min), Some(max)) => {
            let range = VersionRange::between(min, max);
            if range.lower.value > range.upper.value {
                return Err(format!("{min} is not less or equal to {max}"));
            }
            range
        }
        (None, min, max) => VersionRange::between(
            min.unwrap_or(GameVersion::ANY),
            max.unwrap_or(GameVersion::ANY),
        ),
    };
    Ok(known
        .iter()
        .any(|kv| VersionRange::of(*kv).intersects(&module_range)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> GameVersion {
        GameVersion::parse(s).expect("valid game version")
    }

    fn obj(v: Value) -> Object {
        match v {
            Value::Object(o) => o,
            _ => unreachable!("test objects"),
        }
    }

    #[test]
    fn the_embedded_builds_json_ends_at_ksp_1_12_5() {
        let ksp = GameInfo::ksp();
        assert_eq!(ksp.latest(), Some(g("1.12.5.3190")));
        assert_eq!(ksp.short_name(), "KSP");
        assert_eq!(ksp.mod_root(), "GameData");
        assert!(ksp.known_versions().len() > 50);
        let ksp2 = GameInfo::builtin(&Game::new("ksp2").expect("valid"));
        assert_eq!(ksp2.short_name(), "KSP2");
        assert_eq!(ksp2.mod_root(), "BepInEx/plugins");
    }

    #[test]
    fn a_builds_json_that_is_not_one_is_refused_with_its_reason() {
        let err = GameInfo::from_builds_json(&Game::ksp(), r#"{"builds": {"1": "x"}}"#)
            .expect_err("bad version");
        assert!(err.to_string().contains("build 1"), "{err}");
        assert!(GameInfo::from_builds_json(&Game::ksp(), "[]").is_err());
    }

    #[test]
    fn version_spans_read_like_ckan() {
        let ksp = GameInfo::ksp();
        assert_eq!(ksp.version_span(g("1.12"), g("1.12")), "KSP 1.12");
        assert_eq!(ksp.version_span(g("1.8"), g("1.12")), "KSP 1.8–1.12");
        assert_eq!(
            ksp.version_span(GameVersion::ANY, g("1.2")),
            "KSP 1.2 and earlier"
        );
        assert_eq!(
            ksp.version_span(g("1.8"), GameVersion::ANY),
            "KSP 1.8 and later"
        );
        assert_eq!(
            ksp.version_span(GameVersion::ANY, GameVersion::ANY),
            "KSP All versions"
        );
    }

    #[test]
    fn ranges_intersect_as_game_version_ranges_do() {
        let latest = VersionRange::of(g("1.12.5.3190"));
        assert!(latest.intersects(&VersionRange::of(g("1.12"))));
        assert!(latest.intersects(&VersionRange::of(g("1.12.5"))));
        assert!(!latest.intersects(&VersionRange::of(g("1.12.4"))));
        assert!(latest.intersects(&VersionRange::between(g("1.8"), GameVersion::ANY)));
        assert!(!latest.intersects(&VersionRange::between(GameVersion::ANY, g("1.11"))));
        assert!(latest.intersects(&VersionRange::of(GameVersion::ANY)));
    }

    #[test]
    fn compatibility_with_known_versions_follows_the_strict_comparator() {
        let known = GameInfo::ksp().known_versions().to_vec();
        let c = |v: Value| compatible_with_any(&obj(v), &known);
        assert_eq!(c(serde_json::json!({})), Ok(true));
        assert_eq!(c(serde_json::json!({"ksp_version": "1.12"})), Ok(true));
        assert_eq!(c(serde_json::json!({"ksp_version": "2.0"})), Ok(false));
        assert_eq!(c(serde_json::json!({"ksp_version_min": "1.13"})), Ok(false));
        assert_eq!(c(serde_json::json!({"ksp_version_max": "0.20"})), Ok(false));
        assert_eq!(c(serde_json::json!({"ksp_version_max": "0.25"})), Ok(true));
        assert!(
            c(serde_json::json!({"ksp_version_min": "1.12", "ksp_version_max": "1.8"})).is_err()
        );
        assert_eq!(
            compatible_with_any(&obj(serde_json::json!({"ksp_version": "9"})), &[]),
            Ok(true)
        );
    }
}
