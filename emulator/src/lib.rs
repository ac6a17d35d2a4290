//! A RunPod REST v2 emulator on loopback, for tests in Rust, Python and Node.
//!
//! It implements the subset trainpod uses: `GET/POST /v2/pods` (with `includeClusterPods`),
//! `GET/PATCH/DELETE /v2/pods/{id}`, `POST /v2/pods/{id}/action`, `GET /v2/pods/{id}/logs` (a
//! live SSE stream with `source`, `tail`, `since` and `Last-Event-ID`), `GET /v2/catalog/gpus`
//! and `GET /v2/catalog/gpus/{id}` (with the availability filters) and `GET /v2/billing/pods`.
//!
//! Time is a manual clock ([`Emulator::advance`]) unless [`Options::real_time`] is set: pods move
//! PROVISIONING → STARTING (1 s) → RUNNING (3 s), and billing accrues per second at the pod's
//! price while it is not EXITED or TERMINATED. Faults are set per test through [`Emulator::faults`].
//!
//! With [`Options::run_pods`] the emulator is also a local provider: each pod it creates runs its
//! start command as a local process group, as RunPod runs a container (see [`RunPods`]).

mod params;
mod runner;

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use params::{Query, decode, iso, parse_iso};
pub use runner::{LocalPod, RunPods};

/// Pod ids unique across emulators in one process, and unlikely to repeat across processes,
/// as RunPod's are: stores shared between tests key records on them.
fn pod_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "emu{:x}x{:06}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The account key every emulator accepts.
pub const ACCOUNT_KEY: &str = "rpa_emulator_account_key";

/// Faults injected into the next matching requests.
#[derive(Debug, Default)]
pub struct Faults {
    /// GPU type ids that answer "no capacity" on create, in every data center.
    pub no_capacity: HashSet<String>,
    /// (GPU type id, data center id) pairs with no capacity.
    pub no_capacity_at: HashSet<(String, String)>,
    /// Creates that create the pod and then answer 500.
    pub fail_after_create: u32,
    /// The next requests answer 429 with these `Retry-After` seconds.
    pub rate_limits: VecDeque<u64>,
    /// The next requests answer with these statuses (401, 402, 403, 500, …) as problem+json.
    pub statuses: VecDeque<u16>,
    /// Delay before every answer.
    pub latency: Duration,
}

/// One request as the emulator received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Headers (the `authorization` value is kept so tests can assert on it).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Status answered.
    pub status: u16,
    /// Body answered.
    pub response: Vec<u8>,
}

/// Which log a line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogSource {
    /// The container's stdout and stderr.
    Container,
    /// The host's lifecycle log.
    System,
}

impl LogSource {
    fn as_str(self) -> &'static str {
        match self {
            LogSource::Container => "container",
            LogSource::System => "system",
        }
    }
}

/// How the emulator runs.
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// use trainpod_emulator::{Emulator, Options, RunPods};
/// let emu = Emulator::start_with(Options {
///     run_pods: Some(RunPods::default()),
///     ..Options::default()
/// })
/// .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Advance the clock by itself, one second per real second, from the real time (for the
    /// local provider and for tests of real-time billing). Otherwise the clock starts at a fixed
    /// instant and moves only through [`Emulator::advance`]. Implied by `run_pods`.
    pub real_time: bool,
    /// Run each created pod's start command (`args`) as a local process group: the local
    /// provider. `None` (the default) only records pods.
    pub run_pods: Option<RunPods>,
}

#[derive(Debug, Clone)]
struct LogLine {
    seq: u64,
    ts: u64,
    source: LogSource,
    line: String,
}

#[derive(Debug, Clone)]
struct EmuPod {
    id: String,
    name: String,
    status: &'static str,
    image: String,
    args: String,
    disk: u64,
    ports: Vec<String>,
    env: Map<String, Value>,
    registry: Option<String>,
    locked: bool,
    global_networking: bool,
    cloud: &'static str,
    data_center_id: &'static str,
    /// (size GB, path) of the pod's persistent volume.
    persistent: Option<(u64, String)>,
    /// (volume id, path) of the pod's network volume.
    network: Option<(String, String)>,
    gpu_id: String,
    gpu_count: u32,
    price_per_gpu_hour: f64,
    status_since: u64,
    created_at: u64,
    billed_secs: u64,
    logs: Vec<LogLine>,
    /// Bumped by the start and restart actions: the local provider starts the container anew.
    starts: u64,
    /// Times the local provider restarted the container after it exited by itself.
    restarts: u32,
    /// The local provider's workspace for the pod (`/workspace`).
    workspace: Option<std::path::PathBuf>,
    /// The container's main process (and process group) while it runs locally.
    pid: Option<u32>,
}

#[derive(Debug)]
struct DataCenter {
    id: &'static str,
    name: &'static str,
    country: &'static str,
}

const DATA_CENTERS: &[DataCenter] = &[
    DataCenter {
        id: "US-TX-3",
        name: "United States Texas 3",
        country: "US",
    },
    DataCenter {
        id: "EU-RO-1",
        name: "Europe Romania 1",
        country: "RO",
    },
    DataCenter {
        id: "EU-FR-1",
        name: "Europe France 1",
        country: "FR",
    },
];

/// CUDA versions every emulated machine offers.
const CUDA_VERSIONS: &[&str] = &["12.4", "12.8"];

#[derive(Debug)]
struct GpuEntry {
    id: &'static str,
    name: &'static str,
    memory: u32,
    secure: f64,
    community: f64,
    availability: &'static str,
}

