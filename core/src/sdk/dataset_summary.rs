//! What `plan` reads of a dataset before anything is spent: an app-served file inspected whole
//! (rows, format, longest row, sha256), a bucket or volume object's size against the one given,
//! a public URL checked reachable from a pod.

use serde::{Deserialize, Serialize};

use super::Trainpod;
use super::estimate::{DatasetTokens, dataset_tokens};
use super::spec::DatasetRef;
use crate::dataset::{DatasetFormat, InspectOptions};
use crate::error::{Error, ErrorKind, Result};

/// What the dataset holds, as inspected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DatasetSummary {
    /// The rows' format, when the app's copy was inspected.
    pub format: Option<DatasetFormat>,
    /// Rows (0 when not inspected: a public URL).
    pub rows: u64,
    /// Bytes the pod downloads.
    pub bytes: u64,
    /// sha256 the pod checks, lowercase hex.
    pub sha256: String,
    /// Estimated tokens.
    pub tokens: DatasetTokens,
}

impl Trainpod {
    /// The summary of `dataset` as `plan` shows it, its tokens counted at `max_length`.
    pub(crate) async fn dataset_summary(
        &self,
        dataset: &DatasetRef,
        max_length: u32,
    ) -> Result<DatasetSummary> {
        let (key, bytes, sha256, found) = match dataset {
            DatasetRef::Bucket { key, bytes, sha256 } => {
                let bucket = self.bucket.as_ref().ok_or_else(|| {
                    Error::invalid_input("a bucket dataset needs bucket(...) on the builder")
                })?;
                (key, *bytes, sha256, bucket.head(key).await?)
            }
            DatasetRef::Volume { key, bytes, sha256 } => {
                let volume = self.volume.as_ref().ok_or_else(|| {
                    Error::invalid_input(
                        "a network-volume dataset needs volume(...) on the builder",
                    )
                })?;
                (key, *bytes, sha256, volume.head(key).await?)
            }
            other => return self.summarize_local(other, max_length).await,
        };
        check_sha256(sha256)?;
        match found {
            Some(object) if object.bytes == bytes => Ok(DatasetSummary {
                format: None,
                rows: 0,
                bytes,
                sha256: sha256.clone(),
                tokens: dataset_tokens(bytes.div_ceil(1024), bytes, 1024, max_length),
            }),
            Some(object) => Err(Error::new(
                ErrorKind::DatasetInvalid,
                format!(
                    "{key} holds {} bytes, not the {bytes} given: stage the dataset again",
                    object.bytes
                ),
            )),
            None => Err(Error::new(
                ErrorKind::DatasetNotFound,
                format!("no object {key}: upload the dataset before planning"),
            )),
        }
    }

    async fn summarize_local(
        &self,
        dataset: &DatasetRef,
        max_length: u32,
    ) -> Result<DatasetSummary> {
        match dataset {
            DatasetRef::App { id } => {
                let staging = self.staging.as_ref().ok_or_else(|| {
                    Error::invalid_input(
                        "an app-served dataset needs datasets_dir(...) on the builder, and app_url(...) \
                         where pods reach the app",
                    )
                })?;
                if self.app_url.is_none() {
                    return Err(Error::invalid_input(
                        "an app-served dataset needs app_url(...): where pods reach the app; without \
                         a public app, stage the dataset in a bucket or on a network volume",
                    ));
                }
                let id = crate::staging::check_dataset_id(id)?.to_owned();
                // One open, the download's: its "not found" gets the wording of a plan. It reads
                // and hashes the whole file on a blocking thread.
                let report = staging
                    .inspect(&id, &InspectOptions::default())
                    .await
                    .map_err(|e| match e.kind() {
                        ErrorKind::DatasetNotFound => Error::new(
                            ErrorKind::DatasetNotFound,
                            format!(
                                "no dataset {} under the datasets directory; store it there first",
                                crate::error::quote(&id)
                            ),
                        ),
                        _ => e,
                    })?;
                Ok(DatasetSummary {
                    format: report.format,
                    rows: report.rows,
                    bytes: report.bytes,
                    sha256: report.sha256,
                    tokens: dataset_tokens(
                        report.rows,
                        report.bytes,
                        report.longest_row_bytes,
                        max_length,
                    ),
                })
            }
            DatasetRef::Url { url, bytes, sha256 } => {
                crate::reach::check_reachable(url, self.reach, self.resolver.as_ref())?;
                check_sha256(sha256)?;
                Ok(DatasetSummary {
                    format: None,
                    rows: 0,
                    bytes: *bytes,
                    sha256: sha256.clone(),
                    // Without the file, assume rows of typical chat size (1 KB) to estimate.
                    tokens: dataset_tokens(bytes.div_ceil(1024), *bytes, 1024, max_length),
                })
            }
            DatasetRef::Bucket { .. } | DatasetRef::Volume { .. } => Err(Error::new(
                ErrorKind::Internal,
                "staged datasets are summarized from their object",
            )),
        }
    }
}

fn check_sha256(sha256: &str) -> Result<()> {
    if crate::hex::is_sha256(sha256) {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "the dataset's sha256 must be 64 lowercase hex digits: the pod checks the download against it",
        ))
    }
}
