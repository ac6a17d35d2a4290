//! Core's own time per call, measured inside this process for `bench/python/overhead.py`: the
//! same calls the benchmark makes through the binding, on the same SDK (store, allocator and
//! caches), in a Rust loop, so that the difference is the binding's cost alone. A baseline in
//! another process moves by microseconds from one process to the next. Built only with the
//! `bench` feature; not part of the package's API.

use crate::errors::to_py;
use crate::runtime::block_on;
use crate::sdk::Trainpod;
use crate::tokens::Tokens;
use pyo3::prelude::*;
use std::time::Instant;
use trainpod::token::{Expect, Purpose};

/// Nanoseconds per `verify` of `token` for a dataset route, over `calls` calls.
#[pyfunction]
pub(crate) fn core_verify_ns(
    py: Python<'_>,
    tokens: &Tokens,
    token: &str,
    job: &str,
    dataset: &str,
    calls: u32,
) -> PyResult<f64> {
    let expect = Expect::purpose(Purpose::DatasetRead)
        .job(job)
        .dataset(dataset);
    let inner = tokens.inner();
    let start = Instant::now();
    for _ in 0..calls {
        std::hint::black_box(inner.verify(token, &expect).map_err(|e| to_py(py, e))?);
    }
    Ok(start.elapsed().as_nanos() as f64 / f64::from(calls.max(1)))
}

/// Metric batches held in Rust for [`core_ingest_ns`]: (job id, authorization, body). Made
/// before the benchmark's collection, as its own batches are, so that neither side's timing
/// starts with its inputs freshly copied into the cache.
#[pyclass(frozen)]
pub(crate) struct CoreBatches {
    batches: Vec<(String, String, Vec<u8>)>,
}

/// The batches for [`core_ingest_ns`].
#[pyfunction]
pub(crate) fn core_batches(batches: Vec<(String, String, Vec<u8>)>) -> CoreBatches {
    CoreBatches { batches }
}

/// Nanoseconds per `ingest_metrics` of each batch, awaited in turn; a batch taken for a replay
/// is an error (the caller numbers them afresh).
#[pyfunction]
pub(crate) fn core_ingest_ns(
    py: Python<'_>,
    tp: &Trainpod,
    batches: &CoreBatches,
) -> PyResult<f64> {
    let sdk = tp.sdk(py)?;
    let batches = &batches.batches;
    let n = batches.len().max(1);
    let elapsed = block_on(py, async move {
        let start = Instant::now();
        for (job, auth, body) in batches {
            if sdk.ingest_metrics(job, Some(auth), body).await?.replay {
                return Err(trainpod::Error::invalid_input(
                    "a batch was taken for a replay",
                ));
            }
        }
        Ok(start.elapsed())
    })
    .map_err(|e| to_py(py, e))?;
    Ok(elapsed.as_nanos() as f64 / n as f64)
}
