//! The `Trainpod` SDK on the RunPod emulator: plan checks and estimates, idempotent deploy,
//! metric batches through the app's route, cancel, retry, and the reconciler, with a manual
//! clock so that deadlines and heartbeats are exact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::json;
use trainpod::clock::ManualClock;
use trainpod::jobs::JobState;
use trainpod::sdk::{DatasetRef, JobSpec, Plan, Trainpod};
use trainpod::token::{IssueRequest, KeyRing, Purpose, generate_secret};
use trainpod::{Error, ErrorKind};
use trainpod_e2e::{create_pod, emulator_client, fresh_dir, postgres_database, unique_id};
use trainpod_emulator::{ACCOUNT_KEY, Emulator};

const T0: u64 = 1_900_000_000;
const CHAT: &str =
    r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#;

struct Setup {
    emu: Emulator,
    tp: Trainpod,
    clock: Arc<ManualClock>,
}

async fn setup(name: &str) -> Setup {
    setup_on(name, "memory:").await
}

/// The stores the lifecycle runs on: memory, SQLite, and Postgres when there is one (a database
/// of its own: a store serves one RunPod account, and this test's emulator is its account).
async fn stores() -> Vec<String> {
    let mut urls = vec!["memory:".to_owned(), "sqlite::memory:".to_owned()];
    urls.extend(postgres_database("sdk").await);
    urls
}

