//! The model stage on the emulator's local provider, downloading from its Hub mirror: a cold
//! job (an empty volume) against a second job on the same volume (a cache hit). Each job is the
//! real bundle (two LoRA steps of a Hub model on CPU); the model stage's time is read from the
//! pod's own events (its `stage model` event to its `stage training` event), the bytes from the
//! mirror's count. Prints one JSON line per job.
//!
//!   model_cache HUB_DIR MODEL_ID DATASET OUT_DIR [ROUNDS]   (needs TRAINPOD_TRAIN_PYTHON)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use trainpod::runpod::{ApiKey, Client, CreatePodRequest, GpuRequest};
use trainpod::script::{
    Artifacts, DatasetSource, Hyperparameters, Method, PodRuntime, PodScript, Training, generate,
};
use trainpod_emulator::{ACCOUNT_KEY, Emulator, Options, RunPods};

/// The longest a job may take before the benchmark gives up on it.
const JOB_BOUND: Duration = Duration::from_secs(900);

fn script(python: &str, model: &str, data: &Path, volume: &Path, api: &str) -> PodScript {
    let bytes = std::fs::read(data).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    PodScript {
        version: 1,
        job_id: "bench-model".into(),
        attempt: 1,
        issued_at: now,
        deadline_unix: now + 3600,
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
            model: model.into(),
            method: Method::Lora,
            hyperparameters: Hyperparameters {
                max_steps: 2,
                batch_size: 2,
                gradient_accumulation_steps: 1,
                max_length: 64,
                logging_steps: 1,
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
            api_base: api.into(),
            python: python.into(),
            expect_gpu: false,
            min_free_disk_gb: 0,
            checkin_budget_s: 0,
            upload_reserve_s: 30,
            requirements: vec![],
            cache_dir: Some(volume.to_str().unwrap().into()),
            ..PodRuntime::default()
        },
        eval_dataset: None,
        resume: None,
    }
}

/// The bootstrap's events in a container log (`TRAINPOD_EVENT {...}` lines).
fn events(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| l.strip_prefix("TRAINPOD_EVENT "))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn stage_ts(events: &[Value], stage: &str) -> Option<f64> {
    events
        .iter()
        .find(|e| e["type"] == "stage" && e["stage"] == stage)
        .and_then(|e| e["ts"].as_f64())
}

/// Runs one job on the local provider; returns its JSON line.
async fn job(emu: &Emulator, client: &Client, s: &PodScript, kind: &str) -> Value {
    let bundle = generate(s).unwrap();
    let request = CreatePodRequest {
        name: format!("bench-model-{kind}"),
        image: trainpod::script::DEFAULT_IMAGE.into(),
        args: Some(bundle.start_command.clone()),
        env: bundle.env.clone(),
        gpu: Some(GpuRequest {
            id: "NVIDIA GeForce RTX 4090".into(),
            count: 1,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    };
    let hub = emu.hub().unwrap();
    let before = hub.bytes_served();
    let pod = client.create_pod(&request, &[]).await.unwrap().pod.id;
    let started = Instant::now();
    while emu.pod_status(&pod) != Some("TERMINATED") {
        assert!(started.elapsed() < JOB_BOUND, "the {kind} job never ended");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = std::fs::read_to_string(emu.local_pod(&pod).unwrap().log_file).unwrap();
    let ev = events(&log);
    let fin = ev.iter().find(|e| e["type"] == "final");
    assert_eq!(
        fin.map(|f| f["data"]["status"].clone()),
        Some("succeeded".into()),
        "the {kind} job failed:\n{log}"
    );
    let model = ev.iter().find(|e| e["type"] == "model").unwrap();
    let (Some(from), Some(to)) = (stage_ts(&ev, "model"), stage_ts(&ev, "training")) else {
        panic!("no model or training stage event:\n{log}");
    };
    json!({
        "benchmark": "model_cache",
        "job": kind,
        "model_stage_s": ((to - from) * 1000.0).round() / 1000.0,
        "cache_hit": model["data"]["cache_hit"],
        "downloaded_bytes": model["data"]["downloaded_bytes"],
        "served_bytes": hub.bytes_served() - before,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [hub_dir, model, data, out, rest @ ..] = args.as_slice() else {
        panic!("usage: model_cache HUB_DIR MODEL_ID DATASET OUT_DIR [ROUNDS]");
    };
    let rounds: u32 = rest.first().map_or(3, |r| r.parse().unwrap());
    let python = std::env::var("TRAINPOD_TRAIN_PYTHON").expect("set TRAINPOD_TRAIN_PYTHON");
    let out = Path::new(out);
    let emu = Emulator::start_with(Options {
        run_pods: Some(RunPods {
            workspace_root: Some(out.join("pods")),
            // The dataset is a local file; only the model comes from the Hub (the mirror).
            extra_env: vec![("HF_DATASETS_OFFLINE".into(), "1".into())],
            ..RunPods::default()
        }),
        hub_dir: Some(hub_dir.into()),
        ..Options::default()
    })
    .await
    .unwrap();
    let client = Client::builder_with_reqwest(ApiKey::new(ACCOUNT_KEY).unwrap())
        .unwrap()
        .base_url(emu.base_url())
        .build()
        .unwrap();
    let data = std::fs::canonicalize(data).unwrap();
    // The Hub has every file's ETag at hand: the mirror hashes each file at its first HEAD, so
    // ask once before timing anything.
    let hub = emu.hub().unwrap().endpoint();
    for file in std::fs::read_dir(Path::new(hub_dir).join(model))
        .unwrap()
        .flatten()
    {
        let name = file.file_name().to_string_lossy().into_owned();
        let url = format!("{hub}/{model}/resolve/main/{name}");
        let ok = std::process::Command::new("curl")
            .args(["-sfI", "-o", "/dev/null", &url])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "the mirror does not serve {url}");
    }
    for round in 0..rounds {
        // A fresh network volume per round: its first job downloads, its second finds the model.
        let volume = out.join(format!("volume-{round}"));
        let _ = std::fs::remove_dir_all(&volume);
        let s = script(&python, model, &data, &volume, &emu.base_url());
        for kind in ["cold", "cache_hit"] {
            println!("{}", job(&emu, &client, &s, kind).await);
        }
    }
}
