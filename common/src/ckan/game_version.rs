//! [`GameVersion`] (`Core/Versioning/GameVersion.cs`) and the compatibility merge the inflator
//! applies whenever a source brings game versions (`GameVersion.SetJsonCompatibility`).

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use super::Object;

const UNDEFINED: i32 = -1;

/// A game version `major[.minor[.patch[.build]]]`, or `any` (every part undefined).
/// Undefined parts are -1 and compare below 0, so `1.12 < 1.12.0 < 1.12.3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GameVersion {
    major: i32,
    minor: i32,
    patch: i32,
    build: i32,
}

impl GameVersion {
    pub const ANY: GameVersion = GameVersion {
        major: UNDEFINED,
        minor: UNDEFINED,
        patch: UNDEFINED,
        build: UNDEFINED,
    };

    /// `GameVersion.TryParse`: `any`, or `^\d+(\.\d+(\.\d+(\.\d+)?)?)?$` after trimming. A part
    /// equal to `int.MaxValue` becomes undefined, as in C#; one that overflows fails.
    pub fn parse(text: &str) -> Option<GameVersion> {
        if text == "any" {
            return Some(GameVersion::ANY);
        }
        let trimmed = text.trim();
        let mut parts = [UNDEFINED; 4];
        for (count, piece) in trimmed.split('.').enumerate() {
            if count == 4 || piece.is_empty() || !piece.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let value: i32 = piece.parse().ok()?;
            parts[count] = if value == i32::MAX { UNDEFINED } else { value };
        }
        // The C# constructors are chosen by the first undefined part, so later parts are lost.
        let [major, mut minor, mut patch, mut build] = parts;
        if minor == UNDEFINED {
            patch = UNDEFINED;
            build = UNDEFINED;
        } else if patch == UNDEFINED {
            build = UNDEFINED;
        }
        if major == UNDEFINED {
            minor = UNDEFINED;
            patch = UNDEFINED;
            build = UNDEFINED;
        }
        Some(GameVersion {
            major,
            minor,
            patch,
            build,
        })
    }

    /// Reads a JSON value as a game version: a string, or an integer such as `ksp_version: 1`.
    pub fn from_value(value: &Value) -> Option<GameVersion> {
        match value {
            Value::String(s) => GameVersion::parse(s),
            Value::Number(n) => GameVersion::parse(&n.to_string()),
            _ => None,
        }
    }

    pub fn new(major: u32, minor: Option<u32>, patch: Option<u32>) -> GameVersion {
        let part = |p: Option<u32>| p.and_then(|x| i32::try_from(x).ok()).unwrap_or(UNDEFINED);
        let major = i32::try_from(major).unwrap_or(UNDEFINED);
        let minor = if major == UNDEFINED {
            UNDEFINED
        } else {
            part(minor)
        };
        let patch = if minor == UNDEFINED {
            UNDEFINED
        } else {
            part(patch)
        };
        GameVersion {
            major,
            minor,
            patch,
            build: UNDEFINED,
        }
    }

    pub fn is_any(&self) -> bool {
        self.major == UNDEFINED
    }

    pub fn major(&self) -> Option<u32> {
        u32::try_from(self.major).ok()
    }

    pub fn minor(&self) -> Option<u32> {
        u32::try_from(self.minor).ok()
    }

    pub fn patch(&self) -> Option<u32> {
        u32::try_from(self.patch).ok()
    }

    pub fn build(&self) -> Option<u32> {
        u32::try_from(self.build).ok()
    }

    /// The version with its build part dropped (`WithoutBuild`).
    pub fn without_build(&self) -> GameVersion {
        GameVersion {
            build: UNDEFINED,
            ..*self
        }
    }
}

impl Ord for GameVersion {
    fn cmp(&self, other: &GameVersion) -> Ordering {
        (self.major, self.minor, self.patch, self.build).cmp(&(
            other.major,
            other.minor,
            other.patch,
            other.build,
        ))
    }
}

impl PartialOrd for GameVersion {
    fn partial_cmp(&self, other: &GameVersion) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for GameVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_any() {
            return f.write_str("any");
        }
        write!(f, "{}", self.major)?;
        for part in [self.minor, self.patch, self.build] {
            if part == UNDEFINED {
                break;
            }
            write!(f, ".{part}")?;
        }
        Ok(())
    }
}

