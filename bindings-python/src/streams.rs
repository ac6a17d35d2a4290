//! `follow` and `logs` as Python iterators. A task on the shared runtime drives the core's
//! stream and hands each item over a channel of one; dropping the iterator ends the task.

use crate::client::Handle;
use crate::errors::to_py;
use crate::runtime::{block_on, future_into_py, runtime};
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::inspect::{PyStaticConstant, PyStaticExpr};
use pyo3::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};
use trainpod::runpod::LogEvent;
use trainpod::sdk::FollowUpdate;
use trainpod::{Error, ErrorKind};

/// One item of a stream. A status is boxed: it is several times a log line's size.
enum Item {
    Update(Box<FollowUpdate>),
    Log(LogEvent),
}

impl Item {
    fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self {
            Item::Update(u) => crate::convert::update(py, *u),
            Item::Log(l) => crate::convert::log(py, l),
        }
    }
}

type Rx = Arc<Mutex<mpsc::Receiver<trainpod::Result<Item>>>>;

/// What a stream reads.
pub(crate) enum Source {
    Follow { job_id: String },
    Logs { job_id: String, tail: Option<u32> },
}

async fn pump(
    handle: Arc<Handle>,
    source: Source,
    tx: &mpsc::Sender<trainpod::Result<Item>>,
) -> trainpod::Result<()> {
    let tp = handle.get_async().await?;
    match source {
        Source::Follow { job_id } => {
            let mut follow = tp.follow(&job_id);
            while let Some(update) = follow.next().await? {
                if tx.send(Ok(Item::Update(Box::new(update)))).await.is_err() {
                    break;
                }
            }
        }
        Source::Logs { job_id, tail } => {
            let mut logs = tp.logs(&job_id, tail).await?;
            while let Some(line) = logs.next().await? {
                if tx.send(Ok(Item::Log(line))).await.is_err() {
                    break;
                }
            }
        }
    }
    Ok(())
}

fn start(handle: Arc<Handle>, source: Source) -> Rx {
    let (tx, rx) = mpsc::channel(1);
    runtime().spawn(async move {
        tokio::select! {
            result = pump(handle, source, &tx) => {
                if let Err(e) = result {
                    let _ = tx.send(Err(e)).await;
                }
            }
            () = tx.closed() => {}
        }
    });
    Arc::new(Mutex::new(rx))
}

fn forked(py: Python<'_>, pid: u32) -> PyResult<()> {
    if pid == std::process::id() {
        return Ok(());
    }
    Err(to_py(
        py,
        Error::new(
            ErrorKind::InvalidState,
            "this iterator was started before the process forked; call follow() or logs() again in this process",
        ),
    ))
}

/// A stream's next item, any object to Rust. The stubs type it `_T`, the type parameter of
/// `Stream[_T]` (`FollowUpdate` or `LogLine`), which pyo3 cannot infer from `Py<PyAny>`.
struct Next(Py<PyAny>);

impl<'py> IntoPyObject<'py> for Next {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = std::convert::Infallible;
    const OUTPUT_TYPE: PyStaticExpr = PyStaticExpr::Constant {
        value: PyStaticConstant::Str("_T"),
    };

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(self.0.into_bound(py))
    }
}

/// The coroutine of an async stream's next item: `Coroutine[object, None, _T]` in the stubs.
struct AwaitNext<'py>(Bound<'py, PyAny>);

impl<'py> IntoPyObject<'py> for AwaitNext<'py> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = std::convert::Infallible;
    const OUTPUT_TYPE: PyStaticExpr = PyStaticExpr::Constant {
        value: PyStaticConstant::Str("Coroutine[object, None, _T]"),
    };

    fn into_pyobject(self, _py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(self.0)
    }
}

/// The updates of `follow()` or the lines of `logs()`, as an iterator. Errors are raised by
/// `next()`; the iterator ends after the job's final status (follow) or the log's end.
#[pyclass(frozen, module = "trainpod._native")]
pub struct Stream {
    rx: Rx,
    pid: u32,
}

impl Stream {
    pub(crate) fn new(handle: Arc<Handle>, source: Source) -> Stream {
        Stream {
            rx: start(handle, source),
            pid: std::process::id(),
        }
    }
}

#[pymethods]
impl Stream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Next>> {
        forked(py, self.pid)?;
        loop {
            let rx = self.rx.clone();
            // Wake up now and then so that Ctrl-C (a signal Python handles between bytecodes)
            // stops a long wait.
            let got = block_on(py, async move {
                tokio::time::timeout(Duration::from_millis(200), async {
                    rx.lock().await.recv().await
                })
                .await
            });
            match got {
                Ok(Some(Ok(item))) => return item.into_py(py).map(|item| Some(Next(item))),
                Ok(Some(Err(e))) => return Err(to_py(py, e)),
                Ok(None) => return Ok(None),
                Err(_) => py.check_signals()?,
            }
        }
    }

    /// Stop reading: the background reader ends.
    fn close(&self, py: Python<'_>) {
        let rx = self.rx.clone();
        block_on(py, async move { rx.lock().await.close() });
    }

    fn __repr__(&self) -> &'static str {
        "Stream(...)"
    }
}

/// The updates of `follow()` or the lines of `logs()`, as an async iterator.
#[pyclass(frozen, module = "trainpod._native")]
pub struct AsyncStream {
    rx: Rx,
    pid: u32,
}

impl AsyncStream {
    pub(crate) fn new(handle: Arc<Handle>, source: Source) -> AsyncStream {
        AsyncStream {
            rx: start(handle, source),
            pid: std::process::id(),
        }
    }
}

#[pymethods]
impl AsyncStream {
    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<AwaitNext<'py>> {
        forked(py, self.pid)?;
        let rx = self.rx.clone();
        future_into_py(py, "AsyncStream.__anext__", async move {
            let got = rx.lock().await.recv().await;
            Python::attach(|py| match got {
                Some(Ok(item)) => item.into_py(py),
                Some(Err(e)) => Err(to_py(py, e)),
                None => Err(PyStopAsyncIteration::new_err(())),
            })
        })
        .map(AwaitNext)
    }

    /// Stop reading: the background reader ends.
    #[pyo3(signature = () -> "Coroutine[object, None, None]")]
    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rx = self.rx.clone();
        future_into_py(py, "AsyncStream.aclose", async move {
            rx.lock().await.close();
            Ok(())
        })
    }

    fn __repr__(&self) -> &'static str {
        "AsyncStream(...)"
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.__repr__())
    }
}

impl std::fmt::Debug for AsyncStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.__repr__())
    }
}
