//! The webhook outbox: each job event is queued in the same atomic step as the job's change
//! (`update_job`, `begin_attempt`, `insert_job`), then leased to one delivery pass at a time.

use crate::error::{Error, ErrorKind, Result};

/// Where a queued webhook message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WebhookStatus {
    /// Not delivered yet: due at `next_at`.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up: every try of the schedule failed, the endpoint answered 410 Gone, or it was
    /// never tried before it grew too old.
    Failed,
}

impl WebhookStatus {
    /// The stable name: `pending`, `delivered` or `failed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            WebhookStatus::Pending => "pending",
            WebhookStatus::Delivered => "delivered",
            WebhookStatus::Failed => "failed",
        }
    }

    /// Parses a stable name.
    pub fn parse(name: &str) -> Result<WebhookStatus> {
        match name {
            "pending" => Ok(WebhookStatus::Pending),
            "delivered" => Ok(WebhookStatus::Delivered),
            "failed" => Ok(WebhookStatus::Failed),
            _ => Err(Error::new(
                ErrorKind::StoreSchema,
                format!("a webhook message has an unknown status {name:?}; upgrade trainpod"),
            )),
        }
    }
}

/// A queued webhook message, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookMessage {
    /// `msg_<hex>`: the `webhook-id` of every delivery of it, the receiver's idempotency key.
    pub id: String,
    /// The job the event is about.
    pub job_id: String,
    /// The job's attempt.
    pub attempt: u32,
    /// `job.deployed`, `job.failed`, ...
    pub event_type: String,
    /// The JSON body, fixed when the event happened (it is signed at each delivery).
    pub payload: String,
    /// When the event happened, Unix seconds.
    pub created_at: u64,
    /// Where it is.
    pub status: WebhookStatus,
    /// Deliveries tried (counted when a pass claims it).
    pub tries: u32,
    /// When it is due next, Unix seconds (pending messages).
    pub next_at: u64,
    /// Why the latest try failed (the endpoint's status, or the transport's failure), never a
    /// secret; empty when none failed.
    pub last_error: String,
    /// When it was delivered or given up, Unix seconds.
    pub done_at: Option<u64>,
}

/// How one try of a claimed message ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookAttempt {
    /// The endpoint answered 2xx.
    Delivered,
    /// It failed; try again at `next_at`.
    Retry {
        /// Unix seconds.
        next_at: u64,
        /// Why it failed.
        error: String,
    },
    /// It failed and will not be tried again.
    Failed {
        /// Why it failed.
        error: String,
    },
}

impl WebhookAttempt {
    /// The status it leaves the message in, its next due time and its error.
    pub(crate) fn columns(&self, now: u64) -> (WebhookStatus, Option<u64>, &str, Option<u64>) {
        match self {
            WebhookAttempt::Delivered => (WebhookStatus::Delivered, None, "", Some(now)),
            WebhookAttempt::Retry { next_at, error } => {
                (WebhookStatus::Pending, Some(*next_at), error, None)
            }
            WebhookAttempt::Failed { error } => (WebhookStatus::Failed, None, error, Some(now)),
        }
    }
}

/// The order of a job's messages within an attempt: the lifecycle's.
pub(crate) fn event_rank(event_type: &str) -> u8 {
    match event_type {
        crate::webhooks::JOB_DEPLOYED => 0,
        crate::webhooks::JOB_TRAINING_STARTED => 1,
        _ => 2,
    }
}
