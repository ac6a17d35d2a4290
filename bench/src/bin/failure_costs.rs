//! What each of RunPod's failure modes costs, on the local provider with the real generated
//! script and a real (tiny) training run: one job per fault profile, each against a successful
//! job measured in the same run. For each: the pod-seconds billed after the job reached its final
//! state, the seconds the job stayed open after its pod was gone or useless, and what the failed
//! job cost as a share of the successful one. A reconciler runs every `RECONCILE_EVERY` seconds,
//! as an app's cron would. Prints a line per job, then one JSON line per profile.
//!
//!   failure_costs [PROFILE,...]     (needs TRAINPOD_TRAIN_PYTHON and the tiny model's cache)

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // a benchmark: it prints, and a failure ends it

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use trainpod::jobs::{JobState, ReconcilePolicy};
use trainpod::script::{Hyperparameters, Method, PodRuntime};
use trainpod::sdk::{DatasetRef, JobSpec, Trainpod};
use trainpod::token::{KeyRing, generate_secret};
use trainpod_emulator::{ACCOUNT_KEY, Emulator, Options, RunPods};

/// How often the app's cron runs `reconcile`.
const RECONCILE_EVERY: Duration = Duration::from_secs(10);
/// The provision timeout this run uses (the default is 900 s): a stuck host costs this long.
const PROVISION_TIMEOUT_SECS: u64 = 120;
/// The upload reserve this run uses (the default is 600 s): an app down at the end holds the
/// pod this long.
const UPLOAD_RESERVE_SECS: u32 = 60;
const GPU: &str = "NVIDIA GeForce RTX 4090";
const FALLBACK: &str = "NVIDIA A40";

/// One profile's job: how it is set up and what ends it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Case {
    Success,
    Preflight,
    Dataset,
    OldCudaHost,
    PullBackoff,
    StuckHost,
    Vanish(&'static str),
    AppDownAtEnd,
    PodKeyRefused,
    ContainerRestarted,
    CapacityWording,
}

const CASES: &[(&str, Case)] = &[
    ("success", Case::Success),
    ("preflight", Case::Preflight),
    ("dataset", Case::Dataset),
    ("old-cuda-host", Case::OldCudaHost),
    ("pull-backoff", Case::PullBackoff),
    ("stuck-host", Case::StuckHost),
    ("pod-vanishes", Case::Vanish("pod-vanishes")),
    ("host-lost", Case::Vanish("host-lost")),
    ("zero-balance", Case::Vanish("zero-balance")),
    ("app-down-at-end", Case::AppDownAtEnd),
    ("pod-key-refused", Case::PodKeyRefused),
    ("container-restarted", Case::ContainerRestarted),
    ("capacity-machine-wording", Case::CapacityWording),
];

/// What one job cost and how it ended.
#[derive(Debug)]
struct Outcome {
    state: JobState,
    reason: String,
    /// What RunPod billed for the job's pods, USD.
    billed_usd: f64,
    /// Pod-seconds billed after the job reached its final state.
    billed_after_final_s: f64,
    /// Seconds the job stayed open after its pod was gone or useless (none: it never was).
    open_after_useless_s: Option<f64>,
    /// From deploy to the job's final state.
    seconds: f64,
    /// The pod's price, USD per hour.
    price_per_hour: f64,
}

