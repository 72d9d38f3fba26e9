//! Acceptance over the real corpora in `shared/ckan-real/corpus/` (KSP-CKAN/NetKAN and
//! KSP-CKAN/CKAN-meta): every file is read without a crash, and exactly the figures of
//! `docs/CKAN-CONFORMANCE.md` hold: the files that do not parse and why, the valid counts, the
//! `.ckan` files that round-trip byte for byte (and that the others differ in formatting
//! only, not in a value), the files in canonical order, and the highest versions, which agree
//! with an independent port of the reference rules (`tests/data/ckan-meta-highest.tsv`, from
//! NetKAN-Infra's Python ordering).
//!
//! The tarballs are unpacked once into `target/tmp/ckan-corpus/` and reused by later runs.
//! Set `CKAN_REAL_DIR` to point at another copy of `ckan-real/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use netkan_common::ckan::meta_tree;
use netkan_common::ckan::write::{is_canonical_order, to_ckan_string};
use netkan_common::ckan::{
    SchemaKind, Schemas, Typing, mix_documents, parse_ckan, parse_documents,
};
use serde_json::Value;

fn ckan_real() -> PathBuf {
    let dir = std::env::var_os("CKAN_REAL_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/ckan-real"),
        PathBuf::from,
    );
    assert!(
        dir.join("corpus").is_dir(),
        "the real-data corpus is missing at {}: check out shared/ beside the repository or set CKAN_REAL_DIR",
        dir.display()
    );
    dir
}

/// Unpacks `corpus/<name>.tar.gz` once (atomically, so parallel test processes agree) and
/// returns the directory holding `<name>/`.
fn corpus(name: &str) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ckan-corpus");
    let done = base.join(name);
    if done.join(".complete").exists() {
        return done;
    }
    let staging = base.join(format!(".{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).expect("create the corpus directory");
    let tarball = ckan_real().join(format!("corpus/{name}.tar.gz"));
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&staging)
        .status()
        .expect("run tar (is it installed?)");
    assert!(status.success(), "tar xzf {} failed", tarball.display());
    std::fs::write(staging.join(".complete"), "").expect("mark complete");
    let _ = std::fs::remove_dir_all(&done);
    if std::fs::rename(&staging, &done).is_err() {
        // Another process won the race; its copy is complete.
        let _ = std::fs::remove_dir_all(&staging);
    }
    done
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read corpus dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.file_name().is_some_and(|n| n != ".complete") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// Runs `f` over the files on every core and collects the results in order.
fn par_map<T: Send>(files: &[PathBuf], f: impl Fn(&Path) -> T + Sync) -> Vec<T> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(|p| f(p)).collect::<Vec<T>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker panicked"))
            .collect()
    })
}

fn ext(path: &Path) -> &str {
    path.extension().and_then(|e| e.to_str()).unwrap_or("")
}

/// Reads, parses and schema-validates one file; returns whether it parsed, and its invalid
/// reasons.
fn read_one(path: &Path, netkan_repo: bool) -> (bool, Vec<String>) {
    let text = std::fs::read_to_string(path).expect("corpus files are UTF-8");
    let typing = if netkan_repo {
        Typing::Netkan
    } else {
        Typing::Ckan
    };
    let docs = match parse_documents(&text, typing) {
        Ok(docs) if !docs.is_empty() => docs,
        Ok(_) => return (false, vec!["no mapping document".to_owned()]),
        Err(e) => return (false, vec![e.to_string()]),
    };
    let kind = match (netkan_repo, ext(path)) {
        (true, _) => Some(SchemaKind::Netkan),
        (false, "ckan" | "frozen" | "kerbalstuff") => Some(SchemaKind::Ckan),
        _ => None,
    };
    let mut reasons = Vec::new();
    // As `netkan ckan check` does: a multi-document netkan is validated per host section,
    // after the shared fields are mixed in (the inflator's way).
    let docs = if netkan_repo {
        mix_documents(&docs)
    } else {
        docs
    };
    if let Some(kind) = kind {
        for doc in docs {
            let doc = Value::Object(doc);
            reasons.extend(
                Schemas::global()
                    .validate(kind, &doc)
                    .into_iter()
                    .map(|e| e.to_string()),
            );
        }
    }
    (true, reasons)
}

/// Files of one extension checked against a schema: (valid, all).
type Validity = BTreeMap<String, (usize, usize)>;

fn read_corpus(name: &str, expected_files: usize) -> Validity {
    let root = corpus(name);
    let files = files_under(&root.join(name));
    assert_eq!(files.len(), expected_files, "files in {name}.tar.gz");
    let netkan_repo = name == "NetKAN";
    let results = par_map(&files, |p| read_one(p, netkan_repo));
    let mut unparsed = Vec::new();
    let mut invalid = 0;
    let mut validity = Validity::new();
    for (path, (parsed, reasons)) in files.iter().zip(&results) {
        let counts = validity.entry(ext(path).to_owned()).or_default();
        counts.1 += 1;
        if !parsed {
            unparsed.push(format!("{}: {}", path.display(), reasons.join("; ")));
        } else if !reasons.is_empty() {
            invalid += 1;
        } else {
            counts.0 += 1;
        }
    }
    eprintln!("{name}: valid of all, by extension: {validity:?}");
    eprintln!(
        "{name}: {} files read, {} unparsable, {invalid} invalid",
        files.len(),
        unparsed.len()
    );
    // Nothing panicked. What did not parse must be what is known to be broken in the snapshot,
    // each with its reason: in NetKAN, 150 `.frozen` files that hold only a module name (git
    // symlinks stored as text) and 4 retired netkans with a duplicate key, which YamlDotNet
    // refuses too.
    let not_mapping = unparsed
        .iter()
        .filter(|u| u.ends_with("no mapping document"))
        .count();
    let duplicate = unparsed
        .iter()
        .filter(|u| u.contains(": duplicate key at $."))
        .count();
    let (want_not_mapping, want_duplicate) = if netkan_repo { (150, 4) } else { (0, 0) };
    assert_eq!(
        (not_mapping, duplicate, unparsed.len()),
        (
            want_not_mapping,
            want_duplicate,
            want_not_mapping + want_duplicate
        ),
        "{unparsed:#?}"
    );
    validity
}

