//! The RunPod REST v2 client.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::api_key::ApiKey;
use super::errors::{map_error_response, map_transport};
use super::query::{GpuCatalogQuery, PodFilter, path_segment};
use super::requests::PodUpdate;
use super::retry::{RetryPolicy, Sleeper, TokioSleeper, is_retryable_request};
use super::transport::{HttpRequest, HttpResponse, HttpSend, Method};
use super::types::{
    GpuType, ListGpusResponse, ListPodBillingResponse, ListPodsResponse, Pod, PodAction,
    PodBillingRecord,
};
use super::validate::{validate_gpu_id, validate_update};
use crate::clock::{Clock, OsRandom, Random, SystemClock};
use crate::{Error, ErrorKind, Result};

/// RunPod's REST v2 base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.runpod.io/v2";

/// A RunPod REST v2 client. Cheap to clone; share one per key.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sender: Arc<dyn HttpSend>,
    key: ApiKey,
    base_url: String,
    user_agent: String,
    pub(super) retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    sleeper: Arc<dyn Sleeper>,
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    sender: Arc<dyn HttpSend>,
    key: ApiKey,
    base_url: String,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    sleeper: Arc<dyn Sleeper>,
}

impl ClientBuilder {
    /// Use another base URL (the emulator, the local provider). It must end in `/v2`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Retry bounds for reads, actions and deletes.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The clock that bounds total retry time.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Randomness for backoff jitter.
    pub fn random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }

    /// How to wait between attempts.
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// Validate and build.
    pub fn build(self) -> Result<Client> {
        let base = self.base_url.trim_end_matches('/').to_owned();
        let scheme_ok = base.starts_with("https://")
            || base.starts_with("http://127.0.0.1")
            || base.starts_with("http://localhost")
            || base.starts_with("http://[::1]");
        if !scheme_ok || base.chars().any(|c| c.is_whitespace() || c.is_control()) {
            // Not shown: a base URL may carry a proxy's user name and password.
            return Err(Error::invalid_input(
                "the RunPod base URL is invalid: use https://, or http:// on loopback for the emulator",
            ));
        }
        Ok(Client {
            inner: Arc::new(Inner {
                sender: self.sender,
                key: self.key,
                base_url: base,
                user_agent: format!("trainpod/{}", crate::VERSION),
                retry: self.retry,
                clock: self.clock,
                random: self.random,
                sleeper: self.sleeper,
            }),
        })
    }
}

impl Client {
    /// A builder for a client that sends through `sender` with `key`.
    pub fn builder(key: ApiKey, sender: Arc<dyn HttpSend>) -> ClientBuilder {
        ClientBuilder {
            sender,
            key,
            base_url: DEFAULT_BASE_URL.to_owned(),
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
            sleeper: Arc::new(TokioSleeper),
        }
    }

    /// A builder for a client over reqwest with 10 s connect and 60 s request timeouts.
    pub fn builder_with_reqwest(key: ApiKey) -> Result<ClientBuilder> {
        Ok(Client::builder(
            key,
            Arc::new(super::reqwest_send::ReqwestSender::with_defaults()?),
        ))
    }

    /// The same client (transport, base URL, retries, clock) acting with another account's
    /// key: cheap, the connection pool is shared.
    pub fn with_key(&self, key: ApiKey) -> Client {
        let i = &self.inner;
        Client {
            inner: Arc::new(Inner {
                sender: i.sender.clone(),
                key,
                base_url: i.base_url.clone(),
                user_agent: i.user_agent.clone(),
                retry: i.retry.clone(),
                clock: i.clock.clone(),
                random: i.random.clone(),
                sleeper: i.sleeper.clone(),
            }),
        }
    }

    /// The `User-Agent` this client sends.
    pub fn user_agent(&self) -> &str {
        &self.inner.user_agent
    }

    pub(super) fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    pub(super) async fn sleep(&self, d: Duration) {
        self.inner.sleeper.sleep(d).await;
    }

    pub(super) fn random(&self) -> &dyn Random {
        self.inner.random.as_ref()
    }

    pub(super) fn now(&self) -> u64 {
        self.inner.clock.now_unix_secs()
    }

    fn request(&self, method: Method, path_and_query: &str, body: Option<Vec<u8>>) -> HttpRequest {
        self.request_with(method, path_and_query, body, &[])
    }

