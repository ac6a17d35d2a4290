//! The pod's fetching stages with real installers and real TRL: the dependency stage installs
//! a requirement the image lacks with uv (or pip when no uv can be had) without touching the
//! image's torch, and the model stage downloads a Hub model from the emulator's Hub mirror into
//! the cache on the job's volume, where a second job finds it and downloads no weights.
//!
//! Needs `TRAINPOD_TRAIN_PYTHON` (the pinned stack) and, for the uv case, a uv binary:
//! `TRAINPOD_UV`, or `uv` beside that Python (scripts/train-venv.sh installs it there). Without
//! them the tests say so and pass, unless `TRAINPOD_REQUIRE_TRAINING=1` (as in CI).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use trainpod::runpod::{CreatePodRequest, GpuRequest};
use trainpod::script::{
    Artifacts, DatasetSource, Endpoint, Hyperparameters, Method, PodRuntime, PodScript, Secret,
    Training, generate,
};
use trainpod::token::Purpose;
use trainpod_e2e::{
    App, PodRun, create_pod, emulator_client, fresh_dir, sha256_hex, train_python, unix_now,
    wait_for_terminate,
};
use trainpod_emulator::{Emulator, Options, RunPods};

/// How long a whole tiny job may take on a loaded machine.
const JOB_BOUND: Duration = Duration::from_secs(600);

fn required() -> bool {
    std::env::var("TRAINPOD_REQUIRE_TRAINING").is_ok_and(|v| v == "1")
}

/// A uv binary: `TRAINPOD_UV`, else the one beside the training Python.
fn uv_binary(python: &str) -> Option<String> {
    let beside = Path::new(python).with_file_name("uv");
    let found = match std::env::var("TRAINPOD_UV") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => beside
            .is_file()
            .then(|| beside.to_str().unwrap().to_owned()),
    };
    if found.is_none() {
        assert!(
            !required(),
            "no uv: set TRAINPOD_UV or run scripts/train-venv.sh (it installs uv)"
        );
        eprintln!("skipped: no uv (set TRAINPOD_UV)");
    }
    found
}

fn run_python(python: &str, args: &[&str]) -> String {
    let out = Command::new(python).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{python} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Where `import torch` resolves, and its version.
fn torch_of(python: &str) -> String {
    run_python(
        python,
        &[
            "-c",
            "import os, torch; print(os.path.realpath(torch.__file__), torch.__version__)",
        ],
    )
}

/// A fresh venv standing for the image: the training venv's packages (torch among them) are
/// its own through a `.pth`, and whatever is installed goes into the new venv, never into the
/// training venv. uv is left out of that view, so that only the bundle can name one.
fn image_python(train_python: &str, dir: &Path) -> String {
    let venv = dir.join("image-venv");
    let status = Command::new(train_python)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(status.success());
    let python = venv.join("bin/python").to_str().unwrap().to_owned();
    let purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])";
    let theirs = PathBuf::from(run_python(train_python, &["-c", purelib]));
    let ours = PathBuf::from(run_python(&python, &["-c", purelib]));
    let view = dir.join("image-packages");
    std::fs::create_dir_all(&view).unwrap();
    for entry in std::fs::read_dir(&theirs).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "uv" || name.starts_with("uv-") {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), view.join(&name)).unwrap();
    }
    std::fs::write(
        ours.join("image.pth"),
        format!(
            "import site; site.addsitedir({:?})\n",
            view.to_str().unwrap()
        ),
    )
    .unwrap();
    python
}

/// `PATH` without any directory holding a `uv`, so that only the bundle can name one.
fn path_without_uv() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .filter(|d| !Path::new(d).join("uv").exists())
        .collect::<Vec<_>>()
        .join(":")
}

const DATA: &[u8] = b"{\"text\":\"hello\"}\n";

