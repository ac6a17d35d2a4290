//! Times `reconcile` over N jobs on the RunPod emulator with a SQLite store, as
//! `bench/reconcile.sh` runs it: N live pods with their jobs, one in ten stale (terminated by the
//! pass), plus the baseline of the same pass's `list_pods` alone. Prints one JSON line.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use trainpod::jobs::{JobState, ReconcilePolicy, reconcile};
use trainpod::runpod::{ApiKey, Client, CreatePodRequest, GpuRequest};
use trainpod::store::{self, JobRecord};
use trainpod_emulator::{ACCOUNT_KEY, Emulator};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder_with_reqwest(ApiKey::new(ACCOUNT_KEY).unwrap())
        .unwrap()
        .base_url(emu.base_url())
        .build()
        .unwrap();
    let db = std::env::temp_dir().join(format!("trainpod-reconcile-{}.db", std::process::id()));
    let store = store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let now = 1_800_000_000;
    for i in 0..n {
        let request = CreatePodRequest {
            name: format!("trainpod-job-{i}"),
            image: trainpod::script::DEFAULT_IMAGE.into(),
            gpu: Some(GpuRequest {
                id: "NVIDIA GeForce RTX 4090".into(),
                count: 1,
                min_cuda_version: None,
            }),
            ..CreatePodRequest::default()
        };
        let pod = client.create_pod(&request, &[]).await.unwrap().pod;
        let job = JobRecord {
            state: JobState::Training,
            pod_id: Some(pod.id),
            updated_at: now - 100,
            deadline_unix: now + 3600,
            budget_usd: 100.0,
            price_per_hour: 0.69,
            started_at: Some(now - 100),
            last_heartbeat: Some(if i % 10 == 0 { now - 700 } else { now - 10 }),
            ..JobRecord::new(format!("job-{i}"), "user-1", now - 100)
        };
        store.insert_job(&job).await.unwrap();
    }
    let t = Instant::now();
    let listed = client.list_pods().await.unwrap().len();
    let list_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let actions = reconcile(&client, store.as_ref(), now, &ReconcilePolicy::default())
        .await
        .unwrap();
    let reconcile_s = t.elapsed().as_secs_f64();
    println!(
        "{{\"benchmark\":\"reconcile\",\"jobs\":{n},\"pods_listed\":{listed},\"terminated\":{},\"reconcile_s\":{reconcile_s:.3},\"list_pods_s\":{list_s:.3}}}",
        actions.len()
    );
    drop(store);
    let _ = std::fs::remove_file(&db);
}
