//! Job log lines: levels, the stored line format, queries by cursor, time and level, and
//! redaction of secrets before anything is stored.
//!
//! A line is stored as one list element, `2024-01-15T10:30:02.123Z NOTICE message`, so that
//! `redis-cli LRANGE` is readable as it is. Its cursor is its index in the list, which never
//! changes because lines are only appended (the per-job cap drops lines, it never trims).

use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::error::InputError;

/// A log level. `Notice` is the level meant for the person who pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Detail for developers.
    Debug,
    /// What the job is doing.
    Info,
    /// What the pusher should read.
    Notice,
    /// Something went wrong but the job went on.
    Warn,
    /// The job failed.
    Error,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 5] = [
        Level::Debug,
        Level::Info,
        Level::Notice,
        Level::Warn,
        Level::Error,
    ];

    /// The level's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Notice => "NOTICE",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = InputError;
    /// Case-insensitive; `WARNING` is accepted for `WARN`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let up = s.to_ascii_uppercase();
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == up)
            .or((up == "WARNING").then_some(Level::Warn))
            .ok_or_else(|| InputError::Level(s.chars().take(32).collect()))
    }
}

/// One line of a job's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// Position in the log, starting at 0; stable forever.
    pub cursor: u64,
    /// When it was written (UTC, millisecond precision).
    pub timestamp: DateTime<Utc>,
    /// Its level.
    pub level: Level,
    /// The text, already redacted.
    pub message: String,
}

/// Formats a line for storage.
pub fn format_line(timestamp: DateTime<Utc>, level: Level, message: &str) -> String {
    let mut s = String::with_capacity(32 + message.len());
    s.push_str(&timestamp.to_rfc3339_opts(SecondsFormat::Millis, true));
    s.push(' ');
    s.push_str(level.as_str());
    s.push(' ');
    s.push_str(message);
    s
}

/// Parses a stored line; a line that does not parse (written by hand with `redis-cli`) is
/// kept as an INFO line with the epoch as its time rather than hidden.
pub fn parse_line(cursor: u64, raw: &str) -> LogLine {
    let parsed = raw.split_once(' ').and_then(|(ts, rest)| {
        let ts = DateTime::parse_from_rfc3339(ts).ok()?.with_timezone(&Utc);
        let (level, message) = rest.split_once(' ').unwrap_or((rest, ""));
        Some((ts, level.parse::<Level>().ok()?, message))
    });
    match parsed {
        Some((timestamp, level, message)) => LogLine {
            cursor,
            timestamp,
            level,
            message: message.to_owned(),
        },
        None => LogLine {
            cursor,
            timestamp: DateTime::UNIX_EPOCH,
            level: Level::Info,
            message: raw.to_owned(),
        },
    }
}

/// Ascending (oldest first) or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Oldest first.
    #[default]
    Asc,
    /// Newest first.
    Desc,
}

impl FromStr for Order {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "asc" => Ok(Order::Asc),
            "desc" => Ok(Order::Desc),
            _ => Err(InputError::Order(s.chars().take(32).collect())),
        }
    }
}

/// Which lines of a log to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogQuery {
    /// Only lines whose cursor is greater than this (exclusive).
    pub after: Option<u64>,
    /// Only lines written at or after this time (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Only lines at or above this level.
    pub level: Option<Level>,
    /// Oldest or newest first.
    pub order: Order,
    /// At most this many lines.
    pub limit: Option<usize>,
}

impl LogQuery {
    /// True if a line passes the time and level filters.
    pub fn matches(&self, line: &LogLine) -> bool {
        self.after.is_none_or(|a| line.cursor > a)
            && self.since.is_none_or(|s| line.timestamp >= s)
            && self.level.is_none_or(|l| line.level >= l)
    }
}

/// Parses a `since=` value: RFC 3339 or milliseconds since the epoch.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, InputError> {
    if let Ok(ms) = s.parse::<i64>() {
        return DateTime::from_timestamp_millis(ms).ok_or_else(|| InputError::Time(s.into()));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| InputError::Time(s.chars().take(64).collect()))
}

