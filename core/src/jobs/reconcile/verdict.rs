//! Why a listed pod must go, and what its job becomes: a pure function of the pod, its job, the
//! time and the policy, so each rule is tested exactly.

use super::startup::Startup;
use super::{DEPLOY_CLAIM_SECS, ReconcilePolicy};
use crate::jobs::JobState;
use crate::runpod::{Pod, PodStatus};
use crate::store::JobRecord;

/// What to do with a pod that must go.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Verdict {
    /// The reason code: `orphan`, `job_ended`, `deadline`, `over_budget`, `stale_heartbeat`,
    /// `pod_stopped`, `cuda_unsupported`, `image_pull_failed`, `no_container`,
    /// `provision_timeout`.
    pub reason: &'static str,
    /// The state the job moves to, when it is live.
    pub next: Option<JobState>,
    /// What happened, in words, for the job's `cause`.
    pub cause: String,
}

impl Verdict {
    fn end(reason: &'static str, next: JobState, cause: String) -> Option<Verdict> {
        Some(Verdict {
            reason,
            next: Some(next),
            cause,
        })
    }

    fn only_pod(reason: &'static str) -> Option<Verdict> {
        Some(Verdict {
            reason,
            next: None,
            cause: String::new(),
        })
    }
}

/// Whether a pod of a live job has never shown a sign of life, so its startup is worth a look.
pub(crate) fn unreported(job: Option<&JobRecord>, pod: &Pod) -> bool {
    job.is_some_and(|j| {
        !j.state.is_final() && j.last_heartbeat.is_none() && j.pod_id.as_deref() == Some(&pod.id)
    })
}

/// The job's cost so far: earlier attempts, then this pod at the higher of the price recorded at
/// create and the one RunPod reports now.
pub(crate) fn cost_so_far(job: &JobRecord, pod_cost_per_hour: f64, now: u64) -> f64 {
    let started = job.started_at.unwrap_or(job.created_at);
    let hourly = job.price_per_hour.max(pod_cost_per_hour);
    job.spent_usd + hourly * now.saturating_sub(started) as f64 / 3600.0
}

/// Why `pod` must go, or `None` to leave it. `startup` is what its system log showed, for a pod
/// that has not reported yet.
pub(crate) fn verdict(
    pod: &Pod,
    job: Option<&JobRecord>,
    now: u64,
    p: &ReconcilePolicy,
    startup: Option<&Startup>,
) -> Option<Verdict> {
    let Some(job) = job else {
        return Verdict::only_pod("orphan");
    };
    if job.pod_id.as_deref() != Some(pod.id.as_str()) {
        // A deploy between its create and its record of the pod: not an orphan yet.
        let in_flight = job.pod_id.is_none()
            && job.state == JobState::Provisioning
            && now.saturating_sub(job.updated_at) < DEPLOY_CLAIM_SECS;
        return if in_flight {
            None
        } else {
            Verdict::only_pod("orphan")
        };
    }
    if job.state.is_final() {
        return Verdict::only_pod("job_ended");
    }
    if now >= job.deadline_unix {
        return Verdict::end(
            "deadline",
            JobState::TimedOut,
            "the job reached its hard deadline (what its budget buys) before it ended".into(),
        );
    }
    let cost = cost_so_far(job, pod.cost, now);
    if cost >= job.budget_usd {
        return Verdict::end(
            "over_budget",
            JobState::OverBudget,
            format!(
                "the job has cost ${cost:.2} of its ${:.2} budget",
                job.budget_usd
            ),
        );
    }
    if pod.status == PodStatus::Exited {
        return Verdict::end(
            "pod_stopped",
            JobState::Failed,
            "the pod was stopped outside trainpod (in the console, or by RunPod at a zero \
             balance): a stopped pod does not train and still bills its volume"
                .into(),
        );
    }
    let started = job.started_at.unwrap_or(job.created_at);
    match job.last_heartbeat {
        Some(last) if now.saturating_sub(last) > p.stale_after_secs => Verdict::end(
            "stale_heartbeat",
            JobState::Failed,
            format!(
                "the app received nothing from the pod for {} s (the limit is {} s): its \
                 training hung, or the pod cannot reach the app",
                now.saturating_sub(last),
                p.stale_after_secs
            ),
        ),
        Some(_) => None,
        None => never_reported(startup, now.saturating_sub(started), p),
    }
}

