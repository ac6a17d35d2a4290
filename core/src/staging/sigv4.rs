//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`): header-signed requests and presigned URLs, with
//! S3's rules (each path segment percent-encoded once, never normalized).
//!
//! Checked against AWS's published vectors in `tests/fixtures/sigv4.json` (the SigV4 test suite,
//! the S3 header examples and the S3 presigned-URL example), which the bindings run too.
//!
//! ```
//! use trainpod::staging::sigv4::{Credentials, PresignRequest, Signer};
//!
//! let creds = Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")?;
//! let signer = Signer::new(creds, "us-east-1", "s3")?;
//! let url = signer.presign(
//!     &PresignRequest { method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", query: &[] },
//!     1_369_353_600, // 2013-05-24T00:00:00Z
//!     86_400,
//! )?;
//! assert!(url.query.ends_with("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"));
//! # Ok::<(), trainpod::Error>(())
//! ```

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::{Error, Result, hex};

/// The only algorithm this module signs with.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash of a presigned URL: the body is not known when the URL is made.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The sha256 of an empty body, the payload hash of a bodiless request.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The longest lifetime S3 accepts for a presigned URL (7 days). Some servers accept longer
/// URLs that AWS refuses, so trainpod refuses them before signing.
pub const MAX_PRESIGN_EXPIRES_SECS: u64 = 604_800;

/// A secret access key. `Debug` never shows it, and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps a secret access key.
    pub fn new(secret: impl Into<String>) -> Self {
        SecretKey(secret.into())
    }

    /// The secret itself, for deriving signing keys only.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// An access key id and its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    access_key_id: String,
    secret: SecretKey,
}

impl Credentials {
    /// Checks that both parts are non-empty printable ASCII (anything else could not have been
    /// issued by a provider and usually means a paste went wrong).
    pub fn new(access_key_id: impl Into<String>, secret: impl Into<String>) -> Result<Self> {
        let access_key_id = access_key_id.into().trim().to_owned();
        let secret = secret.into().trim().to_owned();
        if !printable(&access_key_id) {
            return Err(Error::invalid_input(
                "access_key_id must be 1 to 256 printable ASCII characters without spaces: \
                 copy it again from the storage provider's console",
            ));
        }
        if !printable(&secret) {
            return Err(Error::invalid_input(
                "secret_access_key must be 1 to 256 printable ASCII characters without spaces: \
                 copy it again from the storage provider's console",
            ));
        }
        Ok(Credentials {
            access_key_id,
            secret: SecretKey(secret),
        })
    }

    /// The access key id (not secret: it travels in every request).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
}

fn printable(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && s.bytes().all(|b| b.is_ascii_graphic())
}

/// A request to sign with an `Authorization` header.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `GET`, `PUT`, ...
    pub method: &'a str,
    /// The path, not yet percent-encoded (`/bucket/my key`); it is encoded once, as S3 does.
    pub path: &'a str,
    /// Query parameters, not yet percent-encoded, in any order.
    pub query: &'a [(&'a str, &'a str)],
    /// Every header to sign, `host` and `x-amz-date` included; a name may repeat.
    pub headers: &'a [(&'a str, &'a str)],
    /// Lowercase hex sha256 of the body (or [`UNSIGNED_PAYLOAD`]).
    pub payload_sha256: &'a str,
}

/// A URL to presign: anyone holding the result may make this request until it expires.
#[derive(Clone, Copy, Debug)]
pub struct PresignRequest<'a> {
    /// `GET`, `PUT`, ...
    pub method: &'a str,
    /// The `Host` the client will send (with `:port` when it is not the scheme's default).
    pub host: &'a str,
    /// The path, not yet percent-encoded.
    pub path: &'a str,
    /// Extra query parameters to bind into the signature, not yet percent-encoded.
    pub query: &'a [(&'a str, &'a str)],
}

/// A header signature and the intermediate strings (for vectors and debugging; no secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// The `Authorization` header value.
    pub authorization: String,
    /// The canonical request that was signed.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The hex signature.
    pub signature: String,
}

