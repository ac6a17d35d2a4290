//! `Trainpod` (blocking) and `AsyncTrainpod` (awaitable): one list of methods, each written
//! once as an async body over the core SDK, expanded into both classes by `twin_classes!` so
//! that their signatures and docstrings cannot drift apart.

use crate::client::{Config, Handle};
use crate::convert::{self, Body, PlanArg, Seconds, SpecArg};
use crate::errors::{invalid, to_py};
use crate::runtime::{block_on, future_into_py, into_future};
use crate::streams::{AsyncStream, Source, Stream};
use crate::tokens::Tokens;
use pyo3::exceptions::{PyStopAsyncIteration, PyTypeError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyString;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use trainpod::clock::ManualClock;
use trainpod::token::KeyRing;

/// What the constructor of both classes takes, in both class docstrings (pyo3 gives
/// `__init__` no docstring of its own).
macro_rules! settings_doc {
    () => {
        concat!(
            "\n\n",
            "The constructor builds the SDK, checking every setting now: a missing RunPod key\n",
            "raises `AuthInvalidError`, an app URL a pod cannot reach\n",
            "`UrlUnreachableFromPodError`.\n",
            "\n",
            "`runpod_api_key` falls back to `RUNPOD_API_KEY` and `signing_keys` (a spec\n",
            "`kid:active:secret,...` or a `Tokens`) to `TRAINPOD_SIGNING_KEYS`, unless\n",
            "`ignore_env`. `credentials` (a callable, sync or async: account id -> RunPod key or\n",
            "`None`) runs each job on its spec's `account`, with the key it gives when a call\n",
            "needs one; trainpod keeps only the account id. `local_provider=(base_url, key)`\n",
            "targets a RunPod-compatible API whose\n",
            "pods run on this machine (loopback app URLs allowed, no GPU expected). `store` is a\n",
            "URL: `sqlite://PATH` (default `sqlite://trainpod.db`), `postgres://...` or `memory:`.\n",
            "`pod_python`, `expect_gpu` and `pod_runtime` (a dict of the other pod settings:\n",
            "`min_free_disk_gb`, `heartbeat_s`, `requirements`...) say how pods run, over the\n",
            "core's defaults (which expect a GPU). `pod_env` adds (non-secret) variables to every\n",
            "pod: names that change how the pod's processes load or that trainpod or RunPod set\n",
            "(`LD_*`, `BASH_ENV`, `PATH`, `PYTHON*`, `RUNPOD_*`, `TRAINPOD_*`, ...) and more than\n",
            "128 KiB with the pod's script are refused (docs/pod-protocol.md); `HF_TOKEN` and\n",
            "`HF_ENDPOINT` are allowed. `follow_interval` (seconds or a timedelta) is how often\n",
            "`follow` polls;\n",
            "`reconcile` (a dict: `stale_after_secs`, `provision_timeout_secs`, `lease_secs`,\n",
            "`retry_unstarted`) says when `reconcile` ends a pod; `hub_url` is the Hugging Face\n",
            "Hub `plan` checks a model id against (default `https://huggingface.co`, or\n",
            "`HF_ENDPOINT`; https, or http on loopback for a stand-in); `webhook_url` is where\n",
            "job events go as signed webhooks (https, or http on loopback with `allow_loopback`),\n",
            "signed with each of `webhook_secrets` (`whsec_...`, from `generate_webhook_secret`;\n",
            "two while one rotates); `now` fixes the clock (tests; move it with `set_now`).\n",
        )
    };
}

#[doc = concat!(
    "Deploys fine-tuning jobs to RunPod and sees them through. Every method blocks with the GIL\n",
    "released, on the one runtime the process shares (also inside a running event loop, such as\n",
    "a notebook's); `AsyncTrainpod` has the same methods as awaitables.",
    settings_doc!()
)]
#[pyclass(frozen, module = "trainpod._native")]
pub struct Trainpod {
    handle: Arc<Handle>,
}

#[doc = concat!(
    "`Trainpod` with awaitable methods, for asyncio code: the same methods, arguments and\n",
    "results. `follow` and `logs` return async iterators.",
    settings_doc!()
)]
#[pyclass(frozen, module = "trainpod._native")]
pub struct AsyncTrainpod {
    handle: Arc<Handle>,
}

