//! A Hugging Face Hub mirror on loopback, so that the local provider's pods download their
//! model as they would from the Hub: `<dir>/<org>/<name>/…` is the model `org/name` at one
//! revision (`main`), whose commit id is a digest of its files.
//!
//! It answers exactly what `huggingface_hub`'s `snapshot_download` and transformers'
//! `from_pretrained` ask, as huggingface_hub 2.4 asks it (cited per endpoint below, paths
//! relative to `site-packages/huggingface_hub/`), and counts the file bytes it sends, so a test
//! can tell a download from a cache hit. Files are never redirected to a CDN and never offered
//! through Xet (no `X-Xet-Hash`): the client then downloads them over plain HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A running mirror; stops when dropped.
#[derive(Debug)]
pub struct Hub {
    addr: SocketAddr,
    state: Arc<HubState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

#[derive(Debug)]
struct HubState {
    dir: PathBuf,
    /// File bytes sent in answers to `GET …/resolve/…`.
    bytes_served: AtomicU64,
    /// Those answers, one per file sent (a HEAD is none).
    files_served: AtomicU64,
    /// sha256 of each file by (path, size, mtime), so that a HEAD does not read it again.
    digests: Mutex<HashMap<(PathBuf, u64, i128), String>>,
}

impl Hub {
    /// Serves `dir` on 127.0.0.1 on a free port, on the caller's tokio runtime.
    pub async fn start(dir: PathBuf) -> std::io::Result<Hub> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(HubState {
            dir,
            bytes_served: AtomicU64::new(0),
            files_served: AtomicU64::new(0),
            digests: Mutex::new(HashMap::new()),
        });
        let served = state.clone();
        let app = Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
            let state = served.clone();
            async move {
                tokio::task::spawn_blocking(move || answer(&state, &method, &uri, &headers))
                    .await
                    .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
            }
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Hub {
            addr,
            state,
            stop: Some(tx),
        })
    }

    /// The endpoint to give `huggingface_hub` as `HF_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// File bytes sent so far (the bodies of file downloads; API answers are not counted).
    pub fn bytes_served(&self) -> u64 {
        self.state.bytes_served.load(Ordering::SeqCst)
    }

    /// Files sent so far (each `GET` of a file, a resumed one included).
    pub fn files_served(&self) -> u64 {
        self.state.files_served.load(Ordering::SeqCst)
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// One model of the mirror: its directory and its files (relative paths, sorted).
struct Repo {
    id: String,
    dir: PathBuf,
    files: Vec<String>,
}

fn answer(state: &HubState, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    let path = uri.path();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        // hf_api.py `model_info` (and `repo_info`): GET /api/models/{repo_id}[/revision/{rev}].
        (&Method::GET, ["api", "models", org, name]) => info(state, org, name, "main"),
        (&Method::GET, ["api", "models", org, name, "revision", rev]) => {
            info(state, org, name, rev)
        }
        // hf_api.py `list_repo_tree`: GET /api/models/{repo_id}/tree/{rev}[/{path}], paginated
        // through a `Link` header (utils/_pagination.py); one page holds everything here.
        (&Method::GET, ["api", "models", org, name, "tree", rev, ..]) => {
            tree(state, org, name, rev)
        }
        // file_download.py `hf_hub_url` / `get_hf_file_metadata` (HEAD) and `http_get` (GET):
        // /{repo_id}/resolve/{rev}/{filename}.
        (&Method::GET | &Method::HEAD, [org, name, "resolve", rev, file @ ..])
            if !file.is_empty() =>
        {
            resolve(state, method, headers, org, name, rev, &file.join("/"))
        }
        _ => status(StatusCode::NOT_FOUND),
    }
}

/// What the Hub answers for a repository an anonymous caller cannot see, a missing one as a
/// private one: 401 with `X-Error-Code: RepoNotFound`, which utils/_http.py
/// `hf_raise_for_status` turns into `RepositoryNotFoundError`.
fn repo_not_found() -> Response {
    hub_error(
        StatusCode::UNAUTHORIZED,
        "RepoNotFound",
        "Repository not found",
    )
}

