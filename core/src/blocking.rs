//! Blocking work (reading and hashing files) moved off the async runtime's workers.

use crate::error::{Error, ErrorKind, Result};

/// Runs `f` on tokio's blocking threads, so the runtime's workers, and a binding's JavaScript
/// or Python thread waiting on them, stay free for other requests; a task that dies is an
/// `Internal` error naming `what` stopped.
pub(crate) async fn blocking<T, F>(what: &str, f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::new(ErrorKind::Internal, format!("{what} stopped: {e}")))?
}
