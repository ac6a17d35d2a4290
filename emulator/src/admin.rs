//! The test-control endpoints under `/_emulator/` (not part of RunPod's API, not recorded, no
//! key: the emulator listens on loopback only). They let tests in other languages do what Rust
//! tests do through the handle:
//!
//! - `POST faults` (the JSON form of [`crate::Faults`], `profile` included),
//! - `POST advance` `{"secs": N}`,
//! - `POST pods/{id}/logs` `{"line", "source"}`,
//! - `POST pods/{id}/vanish` `{"cause": "console" | "host" | "balance"}`,
//! - `GET pods/{id}`: status, CUDA, whether it vanished and why, whether its container runs and
//!   what it waits for, restarts and, for pods that run locally, workspace, log file and pid,
//! - `GET requests`, `GET runpodctl` (the pods' runpodctl calls),
//! - `POST runpodctl`: what the pods' `runpodctl` stand-in calls (with a key; see
//!   [`crate::runpodctl`]).

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::faults::{VanishCause, set_faults};
use crate::params::decode;
use crate::shared::Shared;
use crate::state::{EmuPod, State};
use crate::{LogSource, runner, runpodctl};

pub(crate) fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if method == Method::POST && path == "runpodctl" {
        return runpodctl::handle(shared, headers, body);
    }
    let (status, out) = control(shared, method, path, body);
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "application/json")],
        out.to_string(),
    )
        .into_response()
}

fn control(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> (u16, Value) {
    let req: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return error(400, &format!("body is not JSON: {e}")),
        }
    };
    let segs: Vec<String> = path.split('/').map(|p| decode(p, false)).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    if let ("POST", ["advance"]) = (method.as_str(), segs.as_slice()) {
        return advance(shared, &req);
    }
    let mut s = shared.lock();
    match (method.as_str(), segs.as_slice()) {
        ("POST", ["faults"]) => match set_faults(&mut s.faults, &req) {
            Ok(()) => (200, json!({})),
            Err(e) => error(400, &e),
        },
        ("POST", ["pods", id, "logs"]) => push_log(&mut s, id, &req),
        ("POST", ["pods", id, "vanish"]) => vanish(&mut s, id, &req),
        ("GET", ["pods", id]) => match s.index(id) {
            Some(i) => (200, pod_record(&s.pods[i])),
            None => error(404, &format!("no pod {id}")),
        },
        ("GET", ["requests"]) => {
            let list: Vec<Value> = s
                .log
                .iter()
                .map(|r| json!({"method": r.method, "uri": r.uri, "status": r.status}))
                .collect();
            (200, json!({ "requests": list }))
        }
        ("GET", ["runpodctl"]) => {
            let calls: Vec<Value> = s.runpodctl.iter().map(runpodctl::call_json).collect();
            (200, json!({ "calls": calls }))
        }
        _ => error(404, "no such emulator control endpoint"),
    }
}

fn error(status: u16, message: &str) -> (u16, Value) {
    (status, json!({ "error": message }))
}

fn advance(shared: &Shared, req: &Value) -> (u16, Value) {
    match req.get("secs").and_then(Value::as_u64) {
        Some(secs) if secs <= 30 * 86_400 => (200, json!({"now": shared.advance(secs)})),
        _ => error(400, "secs must be 0 to 2592000"),
    }
}

fn push_log(s: &mut State, id: &str, req: &Value) -> (u16, Value) {
    let source = match req.get("source").and_then(Value::as_str) {
        None | Some("container") => LogSource::Container,
        Some("system") => LogSource::System,
        Some(_) => return error(400, "source must be container or system"),
    };
    let Some(line) = req.get("line").and_then(Value::as_str) else {
        return error(400, "line (a string) is required");
    };
    match s.index(id) {
        Some(i) => {
            s.push_log(i, source, line.to_owned());
            (200, json!({}))
        }
        None => error(404, &format!("no pod {id}")),
    }
}

fn vanish(s: &mut State, id: &str, req: &Value) -> (u16, Value) {
    let cause = match req.get("cause") {
        None => VanishCause::Console,
        Some(c) => match c.as_str().and_then(VanishCause::parse) {
            Some(cause) => cause,
            None => return error(400, "cause must be console, host or balance"),
        },
    };
    match s.index(id).filter(|i| s.pods[*i].status != "TERMINATED") {
        Some(i) => {
            s.vanish(i, cause);
            (200, pod_record(&s.pods[i]))
        }
        None => error(404, &format!("no live pod {id}")),
    }
}

fn pod_record(p: &EmuPod) -> Value {
    json!({
        "id": p.id, "status": p.status, "cudaVersion": p.cuda_version,
        "vanished": p.vanished.map(VanishCause::as_str),
        "containerRunning": p.container_since.is_some(),
        "waitingFor": p.waits.waiting_for(),
        "restarts": p.restarts, "pid": p.pid,
        "workspace": p.workspace.as_ref().map(|w| w.display().to_string()),
        "logFile": p.workspace.as_ref()
            .map(|w| w.join(runner::LOG_FILE).display().to_string()),
    })
}
