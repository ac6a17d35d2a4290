//! Uploads from any async reader: one PUT up to the threshold, a multipart upload above it.
//! One part is in memory at a time, the sha256 of the whole is computed on the way, and a
//! multipart upload that fails is aborted so no half-written upload is left to bill.

use reqwest::Method;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::s3_client::{Op, S3Client};
use super::s3_config::{MAX_PART_SIZE, MAX_PARTS};
use super::{s3_errors, s3_xml};
use crate::{Error, Result, hex};

/// What an upload stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    /// The object key.
    pub key: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The sha256 of the bytes sent, lowercase hex.
    pub sha256: String,
    /// Parts of a multipart upload; 0 for a single PUT.
    pub parts: u32,
}

/// Uploads exactly `len` bytes of `reader` to `key`.
pub(crate) async fn upload<R: AsyncRead + Unpin>(
    client: &S3Client,
    mut reader: R,
    len: u64,
    key: &str,
) -> Result<Uploaded> {
    if len <= client.config.multipart_threshold {
        return single_put(client, &mut reader, len, key).await;
    }
    let part_size = part_size_for(len, client.config.part_size)?;
    let upload_id = create(client, key).await?;
    match upload_parts(client, &mut reader, len, part_size, key, &upload_id).await {
        Ok(done) => Ok(done),
        Err(err) => Err(abort_after(client, key, &upload_id, err).await),
    }
}

async fn single_put<R: AsyncRead + Unpin>(
    client: &S3Client,
    reader: &mut R,
    len: u64,
    key: &str,
) -> Result<Uploaded> {
    let mut hasher = Sha256::new();
    let body = read_part(reader, len, 0, len).await?;
    ensure_ended(reader, len).await?;
    hasher.update(&body);
    let what = format!("upload of {key}");
    let mut op = Op::new(Method::PUT, key, &what);
    op.body = body;
    client.send(&op).await?;
    Ok(Uploaded {
        key: key.to_owned(),
        bytes: len,
        sha256: hex::encode(&hasher.finalize()),
        parts: 0,
    })
}

/// The configured part size, raised where the file would need more than 10 000 parts.
fn part_size_for(len: u64, configured: u64) -> Result<u64> {
    let needed = len.div_ceil(MAX_PARTS);
    let size = configured.max(needed);
    if size > MAX_PART_SIZE {
        return Err(Error::invalid_input(format!(
            "the file has {len} bytes, more than {MAX_PARTS} parts of {MAX_PART_SIZE} bytes \
             can hold; split the dataset"
        )));
    }
    Ok(size)
}

async fn create(client: &S3Client, key: &str) -> Result<String> {
    let what = format!("start of a multipart upload of {key}");
    let mut op = Op::new(Method::POST, key, &what);
    op.query = vec![("uploads", "")];
    // Retrying a create could leave an orphan upload behind the one that is used.
    op.idempotent = false;
    let body = client.send_text(&op).await?;
    s3_xml::text(&body, "UploadId")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| s3_errors::from_parts(500, Some("NoUploadId"), None, &what).with_status(200))
}

async fn upload_parts<R: AsyncRead + Unpin>(
    client: &S3Client,
    reader: &mut R,
    len: u64,
    part_size: u64,
    key: &str,
    upload_id: &str,
) -> Result<Uploaded> {
    let mut hasher = Sha256::new();
    let mut etags = Vec::new();
    let mut sent = 0;
    while sent < len {
        let size = part_size.min(len - sent);
        let body = read_part(reader, size, sent, len).await?;
        hasher.update(&body);
        let number = u32::try_from(etags.len() + 1).unwrap_or(u32::MAX);
        etags.push(upload_part(client, key, upload_id, number, body).await?);
        sent += size;
    }
    ensure_ended(reader, len).await?;
    complete(client, key, upload_id, &etags).await?;
    Ok(Uploaded {
        key: key.to_owned(),
        bytes: len,
        sha256: hex::encode(&hasher.finalize()),
        parts: u32::try_from(etags.len()).unwrap_or(u32::MAX),
    })
}

