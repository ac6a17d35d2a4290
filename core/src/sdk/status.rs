//! What a job is doing: `status` (one read), `follow` (status changes and events as they
//! arrive) and `logs` (the pod's own output, through the RunPod logs API).

use serde::Serialize;
use serde_json::Value;

use super::Trainpod;
use super::stored_plan::JobConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::JobState;
use crate::runpod::{LogQuery, LogStream};
use crate::store::JobRecord;

/// A job's status.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct JobStatus {
    /// The job id.
    pub job_id: String,
    /// The user the job belongs to (the spec's `user`): what an app checks before showing,
    /// cancelling or retrying it.
    pub user: String,
    /// The attempt, from 1.
    pub attempt: u32,
    /// Where the job is.
    pub state: JobState,
    /// Why it ended, when it did not succeed: a stable code (the failed stage, `deadline`,
    /// `pod_vanished`, `cuda_unsupported`, `container_restarted`, ...).
    pub reason: String,
    /// What happened, in plain words, with what to do (for a trainer's exception, its type and
    /// message); empty while the job runs as it should.
    pub cause: String,
    /// The stage the pod last reported (`preflight`, `dependencies`, `dataset`, `training`,
    /// `uploading`); for a failed job, where it failed. Empty before the pod reported.
    pub stage: String,
    /// The pod's exit code, once its final status arrived.
    pub exit_code: Option<i64>,
    /// The end of the pod's log (at most 20 KB) when it failed, kept so that it outlives the
    /// pod; empty otherwise.
    pub log_tail: String,
    /// The pod of this attempt.
    pub pod_id: Option<String>,
    /// Optimizer steps done.
    pub step: Option<u64>,
    /// Steps in the run.
    pub total_steps: Option<u64>,
    /// `step / total_steps`, 0 to 1 (1 once succeeded).
    pub progress: f64,
    /// The latest training loss.
    pub loss: Option<f64>,
    /// The latest loss on the held-out split (`hyperparameters.eval_fraction`), or the one the
    /// run ended with: the best, when early stopping kept the best checkpoint.
    pub eval_loss: Option<f64>,
    /// Seconds until training ends, from the pace so far; `None` before training.
    pub eta_secs: Option<u64>,
    /// What the job has cost so far across its attempts, USD: each pod's price x its time, or
    /// RunPod's billing for a pod that went away; RunPod's bill for the whole job once it was
    /// read (`billed_usd`). It stops growing when the job ends.
    pub cost_usd: f64,
    /// The job's budget, USD.
    pub budget_usd: f64,
    /// The pod's price, USD per hour.
    pub price_per_hour: f64,
    /// The pod's latest sign of life, Unix seconds.
    pub last_heartbeat: Option<u64>,
    /// The hard deadline, Unix seconds.
    pub deadline_unix: u64,
    /// The estimate the job was planned with, USD: (low, high).
    pub estimate_usd: Option<(f64, f64)>,
    /// What RunPod billed for every pod of the job, USD, beside the estimate: read by the
    /// reconciler some minutes after the job ended (RunPod bills every few); `None` before.
    pub billed_usd: Option<f64>,
    /// The RunPod account the job runs on (`""`: the builder's own key).
    pub account: String,
}

/// One thing `follow` saw.
// Updates are handed out one at a time, a few a second: boxing the status would only cost
// every caller a dereference.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FollowUpdate {
    /// The status changed.
    Status(JobStatus),
    /// An event the pod sent (`stage`, `log`, `heartbeat`, `result`, `final`, ...).
    Event(Value),
}

/// A job's status changes and events, read from the store as the pod's batches arrive. It ends
/// after the job's final status.
#[derive(Debug)]
pub struct Follow<'a> {
    tp: &'a Trainpod,
    job_id: String,
    attempt: Option<u32>,
    next_batch: u64,
    last: Option<JobStatus>,
    pending: std::collections::VecDeque<FollowUpdate>,
    done: bool,
}

