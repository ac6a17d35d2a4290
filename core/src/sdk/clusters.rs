//! Jobs of several nodes: one RunPod Instant Cluster per attempt, created from the same
//! placements a pod would be, kept with the job (as a cluster, for its bill), and ended as one.
//! The job's pod is the cluster's primary (rank 0), which reports, uploads and sends the final
//! status; the other nodes only train.

use super::Trainpod;
use super::placement::Placement;
use super::status::JobStatus;
use crate::error::{Error, ErrorKind, Result};
use crate::runpod::{
    Client, Cluster, ClusterCompute, ClusterType, CreateClusterRequest, CreatePodRequest,
};
use crate::store::JobRecord;

/// The cluster request of a placement: the pod request's container, on `nodes` pods alike.
/// Clusters take no cloud or CUDA floor (the v2 `CreateClusterRequest` has neither).
pub(crate) fn cluster_request(pod: &CreatePodRequest, nodes: u32) -> Result<CreateClusterRequest> {
    let gpu = pod
        .gpu
        .as_ref()
        .ok_or_else(|| Error::new(ErrorKind::Internal, "a cluster placement has no GPU"))?;
    Ok(CreateClusterRequest {
        name: pod.name.clone(),
        kind: Some(ClusterType::Training),
        compute: Some(ClusterCompute {
            gpu_type_id: gpu.id.clone(),
            gpu_count_per_pod: gpu.count,
            pod_count: nodes,
        }),
        image: pod.image.clone(),
        args: pod.args.clone(),
        disk: pod.disk,
        ports: pod.ports.clone(),
        env: pod.env.clone(),
        data_center_ids: pod.data_center_ids.clone(),
        mounts: pod.mounts.clone(),
    })
}

impl Trainpod {
    /// Creates the cluster of the claimed attempt from the first placement RunPod takes and
    /// records it, its primary as the job's pod. When every placement is refused the job goes
    /// back to `before`.
    pub(crate) async fn launch_cluster(
        &self,
        claimed: JobRecord,
        before: &JobRecord,
        placements: Vec<Placement>,
        nodes: u32,
    ) -> Result<JobStatus> {
        let made = async {
            let requests = placements
                .iter()
                .map(|p| cluster_request(&p.request, nodes))
                .collect::<Result<Vec<_>>>()?;
            let runpod = self.runpod_for(&claimed.account).await?;
            let created = runpod.create_cluster_from(&requests).await?;
            Ok::<_, Error>((runpod, created))
        };
        let (runpod, created) = match made.await {
            Ok(made) => made,
            Err(err) => {
                // Deploying or retrying again looks the cluster up by name first.
                self.restore(&claimed, before).await?;
                return Err(err);
            }
        };
        let now = self.clock.now_unix_secs();
        let cluster = &created.cluster;
        // Kept before the job names it, so that no cluster of the job escapes its bill or end.
        self.keep_job_compute(&claimed, &cluster.id, true, now)
            .await?;
        let chosen = &placements[created.candidate];
        let primary = primary_pod(&runpod, cluster).await?;
        let next = JobRecord {
            pod_id: Some(primary),
            started_at: Some(now),
            updated_at: now,
            deadline_unix: chosen.deadline_unix,
            price_per_hour: chosen.price_per_hour,
            gpu_id: chosen.gpu_id.clone(),
            data_center_id: cluster.data_center_id.clone().unwrap_or_default(),
            ..claimed.clone()
        };
        if !self.store.update_job(&next, claimed.state).await? {
            // The job moved meanwhile (cancelled): the cluster must not live on.
            runpod.delete_cluster(&cluster.id).await?;
            let current = self.job(&claimed.id).await?;
            return self.status_of(&current).await;
        }
        self.status_of(&next).await
    }

    /// The cluster of the job's current attempt, when it runs on one.
    pub(crate) async fn job_cluster(&self, job: &JobRecord) -> Result<Option<String>> {
        Ok(self
            .store
            .job_pods(&job.id)
            .await?
            .into_iter()
            .filter(|p| p.cluster && p.attempt == job.attempt)
            .map(|p| p.pod_id)
            .next_back())
    }

    /// Ends what the job's current attempt runs on: its cluster, else its pod. One already
    /// gone, or already terminated (409), is fine.
    pub(crate) async fn end_compute(&self, job: &JobRecord) -> Result<()> {
        if let Some(cluster) = self.job_cluster(job).await? {
            return self
                .runpod_for(&job.account)
                .await?
                .delete_cluster(&cluster)
                .await;
        }
        let Some(pod) = &job.pod_id else {
            return Ok(());
        };
        let runpod = self.runpod_for(&job.account).await?;
        crate::jobs::terminate_gone_ok(&runpod, pod).await
    }

    /// The attempt's cluster found by name after a deploy that stopped before recording it:
    /// kept with the job, and its primary returned.
    pub(crate) async fn adopt_cluster(
        &self,
        job: &JobRecord,
        name: &str,
    ) -> Result<Option<String>> {
        let runpod = self.runpod_for(&job.account).await?;
        let Some(cluster) = runpod.find_clusters_by_name(name).await?.into_iter().next() else {
            return Ok(None);
        };
        let now = self.clock.now_unix_secs();
        self.keep_job_compute(job, &cluster.id, true, now).await?;
        primary_pod(&runpod, &cluster).await.map(Some)
    }
}

/// The cluster's primary (rank 0) pod: named by the cluster once placed, else found among its
/// pods by rank.
async fn primary_pod(runpod: &Client, cluster: &Cluster) -> Result<String> {
    if let Some(primary) = &cluster.primary {
        return Ok(primary.pod_id.clone());
    }
    let pods = runpod.cluster_pods(&cluster.id).await?;
    let rank0 = pods
        .iter()
        .find(|p| p.cluster.as_ref().and_then(|c| c.rank) == Some(0));
    rank0.or(pods.first()).map(|p| p.id.clone()).ok_or_else(|| {
        Error::new(
            ErrorKind::ServerError,
            format!(
                "cluster {} was created with no pods yet; deploy again to record its primary \
                 (the cluster is kept with the job and ended with it)",
                cluster.id
            ),
        )
    })
}
