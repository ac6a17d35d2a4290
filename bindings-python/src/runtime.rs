//! The one tokio runtime of the process, shared by blocking and awaitable calls, and made again
//! in a forked child (whose copy of the parent's runtime has no worker threads).
//!
//! The runtime of each process in a chain of forks has its own write-once slot: finding it is an
//! atomic read, so a fork can never leave a lock held that the child then waits on forever.

use crate::coroutine::{Coroutine, Start};
use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use pyo3_async_runtimes::generic::{ContextExt, JoinError, Runtime as GenericRuntime};
use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use tokio::runtime::Runtime;

/// How many nested forks (a child of a child...) get a runtime of their own.
pub(crate) const FORK_DEPTH: usize = 32;

/// The runtime of this process and of each ancestor, with the process id it belongs to. An
/// ancestor's is never dropped: its threads do not exist here, and dropping it would wait for them.
static RUNTIMES: [OnceLock<(u32, Runtime)>; FORK_DEPTH] = [const { OnceLock::new() }; FORK_DEPTH];

/// The shared runtime of this process: built on first use, and again after a fork.
pub(crate) fn runtime() -> &'static Runtime {
    let pid = std::process::id();
    for slot in &RUNTIMES {
        let (owner, rt) = slot.get_or_init(|| (pid, build()));
        if *owner == pid {
            return rt;
        }
    }
    panic!("trainpod supports {FORK_DEPTH} nested forks");
}

fn build() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("trainpod")
        .build()
        .unwrap_or_else(|e| panic!("the tokio runtime could not start: {e}"))
}

/// Run `fut` to completion on the shared runtime with the GIL released. Safe from a thread that
/// runs an asyncio loop (Jupyter): the loop's thread only waits, the runtime's threads work.
pub(crate) fn block_on<F, T>(py: Python<'_>, fut: F) -> T
where
    F: Future<Output = T> + Send,
    T: Send,
{
    let rt = runtime();
    py.detach(|| {
        if tokio::runtime::Handle::try_current().is_ok() {
            // Called back from inside a runtime thread: blocking it would stall its tasks.
            tokio::task::block_in_place(|| rt.block_on(fut))
        } else {
            rt.block_on(fut)
        }
    })
}

/// The pyo3-async-runtimes adapter over the shared runtime.
pub(crate) struct Shared;

tokio::task_local! {
    static LOCALS: OnceCell<TaskLocals>;
}

/// A join error of the shared runtime.
pub(crate) struct Joined(tokio::task::JoinError);

impl JoinError for Joined {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }
    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

/// A join handle of the shared runtime.
pub(crate) struct Handle(tokio::task::JoinHandle<()>);

impl Future for Handle {
    type Output = Result<(), Joined>;
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map_err(Joined)
    }
}

impl GenericRuntime for Shared {
    type JoinError = Joined;
    type JoinHandle = Handle;

    fn spawn<F>(fut: F) -> Handle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        Handle(runtime().spawn(fut))
    }

    fn spawn_blocking<F>(f: F) -> Handle
    where
        F: FnOnce() + Send + 'static,
    {
        Handle(runtime().spawn_blocking(f))
    }
}

impl ContextExt for Shared {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        LOCALS.try_with(|c| c.get().cloned()).unwrap_or_default()
    }
}

/// A coroutine (see `coroutine.rs`) that, once awaited, runs `fut` on the shared runtime and
/// resolves on the running asyncio loop. `name` is what its `repr` says it is a call of.
pub(crate) fn future_into_py<'a, F, T>(
    py: Python<'a>,
    name: &'static str,
    fut: F,
) -> PyResult<Bound<'a, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    let start: Start = Box::new(move |py| {
        pyo3_async_runtimes::generic::future_into_py::<Shared, F, T>(py, fut).map(Bound::unbind)
    });
    Ok(Bound::new(py, Coroutine::new(name, start))?.into_any())
}

/// A Rust future for a Python awaitable, inside a future made by [`future_into_py`].
pub(crate) fn into_future(
    awaitable: Bound<'_, PyAny>,
) -> PyResult<impl Future<Output = PyResult<Py<PyAny>>> + Send + use<>> {
    pyo3_async_runtimes::generic::into_future::<Shared>(awaitable)
}
