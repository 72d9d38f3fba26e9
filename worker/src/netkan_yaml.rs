//! Writing `.netkan` documents as YAML in the layout NetKAN-Infra's ruamel writer uses
//! (`indent(mapping=2, sequence=4, offset=2)`): nested mappings indented by two, sequence
//! dashes two in from their key and their content four in, documents after the first
//! introduced by `---`.
//!
//! Strings are plain when YAML (and CKAN's reader, `common::ckan::parse`) would read them
//! back as the same string, and single-quoted otherwise (double-quoted if they hold line
//! breaks or control characters), so that `parse_netkan` of the output gives back the same
//! objects. Only what netkan documents hold is supported: objects, arrays, strings, bools,
//! integers and null.

use serde_json::{Map, Value};

/// The YAML text of several documents, each ending with a newline.
pub fn documents(docs: &[Map<String, Value>]) -> String {
    let mut out = String::new();
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&document(doc));
    }
    out
}

/// The YAML text of one document, ending with a newline (`{}` for an empty one).
pub fn document(doc: &Map<String, Value>) -> String {
    if doc.is_empty() {
        return "{}\n".to_owned();
    }
    let mut out = String::new();
    write_map(&mut out, doc, 0, false);
    out
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Writes `map`'s entries at `indent`; when `inline_first`, the first key follows text
/// already on the line (a sequence item's `- `).
fn write_map(out: &mut String, map: &Map<String, Value>, indent: usize, inline_first: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline_first {
            pad(out, indent);
        }
        out.push_str(&scalar(key));
        out.push(':');
        write_value_after_key(out, value, indent);
    }
}

fn write_value_after_key(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, indent + 2, false);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}

/// Writes a sequence with its dashes at `dash`, item content at `dash + 2`.
fn write_seq(out: &mut String, items: &[Value], dash: usize) {
    for item in items {
        pad(out, dash);
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => write_map(out, m, dash + 2, true),
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, dash + 4);
            }
            other => {
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
    }
}

fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// Whether a plain scalar with this text would be read as something other than this string
/// (a bool, a null, a number, in YAML 1.1 or 1.2 or by CKAN's integer rule).
fn looks_typed(s: &str) -> bool {
    const WORDS: [&str; 14] = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", "-.inf", "+.inf",
        ".nan",
    ];
    let lower = s.to_ascii_lowercase();
    if WORDS.contains(&lower.as_str()) {
        return true;
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.starts_with("0x") || body.starts_with("0o") || body.starts_with("0b") {
        return true;
    }
    // Digits with at most a dot and an exponent, `_` allowed (YAML 1.1): a number.
    let mut digits = 0;
    let mut rest = body;
    let mut take_digits = |r: &mut &str| {
        let n = r
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'_')
            .count();
        digits += r[..n].bytes().filter(u8::is_ascii_digit).count();
        *r = &r[n..];
    };
    take_digits(&mut rest);
    if let Some(r) = rest.strip_prefix('.') {
        rest = r;
        take_digits(&mut rest);
    }
    if let Some(r) = rest.strip_prefix(['e', 'E']) {
        rest = r.strip_prefix(['+', '-']).unwrap_or(r);
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &rest[n..];
    }
    // Sexagesimal YAML 1.1 integers (`1:30`) are rare enough to quote whenever a colon
    // follows digits; the general `:` rule below covers them.
    rest.is_empty() && digits > 0
}

/// A string as a YAML scalar: plain when safe, else quoted.
pub fn scalar(s: &str) -> String {
    let needs_double = s
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}'));
    if needs_double {
        return double_quoted(s);
    }
    if can_be_plain(s) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn can_be_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if looks_typed(s) {
        return false;
    }
    if first.is_whitespace() || s.ends_with(char::is_whitespace) {
        return false;
    }
    // Indicators that cannot start a plain scalar (`-`, `?`, `:` only when followed by a
    // space, but quoting them always is simpler and still reads back the same).
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if s == "---" || s == "..." || s.starts_with("--- ") || s.starts_with("... ") {
        return false;
    }
    true
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use netkan_common::ckan::parse_netkan;
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(o) => o,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn the_layout_is_ruamels_with_mapping_2_sequence_4_offset_2() {
        let docs = [
            obj(json!({
                "identifier": "NotAnotherFlag",
                "$kref": "#/ckan/github/pjf/DogeCoinFlag",
                "x_netkan_github": {"use_source_archive": true},
                "x_netkan_version_edit": "^v?(?<version>.+)$",
            })),
            obj(json!({
                "identifier": "NotAnotherFlag",
                "$kref": "#/ckan/spacedock/777",
                "tags": ["parts", "config"],
                "depends": [{"name": "ModuleManager"}],
                "install": [{"find": "Foo", "install_to": "GameData", "filter": ["__MACOSX", "Thumbs.db"]}],
                "x_via": "Automated SpaceDock CKAN submission",
            })),
        ];
        assert_eq!(
            documents(&docs),
            "identifier: NotAnotherFlag\n\
             $kref: '#/ckan/github/pjf/DogeCoinFlag'\n\
             x_netkan_github:\n  use_source_archive: true\n\
             x_netkan_version_edit: ^v?(?<version>.+)$\n\
             ---\n\
             identifier: NotAnotherFlag\n\
             $kref: '#/ckan/spacedock/777'\n\
             tags:\n  - parts\n  - config\n\
             depends:\n  - name: ModuleManager\n\
             install:\n  - find: Foo\n    install_to: GameData\n    filter:\n      - __MACOSX\n      - Thumbs.db\n\
             x_via: Automated SpaceDock CKAN submission\n"
        );
        let back = parse_netkan(&documents(&docs)).unwrap();
        assert_eq!(back, docs);
    }

    #[test]
    fn strings_that_would_read_back_differently_are_quoted() {
        let tricky = [
            "",
            " lead",
            "trail ",
            "yes",
            "No",
            "~",
            "123",
            "-5",
            "1.5",
            "1e3",
            "0x1F",
            "#hash",
            "a: b",
            "a #b",
            "end:",
            "- item",
            "*alias",
            "&anchor",
            "!tag",
            "'q'",
            "\"d\"",
            "line\nbreak",
            "tab\there",
            "---",
            "@at",
            "`tick",
            "%pct",
            "{x}",
            "[x]",
            "it's",
            "1.2.3",
            "v1.0",
            "GameData/Foo",
            "ÜberMod",
            "\u{7f}",
        ];
        let mut doc = Map::new();
        for (i, s) in tricky.iter().enumerate() {
            doc.insert(format!("k{i}"), Value::String((*s).to_owned()));
        }
        doc.insert("n".into(), json!(5));
        doc.insert("b".into(), json!(false));
        doc.insert("empty_list".into(), json!([]));
        doc.insert("empty_map".into(), json!({}));
        let text = document(&doc);
        // (CKAN reads `true`, `false` and `null` as such even when quoted, so those strings
        // cannot round-trip through any YAML; they are quoted for other readers.)
        assert!(document(&obj(json!({"s": "true"}))).contains("s: 'true'"));
        let back = parse_netkan(&text).unwrap();
        assert_eq!(back, [doc], "{text}");
        assert!(
            text.contains(": 1.2.3\n") && text.contains(": GameData/Foo\n"),
            "{text}"
        );
        assert_eq!(document(&Map::new()), "{}\n");
    }
}