/// A presigned request: append `?{query}` to the encoded path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presigned {
    /// The percent-encoded path the signature covers.
    pub path: String,
    /// The whole query string, `X-Amz-Signature` last.
    pub query: String,
    /// The canonical request that was signed.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The hex signature.
    pub signature: String,
}

/// Signs for one set of credentials, region and service.
#[derive(Clone, Debug)]
pub struct Signer {
    credentials: Credentials,
    region: String,
    service: String,
}

impl Signer {
    /// A signer for `region` (for example `us-east-1`, `auto` for R2, a data center id for
    /// RunPod) and `service` (`s3`).
    pub fn new(
        credentials: Credentials,
        region: impl Into<String>,
        service: impl Into<String>,
    ) -> Result<Self> {
        let region = region.into();
        let service = service.into();
        // Both go into the credential scope, which is `/`-separated.
        for (field, value) in [("region", &region), ("service", &service)] {
            let ok = !value.is_empty()
                && value.len() <= 64
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(Error::invalid_input(format!(
                    "{field} must be 1 to 64 letters, digits, '-' or '_' (for example us-east-1)"
                )));
            }
        }
        Ok(Signer {
            credentials,
            region,
            service,
        })
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        self.credentials.access_key_id()
    }

    /// The region in the credential scope.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Signs `req` at `unix_time`; the caller sends the same headers plus `Authorization`.
    pub fn sign(&self, req: &Request<'_>, unix_time: u64) -> Signed {
        let amz = amz_date(unix_time);
        let (headers, signed_headers) = canonical_headers(req.headers);
        let canonical_request = [
            req.method,
            &canonical_uri(req.path),
            &canonical_query(req.query),
            &headers,
            &signed_headers,
            req.payload_sha256,
        ]
        .join("\n");
        let string_to_sign = self.string_to_sign(&amz, &canonical_request);
        let signature = self.signature(&amz, &string_to_sign);
        let authorization = format!(
            "{ALGORITHM} Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}",
            self.credentials.access_key_id,
            self.scope(&amz),
        );
        Signed {
            authorization,
            canonical_request,
            string_to_sign,
            signature,
        }
    }

    /// Presigns `req` at `unix_time` for `expires_secs` (1 to [`MAX_PRESIGN_EXPIRES_SECS`]),
    /// signing only the `host` header and [`UNSIGNED_PAYLOAD`].
    pub fn presign(
        &self,
        req: &PresignRequest<'_>,
        unix_time: u64,
        expires_secs: u64,
    ) -> Result<Presigned> {
        check_expires(expires_secs)?;
        let amz = amz_date(unix_time);
        let credential = format!("{}/{}", self.credentials.access_key_id, self.scope(&amz));
        let expires = expires_secs.to_string();
        let mut query: Vec<(&str, &str)> = vec![
            ("X-Amz-Algorithm", ALGORITHM),
            ("X-Amz-Credential", &credential),
            ("X-Amz-Date", &amz),
            ("X-Amz-Expires", &expires),
            ("X-Amz-SignedHeaders", "host"),
        ];
        query.extend_from_slice(req.query);
        let path = canonical_uri(req.path);
        let query_string = canonical_query(&query);
        let canonical_request = [
            req.method,
            &path,
            &query_string,
            &format!("host:{}\n", req.host.trim()),
            "host",
            UNSIGNED_PAYLOAD,
        ]
        .join("\n");
        let string_to_sign = self.string_to_sign(&amz, &canonical_request);
        let signature = self.signature(&amz, &string_to_sign);
        Ok(Presigned {
            path,
            query: format!("{query_string}&X-Amz-Signature={signature}"),
            canonical_request,
            string_to_sign,
            signature,
        })
    }

    fn scope(&self, amz: &str) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            &amz[..8],
            self.region,
            self.service
        )
    }

    fn string_to_sign(&self, amz: &str, canonical_request: &str) -> String {
        let hash = hex::encode(&Sha256::digest(canonical_request.as_bytes()));
        format!("{ALGORITHM}\n{amz}\n{}\n{hash}", self.scope(amz))
    }

    fn signature(&self, amz: &str, string_to_sign: &str) -> String {
        let key = signing_key(
            &self.credentials.secret,
            &amz[..8],
            &self.region,
            &self.service,
        );
        hex::encode(&hmac(&key, string_to_sign.as_bytes()))
    }
}

