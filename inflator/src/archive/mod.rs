//! Reading downloads as CKAN does (§8.2, §8.3, §8.5): install-stanza file selection,
//! `install_size`, the `.version` file and its lenient parser, internal `.ckan` files,
//! `swinfo.json`, localizations, content sniffing and hashes.

/// What one inflation has already read of its downloads (each archive is opened once, however
/// many steps look inside it).
#[derive(Debug, Default)]
pub struct Memo {}
