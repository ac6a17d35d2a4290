//! Where a bucket is and how to address it, validated once: endpoint, region, bucket,
//! credentials, path-style or virtual-hosted addressing, and multipart sizes.

use std::net::IpAddr;

use url::Url;

use super::sigv4::{Credentials, uri_encode};
use crate::{Error, Result};

const MIB: u64 = 1024 * 1024;
/// S3's smallest part (every part but the last); smaller parts fail at completion.
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// The largest part trainpod reads into memory at once.
pub const MAX_PART_SIZE: u64 = 512 * MIB;
/// The default part size, and the default size above which uploads are multipart.
pub const DEFAULT_PART_SIZE: u64 = 16 * MIB;
/// S3's most parts in one upload.
pub const MAX_PARTS: u64 = 10_000;
/// The longest object key S3 accepts, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// How the bucket appears in request URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressingStyle {
    /// `https://endpoint/bucket/key`: MinIO, Supabase Storage, R2, RunPod; works everywhere.
    Path,
    /// `https://bucket.endpoint/key`: AWS's default (needs a DNS-safe bucket name).
    VirtualHost,
}

/// A validated bucket configuration. Build it with [`S3Config::builder`].
#[derive(Clone, Debug)]
pub struct S3Config {
    pub(crate) endpoint: Url,
    pub(crate) region: String,
    pub(crate) bucket: String,
    pub(crate) credentials: Credentials,
    pub(crate) style: AddressingStyle,
    pub(crate) part_size: u64,
    pub(crate) multipart_threshold: u64,
}

/// Builds an [`S3Config`]; [`S3ConfigBuilder::build`] checks every field.
#[derive(Clone, Debug, Default)]
pub struct S3ConfigBuilder {
    endpoint: Option<String>,
    region: Option<String>,
    bucket: Option<String>,
    credentials: Option<Credentials>,
    style: Option<AddressingStyle>,
    part_size: Option<u64>,
    multipart_threshold: Option<u64>,
}

impl S3Config {
    /// A builder; endpoint, region, bucket and credentials are required.
    pub fn builder() -> S3ConfigBuilder {
        S3ConfigBuilder::default()
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The region in the signature scope.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint, as given.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The part size of multipart uploads.
    pub fn part_size(&self) -> u64 {
        self.part_size
    }

    /// Files larger than this are uploaded in parts.
    pub fn multipart_threshold(&self) -> u64 {
        self.multipart_threshold
    }

    /// The `Host` header, the unencoded path and the URL prefix (scheme and authority) of a
    /// request for `key` (the bucket itself when `key` is empty).
    pub(crate) fn locate(&self, key: &str) -> Location {
        let base_path = self.endpoint.path().trim_end_matches('/');
        let port = self
            .endpoint
            .port()
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        let host = self.endpoint.host_str().unwrap_or_default();
        let (host, path) = match self.style {
            AddressingStyle::Path if key.is_empty() => (
                format!("{host}{port}"),
                format!("{base_path}/{}", self.bucket),
            ),
            AddressingStyle::Path => (
                format!("{host}{port}"),
                format!("{base_path}/{}/{key}", self.bucket),
            ),
            AddressingStyle::VirtualHost => (
                format!("{}.{host}{port}", self.bucket),
                format!("{base_path}/{key}"),
            ),
        };
        Location {
            origin: format!("{}://{host}", self.endpoint.scheme()),
            host,
            path,
        }
    }
}

/// Where one request goes.
#[derive(Clone, Debug)]
pub(crate) struct Location {
    pub origin: String,
    pub host: String,
    pub path: String,
}

impl Location {
    /// The request URL with an already-encoded query (empty for none).
    pub fn url(&self, query: &str) -> String {
        let path = uri_encode(&self.path, true);
        if query.is_empty() {
            format!("{}{path}", self.origin)
        } else {
            format!("{}{path}?{query}", self.origin)
        }
    }
}

impl S3ConfigBuilder {
    /// `https://s3.us-east-1.amazonaws.com`, `https://<account>.r2.cloudflarestorage.com`,
    /// `https://<project>.supabase.co/storage/v1/s3`, ... (`http` only on loopback, for tests).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The signing region: `us-east-1`, `auto` (R2), the project's region (Supabase).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The bucket.
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }

