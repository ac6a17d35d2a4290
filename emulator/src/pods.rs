//! `GET /v2/pods`, `GET/DELETE /v2/pods/{id}`, `POST /v2/pods/{id}/action`, and the pod as v2
//! shows it. A terminated or vanished pod is gone from all of them (404), as on RunPod, and so is
//! another account's pod: the spec's `listPods` "returns pods owned by the authenticated user",
//! and its `NotFoundError` is "not found or is not accessible to the caller", so the two answer
//! alike.
//!
//! A cluster's member pods are read here like any pod, but "cannot be modified or deleted via
//! the pod endpoints" (`Pod.cluster`): PATCH and DELETE answer the 409 the spec gives them
//! ("Pod belongs to a cluster and cannot be … via the pod endpoints"), and so does every action,
//! `terminate` being "equivalent to `deletePod`" (`podAction`) and the others changes to the
//! pod. So a member's `actions` is empty. A member leaves its cluster when the cluster is
//! deleted, when RunPod removes it (a vanish), or through `runpodctl` (see `runpodctl.rs`); the
//! cluster then stays, with one pod fewer.

use serde_json::{Value, json};

use crate::accounts::Caller;
use crate::answer::{Answer, json_ok, problem};
use crate::params::{Query, iso};
use crate::state::{EmuPod, Member, State};

pub(crate) use crate::patch::patch;

fn actions_for(status: &str) -> &'static [&'static str] {
    match status {
        "RUNNING" => &["stop", "restart", "terminate"],
        "EXITED" | "ERROR" => &["start", "terminate"],
        "PROVISIONING" | "STARTING" => &["stop", "terminate"],
        _ => &[],
    }
}

/// The pod as v2 shows it at `now`: `runtime` only while its container runs.
pub(crate) fn pod_json(p: &EmuPod, now: u64) -> Value {
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
    let runtime = p.container_since.map_or(Value::Null, |since| {
        json!({"uptime": now.saturating_sub(since), "gpus": [], "cpu": {"util": 0},
            "memory": {"util": 0}, "ports": []})
    });
    let actions: &[&str] = if p.cluster.is_some() {
        &[]
    } else {
        actions_for(p.status)
    };
    let mut out = json!({
        "id": p.id, "name": p.name, "status": p.status, "actions": actions,
        "image": p.image, "args": p.args, "disk": p.disk, "mounts": mounts, "ports": p.ports,
        "env": p.env, "registry": p.registry, "cloud": p.cloud, "dataCenterId": p.data_center_id,
        "cudaVersion": p.cuda_version,
        "ssh": {"proxy": null, "direct": null},
        "template": null, "cost": cost, "locked": p.locked,
        "runtime": runtime,
        "createdAt": iso(p.created_at), "startedAt": if running { json!(iso(p.status_since)) } else { Value::Null },
        "globalNetworking": {"enabled": p.global_networking},
        "gpu": {"id": p.gpu_id, "count": p.gpu_count},
    });
    // "Cluster membership; omitted from a standalone pod" (`Pod.cluster`).
    if let Some(m) = &p.cluster {
        out["cluster"] = member_json(m);
    }
    out
}

/// Whether the caller sees the pod: its account's, and for a pod-scoped key its own pod only.
pub(crate) fn visible(caller: &Caller, p: &EmuPod) -> bool {
    p.account == caller.account && caller.pod.as_ref().is_none_or(|own| *own == p.id)
}

/// `GET /v2/pods`: the caller's live pods; "Cluster member pods are excluded by default; set
/// `includeClusterPods=true` to include them" (`listPods`).
pub(crate) fn list(s: &State, caller: &Caller, q: &Query) -> Answer {
    if q.get("includeClusterPods")
        .is_some_and(|v| !matches!(v, "true" | "false"))
    {
        return problem(
            422,
            "Unprocessable Entity",
            "includeClusterPods must be true or false",
        );
    }
    let members_too = q.get("includeClusterPods") == Some("true");
    let pods: Vec<Value> = s
        .pods
        .iter()
        .filter(|p| p.status != "TERMINATED")
        .filter(|p| members_too || p.cluster.is_none())
        .filter(|p| visible(caller, p))
        .map(|p| pod_json(p, s.now))
        .collect();
    json_ok(200, &json!({ "pods": pods }))
}

/// Run `f` on the pod `id` when the key may see it and it is not gone; else 403 (a pod-scoped
/// key, another pod) or 404 (no such pod, gone, or another account's).
pub(crate) fn with(
    s: &mut State,
    id: &str,
    caller: &Caller,
    f: impl FnOnce(&mut State, usize) -> Answer,
) -> Answer {
    if caller.pod.as_ref().is_some_and(|own| own != id) {
        return problem(
            403,
            "Forbidden",
            "a pod-scoped key may act only on its own pod",
        );
    }
    let found = s.index(id).filter(|i| {
        let p = &s.pods[*i];
        p.status != "TERMINATED" && p.account == caller.account
    });
    match found {
        Some(i) => f(s, i),
        None => problem(404, "Not Found", &format!("pod {id} not found")),
    }
}

/// Run `f` on pod `i` unless it is a cluster's member: that is the spec's 409 (see above).
pub(crate) fn standalone(
    s: &mut State,
    i: usize,
    f: impl FnOnce(&mut State, usize) -> Answer,
) -> Answer {
    match &s.pods[i].cluster {
        Some(m) => problem(
            409,
            "Conflict",
            &format!(
                "pod {} belongs to cluster {} and cannot be modified or terminated via the pod \
                 endpoints; manage it through /v2/clusters/{}",
                s.pods[i].id, m.cluster_id, m.cluster_id
            ),
        ),
        None => f(s, i),
    }
}

pub(crate) fn get(s: &mut State, i: usize) -> Answer {
    json_ok(200, &pod_json(&s.pods[i], s.now))
}

pub(crate) fn delete(s: &mut State, i: usize) -> Answer {
    s.set_status(i, "TERMINATED");
    (204, vec![], vec![])
}

/// `POST /v2/pods/{id}/action`: 409 for an action the status does not allow.
pub(crate) fn action(s: &mut State, i: usize, body: &[u8]) -> Answer {
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
    let status = s.pods[i].status;
    if !actions_for(status).contains(&action.as_str()) {
        return problem(
            409,
            "Conflict",
            &format!("cannot {action} a pod in status {status}"),
        );
    }
    apply_action(s, i, &action);
    match s.pods[i].status {
        "TERMINATED" => (204, vec![], vec![]),
        _ => json_ok(200, &pod_json(&s.pods[i], s.now)),
    }
}

/// The effect of an allowed action (also what runpodctl's stop and remove do).
pub(crate) fn apply_action(s: &mut State, i: usize, action: &str) {
    if matches!(action, "start" | "restart") {
        s.pods[i].starts += 1;
    }
    let next = match action {
        "start" | "restart" => "STARTING",
        "stop" => "EXITED",
        _ => "TERMINATED",
    };
    s.set_status(i, next);
}

/// A member's `cluster` block on the pod (`PodCluster`): `role` only on SLURM and RAY clusters.
fn member_json(m: &Member) -> Value {
    let mut out = json!({"id": m.cluster_id, "rank": m.rank, "ip": m.ip});
    if let Some(role) = m.role {
        out["role"] = json!(role);
    }
    out
}
