//! A bounded, stable stand-in for `cargo fuzz run ckan_parse`: mutates the real netkan and
//! ckan files of `shared/ckan-real/` a few thousand times with a fixed seed and runs the same
//! entry point as the fuzz target. Any panic fails the test and prints the input.

use std::path::{Path, PathBuf};
use std::time::Instant;

use netkan_common::ckan::fuzzing::parse_and_use;
use netkan_common::testing::mutation;

/// Iterations, and a time bound so a slow debug build stays within the test budget.
const ITERATIONS: usize = 12_000;

/// Fragments that steer mutations towards YAML and JSON structure.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ": ",
    ",",
    "\"",
    "'",
    "- ",
    "\n",
    "\n---\n",
    "? ",
    "*a",
    "&a ",
    "!!str ",
    "!!int ",
    "|\n",
    ">-\n",
    "\t",
    "#",
    "\\u00e9",
    "\\uD83D",
    "null",
    "true",
    "~",
    "2147483648",
    "-9223372036854775809",
    "9:",
    "$kref: '#/ckan/github/a/b/asset_match/x'",
    "#/ckan/spacedock/",
    "x_netkan_override: [{version: '>1'}]",
    "\u{85}",
    "\u{2028}",
    "\u{feff}",
    "%YAML 1.2\n",
    "...\n",
    "<<: *a\n",
    "\u{0}",
];

fn seeds() -> Vec<Vec<u8>> {
    let dir = std::env::var_os("CKAN_REAL_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/ckan-real"),
        PathBuf::from,
    );
    let mut files = Vec::new();
    for sub in ["netkan", "ckan", "metanetkan-targets"] {
        let mut stack = vec![dir.join(sub)];
        while let Some(d) = stack.pop() {
            let entries = std::fs::read_dir(&d).unwrap_or_else(|e| {
                panic!(
                    "the real-data seeds are missing at {} ({e}): check out shared/ beside the repository or set CKAN_REAL_DIR",
                    d.display()
                )
            });
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read(f).expect("read a seed"))
        .collect()
}

#[test]
fn mutated_real_files_never_panic() {
    let seeds = seeds();
    assert!(
        seeds.len() > 100,
        "expected the 65 pairs and the metanetkan targets"
    );
    for seed in &seeds {
        parse_and_use(seed);
    }
    let started = Instant::now();
    mutation::run(&seeds, TOKENS, ITERATIONS, parse_and_use);
    eprintln!("{ITERATIONS} mutated inputs in {:?}", started.elapsed());
}
