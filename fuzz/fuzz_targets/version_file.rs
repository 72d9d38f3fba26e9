//! Fuzzes the readers of `.version` and `swinfo.json` files inside downloads.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    netkan_inflator::archive::fuzzing::version_file(data);
});
