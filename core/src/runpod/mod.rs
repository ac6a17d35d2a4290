//! RunPod REST v2 client: typed pods, actions, GPU catalog and billing; validation before any
//! request; one error mapping; bounded retries; create with adoption and GPU fallback.
//!
//! The HTTP transport is a trait ([`HttpSend`]) so that the client's logic is tested without a
//! network and core never builds a runtime.

mod api_key;
mod client;
mod create;
mod errors;
mod retry;
mod transport;
mod types;
mod validate;

pub use api_key::ApiKey;
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL};
pub use create::{CreateOutcome, GpuCandidate, job_pod_name};
pub use errors::map_error_response;
pub use retry::{RetryPolicy, Sleeper, TokioSleeper};
pub use transport::{HttpRequest, HttpResponse, HttpSend, Method, TransportError};
pub use types::{
    Availability, Cloud, CreatePodRequest, DataCenterAvailability, GpuMaxCount, GpuPrice,
    GpuRequest, GpuType, Mounts, PersistentMount, Pod, PodAction, PodBillingRecord, PodGpu,
    PodStatus,
};
pub use validate::{MAX_ENV_VARS, MAX_GPU_COUNT, validate_create};
