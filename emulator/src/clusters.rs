//! `GET /v2/clusters`, `GET/PATCH/DELETE /v2/clusters/{id}`, `GET /v2/clusters/{id}/pods`, the
//! cluster as v2 shows it (`Cluster`), a member's `PodCluster` block, and the environment
//! RunPod injects into every member.
//!
//! As for pods, a cluster belongs to the account whose key created it: `listClusters` "returns
//! all clusters owned by the authenticated user", and another account's cluster answers the
//! same 404 as a missing one (`NotFoundError`: "not found or is not accessible to the caller").
//! A deleted cluster is gone from all of them ("Permanently deletes a cluster"), its billing
//! kept. A cluster whose members all went stays, with no pods: the spec does not say RunPod
//! removes it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::accounts::Caller;
use crate::answer::{Answer, bad_request, json_ok, problem};
use crate::params::iso;
use crate::pods::pod_json;
use crate::state::{EmuCluster, EmuPod, State};
use crate::validate;

/// A pod-scoped key is "limited in scope to only the pod" (runpod-api §2.1): a cluster spans
/// other pods, so every cluster route answers it 403 (inferred; the docs say nothing of
/// clusters and pod keys).
pub(crate) fn refused_pod_key(caller: &Caller) -> Option<Answer> {
    caller.pod.is_some().then(|| {
        problem(
            403,
            "Forbidden",
            "a pod-scoped key may act only on its own pod, not on clusters",
        )
    })
}

/// The cluster's members that are not gone (terminated or vanished), by rank.
fn live_members<'a>(s: &'a State, c: &EmuCluster) -> Vec<&'a EmuPod> {
    c.members
        .iter()
        .filter_map(|id| s.index(id).map(|i| &s.pods[i]))
        .filter(|p| p.status != "TERMINATED")
        .collect()
}

/// The cluster as v2 shows it (`Cluster`). `pods` counts the members "currently provisioned"
/// (`ClusterPodsSummary.total`), so a member that went is no longer counted, and `primary` is
/// rank 0 while it is there ("omitted until a primary pod is placed"; RunPod does not elect
/// another: `NODE_RANK` is fixed in each member's environment). `network` has only its
/// `cidr` (`vxlanId` and `vxlanPort` are "omitted until assigned"), `primary` no
/// `sshEndpoint` (the emulator's pods expose no SSH), and there is no `template`.
pub(crate) fn cluster_json(s: &State, c: &EmuCluster) -> Value {
    let members = live_members(s, c);
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    for p in &members {
        *by_status.entry(p.status).or_default() += 1;
    }
    let mut out = json!({
        "id": c.id, "name": c.name, "type": c.kind,
        "compute": {"gpuTypeId": c.gpu_type_id, "gpuCountPerPod": c.gpu_count_per_pod,
            "podCount": c.pod_count},
        "dataCenterId": c.data_center_id,
        "pods": {"total": members.len(), "byStatus": by_status},
        "network": {"cidr": c.cidr},
        "createdAt": iso(c.created_at),
    });
    let primary = members
        .iter()
        .find(|p| p.cluster.as_ref().is_some_and(|m| m.rank == 0));
    if let Some(p) = primary {
        out["primary"] = json!({"podId": p.id, "status": p.status});
    }
    out
}

/// What RunPod sets on every member of a cluster; empty for a standalone pod. See
/// [`cluster_env`].
pub(crate) fn injected_env(s: &State, p: &EmuPod) -> Vec<(String, String)> {
    let Some(m) = &p.cluster else {
        return Vec::new();
    };
    let Some(c) = s.cluster_index(&m.cluster_id).map(|i| &s.clusters[i]) else {
        return Vec::new();
    };
    cluster_env(
        &c.primary_addr,
        c.primary_port,
        &m.ip,
        m.rank,
        c.pod_count,
        c.gpu_count_per_pod,
    )
}

