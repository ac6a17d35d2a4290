//! [`HttpSend`] over reqwest with rustls (ring provider, webpki roots): no OpenSSL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::transport::{HttpRequest, HttpResponse, HttpSend, Method, TransportError};
use crate::{Error, ErrorKind, Result};

/// Sends RunPod requests with one shared reqwest client.
#[derive(Clone, Debug)]
pub struct ReqwestSender {
    client: reqwest::Client,
}

impl ReqwestSender {
    /// A sender with these connect and whole-request timeouts (defaults: 10 s and 60 s).
    pub fn new(connect_timeout: Duration, request_timeout: Duration) -> Result<Self> {
        if connect_timeout.is_zero() || request_timeout.is_zero() {
            return Err(Error::invalid_input(
                "RunPod connect and request timeouts must be greater than zero",
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::new(ErrorKind::Internal, format!("TLS setup failed: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("the HTTP client could not be built: {e}"),
                )
            })?;
        Ok(ReqwestSender { client })
    }

    /// A sender with 10 s connect and 60 s request timeouts.
    pub fn with_defaults() -> Result<Self> {
        ReqwestSender::new(Duration::from_secs(10), Duration::from_secs(60))
    }
}

fn transport(e: &reqwest::Error) -> TransportError {
    // The message names the failure, never headers; the URL holds no secret.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    TransportError {
        timed_out: e.is_timeout(),
        message,
    }
}

#[async_trait]
impl HttpSend for ReqwestSender {
    async fn send(
        &self,
        request: HttpRequest,
    ) -> std::result::Result<HttpResponse, TransportError> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let resp = builder.send().await.map_err(|e| transport(&e))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = resp.bytes().await.map_err(|e| transport(&e))?.to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}
