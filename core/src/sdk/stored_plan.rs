//! The plan a job keeps in the store (`JobRecord::config`): written when the job is recorded,
//! read by every step after (deploy, retry, status, the throughput a finished run measured).
//! Its own module, beneath the steps that use it, so that none of them imports another for it.

use serde::{Deserialize, Serialize};

use super::plan::Plan;
use crate::error::{Error, ErrorKind, Result};
use crate::store::JobRecord;

/// What a job row keeps of its plan (`JobRecord::config`), so that `deploy` and `retry` can
/// start an attempt of it and `status` can show its estimate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct JobConfig {
    pub plan: Plan,
}

impl JobConfig {
    pub(crate) fn of(job: &JobRecord) -> Result<JobConfig> {
        serde_json::from_str(&job.config).map_err(|e| {
            Error::new(
                ErrorKind::InvalidState,
                format!(
                    "job {} was not deployed by this SDK (its stored plan is unreadable: {e}); \
                     deploy a new job",
                    job.id
                ),
            )
        })
    }
}

/// The queued row of `plan`'s job, created at `now`, its plan kept with it.
pub(crate) fn job_record(plan: &Plan, now: u64) -> Result<JobRecord> {
    let config = serde_json::to_string(&JobConfig { plan: plan.clone() }).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("the plan did not serialize: {e}"),
        )
    })?;
    Ok(JobRecord {
        deadline_unix: super::budget::deadline_at(now, plan.deadline_secs)?,
        budget_usd: plan.spec.budget_usd,
        price_per_hour: plan.gpu.price_per_hour,
        config: config.into(),
        ..JobRecord::new(&plan.job_id, &plan.spec.user, now)
    })
}