async fn setup_on(name: &str, store: &str) -> Setup {
    let emu = Emulator::start().await.unwrap();
    let dir = fresh_dir(&format!("sdk-{name}"));
    let datasets = dir.join("datasets");
    std::fs::create_dir_all(&datasets).unwrap();
    let rows: Vec<&str> = std::iter::repeat_n(CHAT, 50).collect();
    std::fs::write(datasets.join("chat"), rows.join("\n") + "\n").unwrap();
    std::fs::write(
        datasets.join("broken"),
        format!("{CHAT}\n{{\"messages\": [\n"),
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let tp = Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .app_url("http://127.0.0.1:9")
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url(store)
        .datasets_dir(&datasets)
        .artifacts_dir(dir.join("artifacts"))
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    Setup { emu, tp, clock }
}

fn spec(job: &str) -> JobSpec {
    JobSpec {
        job_id: Some(job.into()),
        ..JobSpec::new(
            "user-1",
            "Qwen/Qwen2.5-0.5B",
            DatasetRef::App { id: "chat".into() },
            2.0,
        )
    }
}

fn kind<T: std::fmt::Debug>(r: Result<T, Error>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

/// A metrics batch as the pod sends it, with a token for `attempt`.
fn batch(
    tp: &Trainpod,
    job: &str,
    attempt: u32,
    n: u64,
    events: serde_json::Value,
) -> (String, Vec<u8>) {
    let mut req = IssueRequest::new(Purpose::MetricsWrite, "user-1", job).ttl_secs(3600);
    req.epoch = Some(attempt);
    let token = tp.tokens().issue(&req).unwrap().token;
    let body = json!({"job": job, "attempt": attempt, "batch": n, "events": events});
    (
        format!("Bearer {}", token.expose()),
        serde_json::to_vec(&body).unwrap(),
    )
}

fn event(n: u64, ts: u64, kind: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut e = json!({"n": n, "source": "bootstrap", "type": kind, "ts": ts, "data": {}});
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

#[tokio::test]
async fn plan_estimates_the_cost_and_deadline_from_the_catalog() {
    let s = setup("plan").await;
    let plan: Plan = s.tp.plan(&spec("plan-1")).await.unwrap();
    assert_eq!(plan.dataset.rows, 50);
    assert_eq!(plan.params_b, 0.5);
    let phases: Vec<&str> = plan
        .estimate
        .lines
        .iter()
        .map(|l| l.phase.as_str())
        .collect();
    assert_eq!(
        phases,
        [
            "provisioning",
            "dependencies",
            "model_download",
            "dataset_transfer",
            "training",
            "upload"
        ]
    );
    assert!(plan.estimate.usd_low > 0.0 && plan.estimate.usd_low < plan.estimate.usd_high);
    // The deadline is what the budget buys at the chosen price.
    let bought = 2.0 / plan.gpu.price_per_hour * 3600.0;
    assert_eq!(plan.deadline_secs, bought.floor() as u64);
    // With no GPU named, the cheapest that fits comes first.
    for f in &plan.fallbacks {
        assert!(f.estimate.usd_high >= plan.gpu.estimate.usd_high);
    }
    assert!(plan.memory.needed_gb <= f64::from(plan.gpu.memory_gb));
    // Nothing was created.
    assert_eq!(s.emu.pod_count(), 0);
}

#[tokio::test]
async fn plan_refuses_an_evaluation_it_could_not_run() {
    let s = setup("eval-refuse").await;
    let refused = async |sp: JobSpec| s.tp.plan(&sp).await.unwrap_err().to_string();
    let hp = |f: fn(&mut trainpod::script::Hyperparameters)| {
        let mut h = trainpod::script::Hyperparameters::for_method(trainpod::script::Method::Lora);
        f(&mut h);
        Some(h)
    };
    let both = JobSpec {
        eval_dataset: Some(DatasetRef::App { id: "chat".into() }),
        hyperparameters: hp(|h| h.eval_fraction = 0.1),
        ..spec("eval-1")
    };
    assert!(refused(both).await.contains("not both"));
    let volume_only = JobSpec {
        eval_dataset: Some(DatasetRef::Volume {
            key: "eval.jsonl".into(),
            bytes: 10,
            sha256: "ab".repeat(32),
        }),
        ..spec("eval-2")
    };
    assert!(refused(volume_only).await.contains("network volume"));
    let patience_alone = JobSpec {
        hyperparameters: hp(|h| h.early_stopping_patience = 3),
        ..spec("eval-3")
    };
    let err = refused(patience_alone).await;
    assert!(
        err.contains("early_stopping_patience") && err.contains("eval_fraction"),
        "{err}"
    );
    let too_much = JobSpec {
        hyperparameters: hp(|h| h.eval_fraction = 0.9),
        ..spec("eval-4")
    };
    assert!(refused(too_much).await.contains("eval_fraction"));
    // A held-out share is planned: the rows it holds out, and where checkpoints are kept.
    let fine = JobSpec {
        hyperparameters: hp(|h| {
            h.eval_fraction = 0.25;
            h.early_stopping_patience = 2;
        }),
        ..spec("eval-5")
    };
    let plan = s.tp.plan(&fine).await.unwrap();
    assert_eq!(plan.training.eval_rows, plan.dataset.rows.div_ceil(4));
    assert_eq!(plan.training.early_stopping_patience, 2);
    assert_eq!(
        plan.training.checkpoints,
        trainpod::sdk::CheckpointStore::App
    );
}

#[tokio::test]
async fn plan_refuses_what_would_fail_before_anything_is_spent() {
    let s = setup("refuse").await;
    let bad = |f: fn(&mut JobSpec)| {
        let mut sp = spec("refuse-1");
        f(&mut sp);
        sp
    };
    assert_eq!(
        kind(s.tp.plan(&bad(|s| s.budget_usd = 0.0)).await),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(s.tp.plan(&bad(|s| s.job_id = Some("../x".into()))).await),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(
            s.tp.plan(&bad(|s| s.gpus = vec!["NVIDIA Imaginary".into()]))
                .await
        ),
        ErrorKind::InvalidInput
    );
    let too_big = bad(|s| {
        s.params_b = Some(400.0);
        s.method = trainpod::script::Method::Full;
    });
    let err = s.tp.plan(&too_big).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.message().contains("GB"), "{err}");
    assert_eq!(
        kind(s.tp.plan(&bad(|s| s.model = "/models/mine".into())).await),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(
            s.tp.plan(&bad(|s| s.dataset = DatasetRef::App {
                id: "missing".into()
            }))
            .await
        ),
        ErrorKind::DatasetNotFound
    );
    let err =
        s.tp.plan(&bad(|s| {
            s.dataset = DatasetRef::App {
                id: "broken".into(),
            }
        }))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DatasetInvalid);
    assert!(err.message().contains("2"), "names the bad line: {err}");
    assert_eq!(
        kind(
            s.tp.plan(&bad(|s| s.image = Some("nvidia/cuda:12.4.0-base".into())))
                .await
        ),
        ErrorKind::InvalidInput
    );

    // A revoked key is found by plan's one authenticated call.
    let wrong = Trainpod::builder()
        .ignore_env()
        .local_provider(s.emu.base_url(), "rpa_not_a_key")
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url("memory:")
        .build()
        .await
        .unwrap();
    let url = DatasetRef::Url {
        url: "https://93.184.215.14/d.jsonl".into(),
        bytes: 10,
        sha256: "a".repeat(64),
    };
    let err = wrong
        .plan(&JobSpec::new("u", "Qwen/Qwen2.5-0.5B", url, 1.0))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthInvalid);
    assert_eq!(s.emu.pod_count(), 0);
}