const CATALOG: &[GpuEntry] = &[
    GpuEntry {
        id: "NVIDIA GeForce RTX 4090",
        name: "RTX 4090",
        memory: 24,
        secure: 0.69,
        community: 0.34,
        availability: "HIGH",
    },
    GpuEntry {
        id: "NVIDIA A40",
        name: "A40",
        memory: 48,
        secure: 0.40,
        community: 0.35,
        availability: "MEDIUM",
    },
    GpuEntry {
        id: "NVIDIA A100 80GB PCIe",
        name: "A100 PCIe",
        memory: 80,
        secure: 1.64,
        community: 1.19,
        availability: "LOW",
    },
    GpuEntry {
        id: "NVIDIA H100 80GB HBM3",
        name: "H100 SXM",
        memory: 80,
        secure: 2.99,
        community: 2.69,
        availability: "LOW",
    },
];

#[derive(Debug, Default)]
struct State {
    now: u64,
    next_id: u64,
    next_log_seq: u64,
    pods: Vec<EmuPod>,
    pod_keys: HashMap<String, String>,
    /// Network volumes: id → data center.
    volumes: HashMap<String, &'static str>,
    faults: Faults,
    log: Vec<RecordedRequest>,
    /// Set by the logs route: the answer continues as a live stream.
    follow: Option<Follow>,
    stopped: bool,
}

impl State {
    fn push_log(&mut self, pod: usize, source: LogSource, line: String) {
        self.next_log_seq += 1;
        let (seq, ts) = (self.next_log_seq, self.now);
        self.pods[pod].logs.push(LogLine {
            seq,
            ts,
            source,
            line,
        });
    }

    fn advance_one(&mut self) {
        self.now += 1;
        let now = self.now;
        let mut moved = Vec::new();
        for (i, pod) in self.pods.iter_mut().enumerate() {
            if !matches!(pod.status, "EXITED" | "TERMINATED") {
                pod.billed_secs += 1;
            }
            let age = now - pod.status_since;
            let next = match (pod.status, age) {
                ("PROVISIONING", a) if a >= 1 => Some("STARTING"),
                ("STARTING", a) if a >= 2 => Some("RUNNING"),
                _ => None,
            };
            if let Some(next) = next {
                pod.status = next;
                pod.status_since = now;
                moved.push((i, next));
            }
        }
        for (i, next) in moved {
            self.push_log(i, LogSource::System, format!("status {next}"));
        }
    }
}

/// A log stream that continues after its backfill.
#[derive(Debug)]
struct Follow {
    pod_id: String,
    after_seq: u64,
    source: Option<LogSource>,
}

/// What the server and the handle share: the state, and a counter bumped on every change so
/// that open log streams wake up.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    /// The local provider, when pods run as processes.
    runner: Option<runner::Runner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Append a line to one of a pod's logs and wake the open streams; false when there is no
    /// such pod.
    fn append_log(&self, pod_id: &str, source: LogSource, line: String) -> bool {
        let found = {
            let mut s = self.lock();
            match s.pods.iter().position(|p| p.id == pod_id) {
                Some(i) => {
                    s.push_log(i, source, line);
                    true
                }
                None => false,
            }
        };
        self.notify();
        found
    }
}

