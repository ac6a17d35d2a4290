//! `GET /v2/billing/pods`: one record per pod of the caller's account (a pod-scoped key: its own
//! pod), terminated and vanished pods included (their billing stopped when they went), amounts
//! from the seconds each pod was billed. The spec's `GET /billing/pods` "returns pod-only billing
//! detail for the authenticated user", so another account's pods are neither listed nor summed.
//!
//! `GET /v2/billing/clusters`: one record per cluster of the caller's account, deleted ones
//! included, whose amount is its members' (each billed per second as a pod is, gone members
//! until they went). Cluster members are left out of the pod records: the spec's aggregate
//! (`BillingAmounts`) counts "Cluster GPU compute" apart from "GPU pod compute" in one total, so
//! a member's time is a cluster cost, not a pod cost (inferred; the spec does not say it of
//! `listPodBilling` itself). Disk and inter-node networking are not emulated (0).

use serde_json::{Value, json};

use crate::accounts::Caller;
use crate::answer::{Answer, json_ok};
use crate::params::{Query, iso};
use crate::pods::visible;
use crate::state::{EmuCluster, EmuPod, State};

fn amount(p: &EmuPod) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let secs = p.billed_secs as f64;
    p.price_per_gpu_hour * f64::from(p.gpu_count) * secs / 3600.0
}

pub(crate) fn pods(s: &State, caller: &Caller, query: &Query) -> Answer {
    let wanted = query.get("podId");
    let now = s.now;
    let billed: Vec<(&EmuPod, f64)> = s
        .pods
        .iter()
        .filter(|p| wanted.is_none_or(|w| w == p.id))
        .filter(|p| p.cluster.is_none())
        .filter(|p| visible(caller, p))
        .map(|p| (p, amount(p)))
        .collect();
    let total: f64 = billed.iter().map(|(_, a)| a).sum();
    let records: Vec<Value> = billed
        .iter()
        .map(|(p, a)| {
            json!({"podId": p.id, "startTime": iso(p.created_at), "endTime": iso(now),
                "totalAmount": a, "gpuAmount": a, "cpuAmount": 0.0, "diskAmount": 0.0})
        })
        .collect();
    let n = records.len();
    json_ok(
        200,
        &json!({"records": records, "metadata": {
            "query": {"startTime": iso(now.saturating_sub(86_400)), "endTime": iso(now),
                "bucketSize": "day"},
            "recordCount": n, "uniquePodCount": n,
            "totals": {"totalAmount": total, "gpuAmount": total, "cpuAmount": 0.0,
                "diskAmount": 0.0}}}),
    )
}

/// What a cluster's members cost so far.
fn cluster_amount(s: &State, c: &EmuCluster) -> f64 {
    c.members
        .iter()
        .filter_map(|id| s.index(id))
        .map(|i| amount(&s.pods[i]))
        .sum()
}

/// `GET /v2/billing/clusters` (`listClusterBilling`), with its `clusterId` filter; like the pod
/// records, one record per cluster from its creation to now (no buckets).
pub(crate) fn clusters(s: &State, caller: &Caller, query: &Query) -> Answer {
    let wanted = query.get("clusterId");
    let now = s.now;
    let billed: Vec<(&EmuCluster, f64)> = s
        .clusters
        .iter()
        .filter(|c| wanted.is_none_or(|w| w == c.id))
        .filter(|c| c.account == caller.account)
        .map(|c| (c, cluster_amount(s, c)))
        .collect();
    let total: f64 = billed.iter().map(|(_, a)| a).sum();
    let records: Vec<Value> = billed
        .iter()
        .map(|(c, a)| {
            json!({"clusterId": c.id, "startTime": iso(c.created_at), "endTime": iso(now),
                "totalAmount": a, "gpuAmount": a, "diskAmount": 0.0, "networkingAmount": 0.0})
        })
        .collect();
    let n = records.len();
    json_ok(
        200,
        &json!({"records": records, "metadata": {
            "query": {"startTime": iso(now.saturating_sub(86_400)), "endTime": iso(now),
                "bucketSize": "day", "clusterId": wanted},
            "recordCount": n, "uniqueClusterCount": n,
            "totals": {"totalAmount": total, "gpuAmount": total, "diskAmount": 0.0,
                "networkingAmount": 0.0}}}),
    )
}
