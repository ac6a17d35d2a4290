//! `Trainpod`: the SDK facade of core (`trainpod::sdk`), its methods as promises.
//!
//! Options become one core builder call each; specs, plans and statuses cross as plain objects
//! (json.rs, shapes in `types.d.ts`); every rule and check stays in core.

use crate::errors::{Result, invalid, map, to_js};
use crate::json::{from_js_value, object, overlay, rename_keys, snake, to_js_value};
use crate::numbers::{whole, whole_opt};
use crate::promise::{eager, rejected, spawn};
use crate::slots::{Slot, Table};
use crate::staging::{DatasetGrant, grant_to_js, present};
use crate::stream::{ArtifactUpload, Follow, LogStream};
use crate::tokens::Tokens;
use napi::Env;
use napi::bindgen_prelude::{Either, Null, PromiseRaw, Uint8ArraySlice};
use napi_derive::napi;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use trainpod::clock::ManualClock;
use trainpod::jobs::ReconcilePolicy;
use trainpod::script::PodRuntime;
use trainpod::sdk::{self, JobSpec, Routes};
use trainpod::token::KeyRing;

/// The local provider: a RunPod-compatible API on this machine, pods as local processes.
#[napi(object)]
pub struct LocalProviderOptions {
    /// Its REST v2 base URL.
    pub base_url: String,
    /// Its account key.
    pub api_key: String,
}

/// The app's route paths, each under `appUrl`; unset ones keep trainpod's defaults.
#[napi(object)]
#[derive(Debug)]
pub struct RoutesOptions {
    /// The dataset download route, with `{dataset}` (default `/trainpod/datasets/{dataset}`).
    pub dataset: Option<String>,
    /// The metrics route, with `{job}` (default `/trainpod/jobs/{job}/metrics`).
    pub metrics: Option<String>,
    /// The artifacts route, with `{job}` (default `/trainpod/jobs/{job}/artifacts`).
    pub artifacts: Option<String>,
}

/// When `reconcile` ends a pod; unset ones keep core's defaults.
#[napi(object)]
#[derive(Debug)]
pub struct ReconcileOptions {
    /// Nothing received from the pod for this long once it has reported (default 600).
    pub stale_after_secs: Option<f64>,
    /// Never reported this long after creation (default 900).
    pub provision_timeout_secs: Option<f64>,
    /// How long one app instance's claim on a pod holds (default 60).
    pub lease_secs: Option<f64>,
    /// A job whose pod never started gets a new attempt on the plan's next GPU, within its
    /// budget (default false).
    pub retry_unstarted: Option<bool>,
}

