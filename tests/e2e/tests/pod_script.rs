//! Generated bundles run by real bash, curl and Python against a loopback app and the RunPod
//! emulator: the success path and the failure matrix. Each case asserts the final status the app
//! received (or the pod logged), the terminate request, and records the time from the failure
//! to that request (`POD_FAILURE_LATENCY` lines, summarised by `bench/pod_failures.sh`).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use trainpod::clock::ManualClock;
use trainpod::script::{
    Artifacts, DatasetSource, Endpoint, PodRuntime, PodScript, Secret, Training, generate,
};
use trainpod::token::{IssueRequest, Purpose, Tokens};
use trainpod_e2e::{
    App, PodRun, create_pod, emulator_client, eventually, fresh_dir, sha256_hex, unix_now,
    wait_for_terminate,
};
use trainpod_emulator::Emulator;

const DATA: &[u8] = b"{\"text\":\"hello\"}\n{\"text\":\"world\"}\n";

struct Case {
    app: App,
    emu: Emulator,
    job: String,
    pod_id: String,
    pod_key: String,
}

impl Case {
    async fn new(job: &str) -> Case {
        let app = App::start().await;
        app.state
            .lock()
            .unwrap()
            .datasets
            .insert("ds-1".into(), DATA.to_vec());
        let emu = Emulator::start().await.unwrap();
        Case {
            app,
            emu,
            job: job.into(),
            pod_id: String::new(),
            pod_key: String::new(),
        }
    }

    fn dataset(&self, id: &str, sha256: &str, token: String) -> DatasetSource {
        DatasetSource::Url {
            url: format!("{}/datasets/{id}", self.app.base),
            token: Some(Secret::new(token)),
            bytes: DATA.len() as u64,
            sha256: sha256.into(),
        }
    }

    fn script(&self, dataset: DatasetSource, argv: &[&str]) -> PodScript {
        let now = unix_now() as u64;
        let metrics = self.app.token(Purpose::MetricsWrite, &self.job, None, 3600);
        let artifacts = self
            .app
            .token(Purpose::ArtifactsWrite, &self.job, None, 3600);
        PodScript {
            version: 1,
            job_id: self.job.clone(),
            attempt: 1,
            issued_at: now,
            deadline_unix: now + 600,
            telemetry: Some(Endpoint {
                url: format!("{}/metrics/{}", self.app.base, self.job),
                token: Secret::new(metrics),
            }),
            dataset,
            training: Training::Command {
                argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            },
            artifacts: Artifacts::App {
                url: format!("{}/artifacts/{}", self.app.base, self.job),
                token: Secret::new(artifacts),
            },
            runtime: test_runtime(&self.emu),
            resume: None,
            eval_dataset: None,
        }
    }

    fn good_script(&self, argv: &[&str]) -> PodScript {
        let token = self
            .app
            .token(Purpose::DatasetRead, &self.job, Some("ds-1"), 600);
        self.script(self.dataset("ds-1", &sha256_hex(DATA), token), argv)
    }

    /// Creates the pod at the emulator with the bundle, as deploy does, then runs it locally.
    async fn run(&mut self, script: &PodScript) -> PodRun {
        self.run_env(script, &[]).await
    }

    /// As [`Case::run`], with extra variables in the pod's environment.
    async fn run_env(&mut self, script: &PodScript, extra: &[(&str, &str)]) -> PodRun {
        let bundle = generate(script).unwrap();
        let client = emulator_client(&self.emu);
        let pod_id = create_pod(&client, &format!("trainpod-{}", self.job), Some(&bundle)).await;
        self.pod_key = self.emu.pod_key(&pod_id);
        self.pod_id = pod_id;
        let home = fresh_dir(&self.job);
        PodRun::start(&bundle, &home, &self.pod_id, &self.pod_key, extra)
    }

    /// Starts the pod's container again after everything in it died, as RunPod restarts a
    /// container whose main process ended: the same pod, home and bundle.
    async fn restart(&self, script: &PodScript, home: &std::path::Path) -> PodRun {
        let bundle = generate(script).unwrap();
        PodRun::start(&bundle, home, &self.pod_id, &self.pod_key, &[])
    }

