//! Node binding of trainpod. It converts types and maps errors; every rule lives in core.
//!
//! `index.js` wraps this module so that failures surface as `TrainpodError` objects with a
//! stable `code`, `status` and `requestId`. Every export is `catch_unwind`: a panic unwinding
//! into Node would abort the process, so it becomes a thrown error instead. Calls that touch
//! the store, the network or the disk return promises settled from core's runtime; nothing
//! here blocks the JavaScript thread. The crate writes no `unsafe` of its own.

mod credentials;
mod errors;
mod json;
mod options;
mod promise;
mod records;
mod sdk;
mod staging;
mod store;
mod stream;
mod tokens;
mod webhooks;

use napi_derive::napi;

// The exports napi registers; named here so that a test build, which registers none, sees them
// used.
pub use webhooks::{VerifyWebhookOptions, generate_webhook_secret, verify_webhook};

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
