//! Time from `deploy` to the first training step, phase by phase, on the local provider with the
//! real generated script, against `python trainer.py` run directly on the same model, data and
//! config (its own start to its first step), each round running both one after the other (the
//! order swapped every round). trainpod's overhead is its time to the first step less what a
//! direct run does not do at all (installing dependencies, downloading the model), over the
//! direct run's. The plan's estimate of the same phases is printed beside them.
//!
//! Every time is read from the job's own events: the bootstrap's `checkin` and `stage` events
//! and the trainer's `phase` and step events all carry the wall time (`ts`) they happened at;
//! the deploy call is timed here. Prints a line per run, one JSON line per round, then one JSON
//! line of medians.
//!
//!   first_step ROUNDS DATA_DIR   (DATA_DIR: model/ and mixed.jsonl from bench/gpu/build.py;
//!                                 TRAINPOD_TRAIN_PYTHON: the training venv's python)

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // a benchmark: it prints, and a failure ends it

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use trainpod::jobs::JobState;
use trainpod::script::{Hyperparameters, Method, PodRuntime};
use trainpod::sdk::{DatasetRef, JobSpec, Plan, Trainpod};
use trainpod::token::{KeyRing, generate_secret};
use trainpod_emulator::{ACCOUNT_KEY, Emulator, Options, RunPods};

const GPU: &str = "NVIDIA GeForce RTX 4090";
/// The model's size for the plan (bench/gpu/build.py's CPU model: 19.8M parameters).
const PARAMS_B: f64 = 0.0198;
/// The phases of a trainpod job, in order: each with the mark (event) that ends it.
const JOB_PHASES: [(&str, &str); 8] = [
    // The plan is stored and the pod created (one REST call to the emulator).
    ("deploy_call", "deploy_returned"),
    // The local provider starts the container's command; the bootstrap unpacks its bundle,
    // checks in with the app (a POST) and starts its stages.
    ("container_start_and_checkin", "preflight"),
    ("preflight", "dependencies"),
    ("dependencies", "dataset"),
    // Downloaded from the app and its sha256 checked.
    ("dataset", "training_stage"),
    // Python starts and imports the reporter.
    ("trainer_start", "trainer_loading"),
    // torch, transformers and TRL imported, the model loaded, the rows tokenized, the trainer
    // built.
    ("model_and_data", "trainer_training"),
    ("first_step", "first_step"),
];
/// The phases of a direct run, in order, timed from the process's spawn.
const DIRECT_PHASES: [(&str, &str); 3] = [
    ("trainer_start", "trainer_loading"),
    ("model_and_data", "trainer_training"),
    ("first_step", "first_step"),
];

fn repo_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The same run as bench/throughput.sh's, stopped early: LoRA, batch 8 of mixed-length rows.
fn hyperparameters() -> Hyperparameters {
    Hyperparameters {
        max_steps: 2,
        batch_size: 8,
        gradient_accumulation_steps: 1,
        max_length: 512,
        logging_steps: 1,
        gradient_checkpointing: false,
        ..Hyperparameters::for_method(Method::Lora)
    }
}

/// The pod's settings: no GPU, the training venv, the pinned stack as requirements (the venv
/// has it: the dependencies stage finds it satisfied), events flushed at once.
fn runtime(python: &Path) -> PodRuntime {
    PodRuntime {
        python: python.display().to_string(),
        expect_gpu: false,
        min_free_disk_gb: 1,
        heartbeat_s: 5,
        flush_s: 1,
        progress_s: 1,
        upload_reserve_s: 60,
        ..PodRuntime::default()
    }
}

/// What the event marks a phase's end, if any: the bootstrap's check-in and stages, the
/// trainer's phases and its first step (a progress or log event of step 1 or more).
fn mark_of(event: &Value) -> Option<&'static str> {
    let data = &event["data"];
    match event["type"].as_str()? {
        "checkin" => Some("checkin"),
        "stage" => match event["stage"].as_str()? {
            "preflight" => Some("preflight"),
            "dependencies" => Some("dependencies"),
            "dataset" => Some("dataset"),
            "training" => Some("training_stage"),
            _ => None,
        },
        "phase" => match data["phase"].as_str()? {
            "loading" => Some("trainer_loading"),
            "training" => Some("trainer_training"),
            _ => None,
        },
        "progress" | "log" if data["step"].as_f64().is_some_and(|s| s >= 1.0) => Some("first_step"),
        _ => None,
    }
}

