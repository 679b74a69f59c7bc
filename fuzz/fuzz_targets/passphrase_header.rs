#![no_main]
//! `passphrase::parse_header` must never panic, and must bound the Argon2 parameters of any
//! file it accepts (a crafted bundle must not make `open` allocate or run without limit).

use arca_crypto::passphrase::{MAX_M_COST_KIB, MAX_P_COST, MAX_T_COST, parse_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = parse_header(data) {
        assert!(h.params.m_cost_kib <= MAX_M_COST_KIB);
        assert!(h.params.t_cost <= MAX_T_COST && h.params.p_cost <= MAX_P_COST);
    }
});
