//! Harness for running generated pod bundles for real: an app on loopback (dataset downloads,
//! metrics, artifact uploads, each checking the job's tokens), the RunPod emulator for
//! termination, and bash in a temporary directory standing in for `/workspace`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use trainpod::jobs::{JobState, ingest_metrics};
use trainpod::runpod::{ApiKey, Client, CreatePodRequest, GpuRequest};
use trainpod::script::Bundle;
use trainpod::store::Store;
use trainpod::token::{Expect, IssueRequest, KeyRing, Purpose, Tokens, generate_secret};

/// Seconds since the epoch, as a float.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// What the app saw and how it behaves.
#[derive(Debug, Default)]
pub struct AppState {
    /// Dataset bytes by id.
    pub datasets: HashMap<String, Vec<u8>>,
    /// Each dataset request: (unix time, status answered, `Range` header).
    pub dataset_requests: Vec<(f64, u16, Option<String>)>,
    /// Cut the next dataset response after this many bytes of its body (a dropped connection).
    pub cut_dataset_after: Option<usize>,
    /// Answer 503 to metrics while set.
    pub metrics_down: bool,
    /// Answer 503 to the artifact manifest while set.
    pub artifacts_down: bool,
    /// Metric batches taken, by batch number (a replay with the same body is not stored twice).
    pub batches: BTreeMap<u64, Value>,
    /// Metric POSTs received, including replays and refusals.
    pub metric_posts: u32,
    /// Each metric POST's request target and `Authorization` header, before any check.
    pub metric_requests: Vec<(String, String)>,
    /// Uploaded artifact bytes by path.
    pub uploads: BTreeMap<String, Vec<u8>>,
    /// The manifest the pod confirmed as complete.
    pub completed: Option<Vec<Value>>,
    /// Each job's state, as `trainpod::jobs::ingest_metrics` folded the pod's batches.
    pub job_states: HashMap<String, JobState>,
    /// Whether ingestion said to terminate the pod (a final status arrived).
    pub terminate_requested: bool,
}

impl AppState {
    /// Every event received, in batch order.
    pub fn events(&self) -> Vec<Value> {
        self.batches
            .values()
            .flat_map(|b| b["events"].as_array().unwrap().clone())
            .collect()
    }

    /// The final event, if it arrived.
    pub fn final_event(&self) -> Option<Value> {
        self.events().into_iter().find(|e| e["type"] == "final")
    }
}

/// A loopback app serving one pod's routes.
#[derive(Debug)]
pub struct App {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Shared state.
    pub state: Arc<Mutex<AppState>>,
    /// The app's token service.
    pub tokens: Tokens,
    /// The app's job store (the metrics route records a job on first contact).
    pub store: Arc<dyn Store>,
}

/// Tokens for the app at `base`, with a fresh key, on the system clock.
pub fn tokens_for(base: &str) -> Tokens {
    let ring = KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap();
    Tokens::builder().keys(ring).audience(base).build().unwrap()
}

type Shared = (Arc<Mutex<AppState>>, Tokens, Arc<dyn Store>);

impl App {
    /// Starts the app on a free loopback port.
    pub async fn start() -> App {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(AppState::default()));
        let tokens = tokens_for(&base);
        let store = trainpod::store::open("memory:").await.unwrap();
        let router = Router::new()
            .route("/datasets/{id}", get(dataset))
            .route("/metrics/{job}", post(metrics))
            .route("/artifacts/{job}", post(artifacts))
            .route("/uploads/{*path}", put(upload))
            .with_state((state.clone(), tokens.clone(), store.clone()));
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        App {
            base,
            state,
            tokens,
            store,
        }
    }

    /// A token for `purpose` on `job`, lasting `ttl` seconds.
    pub fn token(&self, purpose: Purpose, job: &str, dataset: Option<&str>, ttl: u64) -> String {
        let mut req = IssueRequest::new(purpose, "user-1", job).ttl_secs(ttl);
        if let Some(d) = dataset {
            req = req.dataset(d);
        }
        self.tokens.issue(&req).unwrap().token.expose().to_owned()
    }
}

fn authorized(tokens: &Tokens, headers: &HeaderMap, expect: &Expect) -> Result<(), StatusCode> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    tokens
        .verify_authorization(auth, expect)
        .map(|_| ())
        .map_err(|e| StatusCode::from_u16(e.kind().http_status()).unwrap())
}

