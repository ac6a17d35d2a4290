//! The job rows the store keeps, and the reconciler's record of acting on a pod.

use std::sync::Arc;

use crate::jobs::JobState;

/// One job, as the store keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    /// The job id (`[A-Za-z0-9_-]`); its pod is named `trainpod-<id>`.
    pub id: String,
    /// The user the job belongs to.
    pub user: String,
    /// The RunPod account its pods run on (`""`: the builder's own key). Only the id is kept;
    /// the key comes from the app's credentials resolver when a call needs it.
    pub account: String,
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
    /// The latest held-out loss, or the best one once the run kept its best checkpoint.
    pub eval_loss: Option<f64>,
    /// What the job was deployed with (JSON written by the SDK, so that `retry` can start another
    /// attempt of it); empty for a job recorded by hand. Shared, not owned: the row is copied on
    /// every metric batch, and the plan is kilobytes that no batch changes.
    pub config: Arc<str>,
    /// The settled cost of the attempts before this one, USD: the budget is the job's, so a
    /// retry may spend only what they left.
    pub spent_usd: f64,
    /// This attempt's settled cost, USD, once its pod is gone (from RunPod's billing where it
    /// answers); `None` while the pod may still bill, when the cost is price x time.
    pub cost_usd: Option<f64>,
    /// Why the job is where it is, in plain words (what failed, what the pod's log showed);
    /// empty while it runs as it should.
    pub cause: String,
    /// The GPU type this attempt's pod was placed on; empty before it has one.
    pub gpu_id: String,
    /// The data center this attempt's pod was placed in; empty when unknown.
    pub data_center_id: String,
    /// The stage the pod last reported (`preflight`, `dependencies`, `dataset`, `training`,
    /// `uploading`); empty before it reported one.
    pub stage: String,
    /// The exit code the pod's final status carried, when it sent one.
    pub exit_code: Option<i64>,
    /// The end of the pod's log when it failed (at most 20 KB), kept so it outlives the pod.
    pub log_tail: String,
    /// What RunPod billed for every pod of the job, USD, read after it ended; `None` before.
    pub billed_usd: Option<f64>,
}

impl JobRecord {
    /// A queued job `id` of `user`, created at `now`, attempt 1, with no deadline, budget or pod
    /// yet: set what applies with struct update syntax.
    pub fn new(id: impl Into<String>, user: impl Into<String>, now: u64) -> JobRecord {
        JobRecord {
            id: id.into(),
            user: user.into(),
            account: String::new(),
            attempt: 1,
            state: JobState::Queued,
            reason: String::new(),
            pod_id: None,
            created_at: now,
            updated_at: now,
            deadline_unix: now,
            budget_usd: 0.0,
            price_per_hour: 0.0,
            started_at: None,
            last_heartbeat: None,
            step: None,
            max_steps: None,
            loss: None,
            eval_loss: None,
            config: Arc::from(""),
            spent_usd: 0.0,
            cost_usd: None,
            cause: String::new(),
            gpu_id: String::new(),
            data_center_id: String::new(),
            stage: String::new(),
            exit_code: None,
            log_tail: String::new(),
            billed_usd: None,
        }
    }
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

/// The training throughput one finished attempt measured, for later estimates.
#[derive(Clone, Debug, PartialEq)]
pub struct ThroughputSample {
    /// The job.
    pub job: String,
    /// Its attempt.
    pub attempt: u32,
    /// The GPU type it trained on.
    pub gpu_id: String,
    /// `lora`, `qlora` or `full`.
    pub method: String,
    /// Effective TFLOP/s per GPU: the estimated training FLOPs over the measured training time.
    pub tflops: f64,
    /// Unix seconds.
    pub recorded_at: u64,
}

/// One pod (or cluster of pods) a job had: the final bill is the sum of its pods'.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobPodRecord {
    /// The pod.
    pub pod_id: String,
    /// Its job.
    pub job_id: String,
    /// The attempt it ran.
    pub attempt: u32,
    /// The RunPod account it ran on.
    pub account: String,
    /// Unix seconds.
    pub created_at: u64,
    /// The id is an Instant Cluster's (a job of several nodes), billed and ended as one.
    pub cluster: bool,
}

/// What RunPod billed for a finished job, beside what its plan estimated.
#[derive(Clone, Debug, PartialEq)]
pub struct BillSample {
    /// The job.
    pub job: String,
    /// The GPU type it ran on.
    pub gpu_id: String,
    /// `lora`, `qlora` or `full`.
    pub method: String,
    /// Billed, USD, every pod together.
    pub billed_usd: f64,
    /// The plan's estimate, USD (the middle of its range).
    pub estimated_usd: f64,
    /// Unix seconds.
    pub recorded_at: u64,
}
