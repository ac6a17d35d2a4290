//! A RunPod REST v2 emulator on loopback, for tests in Rust, Python and Node.
//!
//! It implements the subset trainpod uses: `GET/POST /v2/pods` (with `includeClusterPods`),
//! `GET/PATCH/DELETE /v2/pods/{id}`, `POST /v2/pods/{id}/action`, `GET /v2/pods/{id}/logs` (a
//! live SSE stream with `source`, `tail`, `since` and `Last-Event-ID`), `GET /v2/catalog/gpus`
//! and `GET /v2/catalog/gpus/{id}` (with the availability filters), `GET /v2/billing/pods`, and
//! Instant Clusters: `GET/POST /v2/clusters`, `GET/PATCH/DELETE /v2/clusters/{id}`,
//! `GET /v2/clusters/{id}/pods` and `GET /v2/billing/clusters`, with the `RateLimit` headers on
//! every answer to an authenticated request.
//!
//! Time is a manual clock ([`Emulator::advance`]) unless [`Options::real_time`] is set: pods move
//! PROVISIONING → STARTING (1 s) → RUNNING (3 s), and billing accrues per second at the pod's
//! price while it is not EXITED or TERMINATED. Faults are set per test through [`Emulator::faults`]
//! or a named profile ([`Emulator::profile`]); they include the ways RunPod fails by itself: pods
//! that vanish, hosts whose CUDA is below the image's, image pull backoff, RUNNING with no
//! container, capacity refusals in each wording, quotas, log streams that drop, pod keys refused.
//!
//! It serves several accounts, each with its own keys and pods: [`ACCOUNT_KEY`] is the key of
//! the account `default`, and [`Emulator::add_account`], [`Emulator::add_key`] and
//! [`Options::accounts`] add others. A key sees its own account's pods only (another account's
//! answers 404, as a missing one), with the permission RunPod gives keys ([`Permission`]: all,
//! read only, none), and a revoked key ([`Emulator::revoke_key`]) answers 401.
//!
//! With [`Options::run_pods`] the emulator is also a local provider: each pod it creates runs its
//! start command as a local process group, as RunPod runs a container (see [`RunPods`]). With
//! [`Options::hub_dir`] it also serves a Hugging Face Hub mirror ([`Hub`]) that those pods
//! download their models from (`HF_ENDPOINT`).

mod accounts;
mod admin;
mod answer;
mod billing;
mod catalog;
mod cluster_create;
mod clusters;
mod container;
mod create;
mod cuda;
mod faults;
mod http;
mod hub;
mod logs;
mod params;
mod patch;
mod pods;
mod ratelimit;
mod runner;
mod runpodctl;
mod shared;
mod state;
mod validate;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use tokio::sync::watch;

pub use accounts::{AccountKey, DEFAULT_ACCOUNT, Permission};
pub use clusters::cluster_env;
pub use faults::{CapacityStyle, Faults, PROFILES, PullBackoff, VanishAfter, VanishCause};
pub use hub::Hub;
pub use runner::{LocalPod, RunPods};
use shared::Shared;
pub use state::RunpodctlCall;
use state::State;

/// Pod ids unique across emulators in one process, and unlikely to repeat across processes,
/// as RunPod's are: stores shared between tests key records on them.
fn pod_id() -> String {
    fresh_id("emu")
}

/// Cluster ids, unique as pod ids are (and never one of theirs).
fn cluster_id() -> String {
    fresh_id("emucl")
}

fn fresh_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{prefix}{:x}x{:06}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The key of the account [`DEFAULT_ACCOUNT`] (permission all), which every emulator accepts
/// until it is revoked.
pub const ACCOUNT_KEY: &str = "rpa_emulator_account_key";

/// One request as the emulator received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Headers (the `authorization` value is kept so tests can assert on it).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// The account whose key (an account key or a pod-scoped one) made the request; `None`
    /// when it was not authenticated (401).
    pub account: Option<String>,
    /// Status answered.
    pub status: u16,
    /// Body answered (for a log stream, its backfill).
    pub response: Vec<u8>,
    /// Headers answered beyond the server's own (content type, `RateLimit`, `Retry-After`…),
    /// names in lower case.
    pub response_headers: Vec<(String, String)>,
}

