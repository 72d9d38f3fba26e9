//! JSON as Newtonsoft's `JsonTextReader` reads it, for the files mod authors write by hand
//! (`.version`, `swinfo.json`).
//!
//! Written by hand because no maintained crate reads exactly this dialect: JSON5 crates reject
//! leading-zero numbers where Newtonsoft reads them as **octal** (`07` → 7, `010` → 8, `08` →
//! an error), and none keeps Newtonsoft's other habits together: `//` and `/* */` comments,
//! trailing commas, single-quoted strings, unquoted property names, `0x` hex integers, `NaN`
//! / `Infinity` / `undefined`, consecutive commas in arrays (each an undefined element), and
//! duplicate properties (the later wins where a consumer looks). Property names are kept as
//! written; matching them case-insensitively is the consumer's business (`JsonSerializer`
//! does it, `JObject` lookups do not).
//!
//! Errors read like Newtonsoft's: `message Path 'a.b', line L, position P.`

use std::fmt::Write;

/// A parsed value. Integers keep their decimal text (octal and hex already converted), so no
/// size limit applies to them.
#[derive(Debug, Clone, PartialEq)]
pub enum JValue {
    Null,
    Undefined,
    Bool(bool),
    Integer(String),
    Float(f64),
    String(String),
    Array(Vec<JValue>),
    /// Properties in file order, duplicates included.
    Object(Vec<(String, JValue)>),
}

impl JValue {
    /// Newtonsoft's `JToken.Type` name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            JValue::Null => "Null",
            JValue::Undefined => "Undefined",
            JValue::Bool(_) => "Boolean",
            JValue::Integer(_) => "Integer",
            JValue::Float(_) => "Float",
            JValue::String(_) => "String",
            JValue::Array(_) => "Array",
            JValue::Object(_) => "Object",
        }
    }

    /// `JObject[name]`: the last property with exactly this name (a loaded `JObject` keeps the
    /// later of two duplicates).
    pub fn get_exact(&self, name: &str) -> Option<&JValue> {
        match self {
            JValue::Object(props) => props.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The scalar as `Convert.ToString(value, InvariantCulture)` writes it (`Value<string>`):
    /// `None` for null and undefined, and for containers.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            JValue::Null | JValue::Undefined | JValue::Array(_) | JValue::Object(_) => None,
            JValue::Bool(true) => Some("True".to_owned()),
            JValue::Bool(false) => Some("False".to_owned()),
            JValue::Integer(s) | JValue::String(s) => Some(s.clone()),
            JValue::Float(f) => Some(dotnet_double(*f)),
        }
    }
}

/// The JSON serializer's property lookup: the exact name, else one equal ignoring case; the
/// last such property wins, as each assignment overwrites the field it fills.
pub fn member<'a>(props: &'a [(String, JValue)], name: &str) -> Option<&'a JValue> {
    props
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// `double.ToString()` (shortest round-trip) as .NET Core prints it: scientific notation
/// from an exponent of 15 up or below -4, `E+XX` / `E-XX` with at least two digits.
pub fn dotnet_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "∞" } else { "-∞" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..15).contains(&exp) {
        return format!("{f}");
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}E{sign}{:02}", exp.abs())
}

/// A reader error (`JsonReaderException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReaderError(pub String);

/// Newtonsoft's `MaxDepth` default.
const MAX_DEPTH: usize = 64;

/// Parses one value, then checks that only white space and comments follow. `Ok(None)` for
/// an input with no value at all (Newtonsoft deserializes it to null).
///
/// # Errors
/// The first syntax error. Text after the value is not one: it is reported in
/// [`Parsed::trailing`], because Newtonsoft raises it as a serialization error, not a reader
/// error, and callers treat the two differently.
pub fn parse(text: &str) -> Result<Parsed, ReaderError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        line_start: 0,
        path: Vec::new(),
    };
    p.skip_ws()?;
    if p.peek().is_none() {
        return Ok(Parsed {
            value: None,
            trailing: false,
        });
    }
    let value = p.value(0)?;
    p.skip_ws()?;
    Ok(Parsed {
        value: Some(value),
        trailing: p.peek().is_some(),
    })
}

/// What [`parse`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The value, or `None` for empty input.
    pub value: Option<JValue>,
    /// Something other than white space and comments follows the value ("Additional text
    /// found in JSON string after finishing deserializing object.").
    pub trailing: bool,
}

