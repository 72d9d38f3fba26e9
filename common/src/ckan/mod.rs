//! The CKAN metadata core: reading `.netkan` / `.ckan` text exactly as CKAN does, the typed views
//! the inflator works with, CKAN's version orderings, the byte-exact `.ckan` writer, schema
//! validation and the names derived from a module.
//!
//! # Map
//! - [`parse`]: YAML (and JSON, which CKAN reads as YAML) → ordered JSON objects, with CKAN's own
//!   scalar typing (`YamlExtensions.ToJValue`).
//! - [`version`]: [`ModuleVersion`], CKAN's mod version ordering (`ModuleVersion.CompareTo`).
//! - [`game_version`]: [`GameVersion`] and the compatibility merge `SetJsonCompatibility`.
//! - [`spec_version`]: [`SpecVersion`] and the minimum spec version of a module
//!   (`SpecVersionAnalyzer`).
//! - [`kref`]: `$kref` / `$vref` parsing, every kind with its id pattern.
//! - [`module`]: typed views over a parsed object ([`Module`]) and the `x_netkan_*` options.
//! - [`write`]: the byte-exact writer (Newtonsoft `Formatting.Indented`) and the inflator's
//!   canonical property sort (`PropertySortTransformer`).
//! - [`schema`]: validation against the embedded `CKAN.schema` / `NetKAN.schema`.
//! - [`names`]: `.ckan` file names, download-cache names and archive.org names.
//! - [`meta_tree`]: highest version and highest prerelease per identifier in a CKAN-meta tree.
//! - [`fuzzing`]: the entry point shared by the cargo-fuzz target and the stable smoke test.
//!
//! Architecture invariant: nothing here does network or git I/O; `meta_tree` only reads files.
//! The value model is `serde_json` with `preserve_order`, so an object keeps its file's key order
//! and the inflator can edit it in place before writing it back.

pub mod fuzzing;
pub mod game_version;
pub mod kref;
pub mod meta_tree;
pub mod module;
pub mod names;
pub mod parse;
pub mod schema;
pub mod spec_version;
pub mod version;
pub mod write;

use std::path::PathBuf;

pub use game_version::GameVersion;
pub use kref::{Kref, RemoteRef, Vref};
pub use module::{Module, NetkanOptions, mix_documents};
pub use parse::{Object, Typing, parse_ckan, parse_documents, parse_netkan};
pub use schema::{SchemaError, SchemaKind, Schemas};
pub use spec_version::SpecVersion;
pub use version::{AutoEpoch, ModuleVersion, auto_epoch};

/// Every failure of the CKAN metadata core. Messages are lowercase and name the JSON path
/// (`$.resources.homepage`) where one applies; [`CkanError::InFile`] adds the file.
#[derive(Debug, thiserror::Error)]
pub enum CkanError {
    #[error("cannot read file: {0}")]
    Read(#[source] std::io::Error),
    #[error("yaml syntax error at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("no mapping document found")]
    NoDocument,
    #[error("a .ckan file holds one document, found {0}")]
    TooManyDocuments(usize),
    #[error("duplicate key at {path}")]
    DuplicateKey { path: String },
    #[error("mapping key at {path} is not a scalar")]
    NonScalarKey { path: String },
    #[error("alias at line {line}, column {column} names an unknown anchor")]
    UnknownAlias { line: usize, column: usize },
    #[error("nesting deeper than {limit} levels at {path}")]
    TooDeep { path: String, limit: usize },
    #[error("document expands to more than {limit} values (alias bomb?)")]
    TooLarge { limit: usize },
    #[error("at {path}: {message}")]
    Field { path: String, message: String },
    #[error("invalid version `{version}`: {reason}")]
    Version { version: String, reason: String },
    #[error("invalid $kref: {0}")]
    Kref(String),
    #[error("invalid $vref: {0}")]
    Vref(String),
    #[error("{path}: {source}", path = .path.display())]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<CkanError>,
    },
}

impl CkanError {
    /// Attaches the file this error came from.
    pub fn in_file(self, path: impl Into<PathBuf>) -> CkanError {
        CkanError::InFile {
            path: path.into(),
            source: Box::new(self),
        }
    }

    pub(crate) fn field(path: impl Into<String>, message: impl Into<String>) -> CkanError {
        CkanError::Field {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Renders a path of object keys and array indexes as `$.a.b[0]`, the form every error uses.
pub fn json_path<'a>(segments: impl IntoIterator<Item = PathSegment<'a>>) -> String {
    let mut out = String::from("$");
    for seg in segments {
        match seg {
            PathSegment::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
            PathSegment::Key(k) => {
                let plain = !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$');
                if plain {
                    out.push('.');
                    out.push_str(k);
                } else {
                    out.push_str("[\"");
                    for c in k.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push_str("\"]");
                }
            }
        }
    }
    out
}

/// One step of a [`json_path`].
#[derive(Debug, Clone, Copy)]
pub enum PathSegment<'a> {
    Key(&'a str),
    Index(usize),
}

/// Converts a JSON pointer (`/install/0/find`, as the schema validator reports) to `$.install[0].find`.
pub fn pointer_to_path(pointer: &str) -> String {
    if pointer.is_empty() {
        return "$".to_owned();
    }
    let owned: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    json_path(owned.iter().map(|s| match s.parse::<usize>() {
        Ok(i) if !s.starts_with('+') && (s == "0" || !s.starts_with('0')) => PathSegment::Index(i),
        _ => PathSegment::Key(s),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_read_like_jsonpath() {
        assert_eq!(
            json_path([
                PathSegment::Key("install"),
                PathSegment::Index(2),
                PathSegment::Key("find")
            ]),
            "$.install[2].find"
        );
        assert_eq!(json_path([PathSegment::Key("a b")]), "$[\"a b\"]");
        assert_eq!(
            pointer_to_path("/resources/spacedock"),
            "$.resources.spacedock"
        );
        assert_eq!(pointer_to_path("/depends/0/name"), "$.depends[0].name");
        assert_eq!(pointer_to_path(""), "$");
    }
}
