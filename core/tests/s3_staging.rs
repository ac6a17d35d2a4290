//! Bucket and network-volume staging against a real S3-compatible server (s3s-fs, which checks
//! SigV4 header signatures, presigned signatures and presigned expiry). Start it with
//! `eval "$(scripts/s3-server.sh start)"`; without it these tests skip, unless
//! `TRAINPOD_REQUIRE_S3=1`.

#![allow(clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use common::S3Env;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};
use trainpod::ErrorKind;
use trainpod::clock::ManualClock;
use trainpod::script::DatasetSource;
use trainpod::staging::sigv4::Credentials;
use trainpod::staging::{
    Backend, BucketStaging, MIN_PART_SIZE, S3Config, VolumeConfig, VolumeStaging,
};
use uuid::Uuid;

const HOUR: Duration = Duration::from_secs(3600);

fn config(env: &S3Env, secret: &str) -> S3Config {
    S3Config::builder()
        .endpoint(&env.endpoint)
        .region("us-east-1")
        .bucket(&env.bucket)
        .credentials(Credentials::new(&env.access_key, secret).unwrap())
        // Multipart from 5 MiB (S3's smallest part), so a few MB exercise it.
        .part_size(MIN_PART_SIZE)
        .build()
        .unwrap()
}

fn bucket(env: &S3Env) -> BucketStaging {
    BucketStaging::new(config(env, &env.secret_key)).unwrap()
}

/// A plain HTTP client with no credentials: what a pod has.
fn plain_http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Deterministic, non-repeating-looking bytes.
fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("trainpod-s3-test-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key(name: &str) -> String {
    format!("tests/{}/{name}", Uuid::new_v4())
}

