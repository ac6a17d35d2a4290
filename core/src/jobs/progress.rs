//! Folds a batch's events into what the job's status needs: the furthest state reached, step,
//! loss, ETA, the latest sign of life, and the final status when the pod sent it.

use base64::Engine;
use serde_json::Value;

use super::batch::Event;
use super::state::JobState;

/// How a pod says its job ended.
#[derive(Clone, Debug, PartialEq)]
pub struct FinalStatus {
    /// `Succeeded`, `Failed` or `TimedOut`.
    pub state: JobState,
    /// The stage the pod was in when it ended.
    pub stage: String,
    /// The stage that failed, `deadline` or `container_restarted` ([`POD_REASONS`]); any other
    /// text the pod sent is [`UNKNOWN_REASON`]. Empty on success.
    pub reason: String,
    /// The bootstrap's exit code.
    pub exit_code: i64,
    /// What went wrong, in words.
    pub cause: String,
    /// The end of the pod's log (at most 20 KB).
    pub log_tail: String,
}

/// What a batch says about its job.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// The state the job moves to (never backwards from the one it was in).
    pub state: Option<JobState>,
    /// The stage the pod last reported.
    pub stage: Option<String>,
    /// Optimizer steps done.
    pub step: Option<u64>,
    /// Steps in the run.
    pub max_steps: Option<u64>,
    /// The latest training loss.
    pub loss: Option<f64>,
    /// The latest held-out loss (a `log` event's `eval_loss`), or the one the run ended with
    /// (the `result` event's).
    pub eval_loss: Option<f64>,
    /// Seconds of training left, as the trainer estimates.
    pub eta_s: Option<f64>,
    /// The latest event time (Unix seconds): the job's last sign of life.
    pub last_event_at: Option<f64>,
    /// The final status, when the batch carries it: the pod is done and must be terminated.
    pub final_status: Option<FinalStatus>,
    /// Seconds the training itself took, from the trainer's `result` event.
    pub train_runtime_s: Option<f64>,
}

/// The state a stage event moves a job to. The training stage begins with loading the model
/// (downloading it, often for minutes): a pod that says so (`awaits_first_step`) is `training`
/// only from its first optimizer step, so that progress and ETAs are honest.
fn stage_state(e: &Event) -> Option<JobState> {
    match e.stage.as_deref()? {
        "preflight" | "dependencies" => Some(JobState::Starting),
        // The dataset, the model (from the Hub into its cache) and a checkpoint to resume from
        // are all downloads.
        "dataset" | "model" | "resume" => Some(JobState::Downloading),
        "training" if e.data.get("awaits_first_step") == Some(&Value::Bool(true)) => None,
        "training" => Some(JobState::Training),
        "uploading" => Some(JobState::Uploading),
        _ => None,
    }
}

/// Training has taken a step: the trainer's progress, logs and results name it.
fn stepped(e: &Event) -> Option<JobState> {
    let step = number(e, "step").or_else(|| number(e, "steps"))?;
    (step >= 1.0).then_some(JobState::Training)
}

fn number(e: &Event, key: &str) -> Option<f64> {
    e.data.get(key).and_then(Value::as_f64)
}

fn text(e: &Event, key: &str) -> String {
    e.data
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn decoded(e: &Event, key: &str) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text(e, key))
        .unwrap_or_default();
    String::from_utf8_lossy(&raw).into_owned()
}

/// The reasons a pod gives for its end (`docs/pod-protocol.md`): the stage it was in, the
/// deadline, or a restarted container. A reason is a code that apps match on and show, so it
/// is only ever one of these: a pod's free text goes to the cause.
pub const POD_REASONS: &[&str] = &[
    "init",
    "preflight",
    "dependencies",
    "dataset",
    "model",
    "resume",
    "training",
    "uploading",
    "deadline",
    "container_restarted",
];

/// The reason kept for a final status whose reason is none of [`POD_REASONS`].
pub const UNKNOWN_REASON: &str = "unknown";

/// The reason code for what the pod sent: itself when known, empty when none was sent.
fn reason_code(sent: &str) -> String {
    match POD_REASONS.iter().find(|r| **r == sent) {
        Some(known) => (*known).to_owned(),
        None if sent.is_empty() => String::new(),
        None => UNKNOWN_REASON.to_owned(),
    }
}

fn final_status(e: &Event) -> FinalStatus {
    let reason = reason_code(&text(e, "reason"));
    let state = match (text(e, "status").as_str(), reason.as_str()) {
        ("succeeded", _) => JobState::Succeeded,
        (_, "deadline") => JobState::TimedOut,
        _ => JobState::Failed,
    };
    FinalStatus {
        state,
        stage: e.stage.clone().unwrap_or_default(),
        reason,
        exit_code: e
            .data
            .get("exit_code")
            .and_then(Value::as_i64)
            .unwrap_or(-1),
        cause: decoded(e, "cause_b64"),
        log_tail: decoded(e, "log_tail_b64"),
    }
}

