//! Which changes of a job's row are webhook events, and the payload each carries.
//!
//! The store calls [`messages`] with the row before and after every write, inside the write, so
//! an event is queued exactly when its change is committed (the outbox). Only the job's current
//! attempt makes events: a retry's new attempt starts from nothing (its pod is `job.deployed`
//! again), and a row put back to an earlier attempt (a retry refused) makes none.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::jobs::{JobState, RECONCILER_REASONS};
use crate::store::JobRecord;

/// A job's pod was recorded: it is being created and bills from now.
pub const JOB_DEPLOYED: &str = "job.deployed";
/// A job reached training (its first optimizer step, or a later stage in the same batch).
pub const JOB_TRAINING_STARTED: &str = "job.training_started";

/// Every event type trainpod sends: `job.deployed`, `job.training_started`, then one per final
/// state, `job.<state>`.
pub const EVENT_TYPES: &[&str] = &[
    JOB_DEPLOYED,
    JOB_TRAINING_STARTED,
    "job.succeeded",
    "job.failed",
    "job.cancelled",
    "job.timed_out",
    "job.over_budget",
];

/// A webhook's body: Standard Webhooks' `{"type", "timestamp", "data"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WebhookEvent {
    /// What happened: `job.deployed`, `job.training_started`, `job.succeeded`, `job.failed`,
    /// `job.cancelled`, `job.timed_out` or `job.over_budget` (a string, so that a receiver
    /// built for this version reads the events of a later one).
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it happened (RFC 3339, UTC); each delivery's own time is in `webhook-timestamp`.
    pub timestamp: String,
    /// The job as the change left it.
    pub data: WebhookJob,
}

/// The job in a webhook event, as the change that made the event left it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WebhookJob {
    /// The job id.
    pub job_id: String,
    /// The user the job belongs to.
    pub user: String,
    /// The RunPod account it runs on (`""`: the builder's own key).
    #[serde(default)]
    pub account: String,
    /// The attempt, from 1.
    pub attempt: u32,
    /// Where the job is.
    pub state: JobState,
    /// Why it ended, when it did not succeed: a stable code (the failed stage, `deadline`,
    /// `cancelled`, `pod_vanished`, `stale_heartbeat`, ...); empty otherwise.
    pub reason: String,
    /// What happened, in plain words; empty while the job runs as it should.
    pub cause: String,
    /// The stage the pod last reported; empty before it reported one.
    pub stage: String,
    /// The pod's exit code, once its final status arrived.
    pub exit_code: Option<i64>,
    /// The attempt's pod, once created.
    pub pod_id: Option<String>,
    /// The GPU type the attempt's pod was placed on; empty before it has one.
    pub gpu_id: String,
    /// What the job had cost across its attempts when this happened, USD (RunPod's billing
    /// for a pod that went away, else price x time).
    pub cost_usd: f64,
    /// The job's budget, USD.
    pub budget_usd: f64,
    /// Who ended the job, on a final event: `pod` (its final status, or its container
    /// restarting), `request` (`cancel`) or `reconciler` (trainpod's checks: a deadline, the
    /// budget, silence, a pod that never started or that RunPod no longer has); `None` before.
    pub ended_by: Option<String>,
}

/// What the store knew of a row before a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Before {
    pub state: JobState,
    pub attempt: u32,
    pub has_pod: bool,
}

impl Before {
    pub(crate) fn of(job: &JobRecord) -> Before {
        Before {
            state: job.state,
            attempt: job.attempt,
            has_pod: job.pod_id.is_some(),
        }
    }
}

/// An event to queue: its message id (the `webhook-id` of every delivery of it), its type and
/// its body.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Queued {
    pub id: String,
    pub job_id: String,
    pub attempt: u32,
    pub event_type: &'static str,
    pub payload: String,
    pub created_at: u64,
}

