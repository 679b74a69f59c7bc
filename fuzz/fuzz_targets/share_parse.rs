#![no_main]
//! `Share::from_text` must never panic, whatever the text.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = arca_crypto::shamir::Share::from_text(&String::from_utf8_lossy(data));
});