#[tokio::test]
async fn the_builder_refuses_a_missing_key_and_an_app_a_pod_cannot_reach() {
    let keys = KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap();
    let no_key = Trainpod::builder()
        .ignore_env()
        .signing_keys(keys.clone())
        .store_url("memory:");
    assert_eq!(kind(no_key.build().await), ErrorKind::AuthInvalid);
    let loopback = Trainpod::builder()
        .ignore_env()
        .runpod_api_key("rpa_x")
        .app_url("http://localhost:3000")
        .signing_keys(keys)
        .store_url("memory:");
    let err = loopback.build().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UrlUnreachableFromPod);
    assert!(err.message().contains("tunnel"), "{err}");
}

#[tokio::test]
async fn deploy_after_a_5xx_after_create_makes_one_pod_and_deploying_again_changes_nothing() {
    let s = setup("deploy").await;
    let plan = s.tp.plan(&spec("deploy-1")).await.unwrap();
    s.emu.faults(|f| f.fail_after_create = 1);
    let job = s.tp.deploy(&plan).await.unwrap();
    assert_eq!(job.state, JobState::Provisioning);
    let pod = job.pod_id.clone().unwrap();
    assert_eq!(s.emu.pod_count(), 1);
    let again = s.tp.deploy(&plan).await.unwrap();
    assert_eq!(again.pod_id.as_deref(), Some(pod.as_str()));
    assert_eq!(s.emu.pod_count(), 1);
    // The pod carries the bundle and no account key.
    let created = s.tp.runpod().get_pod(&pod).await.unwrap();
    assert_eq!(created.name, "trainpod-deploy-1");
    assert!(created.env.contains_key("TRAINPOD_BUNDLE"));
    assert!(!created.env.values().any(|v| v.contains(ACCOUNT_KEY)));
    assert!((job.price_per_hour - plan.gpu.price_per_hour).abs() < 1e-9);
    assert_eq!(job.deadline_unix, T0 + plan.deadline_secs);
}

#[tokio::test]
async fn a_job_runs_to_succeeded_through_its_metric_batches() {
    for store in stores().await {
        let job = unique_id("life");
        lifecycle(setup_on("life", &store).await, &job).await;
    }
}

