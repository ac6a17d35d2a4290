//! The plan a job keeps in the store (`JobRecord::config`): recorded by `plan`, with the job as
//! a queued row, and read by every step after (deploy, retry, status, the throughput a finished
//! run measured). `deploy` deploys this stored plan and refuses a plan that differs from it, so
//! that what runs is what `plan` checked, whichever language carried the plan in between. Its
//! own module, beneath the steps that use it, so that none of them imports another for it.

use serde::{Deserialize, Serialize};

use super::Trainpod;
use super::plan::Plan;
use super::spec::check_job_id;
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::JobState;
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
                    "job {} was not planned by this SDK (its stored plan is unreadable: {e}); \
                     plan a new job",
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
        account: plan.spec.account.clone().unwrap_or_default(),
        ..JobRecord::new(&plan.job_id, &plan.spec.user, now)
    })
}

impl Trainpod {
    /// The plan stored with job `job_id`: what `deploy` deploys for it. An app that lost the
    /// plan `plan` returned (its process restarted between the two calls) deploys this.
    pub async fn stored_plan(&self, job_id: &str) -> Result<Plan> {
        Ok(JobConfig::of(&self.job(job_id).await?)?.plan)
    }

    /// Refuses, before any other check, a plan for a job id that cannot be planned again.
    pub(crate) async fn check_plannable(&self, job_id: &str, user: &str) -> Result<()> {
        match self.store.get_job(job_id).await? {
            Some(job) => check_replannable(&job, user),
            None => Ok(()),
        }
    }

    /// Records `plan` with its job, so that `deploy` deploys exactly it: a new queued row, or the
    /// plan of a queued job that was never deployed replaced by this newer one.
    pub(crate) async fn record_plan(&self, plan: &Plan) -> Result<()> {
        let row = job_record(plan, plan.created_at)?;
        loop {
            if self.store.insert_job(&row).await? {
                return Ok(());
            }
            let Some(job) = self.store.get_job(&plan.job_id).await? else {
                continue;
            };
            check_replannable(&job, &plan.spec.user)?;
            let replanned = JobRecord {
                created_at: job.created_at,
                ..row.clone()
            };
            // Compare and set on queued: a deploy that claimed the job first wins, and this
            // plan is refused on the next turn. A deploy that read the earlier plan and claims
            // after this write deploys the earlier plan, the one its caller passed; this plan's
            // deploy is then refused as changed.
            if self.store.update_job(&replanned, JobState::Queued).await? {
                return Ok(());
            }
        }
    }

    /// The row of `plan`'s job, when `plan` is the plan stored with it. A plan that differs (a
    /// copy edited after `plan` made it, or one the job was planned again since) is refused:
    /// `deploy` runs only what `plan` checked and stored, in every language alike.
    pub(crate) async fn planned_job(&self, plan: &Plan) -> Result<JobRecord> {
        check_job_id(&plan.job_id)?;
        let job = self.store.get_job(&plan.job_id).await?.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "no job {} in the store: plan() records a job with its plan, and deploy \
                     deploys the plan it recorded; call plan() first and deploy the plan it \
                     returns (or check the store URL)",
                    plan.job_id
                ),
            )
        })?;
        let stored = JobConfig::of(&job)?.plan;
        // Compared as JSON values, as every binding hands a plan over: the same plan reads the
        // same whichever language carried it.
        if json_of(&stored)? != json_of(plan)? {
            return Err(Error::invalid_input(format!(
                "the plan given for job {} is not the one stored with it: it was changed after \
                 plan() made it (or the job was planned again since); deploy runs only the \
                 stored plan, so call plan() again with the changed spec and deploy the plan it \
                 returns",
                plan.job_id
            )));
        }
        Ok(job)
    }
}

/// Whether `job` may take a new plan for `user`: only while queued and never given a pod (a
/// deploy refused before any pod puts it back so), and only for the user it was planned for.
fn check_replannable(job: &JobRecord, user: &str) -> Result<()> {
    if job.user != user {
        return Err(Error::new(
            ErrorKind::InvalidState,
            format!(
                "job {} was planned for another user: plan this one under another job id (or \
                 leave job_id unset for a fresh one)",
                job.id
            ),
        ));
    }
    if job.state == JobState::Queued && job.pod_id.is_none() && job.attempt == 1 {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::InvalidState,
        format!(
            "job {} is {}: a job can be planned again only until it is deployed, and its plan \
             never changes after; plan under another job id, or deploy the plan stored with it \
             (stored_plan)",
            job.id, job.state
        ),
    ))
}

fn json_of(plan: &Plan) -> Result<serde_json::Value> {
    serde_json::to_value(plan).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("the plan did not serialize: {e}"),
        )
    })
}
