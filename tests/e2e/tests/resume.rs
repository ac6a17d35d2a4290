//! Checkpoints that survive and retries that resume, with real TRL on the local provider: the
//! trainer is killed (or its pod vanishes) after a checkpoint reached the app, and the next
//! attempt starts from that checkpoint's step with its optimizer state, not from step 0; the loss
//! curve goes on from where it was; the final adapter loads and generates. A held-out split is
//! evaluated and early stopping ends a run whose held-out loss stopped improving. Needs
//! `TRAINPOD_TRAIN_PYTHON` (scripts/test.sh builds it); without it the tests say so and pass,
//! unless `TRAINPOD_REQUIRE_TRAINING=1` (as in CI).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use trainpod::clock::ManualClock;
use trainpod::jobs::{JobState, ReconcilePolicy};
use trainpod::script::{Hyperparameters, Method, PodRuntime};
use trainpod::sdk::{DatasetRef, FollowUpdate, JobSpec, Trainpod};
use trainpod::token::{KeyRing, generate_secret};
use trainpod_e2e::{eventually, fresh_dir, train_python, unique_id, unix_now};
use trainpod_emulator::{ACCOUNT_KEY, Emulator, Options, RunPods, VanishCause};

const GPU: &str = "NVIDIA GeForce RTX 4090";

