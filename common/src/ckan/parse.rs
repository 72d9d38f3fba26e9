//! YAML text (JSON included: CKAN reads `.netkan` JSON as YAML) → ordered JSON objects, with
//! CKAN's own scalar typing from `Core/Extensions/YamlExtensions.cs`.
//!
//! CKAN does not use standard YAML typing. `ToJValue` looks at the scalar's text and style only:
//!
//! ```text
//! case "null":  return JValue.CreateNull();
//! case "true":  return new JValue(true);
//! case "false": return new JValue(false);
//! default:      return yaml.Style == ScalarStyle.Plain && int.TryParse(yaml.Value, out int intVal)
//!                   ? new JValue(intVal) : new JValue(yaml.Value);
//! ```
//!
//! So a quoted `"true"` is a bool, `1.12` and `~` stay strings, and an empty value (`key:`) is the
//! empty string, not null. Only mapping documents are kept (`RootNode as YamlMappingNode`), and
//! `JObject.Add` refuses a duplicate key.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

use super::{CkanError, PathSegment, json_path};

/// A parsed document: an object that keeps its file's key order.
pub type Object = Map<String, Value>;

/// Deeper nesting than this is refused: real files nest 6 levels at most, and every consumer of
/// the value (drop, writer, schema validator) recurses.
const MAX_DEPTH: usize = 128;
/// Values an alias may expand to, in total, before the document is refused (billion laughs).
const MAX_ALIAS_NODES: usize = 1_000_000;

/// Which integers a plain scalar may become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typing {
    /// Exactly `YamlExtensions.ToJValue`: a plain scalar that fits a 32-bit int becomes an
    /// integer. Used for `.netkan` files and anything the inflator reads through YAML.
    Netkan,
    /// As [`Typing::Netkan`], but plain integers up to 64 bits stay integers. `.ckan` files are
    /// written by Newtonsoft from `long` sizes (`download_size` > 2 GiB occurs 109 times in
    /// CKAN-meta) and CKAN's client reads them as JSON, so the 32-bit rule would turn real sizes
    /// into strings.
    Ckan,
}

/// Parses every mapping document of a file, in order. Documents whose root is not a mapping are
/// skipped, as CKAN skips them.
pub fn parse_documents(text: &str, typing: Typing) -> Result<Vec<Object>, CkanError> {
    // File.ReadAllText drops a UTF-8 byte order mark before YamlDotNet sees the text.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder {
        typing,
        stack: Vec::new(),
        anchors: HashMap::new(),
        docs: Vec::new(),
        alias_nodes: 0,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| CkanError::Syntax {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
        builder.event(event, span)?;
    }
    Ok(builder.docs)
}

/// Parses a `.netkan` (or `.frozen` netkan): at least one mapping document, CKAN typing.
pub fn parse_netkan(text: &str) -> Result<Vec<Object>, CkanError> {
    let docs = parse_documents(text, Typing::Netkan)?;
    if docs.is_empty() {
        return Err(CkanError::NoDocument);
    }
    Ok(docs)
}

/// Parses a `.ckan`: exactly one mapping document, 64-bit integers (see [`Typing::Ckan`]).
pub fn parse_ckan(text: &str) -> Result<Object, CkanError> {
    let mut docs = parse_documents(text, Typing::Ckan)?;
    match docs.len() {
        0 => Err(CkanError::NoDocument),
        1 => Ok(docs.pop().expect("length checked")),
        n => Err(CkanError::TooManyDocuments(n)),
    }
}

/// The value CKAN gives a scalar (see the module comment).
pub(crate) fn scalar_value(text: &str, style: ScalarStyle, typing: Typing) -> Value {
    match text {
        "null" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ if style == ScalarStyle::Plain => match parse_dotnet_int(text) {
            Some(i) if typing == Typing::Ckan || i32::try_from(i).is_ok() => {
                Value::Number(Number::from(i))
            }
            _ => Value::String(text.to_owned()),
        },
        _ => Value::String(text.to_owned()),
    }
}

/// `int.TryParse` / `long.TryParse` with `NumberStyles.Integer`: optional white space around,
/// an optional sign, ASCII digits only (so `007` and `+5` are integers too).
pub(crate) fn parse_dotnet_int(text: &str) -> Option<i64> {
    let t = text.trim_matches(|c: char| matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' '));
    let (negative, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Accumulate negatively so i64::MIN parses.
    let mut value: i64 = 0;
    for b in digits.bytes() {
        value = value.checked_mul(10)?.checked_sub(i64::from(b - b'0'))?;
    }
    if negative {
        Some(value)
    } else {
        value.checked_neg()
    }
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        map: Object,
        key: Option<String>,
        anchor: usize,
    },
}

