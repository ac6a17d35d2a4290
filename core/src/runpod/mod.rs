//! RunPod REST v2 client: typed pods (list with filters, patch), actions, the GPU catalog with
//! its filters, the pod log stream (SSE) and billing; validation before any
//! request; one error mapping; bounded retries; create with adoption and GPU fallback.
//!
//! The HTTP transport is a trait ([`HttpSend`]): [`ReqwestSender`] in production, a scripted
//! fake in unit tests. Core never builds a runtime: calls run on the caller's.

mod api_key;
mod client;
mod clusters;
mod create;
mod errors;
mod logs;
mod query;
mod requests;
mod reqwest_send;
mod retry;
mod sse;
mod transport;
mod types;
mod validate;

pub use api_key::ApiKey;
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL};
pub use clusters::{
    Cluster, ClusterBillingRecord, ClusterCompute, ClusterOutcome, ClusterPodsSummary,
    ClusterPrimary, ClusterType, CreateClusterRequest, MAX_CLUSTER_PODS, MIN_CLUSTER_PODS,
    validate_create_cluster,
};
pub use create::{CreateOutcome, GpuCandidate, job_pod_name};
pub use errors::map_error_response;
pub use logs::{LogEvent, LogQuery, LogSource, LogStream, MAX_LOG_TAIL};
pub use query::{GpuCatalogQuery, PodFilter, Product};
pub use requests::{
    CreatePodRequest, GpuRequest, Mounts, NetworkMount, PersistentMount, PodUpdate,
};
pub(crate) use reqwest_send::build as tls_client;
pub use reqwest_send::{DEFAULT_STREAM_IDLE_TIMEOUT, ReqwestSender};
pub use retry::{RetryPolicy, Sleeper, TokioSleeper};
pub use transport::{
    BodyStream, HttpRequest, HttpResponse, HttpSend, Method, StreamingResponse, TransportError,
};
pub use types::{
    Availability, Cloud, CudaVersionAvailability, DataCenterAvailability, GpuMaxCount, GpuPrice,
    GpuType, Pod, PodAction, PodBillingRecord, PodCluster, PodGpu, PodStatus,
};
pub(crate) use validate::validate_env;
pub use validate::{MAX_ENV_VARS, MAX_GPU_COUNT, validate_create, validate_update};
