//! `verifyWebhook` and `generateWebhookSecret`: the receiver's side of trainpod's webhooks.

use crate::errors::{Result, map};
use crate::json::to_js_value;
use napi::bindgen_prelude::{Either, Uint8ArraySlice};
use napi_derive::napi;
use serde_json::Value;
use std::collections::HashMap;
use trainpod::clock::{Clock, SystemClock};
use trainpod::number;
use trainpod::webhooks::{self, DEFAULT_TOLERANCE_SECS, WebhookHeaders};

/// Options of `verifyWebhook`.
#[napi(object)]
#[derive(Debug)]
pub struct VerifyWebhookOptions {
    /// How far the webhook's timestamp may be from `now`, in seconds (default 300).
    pub tolerance_secs: Option<f64>,
    /// The time to check against, Unix seconds (default: this machine's clock).
    pub now: Option<f64>,
}

/// A fresh webhook secret, `whsec_<base64 of 32 random bytes>`: give it to `webhookSecrets` and
/// to the receiver.
#[napi(catch_unwind)]
pub fn generate_webhook_secret() -> String {
    webhooks::generate_webhook_secret()
}

/// Verify a webhook trainpod sent (Standard Webhooks) and return its event: `headers` is the
/// request's headers (names in any case; a `Headers` object too), `body` its raw body as
/// received, `secrets` one secret or several (while one rotates). Throws `WEBHOOK_MALFORMED`,
/// `WEBHOOK_TIMESTAMP_OUT_OF_RANGE` or `WEBHOOK_SIGNATURE_INVALID` (a `WebhookError`).
#[napi(
    ts_args_type = "secrets: string | string[], headers: Record<string, string> | Headers, body: string | Uint8Array, options?: VerifyWebhookOptions",
    ts_return_type = "WebhookEvent",
    catch_unwind
)]
pub fn verify_webhook(
    secrets: Either<String, Vec<String>>,
    headers: HashMap<String, String>,
    body: Either<String, Uint8ArraySlice>,
    options: Option<VerifyWebhookOptions>,
) -> Result<Value> {
    let secrets = match secrets {
        Either::A(one) => vec![one],
        Either::B(many) => many,
    };
    let body: &[u8] = match &body {
        Either::A(text) => text.as_bytes(),
        Either::B(bytes) => bytes,
    };
    let (tolerance, now) = options.map_or((None, None), |o| (o.tolerance_secs, o.now));
    let tolerance = map(number::whole_opt("toleranceSecs", tolerance, u64::MAX))?;
    let now = map(number::whole_opt("now", now, trainpod::token::MAX_TIME))?;
    let headers = WebhookHeaders::from_pairs(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let keys = map(webhooks::parse_secrets(&secrets))?;
    let event = map(webhooks::verify_event(
        &keys,
        &headers,
        body,
        now.unwrap_or_else(|| SystemClock.now_unix_secs()),
        tolerance.unwrap_or(DEFAULT_TOLERANCE_SECS),
    ))?;
    to_js_value(&event)
}