struct Builder {
    typing: Typing,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, usize)>,
    docs: Vec<Object>,
    alias_nodes: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), CkanError> {
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                // Tags are ignored: ToJValue never looks at them.
                if self.expects_key() {
                    if anchor != 0 {
                        let value = scalar_value(&text, style, self.typing);
                        self.anchors.insert(anchor, (value, 1));
                    }
                    self.set_key(text)?;
                    return Ok(());
                }
                let value = scalar_value(&text, style, self.typing);
                self.finish(value, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                self.open()?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.open()?;
                self.stack.push(Frame::Map {
                    map: Object::new(),
                    key: None,
                    anchor,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq { items, anchor }) => self.finish(Value::Array(items), anchor),
                Some(Frame::Map { map, anchor, .. }) => self.finish(Value::Object(map), anchor),
                None => Ok(()),
            },
            Event::Alias(id) => {
                let Some((value, nodes)) = self.anchors.get(&id) else {
                    return Err(CkanError::UnknownAlias {
                        line: span.start.line(),
                        column: span.start.col() + 1,
                    });
                };
                self.alias_nodes += nodes;
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(CkanError::TooLarge {
                        limit: MAX_ALIAS_NODES,
                    });
                }
                let value = value.clone();
                if self.expects_key() {
                    // YamlDotNet resolves an alias key to the anchored node; only a scalar can
                    // be a key, and its text is what the typed value prints as.
                    let key = match value {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => "null".to_owned(),
                        Value::Array(_) | Value::Object(_) => {
                            return Err(CkanError::NonScalarKey { path: self.path() });
                        }
                    };
                    return self.set_key(Cow::Owned(key));
                }
                self.finish(value, 0)
            }
            Event::DocumentStart(_) => {
                self.stack.clear();
                Ok(())
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
        }
    }

    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    fn set_key(&mut self, text: Cow<'_, str>) -> Result<(), CkanError> {
        let duplicate = match self.stack.last() {
            Some(Frame::Map { map, .. }) => map.contains_key(text.as_ref()),
            _ => false,
        };
        if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
            *key = Some(text.into_owned());
        }
        if duplicate {
            return Err(CkanError::DuplicateKey { path: self.path() });
        }
        Ok(())
    }

    fn open(&mut self) -> Result<(), CkanError> {
        if self.expects_key() {
            return Err(CkanError::NonScalarKey { path: self.path() });
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(CkanError::TooDeep {
                path: self.path(),
                limit: MAX_DEPTH,
            });
        }
        Ok(())
    }

    fn finish(&mut self, value: Value, anchor: usize) -> Result<(), CkanError> {
        if anchor != 0 {
            let nodes = count_nodes(&value);
            self.anchors.insert(anchor, (value.clone(), nodes));
        }
        match self.stack.last_mut() {
            None => {
                if let Value::Object(map) = value {
                    self.docs.push(map);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { map, key, .. }) => {
                if let Some(k) = key.take() {
                    map.insert(k, value);
                }
            }
        }
        Ok(())
    }

    /// Where the builder is, for error messages.
    fn path(&self) -> String {
        json_path(self.stack.iter().filter_map(|frame| match frame {
            Frame::Seq { items, .. } => Some(PathSegment::Index(items.len())),
            Frame::Map { key, .. } => key.as_deref().map(PathSegment::Key),
        }))
    }
}

