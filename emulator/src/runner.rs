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

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::{LogSource, Shared};

/// The container's raw stdout and stderr, in the pod's workspace.
pub(crate) const LOG_FILE: &str = "container.log";

/// How the local provider runs pods ([`crate::Options::run_pods`]).
///
/// Each pod gets a fresh workspace directory standing in for `/workspace`, and its start command
/// (the create request's `args`) runs as `<shell> -c "exec <args>"` in that directory, in its
/// own process group, stdin closed, with the inherited environment, then [`RunPods::extra_env`],
/// then the pod's `env`, then what RunPod injects: `RUNPOD_POD_ID`, `RUNPOD_API_KEY` (a key the
/// emulator accepts for this pod only) and `TRAINPOD_HOME=<workspace>/trainpod`. Its output goes
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
    /// Process group of each pod whose container runs, by pod id.
    groups: Mutex<HashMap<String, Pid>>,
}

impl Runner {
    pub(crate) fn new(options: RunPods) -> std::io::Result<Runner> {
        let (root, owned_root) = match &options.workspace_root {
            Some(root) => (root.clone(), false),
            None => {
                use std::sync::atomic::{AtomicU64, Ordering};
                static NEXT: AtomicU64 = AtomicU64::new(1);
                let name = format!(
                    "trainpod-emulator-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                );
                let root = std::env::temp_dir().join(name);
                // A leftover of an earlier process with the same id.
                let _ = std::fs::remove_dir_all(&root);
                (root, true)
            }
        };
        std::fs::create_dir_all(&root)?;
        Ok(Runner {
            options,
            root,
            owned_root,
            groups: Mutex::new(HashMap::new()),
        })
    }

    fn groups(&self) -> MutexGuard<'_, HashMap<String, Pid>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// SIGKILL every live group, synchronously (the emulator stops).
    pub(crate) fn kill_all(&self) {
        for pgid in self.groups().values() {
            let _ = kill_process_group(*pgid, Signal::KILL);
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
    }
}

/// Start supervising a pod the emulator just created. Its workspace and key are set before
/// the create is answered; the container starts in the supervisor's task.
pub(crate) fn supervise(shared: Arc<Shared>, pod_id: String) {
    let supervisor = Supervisor::new(shared, pod_id);
    tokio::spawn(supervisor.run());
}

/// What the supervisor reads from the pod on each change.
struct Observed {
    status: &'static str,
    starts: u64,
    stopped: bool,
    has_command: bool,
}

/// What the container is started with, read when it starts (a PATCH applies on the next start).
struct Launch {
    args: String,
    env: Vec<(String, String)>,
}

/// A running container: its main process, its group and the tasks copying its output.
struct Container {
    child: Child,
    pgid: Pid,
    pumps: Vec<JoinHandle<()>>,
}

struct Supervisor {
    shared: Arc<Shared>,
    pod_id: String,
    workspace: PathBuf,
    key: String,
}

impl Supervisor {
    fn new(shared: Arc<Shared>, pod_id: String) -> Supervisor {
        let root = shared.runner.as_ref().map(|r| r.root.clone());
        let workspace = root.unwrap_or_default().join(&pod_id);
        let key = format!("rpa_pod_{pod_id}");
        {
            let mut s = shared.lock();
            s.pod_keys.insert(key.clone(), pod_id.clone());
            if let Some(p) = s.pods.iter_mut().find(|p| p.id == pod_id) {
                p.workspace = Some(workspace.clone());
            }
        }
        Supervisor {
            shared,
            pod_id,
            workspace,
            key,
        }
    }

    fn options(&self) -> RunPods {
        self.shared
            .runner
            .as_ref()
            .map(|r| r.options.clone())
            .unwrap_or_default()
    }

    fn observe(&self) -> Option<Observed> {
        let s = self.shared.lock();
        let p = s.pods.iter().find(|p| p.id == self.pod_id)?;
        Some(Observed {
            status: p.status,
            starts: p.starts,
            stopped: s.stopped,
            has_command: !p.args.trim().is_empty(),
        })
    }

    fn launch(&self) -> Option<Launch> {
        let s = self.shared.lock();
        let p = s.pods.iter().find(|p| p.id == self.pod_id)?;
        Some(Launch {
            args: p.args.clone(),
            env: p
                .env
                .iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), v)
                })
                .collect(),
        })
    }

    fn system(&self, line: String) {
        self.shared
            .append_log(&self.pod_id, LogSource::System, line);
    }

    fn set_pid(&self, pid: Option<u32>) {
        let mut s = self.shared.lock();
        if let Some(p) = s.pods.iter_mut().find(|p| p.id == self.pod_id) {
            p.pid = pid;
        }
    }

    /// Count a restart; false (and a log line) when the cap is reached.
    fn count_restart(&self, max: Option<u32>) -> bool {
        let mut s = self.shared.lock();
        let Some(i) = s.pods.iter().position(|p| p.id == self.pod_id) else {
            return false;
        };
        if max.is_some_and(|m| s.pods[i].restarts >= m) {
            return false;
        }
        s.pods[i].restarts += 1;
        let n = s.pods[i].restarts;
        s.push_log(
            i,
            LogSource::System,
            format!("container restarted (restart {n})"),
        );
        true
    }

    async fn run(self) {
        let options = self.options();
        if let Err(e) = std::fs::create_dir_all(&self.workspace) {
            self.system(format!(
                "local provider: the workspace {} could not be created: {e}",
                self.workspace.display()
            ));
            return;
        }
        let mut changed = self.shared.changed.subscribe();
        let mut container: Option<Container> = None;
        let mut seen_starts: Option<u64> = None;
        // When the container is due to start, and whether that start is a restart.
        let mut due: Option<(Instant, bool)> = None;
        loop {
            // Mark the current version seen before reading, so that no change is missed.
            changed.borrow_and_update();
            let Some(now) = self.observe() else { break };
            if now.stopped || now.status == "TERMINATED" {
                if let Some(c) = container.take() {
                    self.stop(c, options.stop_grace).await;
                }
                break;
            }
            if seen_starts != Some(now.starts) {
                // Created, or the start or restart action: a fresh container now.
                seen_starts = Some(now.starts);
                if let Some(c) = container.take() {
                    self.stop(c, options.stop_grace).await;
                }
                due = Some((Instant::now(), false));
            }
            let live = matches!(now.status, "PROVISIONING" | "STARTING" | "RUNNING");
            if !live {
                if let Some(c) = container.take() {
                    self.stop(c, options.stop_grace).await;
                }
                due = None;
            } else if !now.has_command {
                if due.take().is_some() {
                    self.system(
                        "local provider: no start command; the image's own command is not run"
                            .to_owned(),
                    );
                }
            } else if container.is_none()
                && let Some((at, restart)) = due
                && at <= Instant::now()
            {
                due = None;
                if !restart || self.count_restart(options.max_restarts) {
                    container = self.spawn(&options);
                    if container.is_none() {
                        due = self.after_exit(&options, "could not start");
                    }
                } else {
                    self.system(format!(
                        "local provider: restart limit ({}) reached; the container stays exited \
                         (RunPod would keep restarting it)",
                        options.max_restarts.unwrap_or(0)
                    ));
                }
            }
            let wait_child = async {
                match container.as_mut() {
                    Some(c) => c.child.wait().await,
                    None => std::future::pending().await,
                }
            };
            let wait_due = async {
                match due {
                    Some((at, _)) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                status = wait_child => {
                    if let Some(c) = container.take() {
                        self.exited(c).await;
                    }
                    due = self.after_exit(&options, &describe(status));
                }
                r = changed.changed() => {
                    if r.is_err() {
                        break;
                    }
                }
                () = wait_due => {}
            }
        }
        if let Some(c) = container.take() {
            self.stop(c, Duration::ZERO).await;
        }
    }

    /// The main process ended: log it and schedule the restart.
    fn after_exit(&self, options: &RunPods, how: &str) -> Option<(Instant, bool)> {
        self.system(format!(
            "container {how}; restarting in {:.1} s",
            options.restart_delay.as_secs_f64()
        ));
        Some((Instant::now() + options.restart_delay, true))
    }

    fn spawn(&self, options: &RunPods) -> Option<Container> {
        let pod = self.launch()?;
        let log_file = self.workspace.join(LOG_FILE);
        let mut cmd = Command::new(&options.shell);
        cmd.arg("-c")
            .arg(format!("exec {}", pod.args))
            .current_dir(&self.workspace)
            .envs(options.extra_env.iter().map(|(k, v)| (k, v)))
            .envs(pod.env.iter().map(|(k, v)| (k, v)))
            .env("RUNPOD_POD_ID", &self.pod_id)
            .env("RUNPOD_API_KEY", &self.key)
            .env("TRAINPOD_HOME", self.workspace.join("trainpod"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                self.system(format!(
                    "local provider: {} did not start: {e}",
                    options.shell
                ));
                return None;
            }
        };
        let raw = child.id().and_then(|id| i32::try_from(id).ok());
        let Some(pgid) = raw.and_then(Pid::from_raw) else {
            // Already reaped: nothing to supervise.
            return None;
        };
        if let Some(r) = &self.shared.runner {
            r.groups().insert(self.pod_id.clone(), pgid);
        }
        // The emulator stops by setting `stopped`, then killing the registered groups: either
        // that saw this group, or this sees `stopped`.
        if self.shared.lock().stopped {
            let _ = kill_process_group(pgid, Signal::KILL);
        }
        self.set_pid(child.id());
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(self.pump(out, log_file.clone()));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(self.pump(err, log_file));
        }
        Some(Container { child, pgid, pumps })
    }

    /// Copy one output stream, line by line, to the container log and the raw log file.
    fn pump(
        &self,
        stream: impl AsyncRead + Unpin + Send + 'static,
        path: PathBuf,
    ) -> JoinHandle<()> {
        let shared = self.shared.clone();
        let pod_id = self.pod_id.clone();
        tokio::spawn(async move {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .ok();
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if let Some(f) = file.as_mut() {
                    let _ = f.write_all(&buf);
                }
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches('\n').trim_end_matches('\r');
                shared.append_log(&pod_id, LogSource::Container, line.to_owned());
            }
        })
    }

    /// The main process exited by itself: the rest of the container dies with it.
    async fn exited(&self, c: Container) {
        let _ = kill_process_group(c.pgid, Signal::KILL);
        self.finish(c).await;
    }

    /// Stop or terminate: SIGTERM to the group, SIGKILL once the grace is over, then reap.
    async fn stop(&self, mut c: Container, grace: Duration) {
        let _ = kill_process_group(c.pgid, Signal::TERM);
        let pgid = c.pgid;
        let _ = tokio::time::timeout(grace, async {
            let _ = c.child.wait().await;
            while group_alive(pgid) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        let _ = kill_process_group(c.pgid, Signal::KILL);
        self.finish(c).await;
    }

    /// Reap the main process, let the output copies drain and forget the group.
    async fn finish(&self, mut c: Container) {
        let _ = c.child.wait().await;
        for pump in c.pumps {
            // The pipes close when the last process holding them dies; not waiting forever on
            // one that escaped into another group.
            let abort = pump.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), pump)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Some(r) = &self.shared.runner {
            let mut groups = r.groups();
            if groups.get(&self.pod_id) == Some(&c.pgid) {
                groups.remove(&self.pod_id);
            }
        }
        self.set_pid(None);
    }
}

fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(s) => match s.code() {
            Some(code) => format!("exited with code {code}"),
            None => format!("was killed ({s})"),
        },
        Err(e) => format!("could not be waited for ({e})"),
    }
}

/// Whether a process group still has a member that is not a zombie. Orphans that die are
/// reparented to an init that may never reap them, so a zombie counts as gone.
pub(crate) fn group_alive(pgid: Pid) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return test_kill_process_group(pgid).is_ok();
    };
    let want = pgid.as_raw_nonzero().get();
    dir.flatten().any(|entry| {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return false;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
        state != Some("Z") && pgrp == Some(want)
    })
}
