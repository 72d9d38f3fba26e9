//! JSON text as Python's `json.dumps` writes it with its defaults: `", "` and `": "` as
//! separators and every character outside printable ASCII escaped (`ensure_ascii`).
//!
//! The reference wrote some of its files and bodies this way (the SpaceDock add request:
//! `json.dumps({**form, "all_authors": [...]})`; `download_counts.json`:
//! `json.dumps(counts, sort_keys=True, indent=4)`); writing the same bytes keeps them
//! identical to what they were, for whoever compares or hashes them. serde_json has no
//! `ensure_ascii` mode and other separators, hence this small writer.

use std::fmt::Write;

use serde_json::Value;

/// `json.dumps(value)`.
pub fn dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k);
                out.push_str(": ");
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// A string as Python's `json.dumps` writes it (`ensure_ascii`: `"\u00e9"`, surrogate pairs).
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_like_python() {
        // Python: json.dumps({"name": "Dogé \"coin\"", "n": [1, None, True], "e": {}, "x": "🚀\n"})
        let v = serde_json::json!({
            "name": "Dogé \"coin\"",
            "n": [1, null, true],
            "e": {},
            "x": "🚀\n\u{7f}"
        });
        assert_eq!(
            dumps(&v),
            r#"{"name": "Dog\u00e9 \"coin\"", "n": [1, null, true], "e": {}, "x": "\ud83d\ude80\n\u007f"}"#
        );
        assert_eq!(string("é\"\u{1F600}"), "\"\\u00e9\\\"\\ud83d\\ude00\"");
    }
}