    /// Waits for the terminate request, then ends the pod's processes. Returns when the
    /// terminate was seen, how many terminate requests were made, and the final event.
    async fn finish(&self, pod: PodRun, case: &str) -> (f64, usize, Option<Value>) {
        let seen = wait_for_terminate(&self.emu, &self.pod_id, Duration::from_secs(60)).await;
        let output = pod.output();
        pod.kill_all().await;
        let (at, attempts) =
            seen.unwrap_or_else(|| panic!("{case}: no terminate request; pod said:\n{output}"));
        assert_eq!(
            self.emu.pod_status(&self.pod_id),
            Some("TERMINATED"),
            "{case}"
        );
        // The app may still be taking the last batch when the terminate lands.
        let state = self.app.state.clone();
        eventually(Duration::from_secs(2), || {
            state.lock().unwrap().final_event().is_some()
        })
        .await;
        let fin = self.app.state.lock().unwrap().final_event();
        (at, attempts, fin)
    }
}

/// Records the time from a failure to the terminate request, for `bench/pod_failures.sh`.
fn latency(case: &str, seconds: f64) {
    println!("POD_FAILURE_LATENCY {{\"case\":\"{case}\",\"seconds\":{seconds:.3}}}");
}

fn test_runtime(emu: &Emulator) -> PodRuntime {
    PodRuntime {
        api_base: emu.base_url(),
        expect_gpu: false,
        min_free_disk_gb: 0,
        heartbeat_s: 1,
        flush_s: 1,
        progress_s: 1,
        upload_reserve_s: 30,
        final_budget_s: 6,
        // An app that does not answer the check-in is not waited on for long here.
        checkin_budget_s: 3,
        requirements: vec![],
        ..PodRuntime::default()
    }
}

fn assert_failed(fin: &Option<Value>, stage: &str, exit_code: i64, cause: &str) {
    let fin = fin.as_ref().expect("the final status reached the app");
    assert_eq!(fin["data"]["status"], "failed", "{fin}");
    assert_eq!(fin["stage"], stage, "{fin}");
    assert_eq!(fin["data"]["exit_code"], exit_code, "{fin}");
    let cause_text = decode(&fin["data"]["cause_b64"]);
    let tail = decode(&fin["data"]["log_tail_b64"]);
    assert!(
        cause_text.contains(cause),
        "cause {cause_text:?} lacks {cause:?}; {fin}; log tail:\n{tail}"
    );
}

fn decode(v: &Value) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn last_dataset_request(app: &App) -> (f64, u16) {
    let s = app.state.lock().unwrap();
    let (at, status, _) = s
        .dataset_requests
        .last()
        .expect("the pod asked for the dataset");
    (*at, *status)
}

