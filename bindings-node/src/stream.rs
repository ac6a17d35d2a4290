//! The SDK's long-lived objects: `Follow` and `LogStream` (read one item per `next()`, wrapped
//! as async iterators in `index.js`) and `ArtifactUpload` (written chunk by chunk).
//!
//! `Follow` and `LogStream` each live in one task of their own, driven through a channel (core's
//! `Follow` borrows the SDK), which keeps calls in the order JavaScript made them; the upload
//! is core's own async writer behind a lock, which does the same.

use crate::errors::{Result, from_napi};
use crate::json::{js_json, to_js_value};
use crate::promise::spawn;
use crate::records::{ArtifactFile, artifact_file};
use napi::Env;
use napi::bindgen_prelude::{PromiseRaw, Uint8ArraySlice};
use napi_derive::napi;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{mpsc, oneshot};
use trainpod::sdk::{self, FollowUpdate};
use trainpod::{Error, ErrorKind};

type Reply<T> = oneshot::Sender<trainpod::Result<T>>;

fn closed(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidState,
        format!("the {what} is closed; open a new one"),
    )
}

/// Send `request` to an object's task and wait for its reply.
async fn ask<T, R>(
    what: &'static str,
    tx: Option<mpsc::UnboundedSender<R>>,
    request: impl FnOnce(Reply<T>) -> R,
) -> trainpod::Result<T> {
    let tx = tx.ok_or_else(|| closed(what))?;
    let (reply, answer) = oneshot::channel();
    tx.send(request(reply)).map_err(|_| closed(what))?;
    answer.await.map_err(|_| closed(what))?
}

/// A follow update for JavaScript: `{kind: 'status', status}` or `{kind: 'event', event}`; the
/// event is the pod's own JSON, as the pod protocol defines it.
fn follow_update(update: FollowUpdate) -> Result<Value> {
    Ok(match update {
        FollowUpdate::Status(status) => json!({"kind": "status", "status": to_js_value(&status)?}),
        FollowUpdate::Event(event) => json!({"kind": "event", "event": js_json(event)}),
    })
}

/// A job's status changes and events until it ends (`for await` in JavaScript).
#[napi]
#[derive(Debug)]
pub struct Follow {
    tx: Mutex<Option<mpsc::UnboundedSender<Reply<Option<FollowUpdate>>>>>,
}

impl Follow {
    pub(crate) fn start(tp: Arc<sdk::Trainpod>, job_id: String) -> Follow {
        let (tx, mut rx) = mpsc::unbounded_channel::<Reply<Option<FollowUpdate>>>();
        napi::bindgen_prelude::spawn(async move {
            let mut follow = tp.follow(&job_id);
            while let Some(reply) = rx.recv().await {
                let _ = reply.send(follow.next().await);
            }
        });
        Follow {
            tx: Mutex::new(Some(tx)),
        }
    }

