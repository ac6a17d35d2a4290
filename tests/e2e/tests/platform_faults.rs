//! RunPod as it really fails, through the SDK on the local provider with the real generated
//! script: every fault profile of the emulator, each with the outcome trainpod defines for it
//! (docs/pod-protocol.md, README "Reconciler"). The SDK's clock is a manual one set from the real
//! time, so that the reconciler's limits are crossed by moving it rather than by waiting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use trainpod::clock::{Clock, ManualClock};
use trainpod::jobs::{JobState, ReconcilePolicy};
use trainpod::runpod::{CreatePodRequest, GpuRequest};
use trainpod::script::PodRuntime;
use trainpod::sdk::{DatasetRef, JobSpec, JobStatus, Trainpod};
use trainpod::store::JobRecord;
use trainpod::token::{KeyRing, generate_secret};
use trainpod::{ErrorKind, jobs::ReconcileAction};
use trainpod_e2e::{eventually, unix_now};
use trainpod_emulator::{ACCOUNT_KEY, Emulator, Options, RunPods, VanishCause};

const A4090: &str = "NVIDIA GeForce RTX 4090";
const A40: &str = "NVIDIA A40";

/// One world: the local provider, an app serving the SDK's routes, a dataset server that never
/// answers (so a pod that starts stays in its dataset stage, alive and reporting), the SDK.
struct World {
    emu: Emulator,
    tp: Arc<Trainpod>,
    clock: Arc<ManualClock>,
    stall: String,
}

/// The pod's Python: the training venv when there is one (preflight finds torch there); else
/// the system's, for the faults that act before a container runs.
fn pod_python() -> String {
    std::env::var("TRAINPOD_TRAIN_PYTHON").unwrap_or_else(|_| "python3".into())
}

async fn world(policy: ReconcilePolicy, python: &str) -> World {
    world_with(policy, python, true).await
}

/// As [`world`]; without `serve_app`, nothing answers at the app's URL (an app that is down).
async fn world_with(policy: ReconcilePolicy, python: &str, serve_app: bool) -> World {
    let emu = Emulator::start_with(Options {
        run_pods: Some(RunPods {
            restart_delay: Duration::from_millis(300),
            stop_grace: Duration::from_secs(1),
            ..RunPods::default()
        }),
        ..Options::default()
    })
    .await
    .unwrap();
    let stall = stalling_server().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}", listener.local_addr().unwrap());
    let clock = Arc::new(ManualClock::new(unix_now() as u64));
    let tp = Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .app_url(&app_url)
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url("memory:")
        .clock(clock.clone())
        .reconcile_policy(policy)
        .follow_interval(Duration::from_millis(100))
        .pod_runtime(PodRuntime {
            python: python.into(),
            expect_gpu: false,
            min_free_disk_gb: 0,
            heartbeat_s: 1,
            flush_s: 1,
            requirements: vec![],
            checkin_budget_s: 5,
            ..PodRuntime::default()
        })
        .build()
        .await
        .unwrap();
    let tp = Arc::new(tp);
    if serve_app {
        let router = trainpod::sdk::server::router(tp.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
    } else {
        drop(listener);
    }
    World {
        emu,
        tp,
        clock,
        stall,
    }
}

/// A server that accepts and never answers: a dataset download that hangs.
async fn stalling_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/dataset.jsonl", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

impl World {
    fn spec(&self, job: &str, gpus: &[&str]) -> JobSpec {
        JobSpec {
            job_id: Some(job.into()),
            gpus: gpus.iter().map(|g| (*g).to_owned()).collect(),
            ..JobSpec::new(
                "user-1",
                "Qwen/Qwen2.5-0.5B",
                DatasetRef::Url {
                    url: self.stall.clone(),
                    bytes: 100,
                    sha256: "0".repeat(64),
                },
                5.0,
            )
        }
    }

