//! The plain objects the routes and `reconcile` answer with, converted from core's: their
//! TypeScript types are generated with the binding. Times, steps and sizes stay below 2^53, so
//! doubles hold them exactly.

use napi_derive::napi;
use trainpod::sdk;

/// A job's row, as the metrics route left it.
#[napi(object)]
#[derive(Debug)]
pub struct JobRecord {
    pub id: String,
    pub user: String,
    pub attempt: u32,
    #[napi(ts_type = "JobState")]
    pub state: String,
    /// Why it ended (or is where it is); empty otherwise.
    pub reason: String,
    /// Unix seconds.
    pub created_at: f64,
    /// Unix seconds.
    pub updated_at: f64,
    /// The hard deadline, Unix seconds.
    pub deadline_unix: f64,
    pub budget_usd: f64,
    pub price_per_hour: f64,
    pub pod_id: Option<String>,
    /// When the pod was created (billing starts), Unix seconds.
    pub started_at: Option<f64>,
    /// The pod's latest sign of life, Unix seconds.
    pub last_heartbeat: Option<f64>,
    pub step: Option<f64>,
    pub max_steps: Option<f64>,
    pub loss: Option<f64>,
}

/// What the metrics route answers, and what the batch did.
#[napi(object)]
#[derive(Debug)]
pub struct IngestOutcome {
    /// The HTTP status to answer (200).
    pub status: u32,
    /// The JSON body to answer; `{"ok":true,"cancel":true}` tells the trainer to stop.
    pub body: String,
    /// The batch was seen before: its events were not kept twice.
    pub replay: bool,
    /// A final status arrived (the pod was terminated within the call).
    pub terminate_pod: bool,
    /// The job after the batch.
    pub job: JobRecord,
}

/// What the artifacts route answers.
#[napi(object)]
#[derive(Debug)]
pub struct ArtifactsAnswer {
    /// HTTP status.
    pub status: u32,
    /// JSON body.
    pub body: String,
}

/// A checkpoint file of an earlier attempt, for the artifacts route's GET: send the file at
/// `path` as the body.
#[napi(object)]
#[derive(Debug)]
pub struct CheckpointDownload {
    /// The file on the app's disk.
    pub path: String,
    /// Its size in bytes.
    pub size: f64,
}

/// One artifact file.
#[napi(object)]
#[derive(Debug)]
pub struct ArtifactFile {
    /// Path relative to the output directory.
    pub path: String,
    /// Bytes.
    pub size: f64,
    /// sha256, lowercase hex.
    pub sha256: String,
}

/// Why a `reconcile` action failed; the next pass tries it again.
#[napi(object)]
#[derive(Debug)]
pub struct ReconcileError {
    /// The stable error code (`NOT_FOUND`, `SERVER_ERROR`, ...).
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}

/// What `reconcile` did to one pod or job.
#[napi(object)]
#[derive(Debug)]
pub struct ReconcileAction {
    /// The pod terminated or found gone; null for a job that never got one.
    #[napi(ts_type = "string | null")]
    pub pod_id: Option<String>,
    /// Its job, when it has one.
    pub job_id: Option<String>,
    /// `orphan`, `job_ended`, `deadline`, `over_budget`, `stale_heartbeat`, `pod_stopped`,
    /// `cuda_unsupported`, `image_pull_failed`, `no_container`, `provision_timeout`,
    /// `pod_vanished`, `deploy_abandoned`, `retried`, `billed`; `error` when it could not be
    /// looked at, `account_unavailable` for a job whose RunPod account could not be reached.
    pub reason: String,
    /// The state the job was moved to, if it was live.
    #[napi(ts_type = "JobState | null")]
    pub job_state: Option<String>,
    /// Set when the action failed (the pod may still bill: the next pass tries again).
    #[napi(ts_type = "ReconcileError | null")]
    pub error: Option<ReconcileError>,
}

impl From<trainpod::store::JobRecord> for JobRecord {
    fn from(j: trainpod::store::JobRecord) -> Self {
        // Times, steps and sizes stay below 2^53: doubles hold them exactly.
        JobRecord {
            id: j.id,
            user: j.user,
            attempt: j.attempt,
            state: j.state.as_str().to_owned(),
            reason: j.reason,
            pod_id: j.pod_id,
            created_at: j.created_at as f64,
            updated_at: j.updated_at as f64,
            deadline_unix: j.deadline_unix as f64,
            budget_usd: j.budget_usd,
            price_per_hour: j.price_per_hour,
            started_at: j.started_at.map(|t| t as f64),
            last_heartbeat: j.last_heartbeat.map(|t| t as f64),
            step: j.step.map(|s| s as f64),
            max_steps: j.max_steps.map(|s| s as f64),
            loss: j.loss,
        }
    }
}

pub(crate) fn ingest_outcome(out: trainpod::jobs::IngestOutcome) -> IngestOutcome {
    IngestOutcome {
        status: u32::from(out.status),
        body: out.body,
        replay: out.replay,
        terminate_pod: out.terminate_pod,
        job: out.job.into(),
    }
}

pub(crate) fn artifact_file(f: sdk::ArtifactFile) -> ArtifactFile {
    ArtifactFile {
        path: f.path,
        size: f.size as f64,
        sha256: f.sha256,
    }
}

pub(crate) fn artifact_files(files: Vec<sdk::ArtifactFile>) -> Vec<ArtifactFile> {
    files.into_iter().map(artifact_file).collect()
}

impl From<trainpod::jobs::ReconcileAction> for ReconcileAction {
    fn from(a: trainpod::jobs::ReconcileAction) -> Self {
        ReconcileAction {
            pod_id: a.pod_id,
            job_id: a.job_id,
            reason: a.reason.to_owned(),
            job_state: a.job_state.map(|s| s.as_str().to_owned()),
            error: a.error.map(|e| ReconcileError {
                code: e.code.to_owned(),
                message: e.message,
            }),
        }
    }
}