impl Follow<'_> {
    /// The next update, waiting for it; `None` once the job has ended and everything was seen.
    pub async fn next(&mut self) -> Result<Option<FollowUpdate>> {
        loop {
            if let Some(update) = self.pending.pop_front() {
                return Ok(Some(update));
            }
            if self.done {
                return Ok(None);
            }
            self.poll().await?;
            if self.pending.is_empty() && !self.done {
                tokio::time::sleep(self.tp.follow_interval).await;
            }
        }
    }

    async fn poll(&mut self) -> Result<()> {
        if self.tp.app_url.is_none() {
            // No app receives the pod's posts: its events come back through its log.
            self.tp.pull_log_events(&self.job_id).await?;
        }
        let job = self.tp.job(&self.job_id).await?;
        // A pod that went away without a word would leave this loop waiting forever.
        let job = self.tp.notice_gone(job).await?;
        if self.attempt != Some(job.attempt) {
            // A new attempt (retry) starts its events from the first batch.
            self.attempt = Some(job.attempt);
            self.next_batch = 0;
        }
        for (batch, events) in self.tp.store.events(&job.id, job.attempt).await? {
            if batch < self.next_batch {
                continue;
            }
            self.next_batch = batch + 1;
            let events: Vec<Value> = serde_json::from_str(&events).unwrap_or_default();
            self.pending
                .extend(events.into_iter().map(FollowUpdate::Event));
        }
        let status = self.tp.status_of(&job).await?;
        if self.last.as_ref().is_none_or(|l| changed(l, &status)) {
            self.last = Some(status.clone());
            self.pending.push_back(FollowUpdate::Status(status));
        }
        self.done = job.state.is_final();
        Ok(())
    }
}

/// A change worth reporting (cost alone creeps up every poll).
fn changed(a: &JobStatus, b: &JobStatus) -> bool {
    (
        a.state,
        a.attempt,
        a.step,
        a.total_steps,
        &a.pod_id,
        a.last_heartbeat,
    ) != (
        b.state,
        b.attempt,
        b.step,
        b.total_steps,
        &b.pod_id,
        b.last_heartbeat,
    ) || a.loss != b.loss
        || a.eval_loss != b.eval_loss
}