    /// The access key id and secret.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Path-style (the default) or virtual-hosted addressing.
    pub fn addressing(mut self, style: AddressingStyle) -> Self {
        self.style = Some(style);
        self
    }

    /// Part size of multipart uploads, [`MIN_PART_SIZE`] to [`MAX_PART_SIZE`] (default
    /// [`DEFAULT_PART_SIZE`]); one part is held in memory at a time.
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = Some(bytes);
        self
    }

    /// Files up to this size go in one PUT (read into memory); larger ones in parts. Default:
    /// the part size; at most [`MAX_PART_SIZE`].
    pub fn multipart_threshold(mut self, bytes: u64) -> Self {
        self.multipart_threshold = Some(bytes);
        self
    }

    /// Checks every field; the message names the field and what it must be.
    pub fn build(self) -> Result<S3Config> {
        let endpoint = check_endpoint(
            self.endpoint
                .as_deref()
                .ok_or_else(|| missing("endpoint"))?,
        )?;
        let region = self.region.ok_or_else(|| missing("region"))?;
        let bucket = self.bucket.ok_or_else(|| missing("bucket"))?;
        let credentials = self.credentials.ok_or_else(|| missing("credentials"))?;
        let style = self.style.unwrap_or(AddressingStyle::Path);
        check_bucket(&bucket, style)?;
        // The signer checks the region's shape; do it here so config errors come from build().
        super::sigv4::Signer::new(credentials.clone(), region.clone(), "s3")?;
        let part_size = self.part_size.unwrap_or(DEFAULT_PART_SIZE);
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
            return Err(Error::invalid_input(format!(
                "part_size must be {MIN_PART_SIZE} to {MAX_PART_SIZE} bytes (S3 refuses parts under \
                 5 MiB); got {part_size}"
            )));
        }
        let multipart_threshold = self.multipart_threshold.unwrap_or(part_size);
        if multipart_threshold > MAX_PART_SIZE {
            return Err(Error::invalid_input(format!(
                "multipart_threshold must be at most {MAX_PART_SIZE} bytes (a single PUT is read \
                 into memory); got {multipart_threshold}"
            )));
        }
        Ok(S3Config {
            endpoint,
            region,
            bucket,
            credentials,
            style,
            part_size,
            multipart_threshold,
        })
    }
}

fn missing(field: &str) -> Error {
    Error::invalid_input(format!("{field} is required for an S3 bucket"))
}

