//! Whether a verified token's job may still use a pod-facing route.
//!
//! A token's MAC and claims say who issued it and for what, not whether its job still wants it:
//! a dataset token outlives a cancelled job by up to a day, an artifacts token by up to a week.
//! So after the token passes, the route looks at the job in the store: it must exist, belong to
//! the token's user, be the token's attempt when the token names one, and be live for the route.

use super::Trainpod;
use crate::error::{Error, ErrorKind, Result};
use crate::store::JobRecord;
use crate::token::{Claims, Purpose};

/// How long after a job's end (its final `updated_at`) its pod may still upload artifacts, in
/// seconds. A pod uploads before it reports its final status, but the job can end first (the
/// reconciler at the deadline, a final status that overtook a slow upload, an app that was down
/// and caught up): ten minutes lets that upload finish without leaving a week-long token open.
pub const ARTIFACT_UPLOAD_GRACE_SECS: u64 = 600;

impl Trainpod {
    /// The job `claims` are for, when it may use the `purpose` route now: it exists, belongs to
    /// the token's user, is the token's attempt (when the token carries one), and is live: not
    /// ended for a dataset read, ended less than [`ARTIFACT_UPLOAD_GRACE_SECS`] ago at most for
    /// an artifact write. Otherwise `NOT_FOUND` (404), `TOKEN_SCOPE_MISMATCH` (403) or
    /// `INVALID_STATE` (409). The messages name the job, never the token.
    pub(crate) async fn job_for_route(
        &self,
        claims: &Claims,
        purpose: Purpose,
    ) -> Result<JobRecord> {
        let job = self.store.get_job(&claims.job).await?.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "job {} is not in the store (never deployed, or deleted): a pod has nothing to \
                     {} for it; deploy the job, or check that every app instance uses the same store",
                    claims.job,
                    action(purpose)
                ),
            )
        })?;
        if job.user != claims.sub {
            return Err(Error::new(
                ErrorKind::TokenScopeMismatch,
                format!(
                    "the token is for another user than the owner of job {}; use the token issued \
                     for this job",
                    job.id
                ),
            ));
        }
        if claims.ep.is_some_and(|ep| ep != job.attempt) {
            return Err(Error::new(
                ErrorKind::TokenScopeMismatch,
                format!(
                    "the token is for another attempt of job {} than its current one ({}); a \
                     retried job's old pod must not {}",
                    job.id,
                    job.attempt,
                    action(purpose)
                ),
            ));
        }
        if job.state.is_final() {
            let (refused, when) = match purpose {
                Purpose::ArtifactsWrite => (
                    self.clock.now_unix_secs()
                        >= job.updated_at.saturating_add(ARTIFACT_UPLOAD_GRACE_SECS),
                    format!(" more than {ARTIFACT_UPLOAD_GRACE_SECS} s ago"),
                ),
                Purpose::DatasetRead | Purpose::MetricsWrite => (true, String::new()),
            };
            if refused {
                return Err(Error::new(
                    ErrorKind::InvalidState,
                    format!(
                        "job {} has ended ({}){when}: its pod may no longer {}; retry the job for \
                         a new attempt with fresh tokens",
                        job.id,
                        job.state,
                        action(purpose)
                    ),
                ));
            }
        }
        Ok(job)
    }
}

fn action(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::DatasetRead => "download its dataset",
        Purpose::MetricsWrite => "send metrics",
        Purpose::ArtifactsWrite => "upload artifacts",
    }
}
