//! [`HttpSend`] over reqwest with rustls (ring provider, webpki roots): no OpenSSL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::transport::{
    BodyStream, HttpRequest, HttpResponse, HttpSend, Method, StreamingResponse, TransportError,
};
use crate::{Error, ErrorKind, Result};

/// How long a streamed response (the pod log stream) may stay silent before it counts as cut.
pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Sends RunPod requests with shared reqwest clients.
#[derive(Clone, Debug)]
pub struct ReqwestSender {
    client: reqwest::Client,
    /// For streamed responses: no whole-request timeout (a log stream lasts as long as the pod),
    /// only a connect timeout and an idle timeout between chunks.
    stream_client: reqwest::Client,
}

impl ReqwestSender {
    /// A sender with these connect and whole-request timeouts (defaults: 10 s and 60 s).
    /// Streamed responses use the connect timeout and [`DEFAULT_STREAM_IDLE_TIMEOUT`].
    pub fn new(connect_timeout: Duration, request_timeout: Duration) -> Result<Self> {
        Self::with_stream_idle_timeout(
            connect_timeout,
            request_timeout,
            DEFAULT_STREAM_IDLE_TIMEOUT,
        )
    }

    /// As [`ReqwestSender::new`], with the longest silence allowed inside a streamed response.
    pub fn with_stream_idle_timeout(
        connect_timeout: Duration,
        request_timeout: Duration,
        stream_idle_timeout: Duration,
    ) -> Result<Self> {
        if connect_timeout.is_zero() || request_timeout.is_zero() || stream_idle_timeout.is_zero() {
            return Err(Error::invalid_input(
                "RunPod connect, request and stream idle timeouts must be greater than zero",
            ));
        }
        Ok(ReqwestSender {
            client: build(
                reqwest::Client::builder().timeout(request_timeout),
                connect_timeout,
            )?,
            stream_client: build(
                reqwest::Client::builder().read_timeout(stream_idle_timeout),
                connect_timeout,
            )?,
        })
    }

    /// A sender with 10 s connect and 60 s request timeouts.
    pub fn with_defaults() -> Result<Self> {
        ReqwestSender::new(Duration::from_secs(10), Duration::from_secs(60))
    }

    fn builder(client: &reqwest::Client, request: HttpRequest) -> reqwest::RequestBuilder {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        builder
    }
}

/// A reqwest client with trainpod's one TLS setup (rustls, ring, webpki roots); the object-store
/// staging backends build theirs here too.
pub(crate) fn build(
    builder: reqwest::ClientBuilder,
    connect_timeout: Duration,
) -> Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    builder
        .tls_backend_preconfigured(tls)
        .connect_timeout(connect_timeout)
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("the HTTP client could not be built: {e}"),
            )
        })
}

fn headers(resp: &reqwest::Response) -> Vec<(String, String)> {
    resp.headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// A reqwest body read chunk by chunk.
#[derive(Debug)]
struct ReqwestBody(reqwest::Response);

#[async_trait]
impl BodyStream for ReqwestBody {
    async fn next_chunk(&mut self) -> std::result::Result<Option<Vec<u8>>, TransportError> {
        match self.0.chunk().await {
            Ok(chunk) => Ok(chunk.map(|b| b.to_vec())),
            Err(e) => Err(transport(&e)),
        }
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
        let resp = Self::builder(&self.client, request)
            .send()
            .await
            .map_err(|e| transport(&e))?;
        let status = resp.status().as_u16();
        let headers = headers(&resp);
        let body = resp.bytes().await.map_err(|e| transport(&e))?.to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    async fn send_streaming(
        &self,
        request: HttpRequest,
    ) -> std::result::Result<StreamingResponse, TransportError> {
        let resp = Self::builder(&self.stream_client, request)
            .send()
            .await
            .map_err(|e| transport(&e))?;
        Ok(StreamingResponse {
            status: resp.status().as_u16(),
            headers: headers(&resp),
            body: Box::new(ReqwestBody(resp)),
        })
    }
}
