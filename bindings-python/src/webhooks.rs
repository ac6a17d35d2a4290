//! `verify_webhook` and `generate_webhook_secret`: the receiver's side of trainpod's webhooks.

use crate::convert::{Body, webhook_event};
use crate::errors::to_py;
use pyo3::prelude::*;
use pyo3::types::PyString;
use trainpod::clock::{Clock, SystemClock};
use trainpod::webhooks::{self, DEFAULT_TOLERANCE_SECS, WebhookHeaders};

/// Webhook secrets: one `str`, or a sequence of them.
pub(crate) struct Secrets(pub Vec<String>);

impl<'a, 'py> FromPyObject<'a, 'py> for Secrets {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.cast::<PyString>() {
            Ok(one) => Ok(Secrets(vec![one.to_str()?.to_owned()])),
            Err(_) => obj.extract().map(Secrets),
        }
    }
}

/// A fresh webhook secret, `whsec_<base64 of 32 random bytes>`: give it to `Trainpod`'s
/// `webhook_secrets` and to the receiver.
#[pyfunction]
pub(crate) fn generate_webhook_secret() -> String {
    webhooks::generate_webhook_secret()
}

/// Verifies a webhook trainpod sent (Standard Webhooks) and returns its `WebhookEvent`.
/// `headers` is the request's headers (any mapping; names in any case), `body` its raw body as
/// received, `secrets` one secret or several (while one rotates). The timestamp must be within
/// `tolerance_secs` of `now` (default: this machine's clock). Raises `WebhookMalformedError`,
/// `WebhookTimestampOutOfRangeError` or `WebhookSignatureInvalidError` (all `WebhookError`).
#[pyfunction]
#[pyo3(signature = (
    secrets: "str | Sequence[str]",
    headers: "Mapping[str, str]",
    body: "bytes | bytearray | str",
    *,
    tolerance_secs = DEFAULT_TOLERANCE_SECS,
    now = None
) -> "WebhookEvent")]
pub(crate) fn verify_webhook(
    py: Python<'_>,
    secrets: Secrets,
    headers: &Bound<'_, PyAny>,
    body: Body,
    tolerance_secs: u64,
    now: Option<u64>,
) -> PyResult<Py<PyAny>> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for item in headers.call_method0("items")?.try_iter()? {
        pairs.push(item?.extract()?);
    }
    let headers = WebhookHeaders::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let now = now.unwrap_or_else(|| SystemClock.now_unix_secs());
    let verified = webhooks::parse_secrets(&secrets.0)
        .and_then(|keys| webhooks::verify_event(&keys, &headers, &body, now, tolerance_secs));
    match verified {
        Ok(event) => webhook_event(py, event),
        Err(e) => Err(to_py(py, e)),
    }
}
