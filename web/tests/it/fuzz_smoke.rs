//! Bounded, stable stand-ins for `cargo fuzz run webhook_payload` and `cargo fuzz run
//! log_query`: the seeds of `fuzz/seeds/<target>/` mutated with a fixed seed, through the
//! same entry points as the fuzz targets. Any panic fails the test and prints the input.

use std::path::Path;
use std::time::Instant;

use netkan_common::testing::mutation;
use netkan_web::fuzzing::{log_query, webhook_payload};

const ITERATIONS: usize = 20_000;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    mutation::seeds_in(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/seeds")
            .join(target),
    )
}

/// JSON, form and GitHub payload fragments.
const WEBHOOK_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "null",
    "true",
    "1e999",
    "-0",
    "\"ref\"",
    "\"refs/heads/master\"",
    "\"commits\"",
    "\"added\"",
    "\"modified\"",
    "\"removed\"",
    "\"action\"",
    "\"published\"",
    "\"repository\"",
    "\"clone_url\"",
    "\"pusher\"",
    "&",
    "=",
    "%",
    "%ff",
    "%00",
    "+",
    "payload=",
    "mod_id=",
    "event_type=",
    "identifier=",
    "username=",
    "email=",
    "all_authors=",
    "\n",
    "j",
    "f",
    "n",
    "sha256=",
    "sha1=",
    "\"identifiers\"",
    "../",
    "\u{feff}",
    "\u{202e}",
];

/// Query and log-line fragments.
const LOG_TOKENS: &[&str] = &[
    "&",
    "=",
    "%",
    "%20",
    "%ff",
    "+",
    "level=",
    "since=",
    "after=",
    "order=",
    "limit=",
    "state=",
    "kind=",
    "asc",
    "desc",
    "warning",
    "NOTICE",
    "18446744073709551615",
    "9223372036854775807",
    "-1",
    "99999999999999999999",
    "1705314602123",
    "-8334632851200001",
    "2024-01-15T10:30:02.123Z",
    "+14:00",
    "Z",
    "T",
    ".",
    "9999-12-31T23:59:59.999999999Z",
    " ",
    "\n",
    "\r",
    "\u{1b}[31m",
    "<script>",
    "\u{0}",
    "DEBUG ",
    "ERROR ",
];

#[test]
fn mutated_webhook_payloads_never_panic() {
    let started = Instant::now();
    mutation::run(
        &seeds("webhook_payload"),
        WEBHOOK_TOKENS,
        ITERATIONS,
        webhook_payload,
    );
    eprintln!("{ITERATIONS} mutated inputs in {:?}", started.elapsed());
}

#[test]
fn mutated_log_queries_never_panic() {
    let started = Instant::now();
    mutation::run(&seeds("log_query"), LOG_TOKENS, ITERATIONS, log_query);
    eprintln!("{ITERATIONS} mutated inputs in {:?}", started.elapsed());
}
