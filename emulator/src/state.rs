//! What the emulator knows: accounts, pods with their logs, clusters, keys, volumes, faults, the
//! request record, and the clock that moves them (one second at a time, so that every timed behaviour
//! happens at its second whether the clock is manual or real). Plain data: who holds it, and the
//! local provider that runs its pods, are in `shared.rs`.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::accounts::Accounts;
use crate::container::Waits;
use crate::faults::{Faults, VanishCause};
use crate::ratelimit::Windows;
use crate::{LogSource, RecordedRequest};

#[derive(Debug, Clone)]
pub(crate) struct LogLine {
    pub(crate) seq: u64,
    pub(crate) ts: u64,
    pub(crate) source: LogSource,
    pub(crate) line: String,
}

#[derive(Debug, Clone)]
pub(crate) struct EmuPod {
    pub(crate) id: String,
    /// The account whose key created it: only that account's keys see it.
    pub(crate) account: String,
    pub(crate) name: String,
    pub(crate) status: &'static str,
    pub(crate) image: String,
    pub(crate) args: String,
    pub(crate) disk: u64,
    pub(crate) ports: Vec<String>,
    pub(crate) env: Map<String, Value>,
    pub(crate) registry: Option<String>,
    pub(crate) locked: bool,
    pub(crate) global_networking: bool,
    pub(crate) cloud: &'static str,
    pub(crate) data_center_id: &'static str,
    /// The CUDA version of the pod's host.
    pub(crate) cuda_version: &'static str,
    /// (size GB, path) of the pod's persistent volume.
    pub(crate) persistent: Option<(u64, String)>,
    /// (volume id, path) of the pod's network volume.
    pub(crate) network: Option<(String, String)>,
    pub(crate) gpu_id: String,
    pub(crate) gpu_count: u32,
    pub(crate) price_per_gpu_hour: f64,
    pub(crate) status_since: u64,
    pub(crate) created_at: u64,
    pub(crate) billed_secs: u64,
    pub(crate) logs: Vec<LogLine>,
    /// What keeps the container from starting.
    pub(crate) waits: Waits,
    /// When the container started, while it runs (`runtime.uptime` counts from it).
    pub(crate) container_since: Option<u64>,
    /// When the pod vanishes by itself (the `vanish` fault at its create), and why.
    pub(crate) vanish_at: Option<(u64, VanishCause)>,
    /// Why the pod vanished, once it has.
    pub(crate) vanished: Option<VanishCause>,
    /// Bumped by the start and restart actions: the local provider starts the container anew.
    pub(crate) starts: u64,
    /// Times the local provider restarted the container after it exited by itself.
    pub(crate) restarts: u32,
    /// The local provider's workspace for the pod (`/workspace`).
    pub(crate) workspace: Option<PathBuf>,
    /// The container's main process (and process group) while it runs locally.
    pub(crate) pid: Option<u32>,
    /// The pod's membership of an Instant Cluster (the spec's `PodCluster`); `None` for a
    /// standalone pod.
    pub(crate) cluster: Option<Member>,
    /// The pod never leaves PROVISIONING and its container never starts (the
    /// `clusterStuckRank` fault).
    pub(crate) stuck_provisioning: bool,
}

/// A pod's place in its cluster, fixed when the cluster is created (the spec's `PodCluster`).
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) cluster_id: String,
    /// `NODE_RANK`: 0 is the primary.
    pub(crate) rank: u32,
    /// The pod's address on the cluster's network (`NODE_ADDR`).
    pub(crate) ip: String,
    /// The SLURM or RAY role; `None` for TRAINING and APPLICATION clusters.
    pub(crate) role: Option<&'static str>,
}

/// An Instant Cluster: its homogeneous shape and its member pods (the spec's `Cluster`).
#[derive(Debug, Clone)]
pub(crate) struct EmuCluster {
    pub(crate) id: String,
    /// The account whose key created it: only that account's keys see it.
    pub(crate) account: String,
    pub(crate) name: String,
    /// The spec's `ClusterType`.
    pub(crate) kind: &'static str,
    pub(crate) gpu_type_id: &'static str,
    pub(crate) gpu_count_per_pod: u32,
    pub(crate) pod_count: u32,
    pub(crate) data_center_id: &'static str,
    /// The network's CIDR (`ClusterNetwork.cidr`).
    pub(crate) cidr: &'static str,
    /// `PRIMARY_ADDR`: the rank 0 member's address.
    pub(crate) primary_addr: String,
    /// `PRIMARY_PORT`.
    pub(crate) primary_port: u16,
    pub(crate) created_at: u64,
    /// The member pods' ids, by rank; gone members stay listed (their records do too).
    pub(crate) members: Vec<String>,
    /// Deleted through `DELETE /v2/clusters/{id}`: gone from every endpoint but billing.
    pub(crate) deleted: bool,
}

/// PROVISIONING, STARTING or RUNNING: the pod holds its host and bills.
pub(crate) fn live(status: &str) -> bool {
    matches!(status, "PROVISIONING" | "STARTING" | "RUNNING")
}

impl EmuPod {
    /// Without the local provider the container runs exactly while the pod is RUNNING and
    /// nothing keeps it from starting (with it, the runner says when it runs).
    fn sync_container(&mut self, now: u64) {
        let runs = self.status == "RUNNING" && !self.waits.blocked();
        self.container_since = if runs {
            self.container_since.or(Some(now))
        } else {
            None
        };
    }

