//! What every staging backend produces: the pod's [`DatasetSource`] and how long it works.

use std::fmt;

use super::SignedDownload;
use crate::script::{DatasetSource, Secret};

/// Which backend staged a dataset.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Served by the app under a signed, expiring URL ([`super::AppStaging`]).
    App,
    /// An S3-compatible bucket, fetched through a presigned GET ([`super::BucketStaging`]).
    Bucket,
    /// A RunPod network volume, read from the pod's mount ([`super::VolumeStaging`]).
    Volume,
    /// A public https URL ([`super::PublicUrl`]).
    PublicUrl,
}

/// A dataset staged for a pod.
#[derive(Clone, PartialEq, Eq)]
pub struct Staged {
    /// What goes into the pod's config (`PodScript::dataset`).
    pub source: DatasetSource,
    /// The backend that staged it.
    pub backend: Backend,
    /// The object key in the bucket or volume, where there is one.
    pub key: Option<String>,
    /// When the download URL stops working (Unix seconds); `None` when it does not expire.
    /// A job whose deadline comes later must be staged again (or with a longer ttl).
    pub expires_at: Option<u64>,
}

impl From<SignedDownload> for Staged {
    fn from(d: SignedDownload) -> Self {
        Staged {
            source: DatasetSource::Url {
                url: d.url,
                token: Some(Secret::from(&d.token)),
                bytes: d.size,
                sha256: d.sha256,
            },
            backend: Backend::App,
            key: None,
            expires_at: Some(d.expires_at),
        }
    }
}

/// A URL with its query (where presigned signatures live) hidden, for logs.
pub fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?<redacted>"),
        None => url.to_owned(),
    }
}

impl fmt::Debug for Staged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Staged");
        s.field("backend", &self.backend);
        match &self.source {
            DatasetSource::Url {
                url, bytes, sha256, ..
            } => s
                .field("url", &redact_url(url))
                .field("bytes", bytes)
                .field("sha256", sha256),
            DatasetSource::Path {
                path,
                bytes,
                sha256,
            } => s
                .field("path", path)
                .field("bytes", bytes)
                .field("sha256", sha256),
        };
        s.field("key", &self.key)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_signatures_and_tokens() {
        let staged = Staged {
            source: DatasetSource::Url {
                url: "https://b.example.com/k?X-Amz-Signature=abcdef".into(),
                token: Some(Secret::new("tok-secret")),
                bytes: 1,
                sha256: "0".repeat(64),
            },
            backend: Backend::Bucket,
            key: Some("k".into()),
            expires_at: Some(5),
        };
        let text = format!("{staged:?}");
        assert!(
            !text.contains("abcdef") && !text.contains("tok-secret"),
            "{text}"
        );
        assert!(
            text.contains("https://b.example.com/k?<redacted>"),
            "{text}"
        );
    }
}
