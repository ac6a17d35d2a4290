//! The emulated data centers and GPU types, capacity, and `GET /v2/catalog/gpus[/{id}]` with the
//! spec's availability filters.

use serde_json::{Value, json};

use crate::answer::{Answer, bad_request, json_ok, problem, unprocessable};
use crate::cuda::HOST_CUDA;
use crate::params::Query;
use crate::state::State;

#[derive(Debug)]
pub(crate) struct DataCenter {
    pub(crate) id: &'static str,
    name: &'static str,
    country: &'static str,
}

pub(crate) const DATA_CENTERS: &[DataCenter] = &[
    DataCenter {
        id: "US-TX-3",
        name: "United States Texas 3",
        country: "US",
    },
    DataCenter {
        id: "EU-RO-1",
        name: "Europe Romania 1",
        country: "RO",
    },
    DataCenter {
        id: "EU-FR-1",
        name: "Europe France 1",
        country: "FR",
    },
];

#[derive(Debug)]
pub(crate) struct GpuEntry {
    pub(crate) id: &'static str,
    name: &'static str,
    memory: u32,
    pub(crate) secure: f64,
    pub(crate) community: f64,
    availability: &'static str,
}

/// Every GPU type's `maxCount` (secure and community): the most GPUs one pod may have.
pub(crate) const MAX_GPU_COUNT: u32 = 8;

pub(crate) const CATALOG: &[GpuEntry] = &[
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

/// Whether a GPU type has capacity in a data center (the `noCapacity` faults).
pub(crate) fn has_capacity(s: &State, gpu_id: &str, dc: &str) -> bool {
    !s.faults.no_capacity.contains(gpu_id)
        && !s
            .faults
            .no_capacity_at
            .contains(&(gpu_id.to_owned(), dc.to_owned()))
}

const AVAILABILITY_LEVELS: &[&str] = &["NONE", "LOW", "MEDIUM", "HIGH"];

fn level(name: &str) -> usize {
    AVAILABILITY_LEVELS
        .iter()
        .position(|l| *l == name)
        .unwrap_or(0)
}

/// The availability filters of a catalog request, checked.
struct Filters {
    include: bool,
    count: u32,
    countries: Option<Vec<String>>,
    cudas: Vec<&'static str>,
}

/// `GET /v2/catalog/gpus[/{id}]` with the spec's rules: a filter without
/// `include=AVAILABILITY`, `include` without `product`, or both CUDA filters is 400; a malformed
/// value is 422.
pub(crate) fn catalog(s: &State, one: Option<&str>, q: &Query) -> Answer {
    let f = match filters(q) {
        Ok(f) => f,
        Err(a) => return a,
    };
    let entries: Vec<&GpuEntry> = match one {
        Some(id) => match CATALOG.iter().find(|g| g.id == id) {
            Some(g) => vec![g],
            None => return problem(404, "Not Found", &format!("GPU type {id} not found")),
        },
        None => CATALOG.iter().collect(),
    };
    let dcs: Vec<&DataCenter> = DATA_CENTERS
        .iter()
        .filter(|d| {
            f.countries
                .as_ref()
                .is_none_or(|cs| cs.iter().any(|c| c == d.country))
        })
        .collect();
    // The list drops a type with no data center in the requested countries; the single-type
    // endpoint answers with availability NONE instead.
    let skip_all = f.include && dcs.is_empty() && one.is_none();
    let gpus: Vec<Value> = entries
        .into_iter()
        .filter(|_| !skip_all)
        .map(|g| gpu_json(s, g, &f, &dcs))
        .collect();
    match one {
        Some(_) => json_ok(200, &gpus[0]),
        None => json_ok(200, &json!({ "gpus": gpus })),
    }
}

fn filters(q: &Query) -> Result<Filters, Answer> {
    let include = match q.list("include") {
        None => false,
        Some(v) if v == ["AVAILABILITY"] => true,
        Some(_) => return Err(unprocessable("include must be AVAILABILITY")),
    };
    let scoped = [
        "product",
        "count",
        "cloud",
        "countryCodes",
        "cudaVersions",
        "minCudaVersion",
    ];
    if !include {
        if let Some(name) = scoped.iter().find(|n| q.get(n).is_some()) {
            return Err(bad_request(&format!(
                "{name} is valid only with include=AVAILABILITY"
            )));
        }
    } else if q.get("product").is_none() {
        return Err(bad_request("include=AVAILABILITY requires product"));
    }
    if q.list("product")
        .unwrap_or_default()
        .iter()
        .any(|p| !matches!(p.as_str(), "POD" | "CLUSTER" | "SERVERLESS"))
    {
        return Err(unprocessable("product must be POD, CLUSTER or SERVERLESS"));
    }
    let count = match q.get("count").map(str::parse::<u32>) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => return Err(unprocessable("count must be an integer of at least 1")),
    };
    if q.get("cloud")
        .is_some_and(|c| !matches!(c, "SECURE" | "COMMUNITY"))
    {
        return Err(unprocessable("cloud must be SECURE or COMMUNITY"));
    }
    let countries = q.list("countryCodes");
    if countries.as_ref().is_some_and(|cs| {
        cs.iter()
            .any(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
    }) {
        return Err(unprocessable(
            "countryCodes must be ISO 3166-1 alpha-2 codes in upper case",
        ));
    }
    Ok(Filters {
        include,
        count,
        countries,
        cudas: cuda_filter(q)?,
    })
}

/// The hosts' CUDA versions the `cudaVersions` / `minCudaVersion` filters keep.
fn cuda_filter(q: &Query) -> Result<Vec<&'static str>, Answer> {
    let exact = q.list("cudaVersions");
    let min = q.get("minCudaVersion");
    if exact.is_some() && min.is_some() {
        return Err(bad_request(
            "cudaVersions and minCudaVersion are mutually exclusive",
        ));
    }
    let version = |v: &str, need_minor: bool| -> Option<(u32, u32)> {
        match v.split_once('.') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None if !need_minor => Some((v.parse().ok()?, 0)),
            None => None,
        }
    };
    if exact
        .as_ref()
        .is_some_and(|vs| vs.iter().any(|v| version(v, true).is_none()))
    {
        return Err(unprocessable(
            "cudaVersions must be major.minor versions such as 12.8",
        ));
    }
    let min = match min.map(|m| version(m, false)) {
        None => None,
        Some(Some(v)) => Some(v),
        Some(None) => return Err(unprocessable("minCudaVersion must be such as 12 or 12.1")),
    };
    Ok(HOST_CUDA
        .iter()
        .copied()
        .filter(|v| exact.as_ref().is_none_or(|e| e.iter().any(|x| x == v)))
        .filter(|v| min.is_none_or(|m| version(v, true).is_some_and(|x| x >= m)))
        .collect())
}

