//! A bounded, stable stand-in for `cargo fuzz run ckan_parse`: mutates the real netkan and
//! ckan files of `shared/ckan-real/` a few thousand times with a fixed seed and runs the same
//! entry point as the fuzz target. Any panic fails the test and prints the input.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netkan_common::ckan::fuzzing::parse_and_use;

/// Iterations, and a time bound so a slow debug build stays within the test budget.
const ITERATIONS: usize = 12_000;
const TIME_BOUND: Duration = Duration::from_secs(20);

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

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

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

fn mutate(rng: &mut XorShift, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let at = rng.below(len + 1);
                out.splice(at..at, token.iter().copied());
            }
            2 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                out.drain(start..end);
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(128)).min(len);
                let chunk: Vec<u8> = out[start..end].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, chunk);
            }
            4 => out.truncate(rng.below(len + 1)),
            5 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            _ => {
                let at = rng.below(len + 1);
                out.insert(at, (rng.next() & 0xff) as u8);
            }
        }
    }
    out
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
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let started = Instant::now();
    let mut runs = 0;
    while runs < ITERATIONS && started.elapsed() < TIME_BOUND {
        let input = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        let data = mutate(&mut rng, input, other);
        let outcome = std::panic::catch_unwind(|| parse_and_use(&data));
        if outcome.is_err() {
            panic!(
                "parse_and_use panicked on input {:?}",
                String::from_utf8_lossy(&data)
            );
        }
        runs += 1;
    }
    eprintln!("{runs} mutated inputs in {:?}", started.elapsed());
    assert!(runs >= 500, "only {runs} inputs ran within {TIME_BOUND:?}");
}
