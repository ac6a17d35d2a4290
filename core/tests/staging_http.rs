//! The Rust dataset server over real HTTP on loopback: plain `curl` downloads as the pod does
//! (header token, query token, `-C -` resume) with the sha256 matching, and hostile requests
//! written byte for byte on a raw socket.

#![allow(clippy::unwrap_used)] // a test fails by panicking

mod staging_support;

use sha2::{Digest, Sha256};
use staging_support::{AUDIENCE, Fixture, OpenWatch, dataset_bytes};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trainpod::staging::{AppStaging, server};

/// The fixture's staging served on a loopback port.
async fn serve(f: &Fixture) -> SocketAddr {
    let staging = AppStaging::new(
        &f.root,
        staging_support::tokens(f.clock.clone(), staging_support::KEYS, AUDIENCE),
    )
    .unwrap();
    let app = server::router(Arc::new(staging));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn sha256_file(path: &Path) -> String {
    hex(&Sha256::digest(std::fs::read(path).unwrap()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Run curl; returns (exit code, stdout).
async fn curl(args: Vec<String>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl").args(&args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_downloads_with_the_header_token_and_the_digest_matches() {
    let f = Fixture::with_data(dataset_bytes(3_000_000));
    let addr = serve(&f).await;
    let base = format!("http://{addr}");
    let dl = f
        .staging
        .signed_download_url(&base, "job-1", "user-1", "ds-1", None)
        .await
        .unwrap();
    let out = f.base.join("out.jsonl");
    let auth = format!("Authorization: Bearer {}", dl.token.expose());
    let (rc, _) = curl(args(&[
        "-sS",
        "--fail",
        "-H",
        &auth,
        "-o",
        out.to_str().unwrap(),
        &dl.url,
    ]))
    .await;
    assert_eq!(rc, 0);
    assert_eq!(sha256_file(&out), dl.sha256);
    assert_eq!(std::fs::metadata(&out).unwrap().len(), dl.size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_downloads_with_the_query_token() {
    let f = Fixture::new();
    let addr = serve(&f).await;
    let dl = f
        .staging
        .signed_download_url(&format!("http://{addr}/"), "job-1", "user-1", "ds-1", None)
        .await
        .unwrap();
    let out = f.base.join("out.jsonl");
    let (rc, _) = curl(args(&[
        "-sS",
        "--fail",
        "-o",
        out.to_str().unwrap(),
        &dl.url_with_token,
    ]))
    .await;
    assert_eq!(rc, 0);
    assert_eq!(sha256_file(&out), dl.sha256);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_resumes_a_cut_download_with_a_range() {
    let f = Fixture::with_data(dataset_bytes(2_000_000));
    let addr = serve(&f).await;
    let dl = f
        .staging
        .signed_download_url(&format!("http://{addr}"), "job-1", "user-1", "ds-1", None)
        .await
        .unwrap();
    let out = f.base.join("out.jsonl");
    // What a cut connection leaves behind: the first 777,777 bytes.
    std::fs::write(&out, &f.data[..777_777]).unwrap();
    let auth = format!("Authorization: Bearer {}", dl.token.expose());
    let resume = [
        "-sS",
        "--fail",
        "-C",
        "-",
        "-H",
        &auth,
        "-o",
        out.to_str().unwrap(),
        "-w",
        "%{http_code} %{size_download}",
        &dl.url,
    ];
    let (rc, written) = curl(args(&resume)).await;
    assert_eq!(rc, 0);
    assert_eq!(written, format!("206 {}", 2_000_000 - 777_777));
    assert_eq!(sha256_file(&out), dl.sha256);
    // Resuming a complete file: 416 with `Content-Range: bytes */size`; curl leaves the file as
    // it is, and with --fail reports the 416 as exit 22 (a pod script must compare sizes then).
    let (rc, written) = curl(args(&resume)).await;
    assert_eq!((rc, written.as_str()), (22, "416 0"));
    let no_fail: Vec<&str> = resume.iter().copied().filter(|a| *a != "--fail").collect();
    let (rc, written) = curl(args(&no_fail)).await;
    assert_eq!((rc, written.as_str()), (0, "416 0"));
    assert_eq!(sha256_file(&out), dl.sha256);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_the_headers_without_a_body() {
    let f = Fixture::new();
    let addr = serve(&f).await;
    let (status, headers, body) = raw(
        addr,
        &format!(
            "HEAD /datasets/ds-1 HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n",
            f.bearer()
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-length"),
        Some(f.data.len().to_string())
    );
    assert!(header(&headers, "etag").unwrap().starts_with("\"sha256-"));
    assert!(body.is_empty());
}

/// One request on a fresh connection, written verbatim; returns status, headers, body.
async fn raw(addr: SocketAddr, head: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let text = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, buf[split + 4..].to_vec())
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn error_of(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["error"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_on_the_wire_get_their_status_and_never_leave_the_root() {
    let f = Fixture::new();
    let addr = serve(&f).await;
    let watch = OpenWatch::new(&f);
    let auth = f.bearer();
    let get = |path: &str, extra: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}");
    let with_auth = format!("Authorization: {auth}\r\n");
    let paths = [
        "/datasets/..%2f..%2foutside%2fcanary",
        "/datasets/%2e%2e%2foutside%2fcanary",
        "/datasets/%2e%2e",
        "/datasets/%252e%252e%252foutside%252fcanary",
        "/datasets/..%5coutside%5ccanary",
        "/datasets/%2fetc%2fpasswd",
        "/datasets/ds-1%00",
        "/datasets/%c0%ae%c0%ae%c0%afcanary",
        "/datasets/%ef%bc%8e%ef%bc%8e%ef%bc%8fcanary",
        "/datasets/link-out",
        "/datasets/ds-1%2f..%2fds-1",
    ];
    for path in paths {
        let (status, _, body) = raw(addr, &get(path, &with_auth)).await;
        // The token is for ds-1; every other route id is refused before any file is touched.
        assert!(matches!(status, 400 | 403 | 404), "{path}: {status}");
        if status == 403 {
            assert_eq!(error_of(&body), "forbidden", "{path}");
        }
        watch.assert_untouched(path);
    }
    // Dot segments left raw in the request target never reach a dataset either.
    for path in [
        "/datasets/../../outside/canary",
        "/datasets/./../outside/canary",
        "/datasets/..",
        "/../outside/canary",
    ] {
        let (status, _, _) = raw(addr, &get(path, &with_auth)).await;
        assert!(matches!(status, 400 | 403 | 404), "{path}: {status}");
        watch.assert_untouched(path);
    }
    // A trap inside the root, with a token naming it.
    let trap = format!(
        "Authorization: Bearer {}\r\n",
        f.token_for("job-1", "link-out")
    );
    let (status, _, body) = raw(addr, &get("/datasets/link-out", &trap)).await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (403, "DATASET_PATH_UNSAFE")
    );
    watch.assert_untouched("trap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_headers_and_refusals_on_the_wire() {
    let f = Fixture::new();
    let addr = serve(&f).await;
    let auth = f.bearer();
    let size = f.data.len();
    let get = |extra: &str| format!("GET /datasets/ds-1 HTTP/1.1\r\nHost: x\r\n{extra}");
    let a = format!("Authorization: {auth}\r\n");

    let (status, headers, _) = raw(addr, &get("")).await;
    assert_eq!(status, 401);
    assert_eq!(
        header(&headers, "www-authenticate").as_deref(),
        Some("Bearer error=\"invalid_token\"")
    );
    let (status, _, body) = raw(addr, &get(&format!("{a}{a}"))).await;
    assert_eq!((status, error_of(&body).as_str()), (401, "invalid_token"));
    let t = f.token_for("job-1", "ds-1");
    let (status, _, _) = raw(
        addr,
        &format!("GET /datasets/ds-1?token={t}&token={t} HTTP/1.1\r\nHost: x\r\n"),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = raw(
        addr,
        &format!("GET /datasets/ds-1?token={t} HTTP/1.1\r\nHost: x\r\n{a}"),
    )
    .await;
    assert_eq!(status, 401, "two tokens");
    let (status, _, body) = raw(
        addr,
        &get(&format!(
            "Authorization: Bearer {}\r\n",
            f.token_for("job-1", "ds-2")
        )),
    )
    .await;
    assert_eq!((status, error_of(&body).as_str()), (403, "forbidden"));

    let (status, headers, body) = raw(addr, &get(&format!("{a}Range: bytes=10-19\r\n"))).await;
    assert_eq!(status, 206);
    assert_eq!(body, f.data[10..20]);
    assert_eq!(
        header(&headers, "content-range"),
        Some(format!("bytes 10-19/{size}"))
    );
    let (status, headers, body) = raw(addr, &get(&format!("{a}Range: bytes={size}-\r\n"))).await;
    assert_eq!((status, body.len()), (416, 0));
    assert_eq!(
        header(&headers, "content-range"),
        Some(format!("bytes */{size}"))
    );
    for ranges in [
        "Range: bytes=0-1\r\nRange: bytes=5-6\r\n",
        "Range: bytes=0-1,5-6\r\n",
        "Range: bytes=garbage\r\n",
        "Range: bytes=5-2\r\n",
        "Range: lines=1-2\r\n",
    ] {
        let (status, _, body) = raw(addr, &get(&format!("{a}{ranges}"))).await;
        assert_eq!((status, body.len()), (200, size), "{ranges:?}");
    }
    let (status, _, body) = raw(
        addr,
        &get(&format!("{a}Range: bytes=99999999999999999999999-\r\n")),
    )
    .await;
    assert_eq!((status, body.len()), (416, 0));

    std::fs::remove_file(f.root.join("ds-1")).unwrap();
    let (status, _, body) = raw(addr, &get(&a)).await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (404, "DATASET_NOT_FOUND")
    );
}