/// The event types of the change from `before` (`None`: a row written from nothing) to `after`.
pub(crate) fn event_types(before: Option<Before>, after: &JobRecord) -> Vec<&'static str> {
    let fresh = Before {
        state: JobState::Queued,
        attempt: after.attempt,
        has_pod: false,
    };
    let before = match before {
        Some(b) if b.attempt == after.attempt => b,
        // An earlier attempt put back: nothing happened to the job.
        Some(b) if b.attempt > after.attempt => return Vec::new(),
        _ => fresh,
    };
    let mut out = Vec::new();
    if !before.has_pod && after.pod_id.is_some() {
        out.push(JOB_DEPLOYED);
    }
    // A batch may carry the training stage and the next one at once: training still began.
    let training = matches!(after.state, JobState::Training | JobState::Uploading);
    if before.state < JobState::Training && training {
        out.push(JOB_TRAINING_STARTED);
    }
    if !before.state.is_final() && after.state.is_final() {
        out.push(final_type(after.state));
    }
    out
}

fn final_type(state: JobState) -> &'static str {
    match state {
        JobState::Succeeded => "job.succeeded",
        JobState::Cancelled => "job.cancelled",
        JobState::TimedOut => "job.timed_out",
        JobState::OverBudget => "job.over_budget",
        _ => "job.failed",
    }
}

/// Who ended a job in a final state. A pod's final status carries its exit code, which the
/// reconciler's end never does; `deadline` is a reason of both.
pub(crate) fn ended_by(job: &JobRecord) -> &'static str {
    match job.state {
        JobState::Cancelled => "request",
        JobState::Succeeded => "pod",
        _ if job.exit_code.is_some() => "pod",
        _ if RECONCILER_REASONS.contains(&job.reason.as_str()) => "reconciler",
        // A pod's stage, `container_restarted` or `unknown`.
        _ => "pod",
    }
}

/// What the job had cost when the row was written: earlier attempts, then this one's settled
/// cost or its price for the time its pod ran (the rule of `status`'s `cost_usd`).
fn cost_usd(job: &JobRecord) -> f64 {
    let attempt = job.cost_usd.unwrap_or_else(|| {
        let ran = job
            .started_at
            .map_or(0, |start| job.updated_at.saturating_sub(start));
        job.price_per_hour * ran as f64 / 3600.0
    });
    job.spent_usd + attempt
}

/// The event of type `event_type` for the row `job`.
pub(crate) fn event(event_type: &str, job: &JobRecord) -> WebhookEvent {
    let ended = job.state.is_final() && event_type == final_type(job.state);
    WebhookEvent {
        event_type: event_type.to_owned(),
        timestamp: crate::clock::rfc3339(job.updated_at),
        data: WebhookJob {
            job_id: job.id.clone(),
            user: job.user.clone(),
            account: job.account.clone(),
            attempt: job.attempt,
            state: job.state,
            reason: job.reason.clone(),
            cause: job.cause.clone(),
            stage: job.stage.clone(),
            exit_code: job.exit_code,
            pod_id: job.pod_id.clone(),
            gpu_id: job.gpu_id.clone(),
            cost_usd: cost_usd(job),
            budget_usd: job.budget_usd,
            ended_by: ended.then(|| ended_by(job).to_owned()),
        },
    }
}

/// A new message id, `msg_<32 hex digits>`: random, so ids never repeat across jobs, stores or
/// app instances.
pub(crate) fn message_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// The messages to queue for the change from `before` to `after`, in the order they happened.
pub(crate) fn messages(before: Option<Before>, after: &JobRecord) -> Vec<Queued> {
    event_types(before, after)
        .into_iter()
        .map(|event_type| Queued {
            id: message_id(),
            job_id: after.id.clone(),
            attempt: after.attempt,
            event_type,
            // A plain struct of strings and numbers: serializing it cannot fail.
            payload: serde_json::to_string(&event(event_type, after)).unwrap_or_default(),
            created_at: after.updated_at,
        })
        .collect()
}

/// Parses a webhook's body (verified first) as a trainpod event.
pub fn parse_event(body: &[u8]) -> Result<WebhookEvent> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorKind::WebhookMalformed,
            format!(
                "the webhook's body is not a trainpod event ({}); was it sent by trainpod?",
                e.classify_name()
            ),
        )
    })
}

trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "a field is missing or of another type",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: JobState, pod: bool) -> JobRecord {
        JobRecord {
            state,
            pod_id: pod.then(|| "pod-1".to_owned()),
            started_at: Some(1_000),
            updated_at: 4_600,
            price_per_hour: 2.0,
            spent_usd: 0.5,
            budget_usd: 10.0,
            ..JobRecord::new("j", "u", 1_000)
        }
    }

    fn before(state: JobState, pod: bool) -> Option<Before> {
        Some(Before::of(&job(state, pod)))
    }

    #[test]
    fn each_transition_makes_its_events_once() {
        use JobState::*;
        let cases: &[(Option<Before>, JobRecord, &[&str])] = &[
            (None, job(Queued, false), &[]),
            (before(Queued, false), job(Provisioning, false), &[]),
            (
                before(Provisioning, false),
                job(Provisioning, true),
                &[JOB_DEPLOYED],
            ),
            (before(Provisioning, true), job(Provisioning, true), &[]),
            (
                before(Starting, true),
                job(Training, true),
                &[JOB_TRAINING_STARTED],
            ),
            (
                before(Downloading, true),
                job(Uploading, true),
                &[JOB_TRAINING_STARTED],
            ),
            (before(Training, true), job(Training, true), &[]),
            (before(Training, true), job(Uploading, true), &[]),
            (
                before(Uploading, true),
                job(Succeeded, true),
                &["job.succeeded"],
            ),
            (
                before(Provisioning, false),
                job(Cancelled, false),
                &["job.cancelled"],
            ),
            (
                before(Training, true),
                job(TimedOut, true),
                &["job.timed_out"],
            ),
            (
                before(Training, true),
                job(OverBudget, true),
                &["job.over_budget"],
            ),
            (before(Failed, true), job(Failed, true), &[]),
            (
                None,
                job(Training, true),
                &[JOB_DEPLOYED, JOB_TRAINING_STARTED],
            ),
        ];
        for (b, after, want) in cases {
            assert_eq!(event_types(*b, after), *want, "{b:?} -> {:?}", after.state);
        }
    }

    #[test]
    fn a_new_attempt_starts_from_nothing_and_a_restored_one_makes_none() {
        let retried = JobRecord {
            attempt: 2,
            ..job(JobState::Provisioning, true)
        };
        assert_eq!(
            event_types(before(JobState::Failed, true), &retried),
            [JOB_DEPLOYED]
        );
        let restored = job(JobState::Failed, true);
        let claimed = Before {
            attempt: 2,
            ..Before::of(&job(JobState::Provisioning, false))
        };
        assert!(event_types(Some(claimed), &restored).is_empty());
    }

    #[test]
    fn a_final_event_says_who_ended_the_job() {
        let ended = |state, reason: &str, exit_code| JobRecord {
            reason: reason.into(),
            exit_code,
            ..job(state, true)
        };
        use JobState::*;
        assert_eq!(ended_by(&ended(Succeeded, "", Some(0))), "pod");
        assert_eq!(ended_by(&ended(Cancelled, "cancelled", None)), "request");
        assert_eq!(ended_by(&ended(TimedOut, "deadline", Some(124))), "pod");
        assert_eq!(ended_by(&ended(TimedOut, "deadline", None)), "reconciler");
        assert_eq!(ended_by(&ended(Failed, "dataset", Some(1))), "pod");
        assert_eq!(ended_by(&ended(Failed, "container_restarted", None)), "pod");
        for reason in RECONCILER_REASONS {
            assert_eq!(ended_by(&ended(Failed, reason, None)), "reconciler");
        }
    }

    #[test]
    fn the_payload_is_the_standard_envelope_with_the_job() {
        let j = JobRecord {
            reason: "stale_heartbeat".into(),
            cause: "silent".into(),
            ..job(JobState::Failed, true)
        };
        let m = messages(before(JobState::Training, true), &j);
        assert_eq!(m.len(), 1);
        assert!(m[0].id.starts_with("msg_") && m[0].id.len() == 36);
        let value: serde_json::Value = serde_json::from_str(&m[0].payload).unwrap_or_default();
        assert_eq!(value["type"], "job.failed");
        assert_eq!(value["timestamp"], "1970-01-01T01:16:40Z");
        assert_eq!(value["data"]["ended_by"], "reconciler");
        assert_eq!(value["data"]["cost_usd"], 2.5);
        assert_eq!(value["data"]["pod_id"], "pod-1");
        let parsed = parse_event(m[0].payload.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed, event("job.failed", &j));
        assert_ne!(messages(None, &j)[0].id, m[0].id, "ids are unique");
        let err = parse_event(b"{\"type\":1}").err().map(|e| e.kind());
        assert_eq!(err, Some(ErrorKind::WebhookMalformed));
    }
}
