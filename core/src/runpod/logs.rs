//! The pod log stream, `GET /v2/pods/{id}/logs` (Server-Sent Events), read event by event.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::client::{Client, check_pod_id};
use super::errors::{map_error_response, map_transport};
use super::query::{QueryString, validate_timestamp};
use super::sse::{SseEvent, SseParser};
use super::transport::{BodyStream, HttpResponse, Method};
use crate::{Error, ErrorKind, Result};

/// The most lines RunPod backfills before streaming.
pub const MAX_LOG_TAIL: u32 = 5000;
/// How much of an error body is read from a failed stream request.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Which log a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogSource {
    /// The container's stdout and stderr.
    Container,
    /// The host's lifecycle log (image pull, start, stop).
    System,
    /// A source this build does not know.
    #[serde(other)]
    Unknown,
}

impl LogSource {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LogSource::Container => "container",
            LogSource::System => "system",
            LogSource::Unknown => "unknown",
        }
    }
}

/// What to stream. The default backfills RunPod's default 100 lines of both sources.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Only this source; `None` streams both.
    pub source: Option<LogSource>,
    /// Lines to backfill before streaming live, 0 to 5000 (RunPod's default: 100). Ignored by
    /// RunPod when `since` or `last_event_id` is set.
    pub tail: Option<u32>,
    /// Resume from this RFC 3339 time.
    pub since: Option<String>,
    /// Resume after this event id ([`LogStream::last_event_id`] of an earlier stream); it takes
    /// precedence over `since` and `tail`. Sent as the `Last-Event-ID` header.
    pub last_event_id: Option<String>,
}

impl LogQuery {
    fn validate(&self) -> Result<()> {
        if self.source == Some(LogSource::Unknown) {
            return Err(Error::invalid_input(
                "log source must be container or system, or unset for both",
            ));
        }
        if let Some(tail) = self.tail
            && tail > MAX_LOG_TAIL
        {
            return Err(Error::invalid_input(format!(
                "log tail is {tail}: RunPod backfills 0 to {MAX_LOG_TAIL} lines"
            )));
        }
        if let Some(since) = &self.since {
            validate_timestamp("log since", since)?;
        }
        if let Some(id) = &self.last_event_id
            && (id.is_empty() || id.len() > 256 || !id.bytes().all(|b| (0x20..0x7f).contains(&b)))
        {
            return Err(Error::invalid_input(
                "last_event_id must be 1 to 256 printable ASCII characters: pass the id a log \
                 stream reported",
            ));
        }
        Ok(())
    }

    fn to_query(&self) -> String {
        let mut q = QueryString::default();
        if let Some(s) = self.source {
            q.push("source", s.as_str());
        }
        if let Some(t) = self.tail {
            q.push("tail", &t.to_string());
        }
        if let Some(s) = &self.since {
            q.push("since", s);
        }
        q.finish()
    }
}

/// One log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "LogLine")
)]
pub struct LogEvent {
    /// The SSE event id: pass it as [`LogQuery::last_event_id`] to resume after this line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Which log.
    #[serde(default = "unknown_source")]
    pub source: LogSource,
    /// The line, without its line end.
    #[serde(default)]
    pub line: String,
    /// When the line was written (RFC 3339), if RunPod said.
    #[serde(default)]
    pub ts: Option<String>,
}

fn unknown_source() -> LogSource {
    LogSource::Unknown
}

impl LogEvent {
    /// A log event from an SSE event. RunPod sends `{source,line,ts}` as JSON; a payload that is
    /// not JSON is kept as the line itself (lenient), and JSON without a `line` (a heartbeat or
    /// a message this build does not know) is skipped.
    fn from_sse(ev: SseEvent) -> Option<LogEvent> {
        let mut out = match serde_json::from_str::<serde_json::Value>(&ev.data) {
            Ok(v) if v.get("line").is_some_and(serde_json::Value::is_string) => {
                serde_json::from_value::<LogEvent>(v).ok()?
            }
            Ok(_) => return None,
            Err(_) => LogEvent {
                id: None,
                source: LogSource::Unknown,
                line: ev.data,
                ts: None,
            },
        };
        out.id = ev.id;
        Some(out)
    }
}

/// An open log stream. [`LogStream::next`] returns each line as it arrives and `None` once
/// RunPod closes the stream. After a transport error, open a new stream with
/// [`LogQuery::last_event_id`] set to [`LogStream::last_event_id`] to resume without gaps.
#[derive(Debug)]
pub struct LogStream {
    operation: String,
    body: Box<dyn BodyStream>,
    parser: SseParser,
    ready: VecDeque<LogEvent>,
    ended: bool,
    last_event_id: Option<String>,
}

impl LogStream {
    /// The next line; `None` when the stream has ended.
    pub async fn next(&mut self) -> Result<Option<LogEvent>> {
        loop {
            if let Some(ev) = self.ready.pop_front() {
                if ev.id.is_some() {
                    self.last_event_id.clone_from(&ev.id);
                }
                return Ok(Some(ev));
            }
            if self.ended {
                return Ok(None);
            }
            let mut events = Vec::new();
            match self.body.next_chunk().await {
                Ok(Some(chunk)) => self.parser.push(&chunk, &mut events).map_err(|_| {
                    self.ended = true;
                    Error::new(
                        ErrorKind::ServerError,
                        format!(
                            "{}: a log event exceeded {} bytes; the stream was closed: \
                             report this with the pod id",
                            self.operation,
                            super::sse::MAX_LINE_BYTES
                        ),
                    )
                })?,
                Ok(None) => {
                    self.ended = true;
                    self.parser.finish(&mut events);
                }
                Err(e) => {
                    self.ended = true;
                    return Err(map_transport(&self.operation, e));
                }
            }
            self.ready
                .extend(events.into_iter().filter_map(LogEvent::from_sse));
        }
    }

