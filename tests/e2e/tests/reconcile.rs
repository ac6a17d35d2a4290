//! The reconciler on the RunPod emulator, with the store on memory, SQLite and Postgres: stale,
//! over-deadline, over-budget and orphan pods are terminated with their reasons, healthy and
//! foreign pods are left alone, and two reconcilers sharing one Postgres terminate each pod once.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use trainpod::jobs::{JobState, ReconcilePolicy, reconcile};
use trainpod::store::{self, JobRecord, Store};
use trainpod_e2e::{create_pod, emulator_client, postgres_database, unix_now};
use trainpod_emulator::Emulator;

fn job(id: &str, pod_id: &str, now: u64) -> JobRecord {
    JobRecord {
        state: JobState::Training,
        pod_id: Some(pod_id.into()),
        deadline_unix: now + 3600,
        budget_usd: 100.0,
        price_per_hour: 0.69,
        started_at: Some(now - 100),
        last_heartbeat: Some(now - 10),
        ..JobRecord::new(id, "user-1", now - 100)
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", (unix_now() * 1e6) as u64 % 1_000_000_000)
}

async fn ends_what_must_end(store: Arc<dyn Store>) {
    let emu = Emulator::start().await.unwrap();
    let c = emulator_client(&emu);
    let now = unix_now() as u64;
    let tag = unique(store.backend());
    let names = ["stale", "late", "costly", "healthy"].map(|n| format!("{n}-{tag}"));
    let mut pods = Vec::new();
    for n in &names {
        pods.push(create_pod(&c, &format!("trainpod-{n}"), None).await);
    }
    let orphan = create_pod(&c, &format!("trainpod-gone-{tag}"), None).await;
    let foreign = create_pod(&c, "someone-elses-notebook", None).await;
    let mut stale = job(&names[0], &pods[0], now);
    stale.last_heartbeat = Some(now - 700);
    let mut late = job(&names[1], &pods[1], now);
    late.deadline_unix = now - 1;
    let mut costly = job(&names[2], &pods[2], now);
    costly.budget_usd = 0.01;
    let healthy = job(&names[3], &pods[3], now);
    for j in [&stale, &late, &costly, &healthy] {
        assert!(store.insert_job(j).await.unwrap());
    }
    assert!(
        !store.insert_job(&healthy).await.unwrap(),
        "a job id is recorded once"
    );

    let mut actions = reconcile(&c, store.as_ref(), now, &ReconcilePolicy::default())
        .await
        .unwrap();
    actions.sort_by(|a, b| a.pod_id.cmp(&b.pod_id));
    let mut got: Vec<(String, &str, Option<JobState>)> = actions
        .iter()
        .map(|a| (a.pod_id.clone().unwrap_or_default(), a.reason, a.job_state))
        .collect();
    got.sort();
    let mut want = vec![
        (pods[0].clone(), "stale_heartbeat", Some(JobState::Failed)),
        (pods[1].clone(), "deadline", Some(JobState::TimedOut)),
        (pods[2].clone(), "over_budget", Some(JobState::OverBudget)),
        (orphan.clone(), "orphan", None),
    ];
    want.sort();
    assert_eq!(got, want, "{}", store.backend());
    for p in [&pods[0], &pods[1], &pods[2], &orphan] {
        assert_eq!(emu.pod_status(p), Some("TERMINATED"));
    }
    assert_ne!(emu.pod_status(&pods[3]), Some("TERMINATED"));
    assert_ne!(emu.pod_status(&foreign), Some("TERMINATED"));
    let j = store.get_job(&names[1]).await.unwrap().unwrap();
    assert_eq!(
        (j.state, j.reason.as_str()),
        (JobState::TimedOut, "deadline")
    );
    let again = reconcile(&c, store.as_ref(), now + 1, &ReconcilePolicy::default())
        .await
        .unwrap();
    assert!(again.is_empty(), "nothing left to end: {again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_on_memory_and_sqlite() {
    ends_what_must_end(store::open("memory:").await.unwrap()).await;
    ends_what_must_end(store::open("sqlite::memory:").await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_on_postgres() {
    let Some(url) = postgres_database("reconcile").await else {
        return;
    };
    ends_what_must_end(store::open(&url).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_reconcilers_on_one_postgres_terminate_each_pod_once() {
    let Some(url) = postgres_database("reconcile").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let c = emulator_client(&emu);
    let tag = unique("race");
    let mut orphans = Vec::new();
    for i in 0..12 {
        orphans.push(create_pod(&c, &format!("trainpod-{tag}-{i}"), None).await);
    }
    // Two app instances: their own pools and clients, one database.
    let (s1, s2) = (
        store::open(&url).await.unwrap(),
        store::open(&url).await.unwrap(),
    );
    let (c1, c2) = (emulator_client(&emu), emulator_client(&emu));
    let now = unix_now() as u64;
    let policy = ReconcilePolicy::default();
    let (a, b) = tokio::join!(
        reconcile(&c1, s1.as_ref(), now, &policy),
        reconcile(&c2, s2.as_ref(), now, &policy)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.len() + b.len(),
        orphans.len(),
        "every orphan ended, by one instance each"
    );
    for p in &orphans {
        let terminates = emu
            .requests()
            .iter()
            .filter(|r| r.uri == format!("/v2/pods/{p}/action") && r.status < 300)
            .count();
        assert_eq!(terminates, 1, "pod {p} terminated {terminates} times");
    }
}

/// The real network, except that terminating one pod fails with a 503 (an outage of RunPod's
/// action endpoint for that pod).
#[derive(Debug)]
struct TerminateFails {
    inner: trainpod::runpod::ReqwestSender,
    pod: String,
}

#[async_trait::async_trait]
impl trainpod::runpod::HttpSend for TerminateFails {
    async fn send(
        &self,
        request: trainpod::runpod::HttpRequest,
    ) -> Result<trainpod::runpod::HttpResponse, trainpod::runpod::TransportError> {
        if request.url.ends_with(&format!("/pods/{}/action", self.pod)) {
            return Ok(trainpod::runpod::HttpResponse {
                status: 503,
                headers: vec![("content-type".into(), "application/problem+json".into())],
                body: br#"{"title":"Service Unavailable","status":503,"detail":"upstream down"}"#
                    .to_vec(),
            });
        }
        self.inner.send(request).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_pod_does_not_stop_the_pass_and_its_error_is_reported() {
    let emu = Emulator::start().await.unwrap();
    let c = emulator_client(&emu);
    let tag = unique("carry");
    let first = create_pod(&c, &format!("trainpod-a-{tag}"), None).await;
    let second = create_pod(&c, &format!("trainpod-b-{tag}"), None).await;
    let failing = trainpod::runpod::Client::builder(
        trainpod::runpod::ApiKey::new(trainpod_emulator::ACCOUNT_KEY).unwrap(),
        Arc::new(TerminateFails {
            inner: trainpod::runpod::ReqwestSender::with_defaults().unwrap(),
            pod: first.clone(),
        }),
    )
    .base_url(emu.base_url())
    .retry_policy(trainpod::runpod::RetryPolicy::none())
    .build()
    .unwrap();
    let store = store::open("memory:").await.unwrap();
    let now = unix_now() as u64;
    let actions = reconcile(&failing, store.as_ref(), now, &ReconcilePolicy::default())
        .await
        .unwrap();
    // Both orphans were looked at: one ended, one reported with its error.
    let of = |pod: &str| {
        actions
            .iter()
            .find(|a| a.pod_id.as_deref() == Some(pod))
            .unwrap()
    };
    let err = of(&first).error.as_ref().expect("the failure is reported");
    assert_eq!(err.code, "SERVER_ERROR");
    assert_ne!(emu.pod_status(&first), Some("TERMINATED"), "still billing");
    assert_eq!(of(&second).error, None);
    assert_eq!(emu.pod_status(&second), Some("TERMINATED"));
}