/// Which log a line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogSource {
    /// The container's stdout and stderr.
    Container,
    /// The host's lifecycle log.
    System,
}

impl LogSource {
    fn as_str(self) -> &'static str {
        match self {
            LogSource::Container => "container",
            LogSource::System => "system",
        }
    }
}

/// How the emulator runs.
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// use trainpod_emulator::{Emulator, Options, RunPods};
/// let emu = Emulator::start_with(Options {
///     run_pods: Some(RunPods::default()),
///     ..Options::default()
/// })
/// .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Advance the clock by itself, one second per real second, from the real time (for the
    /// local provider and for tests of real-time billing). Otherwise the clock starts at a fixed
    /// instant and moves only through [`Emulator::advance`]. Implied by `run_pods`.
    pub real_time: bool,
    /// Run each created pod's start command (`args`) as a local process group: the local
    /// provider. `None` (the default) only records pods.
    pub run_pods: Option<RunPods>,
    /// Keys to add at start, beside [`ACCOUNT_KEY`] (account [`DEFAULT_ACCOUNT`]): each account
    /// is created with its first key. A key given twice for one account takes the last
    /// permission; a key of two accounts fails the start.
    pub accounts: Vec<AccountKey>,
    /// Serve the models under this directory (`<dir>/<org>/<name>/…`) as a Hugging Face Hub
    /// mirror on loopback ([`Hub`]); the local provider's pods get `HF_ENDPOINT` pointing at it.
    pub hub_dir: Option<std::path::PathBuf>,
}

/// A running emulator. Dropping it (or [`Emulator::stop`]) stops the server and, with
/// [`Options::run_pods`], kills every pod's process group.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    hub: Option<Hub>,
}

impl Emulator {
    /// Start on 127.0.0.1 on a free port, on the caller's tokio runtime, on a manual clock.
    pub async fn start() -> std::io::Result<Emulator> {
        Emulator::start_with(Options::default()).await
    }

