//! `GET /v2/pods/{id}/logs`: a server-sent event stream, its backfill (`tail`, `since`,
//! `Last-Event-ID`) then each new line live, until the pod is gone or the emulator stops. With
//! `dropLogStreamsAfter` every stream is cut after that many events, without a clean end, as
//! proxies and idle timeouts cut RunPod's; a client resumes with `Last-Event-ID`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::HeaderMap;
use serde_json::json;

use crate::LogSource;
use crate::answer::{Answer, bad_request, unprocessable};
use crate::params::{Query, iso, parse_iso};
use crate::shared::Shared;
use crate::state::{Follow, LogLine, State};

/// The backfill now; the handler then keeps the stream open ([`follow`]).
pub(crate) fn logs(s: &mut State, i: usize, query: &Query, headers: &HeaderMap) -> Answer {
    let source = match query.get("source") {
        None => None,
        Some("container") => Some(LogSource::Container),
        Some("system") => Some(LogSource::System),
        Some(_) => return unprocessable("source must be container or system"),
    };
    let tail = match query.get("tail").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if n <= 5000 => n,
        Some(_) => return unprocessable("tail must be an integer from 0 to 5000"),
    };
    let pod = &s.pods[i];
    let lines: Vec<&LogLine> = pod
        .logs
        .iter()
        .filter(|l| source.is_none_or(|src| src == l.source))
        .collect();
    let backfill = match backfill(lines, query, headers, tail) {
        Ok(b) => b,
        Err(a) => return a,
    };
    let limit = s.faults.drop_log_streams_after;
    let sent = limit.map_or(backfill.len(), |n| {
        backfill.len().min(usize::try_from(n).unwrap_or(usize::MAX))
    });
    // A comment first, as servers send to open the stream (clients must skip it).
    let mut out = String::from(": trainpod emulator log stream\n\n");
    for l in &backfill[..sent] {
        out.push_str(&sse_event(l));
    }
    s.follow = Some(Follow {
        pod_id: pod.id.clone(),
        after_seq: pod.logs.last().map_or(0, |l| l.seq),
        source,
        left: limit.map(|n| n.saturating_sub(sent as u64)),
    });
    (
        200,
        vec![
            ("content-type", "text/event-stream".to_owned()),
            ("cache-control", "no-cache".to_owned()),
            ("x-accel-buffering", "no".to_owned()),
        ],
        out.into_bytes(),
    )
}

/// Last-Event-ID, then since, then tail: the spec's order of precedence.
fn backfill<'a>(
    lines: Vec<&'a LogLine>,
    query: &Query,
    headers: &HeaderMap,
    tail: usize,
) -> Result<Vec<&'a LogLine>, Answer> {
    if let Some(id) = headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        let Some(after) = id.rsplit('/').next().and_then(|n| n.parse::<u64>().ok()) else {
            return Err(bad_request("Last-Event-ID is not an id this stream sent"));
        };
        return Ok(lines.into_iter().filter(|l| l.seq > after).collect());
    }
    if let Some(since) = query.get("since") {
        let Some(t) = parse_iso(since) else {
            return Err(unprocessable("since must be an RFC 3339 date-time"));
        };
        return Ok(lines.into_iter().filter(|l| l.ts >= t).collect());
    }
    let skip = lines.len().saturating_sub(tail);
    Ok(lines.into_iter().skip(skip).collect())
}

fn sse_event(l: &LogLine) -> String {
    let data = json!({"ts": iso(l.ts), "source": l.source.as_str(), "line": l.line});
    format!("id: {}/{:012}\ndata: {data}\n\n", iso(l.ts), l.seq)
}

/// A stream item: an error aborts the connection, so the client sees no clean end.
type Chunk = Result<Bytes, std::io::Error>;

/// The live part of a log stream: the backfill, then each new line of the pod as it is
/// appended, until the pod is gone, the emulator stops, or the stream is cut.
pub(crate) fn follow(
    shared: Arc<Shared>,
    follow: Follow,
    backfill: Vec<u8>,
) -> impl futures_util::Stream<Item = Chunk> {
    let changed = shared.changed.subscribe();
    futures_util::stream::unfold(
        (Some(backfill), follow, changed, shared),
        |(first, mut f, mut changed, shared)| async move {
            if let Some(b) = first {
                return Some((Ok(Bytes::from(b)), (None, f, changed, shared)));
            }
            if f.left == Some(0) {
                // Pending first, so that the server flushes the events already sent; an error
                // right behind them would abort the connection with them still buffered.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                let cut = std::io::Error::other("log stream dropped (dropLogStreamsAfter)");
                // Ends the stream after the error: the connection is already aborted.
                f.left = None;
                f.pod_id.clear();
                return Some((Err(cut), (None, f, changed, shared)));
            }
            if f.pod_id.is_empty() {
                return None;
            }
            loop {
                let (chunk, ended) = next_events(&shared, &mut f);
                if !chunk.is_empty() {
                    return Some((Ok(Bytes::from(chunk)), (None, f, changed, shared)));
                }
                if ended || changed.changed().await.is_err() {
                    return None;
                }
            }
        },
    )
}

/// The lines appended since the stream last looked (at most the events it may still send), and
/// whether it has ended.
fn next_events(shared: &Shared, f: &mut Follow) -> (String, bool) {
    let s = shared.lock();
    let pod = s.pods.iter().find(|p| p.id == f.pod_id);
    let mut chunk = String::new();
    for l in pod.map(|p| p.logs.as_slice()).unwrap_or_default() {
        if l.seq <= f.after_seq || f.left == Some(0) {
            continue;
        }
        f.after_seq = l.seq;
        if f.source.is_none_or(|src| src == l.source) {
            chunk.push_str(&sse_event(l));
            f.left = f.left.map(|n| n - 1);
        }
    }
    let ended = s.stopped || pod.is_none_or(|p| p.status == "TERMINATED");
    (chunk, ended)
}