async fn upload_part(
    client: &S3Client,
    key: &str,
    upload_id: &str,
    number: u32,
    body: Vec<u8>,
) -> Result<String> {
    let what = format!("upload of part {number} of {key}");
    let number_text = number.to_string();
    let mut op = Op::new(Method::PUT, key, &what);
    op.query = vec![("partNumber", &number_text), ("uploadId", upload_id)];
    op.body = body;
    let resp = client.send(&op).await?;
    resp.headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| s3_errors::from_parts(500, Some("NoETag"), None, &what).with_status(200))
}

async fn complete(client: &S3Client, key: &str, upload_id: &str, etags: &[String]) -> Result<()> {
    let what = format!("completion of the multipart upload of {key}");
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (i, etag) in etags.iter().enumerate() {
        xml.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
            i + 1,
            s3_xml::escape(etag)
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let mut op = Op::new(Method::POST, key, &what);
    op.query = vec![("uploadId", upload_id)];
    op.body = xml.into_bytes();
    op.idempotent = false;
    client.send_text(&op).await.map(drop)
}

/// Aborts the upload after `err`; the returned error is `err`, saying whether the abort worked.
async fn abort_after(client: &S3Client, key: &str, upload_id: &str, err: Error) -> Error {
    let what = format!("abort of the multipart upload of {key}");
    let mut op = Op::new(Method::DELETE, key, &what);
    op.query = vec![("uploadId", upload_id)];
    let note = match client.send(&op).await {
        Ok(_) => "; the incomplete upload was aborted, nothing was stored".to_owned(),
        Err(abort) => format!(
            "; aborting the incomplete upload {upload_id} failed too ({}): a bucket lifecycle \
             rule with AbortIncompleteMultipartUpload removes it",
            abort.code()
        ),
    };
    rewrap(err, &note)
}

/// `err` with `note` appended to its message, keeping its kind and HTTP facts.
fn rewrap(err: Error, note: &str) -> Error {
    let mut out = Error::new(err.kind(), format!("{}{note}", err.message()));
    if let Some(s) = err.status() {
        out = out.with_status(s);
    }
    if let Some(id) = err.request_id() {
        out = out.with_request_id(id.to_owned());
    }
    if let Some(secs) = err.retry_after_secs() {
        out = out.with_retry_after(secs);
    }
    out.with_source(err)
}

/// Reads exactly `size` bytes (the part starting at `offset` of a `len`-byte source).
async fn read_part<R: AsyncRead + Unpin>(
    reader: &mut R,
    size: u64,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let read = reader.take(size).read_to_end(&mut buf).await.map_err(|e| {
        Error::invalid_input(format!(
            "reading the source failed in the part starting at byte {offset} of {len}: {e}"
        ))
        .with_source(e)
    })?;
    if (read as u64) < size {
        return Err(Error::invalid_input(format!(
            "the source ended after {} of {len} bytes; was the file changed while uploading? \
             upload it again once it is complete",
            offset + read as u64
        )));
    }
    Ok(buf)
}

/// Fails when the source holds more than `len` bytes (it grew while being uploaded).
async fn ensure_ended<R: AsyncRead + Unpin>(reader: &mut R, len: u64) -> Result<()> {
    let mut probe = [0u8; 1];
    let extra = reader.read(&mut probe).await.map_err(|e| {
        Error::invalid_input(format!(
            "reading the source failed at its end ({len} bytes): {e}"
        ))
    })?;
    if extra == 0 {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "the source holds more than the {len} bytes announced; was the file changed while \
             uploading? upload it again once it is complete"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_grows_to_fit_ten_thousand_parts() {
        let mib = 1024 * 1024;
        assert_eq!(part_size_for(100 * mib, 16 * mib).ok(), Some(16 * mib));
        let big = 400 * 1024 * mib; // 400 GiB
        let size = part_size_for(big, 16 * mib).unwrap_or(0);
        assert!(size * MAX_PARTS >= big && size > 16 * mib);
        assert!(part_size_for(MAX_PART_SIZE * MAX_PARTS + 1, 16 * mib).is_err());
    }
}
