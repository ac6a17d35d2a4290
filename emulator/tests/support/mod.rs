//! Raw calls to the emulator's v2 API and its control endpoints, so that the fault tests assert
//! what the emulator answers rather than what a client makes of it.
// Each test file uses a part of it.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};
use trainpod::runpod::{
    HttpRequest, HttpResponse, HttpSend, Method, ReqwestSender, StreamingResponse,
};
use trainpod_emulator::{ACCOUNT_KEY, Emulator};

/// Bounds every wait on the local provider: generous, for loaded machines.
pub const WAIT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Api {
    http: ReqwestSender,
    root: String,
    key: String,
}

impl Api {
    /// The emulator's API with the account key.
    pub fn new(emu: &Emulator) -> Api {
        Api {
            http: ReqwestSender::with_defaults().unwrap(),
            root: emu.base_url().trim_end_matches("/v2").to_owned(),
            key: ACCOUNT_KEY.to_owned(),
        }
    }

    /// The API of an emulator at `base_url` (ending in `/v2`, as the binary prints it) with
    /// this key.
    pub fn at(base_url: &str, key: &str) -> Api {
        Api {
            http: ReqwestSender::with_defaults().unwrap(),
            root: base_url.trim_end_matches("/v2").to_owned(),
            key: key.to_owned(),
        }
    }

    /// The same API with another key.
    pub fn with_key(&self, key: &str) -> Api {
        Api {
            http: ReqwestSender::with_defaults().unwrap(),
            root: self.root.clone(),
            key: key.to_owned(),
        }
    }

    fn request(&self, method: Method, url: String, body: Option<&Value>) -> HttpRequest {
        let mut headers = vec![("authorization".to_owned(), format!("Bearer {}", self.key))];
        if body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        HttpRequest {
            method,
            url,
            headers,
            body: body.map(|b| serde_json::to_vec(b).unwrap()),
        }
    }

    /// A v2 call (`path` under `/v2`).
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> HttpResponse {
        let url = format!("{}/v2{path}", self.root);
        self.http
            .send(self.request(method, url, body))
            .await
            .unwrap()
    }

    /// A v2 call's status and JSON body (`null` for none).
    pub async fn json(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let resp = self.send(method, path, body).await;
        let json = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        (resp.status, json)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.json(Method::Get, path, None).await
    }

    /// Create a pod; panics unless it is created.
    pub async fn create(&self, body: &Value) -> Value {
        let (status, pod) = self.json(Method::Post, "/pods", Some(body)).await;
        assert_eq!(status, 201, "{pod}");
        pod
    }

    /// A log stream, opened.
    pub async fn stream(&self, path: &str, last_event_id: Option<&str>) -> StreamingResponse {
        let mut req = self.request(Method::Get, format!("{}/v2{path}", self.root), None);
        if let Some(id) = last_event_id {
            req.headers.push(("last-event-id".into(), id.to_owned()));
        }
        self.http.send_streaming(req).await.unwrap()
    }

    /// A control call (`path` under `/_emulator/`).
    pub async fn control(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let url = format!("{}/_emulator/{path}", self.root);
        let resp = self
            .http
            .send(self.request(method, url, body))
            .await
            .unwrap();
        (resp.status, serde_json::from_slice(&resp.body).unwrap())
    }

    /// What a pod's `runpodctl` sends (`POST /_emulator/runpodctl` with this API's key): the
    /// status and the text answer.
    pub async fn runpodctl(&self, args: &[&str]) -> (u16, String) {
        let url = format!("{}/_emulator/runpodctl", self.root);
        let body = json!({ "args": args });
        let resp = self
            .http
            .send(self.request(Method::Post, url, Some(&body)))
            .await
            .unwrap();
        (resp.status, String::from_utf8(resp.body).unwrap())
    }
}

/// A create body for one A40 with this image.
pub fn pod(name: &str, image: &str) -> Value {
    json!({"name": name, "image": image, "gpu": {"id": "NVIDIA A40", "count": 1}})
}

/// An image that needs CUDA 12.8 (RunPod's own tag form).
pub const CU128_IMAGE: &str = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404";

/// The system log lines of a pod. The stream stays open while the pod lives, so its backfill is
/// read from the emulator's record of the request, exactly as it was sent.
pub async fn system_lines(emu: &Emulator, api: &Api, pod_id: &str) -> Vec<String> {
    let path = format!("/pods/{pod_id}/logs?source=system&tail=5000");
    let stream = api.stream(&path, None).await;
    assert_eq!(stream.status, 200);
    let sent = emu
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.uri == format!("/v2{path}"))
        .unwrap();
    events(&String::from_utf8_lossy(&sent.response))
        .into_iter()
        .map(|(_, line)| line)
        .collect()
}

/// The events of an SSE text: (id, line).
pub fn events(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter_map(|block| {
            let id = block.lines().find_map(|l| l.strip_prefix("id: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
            let v: Value = serde_json::from_str(data).ok()?;
            Some((id.to_owned(), v["line"].as_str()?.to_owned()))
        })
        .collect()
}

/// The value of a response header.
pub fn header<'a>(resp: &'a HttpResponse, name: &str) -> Option<&'a str> {
    resp.header(name)
}
