//! Scale and faults: many jobs through their lifecycle, driven through four app instances
//! (`trainpod-app` processes) sharing one Postgres, as the instances of a serverless web app
//! would. Simulated pods post their numbered metric batches to any instance, retrying on
//! another when one fails, as the pod reporter does.
//!
//! Faults, all in one run: the RunPod API answering 503 and 429 for a while, an app instance
//! killed mid-ingest, the database restarted, and a tenth of the pods dying silently. Then:
//! every job reaches its final state (the dead pods' as `failed` with `stale_heartbeat`), every
//! pod is terminated exactly once, and no metric event is lost or duplicated.
//!
//! `TRAINPOD_SCALE_JOBS` sets the number of jobs (40 by default, about a minute here; the
//! benchmark report runs 500). Needs Postgres (`TRAINPOD_TEST_DATABASE_URL`); the database
//! restart needs `TRAINPOD_PG_DIR` from `scripts/postgres.sh start`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::collections::{BTreeSet, HashMap};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use trainpod::jobs::JobState;
use trainpod::store::Store;
use trainpod::token::{IssueRequest, KeyRing, Purpose, Tokens, generate_secret};
use trainpod_e2e::{fresh_dir, postgres_database, unique_id};
use trainpod_emulator::Emulator;

const INSTANCES: usize = 4;
const PUBLIC_URL: &str = "http://127.0.0.1:9";
/// The reconcilers' stale-heartbeat limit: short, so the dead pods end soon, yet longer than a
/// database restart keeps the pods' posts waiting.
const STALE_SECS: u64 = 6;

struct Instance {
    child: Child,
    url: String,
}

async fn start_instance(db: &str, emu: &str, datasets: &str, keys: &str) -> Instance {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trainpod-app"))
        .args([db, emu, datasets, PUBLIC_URL])
        .env("TRAINPOD_SIGNING_KEYS", keys)
        .env("TRAINPOD_STALE_SECS", STALE_SECS.to_string())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the app instance did not start")
        .unwrap()
        .unwrap();
    let url = ready.strip_prefix("READY ").unwrap().to_owned();
    Instance { child, url }
}

/// Posts to each instance in turn until one takes it: (status, body).
async fn post_anywhere(
    http: &reqwest::Client,
    apps: &[String],
    start: usize,
    path: &str,
    auth: Option<&str>,
    body: Vec<u8>,
) -> (u16, String) {
    for attempt in 0..2000usize {
        let url = format!("{}{path}", apps[(start + attempt) % apps.len()]);
        let mut req = http.post(url).body(body.clone());
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        if let Ok(resp) = req.send().await {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            if status < 500 && status != 429 {
                return (status, text);
            }
        }
        tokio::time::sleep(Duration::from_millis(20 * (attempt as u64 % 10 + 1))).await;
    }
    panic!("no instance took POST {path}");
}

fn event(n: u64, kind: &str, stage: Option<&str>, data: Value) -> Value {
    let ts = trainpod_e2e::unix_now();
    let mut e = json!({"n": n, "source": "bootstrap", "type": kind, "ts": ts, "data": data});
    if let Some(stage) = stage {
        e["stage"] = json!(stage);
    }
    e
}

/// How many batches a pod sends.
const BATCHES: usize = 6;

/// The batches a pod sends: stages, training logs, then the result and the final status.
fn batches(job: &str) -> Vec<Value> {
    let mut out = vec![json!([
        event(1, "stage", Some("preflight"), json!({})),
        event(2, "stage", Some("dataset"), json!({})),
        event(3, "stage", Some("training"), json!({})),
    ])];
    for step in 1..=4u64 {
        let data = json!({"step": step * 5, "max_steps": 20, "loss": 3.0 / step as f64});
        out.push(json!([event(3 + step, "log", None, data)]));
    }
    out.push(json!([
        event(
            8,
            "result",
            None,
            json!({"runtime_s": 1.0, "train_loss": 0.9})
        ),
        event(
            9,
            "final",
            Some("done"),
            json!({"status": "succeeded", "exit_code": 0})
        ),
    ]));
    out.into_iter()
        .enumerate()
        .map(|(i, events)| json!({"job": job, "attempt": 1, "batch": i + 1, "events": events}))
        .collect()
}