fn gpu_json(s: &State, g: &GpuEntry, f: &Filters, dcs: &[&DataCenter]) -> Value {
    let mut v = json!({"id": g.id, "name": g.name, "pool": null, "manufacturer": "NVIDIA",
        "memory": g.memory, "secure": true, "community": true,
        "price": {"secure": g.secure, "community": g.community},
        "maxCount": {"secure": MAX_GPU_COUNT, "community": MAX_GPU_COUNT}});
    if !f.include {
        return v;
    }
    let fits = f.count <= MAX_GPU_COUNT && !f.cudas.is_empty();
    let per_dc: Vec<Value> = dcs
        .iter()
        .map(|d| {
            let a = if fits && has_capacity(s, g.id, d.id) {
                g.availability
            } else {
                "NONE"
            };
            json!({"id": d.id, "name": d.name, "availability": a})
        })
        .collect();
    let overall = per_dc
        .iter()
        .filter_map(|d| d["availability"].as_str())
        .max_by_key(|a| level(a))
        .unwrap_or("NONE");
    v["availability"] = json!(overall);
    if overall != "NONE" {
        v["dataCenters"] = json!(per_dc);
    }
    v["cudaVersions"] = json!(
        f.cudas
            .iter()
            .map(|c| json!({"version": c, "available": overall != "NONE"}))
            .collect::<Vec<_>>()
    );
    v
}
