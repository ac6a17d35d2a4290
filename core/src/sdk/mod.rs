//! The SDK: one [`Trainpod`] holding the RunPod client, the signing keys, the store and the
//! app's staging, with every step of a job as a method.
//!
//! ```text
//! let tp = Trainpod::builder()
//!     .runpod_api_key(key)                 // or RUNPOD_API_KEY
//!     .app_url("https://app.example.com")  // where pods reach the app
//!     .signing_keys(keys)                  // or TRAINPOD_SIGNING_KEYS
//!     .store_url("postgres://…")           // default: sqlite://trainpod.db
//!     .datasets_dir("/srv/datasets")
//!     .artifacts_dir("/srv/artifacts")
//!     .webhook_url("https://app.example.com/api/trainpod-webhooks") // job events, signed
//!     .webhook_secrets([secret])           // whsec_..., from generate_webhook_secret()
//!     .build().await?;
//! let plan = tp.plan(&JobSpec::new("user-1", "Qwen/Qwen2.5-0.5B", DatasetRef::App { id }, 5.0)).await?;
//! let job = tp.deploy(&plan).await?;       // the plan `plan` stored; idempotent per job id
//! // routes: tp.authorize_dataset_download(..), tp.ingest_metrics(..), tp.artifact_manifest(..)
//! let mut follow = tp.follow(&job.job_id); // status changes and events until it ends
//! tp.reconcile().await?;                   // from a cron: ends pods nobody should pay for
//! tp.deliver_webhooks().await?;            // sends job events (reconcile runs it too)
//! ```

mod access;
mod accounts;
mod artifacts;
mod attempts;
mod bills;
mod budget;
mod builder;
mod clusters;
mod dataset_summary;
mod deploy;
pub mod estimate;
mod inspect;
mod key_check;
mod log_telemetry;
mod model_check;
mod placement;
mod plan;
mod pod_env;
mod reconcile;
mod routes;
#[cfg(feature = "server")]
pub mod server;
mod sizing;
mod spec;
mod status;
mod stored_plan;
mod training_plan;
mod webhooks;

pub use access::ARTIFACT_UPLOAD_GRACE_SECS;
pub use accounts::{Credentials, MAX_ACCOUNT_LEN, check_account};
pub use artifacts::{
    ArtifactFile, ArtifactUpload, ArtifactsAnswer, CheckpointDownload, MAX_ARTIFACT_FILES,
    check_artifact_path,
};
pub use builder::{API_KEY_ENV, SIGNING_KEYS_ENV, TrainpodBuilder};
pub use dataset_summary::DatasetSummary;
pub use key_check::{GpuSeen, KeyAccess, KeyCheck, check_key_with, check_runpod_key};
pub use log_telemetry::{EVENT_PREFIX, LOG_BATCH_BASE, parse_event_line};
pub use model_check::{DEFAULT_HUB_URL, HUB_URL_ENV};
pub use plan::{GpuChoice, Plan};
pub use pod_env::{MAX_POD_ENV_BYTES, reserved_pod_env};
pub use routes::Routes;
pub use spec::{DatasetRef, JobSpec, MAX_JOB_ID_LEN, MAX_NODES, check_job_id};
pub use status::{Follow, FollowUpdate, JobStatus};
pub use training_plan::{CheckpointStore, TrainingPlan};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::error::Result;
use crate::jobs::{
    CheckedBatch, IngestOutcome, JobState, RateLimiter, ReconcileAction, ReconcilePolicy,
    check_metrics, ingest_checked,
};
use crate::reach::{ReachPolicy, Resolver};
use crate::runpod::Client;
use crate::script::PodRuntime;
use crate::staging::{AppStaging, BucketStaging, DownloadRequest, Grant, VolumeStaging};
use crate::store::{Store, ThroughputSample};
use crate::token::Tokens;

/// The reconciler's opt-in retry of a pod that never started stops at this attempt.
const MAX_AUTO_ATTEMPTS: u32 = 3;

pub(crate) use crate::blocking::blocking;

