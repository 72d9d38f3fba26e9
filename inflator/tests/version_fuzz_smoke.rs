//! A bounded, stable stand-in for `cargo fuzz run version_file`: mutates the seeds of
//! `fuzz/seeds/version_file/` with a fixed seed and runs the same entry point as the fuzz
//! target. Any panic fails the test and prints the input.

use std::path::Path;
use std::time::Instant;

use netkan_common::testing::mutation;
use netkan_inflator::archive::fuzzing::version_file;

const ITERATIONS: usize = 20_000;

/// Fragments of the lenient JSON dialect and of the fields a `.version` has.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    ",,",
    "\"",
    "'",
    "//",
    "/*",
    "*/",
    "\n",
    "0x",
    "0X1f",
    "07",
    "08",
    "010",
    "-",
    "+",
    ".",
    "e",
    "E-",
    "1e309",
    "NaN",
    "-Infinity",
    "undefined",
    "null",
    "true",
    "\\u",
    "\\uD800",
    "\\x41",
    "\\",
    "\"VERSION\"",
    "\"KSP_VERSION\"",
    "\"MAJOR\"",
    "\"MINOR\"",
    "\"PATCH\"",
    "\"BUILD\"",
    "\"GITHUB\"",
    "-1",
    "2147483648",
    "99999999999999999999999",
    "\u{feff}",
    "\u{0}",
    "\u{ff}\u{fe}",
    "\"dependencies\"",
    "\"version\"",
    "\"min\"",
    "*",
];

#[test]
fn mutated_version_files_never_panic() {
    let seeds = mutation::seeds_in(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/version_file"),
    );
    let started = Instant::now();
    mutation::run(&seeds, TOKENS, ITERATIONS, version_file);
    eprintln!("{ITERATIONS} mutated inputs in {:?}", started.elapsed());
}

#[test]
fn deeply_nested_version_files_are_refused_not_overflowing_the_stack() {
    for open in ["[", "{\"a\":"] {
        let text = open.repeat(100_000);
        version_file(text.as_bytes());
        let err = netkan_inflator::archive::lenient_json::parse(&text)
            .expect_err("100,000 levels are refused");
        assert!(
            err.0.contains("MaxDepth of 64 has been exceeded"),
            "{}",
            err.0
        );
    }
}
