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
    assert!(
        !script.contains(trainpod_emulator::ACCOUNT_KEY),
        "the RunPod key is in the script"
    );

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
    let out = run(s.cmd().args(["follow", "cli-train"]));
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(text.contains("100%  step 6/6"), "{text}");
    assert!(text.contains("job cli-train succeeded"), "{text}");
    // The pod is gone once the job ended, and RunPod drops its log with it: the job kept
    // what matters (the status above).
    let out = run(s.cmd().args(["logs", "cli-train", "--json"]));
    assert_eq!(code(&out), 5, "{}", stdout(&out));
    assert_eq!(error_doc(&out)["code"], "NOT_FOUND");
    let out = run(s.cmd().args(["deploy", "cli-train", "--json"]));
    assert_eq!(code(&out), 0, "deploying again is the same job");
    assert_eq!(doc(&out)["state"], "succeeded");
    let out = run(s.cmd().args(["retry", "cli-train", "--json"]));
    assert_eq!(code(&out), 5, "a succeeded job is not retried");
    assert_eq!(doc(&out)["error"]["code"], "INVALID_STATE");
}

/// A saved model's directory as the local provider's `plan` checks it (its `config.json`): for
/// jobs cancelled before they load it.
fn model_dir(home: &Path) -> PathBuf {
    let model = home.join("model");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::write(model.join("config.json"), "{}").unwrap();
    model
}

#[test]
fn jobs_that_never_train_are_cancelled_retried_and_reconciled() {
    let s = Setup::start("cancel", &["--stop-grace-ms", "500"]);
    let model = model_dir(&s.home);
    let body = b"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n".to_vec();
    let (bytes, sha256) = (body.len().to_string(), sha256_of(&body));
    let url = serve_file(body);
    // Pods whose Python never answers: each stays in preflight until it is cancelled (the
    // local provider kills its process group), so the job is live whenever the test looks.
    let slow = s.home.join("slow-python");
    std::fs::write(&slow, "#!/bin/sh\nexec sleep 600\n").unwrap();
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cmd = || {
        let mut cmd = s.cmd();
        cmd.env("TRAINPOD_POD_PYTHON", &slow);
        cmd
    };

    // Planned and deployed in one go from flags.
    let out = run(cmd().args([
        "deploy",
        "--job-id",
        "cli-cancel",
        "--model",
        model.to_str().unwrap(),
        "--params-b",
        "0.00002",
        "--gpu",
        GPU,
        "--dataset-url",
        &url,
        "--dataset-bytes",
        &bytes,
        "--dataset-sha256",
        &sha256,
        "--budget",
        "0.5",
        "--json",
    ]));
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let first = doc(&out);
    let first_pod = first["pod_id"].as_str().expect("a pod").to_owned();
    assert_eq!(first["attempt"], 1);
    let out = run(cmd().args(["status", "cli-cancel"]));
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).contains("job cli-cancel  attempt 1"),
        "{}",
        stdout(&out)
    );
    // The live pod's log so far, as JSON lines (`--tail`, then 2 s without a new line ends it).
    let out = run(s
        .cmd()
        .args(["logs", "cli-cancel", "--tail", "50", "--json"]));
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    for line in stdout(&out).lines() {
        let line: Value = serde_json::from_str(line).unwrap();
        assert!(line["line"].is_string(), "{line}");
    }

    let out = run(cmd().args(["cancel", "cli-cancel", "--json"]));
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(doc(&out)["state"], "cancelled");
    // Following an ended job that did not succeed says so, and exits 7.
    let out = run(cmd().args(["follow", "cli-cancel"]));
    assert_eq!(code(&out), 7, "{}", stdout(&out));
    assert!(stdout(&out).contains("cancelled"), "{}", stdout(&out));
    // At a terminal: a progress bar, redrawn in place.
    match at_terminal(cmd().args(["follow", "cli-cancel"])) {
        Some(out) => {
            assert_eq!(code(&out), 7, "{}", stdout(&out));
            assert!(stdout(&out).contains("\r\x1b[2K[---"), "{:?}", stdout(&out));
        }
        None => eprintln!("no `script` (util-linux) to run follow at a terminal"),
    }

    let out = run(cmd().args(["retry", "cli-cancel", "--json"]));
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let second = doc(&out);
    assert_eq!(second["attempt"], 2);
    assert_ne!(second["pod_id"], first_pod.as_str(), "a new pod");
    let out = run(cmd().args(["cancel", "cli-cancel"]));
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("cancelled"), "{}", stdout(&out));

    let out = run(cmd().args(["reconcile", "--json"]));
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let actions = doc(&out);
    for a in actions.as_array().expect("a list of actions") {
        assert!(a["reason"].is_string(), "{a}");
        assert!(a["error"].is_null(), "{a}");
    }
    let out = run(cmd().arg("reconcile"));
    assert_eq!(code(&out), 0);
}

