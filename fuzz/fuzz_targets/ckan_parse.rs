//! Fuzzes the CKAN metadata parser and everything that reads its output.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    netkan_common::ckan::fuzzing::parse_and_use(data);
});