/// A running emulator. Dropping it (or [`Emulator::stop`]) stops the server and, with
/// [`Options::run_pods`], kills every pod's process group.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Emulator {
    /// Start on 127.0.0.1 on a free port, on the caller's tokio runtime, on a manual clock.
    pub async fn start() -> std::io::Result<Emulator> {
        Emulator::start_with(Options::default()).await
    }

    /// Start with these options.
    pub async fn start_with(options: Options) -> std::io::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let real_time = options.real_time || options.run_pods.is_some();
        let runner = options.run_pods.map(runner::Runner::new).transpose()?;
        let now = if real_time {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        } else {
            1_700_000_000
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                now,
                ..State::default()
            }),
            changed: watch::channel(0).0,
            runner,
        });
        let app_shared = shared.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let shared = app_shared.clone();
                async move { handle(shared, method, uri, headers, body).await }
            },
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        if real_time {
            // Holds only a weak reference: the ticking ends with the emulator.
            let weak = Arc::downgrade(&shared);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                tick.tick().await; // the first tick is immediate
                loop {
                    tick.tick().await;
                    let Some(shared) = weak.upgrade() else { break };
                    if shared.lock().stopped {
                        break;
                    }
                    shared.lock().advance_one();
                    shared.notify();
                }
            });
        }
        Ok(Emulator {
            addr,
            shared,
            stop: Some(tx),
        })
    }

    /// The base URL to give the client, ending in `/v2`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    /// Stop serving; open log streams end, and every pod's process group is killed.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            self.shared.lock().stopped = true;
            self.shared.notify();
            let _ = tx.send(());
        }
        // At once and synchronously: the runtime may end right after this drop, before the
        // pods' supervisors run again (they reap what is left when they do).
        if let Some(runner) = &self.shared.runner {
            runner.kill_all();
        }
    }

    /// Change the faults for the next requests.
    pub fn faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.shared.lock().faults);
    }

    /// Issue a pod-scoped key that may act only on `pod_id`.
    pub fn pod_key(&self, pod_id: &str) -> String {
        let key = format!("rpa_pod_{pod_id}");
        self.shared
            .lock()
            .pod_keys
            .insert(key.clone(), pod_id.to_owned());
        key
    }

    /// Move the emulator's clock forward: pods change status and accrue billing.
    pub fn advance(&self, secs: u64) {
        {
            let mut s = self.shared.lock();
            for _ in 0..secs {
                s.advance_one();
            }
        }
        self.shared.notify();
    }

    /// The emulator's clock, in seconds since the epoch.
    pub fn now(&self) -> u64 {
        self.shared.lock().now
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().log.clone()
    }

    /// Registers a network volume in data center `dc` (one of the emulator's), so that pods can
    /// mount it. Returns `false` for an unknown data center.
    pub fn add_network_volume(&self, id: &str, dc: &str) -> bool {
        let Some(known) = DATA_CENTERS.iter().find(|d| d.id == dc) else {
            return false;
        };
        self.shared.lock().volumes.insert(id.to_owned(), known.id);
        true
    }

    /// Number of pods ever created (terminated ones included).
    pub fn pod_count(&self) -> usize {
        self.shared.lock().pods.len()
    }

    /// The status of a pod.
    pub fn pod_status(&self, pod_id: &str) -> Option<&'static str> {
        self.shared
            .lock()
            .pods
            .iter()
            .find(|p| p.id == pod_id)
            .map(|p| p.status)
    }

    /// Append a line to a pod's container log.
    pub fn push_log(&self, pod_id: &str, line: &str) {
        self.append_log(pod_id, LogSource::Container, line);
    }

    /// Append a line to one of a pod's logs, time-stamped with the emulator's clock; open log
    /// streams of the pod receive it at once. Returns false when there is no such pod.
    pub fn append_log(&self, pod_id: &str, source: LogSource, line: &str) -> bool {
        self.shared.append_log(pod_id, source, line.to_owned())
    }

    /// How many times the container of a pod was restarted after its main process exited by
    /// itself (always 0 unless pods run locally); `None` when there is no such pod.
    pub fn pod_restarts(&self, pod_id: &str) -> Option<u32> {
        self.shared
            .lock()
            .pods
            .iter()
            .find(|p| p.id == pod_id)
            .map(|p| p.restarts)
    }

    /// Where and how a pod runs locally; `None` when there is no such pod or pods do not run
    /// ([`Options::run_pods`] unset).
    pub fn local_pod(&self, pod_id: &str) -> Option<LocalPod> {
        let s = self.shared.lock();
        let p = s.pods.iter().find(|p| p.id == pod_id)?;
        let workspace = p.workspace.clone()?;
        Some(LocalPod {
            log_file: workspace.join(runner::LOG_FILE),
            workspace,
            pid: p.pid,
            restarts: p.restarts,
        })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn problem(status: u16, title: &str, detail: &str) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
    let body = json!({"title": title, "status": status, "detail": detail});
    (
        status,
        vec![("content-type", "application/problem+json".to_owned())],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

fn json_ok(status: u16, v: &Value) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
    (
        status,
        vec![("content-type", "application/json".to_owned())],
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

fn actions_for(status: &str) -> &'static [&'static str] {
    match status {
        "RUNNING" => &["stop", "restart", "terminate"],
        "EXITED" | "ERROR" => &["start", "terminate"],
        "PROVISIONING" | "STARTING" => &["stop", "terminate"],
        _ => &[],
    }
}

fn pod_json(p: &EmuPod) -> Value {
    let running = p.status == "RUNNING";
    let cost = if matches!(p.status, "EXITED" | "TERMINATED") {
        0.0
    } else {
        p.price_per_gpu_hour * f64::from(p.gpu_count)
    };
    let mounts = match (&p.persistent, &p.network) {
        (Some((size, path)), _) => json!({"persistent": {"size": size, "path": path}}),
        (None, Some((id, path))) => json!({"network": [{"volumeId": id, "path": path}]}),
        (None, None) => json!({}),
    };
    json!({
        "id": p.id, "name": p.name, "status": p.status, "actions": actions_for(p.status),
        "image": p.image, "args": p.args, "disk": p.disk, "mounts": mounts, "ports": p.ports,
        "env": p.env, "registry": p.registry, "cloud": p.cloud, "dataCenterId": p.data_center_id,
        "cudaVersion": "12.8",
        "ssh": {"proxy": null, "direct": null},
        "template": null, "cost": cost, "locked": p.locked,
        "runtime": if running { json!({"uptime": 0, "gpus": [], "cpu": {"util": 0}, "memory": {"util": 0}, "ports": []}) } else { Value::Null },
        "createdAt": iso(p.created_at), "startedAt": if running { json!(iso(p.status_since)) } else { Value::Null },
        "globalNetworking": {"enabled": p.global_networking},
        "gpu": {"id": p.gpu_id, "count": p.gpu_count},
    })
}

async fn handle(
    shared: Arc<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(rest) = uri.path().strip_prefix("/_emulator/") {
        let (status, out) = admin(&shared, &method, rest, &body);
        shared.notify();
        let ct = [(header::CONTENT_TYPE, "application/json")];
        return (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            ct,
            out.to_string(),
        )
            .into_response();
    }
    let latency = shared.lock().faults.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (status, extra, out, follow, created) = {
        let mut s = shared.lock();
        s.follow = None;
        let before = s.pods.len();
        let (status, extra, out) = route(&mut s, &method, &uri, &headers, &body);
        // A create that answers 500 after creating still made a pod, which runs as well.
        let created: Vec<String> = s.pods[before..].iter().map(|p| p.id.clone()).collect();
        s.log.push(RecordedRequest {
            method: method.to_string(),
            uri: uri.to_string(),
            headers: headers
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            body: body.to_vec(),
            status,
            response: out.clone(),
        });
        (status, extra, out, s.follow.take(), created)
    };
    if shared.runner.is_some() {
        for id in created {
            runner::supervise(shared.clone(), id);
        }
    }
    shared.notify();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match follow {
        Some(f) => (status, Body::from_stream(follow_logs(shared, f, out))).into_response(),
        None => (status, out).into_response(),
    };
    let h = resp.headers_mut();
    h.insert("x-request-id", HeaderValue::from_static("emu-req"));
    for (name, value) in extra {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    if status == StatusCode::NO_CONTENT {
        h.remove(header::CONTENT_TYPE);
    }
    resp
}

/// The test-control endpoints under `/_emulator/` (not part of RunPod's API, not recorded, no
/// key: the emulator listens on loopback only). They let tests in other languages do what Rust
/// tests do through the handle: `POST faults`, `POST advance`, `POST pods/{id}/logs`,
/// `GET requests`, and `GET pods/{id}` (status, restarts and, for pods that run locally, the
/// workspace, log file and main process id).
fn admin(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> (u16, Value) {
    let req: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return (400, json!({"error": format!("body is not JSON: {e}")})),
        }
    };
    let segs: Vec<String> = path.split('/').map(|p| decode(p, false)).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let mut s = shared.lock();
    match (method.as_str(), segs.as_slice()) {
        ("POST", ["faults"]) => match set_faults(&mut s.faults, &req) {
            Ok(()) => (200, json!({})),
            Err(e) => (400, json!({ "error": e })),
        },
        ("POST", ["advance"]) => match req.get("secs").and_then(Value::as_u64) {
            Some(secs) if secs <= 30 * 86_400 => {
                for _ in 0..secs {
                    s.advance_one();
                }
                (200, json!({"now": s.now}))
            }
            _ => (400, json!({"error": "secs must be 0 to 2592000"})),
        },
        ("POST", ["pods", id, "logs"]) => {
            let source = match req.get("source").and_then(Value::as_str) {
                None | Some("container") => LogSource::Container,
                Some("system") => LogSource::System,
                Some(_) => return (400, json!({"error": "source must be container or system"})),
            };
            let Some(line) = req.get("line").and_then(Value::as_str) else {
                return (400, json!({"error": "line (a string) is required"}));
            };
            match s.pods.iter().position(|p| p.id == *id) {
                Some(i) => {
                    s.push_log(i, source, line.to_owned());
                    (200, json!({}))
                }
                None => (404, json!({"error": format!("no pod {id}")})),
            }
        }
        ("GET", ["pods", id]) => match s.pods.iter().find(|p| p.id == *id) {
            Some(p) => (
                200,
                json!({
                    "id": p.id, "status": p.status, "restarts": p.restarts, "pid": p.pid,
                    "workspace": p.workspace.as_ref().map(|w| w.display().to_string()),
                    "logFile": p.workspace.as_ref()
                        .map(|w| w.join(runner::LOG_FILE).display().to_string()),
                }),
            ),
            None => (404, json!({"error": format!("no pod {id}")})),
        },
        ("GET", ["requests"]) => {
            let list: Vec<Value> = s
                .log
                .iter()
                .map(|r| json!({"method": r.method, "uri": r.uri, "status": r.status}))
                .collect();
            (200, json!({ "requests": list }))
        }
        _ => (404, json!({"error": "no such emulator control endpoint"})),
    }
}

/// Apply `{"reset", "noCapacity", "noCapacityAt", "failAfterCreate", "rateLimits", "statuses",
/// "latencyMs"}`: lists add to what is set, numbers replace, `reset` clears first.
fn set_faults(f: &mut Faults, req: &Value) -> Result<(), String> {
    let Some(obj) = req.as_object() else {
        return Err("faults must be a JSON object".into());
    };
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|x| x.as_str().map(str::to_owned))
            .collect()
    };
    let numbers =
        |v: &Value| -> Option<Vec<u64>> { v.as_array()?.iter().map(Value::as_u64).collect() };
    if obj.get("reset").and_then(Value::as_bool) == Some(true) {
        *f = Faults::default();
    }
    for (k, v) in obj {
        let ok = match k.as_str() {
            "reset" => v.is_boolean(),
            "noCapacity" => strings(v).map(|g| f.no_capacity.extend(g)).is_some(),
            "noCapacityAt" => v
                .as_array()
                .and_then(|pairs| {
                    pairs
                        .iter()
                        .map(|p| match strings(p)?.as_slice() {
                            [g, d] => Some((g.clone(), d.clone())),
                            _ => None,
                        })
                        .collect::<Option<Vec<_>>>()
                })
                .map(|pairs| f.no_capacity_at.extend(pairs))
                .is_some(),
            "failAfterCreate" => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(|n| f.fail_after_create = n)
                .is_some(),
            "rateLimits" => numbers(v).map(|n| f.rate_limits.extend(n)).is_some(),
            "statuses" => numbers(v)
                .and_then(|n| {
                    n.into_iter()
                        .map(|c| u16::try_from(c).ok().filter(|c| (400..600).contains(c)))
                        .collect::<Option<Vec<u16>>>()
                })
                .map(|n| f.statuses.extend(n))
                .is_some(),
            "latencyMs" => v
                .as_u64()
                .map(|ms| f.latency = Duration::from_millis(ms))
                .is_some(),
            _ => false,
        };
        if !ok {
            return Err(format!(
                "fault {k:?}: unknown, or a value of the wrong type"
            ));
        }
    }
    Ok(())
}

