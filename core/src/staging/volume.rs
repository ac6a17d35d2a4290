//! Staging on a RunPod network volume: the dataset is uploaded through RunPod's S3-compatible
//! API before the pod exists, the pod reads it from its mount (`/workspace`), and artifacts the
//! pod leaves on the volume are downloaded afterwards. RunPod's S3 API has no presigned URLs.
//!
//! The endpoint is per data center (`https://s3api-<dc lowercase>.runpod.io`), the region is
//! the data center id and the bucket is the volume id; the credentials are an S3 API key
//! (`user_…` / `rps_…`, created in the console's Settings), not the RunPod API key.

use std::path::Path;
use std::sync::Arc;

use super::objects::{self, Downloaded, ObjectInfo};
use super::s3_client::S3Client;
use super::s3_config::{AddressingStyle, S3Config, check_key};
use super::sigv4::Credentials;
use super::staged::{Backend, Staged};
use super::upload::{self, Uploaded};
use crate::clock::Clock;
use crate::script::DatasetSource;
use crate::{Error, Result};

/// The largest part size on a volume: RunPod's S3 API takes single PUTs under 500 MB only.
pub const MAX_VOLUME_PART_SIZE: u64 = 256 * 1024 * 1024;

/// Where pods mount a network volume by default.
pub const DEFAULT_MOUNT_PATH: &str = "/workspace";

/// RunPod's S3 API endpoint for a data center id (`EU-RO-1` → `https://s3api-eu-ro-1.runpod.io`).
pub fn runpod_s3_endpoint(data_center_id: &str) -> String {
    format!(
        "https://s3api-{}.runpod.io",
        data_center_id.to_ascii_lowercase()
    )
}

/// A network volume and how to reach it. Build it with [`VolumeConfig::builder`].
#[derive(Clone, Debug)]
pub struct VolumeConfig {
    s3: S3Config,
    data_center_id: String,
    mount_path: String,
}

/// Builds a [`VolumeConfig`]; [`VolumeConfigBuilder::build`] checks every field.
#[derive(Clone, Debug, Default)]
pub struct VolumeConfigBuilder {
    data_center_id: Option<String>,
    volume_id: Option<String>,
    credentials: Option<Credentials>,
    mount_path: Option<String>,
    endpoint: Option<String>,
    signing_region: Option<String>,
    part_size: Option<u64>,
}

impl VolumeConfig {
    /// A builder; data center, volume id and credentials are required.
    pub fn builder() -> VolumeConfigBuilder {
        VolumeConfigBuilder::default()
    }

    /// The data center id (uppercase), where the pod must run.
    pub fn data_center_id(&self) -> &str {
        &self.data_center_id
    }

    /// The network volume id.
    pub fn volume_id(&self) -> &str {
        self.s3.bucket()
    }

    /// Where the pod mounts the volume.
    pub fn mount_path(&self) -> &str {
        &self.mount_path
    }

    /// The path in the pod of the object `key`.
    pub fn path_in_pod(&self, key: &str) -> String {
        format!("{}/{key}", self.mount_path.trim_end_matches('/'))
    }
}

impl VolumeConfigBuilder {
    /// The volume's data center id, for example `EU-RO-1` (case does not matter).
    pub fn data_center_id(mut self, id: impl Into<String>) -> Self {
        self.data_center_id = Some(id.into());
        self
    }

    /// The network volume id.
    pub fn volume_id(mut self, id: impl Into<String>) -> Self {
        self.volume_id = Some(id.into());
        self
    }

    /// The S3 API key (`user_…` and `rps_…`).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Where the pod mounts the volume (default [`DEFAULT_MOUNT_PATH`]).
    pub fn mount_path(mut self, path: impl Into<String>) -> Self {
        self.mount_path = Some(path.into());
        self
    }

    /// Another endpoint than [`runpod_s3_endpoint`] (tests, or a data center added later).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Another signing region than the data center id, for an S3-compatible server given with
    /// [`VolumeConfigBuilder::endpoint`] that wants another form (s3s-fs in tests accepts only
    /// lowercase regions; RunPod documents the uppercase data center id).
    pub fn signing_region(mut self, region: impl Into<String>) -> Self {
        self.signing_region = Some(region.into());
        self
    }

    /// Part size of multipart uploads, up to [`MAX_VOLUME_PART_SIZE`] (see
    /// [`super::S3ConfigBuilder::part_size`]).
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = Some(bytes);
        self
    }

    /// Checks every field; the message names the field and what it must be.
    pub fn build(self) -> Result<VolumeConfig> {
        let dc = self
            .data_center_id
            .ok_or_else(|| Error::invalid_input("data_center_id is required for a volume"))?
            .trim()
            .to_ascii_uppercase();
        check_data_center(&dc)?;
        let volume = self
            .volume_id
            .ok_or_else(|| Error::invalid_input("volume_id is required for a volume"))?;
        let ok = (1..=63).contains(&volume.len())
            && volume
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(Error::invalid_input(
                "volume_id must be the network volume's id: 1 to 63 letters, digits, '-' or '_'",
            ));
        }
        let mount_path = self
            .mount_path
            .unwrap_or_else(|| DEFAULT_MOUNT_PATH.to_owned());
        check_mount_path(&mount_path)?;
        let mut s3 = S3Config::builder()
            .endpoint(self.endpoint.unwrap_or_else(|| runpod_s3_endpoint(&dc)))
            .region(self.signing_region.unwrap_or_else(|| dc.clone()))
            .bucket(volume)
            .addressing(AddressingStyle::Path);
        if let Some(c) = self.credentials {
            s3 = s3.credentials(c);
        }
        if let Some(p) = self.part_size {
            if p > MAX_VOLUME_PART_SIZE {
                return Err(Error::invalid_input(format!(
                    "part_size must be at most {MAX_VOLUME_PART_SIZE} bytes on a RunPod volume \
                     (its S3 API refuses single PUTs of 500 MB); got {p}"
                )));
            }
            s3 = s3.part_size(p);
        }
        Ok(VolumeConfig {
            s3: s3.build()?,
            data_center_id: dc,
            mount_path: mount_path.trim_end_matches('/').to_owned(),
        })
    }
}

