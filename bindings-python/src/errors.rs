//! The one place where core errors become Python exceptions.
//!
//! The classes live in pure Python (`trainpod/exceptions.py`) so they pickle and subclass
//! builtins; here each error is raised as the class registered for its code.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};

static BY_CODE: PyOnceLock<Py<PyDict>> = PyOnceLock::new();
static ROOT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn exceptions(py: Python<'_>) -> PyResult<(Bound<'_, PyDict>, Bound<'_, PyAny>)> {
    let by_code = BY_CODE.get_or_try_init(py, || -> PyResult<_> {
        let module = py.import("trainpod.exceptions")?;
        Ok(module
            .getattr("ERRORS_BY_CODE")?
            .cast_into::<PyDict>()?
            .unbind())
    })?;
    let root = ROOT.get_or_try_init(py, || -> PyResult<_> {
        Ok(py
            .import("trainpod.exceptions")?
            .getattr("TrainpodError")?
            .unbind())
    })?;
    Ok((by_code.bind(py).clone(), root.bind(py).clone()))
}

/// Convert a core error into the exception for its code, with its causes chained.
pub(crate) fn to_py(py: Python<'_>, err: trainpod::Error) -> PyErr {
    match build(py, &err) {
        Ok(e) => e,
        // The package is broken (exceptions.py missing): still raise something with the code.
        Err(_) => PyException::new_err(format!("{}: {}", err.code(), err.message())),
    }
}

fn build(py: Python<'_>, err: &trainpod::Error) -> PyResult<PyErr> {
    let (by_code, root) = exceptions(py)?;
    let class = by_code.get_item(err.code())?.unwrap_or(root);
    let kwargs = PyDict::new(py);
    kwargs.set_item("code", err.code())?;
    kwargs.set_item("status", err.status())?;
    kwargs.set_item("request_id", err.request_id())?;
    kwargs.set_item("retry_after", err.retry_after_secs())?;
    kwargs.set_item("retryable", err.is_retryable())?;
    let exc = class.call((PyString::new(py, err.message()),), Some(&kwargs))?;
    let pyerr = PyErr::from_value(exc);
    // Chain the Rust causes, outermost first, as `__cause__`.
    let mut tail: Option<PyErr> = None;
    for cause in err.causes().into_iter().rev() {
        let e = PyException::new_err(cause);
        e.set_cause(py, tail.take());
        tail = Some(e);
    }
    pyerr.set_cause(py, tail);
    Ok(pyerr)
}

/// An `INVALID_INPUT` error for an argument, raised as the package's `InvalidInputError`.
pub(crate) fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py(py, trainpod::Error::invalid_input(message))
}

/// Map a core result.
pub(crate) fn map<T>(py: Python<'_>, result: trainpod::Result<T>) -> PyResult<T> {
    result.map_err(|e| to_py(py, e))
}
