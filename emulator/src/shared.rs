//! What the server, the handle and the local provider's supervisors share: the state behind one
//! lock, a counter bumped on every change, and the local provider itself. Apart from `state.rs`,
//! so that the state stays plain data and the runner, which reads the state, is not part of it.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

use crate::LogSource;
use crate::runner::Runner;
use crate::state::State;

/// What the server and the handle share: the state, and a counter bumped on every change so
/// that open log streams and the local provider's supervisors wake up.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) changed: watch::Sender<u64>,
    /// The local provider, when pods run as processes.
    pub(crate) runner: Option<Runner>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn notify(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Append a line to one of a pod's logs and wake the open streams; false when there is no
    /// such pod.
    pub(crate) fn append_log(&self, pod_id: &str, source: LogSource, line: String) -> bool {
        let found = {
            let mut s = self.lock();
            match s.index(pod_id) {
                Some(i) => {
                    s.push_log(i, source, line);
                    true
                }
                None => false,
            }
        };
        self.notify();
        found
    }

    /// Move the clock `secs` seconds and wake everything that follows it.
    pub(crate) fn advance(&self, secs: u64) -> u64 {
        let now = {
            let mut s = self.lock();
            for _ in 0..secs {
                s.advance_one();
            }
            s.now
        };
        self.notify();
        now
    }
}
