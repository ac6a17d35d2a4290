//! The pod requests of one attempt: one per GPU candidate, in the plan's order, each carrying
//! the deadline the job's remaining budget buys at that GPU's price (the bundle holds it, so
//! the pod's own watchdog enforces it), the CUDA its image needs, and a volume at `/workspace`
//! so that the pod's own state survives a container restart (RunPod wipes container disk).

use std::collections::BTreeMap;

use super::budget::{deadline_at, deadline_secs};
use super::plan::{GpuChoice, Plan};
use super::{Trainpod, pod_name};
use crate::error::Result;
use crate::runpod::{CreatePodRequest, GpuRequest, Mounts, NetworkMount, PersistentMount};
use crate::script::{Bundle, cuda_of_image, generate};
use crate::store::JobRecord;

/// Container disk for the pod, GB: the image's own layers and caches.
const CONTAINER_DISK_GB: u32 = 50;
/// The volume at `/workspace`, GB: the bundle, the dataset, checkpoints and the adapter, and
/// the pod's state (batch counter, final status), which must survive a container restart.
const WORKSPACE_VOLUME_GB: u32 = 50;
/// Where the volume is mounted: the pod's home is under it.
const WORKSPACE: &str = "/workspace";

/// One way to place the attempt's pod.
#[derive(Clone, Debug)]
pub(crate) struct Placement {
    /// The create request, with the bundle built for this placement's deadline.
    pub request: CreatePodRequest,
    /// The attempt's hard deadline if this placement is the one RunPod takes.
    pub deadline_unix: u64,
    /// The pod's price on this GPU, USD per hour.
    pub price_per_hour: f64,
    /// The GPU type.
    pub gpu_id: String,
    /// Pods: more than one is an Instant Cluster of this placement's pod, alike.
    pub nodes: u32,
}

impl Trainpod {
    /// The requests for attempt `job`, created at `now`, over `choices` (the plan's GPU and
    /// fallbacks, or what is left of them). Every script is generated here, so a value the pod
    /// would refuse fails before anything is created or stored.
    pub(crate) fn placements(
        &self,
        job: &JobRecord,
        plan: &Plan,
        choices: &[&GpuChoice],
        now: u64,
    ) -> Result<Vec<Placement>> {
        let remaining = job.budget_usd - job.spent_usd;
        choices
            .iter()
            .map(|choice| {
                let secs = deadline_secs(remaining, choice.price_per_hour, plan.spec.max_hours);
                let deadline_unix = deadline_at(now, secs)?;
                let attempt = JobRecord {
                    deadline_unix,
                    ..job.clone()
                };
                let mut script = self.pod_script(&attempt, plan, now)?;
                // Each GPU type is sized at its own count: the pod trains one process per GPU.
                script.runtime.gpus_per_node = choice.count;
                let bundle = generate(&script)?;
                let env = self.pod_environment(&bundle, job, plan)?;
                let request = CreatePodRequest {
                    name: pod_name(&job.id, job.attempt)?,
                    image: plan.image.clone(),
                    args: Some(bundle.start_command.clone()),
                    env,
                    cloud: Some(plan.spec.cloud),
                    disk: Some(CONTAINER_DISK_GB),
                    gpu: Some(GpuRequest {
                        id: choice.gpu_id.clone(),
                        count: choice.count,
                        min_cuda_version: cuda_of_image(&plan.image),
                    }),
                    data_center_ids: plan.spec.data_centers.clone(),
                    mounts: Some(self.mounts(plan)),
                    ..CreatePodRequest::default()
                };
                Ok(Placement {
                    request,
                    deadline_unix,
                    price_per_hour: choice.price_per_hour,
                    gpu_id: choice.gpu_id.clone(),
                    nodes: plan.spec.nodes,
                })
            })
            .collect()
    }

    /// The pod's whole environment: the operator's `pod_env`, then the bundle and the pod's
    /// home, which nothing may replace (`build` refuses those names in `pod_env`; they are
    /// written last all the same). Its size is bounded: RunPod keeps it with the pod and hands
    /// it to every process there.
    pub(crate) fn pod_environment(
        &self,
        bundle: &Bundle,
        job: &JobRecord,
        plan: &Plan,
    ) -> Result<BTreeMap<String, String>> {
        let mut env = self.pod_env.clone();
        env.extend(bundle.env.clone());
        if let Some(home) = self.pod_home(job, plan) {
            env.insert("TRAINPOD_HOME".into(), home);
        }
        super::pod_env::check_pod_environment(&env, bundle.bytes, &self.pod_env)?;
        Ok(env)
    }

    /// The job's network volume when its dataset is on one (it then holds `/workspace` or
    /// another path); else a volume of the pod's own at `/workspace`.
    fn mounts(&self, plan: &Plan) -> Mounts {
        match self.volume_mount(plan) {
            Some((volume_id, path)) => Mounts {
                network: vec![NetworkMount { volume_id, path }],
                ..Mounts::default()
            },
            None => Mounts {
                persistent: Some(PersistentMount {
                    size: WORKSPACE_VOLUME_GB,
                    path: WORKSPACE.into(),
                }),
                ..Mounts::default()
            },
        }
    }

    /// The pod's home on a network volume, which other jobs' pods mount too: a directory of
    /// the attempt's own, so that no two pods share a bundle or state. `None` on the pod's own
    /// volume, where the default (`/workspace/trainpod`) is the pod's alone.
    fn pod_home(&self, job: &JobRecord, plan: &Plan) -> Option<String> {
        let (_, path) = self.volume_mount(plan)?;
        Some(format!(
            "{}/trainpod/{}.{}",
            path.trim_end_matches('/'),
            job.id,
            job.attempt
        ))
    }
}
