//! The RunPod client against an in-process fake of the v2 API (stateful, with fault injection).

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use trainpod::ErrorKind;
use trainpod::clock::{CounterRandom, ManualClock};
use trainpod::runpod::{
    ApiKey, Client, CreatePodRequest, GpuCandidate, GpuRequest, HttpRequest, HttpResponse,
    HttpSend, Method, PodAction, RetryPolicy, Sleeper, TransportError, job_pod_name,
};

const ACCOUNT_KEY: &str = "rpa_ACCOUNTSECRET";

#[derive(Debug, Default)]
struct State {
    pods: Vec<Value>,
    /// Pod-scoped keys: key -> pod id.
    pod_keys: Vec<(String, String)>,
    no_capacity: HashSet<String>,
    /// Answer the next create with 500 after creating the pod.
    fail_after_create: bool,
    /// Queue of 429s (Retry-After seconds) for the next requests.
    rate_limits: VecDeque<u64>,
    log: Vec<HttpRequest>,
}

#[derive(Debug, Default)]
struct Fake {
    state: Mutex<State>,
}

fn problem(status: u16, title: &str, detail: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![
            ("content-type".into(), "application/problem+json".into()),
            ("x-request-id".into(), format!("req-{status}")),
        ],
        body: serde_json::to_vec(&json!({"title": title, "status": status, "detail": detail}))
            .unwrap_or_default(),
    }
}

fn ok(status: u16, body: &Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::to_vec(body).unwrap_or_default(),
    }
}

#[async_trait]
impl HttpSend for Fake {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.log.push(req.clone());
        let key = req
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("")
            .to_owned();
        let scope = if key == ACCOUNT_KEY {
            None
        } else if let Some((_, pod)) = s.pod_keys.iter().find(|(k, _)| *k == key) {
            Some(pod.clone())
        } else {
            return Ok(problem(401, "Unauthorized", "invalid api key"));
        };
        if let Some(secs) = s.rate_limits.pop_front() {
            let mut r = problem(
                429,
                "Too Many Requests",
                "rate limit exceeded for the minute window",
            );
            r.headers.push(("retry-after".into(), secs.to_string()));
            return Ok(r);
        }
        let path = req
            .url
            .strip_prefix("http://127.0.0.1:1/v2")
            .unwrap_or("")
            .to_owned();
        match (req.method, path.as_str()) {
            (Method::Get, "/pods") => Ok(ok(200, &json!({ "pods": s.pods }))),
            (Method::Post, "/pods") => {
                let body: Value = serde_json::from_slice(req.body.as_deref().unwrap_or(b"{}"))
                    .unwrap_or(Value::Null);
                let gpu = body["gpu"]["id"].as_str().unwrap_or("").to_owned();
                if s.no_capacity.contains(&gpu) {
                    return Ok(problem(
                        400,
                        "Bad Request",
                        "There are no longer any instances available with the requested specifications",
                    ));
                }
                let id = format!("pod{}", s.pods.len() + 1);
                let pod = json!({"id": id, "name": body["name"], "status": "PROVISIONING",
                    "actions": ["stop", "terminate"], "image": body["image"],
                    "gpu": {"id": gpu, "count": body["gpu"]["count"]}, "cost": "0.69"});
                s.pods.push(pod.clone());
                if std::mem::take(&mut s.fail_after_create) {
                    return Ok(problem(
                        500,
                        "Internal Server Error",
                        "create pod: read back failed",
                    ));
                }
                Ok(ok(201, &pod))
            }
            (Method::Post, p) if p.ends_with("/action") => {
                let id = p
                    .trim_start_matches("/pods/")
                    .trim_end_matches("/action")
                    .to_owned();
                if scope.as_ref().is_some_and(|own| *own != id) {
                    return Ok(problem(
                        403,
                        "Forbidden",
                        "pod key may act only on its own pod",
                    ));
                }
                let Some(pod) = s.pods.iter_mut().find(|p| p["id"] == id.as_str()) else {
                    return Ok(problem(404, "Not Found", "pod not found"));
                };
                pod["status"] = json!("TERMINATED");
                Ok(HttpResponse {
                    status: 204,
                    ..HttpResponse::default()
                })
            }
            _ => Ok(problem(404, "Not Found", "no route")),
        }
    }
}

#[derive(Debug, Default)]
struct RecordingSleeper {
    waits: Mutex<Vec<Duration>>,
    clock: Option<Arc<ManualClock>>,
}

#[async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, d: Duration) {
        self.waits.lock().unwrap_or_else(|e| e.into_inner()).push(d);
        if let Some(c) = &self.clock {
            c.advance(d.as_secs());
        }
    }
}

struct Env {
    fake: Arc<Fake>,
    sleeper: Arc<RecordingSleeper>,
}

