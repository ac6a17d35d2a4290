//! The generated bundle running real TRL training (LoRA on a tiny Llama built offline) end to
//! end: dataset download with sha256 check, reporting, artifact upload, terminate. Needs a Python
//! with the pinned training stack: `TRAINPOD_TRAIN_PYTHON` (scripts/test.sh builds `.venv-train`).
//! Without it the tests say so and pass, unless `TRAINPOD_REQUIRE_TRAINING=1` (as in CI).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use trainpod::dataset::DatasetFormat;
use trainpod::script::{
    Artifacts, DatasetSource, Endpoint, Hyperparameters, LoraTargetModules, Method, PINNED_STACK,
    PodRuntime, PodScript, Secret, Training, generate,
};
use trainpod::token::Purpose;
use trainpod_e2e::{
    App, PodRun, create_pod, emulator_client, fresh_dir, sha256_hex, train_python, unix_now,
    wait_for_terminate,
};
use trainpod_emulator::Emulator;

/// Builds the tiny model and its chat dataset once per test.
fn tiny_model(python: &str, dir: &std::path::Path) -> (PathBuf, Vec<u8>) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/tiny_model.py");
    let model = dir.join("model");
    let data = dir.join("data.jsonl");
    let status = std::process::Command::new(python)
        .arg(script)
        .args([&model, &data])
        .env("HF_HUB_OFFLINE", "1")
        .status()
        .unwrap();
    assert!(status.success(), "building the tiny model failed");
    (model, std::fs::read(data).unwrap())
}

struct Run {
    app: App,
    emu: Emulator,
    pod_id: String,
    pod: PodRun,
}

async fn deploy(job: &str, python: &str, model: &str, data: &[u8], expect_gpu: bool) -> Run {
    deploy_with(job, python, model, data, expect_gpu, Trained::default()).await
}

/// What a test changes in the trainer's input: the dataset's format as a plan would know it,
/// and the modules LoRA adapts.
#[derive(Default)]
struct Trained {
    format: Option<DatasetFormat>,
    targets: LoraTargetModules,
}

async fn deploy_with(
    job: &str,
    python: &str,
    model: &str,
    data: &[u8],
    expect_gpu: bool,
    trained: Trained,
) -> Run {
    let app = App::start().await;
    app.state
        .lock()
        .unwrap()
        .datasets
        .insert("chat".into(), data.to_vec());
    let emu = Emulator::start().await.unwrap();
    let hp = Hyperparameters {
        max_steps: 6,
        batch_size: 4,
        gradient_accumulation_steps: 1,
        learning_rate: 3e-3,
        max_length: 64,
        logging_steps: 2,
        lora_r: 4,
        lora_alpha: 8,
        gradient_checkpointing: false,
        lora_target_modules: trained.targets,
        ..Hyperparameters::for_method(Method::Lora)
    };
    let now = unix_now() as u64;
    let token = |p, d| Secret::new(app.token(p, job, d, 3600));
    let script = PodScript {
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
            dataset_format: trained.format,
            eval_dataset_format: None,
        },
        artifacts: Artifacts::App {
            url: format!("{}/artifacts/{job}", app.base),
            token: token(Purpose::ArtifactsWrite, None),
        },
        runtime: PodRuntime {
            api_base: emu.base_url(),
            python: python.into(),
            expect_gpu,
            min_free_disk_gb: 1,
            heartbeat_s: 2,
            flush_s: 1,
            progress_s: 1,
            upload_reserve_s: 120,
            requirements: PINNED_STACK.iter().map(|s| (*s).to_owned()).collect(),
            ..PodRuntime::default()
        },
        resume: None,
        eval_dataset: None,
    };
    let bundle = generate(&script).unwrap();
    let client = emulator_client(&emu);
    let pod_id = create_pod(&client, &format!("trainpod-{job}"), Some(&bundle)).await;
    let home = fresh_dir(job);
    let hf_home = home.join("hf");
    let hf_home = hf_home.to_str().unwrap();
    let offline = [
        ("HF_HUB_OFFLINE", "1"),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("HF_DATASETS_OFFLINE", "1"),
        ("HF_HOME", hf_home),
    ];
    let pod = PodRun::start(&bundle, &home, &pod_id, &emu.pod_key(&pod_id), &offline);
    Run {
        app,
        emu,
        pod_id,
        pod,
    }
}

