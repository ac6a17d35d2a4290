//! A dataset at a public https URL: validated here (no request is made), verified by the pod.

use url::Url;

use super::staged::{Backend, Staged};
use crate::script::DatasetSource;
use crate::{Error, Result};

/// The longest URL accepted (the pod's config caps URLs at 2048 bytes).
pub const MAX_URL_LEN: usize = 2048;

/// A public dataset URL with what the pod checks it against.
///
/// The pod refuses a dataset it cannot verify, so [`PublicUrl::staged`] needs both the size
/// and the sha256; [`crate::dataset`] inspection of a local copy gives both, and many dataset
/// hosts publish them next to the file.
///
/// ```
/// use trainpod::staging::PublicUrl;
///
/// let staged = PublicUrl::parse("https://data.example.com/train.jsonl")?
///     .bytes(1_234)
///     .sha256("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")?
///     .staged()?;
/// assert_eq!(staged.expires_at, None);
/// # Ok::<(), trainpod::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    url: String,
    bytes: Option<u64>,
    sha256: Option<String>,
}

impl PublicUrl {
    /// Checks `url`: https, a host, no user name or password, no fragment, no spaces or
    /// control characters, at most [`MAX_URL_LEN`] bytes.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid_input(format!("dataset_url {why}"));
        if url.len() > MAX_URL_LEN {
            return Err(bad(&format!("must be at most {MAX_URL_LEN} bytes")));
        }
        if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("must not contain spaces or control characters"));
        }
        let parsed = Url::parse(url).map_err(|e| bad(&format!("is not a URL ({e})")))?;
        if parsed.scheme() != "https" {
            return Err(bad(
                "must be https: the pod checks the sha256, but only TLS keeps the download \
                 private and tells a slow mirror from a tampering one",
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad(
                "must not carry a user name or password; stage a private dataset in a bucket \
                 (presigned URL) or through the app instead",
            ));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("has no host"));
        }
        if parsed.fragment().is_some() {
            return Err(bad("must not have a #fragment"));
        }
        Ok(PublicUrl {
            url: parsed.into(),
            bytes: None,
            sha256: None,
        })
    }

    /// The expected size in bytes.
    pub fn bytes(mut self, bytes: u64) -> Self {
        self.bytes = Some(bytes);
        self
    }

    /// The expected sha256: 64 lowercase hex digits.
    pub fn sha256(mut self, hex: &str) -> Result<Self> {
        if !crate::hex::is_sha256(hex) {
            return Err(Error::invalid_input(
                "dataset_sha256 must be 64 lowercase hex digits (sha256sum prints it)",
            ));
        }
        self.sha256 = Some(hex.to_owned());
        Ok(self)
    }

    /// The URL, normalized.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The source for the pod; fails when the size or the sha256 is unknown.
    pub fn staged(self) -> Result<Staged> {
        let missing = match (self.bytes, &self.sha256) {
            (None, None) => "dataset_bytes and dataset_sha256 are",
            (None, Some(_)) => "dataset_bytes is",
            _ => "dataset_sha256 is",
        };
        let (Some(bytes), Some(sha256)) = (self.bytes, self.sha256) else {
            return Err(Error::invalid_input(format!(
                "{missing} required for a public URL: the pod verifies the download before \
                 training. Inspect a local copy (trainpod::dataset) or use the sizes the host \
                 publishes"
            )));
        };
        Ok(Staged {
            source: DatasetSource::Url {
                url: self.url,
                token: None,
                bytes,
                sha256,
            },
            backend: Backend::PublicUrl,
            key: None,
            expires_at: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn message<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn accepts_https_with_size_and_sum() {
        let staged = PublicUrl::parse("https://h.example/d.jsonl?v=2")
            .and_then(|p| p.bytes(5).sha256(SUM))
            .and_then(PublicUrl::staged)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            staged.source,
            DatasetSource::Url {
                url: "https://h.example/d.jsonl?v=2".into(),
                token: None,
                bytes: 5,
                sha256: SUM.into()
            }
        );
        assert_eq!(staged.backend, Backend::PublicUrl);
    }

    #[test]
    fn refuses_what_a_pod_should_not_fetch() {
        for (url, word) in [
            ("http://h.example/d", "https"),
            ("https://u:p@h.example/d", "password"),
            ("https://h.example/d#x", "fragment"),
            ("https://h.example/a b", "spaces"),
            ("file:///etc/passwd", "https"),
            ("nope", "not a URL"),
        ] {
            let msg = message(PublicUrl::parse(url));
            assert!(
                msg.starts_with("INVALID_INPUT: dataset_url") && msg.contains(word),
                "{url}: {msg}"
            );
        }
        let long = format!("https://h.example/{}", "a".repeat(MAX_URL_LEN));
        assert!(PublicUrl::parse(&long).is_err());
    }

    #[test]
    fn sha256_and_size_are_required_and_checked() {
        let p = PublicUrl::parse("https://h.example/d").unwrap_or_else(|e| panic!("{e}"));
        assert!(message(p.clone().sha256(&SUM.to_uppercase())).contains("dataset_sha256"));
        assert!(message(p.clone().sha256("abc")).contains("dataset_sha256"));
        assert!(message(p.clone().staged()).contains("dataset_bytes and dataset_sha256"));
        assert!(message(p.clone().bytes(1).staged()).contains("dataset_sha256 is"));
        let only_sum = p.sha256(SUM).map(PublicUrl::staged);
        assert!(message(only_sum.and_then(|r| r)).contains("dataset_bytes is"));
    }
}
