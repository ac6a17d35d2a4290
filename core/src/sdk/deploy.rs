//! `deploy`: where money is spent, so it is idempotent, and it runs only the plan that `plan`
//! stored with the job. A job is claimed in the store (queued → provisioning) before its pod is
//! created, the pod is named after the job and attempt so an ambiguous create is found again, and
//! a finished job is never redeployed except by `retry` (`attempts.rs`), as a new attempt with
//! fresh tokens.

use super::placement::Placement;
use super::plan::{GpuChoice, Plan};
use super::status::JobStatus;
use super::stored_plan::{JobConfig, job_record};
use super::{Routes, Trainpod, pod_name};
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::JobState;
use crate::script::{
    Artifacts, CheckpointFile, DatasetSource, Endpoint, PodRuntime, PodScript, RenderedScript,
    Resume, Secret, Training, generate, render,
};
use crate::store::JobRecord;
use crate::token::{IssueRequest, Purpose};

use super::spec::{DatasetRef, JobSpec};

/// Where artifacts go on a network volume, under its mount: `<this>/<job>/<attempt>/`.
pub(crate) const VOLUME_ARTIFACTS: &str = "trainpod-artifacts";

impl Trainpod {
    /// Deploys the plan that [`Self::plan`] stored with job `plan.job_id`: issues the job's
    /// tokens, generates its script and creates its pod (trying the plan's fallbacks in order),
    /// and records the pod. A `plan` that differs from the stored one (edited after it was made)
    /// is `INVALID_INPUT`, and a job never planned `NOT_FOUND`; either way nothing is created or
    /// changed. Deploying the same plan again returns the job as it is: it never creates a
    /// second pod.
    pub async fn deploy(&self, plan: &Plan) -> Result<JobStatus> {
        loop {
            let now = self.clock.now_unix_secs();
            let job = self.planned_job(plan).await?;
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
                && now.saturating_sub(job.updated_at) < crate::jobs::DEPLOY_CLAIM_SECS;
            if in_flight {
                // Another deploy is creating the pod, or created it and failed to record it
                // (its store write failed, its process died): adopt the pod if it exists.
                return self.adopt_or_wait(job).await;
            }
            // The stored plan, which `plan` equals; every script is made before the claim, so a
            // refusal leaves the job as it was.
            let plan = JobConfig::of(&job)?.plan;
            self.warm_dataset_digest(&plan).await?;
            let placements = self.placements(&job, &plan, &choices(&plan), now)?;
            let claimed = JobRecord {
                state: JobState::Provisioning,
                updated_at: now,
                ..job.clone()
            };
            if self.store.update_job(&claimed, job.state).await? {
                return self.launch(claimed, &job, placements).await;
            }
        }
    }

    /// Reads the app-served dataset's digest (from memory, the store, or the file on the
    /// blocking pool) before the pod script, made synchronously, needs it.
    pub(crate) async fn warm_dataset_digest(&self, plan: &Plan) -> Result<()> {
        let datasets = std::iter::once(&plan.spec.dataset).chain(&plan.spec.eval_dataset);
        for dataset in datasets {
            if let (DatasetRef::App { id }, Some(staging)) = (dataset, &self.staging) {
                staging.digest(id).await?;
            }
        }
        Ok(())
    }

    /// Generates the pod's script for a stand-in first attempt, so that every value the pod
    /// gets (model, hyperparameters, URLs, runtime) is validated and the bundle's size checked
    /// at plan time rather than at deploy.
    pub(crate) fn check_pod_script(&self, plan: &Plan) -> Result<()> {
        let now = self.clock.now_unix_secs();
        let probe = job_record(plan, now)?;
        let bundle = generate(&self.pod_script(&probe, plan, now)?)?;
        // The pod's whole environment, the bundle and pod_env together, is bounded too.
        self.pod_environment(&bundle, &probe, plan).map(|_| ())
    }

    /// The pod script `deploy` would generate for `plan`'s first attempt if it ran now: the
    /// start command, the env variables by name, the bundle's size and sha256, and every file
    /// the pod unpacks with its credentials replaced. Nothing is created or stored; the tokens
    /// issued for it never leave this call. It renders the plan given, as it is: `deploy`
    /// would refuse one that differs from the plan stored with its job. An app-served
    /// dataset's digest is read off the calling thread first.
    pub async fn render_script(&self, plan: &Plan) -> Result<RenderedScript> {
        self.warm_dataset_digest(plan).await?;
        render(&self.probe_script(plan)?)
    }

