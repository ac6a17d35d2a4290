//! Python binding of trainpod. It converts types and maps errors; every rule lives in core.

mod client;
mod convert;
mod coroutine;
mod credentials;
mod errors;
mod outcome;
mod runtime;
#[cfg(unix)]
mod sdk;
#[cfg(unix)]
mod staging;
mod store;
mod streams;
mod tokens;
mod webhooks;

use pyo3::prelude::*;

/// The native module, re-exported by the `trainpod` package.
#[pymodule]
mod _native {
    use pyo3::prelude::*;

    #[pymodule_export]
    use super::outcome::IngestOutcome;
    #[cfg(unix)]
    #[pymodule_export]
    use super::sdk::{AsyncTrainpod, Trainpod};
    #[cfg(unix)]
    #[pymodule_export]
    use super::staging::{AppStaging, DatasetGrant, SignedDownload};
    #[pymodule_export]
    use super::store::Store;
    #[pymodule_export]
    use super::streams::{AsyncStream, Stream};
    #[pymodule_export]
    use super::tokens::{Claims, IssuedToken, Tokens};
    #[pymodule_export]
    use super::webhooks::{generate_webhook_secret, verify_webhook};

    /// A fresh 32-byte secret for a key ring entry, as unpadded base64url.
    #[pyfunction]
    fn generate_secret() -> String {
        trainpod::token::generate_secret()
    }

    /// Every error code, in the order of the core's error kinds.
    #[pyfunction]
    fn error_codes() -> Vec<&'static str> {
        trainpod::ErrorKind::ALL.iter().map(|k| k.code()).collect()
    }

    /// The HTTP status a route answers when a failure with `code` ends the request.
    #[pyfunction]
    fn http_status(code: &str) -> PyResult<u16> {
        trainpod::ErrorKind::from_code(code)
            .map(|k| k.http_status())
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("unknown error code"))
    }

    /// The version of the core this module was built from.
    #[pyfunction]
    fn version() -> &'static str {
        trainpod::VERSION
    }
}