/// Folds `events` for a job currently in `current`.
pub fn fold(current: JobState, events: &[Event]) -> Progress {
    let mut p = Progress::default();
    let mut state = current;
    for e in events {
        p.last_event_at = Some(p.last_event_at.map_or(e.ts, |t| t.max(e.ts)));
        if matches!(e.kind.as_str(), "stage" | "final") && e.stage.is_some() {
            p.stage.clone_from(&e.stage);
        }
        let next = match e.kind.as_str() {
            "stage" => stage_state(e),
            "progress" | "log" | "trained" | "result" => stepped(e),
            "final" => {
                let f = final_status(e);
                let s = f.state;
                p.final_status = Some(f);
                Some(s)
            }
            _ => None,
        };
        if let Some(next) = next.filter(|n| state.can_move_to(*n)) {
            state = next;
        }
        if let Some(v) = number(e, "step") {
            p.step = Some(v as u64);
        }
        if let Some(v) = number(e, "max_steps") {
            p.max_steps = Some(v as u64);
        }
        if let Some(v) = number(e, "loss") {
            p.loss = Some(v);
        }
        if let Some(v) = number(e, "eval_loss") {
            p.eval_loss = Some(v);
        }
        if let Some(v) = number(e, "eta_s") {
            p.eta_s = Some(v);
        }
        if e.kind == "result" {
            p.train_runtime_s = number(e, "runtime_s").filter(|s| *s > 0.0);
        }
    }
    p.state = (state != current).then_some(state);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::parse_batch;

    fn events(json: &str) -> Vec<Event> {
        parse_batch(format!(r#"{{"job":"j","attempt":1,"batch":1,"events":[{json}]}}"#).as_bytes())
            .unwrap()
            .events
    }

    #[test]
    fn stages_logs_and_the_final_status_fold_in_order() {
        let e = events(
            r#"{"n":1,"source":"bootstrap","type":"stage","stage":"training","ts":10,"data":{}},
               {"n":2,"source":"trainer","type":"log","ts":11,"data":{"step":4,"max_steps":6,"loss":1.5}},
               {"n":3,"source":"bootstrap","type":"final","stage":"training","ts":12,
                "data":{"status":"failed","reason":"deadline","exit_code":124,
                        "cause_b64":"dGltZQ==","log_tail_b64":"bG9n"}}"#,
        );
        let p = fold(JobState::Provisioning, &e);
        assert_eq!(p.state, Some(JobState::TimedOut));
        assert_eq!((p.step, p.max_steps, p.loss), (Some(4), Some(6), Some(1.5)));
        assert_eq!(p.last_event_at, Some(12.0));
        let f = p.final_status.unwrap();
        assert_eq!(
            (f.exit_code, f.cause.as_str(), f.log_tail.as_str()),
            (124, "time", "log")
        );
    }

    #[test]
    fn a_job_trains_from_its_first_step_when_its_pod_loads_a_model_first() {
        let loading = events(
            r#"{"n":1,"source":"bootstrap","type":"stage","stage":"training","ts":1,"data":{"awaits_first_step":true}}"#,
        );
        let p = fold(JobState::Downloading, &loading);
        assert_eq!((p.state, p.stage.as_deref()), (None, Some("training")));
        let step = events(
            r#"{"n":2,"source":"trainer","type":"progress","ts":2,"data":{"step":1,"max_steps":9}}"#,
        );
        assert_eq!(
            fold(JobState::Downloading, &step).state,
            Some(JobState::Training)
        );
        // A custom command has no steps: its training stage is training at once.
        let command =
            events(r#"{"n":1,"source":"bootstrap","type":"stage","stage":"training","ts":1}"#);
        assert_eq!(
            fold(JobState::Downloading, &command).state,
            Some(JobState::Training)
        );
    }

    #[test]
    fn a_reason_is_a_known_code_and_anything_else_is_unknown() {
        let with_reason = |reason: &str| {
            let data = serde_json::json!({"status": "failed", "reason": reason, "exit_code": 1});
            let e = events(&format!(
                r#"{{"n":1,"source":"bootstrap","type":"final","stage":"dataset","ts":1,"data":{data}}}"#
            ));
            fold(JobState::Training, &e).final_status.unwrap().reason
        };
        for known in POD_REASONS {
            assert_eq!(with_reason(known), *known);
        }
        for sent in [
            "<script>alert(1)</script>",
            "dataset\n\u{1b}[2J",
            "Dataset",
            "pod_vanished",
            &"x".repeat(5000),
        ] {
            assert_eq!(with_reason(sent), UNKNOWN_REASON, "{sent:?}");
        }
    }

    #[test]
    fn a_late_stage_never_moves_a_job_back() {
        let e = events(r#"{"n":1,"source":"bootstrap","type":"stage","stage":"dataset","ts":1}"#);
        assert_eq!(fold(JobState::Training, &e).state, None);
        assert_eq!(fold(JobState::Succeeded, &e).state, None);
    }
}
