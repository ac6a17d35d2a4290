//! `POST /v2/pods`: the body checked as strictly as the spec's schema (422), the handler's rules
//! (400), the account's balance (402), transient upstream failures (500), then placement on a
//! data center with capacity and a host whose CUDA the request admits.

use serde_json::Value;

use crate::answer::{Answer, bad_request, json_ok, problem};
use crate::catalog::{CATALOG, DATA_CENTERS, DataCenter, GpuEntry, MAX_GPU_COUNT, has_capacity};
use crate::container::Waits;
use crate::cuda::{self, Constraint};
use crate::faults::CapacityStyle;
use crate::pods::pod_json;
use crate::state::{EmuPod, State};
use crate::{LogSource, pod_id, validate};

/// Where a pod lands (every member of a cluster lands in the same place).
#[derive(Clone)]
pub(crate) struct Placement {
    pub(crate) dc: &'static DataCenter,
    cuda: &'static str,
    network: Option<(String, String)>,
}

/// Creates a pod owned by `account` (the caller's).
pub(crate) fn create(s: &mut State, account: &str, body: &[u8]) -> Answer {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return bad_request("body is not JSON");
    };
    if let Some(refused) = validate::create_request(&req) {
        return refused;
    }
    let (entry, count) = match rules(&req) {
        Ok(gpu) => gpu,
        Err(a) => return a,
    };
    if let Some(refused) = upstream_refusal(s) {
        return refused;
    }
    let place = match placement(s, &req, entry.id) {
        Ok(p) => p,
        Err(a) => return a,
    };
    let i = add_pod(s, account, &req, entry, count, place);
    let out = pod_json(&s.pods[i], s.now);
    failed_read_back(s, "pod").unwrap_or_else(|| json_ok(201, &out))
}

/// Before placement: a $0 balance (402) and the transient "Something went wrong" (500).
pub(crate) fn upstream_refusal(s: &mut State) -> Option<Answer> {
    if s.faults.zero_balance {
        return Some(problem(
            402,
            "Payment Required",
            "insufficient balance: add credit to your account to deploy pods",
        ));
    }
    if s.faults.something_went_wrong > 0 {
        s.faults.something_went_wrong -= 1;
        return Some(problem(
            500,
            "Internal Server Error",
            "Something went wrong. Please try again later or contact support.",
        ));
    }
    None
}

/// After a create: the `failAfterCreate` fault's 500, the `what` created and running (runpod-api
/// §0.5: a failed create can still create a pod).
pub(crate) fn failed_read_back(s: &mut State, what: &str) -> Option<Answer> {
    if s.faults.fail_after_create == 0 {
        return None;
    }
    s.faults.fail_after_create -= 1;
    Some(problem(
        500,
        "Internal Server Error",
        &format!("create {what}: failed to read back the created {what}"),
    ))
}

/// The rules the spec leaves to the handler (400); the GPU type and count on success.
fn rules(req: &Value) -> Result<(&'static GpuEntry, u32), Answer> {
    if req.get("gpu").is_some() == req.get("cpu").is_some() {
        return Err(bad_request("exactly one of gpu or cpu must be set"));
    }
    if req.get("cpu").is_some() {
        return Err(bad_request(
            "cpu: CPU pods are not supported by the emulator",
        ));
    }
    if req.get("templateId").is_some() {
        return Err(bad_request(
            "templateId: templates are not supported by the emulator",
        ));
    }
    if req.get("image").is_none() {
        return Err(bad_request("image is required unless templateId is set"));
    }
    if req.pointer("/mounts/persistent").is_some() && req.pointer("/mounts/network").is_some() {
        return Err(bad_request(
            "mounts: persistent and network are mutually exclusive",
        ));
    }
    Constraint::from_gpu(&req["gpu"]).map_err(bad_request)?;
    let gpu_id = req.pointer("/gpu/id").and_then(Value::as_str).unwrap_or("");
    let Some(entry) = CATALOG.iter().find(|g| g.id == gpu_id) else {
        return Err(bad_request(&format!("unknown GPU type {gpu_id}")));
    };
    let count = req
        .pointer("/gpu/count")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    if !(1..=u64::from(MAX_GPU_COUNT)).contains(&count) {
        return Err(bad_request(&format!(
            "gpu.count must be 1 to {MAX_GPU_COUNT}"
        )));
    }
    Ok((entry, u32::try_from(count).unwrap_or(1)))
}

/// A capacity refusal, in the wording the `capacityStyle` fault picks.
pub(crate) fn no_capacity(style: CapacityStyle) -> Answer {
    match style {
        CapacityStyle::V2 => bad_request(
            "There are no longer any instances available with the requested specifications",
        ),
        CapacityStyle::Machine => problem(
            500,
            "Internal Server Error",
            "This machine does not have the resources to deploy your pod. Please try a \
             different machine",
        ),
    }
}