/// A refusal with the `X-Error-Code` that utils/_http.py `hf_raise_for_status` reads.
fn hub_error(code: StatusCode, error_code: &'static str, message: &'static str) -> Response {
    let mut r = json_response(code, &json!({ "error": message }));
    r.headers_mut()
        .insert("X-Error-Code", HeaderValue::from_static(error_code));
    r.headers_mut()
        .insert("X-Error-Message", HeaderValue::from_static(message));
    r
}

fn status(code: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = code;
    r
}

fn json_response(code: StatusCode, v: &Value) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The repository `org/name`, when the mirror holds it (a name is never `.` or `..`).
fn repo(state: &HubState, org: &str, name: &str) -> Option<Repo> {
    let safe = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    if !safe(org) || !safe(name) {
        return None;
    }
    let dir = state.dir.join(org).join(name);
    let mut files = Vec::new();
    list(&dir, "", &mut files);
    if files.is_empty() {
        return None;
    }
    files.sort();
    Some(Repo {
        id: format!("{org}/{name}"),
        dir,
        files,
    })
}

/// Every file under `dir`, hidden ones (`.git`, a `.gated` marker) left out.
fn list(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let rel = format!("{prefix}{name}");
        match entry.file_type() {
            Ok(t) if t.is_dir() => list(&entry.path(), &format!("{rel}/"), out),
            Ok(t) if t.is_file() => out.push(rel),
            _ => {}
        }
    }
}

