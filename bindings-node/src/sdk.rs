//! `Trainpod`: the SDK facade of core (`trainpod::sdk`), its methods as promises.
//!
//! Options become one core builder call each (options.rs); specs, plans and statuses cross as
//! plain objects (json.rs, shapes in `types.d.ts`); every rule and check stays in core.

use crate::errors::{Result, invalid, map};
use crate::json::{from_js_value, to_js_value};
use crate::options::{TrainpodOptions, builder, job_spec};
use crate::promise::{rejected, spawn};
use crate::records::{
    ArtifactFile, ArtifactsAnswer, CheckpointDownload, IngestOutcome, ReconcileAction,
    artifact_files, ingest_outcome,
};
use crate::staging::{DatasetGrant, present};
use crate::stream::{ArtifactUpload, Follow, LogStream};
use crate::tokens::Tokens;
use napi::Env;
use napi::bindgen_prelude::{Either, Null, PromiseRaw, Uint8ArraySlice};
use napi_derive::napi;
use serde_json::Value;
use std::sync::Arc;
use trainpod::clock::ManualClock;
use trainpod::number;
use trainpod::sdk;

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
            Ok(Trainpod {
                inner: Arc::new(inner),
                clock,
            })
        })
    }

    /// Check `spec` against everything checkable before money is spent; resolves with the plan
    /// (cost estimate, deadline, GPU, warnings) or rejects with an actionable error. The job
    /// is stored `queued` with its plan; planning a queued job again replaces its plan.
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

    /// Deploy the plan stored with the job: idempotent per job id. A plan changed after `plan`
    /// made it is refused (`INVALID_INPUT`: plan again with the changed spec), and so is one
    /// never planned (`NOT_FOUND`).
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

    /// The plan stored with the job when `plan` made it: what `deploy` deploys (an app that
    /// lost the plan object, its process restarted, deploys this).
    #[napi(ts_return_type = "Promise<Plan>", catch_unwind)]
    pub fn stored_plan<'env>(
        &self,
        env: &'env Env,
        job_id: String,
    ) -> Result<PromiseRaw<'env, Value>> {
        let tp = self.inner.clone();
        spawn(
            env,
            async move { tp.stored_plan(&job_id).await },
            |_, plan| to_js_value(&plan),
        )
    }

    /// What a RunPod API key can do, before the app saves it (a settings page's check): valid or
    /// not, whether it can create pods (All, Restricted or Read Only, as far as the API tells
    /// without side effects), the GPU types its account sees, and what to fix. A refused key is
    /// an answer (`valid: false`); RunPod out of reach rejects.
    #[napi(ts_return_type = "Promise<KeyCheck>", catch_unwind)]
    pub fn check_runpod_key<'env>(
        &self,
        env: &'env Env,
        key: String,
    ) -> Result<PromiseRaw<'env, Value>> {
        let tp = self.inner.clone();
        spawn(
            env,
            async move { tp.check_runpod_key(&key).await },
            |_, check| to_js_value(&check),
        )
    }

    /// The job's status now.
    #[napi(ts_return_type = "Promise<JobStatus>", catch_unwind)]
    pub fn status<'env>(&self, env: &'env Env, job_id: String) -> Result<PromiseRaw<'env, Value>> {
        let tp = self.inner.clone();
        spawn(env, async move { tp.status(&job_id).await }, status)
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
        let tail = match number::whole_opt("tail", tail, u64::from(u32::MAX)) {
            Ok(t) => t.map(|t| t as u32),
            Err(e) => return rejected(env, crate::errors::to_js(e)),
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
    /// started, orphan) and every live job whose pod is gone, on every account with jobs (one
    /// that cannot be reached: `account_unavailable` for each of its jobs), then read the final
    /// bill of the jobs that ended (`billed`); run it every minute or so.
    #[napi(ts_return_type = "Promise<ReconcileAction[]>", catch_unwind)]
    pub fn reconcile<'env>(
        &self,
        env: &'env Env,
    ) -> Result<PromiseRaw<'env, Vec<ReconcileAction>>> {
        let tp = self.inner.clone();
        spawn(env, async move { tp.reconcile().await }, |_, actions| {
            Ok(actions.into_iter().map(ReconcileAction::from).collect())
        })
    }

    /// Send the job events that are due to `webhookUrl` as signed webhooks; resolves with what
    /// became of each. Safe from several app instances at once; run it from the same cron as
    /// `reconcile` (which runs it too), or more often for events sooner.
    #[napi(ts_return_type = "Promise<WebhookReport>", catch_unwind)]
    pub fn deliver_webhooks<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Value>> {
        let tp = self.inner.clone();
        spawn(
            env,
            async move { tp.deliver_webhooks().await },
            |_, report| to_js_value(&report),
        )
    }

    /// The metrics route: the pod's batch verified, accepted once and folded into the job.
    /// Answer `status` with `body` (JSON).
    #[napi(catch_unwind)]
    pub fn ingest_metrics<'env>(
        &self,
        env: &'env Env,
        job_id: String,
        authorization: Option<Either<String, Null>>,
        body: Uint8ArraySlice,
    ) -> Result<PromiseRaw<'env, IngestOutcome>> {
        let tp = self.inner.clone();
        let authorization = present(&authorization).map(str::to_owned);
        let body = body.to_vec();
        spawn(
            env,
            async move {
                tp.ingest_metrics(&job_id, authorization.as_deref(), &body)
                    .await
            },
            |_, out| Ok(ingest_outcome(out)),
        )
    }

    /// The dataset download route: the pod's token and `Range` turned into a grant (status,
    /// headers and the opened file: `stream()`, `webStream()`, `close()`), or a rejection with
    /// a typed error (`httpStatus(err.code)` is the status to answer). The token's job is looked
    /// up in the store: `NOT_FOUND` (404) when it does not exist, `TOKEN_SCOPE_MISMATCH` (403)
    /// for another user's or another attempt's, `INVALID_STATE` (409) once it has ended. The
    /// file is opened and hashed off the JavaScript thread.
    #[napi(catch_unwind)]
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
            |_, grant| DatasetGrant::new(grant),
        )
    }

    /// The artifacts route: a manifest answered with the uploads still needed, or (with
    /// `"complete": true`) whether every file is stored.
    #[napi(catch_unwind)]
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
    #[napi(catch_unwind)]
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
            |_, upload| Ok(ArtifactUpload::new(upload)),
        )
    }

    /// A checkpoint file of an earlier attempt (a GET of `<artifacts route>/files/<path>`), for
    /// the pod that resumes from it: its artifacts token is checked and the file must be in a
    /// confirmed checkpoint. Send the file at the returned `path`.
    #[napi(catch_unwind)]
    pub fn checkpoint_file<'env>(
        &self,
        env: &'env Env,
        job_id: String,
        authorization: Option<Either<String, Null>>,
        path: String,
    ) -> Result<PromiseRaw<'env, CheckpointDownload>> {
        let tp = self.inner.clone();
        let authorization = present(&authorization).map(str::to_owned);
        spawn(
            env,
            async move {
                tp.checkpoint_file(&job_id, authorization.as_deref(), &path)
                    .await
            },
            |_, found| {
                Ok(CheckpointDownload {
                    path: found.path.to_string_lossy().into_owned(),
                    size: found.size as f64,
                })
            },
        )
    }

    /// The artifacts of the job's current attempt, once the pod confirmed them complete.
    #[napi(catch_unwind)]
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
    #[napi(catch_unwind)]
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
        ts_return_type = "Promise<RenderedScript>",
        catch_unwind
    )]
    pub fn render_script<'env>(
        &self,
        env: &'env Env,
        plan: Value,
    ) -> Result<PromiseRaw<'env, Value>> {
        let plan: sdk::Plan = match from_js_value("plan", plan) {
            Ok(plan) => plan,
            Err(e) => return rejected(env, e),
        };
        let tp = self.inner.clone();
        spawn(env, async move { tp.render_script(&plan).await }, |_, r| {
            to_js_value(&r)
        })
    }

    /// The token service (to issue or verify tokens directly), sharing this SDK's keys and clock.
    #[napi(catch_unwind)]
    pub fn tokens(&self) -> Tokens {
        Tokens::from_core(self.inner.tokens().clone(), self.clock.clone())
    }

    /// Move the fixed clock (only for instances built with `now`).
    #[napi(catch_unwind)]
    pub fn set_now(&self, now: f64) -> Result<()> {
        let now = map(number::whole("now", now, trainpod::token::MAX_TIME))?;
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