/// `command` at a terminal (util-linux `script` gives it a pty); `None` without `script`.
fn at_terminal(command: &mut Command) -> Option<Output> {
    let line: Vec<&str> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_str().unwrap())
        .collect();
    let mut script = Command::new("script");
    script
        .args(["-qec", &line.join(" "), "/dev/null"])
        .stdin(Stdio::null());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => script.env(name, value),
            None => script.env_remove(name),
        };
    }
    script.output().ok()
}

fn sha256_of(bytes: &[u8]) -> String {
    let dir = fresh_dir("sha");
    let file = dir.join("f");
    std::fs::write(&file, bytes).unwrap();
    let out = run(trainpod(&dir).args(["inspect", file.to_str().unwrap(), "--json"]));
    doc(&out)["sha256"].as_str().unwrap().to_owned()
}

/// The error document of a `--json` command that failed.
fn error_doc(out: &Output) -> Value {
    let d = doc(out);
    assert_eq!(d["error"]["exit_code"], code(out), "{d}");
    d["error"].clone()
}

#[test]
fn bad_input_exits_with_its_group_and_says_what_to_do() {
    let home = fresh_dir("bad");
    let keys = new_keys(&home);
    let store = format!("sqlite://{}", home.join("jobs.db").display());
    let with_keys = || {
        let mut cmd = trainpod(&home);
        cmd.env("TRAINPOD_SIGNING_KEYS", &keys)
            .env("TRAINPOD_STORE_URL", &store);
        cmd
    };
    // A local provider nobody listens on: nothing here reaches it.
    let local = || {
        let mut cmd = with_keys();
        cmd.env("TRAINPOD_LOCAL_URL", "http://127.0.0.1:9/v2");
        cmd
    };

    // Usage.
    assert_eq!(code(&run(trainpod(&home).arg("frobnicate"))), 2);
    assert_eq!(code(&run(trainpod(&home).arg("status"))), 2);
    assert_eq!(
        code(&run(trainpod(&home).args(["plan", "--method", "bogus"]))),
        2
    );
    let help = run(trainpod(&home).arg("--help"));
    assert_eq!(code(&help), 0);
    assert!(stdout(&help).contains("Exit codes:"), "{}", stdout(&help));
    for command in [
        "keys new",
        "check-key",
        "inspect",
        "plan",
        "deploy",
        "status",
        "follow",
        "logs",
        "cancel",
        "retry",
        "reconcile",
        "render",
        "doctor",
        "local",
    ] {
        let out = run(trainpod(&home).args(command.split(' ')).arg("--help"));
        assert_eq!(code(&out), 0);
        assert!(stdout(&out).contains("Examples:"), "{command}: no examples");
    }

    // No signing keys: invalid input, and the command that makes them.
    let out = run(trainpod(&home)
        .env("TRAINPOD_LOCAL_URL", "http://127.0.0.1:9/v2")
        .args(["status", "j", "--json"]));
    assert_eq!(code(&out), 3);
    let err = error_doc(&out);
    assert_eq!(err["code"], "INVALID_INPUT");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("trainpod keys new"),
        "{err}"
    );
    // No RunPod key and no local provider: auth.
    let out = run(with_keys().args(["status", "j"]));
    assert_eq!(code(&out), 4);
    assert!(String::from_utf8_lossy(&out.stderr).contains("RUNPOD_API_KEY"));
    assert_eq!(code(&run(trainpod(&home).args(["check-key"]))), 4);
    // No such job.
    let out = run(local().args(["status", "nope", "--json"]));
    assert_eq!(code(&out), 5);
    assert_eq!(error_doc(&out)["code"], "NOT_FOUND");
    let out = run(local().args(["deploy", "--json"]));
    assert_eq!(code(&out), 3, "deploy needs a job or a spec");

    // A spec field of the wrong kind is named.
    let spec = home.join("bad.json");
    std::fs::write(
        &spec,
        r#"{"model": "Qwen/Qwen2.5-0.5B", "budget_usd": "lots"}"#,
    )
    .unwrap();
    let out = run(local().args([
        "plan",
        "--spec",
        spec.to_str().unwrap(),
        "--dataset-url",
        "http://127.0.0.1:9/d.jsonl",
        "--dataset-bytes",
        "10",
        "--dataset-sha256",
        &"a".repeat(64),
        "--json",
    ]));
    assert_eq!(code(&out), 3);
    assert!(
        error_doc(&out)["message"]
            .as_str()
            .unwrap()
            .contains("budget_usd"),
        "{}",
        stdout(&out)
    );
    let out = run(local().args(["plan", "--dataset-file", "x.jsonl"]));
    assert_eq!(code(&out), 3, "a local file alone cannot reach a pod");

    // A config file with a mistake never shows its lines: they may hold a key.
    let config = home.join("config.toml");
    let secret = "rpa_SECRETSECRETSECRET";
    std::fs::write(&config, format!("runpod_api_key = {secret}\n")).unwrap();
    let out = run(with_keys().args(["--config", config.to_str().unwrap(), "status", "j"]));
    assert_eq!(code(&out), 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 1"), "{stderr}");
    assert!(!stderr.contains("SECRET"), "{stderr}");
    std::fs::write(&config, "runpod_key = \"x\"\n").unwrap();
    let out = run(with_keys().args(["--config", config.to_str().unwrap(), "status", "j"]));
    assert_eq!(code(&out), 3, "an unknown setting is refused");
    let out = run(with_keys().args(["--config", "/nonexistent/c.toml", "status", "j"]));
    assert_eq!(code(&out), 3, "a named config file must exist");

    // A dataset with a refused row.
    let data = home.join("bad.jsonl");
    std::fs::write(&data, "{\"messages\": []}\nnot json\n").unwrap();
    let out = run(trainpod(&home).args(["inspect", data.to_str().unwrap(), "--json"]));
    assert_eq!(code(&out), 3);
    assert!(doc(&out)["error_count"].as_u64().unwrap() > 0);
}