/// How to build a `Trainpod`. Unset options keep core's defaults.
#[napi(object)]
pub struct TrainpodOptions {
    /// The RunPod API key; `RUNPOD_API_KEY` when unset.
    pub runpod_api_key: Option<String>,
    /// Another RunPod REST v2 base URL (the emulator, a proxy).
    pub runpod_base_url: Option<String>,
    /// Pods run on this machine (sets the base URL and key, and allows a loopback app URL).
    pub local_provider: Option<LocalProviderOptions>,
    /// Where a pod reaches the app, such as `https://app.example.com`.
    pub app_url: Option<String>,
    /// The app's route paths, when they are not the defaults.
    pub routes: Option<RoutesOptions>,
    /// The key ring, `kid:status:secret,…`; `TRAINPOD_SIGNING_KEYS` when unset.
    pub signing_keys: Option<String>,
    /// The store: `sqlite://PATH` (default `sqlite://trainpod.db`), `postgres://…` or `memory:`.
    pub store: Option<String>,
    /// The directory of app-served datasets (`<dir>/<id>`).
    pub datasets_dir: Option<String>,
    /// The directory uploaded artifacts are kept in.
    pub artifacts_dir: Option<String>,
    /// Accept `http` and loopback app URLs (only where pods run on this machine).
    pub allow_loopback: Option<bool>,
    /// The default container image.
    pub image: Option<String>,
    /// The Python interpreter in the pod (default `python3`).
    pub pod_python: Option<String>,
    /// Whether the pod's preflight requires a CUDA GPU (default true; false with
    /// `localProvider` or `allowLoopback` when neither this nor `podPython` is given).
    pub expect_gpu: Option<bool>,
    /// The other pod settings, laid over core's defaults (`minFreeDiskGb`, `heartbeatS`, ...);
    /// `podPython` and `expectGpu` are laid over them. Unknown keys are refused.
    #[napi(ts_type = "PodRuntimeInput")]
    pub pod_runtime: Option<Value>,
    /// Environment variables set on every pod (visible in the pod's configuration: no secrets).
    /// Names that change how the pod's processes load or that trainpod or RunPod set (`LD_*`,
    /// `BASH_ENV`, `PATH`, `PYTHON*`, `RUNPOD_*`, `TRAINPOD_*`, ...) and more than 128 KiB with
    /// the pod's script are refused (docs/pod-protocol.md); `HF_TOKEN` and `HF_ENDPOINT` are
    /// allowed.
    pub pod_env: Option<HashMap<String, String>>,
    /// How often `follow` polls the store, in milliseconds (default 500).
    pub follow_interval_ms: Option<f64>,
    /// When `reconcile` ends a pod.
    pub reconcile: Option<ReconcileOptions>,
    /// The Hugging Face Hub `plan` checks a model id against (default `https://huggingface.co`,
    /// or `HF_ENDPOINT`): a mirror, or a stand-in on loopback for tests.
    pub hub_url: Option<String>,
    /// Do not read `RUNPOD_API_KEY`, `TRAINPOD_SIGNING_KEYS` or `HF_ENDPOINT` from the
    /// environment.
    pub ignore_env: Option<bool>,
    /// Fix the clock at this Unix time (tests); `setNow` then moves it.
    pub now: Option<f64>,
}

