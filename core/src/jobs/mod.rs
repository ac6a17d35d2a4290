//! Jobs: the lifecycle state machine, and ingestion of the numbered metric batches a pod sends
//! (see `docs/pod-protocol.md`): strict parsing with size caps, each batch accepted once, and the
//! events folded into a status update that says when the pod must be terminated.

mod batch;
mod ingest;
mod progress;
mod rate;
mod reconcile;
mod state;
mod window;

pub use batch::{
    Batch, Event, MAX_BODY_BYTES, MAX_EVENTS, MAX_SAFE_INTEGER, MAX_TS_AHEAD_SECS,
    MAX_TS_BEHIND_SECS, parse_batch,
};
pub use ingest::{CheckedBatch, IngestOutcome, check_metrics, ingest_checked, ingest_metrics};
pub use progress::{FinalStatus, POD_REASONS, Progress, UNKNOWN_REASON, fold};
pub use rate::RateLimiter;
pub use reconcile::{
    DEPLOY_CLAIM_SECS, POD_PREFIX, RECONCILER_REASONS, ReconcileAction, ReconcileError,
    ReconcilePolicy, job_of_pod, reconcile,
};
pub(crate) use reconcile::{
    LIST_GRACE_SECS, account_unavailable, end_if_gone, reconcile_account, terminate_gone_ok,
};
pub use state::JobState;
pub use window::{BATCH_WINDOW, CHECKIN_BATCH, LOG_BATCH_BASE, batch_admitted};