    /// A request with the usual headers; `extra` replaces or adds headers (names in lower case).
    pub(super) fn request_with(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        extra: &[(String, String)],
    ) -> HttpRequest {
        let mut headers = vec![
            (
                "authorization".to_owned(),
                format!("Bearer {}", self.inner.key.expose_secret()),
            ),
            ("user-agent".to_owned(), self.inner.user_agent.clone()),
            ("accept".to_owned(), "application/json".to_owned()),
        ];
        if body.is_some() {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        for (name, value) in extra {
            headers.retain(|(n, _)| n != name);
            headers.push((name.clone(), value.clone()));
        }
        HttpRequest {
            method,
            url: format!("{}{}", self.inner.base_url, path_and_query),
            headers,
            body,
        }
    }

    pub(super) fn sender(&self) -> &dyn HttpSend {
        self.inner.sender.as_ref()
    }

    pub(super) fn key(&self) -> &ApiKey {
        &self.inner.key
    }

    /// Send once; map failures. A 2xx comes back as the raw response.
    pub(super) async fn send_once(
        &self,
        operation: &str,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<HttpResponse> {
        let req = self.request(method, path, body);
        match self.inner.sender.send(req).await {
            Ok(resp) if (200..300).contains(&resp.status) => Ok(resp),
            Ok(resp) => Err(map_error_response(operation, &resp, Some(&self.inner.key))),
            Err(e) => Err(map_transport(operation, e)),
        }
    }

    /// Send with retries on 429, 5xx and transport errors, bounded in attempts and time.
    pub(super) async fn send_retrying(
        &self,
        operation: &str,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<HttpResponse> {
        self.retrying(|| self.send_once(operation, method, path, body.clone()))
            .await
    }

    /// Run `attempt` until it succeeds or fails in a way not worth retrying (see
    /// [`RetryPolicy`]), waiting with backoff between attempts.
    ///
    /// `attempt` is a closure returning a future rather than an async closure: the futures of
    /// async closures are not `Send` for every lifetime, which spawned tasks and servers need.
    pub(super) async fn retrying<T, F, Fut>(&self, attempt: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let policy = &self.inner.retry;
        let started = self.now();
        let mut waited = Duration::ZERO;
        let mut failures = 0u32;
        loop {
            let err = match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            failures += 1;
            if !is_retryable_request(&err) || failures >= policy.max_attempts {
                return Err(err);
            }
            let delay = policy.delay(failures, &err, self.random());
            let elapsed = waited.max(Duration::from_secs(self.now().saturating_sub(started)));
            if elapsed.saturating_add(delay) > policy.max_total {
                return Err(err);
            }
            self.sleep(delay).await;
            waited += delay;
        }
    }

    pub(super) fn decode<T: DeserializeOwned>(operation: &str, resp: &HttpResponse) -> Result<T> {
        serde_json::from_slice(&resp.body).map_err(|e| {
            let snippet: String = String::from_utf8_lossy(&resp.body)
                .chars()
                .take(300)
                .collect();
            Error::new(
                ErrorKind::ServerError,
                format!(
                    "{operation}: RunPod's answer could not be read ({e}); body starts: {snippet}; \
                     report this with the request id"
                ),
            )
            .with_status(resp.status)
        })
    }

    /// `GET /v2/pods`: every pod of the account (cluster pods left out).
    pub async fn list_pods(&self) -> Result<Vec<Pod>> {
        self.list_pods_filtered(&PodFilter::default()).await
    }

    /// `GET /v2/pods` narrowed by `filter` (see [`PodFilter`] for which parts RunPod applies).
    pub async fn list_pods_filtered(&self, filter: &PodFilter) -> Result<Vec<Pod>> {
        filter.validate()?;
        let op = "list pods";
        let path = format!("/pods{}", filter.to_query());
        let resp = self.send_retrying(op, Method::Get, &path, None).await?;
        let pods = Self::decode::<ListPodsResponse>(op, &resp)?.pods;
        Ok(pods.into_iter().filter(|p| filter.matches(p)).collect())
    }

    /// Pods named exactly `name` that are not terminated (v2 has no name filter: filtered here).
    pub async fn find_pods_by_name(&self, name: &str) -> Result<Vec<Pod>> {
        let filter = PodFilter {
            name: Some(name.to_owned()),
            ..PodFilter::default()
        };
        Ok(self
            .list_pods_filtered(&filter)
            .await?
            .into_iter()
            .filter(|p| p.status != super::PodStatus::Terminated)
            .collect())
    }

    /// `PATCH /v2/pods/{id}`: change the fields set in `update`, validated first. Sending the
    /// same fields twice gives the same pod, so it is retried like a read.
    pub async fn patch_pod(&self, pod_id: &str, update: &PodUpdate) -> Result<Pod> {
        check_pod_id(pod_id)?;
        validate_update(update)?;
        let op = format!("update pod {pod_id}");
        let body = serde_json::to_vec(update)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("{op}: {e}")))?;
        let resp = self
            .send_retrying(&op, Method::Patch, &format!("/pods/{pod_id}"), Some(body))
            .await?;
        Self::decode(&op, &resp)
    }

    /// `GET /v2/pods/{id}`.
    pub async fn get_pod(&self, pod_id: &str) -> Result<Pod> {
        check_pod_id(pod_id)?;
        let op = format!("get pod {pod_id}");
        let resp = self
            .send_retrying(&op, Method::Get, &format!("/pods/{pod_id}"), None)
            .await?;
        Self::decode(&op, &resp)
    }

    /// Whether this key may write (create, change, end pods), told without changing anything:
    /// `DELETE` of a pod id that cannot exist. A key that may write gets 404 (no such pod); a
    /// read-only key gets 403, RunPod's answer for a valid key lacking the permission. That
    /// RunPod checks the permission before it looks the pod up is inferred from 403's meaning,
    /// not documented: a 404 is reported as "may write", and a deploy is then the proof.
    pub async fn may_write(&self) -> Result<bool> {
        let op = "check whether the key may write";
        match self
            .send_once(op, Method::Delete, "/pods/trainpodkeycheck00", None)
            .await
        {
            Err(e) if e.kind() == ErrorKind::Forbidden => Ok(false),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::InvalidInput) => Ok(true),
            Err(e) => Err(e),
            Ok(_) => Ok(true),
        }
    }

