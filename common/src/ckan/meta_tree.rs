//! The highest version and highest prerelease version of every identifier in a CKAN-meta tree
//! (NetKAN-Infra `CkanMetaRepo.highest_version` / `highest_version_prerelease`), which the
//! scheduler sends to the inflator as `HighestVersion` / `HighestVersionPrerelease`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::module::is_valid_identifier;
use super::{CkanError, Module, ModuleVersion, parse_ckan};

/// The highest versions of one identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HighestVersions {
    /// Highest among files whose `release_status` is not `testing` / `development`.
    pub stable: Option<ModuleVersion>,
    /// Highest among prerelease files.
    pub prerelease: Option<ModuleVersion>,
}

impl HighestVersions {
    /// Folds one module in. Ties keep the first seen (CKAN versions can be equal while
    /// spelled differently, `1.01` / `1.1`).
    pub fn add(&mut self, version: ModuleVersion, prerelease: bool) {
        let slot = if prerelease {
            &mut self.prerelease
        } else {
            &mut self.stable
        };
        if slot.as_ref().is_none_or(|best| version > *best) {
            *slot = Some(version);
        }
    }
}

/// The result of scanning a CKAN-meta tree.
#[derive(Debug, Default)]
pub struct MetaTree {
    pub modules: BTreeMap<String, HighestVersions>,
    /// Files that could not be read, parsed or had no usable `version`.
    pub errors: Vec<CkanError>,
}

/// CKAN-meta's identifier directories: top-level directories named like an identifier that
/// hold at least one `.ckan` (`CkanMetaRepo.identifiers`).
pub fn identifier_dirs(root: &Path) -> Result<Vec<(String, PathBuf)>, CkanError> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(root).map_err(|e| CkanError::Read(e).in_file(root))? {
        let entry = entry.map_err(|e| CkanError::Read(e).in_file(root))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !is_valid_identifier(&name) || !entry.path().is_dir() {
            continue;
        }
        if !ckan_files(&entry.path()).is_empty() {
            dirs.push((name, entry.path()));
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn ckan_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ckan") && p.is_file())
        .collect();
    files.sort();
    files
}

/// The highest versions of the `.ckan` files in one identifier directory.
pub fn highest_in_dir(dir: &Path, errors: &mut Vec<CkanError>) -> HighestVersions {
    let mut best = HighestVersions::default();
    for file in ckan_files(dir) {
        let read = fs::read_to_string(&file)
            .map_err(CkanError::Read)
            .and_then(|text| parse_ckan(&text))
            .and_then(|json| {
                let module = Module::new(&json);
                let version = module
                    .version()?
                    .ok_or_else(|| CkanError::field("$.version", "missing"))?;
                Ok((version, module.is_prerelease()))
            });
        match read {
            Ok((version, prerelease)) => best.add(version, prerelease),
            Err(e) => errors.push(e.in_file(&file)),
        }
    }
    best
}

/// Scans a whole CKAN-meta tree, on all cores.
pub fn scan(root: &Path) -> Result<MetaTree, CkanError> {
    let dirs = identifier_dirs(root)?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = dirs.len().div_ceil(workers).max(1);
    let mut tree = MetaTree::default();
    std::thread::scope(|scope| {
        let handles: Vec<_> = dirs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut errors = Vec::new();
                    let found: Vec<(String, HighestVersions)> = part
                        .iter()
                        .map(|(id, dir)| (id.clone(), highest_in_dir(dir, &mut errors)))
                        .collect();
                    (found, errors)
                })
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok((found, errors)) => {
                    tree.modules.extend(found);
                    tree.errors.extend(errors);
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) {
        fs::write(dir.join(name), body).expect("write fixture");
    }

    #[test]
    fn netkan_infra_fixture_tree() {
        // tests/repos.py: AmazingMod v1.1 beats 1.3; AwesomeMod 0.11 beats 0.9; epochs win.
        let root = tempfile::tempdir().expect("tempdir");
        for (id, versions) in [
            ("AdequateMod", &["0.1", "1:0.2"][..]),
            ("AmazingMod", &["1.3", "v1.1"][..]),
            ("AwesomeMod", &["0.9", "0.11"][..]),
        ] {
            let dir = root.path().join(id);
            fs::create_dir(&dir).expect("mkdir");
            for v in versions {
                write(
                    &dir,
                    &crate::ckan::names::ckan_file_name(id, v),
                    &format!("{{\"identifier\": \"{id}\", \"version\": \"{v}\"}}"),
                );
            }
        }
        let pre = root.path().join("AwesomeMod");
        write(
            &pre,
            "AwesomeMod-0.12-beta.ckan",
            "{\"identifier\": \"AwesomeMod\", \"version\": \"0.12-beta\", \"release_status\": \"testing\"}",
        );
        fs::create_dir(root.path().join("_not_an_id")).expect("mkdir");
        fs::create_dir(root.path().join("Empty")).expect("mkdir");

        let ids: Vec<String> = identifier_dirs(root.path())
            .expect("lists")
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, ["AdequateMod", "AmazingMod", "AwesomeMod"]);

        let tree = scan(root.path()).expect("scans");
        assert!(tree.errors.is_empty(), "{:?}", tree.errors);
        let stable = |id: &str| {
            tree.modules[id]
                .stable
                .as_ref()
                .map(|v| v.as_str().to_owned())
        };
        assert_eq!(stable("AdequateMod").as_deref(), Some("1:0.2"));
        assert_eq!(stable("AmazingMod").as_deref(), Some("v1.1"));
        assert_eq!(stable("AwesomeMod").as_deref(), Some("0.11"));
        assert_eq!(
            tree.modules["AwesomeMod"]
                .prerelease
                .as_ref()
                .map(ModuleVersion::as_str),
            Some("0.12-beta")
        );
        assert_eq!(tree.modules["AmazingMod"].prerelease, None);
    }
}