/// Text as a person is shown it (a page, the pusher's terminal, `netkan jobs`): control
/// characters (terminal escapes, NUL, carriage returns: anything a log line or a `.netkan`
/// may carry from its author) as their visible Unicode pictures (`␛`, `␀`, `␍`; tab and
/// newline stay), C1 controls and the bidirectional overrides that could make a line read
/// differently from what it holds as `<U+202E>`. Stored lines and the API keep the exact text.
pub fn visible_controls(text: &str) -> String {
    if !text.chars().any(needs_picture) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' | '\n' => out.push(c),
            '\u{0}'..='\u{1f}' => {
                out.push(char::from_u32(0x2400 + c as u32).expect("control pictures exist"));
            }
            '\u{7f}' => out.push('\u{2421}'),
            c if needs_picture(c) => {
                let _ = write!(out, "<U+{:04X}>", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn needs_picture(c: char) -> bool {
    (c.is_control() && c != '\t' && c != '\n')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Removes secrets from text before it is logged or stored: every configured secret value,
/// and the password of any `scheme://user:password@host` URL.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for these secret values (empty and very short values are ignored, as
    /// replacing them would mangle ordinary text).
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(Into::into)
            .filter(|s| s.len() >= 4)
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// The text with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = redact_url_passwords(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }
}

/// Replaces the password part of `scheme://user:password@` in URLs.
pub fn redact_url_passwords(text: &str) -> String {
    if !text.contains("://") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        // The authority ends at the first '/', whitespace or quote; credentials end at '@'.
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, _password)) => {
                        out.push_str(user);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_through_storage_format() {
        let ts = parse_time("2024-01-15T10:30:02.123Z").unwrap();
        let raw = format_line(ts, Level::Notice, "3 inflations queued: A, B, C");
        assert_eq!(
            raw,
            "2024-01-15T10:30:02.123Z NOTICE 3 inflations queued: A, B, C"
        );
        let line = parse_line(7, &raw);
        assert_eq!(line.cursor, 7);
        assert_eq!(line.timestamp, ts);
        assert_eq!(line.level, Level::Notice);
        assert_eq!(line.message, "3 inflations queued: A, B, C");
    }

    #[test]
    fn hand_written_lines_are_kept() {
        let line = parse_line(0, "garbage");
        assert_eq!(line.message, "garbage");
        assert_eq!(line.level, Level::Info);
    }

    #[test]
    fn levels_parse_case_insensitively_and_order() {
        assert_eq!("warning".parse::<Level>().unwrap(), Level::Warn);
        assert_eq!("notice".parse::<Level>().unwrap(), Level::Notice);
        assert!("loud".parse::<Level>().is_err());
        assert!(Level::Notice > Level::Info && Level::Error > Level::Warn);
    }

    #[test]
    fn since_accepts_rfc3339_and_milliseconds() {
        assert_eq!(
            parse_time("1705314602123").unwrap(),
            parse_time("2024-01-15T10:30:02.123Z").unwrap()
        );
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(visible_controls("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(
            visible_controls("\u{1b}[31mred\u{0}\r\u{7f}\u{85}\u{202e}exe"),
            "␛[31mred␀␍␡<U+0085><U+202E>exe"
        );
    }

    #[test]
    fn url_passwords_and_secrets_are_redacted() {
        let r = Redactor::new(["ghp_supersecrettoken"]);
        assert_eq!(
            r.redact("cloning https://bot:hunter2@example.com/x.git with ghp_supersecrettoken"),
            "cloning https://bot:***@example.com/x.git with ***"
        );
        assert_eq!(
            r.redact("redis://:pw@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(
            r.redact("https://example.com/a@b"),
            "https://example.com/a@b"
        );
        assert_eq!(r.redact("user@host, no url"), "user@host, no url");
    }
}