    async fn deploy(&self, job: &str, gpus: &[&str]) -> JobStatus {
        let plan = self.tp.plan(&self.spec(job, gpus)).await.unwrap();
        self.tp.deploy(&plan).await.unwrap()
    }

    /// Moves the SDK's clock (the pod keeps the real one).
    fn later(&self, secs: u64) {
        self.clock.set(self.clock.now_unix_secs() + secs);
    }

    async fn job(&self, id: &str) -> JobRecord {
        self.tp.store().get_job(id).await.unwrap().unwrap()
    }

    /// Waits until the job's pod has reported (its container runs the script).
    async fn reported(&self, id: &str) {
        let store = self.tp.store().clone();
        let id = id.to_owned();
        let mut heard = false;
        for _ in 0..300 {
            if store
                .get_job(&id)
                .await
                .unwrap()
                .is_some_and(|j| j.last_heartbeat.is_some())
            {
                heard = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(heard, "job {id}'s pod never reported");
    }

    async fn reconcile(&self) -> Vec<ReconcileAction> {
        self.tp.reconcile().await.unwrap()
    }

    fn pod(&self, status: &JobStatus) -> String {
        status.pod_id.clone().expect("a pod")
    }

    /// Waits until the pod reads RUNNING (whether or not a container runs).
    async fn running(&self, pod: &str) {
        let running = eventually(Duration::from_secs(15), || {
            self.emu.pod_status(pod) == Some("RUNNING")
        })
        .await;
        assert!(running, "pod {pod} never read RUNNING");
    }

    /// Waits until no process of the pod is left.
    async fn no_process(&self, pod: &str) {
        let gone = eventually(Duration::from_secs(15), || {
            self.emu.local_pod(pod).is_none_or(|p| p.pid.is_none())
        })
        .await;
        assert!(gone, "pod {pod} still has a process");
    }
}

fn only<'a>(actions: &'a [ReconcileAction], reason: &str) -> &'a ReconcileAction {
    let found: Vec<&ReconcileAction> = actions.iter().filter(|a| a.reason == reason).collect();
    assert_eq!(found.len(), 1, "one {reason} action in {actions:?}");
    found[0]
}

