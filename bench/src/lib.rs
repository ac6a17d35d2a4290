//! Shared set-up for the benchmarks: one token per system, carrying the same claims.

use std::sync::Arc;
use trainpod::clock::ManualClock;
use trainpod::token::{Expect, IssueRequest, KeyRing, Purpose, Tokens};

/// The moment every benchmark token is verified at.
pub const NOW: u64 = 1_767_225_600;
/// The 32-byte secret both systems sign with.
pub const SECRET: [u8; 32] = *b"0123456789abcdef0123456789ABCDEF";

/// A trainpod verifier and a dataset token it accepts.
pub fn trainpod_token() -> (Tokens, String, Expect) {
    let spec = format!("k1:active:{}", base64_url(&SECRET));
    let tokens = Tokens::builder()
        .keys(KeyRing::parse(&spec).expect("key ring"))
        .audience("https://app.example.com")
        .clock(Arc::new(ManualClock::new(NOW)))
        .build()
        .expect("tokens");
    let req = IssueRequest::new(Purpose::DatasetRead, "user-1", "job-1").dataset("ds-42");
    let token = tokens.issue(&req).expect("issue").token.expose().to_owned();
    let expect = Expect::purpose(Purpose::DatasetRead)
        .job("job-1")
        .dataset("ds-42");
    (tokens, token, expect)
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
