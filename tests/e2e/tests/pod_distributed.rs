//! The generated bundle training with several processes and several nodes: real TRL LoRA
//! training of the tiny model under `accelerate launch` (torchrun, gloo on CPU), each node a pod
//! of the emulator's local provider (its own process group and workspace), reporting to a real
//! app on loopback. Needs a Python with the pinned training stack (`TRAINPOD_TRAIN_PYTHON`);
//! without it the tests say so and pass, unless `TRAINPOD_REQUIRE_TRAINING=1` (as in CI).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use trainpod::runpod::{CreatePodRequest, GpuRequest};
use trainpod::script::{
    Artifacts, Bundle, DatasetSource, Endpoint, Hyperparameters, Method, PodRuntime, PodScript,
    Secret, Training, generate,
};
use trainpod::token::Purpose;
use trainpod_e2e::{
    App, emulator_client, eventually, fresh_dir, sha256_hex, train_python, unix_now,
};
use trainpod_emulator::{Emulator, Options, RunPods, VanishCause, cluster_env};

/// Each test trains with two processes on a machine that may have two cores: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long a whole tiny job may take on a loaded machine (model build, two launches, upload).
const JOB_BOUND: Duration = Duration::from_secs(600);

/// Builds the tiny model and its chat dataset.
fn tiny_model(python: &str, dir: &Path) -> (PathBuf, Vec<u8>) {
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

/// What a test varies: the job's shape and length, and where the model comes from.
struct Job<'a> {
    id: &'a str,
    model: String,
    nodes: u32,
    gpus_per_node: u32,
    max_steps: u64,
    logging_steps: u32,
    /// Seconds from now to the hard deadline, and the share of them kept for the upload.
    deadline: (u64, u32),
    /// Whether the trainer must find a GPU (this machine has none).
    expect_gpu: bool,
}

/// The deadline of a job that is meant to end by itself: far off, with a normal reserve.
const FAR: (u64, u32) = (900, 120);

impl<'a> Job<'a> {
    /// A job of `nodes` x `gpus_per_node` processes on CPU that ends by itself after a few steps.
    fn short(id: &'a str, model: &Path, nodes: u32, gpus_per_node: u32) -> Job<'a> {
        Job {
            id,
            model: model.to_str().unwrap().into(),
            nodes,
            gpus_per_node,
            max_steps: 6,
            logging_steps: 2,
            deadline: FAR,
            expect_gpu: false,
        }
    }

    /// The same job, training until something stops it: mid-run whenever a test acts.
    fn endless(self) -> Job<'a> {
        Job {
            max_steps: 1_000_000,
            logging_steps: 1000,
            ..self
        }
    }
}

/// A job's world: the app, the local provider, and the job's pods (node 0 first).
struct World {
    app: App,
    emu: Emulator,
    pods: Vec<String>,
    dir: PathBuf,
}

async fn world(dir: &Path, data: &[u8]) -> (App, Emulator) {
    let app = App::start().await;
    app.state
        .lock()
        .unwrap()
        .datasets
        .insert("chat".into(), data.to_vec());
    let emu = Emulator::start_with(Options {
        run_pods: Some(RunPods {
            workspace_root: Some(dir.join("pods")),
            stop_grace: Duration::from_secs(2),
            ..RunPods::default()
        }),
        ..Options::default()
    })
    .await
    .unwrap();
    (app, emu)
}

