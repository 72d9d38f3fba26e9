//! The fuzz entry point: runs arbitrary bytes through everything that reads untrusted
//! metadata. Shared by the cargo-fuzz target `fuzz/fuzz_targets/ckan_parse.rs` and the stable
//! test `common/tests/ckan_fuzz_smoke.rs`, so both exercise the same code.

use serde_json::Value;

use super::{
    GameVersion, Kref, Module, ModuleVersion, SchemaKind, Schemas, SpecVersion, Typing, Vref,
    game_version, mix_documents, names, parse_documents, parse_netkan, spec_version, write,
};

/// Parses `data` as a `.netkan` and as a `.ckan`, then drives every reader over the result.
/// Must never panic. Also checks the one property that holds for any input: a written `.ckan`
/// that reads back gives the same object.
pub fn parse_and_use(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = ModuleVersion::parse(text).map(|v| v.cmp(&v.increment_epoch()));
    let _ = GameVersion::parse(text);
    let _ = Kref::parse(text);
    let _ = Vref::parse(text);
    let _ = SpecVersion::parse(text);
    let _ = names::sanitize_archive_name(text);
    let _ = names::cache_prefix(text);

    if let Ok(docs) = parse_netkan(text) {
        for doc in mix_documents(&docs) {
            let module = Module::new(&doc);
            let _ = module.identifier();
            let _ = module.kref();
            let _ = module.vref();
            let _ = module.netkan_options();
            let _ = module.game_versions();
        }
    }
    let Ok(docs) = parse_documents(text, Typing::Ckan) else {
        return;
    };
    let reference = ModuleVersion::parse("1.0").expect("a constant version");
    for mut doc in docs {
        let module = Module::new(&doc);
        let _ = module.identifier();
        let _ = module.spec_version();
        let _ = module.licenses();
        let _ = module.downloads();
        let _ = module.authors();
        let _ = module.kind();
        let _ = module.release_status();
        let _ = module.resource("homepage");
        let _ = module.download_hash();
        let _ = module.download_size();
        let _ = names::cache_file_name(&module);
        let _ = names::can_mirror(&module);
        if let Ok(Some(version)) = module.version() {
            let _ = version.cmp(&reference);
        }
        let _ = spec_version::minimum_spec_version(&doc);
        let _ = write::is_canonical_order(&doc);
        let canonical = write::to_canonical_ckan_string(&doc);
        let written = write::to_ckan_string(&doc);
        if let Ok(back) = super::parse_ckan(&written) {
            assert_eq!(back, doc, "a written .ckan reads back unchanged");
        }
        let _ = super::parse_ckan(&canonical);
        game_version::set_json_compatibility(&mut doc, GameVersion::parse("1.12.5"), None, None);
        let value = Value::Object(doc);
        let _ = Schemas::global().validate(SchemaKind::Ckan, &value);
        let _ = Schemas::global().validate(SchemaKind::Netkan, &value);
    }
}