impl Env {
    fn new() -> Self {
        let clock = Arc::new(ManualClock::new(1_000));
        Env {
            fake: Arc::new(Fake::default()),
            sleeper: Arc::new(RecordingSleeper {
                waits: Mutex::default(),
                clock: Some(clock),
            }),
        }
    }

    fn client(&self, key: &str) -> Client {
        let clock = self.sleeper.clock.clone().unwrap_or_default();
        Client::builder(
            ApiKey::new(key).unwrap_or_else(|e| panic!("{e}")),
            self.fake.clone(),
        )
        .base_url("http://127.0.0.1:1/v2")
        .clock(clock)
        .random(Arc::new(CounterRandom::default()))
        .sleeper(self.sleeper.clone())
        .retry_policy(RetryPolicy::new(
            4,
            Duration::from_secs(1),
            Duration::from_secs(8),
            Duration::from_secs(60),
        ))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.fake.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn waits(&self) -> Vec<Duration> {
        self.sleeper
            .waits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn request(job: &str, gpu: &str) -> CreatePodRequest {
    CreatePodRequest {
        name: job_pod_name(job).unwrap_or_else(|e| panic!("{e}")),
        image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
        gpu: Some(GpuRequest {
            id: gpu.into(),
            count: 1,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    }
}

fn candidate(gpu: &str) -> GpuCandidate {
    GpuCandidate {
        gpu_id: gpu.into(),
        count: 1,
        data_center_ids: vec![],
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn create_that_fails_with_5xx_after_creating_adopts_the_single_pod() {
    let env = Env::new();
    env.state().fail_after_create = true;
    let out = rt()
        .block_on(
            env.client(ACCOUNT_KEY)
                .create_pod(&request("j1", "NVIDIA A40"), &[]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.adopted);
    assert_eq!(out.pod.name, "trainpod-j1");
    let s = env.state();
    assert_eq!(s.pods.len(), 1, "exactly one pod");
    let creates = s.log.iter().filter(|r| r.method == Method::Post).count();
    assert_eq!(creates, 1, "create was not sent twice");
}

#[test]
fn rate_limit_waits_for_retry_after() {
    let env = Env::new();
    env.state().rate_limits.push_back(7);
    let pods = rt()
        .block_on(env.client(ACCOUNT_KEY).list_pods())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(pods.is_empty());
    assert_eq!(env.waits(), vec![Duration::from_secs(7)]);
    assert_eq!(env.state().log.len(), 2);
}

#[test]
fn rate_limit_beyond_the_total_budget_gives_up_with_retry_after() {
    let env = Env::new();
    env.state().rate_limits.push_back(600);
    let err = rt()
        .block_on(env.client(ACCOUNT_KEY).list_pods())
        .err()
        .unwrap_or_else(|| panic!("succeeded"));
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after_secs(), Some(600));
    assert!(env.waits().is_empty());
}

#[test]
fn create_on_429_waits_then_creates_once() {
    let env = Env::new();
    env.state().rate_limits.push_back(3);
    let out = rt()
        .block_on(env.client(ACCOUNT_KEY).create_pod(&request("j2", "A"), &[]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.adopted);
    assert_eq!(env.waits(), vec![Duration::from_secs(3)]);
    assert_eq!(env.state().pods.len(), 1);
}

#[test]
fn capacity_on_the_first_gpu_falls_through_to_the_second() {
    let env = Env::new();
    env.state()
        .no_capacity
        .insert("NVIDIA H100 80GB HBM3".into());
    let out = rt()
        .block_on(env.client(ACCOUNT_KEY).create_pod(
            &request("j3", "unused"),
            &[
                candidate("NVIDIA H100 80GB HBM3"),
                candidate("NVIDIA A100 80GB PCIe"),
            ],
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.candidate, 1);
    assert_eq!(
        out.pod.gpu.map(|g| g.id),
        Some("NVIDIA A100 80GB PCIe".to_owned())
    );
    assert!(env.waits().is_empty(), "capacity moves on without waiting");
}

#[test]
fn when_every_candidate_lacks_capacity_the_error_lists_each() {
    let env = Env::new();
    env.state()
        .no_capacity
        .extend(["A".to_owned(), "B".to_owned()]);
    let err = rt()
        .block_on(
            env.client(ACCOUNT_KEY)
                .create_pod(&request("j4", "A"), &[candidate("A"), candidate("B")]),
        )
        .err()
        .unwrap_or_else(|| panic!("succeeded"));
    assert_eq!(err.kind(), ErrorKind::CapacityUnavailable);
    assert!(
        err.message()
            .contains("1. A x1 in any data center: no capacity"),
        "{err}"
    );
    assert!(
        err.message()
            .contains("2. B x1 in any data center: no capacity"),
        "{err}"
    );
    assert!(env.state().pods.is_empty());
}

#[test]
fn invalid_key_gives_auth_invalid_with_its_fix_and_no_secret() {
    let env = Env::new();
    let err = rt()
        .block_on(env.client("rpa_WRONGSECRET").list_pods())
        .err()
        .unwrap_or_else(|| panic!("succeeded"));
    assert_eq!(err.kind(), ErrorKind::AuthInvalid);
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.request_id(), Some("req-401"));
    assert!(err.message().contains("RUNPOD_API_KEY"));
    assert!(err.message().contains("runpod.io/console/user/settings"));
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("WRONGSECRET"));
    }
    assert_eq!(env.state().log.len(), 1, "401 is not retried");
}

#[test]
fn a_pod_key_cannot_terminate_another_pod() {
    let env = Env::new();
    let account = env.client(ACCOUNT_KEY);
    let rt = rt();
    let a = rt
        .block_on(account.create_pod(&request("a", "A"), &[]))
        .unwrap_or_else(|e| panic!("{e}"));
    let b = rt
        .block_on(account.create_pod(&request("b", "A"), &[]))
        .unwrap_or_else(|e| panic!("{e}"));
    env.state()
        .pod_keys
        .push(("rpa_PODKEYA".into(), a.pod.id.clone()));
    let pod_client = env.client("rpa_PODKEYA");
    let err = rt
        .block_on(pod_client.terminate_pod(&b.pod.id))
        .err()
        .unwrap_or_else(|| panic!("terminated another pod"));
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    rt.block_on(pod_client.terminate_pod(&a.pod.id))
        .unwrap_or_else(|e| panic!("{e}"));
    let s = env.state();
    assert_eq!(s.pods[0]["status"], "TERMINATED");
    assert_eq!(s.pods[1]["status"], "PROVISIONING");
}

#[test]
fn invalid_input_costs_no_round_trip() {
    let env = Env::new();
    let mut req = request("j5", "A");
    req.env.insert("lower-case".into(), "x".into());
    let err = rt()
        .block_on(
            env.client(ACCOUNT_KEY)
                .create_pod(&req, &[candidate("A"), candidate("B")]),
        )
        .err()
        .unwrap_or_else(|| panic!("succeeded"));
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = rt()
        .block_on(env.client(ACCOUNT_KEY).create_pod(
            &request("j6", "A"),
            &[GpuCandidate {
                count: 9,
                ..candidate("A")
            }],
        ))
        .err()
        .unwrap_or_else(|| panic!("succeeded"));
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = rt()
        .block_on(env.client(ACCOUNT_KEY).pod_action("../x", PodAction::Stop))
        .err()
        .unwrap_or_else(|| panic!("succeeded"));
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(env.state().log.is_empty());
}

#[test]
fn requests_carry_bearer_user_agent_and_redacted_debug() {
    let env = Env::new();
    let client = env.client(ACCOUNT_KEY);
    rt().block_on(client.list_pods())
        .unwrap_or_else(|e| panic!("{e}"));
    let s = env.state();
    let req = &s.log[0];
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {ACCOUNT_KEY}").as_str())
    );
    assert_eq!(
        req.header("user-agent"),
        Some(format!("trainpod/{}", trainpod::VERSION).as_str())
    );
    assert!(!format!("{req:?}").contains("ACCOUNTSECRET"));
    assert!(!format!("{client:?}").contains("ACCOUNTSECRET"));
}

#[test]
fn server_errors_are_retried_with_bounded_backoff() {
    let env = Env::new();
    // Four 429s without Retry-After value semantics: use a sender that always fails instead.
    #[derive(Debug)]
    struct Down;
    #[async_trait]
    impl HttpSend for Down {
        async fn send(&self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
            Err(TransportError {
                timed_out: false,
                message: "connection refused".into(),
            })
        }
    }
    let client = Client::builder(
        ApiKey::new(ACCOUNT_KEY).unwrap_or_else(|e| panic!("{e}")),
        Arc::new(Down),
    )
    .sleeper(env.sleeper.clone())
    .random(Arc::new(CounterRandom::default()))
    .retry_policy(RetryPolicy::new(
        4,
        Duration::from_secs(1),
        Duration::from_secs(8),
        Duration::from_secs(60),
    ))
    .build()
    .unwrap_or_else(|e| panic!("{e}"));
    let err = rt()
        .block_on(client.gpu_catalog())
        .err()
        .unwrap_or_else(|| panic!("succeeded"));
    assert_eq!(err.kind(), ErrorKind::Transport);
    let waits = env.waits();
    assert_eq!(waits.len(), 3, "4 attempts, 3 waits");
    for (w, step) in waits.iter().zip([1u64, 2, 4]) {
        assert!(
            *w >= Duration::from_millis(step * 500) && *w <= Duration::from_secs(step),
            "{waits:?}"
        );
    }
}
