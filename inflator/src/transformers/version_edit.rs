//! `x_netkan_version_edit`, with .NET replacement semantics (§5 #15): if `find` matches the
//! version, every match is replaced (`Regex.Replace`), with .NET's substitutions (`$1`,
//! `${name}`, `$$`, `$&`, ...; a reference to a group that does not exist stays literal), then
//! each `${key}` of `x_netkan_version_pieces` (`${tag}`) is replaced by its value.

use std::collections::HashMap;

use fancy_regex::Regex;
use netkan_common::ckan::Object;
use serde_json::Value;

use crate::InflateError;
use crate::context::Context;
use crate::metadata;

/// Applies the version edit, if the metadata has one.
pub async fn transform(
    mut metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    let opts = metadata::options(&metadata)?;
    let Some(edit) = opts.version_edit else {
        return Ok(vec![metadata]);
    };
    cx.info("Executing version edit transformation");
    let version = metadata::version_text(&metadata).unwrap_or_default();
    let find = DotnetRegex::new(&edit.find).map_err(|e| {
        InflateError::metadata(format!(
            "Invalid x_netkan_version_edit find pattern {}: {e}",
            edit.find
        ))
    })?;
    if find.is_match(&version)? {
        let mut edited = find.replace_all(&version, &edit.replace)?;
        for (key, value) in &opts.version_pieces {
            let value = metadata::cs_string(value).unwrap_or_default();
            cx.debug(format!("Replacing ${{{key}}} with {value} in {edited}"));
            edited = edited.replace(&format!("${{{key}}}"), &value);
        }
        cx.debug(format!("version {version} edited to {edited}"));
        metadata.insert("version".to_owned(), Value::String(edited));
    } else if edit.strict {
        return Err(InflateError::metadata(format!(
            "Could not match version {version} with find pattern {}",
            edit.find
        )));
    }
    Ok(vec![metadata])
}

/// A .NET regex (run by fancy-regex, which has the look-around real netkans use) with .NET's
/// group numbering: unnamed groups first, left to right, then named groups in order of
/// appearance; fancy-regex numbers them all left to right.
pub(crate) struct DotnetRegex {
    re: Regex,
    /// .NET group number → fancy-regex group index.
    by_number: HashMap<u64, usize>,
    by_name: HashMap<String, usize>,
    /// The fancy-regex index of the group .NET numbers highest (`$+`).
    last: usize,
}

/// One piece of a parsed .NET replacement pattern.
enum Piece {
    Literal(String),
    Group(usize),
    /// `` $` ``: the input before the match.
    Left,
    /// `$'`: the input after the match.
    Right,
    /// `$_`: the whole input.
    Input,
}

fn regex_error(e: &fancy_regex::Error) -> InflateError {
    InflateError::metadata(format!("version edit regex failed: {e}"))
}

impl DotnetRegex {
    pub(crate) fn new(pattern: &str) -> Result<DotnetRegex, fancy_regex::Error> {
        let re = Regex::new(pattern)?;
        let mut unnamed = Vec::new();
        let mut named: Vec<(String, usize)> = Vec::new();
        for (index, name) in re.capture_names().enumerate().skip(1) {
            match name {
                Some(n) => named.push((n.to_owned(), index)),
                None => unnamed.push(index),
            }
        }
        let mut by_number = HashMap::from([(0u64, 0usize)]);
        let mut number = 0u64;
        for index in unnamed {
            number += 1;
            by_number.insert(number, index);
        }
        let mut by_name = HashMap::new();
        for (name, index) in named {
            // A numeric name (`(?<3>...)`) is that number in .NET.
            if let Ok(n) = name.parse::<u64>() {
                by_number.insert(n, index);
            } else {
                number += 1;
                by_number.insert(number, index);
            }
            by_name.insert(name, index);
        }
        let last = by_number
            .iter()
            .max_by_key(|(n, _)| **n)
            .map_or(0, |(_, i)| *i);
        Ok(DotnetRegex {
            re,
            by_number,
            by_name,
            last,
        })
    }

    pub(crate) fn is_match(&self, text: &str) -> Result<bool, InflateError> {
        self.re.is_match(text).map_err(|e| regex_error(&e))
    }

    /// `RegexParser.ParseReplacement`.
    fn parse_replacement(&self, replacement: &str) -> Vec<Piece> {
        let chars: Vec<char> = replacement.chars().collect();
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            if c != '$' || i >= chars.len() {
                literal.push(c);
                continue;
            }
            match self.scan_dollar(&chars, i) {
                Some((piece, next)) => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(piece);
                    i = next;
                }
                // Not a substitution: the `$` is literal and scanning goes on after it.
                None => literal.push('$'),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        pieces
    }

