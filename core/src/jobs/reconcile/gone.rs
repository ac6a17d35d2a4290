//! Live jobs with no listed pod. RunPod removes pods without being asked (deleted in the
//! console, lost with their host, ended at a zero balance), and a pod that ends itself after an
//! undelivered final status is gone too: each such job is ended, its cost settled from RunPod's
//! billing where it answers, so that no job stays open, and no cost keeps growing, without a pod.

use super::{DEPLOY_CLAIM_SECS, LIST_GRACE_SECS, ReconcileAction, ReconcilePolicy};
use crate::error::{ErrorKind, Result};
use crate::jobs::JobState;
use crate::runpod::{Client, PodStatus};
use crate::store::{JobRecord, PodActionRecord, Store};

/// A live job whose pod was not listed: ended when its pod is confirmed gone, or when the deploy
/// that claimed it stopped before recording a pod.
pub(super) async fn reconcile_job(
    client: &Client,
    store: &dyn Store,
    job: &JobRecord,
    now: u64,
    policy: &ReconcilePolicy,
) -> Result<Option<ReconcileAction>> {
    let Some(pod_id) = &job.pod_id else {
        return abandoned_deploy(store, job, now).await;
    };
    // A pod created a moment ago may not be listed yet.
    if job
        .started_at
        .is_some_and(|s| now.saturating_sub(s) < LIST_GRACE_SECS)
    {
        return Ok(None);
    }
    let Some(ended) = end_if_gone(client, store, job, now, policy.lease_secs).await? else {
        return Ok(None);
    };
    Ok(Some(ReconcileAction {
        pod_id: Some(pod_id.clone()),
        job_id: Some(job.id.clone()),
        reason: "pod_vanished",
        job_state: Some(ended.state),
        error: None,
    }))
}

/// Ends `job` (failed, `pod_vanished`, its cost settled) when RunPod no longer has its pod;
/// returns the ended row, or `None` when the pod is there, another instance is ending it, or a
/// writer moved the job first. `status` and `follow` call it too, when a job has gone quiet.
pub(crate) async fn end_if_gone(
    client: &Client,
    store: &dyn Store,
    job: &JobRecord,
    now: u64,
    lease_secs: u64,
) -> Result<Option<JobRecord>> {
    let Some(pod_id) = &job.pod_id else {
        return Ok(None);
    };
    match client.get_pod(pod_id).await {
        Ok(pod) if pod.status != PodStatus::Terminated => return Ok(None),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let claim = PodActionRecord {
        pod_id: pod_id.clone(),
        job_id: Some(job.id.clone()),
        action: "end_job".into(),
        reason: "pod_vanished".into(),
        acted_at: now,
    };
    if !store.claim_pod_action(&claim, lease_secs).await? {
        return Ok(None);
    }
    let cost = settled_cost(client, job, pod_id, now).await;
    let ended = JobRecord {
        state: JobState::Failed,
        reason: "pod_vanished".into(),
        cause: format!(
            "pod {pod_id} is gone from RunPod and the job never reported its end: the pod may \
             have ended itself while the app could not be reached, or been deleted in the \
             console, lost with its host, or ended by RunPod at a zero balance; retry the job"
        ),
        cost_usd: Some(cost),
        updated_at: now,
        ..job.clone()
    };
    Ok(store.update_job(&ended, job.state).await?.then_some(ended))
}

/// What the attempt's pod cost: RunPod's billing for it when it answers (billing stops when the
/// pod goes), else price x time until now, an upper bound.
async fn settled_cost(client: &Client, job: &JobRecord, pod_id: &str, now: u64) -> f64 {
    let started = job.started_at.unwrap_or(job.created_at);
    let bound = job.price_per_hour * now.saturating_sub(started) as f64 / 3600.0;
    match client.pod_billing(pod_id).await {
        Ok(records) if !records.is_empty() => {
            let billed: f64 = records.iter().map(|r| r.total_amount).sum();
            if billed.is_finite() && billed >= 0.0 {
                billed
            } else {
                bound
            }
        }
        _ => bound,
    }
}

/// A job claimed by a deploy (provisioning) that never recorded a pod, long after the claim
/// lapsed: the deploy stopped (its process died). Ended, so that nothing waits on it forever.
async fn abandoned_deploy(
    store: &dyn Store,
    job: &JobRecord,
    now: u64,
) -> Result<Option<ReconcileAction>> {
    let stale = job.state == JobState::Provisioning
        && now.saturating_sub(job.updated_at) >= 2 * DEPLOY_CLAIM_SECS;
    if !stale {
        return Ok(None);
    }
    let ended = JobRecord {
        state: JobState::Failed,
        reason: "deploy_abandoned".into(),
        cause: "the deploy that claimed this job stopped before its pod was recorded (its \
                process ended); any pod it made is ended as an orphan; retry the job"
            .into(),
        updated_at: now,
        ..job.clone()
    };
    let moved = store.update_job(&ended, job.state).await?;
    Ok(moved.then_some(ReconcileAction {
        pod_id: None,
        job_id: Some(job.id.clone()),
        reason: "deploy_abandoned",
        job_state: Some(JobState::Failed),
        error: None,
    }))
}
