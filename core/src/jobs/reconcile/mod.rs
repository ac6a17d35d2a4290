//! `reconcile`: the backstop that ends pods nobody should be paying for, and jobs whose pod is
//! gone. It lists trainpod's pods on each account with jobs and terminates any whose job is gone or over,
//! past its deadline, over its budget, silent too long, stopped, or never started; then it ends
//! every live job whose pod RunPod no longer has (deleted in the console, lost with its host,
//! ended at a zero balance, or ended by itself with its final status undelivered). Each action
//! is claimed in the store first, so several app instances reconciling at once act once; one
//! failing pod or job is reported and the pass goes on.

mod clusters;
mod gone;
mod startup;
mod verdict;

pub(crate) use gone::end_if_gone;

use std::collections::HashSet;

use super::state::JobState;
use crate::error::{Error, ErrorKind, Result};
use crate::runpod::{Client, Pod, PodFilter, PodStatus};
use crate::store::{JobRecord, PodActionRecord, Store};

use verdict::{Verdict, unreported, verdict};

/// The reasons a job ended by trainpod's own checks carries (the reconciler's verdicts, and a
/// pod found gone by `reconcile`, `status` or `follow`): what tells them from a pod's own final
/// status, whose reason is one of [`crate::jobs::POD_REASONS`] (`deadline` is in both: a pod's
/// final status also carries its exit code).
pub const RECONCILER_REASONS: &[&str] = &[
    "deadline",
    "over_budget",
    "stale_heartbeat",
    "pod_stopped",
    "cuda_unsupported",
    "image_pull_failed",
    "no_container",
    "provision_timeout",
    "pod_vanished",
    "deploy_abandoned",
];

/// Pods trainpod creates are named `trainpod-<job id>`.
pub const POD_PREFIX: &str = "trainpod-";

/// A deploy that has not recorded its pod within this long may be taken over by another, and
/// its job's pod-less state is no longer "in flight".
pub const DEPLOY_CLAIM_SECS: u64 = 120;

/// A pod created this recently may not be listed yet: its job is not judged gone before.
pub(crate) const LIST_GRACE_SECS: u64 = 60;

/// The job id in a trainpod pod name (`trainpod-<job>`, or `trainpod-<job>.<attempt>` for a
/// retried job's later attempts), if it is one.
pub fn job_of_pod(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(POD_PREFIX)?;
    Some(rest.split_once('.').map_or(rest, |(job, _)| job))
}

/// When a pod counts as abandoned.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcilePolicy {
    /// Nothing received from the pod for this long once it has reported: terminate (default
    /// 10 minutes). Measured from when the app received the pod's last batch, never from a time
    /// the pod sent.
    pub stale_after_secs: u64,
    /// Never reported this long after creation (a stuck host, a container that fails as it
    /// starts, a pull that never ends): terminate (default 15 minutes). A cause that waiting
    /// cannot mend (the host's CUDA below the image's, an image that does not exist, a pull
    /// Docker Hub refuses) ends the pod at the first pass that reads it in the pod's log.
    pub provision_timeout_secs: u64,
    /// How long a claim on a pod holds before another instance may act again (default 60 s).
    pub lease_secs: u64,
    /// Opt-in: a pod that never started (`cuda_unsupported`, `image_pull_failed`,
    /// `no_container`, `provision_timeout`) is followed by a new attempt on the plan's next GPU
    /// or data center, within what is left of the job's budget (default off).
    pub retry_unstarted: bool,
    /// Opt-in: a job whose pod went away or fell silent mid-run (`pod_vanished`, including a
    /// cluster that lost a node, and `stale_heartbeat`) gets a new attempt that resumes from
    /// its newest checkpoint, within what is left of its budget (default off).
    #[serde(default)]
    pub retry_interrupted: bool,
    /// How long after a job ended its bill is read from RunPod's billing (default 10 minutes:
    /// RunPod bills every 5).
    pub bill_after_secs: u64,
}

impl Default for ReconcilePolicy {
    fn default() -> Self {
        ReconcilePolicy {
            stale_after_secs: 600,
            provision_timeout_secs: 900,
            lease_secs: 60,
            retry_unstarted: false,
            retry_interrupted: false,
            bill_after_secs: 600,
        }
    }
}

/// An action `reconcile` could not complete; the next pass tries it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileError {
    /// The stable error code (`NOT_FOUND`, `SERVER_ERROR`, `STORE_UNAVAILABLE`, ...).
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
}