    /// `RegexParser.ScanDollar`, from just after a `$`: the substitution and where scanning
    /// continues, or none if the `$` is literal.
    fn scan_dollar(&self, chars: &[char], start: usize) -> Option<(Piece, usize)> {
        let mut i = start;
        let angled = chars[i] == '{';
        if angled {
            i += 1;
        }
        let ch = *chars.get(i)?;
        if ch.is_ascii_digit() {
            let end = i + chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            let digits: String = chars[i..end].iter().collect();
            let mut next = end;
            if angled {
                if chars.get(end) != Some(&'}') {
                    return None;
                }
                next += 1;
            }
            let index = digits
                .parse::<u64>()
                .ok()
                .and_then(|n| self.by_number.get(&n))?;
            return Some((Piece::Group(*index), next));
        }
        if angled {
            if !is_word_char(ch) {
                return None;
            }
            let end = i + chars[i..].iter().take_while(|c| is_word_char(**c)).count();
            if chars.get(end) != Some(&'}') {
                return None;
            }
            let name: String = chars[i..end].iter().collect();
            let index = self.by_name.get(&name)?;
            return Some((Piece::Group(*index), end + 1));
        }
        let piece = match ch {
            '$' => Piece::Literal("$".to_owned()),
            '&' => Piece::Group(0),
            '`' => Piece::Left,
            '\'' => Piece::Right,
            '+' => Piece::Group(self.last),
            '_' => Piece::Input,
            _ => return None,
        };
        Some((piece, i + 1))
    }

    /// `Regex.Replace(input, replacement)`: every match, left to right; after an empty match
    /// the next search starts one character further on, as .NET's does.
    pub(crate) fn replace_all(
        &self,
        text: &str,
        replacement: &str,
    ) -> Result<String, InflateError> {
        let pieces = self.parse_replacement(replacement);
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut pos = 0;
        while pos <= text.len() {
            let Some(caps) = self
                .re
                .captures_from_pos(text, pos)
                .map_err(|e| regex_error(&e))?
            else {
                break;
            };
            let whole = caps.get(0).expect("group 0 is the match");
            out.push_str(&text[copied..whole.start()]);
            for piece in &pieces {
                match piece {
                    Piece::Literal(s) => out.push_str(s),
                    Piece::Group(g) => out.push_str(caps.get(*g).map_or("", |m| m.as_str())),
                    Piece::Left => out.push_str(&text[..whole.start()]),
                    Piece::Right => out.push_str(&text[whole.end()..]),
                    Piece::Input => out.push_str(text),
                }
            }
            copied = whole.end();
            pos = if whole.start() == whole.end() {
                match text[whole.end()..].chars().next() {
                    Some(c) => whole.end() + c.len_utf8(),
                    None => break,
                }
            } else {
                whole.end()
            };
        }
        out.push_str(&text[copied..]);
        Ok(out)
    }
}