fn check_endpoint(text: &str) -> Result<Url> {
    let bad = |why: &str| Error::invalid_input(format!("endpoint {why}"));
    let url = Url::parse(text.trim())
        .map_err(|e| bad(&format!("is not a URL ({e}); use https://host[/path]")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials; pass them as credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    let Some(host) = url.host_str() else {
        return Err(bad("has no host"));
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => {
            return Err(bad(
                "must be https (plain http is accepted only on loopback, for tests)",
            ));
        }
        _ => return Err(bad("must be an https URL")),
    }
    // The base path is signed as given: keep it to characters that need no encoding.
    let path_ok = url
        .path()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b));
    if !path_ok {
        return Err(bad("path may hold only letters, digits and / - . _ ~"));
    }
    Ok(url)
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check_bucket(bucket: &str, style: AddressingStyle) -> Result<()> {
    let ok = (1..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        && !bucket.starts_with('.')
        && !bucket.contains("..");
    if !ok {
        return Err(Error::invalid_input(
            "bucket must be 1 to 63 letters, digits, '-', '.' or '_' (a RunPod network volume id \
             is a bucket name)",
        ));
    }
    let dns_safe = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if style == AddressingStyle::VirtualHost && !dns_safe {
        return Err(Error::invalid_input(
            "bucket must be lowercase letters, digits and '-' for virtual-hosted addressing; \
             use AddressingStyle::Path for this bucket",
        ));
    }
    Ok(())
}

/// Checks an object key: 1 to 1024 bytes, no control characters, not starting with `/`, and
/// no empty, `.` or `..` segment (they are rewritten or refused by some servers and clients).
pub fn check_key(key: &str) -> Result<()> {
    let segments_ok = key
        .split('/')
        .all(|s| !s.is_empty() && s != "." && s != "..");
    if key.is_empty()
        || key.len() > MAX_KEY_LEN
        || key.chars().any(char::is_control)
        || key.contains('\\')
        || !segments_ok
    {
        return Err(Error::invalid_input(
            "key must be 1 to 1024 bytes of '/'-separated segments, none empty, '.' or '..', \
             without control characters or backslashes (for example datasets/ds-1.jsonl)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new("AKID", "secret").unwrap_or_else(|e| panic!("{e}"))
    }

    fn config(endpoint: &str, style: AddressingStyle) -> Result<S3Config> {
        S3Config::builder()
            .endpoint(endpoint)
            .region("us-east-1")
            .bucket("data")
            .credentials(creds())
            .addressing(style)
            .build()
    }

    #[test]
    fn locates_path_and_virtual_host_requests() {
        let c = config("https://x.supabase.co/storage/v1/s3", AddressingStyle::Path)
            .unwrap_or_else(|e| panic!("{e}"));
        let loc = c.locate("a b/c.jsonl");
        assert_eq!(loc.host, "x.supabase.co");
        assert_eq!(
            loc.url("x=1"),
            "https://x.supabase.co/storage/v1/s3/data/a%20b/c.jsonl?x=1"
        );
        let c = config("http://127.0.0.1:9000", AddressingStyle::VirtualHost)
            .unwrap_or_else(|e| panic!("{e}"));
        let loc = c.locate("k");
        assert_eq!(loc.host, "data.127.0.0.1:9000");
        assert_eq!(loc.url(""), "http://data.127.0.0.1:9000/k");
    }

    #[test]
    fn refuses_bad_endpoints_naming_the_field() {
        for bad in [
            "http://example.com",
            "ftp://example.com",
            "https://user:pw@example.com",
            "https://example.com/?a=1",
            "https://example.com/a%20b",
            "not a url",
        ] {
            let err = config(bad, AddressingStyle::Path).err();
            let msg = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(msg.starts_with("INVALID_INPUT: endpoint"), "{bad}: {msg}");
            assert!(!msg.contains("pw"), "{msg}");
        }
        assert!(config("http://[::1]:9000", AddressingStyle::Path).is_ok());
        assert!(config("http://localhost:9000", AddressingStyle::Path).is_ok());
    }

    #[test]
    fn part_sizes_are_bounded() {
        let base = || {
            S3Config::builder()
                .endpoint("https://s3.example.com")
                .region("auto")
                .bucket("b")
                .credentials(creds())
        };
        assert!(base().part_size(MIN_PART_SIZE - 1).build().is_err());
        assert!(base().part_size(MAX_PART_SIZE + 1).build().is_err());
        assert!(
            base()
                .multipart_threshold(MAX_PART_SIZE + 1)
                .build()
                .is_err()
        );
        let c = base()
            .part_size(MIN_PART_SIZE)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.multipart_threshold(), MIN_PART_SIZE);
    }

    #[test]
    fn keys_and_buckets_are_checked() {
        for good in ["a", "datasets/ds-1.jsonl", "a b/é.txt"] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/a",
            "a//b",
            "a/../b",
            "./a",
            "a\nb",
            "a\\b",
            &"x".repeat(1025),
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
        assert!(check_bucket("My_Bucket", AddressingStyle::Path).is_ok());
        assert!(check_bucket("My_Bucket", AddressingStyle::VirtualHost).is_err());
        assert!(check_bucket("a/b", AddressingStyle::Path).is_err());
    }
}
