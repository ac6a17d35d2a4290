//! Jobs of several nodes on the emulator's Instant Clusters: one cluster per attempt, found
//! again by name after an ambiguous create, ended whole by cancel and by the reconciler when a
//! node is gone or never starts, deleted as an orphan when its job is over, and billed as one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::json;
use trainpod::ErrorKind;
use trainpod::clock::Clock;
use trainpod::clock::ManualClock;
use trainpod::jobs::{JobState, ReconcilePolicy};
use trainpod::runpod::{Client, ClusterCompute, ClusterType, CreateClusterRequest};
use trainpod::sdk::{DatasetRef, JobSpec, Trainpod};
use trainpod::token::{IssueRequest, KeyRing, Purpose, generate_secret};
use trainpod_e2e::{emulator_client, fresh_dir, postgres_database};
use trainpod_emulator::{ACCOUNT_KEY, Emulator, VanishCause};

const T0: u64 = 1_900_000_000;
const CHAT: &str =
    r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#;

struct Setup {
    emu: Emulator,
    tp: Trainpod,
    clock: Arc<ManualClock>,
    client: Client,
}

async fn setup(name: &str, store: &str) -> Setup {
    let emu = Emulator::start().await.unwrap();
    let dir = fresh_dir(&format!("clusters-{name}"));
    let datasets = dir.join("datasets");
    std::fs::create_dir_all(&datasets).unwrap();
    let rows: Vec<&str> = std::iter::repeat_n(CHAT, 50).collect();
    std::fs::write(datasets.join("chat"), rows.join("\n") + "\n").unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let tp = Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .app_url("http://127.0.0.1:9")
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url(store)
        .datasets_dir(&datasets)
        .reconcile_policy(ReconcilePolicy {
            bill_after_secs: 0,
            ..ReconcilePolicy::default()
        })
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    let client = emulator_client(&emu);
    Setup {
        emu,
        tp,
        clock,
        client,
    }
}

fn spec(job: &str, nodes: u32) -> JobSpec {
    JobSpec {
        job_id: Some(job.into()),
        nodes,
        ..JobSpec::new(
            "user-1",
            "Qwen/Qwen2.5-0.5B",
            DatasetRef::App { id: "chat".into() },
            5.0,
        )
    }
}