/// The key ring of `signing_keys`: a spec (`kid:active:secret,...`) or a `Tokens`.
fn key_ring(py: Python<'_>, keys: &Bound<'_, PyAny>) -> PyResult<KeyRing> {
    if let Ok(tokens) = keys.cast::<Tokens>() {
        return Ok(tokens.get().inner().keys().clone());
    }
    let spec = keys.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err("signing_keys must be a key ring spec (str) or a trainpod.Tokens")
    })?;
    KeyRing::parse(spec.to_str()?).map_err(|e| to_py(py, e))
}

/// What `put_artifact` reads from.
enum Chunks {
    Whole(Option<PyBackedBytes>),
    Iter(Py<PyAny>),
    AsyncIter(Py<PyAny>),
}

impl Chunks {
    fn new(data: &Bound<'_, PyAny>, allow_async: bool) -> PyResult<Chunks> {
        if data.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(
                "data must be bytes or an iterable of bytes, not str",
            ));
        }
        if let Ok(bytes) = data.extract::<PyBackedBytes>() {
            return Ok(Chunks::Whole(Some(bytes)));
        }
        if allow_async && data.hasattr("__aiter__")? {
            return Ok(Chunks::AsyncIter(data.call_method0("__aiter__")?.unbind()));
        }
        let iter = data
            .try_iter()
            .map_err(|_| PyTypeError::new_err("data must be bytes or an iterable of bytes"))?;
        Ok(Chunks::Iter(iter.into_any().unbind()))
    }

    fn chunk(item: &Bound<'_, PyAny>) -> PyResult<PyBackedBytes> {
        item.extract::<PyBackedBytes>()
            .map_err(|_| PyTypeError::new_err("each chunk of data must be bytes"))
    }

    /// The next chunk from a bytes value or a plain iterator (GIL held).
    fn next_sync(&mut self, py: Python<'_>) -> PyResult<Option<PyBackedBytes>> {
        match self {
            Chunks::Whole(bytes) => Ok(bytes.take()),
            Chunks::Iter(iter) => match iter.bind(py).call_method0("__next__") {
                Ok(item) => Self::chunk(&item).map(Some),
                Err(e) if e.is_instance_of::<pyo3::exceptions::PyStopIteration>(py) => Ok(None),
                Err(e) => Err(e),
            },
            Chunks::AsyncIter(_) => Ok(None),
        }
    }

    /// The next chunk, awaiting an async iterator.
    async fn next(&mut self) -> PyResult<Option<PyBackedBytes>> {
        let pending = match self {
            Chunks::AsyncIter(iter) => {
                Python::attach(|py| into_future(iter.bind(py).call_method0("__anext__")?))?
            }
            _ => return Python::attach(|py| self.next_sync(py)),
        };
        match pending.await {
            Ok(item) => Python::attach(|py| Self::chunk(item.bind(py)).map(Some)),
            Err(e) if Python::attach(|py| e.is_instance_of::<PyStopAsyncIteration>(py)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn py_err(e: trainpod::Error) -> PyErr {
    Python::attach(|py| to_py(py, e))
}

/// Expands one list of methods into both classes. Each twin is its docs, its pyo3 signature
/// (with the arguments' Python types) and
/// `fn name(args) -> converter as "T", "Coroutine[object, None, T]" = |tp| async body;`, with `tp`
/// the core SDK; the two strings are the Python return types of the twins (for the stubs).
macro_rules! twin_classes {
    (
        common { $($common:tt)* }
        sync { $($sync_only:tt)* }
        async { $($async_only:tt)* }
        twins {
            $(
                $(#[doc = $doc:literal])*
                #[pyo3(signature = ($($sig:tt)*))]
                fn $name:ident($($arg:ident : $ty:ty),* $(,)?)
                    -> $conv:path as $sync_ret:literal, $async_ret:literal = |$tp:ident| $body:expr;
            )*
        }
    ) => {
        #[pymethods]
        impl Trainpod {
            $($common)*
            $($sync_only)*
            $(
                $(#[doc = $doc])*
                #[pyo3(signature = ($($sig)*) -> $sync_ret)]
                fn $name(&self, py: Python<'_>, $($arg: $ty),*) -> PyResult<Py<PyAny>> {
                    let $tp = self.handle.get(py)?;
                    match block_on(py, async move { $body }) {
                        Ok(value) => $conv(py, value),
                        Err(e) => Err(to_py(py, e)),
                    }
                }
            )*
        }

        #[pymethods]
        impl AsyncTrainpod {
            $($common)*
            $($async_only)*
            $(
                $(#[doc = $doc])*
                #[pyo3(signature = ($($sig)*) -> $async_ret)]
                fn $name<'py>(&self, py: Python<'py>, $($arg: $ty),*) -> PyResult<Bound<'py, PyAny>> {
                    let handle = self.handle.clone();
                    future_into_py(py, concat!("AsyncTrainpod.", stringify!($name)), async move {
                        let result = async move {
                            let $tp = handle.get_async().await?;
                            $body
                        }
                        .await;
                        Python::attach(|py| match result {
                            Ok(value) => $conv(py, value),
                            Err(e) => Err(to_py(py, e)),
                        })
                    })
                }
            )*
        }
    };
}

twin_classes! {
    common {
        // The settings are documented on the classes (`SETTINGS`).
        #[new]
        #[pyo3(signature = (
            *,
            runpod_api_key = None,
            credentials: "Callable[[str], str | Awaitable[str | None] | None] | None" = None,
            runpod_base_url = None,
            local_provider = None,
            app_url = None,
            signing_keys: "str | Tokens | None" = None,
            store = None,
            datasets_dir = None,
            artifacts_dir = None,
            allow_loopback = None,
            image = None,
            pod_python = None,
            expect_gpu = None,
            pod_runtime: "Mapping[str, object] | None" = None,
            pod_env = None,
            follow_interval: "float | datetime.timedelta | None" = None,
            reconcile: "Mapping[str, object] | None" = None,
            hub_url = None,
            webhook_url = None,
            webhook_secrets: "str | Sequence[str] | None" = None,
            ignore_env = false,
            now = None
        ))]
        #[allow(clippy::too_many_arguments)]
        fn new(
            py: Python<'_>,
            runpod_api_key: Option<String>,
            credentials: Option<Bound<'_, PyAny>>,
            runpod_base_url: Option<String>,
            local_provider: Option<(String, String)>,
            app_url: Option<String>,
            signing_keys: Option<Bound<'_, PyAny>>,
            store: Option<String>,
            datasets_dir: Option<PathBuf>,
            artifacts_dir: Option<PathBuf>,
            allow_loopback: Option<bool>,
            image: Option<String>,
            pod_python: Option<String>,
            expect_gpu: Option<bool>,
            pod_runtime: Option<Bound<'_, PyAny>>,
            pod_env: Option<BTreeMap<String, String>>,
            follow_interval: Option<Seconds>,
            reconcile: Option<Bound<'_, PyAny>>,
            hub_url: Option<String>,
            webhook_url: Option<String>,
            webhook_secrets: Option<crate::webhooks::Secrets>,
            ignore_env: bool,
            now: Option<u64>,
        ) -> PyResult<Self> {
            if local_provider.is_some() && (runpod_base_url.is_some() || runpod_api_key.is_some()) {
                return Err(invalid(
                    py,
                    "local_provider=(base_url, key) sets the RunPod URL and key: pass it alone, \
                     without runpod_base_url or runpod_api_key",
                ));
            }
            let signing_keys = match &signing_keys {
                Some(keys) => Some(key_ring(py, keys)?),
                None => None,
            };
            let overrides = pod_runtime.as_ref().map(convert::dict_json).transpose()?;
            let pod_runtime = convert::pod_runtime(pod_python, expect_gpu, overrides.as_deref())
                .map_err(|e| to_py(py, e))?;
            let policy = reconcile.as_ref().map(convert::dict_json).transpose()?;
            let reconcile =
                convert::reconcile_policy(policy.as_deref()).map_err(|e| to_py(py, e))?;
            let credentials = match credentials {
                Some(c) => Some(Arc::new(crate::credentials::PyCredentials::new(c)?)
                    as Arc<dyn trainpod::sdk::Credentials>),
                None => None,
            };
            let config = Config {
                runpod_api_key,
                credentials,
                runpod_base_url,
                local_provider,
                app_url,
                signing_keys,
                store,
                datasets_dir,
                artifacts_dir,
                allow_loopback,
                image,
                pod_runtime,
                pod_env: pod_env.unwrap_or_default(),
                follow_interval: follow_interval.map(|s| s.0),
                reconcile,
                hub_url,
                webhook_url,
                webhook_secrets: webhook_secrets.map(|s| s.0).unwrap_or_default(),
                ignore_env,
                clock: now.map(|n| Arc::new(ManualClock::new(n))),
            };
            Ok(Self {
                handle: Arc::new(Handle::new(py, config)?),
            })
        }

        /// The token service, with the same keys, audience and clock: to issue or verify
        /// tokens directly.
        #[getter]
        fn tokens(&self, py: Python<'_>) -> PyResult<Tokens> {
            let tp = self.handle.get(py)?;
            Ok(Tokens::wrap(tp.tokens().clone(), self.handle.config().clock.clone()))
        }

        /// The store's backend: `memory`, `sqlite` or `postgres`.
        #[getter]
        fn store_backend(&self, py: Python<'_>) -> PyResult<&'static str> {
            Ok(self.handle.get(py)?.store().backend())
        }

        /// Move the fixed clock (only for instances built with `now`).
        fn set_now(&self, py: Python<'_>, now: u64) -> PyResult<()> {
            match &self.handle.config().clock {
                Some(clock) => {
                    clock.set(now);
                    Ok(())
                }
                None => Err(invalid(
                    py,
                    "set_now needs an instance built with now=...; this one uses the system clock",
                )),
            }
        }

        fn __repr__(&self) -> String {
            let config = self.handle.config();
            format!(
                "{}(app_url={:?}, store={:?})",
                Self::NAME,
                config.app_url.as_deref().unwrap_or(""),
                config.store.as_deref().unwrap_or("sqlite://trainpod.db"),
            )
        }
    }

    sync {
        /// The job's status changes and the events its pod sends, until it ends: an iterator
        /// of `FollowUpdate` (async iterator on `AsyncTrainpod`). Errors are raised while
        /// iterating. `progress=True` shows a progress bar (tqdm when installed, else text).
        #[pyo3(signature = (job_id, *, progress = false)
            -> "Stream[FollowUpdate] | Iterator[FollowUpdate]")]
        fn follow(&self, py: Python<'_>, job_id: String, progress: bool) -> PyResult<Py<PyAny>> {
            let stream = Py::new(py, Stream::new(self.handle.clone(), Source::Follow { job_id }))?;
            if progress {
                return Ok(py.import("trainpod._progress")?.call_method1("bar", (stream,))?.unbind());
            }
            Ok(stream.into_any())
        }

        /// The pod's log lines (container and system): the last `tail` lines, then live, until
        /// the pod ends: an iterator of `LogLine` (async iterator on `AsyncTrainpod`).
        #[pyo3(signature = (job_id, *, tail = None) -> "Stream[LogLine]")]
        fn logs(&self, job_id: String, tail: Option<u32>) -> PyResult<Stream> {
            Ok(Stream::new(self.handle.clone(), Source::Logs { job_id, tail }))
        }

        /// The artifacts route's file upload (`PUT <route>/files/<path>`): `data` is the body,
        /// bytes or an iterable of byte chunks (on `AsyncTrainpod` also an async iterable),
        /// checked against the manifest's size and sha256 before the file is kept.
        #[pyo3(signature = (
            job_id,
            authorization,
            path,
            data: "bytes | bytearray | Iterable[bytes]",
        ) -> "ArtifactFile")]
        fn put_artifact(
            &self,
            py: Python<'_>,
            job_id: String,
            authorization: Option<String>,
            path: String,
            data: Bound<'_, PyAny>,
        ) -> PyResult<Py<PyAny>> {
            let mut chunks = Chunks::new(&data, false)?;
            let tp = self.handle.get(py)?;
            let begun = block_on(py, async { tp.begin_artifact(&job_id, authorization.as_deref(), &path).await });
            let mut upload = begun.map_err(|e| to_py(py, e))?;
            while let Some(chunk) = chunks.next_sync(py)? {
                block_on(py, upload.write(chunk.to_vec())).map_err(|e| to_py(py, e))?;
            }
            let file = block_on(py, upload.finish()).map_err(|e| to_py(py, e))?;
            convert::file(py, file)
        }
    }

    async {
        /// The job's status changes and the events its pod sends, until it ends: an iterator
        /// of `FollowUpdate` (async iterator on `AsyncTrainpod`). Errors are raised while
        /// iterating. `progress=True` shows a progress bar (tqdm when installed, else text).
        #[pyo3(signature = (job_id, *, progress = false)
            -> "AsyncStream[FollowUpdate] | AsyncIterator[FollowUpdate]")]
        fn follow(&self, py: Python<'_>, job_id: String, progress: bool) -> PyResult<Py<PyAny>> {
            let stream = Py::new(py, AsyncStream::new(self.handle.clone(), Source::Follow { job_id }))?;
            if progress {
                return Ok(py.import("trainpod._progress")?.call_method1("abar", (stream,))?.unbind());
            }
            Ok(stream.into_any())
        }

        /// The pod's log lines (container and system): the last `tail` lines, then live, until
        /// the pod ends: an iterator of `LogLine` (async iterator on `AsyncTrainpod`).
        #[pyo3(signature = (job_id, *, tail = None) -> "AsyncStream[LogLine]")]
        fn logs(&self, job_id: String, tail: Option<u32>) -> PyResult<AsyncStream> {
            Ok(AsyncStream::new(self.handle.clone(), Source::Logs { job_id, tail }))
        }

        /// The artifacts route's file upload (`PUT <route>/files/<path>`): `data` is the body,
        /// bytes or an iterable of byte chunks (on `AsyncTrainpod` also an async iterable),
        /// checked against the manifest's size and sha256 before the file is kept.
        #[pyo3(signature = (
            job_id,
            authorization,
            path,
            data: "bytes | bytearray | Iterable[bytes] | AsyncIterable[bytes]",
        ) -> "Coroutine[object, None, ArtifactFile]")]
        fn put_artifact<'py>(
            &self,
            py: Python<'py>,
            job_id: String,
            authorization: Option<String>,
            path: String,
            data: Bound<'py, PyAny>,
        ) -> PyResult<Bound<'py, PyAny>> {
            let mut chunks = Chunks::new(&data, true)?;
            let handle = self.handle.clone();
            future_into_py(py, "AsyncTrainpod.put_artifact", async move {
                let tp = handle.get_async().await.map_err(py_err)?;
                let mut upload = tp
                    .begin_artifact(&job_id, authorization.as_deref(), &path)
                    .await
                    .map_err(py_err)?;
                while let Some(chunk) = chunks.next().await? {
                    upload.write(chunk.to_vec()).await.map_err(py_err)?;
                }
                let file = upload.finish().await.map_err(py_err)?;
                Python::attach(|py| convert::file(py, file))
            })
        }
    }

    twins {
        /// Checks `spec` against everything checkable before money is spent (the RunPod key,
        /// the image, the dataset, the URLs a pod needs, GPU prices and availability, the
        /// budget) and returns the `Plan` with its cost estimate, or raises the first problem.
        /// Nothing is created on RunPod: the plan is stored with its job, `queued`, for
        /// `deploy`. Planning a job id again replaces its plan while it is queued and never
        /// deployed; after that it raises `InvalidStateError`.
        #[pyo3(signature = (spec: "JobSpec"))]
        fn plan(spec: SpecArg) -> convert::plan as "Plan", "Coroutine[object, None, Plan]" = |tp| tp.plan(&spec.0).await;

        /// Deploys the plan `plan()` stored with `plan.job_id`: issues the job's tokens,
        /// generates its script and creates its pod (trying the plan's fallback GPUs in order).
        /// A plan that differs from the stored one raises `InvalidInputError` and a job never
        /// planned `NotFoundError`, with nothing created. Deploying the same plan again returns
        /// the job as it is: it never creates a second pod. Returns the `JobStatus`.
        #[pyo3(signature = (plan: "Plan"))]
        fn deploy(plan: PlanArg)
            -> convert::status as "JobStatus", "Coroutine[object, None, JobStatus]" = |tp| tp.deploy(&plan.0).await;

        /// The `Plan` stored with the job: what `deploy` deploys for it (for an app that lost
        /// the plan `plan()` returned).
        #[pyo3(signature = (job_id))]
        fn stored_plan(job_id: String)
            -> convert::plan as "Plan", "Coroutine[object, None, Plan]" = |tp| tp.stored_plan(&job_id).await;

        /// What a RunPod API key can do, before the app saves it: valid or not, whether it can
        /// create pods (All, Restricted or Read Only, as far as the API tells without side
        /// effects), the GPU types its account sees, and what to fix. Returns a `KeyCheck`; a
        /// refused key is an answer (`valid=False`), RunPod out of reach an error.
        #[pyo3(signature = (key))]
        fn check_runpod_key(key: String)
            -> convert::key_check as "KeyCheck", "Coroutine[object, None, KeyCheck]" = |tp| tp.check_runpod_key(&key).await;

        /// The job's `JobStatus` now.
        #[pyo3(signature = (job_id))]
        fn status(job_id: String)
            -> convert::status as "JobStatus", "Coroutine[object, None, JobStatus]" = |tp| tp.status(&job_id).await;

        /// Terminates the job's pod and marks it cancelled; an ended job is returned as it is.
        #[pyo3(signature = (job_id))]
        fn cancel(job_id: String)
            -> convert::status as "JobStatus", "Coroutine[object, None, JobStatus]" = |tp| tp.cancel(&job_id).await;

        /// Starts a new attempt of a failed, cancelled, timed out or over-budget job: the old
        /// pod terminated, fresh tokens, a new pod. Returns the new attempt's `JobStatus`.
        #[pyo3(signature = (job_id))]
        fn retry(job_id: String)
            -> convert::status as "JobStatus", "Coroutine[object, None, JobStatus]" = |tp| tp.retry(&job_id).await;

        /// Ends every trainpod pod that nobody should pay for (stale heartbeat, past its
        /// deadline, over its budget, or an orphan), on every account with jobs, then reads the
        /// final bill of the jobs that ended; returns a `ReconcileAction` for each (an account
        /// that could not be reached: `account_unavailable` for each of its jobs). Run it from
        /// a cron.
        #[pyo3(signature = ())]
        fn reconcile()
            -> convert::actions as "list[ReconcileAction]", "Coroutine[object, None, list[ReconcileAction]]" = |tp| tp.reconcile().await;

        /// Sends the job events that are due (new ones, and failed ones whose next try has come)
        /// to `webhook_url` as signed webhooks; returns the `WebhookReport` (delivered, retrying,
        /// failed, and each try). Safe from several app instances at once. Run it from the same
        /// cron as `reconcile` (which runs it too), or more often for events sooner.
        #[pyo3(signature = ())]
        fn deliver_webhooks()
            -> convert::webhook_report as "WebhookReport", "Coroutine[object, None, WebhookReport]" = |tp| tp.deliver_webhooks().await;

        /// The metrics route: the pod's batch (`body`) verified with its `Authorization` header,
        /// accepted once, and folded into the job. Answer the request with the outcome's
        /// `status` and `body`; on an error, with `http_status(err.code)`.
        #[pyo3(signature = (job_id, authorization, body: "bytes | bytearray | str"))]
        fn ingest_metrics(job_id: String, authorization: Option<String>, body: Body)
            -> convert::ingest as "IngestOutcome", "Coroutine[object, None, IngestOutcome]" = |tp| tp.ingest_metrics(&job_id, authorization.as_deref(), &body).await;

        /// The dataset download route: the pod's token (`Authorization` header or `?token=`)
        /// and `Range` turned into a `DatasetGrant` (status, headers, the body to stream), or
        /// a typed error to answer with `http_status(err.code)`. The token's job is looked up
        /// in the store: a job that does not exist raises `NotFoundError` (404), another
        /// user's or another attempt's `TokenScopeMismatchError` (403), an ended one
        /// `InvalidStateError` (409).
        #[pyo3(signature = (authorization, query_token, dataset_id, range = None))]
        fn authorize_dataset_download(
            authorization: Option<String>,
            query_token: Option<String>,
            dataset_id: String,
            range: Option<String>,
        ) -> crate::staging::grant as "DatasetGrant", "Coroutine[object, None, DatasetGrant]" = |tp| tp.authorize_dataset_download(
            authorization.as_deref(),
            query_token.as_deref(),
            &dataset_id,
            range.as_deref(),
        ).await;

        /// The artifacts route's manifest (`POST <route>`): answered with the uploads still
        /// needed, or, with `"complete": true`, whether every file arrived. Answer the request
        /// with the returned `status` and `body`.
        #[pyo3(signature = (job_id, authorization, body: "bytes | bytearray | str"))]
        fn artifact_manifest(job_id: String, authorization: Option<String>, body: Body)
            -> convert::answer as "ArtifactsAnswer", "Coroutine[object, None, ArtifactsAnswer]" = |tp| tp.artifact_manifest(&job_id, authorization.as_deref(), &body).await;

        /// A checkpoint file of an earlier attempt (`GET <route>/files/<path>`), for the pod
        /// that resumes from it: its artifacts token is checked and the file must be in a
        /// confirmed checkpoint. Returns a `CheckpointDownload`: send the file at its `path`.
        #[pyo3(signature = (job_id, authorization, path))]
        fn checkpoint_file(job_id: String, authorization: Option<String>, path: String)
            -> convert::checkpoint as "CheckpointDownload", "Coroutine[object, None, CheckpointDownload]" = |tp| tp.checkpoint_file(&job_id, authorization.as_deref(), &path).await;

        /// The artifacts of the job's current attempt (`ArtifactFile`s), once its pod confirmed
        /// them complete; empty before.
        #[pyo3(signature = (job_id))]
        fn artifacts(job_id: String)
            -> convert::files as "list[ArtifactFile]", "Coroutine[object, None, list[ArtifactFile]]" = |tp| tp.artifacts(&job_id).await;

        /// Inspects the dataset file at `path` as `plan` inspects an app-served one: its
        /// container and row format, valid rows, size, sha256, longest row, and the first
        /// `max_errors` invalid rows by line (all are counted). Invalid rows are reported, not
        /// raised; a missing file raises `DatasetNotFoundError`. Returns a `DatasetReport`.
        #[pyo3(signature = (path, *, max_errors = 20))]
        fn inspect_dataset(path: PathBuf, max_errors: usize)
            -> convert::report as "DatasetReport", "Coroutine[object, None, DatasetReport]" = |tp| tp.inspect_dataset(&path, max_errors).await;

        /// Rewrites the Alpaca dataset at `src` (`instruction`, `input`, `output`) as
        /// prompt/completion JSON lines at `dst`, as the pod's trainer does for an Alpaca
        /// dataset: the prompt is the instruction, then the input after a blank line when there
        /// is one; the completion is the output. Returns the `DatasetReport` of the result. An
        /// invalid dataset raises `DatasetInvalidError`, one in another format
        /// `InvalidInputError`, before anything is written.
        #[pyo3(signature = (src, dst))]
        fn convert_alpaca(src: PathBuf, dst: PathBuf)
            -> convert::report as "DatasetReport", "Coroutine[object, None, DatasetReport]" = |tp| tp.convert_alpaca(&src, &dst).await;

        /// The pod script `deploy` would generate for `plan`'s first attempt now: the start
        /// command, the env variables by name, the bundle's size and sha256, and every file the
        /// pod unpacks, with each credential replaced by `<redacted>`. Creates nothing.
        /// Returns a `RenderedScript`.
        #[pyo3(signature = (plan: "Plan"))]
        fn render_script(plan: PlanArg)
            -> convert::rendered as "RenderedScript", "Coroutine[object, None, RenderedScript]" = |tp| tp.render_script(&plan.0).await;

        /// Copies the job's artifacts into the directory `dest`, checking each file's sha256;
        /// returns them.
        #[pyo3(signature = (job_id, dest))]
        fn download_artifacts(job_id: String, dest: PathBuf)
            -> convert::files as "list[ArtifactFile]", "Coroutine[object, None, list[ArtifactFile]]" = |tp| tp.download_artifacts(&job_id, &dest).await;
    }
}

impl Trainpod {
    const NAME: &'static str = "Trainpod";
}

impl AsyncTrainpod {
    const NAME: &'static str = "AsyncTrainpod";
}

impl std::fmt::Debug for Trainpod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.__repr__())
    }
}

impl std::fmt::Debug for AsyncTrainpod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.__repr__())
    }
}