/// RunPod places the pod in the first listed data center with capacity (any when none is
/// listed), on a host whose CUDA the request admits (a request without `gpu`, a cluster's,
/// admits any).
pub(crate) fn placement(s: &State, req: &Value, gpu_id: &str) -> Result<Placement, Answer> {
    let mut wanted: Vec<&str> = match req.get("dataCenterIds").and_then(Value::as_array) {
        Some(ids) if !ids.is_empty() => ids.iter().filter_map(Value::as_str).collect(),
        _ => DATA_CENTERS.iter().map(|d| d.id).collect(),
    };
    let network = network_mount(s, req)?;
    if let Some((_, _, dc)) = &network {
        // A network volume pins the pod to the volume's data center.
        if !wanted.contains(dc) {
            return Err(bad_request(&format!(
                "the network volume is in {dc}, which dataCenterIds does not allow"
            )));
        }
        wanted = vec![dc];
    }
    if let Some(unknown) = wanted
        .iter()
        .find(|w| !DATA_CENTERS.iter().any(|d| d.id == **w))
    {
        return Err(bad_request(&format!("unknown data center {unknown}")));
    }
    let style = s.faults.capacity_style;
    let dc = DATA_CENTERS
        .iter()
        .filter(|d| wanted.contains(&d.id))
        .find(|d| has_capacity(s, gpu_id, d.id))
        .ok_or_else(|| no_capacity(style))?;
    let constraint = Constraint::from_gpu(&req["gpu"]).map_err(bad_request)?;
    let cuda =
        cuda::place(&constraint, s.faults.old_cuda_hosts).ok_or_else(|| no_capacity(style))?;
    Ok(Placement {
        dc,
        cuda,
        network: network.map(|(id, path, _)| (id, path)),
    })
}

/// The create request's network mount, checked against the known volumes: (id, path, data
/// center).
fn network_mount(s: &State, req: &Value) -> Result<Option<(String, String, &'static str)>, Answer> {
    let Some([mount]) = req
        .pointer("/mounts/network")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    else {
        return Ok(None);
    };
    let field = |name: &str| mount.get(name).and_then(Value::as_str).unwrap_or_default();
    let (id, path) = (field("volumeId"), field("path"));
    let Some(dc) = s.volumes.get(id) else {
        return Err(bad_request(&format!("network volume {id} not found")));
    };
    Ok(Some((id.to_owned(), path.to_owned(), dc)))
}

/// Adds a standalone pod from a create request (a cluster's members start as such, see
/// `cluster_create.rs`); its index.
pub(crate) fn add_pod(
    s: &mut State,
    account: &str,
    req: &Value,
    entry: &GpuEntry,
    count: u32,
    place: Placement,
) -> usize {
    let community = req.get("cloud").and_then(Value::as_str) == Some("COMMUNITY");
    let text = |name: &str| req.get(name).and_then(Value::as_str).unwrap_or_default();
    let image = text("image").to_owned();
    let waits = Waits::at_create(&s.faults, &image, place.cuda, s.now);
    let pod = EmuPod {
        id: pod_id(),
        account: account.to_owned(),
        name: text("name").to_owned(),
        status: "PROVISIONING",
        image,
        args: text("args").to_owned(),
        disk: req.get("disk").and_then(Value::as_u64).unwrap_or(50),
        ports: strings(req.get("ports")),
        env: req
            .get("env")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        registry: req
            .get("registry")
            .and_then(Value::as_str)
            .map(str::to_owned),
        locked: false,
        global_networking: req.get("globalNetworking").and_then(Value::as_bool) == Some(true),
        cloud: if community { "COMMUNITY" } else { "SECURE" },
        data_center_id: place.dc.id,
        cuda_version: place.cuda,
        network: place.network,
        persistent: req.pointer("/mounts/persistent").and_then(|m| {
            Some((
                m.get("size")?.as_u64()?,
                m.get("path")?.as_str()?.to_owned(),
            ))
        }),
        gpu_id: entry.id.to_owned(),
        gpu_count: count,
        price_per_gpu_hour: if community {
            entry.community
        } else {
            entry.secure
        },
        status_since: s.now,
        created_at: s.now,
        billed_secs: 0,
        logs: Vec::new(),
        waits,
        container_since: None,
        vanish_at: s.faults.vanish.map(|v| (s.now + v.after_secs, v.cause)),
        vanished: None,
        starts: 0,
        restarts: 0,
        workspace: None,
        pid: None,
        cluster: None,
        stuck_provisioning: false,
    };
    s.pods.push(pod);
    let i = s.pods.len() - 1;
    s.push_log(i, LogSource::System, "status PROVISIONING".to_owned());
    s.first_wait_lines(i);
    i
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
