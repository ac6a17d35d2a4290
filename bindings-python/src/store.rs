//! `Store`: the ledger behind single-use tokens and metric sequence numbers.

use crate::errors::{map, to_py};
use crate::runtime::block_on;
use pyo3::prelude::*;
use std::sync::Arc;

/// A store opened from a URL: `memory:`, `sqlite://PATH` or `postgres://…`.
#[pyclass(frozen, module = "trainpod._native")]
#[derive(Debug)]
pub struct Store {
    inner: Arc<dyn trainpod::store::Store>,
}

impl Store {
    pub(crate) fn inner(&self) -> Arc<dyn trainpod::store::Store> {
        self.inner.clone()
    }
}

#[pymethods]
impl Store {
    /// Open (and migrate) the store at `url`, blocking.
    #[staticmethod]
    fn open(py: Python<'_>, url: String) -> PyResult<Store> {
        let inner = map(py, block_on(py, trainpod::store::open(&url)))?;
        Ok(Store { inner })
    }

    /// Open (and migrate) the store at `url`, as an awaitable.
    #[staticmethod]
    #[pyo3(signature = (url) -> "Coroutine[object, None, Store]")]
    fn open_async(py: Python<'_>, url: String) -> PyResult<Bound<'_, PyAny>> {
        crate::runtime::future_into_py(py, "Store.open_async", async move {
            match trainpod::store::open(&url).await {
                Ok(inner) => Ok(Store { inner }),
                Err(e) => Err(Python::attach(|py| to_py(py, e))),
            }
        })
    }

    /// `memory`, `sqlite` or `postgres`.
    #[getter]
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn __repr__(&self) -> String {
        format!("Store(backend={:?})", self.inner.backend())
    }
}
