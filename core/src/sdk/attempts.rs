//! `cancel` and `retry`. The budget is the job's: a retry's attempt spends only what earlier
//! attempts left, and a retry that is refused (nothing left, a dataset changed since the plan,
//! no capacity) leaves the job exactly as it was.

use super::Trainpod;
use super::budget::{job_cost, remaining_after};
use super::deploy::choices;
use super::plan::{GpuChoice, Plan};
use super::status::JobStatus;
use super::stored_plan::JobConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::JobState;
use crate::store::JobRecord;

impl Trainpod {
    /// Terminates the job's pod and marks the job cancelled. Cancelling an ended job changes
    /// nothing and returns it as it is.
    pub async fn cancel(&self, job_id: &str) -> Result<JobStatus> {
        loop {
            let job = self.job(job_id).await?;
            if job.state.is_final() {
                return self.status_of(&job).await;
            }
            self.end_compute(&job).await?;
            let now = self.clock.now_unix_secs();
            let next = JobRecord {
                state: JobState::Cancelled,
                reason: "cancelled".into(),
                cause: "cancelled on request".into(),
                updated_at: now,
                ..job.clone()
            };
            if self.store.update_job(&next, job.state).await? {
                return self.status_of(&next).await;
            }
        }
    }

    /// Starts a new attempt of an ended job (failed, cancelled, timed out, over budget): its old
    /// pod terminated, fresh tokens, a new pod, and what is left of the job's budget. A succeeded
    /// job cannot be retried; a live one must be cancelled first.
    pub async fn retry(&self, job_id: &str) -> Result<JobStatus> {
        self.retry_on(job_id, None).await
    }

    /// [`Self::retry`], placing the new attempt on the plan's GPUs other than `avoid_gpu` when
    /// the plan has any (the reconciler's opt-in retry of a pod that never started).
    pub(crate) async fn retry_on(
        &self,
        job_id: &str,
        avoid_gpu: Option<&str>,
    ) -> Result<JobStatus> {
        let job = self.job(job_id).await?;
        check_retryable(&job)?;
        let plan = JobConfig::of(&job)?.plan;
        let now = self.clock.now_unix_secs();
        let gpus = placement_choices(&plan, avoid_gpu);
        check_budget_left(&job, &gpus, now)?;
        let next = JobRecord {
            attempt: job.attempt + 1,
            state: JobState::Provisioning,
            config: job.config.clone(),
            budget_usd: job.budget_usd,
            spent_usd: job_cost(&job, now),
            price_per_hour: plan.gpu.price_per_hour,
            updated_at: now,
            account: job.account.clone(),
            ..JobRecord::new(&job.id, &job.user, job.created_at)
        };
        // Every script is made before anything changes: a refusal leaves the job as it was.
        self.warm_dataset_digest(&plan).await?;
        let placements = self.placements(&next, &plan, &gpus, now)?;
        self.end_compute(&job).await?;
        if !self
            .store
            .begin_attempt(&next, job.state, job.attempt)
            .await?
        {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!(
                    "job {} changed while it was being retried; read its status and try again",
                    crate::error::quote(job_id)
                ),
            ));
        }
        self.launch(next, &job, placements).await
    }
}

fn check_retryable(job: &JobRecord) -> Result<()> {
    if job.state.is_final() && job.state != JobState::Succeeded {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::InvalidState,
        format!(
            "job {} is {}: only a failed, cancelled, timed out or over-budget job can be \
             retried{}",
            job.id,
            job.state,
            if job.state.is_final() {
                ""
            } else {
                " (cancel it first)"
            }
        ),
    ))
}

/// The GPUs a new attempt may use: the plan's, less `avoid` when others remain.
fn placement_choices<'a>(plan: &'a Plan, avoid: Option<&str>) -> Vec<&'a GpuChoice> {
    let all = choices(plan);
    let others: Vec<&GpuChoice> = all
        .iter()
        .copied()
        .filter(|g| Some(g.gpu_id.as_str()) != avoid)
        .collect();
    if others.is_empty() { all } else { others }
}

/// The least a new attempt must be able to buy: the pod's own time to report its end and
/// upload, and a minute of training. Less than that is refused rather than started to fail.
const LEAST_ATTEMPT_SECS: f64 = 60.0;

fn check_budget_left(job: &JobRecord, gpus: &[&GpuChoice], now: u64) -> Result<()> {
    let left = remaining_after(job, now);
    let cheapest = gpus
        .iter()
        .map(|g| g.price_per_hour)
        .fold(f64::INFINITY, f64::min);
    let buys = if cheapest > 0.0 && cheapest.is_finite() {
        left.max(0.0) / cheapest * 3600.0
    } else {
        f64::INFINITY
    };
    if left > 0.0 && buys >= LEAST_ATTEMPT_SECS {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::InvalidState,
        format!(
            "job {} has cost ${:.2} of its ${:.2} budget over {} attempt(s): what is left buys \
             {:.0} s on the cheapest GPU of its plan, too little for another attempt; plan a new \
             job with a larger budget",
            job.id,
            job_cost(job, now),
            job.budget_usd,
            job.attempt,
            buys.min(1e9)
        ),
    ))
}
