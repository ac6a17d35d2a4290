//! `reconcile`: the backstop that ends pods nobody should be paying for. It lists trainpod's
//! pods on the account and terminates any whose job is gone or over, past its deadline, over its
//! budget, or silent too long. Each action is claimed in the store first, so several app
//! instances reconciling at once act on each pod once.

use super::state::JobState;
use crate::error::Result;
use crate::runpod::{Client, Pod, PodStatus};
use crate::store::{JobRecord, PodActionRecord, Store};

/// Pods trainpod creates are named `trainpod-<job id>`.
pub const POD_PREFIX: &str = "trainpod-";

/// The job id in a trainpod pod name (`trainpod-<job>`, or `trainpod-<job>.<attempt>` for a
/// retried job's later attempts), if it is one.
pub fn job_of_pod(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(POD_PREFIX)?;
    Some(rest.split_once('.').map_or(rest, |(job, _)| job))
}

/// When a pod counts as abandoned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcilePolicy {
    /// No heartbeat for this long once the pod has reported: terminate (default 10 minutes).
    pub stale_after_secs: u64,
    /// Never reported this long after creation (image pull, boot): terminate (default 30 minutes).
    pub provision_timeout_secs: u64,
    /// How long a claim on a pod holds before another instance may act again (default 60 s).
    pub lease_secs: u64,
}

impl Default for ReconcilePolicy {
    fn default() -> Self {
        ReconcilePolicy {
            stale_after_secs: 600,
            provision_timeout_secs: 1800,
            lease_secs: 60,
        }
    }
}

/// What `reconcile` did to one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileAction {
    /// The pod terminated.
    pub pod_id: String,
    /// Its job, when it has one.
    pub job_id: Option<String>,
    /// `orphan`, `job_ended`, `deadline`, `over_budget`, `stale_heartbeat`, `provision_timeout`.
    pub reason: &'static str,
    /// The state the job was moved to, if it was live.
    pub job_state: Option<JobState>,
}

/// Why a pod must go, and what its job becomes.
fn verdict(
    pod: &Pod,
    job: Option<&JobRecord>,
    now: u64,
    p: &ReconcilePolicy,
) -> Option<(&'static str, Option<JobState>)> {
    let Some(job) = job else {
        return Some(("orphan", None));
    };
    if job.pod_id.as_deref() != Some(pod.id.as_str()) {
        return Some(("orphan", None));
    }
    if job.state.is_final() {
        return Some(("job_ended", None));
    }
    if now >= job.deadline_unix {
        return Some(("deadline", Some(JobState::TimedOut)));
    }
    let started = job.started_at.unwrap_or(job.created_at);
    let hourly = job.price_per_hour.max(pod.cost);
    if hourly * now.saturating_sub(started) as f64 / 3600.0 >= job.budget_usd {
        return Some(("over_budget", Some(JobState::OverBudget)));
    }
    match job.last_heartbeat {
        Some(last) if now.saturating_sub(last) > p.stale_after_secs => {
            Some(("stale_heartbeat", Some(JobState::Failed)))
        }
        None if now.saturating_sub(started) > p.provision_timeout_secs => {
            Some(("provision_timeout", Some(JobState::Failed)))
        }
        _ => None,
    }
}

/// Lists trainpod's pods and terminates the ones that must go; returns what it did.
pub async fn reconcile(
    client: &Client,
    store: &dyn Store,
    now: u64,
    policy: &ReconcilePolicy,
) -> Result<Vec<ReconcileAction>> {
    let mut actions = Vec::new();
    for pod in client.list_pods().await? {
        let Some(job_id) = job_of_pod(&pod.name) else {
            continue;
        };
        if pod.status == PodStatus::Terminated {
            continue;
        }
        let job = store.get_job(job_id).await?;
        let Some((reason, next)) = verdict(&pod, job.as_ref(), now, policy) else {
            continue;
        };
        let claim = PodActionRecord {
            pod_id: pod.id.clone(),
            job_id: job.as_ref().map(|j| j.id.clone()),
            action: "terminate".into(),
            reason: reason.into(),
            acted_at: now,
        };
        if !store.claim_pod_action(&claim, policy.lease_secs).await? {
            continue; // another instance is on it
        }
        client.terminate_pod(&pod.id).await?;
        if let (Some(mut job), Some(next)) = (job, next) {
            let expected = job.state;
            job.state = next;
            job.reason = reason.into();
            job.updated_at = now;
            // A writer that moved the job meanwhile (a final status arriving) wins.
            store.update_job(&job, expected).await?;
        }
        actions.push(ReconcileAction {
            pod_id: pod.id,
            job_id: claim.job_id,
            reason,
            job_state: next,
        });
    }
    Ok(actions)
}
