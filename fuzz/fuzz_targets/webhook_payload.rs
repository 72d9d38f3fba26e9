//! Fuzzes the parsers and the signature check of the webhooks (GitHub, SpaceDock, `/inflate`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    netkan_web::fuzzing::webhook_payload(data);
});
