//! SpaceWarp's `swinfo.json` (KSP2 mods), read as CKAN's `SpaceWarpInfoLoader` reads it:
//! Newtonsoft with every error handled, so a property of the wrong type is skipped, and a file
//! that is not JSON gives nothing.

use super::lenient_json::{self, JValue, member};

/// A `min`/`max` pair; `*` reads as `any`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionMinMax {
    pub min: Option<String>,
    pub max: Option<String>,
}

/// One entry of `dependencies`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependency {
    pub id: Option<String>,
    pub version: Option<VersionMinMax>,
}

/// What CKAN reads from `swinfo.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpaceWarpInfo {
    pub mod_id: Option<String>,
    pub name: Option<String>,
    pub author: Option<String>,
    pub description: Option<String>,
    pub source: Option<String>,
    pub version: Option<String>,
    /// The URL text as written (`Uri.OriginalString`).
    pub version_check: Option<String>,
    pub dependencies: Option<Vec<Dependency>>,
    pub ksp2_version: Option<VersionMinMax>,
}

fn text_of(props: &[(String, JValue)], name: &str) -> Option<String> {
    member(props, name).and_then(JValue::scalar_text)
}

fn min_max(value: Option<&JValue>) -> Option<VersionMinMax> {
    let JValue::Object(props) = value? else {
        return None;
    };
    // SpaceWarpGameVersionConverter: `(reader.Value as string)?.Replace("*", "any")`.
    let version = |name: &str| match member(props, name) {
        Some(JValue::String(s)) => Some(s.replace('*', "any")),
        _ => None,
    };
    Some(VersionMinMax {
        min: version("min"),
        max: version("max"),
    })
}

impl SpaceWarpInfo {
    /// Parses a `swinfo.json` text; `None` when it holds no object.
    pub fn parse(text: &str) -> Option<SpaceWarpInfo> {
        let parsed = lenient_json::parse(text).ok()?;
        let Some(JValue::Object(props)) = parsed.value else {
            return None;
        };
        let dependencies = match member(&props, "dependencies") {
            Some(JValue::Array(items)) => Some(
                items
                    .iter()
                    .filter_map(|item| match item {
                        JValue::Object(dep) => Some(Dependency {
                            id: text_of(dep, "id"),
                            version: min_max(member(dep, "version")),
                        }),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        };
        Some(SpaceWarpInfo {
            mod_id: text_of(&props, "mod_id"),
            name: text_of(&props, "name"),
            author: text_of(&props, "author"),
            description: text_of(&props, "description"),
            source: text_of(&props, "source"),
            version: text_of(&props, "version"),
            version_check: match member(&props, "version_check") {
                Some(JValue::String(s)) => Some(s.clone()),
                _ => None,
            },
            dependencies,
            ksp2_version: min_max(member(&props, "ksp2_version")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_space_warp_info_file_is_read_leniently() {
        let info = SpaceWarpInfo::parse(
            r#"{
                "mod_id": "BurnController", "name": "Burn Controller",
                "description": "Lets you set up engine burns.", "author": "JohnsterSpaceProgram",
                "version": "0.8.1",
                "version_check": "https://github.com/x/BurnController/raw/main/Burn Controller/swinfo.json",
                "ksp2_version": {"min": "0.1.1", "max": "*"},
                "dependencies": [{"id": "SpaceWarp", "version": {"min": "1.0.0", "max": "*"}}],
                "source": {"not": "a string"},
            }"#,
        )
        .expect("an object");
        assert_eq!(info.name.as_deref(), Some("Burn Controller"));
        assert_eq!(info.version.as_deref(), Some("0.8.1"));
        assert_eq!(
            info.ksp2_version,
            Some(VersionMinMax {
                min: Some("0.1.1".into()),
                max: Some("any".into())
            })
        );
        assert_eq!(info.source, None);
        assert_eq!(
            info.dependencies.as_ref().map(|d| d[0].id.as_deref()),
            Some(Some("SpaceWarp"))
        );
        assert_eq!(SpaceWarpInfo::parse("not json"), None);
        assert_eq!(SpaceWarpInfo::parse("[]"), None);
    }
}