/// The SDK. Cheap to share behind an `Arc`; every method is safe to call concurrently, and
/// across app instances sharing one Postgres store.
pub struct Trainpod {
    accounts: accounts::Accounts,
    tokens: Tokens,
    store: Arc<dyn Store>,
    app_url: Option<String>,
    routes: Routes,
    staging: Option<Arc<AppStaging>>,
    artifacts_dir: Option<PathBuf>,
    bucket: Option<Arc<BucketStaging>>,
    volume: Option<Arc<VolumeStaging>>,
    reach: ReachPolicy,
    resolver: Arc<dyn Resolver>,
    runtime: PodRuntime,
    image: String,
    pod_env: BTreeMap<String, String>,
    clock: Arc<dyn Clock>,
    limiter: RateLimiter,
    reconcile: ReconcilePolicy,
    follow_interval: Duration,
    looks: status::Looks,
    /// The Hugging Face Hub `plan` checks model ids against.
    hub: model_check::Hub,
    /// Pods run on this machine (the local provider): a model path is one here, and what its pods
    /// measure is no real GPU's throughput.
    local_pods: bool,
    /// Where job events go as signed webhooks, when the app takes them.
    webhooks: Option<Arc<crate::webhooks::WebhookEndpoint>>,
}

impl std::fmt::Debug for Trainpod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainpod")
            .field("app_url", &self.app_url)
            .field("store", &self.store.backend())
            .field("artifacts_dir", &self.artifacts_dir)
            .finish_non_exhaustive()
    }
}

/// The pod of a job's attempt: `trainpod-<job>` for the first, `trainpod-<job>.<n>` after, so
/// an ambiguous create finds its own attempt's pod and never an earlier one.
pub fn pod_name(job_id: &str, attempt: u32) -> Result<String> {
    check_job_id(job_id)?;
    let name = if attempt <= 1 {
        job_id.to_owned()
    } else {
        format!("{job_id}.{attempt}")
    };
    crate::runpod::job_pod_name(&name)
}

impl Trainpod {
    /// A builder; see the module docs.
    pub fn builder() -> TrainpodBuilder {
        TrainpodBuilder::new()
    }

    /// The token service (to issue or verify tokens directly).
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The RunPod client of the builder's own key (the account `""`). With only a credentials
    /// resolver it has no key of its own: use [`Self::runpod_for`].
    pub fn runpod(&self) -> &Client {
        self.accounts.own()
    }

    /// The RunPod client of `account`, with the key the credentials resolver gives now.
    pub async fn runpod_for(&self, account: &str) -> Result<Client> {
        self.accounts.client(account).await
    }

    /// The app's staging of datasets, when `datasets_dir` was given.
    pub fn staging(&self) -> Option<&Arc<AppStaging>> {
        self.staging.as_ref()
    }

    /// The dataset download route: the pod's token and `Range` turned into a [`Grant`] (status,
    /// headers, the opened file), or a typed error whose `http_status` is the answer.
    ///
    /// After the token, the job it names is looked up: it must exist (else `NOT_FOUND`), belong
    /// to the token's user and be the token's attempt when the token names one (else
    /// `TOKEN_SCOPE_MISMATCH`), and not have ended (else `INVALID_STATE`). The file is opened
    /// and hashed on tokio's blocking pool.
    pub async fn authorize_dataset_download(
        &self,
        authorization: Option<&str>,
        query_token: Option<&str>,
        dataset_id: &str,
        range: Option<&str>,
    ) -> Result<Grant> {
        self.authorize_download(&DownloadRequest {
            authorization,
            query_token,
            dataset_id,
            range,
            if_range: None,
            job: None,
        })
        .await
    }

    /// [`Self::authorize_dataset_download`] with every request field, `If-Range` included.
    pub async fn authorize_download(&self, req: &DownloadRequest<'_>) -> Result<Grant> {
        let staging = self.staging.clone().ok_or_else(|| {
            crate::Error::invalid_input("serving datasets needs datasets_dir(...) on the builder")
        })?;
        let claims = staging.verify_download(req)?;
        self.job_for_route(&claims, crate::token::Purpose::DatasetRead)
            .await?;
        staging
            .grant(claims, req.dataset_id, req.range, req.if_range)
            .await
    }

