//! The real data of `shared/ckan-real/`: its 65 `.ckan` files, and the complete CKAN-meta
//! tree (`corpus/CKAN-meta.tar.gz`) as a bare git repository, built once per target
//! directory (under `target/tmp/`) and copied cheaply (hard links) for each test.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::world::{git, log_ref_updates};

/// `shared/ckan-real`: `$CKAN_REAL_DIR`, else the nearest ancestor of this crate holding
/// `shared/ckan-real` (the worktrees live below the directory that holds `shared/`).
pub fn ckan_real() -> PathBuf {
    if let Some(d) = std::env::var_os("CKAN_REAL_DIR") {
        return PathBuf::from(d);
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/ckan-real"))
        .find(|d| d.join("corpus").is_dir())
        .unwrap_or_else(|| {
            panic!(
                "the real-data corpus shared/ckan-real is not beside any parent of {}; set CKAN_REAL_DIR",
                here.display()
            )
        })
}

/// The 65 real `.ckan` files: (identifier, file name, text).
pub fn real_ckans() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(ckan_real().join("ckan")).unwrap() {
        let dir = dir.unwrap();
        let id = dir.file_name().into_string().unwrap();
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let f = f.unwrap();
            let name = f.file_name().into_string().unwrap();
            if name.ends_with(".ckan") {
                out.push((id.clone(), name, std::fs::read_to_string(f.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The bare repository of the whole CKAN-meta corpus (one commit on `master`), built on first
/// use; a file lock keeps parallel test processes from building it twice.
pub fn corpus_bare() -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ckan-meta-git");
    std::fs::create_dir_all(&root).unwrap();
    let lock = File::create(root.join(".lock")).unwrap();
    lock.lock().unwrap();
    let bare = root.join("CKAN-meta.git");
    if !root.join(".complete").exists() {
        let src = root.join("src");
        let _ = std::fs::remove_dir_all(&src);
        let _ = std::fs::remove_dir_all(&bare);
        std::fs::create_dir_all(&src).unwrap();
        let tarball = ckan_real().join("corpus/CKAN-meta.tar.gz");
        untar(&tarball, &src);
        let tree = src.join("CKAN-meta");
        git(&tree, &["init", "-q", "-b", "master"]);
        git(&tree, &["add", "-A"]);
        git(&tree, &["commit", "-q", "-m", "CKAN-meta corpus"]);
        git(
            &root,
            &[
                "clone",
                "-q",
                "--bare",
                tree.to_str().unwrap(),
                bare.to_str().unwrap(),
            ],
        );
        git(&bare, &["gc", "-q"]);
        std::fs::remove_dir_all(&src).unwrap();
        File::create(root.join(".complete")).unwrap();
    }
    bare
}

fn untar(tarball: &Path, into: &Path) {
    let status = std::process::Command::new("tar")
        .arg("xzf")
        .arg(tarball)
        .arg("-C")
        .arg(into)
        .status()
        .expect("tar is installed");
    assert!(status.success(), "unpacking {}", tarball.display());
}

/// A private bare copy of the corpus repository at `dest`, whose pushes are logged.
pub fn corpus_copy(dest: &Path) -> PathBuf {
    let bare = corpus_bare();
    git(
        dest.parent().unwrap(),
        &[
            "clone",
            "-q",
            "--bare",
            "--local",
            bare.to_str().unwrap(),
            dest.to_str().unwrap(),
        ],
    );
    log_ref_updates(dest);
    dest.to_owned()
}