fn sse_event(l: &LogLine) -> String {
    let data = json!({"ts": iso(l.ts), "source": l.source.as_str(), "line": l.line});
    format!("id: {}/{:012}\ndata: {data}\n\n", iso(l.ts), l.seq)
}

/// The live part of a log stream: the backfill, then each new line of the pod as it is
/// appended, until the pod is terminated or the emulator stops.
fn follow_logs(
    shared: Arc<Shared>,
    follow: Follow,
    backfill: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> {
    let changed = shared.changed.subscribe();
    futures_util::stream::unfold(
        (Some(backfill), follow, changed, shared),
        |(first, mut f, mut changed, shared)| async move {
            if let Some(b) = first {
                return Some((Ok(Bytes::from(b)), (None, f, changed, shared)));
            }
            loop {
                let (chunk, ended) = {
                    let s = shared.lock();
                    let pod = s.pods.iter().find(|p| p.id == f.pod_id);
                    let mut chunk = String::new();
                    for l in pod.map(|p| p.logs.as_slice()).unwrap_or_default() {
                        if l.seq > f.after_seq {
                            f.after_seq = l.seq;
                            if f.source.is_none_or(|src| src == l.source) {
                                chunk.push_str(&sse_event(l));
                            }
                        }
                    }
                    let ended = s.stopped || pod.is_none_or(|p| p.status == "TERMINATED");
                    (chunk, ended)
                };
                if !chunk.is_empty() {
                    return Some((Ok(Bytes::from(chunk)), (None, f, changed, shared)));
                }
                if ended || changed.changed().await.is_err() {
                    return None;
                }
            }
        },
    )
}

type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

fn route(s: &mut State, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Answer {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if key.is_empty() {
        return problem(401, "Unauthorized", "missing bearer token");
    }
    let scope = if key == ACCOUNT_KEY {
        None
    } else if let Some(pod) = s.pod_keys.get(key) {
        Some(pod.clone())
    } else {
        return problem(401, "Unauthorized", "invalid api key");
    };
    if let Some(secs) = s.faults.rate_limits.pop_front() {
        let mut a = problem(
            429,
            "Too Many Requests",
            "rate limit exceeded for the minute window",
        );
        a.1.push(("retry-after", secs.to_string()));
        return a;
    }
    if let Some(status) = s.faults.statuses.pop_front() {
        let (title, detail) = match status {
            401 => ("Unauthorized", "invalid api key"),
            402 => ("Payment Required", "insufficient balance"),
            403 => ("Forbidden", "this key lacks permission for the request"),
            _ => ("Internal Server Error", "injected failure"),
        };
        return problem(status, title, detail);
    }
    let path = uri.path().strip_prefix("/v2").unwrap_or("");
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|seg| decode(seg, false))
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let query = Query::parse(uri.query().unwrap_or(""));
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["pods"]) => {
            // The emulator has no clusters, so includeClusterPods changes nothing once valid.
            if query
                .get("includeClusterPods")
                .is_some_and(|v| !matches!(v, "true" | "false"))
            {
                return problem(
                    422,
                    "Unprocessable Entity",
                    "includeClusterPods must be true or false",
                );
            }
            let pods: Vec<Value> = s
                .pods
                .iter()
                .filter(|p| p.status != "TERMINATED")
                .filter(|p| scope.as_ref().is_none_or(|own| *own == p.id))
                .map(pod_json)
                .collect();
            json_ok(200, &json!({ "pods": pods }))
        }
        ("PATCH", ["pods", id]) => match find(s, id, scope.as_deref()) {
            Ok(i) => patch(s, i, body),
            Err(a) => a,
        },
        ("POST", ["pods"]) => {
            if scope.is_some() {
                return problem(403, "Forbidden", "a pod key cannot create pods");
            }
            create(s, body)
        }
        ("GET", ["pods", id]) => match find(s, id, scope.as_deref()) {
            Ok(i) => json_ok(200, &pod_json(&s.pods[i])),
            Err(a) => a,
        },
        ("DELETE", ["pods", id]) => match find(s, id, scope.as_deref()) {
            Ok(i) => {
                s.pods[i].status = "TERMINATED";
                (204, vec![], vec![])
            }
            Err(a) => a,
        },
        ("POST", ["pods", id, "action"]) => {
            let i = match find(s, id, scope.as_deref()) {
                Ok(i) => i,
                Err(a) => return a,
            };
            let action = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("action").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            if !matches!(action.as_str(), "start" | "stop" | "restart" | "terminate") {
                return problem(
                    422,
                    "Unprocessable Entity",
                    "action must be start, stop, restart or terminate",
                );
            }
            let now = s.now;
            let pod = &mut s.pods[i];
            if !actions_for(pod.status).contains(&action.as_str()) {
                return problem(
                    409,
                    "Conflict",
                    &format!("cannot {action} a pod in status {}", pod.status),
                );
            }
            if matches!(action.as_str(), "start" | "restart") {
                pod.starts += 1;
            }
            pod.status = match action.as_str() {
                "start" | "restart" => "STARTING",
                "stop" => "EXITED",
                _ => "TERMINATED",
            };
            pod.status_since = now;
            if pod.status == "TERMINATED" {
                return (204, vec![], vec![]);
            }
            json_ok(200, &pod_json(pod))
        }
        ("GET", ["pods", id, "logs"]) => match find(s, id, scope.as_deref()) {
            Ok(i) => logs(s, i, &query, headers),
            Err(a) => a,
        },
        ("GET", ["catalog", "gpus"]) => catalog(s, None, &query),
        ("GET", ["catalog", "gpus", id]) => catalog(s, Some(id), &query),
        ("GET", ["billing", "pods"]) => {
            let wanted = query.get("podId").map(str::to_owned);
            let now = s.now;
            let mut total = 0.0;
            let records: Vec<Value> = s
                .pods
                .iter()
                .filter(|p| wanted.as_ref().is_none_or(|w| *w == p.id))
                .filter(|p| scope.as_ref().is_none_or(|own| *own == p.id))
                .map(|p| {
                    #[allow(clippy::cast_precision_loss)]
                    let amount = p.price_per_gpu_hour * f64::from(p.gpu_count) * p.billed_secs as f64 / 3600.0;
                    total += amount;
                    json!({"podId": p.id, "startTime": iso(p.created_at), "endTime": iso(now),
                        "totalAmount": amount, "gpuAmount": amount, "cpuAmount": 0.0, "diskAmount": 0.0})
                })
                .collect();
            let n = records.len();
            json_ok(
                200,
                &json!({"records": records, "metadata": {
                "query": {"startTime": iso(now.saturating_sub(86_400)), "endTime": iso(now), "bucketSize": "day"},
                "recordCount": n, "uniquePodCount": n,
                "totals": {"totalAmount": total, "gpuAmount": total, "cpuAmount": 0.0, "diskAmount": 0.0}}}),
            )
        }
        _ => problem(404, "Not Found", "no such route in the emulator"),
    }
}