/// (valid, all) over `exts`.
fn valid_of(v: &Validity, exts: &[&str]) -> (usize, usize) {
    exts.iter()
        .filter_map(|e| v.get(*e))
        .fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
}

#[test]
fn every_netkan_file_is_read() {
    let v = read_corpus("NetKAN", 3858);
    // docs/CKAN-CONFORMANCE.md, Validation: NetKAN 3,232 of 3,858 valid, 1,427 of the 1,454
    // active `.netkan`.
    assert_eq!(valid_of(&v, &["netkan", "frozen"]), (3232, 3858), "{v:?}");
    assert_eq!(valid_of(&v, &["netkan"]), (1427, 1454), "{v:?}");
}

#[test]
fn every_ckan_meta_file_is_read() {
    let v = read_corpus("CKAN-meta", 32282);
    // docs/CKAN-CONFORMANCE.md, Validation: every `.ckan` valid, 3 withdrawn `.frozen` not.
    assert_eq!(valid_of(&v, &["ckan"]), (30561, 30561), "{v:?}");
    assert_eq!(valid_of(&v, &["ckan", "frozen"]), (31154, 31157), "{v:?}");
}

#[test]
fn ckan_meta_round_trips_byte_for_byte() {
    let root = corpus("CKAN-meta");
    let files: Vec<PathBuf> = files_under(&root.join("CKAN-meta"))
        .into_iter()
        .filter(|p| ext(p) == "ckan")
        .collect();
    assert_eq!(files.len(), 30561);
    // Per file: byte-identical after the round trip; the same values (read by serde_json,
    // independently of the reader under test) before and after; in canonical order.
    let results = par_map(&files, |p| {
        let text = std::fs::read_to_string(p).expect("corpus files are UTF-8");
        let json = parse_ckan(&text).expect("every .ckan parses");
        let written = to_ckan_string(&json);
        let before: Value = serde_json::from_str(&text).expect("every .ckan is JSON");
        let after: Value = serde_json::from_str(&written).expect("the writer writes JSON");
        (written == text, before == after, is_canonical_order(&json))
    });
    let identical = results.iter().filter(|r| r.0).count();
    let value_changed: Vec<&PathBuf> = files
        .iter()
        .zip(&results)
        .filter(|(_, r)| !r.1)
        .map(|(p, _)| p)
        .collect();
    let canonical = results.iter().filter(|r| r.2).count();
    let share = identical as f64 / files.len() as f64;
    eprintln!(
        "round trip: {identical} of {} identical ({:.2} %)",
        files.len(),
        share * 100.0
    );
    eprintln!("canonical order: {canonical} of {}", files.len());
    // docs/CKAN-CONFORMANCE.md: 30,444 identical, none differing by a value, 13,623 in
    // canonical order.
    assert_eq!(identical, 30444, "files identical after the round trip");
    assert!(
        value_changed.is_empty(),
        "files whose values changed in the round trip: {value_changed:#?}"
    );
    assert_eq!(canonical, 13623, "files in canonical order");
}

fn version_text(v: &Option<netkan_common::ckan::ModuleVersion>) -> &str {
    v.as_ref().map_or("", |v| v.as_str())
}

#[test]
fn highest_versions_agree_with_the_reference_rules() {
    let root = corpus("CKAN-meta");
    let tree = meta_tree::scan(&root.join("CKAN-meta")).expect("scans");
    assert!(tree.errors.is_empty(), "{:#?}", tree.errors);

    let expected: BTreeMap<&str, (&str, &str)> = include_str!("data/ckan-meta-highest.tsv")
        .lines()
        .map(|line| {
            let mut cols = line.split('\t');
            let id = cols.next().unwrap_or_default();
            let stable = cols.next().unwrap_or_default();
            let pre = cols.next().unwrap_or_default();
            (id, (stable, pre))
        })
        .collect();
    let actual: BTreeMap<&str, (&str, &str)> = tree
        .modules
        .iter()
        .map(|(id, h)| {
            (
                id.as_str(),
                (version_text(&h.stable), version_text(&h.prerelease)),
            )
        })
        .collect();
    assert_eq!(actual.len(), 3576);
    let differences: Vec<_> = expected
        .iter()
        .filter(|(id, want)| actual.get(*id) != Some(want))
        .map(|(id, want)| format!("{id}: want {want:?}, got {:?}", actual.get(id)))
        .collect();
    assert!(differences.is_empty(), "{differences:#?}");

    // The newest .ckan of each of the 65 real-data pairs is the highest version overall.
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(ckan_real().join("index.json")).expect("index.json"),
    )
    .expect("index.json is JSON");
    let pairs = index
        .as_array()
        .or_else(|| index.get("entries").and_then(Value::as_array))
        .expect("index.json lists the pairs");
    for pair in pairs {
        let id = pair["identifier"].as_str().expect("identifier");
        let want = pair["ckan_version"].as_str().expect("ckan_version");
        let h = &tree.modules[id];
        let best = match (&h.stable, &h.prerelease) {
            (Some(s), Some(p)) => Some(if p > s { p } else { s }),
            (s, p) => s.as_ref().or(p.as_ref()),
        };
        assert_eq!(best.map(|v| v.as_str()), Some(want), "{id}");
    }
}
