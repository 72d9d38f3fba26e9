//! Fuzzes the query parameters of `/logs/<uuid>` and the job API, and stored log lines.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    netkan_web::fuzzing::log_query(data);
});