impl HubState {
    fn digest(&self, path: &Path) -> std::io::Result<(String, u64)> {
        let meta = std::fs::metadata(path)?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        let key = (path.to_owned(), meta.len(), mtime);
        if let Some(d) = self.lock().get(&key) {
            return Ok((d.clone(), meta.len()));
        }
        let d = hex(&Sha256::digest(std::fs::read(path)?));
        self.lock().insert(key, d.clone());
        Ok((d, meta.len()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(PathBuf, u64, i128), String>> {
        self.digests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Repo {
    /// The files with their sha256 and size, sorted by path.
    fn entries(&self, state: &HubState) -> std::io::Result<Vec<(String, String, u64)>> {
        self.files
            .iter()
            .map(|f| {
                state
                    .digest(&self.dir.join(f))
                    .map(|(d, n)| (f.clone(), d, n))
            })
            .collect()
    }

    /// The one revision's commit id: 40 hex digits, as a git commit's, that change whenever a
    /// file does (snapshot_download keys its cache on it).
    fn commit(&self, state: &HubState) -> std::io::Result<String> {
        let mut h = Sha256::new();
        for (path, digest, size) in self.entries(state)? {
            h.update(format!("{path}\0{digest}\0{size}\n").as_bytes());
        }
        Ok(hex(&h.finalize())[..40].to_owned())
    }

    /// Whether `rev` names the one revision: `main` or its commit id.
    fn has_revision(&self, state: &HubState, rev: &str) -> std::io::Result<Option<String>> {
        let commit = self.commit(state)?;
        Ok((rev == "main" || rev == commit).then_some(commit))
    }

    /// A gated repository (a `.gated` file listing the tokens that were granted access) lets
    /// only those download its files; its metadata stays public, as on the Hub.
    fn refuses(&self, headers: &HeaderMap) -> bool {
        let Ok(granted) = std::fs::read_to_string(self.dir.join(".gated")) else {
            return false;
        };
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        token.is_empty() || !granted.lines().any(|l| l.trim() == token)
    }
}

/// The revision asked for: the commit id, or the Hub's answer for an unknown one
/// (`X-Error-Code: RevisionNotFound`, `RevisionNotFoundError` in utils/_http.py).
fn revision(state: &HubState, repo: &Repo, rev: &str) -> Result<String, Box<Response>> {
    match repo.has_revision(state, rev) {
        Ok(Some(commit)) => Ok(commit),
        Ok(None) => Err(Box::new(hub_error(
            StatusCode::NOT_FOUND,
            "RevisionNotFound",
            "Invalid rev id",
        ))),
        Err(_) => Err(Box::new(status(StatusCode::INTERNAL_SERVER_ERROR))),
    }
}

/// hf_api.py `ModelInfo`: `id` and `sha` (snapshot_download asserts a sha), `siblings` with
/// each file's `rfilename`, and the flags the Hub always sends.
fn info(state: &HubState, org: &str, name: &str, rev: &str) -> Response {
    let Some(repo) = repo(state, org, name) else {
        return repo_not_found();
    };
    let commit = match revision(state, &repo, rev) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let gated = repo.dir.join(".gated").exists();
    json_response(
        StatusCode::OK,
        &json!({
            "_id": commit,
            "id": repo.id,
            "modelId": repo.id,
            "sha": commit,
            "private": false,
            "disabled": false,
            "gated": if gated { json!("manual") } else { json!(false) },
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": repo.files.iter().map(|f| json!({"rfilename": f})).collect::<Vec<_>>(),
        }),
    )
}

/// hf_api.py `RepoFile`: `type`, `path`, `size` and `oid` per file; no `xetHash`, so each file
/// downloads over HTTP.
fn tree(state: &HubState, org: &str, name: &str, rev: &str) -> Response {
    let Some(repo) = repo(state, org, name) else {
        return repo_not_found();
    };
    if let Err(r) = revision(state, &repo, rev) {
        return *r;
    }
    let Ok(entries) = repo.entries(state) else {
        return status(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let files: Vec<Value> = entries
        .iter()
        .map(|(path, digest, size)| {
            json!({"type": "file", "path": path, "size": size, "oid": &digest[..40]})
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(files))
}

/// A file: `X-Repo-Commit` (required, file_download.py raises `FileMetadataError` without it),
/// `ETag` (the blob's name in the cache; the content's sha256, as the Hub's for an LFS file)
/// and `Content-Length`. A missing file answers 404 `EntryNotFound` with `X-Repo-Commit`, which
/// file_download.py caches as a known absence. `Range: bytes=N-` resumes (`http_get`).
fn resolve(
    state: &HubState,
    method: &Method,
    headers: &HeaderMap,
    org: &str,
    name: &str,
    rev: &str,
    file: &str,
) -> Response {
    let Some(repo) = repo(state, org, name) else {
        return repo_not_found();
    };
    let commit = match revision(state, &repo, rev) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let commit_header = |mut r: Response| {
        if let Ok(v) = HeaderValue::from_str(&commit) {
            r.headers_mut().insert("X-Repo-Commit", v);
        }
        r
    };
    if !repo.files.iter().any(|f| f == file) {
        return commit_header(hub_error(
            StatusCode::NOT_FOUND,
            "EntryNotFound",
            "Entry not found",
        ));
    }
    if repo.refuses(headers) {
        return commit_header(hub_error(
            StatusCode::FORBIDDEN,
            "GatedRepo",
            "Access to this model is restricted: accept its conditions on its page",
        ));
    }
    let path = repo.dir.join(file);
    let Ok((digest, size)) = state.digest(&path) else {
        return status(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let from = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|n| *n < size);
    let mut r = if method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        let Ok(data) = std::fs::read(&path) else {
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        };
        let body = data[from.unwrap_or(0) as usize..].to_vec();
        state
            .bytes_served
            .fetch_add(body.len() as u64, Ordering::SeqCst);
        state.files_served.fetch_add(1, Ordering::SeqCst);
        Response::new(Body::from(body))
    };
    let h = r.headers_mut();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(header::ETAG, format!("\"{digest}\""));
    set(header::ACCEPT_RANGES, "bytes".into());
    set(header::CONTENT_TYPE, "application/octet-stream".into());
    match from {
        Some(n) => {
            set(header::CONTENT_LENGTH, (size - n).to_string());
            set(
                header::CONTENT_RANGE,
                format!("bytes {n}-{}/{size}", size - 1),
            );
        }
        None => set(header::CONTENT_LENGTH, size.to_string()),
    }
    if from.is_some() {
        *r.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    commit_header(r)
}