impl Trainpod {
    /// The job's row, or `NOT_FOUND`.
    pub(crate) async fn job(&self, job_id: &str) -> Result<JobRecord> {
        super::spec::check_job_id(job_id)?;
        self.store.get_job(job_id).await?.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("no job {job_id} in the store; plan it first (or check the store URL)"),
            )
        })
    }

    /// The job's status now. A live job that has gone quiet has its pod looked up (at most every
    /// 30 s per job), and is ended if RunPod no longer has it.
    pub async fn status(&self, job_id: &str) -> Result<JobStatus> {
        let job = self.job(job_id).await?;
        let job = self.notice_gone(job).await?;
        self.status_of(&job).await
    }

    /// `job`, or the job ended as `pod_vanished` when it is live, has been quiet for a while,
    /// and RunPod no longer has its pod. A failed lookup leaves it to the reconciler.
    pub(crate) async fn notice_gone(&self, job: JobRecord) -> Result<JobRecord> {
        let now = self.clock.now_unix_secs();
        if !self.worth_a_look(&job, now) {
            return Ok(job);
        }
        let lease = self.reconcile.lease_secs;
        let Ok(runpod) = self.runpod_for(&job.account).await else {
            return Ok(job);
        };
        match crate::jobs::end_if_gone(&runpod, self.store.as_ref(), &job, now, lease).await {
            Ok(Some(ended)) => Ok(ended),
            Ok(None) | Err(_) => Ok(job),
        }
    }

    /// Whether a live job with a pod has been quiet long enough, and was not looked at lately.
    fn worth_a_look(&self, job: &JobRecord, now: u64) -> bool {
        let created = job.started_at.unwrap_or(job.created_at);
        let heard = job.last_heartbeat.unwrap_or(created);
        let quiet = !job.state.is_final()
            && job.pod_id.is_some()
            && now.saturating_sub(created) >= crate::jobs::LIST_GRACE_SECS
            && now.saturating_sub(heard) >= QUIET_SECS;
        quiet && self.looks.due(&job.id, now, LOOK_EVERY_SECS)
    }

    pub(crate) async fn status_of(&self, job: &JobRecord) -> Result<JobStatus> {
        let now = self.clock.now_unix_secs();
        let progress = match (job.state, job.step, job.max_steps) {
            (JobState::Succeeded, _, _) => 1.0,
            (_, Some(step), Some(total)) if total > 0 => (step as f64 / total as f64).min(1.0),
            _ => 0.0,
        };
        Ok(JobStatus {
            job_id: job.id.clone(),
            user: job.user.clone(),
            attempt: job.attempt,
            state: job.state,
            reason: job.reason.clone(),
            cause: job.cause.clone(),
            stage: job.stage.clone(),
            exit_code: job.exit_code,
            log_tail: job.log_tail.clone(),
            pod_id: job.pod_id.clone(),
            step: job.step,
            total_steps: job.max_steps,
            progress,
            loss: job.loss,
            eval_loss: job.eval_loss,
            eta_secs: eta(job, now),
            // RunPod's bill, once read, is what the job cost.
            cost_usd: job
                .billed_usd
                .unwrap_or_else(|| super::budget::job_cost(job, now)),
            budget_usd: job.budget_usd,
            price_per_hour: job.price_per_hour,
            last_heartbeat: job.last_heartbeat,
            deadline_unix: job.deadline_unix,
            estimate_usd: JobConfig::of(job)
                .ok()
                .map(|c| (c.plan.estimate.usd_low, c.plan.estimate.usd_high)),
            billed_usd: job.billed_usd,
            account: job.account.clone(),
        })
    }

    /// Status changes and events of `job_id` until it ends.
    pub fn follow(&self, job_id: &str) -> Follow<'_> {
        Follow {
            tp: self,
            job_id: job_id.to_owned(),
            attempt: None,
            next_batch: 0,
            last: None,
            pending: Default::default(),
            done: false,
        }
    }

    /// The pod's log (container and system lines), backfilled with the last `tail` lines and then
    /// live, through the RunPod logs API.
    pub async fn logs(&self, job_id: &str, tail: Option<u32>) -> Result<LogStream> {
        let job = self.job(job_id).await?;
        let pod = job.pod_id.ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidState,
                format!("job {job_id} has no pod yet; deploy it first"),
            )
        })?;
        let query = LogQuery {
            tail,
            ..LogQuery::default()
        };
        match self
            .runpod_for(&job.account)
            .await?
            .pod_logs(&pod, &query)
            .await
        {
            Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "pod {pod} of job {job_id} is gone, and its log with it; the job keeps the \
                     end of the log of a failed pod: read status(job).log_tail"
                ),
            )),
            other => other,
        }
    }
}

/// A live pod reports at least every 30 s (its heartbeat): this long without a word, its pod is
/// worth looking up.
const QUIET_SECS: u64 = 90;
/// How often one job's pod is looked up by `status` and `follow`.
const LOOK_EVERY_SECS: u64 = 30;

/// When each job's pod was last looked up, so that a page polling `status` does not ask RunPod
/// on every call.
#[derive(Debug, Default)]
pub(crate) struct Looks(std::sync::Mutex<std::collections::HashMap<String, u64>>);

impl Looks {
    /// Whether `job` may be looked at now (and if so, it is marked as looked at).
    fn due(&self, job: &str, now: u64, every: u64) -> bool {
        let mut looks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if looks
            .get(job)
            .is_some_and(|at| now.saturating_sub(*at) < every)
        {
            return false;
        }
        // Bounded: an old entry only delays one look by `every`.
        if looks.len() >= 10_000 {
            looks.clear();
        }
        looks.insert(job.to_owned(), now);
        true
    }
}

/// Seconds left in training at the pace since the pod started (which includes its setup, so
/// the figure errs long early on and sharpens as steps accrue).
fn eta(job: &JobRecord, now: u64) -> Option<u64> {
    if job.state != JobState::Training {
        return None;
    }
    let (step, total, start) = (job.step?, job.max_steps?, job.started_at?);
    if step == 0 || total <= step {
        return None;
    }
    let per_step = now.saturating_sub(start) as f64 / step as f64;
    // Held to what every binding carries exactly: a slow start over a vast step count could
    // otherwise give a figure beyond 2^53, which Node would make a BigInt.
    let secs = (per_step * (total - step) as f64).round() as u64;
    Some(secs.min(crate::jobs::MAX_SAFE_INTEGER))
}