fn find(s: &State, id: &str, scope: Option<&str>) -> Result<usize, Answer> {
    if scope.is_some_and(|own| own != id) {
        return Err(problem(
            403,
            "Forbidden",
            "a pod-scoped key may act only on its own pod",
        ));
    }
    s.pods
        .iter()
        .position(|p| p.id == id && p.status != "TERMINATED")
        .ok_or_else(|| problem(404, "Not Found", &format!("pod {id} not found")))
}

fn unprocessable(detail: &str) -> Answer {
    problem(422, "Unprocessable Entity", detail)
}

fn bad_request(detail: &str) -> Answer {
    problem(400, "Bad Request", detail)
}

fn has_capacity(s: &State, gpu_id: &str, dc: &str) -> bool {
    !s.faults.no_capacity.contains(gpu_id)
        && !s
            .faults
            .no_capacity_at
            .contains(&(gpu_id.to_owned(), dc.to_owned()))
}

fn create(s: &mut State, body: &[u8]) -> Answer {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return bad_request("body is not JSON");
    };
    let Some(name) = req
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return bad_request("name is required");
    };
    let Some(image) = req.get("image").and_then(Value::as_str) else {
        return bad_request("image is required unless templateId is set");
    };
    let Some(gpu_id) = req.pointer("/gpu/id").and_then(Value::as_str) else {
        return bad_request("exactly one of gpu or cpu must be set");
    };
    let count = req
        .pointer("/gpu/count")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let Some(entry) = CATALOG.iter().find(|g| g.id == gpu_id) else {
        return bad_request(&format!("unknown GPU type {gpu_id}"));
    };
    if !(1..=8).contains(&count) {
        return bad_request("gpu.count must be 1 to 8");
    }
    // RunPod places the pod in the first listed data center with capacity (any when none is
    // listed); the emulator does the same over its own data centers.
    let mut wanted: Vec<&str> = match req.get("dataCenterIds").and_then(Value::as_array) {
        Some(ids) if !ids.is_empty() => ids.iter().filter_map(Value::as_str).collect(),
        _ => DATA_CENTERS.iter().map(|d| d.id).collect(),
    };
    let network = match network_mount(s, &req) {
        Ok(network) => network,
        Err(answer) => return answer,
    };
    if let Some((_, _, dc)) = &network {
        // A network volume pins the pod to the volume's data center.
        if !wanted.contains(dc) {
            return bad_request(&format!(
                "the network volume is in {dc}, which dataCenterIds does not allow"
            ));
        }
        wanted = vec![dc];
    }
    if let Some(unknown) = wanted
        .iter()
        .find(|w| !DATA_CENTERS.iter().any(|d| d.id == **w))
    {
        return bad_request(&format!("unknown data center {unknown}"));
    }
    let Some(dc) = DATA_CENTERS
        .iter()
        .filter(|d| wanted.contains(&d.id))
        .find(|d| has_capacity(s, gpu_id, d.id))
    else {
        return bad_request(
            "There are no longer any instances available with the requested specifications",
        );
    };
    let community = req.get("cloud").and_then(Value::as_str) == Some("COMMUNITY");
    s.next_id += 1;
    let pod = EmuPod {
        id: pod_id(),
        name: name.to_owned(),
        status: "PROVISIONING",
        image: image.to_owned(),
        args: req
            .get("args")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        disk: req.get("disk").and_then(Value::as_u64).unwrap_or(50),
        ports: req
            .get("ports")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        env: req
            .get("env")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        registry: None,
        locked: false,
        global_networking: false,
        cloud: if community { "COMMUNITY" } else { "SECURE" },
        data_center_id: dc.id,
        network: network.map(|(id, path, _)| (id, path)),
        persistent: req.pointer("/mounts/persistent").and_then(|m| {
            Some((
                m.get("size")?.as_u64()?,
                m.get("path")?.as_str()?.to_owned(),
            ))
        }),
        gpu_id: gpu_id.to_owned(),
        gpu_count: u32::try_from(count).unwrap_or(1),
        price_per_gpu_hour: if community {
            entry.community
        } else {
            entry.secure
        },
        status_since: s.now,
        created_at: s.now,
        billed_secs: 0,
        logs: Vec::new(),
        starts: 0,
        restarts: 0,
        workspace: None,
        pid: None,
    };
    s.pods.push(pod);
    let i = s.pods.len() - 1;
    s.push_log(i, LogSource::System, "status PROVISIONING".to_owned());
    let out = pod_json(&s.pods[i]);
    if s.faults.fail_after_create > 0 {
        s.faults.fail_after_create -= 1;
        return problem(
            500,
            "Internal Server Error",
            "create pod: failed to read back the created pod",
        );
    }
    json_ok(201, &out)
}

