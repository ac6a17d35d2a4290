//! Any text given as a key ring: parsed or refused with a typed error that never quotes a field
//! of it long enough to be a secret. Each such field is swapped for a marker first (the same
//! shape of ring), so that a field which happens to spell the error's own words cannot pass
//! for an echo.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trainpod::token::KeyRing;

/// Stands in for every field of 16 characters or more; no error's wording contains it.
const MARKER: &str = "Qz7xQz7xQz7xQz7x";

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = std::str::from_utf8(data) else {
        return;
    };
    let marked: String = spec
        .split_inclusive([':', ','])
        .map(|part| {
            let (field, sep) = match part.strip_suffix([':', ',']) {
                Some(field) => (field, &part[field.len()..]),
                None => (part, ""),
            };
            if field.trim().len() >= 16 { format!("{MARKER}{sep}") } else { part.to_owned() }
        })
        .collect();
    if let Err(err) = KeyRing::parse(&marked) {
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("Qz7x"), "the error quotes a field of the ring: {shown}");
    }
});
