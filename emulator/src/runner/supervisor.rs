//! One supervisor task per pod: it follows the pod's status and runs its container as a local
//! process group accordingly (see the module above).

use std::io::Write;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::disk::wipe;
use super::group::{group_alive, kill_container};
use super::{LOG_FILE, RunPods};
use crate::LogSource;
use crate::shared::Shared;
use crate::state::live;

/// What the supervisor reads from the pod on each change.
struct Observed {
    status: &'static str,
    starts: u64,
    stopped: bool,
    has_command: bool,
    /// Something keeps the container from starting (see `crate::container`), or the pod never
    /// leaves PROVISIONING (a cluster node that never starts).
    blocked: bool,
    /// The pod vanished: its host is gone, and its processes with it.
    vanished: bool,
}

/// What the container is started with, read when it starts (a PATCH applies on the next start).
struct Launch {
    args: String,
    env: Vec<(String, String)>,
    /// A volume is mounted at `/workspace`: the workspace survives a restart.
    keeps_workspace: bool,
    /// What RunPod sets on a cluster's member (`NODE_RANK`, `PRIMARY_ADDR`, …); empty for a
    /// standalone pod.
    cluster_env: Vec<(String, String)>,
}

/// A running container: its main process, its group and the tasks copying its output.
struct Container {
    child: Child,
    pgid: Pid,
    pumps: Vec<JoinHandle<()>>,
}

/// The supervisor's view of the container across its lives.
#[derive(Default)]
struct Life {
    container: Option<Container>,
    /// The pod's start count the container was last started for.
    seen_starts: Option<u64>,
    /// When the container is due to start, and whether that start is a restart.
    due: Option<(Instant, bool)>,
    /// Whether a container was ever started: the next one starts on a wiped disk.
    started: bool,
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
            blocked: p.waits.blocked() || p.stuck_provisioning,
            vanished: p.vanished.is_some(),
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
            keeps_workspace: p.keeps_workspace(),
            cluster_env: crate::clusters::injected_env(&s, p),
        })
    }

    /// The pod's `PATH` with the runner's `bin` (its `runpodctl`) first: the pod's own `PATH`,
    /// else the options', else the emulator's.
    fn path(&self, options: &RunPods, pod: &Launch) -> String {
        let set = |vars: &[(String, String)]| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.clone())
        };
        let base = set(&pod.env)
            .or_else(|| set(&options.extra_env))
            .or_else(|| std::env::var("PATH").ok())
            .unwrap_or_else(|| "/usr/bin:/bin".to_owned());
        match &self.shared.runner {
            Some(r) => format!("{}:{base}", r.bin.display()),
            None => base,
        }
    }

    fn system(&self, line: String) {
        self.shared
            .append_log(&self.pod_id, LogSource::System, line);
    }

    /// The container's main process, or none; `runtime` is shown exactly while there is one.
    fn set_pid(&self, pid: Option<u32>) {
        let mut s = self.shared.lock();
        let now = s.now;
        if let Some(p) = s.pods.iter_mut().find(|p| p.id == self.pod_id) {
            p.pid = pid;
            p.container_since = pid.map(|_| now);
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
        let mut life = Life::default();
        loop {
            // Mark the current version seen before reading, so that no change is missed.
            changed.borrow_and_update();
            let Some(now) = self.observe() else { break };
            if now.stopped || now.status == "TERMINATED" {
                if let Some(c) = life.container.take() {
                    if now.vanished {
                        self.exited(c).await;
                    } else {
                        self.stop(c, options.stop_grace).await;
                    }
                }
                break;
            }
            self.follow(&now, &mut life, &options).await;
            let wait_child = async {
                match life.container.as_mut() {
                    Some(c) => c.child.wait().await,
                    None => std::future::pending().await,
                }
            };
            // A blocked container waits for a change, not for its due time.
            let due = life.due.filter(|_| !now.blocked);
            let wait_due = async {
                match due {
                    Some((at, _)) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                status = wait_child => {
                    if let Some(c) = life.container.take() {
                        self.exited(c).await;
                    }
                    life.due = self.after_exit(&options, &describe(status));
                }
                r = changed.changed() => {
                    if r.is_err() {
                        break;
                    }
                }
                () = wait_due => {}
            }
        }
        if let Some(c) = life.container.take() {
            self.stop(c, Duration::ZERO).await;
        }
    }

    /// Bring the container in line with the pod: a fresh one on create and on the start and
    /// restart actions, none while the pod is not live, and a due start once nothing blocks it.
    async fn follow(&self, now: &Observed, life: &mut Life, options: &RunPods) {
        if life.seen_starts != Some(now.starts) {
            // Created, or the start or restart action: a fresh container now.
            life.seen_starts = Some(now.starts);
            if let Some(c) = life.container.take() {
                self.stop(c, options.stop_grace).await;
            }
            life.due = Some((Instant::now(), false));
        }
        if !live(now.status) {
            if let Some(c) = life.container.take() {
                self.stop(c, options.stop_grace).await;
            }
            life.due = None;
        } else if !now.has_command {
            if life.due.take().is_some() {
                self.system(
                    "local provider: no start command; the image's own command is not run"
                        .to_owned(),
                );
            }
        } else if life.container.is_none()
            && !now.blocked
            && let Some((at, restart)) = life.due
            && at <= Instant::now()
        {
            life.due = None;
            if !restart || self.count_restart(options.max_restarts) {
                life.container = self.spawn(options, life.started);
                life.started = true;
                if life.container.is_none() {
                    life.due = self.after_exit(options, "could not start");
                }
            } else {
                self.system(format!(
                    "local provider: restart limit ({}) reached; the container stays exited \
                     (RunPod would keep restarting it)",
                    options.max_restarts.unwrap_or(0)
                ));
            }
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

    /// Start the container; `anew` when one ran before, so its disk is wiped first.
    fn spawn(&self, options: &RunPods, anew: bool) -> Option<Container> {
        let pod = self.launch()?;
        if anew && !pod.keeps_workspace {
            wipe(&self.workspace);
        }
        let log_file = self.workspace.join(LOG_FILE);
        let path = self.path(options, &pod);
        let mut cmd = Command::new(&options.shell);
        cmd.arg("-c")
            .arg(format!("exec {}", pod.args))
            .current_dir(&self.workspace)
            .envs(options.extra_env.iter().map(|(k, v)| (k, v)))
            .envs(pod.env.iter().map(|(k, v)| (k, v)))
            .envs(pod.cluster_env.iter().map(|(k, v)| (k, v)))
            .env("RUNPOD_POD_ID", &self.pod_id)
            .env("RUNPOD_API_KEY", &self.key)
            .env("TRAINPOD_HOME", self.workspace.join("trainpod"))
            .env("PATH", path)
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
        kill_container(&self.pod_id);
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
        kill_container(&self.pod_id);
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

/// Start supervising a pod the emulator just created. Its workspace and key are set before
/// the create is answered; the container starts in the supervisor's task.
pub(crate) fn supervise(shared: Arc<Shared>, pod_id: String) {
    let supervisor = Supervisor::new(shared, pod_id);
    tokio::spawn(supervisor.run());
}
