//! Sustained `ingest_metrics` throughput, batches of 50 events, as `bench/ingest.sh` runs it:
//! `ingest_batches STORE_URL [BATCHES] [JOBS]`. Four concurrent senders over JOBS jobs (default
//! eight), like pods reporting at once. The baseline is the ledger write alone (`accept_batch`),
//! in the same run. Prints one JSON line.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};
use trainpod::jobs::{JobState, ingest_metrics};
use trainpod::store::{self, JobRecord, MetricBatch, Store};
use trainpod::token::{IssueRequest, KeyRing, Purpose, Tokens, generate_secret};

const EVENTS: usize = 50;
const SENDERS: usize = 4;

fn body(job: &str, batch: usize) -> Vec<u8> {
    // Event times near the app's clock, as a pod's are (ingest refuses times a day away).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as usize;
    let events: Vec<String> = (0..EVENTS)
        .map(|i| {
            format!(
                r#"{{"n":{i},"source":"trainer","type":"log","ts":{}.5,"data":{{"step":{i},"max_steps":1000,"loss":1.25,"learning_rate":0.0002}}}}"#,
                now - 3600 + batch
            )
        })
        .collect();
    format!(
        r#"{{"job":"{job}","attempt":1,"batch":{batch},"events":[{}]}}"#,
        events.join(",")
    )
    .into_bytes()
}

fn job(id: &str) -> JobRecord {
    JobRecord {
        state: JobState::Training,
        deadline_unix: 4_000_000_000,
        budget_usd: 10.0,
        price_per_hour: 1.0,
        started_at: Some(1),
        ..JobRecord::new(id, "user-1", 1)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: ingest_batches STORE_URL [BATCHES] [JOBS]");
    let batches: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(4000);
    let jobs: usize = std::env::args()
        .nth(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(8);
    let store = store::open(&url).await.unwrap();
    let ring = KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap();
    let tokens = Tokens::builder()
        .keys(ring)
        .audience("https://app.example.com")
        .build()
        .unwrap();
    let run = format!("{}", std::process::id());
    let mut work = Vec::new();
    for j in 0..jobs {
        let id = format!("bench-{run}-{j}");
        store.insert_job(&job(&id)).await.unwrap();
        let req = IssueRequest {
            epoch: Some(1),
            ..IssueRequest::new(Purpose::MetricsWrite, "user-1", &id)
        };
        let auth = format!("Bearer {}", tokens.issue(&req).unwrap().token.expose());
        work.push((id, auth));
    }
    let bodies: Vec<(usize, Vec<u8>)> = (0..batches)
        .map(|b| (b % jobs, body(&work[b % jobs].0, b / jobs + 1)))
        .collect();
    let (work, bodies) = (Arc::new(work), Arc::new(bodies));

    let t = Instant::now();
    run_senders(bodies.clone(), move |i, b| {
        let (tokens, store, work) = (tokens.clone(), store.clone(), work.clone());
        async move {
            let (id, auth) = &work[i];
            ingest_metrics(&tokens, store.as_ref(), None, id, Some(auth), &b)
                .await
                .unwrap();
        }
    })
    .await;
    let ingest_s = t.elapsed().as_secs_f64();

    let ledger = store::open(&url).await.unwrap();
    let t = Instant::now();
    run_senders(bodies, move |i, b| {
        let ledger: Arc<dyn Store> = ledger.clone();
        let run = run.clone();
        async move {
            let batch = MetricBatch {
                job: format!("ledger-{run}-{i}"),
                epoch: 1,
                seq: rand_seq(),
                body_sha256: Sha256::digest(&b).into(),
                received_at: 1,
            };
            ledger.accept_batch(&batch).await.unwrap();
        }
    })
    .await;
    let ledger_s = t.elapsed().as_secs_f64();
    let events = (batches * EVENTS) as f64;
    println!(
        "{{\"benchmark\":\"metrics ingest\",\"store\":\"{}\",\"jobs\":{jobs},\"batches\":{batches},\"events_per_s\":{:.0},\"ledger_only_events_per_s\":{:.0},\"ratio\":{:.2}}}",
        url.split(':').next().unwrap_or(""),
        events / ingest_s,
        events / ledger_s,
        ledger_s / ingest_s
    );
}

fn rand_seq() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

async fn run_senders<F, Fut>(bodies: Arc<Vec<(usize, Vec<u8>)>>, send: F)
where
    F: Fn(usize, Vec<u8>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut tasks = Vec::new();
    for s in 0..SENDERS {
        let (bodies, send) = (bodies.clone(), send.clone());
        tasks.push(tokio::spawn(async move {
            for (i, b) in bodies.iter().skip(s).step_by(SENDERS) {
                send(*i, b.clone()).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
