//! Any text given as a token: verification answers with a typed error or claims, never panics,
//! and only a token the key ring signed ever verifies.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use trainpod::clock::ManualClock;
use trainpod::token::{Expect, KeyRing, Purpose, Tokens};

fn tokens() -> &'static Tokens {
    static TOKENS: OnceLock<Tokens> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let ring = KeyRing::parse("k1:active:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMjM0NTY")
            .expect("a valid ring");
        Tokens::builder()
            .keys(ring)
            .audience("https://app.example.com")
            .clock(Arc::new(ManualClock::new(1_900_000_000)))
            .build()
            .expect("tokens")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for purpose in [Purpose::DatasetRead, Purpose::MetricsWrite, Purpose::ArtifactsWrite] {
        // A forged token must never verify: random input cannot carry a valid MAC.
        assert!(tokens().verify(text, &Expect::purpose(purpose)).is_err());
        let _ = tokens().verify_authorization(Some(text), &Expect::purpose(purpose));
    }
});
