//! `ingest_metrics`: what the app's metrics route calls with the request's `Authorization`
//! header and body. Checks run cheapest first (token, rate, shape), so a bad request costs no
//! store round trip; then the batch's events are kept, the batch is accepted once, and the job's
//! row moves forward.

use sha2::{Digest, Sha256};

use super::batch::{Batch, check_times, parse_batch_raw};
use super::progress::{FinalStatus, Progress, fold};
use super::rate::RateLimiter;
use super::state::JobState;
use super::window::{CHECKIN_BATCH, LOG_BATCH_BASE};
use crate::error::{Error, ErrorKind, Result, quote};
use crate::store::{BatchOutcome, JobRecord, MetricBatch, Store};
use crate::token::{Expect, Purpose, Tokens};

/// What the route answers, and what follows from the batch.
#[derive(Clone, Debug, PartialEq)]
pub struct IngestOutcome {
    /// The HTTP status to answer (200).
    pub status: u16,
    /// The JSON body to answer; `{"ok":true,"cancel":true}` tells the trainer to stop (the job
    /// was cancelled or has otherwise ended).
    pub body: String,
    /// The batch was seen before (same number, same body): its events are not kept twice.
    pub replay: bool,
    /// What the batch says.
    pub progress: Progress,
    /// The job after the batch.
    pub job: JobRecord,
    /// A final status arrived: terminate the pod now rather than wait for the pod to do it.
    pub terminate_pod: bool,
}

/// Verifies the job's metrics token, parses the batch strictly, keeps its events and accepts it
/// once per (job, attempt, number), and moves the job's row forward (compare and set, so
/// concurrent batches of one job never lose an update): [`check_metrics`], then
/// [`ingest_checked`].
///
/// Errors carry their HTTP status (`Error::kind().http_status()`): 401/403 for tokens (also for a
/// pod of an earlier attempt), 429 with `retry_after_secs` when rate limited, 400 for a bad body,
/// 404 for an unknown job, 409 for a batch number reused with another body.
pub async fn ingest_metrics(
    tokens: &Tokens,
    store: &dyn Store,
    limiter: Option<&RateLimiter>,
    job_id: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<IngestOutcome> {
    let checked = check_metrics(tokens, limiter, job_id, authorization, body)?;
    ingest_checked(store, checked).await
}

/// A metric batch that passed the request's checks, with what the store keeps of it. It owns
/// all of that, so the request's body need not outlive the checks: they end before the first
/// store round trip.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedBatch {
    batch: Batch,
    record: MetricBatch,
    events: String,
}

impl CheckedBatch {
    /// The batch in `body`, parsed and checked as [`parse_batch`](super::parse_batch) does,
    /// received at `now` (Unix seconds), each event's time within a day ahead of `now` and
    /// [`MAX_TS_BEHIND_SECS`](super::MAX_TS_BEHIND_SECS) behind it. The sender must be authenticated otherwise:
    /// [`check_metrics`] checks a pod's token first; the log-read telemetry reads the pod's log
    /// through the RunPod API.
    pub fn parse(body: &[u8], now: u64) -> Result<Self> {
        let (batch, events) = parse_batch_raw(body)?;
        check_times(&batch, now)?;
        let record = MetricBatch {
            job: batch.job.clone(),
            epoch: batch.attempt,
            seq: batch.batch,
            body_sha256: Sha256::digest(body).into(),
            received_at: now,
        };
        Ok(CheckedBatch {
            batch,
            record,
            // The pod's own text of the events: checked by the parse, and kept as it was sent.
            events: events.to_owned(),
        })
    }

    /// The batch.
    pub fn batch(&self) -> &Batch {
        &self.batch
    }
}

