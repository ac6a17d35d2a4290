//! The final bill: once a job has ended, what RunPod billed for each of its pods
//! (`GET /v2/billing/pods`, with the pod's own account's key) is summed and recorded beside the
//! plan's estimate, and the plan's calibration learns from it. RunPod bills every few minutes,
//! so the reconciler reads a job's bill some time after it ended.

use super::Trainpod;
use super::stored_plan::JobConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::ReconcileAction;
use crate::store::{BillSample, JobPodRecord, JobRecord};

/// Past this long after a job ended, a pod with no billing record is taken to have cost nothing
/// (it never started), rather than waited for.
const EMPTY_BILL_AFTER_SECS: u64 = 3600;
/// A job whose bill could not be read within this long after it ended is left unbilled.
const GIVE_UP_SECS: u64 = 7 * 24 * 3600;
/// Jobs billed per reconcile pass.
const BILLS_PER_PASS: u32 = 50;
/// How many recent bills the calibration uses.
const CALIBRATION_SAMPLES: u32 = 5;

impl Trainpod {
    /// Reads and records the bills of the jobs that ended at least `bill_after_secs` ago; one
    /// action per job billed (`billed`), or per job whose bill could not be read (`error`).
    pub(crate) async fn settle_bills(&self, now: u64) -> Vec<ReconcileAction> {
        let ended_before = now.saturating_sub(self.reconcile.bill_after_secs);
        let since = now.saturating_sub(GIVE_UP_SECS);
        let jobs = match self
            .store
            .unbilled_jobs(since, ended_before, BILLS_PER_PASS)
            .await
        {
            Ok(jobs) => jobs,
            Err(e) => return vec![billing_failed(None, &e)],
        };
        let mut actions = Vec::new();
        for job in jobs {
            match self.settle_bill(&job, now).await {
                Ok(true) => actions.push(ReconcileAction {
                    pod_id: job.pod_id.clone(),
                    job_id: Some(job.id.clone()),
                    reason: "billed",
                    job_state: None,
                    error: None,
                }),
                Ok(false) => {}
                Err(e) => actions.push(billing_failed(Some(&job), &e)),
            }
        }
        actions
    }

    /// One job's bill: `Ok(false)` when a pod's record is not in yet (the next pass tries
    /// again) or another instance recorded it first.
    async fn settle_bill(&self, job: &JobRecord, now: u64) -> Result<bool> {
        let mut pods = self.store.job_pods(&job.id).await?;
        if pods.is_empty() {
            // A job recorded before its pods were kept: its current pod is all there is.
            pods = job.pod_id.iter().map(|p| pod_of(job, p)).collect();
        }
        let mut billed = 0.0;
        for pod in &pods {
            let runpod = self.runpod_for(&pod.account).await?;
            let records: Vec<f64> = if pod.cluster {
                let records = runpod.cluster_billing(&pod.pod_id).await?;
                records.iter().map(|r| r.total_amount).collect()
            } else {
                let records = runpod.pod_billing(&pod.pod_id).await?;
                records.iter().map(|r| r.total_amount).collect()
            };
            if records.is_empty() && now.saturating_sub(job.updated_at) < EMPTY_BILL_AFTER_SECS {
                return Ok(false);
            }
            billed += records.iter().sum::<f64>();
        }
        if !(billed.is_finite() && billed >= 0.0) {
            return Err(Error::new(
                ErrorKind::ServerError,
                format!(
                    "RunPod's billing for job {} is not a cost: {billed}",
                    job.id
                ),
            ));
        }
        let sample = self.bill_sample(job, pods.len(), billed, now);
        self.store.record_bill(job, billed, sample.as_ref()).await
    }

    /// What the calibration learns from a bill: only a job with one pod (its plan estimated one
    /// attempt) and a stored plan.
    fn bill_sample(
        &self,
        job: &JobRecord,
        pods: usize,
        billed: f64,
        now: u64,
    ) -> Option<BillSample> {
        let plan = JobConfig::of(job).ok()?.plan;
        // Against the estimate before any calibration: a ratio learned from calibrated figures
        // would undo the calibration that made them.
        let calibrated_by = plan.estimate.billed_ratio.unwrap_or(1.0);
        let estimated = (plan.estimate.usd_low + plan.estimate.usd_high) / 2.0 / calibrated_by;
        let gpu_id = match job.gpu_id.as_str() {
            "" => plan.gpu.gpu_id.as_str(),
            rented => rented,
        };
        (pods == 1 && estimated > 0.0).then(|| BillSample {
            job: job.id.clone(),
            gpu_id: self.throughput_key(gpu_id),
            method: super::estimate::method_name(plan.spec.method).to_owned(),
            billed_usd: billed,
            estimated_usd: estimated,
            recorded_at: now,
        })
    }

    /// Billed over estimated for recent jobs on `gpu_id` with `method` (the median, bounded to
    /// 0.5-3 so that one odd job does not swing every plan), when there are any.
    pub(crate) async fn bill_ratio(&self, gpu_id: &str, method: &str) -> Result<Option<f64>> {
        let key = self.throughput_key(gpu_id);
        let mut ratios = self
            .store
            .bill_ratios(&key, method, CALIBRATION_SAMPLES)
            .await?;
        ratios.retain(|r| r.is_finite() && *r > 0.0);
        if ratios.is_empty() {
            return Ok(None);
        }
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        Ok(Some(median.clamp(0.5, 3.0)))
    }
}

fn pod_of(job: &JobRecord, pod: &str) -> JobPodRecord {
    JobPodRecord {
        pod_id: pod.to_owned(),
        job_id: job.id.clone(),
        attempt: job.attempt,
        account: job.account.clone(),
        created_at: job.started_at.unwrap_or(job.created_at),
        cluster: false,
    }
}

fn billing_failed(job: Option<&JobRecord>, e: &Error) -> ReconcileAction {
    ReconcileAction {
        pod_id: job.and_then(|j| j.pod_id.clone()),
        job_id: job.map(|j| j.id.clone()),
        reason: "error",
        job_state: None,
        error: Some(e.into()),
    }
}
