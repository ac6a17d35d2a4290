//! Core's own time per call, measured inside this process for `bench/node/overhead.mjs`: the
//! same calls the benchmark makes through the binding, on the same SDK (store, allocator and
//! caches), in a Rust loop, so that the difference is the binding's cost alone. A baseline in
//! another process moves by microseconds from one process to the next. Built only with the
//! `bench` feature; not part of the package's API.

use crate::errors::{Result, map};
use crate::sdk::Trainpod;
use crate::tokens::Tokens;
use napi::bindgen_prelude::{Buffer, External, block_on};
use napi_derive::napi;
use std::time::Instant;
use trainpod::token::{Expect, Purpose};

/// Nanoseconds per `verify` of `token` for a dataset route, over `calls` calls.
#[napi(js_name = "_coreVerifyNs", skip_typescript, catch_unwind)]
pub fn core_verify_ns(
    tokens: &Tokens,
    token: String,
    job: String,
    dataset: String,
    calls: u32,
) -> Result<f64> {
    let expect = Expect::purpose(Purpose::DatasetRead)
        .job(job)
        .dataset(dataset);
    let inner = tokens.inner();
    let start = Instant::now();
    for _ in 0..calls {
        std::hint::black_box(map(inner.verify(&token, &expect))?);
    }
    Ok(start.elapsed().as_nanos() as f64 / f64::from(calls.max(1)))
}

/// Metric batches for [`core_ingest_ns`]: (job id, authorization, body).
type Batches = Vec<(String, String, Vec<u8>)>;

/// The batches held in Rust for [`core_ingest_ns`]. Made before the benchmark's collection, as
/// its own batches are, so that neither side's timing starts with its inputs freshly copied into
/// the cache.
#[napi(js_name = "_coreBatches", skip_typescript)]
pub fn core_batches(
    jobs: Vec<String>,
    authorizations: Vec<String>,
    bodies: Vec<Buffer>,
) -> External<Batches> {
    let batches = jobs
        .into_iter()
        .zip(authorizations)
        .zip(bodies)
        .map(|((job, auth), body)| (job, auth, body.to_vec()))
        .collect();
    External::new(batches)
}

/// Nanoseconds per `ingest_metrics` of each batch, awaited in turn; a batch taken for a replay
/// is an error (the caller numbers them afresh).
#[napi(js_name = "_coreIngestNs", skip_typescript, catch_unwind)]
pub fn core_ingest_ns(tp: &Trainpod, batches: &External<Batches>) -> Result<f64> {
    let sdk = tp.sdk();
    let batches: &Batches = batches;
    let n = batches.len().max(1);
    let elapsed = block_on(async move {
        let start = Instant::now();
        for (job, auth, body) in batches {
            if sdk.ingest_metrics(job, Some(auth), body).await?.replay {
                return Err(trainpod::Error::invalid_input(
                    "a batch was taken for a replay",
                ));
            }
        }
        Ok(start.elapsed())
    });
    Ok(map(elapsed)?.as_nanos() as f64 / n as f64)
}