async fn get(url: &str) -> (u16, Vec<u8>) {
    let resp = plain_http().get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn small_file_is_one_put_and_a_presigned_get_needs_no_credentials() {
    let Some(env) = common::s3_env() else { return };
    let bucket = bucket(&env);
    let dir = TempDir::new();
    let bytes = data(100_000, 1);
    let path = dir.file("small.jsonl", &bytes);
    let key = key("small file.jsonl"); // a space: the key is percent-encoded and signed so

    assert_eq!(bucket.head(&key).await.unwrap(), None);
    let up = bucket.upload_file(&path, &key).await.unwrap();
    assert_eq!((up.bytes, up.parts), (bytes.len() as u64, 0));
    assert_eq!(up.sha256, sha256_hex(&bytes));
    let head = bucket.head(&key).await.unwrap().unwrap();
    assert_eq!(head.bytes, bytes.len() as u64);

    let url = bucket.presign_get(&key, HOUR).unwrap();
    assert!(url.url.contains("X-Amz-Signature="));
    let (status, body) = get(&url.url).await;
    assert_eq!(status, 200);
    assert_eq!(body, bytes);
    // The same object without the signature is refused: the bucket is not public.
    let (status, _) = get(url.url.split('?').next().unwrap()).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn large_file_is_uploaded_in_parts() {
    let Some(env) = common::s3_env() else { return };
    let bucket = bucket(&env);
    let dir = TempDir::new();
    let bytes = data(2 * MIN_PART_SIZE as usize + 123_457, 2);
    let path = dir.file("large.jsonl", &bytes);
    let key = key("large.jsonl");

    let up = bucket.upload_file(&path, &key).await.unwrap();
    assert_eq!(up.parts, 3, "two full parts and a short last one");
    assert_eq!(up.bytes, bytes.len() as u64);
    assert_eq!(up.sha256, sha256_hex(&bytes));
    let (status, body) = get(&bucket.presign_get(&key, HOUR).unwrap().url).await;
    assert_eq!(status, 200);
    assert!(
        body == bytes,
        "the parts were joined in another order or cut"
    );
}

#[tokio::test]
async fn a_staged_dataset_is_a_presigned_url_the_pod_can_verify() {
    let Some(env) = common::s3_env() else { return };
    let bucket = bucket(&env);
    let dir = TempDir::new();
    let bytes = data(50_000, 9);
    let path = dir.file("train.jsonl", &bytes);
    let key = key("train.jsonl");

    let staged = bucket.stage_dataset(&path, &key, HOUR).await.unwrap();
    assert_eq!(staged.backend, Backend::Bucket);
    assert_eq!(staged.key.as_deref(), Some(key.as_str()));
    let DatasetSource::Url {
        url,
        token,
        bytes: size,
        sha256,
    } = &staged.source
    else {
        panic!("a bucket stages a URL, got {:?}", staged.source)
    };
    assert!(token.is_none(), "a presigned URL needs no token");
    assert_eq!(*size, bytes.len() as u64);
    assert_eq!(*sha256, sha256_hex(&bytes));
    let (status, body) = get(url).await;
    assert_eq!((status, body), (200, bytes));
    // Debug output never carries the signature.
    assert!(!format!("{staged:?}").contains("X-Amz-Signature"));
    // A ttl beyond 7 days is refused before anything is uploaded.
    let other = key.replace("train", "never");
    let err = bucket
        .stage_dataset(&path, &other, Duration::from_secs(8 * 24 * 3600))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(bucket.head(&other).await.unwrap(), None);
}

#[tokio::test]
async fn a_tampered_presigned_url_is_refused() {
    let Some(env) = common::s3_env() else { return };
    let bucket = bucket(&env);
    let key = key("t.txt");
    bucket
        .upload_reader(&b"tamper me"[..], 9, &key)
        .await
        .unwrap();
    let url = bucket.presign_get(&key, HOUR).unwrap().url;
    assert_eq!(get(&url).await.0, 200);

    // One signature digit changed.
    let at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &url[at..=at] == "0" { "1" } else { "0" };
    let forged = format!("{}{flipped}{}", &url[..at], &url[at + 1..]);
    assert_eq!(get(&forged).await.0, 403);
    // A longer lifetime than the one signed.
    let stretched = url.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200");
    assert_ne!(stretched, url);
    assert_eq!(get(&stretched).await.0, 403);
    // Another object under the same signature.
    let other = url.replace("/t.txt?", "/u.txt?");
    assert_eq!(get(&other).await.0, 403);
}

#[tokio::test]
async fn an_expired_presigned_url_is_refused() {
    let Some(env) = common::s3_env() else { return };
    let key = key("e.txt");
    bucket(&env)
        .upload_reader(&b"expiring"[..], 8, &key)
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Signed two hours ago for one hour: expired an hour ago.
    let past = bucket(&env).with_clock(Arc::new(ManualClock::new(now - 2 * 3600)));
    let expired = past.presign_get(&key, HOUR).unwrap();
    assert_eq!(expired.expires_at, now - 3600);
    assert_eq!(get(&expired.url).await.0, 403);
    // Signed a minute ago for an hour: still good.
    let recent = bucket(&env).with_clock(Arc::new(ManualClock::new(now - 60)));
    assert_eq!(
        get(&recent.presign_get(&key, HOUR).unwrap().url).await.0,
        200
    );
    // Beyond 7 days is refused before signing.
    let err = bucket(&env)
        .presign_get(&key, Duration::from_secs(604_801))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn a_wrong_secret_is_a_typed_auth_error_that_never_shows_the_secret() {
    let Some(env) = common::s3_env() else { return };
    let wrong = "definitely-not-the-secret-0123456789";
    let bucket = BucketStaging::new(config(&env, wrong)).unwrap();
    let err = bucket
        .upload_reader(&b"x"[..], 1, &key("w.txt"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthInvalid, "{err}");
    assert_eq!(err.status(), Some(403));
    assert!(err.message().contains("SignatureDoesNotMatch"), "{err}");
    assert!(err.message().contains("secret access key"), "{err}");
    for text in [err.to_string(), format!("{err:?}"), format!("{bucket:?}")] {
        assert!(!text.contains(wrong), "secret leaked: {text}");
        assert!(!text.contains(&env.secret_key), "secret leaked: {text}");
    }
    // A HEAD (no error body) is refused the same way.
    let err = bucket.head("anything").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthInvalid, "{err}");
    // The multipart path too, at its first request.
    let big = data(MIN_PART_SIZE as usize + 1, 3);
    let err = bucket
        .upload_reader(&big[..], big.len() as u64, &key("w2.bin"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthInvalid, "{err}");
}

#[tokio::test]
async fn an_unknown_bucket_is_not_found() {
    let Some(env) = common::s3_env() else { return };
    let mut env = env;
    env.bucket = format!("missing-{}", &Uuid::new_v4().to_string()[..8]);
    // (s3s-fs creates a bucket on PUT, where S3 answers NoSuchBucket: list instead.)
    let err = bucket(&env).list("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.status(), Some(404));
    assert!(err.message().contains("bucket does not exist"), "{err}");
}

#[tokio::test]
async fn a_presigned_put_uploads_without_credentials() {
    let Some(env) = common::s3_env() else { return };
    let bucket = bucket(&env);
    let key = key("model/adapter.safetensors");
    let bytes = data(300_000, 4);
    let put = bucket.presign_put(&key, HOUR).unwrap();
    assert_eq!(put.method, "PUT");
    let resp = plain_http()
        .put(&put.url)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        bucket.head(&key).await.unwrap().map(|h| h.bytes),
        Some(bytes.len() as u64)
    );
    let (status, body) = get(&bucket.presign_get(&key, HOUR).unwrap().url).await;
    assert_eq!((status, body), (200, bytes));
    // A PUT URL does not download, and a GET URL does not upload.
    assert_eq!(get(&put.url).await.0, 403);
    let get_url = bucket.presign_get(&key, HOUR).unwrap().url;
    let resp = plain_http().put(&get_url).body("x").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
}

/// A source that fails after `ok` bytes, like a disk read error mid-file.
struct FailingReader {
    bytes: Vec<u8>,
    pos: usize,
    ok: usize,
}

impl AsyncRead for FailingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pos >= self.ok {
            return Poll::Ready(Err(std::io::Error::other("simulated disk failure")));
        }
        let n = buf.remaining().min(self.ok - self.pos);
        let start = self.pos;
        buf.put_slice(&self.bytes[start..start + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// Multipart uploads that are neither complete nor aborted, as s3s-fs keeps them on disk.
fn pending_uploads(data_dir: &Path) -> Vec<String> {
    std::fs::read_dir(data_dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".upload"))
        .collect()
}

#[tokio::test]
async fn a_multipart_upload_that_fails_is_aborted() {
    let Some(env) = common::s3_env() else { return };
    let bucket = bucket(&env);
    let len = 3 * MIN_PART_SIZE as usize;
    let bytes = data(len, 5);

    // The source fails in the second part, after the first was stored.
    let key1 = key("broken.bin");
    let reader = FailingReader {
        bytes: bytes.clone(),
        pos: 0,
        ok: MIN_PART_SIZE as usize + 1000,
    };
    let err = bucket
        .upload_reader(reader, len as u64, &key1)
        .await
        .unwrap_err();
    assert!(err.message().contains("simulated disk failure"), "{err}");
    assert!(
        err.message().contains("aborted, nothing was stored"),
        "{err}"
    );

    // The source is shorter than announced (a file truncated while uploading).
    let key2 = key("short.bin");
    let short = &bytes[..2 * MIN_PART_SIZE as usize + 10];
    let err = bucket
        .upload_reader(short, len as u64, &key2)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.message().contains("ended after"), "{err}");
    assert!(err.message().contains("aborted"), "{err}");

    for key in [&key1, &key2] {
        assert_eq!(
            bucket.head(key).await.unwrap(),
            None,
            "{key} must not exist"
        );
    }
    if let Some(dir) = &env.data_dir {
        // The server keeps an upload's state in its root until completed or aborted. Tests
        // running in parallel may have one in flight: wait for them to finish.
        for _ in 0..50 {
            if pending_uploads(dir).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            pending_uploads(dir).is_empty(),
            "{:?}",
            pending_uploads(dir)
        );
    }
}

#[tokio::test]
async fn a_network_volume_is_filled_before_the_pod_and_emptied_after() {
    let Some(env) = common::s3_env() else { return };
    let volume = VolumeStaging::new(
        VolumeConfig::builder()
            .data_center_id("eu-ro-1")
            .volume_id(&env.volume)
            .credentials(Credentials::new(&env.access_key, &env.secret_key).unwrap())
            .endpoint(&env.endpoint)
            .signing_region("eu-ro-1") // s3s-fs accepts lowercase regions only
            .part_size(MIN_PART_SIZE)
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(volume.config().data_center_id(), "EU-RO-1");
    let dir = TempDir::new();
    let job = Uuid::new_v4();
    let bytes = data(MIN_PART_SIZE as usize + 4321, 6);
    let path = dir.file("train.jsonl", &bytes);
    let key = format!("datasets/{job}.jsonl");

    let staged = volume.stage_dataset(&path, &key).await.unwrap();
    assert_eq!(staged.backend, Backend::Volume);
    assert_eq!(staged.expires_at, None);
    assert_eq!(
        staged.source,
        DatasetSource::Path {
            path: format!("/workspace/{key}"),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        }
    );
    if let Some(data_dir) = &env.data_dir {
        // What the pod would find under its mount: the volume's root is the bucket's.
        let on_volume = std::fs::read(data_dir.join(&env.volume).join(&key)).unwrap();
        assert_eq!(sha256_hex(&on_volume), sha256_hex(&bytes));
    }

    // The pod leaves artifacts on the volume; the app downloads them afterwards.
    let artifacts = [
        ("adapter/adapter_model.safetensors", data(70_000, 7)),
        ("adapter/adapter_config.json", b"{\"r\": 16}".to_vec()),
        ("metrics.jsonl", data(10, 8)),
    ];
    for (name, content) in &artifacts {
        let src = dir.file("artifact", content);
        volume
            .upload_file(&src, &format!("jobs/{job}/{name}"))
            .await
            .unwrap();
    }
    let dest = dir.0.join("out");
    let got = volume
        .download_artifacts(&format!("jobs/{job}/"), &dest)
        .await
        .unwrap();
    assert_eq!(got.len(), artifacts.len());
    for (name, content) in &artifacts {
        assert_eq!(&std::fs::read(dest.join(name)).unwrap(), content, "{name}");
    }
    assert!(got.iter().all(|d| d.path.starts_with(&dest)));
    let no_parts = walk(&dest)
        .iter()
        .all(|p| p.extension().is_none_or(|e| e != "part"));
    assert!(no_parts, "partial files left behind");
    // Nothing under another job's prefix came along.
    assert!(
        volume
            .list(&format!("jobs/{job}x"))
            .await
            .unwrap()
            .is_empty()
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
