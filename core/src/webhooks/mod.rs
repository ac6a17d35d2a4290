//! Signed webhooks of job changes, following the Standard Webhooks specification: a receiver
//! verifies them with any Standard Webhooks library (`standardwebhooks` on PyPI and npm), or with
//! [`verify_event`] here.
//!
//! - [`event`]: which job changes are events (`job.deployed`, `job.training_started`, one per
//!   final state) and the payload each carries. The store queues them in the same atomic step as
//!   the change (an outbox), so none is lost or sent for a change that did not happen.
//! - [`deliver`]: due messages leased to one delivery pass at a time across app instances, POSTed
//!   and signed at sending with the current secrets, retried on a schedule until the last try.
//! - [`sign`]: `whsec_` secrets, the `v1` signature, and verification with a timestamp tolerance.
//!
//! Delivery is at least once: a receiver keys its work on `webhook-id`, the same on every try.

mod deliver;
mod event;
mod sign;

pub use deliver::{
    DeliveryOutcome, LEASE_SECS, MAX_AGE_SECS, MAX_TRIES, REQUEST_TIMEOUT, RETENTION_SECS,
    RETRY_DELAYS_SECS, WebhookDelivery, WebhookEndpoint, WebhookReport, deliver_due, next_try,
};
pub(crate) use event::{Before, Queued, messages};
pub use event::{
    EVENT_TYPES, JOB_DEPLOYED, JOB_TRAINING_STARTED, WebhookEvent, WebhookJob, parse_event,
};
pub use sign::{
    DEFAULT_TOLERANCE_SECS, SECRET_PREFIX, WebhookHeaders, WebhookSecret, generate_webhook_secret,
    parse_secrets, signature_header, verify,
};

use crate::error::Result;

/// Verifies a webhook request received at `now` ([`verify`]) and parses its body as the event
/// trainpod sent.
pub fn verify_event(
    secrets: &[WebhookSecret],
    headers: &WebhookHeaders<'_>,
    body: &[u8],
    now: u64,
    tolerance_secs: u64,
) -> Result<WebhookEvent> {
    verify(secrets, headers, body, now, tolerance_secs)?;
    parse_event(body)
}