    /// Start with these options.
    pub async fn start_with(options: Options) -> std::io::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let real_time = options.real_time || options.run_pods.is_some();
        let mut state = State::default();
        for k in &options.accounts {
            state
                .accounts
                .add(k, false)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        }
        let control = format!("http://{addr}/_emulator/runpodctl");
        let hub = match options.hub_dir {
            Some(dir) => Some(Hub::start(dir).await?),
            None => None,
        };
        let runner = options
            .run_pods
            .map(|mut r| {
                if let Some(hub) = &hub {
                    // Before the pod's own env, which may name another endpoint.
                    r.extra_env.push(("HF_ENDPOINT".into(), hub.endpoint()));
                }
                runner::Runner::new(r, &control)
            })
            .transpose()?;
        let now = if real_time {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        } else {
            1_700_000_000
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                now,
                local: runner.is_some(),
                ..state
            }),
            changed: watch::channel(0).0,
            runner,
        });
        let app_shared = shared.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let shared = app_shared.clone();
                async move { http::handle(shared, method, uri, headers, body).await }
            },
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        if real_time {
            tick_in_real_time(&shared);
        }
        Ok(Emulator {
            addr,
            shared,
            stop: Some(tx),
            hub,
        })
    }

    /// The Hugging Face Hub mirror, when [`Options::hub_dir`] started one.
    pub fn hub(&self) -> Option<&Hub> {
        self.hub.as_ref()
    }

    /// The base URL to give the client, ending in `/v2`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    /// Stop serving; open log streams end, and every pod's process group is killed.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            self.shared.lock().stopped = true;
            self.shared.notify();
            let _ = tx.send(());
        }
        // At once and synchronously: the runtime may end right after this drop, before the
        // pods' supervisors run again (they reap what is left when they do).
        if let Some(runner) = &self.shared.runner {
            runner.kill_all();
        }
    }

    /// Change the faults for the next requests.
    pub fn faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.shared.lock().faults);
        self.shared.notify();
    }

    /// Set the faults of a named profile (one of [`PROFILES`]) on top of the current ones; the
    /// error lists the known names.
    pub fn profile(&self, name: &str) -> Result<(), String> {
        self.shared.lock().faults.apply_profile(name)
    }

    /// Make a pod vanish now, as RunPod removes one without being asked: gone from every
    /// endpoint (404), its billing record kept, its processes SIGKILLed with the local provider.
    /// [`VanishCause::Balance`] is account-wide (see [`Faults::zero_balance`]). False when there
    /// is no such pod, or it is already gone.
    pub fn vanish_pod(&self, pod_id: &str, cause: VanishCause) -> bool {
        let found = {
            let mut s = self.shared.lock();
            let i = s
                .index(pod_id)
                .filter(|i| s.pods[*i].status != "TERMINATED");
            i.map(|i| s.vanish(i, cause)).is_some()
        };
        self.shared.notify();
        found
    }

    /// Why a pod vanished; `None` while it has not (or there is no such pod).
    pub fn pod_vanished(&self, pod_id: &str) -> Option<VanishCause> {
        let s = self.shared.lock();
        s.index(pod_id).and_then(|i| s.pods[i].vanished)
    }

    /// Whether a pod's container runs (`runtime` is shown exactly then); `None` when there is
    /// no such pod.
    pub fn container_running(&self, pod_id: &str) -> Option<bool> {
        let s = self.shared.lock();
        s.index(pod_id).map(|i| s.pods[i].container_since.is_some())
    }

    /// Every call of a pod's `runpodctl` so far (local provider).
    pub fn runpodctl_calls(&self) -> Vec<RunpodctlCall> {
        self.shared.lock().runpodctl.clone()
    }

    /// Adds an account (or, for one that exists, another key of it) with a fresh key of
    /// permission all, and returns the key (`rpa_emulator_<account>_key`, then `…_key2`…). An
    /// error for an account id that is not letters, digits, `.`, `_` and `-`.
    pub fn add_account(&self, account: &str) -> Result<String, String> {
        let mut s = self.shared.lock();
        let key = s.accounts.fresh_key(account, &s.pod_keys);
        let k = AccountKey {
            account: account.to_owned(),
            key: key.clone(),
            permission: Permission::All,
        };
        s.accounts.add(&k, false)?;
        Ok(key)
    }

    /// Adds `key` to `account` (creating the account), or changes the permission of a key the
    /// account holds. An error for a key of another account or of a pod, or an invalid id or
    /// key (see [`AccountKey::parse`]).
    pub fn add_key(&self, account: &str, key: &str, permission: Permission) -> Result<(), String> {
        let mut s = self.shared.lock();
        let taken = s.pod_keys.contains_key(key);
        let k = AccountKey {
            account: account.to_owned(),
            key: key.to_owned(),
            permission,
        };
        s.accounts.add(&k, taken)
    }

    /// Revokes a key, an account's or a pod-scoped one, as a key disabled or deleted in
    /// RunPod's console: from then on v2 answers it 401. False for an unknown key.
    pub fn revoke_key(&self, key: &str) -> bool {
        let mut s = self.shared.lock();
        s.accounts.revoke(key).is_some() || s.pod_keys.remove(key).is_some()
    }

    /// Every account key, account by account (ids in order), keys in the order they were added.
    pub fn accounts(&self) -> Vec<AccountKey> {
        let s = self.shared.lock();
        s.accounts.list().into_iter().flat_map(|(_, k)| k).collect()
    }

    /// The account a pod belongs to (the one whose key created it); `None` when there is no
    /// such pod.
    pub fn pod_account(&self, pod_id: &str) -> Option<String> {
        let s = self.shared.lock();
        s.index(pod_id).map(|i| s.pods[i].account.clone())
    }

    /// Issue a pod-scoped key that may act only on `pod_id` (in the pod's account).
    pub fn pod_key(&self, pod_id: &str) -> String {
        let key = format!("rpa_pod_{pod_id}");
        self.shared
            .lock()
            .pod_keys
            .insert(key.clone(), pod_id.to_owned());
        key
    }

    /// Move the emulator's clock forward: pods change status, accrue billing, log what their
    /// hosts say, and vanish when due.
    pub fn advance(&self, secs: u64) {
        self.shared.advance(secs);
    }

    /// The emulator's clock, in seconds since the epoch.
    pub fn now(&self) -> u64 {
        self.shared.lock().now
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().log.clone()
    }

    /// Registers a network volume in data center `dc` (one of the emulator's), so that pods can
    /// mount it. Returns `false` for an unknown data center.
    pub fn add_network_volume(&self, id: &str, dc: &str) -> bool {
        let Some(known) = catalog::DATA_CENTERS.iter().find(|d| d.id == dc) else {
            return false;
        };
        self.shared.lock().volumes.insert(id.to_owned(), known.id);
        true
    }

    /// Number of clusters ever created (deleted ones included).
    pub fn cluster_count(&self) -> usize {
        self.shared.lock().clusters.len()
    }

    /// The member pods of a cluster, by rank (0 first), those that went included; `None` when
    /// there is no such cluster (a deleted one still answers).
    pub fn cluster_members(&self, cluster_id: &str) -> Option<Vec<String>> {
        let s = self.shared.lock();
        s.cluster_index(cluster_id)
            .map(|c| s.clusters[c].members.clone())
    }

    /// The account a cluster belongs to (the one whose key created it); `None` when there is no
    /// such cluster.
    pub fn cluster_account(&self, cluster_id: &str) -> Option<String> {
        let s = self.shared.lock();
        s.cluster_index(cluster_id)
            .map(|c| s.clusters[c].account.clone())
    }

    /// The variables RunPod sets on a cluster's member pod (`PRIMARY_ADDR`, `MASTER_ADDR`,
    /// `PRIMARY_PORT`, `MASTER_PORT`, `NODE_ADDR`, `NODE_RANK`, `NUM_NODES`, `NUM_TRAINERS`,
    /// `HOST_NODE_ADDR`, `WORLD_SIZE`), as its container gets them with the local provider;
    /// `None` for a standalone pod or no such pod.
    pub fn cluster_env(&self, pod_id: &str) -> Option<Vec<(String, String)>> {
        let s = self.shared.lock();
        let p = &s.pods[s.index(pod_id)?];
        p.cluster.as_ref()?;
        Some(clusters::injected_env(&s, p))
    }

    /// Number of pods ever created (terminated ones included).
    pub fn pod_count(&self) -> usize {
        self.shared.lock().pods.len()
    }

    /// The status of a pod (a vanished pod is TERMINATED).
    pub fn pod_status(&self, pod_id: &str) -> Option<&'static str> {
        let s = self.shared.lock();
        s.index(pod_id).map(|i| s.pods[i].status)
    }

    /// Append a line to a pod's container log.
    pub fn push_log(&self, pod_id: &str, line: &str) {
        self.append_log(pod_id, LogSource::Container, line);
    }

    /// Append a line to one of a pod's logs, time-stamped with the emulator's clock; open log
    /// streams of the pod receive it at once. Returns false when there is no such pod.
    pub fn append_log(&self, pod_id: &str, source: LogSource, line: &str) -> bool {
        self.shared.append_log(pod_id, source, line.to_owned())
    }

    /// How many times the container of a pod was restarted after its main process exited by
    /// itself (always 0 unless pods run locally); `None` when there is no such pod.
    pub fn pod_restarts(&self, pod_id: &str) -> Option<u32> {
        let s = self.shared.lock();
        s.index(pod_id).map(|i| s.pods[i].restarts)
    }

    /// Where and how a pod runs locally; `None` when there is no such pod or pods do not run
    /// ([`Options::run_pods`] unset).
    pub fn local_pod(&self, pod_id: &str) -> Option<LocalPod> {
        let s = self.shared.lock();
        let p = &s.pods[s.index(pod_id)?];
        let workspace = p.workspace.clone()?;
        Some(LocalPod {
            log_file: workspace.join(runner::LOG_FILE),
            workspace,
            pid: p.pid,
            restarts: p.restarts,
        })
    }
}

/// Advance the clock one second per real second. Holds only a weak reference: the ticking ends
/// with the emulator.
fn tick_in_real_time(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await; // the first tick is immediate
        loop {
            tick.tick().await;
            let Some(shared) = weak.upgrade() else { break };
            if shared.lock().stopped {
                break;
            }
            shared.advance(1);
        }
    });
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}
