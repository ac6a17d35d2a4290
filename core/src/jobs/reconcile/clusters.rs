//! Instant Clusters in the reconciler. A cluster trains only whole: any node that stops, never
//! starts, or is gone ends the whole cluster and its job, so every member pod is judged as the
//! job's pod would be, and the cluster is deleted as one. A cluster whose job is over, or of an
//! attempt that is not the job's current one, is an orphan.

use std::collections::HashMap;

use super::verdict::{Verdict, unreported, verdict};
use super::{LIST_GRACE_SECS, ReconcileAction, ReconcilePolicy, end_job, job_of_pod, startup};
use crate::error::Result;
use crate::jobs::JobState;
use crate::runpod::{Client, Cluster, Pod};
use crate::store::{JobRecord, PodActionRecord, Store};

/// trainpod's clusters on the account (named `trainpod-<job>[.<attempt>]`), by id.
pub(super) async fn trainpod_clusters(client: &Client) -> Result<HashMap<String, Cluster>> {
    Ok(client
        .list_clusters()
        .await?
        .into_iter()
        .filter(|c| job_of_pod(&c.name).is_some())
        .map(|c| (c.id.clone(), c))
        .collect())
}

/// The attempt a trainpod name is of: `trainpod-<job>` is the first, `trainpod-<job>.<n>` the
/// n-th.
fn attempt_of(name: &str) -> u32 {
    name.rsplit_once('.')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(1)
}

/// The job as its cluster's member `pod` is judged: when the cluster is the job's current
/// attempt's, the member stands for the job's pod (every node counts), else the job as it is
/// (the member is then an orphan, unless a deploy is recording it). Only the primary reports,
/// so a worker whose container does not run counts as never having reported: a node that never
/// starts ends the cluster within the provision timeout, as a pod that never starts would,
/// while the primary waits for it.
fn as_seen_by(job: &JobRecord, cluster: &Cluster, pod: &Pod) -> JobRecord {
    if attempt_of(&cluster.name) != job.attempt || job.pod_id.is_none() {
        return job.clone();
    }
    // The primary's own reports are the job's heartbeats; a worker's only sign is its container.
    let silent = job.pod_id.as_deref() != Some(pod.id.as_str()) && !pod.container_runs();
    JobRecord {
        pod_id: Some(pod.id.clone()),
        last_heartbeat: job.last_heartbeat.filter(|_| !silent),
        ..job.clone()
    }
}

/// One member pod of a trainpod cluster: if it must go, the whole cluster is deleted (once,
/// claimed under the cluster's id) and its job ended with the node named in the cause.
pub(super) async fn reconcile_member(
    client: &Client,
    store: &dyn Store,
    pod: &Pod,
    cluster: &Cluster,
    now: u64,
    policy: &ReconcilePolicy,
) -> Result<Option<ReconcileAction>> {
    let job_id = job_of_pod(&cluster.name).unwrap_or_default();
    let job = store.get_job(job_id).await?;
    let seen = job.as_ref().map(|j| as_seen_by(j, cluster, pod));
    let startup = if unreported(seen.as_ref(), pod) {
        startup::diagnose(client, pod).await
    } else {
        None
    };
    let Some(v) = verdict(pod, seen.as_ref(), now, policy, startup.as_ref()) else {
        return Ok(None);
    };
    let rank = pod.cluster.as_ref().and_then(|c| c.rank);
    let node = rank.map_or_else(
        || format!("pod {}", pod.id),
        |r| format!("node {r} ({})", pod.id),
    );
    let v = Verdict {
        cause: format!("{node} of cluster {}: {}", cluster.id, v.cause),
        ..v
    };
    end_cluster(client, store, cluster, job, &v, now, policy).await
}

/// A trainpod cluster with fewer pods than it was made with while its job is live (a node
/// deleted in the console, lost with its host, or ended by itself), or whose job is over or
/// unknown and which has no member left for [`reconcile_member`] to judge.
pub(super) async fn reconcile_cluster(
    client: &Client,
    store: &dyn Store,
    cluster: &Cluster,
    now: u64,
    policy: &ReconcilePolicy,
) -> Result<Option<ReconcileAction>> {
    let job_id = job_of_pod(&cluster.name).unwrap_or_default();
    let job = store.get_job(job_id).await?;
    let v = match &job {
        None => orphan("orphan"),
        Some(j) if attempt_of(&cluster.name) != j.attempt => orphan("orphan"),
        Some(j) if j.state.is_final() => orphan("job_ended"),
        Some(j) => {
            let young = j
                .started_at
                .is_none_or(|s| now.saturating_sub(s) < LIST_GRACE_SECS);
            let whole = cluster.pods.total >= cluster.compute.pod_count;
            if young || whole {
                return Ok(None);
            }
            Verdict {
                reason: "pod_vanished",
                next: Some(JobState::Failed),
                cause: format!(
                    "cluster {} has {} of its {} pods: a node is gone from RunPod (deleted in \
                     the console, lost with its host, or ended after failing), and a cluster \
                     trains only whole; retry the job",
                    cluster.id, cluster.pods.total, cluster.compute.pod_count
                ),
            }
        }
    };
    end_cluster(client, store, cluster, job, &v, now, policy).await
}

fn orphan(reason: &'static str) -> Verdict {
    Verdict {
        reason,
        next: None,
        cause: String::new(),
    }
}

/// Claims the cluster (once across instances), deletes it, and ends its live job.
async fn end_cluster(
    client: &Client,
    store: &dyn Store,
    cluster: &Cluster,
    job: Option<JobRecord>,
    v: &Verdict,
    now: u64,
    policy: &ReconcilePolicy,
) -> Result<Option<ReconcileAction>> {
    let claim = PodActionRecord {
        pod_id: cluster.id.clone(),
        job_id: job.as_ref().map(|j| j.id.clone()),
        action: "delete_cluster".into(),
        reason: v.reason.into(),
        acted_at: now,
    };
    if !store.claim_pod_action(&claim, policy.lease_secs).await? {
        return Ok(None);
    }
    // A cluster already gone counts as deleted (`delete_cluster` says so).
    client.delete_cluster(&cluster.id).await?;
    let current = job.filter(|j| attempt_of(&cluster.name) == j.attempt);
    let job_state = match (current, v.next) {
        (Some(job), Some(_)) => end_job(store, job, v, now).await?,
        _ => None,
    };
    Ok(Some(ReconcileAction {
        pod_id: Some(cluster.id.clone()),
        job_id: claim.job_id,
        reason: v.reason,
        job_state,
        error: None,
    }))
}