fn repo_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let wanted: Option<Vec<String>> = std::env::args()
        .nth(1)
        .map(|a| a.split(',').map(str::to_owned).collect());
    let python = PathBuf::from(
        std::env::var("TRAINPOD_TRAIN_PYTHON").expect("set TRAINPOD_TRAIN_PYTHON (train-venv.sh)"),
    );
    let model = repo_root().join("target/quickstart/tiny-llama");
    assert!(
        model.join("config.json").exists(),
        "no tiny model at {}: run scripts/quickstart.sh once",
        model.display()
    );
    let mut results = Vec::new();
    for (name, case) in CASES {
        let run =
            *case == Case::Success || wanted.as_ref().is_none_or(|w| w.iter().any(|n| n == name));
        if !run {
            continue;
        }
        let outcome = run_case(*case, &python, &model).await;
        println!(
            "{name:26} {:>10} {:22} billed ${:.5} ({:.0} s), {:.0} s after final, open {} after useless",
            outcome.state.as_str(),
            outcome.reason,
            outcome.billed_usd,
            outcome.billed_usd / outcome.price_per_hour * 3600.0,
            outcome.billed_after_final_s,
            outcome
                .open_after_useless_s
                .map_or("-".to_owned(), |s| format!("{s:.0} s"))
        );
        results.push((*name, outcome));
    }
    let success = results
        .iter()
        .find(|(n, _)| *n == "success")
        .map(|(_, o)| o.billed_usd)
        .unwrap_or(f64::NAN);
    for (name, o) in &results {
        println!(
            "{}",
            json!({
                "benchmark": "failure costs",
                "profile": name,
                "state": o.state.as_str(),
                "reason": o.reason,
                "billed_usd": round(o.billed_usd, 6),
                "billed_after_final_s": round(o.billed_after_final_s, 1),
                "open_after_useless_s": o.open_after_useless_s.map(|s| round(s, 1)),
                "seconds": round(o.seconds, 1),
                "share_of_success_pct": round(100.0 * o.billed_usd / success, 2),
                "share_of_one_hour_pct": round(100.0 * o.billed_usd / o.price_per_hour, 3),
                "reconcile_every_s": RECONCILE_EVERY.as_secs(),
                "provision_timeout_s": PROVISION_TIMEOUT_SECS,
                "upload_reserve_s": UPLOAD_RESERVE_SECS,
            })
        );
    }
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// The pod's settings: a CPU "GPU", the training venv, the tiny run's cadence.
fn runtime(case: Case, python: &Path) -> PodRuntime {
    PodRuntime {
        python: python.display().to_string(),
        expect_gpu: false,
        // An impossible disk need fails the preflight.
        min_free_disk_gb: if case == Case::Preflight {
            1_000_000
        } else {
            1
        },
        heartbeat_s: 2,
        flush_s: 1,
        progress_s: 1,
        upload_reserve_s: UPLOAD_RESERVE_SECS,
        checkin_budget_s: 10,
        requirements: vec![],
        ..PodRuntime::default()
    }
}

fn tiny_hyperparameters() -> Hyperparameters {
    Hyperparameters {
        max_steps: 30,
        batch_size: 4,
        gradient_accumulation_steps: 1,
        learning_rate: 3e-3,
        max_length: 64,
        logging_steps: 2,
        lora_r: 4,
        lora_alpha: 8,
        gradient_checkpointing: false,
        ..Hyperparameters::for_method(Method::Lora)
    }
}

/// Answers 503 to every route while `down` is set: the app is down.
async fn maybe_down(down: Arc<AtomicBool>, req: Request, next: Next) -> Response {
    if down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    next.run(req).await
}

