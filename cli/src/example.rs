//! The example mod `netkan up` seeds into the local repositories it creates, so that a
//! newcomer can push a change and watch it travel push → inflate → index → mirror with no
//! account anywhere: its `$kref` is an `http` URL of an archive that `netkan up` itself
//! serves from `web.files_dir`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// The example's identifier.
pub(crate) const IDENTIFIER: &str = "ExampleMod";
/// The archive's file name under `web.files_dir`.
pub(crate) const ARCHIVE: &str = "ExampleMod-1.0.zip";

/// The `.netkan`, pointing at the archive under `base_url`.
pub(crate) fn netkan(base_url: &str) -> String {
    format!(
        r#"# An example mod, served by `netkan up` itself. Change something (the version, the
# abstract), commit and push: the push is inflated into a .ckan, committed to the local
# CKAN-meta and mirrored, and `git push` prints the job's log URL.
spec_version: v1.4
identifier: {IDENTIFIER}
name: Example Mod
abstract: An example mod to try netkan with
author: netkan
license: MIT
version: '1.0'
$kref: '#/ckan/http/{base}/files/{ARCHIVE}'
$vref: '#/ckan/ksp-avc'
tags:
  - config
"#,
        base = base_url.trim_end_matches('/'),
    )
}

/// Writes the example archive into `dir` (once): `GameData/ExampleMod/` with a config file
/// and a KSP-AVC `.version` file that gives the game versions.
pub(crate) fn write_archive(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(ARCHIVE);
    if path.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(".{ARCHIVE}.tmp"));
    let file = std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default();
    let entries: [(&str, &str); 3] = [
        (
            "GameData/ExampleMod/ExampleMod.cfg",
            "// The example mod of `netkan up`: it changes nothing in the game.\n",
        ),
        (
            "GameData/ExampleMod/ExampleMod.version",
            r#"{
    "NAME": "Example Mod",
    "VERSION": {"MAJOR": 1, "MINOR": 0, "PATCH": 0},
    "KSP_VERSION_MIN": {"MAJOR": 1, "MINOR": 8, "PATCH": 0},
    "KSP_VERSION_MAX": {"MAJOR": 1, "MINOR": 12, "PATCH": 99}
}
"#,
        ),
        (
            "GameData/ExampleMod/README.md",
            "# Example Mod\n\nServed by `netkan up` to show a push travelling through NetKAN.\n",
        ),
    ];
    for (name, text) in entries {
        zip.start_file(name, options)?;
        zip.write_all(text.as_bytes())?;
    }
    zip.finish()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Gives an empty bare repository a first commit on its `HEAD` branch holding `files`
/// (path → contents). Does nothing if the repository has commits already.
pub(crate) fn seed(repo: &Path, message: &str, files: &[(&str, String)]) -> anyhow::Result<bool> {
    let repo =
        git2::Repository::open_bare(repo).with_context(|| format!("opening {}", repo.display()))?;
    if repo.head().is_ok() {
        return Ok(false);
    }
    let mut root = NestedTree::default();
    for (path, text) in files {
        let blob = repo.blob(text.as_bytes())?;
        root.insert(path, blob);
    }
    let tree = root.write(&repo)?;
    let tree = repo.find_tree(tree)?;
    let who = git2::Signature::now("netkan up", "netkan@localhost")?;
    // HEAD names the branch to be born (`main`); committing to it creates it.
    repo.commit(Some("HEAD"), &who, &who, message, &tree, &[])
        .with_context(|| format!("committing to {}", repo.path().display()))?;
    Ok(true)
}

/// A directory tree built before it is written, because git2's tree builder works one level
/// at a time.
#[derive(Default)]
struct NestedTree {
    files: Vec<(String, git2::Oid)>,
    dirs: Vec<(String, NestedTree)>,
}

impl NestedTree {
    fn insert(&mut self, path: &str, blob: git2::Oid) {
        match path.split_once('/') {
            None => self.files.push((path.to_owned(), blob)),
            Some((dir, rest)) => {
                let idx = match self.dirs.iter().position(|(d, _)| d == dir) {
                    Some(i) => i,
                    None => {
                        self.dirs.push((dir.to_owned(), NestedTree::default()));
                        self.dirs.len() - 1
                    }
                };
                self.dirs[idx].1.insert(rest, blob);
            }
        }
    }

    fn write(&self, repo: &git2::Repository) -> Result<git2::Oid, git2::Error> {
        let mut builder = repo.treebuilder(None)?;
        for (name, blob) in &self.files {
            builder.insert(name, *blob, 0o100644)?;
        }
        for (name, tree) in &self.dirs {
            builder.insert(name, tree.write(repo)?, 0o040000)?;
        }
        builder.write()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_a_valid_netkan_naming_its_archive() {
        let text = netkan("http://127.0.0.1:8080/");
        let docs = netkan_common::ckan::parse_netkan(&text).unwrap();
        let module = netkan_common::ckan::Module::new(&docs[0]);
        assert_eq!(module.identifier().unwrap(), IDENTIFIER);
        match module.kref().unwrap() {
            Some(netkan_common::ckan::Kref::Http { url }) => {
                assert_eq!(url, format!("http://127.0.0.1:8080/files/{ARCHIVE}"));
            }
            other => panic!("unexpected kref {other:?}"),
        }
    }

    #[test]
    fn seeding_commits_nested_files_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = git2::RepositoryInitOptions::new();
        opts.bare(true).initial_head("main");
        let repo = git2::Repository::init_opts(dir.path(), &opts).unwrap();
        let files = [("NetKAN/ExampleMod.netkan", "x".to_owned())];
        assert!(seed(dir.path(), "first", &files).unwrap());
        assert!(!seed(dir.path(), "again", &files).unwrap());
        let head = repo.head().unwrap();
        assert_eq!(head.name(), Some("refs/heads/main"));
        let tree = head.peel_to_tree().unwrap();
        let entry = tree
            .get_path(Path::new("NetKAN/ExampleMod.netkan"))
            .unwrap();
        assert_eq!(
            repo.find_blob(entry.id()).unwrap().content(),
            b"x".as_slice()
        );
    }
}