    /// The script of a stand-in first attempt created now.
    fn probe_script(&self, plan: &Plan) -> Result<PodScript> {
        let now = self.clock.now_unix_secs();
        let probe = job_record(plan, now)?;
        self.pod_script(&probe, plan, now)
    }

    async fn adopt_or_wait(&self, job: JobRecord) -> Result<JobStatus> {
        let Some(pod_id) = self.adopt(&job).await? else {
            return self.status_of(&job).await;
        };
        let now = self.clock.now_unix_secs();
        let adopted = JobRecord {
            pod_id: Some(pod_id),
            started_at: Some(job.updated_at),
            updated_at: now,
            ..job.clone()
        };
        if self.store.update_job(&adopted, job.state).await? {
            return self.status_of(&adopted).await;
        }
        self.status_of(&self.job(&job.id).await?).await
    }

    /// The attempt's pod (a cluster's primary, for a job of several nodes) found by name and
    /// kept with the job; `None` when RunPod has none.
    async fn adopt(&self, job: &JobRecord) -> Result<Option<String>> {
        let name = pod_name(&job.id, job.attempt)?;
        let nodes = JobConfig::of(job).map_or(1, |c| c.plan.spec.nodes);
        if nodes > 1 {
            return self.adopt_cluster(job, &name).await;
        }
        let runpod = self.runpod_for(&job.account).await?;
        let Some(pod) = runpod.find_pods_by_name(&name).await?.into_iter().next() else {
            return Ok(None);
        };
        let now = self.clock.now_unix_secs();
        self.keep_job_pod(job, &pod.id, now).await?;
        Ok(Some(pod.id))
    }

    /// Creates the pod of the claimed attempt `claimed` from the first placement RunPod takes,
    /// and records it with the deadline and price of the GPU actually rented. When every
    /// placement is refused the job goes back to `before`, as it was before the claim.
    pub(crate) async fn launch(
        &self,
        claimed: JobRecord,
        before: &JobRecord,
        placements: Vec<Placement>,
    ) -> Result<JobStatus> {
        if let Some(nodes) = placements.first().map(|p| p.nodes).filter(|n| *n > 1) {
            return self
                .launch_cluster(claimed, before, placements, nodes)
                .await;
        }
        let requests: Vec<_> = placements.iter().map(|p| p.request.clone()).collect();
        let runpod = match self.runpod_for(&claimed.account).await {
            Ok(runpod) => runpod,
            Err(err) => {
                self.restore(&claimed, before).await?;
                return Err(err);
            }
        };
        let created = match runpod.create_pod_from(&requests).await {
            Ok(created) => created,
            Err(err) => {
                // Deploying or retrying again looks the pod up by name first.
                self.restore(&claimed, before).await?;
                return Err(err);
            }
        };
        let chosen = &placements[created.candidate];
        let now = self.clock.now_unix_secs();
        let pod = &created.pod;
        // Kept before the job names it, so that no pod of the job escapes its final bill.
        self.keep_job_pod(&claimed, &pod.id, now).await?;
        let next = JobRecord {
            pod_id: Some(pod.id.clone()),
            started_at: Some(now),
            updated_at: now,
            deadline_unix: chosen.deadline_unix,
            price_per_hour: if pod.cost > 0.0 {
                pod.cost
            } else {
                chosen.price_per_hour
            },
            gpu_id: chosen.gpu_id.clone(),
            data_center_id: pod.data_center_id.clone().unwrap_or_default(),
            ..claimed.clone()
        };
        if !self.store.update_job(&next, claimed.state).await? {
            // The job moved meanwhile (cancelled): the pod must not live on.
            runpod.terminate_pod(&pod.id).await?;
            let current = self.job(&claimed.id).await?;
            return self.status_of(&current).await;
        }
        self.status_of(&next).await
    }

    /// Puts a claimed job back as it was before its claim (a deploy's queued row, or a retried
    /// job's previous attempt), unless another writer moved it meanwhile.
    pub(crate) async fn restore(&self, claimed: &JobRecord, before: &JobRecord) -> Result<()> {
        if claimed.attempt == before.attempt {
            self.store.update_job(before, claimed.state).await?;
        } else {
            self.store
                .begin_attempt(before, claimed.state, claimed.attempt)
                .await?;
        }
        Ok(())
    }

