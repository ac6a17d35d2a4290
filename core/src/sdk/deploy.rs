//! `deploy`, `cancel` and `retry`: where money is spent, so each is idempotent. A job is claimed
//! in the store (queued → provisioning) before its pod is created, the pod is named after the
//! job and attempt so an ambiguous create is found again, and a finished job is never redeployed
//! except by `retry`, as a new attempt with fresh tokens.

use serde::{Deserialize, Serialize};

use super::plan::Plan;
use super::status::JobStatus;
use super::{Routes, Trainpod, pod_name};
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::JobState;
use crate::runpod::{CreatePodRequest, GpuCandidate, Mounts, NetworkMount};
use crate::script::{
    Artifacts, DatasetSource, Endpoint, PodScript, RenderedScript, Secret, Training, generate,
    render,
};
use crate::store::JobRecord;
use crate::token::{IssueRequest, Purpose};

use super::spec::DatasetRef;

/// What a job row keeps of its deployment (`JobRecord::config`), so that `retry` can start
/// another attempt and `status` can show the plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct JobConfig {
    pub plan: Plan,
}

impl JobConfig {
    pub(crate) fn of(job: &JobRecord) -> Result<JobConfig> {
        serde_json::from_str(&job.config).map_err(|e| {
            Error::new(
                ErrorKind::InvalidState,
                format!(
                    "job {} was not deployed by this SDK (its stored plan is unreadable: {e}); \
                     deploy a new job",
                    job.id
                ),
            )
        })
    }
}

/// Where artifacts go on a network volume, under its mount: `<this>/<job>/<attempt>/`.
pub(crate) const VOLUME_ARTIFACTS: &str = "trainpod-artifacts";

/// A deploy that has not created its pod within this long may be taken over by another.
const CLAIM_SECS: u64 = 120;
/// Container disk for the pod, GB: the pinned stack, the model and checkpoints.
const CONTAINER_DISK_GB: u32 = 50;

impl Trainpod {
    /// Issues the job's tokens, generates its script and creates its pod (trying the plan's
    /// fallbacks in order), and records the job. Deploying the same plan again returns the job as
    /// it is: it never creates a second pod.
    pub async fn deploy(&self, plan: &Plan) -> Result<JobStatus> {
        loop {
            let now = self.clock.now_unix_secs();
            let job = match self.store.get_job(&plan.job_id).await? {
                Some(job) => job,
                None => {
                    self.store.insert_job(&self.new_record(plan, now)?).await?;
                    continue;
                }
            };
            if job.pod_id.is_some() {
                return self.status_of(&job).await;
            }
            if job.state.is_final() {
                return Err(Error::new(
                    ErrorKind::InvalidState,
                    format!(
                        "job {} has ended ({}); retry it to start a new attempt",
                        job.id, job.state
                    ),
                ));
            }
            let in_flight = job.state == JobState::Provisioning
                && now.saturating_sub(job.updated_at) < CLAIM_SECS;
            if in_flight {
                // Another deploy is creating the pod, or created it and failed to record it
                // (its store write failed, its process died): adopt the pod if it exists.
                return self.adopt_or_wait(job).await;
            }
            let claimed = JobRecord {
                state: JobState::Provisioning,
                updated_at: now,
                ..job.clone()
            };
            if self.store.update_job(&claimed, job.state).await? {
                return self.launch(claimed, &JobConfig::of(&job)?.plan).await;
            }
        }
    }

    /// Generates the pod's script for a stand-in first attempt, so that every value the pod
    /// gets (model, hyperparameters, URLs, runtime) is validated and the bundle's size checked
    /// at plan time rather than at deploy.
    pub(crate) fn check_pod_script(&self, plan: &Plan) -> Result<()> {
        generate(&self.probe_script(plan)?).map(|_| ())
    }

