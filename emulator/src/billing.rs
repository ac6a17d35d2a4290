//! `GET /v2/billing/pods`: one record per pod of the caller's account (a pod-scoped key: its own
//! pod), terminated and vanished pods included (their billing stopped when they went), amounts
//! from the seconds each pod was billed. The spec's `GET /billing/pods` "returns pod-only billing
//! detail for the authenticated user", so another account's pods are neither listed nor summed.

use serde_json::{Value, json};

use crate::accounts::Caller;
use crate::answer::{Answer, json_ok};
use crate::params::{Query, iso};
use crate::pods::visible;
use crate::state::{EmuPod, State};

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
