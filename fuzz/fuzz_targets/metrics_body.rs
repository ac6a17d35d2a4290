//! Any body posted to the metrics route: parsed into a batch within its caps, or refused with a
//! typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trainpod::jobs::{CheckedBatch, MAX_EVENTS, MAX_SAFE_INTEGER, parse_batch};

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = parse_batch(data) {
        assert!(data.trim_ascii_start().starts_with(b"{"), "only an object is a batch");
        assert!((1..=MAX_EVENTS).contains(&batch.events.len()));
        assert!(batch.attempt >= 1 && batch.batch <= MAX_SAFE_INTEGER);
        assert!(batch.events.iter().all(|e| e.ts.is_finite() && e.n <= MAX_SAFE_INTEGER));
    }
    // The route's own parse adds the time window; it refuses or accepts, never panics.
    let _ = CheckedBatch::parse(data, 1_900_000_000);
});