// The options hold the API key and the signing keys: their Debug output is redacted.
impl std::fmt::Debug for TrainpodOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainpodOptions")
            .field("app_url", &self.app_url)
            .field("store", &self.store.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for LocalProviderOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalProviderOptions")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// A job's row, as the metrics route left it.
// The optional fields come last, where napi sets them (an absent option being no key at all):
// `index.js` builds the same keys in the same order from the flat record that `write_outcome`
// (metrics.rs) writes.
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
    /// `pod_vanished`, `deploy_abandoned`, `retried`; `error` when it could not be looked at.
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

fn ingest_outcome(out: trainpod::jobs::IngestOutcome) -> IngestOutcome {
    IngestOutcome {
        status: u32::from(out.status),
        body: out.body,
        replay: out.replay,
        terminate_pod: out.terminate_pod,
        job: out.job.into(),
    }
}

/// Core's metrics route, for both `ingestMetrics` forms: the checks now, on the borrowed
/// arguments, then the rest as a future that owns what it needs (nothing is copied for it).
pub(crate) fn ingest(
    tp: Arc<sdk::Trainpod>,
    job_id: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> trainpod::Result<
    impl std::future::Future<Output = trainpod::Result<trainpod::jobs::IngestOutcome>> + Send + 'static,
> {
    let checked = tp.check_metrics(job_id, authorization, body)?;
    Ok(async move { tp.ingest_checked(checked).await })
}

pub(crate) fn artifact_file(f: sdk::ArtifactFile) -> ArtifactFile {
    ArtifactFile {
        path: f.path,
        size: f.size as f64,
        sha256: f.sha256,
    }
}

fn artifact_files(files: Vec<sdk::ArtifactFile>) -> Vec<ArtifactFile> {
    files.into_iter().map(artifact_file).collect()
}

/// A job spec from JavaScript, its camelCase names in core's snake_case: core lays the fields
/// given over its defaults and names the field of any refusal.
fn job_spec(value: Value) -> Result<JobSpec> {
    let given = object("spec", value)?
        .into_iter()
        .map(|(key, value)| (snake(&key), rename_keys(value, snake)))
        .collect();
    map(JobSpec::from_fields(given))
}

/// `podRuntime` (camelCase keys) laid over core's `PodRuntime::default()`.
fn pod_runtime(given: Value) -> Result<PodRuntime> {
    let defaults =
        serde_json::to_value(PodRuntime::default()).map_err(|e| invalid(e.to_string()))?;
    let merged = overlay("podRuntime", defaults, object("podRuntime", given)?)?;
    from_js_value("podRuntime", Value::Object(merged))
}

fn routes(options: RoutesOptions) -> Routes {
    let defaults = Routes::default();
    Routes {
        dataset: options.dataset.unwrap_or(defaults.dataset),
        metrics: options.metrics.unwrap_or(defaults.metrics),
        artifacts: options.artifacts.unwrap_or(defaults.artifacts),
    }
}

fn reconcile_policy(options: ReconcileOptions) -> Result<ReconcilePolicy> {
    let d = ReconcilePolicy::default();
    let secs = |name, value, default| {
        Ok::<_, napi::Error<String>>(whole_opt(name, value, u64::MAX)?.unwrap_or(default))
    };
    Ok(ReconcilePolicy {
        stale_after_secs: secs(
            "staleAfterSecs",
            options.stale_after_secs,
            d.stale_after_secs,
        )?,
        provision_timeout_secs: secs(
            "provisionTimeoutSecs",
            options.provision_timeout_secs,
            d.provision_timeout_secs,
        )?,
        lease_secs: secs("leaseSecs", options.lease_secs, d.lease_secs)?,
        retry_unstarted: options.retry_unstarted.unwrap_or(d.retry_unstarted),
    })
}

/// The core builder for `options`, and the fixed clock when there is one.
fn builder(o: TrainpodOptions) -> Result<(sdk::TrainpodBuilder, Option<Arc<ManualClock>>)> {
    let mut b = sdk::Trainpod::builder();
    if o.ignore_env == Some(true) {
        b = b.ignore_env();
    }
    if let Some(lp) = o.local_provider {
        b = b.local_provider(lp.base_url, lp.api_key);
    }
    if let Some(key) = o.runpod_api_key {
        b = b.runpod_api_key(key);
    }
    if let Some(url) = o.runpod_base_url {
        b = b.runpod_base_url(url);
    }
    if let Some(url) = o.app_url {
        b = b.app_url(url);
    }
    if let Some(r) = o.routes {
        b = b.routes(routes(r));
    }
    if let Some(keys) = o.signing_keys {
        b = b.signing_keys(map(KeyRing::parse(&keys))?);
    }
    if let Some(store) = o.store {
        b = b.store_url(store);
    }
    if let Some(dir) = o.datasets_dir {
        b = b.datasets_dir(dir);
    }
    if let Some(dir) = o.artifacts_dir {
        b = b.artifacts_dir(dir);
    }
    if let Some(allow) = o.allow_loopback {
        b = b.allow_loopback(allow);
    }
    if let Some(image) = o.image {
        b = b.image(image);
    }
    if o.pod_python.is_some() || o.expect_gpu.is_some() || o.pod_runtime.is_some() {
        let mut runtime = match o.pod_runtime {
            Some(given) => pod_runtime(given)?,
            None => PodRuntime::default(),
        };
        if let Some(python) = o.pod_python {
            runtime.python = python;
        }
        if let Some(expect) = o.expect_gpu {
            runtime.expect_gpu = expect;
        }
        b = b.pod_runtime(runtime);
    }
    for (name, value) in o.pod_env.unwrap_or_default() {
        b = b.pod_env(name, value);
    }
    if let Some(ms) = whole_opt("followIntervalMs", o.follow_interval_ms, u64::MAX)? {
        b = b.follow_interval(Duration::from_millis(ms));
    }
    if let Some(r) = o.reconcile {
        b = b.reconcile_policy(reconcile_policy(r)?);
    }
    if let Some(url) = o.hub_url {
        b = b.hub_url(url);
    }
    let clock =
        whole_opt("now", o.now, trainpod::token::MAX_TIME)?.map(|n| Arc::new(ManualClock::new(n)));
    if let Some(clock) = &clock {
        b = b.clock(clock.clone());
    }
    Ok((b, clock))
}

/// Options of `inspectDataset`.
#[napi(object)]
#[derive(Debug)]
pub struct InspectDatasetOptions {
    /// How many invalid rows to keep in the report (all are counted); default 20.
    pub max_errors: Option<u32>,
}

/// Deploys fine-tuning jobs to RunPod and sees them through: plan, deploy, the pod-facing
/// routes (datasets, metrics, artifacts), status, follow, cancel, retry and reconcile.
#[napi]
#[derive(Debug)]
pub struct Trainpod {
    inner: Arc<sdk::Trainpod>,
    clock: Option<Arc<ManualClock>>,
    slot: Slot<sdk::Trainpod>,
}

thread_local! {
    /// This thread's SDKs, for the hot calls (see slots.rs).
    pub(crate) static TRAINPODS: RefCell<Table<sdk::Trainpod>> = const { RefCell::new(Table::new()) };
}

impl Trainpod {
    /// The core SDK, for the benchmark's in-process baseline.
    #[cfg(feature = "bench")]
    pub(crate) fn sdk(&self) -> Arc<sdk::Trainpod> {
        self.inner.clone()
    }
}

#[napi]
impl Trainpod {
    /// Validate every option, open the store (applying migrations) and build the SDK.
    #[napi(ts_return_type = "Promise<Trainpod>", catch_unwind)]
    pub fn create(env: &Env, options: TrainpodOptions) -> Result<PromiseRaw<'_, Trainpod>> {
        let (builder, clock) = match builder(options) {
            Ok(b) => b,
            Err(e) => return rejected(env, e),
        };
        spawn(env, builder.build(), move |_, inner| {
            let inner = Arc::new(inner);
            let slot = Slot::new(&TRAINPODS, inner.clone());
            Ok(Trainpod { inner, clock, slot })
        })
    }

    /// Check `spec` against everything checkable before money is spent; resolves with the plan
    /// (cost estimate, deadline, GPU, warnings) or rejects with an actionable error.
    #[napi(
        ts_args_type = "spec: JobSpecInput",
        ts_return_type = "Promise<Plan>",
        catch_unwind
    )]
    pub fn plan<'env>(&self, env: &'env Env, spec: Value) -> Result<PromiseRaw<'env, Value>> {
        let spec = match job_spec(spec) {
            Ok(spec) => spec,
            Err(e) => return rejected(env, e),
        };
        let tp = self.inner.clone();
        spawn(env, async move { tp.plan(&spec).await }, |_, plan| {
            to_js_value(&plan)
        })
    }

    /// Deploy a plan: idempotent per job id.
    #[napi(
        ts_args_type = "plan: Plan",
        ts_return_type = "Promise<JobStatus>",
        catch_unwind
    )]
    pub fn deploy<'env>(&self, env: &'env Env, plan: Value) -> Result<PromiseRaw<'env, Value>> {
        let plan: sdk::Plan = match from_js_value("plan", plan) {
            Ok(plan) => plan,
            Err(e) => return rejected(env, e),
        };
        let tp = self.inner.clone();
        spawn(env, async move { tp.deploy(&plan).await }, status)
    }

    /// The job's status now.
    #[napi(ts_return_type = "Promise<JobStatus>", catch_unwind)]
    pub fn status<'env>(&self, env: &'env Env, job_id: String) -> Result<PromiseRaw<'env, Value>> {
        let tp = self.inner.clone();
        eager(env, async move { tp.status(&job_id).await }, status)
    }

    /// Status changes and pod events until the job ends: `for await (const u of tp.follow(id))`.
    #[napi(catch_unwind)]
    pub fn follow(&self, job_id: String) -> Follow {
        Follow::start(self.inner.clone(), job_id)
    }

    /// The pod's log through the RunPod logs API: the last `tail` lines, then live.
    #[napi(ts_return_type = "Promise<LogStream>", catch_unwind)]
    pub fn logs<'env>(
        &self,
        env: &'env Env,
        job_id: String,
        tail: Option<f64>,
    ) -> Result<PromiseRaw<'env, LogStream>> {
        let tail = match whole_opt("tail", tail, u64::from(u32::MAX)) {
            Ok(t) => t.map(|t| t as u32),
            Err(e) => return rejected(env, e),
        };
        let tp = self.inner.clone();
        spawn(env, async move { tp.logs(&job_id, tail).await }, |_, s| {
            Ok(LogStream::new(s))
        })
    }

    /// Cancel the job: its pod is terminated; idempotent.
    #[napi(ts_return_type = "Promise<JobStatus>", catch_unwind)]
    pub fn cancel<'env>(&self, env: &'env Env, job_id: String) -> Result<PromiseRaw<'env, Value>> {
        let tp = self.inner.clone();
        spawn(env, async move { tp.cancel(&job_id).await }, status)
    }

    /// Start a new attempt of an ended job, with fresh tokens.
    #[napi(ts_return_type = "Promise<JobStatus>", catch_unwind)]
    pub fn retry<'env>(&self, env: &'env Env, job_id: String) -> Result<PromiseRaw<'env, Value>> {
        let tp = self.inner.clone();
        spawn(env, async move { tp.retry(&job_id).await }, status)
    }

    /// End every trainpod pod nobody should pay for (stale, late, over budget, stopped, never
    /// started, orphan) and every live job whose pod is gone; run it every minute or so.
    #[napi(ts_return_type = "Promise<ReconcileAction[]>", catch_unwind)]
    pub fn reconcile<'env>(
        &self,
        env: &'env Env,
    ) -> Result<PromiseRaw<'env, Vec<ReconcileAction>>> {
        let tp = self.inner.clone();
        spawn(env, async move { tp.reconcile().await }, |_, actions| {
            Ok(actions
                .into_iter()
                .map(|a| ReconcileAction {
                    pod_id: a.pod_id,
                    job_id: a.job_id,
                    reason: a.reason.to_owned(),
                    job_state: a.job_state.map(|s| s.as_str().to_owned()),
                    error: a.error.map(|e| ReconcileError {
                        code: e.code.to_owned(),
                        message: e.message,
                    }),
                })
                .collect())
        })
    }

    /// The metrics route: the pod's batch verified, accepted once and folded into the job.
    /// Answer `status` with `body` (JSON).
    // `index.js` calls `_ingestFlat` (metrics.rs) instead; this keeps the declared type.
    #[napi(ts_return_type = "Promise<IngestOutcome>", catch_unwind)]
    pub fn ingest_metrics<'env>(
        &self,
        env: &'env Env,
        job_id: String,
        authorization: Option<Either<String, Null>>,
        body: Uint8ArraySlice,
    ) -> Result<PromiseRaw<'env, IngestOutcome>> {
        match ingest(self.inner.clone(), &job_id, present(&authorization), &body) {
            Ok(ingest) => eager(env, ingest, |_, out| Ok(ingest_outcome(out))),
            Err(e) => rejected(env, to_js(e)),
        }
    }

    /// The dataset download route: the pod's token and `Range` turned into a grant (status,
    /// headers and the opened file: `stream()`, `webStream()`, `close()`), or a rejection with
    /// a typed error (`httpStatus(err.code)` is the status to answer). The token's job is looked
    /// up in the store: `NOT_FOUND` (404) when it does not exist, `TOKEN_SCOPE_MISMATCH` (403)
    /// for another user's or another attempt's, `INVALID_STATE` (409) once it has ended. The
    /// file is opened and hashed off the JavaScript thread.
    #[napi(ts_return_type = "Promise<DatasetGrant>", catch_unwind)]
    pub fn authorize_dataset_download<'env>(
        &self,
        env: &'env Env,
        authorization: Option<Either<String, Null>>,
        query_token: Option<Either<String, Null>>,
        dataset_id: String,
        range: Option<Either<String, Null>>,
    ) -> Result<PromiseRaw<'env, DatasetGrant>> {
        let tp = self.inner.clone();
        let owned = |v: &Option<Either<String, Null>>| present(v).map(str::to_owned);
        let (authorization, query_token, range) =
            (owned(&authorization), owned(&query_token), owned(&range));
        spawn(
            env,
            async move {
                tp.authorize_dataset_download(
                    authorization.as_deref(),
                    query_token.as_deref(),
                    &dataset_id,
                    range.as_deref(),
                )
                .await
            },
            |_, grant| grant_to_js(grant),
        )
    }

    /// The artifacts route: a manifest answered with the uploads still needed, or (with
    /// `"complete": true`) whether every file is stored.
    #[napi(ts_return_type = "Promise<ArtifactsAnswer>", catch_unwind)]
    pub fn artifact_manifest<'env>(
        &self,
        env: &'env Env,
        job_id: String,
        authorization: Option<Either<String, Null>>,
        body: Uint8ArraySlice,
    ) -> Result<PromiseRaw<'env, ArtifactsAnswer>> {
        let tp = self.inner.clone();
        let authorization = present(&authorization).map(str::to_owned);
        let body = body.to_vec();
        spawn(
            env,
            async move {
                tp.artifact_manifest(&job_id, authorization.as_deref(), &body)
                    .await
            },
            |_, a| {
                Ok(ArtifactsAnswer {
                    status: u32::from(a.status),
                    body: a.body,
                })
            },
        )
    }

    /// Start receiving artifact `path` (a PUT to `<artifacts route>/files/<path>`); prefer
    /// `putArtifact`, which writes a whole body.
    #[napi(ts_return_type = "Promise<ArtifactUpload>", catch_unwind)]
    pub fn begin_artifact<'env>(
        &self,
        env: &'env Env,
        job_id: String,
        authorization: Option<Either<String, Null>>,
        path: String,
    ) -> Result<PromiseRaw<'env, ArtifactUpload>> {
        let tp = self.inner.clone();
        let authorization = present(&authorization).map(str::to_owned);
        spawn(
            env,
            async move {
                tp.begin_artifact(&job_id, authorization.as_deref(), &path)
                    .await
            },
            |_, upload| Ok(ArtifactUpload::start(upload)),
        )
    }

    /// The artifacts of the job's current attempt, once the pod confirmed them complete.
    #[napi(ts_return_type = "Promise<ArtifactFile[]>", catch_unwind)]
    pub fn artifacts<'env>(
        &self,
        env: &'env Env,
        job_id: String,
    ) -> Result<PromiseRaw<'env, Vec<ArtifactFile>>> {
        let tp = self.inner.clone();
        spawn(env, async move { tp.artifacts(&job_id).await }, |_, f| {
            Ok(artifact_files(f))
        })
    }

    /// Copy the job's artifacts to `dest`, checking each file's sha256.
    #[napi(ts_return_type = "Promise<ArtifactFile[]>", catch_unwind)]
    pub fn download_artifacts<'env>(
        &self,
        env: &'env Env,
        job_id: String,
        dest: String,
    ) -> Result<PromiseRaw<'env, Vec<ArtifactFile>>> {
        let tp = self.inner.clone();
        spawn(
            env,
            async move {
                tp.download_artifacts(&job_id, std::path::Path::new(&dest))
                    .await
            },
            |_, f| Ok(artifact_files(f)),
        )
    }

    /// Inspect the dataset file at `path` as `plan` inspects an app-served one: its container
    /// and row format, valid rows, size, sha256, longest row, and the first `maxErrors` (20)
    /// invalid rows by line (all are counted). Invalid rows are reported, not thrown; a missing
    /// file rejects with `DATASET_NOT_FOUND`. Read once, off the JavaScript thread.
    #[napi(
        ts_args_type = "path: string, options?: InspectDatasetOptions",
        ts_return_type = "Promise<DatasetReport>",
        catch_unwind
    )]
    pub fn inspect_dataset<'env>(
        &self,
        env: &'env Env,
        path: String,
        options: Option<InspectDatasetOptions>,
    ) -> Result<PromiseRaw<'env, Value>> {
        let max_errors = options.and_then(|o| o.max_errors).unwrap_or(20) as usize;
        let tp = self.inner.clone();
        spawn(
            env,
            async move {
                tp.inspect_dataset(std::path::Path::new(&path), max_errors)
                    .await
            },
            |_, report| to_js_value(&report),
        )
    }

    /// Rewrite the Alpaca dataset at `src` (`instruction`, `input`, `output`) as
    /// prompt/completion JSON lines at `dst`, as the pod's trainer does for an Alpaca dataset:
    /// the prompt is the instruction, then the input after a blank line when there is one; the
    /// completion is the output. Resolves to the report of the result. An invalid dataset
    /// rejects with `DATASET_INVALID`, one in another format with `INVALID_INPUT`, before
    /// anything is written. Off the JavaScript thread.
    #[napi(
        ts_args_type = "src: string, dst: string",
        ts_return_type = "Promise<DatasetReport>",
        catch_unwind
    )]
    pub fn convert_alpaca<'env>(
        &self,
        env: &'env Env,
        src: String,
        dst: String,
    ) -> Result<PromiseRaw<'env, Value>> {
        let tp = self.inner.clone();
        spawn(
            env,
            async move {
                tp.convert_alpaca(std::path::Path::new(&src), std::path::Path::new(&dst))
                    .await
            },
            |_, report| to_js_value(&report),
        )
    }

    /// The pod script `deploy` would generate for `plan`'s first attempt now: the start
    /// command, the env variables by name, the bundle's size and sha256, and every file the pod
    /// unpacks with each credential replaced by `<redacted>`. Creates nothing.
    #[napi(
        ts_args_type = "plan: Plan",
        ts_return_type = "RenderedScript",
        catch_unwind
    )]
    pub fn render_script(&self, plan: Value) -> Result<Value> {
        let plan: sdk::Plan = from_js_value("plan", plan)?;
        to_js_value(&map(self.inner.render_script(&plan))?)
    }

    /// The token service (to issue or verify tokens directly), sharing this SDK's keys and clock.
    #[napi(catch_unwind)]
    pub fn tokens(&self) -> Tokens {
        Tokens::from_core(self.inner.tokens().clone(), self.clock.clone())
    }

    /// This object's index for the hot calls (`_ingestFlat`), which `index.js` keeps.
    #[napi(getter, js_name = "_slot", skip_typescript, catch_unwind)]
    pub fn slot(&self) -> u32 {
        self.slot.index()
    }

    /// Move the fixed clock (only for instances built with `now`).
    #[napi(catch_unwind)]
    pub fn set_now(&self, now: f64) -> Result<()> {
        let now = whole("now", now, trainpod::token::MAX_TIME)?;
        let clock = self
            .clock
            .as_ref()
            .ok_or_else(|| invalid("setNow needs an instance built with `now`"))?;
        clock.set(now);
        Ok(())
    }
}

fn status(_: &Env, s: sdk::JobStatus) -> Result<Value> {
    to_js_value(&s)
}