fn check_data_center(dc: &str) -> Result<()> {
    let ok = (3..=16).contains(&dc.len())
        && dc.starts_with(|c: char| c.is_ascii_uppercase())
        && dc.split('-').all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "data_center_id must be a RunPod data center id such as EU-RO-1 or US-KS-2 (the \
             volume's data center, shown with the volume in the console)",
        ))
    }
}

fn check_mount_path(p: &str) -> Result<()> {
    let ok = p.starts_with('/')
        && p.len() <= 256
        && !p.chars().any(char::is_control)
        && !p.split('/').any(|s| s == "..");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "mount_path must be an absolute path without '..' (default /workspace)",
        ))
    }
}

/// A RunPod network volume used as staging.
///
/// ```no_run
/// # async fn demo() -> trainpod::Result<()> {
/// use trainpod::staging::{VolumeConfig, VolumeStaging, sigv4::Credentials};
///
/// let volume = VolumeStaging::new(
///     VolumeConfig::builder()
///         .data_center_id("EU-RO-1")
///         .volume_id("<network volume id>")
///         .credentials(Credentials::new("user_…", "rps_…")?)
///         .build()?,
/// )?;
/// let staged = volume.stage_dataset("train.jsonl", "datasets/job-1.jsonl").await?;
/// // Create the pod in EU-RO-1 with the volume mounted at /workspace; it reads
/// // /workspace/datasets/job-1.jsonl. Afterwards:
/// let files = volume.download_artifacts("jobs/job-1/", "out/job-1").await?;
/// # let _ = (staged, files);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct VolumeStaging {
    config: VolumeConfig,
    client: S3Client,
}

impl VolumeStaging {
    /// A volume client with its own HTTP client and the system clock.
    pub fn new(config: VolumeConfig) -> Result<Self> {
        let client = S3Client::new(config.s3.clone())?;
        Ok(VolumeStaging { config, client })
    }

    /// Shares an HTTP client.
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.client.http = http;
        self
    }

    /// Signs with this clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.client.clock = clock;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &VolumeConfig {
        &self.config
    }

    /// Uploads a local file to `key` on the volume (multipart above the threshold, aborted on
    /// failure).
    pub async fn upload_file(&self, path: impl AsRef<Path>, key: &str) -> Result<Uploaded> {
        check_key(key)?;
        let (file, len) = super::bucket::open(path.as_ref()).await?;
        upload::upload(&self.client, file, len, key).await
    }

    /// Uploads the dataset to `key` before the pod is created; the pod reads it from the
    /// mount and checks its size and sha256.
    pub async fn stage_dataset(&self, path: impl AsRef<Path>, key: &str) -> Result<Staged> {
        let uploaded = self.upload_file(path, key).await?;
        Ok(Staged {
            source: DatasetSource::Path {
                path: self.config.path_in_pod(&uploaded.key),
                bytes: uploaded.bytes,
                sha256: uploaded.sha256,
            },
            backend: Backend::Volume,
            key: Some(uploaded.key),
            expires_at: None,
        })
    }

    /// The object's size and tag, or `None` when `key` does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        check_key(key)?;
        objects::head(&self.client, key).await
    }

    /// Every object whose key starts with `prefix`, in key order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        objects::list(&self.client, prefix).await
    }

    /// Downloads every object under `prefix` (ListObjectsV2, then one GET each) into
    /// `dest_dir`, at its key less the prefix. Keys that would land outside `dest_dir` fail
    /// the call before any write.
    pub async fn download_artifacts(
        &self,
        prefix: &str,
        dest_dir: impl AsRef<Path>,
    ) -> Result<Vec<Downloaded>> {
        objects::download_prefix(&self.client, prefix, dest_dir.as_ref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new("user_x", "rps_y").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn derives_endpoint_region_and_pod_path() {
        let c = VolumeConfig::builder()
            .data_center_id("eu-ro-1")
            .volume_id("vol123")
            .credentials(creds())
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.data_center_id(), "EU-RO-1");
        assert_eq!(c.s3.region(), "EU-RO-1");
        assert_eq!(c.s3.endpoint().as_str(), "https://s3api-eu-ro-1.runpod.io/");
        assert_eq!(c.volume_id(), "vol123");
        assert_eq!(
            c.path_in_pod("datasets/a.jsonl"),
            "/workspace/datasets/a.jsonl"
        );
        assert_eq!(
            runpod_s3_endpoint("EUR-IS-1"),
            "https://s3api-eur-is-1.runpod.io"
        );
    }

    #[test]
    fn refuses_bad_fields() {
        let base = || VolumeConfig::builder().volume_id("v").credentials(creds());
        assert!(base().data_center_id("EU RO 1").build().is_err());
        assert!(base().data_center_id("1-EU").build().is_err());
        assert!(base().build().is_err());
        let bad_mount = base()
            .data_center_id("US-KS-2")
            .mount_path("/a/../b")
            .build();
        assert!(bad_mount.is_err());
        let bad_volume = VolumeConfig::builder()
            .data_center_id("US-KS-2")
            .volume_id("a/b")
            .credentials(creds())
            .build();
        assert!(bad_volume.is_err());
    }
}
