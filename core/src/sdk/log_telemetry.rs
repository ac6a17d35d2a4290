//! Telemetry through the pod's log, for jobs with no app to receive callbacks (a notebook): the
//! reporter writes every event to stdout as `TRAINPOD_EVENT <json>`, and this reads those lines
//! back through the RunPod logs API and ingests them as if the pod had posted them.
//!
//! Each event becomes a batch of its own, numbered from the event's source and counter, far
//! above the numbers the pod's own batches use. Reading the log again yields the same batches
//! with the same bodies, which the store takes as replays: nothing is counted twice.

use std::time::Duration;

use serde_json::json;

use super::Trainpod;
use crate::error::Result;
use crate::jobs::{CheckedBatch, Event, ingest_checked};
use crate::runpod::{LogQuery, LogSource};

/// The prefix of an event line in the pod's log.
pub const EVENT_PREFIX: &str = "TRAINPOD_EVENT ";
pub use crate::jobs::LOG_BATCH_BASE;
/// Lines backfilled per read (RunPod's cap).
const TAIL: u32 = 5000;
/// How long a read waits for more lines before it stops.
const QUIET: Duration = Duration::from_millis(300);
/// Cut streams resumed in one read, at most.
const MAX_RESUMES: usize = 100;

/// A batch number that is the same whenever the same event is read again.
fn batch_number(event: &Event) -> u64 {
    let source = match event.source.as_str() {
        "bootstrap" => 0,
        "trainer" => 1,
        "upload" => 2,
        "command" => 3,
        _ => 4,
    };
    LOG_BATCH_BASE + (source << 32) + (event.n & 0xffff_ffff)
}

/// The event a log line carries, if it is an event line.
pub fn parse_event_line(line: &str) -> Option<Event> {
    let json = line.trim_end().strip_prefix(EVENT_PREFIX)?;
    serde_json::from_str(json).ok()
}

impl Trainpod {
    /// Reads the job's events from its pod's log and ingests those not seen yet; returns how
    /// many were new. Safe to call repeatedly and from several processes.
    pub async fn pull_log_events(&self, job_id: &str) -> Result<usize> {
        let job = self.job(job_id).await?;
        let Some(pod) = job.pod_id.clone() else {
            return Ok(0);
        };
        let mut query = LogQuery {
            source: Some(LogSource::Container),
            tail: Some(TAIL),
            ..LogQuery::default()
        };
        let runpod = self.runpod_for(&job.account).await?;
        let mut new = 0;
        // A stream cut by a proxy or an idle timeout is resumed after its last line, until a
        // stream stays quiet (it is then open for live lines, and all there was has been read).
        for _ in 0..MAX_RESUMES {
            let mut stream = match runpod.pod_logs(&pod, &query).await {
                Ok(stream) => stream,
                // A pod already gone has no log to read; what it said was read before.
                Err(e) if e.kind() == crate::ErrorKind::NotFound => return Ok(new),
                Err(e) => return Err(e),
            };
            let quiet = loop {
                let next = match tokio::time::timeout(QUIET, stream.next()).await {
                    Err(_) => break true,
                    Ok(Ok(Some(line))) => line,
                    Ok(Ok(None) | Err(_)) => break false,
                };
                let Some(event) = parse_event_line(&next.line) else {
                    continue;
                };
                new += self.ingest_log_event(&job, event).await?;
            };
            match stream.last_event_id() {
                Some(id) if !quiet => {
                    query.last_event_id = Some(id.to_owned());
                }
                _ => break,
            }
        }
        Ok(new)
    }

    /// Ingests one event read from the pod's log as a batch of its own; 1 when it was new.
    async fn ingest_log_event(&self, job: &crate::store::JobRecord, event: Event) -> Result<usize> {
        let body = json!({
            "job": job.id, "attempt": job.attempt, "batch": batch_number(&event), "events": [event],
        });
        let body = serde_json::to_vec(&body).unwrap_or_default();
        // The same caps as a posted batch: a log line is no more trusted than a request.
        let Ok(checked) = CheckedBatch::parse(&body, self.clock.now_unix_secs()) else {
            return Ok(0);
        };
        let outcome = ingest_checked(self.store.as_ref(), checked).await?;
        self.end_pod_on_final(&outcome).await;
        Ok(usize::from(!outcome.replay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_parse_and_number_stably() {
        let line = r#"TRAINPOD_EVENT {"n":7,"source":"trainer","type":"log","ts":1.5,"data":{"loss":2.0}}"#;
        let e = parse_event_line(line).unwrap();
        assert_eq!((e.n, e.kind.as_str()), (7, "log"));
        assert_eq!(batch_number(&e), LOG_BATCH_BASE + (1 << 32) + 7);
        assert!(parse_event_line("TRAINPOD_EVENT {not json").is_none());
        assert!(parse_event_line("epoch 1 done").is_none());
    }
}