enum Seg {
    Key(String),
    Index(usize),
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    line_start: usize,
    path: Vec<Seg>,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' || (c == '\r' && self.peek() != Some('\n')) {
            self.line += 1;
            self.line_start = self.pos;
        }
        Some(c)
    }

    fn path_text(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Seg::Key(k) => {
                    let plain = !k.is_empty()
                        && k.chars()
                            .all(|c| !matches!(c, '.' | ' ' | '[' | ']' | '(' | ')' | '\'' | '"'));
                    if plain {
                        if !out.is_empty() {
                            out.push('.');
                        }
                        out.push_str(k);
                    } else {
                        let _ = write!(out, "['{}']", k.replace('\'', "\\'"));
                    }
                }
                Seg::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out
    }

    fn error(&self, message: &str) -> ReaderError {
        let mut m = message.trim().to_owned();
        if !m.ends_with('.') {
            m.push('.');
        }
        ReaderError(format!(
            "{m} Path '{}', line {}, position {}.",
            self.path_text(),
            self.line,
            self.pos - self.line_start
        ))
    }

    fn skip_ws(&mut self) -> Result<(), ReaderError> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('/') => self.comment()?,
                _ => return Ok(()),
            }
        }
    }

    fn comment(&mut self) -> Result<(), ReaderError> {
        self.bump();
        match self.peek() {
            Some('*') => {
                self.bump();
                loop {
                    match self.bump() {
                        None => return Err(self.error("Unexpected end while parsing comment")),
                        Some('*') if self.peek() == Some('/') => {
                            self.bump();
                            return Ok(());
                        }
                        Some(_) => {}
                    }
                }
            }
            Some('/') => {
                while let Some(c) = self.peek() {
                    if c == '\r' || c == '\n' {
                        break;
                    }
                    self.bump();
                }
                Ok(())
            }
            Some(c) => Err(self.error(&format!("Error parsing comment. Expected: *, got {c}"))),
            None => Err(self.error("Unexpected end while parsing comment")),
        }
    }

    fn value(&mut self, depth: usize) -> Result<JValue, ReaderError> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!(
                "The reader's MaxDepth of {MAX_DEPTH} has been exceeded"
            )));
        }
        match self.peek() {
            None => Err(self.error("Unexpected end when reading JSON")),
            Some('{') => self.object(depth),
            Some('[') => self.array(depth),
            Some(q @ ('"' | '\'')) => Ok(JValue::String(self.string(q)?)),
            Some(c) if c.is_ascii_digit() || c == '-' || c == '.' => self.number(),
            Some(c) if c.is_alphabetic() => self.literal(),
            Some(c) => Err(self.error(&format!(
                "Unexpected character encountered while parsing value: {c}"
            ))),
        }
    }

    fn literal(&mut self) -> Result<JValue, ReaderError> {
        let start = self.pos;
        while self.peek().is_some_and(char::is_alphanumeric) {
            self.bump();
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        let value = match word.as_str() {
            "true" => JValue::Bool(true),
            "false" => JValue::Bool(false),
            "null" => JValue::Null,
            "undefined" => JValue::Undefined,
            "NaN" => JValue::Float(f64::NAN),
            "Infinity" => JValue::Float(f64::INFINITY),
            _ => {
                return Err(self.error(&format!(
                    "Unexpected character encountered while parsing value: {}",
                    word.chars().next().unwrap_or('?')
                )));
            }
        };
        self.after_value()?;
        Ok(value)
    }

    /// After a scalar, only a delimiter may follow.
    fn after_value(&mut self) -> Result<(), ReaderError> {
        match self.peek() {
            None | Some(',' | '}' | ']' | ')' | '/') => Ok(()),
            Some(c) if c.is_whitespace() => Ok(()),
            Some(c) => Err(self.error(&format!(
                "After parsing a value an unexpected character was encountered: {c}"
            ))),
        }
    }

    fn number(&mut self) -> Result<JValue, ReaderError> {
        if self.peek() == Some('-') && self.peek_at(1) == Some('I') {
            self.bump();
            return match self.literal()? {
                JValue::Float(f) if f.is_infinite() => Ok(JValue::Float(f64::NEG_INFINITY)),
                _ => Err(self.error("Cannot read -Infinity value")),
            };
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_hexdigit() || matches!(c, '-' | '+' | '.' | 'x' | 'X') {
                self.bump();
            } else if c.is_whitespace() || matches!(c, ',' | '}' | ']' | ')' | '/') {
                break;
            } else {
                return Err(self.error(&format!(
                    "Unexpected character encountered while parsing number: {c}"
                )));
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let invalid = || self.error(&format!("Input string '{text}' is not a valid number"));
        let bytes = text.as_bytes();
        let non_base10 =
            bytes.len() > 1 && bytes[0] == b'0' && !matches!(bytes[1], b'.' | b'e' | b'E');
        if non_base10 {
            let (digits, radix) = match text.get(..2) {
                Some("0x" | "0X") => (&text[2..], 16),
                _ => (&text[..], 8),
            };
            return u64::from_str_radix(digits, radix)
                .ok()
                .and_then(|v| i64::try_from(v).ok())
                .map(|v| JValue::Integer(v.to_string()))
                .ok_or_else(invalid);
        }
        let digits = text.strip_prefix('-').unwrap_or(&text);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let trimmed = digits.trim_start_matches('0');
            let magnitude = if trimmed.is_empty() { "0" } else { trimmed };
            let negative = text.starts_with('-') && magnitude != "0";
            return Ok(JValue::Integer(if negative {
                format!("-{magnitude}")
            } else {
                magnitude.to_owned()
            }));
        }
        let float_shape = text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
        match text.parse::<f64>() {
            Ok(f) if float_shape => Ok(JValue::Float(f)),
            _ => Err(invalid()),
        }
    }

    fn string(&mut self, quote: char) -> Result<String, ReaderError> {
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(
                        self.error(&format!("Unterminated string. Expected delimiter: {quote}"))
                    );
                }
                Some(c) if c == quote => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('"') => out.push('"'),
                    Some('\'') => out.push('\''),
                    Some('\\') => out.push('\\'),
                    Some('/') => out.push('/'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some('u') => out.push(self.unicode_escape()?),
                    Some(c) => {
                        return Err(self.error(&format!("Bad JSON escape sequence: \\{c}")));
                    }
                    None => return Err(self.error("Unterminated string. Expected delimiter")),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, ReaderError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self
                .bump()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.error("Invalid Unicode escape sequence"))?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    fn unicode_escape(&mut self) -> Result<char, ReaderError> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi)
            && self.peek() == Some('\\')
            && self.peek_at(1) == Some('u')
        {
            self.bump();
            self.bump();
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or('\u{fffd}'));
            }
            return Ok('\u{fffd}');
        }
        Ok(char::from_u32(hi).unwrap_or('\u{fffd}'))
    }

    fn property_name(&mut self) -> Result<String, ReaderError> {
        match self.peek() {
            Some(q @ ('"' | '\'')) => self.string(q),
            Some(c) if c.is_alphanumeric() || c == '_' || c == '$' => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
                {
                    self.bump();
                }
                match self.peek() {
                    Some(':') => {}
                    Some(c) if c.is_whitespace() => {}
                    Some(c) => {
                        return Err(self.error(&format!(
                            "Invalid JavaScript property identifier character: {c}"
                        )));
                    }
                    None => {
                        return Err(
                            self.error("Unexpected end while parsing unquoted property name")
                        );
                    }
                }
                Ok(self.chars[start..self.pos].iter().collect())
            }
            Some(c) => Err(self.error(&format!("Invalid property identifier character: {c}"))),
            None => Err(self.error("Unexpected end when reading JSON")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<JValue, ReaderError> {
        self.bump();
        let mut props = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some('}') => {
                    self.bump();
                    return Ok(JValue::Object(props));
                }
                None => return Err(self.error("Unexpected end when reading JSON")),
                _ => {}
            }
            let name = self.property_name()?;
            self.skip_ws()?;
            if self.peek() != Some(':') {
                let got = self.peek().map_or("end".to_owned(), |c| c.to_string());
                return Err(self.error(&format!(
                    "Invalid character after parsing property name. Expected ':' but got: {got}"
                )));
            }
            self.bump();
            self.skip_ws()?;
            self.path.push(Seg::Key(name.clone()));
            let value = self.value(depth + 1)?;
            self.path.pop();
            props.push((name, value));
            self.skip_ws()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some('}') => {}
                Some(c) => {
                    return Err(self.error(&format!(
                        "After parsing a value an unexpected character was encountered: {c}"
                    )));
                }
                None => return Err(self.error("Unexpected end when reading JSON")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<JValue, ReaderError> {
        self.bump();
        let mut items = Vec::new();
        // Whether the previous token was a comma (or the opening bracket).
        let mut after_comma = true;
        let mut first = true;
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(']') => {
                    self.bump();
                    return Ok(JValue::Array(items));
                }
                Some(',') if after_comma && !first => {
                    // `[1,,2]`: Newtonsoft reads an undefined element between the commas.
                    self.bump();
                    items.push(JValue::Undefined);
                    continue;
                }
                Some(',') if !after_comma => {
                    self.bump();
                    after_comma = true;
                    continue;
                }
                None => return Err(self.error("Unexpected end when reading JSON")),
                _ => {}
            }
            if !after_comma {
                let c = self.peek().unwrap_or(' ');
                return Err(self.error(&format!(
                    "After parsing a value an unexpected character was encountered: {c}"
                )));
            }
            self.path.push(Seg::Index(items.len()));
            let value = self.value(depth + 1)?;
            self.path.pop();
            items.push(value);
            after_comma = false;
            first = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> JValue {
        parse(text)
            .expect("valid lenient JSON")
            .value
            .expect("a value")
    }

    fn int(s: &str) -> JValue {
        JValue::Integer(s.to_owned())
    }

    #[test]
    fn octal_and_hex_integers_are_read_as_newtonsoft_reads_them() {
        assert_eq!(v("07"), int("7"));
        assert_eq!(v("010"), int("8"));
        assert_eq!(v("02024"), int("1044"));
        assert_eq!(v("0x1F"), int("31"));
        assert_eq!(v("-07"), int("-7"));
        assert_eq!(v("0"), int("0"));
        assert_eq!(v("0.5"), JValue::Float(0.5));
        let err = parse("{\"MAJOR\": 08}").expect_err("08 is not octal");
        assert!(
            err.0
                .starts_with("Input string '08' is not a valid number. Path 'MAJOR', line 1"),
            "{err}"
        );
        assert!(parse("[090]").is_err());
    }

    #[test]
    fn comments_trailing_commas_quotes_and_bare_names_are_accepted() {
        let text = "// header\n{ /* a */ NAME: 'x', \"b\": [1, 2,], c_$: true, }\n// tail";
        assert_eq!(
            v(text),
            JValue::Object(vec![
                ("NAME".into(), JValue::String("x".into())),
                ("b".into(), JValue::Array(vec![int("1"), int("2")])),
                ("c_$".into(), JValue::Bool(true)),
            ])
        );
        assert_eq!(
            v("[1,,2]"),
            JValue::Array(vec![int("1"), JValue::Undefined, int("2")])
        );
        assert_eq!(v("\"\\u00e9\\n\""), JValue::String("é\n".into()));
    }

    #[test]
    fn garbage_and_trailing_text_are_told_apart() {
        assert!(parse("{\"a\": 1} x").expect("reads").trailing);
        assert!(!parse("{\"a\": 1} // fine").expect("reads").trailing);
        assert_eq!(parse("  ").expect("empty").value, None);
        for bad in [
            "{\"a\" 1}",
            "{\"a\": }",
            "{\"a\": 1.2.3}",
            "{\"a\": 'x",
            "{\"a\": tru}",
            "/x",
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
        let deep = "[".repeat(100);
        assert!(parse(&deep).expect_err("too deep").0.contains("MaxDepth"));
    }

    #[test]
    fn scalars_print_as_dotnet_converts_them() {
        assert_eq!(JValue::Bool(true).scalar_text().as_deref(), Some("True"));
        assert_eq!(JValue::Float(1.0).scalar_text().as_deref(), Some("1"));
        assert_eq!(JValue::Float(1.5).scalar_text().as_deref(), Some("1.5"));
        assert_eq!(dotnet_double(1e21), "1E+21");
        assert_eq!(dotnet_double(0.00001), "1E-05");
        assert_eq!(JValue::Null.scalar_text(), None);
    }
}