/// `PATCH /v2/pods/{id}`: type errors and unknown fields are 422 (the schema allows no other
/// properties); rule violations (mount kind, an empty network list) are 400.
fn patch(s: &mut State, i: usize, body: &[u8]) -> Answer {
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
        return bad_request("body must be a JSON object");
    };
    let pod = &s.pods[i];
    let mut next = pod.clone();
    for (field, v) in &req {
        let ok = match (field.as_str(), v) {
            ("name", Value::String(n)) if !n.is_empty() => {
                next.name.clone_from(n);
                true
            }
            ("image", Value::String(x)) => {
                next.image.clone_from(x);
                true
            }
            ("args", Value::String(x)) => {
                next.args.clone_from(x);
                true
            }
            ("disk", Value::Number(n)) if n.as_u64().is_some_and(|d| d >= 1) => {
                next.disk = n.as_u64().unwrap_or(1);
                true
            }
            ("ports", Value::Array(a)) if a.iter().all(Value::is_string) => {
                next.ports = a
                    .iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect();
                true
            }
            ("env", Value::Object(m)) if m.values().all(Value::is_string) => {
                next.env.clone_from(m);
                true
            }
            ("registry", Value::String(r)) => {
                next.registry = Some(r.clone());
                true
            }
            ("registry", Value::Null) => {
                next.registry = None;
                true
            }
            ("locked", Value::Bool(b)) => {
                next.locked = *b;
                true
            }
            ("globalNetworking", Value::Bool(b)) => {
                next.global_networking = *b;
                true
            }
            ("templateId", Value::String(_)) => {
                return problem(404, "Not Found", "template not found");
            }
            ("mounts", Value::Object(m)) => {
                if let Some(err) = patch_mounts(&mut next, m) {
                    return err;
                }
                true
            }
            _ => false,
        };
        if !ok {
            return unprocessable(&format!("{field}: unknown field or wrong type"));
        }
    }
    s.pods[i] = next;
    json_ok(200, &pod_json(&s.pods[i]))
}

