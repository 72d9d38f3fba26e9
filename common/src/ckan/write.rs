//! Writing a `.ckan` byte for byte as the C# inflator does (Newtonsoft `Formatting.Indented`,
//! then `Environment.NewLine`), and the inflator's canonical property order
//! (`PropertySortTransformer`).
//!
//! The writer keeps the object's own key order; [`canonical_sort`] is the separate step the
//! inflator runs before writing.

use std::cmp::Ordering;

use chrono::{DateTime, Timelike, Utc};
use serde_json::{Number, Value};

use super::Object;

/// The text of a `.ckan` file: 4-space indentation, `"key": value`, every array element on its
/// own line, `[]` / `{}` when empty, raw non-ASCII, and a final `\n`.
pub fn to_ckan_string(json: &Object) -> String {
    let mut out = String::with_capacity(2048);
    write_object(&mut out, json, 0);
    out.push('\n');
    out
}

/// Writes any value the way Newtonsoft's indented writer does, starting at `depth` levels of
/// indentation (the opening bracket is not indented; the caller has placed it).
pub fn write_value(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_value(out, item, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(map) => write_object(out, map, depth),
    }
}

fn write_object(out: &mut String, map: &Object, depth: usize) {
    if map.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push('{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, depth + 1);
        write_string(out, key);
        out.push_str(": ");
        write_value(out, value, depth + 1);
    }
    newline(out, depth);
    out.push('}');
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("    ");
    }
}

/// Integers as they are. A float (never produced by CKAN's YAML typing) is written as .NET's
/// round-trip double with a `.0` kept on whole numbers, as Newtonsoft does.
fn write_number(out: &mut String, n: &Number) {
    if n.is_i64() || n.is_u64() {
        out.push_str(&n.to_string());
        return;
    }
    let f = n.as_f64().unwrap_or_default();
    let text = f.to_string();
    out.push_str(&text);
    if f.is_finite() && !text.contains(['.', 'e', 'E']) {
        out.push_str(".0");
    }
}

/// Newtonsoft's default escaping (`StringEscapeHandling.Default`, double quotes): `"` and `\`,
/// the short escapes `\b \t \n \f \r`, other control characters and U+0085, U+2028, U+2029 as
/// lowercase `\u00xx`; everything else raw.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escape: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0x00..=0x1f => Some(""),
            0xc2 if bytes.get(i + 1) == Some(&0x85) => Some(""),
            0xe2 if bytes.get(i + 1) == Some(&0x80)
                && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)) =>
            {
                Some("")
            }
            _ => None,
        };
        let Some(escape) = escape else {
            i += 1;
            continue;
        };
        out.push_str(&s[start..i]);
        let len = if b < 0x80 {
            1
        } else if b == 0xc2 {
            2
        } else {
            3
        };
        if escape.is_empty() {
            let c = s[i..i + len].chars().next().expect("a whole character");
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push_str(escape);
        }
        i += len;
        start = i;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Newtonsoft's default DateTime text for a UTC time: `yyyy-MM-ddTHH:mm:ss.FFFFFFFZ`, the
/// fraction in 100 ns ticks with trailing zeros (and a bare `.`) dropped.
pub fn format_release_date(at: DateTime<Utc>) -> String {
    let mut out = at.format("%Y-%m-%dT%H:%M:%S").to_string();
    let ticks = at.nanosecond() % 1_000_000_000 / 100;
    if ticks > 0 {
        let fraction = format!("{ticks:07}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// The top-level order of `PropertySortTransformer` (current CKAN); unknown keys come after,
/// then `x_` keys, then `x_generated_by`.
const PROPERTY_ORDER: [&str; 32] = [
    "spec_version",
    "comment",
    "identifier",
    "name",
    "abstract",
    "description",
    "author",
    "$kref",
    "$vref",
    "version",
    "ksp_version",
    "ksp_version_min",
    "ksp_version_max",
    "ksp_version_strict",
    "license",
    "release_status",
    "resources",
    "tags",
    "localizations",
    "provides",
    "depends",
    "recommends",
    "suggests",
    "supports",
    "conflicts",
    "install",
    "download",
    "download_size",
    "download_hash",
    "download_content_type",
    "install_size",
    "release_date",
];

const RESOURCE_ORDER: [&str; 8] = [
    "homepage",
    "spacedock",
    "curse",
    "repository",
    "bugtracker",
    "ci",
    "license",
    "manual",
];

/// `int.MaxValue / 2`, CKAN's rank for unknown keys.
const DEFAULT_RANK: u32 = 1_073_741_823;

fn rank(key: &str, order: &[&str]) -> u32 {
    if let Some(i) = order.iter().position(|k| *k == key) {
        return u32::try_from(i).expect("short list");
    }
    if key == "x_generated_by" && order.len() == PROPERTY_ORDER.len() {
        return u32::MAX;
    }
    if key.starts_with("x_") {
        DEFAULT_RANK + 1
    } else {
        DEFAULT_RANK
    }
}

fn sorted_keys<'m>(map: &'m Object, order: &[&str]) -> Vec<&'m String> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by(|a, b| {
        rank(a, order)
            .cmp(&rank(b, order))
            .then_with(|| culture_compare(a, b))
    });
    keys
}

