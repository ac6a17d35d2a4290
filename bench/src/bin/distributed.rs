//! The same tiny training job with one process, with two processes on one pod (a "2-GPU pod"
//! on CPU: torchrun with gloo), and on two nodes of one process each, every one on the emulator's
//! local provider with the real generated bundle and a real TRL run of the tiny model. Each job
//! trains the same steps on the same global batch (8 rows: one process of 8, or two of 4), so
//! the runs differ only in how the work is spread. For each: the time from creating the pods to
//! the first training step and to the final status, the training loop alone (rank 0's `started`
//! to its `trained`), and each node's bootstrap share (from its
//! container's start to the start of its trainer or launcher, read from the kernel's process start
//! times). Then a two-node job whose second node's host goes mid-run: the time from then to the
//! primary's final status. Prints a line per run, then one JSON line.
//!
//!   distributed [ROUNDS]     (default 3; needs TRAINPOD_TRAIN_PYTHON)

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // a benchmark: it prints, and a failure ends it

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use trainpod::runpod::{ApiKey, Client, CreatePodRequest, GpuRequest};
use trainpod::script::{
    Artifacts, DatasetSource, Hyperparameters, Method, PodRuntime, PodScript, Training, generate,
};
use trainpod_emulator::{ACCOUNT_KEY, Emulator, Options, RunPods, VanishCause, cluster_env};

/// The job's shapes: (name, nodes, processes per node, rows per process and step).
const SHAPES: [(&str, u32, u32, u32); 3] = [
    ("1 process", 1, 1, 8),
    ("2 processes, one pod", 1, 2, 4),
    ("2 nodes, 1 process each", 2, 1, 4),
];
const STEPS: u64 = 30;
/// The longest a run may take before the benchmark gives up on it.
const RUN_BOUND: Duration = Duration::from_secs(600);

