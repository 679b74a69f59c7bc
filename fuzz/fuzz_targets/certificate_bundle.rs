#![no_main]
//! A certificate bundle's plaintext (JSON) must parse or be refused, never panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = arca_client::cert_bundle::CertificateBundle::from_json(data);
});
