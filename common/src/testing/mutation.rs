//! A small, deterministic mutation fuzzer: the stable stand-in for a cargo-fuzz target in the
//! default test run. Each smoke test hands it seeds, tokens that steer mutations towards its
//! input's grammar, and the same entry point its fuzz target runs; a panic fails the test
//! and prints the input. The long runs are `scripts/fuzz.sh` (libFuzzer, nightly).

use std::panic::{RefUnwindSafe, catch_unwind};
use std::path::Path;

/// A xorshift generator: fixed seed, so a failure reproduces.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// One to four random edits of `input`: bit flips, token insertions, deletions, duplicated
/// chunks, truncation, splicing with `other`, random bytes.
pub fn mutate(rng: &mut XorShift, tokens: &[&str], input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if !tokens.is_empty() => {
                let token = tokens[rng.below(tokens.len())].as_bytes();
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
                out.insert(at, (rng.next_u64() & 0xff) as u8);
            }
        }
    }
    out
}

/// Runs `entry` on every seed, then on exactly `iterations` mutations of them: the inputs,
/// and so what a run covers, are the same on every machine whatever its speed.
///
/// # Panics
/// When `entry` panics, with the input (lossy UTF-8 and its bytes) in the message.
pub fn run<F>(seeds: &[Vec<u8>], tokens: &[&str], iterations: usize, entry: F)
where
    F: Fn(&[u8]) + RefUnwindSafe,
{
    assert!(!seeds.is_empty(), "a mutation run needs seeds");
    let check = |data: &[u8]| {
        if catch_unwind(|| entry(data)).is_err() {
            panic!(
                "the fuzz entry point panicked on input {:?} (bytes {:?})",
                String::from_utf8_lossy(data),
                data
            );
        }
    };
    for seed in seeds {
        check(seed);
    }
    let mut rng = XorShift::new(0x9E37_79B9_7F4A_7C15);
    for _ in 0..iterations {
        let input = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        check(&mutate(&mut rng, tokens, input, other));
    }
}

/// The files of a seed directory (a fuzz target's corpus under `fuzz/seeds/<target>/`),
/// sorted by name.
///
/// # Panics
/// If the directory cannot be read or is empty.
pub fn seeds_in(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading the seeds in {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
        .iter()
        .map(|f| std::fs::read(f).unwrap_or_else(|e| panic!("reading {}: {e}", f.display())))
        .collect()
}
