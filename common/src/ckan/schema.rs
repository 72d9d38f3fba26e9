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
            .build(&ckan)
            .map_err(|e| invalid("CKAN.schema", &e))?;
        let registry = Registry::new()
            .add(CKAN_SCHEMA_URI, ckan)
            .and_then(|r| r.prepare())
            .map_err(|e| invalid("CKAN.schema", &e))?;
        let netkan_validator = jsonschema::draft4::options()
            .offline()
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
        assert!(paths.contains(&"$[\"$kref\"]") || paths.contains(&"$.$kref"), "{errors:?}");
    }
}
