//! The RunPod client over real HTTP (reqwest) against tiny loopback servers.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use trainpod::ErrorKind;
use trainpod::runpod::{ApiKey, Client, ReqwestSender, RetryPolicy};

const KEY: &str = "rpa_HTTPSECRET";

/// Serve one connection with `response`, sending the raw request text back on the channel.
fn serve_once(response: &'static str) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://{}/v2",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut buf = vec![0u8; 8192];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&got).into_owned());
        if !response.is_empty() {
            let _ = stream.write_all(response.as_bytes());
        } else {
            std::thread::sleep(Duration::from_secs(3));
        }
    });
    (url, rx)
}

fn client(url: &str, request_timeout: Duration) -> Client {
    Client::builder(
        ApiKey::new(KEY).unwrap_or_else(|e| panic!("{e}")),
        Arc::new(
            ReqwestSender::new(Duration::from_secs(2), request_timeout)
                .unwrap_or_else(|e| panic!("{e}")),
        ),
    )
    .base_url(url)
    .retry_policy(RetryPolicy::none())
    .build()
    .unwrap_or_else(|e| panic!("{e}"))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn problem_json_401_over_http_maps_to_auth_invalid_and_headers_are_sent() {
    let body = r#"{"title":"Unauthorized","status":401,"detail":"invalid bearer token"}"#;
    let response: &'static str = Box::leak(
        format!(
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/problem+json\r\nx-request-id: abc-1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    );
    let (url, rx) = serve_once(response);
    let err = rt()
        .block_on(client(&url, Duration::from_secs(5)).list_pods())
        .err()
        .unwrap_or_else(|| panic!("succeeded"));
    assert_eq!(err.kind(), ErrorKind::AuthInvalid);
    assert_eq!(err.request_id(), Some("abc-1"));
    assert!(err.message().contains("invalid bearer token"));
    assert!(!format!("{err} {err:?}").contains("HTTPSECRET"));
    let raw = rx
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(raw.starts_with("get /v2/pods http/1.1"), "{raw}");
    assert!(raw.contains(&format!(
        "authorization: bearer {}",
        KEY.to_ascii_lowercase()
    )));
    assert!(raw.contains(&format!("user-agent: trainpod/{}", trainpod::VERSION)));
}

#[test]
fn a_silent_server_gives_timeout() {
    let (url, _rx) = serve_once("");
    let err = rt()
        .block_on(client(&url, Duration::from_millis(300)).gpu_catalog())
        .err()
        .unwrap_or_else(|| panic!("succeeded"));
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

#[test]
fn a_closed_port_gives_transport() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let err = rt()
        .block_on(
            client(
                &format!("http://127.0.0.1:{port}/v2"),
                Duration::from_secs(2),
            )
            .list_pods(),
        )
        .err()
        .unwrap_or_else(|| panic!("succeeded"));
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(err.is_retryable());
}

#[test]
fn base_url_must_be_https_or_loopback() {
    let key = ApiKey::new(KEY).unwrap_or_else(|e| panic!("{e}"));
    let b = Client::builder_with_reqwest(key).unwrap_or_else(|e| panic!("{e}"));
    let err = b
        .base_url("http://example.com/v2")
        .build()
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}