/// What RunPod sets on node `rank` of a cluster of `nodes` pods with `per_node` GPUs each (docs
/// `instant-clusters/configuration`, runpod-api §11.1): `PRIMARY_ADDR` and `MASTER_ADDR`,
/// `PRIMARY_PORT` and `MASTER_PORT`, `NODE_ADDR`, `NODE_RANK` (0 on the primary), `NUM_NODES`,
/// `NUM_TRAINERS` (GPUs per node), `HOST_NODE_ADDR` (`PRIMARY_ADDR:PRIMARY_PORT`) and
/// `WORLD_SIZE` (`NUM_NODES * NUM_TRAINERS`). `NUM_NODES` is the cluster's shape, not how many
/// members are left.
pub fn cluster_env(
    primary_addr: &str,
    primary_port: u16,
    node_addr: &str,
    rank: u32,
    nodes: u32,
    per_node: u32,
) -> Vec<(String, String)> {
    let (addr, port) = (primary_addr.to_owned(), primary_port.to_string());
    [
        ("PRIMARY_ADDR", addr.clone()),
        ("MASTER_ADDR", addr.clone()),
        ("PRIMARY_PORT", port.clone()),
        ("MASTER_PORT", port.clone()),
        ("NODE_ADDR", node_addr.to_owned()),
        ("NODE_RANK", rank.to_string()),
        ("NUM_NODES", nodes.to_string()),
        ("NUM_TRAINERS", per_node.to_string()),
        ("HOST_NODE_ADDR", format!("{addr}:{port}")),
        ("WORLD_SIZE", (nodes * per_node).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// `GET /v2/clusters`: the caller's account's clusters, oldest first.
pub(crate) fn list(s: &State, caller: &Caller) -> Answer {
    let clusters: Vec<Value> = s
        .clusters
        .iter()
        .filter(|c| !c.deleted && c.account == caller.account)
        .map(|c| cluster_json(s, c))
        .collect();
    json_ok(200, &json!({ "clusters": clusters }))
}

/// Run `f` on the cluster `id` when the caller's account owns it and it is not deleted; else
/// 404 (`getCluster`, `updateCluster`, `deleteCluster`, `listClusterPods`: "Cluster not
/// found").
pub(crate) fn with(
    s: &mut State,
    id: &str,
    caller: &Caller,
    f: impl FnOnce(&mut State, usize) -> Answer,
) -> Answer {
    let found = s.cluster_index(id).filter(|c| {
        let c = &s.clusters[*c];
        !c.deleted && c.account == caller.account
    });
    match found {
        Some(c) => f(s, c),
        None => problem(404, "Not Found", &format!("cluster {id} not found")),
    }
}

pub(crate) fn get(s: &mut State, c: usize) -> Answer {
    json_ok(200, &cluster_json(s, &s.clusters[c]))
}

/// `PATCH /v2/clusters/{id}`: "This endpoint only changes the cluster name" (`updateCluster`);
/// the members keep theirs.
pub(crate) fn rename(s: &mut State, c: usize, body: &[u8]) -> Answer {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return bad_request("body is not JSON");
    };
    if let Some(refused) = validate::update_cluster_request(&req) {
        return refused;
    }
    if let Some(name) = req.get("name").and_then(Value::as_str) {
        name.clone_into(&mut s.clusters[c].name);
    }
    json_ok(200, &cluster_json(s, &s.clusters[c]))
}

/// `DELETE /v2/clusters/{id}`: "Permanently deletes a cluster and terminates all of its member
/// pods" (`deleteCluster`), 204.
pub(crate) fn delete(s: &mut State, c: usize) -> Answer {
    s.clusters[c].deleted = true;
    for id in s.clusters[c].members.clone() {
        if let Some(i) = s.index(&id).filter(|i| s.pods[*i].status != "TERMINATED") {
            s.set_status(i, "TERMINATED");
        }
    }
    (204, vec![], vec![])
}

/// `GET /v2/clusters/{id}/pods`: "the full member pods of a cluster" (`ListPodsResponse`), by
/// rank, those that went left out as `listPods` leaves them out.
pub(crate) fn pods(s: &mut State, c: usize) -> Answer {
    let now = s.now;
    let pods: Vec<Value> = live_members(s, &s.clusters[c])
        .into_iter()
        .map(|p| pod_json(p, now))
        .collect();
    json_ok(200, &json!({ "pods": pods }))
}