fn script(job: &Job<'_>, app: &App, emu: &Emulator, python: &str, data: &[u8]) -> PodScript {
    let hp = Hyperparameters {
        max_steps: job.max_steps,
        batch_size: 4,
        gradient_accumulation_steps: 1,
        // High enough that six steps lower the loss by more than a logged mean's noise (at
        // 3e-3 the three logged losses moved by about 0.005, the size of that noise).
        learning_rate: 3e-2,
        max_length: 64,
        logging_steps: job.logging_steps,
        lora_r: 4,
        lora_alpha: 8,
        gradient_checkpointing: false,
        ..Hyperparameters::for_method(Method::Lora)
    };
    let now = unix_now() as u64;
    let token = |p, d| Secret::new(app.token(p, job.id, d, 3600));
    PodScript {
        version: 1,
        job_id: job.id.into(),
        attempt: 1,
        issued_at: now,
        deadline_unix: now + job.deadline.0,
        telemetry: Some(Endpoint {
            url: format!("{}/metrics/{}", app.base, job.id),
            token: token(Purpose::MetricsWrite, None),
        }),
        dataset: DatasetSource::Url {
            url: format!("{}/datasets/chat", app.base),
            token: Some(token(Purpose::DatasetRead, Some("chat"))),
            bytes: data.len() as u64,
            sha256: sha256_hex(data),
        },
        training: Training::Sft {
            model: job.model.clone(),
            method: Method::Lora,
            hyperparameters: hp,
            dataset_format: None,
            eval_dataset_format: None,
        },
        artifacts: Artifacts::App {
            url: format!("{}/artifacts/{}", app.base, job.id),
            token: token(Purpose::ArtifactsWrite, None),
        },
        runtime: PodRuntime {
            api_base: emu.base_url(),
            python: python.into(),
            expect_gpu: job.expect_gpu,
            min_free_disk_gb: 1,
            heartbeat_s: 2,
            flush_s: 1,
            progress_s: 1,
            upload_reserve_s: job.deadline.1,
            // The training venv has the pinned stack: nothing to install.
            requirements: vec![],
            nodes: job.nodes,
            gpus_per_node: job.gpus_per_node,
            ..PodRuntime::default()
        },
        resume: None,
        eval_dataset: None,
    }
}