impl From<&Error> for ReconcileError {
    fn from(e: &Error) -> Self {
        ReconcileError {
            code: e.code(),
            message: e.message().to_owned(),
        }
    }
}

/// What `reconcile` did to one pod or job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileAction {
    /// The pod terminated, or the job's pod found gone; `None` for a job that never got one.
    pub pod_id: Option<String>,
    /// Its job, when it has one.
    pub job_id: Option<String>,
    /// `orphan`, `job_ended`, `deadline`, `over_budget`, `stale_heartbeat`, `pod_stopped`,
    /// `cuda_unsupported`, `image_pull_failed`, `no_container`, `provision_timeout`,
    /// `pod_vanished`, `deploy_abandoned`; `error` when the pod or job could not be looked at;
    /// `account_unavailable` for a job whose RunPod account could not be reached this pass;
    /// `billed` for a job whose final bill was read; `webhooks` when the webhook delivery that
    /// ends the SDK's pass failed (its store).
    pub reason: &'static str,
    /// The state the job was moved to, if it was live.
    pub job_state: Option<JobState>,
    /// Set when the action failed (the pod may still bill: the next pass tries again).
    pub error: Option<ReconcileError>,
}

impl ReconcileAction {
    fn failed(
        pod_id: Option<String>,
        job_id: Option<String>,
        reason: &'static str,
        e: &Error,
    ) -> Self {
        ReconcileAction {
            pod_id,
            job_id,
            reason,
            job_state: None,
            error: Some(e.into()),
        }
    }
}

/// Lists trainpod's pods and terminates the ones that must go, then ends the live jobs whose pod
/// is gone; returns what it did, an error on each action that failed. Only a pass that cannot
/// list the pods at all fails as a whole. One account: every live job is taken to be on it.
pub async fn reconcile(
    client: &Client,
    store: &dyn Store,
    now: u64,
    policy: &ReconcilePolicy,
) -> Result<Vec<ReconcileAction>> {
    let mut actions = Vec::new();
    let live = store.live_jobs().await;
    reconcile_account(client, store, live, now, policy, &mut actions).await?;
    Ok(actions)
}

/// [`reconcile`] on one account, with `live` its live jobs (or the store's failure to list
/// them): actions go to `out`; `Err` only when the account's pods cannot be listed.
pub(crate) async fn reconcile_account(
    client: &Client,
    store: &dyn Store,
    live: Result<Vec<JobRecord>>,
    now: u64,
    policy: &ReconcilePolicy,
    out: &mut Vec<ReconcileAction>,
) -> Result<()> {
    let every = PodFilter {
        include_cluster_pods: true,
        ..PodFilter::default()
    };
    let pods = client.list_pods_filtered(&every).await?;
    let clusters = clusters::trainpod_clusters(client).await?;
    let mut listed = HashSet::new();
    let mut ended = HashSet::new();
    for pod in pods {
        if pod.status == PodStatus::Terminated {
            continue;
        }
        let of_cluster = pod.cluster.as_ref().map(|c| clusters.get(&c.id));
        let (job_id, result) = match of_cluster {
            // Another's cluster, or one deleted since it was listed.
            Some(None) => continue,
            Some(Some(cluster)) if ended.contains(&cluster.id) => {
                listed.insert(pod.id.clone());
                continue;
            }
            Some(Some(cluster)) => {
                listed.insert(pod.id.clone());
                let result =
                    clusters::reconcile_member(client, store, &pod, cluster, now, policy).await;
                if matches!(result, Ok(Some(_))) {
                    ended.insert(cluster.id.clone());
                }
                (job_of_pod(&cluster.name), result)
            }
            None => {
                let Some(job_id) = job_of_pod(&pod.name) else {
                    continue;
                };
                listed.insert(pod.id.clone());
                let result = reconcile_pod(client, store, &pod, job_id, now, policy).await;
                (Some(job_id), result)
            }
        };
        match result {
            Ok(Some(action)) => out.push(action),
            Ok(None) => {}
            Err(e) => out.push(ReconcileAction::failed(
                Some(pod.id.clone()),
                job_id.map(str::to_owned),
                "error",
                &e,
            )),
        }
    }
    for cluster in clusters.values().filter(|c| !ended.contains(&c.id)) {
        match clusters::reconcile_cluster(client, store, cluster, now, policy).await {
            Ok(Some(action)) => out.push(action),
            Ok(None) => {}
            Err(e) => out.push(ReconcileAction::failed(
                Some(cluster.id.clone()),
                job_of_pod(&cluster.name).map(str::to_owned),
                "error",
                &e,
            )),
        }
    }
    let live = match live {
        Ok(live) => live,
        Err(e) => {
            out.push(ReconcileAction::failed(None, None, "error", &e));
            return Ok(());
        }
    };
    let acted: HashSet<&str> = out.iter().filter_map(|a| a.job_id.as_deref()).collect();
    let live: Vec<JobRecord> = live
        .into_iter()
        .filter(|j| !acted.contains(j.id.as_str()))
        .collect();
    for job in live {
        if job.pod_id.as_ref().is_some_and(|p| listed.contains(p)) {
            continue;
        }
        match gone::reconcile_job(client, store, &job, now, policy).await {
            Ok(Some(action)) => out.push(action),
            Ok(None) => {}
            Err(e) => out.push(ReconcileAction::failed(
                job.pod_id.clone(),
                Some(job.id.clone()),
                "error",
                &e,
            )),
        }
    }
    Ok(())
}

