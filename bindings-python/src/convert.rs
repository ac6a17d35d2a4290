//! Conversions between the SDK's core types and the package's Python types. Results cross as
//! JSON (the core types' own serde form) and become the dataclasses of `trainpod/types.py`;
//! a `JobSpec` crosses the other way, laid over the core's defaults.

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::time::Duration;
use trainpod::dataset::DatasetReport;
use trainpod::fields::lay_over;
use trainpod::jobs::{IngestOutcome, ReconcileAction, ReconcilePolicy};
use trainpod::runpod::LogEvent;
use trainpod::script::{PodRuntime, RenderedScript};
use trainpod::sdk::{ArtifactFile, ArtifactsAnswer, FollowUpdate, JobSpec, JobStatus};
use trainpod::webhooks::{WebhookEvent, WebhookReport};
use trainpod::{Error, ErrorKind};

static DECODE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The largest integer a double holds exactly, 2^53 − 1.
const MAX_SAFE: u64 = trainpod::jobs::MAX_SAFE_INTEGER;

/// `value` with every integer beyond 2^53 − 1 as the nearest float, as the Node binding hands
/// it over: ingest refuses such integers, but a store may hold rows kept before it did (and a
/// pod's event passes through as it was kept). Python's own ints are unbounded; an app that
/// sends a result on as JSON to a browser must not hand it a number JavaScript cannot read.
fn bounded(value: Value) -> Value {
    match value {
        Value::Number(n) => {
            let beyond = n.as_u64().map_or_else(
                || n.as_i64().is_some_and(|i| i.unsigned_abs() > MAX_SAFE),
                |u| u > MAX_SAFE,
            );
            match n.as_f64().and_then(serde_json::Number::from_f64) {
                Some(float) if beyond => Value::Number(float),
                _ => Value::Number(n),
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(bounded).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, bounded(v))).collect())
        }
        other => other,
    }
}

/// The Python object for `value`, built by `trainpod.types._decode(kind, json)`.
fn decode(py: Python<'_>, kind: &str, value: &impl Serialize) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_value(value).and_then(|v| serde_json::to_string(&bounded(v)));
    let text = text.map_err(|e| {
        crate::errors::to_py(
            py,
            Error::new(
                ErrorKind::Internal,
                format!("a result did not serialize: {e}"),
            ),
        )
    })?;
    let decode = DECODE.get_or_try_init(py, || -> PyResult<_> {
        Ok(py.import("trainpod.types")?.getattr("_decode")?.unbind())
    })?;
    decode.call1(py, (kind, text))
}

pub(crate) fn plan(py: Python<'_>, plan: trainpod::sdk::Plan) -> PyResult<Py<PyAny>> {
    decode(py, "plan", &plan)
}

pub(crate) fn status(py: Python<'_>, status: JobStatus) -> PyResult<Py<PyAny>> {
    decode(py, "status", &status)
}

pub(crate) fn key_check(py: Python<'_>, check: trainpod::sdk::KeyCheck) -> PyResult<Py<PyAny>> {
    decode(py, "key_check", &check)
}

pub(crate) fn update(py: Python<'_>, update: FollowUpdate) -> PyResult<Py<PyAny>> {
    // Tagged here rather than by serde: an event is any JSON object, and may hold a "kind".
    let value = match update {
        FollowUpdate::Status(status) => json!({"kind": "status", "status": status}),
        FollowUpdate::Event(event) => json!({"kind": "event", "event": event}),
    };
    decode(py, "follow", &value)
}

pub(crate) fn log(py: Python<'_>, event: LogEvent) -> PyResult<Py<PyAny>> {
    decode(py, "log", &event)
}

pub(crate) fn actions(py: Python<'_>, actions: Vec<ReconcileAction>) -> PyResult<Py<PyAny>> {
    let list: Vec<Value> = actions
        .iter()
        .map(|a| {
            json!({
                "pod_id": a.pod_id,
                "job_id": a.job_id,
                "reason": a.reason,
                "job_state": a.job_state,
                "error": a.error.as_ref().map(|e| json!({"code": e.code, "message": e.message})),
            })
        })
        .collect();
    decode(py, "reconcile", &list)
}

pub(crate) fn ingest(py: Python<'_>, outcome: IngestOutcome) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, crate::outcome::IngestOutcome::from(outcome))?.into_any())
}

pub(crate) fn answer(py: Python<'_>, answer: ArtifactsAnswer) -> PyResult<Py<PyAny>> {
    decode(
        py,
        "artifacts_answer",
        &json!({"status": answer.status, "body": answer.body}),
    )
}

pub(crate) fn checkpoint(
    py: Python<'_>,
    found: trainpod::sdk::CheckpointDownload,
) -> PyResult<Py<PyAny>> {
    let path = found.path.to_string_lossy();
    decode(
        py,
        "checkpoint_download",
        &json!({"path": path, "size": found.size}),
    )
}

pub(crate) fn file(py: Python<'_>, file: ArtifactFile) -> PyResult<Py<PyAny>> {
    decode(py, "artifact_file", &file)
}

pub(crate) fn files(py: Python<'_>, files: Vec<ArtifactFile>) -> PyResult<Py<PyAny>> {
    decode(py, "artifact_files", &files)
}

pub(crate) fn report(py: Python<'_>, report: DatasetReport) -> PyResult<Py<PyAny>> {
    decode(py, "dataset_report", &report)
}

