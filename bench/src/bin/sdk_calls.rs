//! Core's side of `bench/node/overhead.mjs`: the same SDK calls the Node benchmark makes through
//! the binding, made here in Rust, so that the difference is the binding's own cost per call.
//! `sdk_calls KEYS`: the SDK on the in-process RunPod emulator with a memory store and a fixed
//! clock, `JOBS` jobs planned and deployed, then token verification and metrics ingestion timed
//! (the best of 60 short rounds, nanoseconds per call: on a shared machine other work only ever
//! adds time, so the fastest round is the steadiest estimate of a call's own cost, and short
//! rounds, a few milliseconds each, fit between the host's slow spells more often than long
//! ones), printed as one JSON line. Ingestion is timed twice: with batches of one event, where
//! core's own time is small enough that a difference of a microsecond shows through the noise,
//! and with batches of 50 events, a trainer's usual batch.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use trainpod::clock::ManualClock;
use trainpod::sdk::{DatasetRef, JobSpec, Trainpod};
use trainpod::token::{Expect, IssueRequest, KeyRing, Purpose};
use trainpod_emulator::{ACCOUNT_KEY, Emulator};

/// The constants `bench/node/overhead.mjs` uses too.
const T0: u64 = 1_900_000_000;
const JOBS: usize = 100;
/// Batches per job and round (200 calls a round); the rate limiter's burst is 20 per job.
const BATCHES: usize = 2;
const ROUNDS: usize = 60;
const VERIFY_CALLS: usize = 2_000;
/// Events per batch, one measurement each.
const EVENTS: [usize; 2] = [1, 50];
const CHAT: &str =
    r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#;

/// A metrics batch of `size` trainer log events, as `bench/node/overhead.mjs` builds it. Each
/// batch moves the job's step on, as a trainer's does, so that every batch writes the job's row.
fn body(job: &str, round: usize, batch: usize, size: usize) -> Vec<u8> {
    let n = round * BATCHES + batch + 1;
    let events: Vec<_> = (0..size)
        .map(|i| {
            json!({"n": i, "source": "trainer", "type": "log", "ts": T0 + 1,
                   "data": {"step": n * size + i, "max_steps": 1000, "loss": 1.25}})
        })
        .collect();
    serde_json::to_vec(&json!({"job": job, "attempt": 1, "batch": n, "events": events})).unwrap()
}

fn best(v: Vec<f64>) -> f64 {
    v.into_iter().fold(f64::INFINITY, f64::min)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let keys = std::env::args().nth(1).expect("usage: sdk_calls KEYS");
    let emu = Emulator::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("trainpod-sdk-calls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("chat"), format!("{CHAT}\n").repeat(50)).unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let tp = Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .app_url("http://127.0.0.1:9")
        .signing_keys(KeyRing::parse(&keys).unwrap())
        .store_url("memory:")
        .datasets_dir(&dir)
        .clock(clock.clone())
        .build()
        .await
        .unwrap();

    // Token verification: a dataset token, as the download route checks it.
    let req = IssueRequest::new(Purpose::DatasetRead, "user-1", "job-1").dataset("ds-42");
    let token = tp.tokens().issue(&req).unwrap().token;
    let expect = Expect::purpose(Purpose::DatasetRead)
        .job("job-1")
        .dataset("ds-42");
    let mut verify = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..VERIFY_CALLS {
            std::hint::black_box(tp.tokens().verify(token.expose(), &expect).unwrap());
        }
        verify.push(start.elapsed().as_nanos() as f64 / VERIFY_CALLS as f64);
    }

    // Metrics ingestion: every job gets a fresh batch number each call; between rounds the
    // clock moves on so that the per-job rate limit refills.
    let mut jobs = Vec::new();
    for j in 0..JOBS {
        let id = format!("bench-{j}");
        let spec = JobSpec {
            job_id: Some(id.clone()),
            ..JobSpec::new(
                "user-1",
                "Qwen/Qwen2.5-0.5B",
                DatasetRef::App { id: "chat".into() },
                2.0,
            )
        };
        tp.deploy(&tp.plan(&spec).await.unwrap()).await.unwrap();
        let mut req = IssueRequest::new(Purpose::MetricsWrite, "user-1", &id).ttl_secs(3600);
        req.epoch = Some(1);
        let auth = format!("Bearer {}", tp.tokens().issue(&req).unwrap().token.expose());
        jobs.push((id, auth));
    }
    // Rounds are numbered on across both sizes, so that batch numbers never repeat.
    let mut ingest_ns = Vec::new();
    for (size, events) in EVENTS.into_iter().enumerate() {
        let mut ingest = Vec::new();
        for r in 0..ROUNDS {
            let round = size * ROUNDS + r;
            clock.set(T0 + 10 * (round as u64 + 1));
            let calls: Vec<(&str, &str, Vec<u8>)> = (0..BATCHES)
                .flat_map(|b| {
                    jobs.iter().map(move |(id, auth)| {
                        (id.as_str(), auth.as_str(), body(id, round, b, events))
                    })
                })
                .collect();
            let start = Instant::now();
            for (id, auth, body) in &calls {
                let out = tp.ingest_metrics(id, Some(auth), body).await.unwrap();
                assert!(!out.replay);
            }
            ingest.push(start.elapsed().as_nanos() as f64 / calls.len() as f64);
        }
        ingest_ns.push(best(ingest));
    }
    println!(
        "{}",
        json!({
            "verify_ns": best(verify),
            "ingest1_ns": ingest_ns[0],
            "ingest_ns": ingest_ns[1],
            "jobs": JOBS, "batches": BATCHES, "rounds": ROUNDS, "events": EVENTS,
        })
    );
    let _ = std::fs::remove_dir_all(&dir);
}
