//! `IngestOutcome`: the result of the metrics route. Every batch of every pod ends in one, so it
//! is built here field by field rather than decoded from JSON into a dataclass as the other
//! results are: that keeps the binding's cost per batch to about a microsecond.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use trainpod::jobs;

/// What the metrics route answers (`status`, `body`), and the job after the batch.
#[pyclass(frozen, eq, get_all, module = "trainpod._native")]
#[derive(Clone, Debug, PartialEq)]
pub struct IngestOutcome {
    status: u16,
    body: String,
    replay: bool,
    terminate_pod: bool,
    job_id: String,
    attempt: u32,
    state: String,
    step: Option<u64>,
    total_steps: Option<u64>,
    loss: Option<f64>,
}

impl From<jobs::IngestOutcome> for IngestOutcome {
    fn from(out: jobs::IngestOutcome) -> Self {
        let job = out.job;
        IngestOutcome {
            status: out.status,
            body: out.body,
            replay: out.replay,
            terminate_pod: out.terminate_pod,
            job_id: job.id,
            attempt: job.attempt,
            state: job.state.as_str().to_owned(),
            step: job.step,
            total_steps: job.max_steps,
            loss: job.loss,
        }
    }
}

#[pymethods]
impl IngestOutcome {
    #[new]
    #[pyo3(signature = (
        status, body, replay, terminate_pod, job_id, attempt, state, step, total_steps, loss
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        status: u16,
        body: String,
        replay: bool,
        terminate_pod: bool,
        job_id: String,
        attempt: u32,
        state: String,
        step: Option<u64>,
        total_steps: Option<u64>,
        loss: Option<f64>,
    ) -> Self {
        IngestOutcome {
            status,
            body,
            replay,
            terminate_pod,
            job_id,
            attempt,
            state,
            step,
            total_steps,
            loss,
        }
    }

    /// The constructor's arguments, for `pickle` and `copy`.
    #[pyo3(signature = () -> "tuple[object, ...]")]
    fn __getnewargs__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let o = self.clone();
        (
            o.status,
            o.body,
            o.replay,
            o.terminate_pod,
            o.job_id,
            o.attempt,
            o.state,
            o.step,
            o.total_steps,
            o.loss,
        )
            .into_pyobject(py)
    }

    /// Like a dataclass's: every field, with Python's own `repr` of each value.
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let fields = [
            "status",
            "body",
            "replay",
            "terminate_pod",
            "job_id",
            "attempt",
            "state",
            "step",
            "total_steps",
            "loss",
        ];
        let mut parts = Vec::with_capacity(fields.len());
        for name in fields {
            parts.push(format!("{name}={}", slf.getattr(name)?.repr()?));
        }
        Ok(format!("IngestOutcome({})", parts.join(", ")))
    }
}
