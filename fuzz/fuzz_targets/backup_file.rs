#![no_main]
//! Reading a backup file (`arca operator backup verify` and `restore` read files from wherever
//! an operator keeps them) must never panic, and must refuse anything that is not a whole
//! backup: every accepted file ends with a checked trailer and announces its rows truly.

use arca_services::backup;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    rt.block_on(async {
        let Ok(reader) = backup::open(data).await else {
            return;
        };
        let announced = reader.header().total_rows;
        if let Ok(report) = backup::verify_structure(reader, &|_| {}).await {
            assert_eq!(report.rows, announced);
            assert_eq!(report.bytes, data.len() as u64);
        }
    });
});
