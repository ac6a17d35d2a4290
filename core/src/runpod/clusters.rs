//! RunPod Instant Clusters (`/v2/clusters`): several identical pods in one data center on a
//! private network, created, read and deleted as one. A cluster bills from its creation like a
//! pod, so its create adopts by name after an ambiguous failure, as a pod's does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::client::{Client, check_pod_id};
use super::create::{Created, GpuCandidate, Placed};
use super::requests::Mounts;
use super::transport::Method;
use super::types::{Pod, PodStatus, lenient_f64};
use super::validate::{
    Container, MAX_GPU_COUNT, validate_container, validate_gpu_id, validate_image,
    validate_pod_name,
};
use crate::{Error, ErrorKind, Result};

/// The fewest and most pods of a cluster (v2 spec, `ClusterCompute.podCount`).
pub const MIN_CLUSTER_PODS: u32 = 2;
/// See [`MIN_CLUSTER_PODS`].
pub const MAX_CLUSTER_PODS: u32 = 250;

/// What a cluster runs (v2 spec `ClusterType`): trainpod creates `TRAINING` clusters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterType {
    /// A generic distributed-training cluster.
    Training,
    /// A general multi-node application cluster.
    Application,
    /// A managed Slurm topology.
    Slurm,
    /// A managed Ray topology.
    Ray,
    /// A type this client does not know.
    #[serde(other)]
    Unknown,
}

/// Every pod of a cluster is alike: `pod_count` pods of `gpu_count_per_pod` GPUs each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterCompute {
    /// GPU type id from the catalog, for every pod.
    pub gpu_type_id: String,
    /// GPUs on each pod.
    pub gpu_count_per_pod: u32,
    /// Pods (nodes), 2 to 250.
    pub pod_count: u32,
}

/// Body of `POST /v2/clusters`. Clusters take no registry, cloud or CUDA floor (the spec's
/// `CreateClusterRequest` has none). `Debug` shows the names of `env`, never its values.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateClusterRequest {
    /// Cluster name; trainpod uses its pod name, so an ambiguous create can be looked up.
    pub name: String,
    /// What the cluster runs.
    #[serde(rename = "type")]
    pub kind: Option<ClusterType>,
    /// The pods' shape.
    pub compute: Option<ClusterCompute>,
    /// Container image, for every pod.
    pub image: String,
    /// Entrypoint arguments, for every pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<String>,
    /// Container disk in GB, per pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<u32>,
    /// Exposed ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    /// Environment variables for every pod (RunPod adds each node's rank and addresses).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Preferred data centers; the cluster lands in one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_center_ids: Vec<String>,
    /// Volumes, on every pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Mounts>,
}

impl std::fmt::Debug for CreateClusterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Every field is listed, so that a new one is a compile error here rather than missing.
        let CreateClusterRequest {
            name,
            kind,
            compute,
            image,
            args,
            disk,
            ports,
            env,
            data_center_ids,
            mounts,
        } = self;
        f.debug_struct("CreateClusterRequest")
            .field("name", name)
            .field("kind", kind)
            .field("compute", compute)
            .field("image", image)
            .field("args", args)
            .field("disk", disk)
            .field("ports", ports)
            .field("env_names", &env.keys().collect::<Vec<_>>())
            .field("data_center_ids", data_center_ids)
            .field("mounts", mounts)
            .finish()
    }
}

/// Member pods by status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPodsSummary {
    /// Member pods provisioned now.
    #[serde(default)]
    pub total: u32,
    /// Counts keyed by pod status; statuses with none are left out.
    #[serde(default)]
    pub by_status: BTreeMap<String, u32>,
}

/// The primary (rank 0) node, once placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPrimary {
    /// The primary member pod.
    pub pod_id: String,
    /// Its status.
    pub status: PodStatus,
}

