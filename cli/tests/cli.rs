//! The `trainpod` binary as a person or a script runs it: a real process against `trainpod
//! local` (the local provider, started as a child on a loopback port), with a dataset served
//! over loopback HTTP. One job trains for real (TRL, LoRA on a tiny Llama built offline) and is
//! followed to its end; the others are cancelled before they train. Real training needs
//! `TRAINPOD_TRAIN_PYTHON` (scripts/train-venv.sh); without it that test says so and passes,
//! unless `TRAINPOD_REQUIRE_TRAINING=1` (as in CI).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};

const GPU: &str = "NVIDIA GeForce RTX 4090";
/// Every variable the binary reads: a test sets what it means to and nothing leaks in from the
/// machine running it.
const SETTINGS_ENV: [&str; 13] = [
    "RUNPOD_API_KEY",
    "TRAINPOD_SIGNING_KEYS",
    "TRAINPOD_CONFIG",
    "TRAINPOD_STORE_URL",
    "TRAINPOD_LOCAL_URL",
    "TRAINPOD_RUNPOD_URL",
    "TRAINPOD_APP_URL",
    "TRAINPOD_DATASETS_DIR",
    "TRAINPOD_ARTIFACTS_DIR",
    "TRAINPOD_POD_PYTHON",
    "HF_ENDPOINT",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
];