/// A command job that needs `trainpod_probe`, which only the requirements bring.
fn deps_script(
    app: &App,
    emu: &Emulator,
    job: &str,
    python: &str,
    runtime: PodRuntime,
) -> PodScript {
    let now = unix_now() as u64;
    let token = |p, d| Secret::new(app.token(p, job, d, 3600));
    PodScript {
        version: 1,
        job_id: job.into(),
        attempt: 1,
        issued_at: now,
        deadline_unix: now + 600,
        telemetry: Some(Endpoint {
            url: format!("{}/metrics/{job}", app.base),
            token: token(Purpose::MetricsWrite, None),
        }),
        dataset: DatasetSource::Url {
            url: format!("{}/datasets/ds", app.base),
            token: Some(token(Purpose::DatasetRead, Some("ds"))),
            bytes: DATA.len() as u64,
            sha256: sha256_hex(DATA),
        },
        training: Training::Command {
            argv: vec![
                python.into(),
                "-c".into(),
                "import os, trainpod_probe as p; print('probe at', os.path.realpath(p.__file__))"
                    .into(),
            ],
        },
        artifacts: Artifacts::None,
        runtime: PodRuntime {
            api_base: emu.base_url(),
            python: python.into(),
            expect_gpu: false,
            min_free_disk_gb: 0,
            heartbeat_s: 2,
            flush_s: 1,
            progress_s: 1,
            upload_reserve_s: 30,
            checkin_budget_s: 3,
            requirements: vec!["trainpod-probe==1.0".into()],
            ..runtime
        },
        eval_dataset: None,
        resume: None,
    }
}