/// A pod of a live job that has not reported since its creation `waited` seconds ago.
fn never_reported(startup: Option<&Startup>, waited: u64, p: &ReconcilePolicy) -> Option<Verdict> {
    match startup {
        Some(s) if s.is_final() => Verdict::end(s.reason(), JobState::Failed, s.cause(waited)),
        Some(s) if waited > p.provision_timeout_secs => {
            Verdict::end(s.reason(), JobState::Failed, s.cause(waited))
        }
        None if waited > p.provision_timeout_secs => Verdict::end(
            "provision_timeout",
            JobState::Failed,
            format!(
                "the pod never reported in {waited} s (the limit is {} s): its container may \
                 be failing as it starts; read its log with logs()",
                p.provision_timeout_secs
            ),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "id": "p1", "name": "trainpod-j", "status": status, "cost": 0.5
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn job(now: u64) -> JobRecord {
        JobRecord {
            state: JobState::Training,
            pod_id: Some("p1".into()),
            deadline_unix: now + 3600,
            budget_usd: 10.0,
            price_per_hour: 1.0,
            started_at: Some(now - 100),
            last_heartbeat: Some(now - 10),
            ..JobRecord::new("j", "u", now - 100)
        }
    }

    const NOW: u64 = 1_000_000;

    fn reason(v: Option<Verdict>) -> Option<&'static str> {
        if let Some(Verdict {
            reason,
            next: Some(_),
            ..
        }) = &v
        {
            // A job ended here is told apart from a pod's own end by its reason.
            assert!(
                super::super::RECONCILER_REASONS.contains(reason),
                "{reason}"
            );
        }
        v.map(|v| v.reason)
    }

    #[test]
    fn a_healthy_job_keeps_its_pod() {
        let p = ReconcilePolicy::default();
        assert_eq!(
            verdict(&pod("RUNNING"), Some(&job(NOW)), NOW, &p, None),
            None
        );
    }

    #[test]
    fn the_budget_counts_earlier_attempts() {
        let p = ReconcilePolicy::default();
        let mut j = job(NOW);
        j.spent_usd = 9.99;
        let v = verdict(&pod("RUNNING"), Some(&j), NOW, &p, None);
        assert_eq!(reason(v.clone()), Some("over_budget"));
        assert!(v.is_some_and(|v| v.cause.contains("$10.00 budget")));
    }

    #[test]
    fn staleness_is_measured_from_what_the_app_received() {
        let p = ReconcilePolicy::default();
        let mut j = job(NOW);
        j.last_heartbeat = Some(NOW - p.stale_after_secs - 1);
        let v = verdict(&pod("RUNNING"), Some(&j), NOW, &p, None);
        assert_eq!(reason(v), Some("stale_heartbeat"));
    }

    #[test]
    fn a_stopped_pod_of_a_live_job_goes() {
        let p = ReconcilePolicy::default();
        let v = verdict(&pod("EXITED"), Some(&job(NOW)), NOW, &p, None);
        assert_eq!(reason(v), Some("pod_stopped"));
    }

    #[test]
    fn a_pod_that_never_reported_ends_at_once_on_a_final_cause_else_at_the_timeout() {
        let p = ReconcilePolicy::default();
        let mut j = job(NOW);
        j.last_heartbeat = None;
        let cuda = Startup::Cuda("\"cuda>=12.8\"".into());
        let v = verdict(&pod("RUNNING"), Some(&j), NOW, &p, Some(&cuda));
        assert_eq!(reason(v), Some("cuda_unsupported"));
        let pull = Startup::PullBackoff("\"toomanyrequests\"".into());
        let v = verdict(&pod("RUNNING"), Some(&j), NOW, &p, Some(&pull));
        assert_eq!(reason(v), Some("image_pull_failed"));
        let stuck = Startup::NoContainer;
        assert_eq!(
            verdict(&pod("RUNNING"), Some(&j), NOW, &p, Some(&stuck)),
            None
        );
        let late = NOW + p.provision_timeout_secs;
        let v = verdict(&pod("RUNNING"), Some(&j), late, &p, Some(&stuck));
        assert_eq!(reason(v), Some("no_container"));
        let v = verdict(&pod("RUNNING"), Some(&j), late, &p, None);
        assert_eq!(reason(v), Some("provision_timeout"));
    }

    #[test]
    fn a_deploy_in_flight_is_not_an_orphan_but_a_stale_claim_is() {
        let p = ReconcilePolicy::default();
        let mut j = job(NOW);
        j.pod_id = None;
        j.state = JobState::Provisioning;
        j.updated_at = NOW - 5;
        assert_eq!(verdict(&pod("RUNNING"), Some(&j), NOW, &p, None), None);
        j.updated_at = NOW - DEPLOY_CLAIM_SECS;
        let v = verdict(&pod("RUNNING"), Some(&j), NOW, &p, None);
        assert_eq!(reason(v), Some("orphan"));
    }
}
