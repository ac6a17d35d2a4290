//! Durable state behind one interface: the single-use token ledger and metric sequence numbers,
//! jobs, and the outbox of their webhook events.
//!
//! Three implementations: [`MemoryStore`] for tests, [`SqliteStore`] (the embedded default) and
//! [`PostgresStore`] (several app instances sharing the work). The SQL ones apply the migrations
//! in `core/migrations/` themselves. Every operation is atomic, so concurrent callers across
//! processes get exactly one winner.

mod bills_sql;
mod memory;
mod migrations;
mod outbox;
mod outbox_sql;
mod postgres;
mod records;
mod sql;
mod sqlite;

pub use memory::MemoryStore;
pub use outbox::{WebhookAttempt, WebhookMessage, WebhookStatus};
pub use postgres::PostgresStore;
pub use records::{BillSample, JobPodRecord, JobRecord, PodActionRecord, ThroughputSample};
pub use sqlite::SqliteStore;

use crate::error::{Error, ErrorKind, Result};
use crate::jobs::JobState;
use crate::purpose::Purpose;
use async_trait::async_trait;
use std::fmt::Debug;
use std::sync::Arc;
use uuid::Uuid;

/// The single use of a token, keyed on its decoded id (never on the token text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redemption {
    /// The token id.
    pub jti: Uuid,
    /// The token's purpose.
    pub purpose: Purpose,
    /// The job the token serves.
    pub job: String,
    /// After this Unix time the row may be pruned (the token is refused as expired anyway).
    pub expires_at: u64,
    /// When it was redeemed, Unix seconds.
    pub redeemed_at: u64,
}

/// A numbered batch of metric events from one attempt of one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricBatch {
    /// The job.
    pub job: String,
    /// The attempt (run epoch); sequence numbers restart with each.
    pub epoch: u32,
    /// The batch's sequence number within the attempt.
    pub seq: u64,
    /// SHA-256 of the batch body, to tell a replay from a conflict.
    pub body_sha256: [u8; 32],
    /// When it arrived, Unix seconds.
    pub received_at: u64,
}

/// What became of a metric batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchOutcome {
    /// First time this sequence number was seen: process the batch.
    Accepted,
    /// The same batch again (same number, same body): answer success, process nothing.
    Replayed,
}

/// The store interface. Implementations are safe to share across tasks and, for the SQL ones,
/// across processes.
#[async_trait]
pub trait Store: Send + Sync + Debug {
    /// Record a token's single use. A second redemption of the same id is `TOKEN_ALREADY_USED`.
    async fn redeem(&self, redemption: &Redemption) -> Result<()>;

    /// Accept a metric batch once. The same number with another body is `SEQUENCE_CONFLICT`,
    /// and so is a number not seen before that lies outside the attempt's window
    /// ([`crate::jobs::batch_admitted`] with the highest number the attempt accepted below
    /// [`crate::jobs::LOG_BATCH_BASE`]). The check and the insert are one atomic step: batches
    /// accepted concurrently, by any number of app instances, are those some order of them one
    /// by one would accept.
    async fn accept_batch(&self, batch: &MetricBatch) -> Result<BatchOutcome>;

    /// Delete redemptions that expired before `now`; returns how many.
    async fn prune_redemptions(&self, now: u64) -> Result<u64>;

    /// Record a new job; `false` (and nothing written) when the id is taken.
    ///
    /// This, [`Store::update_job`] and [`Store::begin_attempt`] queue the webhook events of the
    /// change they write ([`crate::webhooks`]) in the same atomic step: both are written or
    /// neither is. Events are queued whether or not this app instance sends webhooks, so that
    /// whichever instance delivers them sees every change (each is a small row, pruned after
    /// [`crate::webhooks::RETENTION_SECS`]).
    async fn insert_job(&self, job: &JobRecord) -> Result<bool>;

    /// The job with this id, if any.
    async fn get_job(&self, id: &str) -> Result<Option<JobRecord>>;

    /// Every job past queued and not in a final state, oldest first: each must have a live pod
    /// or be on its way to one, which the reconciler checks. A queued job (planned, not deployed,
    /// or put back by a deploy refused before any pod) has no pod to check and is not listed, so
    /// that plans never deployed do not pile up in every reconcile pass.
    async fn live_jobs(&self) -> Result<Vec<JobRecord>>;

    /// Replace a job's row, only if it is still in `expected` for the same attempt (compare and
    /// set): `false` when another writer moved it first.
    async fn update_job(&self, job: &JobRecord, expected: JobState) -> Result<bool>;

    /// Replace a job's row with its next attempt, only if it is still `previous_attempt` in
    /// `expected` (compare and set): `false` when another writer moved it first.
    async fn begin_attempt(
        &self,
        job: &JobRecord,
        expected: JobState,
        previous_attempt: u32,
    ) -> Result<bool>;

    /// Claim the action on a pod for `lease_secs`; `false` when some instance claimed it within
    /// the lease. Concurrent reconcilers therefore act on each pod once, and a failed action is
    /// tried again after the lease.
    async fn claim_pod_action(&self, action: &PodActionRecord, lease_secs: u64) -> Result<bool>;

    /// Keep a batch's events (a JSON array); a batch already kept is left as it was.
    async fn append_events(&self, batch: &MetricBatch, events_json: &str) -> Result<()>;

    /// The events kept for a job's attempt, batch by batch in order: (batch number, JSON array).
    async fn events(&self, job: &str, attempt: u32) -> Result<Vec<(u64, String)>>;