async fn dataset(
    State((state, tokens, _)): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let range = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let answer = authorized(
        &tokens,
        &headers,
        &Expect::purpose(Purpose::DatasetRead).dataset(&id),
    )
    .and_then(|()| {
        let s = state.lock().unwrap();
        s.datasets.get(&id).cloned().ok_or(StatusCode::NOT_FOUND)
    });
    let mut s = state.lock().unwrap();
    let status = answer.as_ref().map_or_else(|s| s.as_u16(), |_| 200);
    s.dataset_requests.push((unix_now(), status, range.clone()));
    let data = match answer {
        Ok(data) => data,
        Err(status) => return status.into_response(),
    };
    // Only `bytes=N-`, the form `curl -C -` sends.
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n < data.len());
    let body = data[start.unwrap_or(0)..].to_vec();
    let mut response = Response::builder()
        .header("content-length", body.len())
        .header("accept-ranges", "bytes");
    if let Some(n) = start {
        let range = format!("bytes {n}-{}/{}", data.len() - 1, data.len());
        response = response.status(206).header("content-range", range);
    }
    let body = match s.cut_dataset_after.take() {
        Some(cut) => {
            // Send the first bytes, give them time to reach the client, then drop the connection.
            let first = Bytes::from(body[..cut.min(body.len())].to_vec());
            let stream = futures_util::stream::unfold(0u8, move |step| {
                let first = first.clone();
                async move {
                    match step {
                        0 => Some((Ok(first), 1)),
                        1 => {
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            Some((Err(std::io::Error::other("connection cut by the test")), 2))
                        }
                        _ => None,
                    }
                }
            });
            axum::body::Body::from_stream(stream)
        }
        None => axum::body::Body::from(body),
    };
    response.body(body).unwrap()
}