/// `PropertySortTransformer`: sorts the top-level keys and the keys of `resources`; every other
/// nested object keeps its order.
pub fn canonical_sort(json: &Object) -> Object {
    let mut sorted = Object::with_capacity(json.len());
    for key in sorted_keys(json, &PROPERTY_ORDER) {
        let value = match &json[key.as_str()] {
            Value::Object(resources) if key == "resources" => {
                let mut res = Object::with_capacity(resources.len());
                for k in sorted_keys(resources, &RESOURCE_ORDER) {
                    res.insert(k.clone(), resources[k.as_str()].clone());
                }
                Value::Object(res)
            }
            other => other.clone(),
        };
        sorted.insert(key.clone(), value);
    }
    sorted
}

/// Whether the object's top-level and `resources` keys are already in canonical order.
pub fn is_canonical_order(json: &Object) -> bool {
    let in_order =
        |map: &Object, order: &[&str]| map.keys().zip(sorted_keys(map, order)).all(|(a, b)| a == b);
    in_order(json, &PROPERTY_ORDER)
        && match json.get("resources") {
            Some(Value::Object(res)) => in_order(res, &RESOURCE_ORDER),
            _ => true,
        }
}

/// The inflator's output text: [`canonical_sort`] then [`to_ckan_string`].
pub fn to_canonical_ckan_string(json: &Object) -> String {
    to_ckan_string(&canonical_sort(json))
}

/// The tie-break of `ThenBy(i => i)`: .NET's culture-sensitive compare, which on Linux is ICU's
/// root collation. This approximates it for the ASCII keys that occur: punctuation before
/// digits before letters, letters case-insensitive first, then lowercase before uppercase.
/// Non-ASCII characters sort after ASCII ones, by code point.
pub fn culture_compare(a: &str, b: &str) -> Ordering {
    let primary = |s: &str| s.chars().map(primary_weight).collect::<Vec<u32>>();
    primary(a)
        .cmp(&primary(b))
        .then_with(|| {
            let tertiary = |s: &str| {
                s.chars()
                    .map(|c| u8::from(c.is_ascii_uppercase()))
                    .collect::<Vec<u8>>()
            };
            tertiary(a).cmp(&tertiary(b))
        })
        .then_with(|| a.cmp(b))
}