async fn end(run: Run) -> (Run, Option<Value>) {
    let seen = wait_for_terminate(&run.emu, &run.pod_id, Duration::from_secs(600)).await;
    let output = run.pod.output();
    assert!(seen.is_some(), "no terminate; the pod said:\n{output}");
    let fin = run.app.state.lock().unwrap().final_event();
    (run, fin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lora_training_succeeds_uploads_the_adapter_and_terminates() {
    let Some(python) = train_python() else { return };
    let dir = fresh_dir("tiny-lora");
    let (model, data) = tiny_model(&python, &dir);
    let run = deploy("job-lora", &python, model.to_str().unwrap(), &data, false).await;
    let started = run.pod.started;
    let (run, fin) = end(run).await;
    let output = run.pod.output();
    let fin = fin.unwrap_or_else(|| panic!("no final status; the pod said:\n{output}"));
    assert_eq!(fin["data"]["status"], "succeeded", "pod said:\n{output}");
    {
        let s = run.app.state.lock().unwrap();
        let events = s.events();
        let of = |t: &str| {
            events
                .iter()
                .filter(|e| e["type"] == t)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(of("started")[0]["data"]["max_steps"], 6);
        let training = events.iter().find(|e| e["stage"] == "training").unwrap();
        let first_python = events.iter().find(|e| e["source"] == "trainer").unwrap();
        let (t, p) = (
            training["ts"].as_f64().unwrap(),
            first_python["ts"].as_f64().unwrap(),
        );
        println!(
            "POD_BOOTSTRAP_OVERHEAD {{\"mode\":\"sft\",\"seconds\":{:.3},\"trainer_running_s\":{:.3}}}",
            t - started,
            p - started
        );
        let losses: Vec<f64> = of("log")
            .iter()
            .filter_map(|e| e["data"]["loss"].as_f64())
            .collect();
        assert_eq!(losses.len(), 3, "a loss every 2 of 6 steps: {losses:?}");
        assert!(losses.iter().all(|l| l.is_finite() && *l > 0.0));
        assert!(of("result")[0]["data"]["train_loss"].as_f64().is_some());
        let manifest = s
            .completed
            .as_ref()
            .expect("the app confirmed the artifact manifest");
        let names: Vec<&str> = manifest
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"adapter_model.safetensors"), "{names:?}");
        assert!(names.contains(&"adapter_config.json"), "{names:?}");
        for f in manifest {
            let body = &s.uploads[&format!("job-lora/{}", f["path"].as_str().unwrap())];
            assert_eq!(sha256_hex(body), f["sha256"].as_str().unwrap());
        }
    }
    run.pod.kill_all().await;
}

fn decode(v: &Value) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The tiny chat dataset's rows in the Alpaca format: each user turn the instruction (every
/// other row split into an instruction and an input), the assistant turn the output.
fn as_alpaca(chat: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, line) in String::from_utf8_lossy(chat).lines().enumerate() {
        let row: Value = serde_json::from_str(line).unwrap();
        let (user, assistant) = (
            &row["messages"][0]["content"],
            &row["messages"][1]["content"],
        );
        let alpaca = if i % 2 == 0 {
            serde_json::json!({"instruction": user, "input": "", "output": assistant, "id": i})
        } else {
            let (say, rest) = user.as_str().unwrap().split_once(' ').unwrap();
            serde_json::json!({"instruction": say, "input": rest, "output": assistant})
        };
        serde_json::to_writer(&mut out, &alpaca).unwrap();
        out.push(b'\n');
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alpaca_dataset_trains_as_prompt_and_completion() {
    let Some(python) = train_python() else { return };
    let dir = fresh_dir("tiny-alpaca");
    let (model, chat) = tiny_model(&python, &dir);
    let data = as_alpaca(&chat);
    let report = trainpod::dataset::validate(
        &{
            let path = dir.join("alpaca.jsonl");
            std::fs::write(&path, &data).unwrap();
            path
        },
        &Default::default(),
    )
    .unwrap();
    assert_eq!(report.format, Some(DatasetFormat::Alpaca));
    let trained = Trained {
        format: report.format,
        ..Trained::default()
    };
    let run = deploy_with(
        "job-alpaca",
        &python,
        model.to_str().unwrap(),
        &data,
        false,
        trained,
    )
    .await;
    let (run, fin) = end(run).await;
    let output = run.pod.output();
    let fin = fin.unwrap_or_else(|| panic!("no final status; the pod said:\n{output}"));
    assert_eq!(fin["data"]["status"], "succeeded", "pod said:\n{output}");
    {
        let s = run.app.state.lock().unwrap();
        let losses = s
            .events()
            .iter()
            .filter(|e| e["type"] == "log")
            .filter_map(|e| e["data"]["loss"].as_f64())
            .count();
        assert_eq!(losses, 3, "a loss every 2 of 6 steps");
        assert!(
            s.uploads
                .contains_key("job-alpaca/adapter_model.safetensors")
        );
    }
    run.pod.kill_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alpaca_dataset_of_unknown_format_fails_with_the_trainers_exception() {
    // A bucket or URL dataset nobody read: the trainer is not told the format and does not
    // guess; the final status says what TRL raised.
    let Some(python) = train_python() else { return };
    let dir = fresh_dir("tiny-alpaca-unknown");
    let (model, chat) = tiny_model(&python, &dir);
    let data = as_alpaca(&chat);
    let run = deploy(
        "job-alpaca-unknown",
        &python,
        model.to_str().unwrap(),
        &data,
        false,
    )
    .await;
    let (run, fin) = end(run).await;
    let output = run.pod.output();
    let fin = fin.unwrap_or_else(|| panic!("no final status; the pod said:\n{output}"));
    assert_eq!(fin["data"]["status"], "failed", "pod said:\n{output}");
    assert_eq!(fin["stage"], "training");
    let cause = decode(&fin["data"]["cause_b64"]);
    assert!(
        cause.starts_with("KeyError: ") && cause.ends_with(" (the trainer exited with code 1)"),
        "{cause}"
    );
    run.pod.kill_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lora_adapts_only_the_modules_the_spec_lists() {
    let Some(python) = train_python() else { return };
    let dir = fresh_dir("tiny-targets");
    let (model, data) = tiny_model(&python, &dir);
    let trained = Trained {
        targets: LoraTargetModules::Names(vec!["q_proj".into(), "v_proj".into()]),
        ..Trained::default()
    };
    let run = deploy_with(
        "job-targets",
        &python,
        model.to_str().unwrap(),
        &data,
        false,
        trained,
    )
    .await;
    let (run, fin) = end(run).await;
    let output = run.pod.output();
    let fin = fin.unwrap_or_else(|| panic!("no final status; the pod said:\n{output}"));
    assert_eq!(fin["data"]["status"], "succeeded", "pod said:\n{output}");
    let config: Value = serde_json::from_slice(
        &run.app.state.lock().unwrap().uploads["job-targets/adapter_config.json"],
    )
    .unwrap();
    let mut targets: Vec<&str> = config["target_modules"]
        .as_array()
        .unwrap_or_else(|| panic!("{config}"))
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    targets.sort_unstable();
    assert_eq!(targets, ["q_proj", "v_proj"]);
    run.pod.kill_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trainer_exception_is_reported_from_the_training_stage() {
    let Some(python) = train_python() else { return };
    let data = b"{\"text\":\"a\"}\n".to_vec();
    let run = deploy("job-badmodel", &python, "/nonexistent/model", &data, false).await;
    let (run, fin) = end(run).await;
    let output = run.pod.output();
    let fin = fin.unwrap_or_else(|| panic!("no final status; the pod said:\n{output}"));
    assert_eq!(fin["data"]["status"], "failed");
    assert_eq!(fin["stage"], "training");
    assert_eq!(fin["data"]["exit_code"], 1);
    let errors: Vec<Value> = run
        .app
        .state
        .lock()
        .unwrap()
        .events()
        .into_iter()
        .filter(|e| e["type"] == "error")
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "the trainer reported its exception: {errors:?}"
    );
    // The final status says what was raised, not only the exit code.
    let error = &errors[0]["data"];
    let message = error["message"].as_str().unwrap().trim();
    let raised: String = format!(
        "{}: {}",
        error["error"].as_str().unwrap(),
        message.lines().next().unwrap_or_default()
    )
    .chars()
    .take(500)
    .collect();
    let cause = decode(&fin["data"]["cause_b64"]);
    assert_eq!(cause, format!("{raised} (the trainer exited with code 1)"));
    assert!(cause.contains("/nonexistent/model"), "{cause}");
    run.pod.kill_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_gpu_is_a_preflight_failure_with_its_cause() {
    let Some(python) = train_python() else { return };
    let data = b"{\"text\":\"a\"}\n".to_vec();
    let run = deploy("job-nogpu", &python, "/nonexistent/model", &data, true).await;
    let (run, fin) = end(run).await;
    let output = run.pod.output();
    let fin = fin.unwrap_or_else(|| panic!("no final status; the pod said:\n{output}"));
    assert_eq!(fin["data"]["status"], "failed");
    assert_eq!(fin["stage"], "preflight", "{fin}");
    assert_eq!(fin["data"]["exit_code"], 12);
    use base64::Engine;
    let cause = base64::engine::general_purpose::STANDARD
        .decode(fin["data"]["cause_b64"].as_str().unwrap())
        .unwrap();
    assert!(String::from_utf8_lossy(&cause).contains("no GPU is visible"));
    run.pod.kill_all().await;
}
