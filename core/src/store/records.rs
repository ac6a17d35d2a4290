//! The job rows the store keeps, and the reconciler's record of acting on a pod.

use crate::jobs::JobState;

/// One job, as the store keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    /// The job id (`[A-Za-z0-9_-]`); its pod is named `trainpod-<id>`.
    pub id: String,
    /// The user the job belongs to.
    pub user: String,
    /// The attempt, from 1.
    pub attempt: u32,
    /// Where the job is.
    pub state: JobState,
    /// Why it ended (or is where it is); empty otherwise.
    pub reason: String,
    /// The pod of the current attempt, once created.
    pub pod_id: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub updated_at: u64,
    /// The hard deadline, Unix seconds.
    pub deadline_unix: u64,
    /// The most the job may cost, USD.
    pub budget_usd: f64,
    /// The pod's price, USD per hour.
    pub price_per_hour: f64,
    /// When the pod was created (billing starts), Unix seconds.
    pub started_at: Option<u64>,
    /// The pod's latest sign of life, Unix seconds.
    pub last_heartbeat: Option<u64>,
    /// Optimizer steps done.
    pub step: Option<u64>,
    /// Steps in the run.
    pub max_steps: Option<u64>,
    /// The latest training loss.
    pub loss: Option<f64>,
}

/// The reconciler acted on a pod (at most once per pod, across every app instance).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodActionRecord {
    /// The pod.
    pub pod_id: String,
    /// Its job, when it has one (an orphan may not).
    pub job_id: Option<String>,
    /// `terminate`.
    pub action: String,
    /// Why: `stale_heartbeat`, `deadline`, `over_budget`, `orphan`, ...
    pub reason: String,
    /// Unix seconds.
    pub acted_at: u64,
}