fn fresh_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary with a clean environment: its HOME is `home` (so no user's config is read).
fn trainpod(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trainpod"));
    for name in SETTINGS_ENV {
        cmd.env_remove(name);
    }
    cmd.env("HOME", home);
    cmd
}

/// `trainpod local` as a child: its base URL, and it stops when dropped (stdin closed).
struct Local {
    child: Child,
    url: String,
}

impl Local {
    fn start(home: &Path, args: &[&str]) -> Local {
        let mut child = trainpod(home)
            .arg("local")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
        assert!(url.ends_with("/v2"), "{url:?}");
        Local { child, url }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A file served over loopback HTTP, as a public dataset URL would serve it.
fn serve_file(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/data.jsonl", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/jsonl\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    url
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    eprintln!(
        "$ trainpod {:?} -> {:?}\n{}",
        cmd.get_args().collect::<Vec<_>>(),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The one JSON document a `--json` command printed.
fn doc(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {}", stdout(out)))
}

fn new_keys(home: &Path) -> String {
    let out = run(trainpod(home).args(["keys", "new", "--json"]));
    assert_eq!(code(&out), 0);
    doc(&out)["signing_keys"].as_str().unwrap().to_owned()
}

/// A setup on the local provider: its own home, store and keys.
struct Setup {
    home: PathBuf,
    keys: String,
    local: Local,
}

impl Setup {
    fn start(name: &str, local_args: &[&str]) -> Setup {
        let home = fresh_dir(name);
        let keys = new_keys(&home);
        let local = Local::start(&home, local_args);
        Setup { home, keys, local }
    }

    fn cmd(&self) -> Command {
        let mut cmd = trainpod(&self.home);
        cmd.env("TRAINPOD_SIGNING_KEYS", &self.keys)
            .env("TRAINPOD_LOCAL_URL", &self.local.url)
            .env(
                "TRAINPOD_STORE_URL",
                format!("sqlite://{}", self.home.join("jobs.db").display()),
            );
        cmd
    }
}

fn train_python() -> Option<String> {
    match std::env::var("TRAINPOD_TRAIN_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            let required = std::env::var("TRAINPOD_REQUIRE_TRAINING").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "TRAINPOD_REQUIRE_TRAINING=1 but TRAINPOD_TRAIN_PYTHON is unset"
            );
            eprintln!("skipped: set TRAINPOD_TRAIN_PYTHON to a Python with the training stack");
            None
        }
    }
}

/// The tiny Llama and its chat dataset (tests/e2e/py/tiny_model.py), built once and kept.
fn tiny_model(python: &str) -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tiny-llama");
    let (model, data) = (dir.join("model"), dir.join("data.jsonl"));
    if model.join("config.json").exists() && data.exists() {
        return (model, data);
    }
    std::fs::create_dir_all(&dir).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/py/tiny_model.py");
    let status = Command::new(python)
        .arg(script)
        .args([&model, &data])
        .env("HF_HUB_OFFLINE", "1")
        .status()
        .unwrap();
    assert!(status.success(), "building the tiny model failed");
    (model, data)
}

/// The secrets of a key ring (`kid:status:secret,...`).
fn secrets(ring: &str) -> Vec<String> {
    ring.split(',')
        .map(|e| e.splitn(3, ':').nth(2).unwrap().to_owned())
        .collect()
}

#[test]
fn a_real_job_is_planned_deployed_and_followed_to_its_end() {
    let Some(python) = train_python() else { return };
    let (model, data) = tiny_model(&python);
    let work = fresh_dir("train-work");
    let hf_home = format!("HF_HOME={}", work.join("hf").display());
    let pods = work.join("pods");
    let s = Setup::start(
        "train",
        &[
            "--workspace-root",
            pods.to_str().unwrap(),
            "--env",
            "HF_HUB_OFFLINE=1",
            "--env",
            "TRANSFORMERS_OFFLINE=1",
            "--env",
            "HF_DATASETS_OFFLINE=1",
            "--env",
            &hf_home,
        ],
    );
    let url = serve_file(std::fs::read(&data).unwrap());

    // The key check and the dataset, as a person checks them first.
    let out = run(s.cmd().args(["check-key", "--json"]));
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let check = doc(&out);
    assert_eq!(check["can_run_jobs"], true, "{check}");
    assert!(check["gpus"].as_array().is_some_and(|g| !g.is_empty()));
    let out = run(s.cmd().args(["inspect", data.to_str().unwrap(), "--json"]));
    assert_eq!(code(&out), 0);
    let report = doc(&out);
    assert!(report["rows"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["format"], "messages", "{report}");

    // The pods' settings from the config file; the hyperparameters from a spec file.
    let config = s.home.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "pod_python = {python:?}\n[pod_runtime]\nheartbeat_s = 2\nflush_s = 1\nprogress_s = 1\n"
        ),
    )
    .unwrap();
    let spec = s.home.join("job.json");
    let hp = json!({"max_steps": 6, "batch_size": 4, "gradient_accumulation_steps": 1,
        "learning_rate": 3e-3, "max_length": 64, "logging_steps": 2, "lora_r": 4,
        "lora_alpha": 8, "gradient_checkpointing": false});
    std::fs::write(
        &spec,
        json!({"model": model, "params_b": 0.00002, "gpus": [GPU], "hyperparameters": hp})
            .to_string(),
    )
    .unwrap();
    let out = run(s.cmd().args([
        "--config",
        config.to_str().unwrap(),
        "plan",
        "--spec",
        spec.to_str().unwrap(),
        "--job-id",
        "cli-train",
        "--dataset-url",
        &url,
        "--dataset-file",
        data.to_str().unwrap(),
        "--budget",
        "0.5",
        "--json",
    ]));
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let plan = doc(&out);
    assert_eq!(plan["job_id"], "cli-train");
    assert_eq!(plan["gpu"]["gpu_id"], GPU);
    assert_eq!(plan["hyperparameters"]["max_steps"], 6);
    assert_eq!(plan["dataset"]["sha256"], report["sha256"]);

    // The pod script as it would run, its credentials redacted.
    let out = run(s.cmd().args(["render", "cli-train"]));
    assert_eq!(code(&out), 0);
    let script = stdout(&out);
    assert!(script.contains("bootstrap"), "{script}");
    assert!(script.contains(trainpod::script::REDACTED), "{script}");
    for secret in secrets(&s.keys) {
        assert!(
            !script.contains(&secret),
            "the signing key is in the script"
        );
    }

    let with_config = |cmd: &mut Command| {
        cmd.args(["--config", config.to_str().unwrap()]);
    };
    let mut deploy = s.cmd();
    with_config(&mut deploy);
    let out = run(deploy.args(["deploy", "cli-train", "--json"]));
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let deployed = doc(&out);
    assert_eq!(deployed["job_id"], "cli-train");
    let pod = deployed["pod_id"].as_str().expect("a pod").to_owned();

    // Followed to its end as JSON lines: status changes and the pod's events.
    let mut follow = s.cmd();
    with_config(&mut follow);
    let out = run(follow.args(["follow", "cli-train", "--json"]));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let statuses: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "status").collect();
    let last = statuses.last().expect("a status");
    assert_eq!(code(&out), 0, "the job ended {last}");
    assert_eq!(last["state"], "succeeded", "{last}");
    assert_eq!(last["step"], 6);
    let losses: Vec<f64> = lines
        .iter()
        .filter_map(|l| l["data"]["loss"].as_f64())
        .collect();
    assert!(
        !losses.is_empty(),
        "the trainer's losses came through the log"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["kind"] == "event" && l["stage"] == "training"),
        "the training stage was seen"
    );

    // Afterwards: the status, the log, and what an ended job refuses.
    let out = run(s.cmd().args(["status", "cli-train", "--json"]));
    assert_eq!(code(&out), 0);
    let status = doc(&out);
    assert_eq!(status["state"], "succeeded");
    assert_eq!(status["progress"], 1.0);
    assert_eq!(status["pod_id"], pod.as_str());
    let out = run(s.cmd().args(["status", "cli-train"]));
    assert!(stdout(&out).contains("succeeded"), "{}", stdout(&out));
    let out = run(s
        .cmd()
        .args(["logs", "cli-train", "--tail", "200", "--json"]));
    if code(&out) == 0 {
        let lines: Vec<Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(lines.iter().all(|l| l["line"].is_string()), "{lines:?}");
    } else {
        // The pod is terminated, and RunPod drops its log with it.
        assert_eq!(code(&out), 5, "{}", stdout(&out));
    }
    let out = run(s.cmd().args(["deploy", "cli-train", "--json"]));
    assert_eq!(code(&out), 0, "deploying again is the same job");
    assert_eq!(doc(&out)["state"], "succeeded");
    let out = run(s.cmd().args(["retry", "cli-train", "--json"]));
    assert_eq!(code(&out), 5, "a succeeded job is not retried");
    assert_eq!(doc(&out)["error"]["code"], "INVALID_STATE");
}