/// A cluster as RunPod describes it; `GET /v2/clusters/{id}/pods` has the member pods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    /// Cluster id.
    pub id: String,
    /// Cluster name.
    #[serde(default)]
    pub name: String,
    /// What it runs.
    #[serde(rename = "type")]
    pub kind: ClusterType,
    /// The pods' shape.
    pub compute: ClusterCompute,
    /// The data center, once a pod is placed.
    #[serde(default)]
    pub data_center_id: Option<String>,
    /// Member pods by status.
    #[serde(default)]
    pub pods: ClusterPodsSummary,
    /// The primary node, once placed.
    #[serde(default)]
    pub primary: Option<ClusterPrimary>,
    /// Creation time (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
}

/// One time bucket of a cluster's bill (`GET /v2/billing/clusters`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterBillingRecord {
    /// The cluster billed.
    pub cluster_id: String,
    /// Total USD in the bucket.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub total_amount: f64,
}

#[derive(Deserialize)]
struct ListClusters {
    clusters: Vec<Cluster>,
}

#[derive(Deserialize)]
struct ListClusterPods {
    pods: Vec<Pod>,
}

#[derive(Deserialize)]
struct ListClusterBilling {
    records: Vec<ClusterBillingRecord>,
}

/// The cluster a create ended with.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterOutcome {
    /// The cluster.
    pub cluster: Cluster,
    /// Whether it was found by name after an ambiguous failure.
    pub adopted: bool,
    /// Index of the request that placed it.
    pub candidate: usize,
}

/// Check a cluster create; the first problem found is an [`ErrorKind::InvalidInput`].
pub fn validate_create_cluster(req: &CreateClusterRequest) -> Result<()> {
    validate_pod_name(&req.name)?;
    validate_image(&req.image)?;
    if req.kind.is_none_or(|k| k == ClusterType::Unknown) {
        return Err(Error::invalid_input(
            "cluster type is required: TRAINING, APPLICATION, SLURM or RAY",
        ));
    }
    let compute = req.compute.as_ref().ok_or_else(|| {
        Error::invalid_input("compute is required: a GPU type id, GPUs per pod and pods")
    })?;
    validate_gpu_id(&compute.gpu_type_id)?;
    if compute.gpu_count_per_pod == 0 || compute.gpu_count_per_pod > MAX_GPU_COUNT {
        return Err(Error::invalid_input(format!(
            "gpuCountPerPod is {}: a cluster's pods have 1 to {MAX_GPU_COUNT} GPUs each",
            compute.gpu_count_per_pod
        )));
    }
    if !(MIN_CLUSTER_PODS..=MAX_CLUSTER_PODS).contains(&compute.pod_count) {
        return Err(Error::invalid_input(format!(
            "podCount is {}: a cluster has {MIN_CLUSTER_PODS} to {MAX_CLUSTER_PODS} pods \
             (one node is a plain pod)",
            compute.pod_count
        )));
    }
    validate_container(&Container {
        args: req.args.as_deref(),
        disk: req.disk,
        mounts: req.mounts.as_ref(),
        ports: &req.ports,
        data_center_ids: &req.data_center_ids,
        env: &req.env,
    })
}