/// The create request's network mount, checked against the known volumes: (id, path, data center).
fn network_mount(s: &State, req: &Value) -> Result<Option<(String, String, &'static str)>, Answer> {
    let Some(list) = req.pointer("/mounts/network").and_then(Value::as_array) else {
        return Ok(None);
    };
    if req.pointer("/mounts/persistent").is_some() {
        return Err(bad_request(
            "mounts: persistent and network are mutually exclusive",
        ));
    }
    let [mount] = list.as_slice() else {
        return Err(bad_request("mounts.network takes exactly one volume"));
    };
    let (Some(id), Some(path)) = (
        mount.get("volumeId").and_then(Value::as_str),
        mount.get("path").and_then(Value::as_str),
    ) else {
        return Err(unprocessable("mounts.network needs volumeId and path"));
    };
    let Some(dc) = s.volumes.get(id) else {
        return Err(bad_request(&format!("network volume {id} not found")));
    };
    Ok(Some((id.to_owned(), path.to_owned(), dc)))
}

fn patch_mounts(pod: &mut EmuPod, m: &Map<String, Value>) -> Option<Answer> {
    for (kind, v) in m {
        match (kind.as_str(), v) {
            ("persistent", Value::Object(p)) => {
                let (Some(size), Some(path)) = (
                    p.get("size").and_then(Value::as_u64),
                    p.get("path").and_then(Value::as_str),
                ) else {
                    return Some(unprocessable("mounts.persistent needs both size and path"));
                };
                if pod.persistent.is_none() {
                    return Some(bad_request(
                        "the mount kind is fixed at create: this pod has no persistent volume",
                    ));
                }
                pod.persistent = Some((size, path.to_owned()));
            }
            ("network", Value::Array(a)) if a.is_empty() => {
                return Some(bad_request("clearing mounts is not supported"));
            }
            ("network", Value::Array(a)) => {
                let Some((id, _)) = pod.network.clone() else {
                    return Some(bad_request(
                        "the mount kind is fixed at create: this pod has no network volume",
                    ));
                };
                let next = a.first().and_then(|m| {
                    let same = m.get("volumeId").and_then(Value::as_str) == Some(id.as_str());
                    m.get("path")
                        .and_then(Value::as_str)
                        .filter(|_| same && a.len() == 1)
                });
                let Some(path) = next else {
                    return Some(bad_request("a network mount's volumeId is fixed at create"));
                };
                pod.network = Some((id, path.to_owned()));
            }
            _ => return Some(unprocessable(&format!("mounts.{kind}: unknown or invalid"))),
        }
    }
    None
}

/// `GET /v2/pods/{id}/logs`: the backfill now; the handler then keeps the stream open.
fn logs(s: &mut State, i: usize, query: &Query, headers: &HeaderMap) -> Answer {
    let source = match query.get("source") {
        None => None,
        Some("container") => Some(LogSource::Container),
        Some("system") => Some(LogSource::System),
        Some(_) => return unprocessable("source must be container or system"),
    };
    let tail = match query.get("tail").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if n <= 5000 => n,
        Some(_) => return unprocessable("tail must be an integer from 0 to 5000"),
    };
    let pod = &s.pods[i];
    let lines: Vec<&LogLine> = pod
        .logs
        .iter()
        .filter(|l| source.is_none_or(|src| src == l.source))
        .collect();
    // Last-Event-ID, then since, then tail: the spec's order of precedence.
    let last_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let backfill: Vec<&LogLine> = if let Some(id) = last_id {
        let Some(after) = id.rsplit('/').next().and_then(|n| n.parse::<u64>().ok()) else {
            return bad_request("Last-Event-ID is not an id this stream sent");
        };
        lines.into_iter().filter(|l| l.seq > after).collect()
    } else if let Some(since) = query.get("since") {
        let Some(t) = parse_iso(since) else {
            return unprocessable("since must be an RFC 3339 date-time");
        };
        lines.into_iter().filter(|l| l.ts >= t).collect()
    } else {
        let skip = lines.len().saturating_sub(tail);
        lines.into_iter().skip(skip).collect()
    };
    // A comment first, as servers send to open the stream (clients must skip it).
    let mut out = String::from(": trainpod emulator log stream\n\n");
    for l in &backfill {
        out.push_str(&sse_event(l));
    }
    s.follow = Some(Follow {
        pod_id: pod.id.clone(),
        after_seq: pod.logs.last().map_or(0, |l| l.seq),
        source,
    });
    (
        200,
        vec![
            ("content-type", "text/event-stream".to_owned()),
            ("cache-control", "no-cache".to_owned()),
            ("x-accel-buffering", "no".to_owned()),
        ],
        out.into_bytes(),
    )
}