/// Runs the dependency case: the job succeeds, the stage event names `installer`, the probe
/// went into the image's venv (not the training venv) and torch is the one it was.
async fn install_case(job: &str, runtime: impl FnOnce(&Path) -> PodRuntime, installer: &str) {
    let Some(train) = train_python() else { return };
    let dir = fresh_dir(job);
    let python = image_python(&train, &dir);
    let wheels = dir.join("wheels");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/make_wheel.py");
    std::fs::create_dir_all(&wheels).unwrap();
    let (script, out) = (script.to_str().unwrap(), wheels.to_str().unwrap());
    run_python(&train, &[script, out, "trainpod-probe", "1.0"]);
    let torch_before = torch_of(&python);

    let app = App::start().await;
    app.state
        .lock()
        .unwrap()
        .datasets
        .insert("ds".into(), DATA.to_vec());
    let emu = Emulator::start().await.unwrap();
    let runtime = PodRuntime {
        find_links: Some(wheels.to_str().unwrap().into()),
        ..runtime(&dir)
    };
    let bundle = generate(&deps_script(&app, &emu, job, &python, runtime)).unwrap();
    let pod_id = create_pod(&emulator_client(&emu), job, Some(&bundle)).await;
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let path = path_without_uv();
    // No index: the probe comes from the wheels directory only, and a uv cannot be fetched.
    let env = [
        ("PATH", path.as_str()),
        ("PIP_NO_INDEX", "1"),
        ("UV_NO_INDEX", "1"),
    ];
    let pod = PodRun::start(&bundle, &home, &pod_id, &emu.pod_key(&pod_id), &env);
    let seen = wait_for_terminate(&emu, &pod_id, JOB_BOUND).await;
    let output = pod.output();
    pod.kill_all().await;
    assert!(seen.is_some(), "no terminate; the pod said:\n{output}");
    let events = app.state.lock().unwrap().events();
    let fin = events.iter().find(|e| e["type"] == "final").cloned();
    let fin = fin.unwrap_or_else(|| panic!("no final status; the pod said:\n{output}"));
    assert_eq!(fin["data"]["status"], "succeeded", "{output}");
    let deps = events
        .iter()
        .find(|e| e["type"] == "stage" && e["stage"] == "dependencies")
        .unwrap();
    assert_eq!(deps["data"]["installer"], installer, "{output}");
    assert!(
        output.contains(&format!("probe at {}", dir.join("image-venv").display())),
        "{output}"
    );
    assert!(
        Command::new(&train)
            .args(["-c", "import trainpod_probe"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| !s.success()),
        "the training venv is untouched"
    );
    assert_eq!(torch_of(&python), torch_before, "torch is the image's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uv_named_by_the_bundle_installs_a_missing_requirement_and_keeps_torch() {
    let Some(train) = train_python() else { return };
    let Some(uv) = uv_binary(&train) else { return };
    let runtime = |_: &Path| PodRuntime {
        uv: Some(uv),
        ..PodRuntime::default()
    };
    install_case("deps-uv", runtime, "uv").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pip_installs_when_no_uv_can_be_had() {
    // No uv on PATH, none named, none in the image's Python, and none to fetch (no index).
    let runtime = |_: &Path| PodRuntime::default();
    install_case("deps-pip", runtime, "pip").await;
}

/// The model on the mirror, as `trainpod-test/tiny-llama`.
const HUB_MODEL: &str = "trainpod-test/tiny-llama";

fn model_script(
    app: &App,
    emu: &Emulator,
    job: &str,
    python: &str,
    data: &[u8],
    model: &str,
    volume: &Path,
) -> PodScript {
    let now = unix_now() as u64;
    let token = |p, d| Secret::new(app.token(p, job, d, 3600));
    let hp = Hyperparameters {
        max_steps: 2,
        batch_size: 4,
        gradient_accumulation_steps: 1,
        max_length: 64,
        logging_steps: 1,
        lora_r: 4,
        lora_alpha: 8,
        gradient_checkpointing: false,
        ..Hyperparameters::for_method(Method::Lora)
    };
    PodScript {
        version: 1,
        job_id: job.into(),
        attempt: 1,
        issued_at: now,
        deadline_unix: now + 900,
        telemetry: Some(Endpoint {
            url: format!("{}/metrics/{job}", app.base),
            token: token(Purpose::MetricsWrite, None),
        }),
        dataset: DatasetSource::Url {
            url: format!("{}/datasets/chat", app.base),
            token: Some(token(Purpose::DatasetRead, Some("chat"))),
            bytes: data.len() as u64,
            sha256: sha256_hex(data),
        },
        training: Training::Sft {
            model: model.into(),
            method: Method::Lora,
            hyperparameters: hp,
            dataset_format: None,
            eval_dataset_format: None,
        },
        artifacts: Artifacts::None,
        runtime: PodRuntime {
            api_base: emu.base_url(),
            python: python.into(),
            expect_gpu: false,
            min_free_disk_gb: 0,
            heartbeat_s: 2,
            flush_s: 1,
            progress_s: 1,
            upload_reserve_s: 30,
            checkin_budget_s: 3,
            // The training venv has the pinned stack: nothing to install.
            requirements: vec![],
            cache_dir: Some(volume.to_str().unwrap().into()),
            ..PodRuntime::default()
        },
        eval_dataset: None,
        resume: None,
    }
}

/// One job on the local provider: returns its events and its pod's output.
async fn model_job(
    emu: &Emulator,
    job: &str,
    python: &str,
    data: &[u8],
    model: &str,
    volume: &Path,
) -> (Vec<Value>, String) {
    let app = App::start().await;
    app.state
        .lock()
        .unwrap()
        .datasets
        .insert("chat".into(), data.to_vec());
    let bundle = generate(&model_script(&app, emu, job, python, data, model, volume)).unwrap();
    let mut env: BTreeMap<String, String> = bundle.env.clone();
    // The datasets library reads the local dataset only; the model comes from the mirror.
    env.insert("HF_DATASETS_OFFLINE".into(), "1".into());
    let request = CreatePodRequest {
        name: format!("trainpod-{job}"),
        image: trainpod::script::DEFAULT_IMAGE.into(),
        args: Some(bundle.start_command.clone()),
        env,
        gpu: Some(GpuRequest {
            id: "NVIDIA GeForce RTX 4090".into(),
            count: 1,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    };
    let pod = emulator_client(emu)
        .create_pod(&request, &[])
        .await
        .unwrap()
        .pod
        .id;
    let seen = wait_for_terminate(emu, &pod, JOB_BOUND).await;
    let log = emu.local_pod(&pod).unwrap().log_file;
    let output = std::fs::read_to_string(log).unwrap_or_default();
    assert!(seen.is_some(), "no terminate; the pod said:\n{output}");
    // The app may still be taking the last batch when the terminate lands.
    let state = app.state.clone();
    trainpod_e2e::eventually(Duration::from_secs(5), || {
        state.lock().unwrap().final_event().is_some()
    })
    .await;
    let events = app.state.lock().unwrap().events();
    (events, output)
}

fn one<'a>(events: &'a [Value], kind: &str, output: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} event; the pod said:\n{output}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_job_on_the_volume_finds_the_model_and_downloads_no_weights() {
    let Some(python) = train_python() else { return };
    let dir = fresh_dir("model-cache");
    let hub = dir.join("hub");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/tiny_model.py");
    let data = dir.join("data.jsonl");
    let status = Command::new(&python)
        .arg(script)
        .arg(hub.join(HUB_MODEL))
        .arg(&data)
        .env("HF_HUB_OFFLINE", "1")
        .status()
        .unwrap();
    assert!(status.success(), "building the tiny model failed");
    let data = std::fs::read(data).unwrap();
    let emu = Emulator::start_with(Options {
        run_pods: Some(RunPods {
            workspace_root: Some(dir.join("pods")),
            stop_grace: Duration::from_secs(2),
            ..RunPods::default()
        }),
        hub_dir: Some(hub.clone()),
        ..Options::default()
    })
    .await
    .unwrap();
    let mirror = emu.hub().unwrap();
    // The job's network volume, which both jobs' pods mount (each pod's own disk is its
    // workspace under `pods/`).
    let volume = dir.join("volume");

    let (events, output) = model_job(&emu, "job-model-1", &python, &data, HUB_MODEL, &volume).await;
    assert_eq!(
        one(&events, "final", &output)["data"]["status"],
        "succeeded",
        "{output}"
    );
    let model = one(&events, "model", &output);
    assert_eq!(model["data"]["cache_hit"], false, "{output}");
    let weights = std::fs::metadata(hub.join(HUB_MODEL).join("model.safetensors"))
        .unwrap()
        .len();
    let first = mirror.bytes_served();
    assert!(
        first >= weights,
        "the first job downloaded the weights ({first} bytes)"
    );
    assert_eq!(model["data"]["downloaded_bytes"], first, "{output}");
    assert!(!one(&events, "result", &output).is_null(), "it trained");
    assert!(volume.join("hf/hub").is_dir(), "the cache is on the volume");

    let (events, output) = model_job(&emu, "job-model-2", &python, &data, HUB_MODEL, &volume).await;
    assert_eq!(
        one(&events, "final", &output)["data"]["status"],
        "succeeded",
        "{output}"
    );
    let model = one(&events, "model", &output);
    assert_eq!(model["data"]["cache_hit"], true, "{output}");
    assert_eq!(model["data"]["downloaded_bytes"], 0, "{output}");
    assert_eq!(
        mirror.bytes_served(),
        first,
        "the second job downloaded no file"
    );
    assert!(!one(&events, "result", &output).is_null(), "it trained");

    // A model the Hub refuses (unknown, or private to this pod) fails the model stage, and
    // the final status says why.
    let (events, output) = model_job(
        &emu,
        "job-model-3",
        &python,
        &data,
        "trainpod-test/absent",
        &volume,
    )
    .await;
    let fin = one(&events, "final", &output);
    assert_eq!(fin["data"]["status"], "failed", "{output}");
    assert_eq!(fin["stage"], "model", "{output}");
    let cause = decode(&fin["data"]["cause_b64"]);
    assert!(
        cause.contains("the Hub has no model trainpod-test/absent"),
        "{cause}"
    );
}

fn decode(v: &Value) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}
