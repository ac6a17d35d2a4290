//! The plan is stored with its job when it is made, and `deploy` deploys what was stored: an
//! edited plan is refused with nothing created, a plan never made is refused, a queued job
//! planned again deploys the newer plan, and a planned job that is never deployed is neither
//! ended nor billed. On the RunPod emulator, with every store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use trainpod::clock::ManualClock;
use trainpod::jobs::JobState;
use trainpod::sdk::{DatasetRef, JobSpec, Trainpod};
use trainpod::token::{KeyRing, generate_secret};
use trainpod::{Error, ErrorKind};
use trainpod_e2e::{fresh_dir, postgres_database, unique_id};
use trainpod_emulator::{ACCOUNT_KEY, Emulator};

const T0: u64 = 1_900_000_000;
const CHAT: &str =
    r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#;

struct Setup {
    emu: Emulator,
    tp: Trainpod,
    clock: Arc<ManualClock>,
}

/// The stores a plan is kept in: memory, SQLite, and Postgres when there is one.
async fn stores() -> Vec<String> {
    let mut urls = vec!["memory:".to_owned(), "sqlite::memory:".to_owned()];
    urls.extend(postgres_database("plan").await);
    urls
}

async fn setup(name: &str, store: &str) -> Setup {
    let emu = Emulator::start().await.unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let tp = builder(&emu, name, store, &clock).build().await.unwrap();
    Setup { emu, tp, clock }
}

fn builder(
    emu: &Emulator,
    name: &str,
    store: &str,
    clock: &Arc<ManualClock>,
) -> trainpod::sdk::TrainpodBuilder {
    let dir = fresh_dir(&format!("stored-plan-{name}"));
    let datasets = dir.join("datasets");
    std::fs::create_dir_all(&datasets).unwrap();
    let rows: Vec<&str> = std::iter::repeat_n(CHAT, 50).collect();
    std::fs::write(datasets.join("chat"), rows.join("\n") + "\n").unwrap();
    Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .app_url("http://127.0.0.1:9")
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url(store)
        .datasets_dir(&datasets)
        .artifacts_dir(dir.join("artifacts"))
        .clock(clock.clone())
}

fn spec(job: &str, budget_usd: f64) -> JobSpec {
    JobSpec {
        job_id: Some(job.into()),
        ..JobSpec::new(
            "user-1",
            "Qwen/Qwen2.5-0.5B",
            DatasetRef::App { id: "chat".into() },
            budget_usd,
        )
    }
}

fn refused<T: std::fmt::Debug>(r: Result<T, Error>, kind: ErrorKind, says: &str) -> Error {
    let err = r.expect_err("expected a refusal");
    assert_eq!(err.kind(), kind, "{err}");
    assert!(err.message().contains(says), "{err}");
    err
}

#[tokio::test]
async fn a_plan_edited_after_plan_is_refused_at_deploy_and_nothing_is_created() {
    for store in stores().await {
        let s = setup("edited", &store).await;
        let id = unique_id("edited");
        let plan = s.tp.plan(&spec(&id, 2.0)).await.unwrap();
        let stored = s.tp.stored_plan(&id).await.unwrap();
        assert_eq!(
            stored, plan,
            "{store}: the plan is stored as it was returned"
        );
        let before = s.tp.store().get_job(&id).await.unwrap().unwrap();
        assert_eq!(before.state, JobState::Queued);
        // Edits a caller could make to the copy it holds: each is refused, and nothing moves.
        let mut cheaper = plan.clone();
        cheaper.gpu.price_per_hour /= 10.0;
        let mut richer = plan.clone();
        richer.spec.budget_usd = 500.0;
        let mut longer = plan.clone();
        longer.deadline_secs *= 2;
        let mut other_image = plan.clone();
        other_image.image = "docker.io/library/python:3.12".into();
        for edited in [cheaper, richer, longer, other_image] {
            refused(
                s.tp.deploy(&edited).await,
                ErrorKind::InvalidInput,
                "changed after plan() made it",
            );
        }
        let err = refused(
            s.tp.deploy(&plan_with_lr(&plan)).await,
            ErrorKind::InvalidInput,
            "call plan() again with the changed spec",
        );
        assert!(err.message().contains(&id), "{err}");
        assert_eq!(s.emu.pod_count(), 0, "{store}: no pod for a refused plan");
        let after = s.tp.store().get_job(&id).await.unwrap().unwrap();
        assert_eq!(after, before, "{store}: the job is as plan() left it");
        // The plan as made deploys.
        let job = s.tp.deploy(&plan).await.unwrap();
        assert_eq!(job.state, JobState::Provisioning);
        assert_eq!(s.emu.pod_count(), 1);
    }
}

