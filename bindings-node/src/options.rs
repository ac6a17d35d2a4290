//! `Trainpod`'s options: each becomes one call on core's builder; every check is core's.

use crate::errors::{Result, map};
use crate::json::{object, rename_keys, snake};
use napi_derive::napi;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use trainpod::clock::ManualClock;
use trainpod::fields::lay_over;
use trainpod::jobs::ReconcilePolicy;
use trainpod::number;
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
    /// A job whose pod went away or fell silent mid-run gets a new attempt that resumes from
    /// its newest checkpoint, within its budget (default false).
    pub retry_interrupted: Option<bool>,
    /// How long after a job ended its bill is read from RunPod's billing (default 600).
    pub bill_after_secs: Option<f64>,
}

/// How to build a `Trainpod`. Unset options keep core's defaults.
#[napi(object, object_to_js = false)]
pub struct TrainpodOptions {
    /// The RunPod API key; `RUNPOD_API_KEY` when unset. With `credentials`, it serves only the
    /// jobs that name no account, and may be left out.
    pub runpod_api_key: Option<String>,
    /// The app's credentials resolver: each job runs on its spec's `account`, with the RunPod key
    /// this gives for it (null: the account has none) when a call needs one; trainpod keeps only
    /// the account id. An error it throws whose `code` is `AUTH_INVALID` or `INVALID_INPUT` keeps
    /// it; any other, or a value neither a string nor null, is `CREDENTIALS_UNAVAILABLE`.
    #[napi(ts_type = "(account: string) => Promise<string | null> | string | null")]
    pub credentials: Option<crate::credentials::Resolver>,
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
    /// Where job events are POSTed as signed webhooks (Standard Webhooks): https, or http on
    /// loopback with `allowLoopback`. Needs `webhookSecrets`.
    pub webhook_url: Option<String>,
    /// The secrets webhooks are signed with (`whsec_...`, from `generateWebhookSecret()`); each
    /// delivery carries a signature by every one, so a secret rotates without a lost delivery.
    pub webhook_secrets: Option<Vec<String>>,
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
            .field(
                "webhook_url",
                &self.webhook_url.as_ref().map(|_| "<redacted>"),
            )
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

/// A job spec from JavaScript, its camelCase names in core's snake_case: core lays the fields
/// given over its defaults and names the field of any refusal.
pub(crate) fn job_spec(value: Value) -> Result<JobSpec> {
    let given = object("spec", value)?
        .into_iter()
        .map(|(key, value)| (snake(&key), rename_keys(value, snake)))
        .collect();
    map(JobSpec::from_fields(given))
}

/// `podRuntime` (camelCase keys) laid over core's `PodRuntime::default()`.
fn pod_runtime(given: Value) -> Result<PodRuntime> {
    map(lay_over(
        "podRuntime",
        &PodRuntime::default(),
        rename_keys(given, snake),
    ))
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
        Ok::<_, napi::Error<String>>(
            map(number::whole_opt(name, value, u64::MAX))?.unwrap_or(default),
        )
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
        retry_interrupted: options.retry_interrupted.unwrap_or(d.retry_interrupted),
        bill_after_secs: secs("billAfterSecs", options.bill_after_secs, d.bill_after_secs)?,
    })
}

/// The core builder for `options`, and the fixed clock when there is one.
pub(crate) fn builder(
    o: TrainpodOptions,
) -> Result<(sdk::TrainpodBuilder, Option<Arc<ManualClock>>)> {
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
    if let Some(resolver) = o.credentials {
        b = b.credentials(Arc::new(crate::credentials::JsCredentials(resolver)));
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
    if let Some(ms) = map(number::whole_opt(
        "followIntervalMs",
        o.follow_interval_ms,
        u64::MAX,
    ))? {
        b = b.follow_interval(Duration::from_millis(ms));
    }
    if let Some(r) = o.reconcile {
        b = b.reconcile_policy(reconcile_policy(r)?);
    }
    if let Some(url) = o.hub_url {
        b = b.hub_url(url);
    }
    if let Some(url) = o.webhook_url {
        b = b.webhook_url(url);
    }
    b = b.webhook_secrets(o.webhook_secrets.unwrap_or_default());
    let now = map(number::whole_opt("now", o.now, trainpod::token::MAX_TIME))?;
    let clock = now.map(|n| Arc::new(ManualClock::new(n)));
    if let Some(clock) = &clock {
        b = b.clock(clock.clone());
    }
    Ok((b, clock))
}
