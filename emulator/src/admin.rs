//! The test-control endpoints under `/_emulator/` (not part of RunPod's API, not recorded, no
//! key: the emulator listens on loopback only). They let tests in other languages do what Rust
//! tests do through the handle:
//!
//! - `POST faults` (the JSON form of [`crate::Faults`], `profile` included),
//! - `POST advance` `{"secs": N}`,
//! - `POST pods/{id}/logs` `{"line", "source"}`,
//! - `POST pods/{id}/vanish` `{"cause": "console" | "host" | "balance"}`,
//! - `GET pods/{id}`: account, status, CUDA, whether it vanished and why, whether its container
//!   runs and what it waits for, whether it is held in PROVISIONING, its cluster and rank,
//!   restarts and, for pods that run locally, workspace, log file and pid,
//! - `GET clusters/{id}`: account, whether it was deleted, its member pods by rank (gone ones
//!   included), and the variables RunPod sets on its members but `NODE_ADDR` and `NODE_RANK`
//!   (`env`),
//! - `GET requests` (with the account that made each), `GET runpodctl` (the pods' runpodctl
//!   calls),
//! - `POST accounts` `{"account", "key", "permission"}`: adds an account or a key of one
//!   (`key` left out: a fresh one; `permission` `all` by default, `read_only` or `none`), or
//!   changes the permission of a key the account holds; answers `{"account", "key",
//!   "permission"}`; 400 for an invalid id, key or permission or an unknown field, 409 for a key
//!   of another account or of a pod,
//! - `GET accounts`: `{"accounts": [{"account", "keys": [{"key", "permission"}]}]}`,
//! - `DELETE keys/{key}`: revokes a key (an account's or a pod's), which v2 then answers 401;
//!   answers `{"revoked": key, "account"}`, 404 for an unknown key,
//! - `POST runpodctl`: what the pods' `runpodctl` stand-in calls (with a key; see
//!   [`crate::runpodctl`]).

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::accounts::{AccountKey, Permission};
use crate::faults::{VanishCause, set_faults};
use crate::params::decode;
use crate::shared::Shared;
use crate::state::{EmuCluster, EmuPod, State};
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
        ("GET", ["clusters", id]) => match s.cluster_index(id) {
            Some(c) => (200, cluster_record(&s, &s.clusters[c])),
            None => error(404, &format!("no cluster {id}")),
        },
        ("POST", ["accounts"]) => add_key(&mut s, &req),
        ("GET", ["accounts"]) => {
            let list: Vec<Value> = s
                .accounts
                .list()
                .into_iter()
                .map(|(account, keys)| {
                    let keys: Vec<Value> = keys
                        .iter()
                        .map(|k| json!({"key": k.key, "permission": k.permission.as_str()}))
                        .collect();
                    json!({"account": account, "keys": keys})
                })
                .collect();
            (200, json!({ "accounts": list }))
        }
        ("DELETE", ["keys", key]) => {
            let account = s.accounts.revoke(key);
            let pod_key = account.is_none() && s.pod_keys.remove(*key).is_some();
            match (account, pod_key) {
                (Some(account), _) => (200, json!({"revoked": key, "account": account})),
                (None, true) => (200, json!({"revoked": key, "account": null})),
                (None, false) => error(404, &format!("no key {key}")),
            }
        }
        ("GET", ["requests"]) => {
            let list: Vec<Value> = s
                .log
                .iter()
                .map(|r| {
                    json!({"method": r.method, "uri": r.uri, "status": r.status,
                        "account": r.account})
                })
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

/// `POST accounts`: adds a key to an account (see the module's docs).
fn add_key(s: &mut State, req: &Value) -> (u16, Value) {
    let Some(fields) = req.as_object() else {
        return error(400, "the body must be a JSON object");
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "account" | "key" | "permission"))
    {
        return error(
            400,
            &format!("unknown field {unknown:?} (account, key, permission)"),
        );
    }
    let text = |name: &str| match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(v)) => Ok(Some(v.clone())),
        Some(_) => Err(format!("{name} must be a string")),
    };
    let (account, key, permission) = match (text("account"), text("key"), text("permission")) {
        (Ok(Some(a)), Ok(k), Ok(p)) => (a, k, p),
        (Ok(None), _, _) => return error(400, "account (a string) is required"),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return error(400, &e),
    };
    let permission = match permission.as_deref().map(Permission::parse) {
        None => Permission::All,
        Some(Some(p)) => p,
        Some(None) => return error(400, "permission must be all, read_only or none"),
    };
    let key = key.unwrap_or_else(|| s.accounts.fresh_key(&account, &s.pod_keys));
    let k = AccountKey {
        account,
        key,
        permission,
    };
    if let Err(e) =
        crate::accounts::check_account(&k.account).and_then(|()| crate::accounts::check_key(&k.key))
    {
        return error(400, &e);
    }
    let taken = s.pod_keys.contains_key(&k.key);
    match s.accounts.add(&k, taken) {
        Ok(()) => (
            200,
            json!({"account": k.account, "key": k.key, "permission": permission.as_str()}),
        ),
        Err(e) => error(409, &e),
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
        "id": p.id, "account": p.account, "status": p.status, "cudaVersion": p.cuda_version,
        "vanished": p.vanished.map(VanishCause::as_str),
        "containerRunning": p.container_since.is_some(),
        "waitingFor": p.waits.waiting_for(),
        "stuckProvisioning": p.stuck_provisioning,
        "cluster": p.cluster.as_ref().map(|m| json!({"id": m.cluster_id, "rank": m.rank})),
        "restarts": p.restarts, "pid": p.pid,
        "workspace": p.workspace.as_ref().map(|w| w.display().to_string()),
        "logFile": p.workspace.as_ref()
            .map(|w| w.join(runner::LOG_FILE).display().to_string()),
    })
}

fn cluster_record(s: &State, c: &EmuCluster) -> Value {
    // The variables every member shares: those of the primary, less its own address and rank.
    let primary = c.members.first().and_then(|id| s.index(id));
    let env: serde_json::Map<String, Value> = primary
        .map(|i| crate::clusters::injected_env(s, &s.pods[i]))
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "NODE_ADDR" | "NODE_RANK"))
        .map(|(k, v)| (k, Value::from(v)))
        .collect();
    json!({"id": c.id, "account": c.account, "deleted": c.deleted, "pods": c.members,
        "env": env})
}
