//! Install-stanza selection over the real CKAN-meta (`shared/ckan-real/corpus/CKAN-meta.tar.gz`,
//! 30 561 `.ckan` files, about 23 000 with `install`): every stanza of every file reads and
//! compiles as CKAN's client reads it, and runs over a listing built to match it, installing
//! into its `install_to` without a `..` in any destination. The archives themselves are not in
//! the corpus, so the listing is synthetic: one entry under the `file`/`find` path (plus one
//! per `include_only` name), none for `find_regexp`.
//!
//! The tarball is streamed, not unpacked. Set `CKAN_REAL_DIR` to point at another copy of
//! `ckan-real/`.

use std::io::Read;
use std::path::{Path, PathBuf};

use netkan_inflator::archive::install::{InstallErrorKind, KSP};
use netkan_inflator::archive::{Entry, InstallPlan};
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

/// A synthetic listing the stanza must select from: `Prefix/<path>/a.cfg` for `find`,
/// `<path>/a.cfg` and `<path>` for `file`.
fn listing_for(stanza: &serde_json::Map<String, Value>) -> Option<Vec<String>> {
    let include: Vec<String> = match stanza.get("include_only") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let base = match (stanza.get("file"), stanza.get("find")) {
        (Some(Value::String(f)), _) => f.replace('\\', "/"),
        (_, Some(Value::String(f))) => format!("Prefix-1.0/{}", f.replace('\\', "/")),
        _ => return None,
    };
    let base = base.trim_end_matches('/').to_owned();
    let mut names = vec![base.clone(), format!("{base}/a.cfg")];
    names.extend(include.iter().map(|i| format!("{base}/{i}")));
    Some(names)
}

#[test]
fn every_real_install_stanza_reads_and_selects_files() {
    let tarball = ckan_real().join("corpus/CKAN-meta.tar.gz");
    let file = std::fs::File::open(&tarball).expect("open the CKAN-meta tarball");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let (mut modules, mut stanzas, mut selected) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for entry in archive.entries().expect("read the tarball") {
        let mut entry = entry.expect("a tar entry");
        let path = entry.path().expect("a path").to_string_lossy().into_owned();
        if !path.ends_with(".ckan") {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("a UTF-8 .ckan");
        let json: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let Some(Value::Array(install)) = json.get("install") else {
            continue;
        };
        modules += 1;
        let Value::Object(module) = &json else {
            panic!("{path}: not an object");
        };
        let plan = match InstallPlan::of(module, &KSP, None) {
            Ok(plan) => plan,
            Err(e) => {
                failures.push(format!("{path}: {e}"));
                continue;
            }
        };
        // Each stanza is read (and its patterns compiled) once, by the plan.
        for (stanza, parsed) in install.iter().zip(&plan.stanzas) {
            stanzas += 1;
            let Value::Object(s) = stanza else {
                failures.push(format!("{path}: a stanza that is not an object"));
                continue;
            };
            let Some(names) = listing_for(s) else {
                continue;
            };
            let entries: Vec<Entry> = names.iter().map(|n| Entry::synthetic(n, 10)).collect();
            match parsed.find_installable_files("X 1", &entries, &KSP) {
                Ok(files) => {
                    selected += 1;
                    for f in files {
                        if f.destination.contains("/../") {
                            failures
                                .push(format!("{path}: escaping destination {}", f.destination));
                        }
                    }
                }
                // Filters written for the real archive may exclude the synthetic entries.
                Err(e)
                    if e.kind == InstallErrorKind::BadMetadata
                        && (s.contains_key("filter")
                            || s.contains_key("filter_regexp")
                            || s.contains_key("include_only_regexp")) => {}
                Err(e) => failures.push(format!("{path}: {} → {e}", Value::Object(s.clone()))),
            }
        }
    }
    assert!(
        modules > 20_000,
        "only {modules} modules with install stanzas"
    );
    assert!(
        selected > 25_000,
        "only {selected} of {stanzas} stanzas selected files"
    );
    assert!(
        failures.is_empty(),
        "{} failures, first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
}