/// `plan` with another learning rate: an edit deep inside the plan.
fn plan_with_lr(plan: &trainpod::Plan) -> trainpod::Plan {
    let mut value = serde_json::to_value(plan).unwrap();
    value["hyperparameters"]["learning_rate"] = serde_json::json!(1e-3);
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn a_deploy_without_a_plan_is_refused() {
    let emu = Emulator::start().await.unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let planner = builder(&emu, "planner", "memory:", &clock)
        .build()
        .await
        .unwrap();
    let plan = planner.plan(&spec("unplanned", 2.0)).await.unwrap();
    // Another store never saw the plan: the job was not planned there.
    let other = builder(&emu, "other", "memory:", &clock)
        .build()
        .await
        .unwrap();
    refused(
        other.deploy(&plan).await,
        ErrorKind::NotFound,
        "call plan() first",
    );
    assert_eq!(emu.pod_count(), 0);
    assert!(other.store().get_job("unplanned").await.unwrap().is_none());
    refused(
        other.stored_plan("unplanned").await,
        ErrorKind::NotFound,
        "plan it first",
    );
}

#[tokio::test]
async fn a_queued_job_planned_again_deploys_the_newer_plan() {
    for store in stores().await {
        let s = setup("replan", &store).await;
        let id = unique_id("replan");
        let first = s.tp.plan(&spec(&id, 2.0)).await.unwrap();
        s.clock.set(T0 + 60);
        let second = s.tp.plan(&spec(&id, 3.0)).await.unwrap();
        assert_eq!(s.tp.stored_plan(&id).await.unwrap(), second);
        let row = s.tp.store().get_job(&id).await.unwrap().unwrap();
        assert_eq!(
            row.created_at, T0,
            "{store}: the job keeps when it was first planned"
        );
        assert!((row.budget_usd - 3.0).abs() < 1e-9);
        refused(
            s.tp.deploy(&first).await,
            ErrorKind::InvalidInput,
            "planned again since",
        );
        assert_eq!(s.emu.pod_count(), 0);
        let job = s.tp.deploy(&second).await.unwrap();
        assert!((job.budget_usd - 3.0).abs() < 1e-9, "{store}");
        assert_eq!(job.deadline_unix, T0 + 60 + second.deadline_secs);
        // Deployed, the job's plan never changes again.
        refused(
            s.tp.plan(&spec(&id, 4.0)).await,
            ErrorKind::InvalidState,
            "planned again only until it is deployed",
        );
        assert_eq!(s.tp.stored_plan(&id).await.unwrap(), second);
        let again = s.tp.deploy(&second).await.unwrap();
        assert_eq!(
            again.pod_id, job.pod_id,
            "{store}: deploying again changes nothing"
        );
        assert_eq!(s.emu.pod_count(), 1);
    }
}

#[tokio::test]
async fn a_job_id_of_another_user_or_past_queued_is_not_planned_again() {
    let s = setup("taken", "memory:").await;
    s.tp.plan(&spec("taken", 2.0)).await.unwrap();
    let theirs = JobSpec {
        user: "user-2".into(),
        ..spec("taken", 2.0)
    };
    refused(
        s.tp.plan(&theirs).await,
        ErrorKind::InvalidState,
        "another user",
    );
    // A planned job that is dropped is cancelled; it is not planned again.
    assert_eq!(
        s.tp.cancel("taken").await.unwrap().state,
        JobState::Cancelled
    );
    refused(
        s.tp.plan(&spec("taken", 2.0)).await,
        ErrorKind::InvalidState,
        "is cancelled",
    );
    assert_eq!(s.emu.pod_count(), 0);
}

#[tokio::test]
async fn a_planned_job_reads_as_queued_and_is_neither_ended_nor_billed() {
    for store in stores().await {
        let s = setup("queued", &store).await;
        let id = unique_id("queued");
        let plan = s.tp.plan(&spec(&id, 2.0)).await.unwrap();
        let status = s.tp.status(&id).await.unwrap();
        assert_eq!(status.state, JobState::Queued);
        assert_eq!((status.reason.as_str(), status.cause.as_str()), ("", ""));
        assert_eq!(status.pod_id, None);
        assert_eq!(status.cost_usd, 0.0);
        assert_eq!(
            status.estimate_usd,
            Some((plan.estimate.usd_low, plan.estimate.usd_high))
        );
        // A day later, past every deadline and timeout: the reconciler leaves it alone, and the
        // store's list of jobs that must have a pod does not carry it.
        s.clock.set(T0 + 86_400);
        assert!(s.tp.reconcile().await.unwrap().is_empty(), "{store}");
        let live = s.tp.store().live_jobs().await.unwrap();
        assert!(live.iter().all(|j| j.id != id), "{store}");
        let status = s.tp.status(&id).await.unwrap();
        assert_eq!(status.state, JobState::Queued, "{store}");
        assert_eq!(status.cost_usd, 0.0);
        // It deploys as planned, a day later, with the deadline counted from the deploy.
        let job = s.tp.deploy(&plan).await.unwrap();
        assert_eq!(job.deadline_unix, T0 + 86_400 + plan.deadline_secs);
        assert!(
            s.tp.store()
                .live_jobs()
                .await
                .unwrap()
                .iter()
                .any(|j| j.id == id),
            "{store}: deployed, it is live"
        );
    }
}