    /// Keep the training throughput a finished attempt measured (once per attempt).
    async fn record_throughput(&self, sample: &ThroughputSample) -> Result<()>;

    /// The latest throughput samples (effective TFLOP/s) for a GPU type and method, newest first.
    async fn throughput(&self, gpu_id: &str, method: &str, limit: u32) -> Result<Vec<f64>>;

    /// The sha256 kept for a staged dataset file's version (`staging`'s file key), if any.
    async fn dataset_digest(&self, file_key: &str) -> Result<Option<[u8; 32]>>;
    /// Keep a staged dataset file's sha256 under its version key; a key already kept is left
    /// as it was (one version has one digest).
    async fn keep_dataset_digest(&self, file_key: &str, sha256: &[u8; 32]) -> Result<()>;
    /// Keep a pod a job had (a pod already kept is left as it was).
    async fn record_job_pod(&self, pod: &JobPodRecord) -> Result<()>;
    /// Every pod a job had, attempt by attempt.
    async fn job_pods(&self, job: &str) -> Result<Vec<JobPodRecord>>;
    /// Jobs that ended (a final state, last updated in `[since, ended_before]`) with a pod and no
    /// bill read yet, oldest first, at most `limit`.
    async fn unbilled_jobs(
        &self,
        since: u64,
        ended_before: u64,
        limit: u32,
    ) -> Result<Vec<JobRecord>>;
    /// Record what RunPod billed for `job` (read in its current state and attempt), with the
    /// sample the plan's calibration learns from; `false` when the job moved on (a retry) or
    /// another instance billed it first.
    async fn record_bill(
        &self,
        job: &JobRecord,
        billed_usd: f64,
        sample: Option<&BillSample>,
    ) -> Result<bool>;
    /// Billed over estimated for a GPU type and method's recent jobs, newest first.
    async fn bill_ratios(&self, gpu_id: &str, method: &str, limit: u32) -> Result<Vec<f64>>;
    /// The accounts of every live job and of every job updated since `since`: those whose pods
    /// the reconciler lists.
    async fn job_accounts(&self, since: u64) -> Result<Vec<String>>;

    /// Lease up to `limit` webhook messages due at `now` to the holder `lease` for
    /// `lease_secs`, counting a try of each: passes running at once, in any app instance, never
    /// hold the same message, and a pass that dies mid-delivery leaves its messages to the
    /// next pass once the lease ends.
    async fn claim_webhooks(
        &self,
        lease: &str,
        now: u64,
        lease_secs: u64,
        limit: u32,
    ) -> Result<Vec<WebhookMessage>>;
    /// Record how the try of message `id` leased to `lease` ended, at `now`. A delivery is
    /// recorded even when the lease has lapsed; a retry or a failure only by the lease's holder.
    /// `false` when nothing changed (the message was delivered meanwhile, or leased again).
    async fn finish_webhook(
        &self,
        id: &str,
        lease: &str,
        now: u64,
        attempt: &WebhookAttempt,
    ) -> Result<bool>;
    /// A job's webhook messages, by attempt, in the order their events happened.
    async fn webhook_messages(&self, job_id: &str) -> Result<Vec<WebhookMessage>>;
    /// Delete webhook messages (whatever their status) whose event happened before `before`;
    /// returns how many.
    async fn prune_webhooks(&self, before: u64) -> Result<u64>;

    /// Which backend this is: `memory`, `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}

/// Open a store from a URL: `memory:`, `sqlite://PATH` (created if missing), `sqlite::memory:`,
/// or `postgres://…`. Migrations are applied before it is returned.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url == "memory:" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::connect(url).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::connect(url).await?));
    }
    Err(Error::invalid_input(
        "unknown store URL; use memory:, sqlite://PATH or postgres://USER@HOST:PORT/DB",
    ))
}

pub(crate) fn already_used() -> Error {
    Error::new(
        ErrorKind::TokenAlreadyUsed,
        "this single-use token was already redeemed; request a new one",
    )
}

pub(crate) fn sequence_conflict(batch: &MetricBatch) -> Error {
    Error::new(
        ErrorKind::SequenceConflict,
        format!(
            "batch {} of attempt {} for job {} was already received with a different body; \
             a sender must reuse a sequence number only to resend the same batch",
            batch.seq, batch.epoch, batch.job
        ),
    )
}

/// A batch number the attempt does not take now: see [`crate::jobs::batch_admitted`].
pub(crate) fn outside_window(batch: &MetricBatch, highest: Option<u64>) -> Error {
    use crate::jobs::{BATCH_WINDOW, CHECKIN_BATCH};
    let of = format!(
        "of attempt {} for job {}",
        batch.epoch,
        crate::error::quote(&batch.job)
    );
    let message = match highest {
        Some(h) if batch.seq == CHECKIN_BATCH => format!(
            "batch 0 (the check-in) {of} arrived after batch {h}: a pod checks in before it \
             sends anything else, so this is a container that started after the attempt ran"
        ),
        _ => format!(
            "batch {} {of} is more than {BATCH_WINDOW} away from batch {}, the highest it \
             accepted: a pod numbers its batches from one counter and sends them in order, so \
             this is no batch of its pod",
            batch.seq,
            highest.unwrap_or(0)
        ),
    };
    Error::new(ErrorKind::SequenceConflict, message)
}

/// Map a database error to the error model without leaking the connection string.
pub(crate) fn store_error(action: &str, err: sqlx::Error) -> Error {
    Error::new(
        ErrorKind::StoreUnavailable,
        format!("the store failed to {action}; check that the database is reachable, then retry"),
    )
    .with_source(err)
}