async fn run_case(case: Case, python: &Path, model: &Path) -> Outcome {
    static RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let work = repo_root().join(format!(
        "target/failure-costs/{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(work.join("datasets")).unwrap();
    std::fs::copy(
        repo_root().join("examples/data/chat.jsonl"),
        work.join("datasets/chat"),
    )
    .unwrap();
    let offline = [
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_DATASETS_OFFLINE",
    ];
    let emu = Emulator::start_with(Options {
        real_time: true,
        run_pods: Some(RunPods {
            shell: "bash".into(),
            workspace_root: Some(work.join("pods")),
            extra_env: offline.iter().map(|k| ((*k).into(), "1".into())).collect(),
            ..RunPods::default()
        }),
        ..Options::default()
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}", listener.local_addr().unwrap());
    let tp = Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .app_url(&app_url)
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url("memory:")
        .datasets_dir(work.join("datasets"))
        .artifacts_dir(work.join("artifacts"))
        .pod_runtime(runtime(case, python))
        .reconcile_policy(ReconcilePolicy {
            provision_timeout_secs: PROVISION_TIMEOUT_SECS,
            ..ReconcilePolicy::default()
        })
        .build()
        .await
        .unwrap();
    let tp = Arc::new(tp);
    let down = Arc::new(AtomicBool::new(false));
    let gate = down.clone();
    let router = trainpod::sdk::server::router(tp.clone()).layer(axum::middleware::from_fn(
        move |req: Request, next: Next| maybe_down(gate.clone(), req, next),
    ));
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let cron_tp = tp.clone();
    let cron = tokio::spawn(async move {
        loop {
            tokio::time::sleep(RECONCILE_EVERY).await;
            let _ = cron_tp.reconcile().await;
        }
    });

    let dataset = if case == Case::Dataset {
        // A dataset the app does not serve: the pod's download gets a 404.
        DatasetRef::Url {
            url: format!("{app_url}/trainpod/datasets/missing"),
            bytes: 100,
            sha256: "0".repeat(64),
        }
    } else {
        DatasetRef::App { id: "chat".into() }
    };
    let spec = JobSpec {
        params_b: Some(0.00002),
        gpus: vec![GPU.into(), FALLBACK.into()],
        hyperparameters: Some(tiny_hyperparameters()),
        ..JobSpec::new("bench", model.display().to_string(), dataset, 0.50)
    };
    let plan = tp.plan(&spec).await.unwrap();
    match case {
        Case::OldCudaHost => emu.profile("old-cuda-host").unwrap(),
        Case::PullBackoff => emu.profile("pull-backoff").unwrap(),
        Case::StuckHost => emu.profile("stuck-host").unwrap(),
        Case::Vanish(p) => emu.profile(p).unwrap(),
        Case::PodKeyRefused => emu.profile("pod-key-refused").unwrap(),
        Case::CapacityWording => emu.profile("capacity-machine-wording").unwrap(),
        _ => {}
    }
    let started = Instant::now();
    let job = tp.deploy(&plan).await.unwrap();
    let job_id = job.job_id.clone();
    let pod = job.pod_id.clone().unwrap();
    let mut watch = Watch::new(started, case);
    let mut killed = false;
    while watch.t_final.is_none() || watch.t_pod_end.is_none() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let status = tp.store().get_job(&job_id).await.unwrap().unwrap();
        let gone = emu.pod_vanished(&pod).is_some()
            || matches!(emu.pod_status(&pod), Some("TERMINATED") | Some("EXITED"));
        watch.see(&status.state, gone, emu.pod_vanished(&pod).is_some());
        // Down from the start of training (the tiny run ends in seconds): nothing of the end
        // of the job reaches the app, and it does not come back.
        if case == Case::AppDownAtEnd && status.state == JobState::Training {
            down.store(true, Ordering::SeqCst);
        }
        if case == Case::ContainerRestarted
            && status.state == JobState::Training
            && !killed
            && let Some(pid) = emu.local_pod(&pod).and_then(|p| p.pid)
        {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            killed = true;
            watch.t_useless = Some(started.elapsed().as_secs_f64());
        }
        if watch.t_final.is_some() && watch.billed_at_final.is_none() {
            watch.billed_at_final = Some(billed_usd(&tp, &pod).await);
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "{case:?} never ended"
        );
    }
    let status = tp.status(&job_id).await.unwrap();
    // Every pod of the job (a retry would have more): here one.
    let billed = billed_usd(&tp, &pod).await;
    let price = status.price_per_hour.max(1e-9);
    cron.abort();
    server.abort();
    drop(emu);
    let _ = std::fs::remove_dir_all(&work);
    Outcome {
        state: status.state,
        reason: status.reason,
        billed_usd: billed,
        billed_after_final_s: (billed - watch.billed_at_final.unwrap_or(billed)).max(0.0) / price
            * 3600.0,
        open_after_useless_s: watch.open_after_useless(),
        seconds: watch.t_final.unwrap_or_default(),
        price_per_hour: price,
    }
}

/// What RunPod billed for a pod so far, USD.
async fn billed_usd(tp: &Trainpod, pod: &str) -> f64 {
    tp.runpod()
        .pod_billing(pod)
        .await
        .map(|records| records.iter().map(|r| r.total_amount).sum())
        .unwrap_or(0.0)
}

/// When things happened, in seconds since the deploy.
struct Watch {
    started: Instant,
    t_final: Option<f64>,
    t_pod_end: Option<f64>,
    t_useless: Option<f64>,
    billed_at_final: Option<f64>,
}

impl Watch {
    fn new(started: Instant, case: Case) -> Watch {
        // A pod that never runs its container is useless from its creation.
        let useless_from_start = matches!(case, Case::PullBackoff | Case::StuckHost);
        Watch {
            started,
            t_final: None,
            t_pod_end: None,
            t_useless: useless_from_start.then_some(0.0),
            billed_at_final: None,
        }
    }

    fn see(&mut self, state: &JobState, pod_gone: bool, vanished: bool) {
        let now = self.started.elapsed().as_secs_f64();
        if state.is_final() && self.t_final.is_none() {
            self.t_final = Some(now);
        }
        if pod_gone && self.t_pod_end.is_none() {
            self.t_pod_end = Some(now);
            // A pod that vanished, or ended itself before its job did, was useless from then.
            let before_final = self.t_final.is_none();
            if (vanished || before_final) && self.t_useless.is_none() {
                self.t_useless = Some(now);
            }
        }
    }

    /// For a job whose pod was useless before the job ended: how long it stayed open.
    fn open_after_useless(&self) -> Option<f64> {
        let (end, useless) = (self.t_final?, self.t_useless?);
        (useless < end).then_some(end - useless)
    }
}
