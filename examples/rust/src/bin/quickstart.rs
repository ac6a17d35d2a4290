//! trainpod's quickstart: the whole lifecycle of one training job on this machine.
//!
//! It builds a tiny Llama offline, serves a small chat dataset through a signed URL from an
//! embedded app, plans the job (the cost estimate as RunPod would charge it), deploys it on the
//! local provider (the RunPod API on loopback, each pod a local process group) with the real
//! generated script and real TRL training, follows its progress, downloads the adapter with its
//! sha256 checked, and checks that the pod was terminated and no process is left.
//!
//! Run it through `bash scripts/quickstart.sh`, which first creates the pod-side Python venv
//! (`.venv-train`, cached). Options:
//!   --summary PATH   also write the machine-readable summary (JSON) there
//!   --runpod         deploy on real RunPod instead (needs RUNPOD_API_KEY, --app-url and --listen)
//!   --app-url URL    where RunPod pods reach this machine's embedded app (a public https tunnel)
//!   --listen ADDR    the address the embedded app listens on (default 127.0.0.1:0)
//!   --bill-wait-secs N  with --runpod, how long to wait for RunPod's bill of the pod (default
//!                    900: RunPod bills every few minutes)
//!
//! The summary says whether the job succeeded, whether the pod is gone, and what the provider
//! billed for it beside the plan's estimate (`scripts/smoke.sh` checks all three).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trainpod::jobs::JobState;
use trainpod::script::{Hyperparameters, Method, PINNED_STACK, PodRuntime};
use trainpod::sdk::{DatasetRef, FollowUpdate, JobSpec, Plan, Trainpod};
use trainpod::token::{KeyRing, generate_secret};
use trainpod::{Error, ErrorKind, Result};
use trainpod_emulator::{ACCOUNT_KEY, Emulator, Options, RunPods};

const GPU: &str = "NVIDIA GeForce RTX 4090";

#[derive(Debug)]
struct Args {
    summary: Option<PathBuf>,
    runpod: bool,
    app_url: Option<String>,
    listen: Option<String>,
    bill_wait_secs: u64,
}