const EMIT_AND_WRITE: &str = "\"$TRAINPOD_PYTHON\" \"$TRAINPOD_REPORT\" log '{\"loss\":1.5,\"step\":1}' && \
    \"$TRAINPOD_PYTHON\" \"$TRAINPOD_REPORT\" log '{\"loss\":0.5,\"step\":2}' && \
    printf weights > \"$TRAINPOD_OUTPUT_DIR/adapter.bin\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_reports_events_uploads_and_terminates() {
    let mut c = Case::new("job-ok").await;
    let pod = c.run(&c.good_script(&["bash", "-c", EMIT_AND_WRITE])).await;
    let started = pod.started;
    let (_, attempts, fin) = c.finish(pod, "success").await;
    assert_eq!(attempts, 1);
    let fin = fin.expect("final status");
    assert_eq!(fin["data"]["status"], "succeeded", "{fin}");
    let s = c.app.state.lock().unwrap();
    let events = s.events();
    let losses: Vec<f64> = events
        .iter()
        .filter(|e| e["type"] == "log")
        .map(|e| e["data"]["loss"].as_f64().unwrap())
        .collect();
    assert_eq!(losses, vec![1.5, 0.5]);
    let stages: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "stage")
        .map(|e| e["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "preflight",
            "dependencies",
            "dataset",
            "training",
            "uploading"
        ]
    );
    let training = events.iter().find(|e| e["stage"] == "training").unwrap();
    let overhead = training["ts"].as_f64().unwrap() - started;
    println!("POD_BOOTSTRAP_OVERHEAD {{\"mode\":\"command\",\"seconds\":{overhead:.3}}}");
    assert_eq!(s.job_states["job-ok"], trainpod::jobs::JobState::Succeeded);
    assert!(
        s.terminate_requested,
        "ingestion asked the app to terminate"
    );
    let manifest = s
        .completed
        .as_ref()
        .expect("the artifact manifest was confirmed");
    assert_eq!(manifest[0]["path"], "adapter.bin");
    assert_eq!(manifest[0]["sha256"], sha256_hex(b"weights"));
    assert_eq!(s.uploads["job-ok/adapter.bin"], b"weights");
    // The check-in came first (batch 0); then batch numbers are unique and gap-free across
    // bash and Python senders.
    let numbers: Vec<u64> = s.batches.keys().copied().collect();
    assert_eq!(numbers, (0..numbers.len() as u64).collect::<Vec<_>>());
    assert_eq!(s.batches[&0]["events"][0]["type"], "checkin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_404_fails_the_dataset_stage() {
    let mut c = Case::new("job-404").await;
    let token = c
        .app
        .token(Purpose::DatasetRead, &c.job, Some("ds-gone"), 600);
    let script = c.script(c.dataset("ds-gone", &sha256_hex(DATA), token), &["true"]);
    let pod = c.run(&script).await;
    let (t, _, fin) = c.finish(pod, "dataset_404").await;
    let (at, status) = last_dataset_request(&c.app);
    assert_eq!(status, 404);
    assert_failed(&fin, "dataset", 10, "refused the download");
    latency("dataset_404", t - at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha256_mismatch_fails_before_training() {
    let mut c = Case::new("job-sha").await;
    let token = c.app.token(Purpose::DatasetRead, &c.job, Some("ds-1"), 600);
    let script = c.script(
        c.dataset("ds-1", &"0".repeat(64), token),
        &["touch", "/nonexistent"],
    );
    let pod = c.run(&script).await;
    let (t, _, fin) = c.finish(pod, "sha256_mismatch").await;
    assert_failed(&fin, "dataset", 10, "sha256");
    latency("sha256_mismatch", t - last_dataset_request(&c.app).0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_dataset_token_is_refused_and_reported() {
    let mut c = Case::new("job-expired").await;
    let past = Tokens::builder()
        .keys(c.app.tokens.keys().clone())
        .audience(c.app.base.clone())
        .clock(std::sync::Arc::new(ManualClock::new(
            unix_now() as u64 - 7200,
        )))
        .build()
        .unwrap();
    let req = IssueRequest::new(Purpose::DatasetRead, "user-1", &c.job)
        .dataset("ds-1")
        .ttl_secs(60);
    let token = past.issue(&req).unwrap().token.expose().to_owned();
    let pod = c
        .run(&c.script(c.dataset("ds-1", &sha256_hex(DATA), token), &["true"]))
        .await;
    let (t, _, fin) = c.finish(pod, "expired_token").await;
    let (at, status) = last_dataset_request(&c.app);
    assert_eq!(status, 401);
    assert_failed(&fin, "dataset", 10, "refused the download");
    latency("expired_token", t - at);
}

/// A command that records when it fails, then fails with `how`.
fn failing(how: &str) -> Vec<String> {
    let script = format!("date +%s.%N > \"$TRAINPOD_WORK_DIR/failed_at\"; {how}");
    vec!["bash".into(), "-c".into(), script]
}

async fn run_failing(job: &str, how: &str) -> (Case, Option<Value>) {
    let mut c = Case::new(job).await;
    let argv = failing(how);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let pod = c.run(&c.good_script(&argv)).await;
    let marker = pod.home.join("work/failed_at");
    let wait = eventually(Duration::from_secs(30), || marker.exists()).await;
    assert!(wait, "{job}: the command never ran: {}", pod.output());
    let failed_at: f64 = std::fs::read_to_string(&marker)
        .unwrap()
        .trim()
        .parse()
        .unwrap_or_else(|_| unix_now());
    let (t, _, fin) = c.finish(pod, job).await;
    latency(job, t - failed_at);
    (c, fin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trainer_exception_fails_the_training_stage_with_its_log() {
    let how = "exec python3 -c 'raise RuntimeError(\"loss went NaN at step 3\")'";
    let (_, fin) = run_failing("job-exc", how).await;
    assert_failed(&fin, "training", 1, "exited with code 1");
    let tail = decode(&fin.unwrap()["data"]["log_tail_b64"]);
    assert!(
        tail.contains("RuntimeError: loss went NaN at step 3"),
        "{tail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trainer_killed_by_sigkill_is_reported() {
    let (_, fin) = run_failing("job-oom", "kill -KILL $$").await;
    assert_failed(&fin, "training", 137, "SIGKILL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_ends_training_and_the_pod() {
    let mut c = Case::new("job-deadline").await;
    let mut script = c.good_script(&["sleep", "600"]);
    script.deadline_unix = unix_now() as u64 + 16;
    script.runtime.upload_reserve_s = 0;
    // Training stops before the hard deadline, leaving time to report (final budget + 5 s).
    let deadline = (script.deadline_unix - u64::from(script.runtime.final_budget_s) - 5) as f64;
    let pod = c.run(&script).await;
    let (t, _, fin) = c.finish(pod, "deadline").await;
    latency("deadline", t - deadline);
    let fin = fin.expect("final status");
    assert_eq!(fin["data"]["reason"], "deadline", "{fin}");
    let state = c.app.state.lock().unwrap().job_states["job-deadline"];
    assert_eq!(state, trainpod::jobs::JobState::TimedOut);
    assert_eq!(fin["data"]["exit_code"], 124, "{fin}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_down_for_the_whole_run_still_succeeds_and_delivers_later() {
    let mut c = Case::new("job-down").await;
    c.app.state.lock().unwrap().metrics_down = true;
    let pod = c.run(&c.good_script(&["bash", "-c", EMIT_AND_WRITE])).await;
    // Bring the app back only once the pod has spooled its final status.
    let outbox = pod.home.join("state/outbox");
    let spooled_final = eventually(Duration::from_secs(60), || {
        std::fs::read_dir(&outbox)
            .into_iter()
            .flatten()
            .flatten()
            .any(|f| {
                std::fs::read_to_string(f.path()).is_ok_and(|t| t.contains("\"type\":\"final\""))
            })
    })
    .await;
    assert!(spooled_final, "no final status spooled: {}", pod.output());
    assert!(c.app.state.lock().unwrap().batches.is_empty());
    c.app.state.lock().unwrap().metrics_down = false;
    let (_, _, fin) = c.finish(pod, "metrics_down").await;
    assert_eq!(fin.expect("final")["data"]["status"], "succeeded");
    let s = c.app.state.lock().unwrap();
    let numbers: Vec<u64> = s.batches.keys().copied().collect();
    assert_eq!(
        numbers,
        (1..=numbers.len() as u64).collect::<Vec<_>>(),
        "no batch lost"
    );
    assert_eq!(s.events().iter().filter(|e| e["type"] == "log").count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_unreachable_at_the_end_still_terminates() {
    let mut c = Case::new("job-noapp").await;
    let mut script = c.good_script(&["true"]);
    // A port nothing listens on: every report fails fast.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    if let Some(t) = script.telemetry.as_mut() {
        t.url = format!("http://{closed}/metrics/{}", c.job);
    }
    script.artifacts = Artifacts::None;
    // The final status is held for the app within the reserve, then the pod ends.
    script.runtime.upload_reserve_s = 4;
    let pod = c.run(&script).await;
    let output_has_final = pod.home.join("state/final.json");
    let home = pod.home.clone();
    let (t, _, fin) = c.finish(pod, "app_unreachable").await;
    let ended = std::fs::metadata(home.join("state/final.json"))
        .unwrap()
        .modified()
        .unwrap();
    let ended = ended
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    latency("app_unreachable", t - ended);
    assert!(fin.is_none());
    let fin: Value =
        serde_json::from_str(&std::fs::read_to_string(output_has_final).unwrap()).unwrap();
    assert_eq!(fin["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_down_when_training_ends_and_back_within_the_reserve_loses_nothing() {
    let mut c = Case::new("job-back").await;
    // Training that takes a moment, so that the app goes down while it runs.
    let slow = format!("sleep 3 && {EMIT_AND_WRITE}");
    let pod = c.run(&c.good_script(&["bash", "-c", &slow])).await;
    let started = pod.home.join("state/started");
    assert!(
        eventually(Duration::from_secs(30), || started.exists()).await,
        "the pod never started its stages: {}",
        pod.output()
    );
    {
        let mut s = c.app.state.lock().unwrap();
        s.metrics_down = true;
        s.artifacts_down = true;
    }
    // Training ends while the app is down; the upload keeps trying within its reserve.
    let trained = pod.home.join("state/reserve_until");
    assert!(
        eventually(Duration::from_secs(60), || trained.exists()).await,
        "training never ended: {}",
        pod.output()
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(c.app.state.lock().unwrap().completed.is_none());
    {
        let mut s = c.app.state.lock().unwrap();
        s.metrics_down = false;
        s.artifacts_down = false;
    }
    let (_, _, fin) = c.finish(pod, "app_back").await;
    assert_eq!(fin.expect("final")["data"]["status"], "succeeded");
    let s = c.app.state.lock().unwrap();
    assert_eq!(
        s.job_states["job-back"],
        trainpod::jobs::JobState::Succeeded
    );
    assert_eq!(s.uploads["job-back/adapter.bin"], b"weights");
}

/// Kills every process of a pod run (its main process, the worker's own group, the trainer),
/// as the death of a container's main process takes the container with it.
async fn container_dies(pod: PodRun) -> PathBuf {
    let home = pod.home.clone();
    let pattern = home.join("bundle").display().to_string();
    let _ = tokio::process::Command::new("pkill")
        .args(["-KILL", "-f", &pattern])
        .status()
        .await;
    pod.kill_all().await;
    home
}

/// Runs a job until it trains, then kills its container; returns the case, script and home.
async fn trains_then_dies(job: &str) -> (Case, PodScript, PathBuf) {
    let mut c = Case::new(job).await;
    let script = c.good_script(&["sleep", "30"]);
    let pod = c.run(&script).await;
    // Until the app has the training stage: the stage file is written before its event is
    // sent, and a container killed in between would leave the app no training to count.
    let training = eventually(Duration::from_secs(30), || trainings(&c.app) == 1).await;
    assert!(training, "never trained: {}", pod.output());
    let home = container_dies(pod).await;
    (c, script, home)
}

fn trainings(app: &App) -> usize {
    let s = app.state.lock().unwrap();
    s.events()
        .iter()
        .filter(|e| e["type"] == "stage" && e["stage"] == "training")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_container_with_its_state_reports_and_never_trains_again() {
    let (c, script, home) = trains_then_dies("job-restart").await;
    // The volume kept the pod's state: the new container finds the attempt it never finished.
    let pod = c.restart(&script, &home).await;
    let (_, _, fin) = c.finish(pod, "restarted").await;
    let fin = fin.expect("the final status reached the app");
    assert_eq!(fin["data"]["status"], "failed", "{fin}");
    assert_eq!(fin["data"]["reason"], "container_restarted", "{fin}");
    assert!(decode(&fin["data"]["cause_b64"]).contains("never runs twice"));
    assert_eq!(trainings(&c.app), 1, "training ran once");
    let state = c.app.state.lock().unwrap().job_states["job-restart"];
    assert_eq!(state, trainpod::jobs::JobState::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_container_on_a_wiped_disk_is_refused_at_check_in() {
    let (c, script, home) = trains_then_dies("job-wiped").await;
    // Container disk is wiped on restart: nothing of the first run is left in the pod.
    for entry in std::fs::read_dir(&home).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let pod = c.restart(&script, &home).await;
    let (_, _, _) = c.finish(pod, "wiped").await;
    assert_eq!(trainings(&c.app), 1, "training ran once");
    let s = c.app.state.lock().unwrap();
    assert_eq!(s.job_states["job-wiped"], trainpod::jobs::JobState::Failed);
    assert!(s.terminate_requested, "the app ends the restarted pod too");
    assert!(!home.join("state/started").exists(), "no stage ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_failing_twice_is_retried() {
    let mut c = Case::new("job-retry").await;
    let pod = c.run(&c.good_script(&["true"])).await;
    c.emu.faults(|f| f.statuses.extend([500, 503]));
    let home = pod.home.clone();
    let (t, attempts, fin) = c.finish(pod, "terminate_retry").await;
    let ended = std::fs::metadata(home.join("state/final.json"))
        .unwrap()
        .modified()
        .unwrap();
    latency(
        "terminate_retry",
        t - ended
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64(),
    );
    assert_eq!(attempts, 3);
    assert_eq!(fin.expect("final")["data"]["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_to_the_container_reports_and_terminates() {
    let mut c = Case::new("job-sigterm").await;
    let pod = c.run(&c.good_script(&["sleep", "600"])).await;
    let state = c.app.state.clone();
    let training = eventually(Duration::from_secs(30), || {
        state
            .lock()
            .unwrap()
            .events()
            .iter()
            .any(|e| e["type"] == "stage" && e["stage"] == "training")
    })
    .await;
    assert!(training, "training never started: {}", pod.output());
    let sent = unix_now();
    pod.signal("TERM").await;
    let (t, _, fin) = c.finish(pod, "sigterm").await;
    latency("sigterm", t - sent);
    assert_failed(&fin, "training", 143, "SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_debug_and_the_start_command() {
    let c = Case::new("job-secret").await;
    let script = c.good_script(&["true"]);
    let bundle = generate(&script).unwrap();
    let shown = format!("{script:?} {bundle:?}");
    let token = match &script.telemetry {
        Some(t) => t.token.expose().to_owned(),
        None => unreachable!(),
    };
    assert!(!shown.contains(&token), "a token leaked into Debug output");
    assert!(!bundle.start_command.contains(&token));
    assert!(
        bundle.bytes < trainpod::script::MAX_BUNDLE_BYTES / 2,
        "bundle is {} bytes",
        bundle.bytes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_download_resumes_where_it_stopped() {
    let mut c = Case::new("job-resume").await;
    c.app.state.lock().unwrap().cut_dataset_after = Some(7);
    let pod = c.run(&c.good_script(&["true"])).await;
    let (_, _, fin) = c.finish(pod, "resume").await;
    assert_eq!(fin.expect("final")["data"]["status"], "succeeded");
    let s = c.app.state.lock().unwrap();
    let ranges: Vec<Option<String>> = s.dataset_requests.iter().map(|r| r.2.clone()).collect();
    assert_eq!(
        ranges,
        [None, Some("bytes=7-".to_owned())],
        "the second request resumed"
    );
}

/// A venv whose "torch" is 2.8.0 (a stand-in wheel), and a local wheel directory holding a
/// package that needs any torch and one that needs torch 9.9: no index is reached.
fn venv_with_torch() -> (String, String) {
    let dir = fresh_dir("deps-venv");
    let wheels = dir.join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let make = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/make_wheel.py");
    for args in [
        &["torch", "2.8.0"][..],
        &["trainpod-ok", "1.0", "torch"],
        &["trainpod-bad", "1.0", "torch==9.9"],
    ] {
        let ok = std::process::Command::new("python3")
            .arg(&make)
            .arg(&wheels)
            .args(args)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let venv = dir.join("venv");
    assert!(
        std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap()
            .success()
    );
    let python = venv.join("bin/python").to_str().unwrap().to_owned();
    let installed = std::process::Command::new(&python)
        .args(["-m", "pip", "install", "-q", "--no-index", "--find-links"])
        .arg(&wheels)
        .arg("torch==2.8.0")
        .status()
        .unwrap();
    assert!(installed.success());
    (python, wheels.to_str().unwrap().to_owned())
}

fn installed(python: &str, package: &str) -> Option<String> {
    let out = std::process::Command::new(python)
        .args(["-c", "import sys\nfrom importlib import metadata\ntry:\n print(metadata.version(sys.argv[1]))\nexcept metadata.PackageNotFoundError:\n pass"])
        .arg(package)
        .output()
        .unwrap();
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!v.is_empty()).then_some(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_install_against_the_images_torch_and_never_replace_it() {
    let (python, wheels) = venv_with_torch();
    let offline = [("PIP_NO_INDEX", "1"), ("PIP_FIND_LINKS", wheels.as_str())];
    for (job, requirement, succeeds) in [
        ("job-deps", "trainpod-ok==1.0", true),
        ("job-deps-bad", "trainpod-bad==1.0", false),
    ] {
        let mut c = Case::new(job).await;
        let mut script = c.good_script(&["true"]);
        script.runtime.python = python.clone();
        script.runtime.requirements = vec![requirement.to_owned()];
        script.artifacts = Artifacts::None;
        let pod = c.run_env(&script, &offline).await;
        let (_, _, fin) = c.finish(pod, job).await;
        if succeeds {
            assert_eq!(fin.expect("final")["data"]["status"], "succeeded");
            assert_eq!(installed(&python, "trainpod-ok").as_deref(), Some("1.0"));
        } else {
            assert_failed(&fin, "dependencies", 10, "pip could not install");
            assert_eq!(installed(&python, "trainpod-bad"), None);
        }
        assert_eq!(
            installed(&python, "torch").as_deref(),
            Some("2.8.0"),
            "the image's torch stays"
        );
    }
}

/// The pod's trainer turns Alpaca rows into exactly what `convert_alpaca` writes (the plan
/// tells the user so): the trainer shipped in the bundle, run by real Python, row for row.
#[test]
fn the_trainer_converts_alpaca_rows_as_convert_alpaca_does() {
    let dir = fresh_dir("alpaca-parity");
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    for (name, _, text) in trainpod::script::TEMPLATES {
        std::fs::write(bundle.join(name), text).unwrap();
    }
    let rows = [
        r#"{"instruction":"Translate","input":"chat","output":"cat"}"#,
        r#"{"instruction":"Say hi","input":" ","output":"hi"}"#,
        r#"{"instruction":"No input","output":"ok","id":7}"#,
        r#"{"instruction":"Null input","input":null,"output":"ok"}"#,
        r#"{"instruction":"  Kept as given  ","input":"  padded  ","output":"  x\n"}"#,
        // Unicode white space Rust trims, and U+001C, which Rust keeps and Python's strip() not.
        r#"{"instruction":"Wide","input":"\u00a0\u3000word\u2003","output":"w"}"#,
        r#"{"instruction":"Separator","input":"\u001c","output":"s"}"#,
        r#"{"instruction":"héllo 🙂","input":"line 1\nline 2","output":"multi\nline"}"#,
    ];
    let src = dir.join("alpaca.jsonl");
    std::fs::write(&src, rows.join("\n") + "\n").unwrap();
    let dst = dir.join("converted.jsonl");
    trainpod::dataset::convert_alpaca(&src, &dst).unwrap();
    let expected: Vec<Value> = std::fs::read_to_string(&dst)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import json, sys\n\
             sys.path.insert(0, sys.argv[1])\n\
             import trainer\n\
             for line in open(sys.argv[2], encoding='utf-8'):\n\
             \x20   print(json.dumps(trainer.alpaca_to_prompt_completion(json.loads(line))))\n",
        )
        .arg(&bundle)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let converted: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(converted, expected);
    assert_eq!(expected[0]["prompt"], "Translate\n\nchat");
    assert_eq!(expected[6]["prompt"], "Separator\n\n\u{1c}");
}
