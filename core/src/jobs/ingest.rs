//! `ingest_metrics`: what the app's metrics route calls with the request's `Authorization`
//! header and body. Checks run cheapest first (token, rate, shape) so that a bad request costs no
//! store round trip.

use sha2::{Digest, Sha256};

use super::batch::parse_batch;
use super::progress::{Progress, fold};
use super::rate::RateLimiter;
use super::state::JobState;
use crate::error::{Error, ErrorKind, Result};
use crate::store::{BatchOutcome, MetricBatch, Store};
use crate::token::{Expect, Purpose, Tokens};

/// What the route answers, and what follows from the batch.
#[derive(Clone, Debug, PartialEq)]
pub struct IngestOutcome {
    /// The HTTP status to answer (200).
    pub status: u16,
    /// The JSON body to answer; `{"cancel":true}` asks the trainer to stop.
    pub body: String,
    /// The batch was seen before (same number, same body): nothing was processed again.
    pub replay: bool,
    /// What the batch says about the job (empty for a replay).
    pub progress: Progress,
    /// A final status arrived: terminate the pod now rather than wait for the pod to do it.
    pub terminate_pod: bool,
}

/// Verifies the job's metrics token, parses the batch strictly, accepts it once per
/// (job, attempt, number), and folds its events for a job currently in `current`.
///
/// Errors carry their HTTP status (`Error::kind().http_status()`): 401/403 for tokens, 429 with
/// `retry_after_secs` when rate limited, 400 for a bad body, 409 for a batch number reused with
/// another body. `cancel` asks the pod to stop training (sent in the answer).
#[allow(clippy::too_many_arguments)]
pub async fn ingest_metrics(
    tokens: &Tokens,
    store: &dyn Store,
    limiter: Option<&RateLimiter>,
    job_id: &str,
    current: JobState,
    authorization: Option<&str>,
    body: &[u8],
    cancel: bool,
) -> Result<IngestOutcome> {
    let claims = tokens.verify_authorization(
        authorization,
        &Expect::purpose(Purpose::MetricsWrite).job(job_id),
    )?;
    if let Some(limiter) = limiter {
        limiter.check(job_id)?;
    }
    let batch = parse_batch(body)?;
    if batch.job != job_id {
        return Err(Error::new(
            ErrorKind::TokenScopeMismatch,
            format!(
                "the batch is for job {}, the route for job {job_id}",
                batch.job
            ),
        ));
    }
    if claims.ep.is_some_and(|ep| ep != batch.attempt) {
        return Err(Error::new(
            ErrorKind::TokenScopeMismatch,
            "the batch's attempt is not the one the token was issued for; a retried job's \
             old pod must not report into the new attempt",
        ));
    }
    let record = MetricBatch {
        job: batch.job.clone(),
        epoch: batch.attempt,
        seq: batch.batch,
        body_sha256: Sha256::digest(body).into(),
        received_at: tokens.clock().now_unix_secs(),
    };
    let answer = if cancel {
        r#"{"ok":true,"cancel":true}"#
    } else {
        r#"{"ok":true}"#
    };
    if store.accept_batch(&record).await? == BatchOutcome::Replayed {
        return Ok(IngestOutcome {
            status: 200,
            body: answer.to_owned(),
            replay: true,
            progress: Progress::default(),
            terminate_pod: false,
        });
    }
    let progress = fold(current, &batch.events);
    Ok(IngestOutcome {
        status: 200,
        body: answer.to_owned(),
        replay: false,
        terminate_pod: progress.final_status.is_some(),
        progress,
    })
}