/// What an account that could not be reached (its key refused or missing, RunPod or the app's
/// secrets store down) leaves unmanaged this pass: one action per live job of it, or one for
/// the account when it has none. Their pods still end themselves at their deadlines.
pub(crate) fn account_unavailable(
    account: &str,
    live: &[JobRecord],
    e: &Error,
) -> Vec<ReconcileAction> {
    let named = if account.is_empty() {
        "the builder's own RunPod account".to_owned()
    } else {
        format!("RunPod account {}", crate::error::quote(account))
    };
    let e = Error::new(
        e.kind(),
        format!(
            "{named} could not be reconciled: {}; its jobs' pods still end themselves at their \
             deadlines, and the next pass tries again",
            e.message()
        ),
    );
    let jobs: Vec<&JobRecord> = live.iter().filter(|j| j.account == account).collect();
    if jobs.is_empty() {
        return vec![ReconcileAction::failed(
            None,
            None,
            "account_unavailable",
            &e,
        )];
    }
    jobs.into_iter()
        .map(|j| {
            ReconcileAction::failed(
                j.pod_id.clone(),
                Some(j.id.clone()),
                "account_unavailable",
                &e,
            )
        })
        .collect()
}

/// One listed pod of trainpod's: its verdict, and if it must go, the claim, the terminate and
/// its job's end.
async fn reconcile_pod(
    client: &Client,
    store: &dyn Store,
    pod: &Pod,
    job_id: &str,
    now: u64,
    policy: &ReconcilePolicy,
) -> Result<Option<ReconcileAction>> {
    let job = store.get_job(job_id).await?;
    let startup = if unreported(job.as_ref(), pod) {
        startup::diagnose(client, pod).await
    } else {
        None
    };
    let Some(v) = verdict(pod, job.as_ref(), now, policy, startup.as_ref()) else {
        return Ok(None);
    };
    let claim = PodActionRecord {
        pod_id: pod.id.clone(),
        job_id: job.as_ref().map(|j| j.id.clone()),
        action: "terminate".into(),
        reason: v.reason.into(),
        acted_at: now,
    };
    if !store.claim_pod_action(&claim, policy.lease_secs).await? {
        return Ok(None); // another instance is on it
    }
    terminate_gone_ok(client, &pod.id).await?;
    let job_state = match (job, v.next) {
        (Some(job), Some(_)) => end_job(store, job, &v, now).await?,
        _ => None,
    };
    Ok(Some(ReconcileAction {
        pod_id: Some(pod.id.clone()),
        job_id: claim.job_id,
        reason: v.reason,
        job_state,
        error: None,
    }))
}

/// Terminates a pod; one already gone (404) or terminated (409) is what was wanted.
pub(crate) async fn terminate_gone_ok(client: &Client, pod_id: &str) -> Result<()> {
    match client.terminate_pod(pod_id).await {
        Err(e) if e.kind() == ErrorKind::NotFound || e.status() == Some(409) => Ok(()),
        other => other,
    }
}

/// Moves a live job to the verdict's state with its reason and cause; a writer that moved the
/// job meanwhile (a final status arriving) wins. Returns the state written, if it was.
async fn end_job(
    store: &dyn Store,
    job: JobRecord,
    v: &Verdict,
    now: u64,
) -> Result<Option<JobState>> {
    let Some(next) = v.next else {
        return Ok(None);
    };
    let expected = job.state;
    let ended = JobRecord {
        state: next,
        reason: v.reason.into(),
        cause: v.cause.clone(),
        updated_at: now,
        ..job
    };
    Ok(store.update_job(&ended, expected).await?.then_some(next))
}