/// `RegexCharClass.IsWordChar`, near enough: letters, digits, marks and `_`.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::pipeline::Step;
    use crate::testing_support::{obj, run_step};

    fn replace(pattern: &str, text: &str, replacement: &str) -> String {
        DotnetRegex::new(pattern)
            .expect("valid pattern")
            .replace_all(text, replacement)
            .expect("replace runs")
    }

    #[test]
    fn replacement_follows_dotnet_substitution_rules() {
        assert_eq!(
            replace("^v?(?<version>.+)$", "v1.2.3", "${version}"),
            "1.2.3"
        );
        assert_eq!(
            replace("^v?(?<version>.+)$", "v1.2", "FOO-${version}-BAR"),
            "FOO-1.2-BAR"
        );
        assert_eq!(replace(r"(\d+)\.(\d+)", "1.2", "$2.$1"), "2.1");
        assert_eq!(replace(r"(\d+)\.(\d+)", "1.2", "${2}-${1}"), "2-1");
        // An unknown group stays literal (Rust's `expand` would drop it).
        assert_eq!(replace("^(?<v>.+)$", "1.0", "${tag}-${v}"), "${tag}-1.0");
        assert_eq!(replace("^(.+)$", "1.0", "$5x"), "$5x");
        assert_eq!(replace("^(.+)$", "1.0", "$$1"), "$1");
        assert_eq!(replace("b", "abc", "[$`|$&|$']"), "a[a|b|c]c");
        assert_eq!(replace("b", "abc", "$_"), "aabcc");
        assert_eq!(replace("b", "abc", "$"), "a$c");
        assert_eq!(replace("b", "abc", "${"), "a${c");
    }

    #[test]
    fn every_match_is_replaced() {
        assert_eq!(replace("_", "1_2_3", "."), "1.2.3");
        assert_eq!(replace("x*", "ab", "-"), "-a-b-");
        assert_eq!(replace("^", "ab", "v"), "vab");
    }

    #[test]
    fn dotnet_numbers_unnamed_groups_before_named_ones() {
        // In .NET `(\w+)` is $1 and `version` is $2, whatever their order in the pattern.
        assert_eq!(
            replace(r"^(?<version>[\d.]+)-(\w+)$", "1.2-beta", "$1/$2"),
            "beta/1.2"
        );
        assert_eq!(
            replace(r"^(?<version>[\d.]+)-(\w+)$", "1.2-beta", "$+"),
            "1.2"
        );
    }

    #[test]
    fn look_ahead_works() {
        assert_eq!(replace(r"^v(?!\.)", "v1.0", ""), "1.0");
        assert_eq!(replace(r"^v(?!\.)", "v.1.0", ""), "v.1.0");
    }

    #[tokio::test]
    async fn no_version_edit_changes_nothing() {
        let j = obj(json!({"spec_version": 1, "version": "1.2.3"}));
        assert_eq!(
            run_step(Step::VersionEdit, j.clone()).await.expect("ok"),
            vec![j]
        );
    }

    #[tokio::test]
    async fn the_string_form_is_the_find_pattern() {
        let j = obj(json!({"version": "v1.2.3", "x_netkan_version_edit": "^v?(?<version>.+)$"}));
        let out = run_step(Step::VersionEdit, j).await.expect("ok");
        assert_eq!(out[0]["version"], "1.2.3");
    }

    #[tokio::test]
    async fn find_alone_and_find_with_replace_edit_the_version() {
        let j = obj(json!({"version": "v1.2.3",
            "x_netkan_version_edit": {"find": "^v?(?<version>.+)$"}}));
        assert_eq!(
            run_step(Step::VersionEdit, j).await.expect("ok")[0]["version"],
            "1.2.3"
        );
        let j = obj(json!({"version": "v1.2.3",
            "x_netkan_version_edit": {"find": "^v?(?<version>.+)$", "replace": "FOO-${version}-BAR"}}));
        assert_eq!(
            run_step(Step::VersionEdit, j).await.expect("ok")[0]["version"],
            "FOO-1.2.3-BAR"
        );
    }

    #[tokio::test]
    async fn version_pieces_fill_what_the_regex_left_literal() {
        let j = obj(json!({"version": "1.2",
            "x_netkan_version_pieces": {"tag": "release-1.2"},
            "x_netkan_version_edit": {"find": "^(?<version>.+)$", "replace": "${tag}+${version}"}}));
        assert_eq!(
            run_step(Step::VersionEdit, j).await.expect("ok")[0]["version"],
            "release-1.2+1.2"
        );
    }

    #[tokio::test]
    async fn strict_no_match_fails_and_non_strict_passes() {
        let j = obj(
            json!({"version": "1.2.3", "x_netkan_version_edit": {"find": "^v(?<version>.+)$"}}),
        );
        let err = run_step(Step::VersionEdit, j).await.expect_err("strict");
        assert_eq!(
            err.to_string(),
            "Could not match version 1.2.3 with find pattern ^v(?<version>.+)$"
        );
        let j = obj(json!({"version": "1.2.3",
            "x_netkan_version_edit": {"find": "^v(?<version>.+)$", "strict": false}}));
        assert_eq!(
            run_step(Step::VersionEdit, j.clone()).await.expect("ok"),
            vec![j]
        );
    }

    #[tokio::test]
    async fn an_array_value_is_refused() {
        let j = obj(json!({"version": "1.0", "x_netkan_version_edit": ["Junk value"]}));
        let err = run_step(Step::VersionEdit, j).await.expect_err("array");
        assert!(
            err.to_string()
                .starts_with("Unrecognized `x_netkan_version_edit` value: [")
        );
    }

    #[tokio::test]
    async fn a_bad_pattern_is_a_clear_error() {
        let j = obj(json!({"version": "1.0", "x_netkan_version_edit": "(("}));
        let err = run_step(Step::VersionEdit, j).await.expect_err("bad regex");
        assert!(
            err.to_string()
                .contains("Invalid x_netkan_version_edit find pattern (("),
            "{err}"
        );
    }
}