pub(crate) fn rendered(py: Python<'_>, script: RenderedScript) -> PyResult<Py<PyAny>> {
    decode(py, "rendered_script", &script)
}

pub(crate) fn webhook_event(py: Python<'_>, event: WebhookEvent) -> PyResult<Py<PyAny>> {
    decode(py, "webhook_event", &event)
}

pub(crate) fn webhook_report(py: Python<'_>, report: WebhookReport) -> PyResult<Py<PyAny>> {
    decode(py, "webhook_report", &report)
}

fn invalid(message: String) -> Error {
    Error::invalid_input(message)
}

/// A `JobSpec` from the JSON of `trainpod.JobSpec._to_json()`: core lays the fields given over
/// its defaults and names the field of any refusal.
pub(crate) fn job_spec(text: &str) -> Result<JobSpec, Error> {
    let given: Map<String, Value> = serde_json::from_str(text)
        .map_err(|e| invalid(format!("the job spec is not a JSON object: {e}")))?;
    JobSpec::from_fields(given)
}

/// How pods run: the core's defaults with `overrides` (JSON of a dict of `PodRuntime` fields)
/// and the named settings laid over them; `None` when nothing was given.
pub(crate) fn pod_runtime(
    python: Option<String>,
    expect_gpu: Option<bool>,
    overrides: Option<&str>,
) -> Result<Option<PodRuntime>, Error> {
    if python.is_none() && expect_gpu.is_none() && overrides.is_none() {
        return Ok(None);
    }
    let mut runtime = match overrides {
        Some(text) => lay_over("pod_runtime", &PodRuntime::default(), dict(text)?)?,
        None => PodRuntime::default(),
    };
    if let Some(python) = python {
        runtime.python = python;
    }
    if let Some(gpu) = expect_gpu {
        runtime.expect_gpu = gpu;
    }
    Ok(Some(runtime))
}

/// When `reconcile` ends a pod: the core's defaults with `overrides` (JSON of a dict of
/// `ReconcilePolicy` fields); `None` when nothing was given.
pub(crate) fn reconcile_policy(overrides: Option<&str>) -> Result<Option<ReconcilePolicy>, Error> {
    overrides
        .map(|text| lay_over("reconcile", &ReconcilePolicy::default(), dict(text)?))
        .transpose()
}

/// The JSON text of a dict, as `dict_json` made it.
fn dict(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| invalid(format!("expected a dict: {e}")))
}

/// A mapping argument as JSON (through Python's `json`, so any JSON-able value crosses).
pub(crate) fn dict_json(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = obj.py();
    let dict = py
        .get_type::<pyo3::types::PyDict>()
        .call1((obj,))
        .map_err(|_| pyo3::exceptions::PyTypeError::new_err("expected a mapping"))?;
    py.import("json")?.call_method1("dumps", (dict,))?.extract()
}

/// A `trainpod.JobSpec` argument.
pub(crate) struct SpecArg(pub JobSpec);

impl<'a, 'py> FromPyObject<'a, 'py> for SpecArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let py = obj.py();
        let text: String = obj
            .getattr("_to_json")
            .map_err(|_| pyo3::exceptions::PyTypeError::new_err("spec must be a trainpod.JobSpec"))?
            .call0()?
            .extract()?;
        job_spec(&text)
            .map(SpecArg)
            .map_err(|e| crate::errors::to_py(py, e))
    }
}

/// A `trainpod.Plan` argument: the JSON it was decoded from, so that it deploys exactly as
/// planned.
pub(crate) struct PlanArg(pub trainpod::sdk::Plan);

impl<'a, 'py> FromPyObject<'a, 'py> for PlanArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let py = obj.py();
        let raw = obj.getattr("_raw").map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err("plan must be a trainpod.Plan from plan()")
        })?;
        let text = raw.cast::<PyString>()?.to_str()?.to_owned();
        serde_json::from_str(&text).map(PlanArg).map_err(|e| {
            crate::errors::to_py(
                py,
                invalid(format!("the plan is not one plan() returned: {e}")),
            )
        })
    }
}

/// A request body: `bytes`, `bytearray` or `str` (UTF-8).
pub(crate) enum Body {
    Bytes(PyBackedBytes),
    Text(String),
}

impl std::ops::Deref for Body {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Body::Bytes(b) => b,
            Body::Text(t) => t.as_bytes(),
        }
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Body {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(text) = obj.cast::<PyString>() {
            return Ok(Body::Text(text.to_str()?.to_owned()));
        }
        obj.extract::<PyBackedBytes>()
            .map(Body::Bytes)
            .map_err(|_| pyo3::exceptions::PyTypeError::new_err("body must be bytes or str"))
    }
}

/// Seconds as a `float`/`int`, or a `datetime.timedelta`.
pub(crate) struct Seconds(pub Duration);

impl<'a, 'py> FromPyObject<'a, 'py> for Seconds {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let secs = match obj.extract::<f64>() {
            Ok(secs) => secs,
            Err(_) => obj.call_method0("total_seconds")?.extract::<f64>()?,
        };
        Duration::try_from_secs_f64(secs).map(Seconds).map_err(|_| {
            crate::errors::invalid(
                obj.py(),
                "an interval must be a non-negative number of seconds or a timedelta",
            )
        })
    }
}