fn count_nodes(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn one(text: &str) -> Value {
        let mut docs = parse_documents(text, Typing::Netkan).expect("parses");
        assert_eq!(docs.len(), 1);
        Value::Object(docs.remove(0))
    }

    #[test]
    fn scalars_are_typed_as_ckan_types_them() {
        let v = one(concat!(
            "a: 1.12\nb: 1\nc: \"1\"\nd: 'true'\ne: \"null\"\nf: ~\ng:\nh: yes\ni: True\n",
            "j: 2147483648\nk: -2147483648\nl: 007\nm: +5\nn: 2026-06-18\no: 1.0\n"
        ));
        assert_eq!(
            v,
            json!({
                "a": "1.12", "b": 1, "c": "1", "d": true, "e": null, "f": "~", "g": "",
                "h": "yes", "i": "True", "j": "2147483648", "k": -2147483648_i64, "l": 7, "m": 5,
                "n": "2026-06-18", "o": "1.0"
            })
        );
    }

    #[test]
    fn ckan_typing_keeps_64_bit_sizes() {
        let obj = parse_ckan("{\"download_size\": 3890480457, \"v\": 1.5}").expect("parses");
        assert_eq!(obj["download_size"], json!(3_890_480_457_u64));
        assert_eq!(obj["v"], json!("1.5"));
        let docs = parse_netkan("{\"download_size\": 3890480457}").expect("parses");
        assert_eq!(docs[0]["download_size"], json!("3890480457"));
    }

    #[test]
    fn key_order_is_kept() {
        let v = one("z: 1\na: 2\nm: {y: 1, b: 2}\n");
        let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
        let inner: Vec<&String> = v["m"].as_object().expect("object").keys().collect();
        assert_eq!(inner, ["y", "b"]);
    }

    #[test]
    fn several_documents_and_only_mappings_are_kept() {
        let docs = parse_documents(
            "identifier: A\n---\n- not a mapping\n---\nidentifier: B\n---\n",
            Typing::Netkan,
        )
        .expect("parses");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1]["identifier"], json!("B"));
        assert!(matches!(parse_netkan("- a\n"), Err(CkanError::NoDocument)));
        assert!(matches!(
            parse_ckan("a: 1\n---\nb: 2\n"),
            Err(CkanError::TooManyDocuments(2))
        ));
    }

    #[test]
    fn json_is_read_as_yaml() {
        let v = one(
            "{\n\t\"identifier\": \"X\",\n    \"tags\": [\"a\", \"b\"], \"n\": null, \"s\": \"\\u00e9\\/\"\n}",
        );
        assert_eq!(
            v,
            json!({"identifier": "X", "tags": ["a", "b"], "n": null, "s": "é/"})
        );
    }

    #[test]
    fn quoted_kref_keeps_its_hash() {
        let v = one("$kref: '#/ckan/spacedock/777'\n# comment\nx: 1 # trailing\n");
        assert_eq!(v, json!({"$kref": "#/ckan/spacedock/777", "x": 1}));
    }

    #[test]
    fn errors_name_the_place() {
        let err = parse_netkan("a: 1\na: 2\n").expect_err("duplicate");
        assert_eq!(err.to_string(), "duplicate key at $.a");
        let err = parse_netkan("a:\n  - {b: 1, b: 2}\n").expect_err("duplicate");
        assert_eq!(err.to_string(), "duplicate key at $.a[0].b");
        let err = parse_netkan("a: [1, 2\n").expect_err("syntax");
        assert!(
            err.to_string().starts_with("yaml syntax error at line"),
            "{err}"
        );
        let err = parse_netkan("? [a]\n: 1\n").expect_err("non-scalar key");
        assert!(matches!(err, CkanError::NonScalarKey { .. }));
        let err = parse_netkan("a: *nope\n").expect_err("alias");
        assert!(err.to_string().contains("unknown anchor"), "{err}");
    }

    #[test]
    fn anchors_and_aliases_resolve() {
        let v = one("a: &x {b: [1, 2]}\nc: *x\n");
        assert_eq!(v, json!({"a": {"b": [1, 2]}, "c": {"b": [1, 2]}}));
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_refused() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(
            parse_documents(&format!("a: {deep}"), Typing::Netkan),
            Err(CkanError::TooDeep { .. })
        ));
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, next) in ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h"])
        {
            bomb.push_str(&format!(
                "{next}: &{next} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(matches!(
            parse_documents(&bomb, Typing::Netkan),
            Err(CkanError::TooLarge { .. })
        ));
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        assert_eq!(one("\u{feff}a: 1\n"), json!({"a": 1}));
    }

    #[test]
    fn dotnet_int_parse() {
        assert_eq!(parse_dotnet_int("-0"), Some(0));
        assert_eq!(parse_dotnet_int("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_dotnet_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_dotnet_int("9223372036854775808"), None);
        assert_eq!(parse_dotnet_int("1_000"), None);
        assert_eq!(parse_dotnet_int("-"), None);
        assert_eq!(parse_dotnet_int("١"), None);
    }
}