const AVAILABILITY_LEVELS: &[&str] = &["NONE", "LOW", "MEDIUM", "HIGH"];

fn level(name: &str) -> usize {
    AVAILABILITY_LEVELS
        .iter()
        .position(|l| *l == name)
        .unwrap_or(0)
}

/// `GET /v2/catalog/gpus[/{id}]` with the spec's rules: a filter without
/// `include=AVAILABILITY`, `include` without `product`, or both CUDA filters is 400; a malformed
/// value is 422.
fn catalog(s: &State, one: Option<&str>, q: &Query) -> Answer {
    let include = match q.list("include") {
        None => false,
        Some(v) if v == ["AVAILABILITY"] => true,
        Some(_) => return unprocessable("include must be AVAILABILITY"),
    };
    let scoped = [
        "product",
        "count",
        "cloud",
        "countryCodes",
        "cudaVersions",
        "minCudaVersion",
    ];
    if !include {
        if let Some(name) = scoped.iter().find(|n| q.get(n).is_some()) {
            return bad_request(&format!("{name} is valid only with include=AVAILABILITY"));
        }
    } else if q.get("product").is_none() {
        return bad_request("include=AVAILABILITY requires product");
    }
    let products = q.list("product").unwrap_or_default();
    if products
        .iter()
        .any(|p| !matches!(p.as_str(), "POD" | "CLUSTER" | "SERVERLESS"))
    {
        return unprocessable("product must be POD, CLUSTER or SERVERLESS");
    }
    let count = match q.get("count").map(str::parse::<u32>) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => return unprocessable("count must be an integer of at least 1"),
    };
    if q.get("cloud")
        .is_some_and(|c| !matches!(c, "SECURE" | "COMMUNITY"))
    {
        return unprocessable("cloud must be SECURE or COMMUNITY");
    }
    let countries = q.list("countryCodes");
    if countries.as_ref().is_some_and(|cs| {
        cs.iter()
            .any(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
    }) {
        return unprocessable("countryCodes must be ISO 3166-1 alpha-2 codes in upper case");
    }
    let exact = q.list("cudaVersions");
    let min = q.get("minCudaVersion");
    if exact.is_some() && min.is_some() {
        return bad_request("cudaVersions and minCudaVersion are mutually exclusive");
    }
    let version = |v: &str, need_minor: bool| -> Option<(u32, u32)> {
        match v.split_once('.') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None if !need_minor => Some((v.parse().ok()?, 0)),
            None => None,
        }
    };
    if exact
        .as_ref()
        .is_some_and(|vs| vs.iter().any(|v| version(v, true).is_none()))
    {
        return unprocessable("cudaVersions must be major.minor versions such as 12.8");
    }
    let min = match min.map(|m| version(m, false)) {
        None => None,
        Some(Some(v)) => Some(v),
        Some(None) => return unprocessable("minCudaVersion must be such as 12 or 12.1"),
    };
    let cudas: Vec<&str> = CUDA_VERSIONS
        .iter()
        .copied()
        .filter(|v| exact.as_ref().is_none_or(|e| e.iter().any(|x| x == v)))
        .filter(|v| min.is_none_or(|m| version(v, true).is_some_and(|x| x >= m)))
        .collect();
    let dcs: Vec<&DataCenter> = DATA_CENTERS
        .iter()
        .filter(|d| {
            countries
                .as_ref()
                .is_none_or(|cs| cs.iter().any(|c| c == d.country))
        })
        .collect();
    let entries: Vec<&GpuEntry> = match one {
        Some(id) => match CATALOG.iter().find(|g| g.id == id) {
            Some(g) => vec![g],
            None => return problem(404, "Not Found", &format!("GPU type {id} not found")),
        },
        None => CATALOG.iter().collect(),
    };
    let mut gpus = Vec::new();
    for g in entries {
        let mut v = json!({"id": g.id, "name": g.name, "pool": null, "manufacturer": "NVIDIA",
            "memory": g.memory, "secure": true, "community": true,
            "price": {"secure": g.secure, "community": g.community},
            "maxCount": {"secure": 8, "community": 8}});
        if include {
            // The list drops a type with no data center in the requested countries; the
            // single-type endpoint answers with availability NONE instead.
            if dcs.is_empty() && one.is_none() {
                continue;
            }
            let fits = count <= 8 && !cudas.is_empty();
            let per_dc: Vec<Value> = dcs
                .iter()
                .map(|d| {
                    let a = if fits && has_capacity(s, g.id, d.id) {
                        g.availability
                    } else {
                        "NONE"
                    };
                    json!({"id": d.id, "name": d.name, "availability": a})
                })
                .collect();
            let overall = per_dc
                .iter()
                .filter_map(|d| d["availability"].as_str())
                .max_by_key(|a| level(a))
                .unwrap_or("NONE");
            v["availability"] = json!(overall);
            if overall != "NONE" {
                v["dataCenters"] = json!(per_dc);
            }
            v["cudaVersions"] = json!(
                cudas
                    .iter()
                    .map(|c| json!({"version": c, "available": overall != "NONE"}))
                    .collect::<Vec<_>>()
            );
        }
        gpus.push(v);
    }
    match one {
        Some(_) => json_ok(200, &gpus[0]),
        None => json_ok(200, &json!({ "gpus": gpus })),
    }
}
