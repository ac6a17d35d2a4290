//! The local provider with the SDK: a start script that exits instead of terminating its pod is
//! restarted (as RunPod restarts an exited container, billing on), and the reconciler ends it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use trainpod::jobs::{JobState, ReconcilePolicy};
use trainpod::runpod::{CreatePodRequest, GpuRequest};
use trainpod::sdk::Trainpod;
use trainpod::store::JobRecord;
use trainpod::token::{KeyRing, generate_secret};
use trainpod_e2e::{eventually, unix_now};
use trainpod_emulator::{ACCOUNT_KEY, Emulator, Options, RunPods};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_that_exits_is_restarted_and_the_reconciler_ends_it() {
    let emu = Emulator::start_with(Options {
        run_pods: Some(RunPods {
            restart_delay: Duration::from_millis(200),
            stop_grace: Duration::from_secs(1),
            ..RunPods::default()
        }),
        ..Options::default()
    })
    .await
    .unwrap();
    let tp = Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url("memory:")
        .reconcile_policy(ReconcilePolicy {
            stale_after_secs: 600,
            provision_timeout_secs: 2,
            lease_secs: 60,
            ..ReconcilePolicy::default()
        })
        .build()
        .await
        .unwrap();

    // The failing app's script: it does its work and exits, so the container ends and RunPod
    // starts it again, billing all the while.
    let request = CreatePodRequest {
        name: "trainpod-exits".into(),
        image: trainpod::script::DEFAULT_IMAGE.into(),
        args: Some("echo training done; exit 0".into()),
        gpu: Some(GpuRequest {
            id: "NVIDIA GeForce RTX 4090".into(),
            count: 1,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    };
    let pod = tp.runpod().create_pod(&request, &[]).await.unwrap().pod.id;
    let now = unix_now() as u64;
    let job = JobRecord {
        state: JobState::Provisioning,
        pod_id: Some(pod.clone()),
        started_at: Some(now),
        deadline_unix: now + 3600,
        budget_usd: 10.0,
        price_per_hour: 0.69,
        ..JobRecord::new("exits", "user-1", now)
    };
    assert!(tp.store().insert_job(&job).await.unwrap());

    assert!(
        eventually(Duration::from_secs(20), || emu.pod_restarts(&pod)
            >= Some(2))
        .await,
        "the exited container is restarted, again and again"
    );
    assert_ne!(
        emu.pod_status(&pod),
        Some("TERMINATED"),
        "and the pod lives on, billing"
    );

    // It never reports: once the provisioning timeout has passed, the reconciler ends it.
    let give_up = tokio::time::Instant::now() + Duration::from_secs(20);
    let actions = loop {
        let actions = tp.reconcile().await.unwrap();
        if !actions.is_empty() || tokio::time::Instant::now() > give_up {
            break actions;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(actions.len(), 1, "{actions:?}");
    // Between two runs of the container the pod reads RUNNING with no runtime, so the pass that
    // ends it may name that (`no_container`) instead of the timeout; both end it at the timeout.
    assert!(
        ["provision_timeout", "no_container"].contains(&actions[0].reason),
        "{actions:?}"
    );
    assert_eq!(emu.pod_status(&pod), Some("TERMINATED"));
    assert_eq!(tp.status("exits").await.unwrap().state, JobState::Failed);
    let restarts = emu.pod_restarts(&pod);
    assert!(
        eventually(Duration::from_secs(10), || emu
            .local_pod(&pod)
            .is_some_and(|p| p.pid.is_none()))
        .await,
        "no process is left"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        emu.pod_restarts(&pod),
        restarts,
        "a terminated pod is not restarted"
    );
}
