//! Any text given as a key ring: parsed or refused with a typed error that never quotes a field
//! of it long enough to be a secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trainpod::token::KeyRing;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(err) = KeyRing::parse(spec) {
        let shown = format!("{err} {err:?}");
        for field in spec.split([':', ',']).map(str::trim).filter(|f| f.len() >= 16) {
            assert!(!shown.contains(field), "the error quotes a field of the ring");
        }
    }
});