    /// The metrics route: the batch verified, parsed, accepted once and folded into the job.
    /// When it carries the final status the pod is terminated now (the pod terminates itself
    /// too; whichever is first wins), and a finished training run's throughput is kept for
    /// later estimates. [`Self::check_metrics`], then [`Self::ingest_checked`].
    pub async fn ingest_metrics(
        &self,
        job_id: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<IngestOutcome> {
        let checked = self.check_metrics(job_id, authorization, body)?;
        self.ingest_checked(checked).await
    }

    /// The metrics route's checks, which need no store (token, rate limit, the body's shape):
    /// a bad request fails here without waiting, and the body can be dropped before the store
    /// is reached (a caller that hands the rest to another task copies nothing).
    pub fn check_metrics(
        &self,
        job_id: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<CheckedBatch> {
        check_metrics(
            &self.tokens,
            Some(&self.limiter),
            job_id,
            authorization,
            body,
        )
    }

    /// The rest of the metrics route, for a batch [`Self::check_metrics`] passed.
    pub async fn ingest_checked(&self, checked: CheckedBatch) -> Result<IngestOutcome> {
        let outcome = ingest_checked(self.store.as_ref(), checked).await?;
        if outcome.replay {
            return Ok(outcome);
        }
        if let Some(runtime) = outcome.progress.train_runtime_s {
            self.record_throughput(&outcome, runtime).await?;
        }
        self.end_pod_on_final(&outcome).await;
        Ok(outcome)
    }

    /// A first delivery of the final status ends the pod now. Best effort: the pod's own
    /// terminate and the reconciler back this up.
    pub(crate) async fn end_pod_on_final(&self, outcome: &IngestOutcome) {
        if outcome.terminate_pod && !outcome.replay {
            let _ = self.end_compute(&outcome.job).await;
        }
    }

    async fn record_throughput(&self, outcome: &IngestOutcome, runtime_s: f64) -> Result<()> {
        let Ok(config) = stored_plan::JobConfig::of(&outcome.job) else {
            return Ok(());
        };
        let plan = &config.plan;
        let gpu_id = match outcome.job.gpu_id.as_str() {
            "" => plan.gpu.gpu_id.as_str(),
            rented => rented,
        };
        // The GPUs per pod of the placement taken (a fallback may have needed more).
        let count = std::iter::once(&plan.gpu)
            .chain(&plan.fallbacks)
            .find(|c| c.gpu_id == gpu_id)
            .map_or(plan.gpu.count, |c| c.count);
        // Every GPU of every node trained: the figure kept is one GPU's, as the estimate divides
        // it again over the GPUs at the scaling they reach.
        let gpus = estimate::Gpus::new(count, plan.spec.nodes).effective();
        let tflops = plan.estimate.training_flops / runtime_s / gpus / 1e12;
        if !(tflops.is_finite() && tflops > 0.0) {
            return Ok(());
        }
        self.store
            .record_throughput(&ThroughputSample {
                job: outcome.job.id.clone(),
                attempt: outcome.job.attempt,
                gpu_id: self.throughput_key(gpu_id),
                method: estimate::method_name(plan.spec.method).to_owned(),
                tflops,
                recorded_at: self.clock.now_unix_secs(),
            })
            .await
    }

    /// Where a GPU type's measured throughput is kept: the local provider's pods run on this
    /// machine's CPU under a GPU's name, and what they measure must never estimate a real GPU.
    pub(crate) fn throughput_key(&self, gpu_id: &str) -> String {
        if self.local_pods {
            format!("local:{gpu_id}")
        } else {
            gpu_id.to_owned()
        }
    }

    /// New attempts for the jobs `actions` ended for a cause the policy retries: a pod that
    /// never started (on another GPU of the plan), or one interrupted mid-run (resuming).
    async fn retry_automatically(&self, actions: &[ReconcileAction]) -> Vec<ReconcileAction> {
        let policy = &self.reconcile;
        let mut out = Vec::new();
        for a in actions {
            let unstarted = matches!(
                a.reason,
                "cuda_unsupported" | "image_pull_failed" | "no_container" | "provision_timeout"
            );
            let interrupted = matches!(a.reason, "pod_vanished" | "stale_heartbeat");
            let wanted =
                (unstarted && policy.retry_unstarted) || (interrupted && policy.retry_interrupted);
            let (true, Some(JobState::Failed), Some(job_id)) = (wanted, a.job_state, &a.job_id)
            else {
                continue;
            };
            let avoid = match self.store.get_job(job_id).await {
                Ok(Some(job)) if job.attempt < MAX_AUTO_ATTEMPTS => job.gpu_id,
                _ => continue,
            };
            // An interrupted pod's GPU type is as good as any: only a start failure moves on.
            let avoid = unstarted.then_some(avoid);
            let retried = self.retry_on(job_id, avoid.as_deref()).await;
            out.push(ReconcileAction {
                pod_id: retried.as_ref().ok().and_then(|s| s.pod_id.clone()),
                job_id: Some(job_id.clone()),
                reason: "retried",
                job_state: retried.as_ref().ok().map(|s| s.state),
                error: retried.as_ref().err().map(Into::into),
            });
        }
        out
    }
}