    /// The pod's config for attempt `job.attempt`: fresh tokens scoped to the job, attempt and
    /// dataset, each living until the deadline plus an hour for the final status and upload.
    pub(crate) fn pod_script(&self, job: &JobRecord, plan: &Plan, now: u64) -> Result<PodScript> {
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
        let resume = self.resume_for(job, &artifacts);
        Ok(PodScript {
            version: 1,
            job_id: job.id.clone(),
            attempt: job.attempt,
            issued_at: now,
            deadline_unix: job.deadline_unix,
            telemetry,
            dataset: self.dataset_source(job, &plan.spec.dataset, &plan.dataset.sha256, ttl)?,
            eval_dataset: match (&plan.spec.eval_dataset, &plan.eval_dataset) {
                (Some(eval), Some(summary)) => {
                    Some(self.dataset_source(job, eval, &summary.sha256, ttl)?)
                }
                _ => None,
            },
            training: Training::Sft {
                model: plan.spec.model.clone(),
                method: plan.spec.method,
                hyperparameters: plan.hyperparameters.clone(),
                dataset_format: plan.dataset.format,
                eval_dataset_format: plan.eval_dataset.as_ref().and_then(|d| d.format),
            },
            artifacts,
            // The builder's runtime says how pods run; how many train this job is the plan's.
            runtime: PodRuntime {
                nodes: plan.spec.nodes,
                // The plan's GPU count; a fallback placed at another count sets its own.
                gpus_per_node: plan.gpu.count,
                // On the job's network volume the caches outlive the job: the next job there
                // finds its model (and uv) without downloading them again.
                cache_dir: self.runtime.cache_dir.clone().or_else(|| {
                    self.volume_mount(plan)
                        .map(|(_, mount)| format!("{}/trainpod/cache", mount.trim_end_matches('/')))
                }),
                ..self.runtime.clone()
            },
            resume,
        })
    }

    /// Where attempt `job.attempt` resumes from: the newest checkpoint an earlier attempt sent
    /// to the app, or whatever the volume holds (the pod looks); nothing for a first attempt or
    /// artifacts kept nowhere durable.
    fn resume_for(&self, job: &JobRecord, artifacts: &Artifacts) -> Option<Resume> {
        if job.attempt < 2 {
            return None;
        }
        match artifacts {
            Artifacts::App { url, .. } => {
                let kept = self.newest_checkpoint(&job.id, job.attempt)?;
                Some(Resume::App {
                    step: kept.step,
                    url: format!("{url}/files/checkpoints/{}/{}", kept.attempt, kept.step),
                    files: kept
                        .files
                        .into_iter()
                        .map(|f| CheckpointFile {
                            path: f.path,
                            size: f.size,
                            sha256: f.sha256,
                        })
                        .collect(),
                })
            }
            Artifacts::Volume { .. } => Some(Resume::Volume),
            Artifacts::None | Artifacts::Hub { .. } => None,
        }
    }

    /// The network volume a job's pod mounts (id, mount path), when its dataset is on one.
    pub(crate) fn volume_mount(&self, plan: &Plan) -> Option<(String, String)> {
        self.volume_mount_of(&plan.spec)
    }

    /// [`Self::volume_mount`] of a spec.
    pub(crate) fn volume_mount_of(&self, spec: &JobSpec) -> Option<(String, String)> {
        match (&spec.dataset, &self.volume) {
            (DatasetRef::Volume { .. }, Some(v)) => Some((
                v.config().volume_id().to_owned(),
                v.config().mount_path().to_owned(),
            )),
            _ => None,
        }
    }

    /// Where the pod finds `dataset`, which `plan` found with `planned_sha256`.
    fn dataset_source(
        &self,
        job: &JobRecord,
        dataset: &DatasetRef,
        planned_sha256: &str,
        ttl: u64,
    ) -> Result<DatasetSource> {
        match dataset {
            DatasetRef::App { id } => {
                let (Some(app), Some(staging)) = (&self.app_url, &self.staging) else {
                    return Err(Error::invalid_input(
                        "an app-served dataset needs app_url(...) and datasets_dir(...) on the builder",
                    ));
                };
                let download = staging.signed_download_url_for(
                    app,
                    &job.id,
                    &job.user,
                    id,
                    Some(ttl.min(24 * 3600)),
                    Some(job.attempt),
                )?;
                if download.sha256 != planned_sha256 {
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
}

/// The plan's GPU and its fallbacks, in order.
pub(crate) fn choices(plan: &Plan) -> Vec<&GpuChoice> {
    std::iter::once(&plan.gpu).chain(&plan.fallbacks).collect()
}
