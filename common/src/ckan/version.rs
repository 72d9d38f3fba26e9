//! [`ModuleVersion`]: a mod's `[epoch:]version` and CKAN's ordering of them, a port of
//! `Core/Versioning/ModuleVersion.cs` (`CompareTo`) with its quirks kept.

use std::cmp::Ordering;
use std::fmt;

use super::CkanError;

/// A CKAN mod version. Ordering and equality are CKAN's (`1.01 == 1.1`); the original text is kept
/// for display and file names. There is deliberately no `Hash`: CKAN hashes `(epoch, version)`
/// while equality is `CompareTo == 0`, which Rust's `Hash`/`Eq` contract forbids; use
/// [`ModuleVersion::grouping_key`] where the inflator groups by version.
#[derive(Debug, Clone)]
pub struct ModuleVersion {
    epoch: u32,
    /// The text after the epoch.
    version: String,
    /// The whole original text.
    text: String,
}

impl ModuleVersion {
    /// Parses `[epoch:]version` like the C# constructor: regex
    /// `^(?:(?<epoch>[0-9]+):)?(?<version>.*)$`, then `Convert.ToInt32(epoch)`.
    pub fn parse(text: &str) -> Result<ModuleVersion, CkanError> {
        let invalid = |reason: &str| CkanError::Version {
            version: text.to_owned(),
            reason: reason.to_owned(),
        };
        // .NET's `.` stops at `\n` and `$` may match before one final `\n`, so only a trailing
        // newline is allowed, and it is not part of the version.
        let body = text.strip_suffix('\n').unwrap_or(text);
        if body.contains('\n') {
            return Err(invalid("a version is one line"));
        }
        let digits = body.bytes().take_while(u8::is_ascii_digit).count();
        let (epoch, version) = if digits > 0 && body.as_bytes().get(digits) == Some(&b':') {
            let epoch: i32 = body[..digits]
                .parse()
                .map_err(|_| invalid("the epoch does not fit a 32-bit integer"))?;
            (
                u32::try_from(epoch).expect("digits only, so not negative"),
                &body[digits + 1..],
            )
        } else {
            (0, body)
        };
        Ok(ModuleVersion {
            epoch,
            version: version.to_owned(),
            text: text.to_owned(),
        })
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The version without its epoch.
    pub fn without_epoch(&self) -> &str {
        &self.version
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `IncrementEpoch`: `"{epoch + 1}:{version}"`.
    pub fn increment_epoch(&self) -> ModuleVersion {
        let text = format!("{}:{}", u64::from(self.epoch) + 1, self.version);
        ModuleVersion::parse(&text).unwrap_or(ModuleVersion {
            epoch: self.epoch.saturating_add(1),
            version: self.version.clone(),
            text,
        })
    }

    /// What CKAN's `GetHashCode` uses: versions that compare equal but are spelled differently
    /// (`1.01` / `1.1`) are different groups when the inflator merges documents by version.
    pub fn grouping_key(&self) -> (u32, &str) {
        (self.epoch, &self.version)
    }

    /// `ModuleVersion.CompareTo`.
    pub fn compare(&self, other: &ModuleVersion) -> Ordering {
        if self.epoch == other.epoch && self.version == other.version {
            return Ordering::Equal;
        }
        if self.epoch != other.epoch {
            return self.epoch.cmp(&other.epoch);
        }
        compare_versions(&self.version, &other.version)
    }
}

/// The outcome of [`auto_epoch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoEpoch {
    /// The version with the epoch it needs to sort above the highest one.
    pub version: ModuleVersion,
    /// `start < highest < final` with a new epoch: the release is out of order. The inflator
    /// stages it ("Auto-epoching out of order version: …"), or fails on a flaky host.
    pub out_of_order: bool,
}

/// The auto-epoching step of `EpochTransformer`: while `version < highest`, increment the epoch.
/// Epochs below `highest`'s can never win, so the loop starts there (CKAN counts up one by one;
/// the result is the same).
pub fn auto_epoch(version: &ModuleVersion, highest: &ModuleVersion) -> AutoEpoch {
    let mut current = version.clone();
    if current < *highest && current.epoch < highest.epoch {
        current = ModuleVersion {
            epoch: highest.epoch,
            text: format!("{}:{}", highest.epoch, current.version),
            version: current.version,
        };
    }
    while current < *highest {
        current = current.increment_epoch();
    }
    let out_of_order = current.epoch != highest.epoch && *version < *highest && *highest < current;
    AutoEpoch {
        version: current,
        out_of_order,
    }
}

/// The run-by-run comparison of two epoch-less versions (Spec.md "Version ordering").
fn compare_versions(v1: &str, v2: &str) -> Ordering {
    let mut first = v1;
    let mut second = v2;
    while !first.is_empty() && !second.is_empty() {
        let (s1, rest1) = split_run(first, false);
        let (s2, rest2) = split_run(second, false);
        let ord = compare_string_runs(s1, s2);
        if ord != Ordering::Equal {
            return ord;
        }
        let (n1, rest1) = split_run(rest1, true);
        let (n2, rest2) = split_run(rest2, true);
        let ord = number_value(n1).cmp(&number_value(n2));
        if ord != Ordering::Equal {
            return ord;
        }
        first = rest1;
        second = rest2;
    }
    match (first.is_empty(), second.is_empty()) {
        (true, true) => Ordering::Equal,
        // Whichever runs out first is smaller (1.2 < 1.2.3).
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// `char.IsNumber` on a UTF-16 code unit: Unicode Nd/Nl/No, and never a surrogate half, so
/// numbers outside the BMP do not count.
fn is_number(c: char) -> bool {
    u32::from(c) <= 0xFFFF && c.is_numeric()
}

/// Splits the leading run of non-numbers (`digits == false`) or numbers (`digits == true`).
fn split_run(s: &str, digits: bool) -> (&str, &str) {
    let end = s
        .char_indices()
        .find(|&(_, c)| is_number(c) != digits)
        .map_or(s.len(), |(i, _)| i);
    s.split_at(end)
}

/// `int.TryParse` of a run of numbers; a failure (empty, overflow, non-ASCII digits) counts as 0.
fn number_value(run: &str) -> i32 {
    if run.is_empty() || !run.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    run.parse().unwrap_or(0)
}

/// The string-run rule: `.` sorts above anything else, a bare `.` above `.xyz`, two longer
/// `.`-runs are equal (so `1.a1 == 1.b1`), otherwise `string.CompareOrdinal` (UTF-16 order).
fn compare_string_runs(s1: &str, s2: &str) -> Ordering {
    match (s1.chars().next(), s2.chars().next()) {
        (Some(a), Some(b)) if a != '.' && b == '.' => Ordering::Less,
        (Some(a), Some(b)) if a == '.' && b != '.' => Ordering::Greater,
        (Some('.'), Some('.')) => {
            if s1.len() == 1 && s2.len() > 1 {
                Ordering::Greater
            } else if s1.len() > 1 && s2.len() == 1 {
                Ordering::Less
            } else {
                Ordering::Equal
            }
        }
        _ => s1.encode_utf16().cmp(s2.encode_utf16()),
    }
}

impl PartialEq for ModuleVersion {
    fn eq(&self, other: &ModuleVersion) -> bool {
        self.compare(other) == Ordering::Equal
    }
}

impl Eq for ModuleVersion {}

impl PartialOrd for ModuleVersion {
    fn partial_cmp(&self, other: &ModuleVersion) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ModuleVersion {
    fn cmp(&self, other: &ModuleVersion) -> Ordering {
        self.compare(other)
    }
}

impl fmt::Display for ModuleVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for ModuleVersion {
    type Err = CkanError;
    fn from_str(s: &str) -> Result<ModuleVersion, CkanError> {
        ModuleVersion::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ModuleVersion {
        ModuleVersion::parse(s).expect("valid version")
    }

    fn assert_less(a: &str, b: &str) {
        assert!(v(a) < v(b), "{a} < {b}");
        assert!(v(b) > v(a), "{b} > {a}");
    }

    #[test]
    fn module_version_tests_from_ckan() {
        // Tests/Core/Versioning/ModuleVersionTests.cs
        assert_less("apple", "banana");
        assert_less("1.2.0", "1.2.1");
        assert_eq!(v("1.01"), v("1.1"));
        assert_less("1.0_beta", "1.0.1_beta");
        assert_less("1.1.0.0", "1.1.1");
        assert_less("v6a5", "v6a12");
        assert_less("1.2.0", "1:1.2.0");
        assert_less("1.20", "1.22a");
        assert_ne!(v("1:1"), v("2:1"));
    }

    #[test]
    fn epoch_transformer_vectors() {
        assert_less("v2.5", "vV2.4");
        assert_less("2.5", "v2.4");
        assert_less("0.7", "0.65");
    }

    #[test]
    fn auto_epoch_vectors() {
        // EpochTransformerTests: HighestVersion 5:1.2 with 1.1 → 6:1.1, staged.
        let r = auto_epoch(&v("1.1"), &v("5:1.2"));
        assert_eq!(r.version.as_str(), "6:1.1");
        assert!(r.out_of_order);
        // HighestVersion 5:1.1 with 1.1 → 5:1.1, not staged.
        let r = auto_epoch(&v("1.1"), &v("5:1.1"));
        assert_eq!(r.version.as_str(), "5:1.1");
        assert!(!r.out_of_order);
        // Already higher: unchanged.
        let r = auto_epoch(&v("1.3"), &v("1.2"));
        assert_eq!(r.version.as_str(), "1.3");
        assert!(!r.out_of_order);
        // Same epoch, lower version: one more epoch, out of order.
        let r = auto_epoch(&v("0.9"), &v("1.0"));
        assert_eq!(r.version.as_str(), "1:0.9");
        assert!(r.out_of_order);
        // A huge epoch does not loop forever.
        let r = auto_epoch(&v("1.0"), &v("2000000000:1.0"));
        assert_eq!(r.version.as_str(), "2000000000:1.0");
    }

    #[test]
    fn netkan_infra_vectors() {
        assert_eq!(v("1.2.0"), v("1.2.0"));
        assert_less("1.0", "1.0.repackaged");
        assert_less("1.0.repackaged", "1.0.1");
        assert_less("1.0", "2.0");
        // all_latest_modules: v1.1 beats 1.3 because "" < "v"; 0.11 beats 0.9.
        assert_less("1.3", "v1.1");
        assert_less("0.9", "0.11");
    }

    #[test]
    fn quirks_are_kept() {
        // Shorter is smaller.
        assert_less("1.0", "1.0.0");
        // Two longer dot-runs are equal.
        assert_eq!(v("1.a1"), v("1.b1"));
        // A bare dot beats `.xyz`.
        assert_less("1.x1", "1.1");
        // Numbers that overflow int32 count as 0.
        assert_eq!(v("1.99999999999"), v("1.0"));
        // Unicode digits are numbers, but parse as 0.
        assert_eq!(v("1.٣"), v("1.0"));
        // Identical text is equal before anything else.
        assert_eq!(v("x").compare(&v("x")), Ordering::Equal);
        assert_less("", "1");
    }

    #[test]
    fn epoch_is_parsed_like_the_constructor() {
        assert_eq!(v("5:1.2").epoch(), 5);
        assert_eq!(v("5:1.2").without_epoch(), "1.2");
        assert_eq!(v(":1").epoch(), 0);
        assert_eq!(v("a:1").without_epoch(), "a:1");
        assert!(ModuleVersion::parse("99999999999:1").is_err());
        assert!(ModuleVersion::parse("1\n2").is_err());
        assert_eq!(v("1.1").increment_epoch().as_str(), "1:1.1");
        assert_eq!(v("5:1.1").increment_epoch().as_str(), "6:1.1");
        assert_eq!(v("1.01").grouping_key(), (0, "1.01"));
    }
}