/// A loopback port nothing listens on now, for the primary's rendezvous.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Creates one pod carrying `bundle` with `env` beside it, as deploy creates a pod (the local
/// provider starts it at once); returns its id.
async fn create_node(
    emu: &Emulator,
    name: &str,
    bundle: &Bundle,
    gpus: u32,
    env: Vec<(String, String)>,
) -> String {
    let mut all: BTreeMap<String, String> = bundle.env.clone();
    all.extend(env);
    let request = CreatePodRequest {
        name: name.into(),
        image: trainpod::script::DEFAULT_IMAGE.into(),
        args: Some(bundle.start_command.clone()),
        env: all,
        gpu: Some(GpuRequest {
            id: "NVIDIA GeForce RTX 4090".into(),
            count: gpus,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    };
    let client = emulator_client(emu);
    client.create_pod(&request, &[]).await.unwrap().pod.id
}

/// The offline Hugging Face settings of node `rank`, its cache its own (`dir/hf-<rank>`).
fn offline_env(dir: &Path, rank: u32) -> Vec<(String, String)> {
    let home = dir.join(format!("hf-{rank}"));
    vec![
        ("HF_HUB_OFFLINE".into(), "1".into()),
        ("TRANSFORMERS_OFFLINE".into(), "1".into()),
        ("HF_DATASETS_OFFLINE".into(), "1".into()),
        ("HF_HOME".into(), home.to_str().unwrap().into()),
    ]
}

/// Deploys `job`: one pod for a single node; for several, one pod per node with the cluster's
/// env. The nodes are plain pods given the env a cluster's members get (NODE_RANK,
/// PRIMARY_ADDR, a free PRIMARY_PORT, NUM_NODES, ...), every node on loopback as on the local
/// provider: the bundle alone is under test here; `clusters.rs` and the bindings' tests run
/// the SDK's clusters.
async fn deploy(job: &Job<'_>, python: &str, dir: &Path, data: &[u8]) -> World {
    let (app, emu) = world(dir, data).await;
    let bundle = generate(&script(job, &app, &emu, python, data)).unwrap();
    let port = free_port();
    let mut pods = Vec::new();
    for rank in 0..job.nodes {
        let mut env = offline_env(dir, rank);
        if job.nodes > 1 {
            env.extend(cluster_env(
                "127.0.0.1",
                port,
                "127.0.0.1",
                rank,
                job.nodes,
                job.gpus_per_node,
            ));
        }
        let name = format!("trainpod-{}-node{rank}", job.id);
        pods.push(create_node(&emu, &name, &bundle, job.gpus_per_node, env).await);
    }
    World {
        app,
        emu,
        pods,
        dir: dir.to_owned(),
    }
}

impl World {
    /// The pod's home (`TRAINPOD_HOME`) on the local provider.
    fn home(&self, pod: &str) -> PathBuf {
        self.emu.local_pod(pod).unwrap().workspace.join("trainpod")
    }

    /// What the pod's container wrote.
    fn output(&self, pod: &str) -> String {
        let log = self.emu.local_pod(pod).unwrap().log_file;
        std::fs::read_to_string(log).unwrap_or_default()
    }

    fn outputs(&self) -> String {
        self.pods
            .iter()
            .enumerate()
            .map(|(rank, pod)| format!("--- node {rank} ---\n{}", self.output(pod)))
            .collect()
    }

    fn events(&self) -> Vec<Value> {
        self.app.state.lock().unwrap().events()
    }

    fn of(&self, kind: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["type"] == kind)
            .collect()
    }

    /// Every process still running from any of the job's pods (torchrun's processes included,
    /// which run in sessions of their own): those whose command line names a pod's workspace.
    fn live_processes(&self) -> Vec<String> {
        let root = self.dir.join("pods");
        let root = root.to_str().unwrap();
        let mut live = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let path = entry.path();
            let Ok(cmdline) = std::fs::read(path.join("cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let zombie = std::fs::read_to_string(path.join("stat"))
                .is_ok_and(|s| s.rsplit(") ").next().unwrap_or("").starts_with('Z'));
            if cmdline.contains(root) && !zombie {
                live.push(cmdline);
            }
        }
        live
    }

    /// The process of training rank `rank` on the pod of node 0 (its environment says RANK).
    fn trainer_pid(&self, rank: u32) -> Option<u32> {
        let home = self.home(&self.pods[0]);
        let script = home.join("bundle/trainer.py");
        let script = script.to_str().unwrap();
        let var = format!("RANK={rank}");
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .find_map(|entry| {
                let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
                let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
                let environ = std::fs::read(entry.path().join("environ")).ok()?;
                let ours = String::from_utf8_lossy(&cmdline).contains(script)
                    && environ.split(|b| *b == 0).any(|v| v == var.as_bytes());
                ours.then_some(pid)
            })
    }

    /// Every pod terminated and none of their processes left.
    fn all_ended(&self) -> bool {
        self.pods
            .iter()
            .all(|p| self.emu.pod_status(p) == Some("TERMINATED"))
            && self.live_processes().is_empty()
    }

    /// Waits up to `bound` for the primary's final status and for every pod to end.
    async fn wait_for_the_end(&self, bound: Duration) -> Value {
        let ended = eventually(bound, || {
            self.app.state.lock().unwrap().final_event().is_some() && self.all_ended()
        })
        .await;
        assert!(
            ended,
            "not every pod ended (left: {:?}); the pods said:\n{}",
            self.live_processes(),
            self.outputs()
        );
        self.app.state.lock().unwrap().final_event().unwrap()
    }

    /// The final statuses the app took: exactly one.
    fn one_final(&self) -> Value {
        let finals = self.of("final");
        assert_eq!(finals.len(), 1, "{finals:?}");
        finals[0].clone()
    }

    fn losses(&self) -> Vec<f64> {
        self.of("log")
            .iter()
            .filter_map(|e| e["data"]["loss"].as_f64())
            .collect()
    }
}

fn decode(v: &Value) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A successful job: the loss went down, every process took part, and one adapter came back.
fn assert_trained(w: &World, job: &str, processes: u64) {
    let fin = w.one_final();
    let output = w.outputs();
    assert_eq!(fin["data"]["status"], "succeeded", "{output}");
    let started = w.of("started");
    assert_eq!(started.len(), 1, "only rank 0 reports: {started:?}");
    assert_eq!(started[0]["data"]["processes"], processes, "{output}");
    let losses = w.losses();
    assert_eq!(losses.len(), 3, "a loss every 2 of 6 steps: {losses:?}");
    assert!(
        losses.last().unwrap() < losses.first().unwrap(),
        "the loss went down: {losses:?}"
    );
    assert_eq!(w.of("result").len(), 1);
    let s = w.app.state.lock().unwrap();
    let manifest = s
        .completed
        .as_ref()
        .expect("the app confirmed the manifest");
    let adapters: Vec<&Value> = manifest
        .iter()
        .filter(|f| f["path"] == "adapter_model.safetensors")
        .collect();
    assert_eq!(adapters.len(), 1, "{manifest:?}");
    for f in manifest {
        let path = f["path"].as_str().unwrap();
        let body = &s.uploads[&format!("{job}/{path}")];
        assert_eq!(sha256_hex(body), f["sha256"].as_str().unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_with_two_gpus_trains_with_two_processes_and_reports_once() {
    let Some(python) = train_python() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = fresh_dir("dist-2gpu");
    let (model, data) = tiny_model(&python, &dir);
    let job = Job::short("job-2gpu", &model, 1, 2);
    let w = deploy(&job, &python, &dir, &data).await;
    w.wait_for_the_end(JOB_BOUND).await;
    assert_trained(&w, job.id, 2);
    // The stages ran once: each stage event once, in one stream numbered from the check-in.
    let stages: Vec<Value> = w.of("stage").iter().map(|e| e["stage"].clone()).collect();
    assert_eq!(
        stages,
        [
            "preflight",
            "dependencies",
            "dataset",
            "training",
            "uploading"
        ],
        "{stages:?}"
    );
    let output = w.output(&w.pods[0]);
    assert!(
        output.contains("training with 2 processes, 2 on this node (node 0 of 1"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_train_as_one_job_and_only_the_primary_reports() {
    let Some(python) = train_python() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = fresh_dir("dist-2nodes");
    let (model, data) = tiny_model(&python, &dir);
    let job = Job::short("job-2nodes", &model, 2, 1);
    let w = deploy(&job, &python, &dir, &data).await;
    // A worker that trained waits to be deleted with its cluster, which trainpod does on the
    // primary's final status; these plain pods stand in for a cluster's, so the test ends the
    // worker as deleting the cluster would.
    let waiting = eventually(JOB_BOUND, || {
        w.app.state.lock().unwrap().final_event().is_some()
            && w.output(&w.pods[1]).contains("waits for the cluster")
    })
    .await;
    assert!(waiting, "the pods said:\n{}", w.outputs());
    assert_eq!(w.emu.pod_status(&w.pods[1]), Some("RUNNING"));
    emulator_client(&w.emu)
        .terminate_pod(&w.pods[1])
        .await
        .unwrap();
    w.wait_for_the_end(JOB_BOUND).await;
    assert_trained(&w, job.id, 2);
    // Node 1 ran the stages (it downloaded the dataset too) but sent nothing: one check-in, one
    // event per stage, and an outbox it never wrote.
    let stages = w.of("stage");
    assert_eq!(stages.len(), 5, "{stages:?}");
    let downloads = w.app.state.lock().unwrap().dataset_requests.len();
    assert_eq!(downloads, 2, "each node downloads the dataset");
    let worker = w.home(&w.pods[1]);
    assert!(!worker.join("state/batch").exists());
    assert_eq!(
        std::fs::read_dir(worker.join("state/outbox"))
            .unwrap()
            .count(),
        0
    );
    // Only the primary saved and uploaded; the worker logged its outcome and ended its pod.
    assert!(!worker.join("work/output/final").exists());
    assert!(
        w.home(&w.pods[0])
            .join("work/output/final/adapter_model.safetensors")
            .exists()
    );
    let said = w.output(&w.pods[1]);
    assert!(said.contains("final: succeeded (stage training"), "{said}");
    assert!(said.contains("reports nothing"), "{said}");
    assert!(!said.contains("stage uploading"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_lost_mid_run_fails_the_job_with_the_cause_and_every_pod_ends() {
    let Some(python) = train_python() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = fresh_dir("dist-lost");
    let (model, data) = tiny_model(&python, &dir);
    // Far more steps than the test waits for: the job is mid-run when the node goes.
    let job = Job::short("job-lost", &model, 2, 1).endless();
    let w = deploy(&job, &python, &dir, &data).await;
    let training = eventually(JOB_BOUND, || {
        w.of("progress")
            .iter()
            .any(|e| e["data"]["step"].as_u64() >= Some(3))
    })
    .await;
    assert!(training, "training never started:\n{}", w.outputs());
    // The worker's host goes: its whole process group is killed at once.
    assert!(w.emu.vanish_pod(&w.pods[1], VanishCause::Host));
    let fin = w.wait_for_the_end(Duration::from_secs(60)).await;
    let output = w.outputs();
    assert_eq!(fin["data"]["status"], "failed", "{output}");
    assert_eq!(fin["stage"], "training", "{output}");
    let cause = decode(&fin["data"]["cause_b64"]);
    assert!(
        cause.contains("a collective across the job's 2 training processes failed")
            && cause.contains("peer"),
        "{cause}"
    );
    assert_eq!(w.of("final").len(), 1);
    assert!(w.of("result").is_empty());
}

/// A copy of `model` in the layout of a Hugging Face cache under `hf_home`, as the model `id`.
fn cache_model(model: &Path, hf_home: &Path, id: &str) {
    let revision = "0123456789abcdef0123456789abcdef01234567";
    let repo = hf_home
        .join("hub")
        .join(format!("models--{}", id.replace('/', "--")));
    let snapshot = repo.join("snapshots").join(revision);
    std::fs::create_dir_all(&snapshot).unwrap();
    for file in std::fs::read_dir(model).unwrap().flatten() {
        std::fs::copy(file.path(), snapshot.join(file.file_name())).unwrap();
    }
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), revision).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trainer_exception_on_a_worker_node_fails_the_job_through_rank_0() {
    let Some(python) = train_python() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = fresh_dir("dist-worker-raises");
    let (model, data) = tiny_model(&python, &dir);
    // The model comes from the Hub, offline: node 0's cache has it, node 1's does not, so the
    // trainer raises on node 1 only, once every process has joined the job.
    cache_model(&model, &dir.join("hf-0"), "tiny/llama");
    let job = Job {
        id: "job-worker-raises",
        model: "tiny/llama".into(),
        nodes: 2,
        gpus_per_node: 1,
        max_steps: 6,
        logging_steps: 2,
        deadline: FAR,
        expect_gpu: false,
    };
    let w = deploy(&job, &python, &dir, &data).await;
    let fin = w.wait_for_the_end(JOB_BOUND).await;
    let output = w.outputs();
    assert_eq!(fin["data"]["status"], "failed", "{output}");
    assert_eq!(fin["stage"], "training", "{output}");
    let cause = decode(&fin["data"]["cause_b64"]);
    assert!(cause.contains("a collective across the job's 2 training processes failed"));
    // The worker's own log says what it raised, and that it ended its pod without reporting.
    let said = w.output(&w.pods[1]);
    assert!(said.contains("final: failed (stage training"), "{said}");
    assert!(
        said.contains("training failed: OSError: ") && said.contains("cached files"),
        "{said}"
    );
    assert!(said.contains("reports nothing"), "{said}");
    assert_eq!(w.of("final").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_stops_every_training_process_of_a_pod() {
    let Some(python) = train_python() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = fresh_dir("dist-deadline");
    let (model, data) = tiny_model(&python, &dir);
    let job = Job {
        id: "job-deadline",
        model: model.to_str().unwrap().into(),
        nodes: 1,
        gpus_per_node: 2,
        max_steps: 1_000_000,
        logging_steps: 1000,
        // About 45 s to train (less the reserve, the final budget and 5 s), then the deadline.
        deadline: (60, 4),
        expect_gpu: false,
    };
    let w = deploy(&job, &python, &dir, &data).await;
    let fin = w.wait_for_the_end(JOB_BOUND).await;
    let output = w.outputs();
    assert_eq!(fin["data"]["status"], "failed", "{output}");
    assert_eq!(fin["data"]["reason"], "deadline", "{output}");
    assert_eq!(fin["data"]["exit_code"], 124, "{output}");
    assert!(
        w.of("progress").len() > 1,
        "it was training when the deadline came:\n{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_training_process_killed_outright_fails_the_job_as_one_trainer_would() {
    let Some(python) = train_python() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = fresh_dir("dist-killed");
    let (model, data) = tiny_model(&python, &dir);
    let job = Job::short("job-killed", &model, 1, 2).endless();
    let w = deploy(&job, &python, &dir, &data).await;
    let training = eventually(JOB_BOUND, || !w.of("progress").is_empty()).await;
    assert!(training, "training never started:\n{}", w.outputs());
    // As the out-of-memory killer ends one process.
    let pid = w.trainer_pid(1).expect("rank 1 runs");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let fin = w.wait_for_the_end(Duration::from_secs(60)).await;
    let output = w.outputs();
    assert_eq!(fin["data"]["status"], "failed", "{output}");
    assert_eq!(fin["data"]["exit_code"], 137, "{output}");
    let cause = decode(&fin["data"]["cause_b64"]);
    assert_eq!(
        cause,
        "a training process (rank 1) was killed (SIGKILL, as by the out-of-memory killer)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_seen_by_rank_0_stops_every_process_at_the_same_step() {
    let Some(python) = train_python() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = fresh_dir("dist-cancel");
    let (model, data) = tiny_model(&python, &dir);
    let job = Job::short("job-cancel", &model, 1, 2).endless();
    let w = deploy(&job, &python, &dir, &data).await;
    let training = eventually(JOB_BOUND, || !w.of("progress").is_empty()).await;
    assert!(training, "training never started:\n{}", w.outputs());
    // The job ends at the app: its next answer to rank 0's reporter says to stop.
    let record = w.app.store.get_job(job.id).await.unwrap().unwrap();
    let ended = trainpod::store::JobRecord {
        state: trainpod::jobs::JobState::Cancelled,
        ..record.clone()
    };
    assert!(w.app.store.update_job(&ended, record.state).await.unwrap());
    // Had rank 0 stopped alone, rank 1 would have failed at its next collective.
    let fin = w.wait_for_the_end(Duration::from_secs(120)).await;
    let output = w.outputs();
    assert_eq!(fin["data"]["status"], "succeeded", "{output}");
    let trained = w.of("trained");
    assert_eq!(trained.len(), 1, "{output}");
    let step = trained[0]["data"]["step"].as_u64().unwrap();
    assert!(step < 1_000_000, "stopped early, at step {step}");
    assert!(
        w.app
            .state
            .lock()
            .unwrap()
            .uploads
            .contains_key("job-cancel/adapter_model.safetensors")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_gpu_fails_every_process_in_preflight_as_one_trainer_would() {
    let Some(python) = train_python() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = fresh_dir("dist-nogpu");
    let (model, data) = tiny_model(&python, &dir);
    let job = Job {
        expect_gpu: true,
        ..Job::short("job-nogpu", &model, 1, 2)
    };
    let w = deploy(&job, &python, &dir, &data).await;
    let fin = w.wait_for_the_end(JOB_BOUND).await;
    let output = w.outputs();
    assert_eq!(fin["data"]["status"], "failed", "{output}");
    assert_eq!(fin["stage"], "preflight", "{output}");
    assert_eq!(fin["data"]["exit_code"], 12, "{output}");
    let cause = decode(&fin["data"]["cause_b64"]);
    assert!(cause.starts_with("no GPU is visible to torch"), "{cause}");
}
