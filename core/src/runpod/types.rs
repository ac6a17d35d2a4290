//! Request and response types for the subset of RunPod REST v2 that trainpod uses.
//!
//! Responses parse leniently: unknown fields are ignored, numbers may arrive as strings, and an
//! unknown status or action is kept as `Unknown` rather than failing the whole response.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Lifecycle status of a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum PodStatus {
    /// The pod is being allocated.
    Provisioning,
    /// The container is starting.
    Starting,
    /// The container is running.
    Running,
    /// The container exited (stopped); the volume still bills.
    Exited,
    /// The container is in an unrecoverable error state.
    Error,
    /// The pod is gone for good.
    Terminated,
    /// A status this build does not know.
    #[serde(other)]
    Unknown,
}

impl PodStatus {
    /// The actions RunPod allows in this status.
    pub fn allowed_actions(self) -> &'static [PodAction] {
        match self {
            PodStatus::Running => &[PodAction::Stop, PodAction::Restart, PodAction::Terminate],
            PodStatus::Exited | PodStatus::Error => &[PodAction::Start, PodAction::Terminate],
            PodStatus::Provisioning | PodStatus::Starting => {
                &[PodAction::Stop, PodAction::Terminate]
            }
            PodStatus::Terminated | PodStatus::Unknown => &[],
        }
    }

    /// The wire name (`RUNNING`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            PodStatus::Provisioning => "PROVISIONING",
            PodStatus::Starting => "STARTING",
            PodStatus::Running => "RUNNING",
            PodStatus::Exited => "EXITED",
            PodStatus::Error => "ERROR",
            PodStatus::Terminated => "TERMINATED",
            PodStatus::Unknown => "UNKNOWN",
        }
    }
}

/// A state transition requested through `POST /v2/pods/{id}/action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PodAction {
    /// Start a stopped pod.
    Start,
    /// Stop the container (the volume keeps billing).
    Stop,
    /// Restart the container.
    Restart,
    /// Remove the pod for good.
    Terminate,
    /// An action this build does not know (responses only).
    #[serde(other)]
    Unknown,
}

impl PodAction {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PodAction::Start => "start",
            PodAction::Stop => "stop",
            PodAction::Restart => "restart",
            PodAction::Terminate => "terminate",
            PodAction::Unknown => "unknown",
        }
    }
}

/// Cloud tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Cloud {
    /// RunPod's secure cloud (the default).
    #[default]
    Secure,
    /// Community hosts.
    Community,
}

/// The GPU part of a pod as RunPod reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodGpu {
    /// GPU type id.
    pub id: String,
    /// Number of GPUs.
    #[serde(default = "one", deserialize_with = "lenient_u32")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// A pod as returned by `GET /v2/pods/{id}` and friends. `Debug` shows the names of `env`
/// but never its values, which may hold tokens.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    /// Pod id.
    pub id: String,
    /// Pod name.
    #[serde(default)]
    pub name: String,
    /// Lifecycle status.
    pub status: PodStatus,
    /// Actions valid in the current status.
    #[serde(default, deserialize_with = "null_as_default")]
    pub actions: Vec<PodAction>,
    /// Image reference.
    #[serde(default, deserialize_with = "null_as_default")]
    pub image: String,
    /// GPU type and count, for GPU pods.
    #[serde(default)]
    pub gpu: Option<PodGpu>,
    /// Data center the scheduler chose.
    #[serde(default)]
    pub data_center_id: Option<String>,
    /// Current cost in USD per hour (0 when exited or terminated).
    #[serde(default, deserialize_with = "lenient_f64")]
    pub cost: f64,
    /// Cloud tier.
    #[serde(default)]
    pub cloud: Option<Cloud>,
    /// Entrypoint arguments.
    #[serde(default, deserialize_with = "null_as_default")]
    pub args: String,
    /// Container disk in GB.
    #[serde(default, deserialize_with = "lenient_opt_u32")]
    pub disk: Option<u32>,
    /// Exposed ports.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ports: Vec<String>,
    /// Environment variables (values may be secrets: do not log them).
    #[serde(default, deserialize_with = "null_as_default")]
    pub env: BTreeMap<String, String>,
    /// Whether the pod is locked against stop and reset.
    #[serde(default, deserialize_with = "null_as_default")]
    pub locked: bool,
    /// Creation time (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Last start time (RFC 3339).
    #[serde(default)]
    pub started_at: Option<String>,
    /// The host's CUDA version (`12.8`).
    #[serde(default)]
    pub cuda_version: Option<String>,
    /// Live figures of the running container; `None` while no container runs, which a pod
    /// reading RUNNING can be for minutes (image pull, a stuck host, a CUDA the host lacks).
    #[serde(default)]
    pub runtime: Option<serde_json::Value>,
    /// The cluster this pod is a node of, with its rank; `None` for a plain pod.
    #[serde(default)]
    pub cluster: Option<PodCluster>,
}