struct Setup {
    tp: Arc<Trainpod>,
    emu: Emulator,
    dir: PathBuf,
    model: PathBuf,
    python: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The local provider, an app serving the pod routes, and the tiny model with its dataset.
async fn setup(name: &str, python: &str, policy: ReconcilePolicy) -> Setup {
    setup_with(name, python, policy, None).await
}

async fn setup_with(
    name: &str,
    python: &str,
    policy: ReconcilePolicy,
    clock: Option<Arc<ManualClock>>,
) -> Setup {
    let dir = fresh_dir(&unique_id(name));
    std::fs::create_dir_all(dir.join("datasets")).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/tiny_model.py");
    let model = dir.join("model");
    let status = std::process::Command::new(python)
        .arg(script)
        .args([&model, &dir.join("datasets/chat")])
        .env("HF_HUB_OFFLINE", "1")
        .status()
        .unwrap();
    assert!(status.success(), "building the tiny model failed");
    let offline = [
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_DATASETS_OFFLINE",
    ];
    let emu = Emulator::start_with(Options {
        real_time: true,
        run_pods: Some(RunPods {
            shell: "bash".into(),
            workspace_root: Some(dir.join("pods")),
            extra_env: offline.iter().map(|k| ((*k).into(), "1".into())).collect(),
            ..RunPods::default()
        }),
        ..Options::default()
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}", listener.local_addr().unwrap());
    let mut builder = Trainpod::builder();
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    let tp = builder
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .app_url(&app_url)
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url("memory:")
        .datasets_dir(dir.join("datasets"))
        .artifacts_dir(dir.join("artifacts"))
        .pod_runtime(PodRuntime {
            python: python.to_owned(),
            expect_gpu: false,
            min_free_disk_gb: 1,
            heartbeat_s: 1,
            flush_s: 1,
            progress_s: 1,
            upload_reserve_s: 120,
            requirements: Vec::new(),
            ..PodRuntime::default()
        })
        .reconcile_policy(policy)
        .follow_interval(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let tp = Arc::new(tp);
    let router = trainpod::sdk::server::router(tp.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Setup {
        tp,
        emu,
        dir,
        model,
        python: python.to_owned(),
        server,
    }
}

fn spec(s: &Setup, job: &str, hp: Hyperparameters) -> JobSpec {
    JobSpec {
        job_id: Some(job.into()),
        params_b: Some(0.00002),
        gpus: vec![GPU.into()],
        hyperparameters: Some(hp),
        ..JobSpec::new(
            "user-1",
            s.model.display().to_string(),
            DatasetRef::App { id: "chat".into() },
            1.0,
        )
    }
}

/// Steps that take long enough on a CPU for a test to act between checkpoints.
fn hyperparameters() -> Hyperparameters {
    Hyperparameters {
        max_steps: 40,
        batch_size: 2,
        gradient_accumulation_steps: 1,
        learning_rate: 3e-3,
        max_length: 64,
        logging_steps: 1,
        save_steps: 5,
        lora_r: 4,
        lora_alpha: 8,
        gradient_checkpointing: false,
        ..Hyperparameters::for_method(Method::Lora)
    }
}

/// What one attempt reported, in order.
#[derive(Default)]
struct Seen {
    events: Vec<Value>,
}

impl Seen {
    fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["type"] == kind)
    }

    /// (step, loss) of each training log.
    fn losses(&self) -> Vec<(u64, f64)> {
        self.of_type("log")
            .filter_map(|e| Some((e["data"]["step"].as_u64()?, e["data"]["loss"].as_f64()?)))
            .collect()
    }
}

/// Follows the job until `stop` says so for an event, or the job ends.
async fn follow_until(tp: &Trainpod, job: &str, mut stop: impl FnMut(&Value) -> bool) -> Seen {
    let mut seen = Seen::default();
    let mut follow = tp.follow(job);
    let run = async {
        while let Some(update) = follow.next().await.unwrap() {
            if let FollowUpdate::Event(e) = update {
                let done = stop(&e);
                seen.events.push(e);
                if done {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the job went on for over four minutes");
    seen
}

/// SIGKILLs the trainer of `pod_id` (as the out-of-memory killer would).
fn kill_trainer(pod_id: &str) -> bool {
    let mut killed = false;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("trainer.py") && cmdline.contains(pod_id) {
            let pid = entry.file_name().to_string_lossy().into_owned();
            killed |= std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status()
                .is_ok_and(|s| s.success());
        }
    }
    killed
}

async fn wait_for_state(tp: &Trainpod, job: &str, done: impl Fn(JobState) -> bool) -> JobState {
    for _ in 0..600 {
        let state = tp.status(job).await.unwrap().state;
        if done(state) {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("job {job} never reached the state awaited");
}

/// The newest step a checkpoint reached the app at.
fn checkpoint_step(e: &Value) -> Option<u64> {
    (e["type"] == "checkpoint").then(|| e["data"]["step"].as_u64())?
}

/// Loads the base model with the adapter and generates: what a user does with the result.
fn generates(python: &str, model: &Path, adapter: &Path) -> String {
    let code = r#"
import sys, torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer
base, adapter = sys.argv[1], sys.argv[2]
tok = AutoTokenizer.from_pretrained(base)
model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)
ids = tok("<|user|>Say red then blue.<|assistant|>", return_tensors="pt")
out = model.generate(**ids, max_new_tokens=4, do_sample=False)
print("generated", out.shape[1] - ids["input_ids"].shape[1])
"#;
    let out = std::process::Command::new(python)
        .args(["-c", code])
        .arg(model)
        .arg(adapter)
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The second attempt resumed from `from`: it says so, its first step follows it, and its loss
/// goes on from the first attempt's rather than starting over.
fn assert_resumed(first: &Seen, second: &Seen, from: u64) {
    let started = second.of_type("started").next().expect("no started event");
    assert_eq!(started["data"]["resumed_from"], from, "{started}");
    let losses = second.losses();
    let step = losses.first().expect("no loss after the retry").0;
    assert_eq!(step, from + 1, "the retry began at step {step}");
    // Means of three steps each, so that one batch's loss cannot decide.
    let opening = |l: &[(u64, f64)]| l.iter().take(3).map(|p| p.1).sum::<f64>() / 3.0;
    let (resumed, initial) = (opening(&losses), opening(&first.losses()));
    assert!(
        resumed < initial,
        "the retry's first losses (mean {resumed}) are not below the first attempt's ({initial})"
    );
    let result = second.of_type("result").next().expect("no result");
    assert_eq!(result["data"]["resumed_from"], from, "{result}");
    assert_eq!(result["data"]["steps"], 40, "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_the_trainer_was_killed_resumes_from_the_last_checkpoint() {
    let Some(python) = train_python() else { return };
    let s = setup("resume-killed", &python, ReconcilePolicy::default()).await;
    let plan =
        s.tp.plan(&spec(&s, "resume-1", hyperparameters()))
            .await
            .unwrap();
    let job = s.tp.deploy(&plan).await.unwrap();
    let pod_id = job.pod_id.clone().unwrap();
    let mut kept = 0;
    let first = follow_until(&s.tp, "resume-1", |e| {
        kept = checkpoint_step(e).unwrap_or(kept);
        kept >= 10
    })
    .await;
    assert!(
        kill_trainer(&pod_id),
        "no trainer process of {pod_id} to kill"
    );
    let ended = wait_for_state(&s.tp, "resume-1", JobState::is_final).await;
    assert_eq!(ended, JobState::Failed);
    let failed = s.tp.status("resume-1").await.unwrap();
    assert_eq!(
        (failed.stage.as_str(), failed.exit_code),
        ("training", Some(137))
    );
    // The checkpoint the app confirmed is the last one sent before the kill, or a later one.
    let kept_steps: Vec<u64> = first.events.iter().filter_map(checkpoint_step).collect();

    let retried = s.tp.retry("resume-1").await.unwrap();
    assert_eq!(retried.attempt, 2);
    let second = follow_until(&s.tp, "resume-1", |_| false).await;
    let done = s.tp.status("resume-1").await.unwrap();
    assert_eq!(done.state, JobState::Succeeded, "{}", done.cause);
    let from = second
        .of_type("started")
        .next()
        .and_then(|e| e["data"]["resumed_from"].as_u64())
        .expect("the retry did not resume");
    assert!(
        from >= *kept_steps.last().unwrap() && from % 5 == 0,
        "resumed from {from}; checkpoints seen {kept_steps:?}"
    );
    assert_resumed(&first, &second, from);
    let adapter = s.dir.join("adapter");
    s.tp.download_artifacts("resume-1", &adapter).await.unwrap();
    assert_eq!(generates(&s.python, &s.model, &adapter), "generated 4");
    // The app keeps one checkpoint per attempt: the older ones went once a newer was whole.
    let kept_dirs = std::fs::read_dir(s.dir.join("artifacts/resume-1/1/checkpoints"))
        .unwrap()
        .count();
    assert_eq!(kept_dirs, 1);
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_pod_is_retried_by_the_reconciler_and_resumes() {
    let Some(python) = train_python() else { return };
    let policy = ReconcilePolicy {
        retry_interrupted: true,
        ..ReconcilePolicy::default()
    };
    // RunPod's listing lags behind a new pod: one missing from it is judged gone only after a
    // grace, which this clock (real time plus `ahead`) lets the test pass at once.
    let clock = Arc::new(ManualClock::new(unix_now() as u64));
    let ahead = Arc::new(AtomicU64::new(0));
    let ticking = {
        let (clock, ahead) = (clock.clone(), ahead.clone());
        tokio::spawn(async move {
            loop {
                clock.set(unix_now() as u64 + ahead.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let s = setup_with("resume-vanished", &python, policy, Some(clock.clone())).await;
    // A held-out share of the dataset, evaluated as the run goes and after it resumed.
    let hp = Hyperparameters {
        eval_fraction: 0.2,
        eval_steps: 10,
        ..hyperparameters()
    };
    let plan = s.tp.plan(&spec(&s, "resume-2", hp)).await.unwrap();
    assert_eq!(plan.training.eval_rows, 13);
    let job = s.tp.deploy(&plan).await.unwrap();
    let pod_id = job.pod_id.clone().unwrap();
    let first = follow_until(&s.tp, "resume-2", |e| checkpoint_step(e) >= Some(10)).await;
    assert!(s.emu.vanish_pod(&pod_id, VanishCause::Host));
    let gone = eventually(Duration::from_secs(15), || {
        s.emu.local_pod(&pod_id).is_none_or(|p| p.pid.is_none())
    })
    .await;
    assert!(gone, "pod {pod_id} still has a process");
    ahead.store(120, Ordering::Relaxed);
    clock.set(unix_now() as u64 + 120);
    let actions = s.tp.reconcile().await.unwrap();
    let reasons: Vec<&str> = actions.iter().map(|a| a.reason).collect();
    assert!(reasons.contains(&"pod_vanished"), "{reasons:?}");
    let retried = actions
        .iter()
        .find(|a| a.reason == "retried")
        .expect("no retry");
    assert!(retried.error.is_none(), "{:?}", retried.error);
    assert_eq!(s.tp.status("resume-2").await.unwrap().attempt, 2);
    let second = follow_until(&s.tp, "resume-2", |_| false).await;
    let done = s.tp.status("resume-2").await.unwrap();
    assert_eq!(done.state, JobState::Succeeded, "{}", done.cause);
    let from = second
        .of_type("started")
        .next()
        .and_then(|e| e["data"]["resumed_from"].as_u64())
        .expect("the retry did not resume");
    assert!(from >= 10, "resumed from {from}");
    assert_resumed(&first, &second, from);
    assert!(done.eval_loss.is_some(), "no held-out loss kept");
    ticking.abort();
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_stopping_ends_a_run_whose_held_out_loss_stopped_improving() {
    let Some(python) = train_python() else { return };
    let s = setup("early-stop", &python, ReconcilePolicy::default()).await;
    // A second dataset to evaluate on, served by the app beside the first.
    let rows = std::fs::read_to_string(s.dir.join("datasets/chat")).unwrap();
    let held: Vec<&str> = rows.lines().skip(48).collect();
    std::fs::write(s.dir.join("datasets/chat-eval"), held.join("\n") + "\n").unwrap();
    // A learning rate this high soon stops helping the held-out loss.
    let hp = Hyperparameters {
        max_steps: 0,
        epochs: 6.0,
        learning_rate: 0.3,
        save_steps: 0,
        eval_steps: 2,
        early_stopping_patience: 2,
        ..hyperparameters()
    };
    let spec = JobSpec {
        eval_dataset: Some(DatasetRef::App {
            id: "chat-eval".into(),
        }),
        ..spec(&s, "early-1", hp)
    };
    let plan = s.tp.plan(&spec).await.unwrap();
    assert_eq!(plan.training.eval_rows, 16);
    assert_eq!(plan.eval_dataset.as_ref().map(|d| d.rows), Some(16));
    s.tp.deploy(&plan).await.unwrap();
    let seen = follow_until(&s.tp, "early-1", |_| false).await;
    let done = s.tp.status("early-1").await.unwrap();
    assert_eq!(done.state, JobState::Succeeded, "{}", done.cause);
    let evals: Vec<(u64, f64)> = seen
        .of_type("log")
        .filter_map(|e| {
            Some((
                e["data"]["step"].as_u64()?,
                e["data"]["eval_loss"].as_f64()?,
            ))
        })
        .collect();
    let result = &seen.of_type("result").next().expect("no result")["data"];
    assert_eq!(result["stopped_early"], true, "{result}");
    let best = evals.iter().map(|e| e.1).fold(f64::INFINITY, f64::min);
    assert_eq!(result["eval_loss"].as_f64(), Some(best), "{evals:?}");
    assert_eq!(done.eval_loss, Some(best));
    // Patience 2: the run ended two evaluations after its best one.
    let best_at = evals.iter().position(|e| e.1 == best).unwrap();
    assert_eq!(evals.len(), best_at + 3, "{evals:?}");
    let steps = result["steps"].as_u64().unwrap();
    assert!(
        steps < done.total_steps.unwrap(),
        "{steps} of {:?}",
        done.total_steps
    );
    drop(s);
}