async fn lifecycle(s: Setup, id: &str) {
    let plan = s.tp.plan(&spec(id)).await.unwrap();
    let job = s.tp.deploy(&plan).await.unwrap();
    let pod = job.pod_id.unwrap();
    let mut follow = s.tp.follow(id);
    let stages = ["preflight", "dataset", "training"];
    let events: Vec<_> = stages
        .iter()
        .enumerate()
        .map(|(i, st)| event(i as u64 + 1, T0 + 10, "stage", json!({"stage": st})))
        .chain([event(
            4,
            T0 + 20,
            "log",
            json!({"source": "trainer", "data": {"step": 3, "max_steps": 6, "loss": 2.0}}),
        )])
        .collect();
    let (auth, body) = batch(&s.tp, id, 1, 1, json!(events));
    s.clock.set(T0 + 30);
    let out = s.tp.ingest_metrics(id, Some(&auth), &body).await.unwrap();
    assert_eq!(out.job.state, JobState::Training);
    let status = s.tp.status(id).await.unwrap();
    assert_eq!((status.step, status.total_steps), (Some(3), Some(6)));
    assert!((status.progress - 0.5).abs() < 1e-9);
    assert_eq!(status.eta_secs, Some(30), "30 s for 3 steps, 3 to go");
    assert!((status.cost_usd - plan.gpu.price_per_hour * 30.0 / 3600.0).abs() < 1e-9);

    // A run at twice the rule of thumb's throughput: plausible, so later plans use it.
    let (rule, _) =
        trainpod::sdk::estimate::effective_tflops(&plan.gpu.gpu_id, plan.spec.method, &[]);
    let runtime_s = plan.estimate.training_flops / (2.0 * rule * 1e12);
    let done = vec![
        event(
            5,
            T0 + 40,
            "result",
            json!({"source": "trainer", "data": {"runtime_s": runtime_s, "train_loss": 1.2}}),
        ),
        event(
            6,
            T0 + 41,
            "final",
            json!({"stage": "done", "data": {"status": "succeeded", "exit_code": 0}}),
        ),
    ];
    let (auth, body) = batch(&s.tp, id, 1, 2, json!(done));
    let out = s.tp.ingest_metrics(id, Some(&auth), &body).await.unwrap();
    assert!(out.terminate_pod);
    assert_eq!(out.job.state, JobState::Succeeded);
    // The final status terminated the pod within the same call.
    assert_eq!(s.emu.pod_status(&pod), Some("TERMINATED"));
    // The measured throughput now drives the next plan's training estimate.
    let next =
        s.tp.plan(&JobSpec {
            gpus: vec![plan.gpu.gpu_id.clone()],
            ..spec(&format!("{id}-next"))
        })
        .await
        .unwrap();
    assert!(
        matches!(
            next.estimate.throughput,
            trainpod::sdk::estimate::ThroughputSource::Measured { samples: 1 }
        ),
        "{:?}",
        next.estimate.throughput
    );
    // What the local provider's pods measure is kept apart from RunPod's GPUs.
    let kept =
        s.tp.store()
            .throughput(&format!("local:{}", plan.gpu.gpu_id), "lora", 5)
            .await
            .unwrap();
    assert_eq!(kept.len(), 1);
    assert!(
        s.tp.store()
            .throughput(&plan.gpu.gpu_id, "lora", 5)
            .await
            .unwrap()
            .is_empty()
    );

    let mut seen = Vec::new();
    while let Some(update) = follow.next().await.unwrap() {
        seen.push(update);
    }
    let last = seen.last().unwrap();
    assert!(
        matches!(last, trainpod::sdk::FollowUpdate::Status(st) if st.state == JobState::Succeeded)
    );
    let n_events = seen
        .iter()
        .filter(|u| matches!(u, trainpod::sdk::FollowUpdate::Event(_)))
        .count();
    assert_eq!(n_events, 6);
}

#[tokio::test]
async fn replayed_batches_are_taken_once_and_a_conflicting_one_is_refused() {
    let s = setup("replay").await;
    let plan = s.tp.plan(&spec("replay-1")).await.unwrap();
    s.tp.deploy(&plan).await.unwrap();
    let (auth, body) = batch(
        &s.tp,
        "replay-1",
        1,
        1,
        json!([event(1, T0, "heartbeat", json!({}))]),
    );
    assert!(
        !s.tp
            .ingest_metrics("replay-1", Some(&auth), &body)
            .await
            .unwrap()
            .replay
    );
    assert!(
        s.tp.ingest_metrics("replay-1", Some(&auth), &body)
            .await
            .unwrap()
            .replay
    );
    let (auth, other) = batch(
        &s.tp,
        "replay-1",
        1,
        1,
        json!([event(1, T0 + 1, "heartbeat", json!({}))]),
    );
    assert_eq!(
        kind(s.tp.ingest_metrics("replay-1", Some(&auth), &other).await),
        ErrorKind::SequenceConflict
    );
    assert_eq!(
        kind(s.tp.ingest_metrics("replay-1", None, &body).await),
        ErrorKind::TokenMissing
    );
    assert_eq!(
        kind(s.tp.ingest_metrics("replay-1", Some(&auth), b"{").await),
        ErrorKind::InvalidInput
    );
}

