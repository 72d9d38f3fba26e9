//! The fuzz entry point of the hand-written readers of files inside downloads: `.version`
//! (with its lenient JSON dialect and .NET's text decoding) and `swinfo.json`. Shared by the
//! cargo-fuzz target `fuzz/fuzz_targets/version_file.rs` and the stable smoke test
//! `inflator/tests/version_fuzz_smoke.rs`, so both run the same code.

use super::avc::{AvcVersion, decode_text};
use super::lenient_json::{self, JValue, dotnet_double};
use super::swinfo::SpaceWarpInfo;

/// Decodes `data` as a file in a download is decoded, parses it as a `.version` and as a
/// `swinfo.json`, and reads every field. Must never panic, whatever the bytes.
pub fn version_file(data: &[u8]) {
    let text = decode_text(data);
    if let Ok(Some(avc)) = AvcVersion::parse(&text) {
        let _ = avc.version.map(|v| v.to_string());
        for game in [avc.ksp_version, avc.ksp_version_min, avc.ksp_version_max]
            .into_iter()
            .flatten()
        {
            let _ = game.to_string();
        }
    }
    let _ = SpaceWarpInfo::parse(&text);
    if let Ok(lenient_json::Parsed {
        value: Some(value), ..
    }) = lenient_json::parse(&text)
    {
        walk(&value);
    }
}

/// Reads every value the way the consumers do (texts, numbers as .NET prints them).
fn walk(value: &JValue) {
    let _ = value.type_name();
    let _ = value.scalar_text();
    match value {
        JValue::Float(f) => {
            let _ = dotnet_double(*f);
        }
        JValue::Array(items) => items.iter().for_each(walk),
        JValue::Object(props) => {
            for (name, v) in props {
                let _ = value.get_exact(name);
                walk(v);
            }
        }
        _ => {}
    }
}
