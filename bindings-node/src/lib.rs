//! Node binding of trainpod. It converts types and maps errors; every rule lives in core.
//!
//! `index.js` wraps this module so that failures surface as `TrainpodError` objects with a
//! stable `code`, `status` and `requestId`. Every export is `catch_unwind`: a panic unwinding
//! into Node would abort the process, so it becomes a thrown error instead.

// napi's macros generate the FFI glue with `unsafe` blocks. This crate writes its own in two
// places, both for the hot route calls: the one-pass string read (text.rs), and the numbers array
// with the result's text (flat.rs).
#![allow(unsafe_code)]
// napi registers nothing in test builds, so a free function outside the crate root (the hot
// route calls, slots.rs) and what only it uses look unused there.
#![cfg_attr(test, allow(dead_code))]

#[cfg(feature = "bench")]
mod bench;
mod errors;
mod flat;
mod json;
mod metrics;
mod numbers;
mod promise;
mod sdk;
mod slots;
mod staging;
mod store;
mod stream;
mod text;
mod tokens;

use napi_derive::napi;

// The addon's own allocator: every metric batch makes and frees a few dozen small blocks in core
// and here, and in a Node process glibc's heap served them slower than in a Rust one. With
// mimalloc, core's single-event ingest took about 1 µs less in the Node process and the binding's
// share about 0.7 µs less (bench/README.md). Only the addon's Rust code uses it; what it hands
// to Node (strings, buffers) is copied or freed by its own finalizer, so no block crosses heaps.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A fresh 32-byte secret for a key ring entry, as unpadded base64url.
#[napi(catch_unwind)]
pub fn generate_secret() -> String {
    trainpod::token::generate_secret()
}

/// Every error code, in the order of the core's error kinds.
#[napi(catch_unwind)]
pub fn error_codes() -> Vec<String> {
    trainpod::ErrorKind::ALL
        .iter()
        .map(|k| k.code().to_owned())
        .collect()
}

/// The HTTP status a route answers when a failure with `code` ends the request (500 for an
/// unknown code).
#[napi(catch_unwind)]
pub fn http_status(code: String) -> u32 {
    trainpod::ErrorKind::from_code(&code).map_or(500, |k| u32::from(k.http_status()))
}

/// The version of the core this module was built from.
#[napi(catch_unwind)]
pub fn version() -> String {
    trainpod::VERSION.to_owned()
}
