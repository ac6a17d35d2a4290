//! The one place where core errors become JavaScript errors.
//!
//! napi puts an error's status string in `err.code`, so the stable code travels there and the
//! other fields travel as a small JSON object in the message; `index.js` turns both into a
//! `TrainpodError` with `code`, `status`, `requestId`, `retryAfter`, `retryable` and a `cause`
//! chain. Keeping the code in `err.code` means even the raw generated loader reports it.

use napi::bindgen_prelude::JsError;
use napi::{Env, Unknown};
use serde_json::json;

/// What every binding function returns: an error carries a trainpod code as its status.
pub(crate) type Result<T> = std::result::Result<T, napi::Error<String>>;

/// Convert a core error for JavaScript.
pub(crate) fn to_js(err: trainpod::Error) -> napi::Error<String> {
    let payload = json!({
        "message": err.message(),
        "status": err.status(),
        "requestId": err.request_id(),
        "retryAfter": err.retry_after_secs(),
        "retryable": err.is_retryable(),
        "causes": err.causes(),
    });
    napi::Error::new(err.code().to_owned(), payload.to_string())
}

/// An `INVALID_INPUT` error for an argument.
pub(crate) fn invalid(message: impl Into<String>) -> napi::Error<String> {
    to_js(trainpod::Error::invalid_input(message))
}

/// An `INTERNAL` error: the binding itself failed, not the caller.
pub(crate) fn internal(message: impl Into<String>) -> napi::Error<String> {
    to_js(trainpod::Error::new(trainpod::ErrorKind::Internal, message))
}

/// Map a core result.
pub(crate) fn map<T>(result: trainpod::Result<T>) -> Result<T> {
    result.map_err(to_js)
}

/// A core error as a promise rejection. napi settles promises only with its own status codes,
/// so the JavaScript error is built here, on the JavaScript thread, and handed over as a value.
pub(crate) fn reject(env: &Env, err: trainpod::Error) -> napi::Error {
    let value: Unknown<'_> = JsError::from(to_js(err)).into_unknown(*env);
    napi::Error::from(value)
}

/// One of napi's own errors (spawning a future while the process exits), with its status kept.
pub(crate) fn from_napi(err: napi::Error) -> napi::Error<String> {
    napi::Error::new(err.status.as_ref().to_owned(), err.reason)
}
