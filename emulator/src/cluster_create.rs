//! `POST /v2/clusters` (the spec's `createCluster`): the body checked as `CreateClusterRequest`
//! (422), the handler's rules (400), the balance (402) and transient failures (500) as for a
//! pod, then `compute.podCount` identical member pods placed in one data center ("a cluster is
//! always placed within a single data center", `CreateClusterRequest.dataCenterIds`), each a
//! `PodCluster` member with its rank, its address and, on SLURM and RAY clusters, its role.
//!
//! What the spec and the docs do not say, and the emulator chooses: a member is named
//! `<cluster name>-<rank>` (RunPod names them; how is not documented); a body without `image`
//! is a 400 (the schema does not require it, but a cluster has no `templateId` to take one
//! from); `failAfterCreate` applies as to a pod create (the cluster exists and runs, the answer
//! is a 500: runpod-api §0.5 is about pods, the same upstream creates both).

use std::net::{Ipv4Addr, TcpListener};

use serde_json::Value;

use crate::answer::{Answer, bad_request, json_ok};
use crate::catalog::{CATALOG, GpuEntry, MAX_GPU_COUNT};
use crate::clusters::cluster_json;
use crate::create::{
    Placement, add_pod, failed_read_back, no_capacity, placement, upstream_refusal,
};
use crate::state::{EmuCluster, Member, State};
use crate::{cluster_id, validate};

/// The cluster's homogeneous shape (`ClusterCompute`), checked.
struct Shape {
    entry: &'static GpuEntry,
    gpus_per_pod: u32,
    pods: u32,
}

/// Creates a cluster owned by `account` (the caller's), with its member pods.
pub(crate) fn create(s: &mut State, account: &str, body: &[u8]) -> Answer {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return bad_request("body is not JSON");
    };
    if let Some(refused) = validate::create_cluster_request(&req) {
        return refused;
    }
    let shape = match rules(&req) {
        Ok(shape) => shape,
        Err(a) => return a,
    };
    if let Some(refused) = upstream_refusal(s) {
        return refused;
    }
    let place = match placement(s, &req, shape.entry.id) {
        Ok(p) => p,
        Err(a) => return a,
    };
    // A data center with room for one pod may lack room for all of them (users report
    // multi-node runs refused or stuck for want of one node: dstack#4146, #2123).
    if s.faults.cluster_capacity.is_some_and(|n| shape.pods > n) {
        return no_capacity(s.faults.capacity_style);
    }
    let c = add_cluster(s, account, &req, &shape, &place);
    let out = cluster_json(s, &s.clusters[c]);
    failed_read_back(s, "cluster").unwrap_or_else(|| json_ok(201, &out))
}

/// The rules the spec leaves to the handler (400).
fn rules(req: &Value) -> Result<Shape, Answer> {
    if req.get("image").is_none() {
        return Err(bad_request(
            "image is required (a cluster has no templateId to take one from)",
        ));
    }
    if req.pointer("/mounts/persistent").is_some() && req.pointer("/mounts/network").is_some() {
        return Err(bad_request(
            "mounts: persistent and network are mutually exclusive",
        ));
    }
    let number = |name: &str| {
        req.pointer(&format!("/compute/{name}"))
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    };
    let gpu_id = req
        .pointer("/compute/gpuTypeId")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(entry) = CATALOG.iter().find(|g| g.id == gpu_id) else {
        return Err(bad_request(&format!("unknown GPU type {gpu_id}")));
    };
    // `ClusterCompute.gpuCountPerPod`: "Bounded above by the GPU type's per-cloud maximum
    // (GpuType.maxCount); the upstream rejects values beyond it."
    let gpus_per_pod = number("gpuCountPerPod");
    if gpus_per_pod > MAX_GPU_COUNT {
        return Err(bad_request(&format!(
            "compute.gpuCountPerPod must be at most {MAX_GPU_COUNT} (the maxCount of {gpu_id})"
        )));
    }
    Ok(Shape {
        entry,
        gpus_per_pod,
        pods: number("podCount"),
    })
}

/// Adds the cluster and its members, rank by rank; the cluster's index.
fn add_cluster(
    s: &mut State,
    account: &str,
    req: &Value,
    shape: &Shape,
    place: &Placement,
) -> usize {
    let id = cluster_id();
    let name = req["name"].as_str().unwrap_or_default().to_owned();
    let kind = validate::CLUSTER_TYPES
        .iter()
        .copied()
        .find(|t| Some(*t) == req["type"].as_str())
        .unwrap_or("TRAINING");
    let (cidr, address): (&'static str, fn(u32) -> String) = if s.local {
        // The local provider runs every node on this machine: loopback is their network
        // (contract: PRIMARY_ADDR = NODE_ADDR = 127.0.0.1).
        ("127.0.0.0/8", |_| Ipv4Addr::LOCALHOST.to_string())
    } else {
        // The spec's examples: `ClusterNetwork.cidr` 10.65.0.0/16, `PodCluster.ip` 10.65.0.2.
        ("10.65.0.0/16", |rank| format!("10.65.0.{}", rank + 2))
    };
    let stuck = s.faults.cluster_stuck_rank;
    let mut members = Vec::new();
    for rank in 0..shape.pods {
        let i = add_pod(
            s,
            account,
            req,
            shape.entry,
            shape.gpus_per_pod,
            place.clone(),
        );
        let pod = &mut s.pods[i];
        pod.name = format!("{name}-{rank}");
        pod.cluster = Some(Member {
            cluster_id: id.clone(),
            rank,
            ip: address(rank),
            role: role(kind, rank),
        });
        pod.stuck_provisioning = stuck == Some(rank);
        members.push(pod.id.clone());
    }
    s.clusters.push(EmuCluster {
        id,
        account: account.to_owned(),
        name,
        kind,
        gpu_type_id: shape.entry.id,
        gpu_count_per_pod: shape.gpus_per_pod,
        pod_count: shape.pods,
        data_center_id: place.dc.id,
        cidr,
        primary_addr: address(0),
        primary_port: free_port(),
        created_at: s.now,
        members,
        deleted: false,
    });
    s.clusters.len() - 1
}

/// `PodClusterRole`: "Rank 0 is the cluster's entry node …; for SLURM it is the controller"
/// (`PodCluster.rank`); that rank 0 is RAY's head is inferred the same way. TRAINING and
/// APPLICATION members have none.
fn role(kind: &str, rank: u32) -> Option<&'static str> {
    match (kind, rank) {
        ("SLURM", 0) => Some("SLURM_CONTROLLER"),
        ("SLURM", _) => Some("SLURM_COMPUTE"),
        ("RAY", 0) => Some("RAY_HEAD"),
        ("RAY", _) => Some("RAY_WORKER"),
        _ => None,
    }
}

/// `PRIMARY_PORT`: "All ports are available" on RunPod (docs `instant-clusters/configuration`);
/// on loopback, shared by every local process, one free now (contract: a free loopback port
/// per cluster). 29500, torch's default, when none can be had.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map_or(29_500, |a| a.port())
}