#[tokio::test]
async fn cancel_then_retry_starts_a_new_attempt_that_old_tokens_cannot_touch() {
    for store in stores().await {
        let job = unique_id("retry");
        cancel_and_retry(setup_on("retry", &store).await, &job).await;
    }
}

async fn cancel_and_retry(s: Setup, id: &str) {
    let plan = s.tp.plan(&spec(id)).await.unwrap();
    let first = s.tp.deploy(&plan).await.unwrap();
    assert_eq!(
        kind(s.tp.retry(id).await),
        ErrorKind::InvalidState,
        "a live job is cancelled first"
    );
    let cancelled = s.tp.cancel(id).await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    let old_pod = first.pod_id.unwrap();
    assert_eq!(s.emu.pod_status(&old_pod), Some("TERMINATED"));
    assert_eq!(
        s.tp.cancel(id).await.unwrap().state,
        JobState::Cancelled,
        "cancel is idempotent"
    );

    s.clock.advance(60);
    let second = s.tp.retry(id).await.unwrap();
    assert_eq!((second.attempt, second.state), (2, JobState::Provisioning));
    let new_pod = second.pod_id.clone().unwrap();
    assert_ne!(new_pod, old_pod);
    assert_eq!(
        s.tp.runpod().get_pod(&new_pod).await.unwrap().name,
        format!("trainpod-{id}.2")
    );
    assert_eq!(second.deadline_unix, T0 + 60 + plan.deadline_secs);
    let (auth, body) = batch(
        &s.tp,
        id,
        1,
        1,
        json!([event(1, T0, "heartbeat", json!({}))]),
    );
    assert_eq!(
        kind(s.tp.ingest_metrics(id, Some(&auth), &body).await),
        ErrorKind::TokenScopeMismatch
    );
    let (auth, body) = batch(
        &s.tp,
        id,
        2,
        1,
        json!([event(1, T0 + 61, "heartbeat", json!({}))]),
    );
    assert_eq!(
        s.tp.ingest_metrics(id, Some(&auth), &body)
            .await
            .unwrap()
            .job
            .attempt,
        2
    );
    assert_eq!(kind(s.tp.status("nope").await), ErrorKind::NotFound);
    assert_eq!(kind(s.tp.cancel("../etc").await), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn reconcile_ends_stale_late_and_orphan_pods_with_their_reasons() {
    let s = setup("reconcile").await;
    let mut jobs = Vec::new();
    for name in ["stale", "late"] {
        let plan =
            s.tp.plan(&JobSpec {
                max_hours: Some(1.0),
                ..spec(name)
            })
            .await
            .unwrap();
        jobs.push(s.tp.deploy(&plan).await.unwrap());
    }
    let orphan = create_pod(&emulator_client(&s.emu), "trainpod-ghost", None).await;
    // Both report once; then only the late one keeps reporting.
    for (job, n, at) in [
        ("stale", 1, T0 + 10),
        ("late", 1, T0 + 10),
        ("late", 2, T0 + 650),
    ] {
        s.clock.set(at);
        let (auth, body) = batch(
            &s.tp,
            job,
            1,
            n,
            json!([event(1, at, "heartbeat", json!({}))]),
        );
        s.tp.ingest_metrics(job, Some(&auth), &body).await.unwrap();
    }
    s.clock.set(T0 + 700);
    let mut actions = s.tp.reconcile().await.unwrap();
    s.clock.set(T0 + 3601);
    actions.extend(s.tp.reconcile().await.unwrap());
    let reasons: Vec<_> = actions
        .iter()
        .map(|a| (a.job_id.as_deref(), a.reason, a.job_state))
        .collect();
    // The stale job ended long enough before the second pass for its final bill to be read.
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    for expected in [
        (Some("stale"), "stale_heartbeat", Some(JobState::Failed)),
        (None, "orphan", None),
        (Some("late"), "deadline", Some(JobState::TimedOut)),
        (Some("stale"), "billed", None),
    ] {
        assert!(reasons.contains(&expected), "{reasons:?}");
    }
    assert_eq!(s.emu.pod_status(&orphan), Some("TERMINATED"));
    for job in &jobs {
        assert_eq!(
            s.emu.pod_status(job.pod_id.as_ref().unwrap()),
            Some("TERMINATED")
        );
    }
    assert_eq!(s.tp.status("late").await.unwrap().state, JobState::TimedOut);
    assert!(
        s.tp.reconcile().await.unwrap().is_empty(),
        "each pod is acted on once"
    );
}

#[tokio::test]
async fn without_an_app_the_events_come_back_through_the_pod_log() {
    let emu = Emulator::start().await.unwrap();
    let tp = Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url("memory:")
        .follow_interval(std::time::Duration::from_millis(20))
        // The app's clock near the events' times: a time a day away is not taken.
        .clock(Arc::new(ManualClock::new(T0)))
        .build()
        .await
        .unwrap();
    let data = DatasetRef::Url {
        url: "https://93.184.215.14/chat.jsonl".into(),
        bytes: 1000,
        sha256: "ab".repeat(32),
    };
    let spec = JobSpec {
        job_id: Some("logs-1".into()),
        ..JobSpec::new("u", "Qwen/Qwen2.5-0.5B", data, 1.0)
    };
    let job = tp.deploy(&tp.plan(&spec).await.unwrap()).await.unwrap();
    let pod = job.pod_id.unwrap();
    let line = |e: serde_json::Value| format!("TRAINPOD_EVENT {e}");
    emu.push_log(&pod, "installing dependencies");
    emu.push_log(
        &pod,
        &line(event(1, T0, "stage", json!({"stage": "training"}))),
    );
    emu.push_log(
        &pod,
        &line(event(
            1,
            T0 + 1,
            "log",
            json!({"source": "trainer", "data": {"step": 2, "max_steps": 4, "loss": 1.5}}),
        )),
    );
    // A log line is no more trusted than a posted batch: a time far from the app's clock, a
    // key given twice or an integer no binding carries is not read.
    emu.push_log(
        &pod,
        &line(event(
            7,
            T0 + 3 * 86_400,
            "log",
            json!({"source": "trainer", "data": {"step": 3}}),
        )),
    );
    emu.push_log(
        &pod,
        r#"TRAINPOD_EVENT {"n":8,"source":"trainer","type":"log","ts":1900000001,"data":{"step":3,"step":4}}"#,
    );
    emu.push_log(
        &pod,
        r#"TRAINPOD_EVENT {"n":9,"source":"trainer","type":"log","ts":1900000001,"data":{"step":9007199254740993}}"#,
    );
    assert_eq!(tp.pull_log_events("logs-1").await.unwrap(), 2);
    assert_eq!(
        tp.pull_log_events("logs-1").await.unwrap(),
        0,
        "reading again counts nothing twice"
    );
    let status = tp.status("logs-1").await.unwrap();
    assert_eq!(
        (status.state, status.step, status.loss),
        (JobState::Training, Some(2), Some(1.5))
    );
    emu.push_log(
        &pod,
        &line(event(
            2,
            T0 + 2,
            "final",
            json!({"data": {"status": "succeeded", "exit_code": 0}}),
        )),
    );
    let mut follow = tp.follow("logs-1");
    let mut last = None;
    while let Some(update) = follow.next().await.unwrap() {
        last = Some(update);
    }
    assert!(
        matches!(last, Some(trainpod::sdk::FollowUpdate::Status(s)) if s.state == JobState::Succeeded)
    );
    assert_eq!(
        emu.pod_status(&pod),
        Some("TERMINATED"),
        "the final status ended the pod"
    );
}

#[tokio::test]
async fn render_script_shows_what_deploy_sends_with_its_credentials_hidden() {
    let s = setup("render").await;
    let plan = s.tp.plan(&spec("render-1")).await.unwrap();
    let planned = s.tp.store().get_job("render-1").await.unwrap();
    let rendered = s.tp.render_script(&plan).await.unwrap();
    assert_eq!(rendered.start_command, trainpod::script::START_COMMAND);
    assert_eq!(rendered.env, [trainpod::script::BUNDLE_ENV]);
    assert!(rendered.bytes > 0 && rendered.bytes <= trainpod::script::MAX_BUNDLE_BYTES);
    let names: Vec<&str> = rendered.files.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"bootstrap.sh") && names.contains(&"config.json"));
    let file = |name: &str| &rendered.files.iter().find(|f| f.name == name).unwrap().text;
    // The config is the deploy's (this job, its model, the app's routes), tokens replaced.
    let config: serde_json::Value = serde_json::from_str(file("config.json")).unwrap();
    assert_eq!(config["job_id"], "render-1");
    assert_eq!(config["training"]["model"], "Qwen/Qwen2.5-0.5B");
    assert_eq!(config["telemetry"]["token"], trainpod::script::REDACTED);
    assert_eq!(config["artifacts"]["token"], trainpod::script::REDACTED);
    assert!(
        file("values.txt").contains(&format!("metrics_token={}\n", trainpod::script::REDACTED))
    );
    // No token issued by these keys is anywhere in the rendering: they all start alike
    // (version, key id, and the encoded opening of their claims).
    let issued =
        s.tp.tokens()
            .issue(&IssueRequest::new(
                Purpose::MetricsWrite,
                "user-1",
                "render-1",
            ))
            .unwrap();
    let parts: Vec<&str> = issued.token.expose().split('.').collect();
    let prefix = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..8]);
    for f in &rendered.files {
        assert!(!f.text.contains(&prefix), "{} holds a token", f.name);
    }
    assert!(!format!("{rendered:?}").contains(&prefix));
    // Rendering created nothing: no pod, and the job is as plan() stored it, queued.
    assert_eq!(s.emu.pod_count(), 0);
    assert_eq!(s.tp.store().get_job("render-1").await.unwrap(), planned);
    assert_eq!(
        s.tp.status("render-1").await.unwrap().state,
        JobState::Queued
    );
}