fn parse_args() -> std::result::Result<Args, String> {
    let mut args = Args {
        summary: None,
        runpod: false,
        app_url: None,
        listen: None,
        bill_wait_secs: 900,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--summary" => args.summary = Some(PathBuf::from(value()?)),
            "--runpod" => args.runpod = true,
            "--app-url" => args.app_url = Some(value()?),
            "--listen" => args.listen = Some(value()?),
            "--bill-wait-secs" => {
                args.bill_wait_secs = value()?.parse().map_err(|e| format!("{arg}: {e}"))?
            }
            other => return Err(format!("unknown argument {other}; see the file's header")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("quickstart: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args).await {
        Ok(summary) => {
            let ok = summary["ok"] == true;
            println!(
                "\n{}",
                serde_json::to_string_pretty(&summary).unwrap_or_default()
            );
            if let Some(path) = &args.summary
                && let Err(e) = std::fs::write(path, summary.to_string())
            {
                eprintln!("quickstart: could not write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("quickstart failed: {e} [{}]", e.code());
            ExitCode::FAILURE
        }
    }
}

fn repo_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn io(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::new(ErrorKind::Internal, format!("{what}: {e}"))
}

/// The pod side's Python: the venv `scripts/quickstart.sh` creates.
fn pod_python() -> Result<PathBuf> {
    let python = std::env::var_os("TRAINPOD_TRAIN_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-train/bin/python"));
    if python.exists() {
        return std::path::absolute(&python).map_err(io("locate the venv"));
    }
    Err(Error::invalid_input(format!(
        "no pod-side Python at {}: run `bash scripts/quickstart.sh`, which creates it",
        python.display()
    )))
}

/// The tiny Llama and its tokenizer, built once offline and cached.
fn tiny_model(python: &Path, cache: &Path) -> Result<PathBuf> {
    let model = cache.join("tiny-llama");
    if model.join("config.json").exists() {
        return Ok(model);
    }
    step("building a tiny Llama and its tokenizer offline (once)");
    let status = std::process::Command::new(python)
        .arg(repo_root().join("tests/e2e/py/tiny_model.py"))
        .arg(&model)
        .arg(cache.join("tokenizer-corpus.jsonl"))
        .env("HF_HUB_OFFLINE", "1")
        .status()
        .map_err(io("run tiny_model.py"))?;
    if !status.success() {
        return Err(Error::new(
            ErrorKind::Internal,
            "building the tiny model failed",
        ));
    }
    Ok(model)
}

fn step(what: &str) {
    println!("==> {what}");
}

fn keys() -> Result<KeyRing> {
    let spec = std::env::var("TRAINPOD_SIGNING_KEYS")
        .unwrap_or_else(|_| format!("k1:active:{}", generate_secret()));
    KeyRing::parse(&spec)
}

/// Tiny hyperparameters: 30 steps of LoRA on the CPU, a few seconds.
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

async fn run(args: &Args) -> Result<Value> {
    if args.runpod {
        return run_on_runpod(args).await;
    }
    let started = Instant::now();
    let python = pod_python()?;
    let cache = repo_root().join("target/quickstart");
    let work = cache.join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(work.join("datasets")).map_err(io("create the work directory"))?;
    let model = tiny_model(&python, &cache)?;
    std::fs::copy(
        repo_root().join("examples/data/chat.jsonl"),
        work.join("datasets/chat"),
    )
    .map_err(io("stage the bundled dataset"))?;

    step("starting the local provider (RunPod's API on loopback; pods run as local processes)");
    let offline = [
        ("HF_HUB_OFFLINE", "1"),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("HF_DATASETS_OFFLINE", "1"),
    ];
    let emu = Emulator::start_with(Options {
        real_time: true,
        run_pods: Some(RunPods {
            shell: "bash".into(),
            workspace_root: Some(work.join("pods")),
            extra_env: offline
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            ..RunPods::default()
        }),
        ..Options::default()
    })
    .await
    .map_err(io("start the local provider"))?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(io("bind the embedded app"))?;
    let app_url = format!("http://{}", listener.local_addr().map_err(io("bind"))?);
    let runtime = PodRuntime {
        python: python.display().to_string(),
        expect_gpu: false,
        min_free_disk_gb: 1,
        heartbeat_s: 2,
        flush_s: 1,
        progress_s: 1,
        upload_reserve_s: 120,
        requirements: PINNED_STACK.iter().map(|s| (*s).to_owned()).collect(),
        ..PodRuntime::default()
    };
    let tp = Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .app_url(&app_url)
        .signing_keys(keys()?)
        .store_url(format!("sqlite://{}", work.join("trainpod.db").display()))
        .datasets_dir(work.join("datasets"))
        .artifacts_dir(work.join("artifacts"))
        .pod_runtime(runtime)
        .build()
        .await?;
    let tp = Arc::new(tp);
    let router = trainpod::sdk::server::router(tp.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    step(&format!(
        "embedded app serving the dataset, metrics and artifacts routes at {app_url}"
    ));

    let spec = JobSpec {
        params_b: Some(0.00002),
        gpus: vec![GPU.into()],
        hyperparameters: Some(tiny_hyperparameters()),
        ..JobSpec::new(
            "quickstart",
            model.display().to_string(),
            DatasetRef::App { id: "chat".into() },
            0.50,
        )
    };
    step("planning: every check before money is spent");
    let plan = tp.plan(&spec).await?;
    print_plan(&plan);

    step("deploying on the local provider");
    let job = tp.deploy(&plan).await?;
    let pod_id = job.pod_id.clone().unwrap_or_default();
    println!("    job {}  pod {pod_id}", job.job_id);
    let (last, losses, group) = follow(&tp, &emu, &job.job_id, &pod_id).await?;
    if last.state != JobState::Succeeded {
        // Why, in words, and where: kept by the job, so readable after the pod is gone.
        println!(
            "    {} at stage {} (exit code {}): {}",
            last.state,
            last.stage,
            last.exit_code.map_or("-".to_owned(), |c| c.to_string()),
            last.cause
        );
    }

    let out = work.join("adapter");
    let artifacts = if last.state == JobState::Succeeded {
        step(&format!("downloading the adapter to {}", out.display()));
        tp.download_artifacts(&job.job_id, &out).await?
    } else {
        Vec::new()
    };
    let terminated = wait_until(Duration::from_secs(30), || {
        emu.pod_status(&pod_id) == Some("TERMINATED")
    })
    .await;
    let leftover = match group {
        Some(pgid) => {
            wait_until(Duration::from_secs(15), || processes_in_group(pgid) == 0).await;
            processes_in_group(pgid)
        }
        None => 0,
    };
    // What the provider billed for the pod, beside the estimate (scripts/smoke.sh checks it).
    let billed = pod_bill(&tp, &pod_id).await?;
    server.abort();
    drop(emu);

    let first = losses.first().copied();
    let final_loss = losses.last().copied();
    let loss_down = matches!((first, final_loss), (Some(a), Some(b)) if b < a);
    let ok = last.state == JobState::Succeeded
        && loss_down
        && !artifacts.is_empty()
        && terminated
        && leftover == 0;
    Ok(json!({
        "ok": ok,
        "state": last.state,
        "reason": last.reason,
        "cause": last.cause,
        "stage": last.stage,
        "exit_code": last.exit_code,
        "job_id": job.job_id,
        "pod_id": pod_id,
        "steps": last.step,
        "loss_first": first,
        "loss_last": final_loss,
        "loss_went_down": loss_down,
        "artifacts": artifacts.iter().map(|a| json!({
            "path": out.join(&a.path), "bytes": a.size, "sha256": a.sha256, "sha256_checked": true,
        })).collect::<Vec<_>>(),
        "pod_terminated": terminated,
        "leftover_processes": leftover,
        "cost_usd": last.cost_usd,
        "billed_usd": billed,
        "estimate_usd": [plan.estimate.usd_low, plan.estimate.usd_high],
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

/// A duration as a person reads it: minutes under two hours, then hours.
fn span(secs: u64) -> String {
    if secs < 7200 {
        format!("{} min", (secs / 60).max(1))
    } else {
        format!("{:.1} h", secs as f64 / 3600.0)
    }
}

fn print_plan(plan: &Plan) {
    let e = &plan.estimate;
    println!(
        "    {} x{} at ${:.2}/h; memory {:.1} GB of {} GB; deadline {} (what the ${:.2} budget buys)",
        plan.gpu.gpu_id,
        plan.gpu.count,
        plan.gpu.price_per_hour,
        plan.memory.needed_gb,
        plan.gpu.memory_gb,
        span(plan.deadline_secs),
        plan.spec.budget_usd
    );
    println!("    {:<18} {:>16} {:>20}", "phase", "time", "cost");
    for l in &e.lines {
        println!(
            "    {:<18} {:>7.0}-{:<7.0}s ${:>8.4}-{:<8.4}",
            l.phase, l.seconds_low, l.seconds_high, l.usd_low, l.usd_high
        );
    }
    println!(
        "    {:<18} {:>7.0}-{:<7.0}s ${:>8.4}-{:<8.4}",
        "total", e.seconds_low, e.seconds_high, e.usd_low, e.usd_high
    );
    for w in &plan.warnings {
        println!("    warning: {w}");
    }
}

type Followed = (trainpod::sdk::JobStatus, Vec<f64>, Option<u32>);

/// Prints each status change and stage until the job ends; returns the last status, the
/// training losses in order and the pod's process group.
async fn follow(tp: &Trainpod, emu: &Emulator, job_id: &str, pod_id: &str) -> Result<Followed> {
    let mut follow = tp.follow(job_id);
    let mut losses = Vec::new();
    let mut group = None;
    let mut last = tp.status(job_id).await?;
    while let Some(update) = follow.next().await? {
        group = group.or_else(|| emu.local_pod(pod_id).and_then(|p| p.pid));
        match update {
            FollowUpdate::Event(e) => {
                if e["type"] == "stage" {
                    println!("    stage {}", e["stage"].as_str().unwrap_or("?"));
                }
                if let Some(loss) = e["data"]["loss"].as_f64() {
                    losses.push(loss);
                }
            }
            // A heartbeat alone changes nothing worth a line.
            FollowUpdate::Status(s) if (s.state, s.step) == (last.state, last.step) => last = s,
            FollowUpdate::Status(s) => {
                let steps = match (s.step, s.total_steps) {
                    (Some(a), Some(b)) => format!("step {a}/{b}"),
                    _ => "step -".into(),
                };
                let loss = s.loss.map_or("-".into(), |l| format!("{l:.3}"));
                let eta = s.eta_secs.map_or("-".into(), |t| format!("{t}s"));
                println!(
                    "    {:<12} {steps:<12} {:>5.0}%  loss {loss:<7} eta {eta:<6} cost ${:.5}",
                    s.state.as_str(),
                    s.progress * 100.0,
                    s.cost_usd
                );
                last = s;
            }
        }
    }
    Ok((last, losses, group))
}

async fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    f()
}

/// Processes whose process group is `pgid` (field 5 of `/proc/<pid>/stat`).
fn processes_in_group(pgid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // The command name may hold spaces: fields start after its closing parenthesis.
            stat.rsplit_once(") ")
                .and_then(|(_, rest)| rest.split(' ').nth(2).map(str::to_owned))
                .is_some_and(|g| g == pgid.to_string())
        })
        .count()
}

/// The same job on real RunPod: the pod must reach this machine's app through `--app-url`.
async fn run_on_runpod(args: &Args) -> Result<Value> {
    let app_url = args.app_url.clone().ok_or_else(|| {
        Error::invalid_input(
            "--runpod needs --app-url: a public https URL (a tunnel) that forwards to --listen",
        )
    })?;
    let listen = args
        .listen
        .clone()
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let work = repo_root().join(format!("target/quickstart/runpod-{}", std::process::id()));
    std::fs::create_dir_all(work.join("datasets")).map_err(io("create the work directory"))?;
    std::fs::copy(
        repo_root().join("examples/data/chat.jsonl"),
        work.join("datasets/chat"),
    )
    .map_err(io("stage the bundled dataset"))?;
    let tp = Arc::new(
        Trainpod::builder()
            .app_url(&app_url)
            .signing_keys(keys()?)
            .store_url(format!("sqlite://{}", work.join("trainpod.db").display()))
            .datasets_dir(work.join("datasets"))
            .artifacts_dir(work.join("artifacts"))
            .build()
            .await?,
    );
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(io("bind --listen"))?;
    let router = trainpod::sdk::server::router(tp.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let spec = JobSpec {
        budget_usd: 1.0,
        ..JobSpec::new(
            "quickstart",
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            DatasetRef::App { id: "chat".into() },
            1.0,
        )
    };
    let plan = tp.plan(&spec).await?;
    print_plan(&plan);
    let job = tp.deploy(&plan).await?;
    let mut follow = tp.follow(&job.job_id);
    let mut last = job.clone();
    while let Some(update) = follow.next().await? {
        if let FollowUpdate::Status(s) = update {
            println!(
                "    {} step {:?}/{:?} loss {:?} cost ${:.4}",
                s.state, s.step, s.total_steps, s.loss, s.cost_usd
            );
            last = s;
        }
    }
    server.abort();
    let pod_id = last.pod_id.clone().unwrap_or_default();
    step("checking that the pod is gone and reading RunPod's bill for it");
    let gone = wait_until_async(Duration::from_secs(120), || pod_gone(&tp, &pod_id)).await;
    // RunPod bills every few minutes: its record of the pod may take that long to appear.
    let mut billed = pod_bill(&tp, &pod_id).await?;
    let end = Instant::now() + Duration::from_secs(args.bill_wait_secs);
    while billed.is_none() && Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(30)).await;
        billed = pod_bill(&tp, &pod_id).await?;
    }
    let ok = last.state == JobState::Succeeded && gone && billed.is_some();
    Ok(json!({
        "ok": ok,
        "state": last.state,
        "reason": last.reason,
        "job_id": job.job_id,
        "pod_id": pod_id,
        "gpu": plan.gpu.gpu_id,
        "pod_terminated": gone,
        "cost_usd": last.cost_usd,
        "billed_usd": billed,
        "estimate_usd": [plan.estimate.usd_low, plan.estimate.usd_high],
    }))
}

/// What the provider billed for a pod (`GET /v2/billing/pods`), or `None` before its first
/// billing record.
async fn pod_bill(tp: &Trainpod, pod_id: &str) -> Result<Option<f64>> {
    if pod_id.is_empty() {
        return Ok(None);
    }
    let records = tp.runpod().pod_billing(pod_id).await?;
    Ok((!records.is_empty()).then(|| records.iter().map(|r| r.total_amount).sum()))
}

/// Whether the pod is gone: RunPod answers 404 for a terminated pod.
async fn pod_gone(tp: &Trainpod, pod_id: &str) -> bool {
    match tp.runpod().get_pod(pod_id).await {
        Err(e) => e.kind() == ErrorKind::NotFound,
        Ok(_) => false,
    }
}

async fn wait_until_async<F: Future<Output = bool>>(
    timeout: Duration,
    mut f: impl FnMut() -> F,
) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    f().await
}