impl Client {
    /// Create a cluster from the first of `requests` RunPod places (each a whole request, all
    /// with one name). A 5xx or a cut connection is ambiguous: the cluster is looked up by name
    /// and adopted if it exists; capacity and pool refusals move on to the next request.
    pub async fn create_cluster_from(
        &self,
        requests: &[CreateClusterRequest],
    ) -> Result<ClusterOutcome> {
        let Some(first) = requests.first() else {
            return Err(Error::invalid_input(
                "no cluster request to create: give at least one GPU candidate",
            ));
        };
        let mut candidates = Vec::with_capacity(requests.len());
        for req in requests {
            validate_create_cluster(req)?;
            if req.name != first.name {
                return Err(Error::invalid_input(format!(
                    "every placement of one cluster must carry its name: {:?} and {:?} differ",
                    first.name, req.name
                )));
            }
            let compute = req
                .compute
                .as_ref()
                .map(|c| (c.gpu_type_id.clone(), c.gpu_count_per_pod));
            let (gpu_id, count) = compute.unwrap_or_default();
            candidates.push(GpuCandidate {
                gpu_id,
                count,
                data_center_ids: req.data_center_ids.clone(),
            });
        }
        let mut refusals = Vec::new();
        for (index, req) in requests.iter().enumerate() {
            let op = format!(
                "create cluster {} ({})",
                req.name,
                candidates[index].describe()
            );
            let body = serde_json::to_vec(req)
                .map_err(|e| Error::new(ErrorKind::Internal, format!("{op}: {e}")))?;
            let lookup = || async {
                Ok(self
                    .find_clusters_by_name(&req.name)
                    .await?
                    .into_iter()
                    .next())
            };
            match self
                .post_adopting(&op, "/clusters", &body, Created::cluster(&req.name), lookup)
                .await?
            {
                Placed::Made { value, adopted } => {
                    return Ok(ClusterOutcome {
                        cluster: value,
                        adopted,
                        candidate: index,
                    });
                }
                Placed::Refused(err) => refusals.push((index, err)),
            }
        }
        Err(super::create::all_refused(
            &format!("cluster {}", first.name),
            &candidates,
            refusals,
        ))
    }

    /// `GET /v2/clusters`: every cluster of the account.
    pub async fn list_clusters(&self) -> Result<Vec<Cluster>> {
        let op = "list clusters";
        let resp = self
            .send_retrying(op, Method::Get, "/clusters", None)
            .await?;
        Ok(Self::decode::<ListClusters>(op, &resp)?.clusters)
    }

    /// Clusters named exactly `name` (v2 has no name filter: filtered here).
    pub async fn find_clusters_by_name(&self, name: &str) -> Result<Vec<Cluster>> {
        let mut found = self.list_clusters().await?;
        found.retain(|c| c.name == name);
        Ok(found)
    }

    /// `GET /v2/clusters/{id}`.
    pub async fn get_cluster(&self, cluster_id: &str) -> Result<Cluster> {
        check_pod_id(cluster_id)?;
        let op = format!("get cluster {cluster_id}");
        let resp = self
            .send_retrying(&op, Method::Get, &format!("/clusters/{cluster_id}"), None)
            .await?;
        Self::decode(&op, &resp)
    }

    /// `GET /v2/clusters/{id}/pods`: the member pods, with their ranks.
    pub async fn cluster_pods(&self, cluster_id: &str) -> Result<Vec<Pod>> {
        check_pod_id(cluster_id)?;
        let op = format!("list the pods of cluster {cluster_id}");
        let path = format!("/clusters/{cluster_id}/pods");
        let resp = self.send_retrying(&op, Method::Get, &path, None).await?;
        Ok(Self::decode::<ListClusterPods>(&op, &resp)?.pods)
    }

    /// `DELETE /v2/clusters/{id}`: every member pod ends. A cluster already gone counts as
    /// deleted.
    pub async fn delete_cluster(&self, cluster_id: &str) -> Result<()> {
        check_pod_id(cluster_id)?;
        let op = format!("delete cluster {cluster_id}");
        let path = format!("/clusters/{cluster_id}");
        match self.send_retrying(&op, Method::Delete, &path, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `GET /v2/billing/clusters?clusterId=…`: billing records of one cluster.
    pub async fn cluster_billing(&self, cluster_id: &str) -> Result<Vec<ClusterBillingRecord>> {
        check_pod_id(cluster_id)?;
        let op = format!("read billing of cluster {cluster_id}");
        let path = format!("/billing/clusters?clusterId={cluster_id}");
        let resp = self.send_retrying(&op, Method::Get, &path, None).await?;
        Ok(Self::decode::<ListClusterBilling>(&op, &resp)?.records)
    }
}
