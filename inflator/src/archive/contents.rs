//! What the steps read from inside a download, each as its CKAN counterpart reads it:
//! internal `.ckan` files (`ModuleService.GetInternalCkans`), `install_size`
//! (`InstallSizeTransformer`), locales of the installed `.cfg` files
//! (`LocalizationsTransformer`), `swinfo.json` files (`GetInternalSpaceWarpInfos`) and the text
//! of any entry.

use std::sync::LazyLock;

use fancy_regex::Regex;
use netkan_common::ckan::{Object, Typing, parse_documents};

use super::avc::decode_text;
use super::install::{InstallError, InstallFileSet, ends_with_ignore_case};
use super::zip::{Archive, ArchiveError};

/// Why reading the contents failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error("{0}")]
    Archive(String),
    #[error("{0}")]
    Parse(String),
}

impl From<ArchiveError> for ContentError {
    fn from(e: ArchiveError) -> Self {
        ContentError::Archive(e.to_string())
    }
}

/// The text of an entry, decoded as `StreamReader.ReadToEnd` decodes it.
///
/// # Errors
/// The archive's error reading it.
pub fn entry_text(archive: &Archive, entry: usize) -> Result<String, ArchiveError> {
    Ok(decode_text(&archive.read(entry)?))
}

/// `ModuleInstaller.IsInternalCkan`: the name ends with `.ckan`, ignoring case.
pub fn is_internal_ckan(name: &str) -> bool {
    ends_with_ignore_case(name, ".ckan")
}

/// Every document of every internal `.ckan` file: among the installed files if the module has
/// an `install` property, anywhere in the archive otherwise. Each file is read as YAML with
/// CKAN's typing, and may hold several documents.
///
/// # Errors
/// The stanzas' error (when they are used), an unreadable entry, or a YAML syntax error
/// naming the file.
pub fn internal_ckans(files: &InstallFileSet<'_>) -> Result<Vec<Object>, ContentError> {
    let archive = files.archive();
    let entries: Vec<usize> = if files.plan().explicit {
        files.by_suffix(".ckan")?.map(|f| f.entry).collect()
    } else {
        (0..archive.entries().len())
            .filter(|&i| is_internal_ckan(&archive.entries()[i].name))
            .collect()
    };
    let mut docs = Vec::new();
    for entry in entries {
        let text = entry_text(archive, entry)?;
        let parsed = parse_documents(&text, Typing::Netkan).map_err(|e| {
            ContentError::Parse(format!(
                "Error parsing internal .ckan file {}: {e}",
                archive.entries()[entry].name
            ))
        })?;
        docs.extend(parsed);
    }
    Ok(docs)
}

/// `install_size`: the declared uncompressed sizes of the installed files, directories and
/// internal `.ckan` files left out.
///
/// # Errors
/// The stanzas' error.
pub fn install_size(files: &InstallFileSet<'_>) -> Result<u64, InstallError> {
    let entries = files.archive().entries();
    Ok(files
        .non_dirs()?
        .filter(|f| !is_internal_ckan(&entries[f.entry].name))
        .map(|f| entries[f.entry].size)
        .sum())
}

static LOCALIZATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?ms)^\s*Localization\b\s*\{(?<contents>[^{}]+(\{[^{}]*\}[^{}]*)+)\}")
        .expect("the Localization block pattern compiles")
});
static LOCALE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?ms)^\s*(?<locale>[-a-zA-Z]+).*?\{(?<contents>.*?)\}")
        .expect("the locale pattern compiles")
});

/// The locales of one `.cfg` text: each `Localization { <locale> { key = value } }` block's
/// locales whose block holds a `=`.
fn locales_in(text: &str, out: &mut Vec<String>) {
    // Both patterns are plain regular expressions, so the engine cannot give up on them;
    // a failed match simply ends the scan.
    for block in LOCALIZATION.captures_iter(text).map_while(Result::ok) {
        let Some(contents) = block.name("contents") else {
            continue;
        };
        for locale in LOCALE
            .captures_iter(contents.as_str())
            .map_while(Result::ok)
        {
            let has_value = locale
                .name("contents")
                .is_some_and(|c| c.as_str().contains('='));
            if let (true, Some(name)) = (has_value, locale.name("locale")) {
                out.push(name.as_str().to_owned());
            }
        }
    }
}

/// The distinct locales of the installed `.cfg` files, in culture order.
///
/// # Errors
/// The stanzas' error, or an unreadable entry.
pub fn localizations(files: &InstallFileSet<'_>) -> Result<Vec<String>, ContentError> {
    let mut found = Vec::new();
    for cfg in files.by_suffix(".cfg")? {
        locales_in(&entry_text(files.archive(), cfg.entry)?, &mut found);
    }
    let mut distinct: Vec<String> = Vec::new();
    for l in found {
        if !distinct.contains(&l) {
            distinct.push(l);
        }
    }
    distinct.sort_by(|a, b| netkan_common::ckan::write::culture_compare(a, b));
    Ok(distinct)
}

/// `GetInternalSpaceWarpInfos`: with a path, the installed entries named exactly that;
/// otherwise the installed files whose destination ends with `swinfo.json`. Entry indexes, in
/// order (callers read only as many as they need).
///
/// # Errors
/// The stanzas' error.
pub fn space_warp_info_entries(
    files: &InstallFileSet<'_>,
    path: Option<&str>,
) -> Result<Vec<usize>, InstallError> {
    let entries = files.archive().entries();
    Ok(match path.filter(|p| !p.is_empty()) {
        Some(p) => files
            .files()?
            .iter()
            .filter(|f| entries[f.entry].name == p)
            .map(|f| f.entry)
            .collect(),
        None => files.by_suffix("swinfo.json")?.map(|f| f.entry).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_need_a_value_in_their_block() {
        let mut out = Vec::new();
        locales_in(
            "Localization\n{\n    en-us\n    {\n        key = val\n    }\n    fr-fr\n    {\n    }\n}\n",
            &mut out,
        );
        assert_eq!(out, ["en-us"]);
    }
}
