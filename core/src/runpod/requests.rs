//! The bodies trainpod sends to create and change pods (`POST /v2/pods`, `PATCH /v2/pods/{id}`),
//! apart from what RunPod answers (`types.rs`). Their `Debug` never shows env values: trainpod's
//! hold the pod's bundle with the job's tokens.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::types::Cloud;

/// GPU type and count for a new pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GpuRequest {
    /// GPU type id from the catalog, for example `NVIDIA GeForce RTX 4090`.
    pub id: String,
    /// Number of GPUs, 1 to 8.
    pub count: u32,
    /// The lowest CUDA version the host must have (`12.8`): an image built for a newer CUDA
    /// than the host's driver never starts, and bills meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cuda_version: Option<String>,
}

/// A persistent volume mounted into the pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistentMount {
    /// Size in GB, at least 10.
    pub size: u32,
    /// Mount path, absolute.
    pub path: String,
}

/// A network volume mounted into the pod; it must be in the pod's data center.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkMount {
    /// The network volume's id.
    pub volume_id: String,
    /// Mount path, absolute (RunPod has no default).
    pub path: String,
}

/// Volumes mounted into the pod: a host volume or one network volume, not both.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mounts {
    /// A volume on the pod's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<PersistentMount>,
    /// A network volume (RunPod takes at most one today).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<NetworkMount>,
}

/// Body of `POST /v2/pods`. Build it, then [`super::validate_create`] checks it before sending.
/// `Debug` shows the names of `env` but never its values: trainpod's hold the pod's bundle with
/// the job's tokens.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePodRequest {
    /// Pod name; trainpod uses `trainpod-<job id>` so an ambiguous create can be looked up.
    pub name: String,
    /// Container image reference.
    pub image: String,
    /// Command-line arguments for the image's entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<String>,
    /// Container disk in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<u32>,
    /// Exposed ports, `8888/http` or `22/tcp`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    /// Environment variables (at most 50).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Cloud tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<Cloud>,
    /// GPU type and count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuRequest>,
    /// Preferred data centers, in order; empty lets RunPod choose.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_center_ids: Vec<String>,
    /// Volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Mounts>,
}

/// Body of `PATCH /v2/pods/{id}`: only the fields set are changed. [`super::validate_update`]
/// checks it before sending. Container changes (image, args, disk, ports, env) take effect when
/// RunPod restarts the container; `env`, when set, replaces the pod's whole environment.
/// `Debug` shows the names of `env` but never its values.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodUpdate {
    /// New pod name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New image reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// New entrypoint arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<String>,
    /// New container disk in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<u32>,
    /// New exposed ports (replaces the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<String>>,
    /// New environment (replaces it whole; at most 50 variables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// Registry credential id for a private image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Lock (no stop or reset) or unlock the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
    /// Enable or disable global networking (from the next start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_networking: Option<bool>,
    /// The existing mount with a new size or path (its kind cannot change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Mounts>,
    /// Apply a template's container settings once (explicit fields win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
}

impl std::fmt::Debug for CreatePodRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Every field is listed, so that a new one is a compile error here rather than missing.
        let CreatePodRequest {
            name,
            image,
            args,
            disk,
            ports,
            env,
            cloud,
            gpu,
            data_center_ids,
            mounts,
        } = self;
        f.debug_struct("CreatePodRequest")
            .field("name", name)
            .field("image", image)
            .field("args", args)
            .field("disk", disk)
            .field("ports", ports)
            .field("env_names", &env.keys().collect::<Vec<_>>())
            .field("cloud", cloud)
            .field("gpu", gpu)
            .field("data_center_ids", data_center_ids)
            .field("mounts", mounts)
            .finish()
    }
}

impl std::fmt::Debug for PodUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let PodUpdate {
            name,
            image,
            args,
            disk,
            ports,
            env,
            registry,
            locked,
            global_networking,
            mounts,
            template_id,
        } = self;
        f.debug_struct("PodUpdate")
            .field("name", name)
            .field("image", image)
            .field("args", args)
            .field("disk", disk)
            .field("ports", ports)
            .field(
                "env_names",
                &env.as_ref().map(|e| e.keys().collect::<Vec<_>>()),
            )
            .field("registry", registry)
            .field("locked", locked)
            .field("global_networking", global_networking)
            .field("mounts", mounts)
            .field("template_id", template_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_serializes_camel_case_without_empty_fields() {
        let req = CreatePodRequest {
            name: "trainpod-j1".into(),
            image: "runpod/pytorch:1.0.2".into(),
            gpu: Some(GpuRequest {
                id: "A".into(),
                count: 1,
                min_cuda_version: None,
            }),
            data_center_ids: vec!["US-TX-3".into()],
            ..CreatePodRequest::default()
        };
        let json = serde_json::to_value(&req).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            json,
            serde_json::json!({"name":"trainpod-j1","image":"runpod/pytorch:1.0.2",
                "gpu":{"id":"A","count":1},"dataCenterIds":["US-TX-3"]})
        );
    }

    #[test]
    fn requests_show_env_names_but_never_values() {
        let env = BTreeMap::from([
            (
                "TRAINPOD_BUNDLE".to_owned(),
                "H4sIAAAAbundle-with-tp-token".to_owned(),
            ),
            ("HF_TOKEN".to_owned(), "hf_SeCrEtVaLuE".to_owned()),
        ]);
        let create = CreatePodRequest {
            name: "trainpod-j1".into(),
            env: env.clone(),
            ..CreatePodRequest::default()
        };
        let update = PodUpdate {
            env: Some(env),
            ..PodUpdate::default()
        };
        for shown in [
            format!("{create:?}"),
            format!("{create:#?}"),
            format!("{update:?}"),
            format!("{update:#?}"),
        ] {
            assert!(
                shown.contains("TRAINPOD_BUNDLE") && shown.contains("HF_TOKEN"),
                "{shown}"
            );
            for secret in ["H4sIAAAA", "tp-token", "hf_SeCrEt", "VaLuE"] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
        assert!(format!("{create:?}").contains("trainpod-j1"));
    }
}