/// The metrics route, as an app writes it: `trainpod::jobs::ingest_metrics` does the work.
async fn metrics(
    State((state, tokens, store)): State<Shared>,
    UrlPath(job): UrlPath<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers
        .get("authorization")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    {
        let mut s = state.lock().unwrap();
        s.metric_posts += 1;
        s.metric_requests
            .push((uri.to_string(), auth.clone().unwrap_or_default()));
        if s.metrics_down {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    // Deploy records the job before the pod exists; this app records it on first contact.
    store.insert_job(&job_record(&job)).await.unwrap();
    let outcome = ingest_metrics(&tokens, store.as_ref(), None, &job, auth.as_deref(), &body).await;
    let out = match outcome {
        Ok(out) => out,
        Err(e) => {
            return StatusCode::from_u16(e.kind().http_status())
                .unwrap()
                .into_response();
        }
    };
    let mut s = state.lock().unwrap();
    if !out.replay {
        let batch: Value = serde_json::from_slice(&body).unwrap();
        s.batches.insert(batch["batch"].as_u64().unwrap(), batch);
        s.job_states.insert(job, out.job.state);
        s.terminate_requested |= out.terminate_pod;
    }
    (StatusCode::from_u16(out.status).unwrap(), out.body).into_response()
}

async fn artifacts(
    State((state, tokens, _)): State<Shared>,
    UrlPath(job): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<String, StatusCode> {
    if state.lock().unwrap().artifacts_down {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    authorized(
        &tokens,
        &headers,
        &Expect::purpose(Purpose::ArtifactsWrite).job(&job),
    )?;
    let req: Value = serde_json::from_slice(&body).map_err(|_| StatusCode::BAD_REQUEST)?;
    let files = req["files"]
        .as_array()
        .ok_or(StatusCode::BAD_REQUEST)?
        .clone();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut s = state.lock().unwrap();
    let stored = |f: &Value, s: &AppState| {
        let path = format!("{job}/{}", f["path"].as_str().unwrap_or_default());
        s.uploads
            .get(&path)
            .is_some_and(|b| sha256_hex(b) == f["sha256"].as_str().unwrap_or(""))
    };
    if req["complete"] == true {
        let complete = files.iter().all(|f| stored(f, &s));
        if complete {
            s.completed = Some(files);
        }
        return Ok(json!({ "complete": complete }).to_string());
    }
    let uploads: Vec<Value> = files
        .iter()
        .filter(|f| !stored(f, &s))
        .map(|f| {
            let path = f["path"].as_str().unwrap_or_default();
            json!({"path": path, "url": format!("http://{host}/uploads/{job}/{path}"), "headers": {}})
        })
        .collect();
    Ok(json!({ "uploads": uploads }).to_string())
}

async fn upload(
    State((state, _, _)): State<Shared>,
    UrlPath(path): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    state.lock().unwrap().uploads.insert(path, body.to_vec());
    StatusCode::OK
}

fn job_record(id: &str) -> trainpod::store::JobRecord {
    let now = unix_now() as u64;
    trainpod::store::JobRecord {
        state: JobState::Provisioning,
        deadline_unix: now + 3600,
        budget_usd: 10.0,
        price_per_hour: 0.69,
        started_at: Some(now),
        ..trainpod::store::JobRecord::new(id, "user-1", now)
    }
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh, empty directory under the system temp dir.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trainpod-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A bundle running as a "pod": its own process group, its output in `home/container.log`.
#[derive(Debug)]
pub struct PodRun {
    /// The bootstrap's process (the container's main process).
    pub child: tokio::process::Child,
    /// The pod's home (`TRAINPOD_HOME`).
    pub home: PathBuf,
    /// When the container was started (unix seconds).
    pub started: f64,
}

impl PodRun {
    /// Runs the start command as RunPod would (a shell given the `args` string), with the
    /// bundle and RunPod's injected variables in the environment.
    pub fn start(
        bundle: &Bundle,
        home: &Path,
        pod_id: &str,
        pod_key: &str,
        extra: &[(&str, &str)],
    ) -> PodRun {
        Self::start_with_shell("sh", bundle, home, pod_id, pod_key, extra)
    }

    /// As [`PodRun::start`], with the start command parsed by `shell` (`bash`, `dash`, ...).
    pub fn start_with_shell(
        shell: &str,
        bundle: &Bundle,
        home: &Path,
        pod_id: &str,
        pod_key: &str,
        extra: &[(&str, &str)],
    ) -> PodRun {
        let log = std::fs::File::create(home.join("container.log")).unwrap();
        let mut cmd = tokio::process::Command::new(shell);
        cmd.arg("-c")
            .arg(format!("exec {}", bundle.start_command))
            .envs(&bundle.env)
            .env("TRAINPOD_HOME", home)
            .env("RUNPOD_POD_ID", pod_id)
            .env("RUNPOD_API_KEY", pod_key)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .kill_on_drop(true);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        PodRun {
            child: cmd.spawn().unwrap(),
            home: home.to_owned(),
            started: unix_now(),
        }
    }

    /// The process id of the container's main process.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// Sends `signal` (e.g. `TERM`) to the main process only, as `docker stop` does.
    pub async fn signal(&self, signal: &str) {
        let status = tokio::process::Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .await
            .unwrap();
        assert!(status.success());
    }

    /// Kills the whole process group (what removing the container does).
    pub async fn kill_all(mut self) {
        let _ = tokio::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.pid())])
            .status()
            .await;
        let _ = self.child.wait().await;
    }

    /// The container's output so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.home.join("container.log")).unwrap_or_default()
    }
}

/// A RunPod client of `emu`, with the account key.
pub fn emulator_client(emu: &trainpod_emulator::Emulator) -> Client {
    Client::builder_with_reqwest(ApiKey::new(trainpod_emulator::ACCOUNT_KEY).unwrap())
        .unwrap()
        .base_url(emu.base_url())
        .build()
        .unwrap()
}

/// Creates a pod named `name` on one RTX 4090, carrying `bundle`'s start command and env as
/// deploy does; returns its id.
pub async fn create_pod(client: &Client, name: &str, bundle: Option<&Bundle>) -> String {
    let request = CreatePodRequest {
        name: name.into(),
        image: trainpod::script::DEFAULT_IMAGE.into(),
        args: bundle.map(|b| b.start_command.clone()),
        env: bundle.map(|b| b.env.clone()).unwrap_or_default(),
        gpu: Some(GpuRequest {
            id: "NVIDIA GeForce RTX 4090".into(),
            count: 1,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    };
    client.create_pod(&request, &[]).await.unwrap().pod.id
}

/// Waits for terminate requests for `pod_id` at the emulator; returns the unix time the first
/// accepted one was seen and how many were made, or `None` after `timeout`.
pub async fn wait_for_terminate(
    emu: &trainpod_emulator::Emulator,
    pod_id: &str,
    timeout: Duration,
) -> Option<(f64, usize)> {
    let path = format!("/v2/pods/{pod_id}/action");
    let end = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < end {
        let attempts: Vec<_> = emu
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.uri == path)
            .filter(|r| String::from_utf8_lossy(&r.body).contains("terminate"))
            .collect();
        if attempts.iter().any(|r| r.status < 300) {
            return Some((unix_now(), attempts.len()));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

/// Polls `f` every 25 ms until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    f()
}

/// The Postgres URL for tests (`TRAINPOD_TEST_DATABASE_URL`), or `None` to skip them; unset while
/// `TRAINPOD_REQUIRE_POSTGRES=1` is a failure, so CI never skips them silently.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TRAINPOD_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let required = std::env::var("TRAINPOD_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "TRAINPOD_REQUIRE_POSTGRES=1 but TRAINPOD_TEST_DATABASE_URL is unset"
            );
            None
        }
    }
}

/// A database of its own on the test Postgres (`TRAINPOD_TEST_DATABASE_URL`), for a test whose
/// reconciler must see only its own jobs: a store serves one RunPod account, and a reconciler
/// ends every live job whose pod its RunPod does not have. `None` to skip, as `postgres_url`.
pub async fn postgres_database(prefix: &str) -> Option<String> {
    let url = postgres_url()?;
    let name = unique_id(prefix).replace('-', "_").to_ascii_lowercase();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    let create = format!("create database {name}");
    sqlx::Executor::execute(&mut conn, sqlx::raw_sql(sqlx::AssertSqlSafe(create)))
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    Some(format!("{base}/{name}"))
}

/// An id no earlier run used (tests share one Postgres across runs).
pub fn unique_id(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{:x}-{nanos:x}", std::process::id())
}

/// The Python with the pinned training stack (`TRAINPOD_TRAIN_PYTHON`; scripts/test.sh builds
/// it), for the tests that train for real. Without it a test says so and passes, unless
/// `TRAINPOD_REQUIRE_TRAINING=1` (as in CI), where a missing one fails it.
pub fn train_python() -> Option<String> {
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