fn repo_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// What one run measured.
#[derive(Debug)]
struct Run {
    first_step_s: f64,
    /// The training loop alone: rank 0's `started` to its `trained`.
    train_s: f64,
    done_s: f64,
    /// Each node's bootstrap share, node 0 first.
    bootstrap_s: Vec<f64>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(3, |r| r.parse().expect("ROUNDS is a number"));
    let python =
        std::env::var("TRAINPOD_TRAIN_PYTHON").expect("set TRAINPOD_TRAIN_PYTHON (train-venv.sh)");
    let work = repo_root().join(format!("target/distributed-bench/{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let (model, data) = tiny_model(&python, &work);
    let ticks = clock_ticks();
    let mut runs: BTreeMap<&str, Vec<Run>> = BTreeMap::new();
    let mut peer_lost = Vec::new();
    for round in 0..rounds {
        // Interleaved, so that the machine's load drifts over every shape alike.
        for (name, nodes, per_node, batch) in SHAPES {
            let dir = work.join(format!("run-{round}-{nodes}x{per_node}"));
            let run = run_job(
                &python,
                &model,
                &data,
                &dir,
                (nodes, per_node, batch),
                ticks,
            )
            .await;
            println!(
                "{name:24} first step {:6.2} s  training loop {:5.2} s  done {:6.2} s  bootstrap {}",
                run.first_step_s,
                run.train_s,
                run.done_s,
                run.bootstrap_s
                    .iter()
                    .map(|s| format!("{s:.2} s"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            runs.entry(name).or_default().push(run);
        }
        let lost = lose_a_node(&python, &model, &data, &work.join(format!("lost-{round}"))).await;
        println!("a node lost mid-run: the primary's final status {lost:.2} s later");
        peer_lost.push(lost);
    }
    let mut shapes = serde_json::Map::new();
    for (name, runs) in &runs {
        let boot: Vec<f64> = runs.iter().flat_map(|r| r.bootstrap_s.clone()).collect();
        shapes.insert(
            (*name).to_owned(),
            json!({
                "first_step_s": median(runs.iter().map(|r| r.first_step_s).collect()),
                "train_s": median(runs.iter().map(|r| r.train_s).collect()),
                "done_s": median(runs.iter().map(|r| r.done_s).collect()),
                "bootstrap_median_s": median(boot.clone()),
                "bootstrap_max_s": round2(boot.iter().copied().fold(0.0, f64::max)),
            }),
        );
    }
    let done = |name: &str| shapes[name]["done_s"].as_f64().unwrap();
    println!(
        "{}",
        json!({
            "benchmark": "distributed training",
            "rounds": rounds,
            "steps": STEPS,
            "global_batch": 8,
            "cores": std::thread::available_parallelism().map_or(0, usize::from),
            "shapes": shapes,
            "done_ratio_2_processes_vs_1": round2(done("2 processes, one pod") / done("1 process")),
            "done_ratio_2_nodes_vs_1": round2(done("2 nodes, 1 process each") / done("1 process")),
            "node_lost_to_final_median_s": median(peer_lost.clone()),
            "node_lost_to_final_max_s": round2(peer_lost.iter().copied().fold(0.0, f64::max)),
        })
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    round2(v[v.len() / 2])
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The kernel's clock ticks per second, in which `/proc/<pid>/stat` gives start times.
fn clock_ticks() -> f64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Builds the tiny model and its chat dataset (the e2e tests' builder).
fn tiny_model(python: &str, work: &Path) -> (PathBuf, PathBuf) {
    let model = work.join("model");
    let data = work.join("data.jsonl");
    let status = std::process::Command::new(python)
        .arg(repo_root().join("tests/e2e/py/tiny_model.py"))
        .args([&model, &data])
        .env("HF_HUB_OFFLINE", "1")
        .status()
        .unwrap();
    assert!(status.success(), "building the tiny model failed");
    (model, data)
}

fn script(
    python: &str,
    model: &Path,
    data: &Path,
    shape: (u32, u32, u32),
    steps: u64,
) -> PodScript {
    let (nodes, per_node, batch) = shape;
    let bytes = std::fs::read(data).unwrap();
    let now = unix_now() as u64;
    PodScript {
        version: 1,
        job_id: format!("bench-{nodes}x{per_node}"),
        attempt: 1,
        issued_at: now,
        deadline_unix: now + 900,
        // No app: the events are read from the pod's output, where the bundle writes each one.
        telemetry: None,
        dataset: DatasetSource::Path {
            path: data.to_str().unwrap().into(),
            bytes: bytes.len() as u64,
            sha256: Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        },
        training: Training::Sft {
            model: model.to_str().unwrap().into(),
            method: Method::Lora,
            hyperparameters: Hyperparameters {
                max_steps: steps,
                batch_size: batch,
                gradient_accumulation_steps: 1,
                learning_rate: 3e-3,
                max_length: 64,
                logging_steps: 10,
                lora_r: 4,
                lora_alpha: 8,
                gradient_checkpointing: false,
                ..Hyperparameters::for_method(Method::Lora)
            },
            dataset_format: None,
            eval_dataset_format: None,
        },
        artifacts: Artifacts::None,
        runtime: PodRuntime {
            python: python.into(),
            expect_gpu: false,
            min_free_disk_gb: 1,
            heartbeat_s: 5,
            flush_s: 1,
            progress_s: 1,
            upload_reserve_s: 60,
            requirements: vec![],
            nodes,
            gpus_per_node: per_node,
            ..PodRuntime::default()
        },
        resume: None,
        eval_dataset: None,
    }
}

/// A job whose pods were created at `t0`.
struct Started {
    emu: Emulator,
    pods: Vec<String>,
    t0: f64,
}

/// Creates the job's pods on a fresh local provider: one, or one per node with the cluster env.
async fn start_job(
    python: &str,
    model: &Path,
    data: &Path,
    dir: &Path,
    shape: (u32, u32, u32),
    steps: u64,
) -> Started {
    let (nodes, per_node, _) = shape;
    let offline = [
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_DATASETS_OFFLINE",
    ];
    let emu = Emulator::start_with(Options {
        run_pods: Some(RunPods {
            workspace_root: Some(dir.join("pods")),
            extra_env: offline.iter().map(|k| ((*k).into(), "1".into())).collect(),
            ..RunPods::default()
        }),
        ..Options::default()
    })
    .await
    .unwrap();
    let mut s = script(python, model, data, shape, steps);
    s.runtime.api_base = emu.base_url();
    let bundle = generate(&s).unwrap();
    let client = Client::builder_with_reqwest(ApiKey::new(ACCOUNT_KEY).unwrap())
        .unwrap()
        .base_url(emu.base_url())
        .build()
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t0 = unix_now();
    let mut pods = Vec::new();
    for rank in 0..nodes {
        let mut env = bundle.env.clone();
        if nodes > 1 {
            // Plain pods given the env a cluster's members get, every node on loopback as on
            // the local provider: the bundle's own cost, apart from the SDK's.
            env.extend(cluster_env(
                "127.0.0.1",
                port,
                "127.0.0.1",
                rank,
                nodes,
                per_node,
            ));
        }
        let request = CreatePodRequest {
            name: format!("bench-node{rank}"),
            image: trainpod::script::DEFAULT_IMAGE.into(),
            args: Some(bundle.start_command.clone()),
            env,
            gpu: Some(GpuRequest {
                id: "NVIDIA GeForce RTX 4090".into(),
                count: per_node,
                min_cuda_version: None,
            }),
            ..CreatePodRequest::default()
        };
        pods.push(client.create_pod(&request, &[]).await.unwrap().pod.id);
    }
    Started { emu, pods, t0 }
}

/// What node 0's container wrote, and the events in it.
fn events(emu: &Emulator, pod: &str) -> (String, Vec<Value>) {
    let output = std::fs::read_to_string(emu.local_pod(pod).unwrap().log_file).unwrap_or_default();
    let events = output
        .lines()
        .filter_map(|l| l.strip_prefix("TRAINPOD_EVENT "))
        .filter_map(|e| serde_json::from_str(e).ok())
        .collect();
    (output, events)
}

async fn run_job(
    python: &str,
    model: &Path,
    data: &Path,
    dir: &Path,
    shape: (u32, u32, u32),
    ticks: f64,
) -> Run {
    let Started { emu, pods, t0 } = start_job(python, model, data, dir, shape, STEPS).await;
    let starts = watch(&emu, &pods).await;
    let (output, events) = events(&emu, &pods[0]);
    let ts = |kind: &str| {
        events
            .iter()
            .find(|e| e["type"] == kind)
            .and_then(|e| e["ts"].as_f64())
            .unwrap_or_else(|| panic!("no {kind} event; the pod said:\n{output}"))
    };
    let fin = events.iter().find(|e| e["type"] == "final").unwrap();
    assert_eq!(fin["data"]["status"], "succeeded", "{output}");
    Run {
        first_step_s: ts("progress") - t0,
        train_s: ts("trained") - ts("started"),
        done_s: ts("final") - t0,
        bootstrap_s: starts
            .iter()
            .map(|(main, trainer)| (trainer - main) as f64 / ticks)
            .collect(),
    }
}

/// A two-node job whose second node's host goes mid-run: the seconds from then to the
/// primary's final status (failed, the cause naming the lost peer).
async fn lose_a_node(python: &str, model: &Path, data: &Path, dir: &Path) -> f64 {
    let job = start_job(python, model, data, dir, (2, 1, 4), 1_000_000).await;
    let end = tokio::time::Instant::now() + RUN_BOUND;
    while !events(&job.emu, &job.pods[0])
        .1
        .iter()
        .any(|e| e["type"] == "progress")
    {
        assert!(tokio::time::Instant::now() < end, "training never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let lost = unix_now();
    assert!(job.emu.vanish_pod(&job.pods[1], VanishCause::Host));
    watch(&job.emu, &job.pods).await;
    let (output, events) = events(&job.emu, &job.pods[0]);
    let fin = events.iter().find(|e| e["type"] == "final").unwrap();
    assert_eq!(fin["data"]["status"], "failed", "{output}");
    fin["ts"].as_f64().unwrap() - lost
}

/// Follows the pods until every one has terminated; returns, per pod, the start (in clock
/// ticks) of its container's main process and of its trainer (or launcher).
async fn watch(emu: &Emulator, pods: &[String]) -> Vec<(u64, u64)> {
    let mut main: Vec<Option<u64>> = vec![None; pods.len()];
    let mut trainer: Vec<Option<u64>> = vec![None; pods.len()];
    let end = tokio::time::Instant::now() + RUN_BOUND;
    loop {
        for (i, pod) in pods.iter().enumerate() {
            if main[i].is_none() {
                main[i] = emu.local_pod(pod).and_then(|p| p.pid).and_then(start_ticks);
            }
            if trainer[i].is_none() {
                trainer[i] = trainer_start(pod);
            }
        }
        let ended = pods.iter().all(|p| emu.pod_status(p) == Some("TERMINATED"));
        if ended {
            break;
        }
        assert!(tokio::time::Instant::now() < end, "the job took too long");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    main.into_iter()
        .zip(trainer)
        .map(|(m, t)| (m.expect("saw the container"), t.expect("saw the trainer")))
        .collect()
}

/// When a process started, in clock ticks since boot (`/proc/<pid>/stat`, field 22).
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(") ").next()?.split(' ').nth(19)?.parse().ok()
}

/// The earliest start of a process of `pod` (by the `RUNPOD_POD_ID` it inherits) that runs the
/// bundle's trainer.py: the trainer itself, or the launcher that starts it.
fn trainer_start(pod: &str) -> Option<u64> {
    let marker = format!("RUNPOD_POD_ID={pod}");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            if !String::from_utf8_lossy(&cmdline).contains("/bundle/trainer.py") {
                return None;
            }
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            environ
                .split(|b| *b == 0)
                .any(|v| v == marker.as_bytes())
                .then(|| start_ticks(pid))?
        })
        .min()
}