/// The first time of each mark, in seconds after `t0`.
fn marks<'a>(events: impl Iterator<Item = &'a Value>, t0: f64) -> BTreeMap<&'static str, f64> {
    let mut out = BTreeMap::new();
    for e in events {
        if let (Some(mark), Some(ts)) = (mark_of(e), e["ts"].as_f64()) {
            out.entry(mark).or_insert(ts - t0);
        }
    }
    out
}

/// Each phase's seconds: from the previous mark (or the start) to its own, in order.
fn phases(
    marks: &BTreeMap<&'static str, f64>,
    order: &[(&str, &str)],
) -> serde_json::Map<String, Value> {
    let mut last = 0.0;
    let mut out = serde_json::Map::new();
    for (phase, mark) in order {
        let at = *marks
            .get(mark)
            .unwrap_or_else(|| panic!("no {mark} event: {marks:?}"));
        out.insert((*phase).to_owned(), json!(round3(at - last)));
        last = at;
    }
    out
}

struct Bench {
    tp: Arc<Trainpod>,
    emu: Emulator,
    python: PathBuf,
    model: PathBuf,
    dataset: PathBuf,
    work: PathBuf,
}

impl Bench {
    async fn plan(&self) -> Plan {
        let spec = JobSpec {
            params_b: Some(PARAMS_B),
            gpus: vec![GPU.into()],
            hyperparameters: Some(hyperparameters()),
            ..JobSpec::new(
                "bench",
                self.model.display().to_string(),
                DatasetRef::App { id: "mixed".into() },
                1.0,
            )
        };
        self.tp.plan(&spec).await.unwrap()
    }