    fn sender(&self) -> Option<mpsc::UnboundedSender<Reply<Option<FollowUpdate>>>> {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[napi]
impl Follow {
    /// The next update, waiting for it; `null` once the job has ended and all was seen, or
    /// once closed.
    #[napi(ts_return_type = "Promise<FollowUpdate | null>", catch_unwind)]
    pub fn next<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Option<Value>>> {
        let Some(tx) = self.sender() else {
            return PromiseRaw::resolve(env, None).map_err(from_napi);
        };
        let tx = Some(tx);
        spawn(env, ask("follow", tx, |reply| reply), |_, update| {
            update.map(follow_update).transpose()
        })
    }

    /// Stop following (`break` in a `for await` loop does it).
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// One line of a pod's log.
#[napi(object)]
#[derive(Debug)]
pub struct LogLine {
    /// The event id, to resume after this line.
    pub id: Option<String>,
    /// `container`, `system` or `unknown`.
    pub source: String,
    /// The line, without its line end.
    pub line: String,
    /// When it was written (RFC 3339), if RunPod said.
    pub ts: Option<String>,
}

type LogRequest = Reply<Option<trainpod::runpod::LogEvent>>;

/// A pod's log, line by line, until RunPod closes the stream (`for await` in JavaScript).
#[napi]
#[derive(Debug)]
pub struct LogStream {
    tx: Mutex<Option<mpsc::UnboundedSender<LogRequest>>>,
    last_event_id: Arc<Mutex<Option<String>>>,
}

impl LogStream {
    pub(crate) fn new(mut stream: trainpod::runpod::LogStream) -> LogStream {
        let (tx, mut rx) = mpsc::unbounded_channel::<LogRequest>();
        let last = Arc::new(Mutex::new(None));
        let seen = last.clone();
        napi::bindgen_prelude::spawn(async move {
            while let Some(reply) = rx.recv().await {
                let line = stream.next().await;
                *seen.lock().unwrap_or_else(PoisonError::into_inner) =
                    stream.last_event_id().map(str::to_owned);
                let _ = reply.send(line);
            }
        });
        LogStream {
            tx: Mutex::new(Some(tx)),
            last_event_id: last,
        }
    }
}

#[napi]
impl LogStream {
    /// The next line, waiting for it; `null` once the stream has ended, or once closed.
    #[napi(ts_return_type = "Promise<LogLine | null>", catch_unwind)]
    pub fn next<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Option<LogLine>>> {
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if tx.is_none() {
            return PromiseRaw::resolve(env, None).map_err(from_napi);
        }
        spawn(env, ask("log stream", tx, |reply| reply), |_, line| {
            Ok(line.map(|e| LogLine {
                id: e.id,
                source: e.source.as_str().to_owned(),
                line: e.line,
                ts: e.ts,
            }))
        })
    }

    /// The id of the last line returned, for resuming.
    #[napi(getter, catch_unwind)]
    pub fn last_event_id(&self) -> Option<String> {
        self.last_event_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Close the stream (`break` in a `for await` loop does it).
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// An artifact file being received: `write` each chunk (in order), then `finish`. Core writes
/// and hashes it on its blocking threads, never on the JavaScript thread; dropped unfinished
/// (aborted, collected), it leaves no file behind.
#[napi]
#[derive(Debug)]
pub struct ArtifactUpload {
    upload: Arc<tokio::sync::Mutex<Option<sdk::ArtifactUpload>>>,
}

impl ArtifactUpload {
    pub(crate) fn new(upload: sdk::ArtifactUpload) -> ArtifactUpload {
        ArtifactUpload {
            upload: Arc::new(tokio::sync::Mutex::new(Some(upload))),
        }
    }
}

#[napi]
impl ArtifactUpload {
    /// Append a chunk of the body.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn write<'env>(
        &self,
        env: &'env Env,
        chunk: Uint8ArraySlice,
    ) -> Result<PromiseRaw<'env, ()>> {
        let (chunk, upload) = (chunk.to_vec(), self.upload.clone());
        spawn(
            env,
            async move {
                match upload.lock().await.as_mut() {
                    Some(upload) => upload.write(chunk).await,
                    None => Err(closed("artifact upload")),
                }
            },
            |_, ()| Ok(()),
        )
    }

    /// Check size and sha256 against the manifest and keep the file.
    #[napi(catch_unwind)]
    pub fn finish<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ArtifactFile>> {
        let upload = self.upload.clone();
        spawn(
            env,
            async move {
                let taken = upload.lock().await.take();
                match taken {
                    Some(upload) => upload.finish().await,
                    None => Err(closed("artifact upload")),
                }
            },
            |_, f| Ok(artifact_file(f)),
        )
    }

    /// Give up on the file (its partial copy is never taken for a finished one).
    #[napi(catch_unwind)]
    pub fn abort(&self) {
        // A write in flight holds the lock; the upload is then dropped with this object.
        if let Ok(mut upload) = self.upload.try_lock() {
            upload.take();
        }
    }
}