/// ICU root order of ASCII punctuation and symbols, then digits, then letters.
fn primary_weight(c: char) -> u32 {
    const PUNCT: &str = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";
    if let Some(i) = PUNCT.find(c) {
        return u32::try_from(i).expect("short list");
    }
    match c {
        '0'..='9' => 100 + (u32::from(c) - u32::from('0')),
        'a'..='z' => 200 + (u32::from(c) - u32::from('a')),
        'A'..='Z' => 200 + (u32::from(c) - u32::from('A')),
        _ => 1000 + u32::from(c),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::ckan::parse_ckan;

    fn obj(v: Value) -> Object {
        match v {
            Value::Object(o) => o,
            _ => panic!("test input must be an object"),
        }
    }

    #[test]
    fn indented_like_newtonsoft() {
        let o = obj(json!({
            "spec_version": 1, "name": "Ünïcode ✓", "tags": [], "depends": [{"name": "A"}],
            "empty": {}, "nested": [[1, 2], []], "b": true, "n": null
        }));
        let expected = r#"{
    "spec_version": 1,
    "name": "Ünïcode ✓",
    "tags": [],
    "depends": [
        {
            "name": "A"
        }
    ],
    "empty": {},
    "nested": [
        [
            1,
            2
        ],
        []
    ],
    "b": true,
    "n": null
}
"#;
        assert_eq!(to_ckan_string(&o), expected);
    }

    #[test]
    fn strings_are_escaped_like_newtonsoft() {
        let mut out = String::new();
        write_string(
            &mut out,
            "a\"b\\c\n\t\r\u{8}\u{c}\u{1}\u{1b}\u{7f}/'<\u{85}\u{2028}\u{2029}é",
        );
        assert_eq!(
            out,
            "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001b\u{7f}/'<\\u0085\\u2028\\u2029é\""
        );
    }

    #[test]
    fn release_dates_trim_ticks() {
        let at = |s: i64, ns: u32| Utc.timestamp_opt(s, ns).single().expect("valid");
        assert_eq!(
            format_release_date(at(1_781_786_674, 0)),
            "2026-06-18T12:44:34Z"
        );
        assert_eq!(
            format_release_date(at(1_755_612_281, 155_123_000)),
            "2025-08-19T14:04:41.155123Z"
        );
        assert_eq!(
            format_release_date(at(1_780_822_507, 823_000_000)),
            "2026-06-07T08:55:07.823Z"
        );
        assert_eq!(format_release_date(at(0, 99)), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_release_date(at(0, 100)),
            "1970-01-01T00:00:00.0000001Z"
        );
    }

    #[test]
    fn round_trip_keeps_bytes() {
        let text = "{\n    \"identifier\": \"X\",\n    \"download_size\": 3890480457,\n    \"author\": [\n        \"a\",\n        \"b\"\n    ]\n}\n";
        assert_eq!(to_ckan_string(&parse_ckan(text).expect("parses")), text);
    }

    #[test]
    fn canonical_sort_follows_the_inflator() {
        let o = obj(json!({
            "x_generated_by": "netkan", "download": "u", "x_screenshot": "s", "zeta": 1,
            "install": [{"install_to": "GameData", "find": "X"}], "version": "1", "identifier": "X",
            "spec_version": 1, "kind": "metapackage", "license": "MIT", "abstract": "a", "name": "n",
            "author": "a", "resources": {
                "x_screenshot": "s", "discussions": "d", "repository": "r", "homepage": "h",
                "spacedock": "sd", "bugtracker": "b", "metanetkan": "m"
            },
            "release_date": "2026", "depends": [], "tags": [], "ksp_version": "1.12",
            "replaced_by": {"name": "Y"}
        }));
        let sorted = canonical_sort(&o);
        let keys: Vec<&str> = sorted.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "spec_version",
                "identifier",
                "name",
                "abstract",
                "author",
                "version",
                "ksp_version",
                "license",
                "resources",
                "tags",
                "depends",
                "install",
                "download",
                "release_date",
                "kind",
                "replaced_by",
                "zeta",
                "x_screenshot",
                "x_generated_by"
            ]
        );
        let res: Vec<&str> = sorted["resources"]
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            res,
            [
                "homepage",
                "spacedock",
                "repository",
                "bugtracker",
                "discussions",
                "metanetkan",
                "x_screenshot"
            ]
        );
        // Nested stanzas keep their own order.
        assert_eq!(
            sorted["install"][0]
                .as_object()
                .expect("object")
                .keys()
                .collect::<Vec<_>>(),
            ["install_to", "find"]
        );
        assert!(is_canonical_order(&sorted));
        assert!(!is_canonical_order(&o));
    }

    #[test]
    fn culture_order_of_unknown_keys() {
        assert_eq!(culture_compare("a", "B"), Ordering::Less);
        assert_eq!(culture_compare("b", "A"), Ordering::Greater);
        assert_eq!(culture_compare("a", "A"), Ordering::Less);
        assert_eq!(culture_compare("x_a_b", "x_ab"), Ordering::Less);
        assert_eq!(culture_compare("a1", "aa"), Ordering::Less);
    }
}
