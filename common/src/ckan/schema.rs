//! Validation against CKAN's own JSON schemas (draft-04), embedded from `common/schemas/`
//! (copies of `CKAN.schema` and `NetKAN.schema` from KSP-CKAN/CKAN). Both are compiled once.

use std::fmt;
use std::sync::OnceLock;

use jsonschema::{Registry, Validator};
use serde_json::Value;

use super::{CkanError, pointer_to_path};

const CKAN_SCHEMA: &str = include_str!("../../schemas/CKAN.schema");
const NETKAN_SCHEMA: &str = include_str!("../../schemas/NetKAN.schema");
/// NetKAN.schema refers to CKAN.schema by this address; it is served from the embedded copy,
/// never fetched.
const CKAN_SCHEMA_URI: &str = "https://raw.githubusercontent.com/KSP-CKAN/CKAN/master/CKAN.schema";
/// Messages longer than this are cut: a failed root `oneOf` quotes the whole document.
const MAX_MESSAGE: usize = 200;

/// Which schema a document is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// `CKAN.schema`, for `.ckan` files.
    Ckan,
    /// `NetKAN.schema`, for `.netkan` files and frozen netkans.
    Netkan,
}

/// One schema violation: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// `$.resources.homepage` style.
    pub path: String,
    pub message: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.path, self.message)
    }
}

/// The `uri` format as CKAN's validator (NJsonSchema) checks it: `Uri.TryCreate(value,
/// UriKind.Absolute)`, which escapes what RFC 3986 forbids instead of refusing it. The inflator
/// ran that check on every file it wrote, so real URLs such as
/// `https://spacedock.info/mod/2521/[WMS]%20WorldWar%20Maritime%20Ships` (153 files in
/// CKAN-meta) are valid; a strict RFC 3986 check would call them invalid.
///
/// Approximated as: a scheme, `:`, and for the hierarchical web schemes `//` and a host without
/// white space; otherwise any non-empty rest. Surrounding white space is trimmed as .NET does.
pub fn dotnet_absolute_uri(value: &str) -> bool {
    let value = value.trim();
    let Some((scheme, rest)) = value.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || rest.is_empty() || value.chars().any(char::is_control) {
        return false;
    }
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" | "ftp" | "ws" | "wss" => {
            let Some(after) = rest.strip_prefix("//") else {
                return false;
            };
            let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
            let host = authority.rsplit('@').next().unwrap_or_default();
            let host = if host.starts_with('[') {
                // An IPv6 literal; its port is not checked.
                host.split_once(']').map_or("", |(h, _)| h)
            } else if let Some((h, port)) = host.rsplit_once(':') {
                if !port.bytes().all(|b| b.is_ascii_digit()) {
                    return false;
                }
                h
            } else {
                host
            };
            !host.is_empty()
                && !host
                    .chars()
                    .any(|c| c.is_whitespace() || "<>\"{}|\\^`".contains(c))
        }
        _ => true,
    }
}

/// The two compiled schemas.
pub struct Schemas {
    ckan: Validator,
    netkan: Validator,
}

impl fmt::Debug for Schemas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Schemas { CKAN.schema, NetKAN.schema }")
    }
}

impl Schemas {
    /// Compiles both schemas.
    pub fn new() -> Result<Schemas, CkanError> {
        let invalid = |what: &str, e: &dyn fmt::Display| {
            CkanError::field("$", format!("embedded {what} does not compile: {e}"))
        };
        let ckan: Value =
            serde_json::from_str(CKAN_SCHEMA).map_err(|e| invalid("CKAN.schema", &e))?;
        let netkan: Value =
            serde_json::from_str(NETKAN_SCHEMA).map_err(|e| invalid("NetKAN.schema", &e))?;
        let ckan_validator = jsonschema::draft4::options()
            .offline()
            .with_format("uri", dotnet_absolute_uri)
            .build(&ckan)
            .map_err(|e| invalid("CKAN.schema", &e))?;
        let registry = Registry::new()
            .add(CKAN_SCHEMA_URI, ckan)
            .and_then(|r| r.prepare())
            .map_err(|e| invalid("CKAN.schema", &e))?;
        let netkan_validator = jsonschema::draft4::options()
            .offline()
            .with_format("uri", dotnet_absolute_uri)
            .with_registry(&registry)
            .build(&netkan)
            .map_err(|e| invalid("NetKAN.schema", &e))?;
        Ok(Schemas {
            ckan: ckan_validator,
            netkan: netkan_validator,
        })
    }