    /// Whether the pod's container or home volume is at `/workspace`, so that it survives a
    /// restart.
    pub(crate) fn keeps_workspace(&self) -> bool {
        let at_workspace = |path: &str| path.trim_end_matches('/') == "/workspace";
        self.persistent
            .as_ref()
            .is_some_and(|(_, p)| at_workspace(p))
            || self.network.as_ref().is_some_and(|(_, p)| at_workspace(p))
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) now: u64,
    pub(crate) next_log_seq: u64,
    pub(crate) pods: Vec<EmuPod>,
    /// Every cluster ever created, deleted ones included (for billing).
    pub(crate) clusters: Vec<EmuCluster>,
    /// The accounts and their keys.
    pub(crate) accounts: Accounts,
    /// Pod-scoped keys: key → pod id (the pod's account is the key's).
    pub(crate) pod_keys: HashMap<String, String>,
    /// Network volumes: id → data center.
    pub(crate) volumes: HashMap<String, &'static str>,
    pub(crate) faults: Faults,
    pub(crate) log: Vec<RecordedRequest>,
    /// The `RateLimit` windows' counts.
    pub(crate) windows: Windows,
    /// Every call of the pods' `runpodctl`.
    pub(crate) runpodctl: Vec<RunpodctlCall>,
    /// Set by the logs route: the answer continues as a live stream.
    pub(crate) follow: Option<Follow>,
    /// Pods run as local processes, whose runner says when a container runs.
    pub(crate) local: bool,
    pub(crate) stopped: bool,
}

impl State {
    pub(crate) fn push_log(&mut self, pod: usize, source: LogSource, line: String) {
        self.next_log_seq += 1;
        let (seq, ts) = (self.next_log_seq, self.now);
        self.pods[pod].logs.push(LogLine {
            seq,
            ts,
            source,
            line,
        });
    }

    /// The index of a cluster by id, deleted ones included.
    pub(crate) fn cluster_index(&self, id: &str) -> Option<usize> {
        self.clusters.iter().position(|c| c.id == id)
    }

    /// The index of a pod by id, vanished and terminated ones included.
    pub(crate) fn index(&self, id: &str) -> Option<usize> {
        self.pods.iter().position(|p| p.id == id)
    }

    /// Set a pod's status now; the container follows (without the local provider).
    pub(crate) fn set_status(&mut self, i: usize, status: &'static str) {
        let (now, local) = (self.now, self.local);
        let pod = &mut self.pods[i];
        pod.status = status;
        pod.status_since = now;
        if !local {
            pod.sync_container(now);
        }
    }

    /// One second of the clock: billing, status moves, the waits' log lines, due vanishes.
    pub(crate) fn advance_one(&mut self) {
        self.now += 1;
        let (now, local) = (self.now, self.local);
        let mut lines = Vec::new();
        for (i, pod) in self.pods.iter_mut().enumerate() {
            if !matches!(pod.status, "EXITED" | "TERMINATED") {
                pod.billed_secs += 1;
            }
            let age = now - pod.status_since;
            let next = match (pod.status, age) {
                ("PROVISIONING", a) if a >= 1 && !pod.stuck_provisioning => Some("STARTING"),
                ("STARTING", a) if a >= 2 => Some("RUNNING"),
                _ => None,
            };
            if let Some(next) = next {
                pod.status = next;
                pod.status_since = now;
                lines.push((i, format!("status {next}")));
            }
            for line in pod.waits.step(now, live(pod.status)) {
                lines.push((i, line));
            }
            if !local {
                pod.sync_container(now);
            }
        }
        for (i, line) in lines {
            self.push_log(i, LogSource::System, line);
        }
        self.vanish_due();
    }

    /// The waits' first lines, logged at create.
    pub(crate) fn first_wait_lines(&mut self, i: usize) {
        let now = self.now;
        let live = live(self.pods[i].status);
        for line in self.pods[i].waits.step(now, live) {
            self.push_log(i, LogSource::System, line);
        }
    }

    fn vanish_due(&mut self) {
        let now = self.now;
        let due: Vec<(usize, VanishCause)> = self
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| p.status != "TERMINATED")
            .filter_map(|(i, p)| p.vanish_at.filter(|(t, _)| *t <= now).map(|(_, c)| (i, c)))
            .collect();
        for (i, cause) in due {
            self.pods[i].vanish_at = None;
            self.vanish(i, cause);
        }
    }

    /// RunPod removes a pod without being asked. A balance at $0 is account-wide: every pod
    /// without a network volume goes, every pod with one is stopped, and creates are refused.
    /// The emulator keeps one balance for all its accounts, so this is every account's pods.
    pub(crate) fn vanish(&mut self, i: usize, cause: VanishCause) {
        if cause != VanishCause::Balance {
            self.remove(i, cause);
            return;
        }
        self.faults.zero_balance = true;
        for j in 0..self.pods.len() {
            match (self.pods[j].status, self.pods[j].network.is_some()) {
                ("TERMINATED", _) => {}
                (_, false) => self.remove(j, cause),
                ("EXITED", true) => {}
                (_, true) => self.set_status(j, "EXITED"),
            }
        }
    }

    fn remove(&mut self, i: usize, cause: VanishCause) {
        self.set_status(i, "TERMINATED");
        self.pods[i].vanished = Some(cause);
    }
}

/// A log stream that continues after its backfill.
#[derive(Debug)]
pub(crate) struct Follow {
    pub(crate) pod_id: String,
    pub(crate) after_seq: u64,
    pub(crate) source: Option<LogSource>,
    /// Events the stream may still send before it is cut (`dropLogStreamsAfter`).
    pub(crate) left: Option<u64>,
}

/// One call of a pod's `runpodctl` ([`crate::Emulator::runpodctl_calls`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunpodctlCall {
    /// Its arguments.
    pub args: Vec<String>,
    /// The pod whose key made the call; `None` for the account key or an unknown one.
    pub caller: Option<String>,
    /// Its exit status: 0 on success.
    pub exit_code: i32,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr (the deprecation warning of a legacy form, or the error).
    pub stderr: String,
}
