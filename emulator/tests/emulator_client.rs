//! trainpod's RunPod client against the emulator over real HTTP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use trainpod::ErrorKind;
use trainpod::clock::CounterRandom;
use trainpod::runpod::{
    ApiKey, Client, CreatePodRequest, GpuCandidate, GpuRequest, PodAction, PodStatus,
    ReqwestSender, RetryPolicy, Sleeper, job_pod_name,
};
use trainpod_emulator::{ACCOUNT_KEY, Emulator};

#[derive(Debug, Default)]
struct RecordingSleeper(Mutex<Vec<Duration>>);

#[async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, d: Duration) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(d);
    }
}

fn client(emu: &Emulator, key: &str, sleeper: Arc<RecordingSleeper>) -> Client {
    Client::builder(
        ApiKey::new(key).unwrap_or_else(|e| panic!("{e}")),
        Arc::new(
            ReqwestSender::new(Duration::from_secs(2), Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("{e}")),
        ),
    )
    .base_url(emu.base_url())
    .sleeper(sleeper)
    .random(Arc::new(CounterRandom::default()))
    .retry_policy(RetryPolicy::new(
        4,
        Duration::from_secs(1),
        Duration::from_secs(8),
        Duration::from_secs(60),
    ))
    .build()
    .unwrap_or_else(|e| panic!("{e}"))
}

fn request(job: &str, gpu: &str) -> CreatePodRequest {
    CreatePodRequest {
        name: job_pod_name(job).unwrap_or_else(|e| panic!("{e}")),
        image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
        gpu: Some(GpuRequest {
            id: gpu.into(),
            count: 1,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    }
}

fn candidate(gpu: &str) -> GpuCandidate {
    GpuCandidate {
        gpu_id: gpu.into(),
        count: 1,
        data_center_ids: vec![],
    }
}

async fn start() -> (Emulator, Arc<RecordingSleeper>) {
    (
        Emulator::start().await.unwrap_or_else(|e| panic!("{e}")),
        Arc::new(RecordingSleeper::default()),
    )
}

#[tokio::test]
async fn create_5xx_after_creating_ends_with_one_adopted_pod() {
    let (emu, sleeper) = start().await;
    emu.faults(|f| f.fail_after_create = 1);
    let out = client(&emu, ACCOUNT_KEY, sleeper)
        .create_pod(&request("job-1", "NVIDIA A40"), &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.adopted);
    assert_eq!(out.pod.name, "trainpod-job-1");
    assert_eq!(emu.pod_count(), 1);
    let creates = emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.uri == "/v2/pods")
        .count();
    assert_eq!(creates, 1);
}

#[tokio::test]
async fn rate_limit_waits_for_retry_after() {
    let (emu, sleeper) = start().await;
    emu.faults(|f| f.rate_limits.push_back(5));
    let gpus = client(&emu, ACCOUNT_KEY, sleeper.clone())
        .gpu_catalog()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!gpus.is_empty());
    assert_eq!(
        *sleeper.0.lock().unwrap_or_else(|e| e.into_inner()),
        vec![Duration::from_secs(5)]
    );
    assert_eq!(emu.requests().len(), 2);
}

#[tokio::test]
async fn capacity_on_the_first_gpu_falls_through_to_the_second() {
    let (emu, sleeper) = start().await;
    emu.faults(|f| {
        f.no_capacity.insert("NVIDIA H100 80GB HBM3".into());
    });
    let c = client(&emu, ACCOUNT_KEY, sleeper);
    let out = c
        .create_pod(
            &request("job-2", "x"),
            &[candidate("NVIDIA H100 80GB HBM3"), candidate("NVIDIA A40")],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.candidate, 1);
    assert_eq!(out.pod.gpu.map(|g| g.id).as_deref(), Some("NVIDIA A40"));
    let catalog = c.gpu_catalog().await.unwrap_or_else(|e| panic!("{e}"));
    let h100 = catalog
        .iter()
        .find(|g| g.id == "NVIDIA H100 80GB HBM3")
        .unwrap_or_else(|| panic!("no H100"));
    assert_eq!(
        h100.availability,
        Some(trainpod::runpod::Availability::None)
    );
    assert!(h100.price.secure > 0.0);
}

#[tokio::test]
async fn invalid_key_and_injected_402_403() {
    let (emu, sleeper) = start().await;
    let err = client(&emu, "rpa_not_a_key", sleeper.clone())
        .list_pods()
        .await
        .err()
        .unwrap_or_else(|| panic!("ok"));
    assert_eq!(err.kind(), ErrorKind::AuthInvalid);
    assert!(err.message().contains("RUNPOD_API_KEY"));
    assert_eq!(err.request_id(), Some("emu-req"));
    assert!(!format!("{err} {err:?}").contains("rpa_not_a_key"));
    emu.faults(|f| f.statuses.extend([402, 403]));
    let c = client(&emu, ACCOUNT_KEY, sleeper);
    let e402 = c
        .create_pod(&request("job-3", "NVIDIA A40"), &[])
        .await
        .err()
        .unwrap_or_else(|| panic!("ok"));
    assert_eq!(e402.kind(), ErrorKind::InsufficientBalance);
    let e403 = c.list_pods().await.err().unwrap_or_else(|| panic!("ok"));
    assert_eq!(e403.kind(), ErrorKind::Forbidden);
}

#[tokio::test]
async fn a_pod_key_cannot_terminate_another_pod() {
    let (emu, sleeper) = start().await;
    let account = client(&emu, ACCOUNT_KEY, sleeper.clone());
    let a = account
        .create_pod(&request("a", "NVIDIA A40"), &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .pod;
    let b = account
        .create_pod(&request("b", "NVIDIA A40"), &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .pod;
    let pod_client = client(&emu, &emu.pod_key(&a.id), sleeper);
    let err = pod_client
        .terminate_pod(&b.id)
        .await
        .err()
        .unwrap_or_else(|| panic!("terminated another pod"));
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(emu.pod_status(&b.id), Some("PROVISIONING"));
    pod_client
        .terminate_pod(&a.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(emu.pod_status(&a.id), Some("TERMINATED"));
}

#[tokio::test]
async fn state_machine_actions_and_billing() {
    let (emu, sleeper) = start().await;
    let c = client(&emu, ACCOUNT_KEY, sleeper);
    let pod = c
        .create_pod(&request("job-4", "NVIDIA GeForce RTX 4090"), &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .pod;
    assert_eq!(pod.status, PodStatus::Provisioning);
    let err = c
        .pod_action(&pod.id, PodAction::Start)
        .await
        .err()
        .unwrap_or_else(|| panic!("ok"));
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    emu.advance(3);
    let running = c.get_pod(&pod.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(running.status, PodStatus::Running);
    assert!((running.cost - 0.69).abs() < 1e-9);
    emu.advance(3597);
    let billing = c
        .pod_billing(&pod.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!((billing[0].total_amount - 0.69).abs() < 1e-9, "{billing:?}");
    let stopped = c
        .pod_action(&pod.id, PodAction::Stop)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stopped.map(|p| p.status), Some(PodStatus::Exited));
    emu.advance(100);
    let billing = c
        .pod_billing(&pod.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        (billing[0].total_amount - 0.69).abs() < 1e-9,
        "stopped pods accrue no GPU time"
    );
    c.terminate_pod(&pod.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.get_pod(&pod.id).await.err().map(|e| e.kind()),
        Some(ErrorKind::NotFound)
    );
    assert!(
        c.list_pods()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
}
