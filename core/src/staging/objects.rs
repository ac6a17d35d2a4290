//! Listing objects under a prefix (ListObjectsV2) and downloading them into a directory.

use std::path::{Path, PathBuf};

use reqwest::Method;
use tokio::io::AsyncWriteExt;

use super::s3_client::{Op, S3Client, cut_off};
use super::s3_xml;
use super::temp_file::TempFile;
use crate::error::quote;
use crate::{Error, Result};

/// An object in a bucket or volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The full key.
    pub key: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The entity tag, as the server gives it (quoted).
    pub etag: Option<String>,
}

/// A file written by a download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Downloaded {
    /// The object key.
    pub key: String,
    /// Where it was written.
    pub path: PathBuf,
    /// Bytes written.
    pub bytes: u64,
}

/// Every object whose key starts with `prefix`, in key order, following continuation tokens.
pub(crate) async fn list(client: &S3Client, prefix: &str) -> Result<Vec<ObjectInfo>> {
    let what = format!("listing of {prefix:?} in bucket {}", client.config.bucket);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut op = Op::new(Method::GET, "", &what);
        op.query = vec![("list-type", "2"), ("prefix", prefix)];
        if let Some(t) = &token {
            op.query.push(("continuation-token", t));
        }
        let body = client.send_text(&op).await?;
        for entry in s3_xml::elements(&body, "Contents") {
            out.push(object(entry)?);
        }
        let truncated = s3_xml::text(&body, "IsTruncated").as_deref() == Some("true");
        token = s3_xml::text(&body, "NextContinuationToken");
        if !truncated || token.is_none() {
            return Ok(out);
        }
    }
}

fn object(entry: &str) -> Result<ObjectInfo> {
    let key = s3_xml::text(entry, "Key");
    let bytes = s3_xml::text(entry, "Size").and_then(|s| s.trim().parse().ok());
    match (key, bytes) {
        (Some(key), Some(bytes)) => Ok(ObjectInfo {
            key,
            bytes,
            etag: s3_xml::text(entry, "ETag"),
        }),
        _ => Err(Error::new(
            crate::ErrorKind::ServerError,
            "the object store's listing has an entry without Key or Size; is the endpoint an \
             S3-compatible API?",
        )),
    }
}

/// The object's size and tag, or `None` when there is no such object.
pub(crate) async fn head(client: &S3Client, key: &str) -> Result<Option<ObjectInfo>> {
    let what = format!("lookup of {key}");
    match client.send(&Op::new(Method::HEAD, key, &what)).await {
        Ok(resp) => {
            let header = |n: &str| {
                resp.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            Ok(Some(ObjectInfo {
                key: key.to_owned(),
                bytes: header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                etag: header("etag"),
            }))
        }
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Downloads every object under `prefix` into `dest_dir`, at its key less the prefix. Every
/// key is checked before anything is written: one that would land outside `dest_dir` fails
/// the call. Each file is written to `<name>.part` and renamed once complete.
pub(crate) async fn download_prefix(
    client: &S3Client,
    prefix: &str,
    dest_dir: &Path,
) -> Result<Vec<Downloaded>> {
    let objects = list(client, prefix).await?;
    let mut plan = Vec::with_capacity(objects.len());
    for obj in objects {
        // "Directory markers" (keys ending in '/') hold nothing to download.
        if obj.key.ends_with('/') {
            continue;
        }
        let rel = relative_path(&obj.key, prefix)?;
        plan.push((obj, dest_dir.join(rel)));
    }
    let mut done = Vec::with_capacity(plan.len());
    for (obj, path) in plan {
        let bytes = download(client, &obj.key, &path).await?;
        done.push(Downloaded {
            key: obj.key,
            path,
            bytes,
        });
    }
    Ok(done)
}

/// The key less the prefix, as a relative path of plain segments.
fn relative_path(key: &str, prefix: &str) -> Result<PathBuf> {
    let rest = key
        .strip_prefix(prefix)
        .unwrap_or(key)
        .trim_start_matches('/');
    let segments: Vec<&str> = rest.split('/').collect();
    let safe = !rest.is_empty()
        && segments
            .iter()
            .all(|s| !s.is_empty() && *s != "." && *s != ".." && !s.contains(['\\', '\0']))
        && !rest.chars().any(char::is_control);
    if !safe {
        return Err(Error::invalid_input(format!(
            "the object {} cannot be saved beneath the destination (an empty, '.' or '..' \
             segment, a backslash or a control character); rename it in the bucket or \
             download it by hand. Nothing was downloaded",
            quote(key)
        )));
    }
    Ok(segments.iter().collect())
}

/// Streams one object into `path` through a temporary file of its own beside it (two
/// downloads to one path never share one), returning its size. The temporary file is removed
/// on every path that does not rename it into place.
pub(crate) async fn download(client: &S3Client, key: &str, path: &Path) -> Result<u64> {
    let what = format!("download of {key}");
    let io_err = |e: std::io::Error| {
        Error::invalid_input(format!("could not write {}: {e}", path.display())).with_source(e)
    };
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io_err)?;
    }
    let mut resp = client.send(&Op::new(Method::GET, key, &what)).await?;
    let (part, file) = TempFile::create_beside(path).map_err(io_err)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut written = 0u64;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                file.write_all(&chunk).await.map_err(io_err)?;
                written += chunk.len() as u64;
            }
            Ok(None) => break,
            Err(e) => return Err(cut_off(&what, e)),
        }
    }
    file.flush().await.map_err(io_err)?;
    file.sync_all().await.map_err(io_err)?;
    drop(file);
    part.persist(path).map_err(io_err)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_beneath_the_destination_only() {
        let ok = |k: &str, p: &str| relative_path(k, p).ok();
        assert_eq!(
            ok("jobs/1/model/a.bin", "jobs/1/"),
            Some(PathBuf::from("model/a.bin"))
        );
        assert_eq!(ok("jobs/1/a", "jobs/1"), Some(PathBuf::from("a")));
        for bad in [
            "jobs/1/../x",
            "jobs/1/a//b",
            "jobs/1/./a",
            "jobs/1/a\\b",
            "jobs/1/",
        ] {
            assert!(relative_path(bad, "jobs/1/").is_err(), "{bad}");
        }
    }
}
