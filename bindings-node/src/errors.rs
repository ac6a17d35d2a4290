//! The one place where core errors become JavaScript errors.
//!
//! The error's fields travel as JSON after a fixed prefix in the message; `index.js` turns them
//! into a `TrainpodError` with `code`, `status`, `requestId`, `retryAfter`, `retryable` and a
//! `cause` chain. Async rejections can carry only a message, so sync calls use the same path.

use serde_json::json;

/// Marks a message that carries a trainpod error; must match `index.js`.
pub(crate) const PREFIX: &str = "TRAINPOD_ERROR ";

/// Convert a core error for JavaScript.
pub(crate) fn to_js(err: trainpod::Error) -> napi::Error {
    let payload = json!({
        "code": err.code(),
        "message": err.message(),
        "status": err.status(),
        "requestId": err.request_id(),
        "retryAfter": err.retry_after_secs(),
        "retryable": err.is_retryable(),
        "causes": err.causes(),
    });
    napi::Error::from_reason(format!("{PREFIX}{payload}"))
}

/// An `INVALID_INPUT` error for an argument.
pub(crate) fn invalid(message: impl Into<String>) -> napi::Error {
    to_js(trainpod::Error::invalid_input(message))
}

/// Map a core result.
pub(crate) fn map<T>(result: trainpod::Result<T>) -> napi::Result<T> {
    result.map_err(to_js)
}
