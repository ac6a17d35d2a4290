//! The app's credentials resolver as core's `Credentials`: a Python callable, sync or async,
//! from an account id to its RunPod key (`str`) or `None`.

use crate::runtime::into_future;
use pyo3::prelude::*;
use trainpod::{Error, ErrorKind};

/// A callable the app passed as `credentials=`.
pub(crate) struct PyCredentials(Py<PyAny>);

impl PyCredentials {
    pub(crate) fn new(callable: Bound<'_, PyAny>) -> PyResult<Self> {
        if !callable.is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "credentials must be a callable: account id -> RunPod key (str) or None, or an \
                 async one",
            ));
        }
        Ok(PyCredentials(callable.unbind()))
    }
}

/// What the callable returned: the key, or an awaitable of it.
enum Answer {
    Now(Option<String>),
    Later(Py<PyAny>),
}

#[async_trait::async_trait]
impl trainpod::sdk::Credentials for PyCredentials {
    async fn runpod_api_key(&self, account: &str) -> trainpod::Result<Option<String>> {
        let callable = Python::attach(|py| self.0.clone_ref(py));
        let account = account.to_owned();
        // A sync resolver may read a database: it runs on the blocking pool, not a worker.
        let answer = tokio::task::spawn_blocking(move || {
            Python::attach(|py| call(callable.bind(py), &account))
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Internal, format!("the resolver's thread: {e}")))??;
        match answer {
            Answer::Now(key) => Ok(key),
            Answer::Later(awaitable) => resolve(awaitable).await,
        }
    }
}

fn call(callable: &Bound<'_, PyAny>, account: &str) -> trainpod::Result<Answer> {
    let py = callable.py();
    let out = callable.call1((account,)).map_err(|e| from_py(py, &e))?;
    if out.hasattr("__await__").unwrap_or(false) {
        return Ok(Answer::Later(out.unbind()));
    }
    key_of(&out).map(Answer::Now)
}

/// An async resolver's answer: awaited on the caller's event loop (an `AsyncTrainpod` call), or,
/// from a blocking `Trainpod` call that has no loop, run to completion on a loop of its own.
async fn resolve(awaitable: Py<PyAny>) -> trainpod::Result<Option<String>> {
    let on_loop = Python::attach(|py| into_future(awaitable.bind(py).clone()).ok());
    let value = match on_loop {
        Some(fut) => fut
            .await
            .map_err(|e| Python::attach(|py| from_py(py, &e)))?,
        None => tokio::task::spawn_blocking(move || Python::attach(|py| run_alone(py, &awaitable)))
            .await
            .map_err(|e| {
                Error::new(ErrorKind::Internal, format!("the resolver's thread: {e}"))
            })??,
    };
    Python::attach(|py| key_of(value.bind(py)))
}

/// `asyncio.run` of the resolver's coroutine, on this (blocking) thread's own loop. Any other
/// awaitable belongs to a loop that is not running here, and cannot be awaited.
fn run_alone(py: Python<'_>, awaitable: &Py<PyAny>) -> trainpod::Result<Py<PyAny>> {
    let awaitable = awaitable.bind(py);
    let is_coroutine = py
        .import("inspect")
        .and_then(|m| m.getattr("iscoroutine")?.call1((awaitable,))?.is_truthy())
        .map_err(|e| from_py(py, &e))?;
    if !is_coroutine {
        return Err(Error::new(
            ErrorKind::CredentialsUnavailable,
            "the credentials resolver returned an awaitable that is not a coroutine, outside an \
             event loop: make it an `async def`, or use AsyncTrainpod",
        ));
    }
    py.import("asyncio")
        .and_then(|m| m.getattr("run")?.call1((awaitable,)))
        .map(Bound::unbind)
        .map_err(|e| from_py(py, &e))
}

fn key_of(value: &Bound<'_, PyAny>) -> trainpod::Result<Option<String>> {
    if value.is_none() {
        return Ok(None);
    }
    value.extract::<String>().map(Some).map_err(|_| {
        let type_name = type_name(value);
        Error::new(
            ErrorKind::CredentialsUnavailable,
            format!("the credentials resolver returned a {type_name}, not a str or None"),
        )
    })
}

/// The resolver's exception: one of trainpod's keeps its code, any other is the app's secrets
/// store failing. Only the exception's type and message are kept.
fn from_py(py: Python<'_>, e: &PyErr) -> Error {
    let value = e.value(py);
    let code: Option<String> = value.getattr("code").and_then(|c| c.extract()).ok();
    let message = value.str().map(|s| s.to_string()).unwrap_or_default();
    if let Some(kind) = code.as_deref().and_then(ErrorKind::from_code) {
        return Error::new(kind, message);
    }
    let type_name = type_name(value);
    Error::new(
        ErrorKind::CredentialsUnavailable,
        format!("it raised {type_name}: {message}"),
    )
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}
