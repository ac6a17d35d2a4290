//! Staging backend "served by the app": datasets live under one root, addressed by id; the app
//! issues signed download URLs and serves them with [`AppStaging::authorize_dataset_download`].
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
mod digest;
mod grant;
mod id;
pub mod range;
mod safe_path;
#[cfg(feature = "server")]
pub mod server;
pub mod sigv4;

pub use app::{AppStaging, DownloadRequest, QUERY_TOKEN_PARAM, SignedDownload};
pub use grant::{Grant, etag_for};
pub use id::{MAX_DATASET_ID_LEN, check_dataset_id, is_valid_dataset_id};
pub use range::RangeOutcome;