/// Refuses a presigned lifetime S3 would refuse (or that a lenient server would honour past
/// the 7 days every AWS SDK caps it at).
pub fn check_expires(expires_secs: u64) -> Result<()> {
    if (1..=MAX_PRESIGN_EXPIRES_SECS).contains(&expires_secs) {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "ttl must be 1 to {MAX_PRESIGN_EXPIRES_SECS} seconds (7 days), the longest a presigned \
             URL may live; got {expires_secs}"
        )))
    }
}

/// The derived key for one day (`yyyymmdd`), region and service: `HMAC` chained from
/// `"AWS4" + secret`, so a leaked derived key is worth one day in one region.
pub fn signing_key(secret: &SecretKey, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{}", secret.0).as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// `YYYYMMDD'T'HHMMSS'Z'` for seconds since the epoch (UTC).
pub fn amz_date(unix_time: u64) -> String {
    let days = unix_time / 86_400;
    let secs = unix_time % 86_400;
    let (y, m, d) = crate::clock::civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Percent-encodes every byte except `A-Z a-z 0-9 - . _ ~` (and `/` when `keep_slash`), with
/// uppercase hex, as SigV4 requires.
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else if b == b'/' && keep_slash {
            out.push('/');
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// The path encoded once, slashes kept; S3 never normalizes `.`, `..` or `//`.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        "/".to_owned()
    } else {
        uri_encode(path, true)
    }
}

/// Names and values encoded, then sorted by name and by value for a repeated name.
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Lowercase names, sorted; values trimmed with inner runs of spaces collapsed; the values of
/// a repeated name joined by `,` in the order given. Returns the block and `SignedHeaders`.
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut merged: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let name = name.trim().to_ascii_lowercase();
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        match merged.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                v.push(',');
                v.push_str(&value);
            }
            None => merged.push((name, value)),
        }
    }
    merged.sort_by(|a, b| a.0.cmp(&b.0));
    let block: String = merged.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let names = merged
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (block, names)
}

/// Lowercase hex sha256 of `bytes`, the payload hash of a header-signed request.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_date_formats_utc() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(1_369_353_600), "20130524T000000Z");
        // A leap day and the last second of a year.
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date(1_704_067_199), "20231231T235959Z");
    }

    #[test]
    fn uri_encode_keeps_only_unreserved() {
        assert_eq!(uri_encode("a b/c+d~é", true), "a%20b/c%2Bd~%C3%A9");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
    }

    #[test]
    fn expiry_is_capped_at_seven_days() {
        assert!(check_expires(1).is_ok());
        assert!(check_expires(MAX_PRESIGN_EXPIRES_SECS).is_ok());
        for bad in [0, MAX_PRESIGN_EXPIRES_SECS + 1, 700_000] {
            let err = check_expires(bad).err().map(|e| e.kind());
            assert_eq!(err, Some(crate::ErrorKind::InvalidInput), "{bad}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let creds = Credentials::new("AKID", "very-secret-value").unwrap_or_else(|e| panic!("{e}"));
        let signer =
            Signer::new(creds.clone(), "us-east-1", "s3").unwrap_or_else(|e| panic!("{e}"));
        for text in [format!("{creds:?}"), format!("{signer:?}")] {
            assert!(!text.contains("very-secret-value"), "{text}");
            assert!(text.contains("AKID"), "{text}");
        }
    }

    #[test]
    fn bad_credentials_and_scope_are_refused_without_echoing_them() {
        let err = Credentials::new("AKID", "has space").err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("secret_access_key") && !msg.contains("has space"),
            "{msg}"
        );
        let creds = Credentials::new("AKID", "s").unwrap_or_else(|e| panic!("{e}"));
        assert!(Signer::new(creds, "us/east", "s3").is_err());
    }
}