    /// The pod script `deploy` would generate for `plan`'s first attempt if it ran now: the
    /// start command, the env variables by name, the bundle's size and sha256, and every file
    /// the pod unpacks with its credentials replaced. Nothing is created or stored; the tokens
    /// issued for it never leave this call.
    pub fn render_script(&self, plan: &Plan) -> Result<RenderedScript> {
        render(&self.probe_script(plan)?)
    }

    /// The script of a stand-in first attempt created now.
    fn probe_script(&self, plan: &Plan) -> Result<PodScript> {
        let now = self.clock.now_unix_secs();
        let probe = self.new_record(plan, now)?;
        self.pod_script(&probe, plan, now)
    }

    async fn adopt_or_wait(&self, job: JobRecord) -> Result<JobStatus> {
        let name = pod_name(&job.id, job.attempt)?;
        let Some(pod) = self
            .runpod
            .find_pods_by_name(&name)
            .await?
            .into_iter()
            .next()
        else {
            return self.status_of(&job).await;
        };
        let now = self.clock.now_unix_secs();
        let adopted = JobRecord {
            pod_id: Some(pod.id),
            started_at: Some(job.updated_at),
            updated_at: now,
            ..job.clone()
        };
        if self.store.update_job(&adopted, job.state).await? {
            return self.status_of(&adopted).await;
        }
        self.status_of(&self.job(&job.id).await?).await
    }

