//! Getting a dataset to a pod, and its artifacts back. Four backends, one result ([`Staged`]):
//!
//! - **Served by the app** ([`AppStaging`]): datasets live under one root, addressed by id; the
//!   app issues signed download URLs and serves them with
//!   [`AppStaging::authorize_dataset_download`].
//! - **S3-compatible bucket** ([`BucketStaging`]: AWS S3, R2, Supabase Storage, MinIO): upload,
//!   then a presigned GET for the pod and presigned PUTs for its artifacts.
//! - **RunPod network volume** ([`VolumeStaging`]): upload through RunPod's S3 API before the
//!   pod exists; the pod reads the file from its mount.
//! - **Public URL** ([`PublicUrl`]): validated, then verified by the pod.
//!
//! ```text
//! app:  let dl = staging.signed_download_url(base, job, user, "ds-1", None)?;  // url, token, sha256
//! pod:  curl -H "Authorization: Bearer $TOKEN" -C - -o ds.jsonl "$URL"
//! route: let grant = staging.authorize_dataset_download(auth, query_token, id, range)?;
//!        // answer grant.status with grant.headers, stream grant.length bytes from grant.offset
//! ```
//!
//! The `server` feature adds [`server::router`], an axum router that does exactly that.

mod app;
mod body;
mod bucket;
mod digest;
mod grant;
mod id;
mod objects;
mod public_url;
pub mod range;
mod s3_client;
mod s3_config;
mod s3_errors;
mod s3_xml;
mod safe_path;
#[cfg(feature = "server")]
pub mod server;
pub mod sigv4;
mod staged;
pub(crate) mod temp_file;
mod upload;
mod volume;

pub use app::{AppStaging, DownloadRequest, QUERY_TOKEN_PARAM, SignedDownload};
pub use body::{BODY_CHUNK, GrantBody};
pub use bucket::{BucketStaging, PresignedUrl};
pub use grant::{Grant, etag_for};
pub use id::{MAX_DATASET_ID_LEN, check_dataset_id, is_valid_dataset_id};
pub use objects::{Downloaded, ObjectInfo};
pub use public_url::{MAX_URL_LEN, PublicUrl};
pub use range::RangeOutcome;
pub use s3_config::{
    AddressingStyle, DEFAULT_PART_SIZE, MAX_KEY_LEN, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE,
    S3Config, S3ConfigBuilder, check_key,
};
pub use staged::{Backend, Staged, redact_url};
pub use upload::Uploaded;
pub use volume::{
    DEFAULT_MOUNT_PATH, MAX_VOLUME_PART_SIZE, VolumeConfig, VolumeConfigBuilder, VolumeStaging,
    runpod_s3_endpoint,
};
