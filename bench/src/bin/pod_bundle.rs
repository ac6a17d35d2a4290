//! Prints the encoded bundle of a command job for bench/deps.sh and bench/model_cache.sh, which
//! run it as the pod does (`bash -c "$START_COMMAND"` with `TRAINPOD_BUNDLE` set) and time its
//! dependency or model stage from the pod log.
//!
//! Usage: pod_bundle --python PY --dataset FILE [--uv UV] [--requirements pinned|none]
//! [--model ID] [--cache-dir DIR]. Without `--model` it is a command job (`true`); with it an
//! SFT job of two LoRA steps on that Hub model. No telemetry: the events stay in the pod log.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use sha2::{Digest, Sha256};
use trainpod::script::{
    Artifacts, BUNDLE_ENV, DatasetSource, Hyperparameters, Method, PINNED_STACK, PodRuntime,
    PodScript, Training, generate,
};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut python, mut dataset, mut uv, mut model, mut cache_dir) =
        (None, None, None, None, None);
    let mut pinned = true;
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_default();
        match arg.as_str() {
            "--python" => python = Some(value),
            "--dataset" => dataset = Some(value),
            "--uv" => uv = Some(value),
            "--model" => model = Some(value),
            "--cache-dir" => cache_dir = Some(value),
            "--requirements" => pinned = value == "pinned",
            other => {
                eprintln!("pod_bundle: unknown argument {other}");
                return ExitCode::FAILURE;
            }
        }
    }
    let (Some(python), Some(dataset)) = (python, dataset) else {
        eprintln!("pod_bundle: --python and --dataset are required");
        return ExitCode::FAILURE;
    };
    let data = match std::fs::read(&dataset) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("pod_bundle: {dataset}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let training = match model {
        Some(model) => Training::Sft {
            model,
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
        None => Training::Command {
            argv: vec!["true".into()],
        },
    };
    let script = PodScript {
        version: 1,
        job_id: "bench-fetch".into(),
        attempt: 1,
        issued_at: now,
        deadline_unix: now + 3600,
        telemetry: None,
        dataset: DatasetSource::Path {
            path: dataset,
            bytes: data.len() as u64,
            sha256: Sha256::digest(&data)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        },
        training,
        artifacts: Artifacts::None,
        runtime: PodRuntime {
            // Nothing answers here: the bench stops the pod once its final status is logged.
            api_base: "http://127.0.0.1:9/v1".into(),
            python,
            expect_gpu: false,
            min_free_disk_gb: 0,
            checkin_budget_s: 0,
            upload_reserve_s: 30,
            requirements: if pinned {
                PINNED_STACK.iter().map(|s| (*s).to_owned()).collect()
            } else {
                vec![]
            },
            uv,
            cache_dir,
            ..PodRuntime::default()
        },
        eval_dataset: None,
        resume: None,
    };
    match generate(&script) {
        Ok(bundle) => {
            println!("{}", bundle.env[BUNDLE_ENV]);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pod_bundle: {e}");
            ExitCode::FAILURE
        }
    }
}