    /// `DELETE /v2/pods/{id}`. A pod that is already gone counts as deleted.
    pub async fn delete_pod(&self, pod_id: &str) -> Result<()> {
        check_pod_id(pod_id)?;
        let op = format!("delete pod {pod_id}");
        match self
            .send_retrying(&op, Method::Delete, &format!("/pods/{pod_id}"), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `POST /v2/pods/{id}/action`. Returns the pod after the action, or `None` for terminate
    /// (204).
    pub async fn pod_action(&self, pod_id: &str, action: PodAction) -> Result<Option<Pod>> {
        check_pod_id(pod_id)?;
        if action == PodAction::Unknown {
            return Err(Error::invalid_input(
                "pod action must be start, stop, restart or terminate",
            ));
        }
        let op = format!("{} pod {pod_id}", action.as_str());
        let body = serde_json::to_vec(&serde_json::json!({ "action": action }))
            .map_err(|e| Error::new(ErrorKind::Internal, format!("{op}: {e}")))?;
        let resp = self
            .send_retrying(
                &op,
                Method::Post,
                &format!("/pods/{pod_id}/action"),
                Some(body),
            )
            .await?;
        if resp.status == 204 || resp.body.is_empty() {
            return Ok(None);
        }
        Self::decode(&op, &resp).map(Some)
    }

    /// `POST /v2/pods/{id}/action` with `terminate`; a pod already gone counts as terminated.
    pub async fn terminate_pod(&self, pod_id: &str) -> Result<()> {
        match self.pod_action(pod_id, PodAction::Terminate).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `GET /v2/catalog/gpus?include=AVAILABILITY&product=POD`: GPU types with prices and
    /// availability for pods.
    pub async fn gpu_catalog(&self) -> Result<Vec<GpuType>> {
        self.gpu_catalog_with(&GpuCatalogQuery::pods()).await
    }

    /// `GET /v2/catalog/gpus` with `query`, validated against the spec's rules first.
    pub async fn gpu_catalog_with(&self, query: &GpuCatalogQuery) -> Result<Vec<GpuType>> {
        query.validate()?;
        let op = "read the GPU catalog";
        let path = format!("/catalog/gpus{}", query.to_query());
        let resp = self.send_retrying(op, Method::Get, &path, None).await?;
        Ok(Self::decode::<ListGpusResponse>(op, &resp)?.gpus)
    }

    /// `GET /v2/catalog/gpus/{id}`: one GPU type. With country codes it still answers (with
    /// availability NONE) where the list would drop the type; 404 means no such type.
    pub async fn gpu_type(&self, gpu_id: &str, query: &GpuCatalogQuery) -> Result<GpuType> {
        validate_gpu_id(gpu_id)?;
        query.validate()?;
        let op = format!("read GPU type {gpu_id}");
        let path = format!("/catalog/gpus/{}{}", path_segment(gpu_id), query.to_query());
        let resp = self.send_retrying(&op, Method::Get, &path, None).await?;
        Self::decode(&op, &resp)
    }

    /// `GET /v2/billing/pods?podId=…`: billing records of one pod.
    pub async fn pod_billing(&self, pod_id: &str) -> Result<Vec<PodBillingRecord>> {
        check_pod_id(pod_id)?;
        let op = format!("read billing of pod {pod_id}");
        let resp = self
            .send_retrying(
                &op,
                Method::Get,
                &format!("/billing/pods?podId={pod_id}"),
                None,
            )
            .await?;
        Ok(Self::decode::<ListPodBillingResponse>(&op, &resp)?.records)
    }
}

/// Pod ids go into URL paths: letters, digits, `-` and `_` only.
pub(super) fn check_pod_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    {
        return Err(Error::invalid_input(format!(
            "pod id {} is invalid: use the id RunPod returned",
            crate::error::quote(id)
        )));
    }
    Ok(())
}