#[test]
fn settings_come_from_flags_then_env_then_the_config_file() {
    let home = fresh_dir("settings");
    let keys = new_keys(&home);
    let s = Setup::start("settings-local", &["--no-pods"]);
    let config = home.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "signing_keys = {keys:?}\nlocal_url = {:?}\nstore_url = \"sqlite://{}\"\n",
            s.local.url,
            home.join("from-config.db").display()
        ),
    )
    .unwrap();
    // The config alone: its store is used.
    let out = run(trainpod(&home).args(["--config", config.to_str().unwrap(), "doctor", "--json"]));
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let report = doc(&out);
    assert_eq!(report["ok"], true, "{report}");
    assert!(home.join("from-config.db").exists());
    // The environment over the config; a flag over both.
    let out = run(trainpod(&home)
        .env("TRAINPOD_CONFIG", &config)
        .env(
            "TRAINPOD_STORE_URL",
            format!("sqlite://{}", home.join("from-env.db").display()),
        )
        .args(["doctor"]));
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(home.join("from-env.db").exists());
    let out = run(trainpod(&home)
        .env("TRAINPOD_CONFIG", &config)
        .env("TRAINPOD_STORE_URL", "sqlite:///nonexistent/dir/x.db")
        .args([
            "--store-url",
            &format!("sqlite://{}", home.join("from-flag.db").display()),
            "doctor",
        ]));
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(home.join("from-flag.db").exists());
    // The default config file is read from ~/.config/trainpod.
    std::fs::create_dir_all(home.join(".config/trainpod")).unwrap();
    std::fs::copy(&config, home.join(".config/trainpod/config.toml")).unwrap();
    let out = run(trainpod(&home).args(["doctor", "--json"]));
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let checks = doc(&out)["checks"].clone();
    assert!(
        checks[0]["detail"]
            .as_str()
            .unwrap()
            .contains(".config/trainpod")
    );
    // --runpod asks for a RunPod key, which there is none of.
    let out = run(trainpod(&home).args(["doctor", "--runpod"]));
    assert_eq!(code(&out), 4, "{}", stdout(&out));

    // A rotation keeps the old key for verifying and adds an active one.
    let out = run(trainpod(&home)
        .env("TRAINPOD_SIGNING_KEYS", &keys)
        .args(["keys", "new", "--rotate"]));
    assert_eq!(code(&out), 0);
    let ring = stdout(&out).trim().to_owned();
    let old = secrets(&keys).remove(0);
    assert!(
        ring.starts_with(&format!("k1:verify:{old},k2:active:")),
        "rotated"
    );
}

#[test]
fn local_takes_the_emulators_flags() {
    let home = fresh_dir("local-flags");
    let local = Local::start(
        &home,
        &[
            "--no-pods",
            "--real-time",
            "--account",
            "acme:rpa_readonly:read_only",
        ],
    );
    // A read-only key is valid, and cannot run jobs: auth.
    let out = run(trainpod(&home).env("RUNPOD_API_KEY", "rpa_readonly").args([
        "--local-url",
        &local.url,
        "check-key",
        "--json",
    ]));
    assert_eq!(code(&out), 4, "{}", stdout(&out));
    let check = doc(&out);
    assert_eq!(check["valid"], true, "{check}");
    assert_eq!(check["access"], "read_only", "{check}");
    let out = run(trainpod(&home).args(["--local-url", &local.url, "check-key"]));
    assert_eq!(code(&out), 0, "the local provider's own key runs jobs");
    assert!(stdout(&out).contains("can run jobs"), "{}", stdout(&out));
    // Flags for pods that run make no sense without them.
    let out = run(trainpod(&home).args(["local", "--no-pods", "--shell", "bash"]));
    assert_eq!(code(&out), 3);
    let out = run(trainpod(&home).args(["local", "--env", "NOEQUALS"]));
    assert_eq!(code(&out), 3);
}