/// The part of [`ingest_metrics`] that needs no store, cheapest check first (token, rate,
/// shape), so a bad request costs no round trip and is answered without waiting.
pub fn check_metrics(
    tokens: &Tokens,
    limiter: Option<&RateLimiter>,
    job_id: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<CheckedBatch> {
    let claims = tokens.verify_authorization(
        authorization,
        &Expect::purpose(Purpose::MetricsWrite).job(job_id),
    )?;
    if let Some(limiter) = limiter {
        limiter.check(job_id)?;
    }
    let checked = CheckedBatch::parse(body, tokens.clock().now_unix_secs())?;
    check_scope(checked.batch(), job_id, claims.ep)?;
    check_posted_number(checked.batch())?;
    Ok(checked)
}

/// The part of [`ingest_metrics`] after the checks: keep the batch's events, accept the batch
/// once, fold it into the job.
pub async fn ingest_checked(store: &dyn Store, checked: CheckedBatch) -> Result<IngestOutcome> {
    let CheckedBatch {
        batch,
        record,
        events,
    } = checked;
    let job_id = batch.job.as_str();
    let mut job = store
        .get_job(job_id)
        .await?
        .ok_or_else(|| unknown_job(job_id))?;
    if job.attempt != batch.attempt {
        return Err(old_attempt(job.attempt, batch.attempt));
    }
    // The ledger first: it refuses a reused number with another body, or a number outside
    // the attempt's window, whose events must never be kept (`follow` would show them). Then
    // the events, on a replay too (idempotent): a crash between the two leaves the batch
    // accepted without its events, and the pod's retry, a replay, keeps them.
    let now = record.received_at;
    let replay = match store.accept_batch(&record).await {
        Ok(outcome) => outcome == BatchOutcome::Replayed,
        Err(e) if e.kind() == ErrorKind::SequenceConflict && batch.batch == CHECKIN_BATCH => {
            return restarted(store, job, now).await;
        }
        Err(e) => return Err(e),
    };
    store.append_events(&record, &events).await?;
    // The pod's sign of life is when the app received a new batch: a pod's clock may run ahead,
    // and a replay says nothing new.
    let heartbeat = (!replay).then_some(now);
    // Folding again on a replay is harmless (the row only moves forward), and completes a batch
    // whose first delivery was accepted but not applied.
    let progress = loop {
        let progress = fold(job.state, &batch.events);
        let Some(next) = apply(&job, &progress, now, heartbeat) else {
            break progress;
        };
        if store.update_job(&next, job.state).await? {
            job = next;
            break progress;
        }
        // Another writer moved the job first: read it again and fold onto what it wrote.
        job = store
            .get_job(job_id)
            .await?
            .ok_or_else(|| unknown_job(job_id))?;
        if job.attempt != batch.attempt {
            return Err(old_attempt(job.attempt, batch.attempt));
        }
    };
    let ended = job.state.is_final() && progress.final_status.is_none();
    Ok(IngestOutcome {
        status: 200,
        body: if ended {
            r#"{"ok":true,"cancel":true}"#
        } else {
            r#"{"ok":true}"#
        }
        .to_owned(),
        replay,
        terminate_pod: progress.final_status.is_some(),
        progress,
        job,
    })
}

/// A restarted container checked in: its attempt ran (or runs) in an earlier container. The job
/// ends, if it was live, and the pod is told not to run (409) and terminated.
async fn restarted(store: &dyn Store, mut job: JobRecord, now: u64) -> Result<IngestOutcome> {
    loop {
        if job.state.is_final() {
            break;
        }
        let ended = JobRecord {
            state: JobState::Failed,
            reason: "container_restarted".into(),
            cause: format!(
                "RunPod restarted the pod's container after its main process ended (the job was \
                 {}); an attempt never runs twice, so it ended: retry the job",
                job.state
            ),
            updated_at: now,
            ..job.clone()
        };
        if store.update_job(&ended, job.state).await? {
            job = ended;
            break;
        }
        let attempt = job.attempt;
        job = store
            .get_job(&job.id)
            .await?
            .filter(|j| j.attempt == attempt)
            .ok_or_else(|| unknown_job(&job.id))?;
    }
    Ok(IngestOutcome {
        status: 409,
        body:
            r#"{"ok":false,"run":false,"error":"this attempt already ran in an earlier container"}"#
                .to_owned(),
        replay: false,
        progress: Progress::default(),
        job,
        terminate_pod: true,
    })
}

fn check_scope(batch: &Batch, job_id: &str, epoch: Option<u32>) -> Result<()> {
    if batch.job != job_id {
        return Err(Error::new(
            ErrorKind::TokenScopeMismatch,
            format!(
                "the batch is for job {}, the route for job {}; send each job's batches to its \
                 own route",
                quote(&batch.job),
                quote(job_id)
            ),
        ));
    }
    if let Some(ep) = epoch.filter(|ep| *ep != batch.attempt) {
        return Err(old_attempt(ep, batch.attempt));
    }
    Ok(())
}

/// A pod posts numbers from its own counter; the log-read space is the SDK's, which numbers
/// the events it reads back from the pod's log there.
fn check_posted_number(batch: &Batch) -> Result<()> {
    if batch.batch < LOG_BATCH_BASE {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::SequenceConflict,
        format!(
            "batch {} is in the numbers of events read from the pod's log (from {LOG_BATCH_BASE}); \
             a pod numbers its batches from 1",
            batch.batch
        ),
    ))
}

