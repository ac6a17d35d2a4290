//! A granted download: the open file, what to send of it, and the response headers.

use super::range::RangeOutcome;
use crate::token::Claims;
use base64::Engine;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// The answer to an authorized dataset download: status 200, 206 or 416, the headers to send,
/// and the file (opened beneath the root) with the byte range to stream from it.
///
/// Stream `length` bytes of [`Grant::file`] starting at `offset` (or use [`Grant::read_at`]);
/// for 416 and for `HEAD` requests send the headers only.
pub struct Grant {
    /// 200 (whole file), 206 (one range) or 416 (range not satisfiable: no body).
    pub status: u16,
    /// The dataset id.
    pub dataset: String,
    /// The verified token's claims: the route still checks that the job is live (DESIGN §5).
    pub claims: Claims,
    /// The file's size in bytes.
    pub size: u64,
    /// The file's sha256, lowercase hex.
    pub sha256: String,
    /// The strong ETag, quoted: `"sha256-<hex>"`.
    pub etag: String,
    /// First byte of the body within the file.
    pub offset: u64,
    /// Bytes of body (0 for 416).
    pub length: u64,
    /// Response headers, names in lowercase, in a stable order.
    pub headers: Vec<(&'static str, String)>,
    file: File,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("status", &self.status)
            .field("dataset", &self.dataset)
            .field("size", &self.size)
            .field("offset", &self.offset)
            .field("length", &self.length)
            .field("etag", &self.etag)
            .finish_non_exhaustive()
    }
}

/// The quoted strong ETag of a file with this sha256: the content hash is a strong validator.
pub fn etag_for(sha256_hex: &str) -> String {
    format!("\"sha256-{sha256_hex}\"")
}

impl Grant {
    pub(crate) fn new(
        dataset: String,
        claims: Claims,
        file: File,
        size: u64,
        digest: [u8; 32],
        outcome: RangeOutcome,
    ) -> Grant {
        let sha256 = crate::hex::encode(&digest);
        let etag = etag_for(&sha256);
        let (status, offset, length) = match outcome {
            RangeOutcome::Full => (200, 0, size),
            RangeOutcome::Partial { start, len } => (206, start, len),
            RangeOutcome::Unsatisfiable => (416, 0, 0),
        };
        let mut grant = Grant {
            status,
            dataset,
            claims,
            size,
            sha256,
            etag,
            offset,
            length,
            headers: Vec::new(),
            file,
        };
        grant.headers = grant.build_headers(&digest);
        grant
    }

    fn build_headers(&self, digest: &[u8; 32]) -> Vec<(&'static str, String)> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        let mut h = vec![
            ("content-type", "application/octet-stream".to_owned()),
            ("content-length", self.length.to_string()),
            ("accept-ranges", "bytes".to_owned()),
            ("etag", self.etag.clone()),
            // RFC 9530: the pod (or any client) can check the whole file's hash.
            ("repr-digest", format!("sha-256=:{b64}:")),
            // The URL may carry its token: no shared cache may keep a copy.
            ("cache-control", "private, no-store".to_owned()),
            ("x-content-type-options", "nosniff".to_owned()),
            // The id's alphabet needs no quoting or escaping.
            (
                "content-disposition",
                format!("attachment; filename=\"{}\"", self.dataset),
            ),
        ];
        match self.status {
            206 => h.push((
                "content-range",
                format!(
                    "bytes {}-{}/{}",
                    self.offset,
                    self.offset + self.length - 1,
                    self.size
                ),
            )),
            416 => h.push(("content-range", format!("bytes */{}", self.size))),
            _ => {}
        }
        h
    }

    /// The file, opened beneath the staging root.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The file, to stream from elsewhere ([`Self::into_body`] reads it in chunks).
    pub fn into_file(self) -> File {
        self.file
    }

    /// Read body bytes starting `pos` bytes into the body, never past its end: `Ok(0)` at the
    /// end. Uses `pread`, so several readers may share the file.
    pub fn read_at(&self, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
        let left = self.length.saturating_sub(pos);
        let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        if want == 0 {
            return Ok(0);
        }
        self.file.read_at(&mut buf[..want], self.offset + pos)
    }

    /// The value of header `name` (lowercase), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}