/// `GameVersion.SetJsonCompatibility(json, ver, min, max)`: widens the module's game versions to
/// the union of what it has and what a source brings.
///
/// If `min` and `max` are both absent, `ver` stands for both. The existing bounds are
/// `ksp_version_min ?? ksp_version` and `ksp_version_max ?? ksp_version`. Of all bounds that are
/// present and not `any`, the lowest min and the highest max win. If at least one exists the
/// three properties are removed and rewritten (equal bounds → `ksp_version`); if none exists the
/// object is left alone, so `ksp_version: any` survives.
pub fn set_json_compatibility(
    json: &mut Object,
    ver: Option<GameVersion>,
    min: Option<GameVersion>,
    max: Option<GameVersion>,
) {
    let (new_min, new_max) = if min.is_none() && max.is_none() {
        (ver, ver)
    } else {
        (min, max)
    };
    let existing = |primary: &str| {
        json.get(primary)
            .or_else(|| json.get("ksp_version"))
            .and_then(GameVersion::from_value)
    };
    let defined = |v: Option<GameVersion>| v.filter(|g| !g.is_any());
    let lowest = [defined(existing("ksp_version_min")), defined(new_min)]
        .into_iter()
        .flatten()
        .min();
    let highest = [defined(existing("ksp_version_max")), defined(new_max)]
        .into_iter()
        .flatten()
        .max();
    if lowest.is_none() && highest.is_none() {
        return;
    }
    json.shift_remove("ksp_version");
    json.shift_remove("ksp_version_min");
    json.shift_remove("ksp_version_max");
    match (lowest, highest) {
        (Some(lo), Some(hi)) if lo == hi => {
            json.insert("ksp_version".to_owned(), Value::String(lo.to_string()));
        }
        (lo, hi) => {
            if let Some(lo) = lo {
                json.insert("ksp_version_min".to_owned(), Value::String(lo.to_string()));
            }
            if let Some(hi) = hi {
                json.insert("ksp_version_max".to_owned(), Value::String(hi.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn g(s: &str) -> GameVersion {
        GameVersion::parse(s).expect("valid game version")
    }

    fn merged(existing: Value, ver: Option<&str>, min: Option<&str>, max: Option<&str>) -> Value {
        let Value::Object(mut obj) = existing else {
            panic!("test input must be an object");
        };
        set_json_compatibility(&mut obj, ver.map(g), min.map(g), max.map(g));
        Value::Object(obj)
    }

    #[test]
    fn parse_and_print() {
        assert_eq!(g("1.12.5").to_string(), "1.12.5");
        assert_eq!(g(" 1.12 ").to_string(), "1.12");
        assert_eq!(g("any").to_string(), "any");
        assert_eq!(g("1.2.3.4").build(), Some(4));
        assert!(GameVersion::parse("1.x").is_none());
        assert!(GameVersion::parse("1..2").is_none());
        assert!(GameVersion::parse("1.2.3.4.5").is_none());
        assert!(GameVersion::parse("99999999999").is_none());
        assert!(g("2147483647").is_any());
        assert_eq!(g("1.2.3.4").without_build().to_string(), "1.2.3");
    }

    #[test]
    fn undefined_parts_sort_first() {
        assert!(g("1.12") < g("1.12.0"));
        assert!(g("1.12.0") < g("1.12.3"));
        assert!(g("1.9") < g("1.10"));
        assert!(GameVersion::ANY < g("0"));
    }

    #[test]
    fn compatibility_merge_vectors() {
        // A version alone on an empty module.
        assert_eq!(
            merged(json!({}), Some("1.0.4"), None, None),
            json!({"ksp_version": "1.0.4"})
        );
        // min/max win over ver when present.
        assert_eq!(
            merged(json!({}), Some("1.0.4"), Some("0.90"), Some("1.0.3")),
            json!({"ksp_version_min": "0.90", "ksp_version_max": "1.0.3"})
        );
        // Union with an existing ksp_version.
        assert_eq!(
            merged(
                json!({"ksp_version": "1.8"}),
                None,
                Some("1.9"),
                Some("1.10")
            ),
            json!({"ksp_version_min": "1.8", "ksp_version_max": "1.10"})
        );
        // Existing range already wider: unchanged values, rewritten properties.
        assert_eq!(
            merged(
                json!({"ksp_version_min": "1.0", "ksp_version_max": "1.12", "x": 1}),
                Some("1.4"),
                None,
                None
            ),
            json!({"x": 1, "ksp_version_min": "1.0", "ksp_version_max": "1.12"})
        );
        // Equal bounds collapse to ksp_version.
        assert_eq!(
            merged(
                json!({"ksp_version": "1.12"}),
                None,
                Some("1.12"),
                Some("1.12")
            ),
            json!({"ksp_version": "1.12"})
        );
        // Only a max.
        assert_eq!(
            merged(json!({}), None, None, Some("1.12.99")),
            json!({"ksp_version_max": "1.12.99"})
        );
        // any is ignored; with nothing else the module is untouched.
        assert_eq!(
            merged(json!({"ksp_version": "any"}), Some("any"), None, None),
            json!({"ksp_version": "any"})
        );
        assert_eq!(
            merged(json!({"ksp_version": "any"}), None, None, None),
            json!({"ksp_version": "any"})
        );
        // any existing plus a new min gives just the min.
        assert_eq!(
            merged(json!({"ksp_version": "any"}), None, Some("1.2"), None),
            json!({"ksp_version_min": "1.2"})
        );
        // 1.12 < 1.12.0: the less specific min wins.
        assert_eq!(
            merged(
                json!({"ksp_version_min": "1.12.0"}),
                None,
                Some("1.12"),
                None
            ),
            json!({"ksp_version_min": "1.12"})
        );
        // A bare min stays alongside an existing max.
        assert_eq!(
            merged(json!({"ksp_version_max": "1.3"}), None, Some("1.1"), None),
            json!({"ksp_version_min": "1.1", "ksp_version_max": "1.3"})
        );
        // Integer values from YAML typing are read as versions.
        assert_eq!(
            merged(json!({"ksp_version": 1}), Some("1.2"), None, None),
            json!({"ksp_version_min": "1", "ksp_version_max": "1.2"})
        );
    }
}