fn old_attempt(current: u32, sent: u32) -> Error {
    Error::new(
        ErrorKind::TokenScopeMismatch,
        format!(
            "the batch is from attempt {sent} but the job is at attempt {current}; \
             a retried job's old pod must not report into the new attempt"
        ),
    )
}

fn unknown_job(job_id: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!(
            "no job {} in the store; record the job (deploy does) before its pod reports",
            quote(job_id)
        ),
    )
}

/// Why a job is where it is: what a final status leaves on the row, or what a forward move clears.
struct Why {
    reason: String,
    cause: String,
    exit_code: Option<i64>,
    log_tail: String,
}

impl Why {
    /// Whether the row says this already (compared in place: a failed job's log tail is
    /// kilobytes).
    fn is_on(&self, job: &JobRecord) -> bool {
        self.reason == job.reason
            && self.cause == job.cause
            && self.exit_code == job.exit_code
            && self.log_tail == job.log_tail
    }

    fn of(job: &JobRecord) -> Why {
        Why {
            reason: job.reason.clone(),
            cause: job.cause.clone(),
            exit_code: job.exit_code,
            log_tail: job.log_tail.clone(),
        }
    }

    /// After a move to `state`: a failed final status says why, with what the pod left of its
    /// log; any other move (success included) leaves nothing stale from before.
    fn after(state: JobState, f: Option<&FinalStatus>) -> Why {
        match f {
            Some(f) if state != JobState::Succeeded => Why {
                reason: f.reason.clone(),
                cause: one_line(&f.cause),
                exit_code: Some(f.exit_code),
                log_tail: bounded_tail(&f.log_tail),
            },
            _ => Why {
                reason: String::new(),
                cause: String::new(),
                exit_code: f.map(|f| f.exit_code),
                log_tail: String::new(),
            },
        }
    }
}

/// The job row after `p` (state forward only, latest figures, the newest sign of life), or
/// `None` when `p` changes none of it: most batches of a running job, which then cost no copy of
/// the row and no comparison of its kilobytes of plan.
fn apply(job: &JobRecord, p: &Progress, now: u64, heartbeat: Option<u64>) -> Option<JobRecord> {
    let moved = p.state.filter(|s| job.state.can_move_to(*s));
    let state = moved.unwrap_or(job.state);
    let why = match moved {
        Some(state) => Why::after(state, p.final_status.as_ref()),
        None => Why::of(job),
    };
    let stage = p.stage.as_deref().unwrap_or(&job.stage);
    let figures = (
        state,
        p.step.or(job.step),
        p.max_steps.or(job.max_steps),
        p.loss.or(job.loss),
        p.eval_loss.or(job.eval_loss),
        job.last_heartbeat.max(heartbeat),
    );
    let current = (
        job.state,
        job.step,
        job.max_steps,
        job.loss,
        job.eval_loss,
        job.last_heartbeat,
    );
    if figures == current && stage == job.stage && why.is_on(job) {
        return None;
    }
    let mut next = job.clone();
    (
        next.state,
        next.step,
        next.max_steps,
        next.loss,
        next.eval_loss,
        next.last_heartbeat,
    ) = figures;
    next.stage = stage.to_owned();
    (next.reason, next.cause, next.exit_code, next.log_tail) =
        (why.reason, why.cause, why.exit_code, why.log_tail);
    next.updated_at = now;
    Some(next)
}

/// The end of a pod's log as the job keeps it: at most its last 20,000 bytes, cut at a
/// character boundary (the pod sends no more; a hostile one is held to it here).
fn bounded_tail(tail: &str) -> String {
    const MAX: usize = 20_000;
    if tail.len() <= MAX {
        return tail.to_owned();
    }
    let mut start = tail.len() - MAX;
    while !tail.is_char_boundary(start) {
        start += 1;
    }
    tail[start..].to_owned()
}

/// The pod's cause as the job keeps it: its first line, control characters replaced, at most
/// 500 characters (the whole log tail stays in the job's events).
fn one_line(cause: &str) -> String {
    cause
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(500)
        .collect()
}