impl Pod {
    /// Whether a container runs: RUNNING with a runtime. RUNNING alone does not say so.
    pub fn container_runs(&self) -> bool {
        self.status == PodStatus::Running
            && self
                .runtime
                .as_ref()
                .is_some_and(|r| r.as_object().is_some_and(|o| !o.is_empty()))
    }
}

impl std::fmt::Debug for Pod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pod")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("status", &self.status)
            .field("actions", &self.actions)
            .field("image", &self.image)
            .field("gpu", &self.gpu)
            .field("data_center_id", &self.data_center_id)
            .field("cost", &self.cost)
            .field("cluster", &self.cluster)
            .field("cloud", &self.cloud)
            .field("args", &self.args)
            .field("disk", &self.disk)
            .field("ports", &self.ports)
            .field("env_names", &self.env.keys().collect::<Vec<_>>())
            .field("locked", &self.locked)
            .field("created_at", &self.created_at)
            .field("started_at", &self.started_at)
            .field("cuda_version", &self.cuda_version)
            .field("runtime", &self.runtime.is_some())
            .finish()
    }
}

/// Availability of a GPU type or of a data center for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Availability {
    /// None available.
    None,
    /// Few available.
    Low,
    /// Some available.
    Medium,
    /// Many available.
    High,
}

/// Prices in USD per hour for one GPU.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuPrice {
    /// Secure cloud price.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub secure: f64,
    /// Community cloud price.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub community: f64,
}

/// The most GPUs of this type one pod can have.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuMaxCount {
    /// In the secure cloud.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub secure: u32,
    /// In the community cloud.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub community: u32,
}

/// A data center's availability for a GPU type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataCenterAvailability {
    /// Data center id, for example `US-TX-3`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Availability there.
    pub availability: Availability,
}

/// A CUDA version offered with a GPU type, and whether any machine on it is free now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CudaVersionAvailability {
    /// `major.minor`, for example `12.8`.
    pub version: String,
    /// At least one machine on this version has free capacity.
    #[serde(default)]
    pub available: bool,
}

/// One entry of `GET /v2/catalog/gpus`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GpuType {
    /// GPU type id, used in [`GpuRequest::id`].
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Memory in GB.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub memory: u32,
    /// Offered in the secure cloud.
    #[serde(default)]
    pub secure: bool,
    /// Offered in the community cloud.
    #[serde(default)]
    pub community: bool,
    /// Prices per GPU per hour.
    #[serde(default)]
    pub price: GpuPrice,
    /// Most GPUs per pod.
    #[serde(default)]
    pub max_count: GpuMaxCount,
    /// Overall availability (with `include=AVAILABILITY`).
    #[serde(default)]
    pub availability: Option<Availability>,
    /// Per data center availability (with `include=AVAILABILITY`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub data_centers: Vec<DataCenterAvailability>,
    /// CUDA versions offered and whether each has capacity (with `include=AVAILABILITY`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub cuda_versions: Vec<CudaVersionAvailability>,
}

impl GpuType {
    /// Price per GPU per hour in the given cloud.
    pub fn price_per_gpu_hour(&self, cloud: Cloud) -> f64 {
        match cloud {
            Cloud::Secure => self.price.secure,
            Cloud::Community => self.price.community,
        }
    }
}

/// One record of `GET /v2/billing/pods`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodBillingRecord {
    /// Pod id.
    pub pod_id: String,
    /// Bucket start (RFC 3339).
    #[serde(default)]
    pub start_time: String,
    /// Bucket end (RFC 3339).
    #[serde(default)]
    pub end_time: String,
    /// Total USD.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub total_amount: f64,
    /// GPU USD.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub gpu_amount: f64,
    /// CPU USD.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub cpu_amount: f64,
    /// Disk USD.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub disk_amount: f64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrString {
    Num(f64),
    Str(String),
    Null,
}

