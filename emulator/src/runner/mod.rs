//! The local provider: each pod the emulator creates runs as a local process group, the way
//! RunPod runs its container, so the whole SDK lifecycle (deploy, logs, billing, the pod
//! terminating itself, restarts of an exited container) works on one machine.
//!
//! One supervisor task per pod follows the pod's status: it starts the container while the pod
//! is PROVISIONING, STARTING or RUNNING, kills its process group when the pod is stopped or
//! terminated or the emulator stops, starts it anew on the start and restart actions, and
//! restarts it after a delay when its main process exits by itself (RunPod restarts an exiting
//! container). When the main process exits, the rest of its group is killed, as everything in a
//! container dies with the container's main process.
//!
//! As on RunPod: a container that cannot start (a stuck host, an image pull backoff, a host CUDA
//! below the image's) is not spawned while it waits; a pod that vanishes has its group SIGKILLed
//! at once (its host is gone); a container that starts anew finds the workspace wiped (it stands
//! in for the container disk) unless a volume is mounted at `/workspace`; and `runpodctl` is on
//! every pod's `PATH`.

mod disk;
mod group;
// Not re-exported: the supervisors use the emulator's shared state, which holds this runner, so
// this module names nothing of theirs (`runner::supervisor::supervise` starts one).
pub(crate) mod supervisor;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};

use disk::{install_runpodctl, temp_dir};

/// The container's raw stdout and stderr, in the pod's workspace.
pub(crate) const LOG_FILE: &str = "container.log";

/// How the local provider runs pods ([`crate::Options::run_pods`]).
///
/// Each pod gets a fresh workspace directory standing in for `/workspace`, and its start command
/// (the create request's `args`) runs as `<shell> -c "exec <args>"` in that directory, in its
/// own process group, stdin closed, with the inherited environment, then [`RunPods::extra_env`],
/// then the pod's `env`, then what RunPod injects: on a cluster's member the cluster's variables
/// (`PRIMARY_ADDR` = `NODE_ADDR` = 127.0.0.1, `PRIMARY_PORT` a loopback port free when the
/// cluster was created, `NODE_RANK`, `NUM_NODES`, `NUM_TRAINERS`, `WORLD_SIZE`, …), then
/// `RUNPOD_POD_ID`, `RUNPOD_API_KEY` (a key the emulator accepts for this pod only),
/// `TRAINPOD_HOME=<workspace>/trainpod`, and a `PATH` whose first directory (the runner's own,
/// outside the workspaces) holds `runpodctl`. Each member of a cluster is a pod of its own here:
/// its own workspace, process group and supervisor. Its output goes
/// line by line to the pod's container log (the logs API) and to `container.log` in the
/// workspace. A pod created without `args` runs no process (RunPod would run the image's own
/// command).
#[derive(Clone, Debug)]
pub struct RunPods {
    /// The shell that parses the start command (`sh` by default; `bash`, `dash`, …).
    pub shell: String,
    /// The directory under which each pod gets its workspace (`<root>/<pod id>`), kept after
    /// the emulator stops. `None` (the default): a fresh directory under the system temporary
    /// directory, removed when the emulator is dropped.
    pub workspace_root: Option<PathBuf>,
    /// Delay before a container whose main process exited is started again (1 s by default).
    pub restart_delay: Duration,
    /// Restarts after which an exiting container is left exited (its pod stays as it is and
    /// keeps billing, as on RunPod). `None` (the default): restart forever, as RunPod does.
    pub max_restarts: Option<u32>,
    /// On stop and terminate the group gets SIGTERM, then SIGKILL after this grace (5 s by
    /// default) or as soon as its processes are gone.
    pub stop_grace: Duration,
    /// Extra variables for every pod, set before the pod's own `env`.
    pub extra_env: Vec<(String, String)>,
}

impl Default for RunPods {
    fn default() -> Self {
        RunPods {
            shell: "sh".to_owned(),
            workspace_root: None,
            restart_delay: Duration::from_secs(1),
            max_restarts: None,
            stop_grace: Duration::from_secs(5),
            extra_env: Vec::new(),
        }
    }
}

/// Where and how a pod runs locally ([`crate::Emulator::local_pod`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalPod {
    /// The pod's workspace (its `/workspace`); `TRAINPOD_HOME` is `trainpod` under it.
    pub workspace: PathBuf,
    /// The container's raw output, stdout and stderr, across restarts.
    pub log_file: PathBuf,
    /// The container's main process, which leads its process group, while it runs.
    pub pid: Option<u32>,
    /// Restarts after the main process exited by itself.
    pub restarts: u32,
}

/// The local provider's shared part: its options, the workspace root and the live groups.
#[derive(Debug)]
pub(crate) struct Runner {
    options: RunPods,
    root: PathBuf,
    /// Whether the root is the emulator's own temporary directory, removed on drop.
    owned_root: bool,
    /// The directory prepended to every pod's `PATH`, holding `runpodctl`; outside the
    /// workspaces, so that a wipe never removes it. Removed on drop.
    bin: PathBuf,
    /// Process group of each pod whose container runs, by pod id.
    groups: Mutex<HashMap<String, Pid>>,
}

impl Runner {
    /// `control_url`: the emulator's `POST /_emulator/runpodctl`, for the pods' `runpodctl`.
    pub(crate) fn new(options: RunPods, control_url: &str) -> std::io::Result<Runner> {
        let (root, owned_root) = match &options.workspace_root {
            Some(root) => {
                std::fs::create_dir_all(root)?;
                (root.clone(), false)
            }
            None => (temp_dir("")?, true),
        };
        let bin = temp_dir("bin-")?;
        install_runpodctl(&bin, control_url)?;
        Ok(Runner {
            options,
            root,
            owned_root,
            bin,
            groups: Mutex::new(HashMap::new()),
        })
    }

    fn groups(&self) -> MutexGuard<'_, HashMap<String, Pid>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// SIGKILL every live group, synchronously (the emulator stops).
    pub(crate) fn kill_all(&self) {
        for (pod_id, pgid) in self.groups().iter() {
            let _ = kill_process_group(*pgid, Signal::KILL);
            group::kill_container(pod_id);
        }
    }
}

impl Drop for Runner {
    // The groups were killed when the emulator stopped (it holds the runner until then); killing
    // them again here could reach a group that reused a freed id.
    fn drop(&mut self) {
        if self.owned_root {
            let _ = std::fs::remove_dir_all(&self.root);
        }
        let _ = std::fs::remove_dir_all(&self.bin);
    }
}