    /// One job, deploy to its end: the marks of its phases (seconds after the deploy call) and
    /// whether the bootstrap found the dependencies already installed.
    async fn job(&self, plan: &Plan) -> (BTreeMap<&'static str, f64>, bool) {
        let t0 = now();
        let started = Instant::now();
        let job = self.tp.deploy(plan).await.unwrap();
        let deploy_returned = now() - t0;
        let pod = job.pod_id.clone().unwrap();
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let state = self.tp.store().get_job(&job.job_id).await.unwrap().unwrap();
            let ended = matches!(self.emu.pod_status(&pod), Some("TERMINATED" | "EXITED"))
                || self.emu.pod_vanished(&pod).is_some();
            if state.state.is_final() && ended {
                assert_eq!(
                    state.state,
                    JobState::Succeeded,
                    "the job failed: {}",
                    state.reason
                );
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(900),
                "the job never ended"
            );
        }
        let batches = self.tp.store().events(&job.job_id, 1).await.unwrap();
        let events: Vec<Value> = batches
            .iter()
            .flat_map(|(_, text)| serde_json::from_str::<Vec<Value>>(text).unwrap())
            .collect();
        // Fresh caches for the next job: each run tokenizes its rows as a new pod would.
        let _ = std::fs::remove_dir_all(self.work.join("hf-job"));
        let mut found = marks(events.iter(), t0);
        found.insert("deploy_returned", deploy_returned);
        let log = self
            .emu
            .local_pod(&pod)
            .and_then(|p| std::fs::read_to_string(p.log_file).ok())
            .unwrap_or_default();
        (found, log.contains("dependencies already satisfied"))
    }

    /// The same trainer, config and data run directly (`python -u trainer.py`, as the
    /// bootstrap starts it), without telemetry: its marks, in seconds after the spawn.
    async fn direct(&self, plan: &Plan, round: usize) -> BTreeMap<&'static str, f64> {
        let home = self.work.join(format!("direct-{round}"));
        let (bundle, state, work) = (home.join("bundle"), home.join("state"), home.join("work"));
        for d in [&bundle, &state, &work] {
            std::fs::create_dir_all(d).unwrap();
        }
        let pod_dir = repo_root().join("core/src/script/pod");
        for name in ["trainer.py", "reporter.py"] {
            std::fs::copy(pod_dir.join(name), bundle.join(name)).unwrap();
        }
        // The job's own config (credentials hidden), with no telemetry (the reporter then
        // only prints its events) and the dataset as a local file.
        let rendered = self.tp.render_script(plan).await.unwrap();
        let text = &rendered
            .files
            .iter()
            .find(|f| f.name == "config.json")
            .expect("the bundle has a config.json")
            .text;
        let mut config: Value = serde_json::from_str(text).unwrap();
        config["telemetry"] = Value::Null;
        config["dataset"] = json!({
            "kind": "path",
            "path": self.dataset.display().to_string(),
            "bytes": std::fs::metadata(&self.dataset).unwrap().len(),
        });
        std::fs::write(
            bundle.join("config.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
        let t0 = now();
        let mut child = Command::new(&self.python)
            .arg("-u")
            .arg(bundle.join("trainer.py"))
            .env("TRAINPOD_BUNDLE_DIR", &bundle)
            .env("TRAINPOD_STATE_DIR", &state)
            .env("TRAINPOD_WORK_DIR", &work)
            .env("TRAINPOD_DATASET", &self.dataset)
            .env("HF_HUB_OFFLINE", "1")
            .env("TRANSFORMERS_OFFLINE", "1")
            .env("HF_DATASETS_OFFLINE", "1")
            // Its own caches, removed after it, as a pod's (the datasets library would
            // otherwise find the rows already converted and tokenized by the last run).
            .env("HF_HOME", home.join("hf"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let events: Vec<Value> = tokio::task::spawn_blocking(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|line| {
                    // tqdm's bar shares the stream: the marker may start anywhere in a line.
                    let at = line.find("TRAINPOD_EVENT ")?;
                    serde_json::from_str(&line[at + "TRAINPOD_EVENT ".len()..]).ok()
                })
                .collect()
        })
        .await
        .unwrap();
        assert!(child.wait().unwrap().success(), "the direct run failed");
        let _ = std::fs::remove_dir_all(&home);
        marks(events.iter(), t0)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(3, |a| a.parse().expect("ROUNDS"));
    let data = PathBuf::from(args.next().expect("usage: first_step ROUNDS DATA_DIR"));
    let python = PathBuf::from(
        std::env::var("TRAINPOD_TRAIN_PYTHON").expect("set TRAINPOD_TRAIN_PYTHON (train-venv.sh)"),
    );
    let work = repo_root().join(format!("target/first-step/{}", std::process::id()));
    std::fs::create_dir_all(work.join("datasets")).unwrap();
    let dataset = data.join("mixed.jsonl");
    std::fs::copy(&dataset, work.join("datasets/mixed")).unwrap();
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
            extra_env: offline
                .iter()
                .map(|k| ((*k).to_owned(), "1".to_owned()))
                .chain([(
                    "HF_HOME".to_owned(),
                    work.join("hf-job").display().to_string(),
                )])
                .collect(),
            ..RunPods::default()
        }),
        ..Options::default()
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}", listener.local_addr().unwrap());
    let tp = Arc::new(
        Trainpod::builder()
            .ignore_env()
            .local_provider(emu.base_url(), ACCOUNT_KEY)
            .app_url(&app_url)
            .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
            .store_url("memory:")
            .datasets_dir(work.join("datasets"))
            .artifacts_dir(work.join("artifacts"))
            .pod_runtime(runtime(&python))
            .build()
            .await
            .unwrap(),
    );
    let router = trainpod::sdk::server::router(tp.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let bench = Bench {
        tp,
        emu,
        python,
        model: data.join("model"),
        dataset,
        work: work.clone(),
    };

    let mut rows = Vec::new();
    for round in 1..=rounds {
        let plan = bench.plan().await;
        let mut job = None;
        let mut direct = None;
        // Each round swaps the order, so that neither meets a warmer page cache every time.
        for first in [round % 2 == 1, round % 2 == 0] {
            if first {
                job = Some(bench.job(&plan).await);
            } else {
                direct = Some(bench.direct(&plan, round).await);
            }
        }
        let ((job, satisfied), direct) = (job.unwrap(), direct.unwrap());
        let job_phases = phases(&job, &JOB_PHASES);
        let direct_phases = phases(&direct, &DIRECT_PHASES);
        let total = job["first_step"];
        let installing = job["dataset"] - job["dependencies"];
        // The model is a local path: nothing is downloaded (the plan's estimate says 0 too).
        let downloading = 0.0;
        let direct_total = direct["first_step"];
        let overhead = (total - installing - downloading) / direct_total;
        let row = json!({
            "benchmark": "first step round",
            "round": round,
            "trainpod_s": round3(total),
            "direct_s": round3(direct_total),
            "dependencies_s": round3(installing),
            "dependencies_already_satisfied": satisfied,
            "model_download_s": downloading,
            "overhead_ratio": round3(overhead),
            "trainpod_phases_s": job_phases,
            "direct_phases_s": direct_phases,
            // `date +%s` in the bootstrap: whole seconds, so it reads up to 1 s early.
            "checkin_at_s": job.get("checkin").map(|t| round3(*t)),
        });
        println!("{row}");
        rows.push((row, plan));
    }

    let med = |f: &dyn Fn(&Value) -> f64| median(rows.iter().map(|(r, _)| f(r)).collect());
    let phase_medians = |key: &str, order: &[(&str, &str)]| {
        order
            .iter()
            .map(|(p, _)| {
                let m = med(&|r: &Value| r[key][*p].as_f64().unwrap());
                ((*p).to_owned(), json!(round3(m)))
            })
            .collect::<serde_json::Map<_, _>>()
    };
    let job_medians = phase_medians("trainpod_phases_s", &JOB_PHASES);
    let direct_medians = phase_medians("direct_phases_s", &DIRECT_PHASES);
    let plan = &rows[0].1;
    let estimate: serde_json::Map<String, Value> = plan
        .estimate
        .lines
        .iter()
        .filter(|l| l.phase != "training" && l.phase != "upload")
        .map(|l| {
            (
                l.phase.clone(),
                json!([round3(l.seconds_low), round3(l.seconds_high)]),
            )
        })
        .collect();
    println!(
        "{}",
        json!({
            "benchmark": "time to first step",
            "rounds": rounds,
            "trainpod_s": round3(med(&|r| r["trainpod_s"].as_f64().unwrap())),
            "direct_s": round3(med(&|r| r["direct_s"].as_f64().unwrap())),
            "dependencies_s": round3(med(&|r| r["dependencies_s"].as_f64().unwrap())),
            "dependencies_already_satisfied": rows.iter().all(|(r, _)| r["dependencies_already_satisfied"] == json!(true)),
            "model_download_s": 0.0,
            "overhead_ratio": round3(med(&|r| r["overhead_ratio"].as_f64().unwrap())),
            "per_round": rows.iter().map(|(r, _)| r["overhead_ratio"].clone()).collect::<Vec<_>>(),
            "target": 1.2,
            "trainpod_phases_s": job_medians,
            "direct_phases_s": direct_medians,
            "plan_estimate_s": estimate,
        })
    );
    print_table(&job_medians, &direct_medians, &estimate);
    server.abort();
    drop(bench);
    let _ = std::fs::remove_dir_all(&work);
}

/// The medians in phase order, beside the plan's estimate of the matching phase.
fn print_table(
    job: &serde_json::Map<String, Value>,
    direct: &serde_json::Map<String, Value>,
    estimate: &serde_json::Map<String, Value>,
) {
    // RunPod's provisioning (host, image pull, container start) is what the local provider's
    // first three phases stand for.
    let planned = |phase: &str| match phase {
        "deploy_call" => format!("provisioning {}", estimate["provisioning"]),
        "dependencies" => format!("dependencies {}", estimate["dependencies"]),
        "dataset" => format!("dataset_transfer {}", estimate["dataset_transfer"]),
        "model_and_data" => format!("model_download {}", estimate["model_download"]),
        _ => String::new(),
    };
    println!(
        "{:30} {:>10} {:>10}   plan's estimate (s, low-high)",
        "phase (median s)", "trainpod", "direct"
    );
    for (phase, _) in JOB_PHASES {
        let d = direct.get(phase).map_or("-".to_owned(), |v| v.to_string());
        println!(
            "{phase:30} {:>10} {d:>10}   {}",
            job[phase].to_string(),
            planned(phase)
        );
    }
}
