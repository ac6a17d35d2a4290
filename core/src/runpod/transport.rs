//! The HTTP seam: the client builds [`HttpRequest`]s and an [`HttpSend`] carries them. Tests
//! supply a scripted sender; applications supply one over their HTTP stack (reqwest, …).

use std::fmt;

use async_trait::async_trait;

/// HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// A request to the RunPod API. `Debug` never shows the `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL, query included.
    pub url: String,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// JSON body, if any.
    pub body: Option<Vec<u8>>,
}

impl HttpRequest {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                if n.eq_ignore_ascii_case("authorization") {
                    (n.as_str(), "[redacted]")
                } else {
                    (n.as_str(), v.as_str())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// A response from the RunPod API.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header with this name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The request did not complete: no status was received.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    /// The connect or request timeout elapsed.
    pub timed_out: bool,
    /// What failed (never contains headers).
    pub message: String,
}

/// The body of a [`StreamingResponse`], read chunk by chunk as it arrives.
#[async_trait]
pub trait BodyStream: Send + fmt::Debug {
    /// The next chunk of the body, or `None` once it has ended.
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, TransportError>;
}

/// A response whose status and headers have arrived and whose body is still coming.
#[derive(Debug)]
pub struct StreamingResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, as it arrives.
    pub body: Box<dyn BodyStream>,
}

/// A body that was read whole: one chunk, then the end.
#[derive(Debug)]
struct Buffered(Option<Vec<u8>>);

#[async_trait]
impl BodyStream for Buffered {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, TransportError> {
        Ok(self.0.take().filter(|b| !b.is_empty()))
    }
}

/// Carries requests to the API. One value is shared by every call.
#[async_trait]
pub trait HttpSend: Send + Sync + fmt::Debug {
    /// Send the request and read the whole response.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;

    /// Send the request and return once the status and headers have arrived; the body follows
    /// through [`StreamingResponse::body`].
    ///
    /// The pod log stream (SSE) needs this: RunPod holds it open for as long as the pod lives,
    /// so a sender that read the whole body would never return and would buffer without bound.
    /// Streaming hands each event over as it arrives, with memory bounded by the longest event.
    /// Override it for a real network sender. The default reads the whole body with
    /// [`HttpSend::send`], which is right for scripted fakes and for bodies known to end.
    async fn send_streaming(
        &self,
        request: HttpRequest,
    ) -> Result<StreamingResponse, TransportError> {
        let resp = self.send(request).await?;
        Ok(StreamingResponse {
            status: resp.status,
            headers: resp.headers,
            body: Box::new(Buffered(Some(resp.body))),
        })
    }
}