#[tokio::test]
async fn the_pod_script_trains_with_the_plans_gpus_and_nodes() {
    let s = setup("render-shape").await;
    let config = |rendered: &trainpod::script::RenderedScript| -> serde_json::Value {
        let file = rendered.files.iter().find(|f| f.name == "config.json");
        serde_json::from_str(&file.unwrap().text).unwrap()
    };
    let plan = s.tp.plan(&spec("shape-1")).await.unwrap();
    let runtime = &config(&s.tp.render_script(&plan).await.unwrap())["runtime"];
    assert_eq!(
        (&runtime["nodes"], &runtime["gpus_per_node"]),
        (&1.into(), &1.into())
    );
    let wide = JobSpec {
        gpu_count: 2,
        nodes: 3,
        ..spec("shape-2")
    };
    let plan = s.tp.plan(&wide).await.unwrap();
    let runtime = &config(&s.tp.render_script(&plan).await.unwrap())["runtime"];
    assert_eq!(
        (&runtime["nodes"], &runtime["gpus_per_node"]),
        (&3.into(), &2.into())
    );
}

#[tokio::test]
async fn inspect_dataset_reports_rows_and_errors_of_a_local_file() {
    let s = setup("inspect").await;
    let dir = fresh_dir("sdk-inspect-files");
    let good = dir.join("good.jsonl");
    std::fs::write(&good, format!("{CHAT}\n").repeat(3)).unwrap();
    let report = s.tp.inspect_dataset(&good, 20).await.unwrap();
    assert!(report.is_valid());
    assert_eq!(report.rows, 3);
    assert_eq!(report.bytes, std::fs::metadata(&good).unwrap().len());
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, format!("{CHAT}\nnot json\n{CHAT}\n{{}}\n")).unwrap();
    let report = s.tp.inspect_dataset(&bad, 1).await.unwrap();
    assert!(!report.is_valid());
    assert_eq!((report.rows, report.error_count), (2, 2));
    assert_eq!(report.errors.len(), 1, "only max_errors are kept");
    assert_eq!(report.errors[0].line, 2);
    let missing = s.tp.inspect_dataset(&dir.join("missing.jsonl"), 20).await;
    assert_eq!(kind(missing), ErrorKind::DatasetNotFound);
}