    fn new_record(&self, plan: &Plan, now: u64) -> Result<JobRecord> {
        let config = serde_json::to_string(&JobConfig { plan: plan.clone() }).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("the plan did not serialize: {e}"),
            )
        })?;
        Ok(JobRecord {
            deadline_unix: now + plan.deadline_secs,
            budget_usd: plan.spec.budget_usd,
            price_per_hour: plan.gpu.price_per_hour,
            config: config.into(),
            ..JobRecord::new(&plan.job_id, &plan.spec.user, now)
        })
    }

    /// Creates the pod of the claimed attempt `job` and records it.
    async fn launch(&self, mut job: JobRecord, plan: &Plan) -> Result<JobStatus> {
        let now = self.clock.now_unix_secs();
        // The deadline runs from this attempt's pod creation.
        job.deadline_unix = now + plan.deadline_secs;
        let script = self.pod_script(&job, plan, now)?;
        let bundle = generate(&script)?;
        let mut env = bundle.env.clone();
        env.extend(self.pod_env.clone());
        let request = CreatePodRequest {
            name: pod_name(&job.id, job.attempt)?,
            image: plan.image.clone(),
            args: Some(bundle.start_command.clone()),
            env,
            cloud: Some(plan.spec.cloud),
            disk: Some(CONTAINER_DISK_GB),
            data_center_ids: plan.spec.data_centers.clone(),
            mounts: self.volume_mount(plan).map(|(volume_id, path)| Mounts {
                network: vec![NetworkMount { volume_id, path }],
                ..Mounts::default()
            }),
            ..CreatePodRequest::default()
        };
        let candidates: Vec<GpuCandidate> = std::iter::once(&plan.gpu)
            .chain(&plan.fallbacks)
            .map(|g| GpuCandidate {
                gpu_id: g.gpu_id.clone(),
                count: g.count,
                data_center_ids: plan.spec.data_centers.clone(),
            })
            .collect();
        let created = match self.runpod.create_pod(&request, &candidates).await {
            Ok(created) => created,
            Err(err) => {
                // Leave the job queued: deploying again looks the pod up by name first.
                let queued = JobRecord {
                    state: JobState::Queued,
                    ..job.clone()
                };
                self.store
                    .update_job(&queued, JobState::Provisioning)
                    .await?;
                return Err(err);
            }
        };
        let chosen = &candidates[created.candidate];
        let price = std::iter::once(&plan.gpu)
            .chain(&plan.fallbacks)
            .find(|g| g.gpu_id == chosen.gpu_id)
            .map_or(plan.gpu.price_per_hour, |g| g.price_per_hour);
        let next = JobRecord {
            pod_id: Some(created.pod.id.clone()),
            started_at: Some(now),
            updated_at: now,
            price_per_hour: if created.pod.cost > 0.0 {
                created.pod.cost
            } else {
                price
            },
            ..job.clone()
        };
        if !self.store.update_job(&next, job.state).await? {
            // The job moved meanwhile (cancelled): the pod must not live on.
            self.runpod.terminate_pod(&created.pod.id).await?;
            let current = self.job(&job.id).await?;
            return self.status_of(&current).await;
        }
        self.status_of(&next).await
    }

    /// The pod's config for attempt `job.attempt`: fresh tokens scoped to the job, attempt and
    /// dataset, each living until the deadline plus an hour for the final status and upload.
    fn pod_script(&self, job: &JobRecord, plan: &Plan, now: u64) -> Result<PodScript> {
        let ttl = (job.deadline_unix.saturating_sub(now) + 3600).min(7 * 24 * 3600);
        let token = |purpose: Purpose| -> Result<Secret> {
            let mut req = IssueRequest::new(purpose, &job.user, &job.id).ttl_secs(ttl);
            req.epoch = Some(job.attempt);
            Ok(Secret::from(&self.tokens.issue(&req)?.token))
        };
        let app = self.app_url.as_deref();
        let telemetry = match app {
            Some(app) => Some(Endpoint {
                url: Routes::url(app, &self.routes.metrics, &job.id, ""),
                token: token(Purpose::MetricsWrite)?,
            }),
            None => None,
        };
        let artifacts = match (app, &self.artifacts_dir, self.volume_mount(plan)) {
            (Some(app), Some(_), _) => Artifacts::App {
                url: Routes::url(app, &self.routes.artifacts, &job.id, ""),
                token: token(Purpose::ArtifactsWrite)?,
            },
            (_, _, Some((_, mount))) => Artifacts::Volume {
                path: format!("{mount}/{VOLUME_ARTIFACTS}"),
            },
            _ => Artifacts::None,
        };
        Ok(PodScript {
            version: 1,
            job_id: job.id.clone(),
            attempt: job.attempt,
            issued_at: now,
            deadline_unix: job.deadline_unix,
            telemetry,
            dataset: self.dataset_source(job, plan, ttl)?,
            training: Training::Sft {
                model: plan.spec.model.clone(),
                method: plan.spec.method,
                hyperparameters: plan.hyperparameters.clone(),
            },
            artifacts,
            runtime: self.runtime.clone(),
        })
    }

    /// The network volume a job's pod mounts (id, mount path), when its dataset is on one.
    pub(crate) fn volume_mount(&self, plan: &Plan) -> Option<(String, String)> {
        match (&plan.spec.dataset, &self.volume) {
            (DatasetRef::Volume { .. }, Some(v)) => Some((
                v.config().volume_id().to_owned(),
                v.config().mount_path().to_owned(),
            )),
            _ => None,
        }
    }

    fn dataset_source(&self, job: &JobRecord, plan: &Plan, ttl: u64) -> Result<DatasetSource> {
        match &plan.spec.dataset {
            DatasetRef::App { id } => {
                let (Some(app), Some(staging)) = (&self.app_url, &self.staging) else {
                    return Err(Error::invalid_input(
                        "an app-served dataset needs app_url(...) and datasets_dir(...) on the builder",
                    ));
                };
                let download = staging.signed_download_url(
                    app,
                    &job.id,
                    &job.user,
                    id,
                    Some(ttl.min(24 * 3600)),
                )?;
                if download.sha256 != plan.dataset.sha256 {
                    return Err(Error::new(
                        ErrorKind::DatasetInvalid,
                        format!("dataset {id} changed since it was planned; plan the job again"),
                    ));
                }
                Ok(DatasetSource::Url {
                    url: Routes::url(app, &self.routes.dataset, &job.id, id),
                    token: Some(Secret::from(&download.token)),
                    bytes: download.size,
                    sha256: download.sha256,
                })
            }
            DatasetRef::Bucket { key, bytes, sha256 } => {
                let bucket = self.bucket.as_ref().ok_or_else(|| {
                    Error::invalid_input("a bucket dataset needs bucket(...) on the builder")
                })?;
                // A fresh presigned GET per attempt, valid until the deadline (at most 7 days).
                let ttl = std::time::Duration::from_secs(ttl.min(7 * 24 * 3600));
                Ok(DatasetSource::Url {
                    url: bucket.presign_get(key, ttl)?.url,
                    token: None,
                    bytes: *bytes,
                    sha256: sha256.clone(),
                })
            }
            DatasetRef::Volume { key, bytes, sha256 } => {
                let volume = self.volume.as_ref().ok_or_else(|| {
                    Error::invalid_input(
                        "a network-volume dataset needs volume(...) on the builder",
                    )
                })?;
                Ok(DatasetSource::Path {
                    path: volume.config().path_in_pod(key),
                    bytes: *bytes,
                    sha256: sha256.clone(),
                })
            }
            DatasetRef::Url { url, bytes, sha256 } => Ok(DatasetSource::Url {
                url: url.clone(),
                token: None,
                bytes: *bytes,
                sha256: sha256.clone(),
            }),
        }
    }

    /// Terminates the job's pod and marks the job cancelled. Cancelling an ended job changes
    /// nothing and returns it as it is.
    pub async fn cancel(&self, job_id: &str) -> Result<JobStatus> {
        loop {
            let job = self.job(job_id).await?;
            if job.state.is_final() {
                return self.status_of(&job).await;
            }
            if let Some(pod) = &job.pod_id {
                self.terminate_quietly(pod).await?;
            }
            let now = self.clock.now_unix_secs();
            let next = JobRecord {
                state: JobState::Cancelled,
                reason: "cancelled".into(),
                updated_at: now,
                ..job.clone()
            };
            if self.store.update_job(&next, job.state).await? {
                return self.status_of(&next).await;
            }
        }
    }

    /// Starts a new attempt of an ended job (failed, cancelled, timed out, over budget): its old
    /// pod terminated, fresh tokens, a new pod. A succeeded job cannot be retried; a live one
    /// must be cancelled first.
    pub async fn retry(&self, job_id: &str) -> Result<JobStatus> {
        let job = self.job(job_id).await?;
        if !job.state.is_final() || job.state == JobState::Succeeded {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!(
                    "job {job_id} is {}: only a failed, cancelled, timed out or over-budget job can be \
                     retried{}",
                    job.state,
                    if job.state.is_final() {
                        ""
                    } else {
                        " (cancel it first)"
                    }
                ),
            ));
        }
        let plan = JobConfig::of(&job)?.plan;
        if let Some(pod) = &job.pod_id {
            self.terminate_quietly(pod).await?;
        }
        let now = self.clock.now_unix_secs();
        let next = JobRecord {
            attempt: job.attempt + 1,
            state: JobState::Provisioning,
            config: job.config.clone(),
            deadline_unix: now + plan.deadline_secs,
            budget_usd: job.budget_usd,
            price_per_hour: plan.gpu.price_per_hour,
            ..JobRecord::new(&job.id, &job.user, job.created_at)
        };
        let next = JobRecord {
            updated_at: now,
            ..next
        };
        if !self
            .store
            .begin_attempt(&next, job.state, job.attempt)
            .await?
        {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!(
                    "job {job_id} changed while it was being retried; read its status and try again"
                ),
            ));
        }
        self.launch(next, &plan).await
    }

    /// Terminates a pod; one already gone, or already terminated (409), is fine.
    pub(crate) async fn terminate_quietly(&self, pod_id: &str) -> Result<()> {
        match self.runpod.terminate_pod(pod_id).await {
            Err(e) if e.kind() == ErrorKind::NotFound || e.status() == Some(409) => Ok(()),
            other => other,
        }
    }
}
