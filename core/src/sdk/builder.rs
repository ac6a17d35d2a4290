//! `Trainpod::builder()`: every setting validated once, in `build`, so that a missing key or a
//! bad URL is found when the app starts, not when a job deploys.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Trainpod;
use super::routes::Routes;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::{RateLimiter, ReconcilePolicy};
use crate::reach::{ReachPolicy, Resolver, SystemResolver, check_reachable};
use crate::runpod::{ApiKey, Client, DEFAULT_BASE_URL};
use crate::script::PodRuntime;
use crate::staging::{BucketStaging, VolumeStaging};
use crate::store::Store;
use crate::token::{KeyRing, Tokens};
use crate::webhooks::WebhookEndpoint;

/// The variable read for the RunPod API key when none is given.
pub const API_KEY_ENV: &str = "RUNPOD_API_KEY";
/// The variable read for the signing keys when none are given (`kid:active:secret,...`).
pub const SIGNING_KEYS_ENV: &str = "TRAINPOD_SIGNING_KEYS";

/// Builds a [`Trainpod`].
#[derive(Default)]
pub struct TrainpodBuilder {
    api_key: Option<String>,
    credentials: Option<Arc<dyn super::Credentials>>,
    runpod_base_url: Option<String>,
    app_url: Option<String>,
    routes: Option<Routes>,
    keys: Option<KeyRing>,
    store: Option<Arc<dyn Store>>,
    store_url: Option<String>,
    datasets_dir: Option<PathBuf>,
    artifacts_dir: Option<PathBuf>,
    bucket: Option<Arc<BucketStaging>>,
    volume: Option<Arc<VolumeStaging>>,
    reach: ReachPolicy,
    resolver: Option<Arc<dyn Resolver>>,
    runtime: Option<PodRuntime>,
    image: Option<String>,
    pod_env: BTreeMap<String, String>,
    clock: Option<Arc<dyn Clock>>,
    reconcile: Option<ReconcilePolicy>,
    follow_interval: Option<Duration>,
    hub_url: Option<String>,
    webhook_url: Option<String>,
    webhook_secrets: Vec<String>,
    local_pods: bool,
    env: bool,
}

impl std::fmt::Debug for TrainpodBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainpodBuilder")
            .field("runpod_base_url", &self.runpod_base_url)
            .field("app_url", &self.app_url)
            .field("datasets_dir", &self.datasets_dir)
            .field("artifacts_dir", &self.artifacts_dir)
            .field("hub_url", &self.hub_url.as_ref().map(|_| "<set>"))
            .field("webhook_url", &self.webhook_url.as_ref().map(|_| "<set>"))
            .field("webhook_secrets", &self.webhook_secrets.len())
            .finish_non_exhaustive()
    }
}

impl TrainpodBuilder {
    pub(super) fn new() -> Self {
        TrainpodBuilder {
            env: true,
            ..TrainpodBuilder::default()
        }
    }

    /// The RunPod API key; `RUNPOD_API_KEY` when not given.
    pub fn runpod_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The app's credentials resolver: each job runs on its spec's `account`, with the key this
    /// gives for it when a call needs one (trainpod keeps only the account id). With it, a
    /// RunPod key of the builder's own is optional: it serves the jobs that name no account.
    pub fn credentials(mut self, credentials: Arc<dyn super::Credentials>) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Another RunPod REST v2 base URL (the local provider, the emulator, a proxy).
    pub fn runpod_base_url(mut self, url: impl Into<String>) -> Self {
        self.runpod_base_url = Some(url.into());
        self
    }

    /// The local provider at `base_url` with its account key: pods run on this machine, so the
    /// app may be on loopback and no GPU is expected.
    pub fn local_provider(
        mut self,
        base_url: impl Into<String>,
        api_key: impl Into<String>,
    ) -> Self {
        self.runpod_base_url = Some(base_url.into());
        self.api_key = Some(api_key.into());
        self.reach = ReachPolicy::AllowLoopback;
        self.local_pods = true;
        self
    }

    /// Where a pod reaches the app (`https://app.example.com`): the dataset, metrics and
    /// artifacts routes are under it.
    pub fn app_url(mut self, url: impl Into<String>) -> Self {
        self.app_url = Some(url.into());
        self
    }

    /// The app's route paths, when they are not trainpod's defaults.
    pub fn routes(mut self, routes: Routes) -> Self {
        self.routes = Some(routes);
        self
    }

    /// The key ring tokens are signed with; `TRAINPOD_SIGNING_KEYS` when not given.
    pub fn signing_keys(mut self, keys: KeyRing) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The store (jobs, token ledger, metric batches, events).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The store by URL: `sqlite://PATH` (the default is `sqlite://trainpod.db`), `postgres://…`
    /// or `memory:`.
    pub fn store_url(mut self, url: impl Into<String>) -> Self {
        self.store_url = Some(url.into());
        self
    }