    /// The process-wide compiled schemas.
    pub fn global() -> &'static Schemas {
        static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
        SCHEMAS.get_or_init(|| {
            Schemas::new().expect("the embedded schemas compile (checked by a unit test)")
        })
    }

    fn validator(&self, kind: SchemaKind) -> &Validator {
        match kind {
            SchemaKind::Ckan => &self.ckan,
            SchemaKind::Netkan => &self.netkan,
        }
    }

    pub fn is_valid(&self, kind: SchemaKind, document: &Value) -> bool {
        self.validator(kind).is_valid(document)
    }

    /// Every violation, in the validator's order.
    pub fn validate(&self, kind: SchemaKind, document: &Value) -> Vec<SchemaError> {
        let validator = self.validator(kind);
        if validator.is_valid(document) {
            return Vec::new();
        }
        validator
            .iter_errors(document)
            .map(|e| {
                let mut message = e.to_string();
                // "{...whole document...} is not valid under any of the schemas listed in the
                // 'oneOf' keyword": the path already says which value, so drop the quote.
                if message.starts_with(['{', '['])
                    && message.len() > MAX_MESSAGE
                    && let Some(at) = message.rfind(" is not ")
                {
                    message = format!("the value{}", &message[at..]);
                }
                if message.len() > MAX_MESSAGE {
                    let mut cut = MAX_MESSAGE;
                    while !message.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    message.truncate(cut);
                    message.push('…');
                }
                SchemaError {
                    path: pointer_to_path(e.instance_path().as_str()),
                    message,
                }
            })
            .collect()
    }
}

/// The licenses `CKAN.schema` knows (`definitions.license.enum`), in the schema's order: what
/// CKAN's `License` type accepts.
pub fn known_licenses() -> &'static [String] {
    static LICENSES: OnceLock<Vec<String>> = OnceLock::new();
    LICENSES.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(CKAN_SCHEMA).expect("the embedded CKAN.schema is JSON");
        schema["definitions"]["license"]["enum"]
            .as_array()
            .expect("CKAN.schema lists the licenses")
            .iter()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn uris_are_checked_as_dotnet_checks_them() {
        for ok in [
            "https://spacedock.info/mod/2521/[WMS]%20WorldWar%20Maritime%20Ships",
            "https://spacedock.info/mod/2796/SPUR%20:%20A%20\"Stock\"",
            "https://example.com:8080/a b",
            "mailto:someone@example.com",
            " https://example.com ",
        ] {
            assert!(dotnet_absolute_uri(ok), "{ok}");
        }
        for bad in [
            "",
            "example.com",
            "/relative/path",
            "https:",
            "https://",
            "https:///x",
            "1http://x",
            "https://ex ample.com/",
            "https://x:port/",
        ] {
            assert!(!dotnet_absolute_uri(bad), "{bad}");
        }
    }

    #[test]
    fn the_license_list_is_the_schemas() {
        let l = known_licenses();
        assert_eq!(l.len(), 92);
        assert!(l.iter().any(|x| x == "MIT") && l.iter().any(|x| x == "restricted"));
        assert!(!l.iter().any(|x| x == "BSD-3-Clause"));
    }

    #[test]
    fn embedded_schemas_compile() {
        Schemas::new().expect("compiles");
    }

    #[test]
    fn a_valid_ckan_passes_and_an_invalid_one_names_the_path() {
        let schemas = Schemas::global();
        let good = json!({
            "spec_version": 1, "identifier": "AwesomeMod", "name": "Awesome", "abstract": "a",
            "author": "me", "license": "MIT", "version": "1.0",
            "download": "https://example.com/a.zip",
            "resources": {"homepage": "https://example.com"}
        });
        assert!(schemas.is_valid(SchemaKind::Ckan, &good));
        assert!(schemas.validate(SchemaKind::Ckan, &good).is_empty());
        let mut bad = good.clone();
        bad["resources"]["homepage"] = json!(5);
        bad["license"] = json!("Nope");
        let errors = schemas.validate(SchemaKind::Ckan, &bad);
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"$.resources.homepage"), "{errors:?}");
        assert!(paths.contains(&"$.license"), "{errors:?}");
    }

    #[test]
    fn netkan_schema_resolves_ckan_refs_offline() {
        let schemas = Schemas::global();
        let good = json!({"identifier": "X1", "$kref": "#/ckan/spacedock/1", "license": "MIT"});
        assert!(schemas.is_valid(SchemaKind::Netkan, &good));
        let bad = json!({"identifier": "X1", "$kref": "#/ckan/spacedock/abc", "license": "Nope"});
        let errors = schemas.validate(SchemaKind::Netkan, &bad);
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"$.license"), "{errors:?}");
        assert!(
            paths.contains(&"$[\"$kref\"]") || paths.contains(&"$.$kref"),
            "{errors:?}"
        );
    }
}
