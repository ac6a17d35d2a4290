//! Any body posted to the metrics route: parsed into a batch within its caps, or refused with a
//! typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trainpod::jobs::{CheckedBatch, parse_batch};

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = parse_batch(data) {
        assert!(!batch.events.is_empty());
        assert!(CheckedBatch::parse(data, 1_900_000_000).is_ok());
    }
});