    /// The directory of app-served datasets (`<dir>/<id>`).
    pub fn datasets_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.datasets_dir = Some(dir.into());
        self
    }

    /// The directory artifacts uploaded to the app are kept in.
    pub fn artifacts_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.artifacts_dir = Some(dir.into());
        self
    }

    /// The S3-compatible bucket that `DatasetRef::Bucket` datasets are in.
    pub fn bucket(mut self, bucket: BucketStaging) -> Self {
        self.bucket = Some(Arc::new(bucket));
        self
    }

    /// The RunPod network volume that `DatasetRef::Volume` datasets are on.
    pub fn volume(mut self, volume: VolumeStaging) -> Self {
        self.volume = Some(Arc::new(volume));
        self
    }

    /// Accept `http` and loopback app URLs (only where pods run on this machine).
    pub fn allow_loopback(mut self, allow: bool) -> Self {
        self.reach = if allow {
            ReachPolicy::AllowLoopback
        } else {
            ReachPolicy::Public
        };
        self
    }

    /// The resolver the reachability check uses.
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// How pods behave (Python, GPU check, intervals, pinned stack); `api_base` is set from the
    /// RunPod base URL.
    pub fn pod_runtime(mut self, runtime: PodRuntime) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// The default container image for jobs that name none.
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// An environment variable set on every pod (not a secret: it is visible in the pod's
    /// configuration on RunPod). `build` refuses a name that changes how the pod's processes
    /// load or that trainpod or RunPod set (`LD_*`, `BASH_ENV`, `PATH`, `PYTHON*`, `RUNPOD_*`,
    /// `TRAINPOD_*`, ...: [`super::reserved_pod_env`]) and more than
    /// [`super::MAX_POD_ENV_BYTES`] of names and values; `plan` and `deploy` hold the pod's
    /// whole environment, its script included, to that bound (`docs/pod-protocol.md`).
    /// `HF_TOKEN` and `HF_ENDPOINT` are the Hub's, which `plan`'s model check uses too.
    pub fn pod_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.pod_env.insert(name.into(), value.into());
        self
    }

    /// The clock (tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// When the reconciler ends a pod.
    pub fn reconcile_policy(mut self, policy: ReconcilePolicy) -> Self {
        self.reconcile = Some(policy);
        self
    }

    /// How often `follow` polls the store (default 500 ms).
    pub fn follow_interval(mut self, interval: Duration) -> Self {
        self.follow_interval = Some(interval);
        self
    }

    /// The Hugging Face Hub that `plan` checks a model id against (default
    /// `https://huggingface.co`; `HF_ENDPOINT` in `pod_env`, then in the environment, when not
    /// given): a mirror, or a stand-in on loopback for tests. https, or http on loopback.
    pub fn hub_url(mut self, url: impl Into<String>) -> Self {
        self.hub_url = Some(url.into());
        self
    }

    /// Where job events are POSTed as signed webhooks (Standard Webhooks): https, or http on
    /// loopback with `allow_loopback(true)`. Needs [`Self::webhook_secrets`]. Events are sent by
    /// [`Trainpod::deliver_webhooks`], which `reconcile` also runs at the end of its pass.
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }

    /// The secrets webhooks are signed with (`whsec_...`, from
    /// [`crate::webhooks::generate_webhook_secret`]). Each delivery carries a signature by every
    /// one, so a secret rotates without a lost delivery: add the new one, move each receiver to
    /// it, then drop the old one. Messages are signed when they are sent, so one queued before a
    /// rotation is signed with the secrets of the moment it goes out.
    pub fn webhook_secrets<S: Into<String>>(
        mut self,
        secrets: impl IntoIterator<Item = S>,
    ) -> Self {
        self.webhook_secrets = secrets.into_iter().map(Into::into).collect();
        self
    }

    /// Do not read `RUNPOD_API_KEY`, `TRAINPOD_SIGNING_KEYS` or `HF_ENDPOINT` from the
    /// environment.
    pub fn ignore_env(mut self) -> Self {
        self.env = false;
        self
    }

    fn env_var(&self, name: &str) -> Option<String> {
        self.env
            .then(|| std::env::var(name).ok())
            .flatten()
            .filter(|v| !v.is_empty())
    }

    /// Validates every setting, opens the store (applying migrations) and returns the SDK.
    pub async fn build(self) -> Result<Trainpod> {
        super::pod_env::check_pod_env(&self.pod_env)?;
        let clock = self.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
        let accounts = self.accounts(clock.clone())?;
        let resolver = self
            .resolver
            .clone()
            .unwrap_or_else(|| Arc::new(SystemResolver));
        let app_url = self.checked_app_url(resolver.as_ref())?;
        let hub = super::model_check::Hub::new(
            self.hub_url.as_deref(),
            &self.pod_env,
            self.env_var(super::HUB_URL_ENV),
        )?;
        let tokens = self.tokens(app_url.as_deref(), clock.clone())?;
        let webhooks = self.webhook_endpoint()?;
        let store = match (self.store.clone(), self.store_url.as_deref()) {
            (Some(store), _) => store,
            (None, Some(url)) => crate::store::open(url).await?,
            (None, None) => crate::store::open("sqlite://trainpod.db").await?,
        };
        // The datasets' digests are kept in the store, for the app's next process.
        let staging = match &self.datasets_dir {
            Some(dir) => Some(Arc::new(
                crate::staging::AppStaging::new(dir, tokens.clone())?.with_store(store.clone()),
            )),
            None => None,
        };
        let mut runtime = self.runtime.clone().unwrap_or_default();
        runtime.api_base = self
            .runpod_base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        if self.reach == ReachPolicy::AllowLoopback && self.runtime.is_none() {
            // Pods of the local provider run on this CPU.
            runtime.expect_gpu = false;
        }
        Ok(Trainpod {
            limiter: RateLimiter::new(20, 5.0, clock.clone()),
            accounts,
            tokens,
            store,
            app_url,
            routes: self.routes.clone().unwrap_or_default(),
            staging,
            artifacts_dir: self.artifacts_dir.clone(),
            bucket: self.bucket.clone(),
            volume: self.volume.clone(),
            reach: self.reach,
            resolver,
            runtime,
            image: self
                .image
                .clone()
                .unwrap_or_else(|| crate::script::DEFAULT_IMAGE.to_owned()),
            pod_env: self.pod_env.clone(),
            clock,
            reconcile: self.reconcile.clone().unwrap_or_default(),
            follow_interval: self.follow_interval.unwrap_or(Duration::from_millis(500)),
            looks: Default::default(),
            hub,
            local_pods: self.local_pods,
            webhooks,
        })
    }

    fn webhook_endpoint(&self) -> Result<Option<Arc<WebhookEndpoint>>> {
        let secrets = crate::webhooks::parse_secrets(&self.webhook_secrets)?;
        match &self.webhook_url {
            Some(url) => Ok(Some(Arc::new(WebhookEndpoint::new(
                url,
                secrets,
                self.reach == ReachPolicy::AllowLoopback,
            )?))),
            None if secrets.is_empty() => Ok(None),
            None => Err(Error::invalid_input(
                "webhook secrets were given without webhook_url(...): give the URL webhooks go \
                 to, or no secrets",
            )),
        }
    }

    fn accounts(&self, clock: Arc<dyn Clock>) -> Result<super::accounts::Accounts> {
        let key = self.api_key.clone().or_else(|| self.env_var(API_KEY_ENV));
        let own_key = key.is_some();
        let key = match (key, &self.credentials) {
            (Some(key), _) => ApiKey::new(key)?,
            // Never sent: with no key of its own, account "" is refused before any request.
            (None, Some(_)) => ApiKey::new("trainpod-no-own-key")?,
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::AuthInvalid,
                    "no RunPod API key: pass runpod_api_key(...) or set RUNPOD_API_KEY \
                     (create one at https://www.runpod.io/console/user/settings), or pass \
                     credentials(...) to run each job on its user's own account",
                ));
            }
        };
        let mut builder = Client::builder_with_reqwest(key)?.clock(clock);
        if let Some(url) = &self.runpod_base_url {
            builder = builder.base_url(url.clone());
        }
        let template = builder.build()?;
        Ok(super::accounts::Accounts::new(
            template,
            own_key,
            self.credentials.clone(),
        ))
    }

    fn checked_app_url(&self, resolver: &dyn Resolver) -> Result<Option<String>> {
        let Some(url) = &self.app_url else {
            return Ok(None);
        };
        check_reachable(url, self.reach, resolver)?;
        Ok(Some(url.trim_end_matches('/').to_owned()))
    }

    fn tokens(&self, app_url: Option<&str>, clock: Arc<dyn Clock>) -> Result<Tokens> {
        let keys = match (&self.keys, self.env_var(SIGNING_KEYS_ENV)) {
            (Some(keys), _) => keys.clone(),
            (None, Some(spec)) => KeyRing::parse(&spec)?,
            (None, None) => {
                return Err(Error::invalid_input(
                    "no signing keys: pass signing_keys(KeyRing::parse(\"k1:active:<secret>\")?) or \
                     set TRAINPOD_SIGNING_KEYS (make a secret with trainpod::token::generate_secret)",
                ));
            }
        };
        Tokens::builder()
            .keys(keys)
            .audience(app_url.unwrap_or("trainpod"))
            .clock(clock)
            .build()
    }
}