/// Deploys through any instance until the job has its pod (deploy is idempotent; a deploy cut
/// off between claim and record is taken over by the next).
async fn deploy(http: &reqwest::Client, apps: &[String], i: usize, job: &str) -> String {
    let path = format!("/admin/deploy/{job}");
    for _ in 0..300 {
        let (status, text) = post_anywhere(http, apps, i, &path, None, vec![]).await;
        assert_eq!(status, 200, "deploy {job}: {text}");
        let deployed: Value = serde_json::from_str(&text).unwrap();
        if let Some(pod) = deployed["pod_id"].as_str() {
            return pod.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{job} never got its pod");
}

/// Which pods die silently, and after how many batches.
fn dies(i: usize) -> Option<usize> {
    (i % 10 == 3).then_some(2)
}

/// One simulated pod: its batches, one after another; `dies_after` stops it silently.
async fn run_pod(
    http: reqwest::Client,
    apps: Arc<Vec<String>>,
    tokens: Tokens,
    job: String,
    index: usize,
    dies_after: Option<usize>,
) -> BTreeSet<u64> {
    let mut req = IssueRequest::new(Purpose::MetricsWrite, "user-1", &job).ttl_secs(3600);
    req.epoch = Some(1);
    let auth = format!("Bearer {}", tokens.issue(&req).unwrap().token.expose());
    let mut sent = BTreeSet::new();
    for i in 0..BATCHES {
        if dies_after == Some(i) {
            break;
        }
        // Built when sent, so that its events' times are the pod's latest sign of life.
        let batch = batches(&job).swap_remove(i);
        let path = format!("/trainpod/jobs/{job}/metrics");
        let body = serde_json::to_vec(&batch).unwrap();
        let (status, text) = post_anywhere(&http, &apps, index + i, &path, Some(&auth), body).await;
        assert_eq!(status, 200, "batch {} of {job} refused: {text}", i + 1);
        sent.extend(
            batch["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["n"].as_u64().unwrap()),
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_through_four_instances_survive_faults() {
    let Some(db) = postgres_database("scale").await else {
        return;
    };
    let jobs: usize = std::env::var("TRAINPOD_SCALE_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let emu = Emulator::start_with(trainpod_emulator::Options {
        real_time: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = fresh_dir("scale");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/chat.jsonl"),
        dir.join("chat"),
    )
    .unwrap();
    let keys = format!("k1:active:{}", generate_secret());
    let datasets = dir.display().to_string();
    let mut instances = Vec::new();
    for _ in 0..INSTANCES {
        instances.push(start_instance(&db, &emu.base_url(), &datasets, &keys).await);
    }
    let apps = Arc::new(instances.iter().map(|i| i.url.clone()).collect::<Vec<_>>());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let tag = unique_id("scale");
    let names: Vec<String> = (0..jobs).map(|i| format!("{tag}-{i}")).collect();

    // Each job is deployed through an instance (16 at a time), then its pod runs; a tenth of
    // the pods die silently after their second batch.
    let tokens = Tokens::builder()
        .keys(KeyRing::parse(&keys).unwrap())
        .audience(PUBLIC_URL)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let (h, a, t) = (http.clone(), apps.clone(), tokens.clone());
    let lifecycle = futures_util::stream::iter(names.clone().into_iter().enumerate())
        .map(move |(i, job)| {
            let (http, apps, tokens) = (h.clone(), a.clone(), t.clone());
            async move {
                let pod = deploy(&http, &apps, i, &job).await;
                let run = tokio::spawn(run_pod(http, apps, tokens, job.clone(), i, dies(i)));
                (job, pod, run)
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>();
    let lifecycle = tokio::spawn(lifecycle);

    // Faults while they run.
    tokio::time::sleep(Duration::from_millis(400)).await;
    emu.faults(|f| {
        f.statuses.extend([503; 40]);
        f.rate_limits.extend([1; 5]);
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Ok(pg_dir) = std::env::var("TRAINPOD_PG_DIR") {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh");
        let status = Command::new("bash")
            .arg(script)
            .arg("restart")
            .env("TRAINPOD_PG_DIR", pg_dir)
            .status()
            .await
            .unwrap();
        assert!(status.success(), "restarting Postgres failed");
        eprintln!("restarted the database");
    }

    let deployed = lifecycle.await.unwrap();
    // Every pod is now mid-run: one instance dies while they post to it.
    let mut killed = instances.pop().unwrap();
    killed.child.start_kill().unwrap();
    let _ = killed.child.wait().await;
    eprintln!("killed an app instance mid-ingest");
    let mut sent = HashMap::new();
    let mut pods = HashMap::new();
    for (job, pod, run) in deployed {
        sent.insert(job.clone(), run.await.unwrap());
        pods.insert(job, pod);
    }
    eprintln!(
        "deployed {jobs} jobs, their pods done {:.1} s after the first deploy",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(emu.pod_count(), jobs, "one pod per job");

    // Every job ends: the live ones by their final status, the dead ones by the reconcilers.
    let store: Arc<dyn Store> = trainpod::store::open(&db).await.unwrap();
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60 + STALE_SECS * 4);
    loop {
        let mut live = 0;
        for job in &names {
            if !store.get_job(job).await.unwrap().unwrap().state.is_final() {
                live += 1;
            }
        }
        if live == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "{live} job(s) never ended"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "{jobs} jobs ended {:.1} s after the first deploy",
        started.elapsed().as_secs_f64()
    );

    let terminates = terminations(&emu);
    for (i, job) in names.iter().enumerate() {
        let row = store.get_job(job).await.unwrap().unwrap();
        if dies(i).is_some() {
            assert_eq!(
                (row.state, row.reason.as_str()),
                (JobState::Failed, "stale_heartbeat"),
                "{job}"
            );
        } else {
            assert_eq!(row.state, JobState::Succeeded, "{job}: {}", row.reason);
        }
        // Every event the pod sent is kept once.
        let kept: Vec<u64> = store
            .events(job, 1)
            .await
            .unwrap()
            .iter()
            .flat_map(|(_, e)| serde_json::from_str::<Vec<Value>>(e).unwrap())
            .map(|e| e["n"].as_u64().unwrap())
            .collect();
        let unique: BTreeSet<u64> = kept.iter().copied().collect();
        assert_eq!(unique.len(), kept.len(), "{job}: an event was kept twice");
        assert_eq!(&unique, &sent[job], "{job}: events lost");
        let pod = &pods[job];
        assert_eq!(emu.pod_status(pod), Some("TERMINATED"), "{job}");
        assert_eq!(
            terminates.get(pod.as_str()),
            Some(&1),
            "{job}: pod {pod} terminated once"
        );
    }
}

/// Successful terminations per pod, as the RunPod API saw them.
fn terminations(emu: &Emulator) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in emu.requests() {
        let terminate = (r.method == "POST"
            && String::from_utf8_lossy(&r.body).contains("terminate"))
            || r.method == "DELETE";
        let pod = r
            .uri
            .strip_prefix("/v2/pods/")
            .and_then(|p| p.split('/').next());
        if let (true, Some(pod)) = (terminate && r.status < 300, pod) {
            *counts.entry(pod.to_owned()).or_default() += 1;
        }
    }
    counts
}
