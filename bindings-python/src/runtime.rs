//! The one tokio runtime of the process, shared by blocking and awaitable calls.

use pyo3::prelude::*;
use std::future::Future;

/// Run `fut` to completion on the shared runtime with the GIL released.
pub(crate) fn block_on<F, T>(py: Python<'_>, fut: F) -> T
where
    F: Future<Output = T> + Send,
    T: Send,
{
    py.detach(|| pyo3_async_runtimes::tokio::get_runtime().block_on(fut))
}
