//! A RunPod REST v2 emulator on loopback, for tests in Rust, Python and Node.
//!
//! It implements the subset trainpod uses: `GET/POST /v2/pods`, `GET/DELETE /v2/pods/{id}`,
//! `POST /v2/pods/{id}/action`, `GET /v2/pods/{id}/logs` (SSE), `GET /v2/catalog/gpus` and
//! `GET /v2/billing/pods`. Time is a manual clock ([`Emulator::advance`]): pods move
//! PROVISIONING → STARTING (1 s) → RUNNING (3 s), and billing accrues per second at the pod's
//! price while it is not EXITED or TERMINATED. Faults are set per test through [`Emulator::faults`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

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
    /// GPU type ids that answer "no capacity" on create.
    pub no_capacity: HashSet<String>,
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

#[derive(Debug, Clone)]
struct EmuPod {
    id: String,
    name: String,
    status: &'static str,
    image: String,
    gpu_id: String,
    gpu_count: u32,
    price_per_gpu_hour: f64,
    status_since: u64,
    created_at: u64,
    billed_secs: u64,
    logs: Vec<String>,
}

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
    pods: Vec<EmuPod>,
    pod_keys: HashMap<String, String>,
    faults: Faults,
    log: Vec<RecordedRequest>,
}

/// A running emulator. Dropping it (or [`Emulator::stop`]) stops the server.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Emulator {
    /// Start on 127.0.0.1 on a free port, on the caller's tokio runtime.
    pub async fn start() -> std::io::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            now: 1_700_000_000,
            ..State::default()
        }));
        let shared = state.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(&state, method, uri, headers, body).await }
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
        Ok(Emulator {
            addr,
            state,
            stop: Some(tx),
        })
    }

    /// The base URL to give the client, ending in `/v2`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    /// Stop serving.
    pub fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Change the faults for the next requests.
    pub fn faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut lock(&self.state).faults);
    }

    /// Issue a pod-scoped key that may act only on `pod_id`.
    pub fn pod_key(&self, pod_id: &str) -> String {
        let key = format!("rpa_pod_{pod_id}");
        lock(&self.state)
            .pod_keys
            .insert(key.clone(), pod_id.to_owned());
        key
    }

    /// Move the emulator's clock forward: pods change status and accrue billing.
    pub fn advance(&self, secs: u64) {
        let mut s = lock(&self.state);
        for _ in 0..secs {
            s.now += 1;
            let now = s.now;
            for pod in &mut s.pods {
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
                    pod.logs.push(format!("status {next}"));
                }
            }
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).log.clone()
    }

    /// Number of pods ever created (terminated ones included).
    pub fn pod_count(&self) -> usize {
        lock(&self.state).pods.len()
    }

    /// The status of a pod.
    pub fn pod_status(&self, pod_id: &str) -> Option<&'static str> {
        lock(&self.state)
            .pods
            .iter()
            .find(|p| p.id == pod_id)
            .map(|p| p.status)
    }

    /// Append a line to a pod's container log.
    pub fn push_log(&self, pod_id: &str, line: &str) {
        if let Some(p) = lock(&self.state).pods.iter_mut().find(|p| p.id == pod_id) {
            p.logs.push(line.to_owned());
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
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

fn iso(secs: u64) -> String {
    // Days-from-civil, so the emulator needs no date crate.
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
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
    json!({
        "id": p.id, "name": p.name, "status": p.status, "actions": actions_for(p.status),
        "image": p.image, "args": "", "disk": 20, "mounts": {}, "ports": [], "env": {},
        "registry": null, "cloud": "SECURE", "dataCenterId": "US-TX-3",
        "cudaVersion": "12.8",
        "ssh": {"proxy": null, "direct": null},
        "template": null, "cost": cost, "locked": false,
        "runtime": if running { json!({"uptime": 0, "gpus": [], "cpu": {"util": 0}, "memory": {"util": 0}, "ports": []}) } else { Value::Null },
        "createdAt": iso(p.created_at), "startedAt": if running { json!(iso(p.status_since)) } else { Value::Null },
        "globalNetworking": {"enabled": false},
        "gpu": {"id": p.gpu_id, "count": p.gpu_count},
    })
}

async fn handle(
    state: &Arc<Mutex<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let latency = lock(state).faults.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (status, extra, out) = {
        let mut s = lock(state);
        let (status, extra, out) = route(&mut s, &method, &uri, &headers, &body);
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
        (status, extra, out)
    };
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        out,
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert("x-request-id", HeaderValue::from_static("emu-req"));
    for (name, value) in extra {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    if status == 204 {
        h.remove(header::CONTENT_TYPE);
    }
    resp
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
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let query = uri.query().unwrap_or("");
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["pods"]) => {
            let pods: Vec<Value> = s
                .pods
                .iter()
                .filter(|p| p.status != "TERMINATED")
                .filter(|p| scope.as_ref().is_none_or(|own| *own == p.id))
                .map(pod_json)
                .collect();
            json_ok(200, &json!({ "pods": pods }))
        }
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
            Ok(i) => {
                let ts = iso(s.now);
                let mut out = String::new();
                for (n, line) in s.pods[i].logs.iter().enumerate() {
                    let ev = json!({"source": "container", "line": line, "ts": ts});
                    out.push_str(&format!("id: {n}\nevent: log\ndata: {ev}\n\n"));
                }
                (
                    200,
                    vec![("content-type", "text/event-stream".to_owned())],
                    out.into_bytes(),
                )
            }
            Err(a) => a,
        },
        ("GET", ["catalog", "gpus"]) => {
            let with_availability = query.contains("include=AVAILABILITY");
            let gpus: Vec<Value> = CATALOG
                .iter()
                .map(|g| {
                    let available = if s.faults.no_capacity.contains(g.id) { "NONE" } else { g.availability };
                    let mut v = json!({"id": g.id, "name": g.name, "pool": null, "manufacturer": "NVIDIA",
                        "memory": g.memory, "secure": true, "community": true,
                        "price": {"secure": g.secure, "community": g.community},
                        "maxCount": {"secure": 8, "community": 8}});
                    if with_availability {
                        v["availability"] = json!(available);
                        v["dataCenters"] = json!([{"id": "US-TX-3", "name": "Texas", "availability": available}]);
                    }
                    v
                })
                .collect();
            json_ok(200, &json!({ "gpus": gpus }))
        }
        ("GET", ["billing", "pods"]) => {
            let wanted = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("podId="))
                .map(str::to_owned);
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

fn create(s: &mut State, body: &[u8]) -> Answer {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return problem(400, "Bad Request", "body is not JSON");
    };
    let Some(name) = req
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return problem(400, "Bad Request", "name is required");
    };
    let Some(image) = req.get("image").and_then(Value::as_str) else {
        return problem(
            400,
            "Bad Request",
            "image is required unless templateId is set",
        );
    };
    let Some(gpu_id) = req.pointer("/gpu/id").and_then(Value::as_str) else {
        return problem(400, "Bad Request", "exactly one of gpu or cpu must be set");
    };
    let count = req
        .pointer("/gpu/count")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let Some(entry) = CATALOG.iter().find(|g| g.id == gpu_id) else {
        return problem(400, "Bad Request", &format!("unknown GPU type {gpu_id}"));
    };
    if !(1..=8).contains(&count) {
        return problem(400, "Bad Request", "gpu.count must be 1 to 8");
    }
    if s.faults.no_capacity.contains(gpu_id) {
        return problem(
            400,
            "Bad Request",
            "There are no longer any instances available with the requested specifications",
        );
    }
    s.next_id += 1;
    let pod = EmuPod {
        id: pod_id(),
        name: name.to_owned(),
        status: "PROVISIONING",
        image: image.to_owned(),
        gpu_id: gpu_id.to_owned(),
        gpu_count: u32::try_from(count).unwrap_or(1),
        price_per_gpu_hour: if req.get("cloud").and_then(Value::as_str) == Some("COMMUNITY") {
            entry.community
        } else {
            entry.secure
        },
        status_since: s.now,
        created_at: s.now,
        billed_secs: 0,
        logs: vec!["status PROVISIONING".to_owned()],
    };
    let out = pod_json(&pod);
    s.pods.push(pod);
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
