//! The settings of a `Trainpod`, converted once into the core builder, and the built SDK, made
//! again in a forked child: its HTTP connections and store pool belong to the parent's runtime.

use crate::errors::to_py;
use crate::runtime::{FORK_DEPTH, block_on};
use pyo3::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use trainpod::clock::ManualClock;
use trainpod::jobs::ReconcilePolicy;
use trainpod::script::PodRuntime;
use trainpod::sdk::{Trainpod, TrainpodBuilder};
use trainpod::token::KeyRing;

/// The keyword arguments of the constructor, as core types.
#[derive(Clone, Default)]
pub(crate) struct Config {
    pub runpod_api_key: Option<String>,
    pub credentials: Option<Arc<dyn trainpod::sdk::Credentials>>,
    pub runpod_base_url: Option<String>,
    pub local_provider: Option<(String, String)>,
    pub app_url: Option<String>,
    pub signing_keys: Option<KeyRing>,
    pub store: Option<String>,
    pub datasets_dir: Option<PathBuf>,
    pub artifacts_dir: Option<PathBuf>,
    pub allow_loopback: Option<bool>,
    pub image: Option<String>,
    pub pod_runtime: Option<PodRuntime>,
    pub pod_env: BTreeMap<String, String>,
    pub follow_interval: Option<Duration>,
    pub reconcile: Option<ReconcilePolicy>,
    pub hub_url: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_secrets: Vec<String>,
    pub ignore_env: bool,
    pub clock: Option<Arc<ManualClock>>,
}

impl Config {
    fn builder(&self, store: Option<Arc<dyn trainpod::store::Store>>) -> TrainpodBuilder {
        let mut b = Trainpod::builder();
        if self.ignore_env {
            b = b.ignore_env();
        }
        if let Some(key) = &self.runpod_api_key {
            b = b.runpod_api_key(key);
        }
        if let Some(url) = &self.runpod_base_url {
            b = b.runpod_base_url(url);
        }
        if let Some(credentials) = &self.credentials {
            b = b.credentials(credentials.clone());
        }
        if let Some((url, key)) = &self.local_provider {
            b = b.local_provider(url, key);
        }
        if let Some(allow) = self.allow_loopback {
            b = b.allow_loopback(allow);
        }
        if let Some(url) = &self.app_url {
            b = b.app_url(url);
        }
        if let Some(keys) = &self.signing_keys {
            b = b.signing_keys(keys.clone());
        }
        match (store, &self.store) {
            (Some(store), _) => b = b.store(store),
            (None, Some(url)) => b = b.store_url(url),
            (None, None) => {}
        }
        if let Some(dir) = &self.datasets_dir {
            b = b.datasets_dir(dir);
        }
        if let Some(dir) = &self.artifacts_dir {
            b = b.artifacts_dir(dir);
        }
        if let Some(image) = &self.image {
            b = b.image(image);
        }
        if let Some(runtime) = &self.pod_runtime {
            b = b.pod_runtime(runtime.clone());
        }
        for (name, value) in &self.pod_env {
            b = b.pod_env(name, value);
        }
        if let Some(interval) = self.follow_interval {
            b = b.follow_interval(interval);
        }
        if let Some(clock) = &self.clock {
            b = b.clock(clock.clone());
        }
        if let Some(policy) = &self.reconcile {
            b = b.reconcile_policy(policy.clone());
        }
        if let Some(url) = &self.hub_url {
            b = b.hub_url(url);
        }
        if let Some(url) = &self.webhook_url {
            b = b.webhook_url(url);
        }
        b.webhook_secrets(self.webhook_secrets.iter().cloned())
    }
}

/// The SDK of one Python object: its settings, and the SDK built in this process and in each
/// ancestor it was forked from (write-once slots, read without a lock, as the runtime's are).
pub(crate) struct Handle {
    config: Config,
    built: [OnceLock<(u32, Arc<Trainpod>)>; FORK_DEPTH],
}

impl Handle {
    /// Builds the SDK (validating every setting), blocking with the GIL released.
    pub(crate) fn new(py: Python<'_>, config: Config) -> PyResult<Handle> {
        let tp = block_on(py, config.builder(None).build()).map_err(|e| to_py(py, e))?;
        let handle = Handle {
            config,
            built: [const { OnceLock::new() }; FORK_DEPTH],
        };
        handle.keep(tp);
        Ok(handle)
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The SDK as built in this process; in a forked child that has not built it yet, the
    /// store to keep (an in-memory one holds no connection: the child keeps a copy of the jobs).
    fn current(&self) -> Result<Arc<Trainpod>, Option<Arc<dyn trainpod::store::Store>>> {
        let pid = std::process::id();
        let mut parent = None;
        for (owner, tp) in self.built.iter().map_while(OnceLock::get) {
            if *owner == pid {
                return Ok(tp.clone());
            }
            parent = Some(tp);
        }
        let store = parent
            .map(|tp| tp.store())
            .filter(|s| s.backend() == "memory");
        Err(store.cloned())
    }

    /// Keeps `tp` as this process's SDK, unless another thread kept one first.
    fn keep(&self, tp: Trainpod) -> Arc<Trainpod> {
        let pid = std::process::id();
        let tp = Arc::new(tp);
        for slot in &self.built {
            let (owner, kept) = slot.get_or_init(|| (pid, tp.clone()));
            if *owner == pid {
                return kept.clone();
            }
        }
        // Deeper than FORK_DEPTH forks: not kept, so built again on each call.
        tp
    }

    /// The SDK, blocking to rebuild it in a forked child.
    pub(crate) fn get(&self, py: Python<'_>) -> PyResult<Arc<Trainpod>> {
        match self.current() {
            Ok(tp) => Ok(tp),
            Err(store) => {
                let tp =
                    block_on(py, self.config.builder(store).build()).map_err(|e| to_py(py, e))?;
                Ok(self.keep(tp))
            }
        }
    }

    /// The SDK, rebuilding it in a forked child.
    pub(crate) async fn get_async(&self) -> trainpod::Result<Arc<Trainpod>> {
        match self.current() {
            Ok(tp) => Ok(tp),
            Err(store) => {
                let tp = self.config.builder(store).build().await?;
                Ok(self.keep(tp))
            }
        }
    }
}
