#![no_main]
//! `envelope::parse` must never panic, whatever the bytes.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = arca_crypto::envelope::parse(data);
});
