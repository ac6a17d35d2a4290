//! Node binding of trainpod. It converts types and maps errors; every rule lives in core.
//!
//! `index.js` wraps this module so that failures surface as `TrainpodError` objects with a
//! stable `code`, `status` and `requestId`. Every export is `catch_unwind`: a panic unwinding
//! into Node would abort the process, so it becomes a thrown error instead.

// napi's macros generate the FFI glue with `unsafe` blocks; this crate itself writes none.
#![allow(unsafe_code)]

mod errors;
mod numbers;
mod store;
mod tokens;

use napi_derive::napi;

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

/// The version of the core this module was built from.
#[napi(catch_unwind)]
pub fn version() -> String {
    trainpod::VERSION.to_owned()
}