    /// The id of the last line returned, for resuming.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }
}

impl Client {
    /// The last `tail` lines of a pod's log as they are now: the stream's backfill, read until
    /// the stream ends or stays quiet for `quiet` (it would otherwise stay open for live lines),
    /// and at most 2 s in all.
    pub async fn recent_logs(
        &self,
        pod_id: &str,
        source: Option<LogSource>,
        tail: u32,
        quiet: std::time::Duration,
    ) -> Result<Vec<LogEvent>> {
        let query = LogQuery {
            source,
            tail: Some(tail),
            ..LogQuery::default()
        };
        let mut stream = self.pod_logs(pod_id, &query).await?;
        let mut lines = Vec::new();
        let until = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        while let Ok(next) = tokio::time::timeout(quiet, stream.next()).await {
            match next {
                Ok(Some(line)) => lines.push(line),
                // A stream cut after its backfill has still given what was there.
                Ok(None) | Err(_) => break,
            }
            if tokio::time::Instant::now() >= until {
                break;
            }
        }
        Ok(lines)
    }

    /// `GET /v2/pods/{id}/logs`: open the pod's log stream. Opening is retried like a read;
    /// the lines then arrive through [`LogStream::next`].
    pub async fn pod_logs(&self, pod_id: &str, query: &LogQuery) -> Result<LogStream> {
        check_pod_id(pod_id)?;
        query.validate()?;
        let op = format!("read the logs of pod {pod_id}");
        let path = format!("/pods/{pod_id}/logs{}", query.to_query());
        let mut extra = vec![("accept".to_owned(), "text/event-stream".to_owned())];
        if let Some(id) = &query.last_event_id {
            extra.push(("last-event-id".to_owned(), id.clone()));
        }
        let resp = self
            .retrying(|| async {
                let req = self.request_with(Method::Get, &path, None, &extra);
                let mut resp = self
                    .sender()
                    .send_streaming(req)
                    .await
                    .map_err(|e| map_transport(&op, e))?;
                if (200..300).contains(&resp.status) {
                    return Ok(resp);
                }
                // Read a bounded error body for the message, then map it like any other.
                let mut body = Vec::new();
                while body.len() < MAX_ERROR_BODY {
                    match resp.body.next_chunk().await {
                        Ok(Some(c)) => body.extend_from_slice(&c),
                        _ => break,
                    }
                }
                body.truncate(MAX_ERROR_BODY);
                let full = HttpResponse {
                    status: resp.status,
                    headers: resp.headers,
                    body,
                };
                Err(map_error_response(&op, &full, Some(self.key())))
            })
            .await?;
        Ok(LogStream {
            operation: op,
            body: resp.body,
            parser: SseParser::default(),
            ready: VecDeque::new(),
            ended: false,
            last_event_id: query.last_event_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse(data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: "message".into(),
            data: data.into(),
            id: id.map(str::to_owned),
        }
    }

    #[test]
    fn events_parse_leniently() {
        let ev = LogEvent::from_sse(sse(
            r#"{"ts":"2026-06-01T12:02:03Z","source":"container","line":"Model loaded.","x":1}"#,
            Some("2026-06-01T12:02:03Z/000000000001"),
        ))
        .unwrap_or_else(|| panic!("skipped"));
        assert_eq!(ev.source, LogSource::Container);
        assert_eq!(ev.line, "Model loaded.");
        assert_eq!(ev.id.as_deref(), Some("2026-06-01T12:02:03Z/000000000001"));
        let odd = LogEvent::from_sse(sse(r#"{"source":"gpu","line":"x"}"#, None))
            .unwrap_or_else(|| panic!("skipped"));
        assert_eq!(odd.source, LogSource::Unknown);
        let raw = LogEvent::from_sse(sse("plain text", None)).unwrap_or_else(|| panic!("skipped"));
        assert_eq!(raw.line, "plain text");
        assert!(LogEvent::from_sse(sse(r#"{"heartbeat":true}"#, None)).is_none());
    }

    #[test]
    fn queries_are_validated_and_encoded() {
        let q = LogQuery {
            source: Some(LogSource::System),
            tail: Some(0),
            since: Some("2026-06-01T12:00:00+02:00".into()),
            last_event_id: None,
        };
        assert_eq!(q.validate().map_err(|e| e.to_string()), Ok(()));
        assert_eq!(
            q.to_query(),
            "?source=system&tail=0&since=2026-06-01T12%3A00%3A00%2B02%3A00"
        );
        assert_eq!(LogQuery::default().to_query(), "");
        for bad in [
            LogQuery {
                tail: Some(5001),
                ..LogQuery::default()
            },
            LogQuery {
                since: Some("yesterday".into()),
                ..LogQuery::default()
            },
            LogQuery {
                last_event_id: Some("a\r\nX-Evil: 1".into()),
                ..LogQuery::default()
            },
            LogQuery {
                source: Some(LogSource::Unknown),
                ..LogQuery::default()
            },
        ] {
            let e = bad.validate().err().unwrap_or_else(|| panic!("{bad:?}"));
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
        }
    }
}