pub(super) fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match NumOrString::deserialize(d)? {
        NumOrString::Num(n) => Ok(n),
        NumOrString::Null => Ok(0.0),
        NumOrString::Str(s) if s.trim().is_empty() => Ok(0.0),
        NumOrString::Str(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| serde::de::Error::custom(format!("not a number: {s:?}"))),
    }
}

fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = lenient_f64(d)?;
    if n >= 0.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0 {
        // Range and integrality were checked just above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(n as u32)
    } else {
        Err(serde::de::Error::custom(format!(
            "not a non-negative integer: {n}"
        )))
    }
}

fn lenient_opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "lenient_u32")] u32);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `{"pods": [...]}`.
#[derive(Deserialize)]
pub(crate) struct ListPodsResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub pods: Vec<Pod>,
}

/// `{"gpus": [...]}`.
#[derive(Deserialize)]
pub(crate) struct ListGpusResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub gpus: Vec<GpuType>,
}

/// `{"records": [...], "metadata": {...}}`.
#[derive(Deserialize)]
pub(crate) struct ListPodBillingResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Vec<PodBillingRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_parses_leniently() {
        let pod: Pod = serde_json::from_str(
            r#"{"id":"p1","name":"trainpod-j1","status":"RUNNING","actions":["stop","hibernate"],
                "image":"runpod/pytorch:1","cost":"0.69","gpu":{"id":"A","count":"2"},
                "dataCenterId":null,"someNewField":{"x":1}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pod.status, PodStatus::Running);
        assert_eq!(pod.actions, vec![PodAction::Stop, PodAction::Unknown]);
        assert!((pod.cost - 0.69).abs() < 1e-9);
        assert_eq!(pod.gpu.map(|g| g.count), Some(2));
        let odd: Pod = serde_json::from_str(r#"{"id":"p","status":"HIBERNATING","actions":null}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(odd.status, PodStatus::Unknown);
        let with_env: Pod = serde_json::from_str(
            r#"{"id":"p","status":"RUNNING","env":{"TRAINPOD_TOKEN":"tp_secret"},"disk":"20"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(with_env.disk, Some(20));
        let shown = format!("{with_env:?}");
        assert!(
            shown.contains("TRAINPOD_TOKEN") && !shown.contains("tp_secret"),
            "{shown}"
        );
    }

    #[test]
    fn catalog_and_billing_parse_numbers_as_strings() {
        let list: ListGpusResponse = serde_json::from_str(
            r#"{"gpus":[{"id":"NVIDIA A40","name":"A40","pool":null,"manufacturer":"NVIDIA",
                "memory":"48","secure":true,"community":false,
                "price":{"secure":"0.40","community":0.35},"maxCount":{"secure":8,"community":"4"},
                "availability":"LOW","dataCenters":[{"id":"US-TX-3","name":"Texas","availability":"HIGH"}]}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let gpu = &list.gpus[0];
        assert_eq!(gpu.memory, 48);
        assert!((gpu.price_per_gpu_hour(Cloud::Secure) - 0.40).abs() < 1e-9);
        assert_eq!(gpu.max_count.community, 4);
        assert_eq!(gpu.availability, Some(Availability::Low));
        let billing: ListPodBillingResponse = serde_json::from_str(
            r#"{"records":[{"podId":"p","startTime":"a","endTime":"b","totalAmount":"1.5",
                "gpuAmount":1,"cpuAmount":0,"diskAmount":"0.5"}],"metadata":{}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!((billing.records[0].total_amount - 1.5).abs() < 1e-9);
        assert!(serde_json::from_str::<GpuPrice>(r#"{"secure":"cheap"}"#).is_err());
    }

    #[test]
    fn allowed_actions_follow_the_state_table() {
        assert!(
            PodStatus::Running
                .allowed_actions()
                .contains(&PodAction::Terminate)
        );
        assert!(
            !PodStatus::Running
                .allowed_actions()
                .contains(&PodAction::Start)
        );
        assert!(
            PodStatus::Exited
                .allowed_actions()
                .contains(&PodAction::Start)
        );
        assert!(PodStatus::Terminated.allowed_actions().is_empty());
    }
}

/// A pod's membership of a cluster (`Pod.cluster`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCluster {
    /// The cluster.
    pub id: String,
    /// The node rank (`NODE_RANK`); `None` until assigned.
    #[serde(default)]
    pub rank: Option<u32>,
}