async fn live_clusters(s: &Setup) -> Vec<String> {
    s.client
        .list_clusters()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// Deploys a two-node job; returns its cluster and the primary's pod.
async fn deploy_two_nodes(s: &Setup, job: &str) -> (String, String) {
    let plan = s.tp.plan(&spec(job, 2)).await.unwrap();
    let status = s.tp.deploy(&plan).await.unwrap();
    let clusters = s
        .client
        .find_clusters_by_name(&format!("trainpod-{job}"))
        .await
        .unwrap();
    assert_eq!(clusters.len(), 1, "one cluster per attempt");
    let cluster = &clusters[0];
    assert_eq!(cluster.kind, ClusterType::Training);
    assert_eq!(cluster.compute.pod_count, 2);
    assert_eq!(cluster.compute.gpu_type_id, plan.gpu.gpu_id);
    let members = s.emu.cluster_members(&cluster.id).unwrap();
    assert_eq!(
        status.pod_id.as_deref(),
        Some(members[0].as_str()),
        "the job's pod is rank 0"
    );
    (cluster.id.clone(), members[0].clone())
}

#[tokio::test]
async fn a_two_node_job_is_one_cluster_that_cancel_deletes_on_every_store() {
    let mut stores = vec!["memory:".to_owned(), "sqlite::memory:".to_owned()];
    stores.extend(postgres_database("clusters").await);
    for store in stores {
        let s = setup("cancel", &store).await;
        let one = s.tp.plan(&spec("one", 1)).await.unwrap();
        let plan = s.tp.plan(&spec("two", 2)).await.unwrap();
        // The price, so the deadline the budget buys, counts both nodes.
        assert!((plan.gpu.price_per_hour - 2.0 * one.gpu.price_per_hour).abs() < 1e-9);
        let (cluster, _) = deploy_two_nodes(&s, "two").await;
        // Deploying again returns the job: never a second cluster.
        s.tp.deploy(&plan).await.unwrap();
        assert_eq!(live_clusters(&s).await, vec![cluster.clone()], "{store}");
        // Plain pods' listing leaves cluster members out, as RunPod's does.
        assert!(s.client.list_pods().await.unwrap().is_empty());

        let cancelled = s.tp.cancel("two").await.unwrap();
        assert_eq!(cancelled.state, JobState::Cancelled);
        assert!(
            live_clusters(&s).await.is_empty(),
            "{store}: the whole cluster ends"
        );
    }
}

#[tokio::test]
async fn an_ambiguous_create_adopts_the_cluster_it_made() {
    let s = setup("adopt", "memory:").await;
    s.emu.faults(|f| f.fail_after_create = 1);
    let (cluster, _) = deploy_two_nodes(&s, "ambiguous").await;
    assert_eq!(live_clusters(&s).await, vec![cluster]);
}

#[tokio::test]
async fn a_cluster_that_lost_a_node_ends_with_its_job() {
    let s = setup("lost", "memory:").await;
    let (cluster, primary) = deploy_two_nodes(&s, "lost").await;
    let worker = s.emu.cluster_members(&cluster).unwrap()[1].clone();
    // Within the list grace a missing node is not judged yet.
    assert!(s.emu.vanish_pod(&worker, VanishCause::Host));
    assert!(s.tp.reconcile().await.unwrap().is_empty());

    s.clock.advance(120);
    let actions = s.tp.reconcile().await.unwrap();
    let ended: Vec<_> = actions
        .iter()
        .filter(|a| a.reason != "billed")
        .map(|a| {
            (
                a.pod_id.as_deref(),
                a.job_id.as_deref(),
                a.reason,
                a.job_state,
            )
        })
        .collect();
    assert_eq!(
        ended,
        vec![(
            Some(cluster.as_str()),
            Some("lost"),
            "pod_vanished",
            Some(JobState::Failed)
        )]
    );
    let status = s.tp.status("lost").await.unwrap();
    assert_eq!(status.reason, "pod_vanished");
    assert!(
        status.cause.contains(&cluster) && status.cause.contains("1 of its 2"),
        "{}",
        status.cause
    );
    assert!(
        live_clusters(&s).await.is_empty(),
        "the primary {primary} went with it"
    );
    assert!(
        s.tp.reconcile()
            .await
            .unwrap()
            .iter()
            .all(|a| a.reason == "billed")
    );
}

/// The primary's heartbeat, batch `n`, as its bootstrap sends it at the clock's time.
async fn heartbeat(s: &Setup, job: &str, n: u64) {
    report(s, job, n, "heartbeat", json!({})).await;
}

/// One event of the primary's, batch `n`, as its bootstrap sends it at the clock's time.
async fn report(s: &Setup, job: &str, n: u64, kind: &str, data: serde_json::Value) {
    let mut req = IssueRequest::new(Purpose::MetricsWrite, "user-1", job).ttl_secs(3600);
    req.epoch = Some(1);
    let token = s.tp.tokens().issue(&req).unwrap().token;
    let now = s.clock.now_unix_secs();
    let event = json!({"n": n, "source": "bootstrap", "type": kind, "ts": now, "data": data});
    let body = json!({"job": job, "attempt": 1, "batch": n, "events": [event]});
    let auth = format!("Bearer {}", token.expose());
    s.tp.ingest_metrics(job, Some(&auth), &serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_node_that_never_starts_ends_the_cluster_at_the_provision_timeout() {
    let s = setup("stuck", "memory:").await;
    s.emu.faults(|f| f.cluster_stuck_rank = Some(1));
    let (cluster, _) = deploy_two_nodes(&s, "stuck").await;
    let stuck = s.emu.cluster_members(&cluster).unwrap()[1].clone();
    // The primary runs and reports (it waits for its peer); the stuck node never starts.
    for n in 1..=3 {
        heartbeat(&s, "stuck", n).await;
        assert!(
            s.tp.reconcile().await.unwrap().is_empty(),
            "within the timeout it may start"
        );
        s.clock.advance(400);
    }
    heartbeat(&s, "stuck", 4).await;
    let actions = s.tp.reconcile().await.unwrap();
    let action = actions
        .iter()
        .find(|a| a.job_id.as_deref() == Some("stuck"))
        .unwrap();
    assert_eq!(
        (action.reason, action.job_state),
        ("provision_timeout", Some(JobState::Failed))
    );
    let status = s.tp.status("stuck").await.unwrap();
    assert!(
        status.cause.contains(&stuck) && status.cause.contains("node 1"),
        "{}",
        status.cause
    );
    assert!(live_clusters(&s).await.is_empty());
}

#[tokio::test]
async fn an_orphan_cluster_is_deleted_and_a_finished_job_billed_as_one() {
    let s = setup("orphan", "memory:").await;
    // A cluster named like trainpod's whose job the store never had.
    let stray = s
        .client
        .create_cluster_from(&[CreateClusterRequest {
            name: "trainpod-nobody".into(),
            kind: Some(ClusterType::Training),
            compute: Some(ClusterCompute {
                gpu_type_id: "NVIDIA A40".into(),
                gpu_count_per_pod: 1,
                pod_count: 2,
            }),
            image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
            ..CreateClusterRequest::default()
        }])
        .await
        .unwrap()
        .cluster;
    let (cluster, _) = deploy_two_nodes(&s, "billed").await;
    s.emu.advance(600);
    s.clock.advance(600);
    s.tp.cancel("billed").await.unwrap();
    let actions = s.tp.reconcile().await.unwrap();
    let reasons: Vec<_> = actions
        .iter()
        .map(|a| (a.pod_id.as_deref(), a.reason))
        .collect();
    assert!(
        reasons.contains(&(Some(stray.id.as_str()), "orphan")),
        "{reasons:?}"
    );
    assert!(live_clusters(&s).await.is_empty());
    // The bill is the cluster's, both nodes together.
    let billed: f64 = s
        .client
        .cluster_billing(&cluster)
        .await
        .unwrap()
        .iter()
        .map(|r| r.total_amount)
        .sum();
    assert!(billed > 0.0);
    let bill =
        s.tp.status("billed")
            .await
            .unwrap()
            .billed_usd
            .expect("billed");
    assert!((bill - billed).abs() < 1e-9, "{bill} vs {billed}");
}

#[tokio::test]
async fn a_one_node_cluster_is_refused_before_any_request() {
    let s = setup("refused", "memory:").await;
    let err = s
        .client
        .create_cluster_from(&[CreateClusterRequest {
            name: "trainpod-one".into(),
            kind: Some(ClusterType::Training),
            compute: Some(ClusterCompute {
                gpu_type_id: "NVIDIA A40".into(),
                gpu_count_per_pod: 1,
                pod_count: 1,
            }),
            image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
            ..CreateClusterRequest::default()
        }])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.message().contains("one node is a plain pod"),
        "{}",
        err.message()
    );
    assert!(
        s.emu
            .requests()
            .iter()
            .all(|r| !r.uri.contains("/clusters"))
    );
    let err = s.tp.plan(&spec("many", 17)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(s.emu.cluster_count(), 0);
}

#[tokio::test]
async fn the_primarys_final_status_deletes_the_whole_cluster() {
    let s = setup("final", "memory:").await;
    let (_, primary) = deploy_two_nodes(&s, "done").await;
    heartbeat(&s, "done", 1).await;
    let fin = json!({"status": "succeeded", "reason": "", "exit_code": 0, "cause_b64": "",
                     "log_tail_b64": ""});
    report(&s, "done", 2, "final", fin).await;
    assert_eq!(
        s.tp.status("done").await.unwrap().state,
        JobState::Succeeded
    );
    // The worker waits to be deleted with the cluster; the final status is what ends it.
    assert!(
        live_clusters(&s).await.is_empty(),
        "primary {primary}'s cluster ends whole"
    );
}