async fn vanished_job_ends(cause: VanishCause, job: &str) {
    let w = world(ReconcilePolicy::default(), &pod_python()).await;
    let status = w.deploy(job, &[A4090]).await;
    let pod = w.pod(&status);
    w.reported(job).await;
    assert!(w.emu.vanish_pod(&pod, cause));
    w.no_process(&pod).await;
    // Within one reconcile interval (once the listing grace has passed): ended, cost settled.
    w.later(120);
    let actions = w.reconcile().await;
    let a = only(&actions, "pod_vanished");
    assert_eq!(
        (a.job_state, a.error.as_ref()),
        (Some(JobState::Failed), None)
    );
    let ended = w.job(job).await;
    assert_eq!(ended.reason, "pod_vanished");
    assert!(ended.cause.contains("gone from RunPod"), "{}", ended.cause);
    let billed = ended.cost_usd.expect("the cost is settled");
    let status = w.tp.status(job).await.unwrap();
    assert!((status.cost_usd - billed).abs() < 1e-9);
    // RunPod's billing stopped when the pod went: the SDK's clock moved on 120 s, the cost not.
    w.later(3600);
    assert!((w.tp.status(job).await.unwrap().cost_usd - billed).abs() < 1e-9);
    // Once the job has ended, its final bill is read, once, and agrees.
    let actions = w.reconcile().await;
    assert_eq!(only(&actions, "billed").job_id.as_deref(), Some(job));
    let bill = w.tp.status(job).await.unwrap().billed_usd.expect("billed");
    assert!((bill - billed).abs() < 1e-9, "{bill} vs {billed}");
    assert!(w.reconcile().await.is_empty(), "nothing left to do");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_deleted_in_the_console_ends_its_job() {
    vanished_job_ends(VanishCause::Console, "gone-console").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_lost_with_its_host_ends_its_job() {
    vanished_job_ends(VanishCause::Host, "gone-host").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_balance_ends_the_job_and_deploy_says_why() {
    let w = world(ReconcilePolicy::default(), &pod_python()).await;
    let status = w.deploy("broke", &[A4090]).await;
    let pod = w.pod(&status);
    w.reported("broke").await;
    w.emu.vanish_pod(&pod, VanishCause::Balance);
    w.no_process(&pod).await;
    w.later(120);
    // The container is stopped (SIGTERM, then SIGKILL): a pod that reported its end in that
    // grace ended its job itself; otherwise the reconciler finds the pod gone.
    let actions = w.reconcile().await;
    let ended = w.job("broke").await;
    assert_eq!(ended.state, JobState::Failed);
    if ended.reason == "pod_vanished" {
        only(&actions, "pod_vanished");
    } else {
        assert!(
            ended.cause.contains("SIGTERM"),
            "{}: {}",
            ended.reason,
            ended.cause
        );
    }
    // The next deploy is refused for the balance, and its job is left as it was.
    let plan = w.tp.plan(&w.spec("broke-2", &[A4090])).await.unwrap();
    let err = w.tp.deploy(&plan).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientBalance, "{err}");
    let job = w.job("broke-2").await;
    assert_eq!((job.state, job.pod_id), (JobState::Queued, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_ends_when_the_pod_vanishes() {
    let w = world(ReconcilePolicy::default(), &pod_python()).await;
    let status = w.deploy("gone-follow", &[A4090]).await;
    let pod = w.pod(&status);
    w.reported("gone-follow").await;
    w.emu.vanish_pod(&pod, VanishCause::Console);
    // A heartbeat sent as the pod went, taken after the clock moved, would keep the job fresh.
    w.no_process(&pod).await;
    w.later(300);
    let mut follow = w.tp.follow("gone-follow");
    let mut last = None;
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(update) = follow.next().await.unwrap() {
            if let trainpod::sdk::FollowUpdate::Status(s) = update {
                last = Some(s);
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "follow never ended");
    let last = last.expect("a status");
    assert_eq!(
        (last.state, last.reason.as_str()),
        (JobState::Failed, "pod_vanished")
    );
}

/// A pod that never runs its container ends with what its log showed: at once when waiting
/// cannot help (`at_once`), else at the provision timeout.
async fn never_started(profile: &str, reason: &str, words: &str, at_once: bool) {
    let policy = ReconcilePolicy {
        provision_timeout_secs: 300,
        ..ReconcilePolicy::default()
    };
    let w = world(policy, &pod_python()).await;
    w.emu.profile(profile).unwrap();
    let status = w.deploy("stuck", &[A4090]).await;
    let pod = w.pod(&status);
    w.running(&pod).await;
    if at_once {
        // The pull is refused as the pod starts: the line is in its system log by now.
        tokio::time::sleep(Duration::from_millis(500)).await;
    } else {
        // Before the timeout it is left alone: a slow host may still start it.
        assert!(w.reconcile().await.is_empty());
        w.later(301);
    }
    let actions = w.reconcile().await;
    assert_eq!(only(&actions, reason).job_state, Some(JobState::Failed));
    assert_eq!(w.emu.pod_status(&pod), Some("TERMINATED"));
    let job = w.job("stuck").await;
    assert!(job.cause.contains(words), "{}", job.cause);
    let status = w.tp.status("stuck").await.unwrap();
    assert_eq!(status.cause, job.cause);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_pull_docker_hub_refuses_ends_at_the_next_pass_with_its_log_line() {
    never_started("pull-backoff", "image_pull_failed", "toomanyrequests", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_host_ends_at_the_timeout() {
    never_started("stuck-host", "no_container", "no container ran", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cuda_constraint_keeps_old_hosts_away_and_a_pod_on_one_ends_at_once() {
    let w = world(ReconcilePolicy::default(), &pod_python()).await;
    w.emu.profile("old-cuda-host").unwrap();
    // trainpod asks for the image's CUDA: the pod lands on a new enough host and runs.
    let status = w.deploy("cuda", &[A4090]).await;
    let pod = w.tp.runpod().get_pod(&w.pod(&status)).await.unwrap();
    assert_eq!(pod.cuda_version.as_deref(), Some("12.8"));
    w.reported("cuda").await;
    // A pod created without it (another client) lands on the old host and never starts; its
    // job ends at the next pass, not at the timeout.
    let request = CreatePodRequest {
        name: "trainpod-cuda-raw".into(),
        image: trainpod::script::DEFAULT_IMAGE.into(),
        args: Some("sleep 600".into()),
        gpu: Some(GpuRequest {
            id: A4090.into(),
            count: 1,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    };
    let raw = w.tp.runpod().create_pod(&request, &[]).await.unwrap().pod;
    assert_eq!(raw.cuda_version.as_deref(), Some("12.4"));
    let now = w.clock.now_unix_secs();
    let job = JobRecord {
        state: JobState::Provisioning,
        pod_id: Some(raw.id.clone()),
        started_at: Some(now),
        deadline_unix: now + 3600,
        budget_usd: 5.0,
        price_per_hour: 0.69,
        ..JobRecord::new("cuda-raw", "user-1", now)
    };
    w.tp.store().insert_job(&job).await.unwrap();
    w.running(&raw.id).await;
    assert_eq!(w.emu.container_running(&raw.id), Some(false));
    let actions = w.reconcile().await;
    assert_eq!(
        only(&actions, "cuda_unsupported").pod_id.as_deref(),
        Some(raw.id.as_str())
    );
    let ended = w.job("cuda-raw").await;
    assert!(ended.cause.contains("cuda>=12.8"), "{}", ended.cause);
    assert_eq!(w.job("cuda").await.state, JobState::Downloading);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capacity_refusal_worded_as_the_machine_moves_on_and_the_deadline_is_the_fallbacks() {
    let w = world(ReconcilePolicy::default(), &pod_python()).await;
    let plan = w.tp.plan(&w.spec("fallback", &[A4090, A40])).await.unwrap();
    assert_eq!(plan.gpu.gpu_id, A4090);
    // Capacity goes between the plan and the deploy, refused in the other wording (a 500).
    w.emu.profile("capacity-machine-wording").unwrap();
    let status = w.tp.deploy(&plan).await.unwrap();
    let job = w.job("fallback").await;
    assert_eq!(job.gpu_id, A40, "placed on the fallback");
    let price = plan.fallbacks[0].price_per_hour;
    assert!((job.price_per_hour - price).abs() < 1e-9);
    // The deadline is what the budget buys at the price actually rented.
    let bought = (plan.spec.budget_usd / price * 3600.0).floor() as u64;
    let deadline = status.deadline_unix - job.started_at.unwrap();
    assert!(
        deadline <= bought && bought - deadline <= 2,
        "{deadline} vs {bought}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pod_ends_itself_through_runpodctl_when_v2_refuses_its_key() {
    // The system Python has no torch: the pod fails its preflight at once, cannot reach the
    // app (it is down) and ends itself.
    let w = world_with(ReconcilePolicy::default(), "python3", false).await;
    w.emu.profile("pod-key-refused").unwrap();
    let status = w.deploy("ctl", &[A4090]).await;
    let pod = w.pod(&status);
    let ended = eventually(Duration::from_secs(60), || {
        w.emu.pod_status(&pod) == Some("TERMINATED")
    })
    .await;
    assert!(ended, "the pod never ended itself");
    let calls = w.emu.runpodctl_calls();
    let call = calls
        .iter()
        .find(|c| c.caller.as_deref() == Some(pod.as_str()))
        .expect("runpodctl was called by the pod");
    assert_eq!(call.exit_code, 0, "{call:?}");
    assert_eq!(call.args[..2], ["remove".to_owned(), "pod".to_owned()]);
    // Its final status never reached the app: the reconciler ends the job.
    w.later(120);
    only(&w.reconcile().await, "pod_vanished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_restarted_after_its_main_process_died_does_not_train_again() {
    let w = world(ReconcilePolicy::default(), &pod_python()).await;
    let status = w.deploy("restarted", &[A4090]).await;
    let pod = w.pod(&status);
    w.reported("restarted").await;
    // Its stages began (the dataset stage hangs): the volume holds that mark.
    let store = w.tp.store().clone();
    let mut downloading = false;
    for _ in 0..300 {
        let job = store.get_job("restarted").await.unwrap().unwrap();
        if job.state == JobState::Downloading {
            downloading = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(downloading, "the pod never reached its dataset stage");
    let pid = w
        .emu
        .local_pod(&pod)
        .and_then(|p| p.pid)
        .expect("a main process");
    // The container's main process dies; RunPod starts the container again, on the volume.
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    let ended = eventually(Duration::from_secs(60), || {
        w.emu.pod_status(&pod) == Some("TERMINATED")
    })
    .await;
    assert!(ended, "the restarted pod never ended itself");
    let job = w.job("restarted").await;
    assert_eq!(
        (job.state, job.reason.as_str()),
        (JobState::Failed, "container_restarted")
    );
    // The new container read the mark on its volume and said so itself.
    let status = w.tp.status("restarted").await.unwrap();
    assert!(status.cause.contains("during dataset"), "{}", status.cause);
    assert_eq!(w.emu.pod_restarts(&pod), Some(1));
    // Nothing of the first container lives on (its worker left the process group).
    let none_left = eventually(Duration::from_secs(15), || processes_of(&pod) == 0).await;
    assert!(
        none_left,
        "{} processes of pod {pod} live on",
        processes_of(&pod)
    );
}

/// Processes started for `pod` (they carry its `RUNPOD_POD_ID`).
fn processes_of(pod: &str) -> usize {
    let marker = format!("RUNPOD_POD_ID={pod}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("environ")).ok())
        .filter(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_opt_in_policy_retries_a_pod_that_never_started_on_the_next_gpu() {
    let policy = ReconcilePolicy {
        provision_timeout_secs: 300,
        retry_unstarted: true,
        ..ReconcilePolicy::default()
    };
    let w = world(policy, &pod_python()).await;
    w.emu.profile("stuck-host").unwrap();
    let first = w.deploy("again", &[A4090, A40]).await;
    w.emu.faults(|f| f.no_container_secs = None);
    w.running(&w.pod(&first)).await;
    w.later(301);
    let actions = w.reconcile().await;
    only(&actions, "no_container");
    let retried = only(&actions, "retried");
    assert_eq!(retried.error, None, "{retried:?}");
    let job = w.job("again").await;
    assert_eq!((job.attempt, job.gpu_id.as_str()), (2, A40));
    assert!(job.spent_usd > 0.0, "the first attempt's cost is the job's");
    w.reported("again").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_retry_leaves_the_job_as_it_was() {
    let w = world(ReconcilePolicy::default(), &pod_python()).await;
    w.deploy("refused", &[A4090]).await;
    w.reported("refused").await;
    w.later(600);
    let cancelled = w.tp.cancel("refused").await.unwrap();
    assert!(cancelled.cost_usd > 0.0);
    let before = w.job("refused").await;
    // No GPU has capacity now: the retry is refused, and nothing about the job changes.
    w.emu.faults(|f| {
        f.no_capacity.insert(A4090.into());
    });
    let err = w.tp.retry("refused").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CapacityUnavailable, "{err}");
    assert_eq!(w.job("refused").await, before);
    let status = w.tp.status("refused").await.unwrap();
    assert_eq!((status.state, status.attempt), (JobState::Cancelled, 1));
    assert!((status.cost_usd - cancelled.cost_usd).abs() < 1e-9);
    // Once capacity is back it retries, with what the first attempt left of the budget.
    w.emu.faults(|f| f.no_capacity.clear());
    let next = w.tp.retry("refused").await.unwrap();
    assert_eq!(next.attempt, 2);
    let job = w.job("refused").await;
    assert!((job.spent_usd - cancelled.cost_usd).abs() < 1e-9);
    let left = job.budget_usd - job.spent_usd;
    let bought = (left / job.price_per_hour * 3600.0).floor() as u64;
    let deadline = job.deadline_unix - job.started_at.unwrap();
    assert!(
        deadline <= bought && bought - deadline <= 2,
        "{deadline} vs {bought}"
    );
}

/// Sleeps by moving the (manual) emulator's clock: a `Retry-After` costs the test no time.
#[derive(Debug)]
struct EmulatorSleeper {
    emu: Arc<Emulator>,
    slept: std::sync::Mutex<Duration>,
}

#[async_trait::async_trait]
impl trainpod::runpod::Sleeper for EmulatorSleeper {
    async fn sleep(&self, d: Duration) {
        *self.slept.lock().unwrap() += d;
        self.emu.advance(d.as_secs().max(1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_minute_quota_is_waited_out_as_retry_after_says() {
    let emu = Arc::new(Emulator::start().await.unwrap());
    emu.profile("rate-limited").unwrap();
    let sleeper = Arc::new(EmulatorSleeper {
        emu: emu.clone(),
        slept: Default::default(),
    });
    let client = trainpod::runpod::Client::builder_with_reqwest(
        trainpod::runpod::ApiKey::new(ACCOUNT_KEY).unwrap(),
    )
    .unwrap()
    .base_url(emu.base_url())
    .sleeper(sleeper.clone())
    .build()
    .unwrap();
    for _ in 0..45 {
        client.list_pods().await.unwrap();
    }
    let refused: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.status == 429)
        .collect();
    assert!(!refused.is_empty(), "the quota was reached");
    assert!(
        *sleeper.slept.lock().unwrap() >= Duration::from_secs(1),
        "the client waited as Retry-After said"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_telemetry_reads_every_event_through_streams_that_drop() {
    let emu = Emulator::start().await.unwrap();
    let tp = Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url("memory:")
        .build()
        .await
        .unwrap();
    let spec = JobSpec {
        job_id: Some("logs".into()),
        gpus: vec![A4090.into()],
        ..JobSpec::new(
            "user-1",
            "Qwen/Qwen2.5-0.5B",
            DatasetRef::Url {
                url: "http://127.0.0.1:9/chat.jsonl".into(),
                bytes: 100,
                sha256: "0".repeat(64),
            },
            5.0,
        )
    };
    let status = tp.deploy(&tp.plan(&spec).await.unwrap()).await.unwrap();
    let pod = status.pod_id.unwrap();
    // Event times near the app's clock, as a pod writes them (one a day away is not read).
    let t0 = trainpod_e2e::unix_now() as u64;
    for step in 1..=10 {
        emu.push_log(
            &pod,
            &format!(
                r#"TRAINPOD_EVENT {{"n":{step},"source":"trainer","type":"log","ts":{},"data":{{"step":{step},"loss":0.5}}}}"#,
                t0 + step
            ),
        );
    }
    emu.profile("log-stream-drops").unwrap();
    assert_eq!(
        tp.pull_log_events("logs").await.unwrap(),
        10,
        "every event, once"
    );
    assert_eq!(tp.status("logs").await.unwrap().step, Some(10));
    assert_eq!(
        tp.pull_log_events("logs").await.unwrap(),
        0,
        "nothing twice"
    );
}
